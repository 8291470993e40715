/* CRC-32C (Castagnoli): a portable slicing-by-8 version, an SSE4.2 version
 * for x86-64, and a dispatcher that picks one the first time it is called.
 *
 * The SSE4.2 version runs three independent crc32 streams over adjacent
 * blocks of a large buffer (the instruction has a latency of three cycles
 * but a throughput of one), then merges them by advancing the earlier CRCs
 * over the later blocks' length of zeros with precomputed tables (the method
 * of Mark Adler's crc32c.c).
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82f63b78u /* reflected Castagnoli polynomial */

typedef uint32_t (*crc_fn)(uint32_t crc, const uint8_t *p, size_t len);

static uint32_t table[8][256]; /* table[k][n]: byte n then k zero bytes */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static crc_fn best;
static int hw_available;

static void table_init(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (POLY & (0u - (c & 1)));
    table[0][n] = c;
  }
  for (int n = 0; n < 256; n++)
    for (int k = 1; k < 8; k++) {
      uint32_t c = table[k - 1][n];
      table[k][n] = (c >> 8) ^ table[0][c & 0xff];
    }
}

static inline uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint32_t crc_sw(uint32_t crc, const uint8_t *p, size_t len) {
  crc = ~crc;
  for (; len >= 8; p += 8, len -= 8) {
    uint32_t lo = crc ^ load_le32(p), hi = load_le32(p + 4);
    crc = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
          table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
          table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
          table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
  }
  while (len--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

#if defined(__x86_64__)

#define LONG_BLOCK 8192u /* three-stream block sizes: powers of two */
#define SHORT_BLOCK 256u

/* shift_x[k][n]: the CRC state n << 8k advanced over X_BLOCK zero bytes. */
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];

/* Multiplies vec by the GF(2) 32x32 matrix mat (mat[i] is column i). */
static uint32_t gf2_times(const uint32_t mat[32], uint32_t vec) {
  uint32_t sum = 0;
  for (int i = 0; vec != 0; i++, vec >>= 1)
    if (vec & 1) sum ^= mat[i];
  return sum;
}

/* Fills shift so that shift_apply() advances a state over len zero bytes;
 * len must be a power of two. */
static void shift_init(uint32_t shift[4][256], size_t len) {
  uint32_t op[32], sq[32];
  op[0] = POLY; /* the operator for one zero bit */
  for (int i = 1; i < 32; i++) op[i] = 1u << (i - 1);
  for (size_t bits = len * 8; bits > 1; bits >>= 1) {
    for (int i = 0; i < 32; i++) sq[i] = gf2_times(op, op[i]);
    memcpy(op, sq, sizeof op);
  }
  for (uint32_t n = 0; n < 256; n++)
    for (int k = 0; k < 4; k++) shift[k][n] = gf2_times(op, n << (8 * k));
}

static inline uint32_t shift_apply(const uint32_t shift[4][256], uint32_t c) {
  return shift[0][c & 0xff] ^ shift[1][(c >> 8) & 0xff] ^
         shift[2][(c >> 16) & 0xff] ^ shift[3][c >> 24];
}

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Advances state c over 3 * block bytes at p as three parallel streams. */
__attribute__((target("sse4.2"))) static inline uint64_t
hw_three(uint64_t c, const uint8_t *p, size_t block,
         const uint32_t shift[4][256]) {
  uint64_t c1 = 0, c2 = 0;
  for (const uint8_t *end = p + block; p < end; p += 8) {
    c = _mm_crc32_u64(c, load64(p));
    c1 = _mm_crc32_u64(c1, load64(p + block));
    c2 = _mm_crc32_u64(c2, load64(p + 2 * block));
  }
  c = shift_apply(shift, (uint32_t)c) ^ c1;
  return shift_apply(shift, (uint32_t)c) ^ c2;
}

__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t len) {
  uint64_t c = ~crc;
  for (; len > 0 && ((uintptr_t)p & 7) != 0; len--)
    c = _mm_crc32_u8((uint32_t)c, *p++);
  for (; len >= 3 * LONG_BLOCK; p += 3 * LONG_BLOCK, len -= 3 * LONG_BLOCK)
    c = hw_three(c, p, LONG_BLOCK, shift_long);
  for (; len >= 3 * SHORT_BLOCK; p += 3 * SHORT_BLOCK, len -= 3 * SHORT_BLOCK)
    c = hw_three(c, p, SHORT_BLOCK, shift_short);
  for (; len >= 8; p += 8, len -= 8) c = _mm_crc32_u64(c, load64(p));
  for (; len > 0; len--) c = _mm_crc32_u8((uint32_t)c, *p++);
  return ~(uint32_t)c;
}

static void crc_init(void) {
  table_init();
  shift_init(shift_long, LONG_BLOCK);
  shift_init(shift_short, SHORT_BLOCK);
  __builtin_cpu_init();
  hw_available = __builtin_cpu_supports("sse4.2") != 0;
  best = hw_available ? crc_hw : crc_sw;
}

#else /* !__x86_64__ */

static uint32_t crc_hw(uint32_t crc, const uint8_t *p, size_t len) {
  return crc_sw(crc, p, len);
}

static void crc_init(void) {
  table_init();
  best = crc_sw;
}

#endif

uint32_t flyq__crc32c(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&init_once, crc_init);
  return best(crc, buf, len);
}

uint32_t flyq__crc32c_sw(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&init_once, crc_init);
  return crc_sw(crc, buf, len);
}

uint32_t flyq__crc32c_hw(uint32_t crc, const void *buf, size_t len) {
  pthread_once(&init_once, crc_init);
  return crc_hw(crc, buf, len);
}

int flyq__crc32c_hw_available(void) {
  pthread_once(&init_once, crc_init);
  return hw_available;
}
