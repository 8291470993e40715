/* The invariant checks shared by the fuzz targets (fuzz.h): bounds of
 * decoded pointers, array shapes, the decoders' arena bound, and the
 * record batch walk that every path carrying batches (produce requests,
 * fetch responses, the batch target) goes through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/batch.h"
#include "fuzz.h"

/* What a decoder's arena may hold beyond 16 bytes per input byte: two
 * shared chunks with their headers, rounded up. */
#define ARENA_SLACK (12u * 1024)

static volatile uint8_t sink;

void flyq_fuzz_fail(const char *what, const char *file, int line) {
  fprintf(stderr, "%s:%d: invariant violated: %s\n", file, line, what);
  fflush(stderr);
  __builtin_trap();
}

void flyq_fuzz_check_mem(flyq_fuzz_span_t in, const void *p, int64_t len,
                         int nullable) {
  const uint8_t *b = p;
  if (len == -1) {
    FUZZ_CHECK(nullable && p == NULL);
    return;
  }
  FUZZ_CHECK(len >= 0 && b != NULL);
  FUZZ_CHECK(b >= in.lo && b <= in.hi && len <= in.hi - b);
  for (int64_t i = 0; i < len; i++) sink ^= b[i];
}

void flyq_fuzz_check_array(const void *items, int32_t n, int nullable) {
  FUZZ_CHECK(n >= 0 || (nullable && n == -1));
  FUZZ_CHECK(n <= 0 || items != NULL);
}

void flyq_fuzz_check_arena(const flyq_arena_t *a, size_t input_len) {
  FUZZ_CHECK(a->total <= 16 * input_len + ARENA_SLACK);
}

/* Walks the headers of rec: exactly header_count of them, ending exactly at
 * the end of the header area. */
static void check_record_headers(flyq_fuzz_span_t in,
                                 const flyq_record_t *rec) {
  flyq_record_header_t hdr;
  const uint8_t *p = NULL;
  int32_t n = 0;
  int r;
  flyq_fuzz_check_mem(in, rec->headers, (int64_t)rec->headers_len, 0);
  while ((r = flyq_record_next_header(rec, &p, &hdr)) == 1) {
    FUZZ_CHECK(n < rec->header_count);
    flyq_fuzz_check_mem(in, hdr.key, hdr.key_len, 0);
    flyq_fuzz_check_mem(in, hdr.value, hdr.value_len, 1);
    n++;
  }
  FUZZ_CHECK(r == 0 && n == rec->header_count);
  FUZZ_CHECK(n == 0 || p == rec->headers + rec->headers_len);
}

/* Iterates the records of a batch that validated with header h. */
static void check_records(const uint8_t *buf, size_t len,
                          const flyq_batch_header_t *h) {
  flyq_fuzz_span_t in = {buf + FLYQ_BATCH_HEADER_SIZE, buf + len};
  flyq_record_iter_t it;
  flyq_record_t rec;
  int32_t n = 0;
  int r;
  FUZZ_CHECK(flyq_record_iter_init(&it, buf, len) == 0);
  while ((r = flyq_record_iter_next(&it, &rec)) == 1) {
    FUZZ_CHECK(n < h->record_count);
    FUZZ_CHECK(rec.offset == h->base_offset + n);
    flyq_fuzz_check_mem(in, rec.key, rec.key_len, 1);
    flyq_fuzz_check_mem(in, rec.value, rec.value_len, 1);
    check_record_headers(in, &rec);
    n++;
  }
  FUZZ_CHECK(r == 0 && n == h->record_count);
  FUZZ_CHECK(flyq_record_iter_next(&it, &rec) == 0);
}

int flyq_fuzz_check_batch(const uint8_t *buf, size_t len) {
  flyq_batch_header_t h, again;
  int r = flyq_batch_validate(buf, len, &h);
  FUZZ_CHECK(r == 0 || r == FLYQ_ERR_CORRUPT || r == FLYQ_ERR_TRUNCATED ||
             r == FLYQ_ERR_UNSUPPORTED);
  if (r < 0) return r;
  FUZZ_CHECK(flyq_batch_parse_header(buf, len, &again) == 0);
  FUZZ_CHECK(again.base_offset == h.base_offset && again.crc == h.crc &&
             again.record_count == h.record_count);
  FUZZ_CHECK(flyq_batch_size(buf, len) == (int64_t)len);
  FUZZ_CHECK(h.magic == FLYQ_BATCH_MAGIC && h.record_count > 0 &&
             h.last_offset_delta == h.record_count - 1);
  check_records(buf, len, &h);
  return h.record_count;
}

int64_t flyq_fuzz_walk_batches(const uint8_t *p, size_t len, int *clean) {
  int64_t records = 0;
  size_t off = 0;
  *clean = 0;
  while (off < len) {
    int64_t size = flyq_batch_size(p + off, len - off);
    if (size < 0 || (uint64_t)size > len - off) return records;
    int n = flyq_fuzz_check_batch(p + off, (size_t)size);
    if (n < 0) return records;
    records += n;
    off += (size_t)size;
  }
  *clean = 1;
  return records;
}
