/* Variable-length integers as Kafka (and protobuf) encode them: 7 bits a
 * byte, least significant group first, high bit set on every byte but the
 * last. Signed values are zigzag-mapped first (0, -1, 1, -2 -> 0, 1, 2, 3).
 *
 * "varint"/"varlong" are the signed 32/64-bit zigzag forms used in record
 * batches; "uvarint32"/"uvarint64" are the plain unsigned forms that
 * Kafka's flexible protocol versions use.
 *
 * Decoders never read at or past end. They return the number of bytes used
 * (1..5 or 1..10), FLYQ_ERR_TRUNCATED when the input ends inside the value,
 * or FLYQ_ERR_CORRUPT when the value is longer than 5 (10) bytes or does not
 * fit in 32 (64) bits. Encodings with redundant zero groups (0x80 0x00 for
 * 0) are accepted, as Kafka accepts them; the encoders never produce them.
 */
#ifndef FLYQ_CODEC_VARINT_H
#define FLYQ_CODEC_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/common.h"

#define FLYQ__VARINT_MAX 5   /* longest 32-bit encoding */
#define FLYQ__VARLONG_MAX 10 /* longest 64-bit encoding */

static inline uint32_t flyq__zigzag32(int32_t v) {
  return ((uint32_t)v << 1) ^ (0u - ((uint32_t)v >> 31));
}

static inline int32_t flyq__unzigzag32(uint32_t u) {
  return (int32_t)((u >> 1) ^ (0u - (u & 1)));
}

static inline uint64_t flyq__zigzag64(int64_t v) {
  return ((uint64_t)v << 1) ^ (0u - ((uint64_t)v >> 63));
}

static inline int64_t flyq__unzigzag64(uint64_t u) {
  return (int64_t)((u >> 1) ^ (0u - (u & 1)));
}

/* Encoded sizes in bytes. */
size_t flyq__uvarint32_size(uint32_t v);
size_t flyq__uvarint64_size(uint64_t v);
size_t flyq__varint_size(int32_t v);
size_t flyq__varlong_size(int64_t v);

/* Encoders: write to dst, which must have room for FLYQ__VARINT_MAX
 * (FLYQ__VARLONG_MAX) bytes, and return the number of bytes written. */
size_t flyq__uvarint32_put(uint8_t *dst, uint32_t v);
size_t flyq__uvarint64_put(uint8_t *dst, uint64_t v);
size_t flyq__varint_put(uint8_t *dst, int32_t v);
size_t flyq__varlong_put(uint8_t *dst, int64_t v);

/* Decoders for the bytes p..end (see the top of this file). On error *out
 * is untouched. */
int flyq__uvarint32_get(const uint8_t *p, const uint8_t *end, uint32_t *out);
int flyq__uvarint64_get(const uint8_t *p, const uint8_t *end, uint64_t *out);
int flyq__varint_get(const uint8_t *p, const uint8_t *end, int32_t *out);
int flyq__varlong_get(const uint8_t *p, const uint8_t *end, int64_t *out);

/* Decodes a one- or two-byte value at q (by far the most common sizes in
 * record batches) into *u and returns its length, or returns 0 when the
 * value is longer or the input ends first: then use the full decoders. */
static inline int flyq__uvarint_short(const uint8_t *q, const uint8_t *end,
                                      uint32_t *u) {
  if (q < end && q[0] < 0x80) {
    *u = q[0];
    return 1;
  }
  if (end - q >= 2 && q[1] < 0x80) {
    *u = (q[0] & 0x7fu) | (uint32_t)q[1] << 7;
    return 2;
  }
  return 0;
}

/* Cursor forms for parsers: decode at *p and advance *p past the value.
 * Return 0 or the decoder's negative code (then *p is unchanged). Short
 * values are decoded inline. */
static inline int flyq__varint_read(const uint8_t **p, const uint8_t *end,
                                    int32_t *out) {
  uint32_t u;
  int n = flyq__uvarint_short(*p, end, &u);
  if (n > 0)
    *out = flyq__unzigzag32(u);
  else if ((n = flyq__varint_get(*p, end, out)) < 0)
    return n;
  *p += n;
  return 0;
}

static inline int flyq__varlong_read(const uint8_t **p, const uint8_t *end,
                                     int64_t *out) {
  uint32_t u;
  int n = flyq__uvarint_short(*p, end, &u);
  if (n > 0)
    *out = flyq__unzigzag64(u);
  else if ((n = flyq__varlong_get(*p, end, out)) < 0)
    return n;
  *p += n;
  return 0;
}

#endif /* FLYQ_CODEC_VARINT_H */
