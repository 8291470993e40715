/* Fuzz target: record batches (include/flyq/batch.h), the bytes a producer
 * sends, a broker stores and a consumer receives.
 *
 * The input is first validated as one batch exactly as given. A fuzzer
 * cannot forge CRC-32C, so most mutations would stop at the checksum; the
 * input is therefore also walked as batches back to back on a copy where
 * each batch's CRC is recomputed first, which lets the record decoder see
 * every mutation. The invariants are those of flyq_fuzz_check_batch():
 * whatever validates iterates to the same record count, offsets and
 * headers, inside the batch.
 */
#include <stdlib.h>
#include <string.h>

#include "flyq/batch.h"
#include "fuzz.h"
#include "util/crc32c.h"

/* Rewrites the CRC of the batch in buf[0..len) (len >= the CRC's end). */
static void fix_crc(uint8_t *buf, size_t len) {
  uint32_t crc = flyq__crc32c(0, buf + FLYQ_BATCH_CRC_START,
                              len - FLYQ_BATCH_CRC_START);
  for (int i = 0; i < 4; i++)
    buf[FLYQ_BATCH_CRC_START - 4 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

/* Fixes the CRC of each batch in turn and walks them all. */
static void walk_with_fixed_crcs(uint8_t *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    int64_t size = flyq_batch_size(buf + off, len - off);
    if (size < FLYQ_BATCH_CRC_START || (uint64_t)size > len - off) break;
    fix_crc(buf + off, (size_t)size);
    off += (size_t)size;
  }
  int clean;
  flyq_fuzz_walk_batches(buf, len, &clean);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  flyq_fuzz_check_batch(data, size);
  uint8_t *copy = malloc(size ? size : 1);
  if (copy == NULL) return 0;
  memcpy(copy, data, size);
  walk_with_fixed_crcs(copy, size);
  free(copy);
  return 0;
}
