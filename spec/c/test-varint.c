/* Varints and varlongs: round trips at the limits, exact encodings, and
 * truncated or overlong input. Decoders read from heap copies of exactly
 * the given length, so the sanitizer build catches any read past the end.
 */
#include "test.h"

#include <stdlib.h>

#include "codec/endian.h"
#include "codec/varint.h"

static const int64_t limits64[] = {
    0,          -1,        1,          63,         64,        -64,
    -65,        8191,      8192,       -8192,      -8193,     1048575,
    -1048577,   INT32_MAX, INT32_MIN,  (int64_t)INT32_MAX + 1,
    (int64_t)INT32_MIN - 1,            INT64_MAX,  INT64_MIN,
    INT64_MAX - 1,                     INT64_MIN + 1};
#define NLIMITS (sizeof limits64 / sizeof limits64[0])

/* Decodes in[0..len) from a heap copy of exactly len bytes. */
static int get32(const uint8_t *in, size_t len, int32_t *out) {
  uint8_t *copy = calloc(1, len ? len : 1);
  if (copy == NULL) return -1000;
  if (len) memcpy(copy, in, len);
  int n = flyq__varint_get(copy, copy + len, out);
  free(copy);
  return n;
}

static int get64(const uint8_t *in, size_t len, int64_t *out) {
  uint8_t *copy = calloc(1, len ? len : 1);
  if (copy == NULL) return -1000;
  if (len) memcpy(copy, in, len);
  int n = flyq__varlong_get(copy, copy + len, out);
  free(copy);
  return n;
}

TEST(varint_round_trips) {
  for (size_t i = 0; i < NLIMITS; i++) {
    if (limits64[i] < INT32_MIN || limits64[i] > INT32_MAX) continue;
    int32_t v = (int32_t)limits64[i], got = 0;
    uint8_t buf[FLYQ__VARINT_MAX];
    size_t n = flyq__varint_put(buf, v);
    CHECK_EQ(n, flyq__varint_size(v));
    CHECK_EQ(get32(buf, n, &got), (int)n);
    CHECK_EQ(got, v);
    const uint8_t *p = buf;
    CHECK_OK(flyq__varint_read(&p, buf + n, &got));
    CHECK_EQ(got, v);
    CHECK(p == buf + n);
  }
}

TEST(varlong_round_trips) {
  for (size_t i = 0; i < NLIMITS; i++) {
    int64_t v = limits64[i], got = 0;
    uint8_t buf[FLYQ__VARLONG_MAX];
    size_t n = flyq__varlong_put(buf, v);
    CHECK_EQ(n, flyq__varlong_size(v));
    CHECK_EQ(get64(buf, n, &got), (int)n);
    CHECK(got == v);
    const uint8_t *p = buf;
    CHECK_OK(flyq__varlong_read(&p, buf + n, &got));
    CHECK(got == v);
    CHECK(p == buf + n);
  }
}

TEST(dense_round_trips_and_sizes) {
  uint8_t buf[FLYQ__VARLONG_MAX];
  for (int32_t v = -300000; v <= 300000; v++) {
    int32_t got32;
    int64_t got64;
    size_t n = flyq__varint_put(buf, v);
    uint32_t z = v >= 0 ? 2u * (uint32_t)v : 2u * (uint32_t)-(v + 1) + 1;
    CHECK_EQ(n, z < 128 ? 1 : z < 16384 ? 2 : 3);
    CHECK_EQ(flyq__varint_get(buf, buf + n, &got32), (int)n);
    CHECK_EQ(got32, v);
    CHECK_EQ(flyq__varlong_put(buf, v), n); /* same bytes for both widths */
    CHECK_EQ(flyq__varlong_get(buf, buf + n, &got64), (int)n);
    CHECK_EQ(got64, v);
  }
}

TEST(exact_encodings) {
  static const struct {
    int64_t v;
    uint8_t len;
    uint8_t bytes[10];
  } cases[] = {
      {0, 1, {0x00}},
      {-1, 1, {0x01}},
      {1, 1, {0x02}},
      {63, 1, {0x7e}},
      {-64, 1, {0x7f}},
      {64, 2, {0x80, 0x01}},
      {-65, 2, {0x81, 0x01}},
      {150, 2, {0xac, 0x02}},
      {INT32_MAX, 5, {0xfe, 0xff, 0xff, 0xff, 0x0f}},
      {INT32_MIN, 5, {0xff, 0xff, 0xff, 0xff, 0x0f}},
      {INT64_MAX, 10,
       {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
      {INT64_MIN, 10,
       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[FLYQ__VARLONG_MAX];
    CHECK_EQ(flyq__varlong_put(buf, cases[i].v), cases[i].len);
    CHECK_MEM(buf, cases[i].bytes, cases[i].len);
    if (cases[i].len > FLYQ__VARINT_MAX) continue;
    CHECK_EQ(flyq__varint_put(buf, (int32_t)cases[i].v), cases[i].len);
    CHECK_MEM(buf, cases[i].bytes, cases[i].len);
  }
}

TEST(unsigned_forms) {
  static const uint64_t values[] = {0, 1, 127, 128, 300, 16383, 16384,
                                    UINT32_MAX, (uint64_t)UINT32_MAX + 1,
                                    UINT64_MAX};
  uint8_t buf[FLYQ__VARLONG_MAX];
  CHECK_EQ(flyq__uvarint32_put(buf, 300), 2);
  CHECK_MEM(buf, "\xac\x02", 2);
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    uint64_t got64;
    uint32_t got32;
    size_t n = flyq__uvarint64_put(buf, values[i]);
    CHECK_EQ(n, flyq__uvarint64_size(values[i]));
    CHECK_EQ(flyq__uvarint64_get(buf, buf + n, &got64), (int)n);
    CHECK(got64 == values[i]);
    if (values[i] > UINT32_MAX) {
      CHECK_EQ(flyq__uvarint32_get(buf, buf + n, &got32), FLYQ_ERR_CORRUPT);
      continue;
    }
    CHECK_EQ(flyq__uvarint32_size((uint32_t)values[i]), n);
    CHECK_EQ(flyq__uvarint32_get(buf, buf + n, &got32), (int)n);
    CHECK_EQ(got32, values[i]);
  }
}

TEST(truncated_input_rejected) {
  for (size_t i = 0; i < NLIMITS; i++) {
    uint8_t buf[FLYQ__VARLONG_MAX];
    size_t n = flyq__varlong_put(buf, limits64[i]);
    for (size_t cut = 0; cut < n; cut++) {
      int64_t got64 = 42;
      int32_t got32 = 42;
      CHECK_EQ(get64(buf, cut, &got64), FLYQ_ERR_TRUNCATED);
      CHECK_EQ(got64, 42); /* untouched on error */
      CHECK_EQ(get32(buf, cut, &got32), cut < FLYQ__VARINT_MAX
                                            ? FLYQ_ERR_TRUNCATED
                                            : FLYQ_ERR_CORRUPT);
      CHECK_EQ(got32, 42);
      const uint8_t *p = buf;
      CHECK(flyq__varlong_read(&p, buf + cut, &got64) < 0);
      CHECK(p == buf);
    }
  }
}

TEST(overlong_input_rejected) {
  static const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
  static const uint8_t over32[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
  static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                   0x80, 0x80, 0x80, 0x80, 0x00};
  static const uint8_t over64[] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0x03};
  int32_t v32;
  int64_t v64;
  CHECK_EQ(get32(six, sizeof six, &v32), FLYQ_ERR_CORRUPT);
  CHECK_EQ(get32(over32, sizeof over32, &v32), FLYQ_ERR_CORRUPT);
  CHECK_EQ(get64(eleven, sizeof eleven, &v64), FLYQ_ERR_CORRUPT);
  CHECK_EQ(get64(over64, sizeof over64, &v64), FLYQ_ERR_CORRUPT);
  /* A sixth byte is never read, even when present and valid. */
  CHECK_EQ(get32(six, 5, &v32), FLYQ_ERR_CORRUPT);
}

TEST(redundant_groups_accepted) {
  static const uint8_t zero2[] = {0x80, 0x00};
  static const uint8_t max5[] = {0xfe, 0xff, 0xff, 0xff, 0x0f};
  int32_t v32 = 7;
  CHECK_EQ(get32(zero2, sizeof zero2, &v32), 2);
  CHECK_EQ(v32, 0);
  CHECK_EQ(get32(max5, sizeof max5, &v32), 5);
  CHECK_EQ(v32, INT32_MAX);
}

TEST(big_endian_helpers) {
  uint8_t buf[8];
  flyq__be16_put(buf, 0x0102);
  CHECK_MEM(buf, "\x01\x02", 2);
  CHECK_EQ(flyq__be16_get(buf), 0x0102);
  flyq__be32_put(buf, 0xa1b2c3d4u);
  CHECK_MEM(buf, "\xa1\xb2\xc3\xd4", 4);
  CHECK_EQ(flyq__be32_get(buf), 0xa1b2c3d4u);
  flyq__be64_put(buf, 0x0102030405060708u);
  CHECK_MEM(buf, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
  CHECK(flyq__be64_get(buf) == 0x0102030405060708u);
  flyq__be64_put(buf, UINT64_MAX - 1);
  CHECK(flyq__be64_get(buf) == UINT64_MAX - 1);
}

TEST_LIST(TEST_ENTRY(varint_round_trips)
          TEST_ENTRY(varlong_round_trips)
          TEST_ENTRY(dense_round_trips_and_sizes)
          TEST_ENTRY(exact_encodings)
          TEST_ENTRY(unsigned_forms)
          TEST_ENTRY(truncated_input_rejected)
          TEST_ENTRY(overlong_input_rejected)
          TEST_ENTRY(redundant_groups_accepted)
          TEST_ENTRY(big_endian_helpers));
