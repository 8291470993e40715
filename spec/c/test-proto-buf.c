/* The codec's building blocks: flyq_buf_t, flyq_reader_t, flyq_arena_t,
 * frame size parsing, the version table and the wire error mappings.
 */
#include <errno.h>
#include <stdlib.h>

#include "flyq/proto.h"
#include "test.h"

TEST(buf_put_big_endian) {
  static const uint8_t want[] = {
      0x80,                                           /* i8 -128 */
      0x12, 0x34,                                     /* i16 */
      0xff, 0xff, 0xff, 0xfe,                         /* i32 -2 */
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* i64 */
      0x00, 0x02, 'h', 'i',                           /* string */
      0xff, 0xff,                                     /* null string */
      0x00, 0x00, 0x00, 0x01, 0x7a,                   /* bytes */
      0xff, 0xff, 0xff, 0xff,                         /* null bytes */
      0x00, 0x00, 0x10, 0x00,                         /* bytes header 4096 */
  };
  flyq_buf_t b;
  flyq_buf_init(&b);
  flyq_buf_put_i8(&b, -128);
  flyq_buf_put_i16(&b, 0x1234);
  flyq_buf_put_i32(&b, -2);
  flyq_buf_put_i64(&b, 0x0102030405060708);
  flyq_buf_put_string(&b, "hi", 2);
  flyq_buf_put_str(&b, flyq_str(NULL));
  flyq_buf_put_bytes(&b, "z", 1);
  flyq_buf_put_bytes(&b, NULL, -1);
  flyq_buf_put_bytes_header(&b, 4096);
  CHECK_OK(b.err);
  CHECK_EQ(b.len, sizeof want);
  CHECK_MEM(b.data, want, sizeof want);
  flyq_buf_free(&b);
}

TEST(buf_grows_and_resets) {
  flyq_buf_t b;
  flyq_buf_init(&b);
  for (int i = 0; i < 100000; i++) flyq_buf_put_i32(&b, i);
  CHECK_OK(b.err);
  CHECK_EQ(b.len, 400000);
  CHECK(b.cap >= b.len);
  CHECK_EQ(b.data[4 * 99999 + 3], 99999 & 0xff);
  size_t cap = b.cap;
  flyq_buf_reset(&b);
  CHECK_EQ(b.len, 0);
  CHECK_EQ(b.cap, cap);
  flyq_buf_free(&b);
  CHECK(b.data == NULL);
}

TEST(buf_errors_are_sticky) {
  flyq_buf_t b;
  flyq_buf_init(&b);
  flyq_buf_put_i8(&b, 1);
  flyq_buf_put_string(&b, "x", 40000); /* over INT16_MAX */
  CHECK_EQ(b.err, FLYQ_ERR_INVALID_ARG);
  flyq_buf_put_i32(&b, 5); /* ignored */
  CHECK_EQ(b.len, 1);
  CHECK_EQ(flyq_buf_array_begin(&b), FLYQ_BUF_NOPOS);
  CHECK_EQ(flyq_buf_reserve(&b, 1), FLYQ_ERR_INVALID_ARG);
  flyq_buf_truncate(&b, 0);
  CHECK_EQ(b.err, 0);
  flyq_buf_put_bytes(&b, "x", -2);
  CHECK_EQ(b.err, FLYQ_ERR_INVALID_ARG);
  flyq_buf_reset(&b);
  flyq_buf_put_raw(&b, NULL, 3);
  CHECK_EQ(b.err, FLYQ_ERR_INVALID_ARG);
  flyq_buf_reset(&b);
  CHECK_EQ(flyq_buf_reserve(&b, SIZE_MAX / 2), -ENOMEM);
  flyq_buf_free(&b);
}

TEST(buf_array_and_frame_patching) {
  static const uint8_t want[] = {0, 0, 0, 13, 0, 0, 0, 2, 0, 0, 0, 0,
                                 0, 0, 0, 1, 0x09};
  flyq_buf_t b;
  flyq_buf_init(&b);
  size_t frame = flyq_buf_frame_begin(&b);
  size_t arr = flyq_buf_array_begin(&b);
  flyq_buf_put_i32(&b, 0);
  flyq_buf_put_i32(&b, 1);
  flyq_buf_array_end(&b, arr, 2);
  flyq_buf_put_i8(&b, 9);
  CHECK_OK(flyq_buf_frame_end(&b, frame, 0));
  CHECK_EQ(b.len, sizeof want);
  CHECK_MEM(b.data, want, sizeof want);
  CHECK_OK(flyq_buf_frame_end(&b, frame, 100)); /* bytes sent separately */
  CHECK_EQ(b.data[3], 113);
  CHECK_EQ(flyq_buf_frame_end(&b, frame, INT32_MAX), FLYQ_ERR_TOO_LARGE);
  flyq_buf_free(&b);
}

TEST(reader_gets) {
  static const uint8_t in[] = {0xff, 0x80, 0x00, 0x7f, 0xff, 0xff, 0xff,
                               0x80, 0, 0, 0, 0, 0, 0, 1,
                               0x00, 0x02, 'o', 'k', 0xff, 0xff,
                               0x00, 0x00, 0x00, 0x00};
  flyq_reader_t r;
  flyq_reader_init(&r, in, sizeof in);
  CHECK_EQ(flyq_reader_get_i8(&r), -1);
  CHECK_EQ(flyq_reader_get_i16(&r), -32768);
  CHECK_EQ(flyq_reader_get_i32(&r), INT32_MAX);
  CHECK_EQ(flyq_reader_get_i64(&r), INT64_MIN + 1);
  flyq_str_t s = flyq_reader_get_string(&r);
  CHECK(flyq_str_eq(s, "ok") && s.ptr == (const char *)in + 17);
  s = flyq_reader_get_string(&r);
  CHECK(s.len == -1 && s.ptr == NULL);
  flyq_bytes_t v = flyq_reader_get_bytes(&r);
  CHECK_EQ(v.len, 0);
  CHECK_OK(flyq_reader_finish(&r));
  CHECK_EQ(flyq_reader_get_i8(&r), 0);
  CHECK_EQ(r.err, FLYQ_ERR_TRUNCATED);
}

TEST(reader_rejects_bad_lengths) {
  flyq_reader_t r;
  flyq_reader_init(&r, (const uint8_t[]){0xff, 0xfe}, 2);
  flyq_reader_get_string(&r);
  CHECK_EQ(r.err, FLYQ_ERR_PROTOCOL);
  flyq_reader_init(&r, (const uint8_t[]){0x7f, 0xff, 'a', 'b', 'c'}, 5);
  CHECK_EQ(flyq_reader_get_string(&r).len, -1);
  CHECK_EQ(r.err, FLYQ_ERR_TRUNCATED);
  flyq_reader_init(&r, (const uint8_t[]){0x80, 0, 0, 0}, 4);
  flyq_reader_get_bytes(&r);
  CHECK_EQ(r.err, FLYQ_ERR_PROTOCOL);
  flyq_reader_init(&r, (const uint8_t[]){0, 0, 0, 3, 1, 2, 3, 4, 5}, 9);
  CHECK_EQ(flyq_reader_get_array_count(&r, 2), 0); /* 3 x 2 > 5 */
  CHECK_EQ(r.err, FLYQ_ERR_TRUNCATED);
  flyq_reader_init(&r, (const uint8_t[]){0, 0, 0, 3, 1, 2, 3, 4, 5}, 9);
  CHECK_EQ(flyq_reader_get_array_count(&r, 1), 3);
  CHECK_EQ(flyq_reader_finish(&r), FLYQ_ERR_PROTOCOL); /* 5 bytes left */
  flyq_reader_init(&r, (const uint8_t[]){0xff, 0xff, 0xff, 0xfe}, 4);
  flyq_reader_get_array_count(&r, 1);
  CHECK_EQ(r.err, FLYQ_ERR_PROTOCOL);
  flyq_reader_init(&r, NULL, 0);
  CHECK_OK(flyq_reader_finish(&r));
  flyq_reader_get_i16(&r);
  CHECK_EQ(r.err, FLYQ_ERR_TRUNCATED);
}

TEST(arena_allocates_aligned_zeroed_memory) {
  flyq_arena_t a;
  flyq_arena_init(&a);
  for (int i = 1; i < 3000; i += 7) {
    uint8_t *p = flyq_arena_alloc(&a, (size_t)i);
    CHECK(p != NULL);
    CHECK_EQ((uintptr_t)p % 8, 0);
    for (int j = 0; j < i; j++) CHECK_EQ(p[j], 0);
    memset(p, 0xaa, (size_t)i);
  }
  CHECK(flyq_arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
  char *s = flyq_arena_strdup(&a, (flyq_str_t){"topicXYZ", 5});
  CHECK(s != NULL && strcmp(s, "topic") == 0);
  CHECK(flyq_arena_strdup(&a, (flyq_str_t){NULL, -1}) == NULL);
  size_t want = 0;
  for (int i = 1; i < 3000; i += 7) want += (size_t)i;
  CHECK(a.total >= want && a.total < 2 * want);
  flyq_arena_reset(&a);
  CHECK_EQ(a.total, 0);
  CHECK(flyq_arena_alloc(&a, 0) != NULL);
  flyq_arena_free(&a);
}

TEST(frame_size_limits) {
  uint32_t size = 0;
  CHECK_EQ(flyq_proto_frame_size((const uint8_t[]){0, 0, 0}, 3, 100, &size),
           FLYQ_ERR_TRUNCATED);
  CHECK_OK(flyq_proto_frame_size((const uint8_t[]){0, 0, 0, 8}, 4, 100, &size));
  CHECK_EQ(size, 8);
  CHECK_OK(flyq_proto_frame_size((const uint8_t[]){0, 0, 0, 100, 9}, 5, 100,
                                 &size));
  CHECK_EQ(size, 100);
  CHECK_EQ(flyq_proto_frame_size((const uint8_t[]){0, 0, 0, 101}, 4, 100,
                                 &size), FLYQ_ERR_TOO_LARGE);
  CHECK_EQ(flyq_proto_frame_size((const uint8_t[]){0, 0, 0, 7}, 4, 100, &size),
           FLYQ_ERR_PROTOCOL);
  CHECK_EQ(flyq_proto_frame_size((const uint8_t[]){0xff, 0xff, 0xff, 0xff}, 4,
                                 UINT32_MAX, &size), FLYQ_ERR_PROTOCOL);
  CHECK_EQ(flyq_proto_frame_size((const uint8_t[]){0x01, 0, 0, 1}, 4,
                                 FLYQ_PROTO_FRAME_MAX_DEFAULT, &size),
           FLYQ_ERR_TOO_LARGE);
}

TEST(version_table) {
  static const int16_t keys[] = {0,  1,  2,  3,  8,  9,  16,
                                 18, 19, 20, 36, 50, 51, 52};
  for (int i = 0; i < FLYQ_PROTO_API_COUNT; i++) {
    CHECK_EQ(flyq_proto_api_versions[i].api_key, keys[i]);
    CHECK(flyq_proto_version_supported(keys[i], 0));
    CHECK_EQ(flyq_proto_version_supported(keys[i], 1), keys[i] == 1);
    CHECK(!flyq_proto_version_supported(keys[i], 2));
    CHECK(!flyq_proto_version_supported(keys[i], -1));
  }
  CHECK(!flyq_proto_version_supported(4, 0));
  CHECK(!flyq_proto_version_supported(-1, 0));
  CHECK(strcmp(flyq_proto_api_name(FLYQ_API_OFFSET_FETCH), "OffsetFetch") == 0);
  CHECK(strcmp(flyq_proto_api_name(FLYQ_API_AUTHENTICATE), "Authenticate") ==
        0);
  CHECK(strcmp(flyq_proto_api_name(77), "Unknown") == 0);
}

TEST(wire_error_names) {
  CHECK(strcmp(flyq_wire_errname(0), "NONE") == 0);
  CHECK(strcmp(flyq_wire_errname(-1), "UNKNOWN_SERVER_ERROR") == 0);
  CHECK(strcmp(flyq_wire_errname(42), "INVALID_REQUEST") == 0);
  CHECK(strcmp(flyq_wire_errname(1001), "PLUGIN_ERROR") == 0);
  CHECK(strcmp(flyq_wire_errname(5), "UNKNOWN") == 0);
  CHECK_EQ(FLYQ_WIRE_STORAGE_ERROR, 56);
  CHECK_EQ(FLYQ_WIRE_GROUP_ID_NOT_FOUND, 69);
}

TEST(wire_error_from_flyq_codes) {
  static const struct { int err; int16_t wire; } map[] = {
      {0, 0},
      {FLYQ_ERR_CORRUPT, 2},
      {FLYQ_ERR_TRUNCATED, 2},
      {FLYQ_ERR_OFFSET_OUT_OF_RANGE, 1},
      {FLYQ_ERR_UNKNOWN_TOPIC, 3},
      {FLYQ_ERR_UNKNOWN_PARTITION, 3},
      {FLYQ_ERR_INVALID_NAME, 17},
      {FLYQ_ERR_TOPIC_EXISTS, 36},
      {FLYQ_ERR_TOO_LARGE, 10},
      {FLYQ_ERR_UNSUPPORTED, 76},
      {FLYQ_ERR_LIMIT, 1000},
      {-ENOSPC, 56},
      {-EIO, 56},
      {-EDQUOT, 56},
      {-EROFS, 56},
      {FLYQ_ERR_DENIED, 29},
      {FLYQ_ERR_AUTH, 58},
      {FLYQ_ERR_PLUGIN, 1001},
      {FLYQ_ERR_TIMEOUT, 7},
      {FLYQ_ERR_INVALID_ARG, 42},
      {FLYQ_ERR_PROTOCOL, 42},
      {FLYQ_ERR_CLOSED, -1},
      {-ENOMEM, -1},
      {-12345, -1},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (flyq_wire_error_from(map[i].err) != map[i].wire)
      flyq_test_fail(__FILE__, __LINE__, "%s -> %d, want %d",
                     flyq_errname(map[i].err),
                     flyq_wire_error_from(map[i].err), map[i].wire);
}

/* The reverse mapping lands back on the same wire code where it can. */
TEST(wire_error_to_err_inverts) {
  static const int16_t codes[] = {1, 2, 3, 7, 10, 17, 36, 42, 56, 58, 1000,
                                  1001};
  CHECK_EQ(flyq_wire_error_to_err(0), 0);
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    int err = flyq_wire_error_to_err(codes[i]);
    CHECK(err < 0);
    CHECK_EQ(flyq_wire_error_from(err), codes[i]);
  }
  CHECK_EQ(flyq_wire_error_to_err(-1), FLYQ_ERR_PROTOCOL);
  CHECK_EQ(flyq_wire_error_to_err(31), FLYQ_ERR_DENIED);
  CHECK_EQ(flyq_wire_error_to_err(69), FLYQ_ERR_NOT_FOUND);
}

TEST_LIST(TEST_ENTRY(buf_put_big_endian) TEST_ENTRY(buf_grows_and_resets)
          TEST_ENTRY(buf_errors_are_sticky)
          TEST_ENTRY(buf_array_and_frame_patching) TEST_ENTRY(reader_gets)
          TEST_ENTRY(reader_rejects_bad_lengths)
          TEST_ENTRY(arena_allocates_aligned_zeroed_memory)
          TEST_ENTRY(frame_size_limits) TEST_ENTRY(version_table)
          TEST_ENTRY(wire_error_names) TEST_ENTRY(wire_error_from_flyq_codes)
          TEST_ENTRY(wire_error_to_err_inverts));
