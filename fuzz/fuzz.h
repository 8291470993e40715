/* Helpers shared by the libFuzzer targets in fuzz/ (docs/reliability.md,
 * "Fuzzing").
 *
 * Each target feeds one parser of untrusted bytes and checks the contract
 * its header documents on every input. FUZZ_CHECK states one invariant: a
 * violation prints the condition and traps, which libFuzzer reports as a
 * crash just like an ASan or UBSan error. The same target files are linked
 * with fuzz/replay.c in the normal build to replay the corpus without
 * libFuzzer.
 */
#ifndef FLYQ_FUZZ_H
#define FLYQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/buf.h"

/* The entry point every target defines (libFuzzer's interface). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                      \
  do {                                                                        \
    if (!(cond)) flyq_fuzz_fail(#cond, __FILE__, __LINE__);                   \
  } while (0)

/* Prints "file:line: invariant violated: what" and traps. */
_Noreturn void flyq_fuzz_fail(const char *what, const char *file, int line);

/* The bytes a decoder read from: decoded pointers must stay inside. */
typedef struct flyq_fuzz_span {
  const uint8_t *lo;
  const uint8_t *hi; /* one past the end */
} flyq_fuzz_span_t;

/* Checks that the len bytes at p lie inside in, and reads each of them so
 * that ASan checks the memory too. len -1 (null) requires p NULL and
 * nullable. */
void flyq_fuzz_check_mem(flyq_fuzz_span_t in, const void *p, int64_t len,
                         int nullable);

static inline void flyq_fuzz_check_str(flyq_fuzz_span_t in, flyq_str_t s,
                                       int nullable) {
  flyq_fuzz_check_mem(in, s.ptr, s.len, nullable);
}

static inline void flyq_fuzz_check_bytes(flyq_fuzz_span_t in, flyq_bytes_t b,
                                         int nullable) {
  flyq_fuzz_check_mem(in, b.ptr, b.len, nullable);
}

/* A decoded array of n elements at items: n >= 0 with items non-NULL when
 * n > 0, or n == -1 (null) when nullable. */
void flyq_fuzz_check_array(const void *items, int32_t n, int nullable);

/* Checks the arena bound of include/flyq/proto.h: a decoder's arena grows
 * by at most 16 times the input size plus a few KiB. */
void flyq_fuzz_check_arena(const flyq_arena_t *a, size_t input_len);

/* Validates the one batch in buf[0..len). When it is valid, checks that
 * the header parses the same way, then iterates every record and header,
 * checking that iteration agrees with validation (count, offsets, bounds).
 * Returns the batch's record count (> 0) when it is valid, else
 * flyq_batch_validate's error. */
int flyq_fuzz_check_batch(const uint8_t *buf, size_t len);

/* Walks batches stored back to back in p[0..len), as the broker's produce
 * path and the client's fetch iterator do, checking each with
 * flyq_fuzz_check_batch() up to the first that is not valid. Returns the
 * number of records in the valid batches and sets *clean to 1 when they
 * cover all len bytes, else 0. p may be NULL when len is 0. */
int64_t flyq_fuzz_walk_batches(const uint8_t *p, size_t len, int *clean);

#endif /* FLYQ_FUZZ_H */
