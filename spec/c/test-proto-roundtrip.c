/* Round trips of the wire codec: every request and response of every API is
 * encoded, decoded, checked field by field for a few, and encoded again to
 * the same bytes; every truncation of them is rejected; encoders refuse
 * what the wire cannot carry and leave the buffer as it was.
 */
#include <stdlib.h>

#include "flyq/proto.h"
#include "test-proto-samples.h"
#include "test.h"

static const int16_t all_apis[] = {
    FLYQ_API_PRODUCE,       FLYQ_API_FETCH,         FLYQ_API_LIST_OFFSETS,
    FLYQ_API_METADATA,      FLYQ_API_OFFSET_COMMIT, FLYQ_API_OFFSET_FETCH,
    FLYQ_API_LIST_GROUPS,   FLYQ_API_API_VERSIONS,  FLYQ_API_CREATE_TOPICS,
    FLYQ_API_DELETE_TOPICS, FLYQ_API_AUTHENTICATE};
#define NAPIS ((int)(sizeof all_apis / sizeof all_apis[0]))

/* Decodes every sample request, re-encodes it and expects the same frame. */
TEST(every_request_round_trips) {
  flyq_buf_t in, out;
  flyq_arena_t a;
  flyq_buf_init(&in);
  flyq_buf_init(&out);
  flyq_arena_init(&a);
  int n = sample_requests(&in), seen = 0;
  size_t pos = 0, start;
  const uint8_t *p;
  size_t len;
  for (start = pos; next_frame(&in, &pos, &p, &len); start = pos, seen++) {
    flyq_proto_request_t req;
    CHECK_OK(flyq_proto_decode_any_request(p, len, &a, &req));
    CHECK_EQ(req.hdr.correlation_id, 0x10203 + req.hdr.api_key);
    CHECK(flyq_str_eq(req.hdr.client_id, "sample-client"));
    flyq_buf_reset(&out);
    CHECK_OK(encode_any_request(&out, &req));
    CHECK_EQ(out.len, pos - start);
    CHECK_MEM(out.data, in.data + start, out.len);
    flyq_arena_reset(&a);
  }
  CHECK_EQ(seen, n);
  CHECK_EQ(n, 14);
  flyq_buf_free(&in);
  flyq_buf_free(&out);
  flyq_arena_free(&a);
}

/* Decoding a produce request gives back the original values, zero copy. */
TEST(produce_request_fields) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_req_header_t h = sample_hdr(FLYQ_API_PRODUCE);
  flyq_proto_request_t req;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  CHECK_OK(flyq_proto_encode_produce_req(&b, &h, &s_produce_req));
  CHECK_OK(flyq_proto_decode_any_request(b.data + 4, b.len - 4, &a, &req));
  const flyq_proto_produce_req_t *r = &req.body.produce;
  CHECK_EQ(req.hdr.api_key, FLYQ_API_PRODUCE);
  CHECK_EQ(r->acks, -1);
  CHECK_EQ(r->timeout_ms, 30000);
  CHECK_EQ(r->ntopics, 2);
  CHECK(flyq_str_eq(r->topics[0].name, "orders"));
  CHECK_EQ(r->topics[0].nparts, 3);
  CHECK_EQ(r->topics[0].parts[1].partition, -1);
  CHECK_EQ(r->topics[0].parts[0].records.len, sizeof sample_records);
  CHECK_MEM(r->topics[0].parts[0].records.ptr, sample_records,
            sizeof sample_records);
  const uint8_t *rec = r->topics[0].parts[0].records.ptr;
  CHECK(rec > b.data && rec < b.data + b.len); /* points into the frame */
  CHECK_EQ(r->topics[0].parts[2].records.len, -1);
  CHECK(r->topics[0].parts[2].records.ptr == NULL);
  CHECK(flyq_str_eq(r->topics[1].name, "empty"));
  CHECK_EQ(r->topics[1].nparts, 0);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

/* Null arrays survive where they are allowed. */
TEST(nullable_request_arrays) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_request_t req;
  flyq_proto_req_header_t h = sample_hdr(FLYQ_API_METADATA);
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  CHECK_OK(flyq_proto_encode_metadata_req(&b, &h, &s_md_req_all));
  CHECK_OK(flyq_proto_decode_any_request(b.data + 4, b.len - 4, &a, &req));
  CHECK_EQ(req.body.metadata.ntopics, -1);
  flyq_buf_reset(&b);
  h = sample_hdr(FLYQ_API_OFFSET_FETCH);
  CHECK_OK(flyq_proto_encode_offset_fetch_req(&b, &h, &s_of_req_all));
  CHECK_OK(flyq_proto_decode_any_request(b.data + 4, b.len - 4, &a, &req));
  CHECK_EQ(req.body.offset_fetch.ntopics, -1);
  CHECK(flyq_str_eq(req.body.offset_fetch.group, "g1"));
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

/* Every proper prefix of every sample request payload is rejected. */
TEST(every_request_truncation_rejected) {
  flyq_buf_t in;
  flyq_arena_t a;
  flyq_buf_init(&in);
  flyq_arena_init(&a);
  sample_requests(&in);
  size_t pos = 0, cuts = 0;
  const uint8_t *p;
  size_t len;
  while (next_frame(&in, &pos, &p, &len)) {
    for (size_t cut = 0; cut < len; cut++, cuts++) {
      /* An exact-size copy, so that ASan sees any overread. */
      uint8_t *copy = malloc(cut ? cut : 1);
      memcpy(copy, p, cut);
      flyq_proto_request_t req;
      int rc = flyq_proto_decode_any_request(copy, cut, &a, &req);
      if (rc == 0) fprintf(stderr, "  cut %zu of %zu accepted\n", cut, len);
      CHECK(rc == FLYQ_ERR_TRUNCATED || rc == FLYQ_ERR_PROTOCOL);
      CHECK(cut < 8 || req.hdr.correlation_id == 0x10203 + req.hdr.api_key);
      free(copy);
      flyq_arena_reset(&a);
    }
  }
  CHECK(cuts > 500);
  flyq_buf_free(&in);
  flyq_arena_free(&a);
}

/* Encodes the sample response with the given top-level error, decodes it,
 * checks the header, re-encodes the decoded struct and expects the same
 * bytes. */
static void response_round_trip(int16_t api, int16_t error) {
  flyq_buf_t b1, b2;
  flyq_arena_t a;
  any_resp_t in = sample_response(api, error), out;
  flyq_buf_init(&b1);
  flyq_buf_init(&b2);
  flyq_arena_init(&a);
  CHECK_OK(encode_any_response(&b1, api, &in));
  CHECK_OK(decode_any_response(api, b1.data + 4, b1.len - 4, &a, &out));
  CHECK_EQ(out.hdr.correlation_id, in.hdr.correlation_id);
  CHECK_EQ(out.hdr.error_code, error);
  if (error) CHECK(flyq_str_eq(out.hdr.error_message, "it failed"));
  else CHECK_EQ(out.hdr.error_message.len, -1);
  CHECK_OK(encode_any_response(&b2, api, &out));
  CHECK_EQ(b2.len, b1.len);
  CHECK_MEM(b2.data, b1.data, b1.len);
  flyq_buf_free(&b1);
  flyq_buf_free(&b2);
  flyq_arena_free(&a);
}

TEST(every_response_round_trips) {
  for (int i = 0; i < NAPIS; i++) response_round_trip(all_apis[i], 0);
}

/* With a top-level error the body is absent, whatever the struct holds. */
TEST(every_error_response_round_trips) {
  for (int i = 0; i < NAPIS; i++) {
    response_round_trip(all_apis[i], FLYQ_WIRE_PLUGIN_ERROR);
    flyq_buf_t b;
    flyq_buf_init(&b);
    any_resp_t r = sample_response(all_apis[i], FLYQ_WIRE_PLUGIN_ERROR);
    CHECK_OK(encode_any_response(&b, all_apis[i], &r));
    CHECK_EQ(b.len, 4 + 4 + 2 + 2 + 9); /* size, corr, code, message */
    flyq_buf_free(&b);
  }
}

TEST(every_response_truncation_rejected) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  for (int i = 0; i < NAPIS; i++) {
    any_resp_t in = sample_response(all_apis[i], 0), out;
    flyq_buf_reset(&b);
    CHECK_OK(encode_any_response(&b, all_apis[i], &in));
    for (size_t cut = 0; cut < b.len - 4; cut++) {
      uint8_t *copy = malloc(cut ? cut : 1);
      memcpy(copy, b.data + 4, cut);
      int rc = decode_any_response(all_apis[i], copy, cut, &a, &out);
      CHECK(rc == FLYQ_ERR_TRUNCATED || rc == FLYQ_ERR_PROTOCOL);
      free(copy);
      flyq_arena_reset(&a);
    }
  }
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST(fetch_and_metadata_response_fields) {
  flyq_buf_t b;
  flyq_arena_t a;
  any_resp_t r;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  CHECK_OK(flyq_proto_encode_fetch_resp(&b, &s_fetch_resp, NULL, 0));
  CHECK_OK(flyq_proto_decode_fetch_resp(b.data + 4, b.len - 4, &a, &r.fetch));
  const flyq_proto_fetch_resp_part_t *fp = r.fetch.topics[0].parts;
  CHECK_EQ(r.fetch.topics[0].nparts, 3);
  CHECK_EQ(fp[0].high_watermark, 10);
  CHECK_EQ(fp[0].flushed_offset, 9);
  CHECK_MEM(fp[0].records.ptr, sample_records, sizeof sample_records);
  CHECK_EQ(fp[1].error_code, FLYQ_WIRE_OFFSET_OUT_OF_RANGE);
  CHECK(flyq_str_eq(fp[1].error_message, "below start"));
  CHECK_EQ(fp[1].records.len, 0);
  CHECK_EQ(fp[2].records.len, -1);
  flyq_buf_reset(&b);
  CHECK_OK(flyq_proto_encode_metadata_resp(&b, &s_md_resp));
  CHECK_OK(
      flyq_proto_decode_metadata_resp(b.data + 4, b.len - 4, &a, &r.metadata));
  CHECK(flyq_str_eq(r.metadata.host, "127.0.0.1"));
  CHECK_EQ(r.metadata.port, 7500);
  CHECK_EQ(r.metadata.topics[0].parts[0].last_append_ms, 1700000000000);
  CHECK(flyq_str_eq(r.metadata.topics[0].configs[1].key, "segment.bytes"));
  CHECK_EQ(r.metadata.topics[1].error_code,
           FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

/* Deferred record bytes: the frame in the buffer plus the spliced bytes is
 * exactly the frame with the bytes inline. */
TEST(fetch_response_splice) {
  flyq_buf_t inl, def;
  flyq_buf_init(&inl);
  flyq_buf_init(&def);
  flyq_proto_fetch_resp_part_t parts[3];
  memcpy(parts, s_fetch_rparts, sizeof parts);
  parts[2].records = (flyq_bytes_t){sample_records, 3};
  flyq_proto_fetch_resp_topic_t topic = {{"orders", 6}, parts, 3};
  flyq_proto_fetch_resp_t resp = {OK_HDR(3), &topic, 1};
  flyq_buf_put_raw(&def, "junk", 4); /* encoders append */
  CHECK_OK(flyq_proto_encode_fetch_resp(&inl, &resp, NULL, 0));
  parts[0].records.ptr = NULL;
  parts[2].records.ptr = NULL;
  size_t at[2];
  CHECK_EQ(flyq_proto_encode_fetch_resp(&def, &resp, at, 1),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(def.len, 4);
  CHECK_OK(flyq_proto_encode_fetch_resp(&def, &resp, at, 2));
  CHECK_EQ(def.len - 4 + sizeof sample_records + 3, inl.len);
  CHECK(at[0] > 4 && at[0] < at[1] && at[1] <= def.len);
  size_t n0 = at[0] - 4, n1 = at[1] - at[0];
  CHECK_MEM(inl.data, def.data + 4, n0);
  CHECK_MEM(inl.data + n0, sample_records, sizeof sample_records);
  CHECK_MEM(inl.data + n0 + 6, def.data + at[0], n1);
  CHECK_MEM(inl.data + n0 + 6 + n1, sample_records, 3);
  CHECK_MEM(inl.data + n0 + 9 + n1, def.data + at[1], def.len - at[1]);
  flyq_buf_free(&inl);
  flyq_buf_free(&def);
}

/* What the wire cannot carry is refused and the buffer is left as it was. */
TEST(encoders_refuse_bad_values) {
  flyq_buf_t b;
  flyq_buf_init(&b);
  flyq_buf_put_raw(&b, "keep", 4);
  flyq_proto_req_header_t h = sample_hdr(FLYQ_API_PRODUCE);
  flyq_proto_produce_req_topic_t t = {{NULL, -1}, NULL, 0};
  flyq_proto_produce_req_t req = {1, 0, &t, 1};
  CHECK_EQ(flyq_proto_encode_produce_req(&b, &h, &req), FLYQ_ERR_INVALID_ARG);
  t.name = flyq_str("ok");
  req.ntopics = -1; /* not nullable */
  CHECK_EQ(flyq_proto_encode_produce_req(&b, &h, &req), FLYQ_ERR_INVALID_ARG);
  req.ntopics = 2;
  req.topics = NULL;
  CHECK_EQ(flyq_proto_encode_produce_req(&b, &h, &req), FLYQ_ERR_INVALID_ARG);
  req.ntopics = 0;
  h.api_key = FLYQ_API_FETCH; /* wrong API for this encoder */
  CHECK_EQ(flyq_proto_encode_produce_req(&b, &h, &req), FLYQ_ERR_INVALID_ARG);
  h = sample_hdr(FLYQ_API_PRODUCE);
  char longid[300];
  memset(longid, 'x', sizeof longid);
  h.client_id = (flyq_str_t){longid, 256};
  CHECK_EQ(flyq_proto_encode_produce_req(&b, &h, &req), FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(b.len, 4);
  CHECK_EQ(b.err, 0);
  CHECK_MEM(b.data, "keep", 4);
  h.client_id = (flyq_str_t){longid, 255};
  CHECK_OK(flyq_proto_encode_produce_req(&b, &h, &req));
  CHECK(b.len > 4 + 255);
  flyq_buf_free(&b);
}

/* Long error messages are cut to what a string can hold, not refused. */
TEST(long_error_message_is_cut) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_proto_resp_header_t h;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  char *msg = malloc(40000);
  memset(msg, 'e', 39999);
  msg[39999] = '\0';
  CHECK_OK(
      flyq_proto_encode_error_response(&b, 5, FLYQ_WIRE_PLUGIN_ERROR, msg));
  flyq_reader_t r;
  flyq_reader_init(&r, b.data + 4, b.len - 4);
  CHECK_OK(flyq_proto_decode_resp_header(&r, &h));
  CHECK_EQ(h.error_message.len, INT16_MAX);
  CHECK_OK(flyq_reader_finish(&r));
  free(msg);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

/* Requests pipelined in one buffer come apart frame by frame. */
TEST(pipelined_frames) {
  flyq_buf_t b;
  flyq_buf_init(&b);
  int n = sample_requests(&b);
  size_t pos = 0;
  int frames = 0;
  uint32_t size;
  while (pos < b.len) {
    CHECK_OK(flyq_proto_frame_size(b.data + pos, b.len - pos,
                                   FLYQ_PROTO_FRAME_MAX_DEFAULT, &size));
    pos += 4 + size;
    frames++;
  }
  CHECK_EQ(pos, b.len);
  CHECK_EQ(frames, n);
  flyq_buf_free(&b);
}

TEST_LIST(TEST_ENTRY(every_request_round_trips)
          TEST_ENTRY(produce_request_fields)
          TEST_ENTRY(nullable_request_arrays)
          TEST_ENTRY(every_request_truncation_rejected)
          TEST_ENTRY(every_response_round_trips)
          TEST_ENTRY(every_error_response_round_trips)
          TEST_ENTRY(every_response_truncation_rejected)
          TEST_ENTRY(fetch_and_metadata_response_fields)
          TEST_ENTRY(fetch_response_splice)
          TEST_ENTRY(encoders_refuse_bad_values)
          TEST_ENTRY(long_error_message_is_cut)
          TEST_ENTRY(pipelined_frames));
