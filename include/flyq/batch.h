/* Record batches: Kafka's RecordBatch v2 layout (magic 2).
 *
 * The same bytes are stored on disk and carried on the wire. All integers in
 * the 61-byte header are big-endian:
 *
 *   off len field
 *     0   8 base_offset            (assigned by the log; NOT covered by the CRC)
 *     8   4 batch_length           (bytes after this field = total size - 12)
 *    12   4 partition_leader_epoch (NOT covered by the CRC either)
 *    16   1 magic                  (must be 2)
 *    17   4 crc                    (CRC-32C of bytes 21..end)
 *    21   2 attributes             (bits 0-2 compression: only 0 = none is supported)
 *    23   4 last_offset_delta
 *    27   8 base_timestamp
 *    35   8 max_timestamp
 *    43   8 producer_id
 *    51   2 producer_epoch
 *    53   4 base_sequence
 *    57   4 record_count
 *    61     records...
 *
 * Each record: length (zigzag varint, bytes after the length), attributes
 * (int8, 0), timestamp_delta (zigzag varlong), offset_delta (zigzag varint),
 * key_length (zigzag varint, -1 = null) + key, value_length (-1 = null) +
 * value, header_count (zigzag varint), then per header: key_length + key,
 * value_length (-1 = null) + value.
 *
 * Nothing here allocates except the builder; decoded records point into the
 * caller's buffer and are valid as long as it is.
 */
#ifndef FLYQ_BATCH_H
#define FLYQ_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/common.h"

#define FLYQ_BATCH_HEADER_SIZE 61
#define FLYQ_BATCH_LOG_OVERHEAD 12 /* base_offset + batch_length */
#define FLYQ_BATCH_MAGIC 2
#define FLYQ_BATCH_CRC_START 21
/* Hard upper bound on one batch, whatever the configured limits say. */
#define FLYQ_BATCH_MAX_SIZE (64u * 1024 * 1024)

typedef struct flyq_batch_header {
  int64_t base_offset;
  int32_t batch_length;
  int32_t partition_leader_epoch;
  int8_t magic;
  uint32_t crc;
  int16_t attributes;
  int32_t last_offset_delta;
  int64_t base_timestamp;
  int64_t max_timestamp;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  int32_t record_count;
} flyq_batch_header_t;

/* One header of a record. key is not NUL-terminated. value_len -1 = null. */
typedef struct flyq_record_header {
  const uint8_t *key;
  int32_t key_len;
  const uint8_t *value;
  int32_t value_len;
} flyq_record_header_t;

/* One decoded record. Pointers alias the batch buffer. key_len/value_len are
 * -1 for null. headers/headers_len is the raw encoded header area; walk it
 * with flyq_record_next_header(). */
typedef struct flyq_record {
  int64_t offset;    /* base_offset + offset_delta */
  int64_t timestamp; /* base_timestamp + timestamp_delta */
  const uint8_t *key;
  int32_t key_len;
  const uint8_t *value;
  int32_t value_len;
  int32_t header_count;
  const uint8_t *headers;
  size_t headers_len;
} flyq_record_t;

/* Parses and sanity-checks the fixed header only: len >= 61, magic 2,
 * batch_length >= 49, batch_length + 12 <= FLYQ_BATCH_MAX_SIZE and <= len,
 * record_count >= 0.
 * Returns 0, FLYQ_ERR_TRUNCATED when len is shorter than the header or the
 * batch it announces, or FLYQ_ERR_CORRUPT. */
int flyq_batch_parse_header(const uint8_t *buf, size_t len,
                            flyq_batch_header_t *h);

/* Full validation of exactly one batch occupying buf[0..len): header, CRC,
 * no compression, every record decodes, at least one record, offset deltas
 * are 0..n-1 in order, last_offset_delta == n-1, base_offset +
 * last_offset_delta fits in an int64, no bytes left over. Fills *h
 * (may be NULL). Returns 0, FLYQ_ERR_CORRUPT, FLYQ_ERR_TRUNCATED or
 * FLYQ_ERR_UNSUPPORTED (compressed). */
int flyq_batch_validate(const uint8_t *buf, size_t len, flyq_batch_header_t *h);

/* The part of flyq_batch_validate that does not decode records: length,
 * magic, CRC, no compression, and a record count (>= 1) and offset deltas
 * that fit the batch. A batch passes flyq_batch_validate exactly when it
 * passes this and flyq_record_iter_next then returns 1 for each of its
 * records and finally 0: a caller that decodes every record anyway
 * validates in one pass that way. Same returns as flyq_batch_validate. */
int flyq_batch_validate_header(const uint8_t *buf, size_t len,
                               flyq_batch_header_t *h);

/* The rest of flyq_batch_validate, for a batch whose header h passed
 * flyq_batch_validate_header: decodes and checks every record, and writes
 * where record i starts (at its length prefix) into starts[i] (room for
 * h->record_count). Returns 0 or FLYQ_ERR_CORRUPT. */
int flyq_batch_validate_records(const uint8_t *buf, size_t len,
                                const flyq_batch_header_t *h,
                                const uint8_t **starts);

/* Writes base_offset into bytes 0..7. The CRC stays valid. */
void flyq_batch_set_base_offset(uint8_t *buf, int64_t base_offset);

/* Total size of the batch starting at buf (batch_length + 12), or a negative
 * code if fewer than 12 bytes are given or the length is out of range. */
int64_t flyq_batch_size(const uint8_t *buf, size_t len);

/* Record iteration over a batch that has passed flyq_batch_validate(). */
typedef struct flyq_record_iter {
  flyq_batch_header_t h;
  const uint8_t *p;
  const uint8_t *end;
  int32_t remaining;
} flyq_record_iter_t;

int flyq_record_iter_init(flyq_record_iter_t *it, const uint8_t *buf,
                          size_t len);
/* Returns 1 and fills *rec, 0 at the end, or a negative code. */
int flyq_record_iter_next(flyq_record_iter_t *it, flyq_record_t *rec);
/* Random access into a batch that passed flyq_batch_validate (header h,
 * bytes ending at end), for readers that keep where each record starts
 * (flyq_batch_validate_records): the record at rec into *out, offset
 * included. Returns 0, or FLYQ_ERR_CORRUPT if rec is not a record start. */
int flyq_record_decode_at(const flyq_batch_header_t *h, const uint8_t *rec,
                          const uint8_t *end, flyq_record_t *out);

/* The key and value of the record at rec, as flyq_record_decode_at would
 * give them (same contract), without decoding its headers: for readers
 * that want only those. Returns 0 or FLYQ_ERR_CORRUPT. */
int flyq_record_kv_at(const uint8_t *rec, const uint8_t *end,
                      const uint8_t **key, int32_t *key_len,
                      const uint8_t **value, int32_t *value_len);

/* Walks rec->headers: *p starts at rec->headers (set *p = NULL first).
 * Returns 1 and fills *hdr, 0 at the end, or a negative code. */
int flyq_record_next_header(const flyq_record_t *rec, const uint8_t **p,
                            flyq_record_header_t *hdr);

/* Batch builder. Owns buf; free with flyq_batch_builder_free(). */
typedef struct flyq_batch_builder {
  uint8_t *buf;
  size_t len;
  size_t cap;
  int32_t count;
  int64_t base_timestamp;
  int64_t max_timestamp;
} flyq_batch_builder_t;

void flyq_batch_builder_init(flyq_batch_builder_t *b);
void flyq_batch_builder_free(flyq_batch_builder_t *b);
/* Forgets the records but keeps the buffer for reuse. */
void flyq_batch_builder_reset(flyq_batch_builder_t *b);
/* Appends one record. key/value may be NULL (null) with len ignored.
 * headers may be NULL when nheaders is 0; a header value is null when its
 * value is NULL or value_len is -1. The first record's timestamp is the
 * batch's base timestamp. Returns 0 or -ENOMEM / FLYQ_ERR_TOO_LARGE /
 * FLYQ_ERR_INVALID_ARG (negative length); on error nothing was added. */
int flyq_batch_builder_add(flyq_batch_builder_t *b, int64_t timestamp,
                           const void *key, int32_t key_len,
                           const void *value, int32_t value_len,
                           const flyq_record_header_t *headers,
                           int32_t nheaders);
/* Fills the header (base offset 0, producer id -1, CRC) and returns a pointer
 * to the finished batch, owned by the builder and valid until the next call
 * on it. Returns FLYQ_ERR_INVALID_ARG for an empty builder. */
int flyq_batch_builder_finish(flyq_batch_builder_t *b, const uint8_t **out,
                              size_t *len);

#endif /* FLYQ_BATCH_H */
