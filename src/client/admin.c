/* The client's blocking calls for everything but produce and fetch:
 * ApiVersions (at connect), Authenticate, ListOffsets, CreateTopics,
 * DeleteTopics, OffsetCommit, OffsetFetch and ListGroups. Metadata, which
 * returns a tree, is in metadata.c.
 *
 * Each call encodes one request with the proto codec, waits for it
 * (flyq__sync_call) and decodes the response from the read buffer, checking
 * that it answers what was asked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

/* The APIs (all version 0) this client uses. */
static const int16_t needed_apis[] = {
    FLYQ_API_PRODUCE,       FLYQ_API_FETCH,         FLYQ_API_LIST_OFFSETS,
    FLYQ_API_METADATA,      FLYQ_API_OFFSET_COMMIT, FLYQ_API_OFFSET_FETCH,
    FLYQ_API_LIST_GROUPS,   FLYQ_API_CREATE_TOPICS, FLYQ_API_DELETE_TOPICS,
    FLYQ_API_AUTHENTICATE,
};

static int api_supported(const flyq_proto_api_versions_resp_t *v,
                         int16_t key) {
  for (int32_t i = 0; i < v->napis; i++)
    if (v->apis[i].api_key == key)
      return v->apis[i].min_version <= 0 && v->apis[i].max_version >= 0;
  return 0;
}

int flyq__check_versions(flyq_client_t *c) {
  flyq_proto_req_header_t h;
  flyq_proto_api_versions_resp_t v;
  int r = flyq__start(c, FLYQ_API_API_VERSIONS, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_api_versions_req(&c->out, &h);
  if (flyq__encoded(c, r, "ApiVersions") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "ApiVersions");
  if (r < 0) return r;
  if (flyq_proto_decode_api_versions_resp(c->sync.payload, c->sync.len,
                                          &c->arena, &v) < 0)
    return flyq__malformed(c, "ApiVersions");
  c->fetch_v1 = 0;
  for (int32_t i = 0; i < v.napis; i++)
    if (v.apis[i].api_key == FLYQ_API_FETCH && v.apis[i].max_version >= 1)
      c->fetch_v1 = 1;
  for (size_t i = 0; i < sizeof(needed_apis) / sizeof(*needed_apis); i++)
    if (!api_supported(&v, needed_apis[i]))
      return flyq__client_fail(c, FLYQ_ERR_UNSUPPORTED, 0,
                               "broker does not support %s version 0",
                               flyq_proto_api_name(needed_apis[i]));
  snprintf(c->broker_version, sizeof(c->broker_version), "%.*s",
           v.broker_version.len > 0 ? (int)v.broker_version.len : 0,
           v.broker_version.len > 0 ? v.broker_version.ptr : "");
  return 0;
}

/* 1 if a decoded response answers exactly topic/partition (resp has the
 * usual topics[] -> parts[] shape). */
#define ANSWERS_ONE(resp, topic, partition)                                   \
  ((resp).ntopics == 1 && flyq_str_eq((resp).topics[0].name, (topic)) &&      \
   (resp).topics[0].nparts == 1 &&                                            \
   (resp).topics[0].parts[0].partition == (partition))

/* Blocking-call arguments that must not be NULL. */
static int need(flyq_client_t *c, const void *a, const void *b,
                const char *what) {
  if (a != NULL && b != NULL) return 0;
  return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                           "%s: missing argument", what);
}

int flyq_client_authenticate(flyq_client_t *c, const char *mechanism,
                             const void *credentials, size_t len,
                             const char **principal) {
  flyq_proto_req_header_t h;
  flyq_proto_authenticate_req_t req = {flyq_str(mechanism), {NULL, -1}};
  flyq_proto_authenticate_resp_t resp;
  int r = need(c, mechanism, c, "Authenticate");
  if (r == 0) r = flyq__start(c, FLYQ_API_AUTHENTICATE, &h);
  if (r < 0) return r;
  if (len > INT32_MAX || (credentials == NULL && len > 0))
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                             "Authenticate: invalid credentials");
  if (credentials) req.credentials = (flyq_bytes_t){credentials, (int32_t)len};
  r = flyq_proto_encode_authenticate_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, "Authenticate") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "Authenticate");
  if (r < 0) return r;
  if (flyq_proto_decode_authenticate_resp(c->sync.payload, c->sync.len,
                                          &c->arena, &resp) < 0)
    return flyq__malformed(c, "Authenticate");
  if (principal) *principal = flyq__cstr(&c->arena, resp.principal);
  return 0;
}

int flyq_client_list_offset(flyq_client_t *c, const char *topic,
                            int32_t partition, int64_t timestamp,
                            int64_t *offset) {
  flyq_proto_req_header_t h;
  flyq_proto_list_offsets_req_part_t part = {partition, timestamp};
  flyq_proto_list_offsets_req_topic_t t = {flyq_str(topic), &part, 1};
  flyq_proto_list_offsets_req_t req = {&t, 1};
  flyq_proto_list_offsets_resp_t resp;
  const flyq_proto_list_offsets_resp_part_t *rp;
  int r = need(c, topic, offset, "ListOffsets");
  if (r == 0) r = flyq__start(c, FLYQ_API_LIST_OFFSETS, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_list_offsets_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, "ListOffsets") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "ListOffsets");
  if (r < 0) return r;
  if (flyq_proto_decode_list_offsets_resp(c->sync.payload, c->sync.len,
                                          &c->arena, &resp) < 0 ||
      !ANSWERS_ONE(resp, topic, partition))
    return flyq__malformed(c, "ListOffsets");
  rp = &resp.topics[0].parts[0];
  if (rp->error_code != 0)
    return flyq__client_wire_fail(c, "ListOffsets", rp->error_code,
                                  flyq_str(NULL));
  *offset = rp->offset;
  return 0;
}

/* The outcome of CreateTopics / DeleteTopics for our one topic. */
static int topic_result(flyq_client_t *c, const char *what, const char *topic,
                        const flyq_proto_topic_result_t *t, int32_t n) {
  char buf[300];
  if (n != 1 || !flyq_str_eq(t[0].name, topic)) return flyq__malformed(c, what);
  if (t[0].error_code == 0) return 0;
  snprintf(buf, sizeof(buf), "%s %s", what, topic);
  return flyq__client_wire_fail(c, buf, t[0].error_code, t[0].error_message);
}

int flyq_client_create_topic(flyq_client_t *c, const char *topic,
                             int32_t partitions,
                             const flyq_client_config_pair_t *configs,
                             size_t nconfigs) {
  flyq_proto_req_header_t h;
  flyq_proto_create_topic_t t = {flyq_str(topic), partitions, NULL, 0};
  flyq_proto_create_topics_req_t req = {&t, 1};
  flyq_proto_create_topics_resp_t resp;
  flyq_proto_config_t *cfg;
  int r = need(c, topic, nconfigs ? (const void *)configs : c, "CreateTopics");
  if (r == 0) r = flyq__start(c, FLYQ_API_CREATE_TOPICS, &h);
  if (r < 0) return r;
  cfg = flyq_arena_calloc(&c->arena, nconfigs + 1, sizeof(*cfg));
  if (cfg == NULL || nconfigs > INT32_MAX)
    return flyq__client_fail(c, -ENOMEM, 0, "CreateTopics: out of memory");
  for (size_t i = 0; i < nconfigs; i++) {
    cfg[i].key = flyq_str(configs[i].key);
    cfg[i].value = flyq_str(configs[i].value);
  }
  t.configs = cfg;
  t.nconfigs = (int32_t)nconfigs;
  r = flyq_proto_encode_create_topics_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, "CreateTopics") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "CreateTopics");
  if (r < 0) return r;
  if (flyq_proto_decode_create_topics_resp(c->sync.payload, c->sync.len,
                                           &c->arena, &resp) < 0)
    return flyq__malformed(c, "CreateTopics");
  return topic_result(c, "CreateTopics", topic, resp.topics, resp.ntopics);
}

int flyq_client_delete_topic(flyq_client_t *c, const char *topic) {
  flyq_proto_req_header_t h;
  flyq_str_t name = flyq_str(topic);
  flyq_proto_delete_topics_req_t req = {&name, 1};
  flyq_proto_delete_topics_resp_t resp;
  int r = need(c, topic, c, "DeleteTopics");
  if (r == 0) r = flyq__start(c, FLYQ_API_DELETE_TOPICS, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_delete_topics_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, "DeleteTopics") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "DeleteTopics");
  if (r < 0) return r;
  if (flyq_proto_decode_delete_topics_resp(c->sync.payload, c->sync.len,
                                           &c->arena, &resp) < 0)
    return flyq__malformed(c, "DeleteTopics");
  return topic_result(c, "DeleteTopics", topic, resp.topics, resp.ntopics);
}

int flyq_client_offset_commit(flyq_client_t *c, const char *group,
                              const char *topic, int32_t partition,
                              int64_t offset) {
  flyq_proto_req_header_t h;
  flyq_proto_offset_commit_req_part_t part = {partition, offset};
  flyq_proto_offset_commit_req_topic_t t = {flyq_str(topic), &part, 1};
  flyq_proto_offset_commit_req_t req = {flyq_str(group), &t, 1};
  flyq_proto_offset_commit_resp_t resp;
  const flyq_proto_offset_commit_resp_part_t *rp;
  int r = need(c, group, topic, "OffsetCommit");
  if (r == 0) r = flyq__start(c, FLYQ_API_OFFSET_COMMIT, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_offset_commit_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, "OffsetCommit") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "OffsetCommit");
  if (r < 0) return r;
  if (flyq_proto_decode_offset_commit_resp(c->sync.payload, c->sync.len,
                                           &c->arena, &resp) < 0 ||
      !ANSWERS_ONE(resp, topic, partition))
    return flyq__malformed(c, "OffsetCommit");
  rp = &resp.topics[0].parts[0];
  if (rp->error_code != 0)
    return flyq__client_wire_fail(c, "OffsetCommit", rp->error_code,
                                  flyq_str(NULL));
  return 0;
}

int flyq_client_offset_fetch(flyq_client_t *c, const char *group,
                             const char *topic, int32_t partition,
                             int64_t *offset) {
  flyq_proto_req_header_t h;
  flyq_proto_offset_fetch_req_topic_t t = {flyq_str(topic), &partition, 1};
  flyq_proto_offset_fetch_req_t req = {flyq_str(group), &t, 1};
  flyq_proto_offset_fetch_resp_t resp;
  const flyq_proto_offset_fetch_resp_part_t *rp;
  int r = need(c, group, topic, "OffsetFetch");
  if (r == 0) r = flyq__start(c, FLYQ_API_OFFSET_FETCH, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_offset_fetch_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, "OffsetFetch") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "OffsetFetch");
  if (r < 0) return r;
  if (flyq_proto_decode_offset_fetch_resp(c->sync.payload, c->sync.len,
                                          &c->arena, &resp) < 0 ||
      !ANSWERS_ONE(resp, topic, partition))
    return flyq__malformed(c, "OffsetFetch");
  rp = &resp.topics[0].parts[0];
  if (rp->error_code != 0)
    return flyq__client_wire_fail(c, "OffsetFetch", rp->error_code,
                                  flyq_str(NULL));
  *offset = rp->offset;
  return 0;
}
