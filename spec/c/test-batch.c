/* Record batches: build -> validate -> iterate round trips, golden bytes,
 * corruption and truncation detection, hostile lengths, builder limits, and
 * the error text of the codes the codec returns.
 *
 * Batches under attack are copied to heap buffers of exactly their length,
 * so the sanitizer build catches any read past the end.
 */
#include "test.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "codec/endian.h"
#include "flyq/batch.h"
#include "util/crc32c.h"

#define TS 1700000000000LL

static uint8_t *copy_of(const uint8_t *buf, size_t len) {
  uint8_t *c = malloc(len ? len : 1);
  if (c == NULL) abort();
  if (len) memcpy(c, buf, len);
  return c;
}

static int validate_copy(const uint8_t *buf, size_t len) {
  uint8_t *c = copy_of(buf, len);
  int rc = flyq_batch_validate(c, len, NULL);
  free(c);
  return rc;
}

/* Iterates a heap copy to the end: the record count, or the first error. */
static int iterate_copy(const uint8_t *buf, size_t len) {
  uint8_t *c = copy_of(buf, len);
  flyq_record_iter_t it;
  flyq_record_t rec;
  int rc = flyq_record_iter_init(&it, c, len), n = 0;
  if (rc == 0)
    while ((rc = flyq_record_iter_next(&it, &rec)) == 1) n++;
  free(c);
  return rc < 0 ? rc : n;
}

/* Rewrites batch_length and the CRC after an edit of buf[0..len). */
static void reseal(uint8_t *buf, size_t len) {
  flyq__be32_put(buf + 8, (uint32_t)(len - FLYQ_BATCH_LOG_OVERHEAD));
  flyq__be32_put(buf + 17, flyq__crc32c(0, buf + FLYQ_BATCH_CRC_START,
                                        len - FLYQ_BATCH_CRC_START));
}

/* A batch around hand-encoded records: header fields as the builder writes
 * them, base timestamp TS, length and CRC correct. buf has room for
 * 61 + n bytes; returns the batch length. */
static size_t wrap(uint8_t *buf, const void *records, size_t n, int32_t count) {
  memset(buf, 0xff, FLYQ_BATCH_HEADER_SIZE);
  flyq__be64_put(buf, 0);
  buf[16] = FLYQ_BATCH_MAGIC;
  flyq__be16_put(buf + 21, 0);
  flyq__be32_put(buf + 23, (uint32_t)(count - 1));
  flyq__be64_put(buf + 27, TS);
  flyq__be64_put(buf + 35, TS);
  flyq__be32_put(buf + 57, (uint32_t)count);
  memcpy(buf + FLYQ_BATCH_HEADER_SIZE, records, n);
  reseal(buf, FLYQ_BATCH_HEADER_SIZE + n);
  return FLYQ_BATCH_HEADER_SIZE + n;
}

/* ---- Round trip ---- */

typedef struct rec_spec {
  int64_t ts;
  const char *key, *value; /* NULL: null */
  int32_t nheaders;
  flyq_record_header_t headers[3];
} rec_spec_t;

static const rec_spec_t specs[] = {
    {TS, "key-0", "value-0", 0, {{0}}},
    {TS + 5, NULL, "null key", 0, {{0}}},
    {TS - 3, "null value", NULL, 0, {{0}}},
    {TS + 2, "", "", 0, {{0}}},
    {TS + 70000, NULL, NULL, 1, {{(const uint8_t *)"h", 1, NULL, -1}}},
    {TS + 1,
     "k",
     "v",
     3,
     {{(const uint8_t *)"a", 1, (const uint8_t *)"1", 1},
      {(const uint8_t *)"", 0, (const uint8_t *)"", 0},
      {NULL, 0, (const uint8_t *)"no key", 6}}},
};
#define NSPECS ((int32_t)(sizeof specs / sizeof specs[0]))

static int32_t len_of(const char *s) { return s ? (int32_t)strlen(s) : -1; }

static void build_specs(flyq_batch_builder_t *b) {
  for (int32_t i = 0; i < NSPECS; i++)
    CHECK_OK(flyq_batch_builder_add(b, specs[i].ts, specs[i].key,
                                    len_of(specs[i].key), specs[i].value,
                                    len_of(specs[i].value), specs[i].headers,
                                    specs[i].nheaders));
}

static void check_bytes(const uint8_t *got, int32_t got_len, const void *want,
                        int32_t want_len) {
  CHECK_EQ(got_len, want_len);
  CHECK(want_len != -1 ? got != NULL : got == NULL);
  if (want_len > 0) CHECK_MEM(got, want, (size_t)want_len);
}

static void check_headers(const flyq_record_t *rec, const rec_spec_t *s) {
  const uint8_t *p = NULL;
  flyq_record_header_t hdr;
  CHECK_EQ(rec->header_count, s->nheaders);
  for (int32_t i = 0; i < s->nheaders; i++) {
    const flyq_record_header_t *want = &s->headers[i];
    CHECK_EQ(flyq_record_next_header(rec, &p, &hdr), 1);
    check_bytes(hdr.key, hdr.key_len, want->key, want->key_len);
    check_bytes(hdr.value, hdr.value_len, want->value,
                want->value ? want->value_len : -1);
  }
  CHECK_EQ(flyq_record_next_header(rec, &p, &hdr), 0);
}

static void check_specs(const uint8_t *buf, size_t len, int64_t base) {
  flyq_record_iter_t it;
  flyq_record_t rec;
  CHECK_OK(flyq_record_iter_init(&it, buf, len));
  for (int32_t i = 0; i < NSPECS; i++) {
    CHECK_EQ(flyq_record_iter_next(&it, &rec), 1);
    CHECK_EQ(rec.offset, base + i);
    CHECK_EQ(rec.timestamp, specs[i].ts);
    check_bytes(rec.key, rec.key_len, specs[i].key, len_of(specs[i].key));
    check_bytes(rec.value, rec.value_len, specs[i].value,
                len_of(specs[i].value));
    check_headers(&rec, &specs[i]);
  }
  CHECK_EQ(flyq_record_iter_next(&it, &rec), 0);
  CHECK_EQ(flyq_record_iter_next(&it, &rec), 0);
}

TEST(round_trip) {
  flyq_batch_builder_t b;
  const uint8_t *out;
  size_t len;
  flyq_batch_header_t h;
  flyq_batch_builder_init(&b);
  build_specs(&b);
  CHECK_OK(flyq_batch_builder_finish(&b, &out, &len));
  CHECK_OK(flyq_batch_validate(out, len, &h));
  CHECK_EQ(h.base_offset, 0);
  CHECK_EQ(h.batch_length, (int64_t)len - 12);
  CHECK_EQ(h.partition_leader_epoch, -1);
  CHECK_EQ(h.magic, 2);
  CHECK_EQ(h.attributes, 0);
  CHECK_EQ(h.record_count, NSPECS);
  CHECK_EQ(h.last_offset_delta, NSPECS - 1);
  CHECK_EQ(h.base_timestamp, TS);
  CHECK_EQ(h.max_timestamp, TS + 70000);
  CHECK_EQ(h.producer_id, -1);
  CHECK_EQ(h.producer_epoch, -1);
  CHECK_EQ(h.base_sequence, -1);
  CHECK_EQ(flyq_batch_size(out, len), (int64_t)len);
  check_specs(out, len, 0);
  flyq_batch_builder_free(&b);
}

TEST(reset_reuses_and_rebuilds_identically) {
  flyq_batch_builder_t b;
  const uint8_t *out;
  size_t len, len2;
  flyq_batch_builder_init(&b);
  build_specs(&b);
  CHECK_OK(flyq_batch_builder_finish(&b, &out, &len));
  uint8_t *first = copy_of(out, len);
  flyq_batch_builder_reset(&b);
  CHECK_EQ(flyq_batch_builder_finish(&b, &out, &len2), FLYQ_ERR_INVALID_ARG);
  CHECK_OK(flyq_batch_builder_add(&b, 1, "x", 1, "y", 1, NULL, 0));
  flyq_batch_builder_reset(&b);
  build_specs(&b);
  CHECK_OK(flyq_batch_builder_finish(&b, &out, &len2));
  CHECK_EQ(len2, len);
  int same = memcmp(out, first, len) == 0;
  free(first);
  CHECK(same);
  flyq_batch_builder_free(&b);
}

TEST(set_base_offset_keeps_crc_valid) {
  flyq_batch_builder_t b;
  const uint8_t *out;
  size_t len;
  flyq_batch_header_t h;
  flyq_batch_builder_init(&b);
  build_specs(&b);
  CHECK_OK(flyq_batch_builder_finish(&b, &out, &len));
  uint8_t *buf = copy_of(out, len);
  flyq_batch_builder_free(&b);
  static const int64_t bases[] = {1, 1000, (int64_t)1 << 40, -1};
  for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
    flyq_batch_set_base_offset(buf, bases[i]);
    CHECK_EQ(flyq__be64_get(buf), (uint64_t)bases[i]);
    CHECK_OK(flyq_batch_validate(buf, len, &h));
    CHECK_EQ(h.base_offset, bases[i]);
    if (bases[i] >= 0) check_specs(buf, len, bases[i]);
  }
  free(buf);
}

/* 1000 records of 100-byte values: the buffer grows and all comes back. */
/* flyq_record_kv_at finds the key and value of each record from where it
 * starts, as the full decode does (specs: null, empty and long strings,
 * large timestamp deltas, headers). */
TEST(key_and_value_at_a_record_start) {
  flyq_batch_builder_t b;
  const uint8_t *out, *starts[NSPECS], *k, *v;
  int32_t klen, vlen;
  size_t len;
  flyq_batch_header_t h;
  flyq_batch_builder_init(&b);
  build_specs(&b);
  CHECK_OK(flyq_batch_builder_finish(&b, &out, &len));
  CHECK_OK(flyq_batch_validate(out, len, &h));
  CHECK_OK(flyq_batch_validate_records(out, len, &h, starts));
  for (int32_t i = 0; i < NSPECS; i++) {
    CHECK_OK(flyq_record_kv_at(starts[i], out + len, &k, &klen, &v, &vlen));
    check_bytes(k, klen, specs[i].key, len_of(specs[i].key));
    check_bytes(v, vlen, specs[i].value, len_of(specs[i].value));
  }
  /* A record cut short is refused, not read past its end. */
  CHECK_EQ(flyq_record_kv_at(starts[0], starts[0] + 3, &k, &klen, &v, &vlen),
           FLYQ_ERR_CORRUPT);
  flyq_batch_builder_free(&b);
}

TEST(large_batch) {
  flyq_batch_builder_t b;
  const uint8_t *out;
  size_t len;
  uint8_t value[100];
  char key[16];
  flyq_batch_builder_init(&b);
  for (int i = 0; i < 1000; i++) {
    memset(value, i & 0xff, sizeof value);
    int klen = snprintf(key, sizeof key, "k%d", i);
    CHECK_OK(flyq_batch_builder_add(&b, TS + i, key, klen, value, 100, NULL,
                                    0));
  }
  CHECK_OK(flyq_batch_builder_finish(&b, &out, &len));
  CHECK(b.cap >= len);
  CHECK_OK(flyq_batch_validate(out, len, NULL));
  flyq_record_iter_t it;
  flyq_record_t rec;
  CHECK_OK(flyq_record_iter_init(&it, out, len));
  for (int i = 0; i < 1000; i++) {
    CHECK_EQ(flyq_record_iter_next(&it, &rec), 1);
    CHECK_EQ(rec.value_len, 100);
    CHECK_EQ(rec.value[99], i & 0xff);
    CHECK_EQ(rec.timestamp, TS + i);
  }
  CHECK_EQ(flyq_record_iter_next(&it, &rec), 0);
  flyq_batch_builder_free(&b);
}

/* ---- Golden bytes ---- */

/* One record, key "k", value "hello", header h=v, timestamp TS (0x18bcfe56800),
 * derived by hand from the format. The CRC was computed separately with a
 * bit-at-a-time CRC-32C over bytes 21..77. */
static const uint8_t golden[78] = {
    0, 0, 0, 0, 0, 0, 0, 0,                         /* base_offset 0 */
    0x00, 0x00, 0x00, 0x42,                         /* batch_length 66 */
    0xff, 0xff, 0xff, 0xff,                         /* leader epoch -1 */
    0x02,                                           /* magic */
    0xc6, 0x22, 0xac, 0xfa,                         /* crc */
    0x00, 0x00,                                     /* attributes */
    0x00, 0x00, 0x00, 0x00,                         /* last_offset_delta */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* base_timestamp */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, /* max_timestamp */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* producer_id -1 */
    0xff, 0xff,                                     /* producer_epoch -1 */
    0xff, 0xff, 0xff, 0xff,                         /* base_sequence -1 */
    0x00, 0x00, 0x00, 0x01,                         /* record_count */
    0x20,                                           /* record length 16 */
    0x00,                                           /* attributes */
    0x00,                                           /* timestamp delta 0 */
    0x00,                                           /* offset delta 0 */
    0x02, 'k',                                      /* key */
    0x0a, 'h', 'e', 'l', 'l', 'o',                  /* value */
    0x02,                                           /* 1 header */
    0x02, 'h', 0x02, 'v',                           /* h = v */
};

TEST(golden_bytes) {
  flyq_batch_builder_t b;
  const uint8_t *out;
  size_t len;
  flyq_record_header_t hdr = {(const uint8_t *)"h", 1, (const uint8_t *)"v",
                              1};
  flyq_batch_builder_init(&b);
  CHECK_OK(flyq_batch_builder_add(&b, TS, "k", 1, "hello", 5, &hdr, 1));
  CHECK_OK(flyq_batch_builder_finish(&b, &out, &len));
  CHECK_EQ(len, sizeof golden);
  CHECK_MEM(out, golden, sizeof golden);
  flyq_batch_builder_free(&b);
  CHECK_OK(validate_copy(golden, sizeof golden));
  CHECK_EQ(iterate_copy(golden, sizeof golden), 1);
}

/* ---- Corruption and truncation ---- */

static size_t specs_batch(uint8_t **buf) {
  flyq_batch_builder_t b;
  const uint8_t *out;
  size_t len;
  flyq_batch_builder_init(&b);
  build_specs(&b);
  if (flyq_batch_builder_finish(&b, &out, &len) != 0) abort();
  *buf = copy_of(out, len);
  flyq_batch_builder_free(&b);
  return len;
}

/* Every byte but base_offset (0..7) and partition_leader_epoch (12..15),
 * which the CRC does not cover by design, is protected. */
TEST(every_byte_flip_detected) {
  uint8_t *buf;
  size_t len = specs_batch(&buf);
  static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x5a};
  int undetected = 0;
  for (size_t pos = 8; pos < len; pos++) {
    if (pos >= 12 && pos < 16) continue;
    for (size_t m = 0; m < sizeof masks; m++) {
      buf[pos] ^= masks[m];
      if (flyq_batch_validate(buf, len, NULL) >= 0) undetected++;
      buf[pos] ^= masks[m];
    }
  }
  buf[3] ^= 0xff, buf[13] ^= 0xff;
  int uncovered_ok = flyq_batch_validate(buf, len, NULL) == 0;
  free(buf);
  CHECK_EQ(undetected, 0);
  CHECK(uncovered_ok);
}

TEST(every_truncation_rejected) {
  uint8_t *buf;
  size_t len = specs_batch(&buf);
  int accepted = 0, wrong_code = 0;
  for (size_t cut = 0; cut < len; cut++) {
    int rc = validate_copy(buf, cut);
    accepted += rc >= 0;
    wrong_code += rc != FLYQ_ERR_TRUNCATED;
  }
  /* Same cuts, but with length and CRC fixed up: the records are short. */
  for (size_t cut = FLYQ_BATCH_HEADER_SIZE; cut < len; cut++) {
    uint8_t *c = copy_of(buf, cut);
    reseal(c, cut);
    accepted += flyq_batch_validate(c, cut, NULL) != FLYQ_ERR_CORRUPT;
    accepted += iterate_copy(c, cut) >= 0;
    free(c);
  }
  free(buf);
  CHECK_EQ(accepted, 0);
  CHECK_EQ(wrong_code, 0);
}

TEST(trailing_bytes_rejected) {
  uint8_t buf[sizeof golden + 1];
  memcpy(buf, golden, sizeof golden);
  buf[sizeof golden] = 0;
  CHECK_EQ(validate_copy(buf, sizeof buf), FLYQ_ERR_CORRUPT);
  /* A record count one short leaves the last record as trailing bytes. */
  uint8_t *two;
  size_t len = specs_batch(&two);
  flyq__be32_put(two + 57, NSPECS - 1);
  flyq__be32_put(two + 23, NSPECS - 2);
  reseal(two, len);
  int rc = flyq_batch_validate(two, len, NULL), it = iterate_copy(two, len);
  free(two);
  CHECK_EQ(rc, FLYQ_ERR_CORRUPT);
  CHECK_EQ(it, FLYQ_ERR_CORRUPT);
}

TEST(compressed_unsupported) {
  uint8_t buf[sizeof golden];
  for (uint16_t codec = 1; codec <= 7; codec++) {
    memcpy(buf, golden, sizeof golden);
    flyq__be16_put(buf + 21, codec);
    CHECK_EQ(flyq_batch_validate(buf, sizeof buf, NULL), FLYQ_ERR_CORRUPT);
    reseal(buf, sizeof buf);
    CHECK_EQ(flyq_batch_validate(buf, sizeof buf, NULL),
             FLYQ_ERR_UNSUPPORTED);
  }
}

/* ---- Hostile input ---- */

typedef struct hostile {
  const char *what;
  int32_t count;
  size_t len;
  uint8_t bytes[24];
} hostile_t;

/* Record bodies start: attributes 0, timestamp delta 0, offset delta 0. */
static const hostile_t hostile[] = {
    {"record length 2^31-1", 1, 10,
     {0xfe, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 1, 1}},
    {"record length -1", 1, 7, {0x01, 0, 0, 0, 1, 1, 0}},
    {"record length -2^31", 1, 11,
     {0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 1, 1, 0}},
    {"record length 6-byte varint", 1, 12,
     {0x8c, 0x80, 0x80, 0x80, 0x80, 0x00, 0, 0, 0, 1, 1, 0}},
    {"key length -2", 1, 8, {0x0e, 0, 0, 0, 0x03, 1, 0, 0}},
    {"key length 2^31-1", 1, 11,
     {0x14, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f, 1, 0}},
    {"key runs past record", 1, 9, {0x0c, 0, 0, 0, 0x06, 'a', 1, 0, 'b'}},
    {"value length -3", 1, 7, {0x0c, 0, 0, 0, 1, 0x05, 0}},
    {"header count 2^31-1", 1, 14,
     {0x1a, 0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f, 0, 1, 0}},
    {"header count -1", 1, 9, {0x10, 0, 0, 0, 1, 1, 0x01, 0, 1}},
    {"header count -1, nothing after", 1, 7, {0x0c, 0, 0, 0, 1, 1, 0x01}},
    {"header count 2, one header", 1, 9, {0x10, 0, 0, 0, 1, 1, 0x04, 0, 1}},
    {"null header key", 1, 9, {0x10, 0, 0, 0, 1, 1, 0x02, 0x01, 1}},
    {"header value length -2", 1, 9, {0x10, 0, 0, 0, 1, 1, 0x02, 0, 0x03}},
    {"record length short by one", 1, 8, {0x0c, 0, 0, 0, 0x02, 'a', 1, 0}},
    {"record length long by one", 1, 8, {0x0e, 0, 0, 0, 1, 1, 0, 0}},
    {"offset delta 1 first", 1, 7, {0x0c, 0, 0, 0x02, 1, 1, 0}},
    {"offset delta -1", 1, 7, {0x0c, 0, 0, 0x01, 1, 1, 0}},
    {"offset deltas 0, 0", 2, 14,
     {0x0c, 0, 0, 0, 1, 1, 0, 0x0c, 0, 0, 0, 1, 1, 0}},
    {"record count 2, one record", 2, 7, {0x0c, 0, 0, 0, 1, 1, 0}},
    {"record count 0", 0, 7, {0x0c, 0, 0, 0, 1, 1, 0}},
    {"timestamp delta 11-byte varlong", 1, 17,
     {0x20, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
      0x00, 0, 1, 1, 0}},
    {"empty record area", 1, 0, {0}},
};

TEST(hostile_records_rejected) {
  uint8_t buf[FLYQ_BATCH_HEADER_SIZE + 24];
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    const hostile_t *t = &hostile[i];
    size_t len = wrap(buf, t->bytes, t->len, t->count);
    int rc = validate_copy(buf, len), it = iterate_copy(buf, len);
    if (rc != FLYQ_ERR_CORRUPT || it >= 0) printf("  case: %s\n", t->what);
    CHECK_EQ(rc, FLYQ_ERR_CORRUPT);
    CHECK(it < 0);
  }
}

/* The shortest valid record, so the cases above fail for their own reason. */
TEST(hostile_baseline_valid) {
  uint8_t buf[FLYQ_BATCH_HEADER_SIZE + 24];
  static const uint8_t ok[] = {0x0c, 0, 0, 0, 1, 1, 0};
  static const uint8_t with_header[] = {0x10, 0, 0, 0, 1, 1, 0x02, 0, 1};
  size_t len = wrap(buf, ok, sizeof ok, 1);
  CHECK_OK(validate_copy(buf, len));
  CHECK_EQ(iterate_copy(buf, len), 1);
  len = wrap(buf, with_header, sizeof with_header, 1);
  CHECK_OK(validate_copy(buf, len));
  CHECK_EQ(iterate_copy(buf, len), 1);
}

TEST(hostile_header_fields_rejected) {
  static const uint8_t rec[] = {0x0c, 0, 0, 0, 1, 1, 0};
  uint8_t buf[FLYQ_BATCH_HEADER_SIZE + sizeof rec];
  size_t len = wrap(buf, rec, sizeof rec, 1);
  flyq__be32_put(buf + 8, 48); /* batch_length below the header */
  CHECK_EQ(validate_copy(buf, len), FLYQ_ERR_CORRUPT);
  CHECK_EQ(flyq_batch_size(buf, len), FLYQ_ERR_CORRUPT);
  flyq__be32_put(buf + 8, 0x7fffffff);
  CHECK_EQ(validate_copy(buf, len), FLYQ_ERR_CORRUPT);
  CHECK_EQ(flyq_batch_size(buf, len), FLYQ_ERR_CORRUPT);
  flyq__be32_put(buf + 8, 0x80000000u);
  CHECK_EQ(validate_copy(buf, len), FLYQ_ERR_CORRUPT);
  reseal(buf, len);
  buf[16] = 1; /* magic */
  CHECK_EQ(validate_copy(buf, len), FLYQ_ERR_CORRUPT);
  buf[16] = 2;
  flyq__be32_put(buf + 57, 0x80000000u); /* record_count < 0 */
  reseal(buf, len);
  CHECK_EQ(validate_copy(buf, len), FLYQ_ERR_CORRUPT);
  flyq__be32_put(buf + 57, 1);
  flyq__be32_put(buf + 23, 5); /* last_offset_delta */
  reseal(buf, len);
  CHECK_EQ(validate_copy(buf, len), FLYQ_ERR_CORRUPT);
  flyq__be32_put(buf + 23, 0);
  size_t empty = wrap(buf, rec, 0, 0); /* no records at all */
  CHECK_EQ(validate_copy(buf, empty), FLYQ_ERR_CORRUPT);
  CHECK_EQ(iterate_copy(buf, empty), 0); /* iteration does not judge this */
  len = wrap(buf, rec, sizeof rec, 1);
  flyq__be64_put(buf + 27, INT64_MAX); /* timestamp overflow */
  buf[FLYQ_BATCH_HEADER_SIZE + 2] = 0x02; /* delta +1 */
  reseal(buf, len);
  CHECK_EQ(validate_copy(buf, len), FLYQ_ERR_CORRUPT);
  CHECK(iterate_copy(buf, len) < 0);
}

/* Random damage to the records, CRC fixed up: never a crash, and validate
 * and iterate agree on every batch. */
TEST(random_damage_validate_and_iterate_agree) {
  uint8_t *orig;
  size_t len = specs_batch(&orig);
  uint64_t x = 88172645463325252u;
  int accepted = 0;
  for (int round = 0; round < 20000; round++) {
    uint8_t *buf = copy_of(orig, len);
    for (int k = 0; k < 1 + round % 3; k++) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      size_t pos = FLYQ_BATCH_HEADER_SIZE + x % (len - FLYQ_BATCH_HEADER_SIZE);
      buf[pos] = (uint8_t)(x >> 32);
    }
    reseal(buf, len);
    int rc = flyq_batch_validate(buf, len, NULL), n = iterate_copy(buf, len);
    free(buf);
    if (rc == 0) accepted++;
    CHECK_EQ(rc == 0, n == NSPECS);
  }
  free(orig);
  CHECK(accepted > 0); /* some damage (to data bytes) is still valid */
}

/* ---- Header parsing and sizes ---- */

TEST(parse_header_and_size) {
  flyq_batch_header_t h;
  for (size_t len = 0; len < 12; len++)
    CHECK_EQ(flyq_batch_size(golden, len), FLYQ_ERR_TRUNCATED);
  for (size_t len = 12; len < sizeof golden; len++) {
    CHECK_EQ(flyq_batch_size(golden, len), (int64_t)sizeof golden);
    CHECK_EQ(flyq_batch_parse_header(golden, len, &h), FLYQ_ERR_TRUNCATED);
  }
  CHECK_OK(flyq_batch_parse_header(golden, sizeof golden, &h));
  CHECK_EQ(h.crc, 0xc622acfau);
  CHECK_EQ(h.record_count, 1);
  CHECK_EQ(h.max_timestamp, TS);
}

/* ---- Builder limits ---- */

TEST(builder_rejects_bad_arguments_and_stays_usable) {
  flyq_batch_builder_t b;
  const uint8_t *out;
  size_t len;
  flyq_record_header_t nokey = {NULL, 3, (const uint8_t *)"v", 1};
  flyq_record_header_t badval = {(const uint8_t *)"k", 1,
                                 (const uint8_t *)"v", -2};
  flyq_record_header_t hv = {(const uint8_t *)"h", 1, (const uint8_t *)"v",
                             1};
  flyq_batch_builder_init(&b);
  CHECK_EQ(flyq_batch_builder_finish(&b, &out, &len), FLYQ_ERR_INVALID_ARG);
  CHECK_OK(flyq_batch_builder_add(&b, TS, "k", 1, "hello", 5, &hv, 1));
  CHECK_EQ(flyq_batch_builder_add(&b, TS, "k", -2, "v", 1, NULL, 0),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_batch_builder_add(&b, TS, "k", 1, "v", -5, NULL, 0),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_batch_builder_add(&b, TS, "k", 1, "v", 1, NULL, 1),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_batch_builder_add(&b, TS, "k", 1, "v", 1, NULL, -1),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_batch_builder_add(&b, TS, "k", 1, "v", 1, &nokey, 1),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_batch_builder_add(&b, TS, "k", 1, "v", 1, &badval, 1),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_batch_builder_add(&b, INT64_MIN, "k", 1, "v", 1, NULL, 0),
           FLYQ_ERR_INVALID_ARG); /* timestamp delta overflows */
  /* Too large is refused before any byte of the value is read. */
  CHECK_EQ(flyq_batch_builder_add(&b, TS, "k", 1, "v",
                                  (int32_t)FLYQ_BATCH_MAX_SIZE, NULL, 0),
           FLYQ_ERR_TOO_LARGE);
  CHECK_EQ(flyq_batch_builder_add(&b, TS, "k", INT32_MAX, "v", INT32_MAX,
                                  NULL, 0),
           FLYQ_ERR_TOO_LARGE);
  CHECK_OK(flyq_batch_builder_finish(&b, &out, &len));
  CHECK_EQ(len, sizeof golden);
  CHECK_MEM(out, golden, sizeof golden);
  flyq_batch_builder_free(&b);
  flyq_batch_builder_free(&b); /* free leaves an empty builder */
}

/* ---- Error text for the codes above ---- */

TEST(error_names_and_text) {
  CHECK(strcmp(flyq_errname(FLYQ_ERR_CORRUPT), "CORRUPT") == 0);
  CHECK(strcmp(flyq_errname(FLYQ_ERR_OFFSET_OUT_OF_RANGE),
               "OFFSET_OUT_OF_RANGE") == 0);
  CHECK(strcmp(flyq_errname(FLYQ_ERR_PLUGIN), "PLUGIN") == 0);
  CHECK(strcmp(flyq_strerror(FLYQ_ERR_TRUNCATED), "truncated input") == 0);
  CHECK(strcmp(flyq_errname(-ENOSPC), "ENOSPC") == 0);
  CHECK(strcmp(flyq_errname(-ECONNREFUSED), "ECONNREFUSED") == 0);
  CHECK(strcmp(flyq_errname(-EDQUOT), "EDQUOT") == 0);
  CHECK(strcmp(flyq_strerror(-ENOSPC), strerror(ENOSPC)) == 0);
  CHECK(strcmp(flyq_errname(-4000), "E4000") == 0);
  CHECK(strcmp(flyq_errname(0), "OK") == 0);
  CHECK(strcmp(flyq_errname(-29999), "UNKNOWN") == 0);
  CHECK(strcmp(flyq_strerror(-29999), "unknown error") == 0);
  CHECK(strcmp(flyq_strerror(INT32_MIN), "unknown error") == 0);
  CHECK(strcmp(flyq_strerror(7), "unknown error") == 0);
}

/* CLOCK_REALTIME in ms. Not time(): it reads the kernel's coarse clock,
 * which lags by up to a tick, so across a second boundary it was a second
 * behind flyq_now_ms() (about 1 run in 200). */
static int64_t realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

TEST(now_ms_is_wall_clock) {
  int64_t before = realtime_ms();
  int64_t now = flyq_now_ms();
  int64_t after = realtime_ms();
  CHECK(now >= before && now <= after);
}

TEST_LIST(TEST_ENTRY(round_trip)
          TEST_ENTRY(reset_reuses_and_rebuilds_identically)
          TEST_ENTRY(set_base_offset_keeps_crc_valid)
          TEST_ENTRY(large_batch)
          TEST_ENTRY(golden_bytes)
          TEST_ENTRY(every_byte_flip_detected)
          TEST_ENTRY(every_truncation_rejected)
          TEST_ENTRY(trailing_bytes_rejected)
          TEST_ENTRY(compressed_unsupported)
          TEST_ENTRY(hostile_records_rejected)
          TEST_ENTRY(hostile_baseline_valid)
          TEST_ENTRY(hostile_header_fields_rejected)
          TEST_ENTRY(random_damage_validate_and_iterate_agree)
          TEST_ENTRY(parse_header_and_size)
          TEST_ENTRY(builder_rejects_bad_arguments_and_stays_usable)
          TEST_ENTRY(error_names_and_text)
          TEST_ENTRY(now_ms_is_wall_clock)
          TEST_ENTRY(key_and_value_at_a_record_start));
