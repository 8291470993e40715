/* Fetch version 1 (docs/protocol.md, "Fetch"): the consumer's filter in the
 * request and next_offset in the response. Golden frames written byte by
 * byte from the protocol doc, decoded back, round trips through
 * flyq_proto_decode_any_request, and malformed v1 input.
 */
#include <string.h>

#include "flyq/proto.h"
#include "test.h"

#define CHECK_GOLDEN(buf, golden)                                             \
  do {                                                                        \
    CHECK_EQ((buf)->len, sizeof(golden));                                     \
    CHECK_MEM((buf)->data, golden, sizeof(golden));                           \
  } while (0)

static const uint8_t req_golden[] = {
    0x00, 0x00, 0x00, 0x41,             /* frame size 65 */
    0x00, 0x01, 0x00, 0x01,             /* Fetch v1 */
    0x00, 0x00, 0x00, 0x07,             /* correlation_id 7 */
    0xff, 0xff,                         /* client_id null */
    0x00, 0x00, 0x01, 0xf4,             /* max_wait_ms 500 */
    0x00, 0x00, 0x00, 0x01,             /* min_bytes 1 */
    0x00, 0x10, 0x00, 0x00,             /* max_bytes 1 MiB */
    0x00, 0x00, 0x00, 0x01,             /* 1 topic */
    0x00, 0x01, 't',                    /* name "t" */
    0x00, 0x00, 0x00, 0x01,             /* 1 partition */
    0x00, 0x00, 0x00, 0x00,             /* partition 0 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* fetch_offset 5 */
    0x00, 0x10, 0x00, 0x00,             /* partition_max_bytes 1 MiB */
    0x00, 0x04, 'g', 'r', 'e', 'p',     /* filter "grep" */
    0x00, 0x00, 0x00, 0x01,             /* 1 param */
    0x00, 0x01, 'k', 0x00, 0x01, 'v',   /* "k" = "v" */
};

static const flyq_proto_fetch_req_part_t req_part = {0, 5, 1 << 20};
static const flyq_proto_fetch_req_topic_t req_topic = {{"t", 1}, &req_part, 1};
static const flyq_proto_fetch_req_t req_body = {500, 1, 1 << 20, &req_topic, 1};
static const flyq_proto_config_t req_param = {{"k", 1}, {"v", 1}};

TEST(request_with_filter) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_request_t d;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_req_header_t h = {FLYQ_API_FETCH, 1, 7, {NULL, -1}};
  flyq_proto_fetch_filter_t f = {flyq_str("grep"), &req_param, 1};
  CHECK_OK(flyq_proto_encode_fetch_req_v1(&b, &h, &req_body, &f));
  CHECK_GOLDEN(&b, req_golden);
  CHECK_OK(flyq_proto_decode_any_request(req_golden + 4, sizeof req_golden - 4,
                                         &a, &d));
  CHECK_EQ(d.hdr.api_version, 1);
  CHECK_EQ(d.body.fetch.topics[0].parts[0].fetch_offset, 5);
  CHECK(flyq_str_eq(d.fetch_filter.name, "grep"));
  CHECK_EQ(d.fetch_filter.nparams, 1);
  CHECK(flyq_str_eq(d.fetch_filter.params[0].key, "k"));
  CHECK(flyq_str_eq(d.fetch_filter.params[0].value, "v"));
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(request_without_filter) {
  static const uint8_t tail[] = {0xff, 0xff, 0x00, 0x00, 0x00, 0x00};
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_request_t d;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_req_header_t h = {FLYQ_API_FETCH, 1, 7, {NULL, -1}};
  CHECK_OK(flyq_proto_encode_fetch_req_v1(&b, &h, &req_body, NULL));
  CHECK_EQ(b.len, sizeof req_golden - 16 + sizeof tail);
  CHECK_MEM(b.data + 4, req_golden + 4, sizeof req_golden - 20);
  CHECK_MEM(b.data + b.len - sizeof tail, tail, sizeof tail);
  CHECK_OK(flyq_proto_decode_any_request(b.data + 4, b.len - 4, &a, &d));
  CHECK(d.fetch_filter.name.ptr == NULL);
  CHECK_EQ(d.fetch_filter.name.len, -1);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(versions_are_not_mixed) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_request_t d;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_req_header_t h1 = {FLYQ_API_FETCH, 1, 7, {NULL, -1}};
  flyq_proto_req_header_t h0 = {FLYQ_API_FETCH, 0, 7, {NULL, -1}};
  CHECK_EQ(flyq_proto_encode_fetch_req(&b, &h1, &req_body),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_proto_encode_fetch_req_v1(&b, &h0, &req_body, NULL),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(b.len, 0);
  /* A version 0 request decodes with no filter. */
  CHECK_OK(flyq_proto_encode_fetch_req(&b, &h0, &req_body));
  CHECK_OK(flyq_proto_decode_any_request(b.data + 4, b.len - 4, &a, &d));
  CHECK(d.fetch_filter.name.ptr == NULL);
  /* Version 2 does not exist. */
  uint8_t v2[sizeof req_golden];
  memcpy(v2, req_golden, sizeof v2);
  v2[7] = 2;
  CHECK_EQ(flyq_proto_decode_any_request(v2 + 4, sizeof v2 - 4, &a, &d),
           FLYQ_ERR_UNSUPPORTED);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(truncated_requests_fail) {
  flyq_arena_t a;
  flyq_proto_request_t d;
  flyq_arena_init(&a);
  for (size_t len = 10; len < sizeof req_golden - 4; len++) {
    int rc = flyq_proto_decode_any_request(req_golden + 4, len, &a, &d);
    CHECK(rc == FLYQ_ERR_TRUNCATED || rc == FLYQ_ERR_PROTOCOL);
    flyq_arena_reset(&a);
  }
  flyq_arena_free(&a);
}

static const uint8_t resp_golden[] = {
    0x00, 0x00, 0x00, 0x43,             /* frame size 67 */
    0x00, 0x00, 0x00, 0x09,             /* correlation_id 9 */
    0x00, 0x00, 0xff, 0xff,             /* no error, null message */
    0x00, 0x00, 0x00, 0x01,             /* 1 topic */
    0x00, 0x01, 't',                    /* name "t" */
    0x00, 0x00, 0x00, 0x01,             /* 1 partition */
    0x00, 0x00, 0x00, 0x02,             /* partition 2 */
    0x00, 0x00, 0xff, 0xff,             /* no error, null message */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, /* high_watermark 10 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* log_start_offset 0 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, /* flushed_offset 10 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, /* next_offset 8 */
    0x00, 0x00, 0x00, 0x04, 'a', 'b', 'c', 'd', /* records */
};

static const flyq_proto_fetch_resp_part_t resp_part = {
    2, 0, {NULL, -1}, 10, 0, 10, {(const uint8_t *)"abcd", 4}};
static const flyq_proto_fetch_resp_topic_t resp_topic = {{"t", 1}, &resp_part,
                                                         1};

TEST(response_with_next_offset) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_fetch_resp_t d;
  int64_t *next = NULL;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  flyq_proto_fetch_resp_t resp = {{9, 0, {NULL, -1}}, &resp_topic, 1};
  int64_t n8 = 8;
  CHECK_OK(flyq_proto_encode_fetch_resp_v1(&b, &resp, &n8, NULL, 0));
  CHECK_GOLDEN(&b, resp_golden);
  CHECK_OK(flyq_proto_decode_fetch_resp_v1(resp_golden + 4,
                                           sizeof resp_golden - 4, &a, &d,
                                           &next));
  CHECK_EQ(d.ntopics, 1);
  CHECK_EQ(d.topics[0].nparts, 1);
  CHECK_EQ(d.topics[0].parts[0].partition, 2);
  CHECK_EQ(d.topics[0].parts[0].high_watermark, 10);
  CHECK_EQ(d.topics[0].parts[0].records.len, 4);
  CHECK(next != NULL);
  CHECK_EQ(next[0], 8);
  /* next NULL: -1 for every partition. */
  flyq_buf_reset(&b);
  CHECK_OK(flyq_proto_encode_fetch_resp_v1(&b, &resp, NULL, NULL, 0));
  CHECK_OK(flyq_proto_decode_fetch_resp_v1(b.data + 4, b.len - 4, &a, &d,
                                           &next));
  CHECK_EQ(next[0], -1);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(response_splices_and_many_partitions) {
  enum { N = 40 };
  flyq_proto_fetch_resp_part_t parts[N];
  int64_t nexts[N], *next = NULL;
  size_t at[N];
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_fetch_resp_t d;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  for (int i = 0; i < N; i++) {
    parts[i] = resp_part;
    parts[i].partition = i;
    parts[i].records = (flyq_bytes_t){NULL, 0};
    nexts[i] = 100 + i;
  }
  parts[3].records = (flyq_bytes_t){NULL, 4}; /* deferred */
  flyq_proto_fetch_resp_topic_t t = {{"t", 1}, parts, N};
  flyq_proto_fetch_resp_t resp = {{9, 0, {NULL, -1}}, &t, 1};
  CHECK_OK(flyq_proto_encode_fetch_resp_v1(&b, &resp, nexts, at, N));
  /* Splice the deferred bytes in, as the server does. */
  flyq_buf_t full;
  flyq_buf_init(&full);
  flyq_buf_put_raw(&full, b.data, at[0]);
  flyq_buf_put_raw(&full, "wxyz", 4);
  flyq_buf_put_raw(&full, b.data + at[0], b.len - at[0]);
  CHECK_OK(flyq_proto_decode_fetch_resp_v1(full.data + 4, full.len - 4, &a,
                                           &d, &next));
  CHECK_EQ(d.topics[0].nparts, N);
  for (int i = 0; i < N; i++) CHECK_EQ(next[i], 100 + i);
  CHECK_MEM(d.topics[0].parts[3].records.ptr, "wxyz", 4);
  flyq_buf_free(&full);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(truncated_responses_fail) {
  flyq_arena_t a;
  flyq_proto_fetch_resp_t d;
  int64_t *next;
  flyq_arena_init(&a);
  for (size_t len = 0; len < sizeof resp_golden - 4; len++) {
    int rc = flyq_proto_decode_fetch_resp_v1(resp_golden + 4, len, &a, &d,
                                             &next);
    CHECK(rc == FLYQ_ERR_TRUNCATED || rc == FLYQ_ERR_PROTOCOL);
    flyq_arena_reset(&a);
  }
  /* A v0 decoder reads next_offset as the records' length: never a match. */
  CHECK(flyq_proto_decode_fetch_resp(resp_golden + 4, sizeof resp_golden - 4,
                                     &a, &d) < 0);
  flyq_arena_free(&a);
}

TEST(stats_round_trip) {
  flyq_buf_t b;
  flyq_proto_stats_resp_t d;
  flyq_buf_init(&b);
  flyq_proto_stats_resp_t resp = {{3, 0, {NULL, -1}},
                                  {(const uint8_t *)"{}", 2}};
  CHECK_OK(flyq_proto_encode_stats_resp(&b, &resp));
  CHECK_OK(flyq_proto_decode_stats_resp(b.data + 4, b.len - 4, &d));
  CHECK_EQ(d.hdr.correlation_id, 3);
  CHECK_EQ(d.json.len, 2);
  CHECK_MEM(d.json.ptr, "{}", 2);
  flyq_buf_free(&b);
}

TEST_LIST(TEST_ENTRY(request_with_filter) TEST_ENTRY(request_without_filter)
          TEST_ENTRY(versions_are_not_mixed) TEST_ENTRY(truncated_requests_fail)
          TEST_ENTRY(response_with_next_offset)
          TEST_ENTRY(response_splices_and_many_partitions)
          TEST_ENTRY(truncated_responses_fail) TEST_ENTRY(stats_round_trip));
