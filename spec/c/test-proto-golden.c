/* Golden bytes: frames written out byte by byte from docs/protocol.md, not
 * produced by the encoder under test. Each one is compared with what the
 * encoder writes, and decoded back.
 */
#include "flyq/proto.h"
#include "test.h"

/* Encoder output must equal the golden frame exactly. */
#define CHECK_GOLDEN(buf, golden)                                             \
  do {                                                                        \
    CHECK_EQ((buf)->len, sizeof(golden));                                     \
    CHECK_MEM((buf)->data, golden, sizeof(golden));                           \
  } while (0)

TEST(request_header) {
  static const uint8_t golden[] = {
      0x00, 0x03,             /* api_key: Metadata */
      0x00, 0x00,             /* api_version 0 */
      0x01, 0x02, 0x03, 0x04, /* correlation_id */
      0x00, 0x03, 'c', 'l', 'i', /* client_id "cli" */
  };
  flyq_buf_t b;
  flyq_buf_init(&b);
  flyq_proto_req_header_t h = {FLYQ_API_METADATA, 0, 0x01020304,
                               flyq_str("cli")}, d;
  CHECK_OK(flyq_proto_encode_req_header(&b, &h));
  CHECK_GOLDEN(&b, golden);
  flyq_reader_t r;
  flyq_reader_init(&r, golden, sizeof golden);
  CHECK_OK(flyq_proto_decode_req_header(&r, &d));
  CHECK_EQ(d.api_key, 3);
  CHECK_EQ(d.correlation_id, 0x01020304);
  CHECK(flyq_str_eq(d.client_id, "cli"));
  CHECK_OK(flyq_reader_finish(&r));
  flyq_buf_free(&b);
}

static const uint8_t produce_golden[] = {
    0x00, 0x00, 0x00, 0x25,             /* frame size 37 */
    0x00, 0x00, 0x00, 0x00,             /* Produce v0 */
    0x00, 0x00, 0x00, 0x07,             /* correlation_id 7 */
    0xff, 0xff,                         /* client_id null */
    0xff,                               /* acks -1 */
    0x00, 0x00, 0x03, 0xe8,             /* timeout_ms 1000 */
    0x00, 0x00, 0x00, 0x01,             /* 1 topic */
    0x00, 0x01, 't',                    /* name "t" */
    0x00, 0x00, 0x00, 0x01,             /* 1 partition */
    0x00, 0x00, 0x00, 0x00,             /* partition 0 */
    0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c', /* records: 3 bytes */
};

TEST(produce_request) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_req_header_t h = {FLYQ_API_PRODUCE, 0, 7, {NULL, -1}};
  flyq_proto_produce_req_part_t part = {0, {(const uint8_t *)"abc", 3}};
  flyq_proto_produce_req_topic_t topic = {flyq_str("t"), &part, 1};
  flyq_proto_produce_req_t req = {-1, 1000, &topic, 1};
  CHECK_OK(flyq_proto_encode_produce_req(&b, &h, &req));
  CHECK_GOLDEN(&b, produce_golden);
  flyq_proto_request_t d;
  CHECK_OK(flyq_proto_decode_any_request(produce_golden + 4,
                                         sizeof produce_golden - 4, &a, &d));
  CHECK_EQ(d.body.produce.acks, -1);
  CHECK_EQ(d.body.produce.timeout_ms, 1000);
  CHECK(flyq_str_eq(d.body.produce.topics[0].name, "t"));
  CHECK_MEM(d.body.produce.topics[0].parts[0].records.ptr, "abc", 3);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(fetch_request) {
  static const uint8_t golden[] = {
      0x00, 0x00, 0x00, 0x33,             /* frame size 51 */
      0x00, 0x01, 0x00, 0x00,             /* Fetch v0 */
      0x00, 0x00, 0x00, 0x09,             /* correlation_id 9 */
      0x00, 0x01, 'c',                    /* client_id "c" */
      0x00, 0x00, 0x01, 0xf4,             /* max_wait_ms 500 */
      0x00, 0x00, 0x00, 0x01,             /* min_bytes 1 */
      0x00, 0x10, 0x00, 0x00,             /* max_bytes 1 MiB */
      0x00, 0x00, 0x00, 0x01,             /* 1 topic */
      0x00, 0x02, 'a', 'b',               /* name "ab" */
      0x00, 0x00, 0x00, 0x01,             /* 1 partition */
      0x00, 0x00, 0x00, 0x02,             /* partition 2 */
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* fetch_offset */
      0x00, 0x01, 0x00, 0x00,             /* partition_max_bytes 64 KiB */
  };
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_req_header_t h = {FLYQ_API_FETCH, 0, 9, flyq_str("c")};
  flyq_proto_fetch_req_part_t part = {2, 0x0102030405060708, 65536};
  flyq_proto_fetch_req_topic_t topic = {flyq_str("ab"), &part, 1};
  flyq_proto_fetch_req_t req = {500, 1, 1 << 20, &topic, 1};
  CHECK_OK(flyq_proto_encode_fetch_req(&b, &h, &req));
  CHECK_GOLDEN(&b, golden);
  flyq_proto_request_t d;
  CHECK_OK(
      flyq_proto_decode_any_request(golden + 4, sizeof golden - 4, &a, &d));
  CHECK_EQ(d.body.fetch.max_bytes, 1 << 20);
  CHECK_EQ(d.body.fetch.topics[0].parts[0].fetch_offset, 0x0102030405060708);
  CHECK_EQ(d.body.fetch.topics[0].parts[0].partition_max_bytes, 65536);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

static const uint8_t fetch_resp_golden[] = {
    0x00, 0x00, 0x00, 0x3c,             /* frame size 60 */
    0x00, 0x00, 0x00, 0x09,             /* correlation_id 9 */
    0x00, 0x00,                         /* error_code 0 */
    0xff, 0xff,                         /* error_message null */
    0x00, 0x00, 0x00, 0x01,             /* 1 topic */
    0x00, 0x02, 'a', 'b',               /* name "ab" */
    0x00, 0x00, 0x00, 0x01,             /* 1 partition */
    0x00, 0x00, 0x00, 0x02,             /* partition 2 */
    0x00, 0x00,                         /* error_code 0 */
    0xff, 0xff,                         /* error_message null */
    0, 0, 0, 0, 0, 0, 0, 10,            /* high_watermark 10 */
    0, 0, 0, 0, 0, 0, 0, 0,             /* log_start_offset 0 */
    0, 0, 0, 0, 0, 0, 0, 10,            /* flushed_offset 10 */
    0x00, 0x00, 0x00, 0x04, 0xde, 0xad, 0xbe, 0xef, /* records: 4 bytes */
};
static const uint8_t fetch_records[] = {0xde, 0xad, 0xbe, 0xef};

static flyq_proto_fetch_resp_part_t fetch_part(const uint8_t *records) {
  flyq_proto_fetch_resp_part_t p = {2, 0, {NULL, -1}, 10, 0, 10, {records, 4}};
  return p;
}

TEST(fetch_response) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_fetch_resp_part_t part = fetch_part(fetch_records);
  flyq_proto_fetch_resp_topic_t topic = {flyq_str("ab"), &part, 1};
  flyq_proto_fetch_resp_t resp = {{9, 0, {NULL, -1}}, &topic, 1}, d;
  CHECK_OK(flyq_proto_encode_fetch_resp(&b, &resp, NULL, 0));
  CHECK_GOLDEN(&b, fetch_resp_golden);
  CHECK_OK(flyq_proto_decode_fetch_resp(fetch_resp_golden + 4,
                                        sizeof fetch_resp_golden - 4, &a, &d));
  CHECK_EQ(d.hdr.correlation_id, 9);
  CHECK_EQ(d.topics[0].parts[0].high_watermark, 10);
  CHECK_EQ(d.topics[0].parts[0].records.len, 4);
  CHECK_MEM(d.topics[0].parts[0].records.ptr, fetch_records, 4);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

/* The same frame with the record bytes deferred: the buffer holds
 * everything but them, and the splice point is where they go. */
TEST(fetch_response_deferred) {
  flyq_buf_t b;
  flyq_buf_init(&b);
  flyq_proto_fetch_resp_part_t part = fetch_part(NULL);
  flyq_proto_fetch_resp_topic_t topic = {flyq_str("ab"), &part, 1};
  flyq_proto_fetch_resp_t resp = {{9, 0, {NULL, -1}}, &topic, 1};
  size_t at = 0;
  CHECK_OK(flyq_proto_encode_fetch_resp(&b, &resp, &at, 1));
  CHECK_EQ(b.len, sizeof fetch_resp_golden - 4);
  CHECK_EQ(at, b.len);
  CHECK_MEM(b.data, fetch_resp_golden, b.len); /* size counts the 4 bytes */
  flyq_buf_free(&b);
}

TEST(metadata_response) {
  static const uint8_t golden[] = {
      0x00, 0x00, 0x00, 0x56,             /* frame size 86 */
      0x00, 0x00, 0x00, 0x05,             /* correlation_id 5 */
      0x00, 0x00, 0xff, 0xff,             /* no error, null message */
      0x00, 0x01, 'h',                    /* host "h" */
      0x00, 0x00, 0x1d, 0x4c,             /* port 7500 */
      0x00, 0x00, 0x00, 0x01,             /* 1 topic */
      0x00, 0x01, 't',                    /* name "t" */
      0x00, 0x00,                         /* error_code 0 */
      0x00, 0x00, 0x00, 0x01,             /* 1 partition */
      0x00, 0x00, 0x00, 0x00,             /* partition 0 */
      0, 0, 0, 0, 0, 0, 0, 0,             /* log_start_offset 0 */
      0, 0, 0, 0, 0, 0, 0, 3,             /* high_watermark 3 */
      0, 0, 0, 0, 0, 0, 0, 3,             /* flushed_offset 3 */
      0x00, 0x00, 0x00, 0x01,             /* segment_count 1 */
      0, 0, 0, 0, 0, 0, 0, 0xc8,          /* size_bytes 200 */
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* last_append_ms -1 */
      0x00, 0x00, 0x00, 0x01,             /* 1 config */
      0x00, 0x01, 'k', 0x00, 0x01, 'v',   /* "k" = "v" */
  };
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_metadata_part_t part = {0, 0, 3, 3, 1, 200, -1};
  flyq_proto_config_t cfg = {flyq_str("k"), flyq_str("v")};
  flyq_proto_metadata_topic_t topic = {flyq_str("t"), 0, &part, 1, &cfg, 1};
  flyq_proto_metadata_resp_t resp = {{5, 0, {NULL, -1}}, flyq_str("h"), 7500,
                                     &topic, 1}, d;
  CHECK_OK(flyq_proto_encode_metadata_resp(&b, &resp));
  CHECK_GOLDEN(&b, golden);
  CHECK_OK(flyq_proto_decode_metadata_resp(golden + 4, sizeof golden - 4, &a,
                                           &d));
  CHECK_EQ(d.port, 7500);
  CHECK_EQ(d.topics[0].parts[0].size_bytes, 200);
  CHECK_EQ(d.topics[0].parts[0].last_append_ms, -1);
  CHECK(flyq_str_eq(d.topics[0].configs[0].value, "v"));
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(api_versions_response) {
  static const uint8_t golden[] = {
      0x00, 0x00, 0x00, 0x67,             /* frame size 103 */
      0x00, 0x00, 0x00, 0x01,             /* correlation_id 1 */
      0x00, 0x00, 0xff, 0xff,             /* no error, null message */
      0x00, 0x00, 0x00, 0x0e,             /* 14 APIs: key, min, max */
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* Produce */
      0x00, 0x01, 0x00, 0x00, 0x00, 0x01, /* Fetch 0..1 */
      0x00, 0x02, 0x00, 0x00, 0x00, 0x00, /* ListOffsets */
      0x00, 0x03, 0x00, 0x00, 0x00, 0x00, /* Metadata */
      0x00, 0x08, 0x00, 0x00, 0x00, 0x00, /* OffsetCommit */
      0x00, 0x09, 0x00, 0x00, 0x00, 0x00, /* OffsetFetch */
      0x00, 0x10, 0x00, 0x00, 0x00, 0x00, /* ListGroups */
      0x00, 0x12, 0x00, 0x00, 0x00, 0x00, /* ApiVersions */
      0x00, 0x13, 0x00, 0x00, 0x00, 0x00, /* CreateTopics */
      0x00, 0x14, 0x00, 0x00, 0x00, 0x00, /* DeleteTopics */
      0x00, 0x24, 0x00, 0x00, 0x00, 0x00, /* Authenticate */
      0x00, 0x32, 0x00, 0x00, 0x00, 0x00, /* ConfigPlan */
      0x00, 0x33, 0x00, 0x00, 0x00, 0x00, /* ConfigApply */
      0x00, 0x34, 0x00, 0x00, 0x00, 0x00, /* Stats */
      0x00, 0x05, '0', '.', '1', '.', '0', /* broker_version */
  };
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_api_versions_resp_t resp = {{1, 0, {NULL, -1}},
                                         flyq_proto_api_versions,
                                         FLYQ_PROTO_API_COUNT,
                                         flyq_str("0.1.0")}, d;
  CHECK_OK(flyq_proto_encode_api_versions_resp(&b, &resp));
  CHECK_GOLDEN(&b, golden);
  CHECK_OK(flyq_proto_decode_api_versions_resp(golden + 4, sizeof golden - 4,
                                               &a, &d));
  CHECK_EQ(d.napis, 14);
  CHECK_EQ(d.apis[10].api_key, FLYQ_API_AUTHENTICATE);
  CHECK(flyq_str_eq(d.broker_version, FLYQ_VERSION));
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(error_only_response) {
  static const uint8_t golden[] = {
      0x00, 0x00, 0x00, 0x0c,             /* frame size 12 */
      0x00, 0x00, 0x00, 0x2a,             /* correlation_id 42 */
      0x00, 0x23,                         /* UNSUPPORTED_VERSION (35) */
      0x00, 0x04, 'n', 'o', 'p', 'e',     /* error_message "nope" */
  };
  static const uint8_t conn_golden[] = {
      0x00, 0x00, 0x00, 0x08,             /* frame size 8 */
      0xff, 0xff, 0xff, 0xff,             /* correlation_id -1 */
      0x00, 0x0a,                         /* MESSAGE_TOO_LARGE (10) */
      0xff, 0xff,                         /* error_message null */
  };
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  CHECK_OK(flyq_proto_encode_error_response(&b, 42, 35, "nope"));
  CHECK_GOLDEN(&b, golden);
  flyq_buf_reset(&b);
  CHECK_OK(flyq_proto_encode_error_response(&b, -1, 10, NULL));
  CHECK_GOLDEN(&b, conn_golden);
  /* Any API's response decoder reads an error-only frame. */
  flyq_proto_produce_resp_t d;
  CHECK_OK(flyq_proto_decode_produce_resp(golden + 4, sizeof golden - 4, &a,
                                          &d));
  CHECK_EQ(d.hdr.error_code, FLYQ_WIRE_UNSUPPORTED_VERSION);
  CHECK(flyq_str_eq(d.hdr.error_message, "nope"));
  CHECK_EQ(d.ntopics, 0);
  int32_t id;
  CHECK_OK(flyq_proto_peek_correlation_id(conn_golden + 4, 8, &id));
  CHECK_EQ(id, -1);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST_LIST(TEST_ENTRY(request_header) TEST_ENTRY(produce_request)
          TEST_ENTRY(fetch_request) TEST_ENTRY(fetch_response)
          TEST_ENTRY(fetch_response_deferred) TEST_ENTRY(metadata_response)
          TEST_ENTRY(api_versions_response) TEST_ENTRY(error_only_response));
