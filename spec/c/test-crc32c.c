/* CRC-32C: known vectors, the SSE4.2 and portable versions against each
 * other and against a bit-at-a-time reference, and chaining.
 */
#include "test.h"

#include "util/crc32c.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* The definition, one bit at a time: independent of the tables under test. */
static uint32_t crc_bitwise(uint32_t crc, const void *buf, size_t len) {
  const uint8_t *p = buf;
  crc = ~crc;
  while (len--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
  }
  return ~crc;
}

/* Every implementation available here, the reference first. */
static int impls(crc_fn out[4]) {
  int n = 0;
  out[n++] = crc_bitwise;
  out[n++] = flyq__crc32c;
  out[n++] = flyq__crc32c_sw;
  if (flyq__crc32c_hw_available()) out[n++] = flyq__crc32c_hw;
  return n;
}

static void fill_random(uint8_t *buf, size_t len, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15u + 1;
  for (size_t i = 0; i < len; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    buf[i] = (uint8_t)(x >> 24);
  }
}

TEST(known_vectors) {
  uint8_t zeros[32], ones[32], ascending[32];
  memset(zeros, 0, sizeof zeros);
  memset(ones, 0xff, sizeof ones);
  for (int i = 0; i < 32; i++) ascending[i] = (uint8_t)i;
  crc_fn fn[4];
  int n = impls(fn);
  for (int i = 0; i < n; i++) {
    CHECK_EQ(fn[i](0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(fn[i](0, zeros, 32), 0x8A9136AAu);
    CHECK_EQ(fn[i](0, ones, 32), 0x62A8AB43u);
    CHECK_EQ(fn[i](0, ascending, 32), 0x46DD794Eu);
    CHECK_EQ(fn[i](0, "a", 1), 0xC1D04330u);
    CHECK_EQ(fn[i](0, NULL, 0), 0);
    CHECK_EQ(fn[i](0x12345678u, "", 0), 0x12345678u);
  }
}

TEST(sw_matches_reference) {
  uint8_t buf[1024 + 16];
  fill_random(buf, sizeof buf, 1);
  for (size_t len = 0; len <= 1024; len++)
    for (size_t align = 0; align < 16; align += 5)
      CHECK_EQ(flyq__crc32c_sw(0, buf + align, len),
               crc_bitwise(0, buf + align, len));
}

TEST(hw_matches_sw_every_length_and_alignment) {
  if (!flyq__crc32c_hw_available()) {
    printf("  no SSE4.2 here: only the portable version is tested\n");
    return;
  }
  uint8_t buf[1024 + 16];
  fill_random(buf, sizeof buf, 2);
  for (size_t len = 0; len <= 1024; len++)
    for (size_t align = 0; align < 16; align++) {
      uint32_t seed = (uint32_t)(len * 2654435761u);
      CHECK_EQ(flyq__crc32c_hw(seed, buf + align, len),
               flyq__crc32c_sw(seed, buf + align, len));
    }
}

/* Sizes around the three-stream block boundaries (3 x 256, 3 x 8192). */
TEST(large_buffers_agree) {
  static const size_t sizes[] = {767,   768,   769,   24575, 24576,
                                 24577, 25344, 50000, 1 << 20};
  static uint8_t buf[(1 << 20) + 8];
  fill_random(buf, sizeof buf, 3);
  crc_fn fn[4];
  int n = impls(fn);
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (size_t align = 0; align < 8; align += 3) {
      uint32_t want = crc_bitwise(0, buf + align, sizes[s]);
      for (int i = 1; i < n; i++)
        CHECK_EQ(fn[i](0, buf + align, sizes[s]), want);
    }
}

TEST(chaining_equals_one_shot) {
  uint8_t buf[2000];
  fill_random(buf, sizeof buf, 4);
  crc_fn fn[4];
  int n = impls(fn);
  for (int i = 0; i < n; i++) {
    uint32_t whole = fn[i](0, buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 7)
      CHECK_EQ(fn[i](fn[i](0, buf, cut), buf + cut, sizeof buf - cut), whole);
    uint32_t c = 0;
    for (size_t off = 0; off < sizeof buf; off += 13)
      c = fn[i](c, buf + off, off + 13 <= sizeof buf ? 13 : sizeof buf - off);
    CHECK_EQ(c, whole);
  }
}

TEST(any_single_bit_flip_changes_the_crc) {
  uint8_t buf[256];
  fill_random(buf, sizeof buf, 5);
  uint32_t orig = flyq__crc32c(0, buf, sizeof buf);
  for (size_t bit = 0; bit < sizeof buf * 8; bit++) {
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    CHECK(flyq__crc32c(0, buf, sizeof buf) != orig);
    buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  }
}

TEST_LIST(TEST_ENTRY(known_vectors)
          TEST_ENTRY(sw_matches_reference)
          TEST_ENTRY(hw_matches_sw_every_length_and_alignment)
          TEST_ENTRY(large_buffers_agree)
          TEST_ENTRY(chaining_equals_one_shot)
          TEST_ENTRY(any_single_bit_flip_changes_the_crc));
