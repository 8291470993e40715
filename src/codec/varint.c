/* Kafka varints: sizes, encoders and bounds-checked decoders (see varint.h).
 */
#include "codec/varint.h"

size_t flyq__uvarint64_size(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) n++;
  return n;
}

size_t flyq__uvarint32_size(uint32_t v) { return flyq__uvarint64_size(v); }

size_t flyq__varint_size(int32_t v) {
  return flyq__uvarint64_size(flyq__zigzag32(v));
}

size_t flyq__varlong_size(int64_t v) {
  return flyq__uvarint64_size(flyq__zigzag64(v));
}

size_t flyq__uvarint64_put(uint8_t *dst, uint64_t v) {
  size_t n = 0;
  for (; v >= 0x80; v >>= 7) dst[n++] = (uint8_t)(v | 0x80);
  dst[n++] = (uint8_t)v;
  return n;
}

size_t flyq__uvarint32_put(uint8_t *dst, uint32_t v) {
  return flyq__uvarint64_put(dst, v);
}

size_t flyq__varint_put(uint8_t *dst, int32_t v) {
  return flyq__uvarint64_put(dst, flyq__zigzag32(v));
}

size_t flyq__varlong_put(uint8_t *dst, int64_t v) {
  return flyq__uvarint64_put(dst, flyq__zigzag64(v));
}

/* Decodes at most max_bytes bytes; the last of them may be at most
 * last_max, so that the value fits in 32 or 64 bits. */
static int uvarint_get(const uint8_t *p, const uint8_t *end, int max_bytes,
                       uint8_t last_max, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < max_bytes; i++) {
    if (end - p <= i) return FLYQ_ERR_TRUNCATED;
    uint8_t b = p[i];
    if (i == max_bytes - 1 && b > last_max) return FLYQ_ERR_CORRUPT;
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (b < 0x80) {
      *out = v;
      return i + 1;
    }
  }
  return FLYQ_ERR_CORRUPT; /* not reached: last_max < 0x80 */
}

int flyq__uvarint32_get(const uint8_t *p, const uint8_t *end, uint32_t *out) {
  uint64_t v;
  int n = uvarint_get(p, end, FLYQ__VARINT_MAX, 0x0f, &v);
  if (n > 0) *out = (uint32_t)v;
  return n;
}

int flyq__uvarint64_get(const uint8_t *p, const uint8_t *end, uint64_t *out) {
  return uvarint_get(p, end, FLYQ__VARLONG_MAX, 0x01, out);
}

int flyq__varint_get(const uint8_t *p, const uint8_t *end, int32_t *out) {
  uint32_t u;
  int n = flyq__uvarint32_get(p, end, &u);
  if (n > 0) *out = flyq__unzigzag32(u);
  return n;
}

int flyq__varlong_get(const uint8_t *p, const uint8_t *end, int64_t *out) {
  uint64_t u;
  int n = flyq__uvarint64_get(p, end, &u);
  if (n > 0) *out = flyq__unzigzag64(u);
  return n;
}
