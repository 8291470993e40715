/* Kafka's murmur2 (the Java client's Utils.murmur2, seed 0x9747b28c) and
 * the default partitioner's placement of keyed records
 * (include/flyq/partition.h). Arithmetic is on uint32_t so that overflow
 * wraps as Java's int does.
 */
#include "flyq/partition.h"

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_M 0x5bd1e995u
#define MURMUR2_R 24

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* The last len % 4 bytes, mixed in as Kafka does. */
static uint32_t murmur2_tail(uint32_t h, const uint8_t *p, size_t rest) {
  switch (rest) {
  case 3: h ^= (uint32_t)p[2] << 16; /* fall through */
  case 2: h ^= (uint32_t)p[1] << 8;  /* fall through */
  case 1:
    h ^= p[0];
    h *= MURMUR2_M;
  }
  return h;
}

int32_t flyq_murmur2(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t h = MURMUR2_SEED ^ (uint32_t)len;
  for (size_t i = 0; i < len / 4; i++) {
    uint32_t k = load_le32(p + 4 * i);
    k *= MURMUR2_M;
    k ^= k >> MURMUR2_R;
    k *= MURMUR2_M;
    h *= MURMUR2_M;
    h ^= k;
  }
  if (len % 4) h = murmur2_tail(h, p + (len & ~(size_t)3), len % 4);
  h ^= h >> 13;
  h *= MURMUR2_M;
  h ^= h >> 15;
  return (int32_t)h;
}

int32_t flyq_partition_for_key(const void *key, size_t len,
                               int32_t npartitions) {
  if (npartitions < 1) return -1;
  uint32_t h = (uint32_t)flyq_murmur2(key, len) & 0x7fffffffu;
  return (int32_t)(h % (uint32_t)npartitions);
}
