/* Key hashing and partition choice for keyed records: Kafka's murmur2
 * (org.apache.kafka.common.utils.Utils.murmur2, seed 0x9747b28c) and its
 * default partitioner's placement, so a key lands on the same partition
 * number as it would in Kafka. The code lives in src/codec/murmur2.c.
 */
#ifndef FLYQ_PARTITION_H
#define FLYQ_PARTITION_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's murmur2 of len bytes at data (data may be NULL when len is 0). */
int32_t flyq_murmur2(const void *data, size_t len);

/* (murmur2(key) & 0x7fffffff) % npartitions, or -1 when npartitions < 1.
 * A null key has no placement here: the caller round-robins those. */
int32_t flyq_partition_for_key(const void *key, size_t len,
                               int32_t npartitions);

#endif /* FLYQ_PARTITION_H */
