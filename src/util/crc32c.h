/* CRC-32C (Castagnoli), the checksum of Kafka record batches.
 *
 * All functions chain like zlib's crc32(): start with crc = 0 and pass the
 * previous result to continue, so crc(a || b) == crc(crc(0, a), b). A len of
 * 0 returns crc unchanged; buf may then be NULL. They are thread-safe.
 */
#ifndef FLYQ_UTIL_CRC32C_H
#define FLYQ_UTIL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The fastest implementation this CPU supports, chosen once. */
uint32_t flyq__crc32c(uint32_t crc, const void *buf, size_t len);

/* Portable table-driven version (slicing-by-8). */
uint32_t flyq__crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* SSE4.2 crc32 instruction version: call it only when
 * flyq__crc32c_hw_available() returns 1. In builds for other architectures
 * it is the portable version. */
uint32_t flyq__crc32c_hw(uint32_t crc, const void *buf, size_t len);

/* 1 when the CPU has the SSE4.2 crc32 instruction, else 0. */
int flyq__crc32c_hw_available(void);

#endif /* FLYQ_UTIL_CRC32C_H */
