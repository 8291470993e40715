/* Record batches (Kafka RecordBatch v2, see include/flyq/batch.h): header
 * parsing, validation, record iteration and the batch builder.
 *
 * Validation faces untrusted network bytes, so every length and count is
 * checked against the bytes that remain before it is used. The validator and
 * the iterator share one record decoder, so they accept exactly the same
 * records. Decoding allocates nothing and copies nothing.
 */
#include "flyq/batch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/endian.h"
#include "codec/varint.h"
#include "util/crc32c.h"

/* Offsets of the header fields. */
enum {
  OFF_BASE_OFFSET = 0,
  OFF_LENGTH = 8,
  OFF_EPOCH = 12,
  OFF_MAGIC = 16,
  OFF_CRC = 17,
  OFF_ATTRIBUTES = 21,
  OFF_LAST_DELTA = 23,
  OFF_BASE_TS = 27,
  OFF_MAX_TS = 35,
  OFF_PRODUCER_ID = 43,
  OFF_PRODUCER_EPOCH = 51,
  OFF_BASE_SEQUENCE = 53,
  OFF_COUNT = 57
};

#define COMPRESSION_MASK 0x07
/* The shortest record: its length, then attributes, timestamp delta, offset
 * delta, key length, value length and header count, one byte each. */
#define MIN_RECORD_SIZE 7
/* The shortest record header: an empty key and a null value. */
#define MIN_HEADER_SIZE 2
#define MIN_BATCH_LENGTH (FLYQ_BATCH_HEADER_SIZE - FLYQ_BATCH_LOG_OVERHEAD)

/* ---- Decoding ---- */

int64_t flyq_batch_size(const uint8_t *buf, size_t len) {
  if (len < FLYQ_BATCH_LOG_OVERHEAD) return FLYQ_ERR_TRUNCATED;
  int32_t length = (int32_t)flyq__be32_get(buf + OFF_LENGTH);
  if (length < MIN_BATCH_LENGTH ||
      (uint32_t)length > FLYQ_BATCH_MAX_SIZE - FLYQ_BATCH_LOG_OVERHEAD)
    return FLYQ_ERR_CORRUPT;
  return (int64_t)length + FLYQ_BATCH_LOG_OVERHEAD;
}

static void header_read(const uint8_t *buf, flyq_batch_header_t *h) {
  h->base_offset = (int64_t)flyq__be64_get(buf + OFF_BASE_OFFSET);
  h->batch_length = (int32_t)flyq__be32_get(buf + OFF_LENGTH);
  h->partition_leader_epoch = (int32_t)flyq__be32_get(buf + OFF_EPOCH);
  h->magic = (int8_t)buf[OFF_MAGIC];
  h->crc = flyq__be32_get(buf + OFF_CRC);
  h->attributes = (int16_t)flyq__be16_get(buf + OFF_ATTRIBUTES);
  h->last_offset_delta = (int32_t)flyq__be32_get(buf + OFF_LAST_DELTA);
  h->base_timestamp = (int64_t)flyq__be64_get(buf + OFF_BASE_TS);
  h->max_timestamp = (int64_t)flyq__be64_get(buf + OFF_MAX_TS);
  h->producer_id = (int64_t)flyq__be64_get(buf + OFF_PRODUCER_ID);
  h->producer_epoch = (int16_t)flyq__be16_get(buf + OFF_PRODUCER_EPOCH);
  h->base_sequence = (int32_t)flyq__be32_get(buf + OFF_BASE_SEQUENCE);
  h->record_count = (int32_t)flyq__be32_get(buf + OFF_COUNT);
}

int flyq_batch_parse_header(const uint8_t *buf, size_t len,
                            flyq_batch_header_t *h) {
  if (len < FLYQ_BATCH_HEADER_SIZE) return FLYQ_ERR_TRUNCATED;
  if (buf[OFF_MAGIC] != FLYQ_BATCH_MAGIC) return FLYQ_ERR_CORRUPT;
  int64_t size = flyq_batch_size(buf, len);
  if (size < 0) return (int)size;
  if ((uint64_t)size > len) return FLYQ_ERR_TRUNCATED;
  if ((int32_t)flyq__be32_get(buf + OFF_COUNT) < 0) return FLYQ_ERR_CORRUPT;
  header_read(buf, h);
  return 0;
}

/* Reads a length-prefixed byte string at *p, not past end. A length of -1
 * is null (data NULL) where nullable is set. Advances *p on success only. */
static inline int string_read(const uint8_t **p, const uint8_t *end,
                              int nullable, const uint8_t **data,
                              int32_t *len) {
  const uint8_t *q = *p;
  if (flyq__varint_read(&q, end, len) < 0) return FLYQ_ERR_CORRUPT;
  if (*len == -1 && nullable) {
    *data = NULL;
  } else {
    if (*len < 0 || *len > end - q) return FLYQ_ERR_CORRUPT;
    *data = q;
    q += *len;
  }
  *p = q;
  return 0;
}

static inline int header_decode(const uint8_t **p, const uint8_t *end,
                                flyq_record_header_t *hdr) {
  if (string_read(p, end, 0, &hdr->key, &hdr->key_len) < 0 ||
      string_read(p, end, 1, &hdr->value, &hdr->value_len) < 0)
    return FLYQ_ERR_CORRUPT;
  return 0;
}

/* Decodes the header count and the headers, which must end exactly at end. */
static inline int headers_decode(const uint8_t *p, const uint8_t *end,
                                 flyq_record_t *rec) {
  flyq_record_header_t hdr;
  if (flyq__varint_read(&p, end, &rec->header_count) < 0 ||
      rec->header_count < 0 ||
      rec->header_count > (end - p) / MIN_HEADER_SIZE)
    return FLYQ_ERR_CORRUPT;
  rec->headers = p;
  for (int32_t i = 0; i < rec->header_count; i++)
    if (header_decode(&p, end, &hdr) < 0) return FLYQ_ERR_CORRUPT;
  if (p != end) return FLYQ_ERR_CORRUPT;
  rec->headers_len = (size_t)(p - rec->headers);
  return 0;
}

/* Decodes the record at *p, which must end by end, into *rec (all but
 * rec->offset) and its offset delta into *delta, and advances *p past it.
 * On error *p is unchanged and *rec is partly filled. */
static inline int record_decode(const uint8_t **p, const uint8_t *end,
                                int64_t base_timestamp, flyq_record_t *rec,
                                int32_t *delta) {
  const uint8_t *q = *p;
  int32_t len;
  int64_t ts_delta;
  if (flyq__varint_read(&q, end, &len) < 0 || len < MIN_RECORD_SIZE - 1 ||
      len > end - q)
    return FLYQ_ERR_CORRUPT;
  const uint8_t *rec_end = q + len;
  q++; /* attributes: unused, and ignored as Kafka does */
  if (flyq__varlong_read(&q, rec_end, &ts_delta) < 0 ||
      __builtin_add_overflow(base_timestamp, ts_delta, &rec->timestamp) ||
      flyq__varint_read(&q, rec_end, delta) < 0 ||
      string_read(&q, rec_end, 1, &rec->key, &rec->key_len) < 0 ||
      string_read(&q, rec_end, 1, &rec->value, &rec->value_len) < 0 ||
      headers_decode(q, rec_end, rec) < 0)
    return FLYQ_ERR_CORRUPT;
  *p = rec_end;
  return 0;
}

/* The checks of a batch's header that bound its records: at least one,
 * offset deltas 0..count-1 that fit, and no more than the bytes allow. */
static int count_check(size_t len, const flyq_batch_header_t *h) {
  int64_t last; /* the iterator needs every record's offset to fit */
  if (h->record_count <= 0 || h->last_offset_delta != h->record_count - 1 ||
      __builtin_add_overflow(h->base_offset, h->last_offset_delta, &last) ||
      (size_t)h->record_count > (len - FLYQ_BATCH_HEADER_SIZE) / MIN_RECORD_SIZE)
    return FLYQ_ERR_CORRUPT;
  return 0;
}

/* Checks the records of a batch whose header has passed
 * flyq_batch_validate_header; starts (may be NULL) receives where each
 * record begins. */
static int records_check(const uint8_t *buf, size_t len,
                         const flyq_batch_header_t *h, const uint8_t **starts) {
  const uint8_t *p = buf + FLYQ_BATCH_HEADER_SIZE, *end = buf + len;
  flyq_record_t rec;
  int32_t delta;
  for (int32_t i = 0; i < h->record_count; i++) {
    if (starts) starts[i] = p;
    if (record_decode(&p, end, h->base_timestamp, &rec, &delta) < 0 ||
        delta != i)
      return FLYQ_ERR_CORRUPT;
  }
  return p == end ? 0 : FLYQ_ERR_CORRUPT;
}

int flyq_batch_validate_header(const uint8_t *buf, size_t len,
                               flyq_batch_header_t *out) {
  flyq_batch_header_t h;
  int rc = flyq_batch_parse_header(buf, len, &h);
  if (rc < 0) return rc;
  if ((size_t)h.batch_length + FLYQ_BATCH_LOG_OVERHEAD != len)
    return FLYQ_ERR_CORRUPT; /* bytes after the batch */
  uint32_t crc = flyq__crc32c(0, buf + FLYQ_BATCH_CRC_START,
                              len - FLYQ_BATCH_CRC_START);
  if (crc != h.crc) return FLYQ_ERR_CORRUPT;
  if (h.attributes & COMPRESSION_MASK) return FLYQ_ERR_UNSUPPORTED;
  rc = count_check(len, &h);
  if (rc == 0 && out != NULL) *out = h;
  return rc;
}

int flyq_batch_validate(const uint8_t *buf, size_t len,
                        flyq_batch_header_t *out) {
  flyq_batch_header_t h;
  int rc = flyq_batch_validate_header(buf, len, &h);
  if (rc == 0) rc = records_check(buf, len, &h, NULL);
  if (rc == 0 && out != NULL) *out = h;
  return rc;
}

int flyq_batch_validate_records(const uint8_t *buf, size_t len,
                                const flyq_batch_header_t *h,
                                const uint8_t **starts) {
  return records_check(buf, len, h, starts);
}

int flyq_record_decode_at(const flyq_batch_header_t *h, const uint8_t *rec,
                          const uint8_t *end, flyq_record_t *out) {
  int32_t delta;
  if (record_decode(&rec, end, h->base_timestamp, out, &delta) < 0 ||
      delta < 0 || delta > h->last_offset_delta)
    return FLYQ_ERR_CORRUPT;
  out->offset = h->base_offset + delta; /* fits: checked by validation */
  return 0;
}

/* The byte after the varint at q, or NULL if none ends before end. */
static inline const uint8_t *varint_skip(const uint8_t *q, const uint8_t *end) {
  for (int i = 0; i < FLYQ__VARLONG_MAX && q < end; i++)
    if (!(*q++ & 0x80)) return q;
  return NULL;
}

int flyq_record_kv_at(const uint8_t *rec, const uint8_t *end,
                      const uint8_t **key, int32_t *key_len,
                      const uint8_t **value, int32_t *value_len) {
  /* length, attributes, timestamp delta, offset delta: skipped; the
   * strings stay within end (the batch's), which bounds the record. */
  const uint8_t *q = varint_skip(rec, end);
  if (q == NULL || q >= end || (q = varint_skip(q + 1, end)) == NULL ||
      (q = varint_skip(q, end)) == NULL ||
      string_read(&q, end, 1, key, key_len) < 0 ||
      string_read(&q, end, 1, value, value_len) < 0)
    return FLYQ_ERR_CORRUPT;
  return 0;
}

void flyq_batch_set_base_offset(uint8_t *buf, int64_t base_offset) {
  flyq__be64_put(buf + OFF_BASE_OFFSET, (uint64_t)base_offset);
}

/* ---- Iteration ---- */

int flyq_record_iter_init(flyq_record_iter_t *it, const uint8_t *buf,
                          size_t len) {
  int rc = flyq_batch_parse_header(buf, len, &it->h);
  if (rc < 0) return rc;
  it->p = buf + FLYQ_BATCH_HEADER_SIZE;
  it->end = buf + FLYQ_BATCH_LOG_OVERHEAD + it->h.batch_length;
  it->remaining = it->h.record_count;
  return 0;
}

/* A record that fails to decode stops the iteration there: later calls
 * return the same error. */
int flyq_record_iter_next(flyq_record_iter_t *it, flyq_record_t *rec) {
  const uint8_t *p = it->p;
  int32_t delta, want = it->h.record_count - it->remaining;
  if (it->remaining == 0) return p == it->end ? 0 : FLYQ_ERR_CORRUPT;
  if (record_decode(&p, it->end, it->h.base_timestamp, rec, &delta) < 0 ||
      delta != want ||
      __builtin_add_overflow(it->h.base_offset, delta, &rec->offset))
    return FLYQ_ERR_CORRUPT;
  it->p = p;
  it->remaining--;
  return 1;
}

int flyq_record_next_header(const flyq_record_t *rec, const uint8_t **p,
                            flyq_record_header_t *hdr) {
  if (rec->headers_len == 0) return 0;
  const uint8_t *end = rec->headers + rec->headers_len;
  const uint8_t *q = *p != NULL ? *p : rec->headers;
  if (q < rec->headers || q > end) return FLYQ_ERR_INVALID_ARG;
  if (q == end) return 0;
  if (header_decode(&q, end, hdr) < 0) return FLYQ_ERR_CORRUPT;
  *p = q;
  return 1;
}

/* ---- Building ---- */

void flyq_batch_builder_init(flyq_batch_builder_t *b) {
  memset(b, 0, sizeof *b);
}

void flyq_batch_builder_free(flyq_batch_builder_t *b) {
  free(b->buf);
  flyq_batch_builder_init(b);
}

void flyq_batch_builder_reset(flyq_batch_builder_t *b) {
  b->len = 0;
  b->count = 0;
  b->base_timestamp = 0;
  b->max_timestamp = 0;
}

/* Grows the buffer to hold need bytes (at most FLYQ_BATCH_MAX_SIZE). On
 * failure the builder is unchanged. */
static int builder_reserve(flyq_batch_builder_t *b, size_t need) {
  if (need <= b->cap) return 0;
  size_t cap = b->cap != 0 ? b->cap : 1024;
  while (cap < need) cap *= 2;
  uint8_t *buf = realloc(b->buf, cap);
  if (buf == NULL) return -ENOMEM;
  b->buf = buf;
  b->cap = cap;
  return 0;
}

/* Encoded size of a length-prefixed string of len bytes (-1: null). */
static uint64_t string_size(int32_t len) {
  return len < 0 ? 1 : flyq__varint_size(len) + (uint64_t)len;
}

static uint8_t *string_put(uint8_t *dst, const void *data, int32_t len) {
  dst += flyq__varint_put(dst, len);
  if (len <= 0) return dst;
  memcpy(dst, data, (size_t)len);
  return dst + len;
}

/* A record header's value length, -1 when the value is null. */
static int32_t header_value_len(const flyq_record_header_t *hdr) {
  return hdr->value == NULL ? -1 : hdr->value_len;
}

static int header_bad(const flyq_record_header_t *hdr) {
  return hdr->key_len < 0 || (hdr->key == NULL && hdr->key_len > 0) ||
         header_value_len(hdr) < -1;
}

/* Encoded size of the headers after their count, or -1 for a bad header.
 * Stops counting once the size exceeds any possible batch. */
static int64_t headers_size(const flyq_record_header_t *hs, int32_t n) {
  int64_t size = 0;
  for (int32_t i = 0; i < n && size <= FLYQ_BATCH_MAX_SIZE; i++) {
    if (header_bad(&hs[i])) return -1;
    size += (int64_t)(string_size(hs[i].key_len) +
                      string_size(header_value_len(&hs[i])));
  }
  return size;
}

static uint8_t *headers_put(uint8_t *dst, const flyq_record_header_t *hs,
                            int32_t n) {
  dst += flyq__varint_put(dst, n);
  for (int32_t i = 0; i < n; i++) {
    dst = string_put(dst, hs[i].key, hs[i].key_len);
    dst = string_put(dst, hs[i].value, header_value_len(&hs[i]));
  }
  return dst;
}

/* One record to append: lengths are -1 for null. */
typedef struct record_in {
  int64_t ts_delta;
  const void *key, *value;
  int32_t key_len, value_len;
  const flyq_record_header_t *headers;
  int32_t nheaders;
  uint64_t body_size; /* bytes after the record's length */
} record_in_t;

static uint8_t *record_put(uint8_t *dst, const record_in_t *r,
                           int32_t offset_delta) {
  dst += flyq__varint_put(dst, (int32_t)r->body_size);
  *dst++ = 0; /* attributes */
  dst += flyq__varlong_put(dst, r->ts_delta);
  dst += flyq__varint_put(dst, offset_delta);
  dst = string_put(dst, r->key, r->key_len);
  dst = string_put(dst, r->value, r->value_len);
  return headers_put(dst, r->headers, r->nheaders);
}

/* Checks the arguments of builder_add and fills r->body_size. */
static int record_measure(record_in_t *r, int32_t offset_delta) {
  if (r->key_len < -1 || r->value_len < -1 || r->nheaders < 0 ||
      (r->nheaders > 0 && r->headers == NULL))
    return FLYQ_ERR_INVALID_ARG;
  int64_t hsize = headers_size(r->headers, r->nheaders);
  if (hsize < 0) return FLYQ_ERR_INVALID_ARG;
  r->body_size = 1 + flyq__varlong_size(r->ts_delta) +
                 flyq__varint_size(offset_delta) + string_size(r->key_len) +
                 string_size(r->value_len) + flyq__varint_size(r->nheaders) +
                 (uint64_t)hsize;
  return 0;
}

int flyq_batch_builder_add(flyq_batch_builder_t *b, int64_t timestamp,
                           const void *key, int32_t key_len,
                           const void *value, int32_t value_len,
                           const flyq_record_header_t *headers,
                           int32_t nheaders) {
  record_in_t r = {.key = key, .key_len = key != NULL ? key_len : -1,
                   .value = value, .value_len = value != NULL ? value_len : -1,
                   .headers = headers, .nheaders = nheaders};
  int64_t base = b->count > 0 ? b->base_timestamp : timestamp;
  if (__builtin_sub_overflow(timestamp, base, &r.ts_delta))
    return FLYQ_ERR_INVALID_ARG;
  int rc = record_measure(&r, b->count);
  if (rc < 0) return rc;
  /* The size limit also keeps count far below 2^31. */
  size_t start = b->len != 0 ? b->len : FLYQ_BATCH_HEADER_SIZE;
  if (r.body_size > FLYQ_BATCH_MAX_SIZE - start) return FLYQ_ERR_TOO_LARGE;
  size_t end = start + flyq__varint_size((int32_t)r.body_size) + r.body_size;
  if (end > FLYQ_BATCH_MAX_SIZE) return FLYQ_ERR_TOO_LARGE;
  if (builder_reserve(b, end) < 0) return -ENOMEM;
  record_put(b->buf + start, &r, b->count);
  b->len = end;
  if (b->count == 0 || timestamp > b->max_timestamp)
    b->max_timestamp = timestamp;
  b->base_timestamp = base;
  b->count++;
  return 0;
}

int flyq_batch_builder_finish(flyq_batch_builder_t *b, const uint8_t **out,
                              size_t *len) {
  if (b->count == 0) return FLYQ_ERR_INVALID_ARG;
  uint8_t *h = b->buf;
  flyq__be64_put(h + OFF_BASE_OFFSET, 0);
  flyq__be32_put(h + OFF_LENGTH, (uint32_t)(b->len - FLYQ_BATCH_LOG_OVERHEAD));
  flyq__be32_put(h + OFF_EPOCH, UINT32_MAX); /* -1 */
  h[OFF_MAGIC] = FLYQ_BATCH_MAGIC;
  flyq__be16_put(h + OFF_ATTRIBUTES, 0);
  flyq__be32_put(h + OFF_LAST_DELTA, (uint32_t)(b->count - 1));
  flyq__be64_put(h + OFF_BASE_TS, (uint64_t)b->base_timestamp);
  flyq__be64_put(h + OFF_MAX_TS, (uint64_t)b->max_timestamp);
  flyq__be64_put(h + OFF_PRODUCER_ID, UINT64_MAX);    /* -1 */
  flyq__be16_put(h + OFF_PRODUCER_EPOCH, UINT16_MAX); /* -1 */
  flyq__be32_put(h + OFF_BASE_SEQUENCE, UINT32_MAX);  /* -1 */
  flyq__be32_put(h + OFF_COUNT, (uint32_t)b->count);
  flyq__be32_put(h + OFF_CRC, flyq__crc32c(0, h + FLYQ_BATCH_CRC_START,
                                           b->len - FLYQ_BATCH_CRC_START));
  *out = h;
  *len = b->len;
  return 0;
}
