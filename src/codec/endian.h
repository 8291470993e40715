/* Big-endian (network order) loads and stores of 16, 32 and 64-bit integers
 * at any alignment. Used by the record batch header and the wire protocol.
 * The caller checks that the bytes exist.
 */
#ifndef FLYQ_CODEC_ENDIAN_H
#define FLYQ_CODEC_ENDIAN_H

#include <stdint.h>

static inline uint16_t flyq__be16_get(const uint8_t *p) {
  return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t flyq__be32_get(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static inline uint64_t flyq__be64_get(const uint8_t *p) {
  return (uint64_t)flyq__be32_get(p) << 32 | flyq__be32_get(p + 4);
}

static inline void flyq__be16_put(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void flyq__be32_put(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline void flyq__be64_put(uint8_t *p, uint64_t v) {
  flyq__be32_put(p, (uint32_t)(v >> 32));
  flyq__be32_put(p + 4, (uint32_t)v);
}

#endif /* FLYQ_CODEC_ENDIAN_H */
