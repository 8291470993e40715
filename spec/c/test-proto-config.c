/* ConfigPlan (50) and ConfigApply (51) in the wire codec: golden frames
 * written out byte by byte from docs/protocol.md, round trips through the
 * decoders (flyq_proto_decode_any_request included), and malformed input:
 * every truncation, nulls where none is allowed, trailing bytes, counts
 * larger than the frame.
 */
#include "flyq/proto.h"
#include "test.h"

#define CHECK_GOLDEN(buf, golden)                                             \
  do {                                                                        \
    CHECK_EQ((buf)->len, sizeof(golden));                                     \
    CHECK_MEM((buf)->data, golden, sizeof(golden));                           \
  } while (0)

static const uint8_t plan_req_golden[] = {
    0x00, 0x00, 0x00, 0x1e,                     /* frame size 30 */
    0x00, 0x32, 0x00, 0x00,                     /* ConfigPlan v0 */
    0x00, 0x00, 0x00, 0x07,                     /* correlation_id 7 */
    0xff, 0xff,                                 /* client_id null */
    0x00, 0x00, 0x00, 0x09,                     /* config_text: 9 bytes */
    'r', 'e', 't', 'u', 'r', 'n', ' ', '{', '}',
    0x00, 0x05, 'f', '.', 'l', 'u', 'a',        /* config_name "f.lua" */
};

static const uint8_t apply_null_req_golden[] = {
    0x00, 0x00, 0x00, 0x10,             /* frame size 16 */
    0x00, 0x33, 0x00, 0x00,             /* ConfigApply v0 */
    0x00, 0x00, 0x00, 0x08,             /* correlation_id 8 */
    0xff, 0xff,                         /* client_id null */
    0xff, 0xff, 0xff, 0xff,             /* config_text null: startup file */
    0x00, 0x00,                         /* config_name "" */
};

static const uint8_t resp_golden[] = {
    0x00, 0x00, 0x00, 0x3a,             /* frame size 58 */
    0x00, 0x00, 0x00, 0x07,             /* correlation_id 7 */
    0x00, 0x00, 0xff, 0xff,             /* no error, null message */
    0x00, 0x00, 0x00, 0x02,             /* 2 changes */
    0x00, 0x0c, 'c', 'r', 'e', 'a', 't', 'e', '_', 't', 'o', 'p', 'i', 'c',
    0x00, 0x01, 'B',                    /* topic "B" */
    0x00, 0x0c, 'p', 'a', 'r', 't', 'i', 't', 'i', 'o', 'n', 's', ' ', '1',
    0x00, 0x03, 's', 'e', 't',          /* kind "set" */
    0x00, 0x00,                         /* topic "": broker-wide */
    0x00, 0x06, 'a', ' ', '1', ' ', '2', ' ',
};

TEST(plan_request_golden) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_request_t d;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_req_header_t h = {FLYQ_API_CONFIG_PLAN, 0, 7, {NULL, -1}};
  flyq_proto_config_req_t req = {{(const uint8_t *)"return {}", 9},
                                 flyq_str("f.lua")};
  CHECK_OK(flyq_proto_encode_config_req(&b, &h, &req));
  CHECK_GOLDEN(&b, plan_req_golden);
  CHECK_OK(flyq_proto_decode_any_request(plan_req_golden + 4,
                                         sizeof plan_req_golden - 4, &a, &d));
  CHECK_EQ(d.hdr.api_key, FLYQ_API_CONFIG_PLAN);
  CHECK_EQ(d.hdr.correlation_id, 7);
  CHECK_EQ(d.body.config.text.len, 9);
  CHECK_MEM(d.body.config.text.ptr, "return {}", 9);
  CHECK(flyq_str_eq(d.body.config.name, "f.lua"));
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(apply_request_null_text_golden) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_request_t d;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_req_header_t h = {FLYQ_API_CONFIG_APPLY, 0, 8, {NULL, -1}};
  flyq_proto_config_req_t req = {{NULL, -1}, flyq_str("")};
  CHECK_OK(flyq_proto_encode_config_req(&b, &h, &req));
  CHECK_GOLDEN(&b, apply_null_req_golden);
  CHECK_OK(flyq_proto_decode_any_request(apply_null_req_golden + 4,
                                         sizeof apply_null_req_golden - 4, &a,
                                         &d));
  CHECK_EQ(d.hdr.api_key, FLYQ_API_CONFIG_APPLY);
  CHECK_EQ(d.body.config.text.len, -1);
  CHECK(d.body.config.text.ptr == NULL);
  CHECK_EQ(d.body.config.name.len, 0);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(response_golden) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_config_resp_t d;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_config_change_t changes[] = {
      {flyq_str("create_topic"), flyq_str("B"), flyq_str("partitions 1")},
      {flyq_str("set"), flyq_str(""), flyq_str("a 1 2 ")}};
  flyq_proto_config_resp_t resp = {{7, 0, {NULL, -1}}, changes, 2};
  CHECK_OK(flyq_proto_encode_config_resp(&b, &resp));
  CHECK_GOLDEN(&b, resp_golden);
  CHECK_OK(flyq_proto_decode_config_resp(resp_golden + 4,
                                         sizeof resp_golden - 4, &a, &d));
  CHECK_EQ(d.hdr.correlation_id, 7);
  CHECK_EQ(d.hdr.error_code, 0);
  CHECK_EQ(d.nchanges, 2);
  CHECK(flyq_str_eq(d.changes[0].kind, "create_topic"));
  CHECK(flyq_str_eq(d.changes[0].topic, "B"));
  CHECK(flyq_str_eq(d.changes[0].detail, "partitions 1"));
  CHECK(flyq_str_eq(d.changes[1].kind, "set"));
  CHECK_EQ(d.changes[1].topic.len, 0);
  CHECK(flyq_str_eq(d.changes[1].detail, "a 1 2 "));
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

/* A refused config: the top-level error and its message, no body. */
TEST(error_response) {
  static const uint8_t golden[] = {
      0x00, 0x00, 0x00, 0x0f,             /* frame size 15 */
      0x00, 0x00, 0x00, 0x09,             /* correlation_id 9 */
      0x00, 0x28,                         /* INVALID_CONFIG (40) */
      0x00, 0x07, 'f', ':', '1', ':', ' ', 'x', '!', /* "f:1: x!" */
  };
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_config_resp_t d;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_config_change_t ignored = {flyq_str("set"), flyq_str(""),
                                        flyq_str("x")};
  flyq_proto_config_resp_t resp = {
      {9, FLYQ_WIRE_INVALID_CONFIG, flyq_str("f:1: x!")}, &ignored, 1};
  CHECK_OK(flyq_proto_encode_config_resp(&b, &resp));
  CHECK_GOLDEN(&b, golden);
  CHECK_OK(flyq_proto_decode_config_resp(golden + 4, sizeof golden - 4, &a,
                                         &d));
  CHECK_EQ(d.hdr.error_code, FLYQ_WIRE_INVALID_CONFIG);
  CHECK(flyq_str_eq(d.hdr.error_message, "f:1: x!"));
  CHECK_EQ(d.nchanges, 0);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

/* Every proper prefix of a valid payload is truncated. */
TEST(truncations) {
  flyq_arena_t a;
  flyq_arena_init(&a);
  for (size_t n = 8; n < sizeof plan_req_golden - 4; n++) {
    flyq_proto_request_t d;
    CHECK_EQ(flyq_proto_decode_any_request(plan_req_golden + 4, n, &a, &d),
             FLYQ_ERR_TRUNCATED);
    flyq_arena_reset(&a);
  }
  for (size_t n = 0; n < sizeof resp_golden - 4; n++) {
    flyq_proto_config_resp_t d;
    CHECK_EQ(flyq_proto_decode_config_resp(resp_golden + 4, n, &a, &d),
             FLYQ_ERR_TRUNCATED);
    flyq_arena_reset(&a);
  }
  flyq_arena_free(&a);
}

/* Decodes a request body (after a ConfigPlan header). */
static int decode_body(const uint8_t *body, size_t len) {
  uint8_t p[64] = {0x00, 0x32, 0x00, 0x00, 0, 0, 0, 1, 0xff, 0xff};
  flyq_arena_t a;
  flyq_proto_request_t d;
  CHECK(len <= sizeof p - 10);
  memcpy(p + 10, body, len);
  flyq_arena_init(&a);
  int rc = flyq_proto_decode_any_request(p, 10 + len, &a, &d);
  flyq_arena_free(&a);
  return rc;
}

TEST(malformed_requests) {
  static const uint8_t ok[] = {0, 0, 0, 1, 'x', 0, 1, 'n'};
  static const uint8_t null_name[] = {0, 0, 0, 1, 'x', 0xff, 0xff};
  static const uint8_t bad_len[] = {0xff, 0xff, 0xff, 0xfe, 0, 1, 'n'};
  static const uint8_t too_long[] = {0x7f, 0xff, 0xff, 0xff, 0, 1, 'n'};
  static const uint8_t trailing[] = {0, 0, 0, 1, 'x', 0, 1, 'n', 0};
  CHECK_OK(decode_body(ok, sizeof ok));
  CHECK_EQ(decode_body(null_name, sizeof null_name), FLYQ_ERR_PROTOCOL);
  CHECK_EQ(decode_body(bad_len, sizeof bad_len), FLYQ_ERR_PROTOCOL);
  CHECK_EQ(decode_body(too_long, sizeof too_long), FLYQ_ERR_TRUNCATED);
  CHECK_EQ(decode_body(trailing, sizeof trailing), FLYQ_ERR_PROTOCOL);
}

TEST(malformed_responses) {
  static const uint8_t huge_count[] = {0, 0, 0, 1, 0, 0, 0xff, 0xff,
                                       0x10, 0, 0, 0, 0, 1, 'k'};
  static const uint8_t null_array[] = {0, 0, 0, 1, 0, 0, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff};
  static const uint8_t null_topic[] = {0, 0, 0, 1, 0, 0, 0xff, 0xff, 0, 0, 0,
                                       1, 0, 1, 'k', 0xff, 0xff, 0, 0};
  flyq_arena_t a;
  flyq_proto_config_resp_t d;
  flyq_arena_init(&a);
  CHECK_EQ(flyq_proto_decode_config_resp(huge_count, sizeof huge_count, &a,
                                         &d),
           FLYQ_ERR_TRUNCATED);
  CHECK(a.total < 4096); /* the count was checked before allocating */
  CHECK_EQ(flyq_proto_decode_config_resp(null_array, sizeof null_array, &a,
                                         &d),
           FLYQ_ERR_PROTOCOL);
  CHECK_EQ(flyq_proto_decode_config_resp(null_topic, sizeof null_topic, &a,
                                         &d),
           FLYQ_ERR_PROTOCOL);
  flyq_arena_free(&a);
}

/* Encoders refuse what the wire cannot carry and leave the buffer as it
 * was. */
TEST(encoder_refusals) {
  flyq_buf_t b;
  flyq_buf_init(&b);
  flyq_buf_put_i8(&b, 42);
  flyq_proto_req_header_t h = {FLYQ_API_FETCH, 0, 1, {NULL, -1}};
  flyq_proto_config_req_t req = {{NULL, -1}, flyq_str("n")};
  CHECK_EQ(flyq_proto_encode_config_req(&b, &h, &req), FLYQ_ERR_INVALID_ARG);
  h.api_key = FLYQ_API_CONFIG_APPLY;
  req.name = flyq_str(NULL);
  CHECK_EQ(flyq_proto_encode_config_req(&b, &h, &req), FLYQ_ERR_INVALID_ARG);
  req.name = flyq_str("n");
  req.text.len = -2;
  CHECK_EQ(flyq_proto_encode_config_req(&b, &h, &req), FLYQ_ERR_INVALID_ARG);
  flyq_proto_config_change_t c = {flyq_str(NULL), flyq_str(""),
                                  flyq_str("d")};
  flyq_proto_config_resp_t resp = {{1, 0, {NULL, -1}}, &c, 1};
  CHECK_EQ(flyq_proto_encode_config_resp(&b, &resp), FLYQ_ERR_INVALID_ARG);
  resp.nchanges = -1;
  CHECK_EQ(flyq_proto_encode_config_resp(&b, &resp), FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(b.len, 1);
  CHECK_EQ(b.data[0], 42);
  flyq_buf_free(&b);
}

TEST(tables) {
  CHECK(flyq_proto_version_supported(FLYQ_API_CONFIG_PLAN, 0));
  CHECK(flyq_proto_version_supported(FLYQ_API_CONFIG_APPLY, 0));
  CHECK(!flyq_proto_version_supported(FLYQ_API_CONFIG_APPLY, 1));
  CHECK(strcmp(flyq_proto_api_name(FLYQ_API_CONFIG_PLAN), "ConfigPlan") == 0);
  CHECK(strcmp(flyq_proto_api_name(FLYQ_API_CONFIG_APPLY), "ConfigApply") ==
        0);
  CHECK(strcmp(flyq_wire_errname(40), "INVALID_CONFIG") == 0);
  CHECK_EQ(flyq_wire_error_from(FLYQ_ERR_CONFIG), FLYQ_WIRE_INVALID_CONFIG);
  CHECK_EQ(flyq_wire_error_to_err(FLYQ_WIRE_INVALID_CONFIG), FLYQ_ERR_CONFIG);
}

TEST_LIST(TEST_ENTRY(plan_request_golden)
          TEST_ENTRY(apply_request_null_text_golden) TEST_ENTRY(response_golden)
          TEST_ENTRY(error_response) TEST_ENTRY(truncations)
          TEST_ENTRY(malformed_requests) TEST_ENTRY(malformed_responses)
          TEST_ENTRY(encoder_refusals) TEST_ENTRY(tables));
