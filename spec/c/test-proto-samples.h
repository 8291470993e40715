/* Sample messages for the proto tests: one or more valid requests and
 * responses of every API, and a re-encoder for any decoded request. Shared
 * by test-proto-roundtrip.c and test-proto-hostile.c (header-only: each
 * test file is its own executable).
 */
#ifndef FLYQ_TEST_PROTO_SAMPLES_H
#define FLYQ_TEST_PROTO_SAMPLES_H

#include <string.h>

#include "flyq/proto.h"
#include "test.h"

static const uint8_t sample_records[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};

static inline flyq_proto_req_header_t sample_hdr(int16_t api_key) {
  flyq_proto_req_header_t h = {api_key, 0, 0x10203 + api_key,
                               flyq_str("sample-client")};
  return h;
}

/* ---- Requests ---- */

static const flyq_proto_produce_req_part_t s_produce_parts[] = {
    {0, {sample_records, sizeof sample_records}},
    {-1, {sample_records, 2}},
    {7, {NULL, -1}},
};
static const flyq_proto_produce_req_topic_t s_produce_topics[] = {
    {{"orders", 6}, s_produce_parts, 3},
    {{"empty", 5}, NULL, 0},
};
static const flyq_proto_produce_req_t s_produce_req = {-1, 30000,
                                                       s_produce_topics, 2};

static const flyq_proto_fetch_req_part_t s_fetch_parts[] = {
    {0, 0, 1 << 20}, {3, INT64_MAX, 0}, {-1, -5, INT32_MAX}};
static const flyq_proto_fetch_req_topic_t s_fetch_topics[] = {
    {{"orders", 6}, s_fetch_parts, 3}, {{"x", 1}, s_fetch_parts, 1}};
static const flyq_proto_fetch_req_t s_fetch_req = {500, 1, 1 << 24,
                                                   s_fetch_topics, 2};

static const flyq_proto_list_offsets_req_part_t s_lo_parts[] = {
    {0, FLYQ_PROTO_TIMESTAMP_EARLIEST},
    {1, FLYQ_PROTO_TIMESTAMP_LATEST},
    {2, 1700000000000}};
static const flyq_proto_list_offsets_req_topic_t s_lo_topics[] = {
    {{"orders", 6}, s_lo_parts, 3}};
static const flyq_proto_list_offsets_req_t s_lo_req = {s_lo_topics, 1};

static const flyq_str_t s_names[] = {{"orders", 6}, {"", 0}, {"b.c-d_e", 7}};
static const flyq_proto_metadata_req_t s_md_req = {s_names, 3};
static const flyq_proto_metadata_req_t s_md_req_all = {NULL, -1};

static const flyq_proto_offset_commit_req_part_t s_oc_parts[] = {
    {0, 42}, {5, 0}};
static const flyq_proto_offset_commit_req_topic_t s_oc_topics[] = {
    {{"orders", 6}, s_oc_parts, 2}};
static const flyq_proto_offset_commit_req_t s_oc_req = {{"g1", 2}, s_oc_topics,
                                                        1};

static const int32_t s_of_partitions[] = {0, 1, 99};
static const flyq_proto_offset_fetch_req_topic_t s_of_topics[] = {
    {{"orders", 6}, s_of_partitions, 3}, {{"t2", 2}, NULL, 0}};
static const flyq_proto_offset_fetch_req_t s_of_req = {{"g1", 2}, s_of_topics,
                                                       2};
static const flyq_proto_offset_fetch_req_t s_of_req_all = {{"g1", 2}, NULL,
                                                           -1};

static const flyq_proto_config_t s_configs[] = {
    {{"retention.ms", 12}, {"604800000", 9}},
    {{"segment.bytes", 13}, {"1", 1}}};
static const flyq_proto_create_topic_t s_ct_topics[] = {
    {{"orders", 6}, 6, s_configs, 2}, {{"plain", 5}, 1, NULL, 0}};
static const flyq_proto_create_topics_req_t s_ct_req = {s_ct_topics, 2};

static const flyq_proto_delete_topics_req_t s_dt_req = {s_names, 3};

static const flyq_proto_authenticate_req_t s_auth_req = {
    {"token", 5}, {(const uint8_t *)"secret", 6}};
static const flyq_proto_authenticate_req_t s_auth_req_null = {{"token", 5},
                                                              {NULL, -1}};

/* Appends one frame of every request (and the null variants) to b.
 * Returns the number of frames. */
static inline int sample_requests(flyq_buf_t *b) {
  flyq_proto_req_header_t h;
  int n = 0;
#define SAMPLE(key, call)                                                     \
  do {                                                                        \
    h = sample_hdr(key);                                                      \
    CHECK_OK(call);                                                           \
    n++;                                                                      \
  } while (0)
  SAMPLE(FLYQ_API_PRODUCE,
         flyq_proto_encode_produce_req(b, &h, &s_produce_req));
  SAMPLE(FLYQ_API_FETCH, flyq_proto_encode_fetch_req(b, &h, &s_fetch_req));
  SAMPLE(FLYQ_API_LIST_OFFSETS,
         flyq_proto_encode_list_offsets_req(b, &h, &s_lo_req));
  SAMPLE(FLYQ_API_METADATA, flyq_proto_encode_metadata_req(b, &h, &s_md_req));
  SAMPLE(FLYQ_API_METADATA,
         flyq_proto_encode_metadata_req(b, &h, &s_md_req_all));
  SAMPLE(FLYQ_API_OFFSET_COMMIT,
         flyq_proto_encode_offset_commit_req(b, &h, &s_oc_req));
  SAMPLE(FLYQ_API_OFFSET_FETCH,
         flyq_proto_encode_offset_fetch_req(b, &h, &s_of_req));
  SAMPLE(FLYQ_API_OFFSET_FETCH,
         flyq_proto_encode_offset_fetch_req(b, &h, &s_of_req_all));
  SAMPLE(FLYQ_API_LIST_GROUPS, flyq_proto_encode_list_groups_req(b, &h));
  SAMPLE(FLYQ_API_API_VERSIONS, flyq_proto_encode_api_versions_req(b, &h));
  SAMPLE(FLYQ_API_CREATE_TOPICS,
         flyq_proto_encode_create_topics_req(b, &h, &s_ct_req));
  SAMPLE(FLYQ_API_DELETE_TOPICS,
         flyq_proto_encode_delete_topics_req(b, &h, &s_dt_req));
  SAMPLE(FLYQ_API_AUTHENTICATE,
         flyq_proto_encode_authenticate_req(b, &h, &s_auth_req));
  SAMPLE(FLYQ_API_AUTHENTICATE,
         flyq_proto_encode_authenticate_req(b, &h, &s_auth_req_null));
#undef SAMPLE
  return n;
}

/* Walks the frames of a buffer: *pos is the offset of the next frame; sets
 * the payload and advances. Returns 0 at the end. */
static inline int next_frame(const flyq_buf_t *b, size_t *pos,
                             const uint8_t **p, size_t *len) {
  uint32_t size;
  if (*pos >= b->len) return 0;
  CHECK_OK(flyq_proto_frame_size(b->data + *pos, b->len - *pos, INT32_MAX,
                                 &size));
  CHECK(size <= b->len - *pos - 4);
  *p = b->data + *pos + 4;
  *len = size;
  *pos += 4 + (size_t)size;
  return 1;
}

/* Encodes a decoded request again, as one frame. */
static inline int encode_any_request(flyq_buf_t *b,
                                     const flyq_proto_request_t *r) {
  const flyq_proto_req_header_t *h = &r->hdr;
  switch (h->api_key) {
  case FLYQ_API_PRODUCE:
    return flyq_proto_encode_produce_req(b, h, &r->body.produce);
  case FLYQ_API_FETCH:
    if (h->api_version >= 1)
      return flyq_proto_encode_fetch_req_v1(b, h, &r->body.fetch,
                                            &r->fetch_filter);
    return flyq_proto_encode_fetch_req(b, h, &r->body.fetch);
  case FLYQ_API_LIST_OFFSETS:
    return flyq_proto_encode_list_offsets_req(b, h, &r->body.list_offsets);
  case FLYQ_API_METADATA:
    return flyq_proto_encode_metadata_req(b, h, &r->body.metadata);
  case FLYQ_API_OFFSET_COMMIT:
    return flyq_proto_encode_offset_commit_req(b, h, &r->body.offset_commit);
  case FLYQ_API_OFFSET_FETCH:
    return flyq_proto_encode_offset_fetch_req(b, h, &r->body.offset_fetch);
  case FLYQ_API_LIST_GROUPS: return flyq_proto_encode_list_groups_req(b, h);
  case FLYQ_API_API_VERSIONS: return flyq_proto_encode_api_versions_req(b, h);
  case FLYQ_API_CREATE_TOPICS:
    return flyq_proto_encode_create_topics_req(b, h, &r->body.create_topics);
  case FLYQ_API_DELETE_TOPICS:
    return flyq_proto_encode_delete_topics_req(b, h, &r->body.delete_topics);
  case FLYQ_API_AUTHENTICATE:
    return flyq_proto_encode_authenticate_req(b, h, &r->body.authenticate);
  case FLYQ_API_CONFIG_PLAN:
  case FLYQ_API_CONFIG_APPLY:
    return flyq_proto_encode_config_req(b, h, &r->body.config);
  case FLYQ_API_STATS: return flyq_proto_encode_stats_req(b, h);
  }
  return FLYQ_ERR_UNSUPPORTED;
}

/* ---- Responses ---- */

#define OK_HDR(corr) {(corr), 0, {NULL, -1}}

static const flyq_proto_api_versions_resp_t s_av_resp = {
    OK_HDR(1), flyq_proto_api_versions, FLYQ_PROTO_API_COUNT, {"0.1.0", 5}};

static const flyq_proto_produce_resp_part_t s_produce_rparts[] = {
    {0, 0, {NULL, -1}, 100, 105, 0},
    {1, FLYQ_WIRE_CORRUPT_MESSAGE, {"bad crc", 7}, -1, -1, 12}};
static const flyq_proto_produce_resp_topic_t s_produce_rtopics[] = {
    {{"orders", 6}, s_produce_rparts, 2}, {{"none", 4}, NULL, 0}};
static const flyq_proto_produce_resp_t s_produce_resp = {
    OK_HDR(2), s_produce_rtopics, 2};

static const flyq_proto_fetch_resp_part_t s_fetch_rparts[] = {
    {0, 0, {NULL, -1}, 10, 0, 9, {sample_records, sizeof sample_records}},
    {1, FLYQ_WIRE_OFFSET_OUT_OF_RANGE, {"below start", 11}, 5, 3, 5, {NULL, 0}},
    {2, 0, {NULL, -1}, 0, 0, 0, {NULL, -1}}};
static const flyq_proto_fetch_resp_topic_t s_fetch_rtopics[] = {
    {{"orders", 6}, s_fetch_rparts, 3}};
static const flyq_proto_fetch_resp_t s_fetch_resp = {OK_HDR(3),
                                                     s_fetch_rtopics, 1};

static const flyq_proto_list_offsets_resp_part_t s_lo_rparts[] = {
    {0, 0, 0}, {9, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION, -1}};
static const flyq_proto_list_offsets_resp_topic_t s_lo_rtopics[] = {
    {{"orders", 6}, s_lo_rparts, 2}};
static const flyq_proto_list_offsets_resp_t s_lo_resp = {OK_HDR(4),
                                                         s_lo_rtopics, 1};

static const flyq_proto_metadata_part_t s_md_parts[] = {
    {0, 0, 10, 8, 1, 4096, 1700000000000}, {1, 5, 5, 5, 2, 0, -1}};
static const flyq_proto_metadata_topic_t s_md_topics[] = {
    {{"orders", 6}, 0, s_md_parts, 2, s_configs, 2},
    {{"gone", 4}, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION, NULL, 0, NULL, 0}};
static const flyq_proto_metadata_resp_t s_md_resp = {
    OK_HDR(5), {"127.0.0.1", 9}, 7500, s_md_topics, 2};

static const flyq_proto_offset_commit_resp_part_t s_oc_rparts[] = {
    {0, 0}, {5, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION}};
static const flyq_proto_offset_commit_resp_topic_t s_oc_rtopics[] = {
    {{"orders", 6}, s_oc_rparts, 2}};
static const flyq_proto_offset_commit_resp_t s_oc_resp = {OK_HDR(6),
                                                          s_oc_rtopics, 1};

static const flyq_proto_offset_fetch_resp_part_t s_of_rparts[] = {
    {0, 42, 0}, {1, -1, 0}};
static const flyq_proto_offset_fetch_resp_topic_t s_of_rtopics[] = {
    {{"orders", 6}, s_of_rparts, 2}, {{"t2", 2}, NULL, 0}};
static const flyq_proto_offset_fetch_resp_t s_of_resp = {OK_HDR(7),
                                                         s_of_rtopics, 2};

static const flyq_proto_list_groups_resp_t s_lg_resp = {OK_HDR(8), s_names,
                                                        3};

static const flyq_proto_topic_result_t s_results[] = {
    {{"orders", 6}, 0, {NULL, -1}},
    {{"a/b", 3}, FLYQ_WIRE_INVALID_TOPIC, {"invalid name", 12}}};
static const flyq_proto_create_topics_resp_t s_ct_resp = {OK_HDR(9),
                                                          s_results, 2};
static const flyq_proto_delete_topics_resp_t s_dt_resp = {OK_HDR(10),
                                                          s_results, 1};

static const flyq_proto_authenticate_resp_t s_auth_resp = {OK_HDR(11),
                                                           {"alice", 5}};

/* Any decoded response; every member starts with the common header. */
typedef union any_resp {
  flyq_proto_resp_header_t hdr;
  flyq_proto_api_versions_resp_t api_versions;
  flyq_proto_produce_resp_t produce;
  flyq_proto_fetch_resp_t fetch;
  flyq_proto_list_offsets_resp_t list_offsets;
  flyq_proto_metadata_resp_t metadata;
  flyq_proto_offset_commit_resp_t offset_commit;
  flyq_proto_offset_fetch_resp_t offset_fetch;
  flyq_proto_list_groups_resp_t list_groups;
  flyq_proto_create_topics_resp_t create_topics;
  flyq_proto_delete_topics_resp_t delete_topics;
  flyq_proto_authenticate_resp_t authenticate;
} any_resp_t;

/* The sample response of an API (a copy), with its header's error set. */
static inline any_resp_t sample_response(int16_t api_key, int16_t error) {
  any_resp_t r;
  memset(&r, 0, sizeof r);
  switch (api_key) {
  case FLYQ_API_API_VERSIONS: r.api_versions = s_av_resp; break;
  case FLYQ_API_PRODUCE: r.produce = s_produce_resp; break;
  case FLYQ_API_FETCH: r.fetch = s_fetch_resp; break;
  case FLYQ_API_LIST_OFFSETS: r.list_offsets = s_lo_resp; break;
  case FLYQ_API_METADATA: r.metadata = s_md_resp; break;
  case FLYQ_API_OFFSET_COMMIT: r.offset_commit = s_oc_resp; break;
  case FLYQ_API_OFFSET_FETCH: r.offset_fetch = s_of_resp; break;
  case FLYQ_API_LIST_GROUPS: r.list_groups = s_lg_resp; break;
  case FLYQ_API_CREATE_TOPICS: r.create_topics = s_ct_resp; break;
  case FLYQ_API_DELETE_TOPICS: r.delete_topics = s_dt_resp; break;
  case FLYQ_API_AUTHENTICATE: r.authenticate = s_auth_resp; break;
  }
  if (error) {
    r.hdr.error_code = error;
    r.hdr.error_message = flyq_str("it failed");
  }
  return r;
}

static inline int encode_any_response(flyq_buf_t *b, int16_t api_key,
                                      const any_resp_t *r) {
  switch (api_key) {
  case FLYQ_API_API_VERSIONS:
    return flyq_proto_encode_api_versions_resp(b, &r->api_versions);
  case FLYQ_API_PRODUCE: return flyq_proto_encode_produce_resp(b, &r->produce);
  case FLYQ_API_FETCH:
    return flyq_proto_encode_fetch_resp(b, &r->fetch, NULL, 0);
  case FLYQ_API_LIST_OFFSETS:
    return flyq_proto_encode_list_offsets_resp(b, &r->list_offsets);
  case FLYQ_API_METADATA:
    return flyq_proto_encode_metadata_resp(b, &r->metadata);
  case FLYQ_API_OFFSET_COMMIT:
    return flyq_proto_encode_offset_commit_resp(b, &r->offset_commit);
  case FLYQ_API_OFFSET_FETCH:
    return flyq_proto_encode_offset_fetch_resp(b, &r->offset_fetch);
  case FLYQ_API_LIST_GROUPS:
    return flyq_proto_encode_list_groups_resp(b, &r->list_groups);
  case FLYQ_API_CREATE_TOPICS:
    return flyq_proto_encode_create_topics_resp(b, &r->create_topics);
  case FLYQ_API_DELETE_TOPICS:
    return flyq_proto_encode_delete_topics_resp(b, &r->delete_topics);
  case FLYQ_API_AUTHENTICATE:
    return flyq_proto_encode_authenticate_resp(b, &r->authenticate);
  }
  return FLYQ_ERR_UNSUPPORTED;
}

static inline int decode_any_response(int16_t api_key, const uint8_t *p,
                                      size_t len, flyq_arena_t *a,
                                      any_resp_t *r) {
  switch (api_key) {
  case FLYQ_API_API_VERSIONS:
    return flyq_proto_decode_api_versions_resp(p, len, a, &r->api_versions);
  case FLYQ_API_PRODUCE:
    return flyq_proto_decode_produce_resp(p, len, a, &r->produce);
  case FLYQ_API_FETCH:
    return flyq_proto_decode_fetch_resp(p, len, a, &r->fetch);
  case FLYQ_API_LIST_OFFSETS:
    return flyq_proto_decode_list_offsets_resp(p, len, a, &r->list_offsets);
  case FLYQ_API_METADATA:
    return flyq_proto_decode_metadata_resp(p, len, a, &r->metadata);
  case FLYQ_API_OFFSET_COMMIT:
    return flyq_proto_decode_offset_commit_resp(p, len, a, &r->offset_commit);
  case FLYQ_API_OFFSET_FETCH:
    return flyq_proto_decode_offset_fetch_resp(p, len, a, &r->offset_fetch);
  case FLYQ_API_LIST_GROUPS:
    return flyq_proto_decode_list_groups_resp(p, len, a, &r->list_groups);
  case FLYQ_API_CREATE_TOPICS:
    return flyq_proto_decode_create_topics_resp(p, len, a, &r->create_topics);
  case FLYQ_API_DELETE_TOPICS:
    return flyq_proto_decode_delete_topics_resp(p, len, a, &r->delete_topics);
  case FLYQ_API_AUTHENTICATE:
    return flyq_proto_decode_authenticate_resp(p, len, a, &r->authenticate);
  }
  return FLYQ_ERR_UNSUPPORTED;
}

#endif /* FLYQ_TEST_PROTO_SAMPLES_H */
