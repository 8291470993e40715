/* Writes the binary seed corpora of the fuzz targets, made with FlyQ's own
 * encoders so that every seed is valid and fuzzing starts deep inside the
 * decoders:
 *
 *   fuzz_seeds DIR   writes DIR/request/, DIR/response/ and DIR/batch/
 *
 * request:  one frame per API (and pipelined frames), as a client sends;
 * response: the API key byte, then one response payload per API, as
 *           fuzz_response.c reads them;
 * batch:    record batches from the builder, alone and back to back.
 * The config corpus is hand-written Lua (fuzz/corpus/config/). Run it after
 * changing an encoder: `make fuzz` does not regenerate the committed seeds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flyq/batch.h"
#include "flyq/proto.h"

static const char *out_dir;

/* Writes DIR/target/name; exits on failure (this is a tool). */
static void write_seed(const char *target, const char *name,
                       const uint8_t *data, size_t len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", out_dir, target);
  if (mkdir(path, 0755) < 0 && errno != EEXIST) goto fail;
  snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) goto fail;
  return;
fail:
  perror(path);
  exit(1);
}

static void must(int r, const char *what) {
  if (r == 0) return;
  fprintf(stderr, "fuzz_seeds: %s: %s\n", what, flyq_strerror(r));
  exit(1);
}

/* ---- Batches ---------------------------------------------------------- */

static const flyq_record_header_t seed_headers[] = {
    {(const uint8_t *)"trace", 5, (const uint8_t *)"abc123", 6},
    {(const uint8_t *)"empty", 5, (const uint8_t *)"", 0},
    {(const uint8_t *)"null", 4, NULL, -1},
};

/* A batch of n records into buf (malloc'd, caller frees); kind picks the
 * record shapes. */
static size_t make_batch(int kind, int n, uint8_t **buf) {
  static const char big[300] = {'v'};
  flyq_batch_builder_t b;
  const uint8_t *data;
  size_t len;
  flyq_batch_builder_init(&b);
  for (int i = 0; i < n; i++) {
    int64_t ts = 1700000000000 + (kind == 2 ? -i * 7 : i);
    int r = kind == 0   ? flyq_batch_builder_add(&b, ts, "k", 1, "value", 5,
                                                 NULL, 0)
            : kind == 1 ? flyq_batch_builder_add(&b, ts, NULL, 0, NULL, 0,
                                                 NULL, 0)
            : kind == 2 ? flyq_batch_builder_add(&b, ts, "key", 3, "v", 1,
                                                 seed_headers, 3)
                        : flyq_batch_builder_add(&b, ts, "", 0, big,
                                                 sizeof big, seed_headers, 1);
    must(r, "batch add");
  }
  must(flyq_batch_builder_finish(&b, &data, &len), "batch finish");
  *buf = malloc(len);
  if (*buf == NULL) must(-ENOMEM, "malloc");
  memcpy(*buf, data, len);
  flyq_batch_builder_free(&b);
  return len;
}

static void batch_seeds(void) {
  static const struct { const char *name; int kind, n; } seeds[] = {
      {"one-record", 0, 1},   {"null-key-value", 1, 1},
      {"headers", 2, 3},      {"many-records", 0, 20},
      {"long-value", 3, 2},
  };
  uint8_t *a, *b, *both;
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
    size_t len = make_batch(seeds[i].kind, seeds[i].n, &a);
    write_seed("batch", seeds[i].name, a, len);
    free(a);
  }
  size_t la = make_batch(2, 2, &a), lb = make_batch(0, 3, &b);
  flyq_batch_set_base_offset(b, 2);
  both = malloc(la + lb);
  if (both == NULL) must(-ENOMEM, "malloc");
  memcpy(both, a, la);
  memcpy(both + la, b, lb);
  write_seed("batch", "two-batches", both, la + lb);
  free(a);
  free(b);
  free(both);
}

/* Two batches back to back (malloc'd), carried by produce and fetch. */
static flyq_bytes_t seed_records(void) {
  uint8_t *a, *b, *both;
  size_t la = make_batch(2, 2, &a), lb = make_batch(1, 2, &b);
  flyq_batch_set_base_offset(b, 2);
  both = malloc(la + lb);
  if (both == NULL) must(-ENOMEM, "malloc");
  memcpy(both, a, la);
  memcpy(both + la, b, lb);
  free(a);
  free(b);
  return (flyq_bytes_t){both, (int32_t)(la + lb)};
}

/* ---- Requests --------------------------------------------------------- */

static flyq_proto_req_header_t hdr(int16_t api_key) {
  flyq_proto_req_header_t h = {api_key, 0, 100 + api_key, flyq_str("seeds")};
  return h;
}

/* Encodes the request of api_key with body req into b. */
static int encode_req(flyq_buf_t *b, int16_t api_key, const void *req) {
  flyq_proto_req_header_t h = hdr(api_key);
  switch (api_key) {
  case FLYQ_API_PRODUCE: return flyq_proto_encode_produce_req(b, &h, req);
  case FLYQ_API_FETCH: return flyq_proto_encode_fetch_req(b, &h, req);
  case FLYQ_API_LIST_OFFSETS:
    return flyq_proto_encode_list_offsets_req(b, &h, req);
  case FLYQ_API_METADATA: return flyq_proto_encode_metadata_req(b, &h, req);
  case FLYQ_API_OFFSET_COMMIT:
    return flyq_proto_encode_offset_commit_req(b, &h, req);
  case FLYQ_API_OFFSET_FETCH:
    return flyq_proto_encode_offset_fetch_req(b, &h, req);
  case FLYQ_API_LIST_GROUPS: return flyq_proto_encode_list_groups_req(b, &h);
  case FLYQ_API_API_VERSIONS:
    return flyq_proto_encode_api_versions_req(b, &h);
  case FLYQ_API_CREATE_TOPICS:
    return flyq_proto_encode_create_topics_req(b, &h, req);
  case FLYQ_API_DELETE_TOPICS:
    return flyq_proto_encode_delete_topics_req(b, &h, req);
  case FLYQ_API_AUTHENTICATE:
    return flyq_proto_encode_authenticate_req(b, &h, req);
  }
  return FLYQ_ERR_INVALID_ARG;
}

static void request_seed(const char *name, int16_t api_key, const void *req) {
  flyq_buf_t b;
  flyq_buf_init(&b);
  must(encode_req(&b, api_key, req), name);
  write_seed("request", name, b.data, b.len);
  flyq_buf_free(&b);
}

static const flyq_str_t names[] = {{"orders", 6}, {"audit-log", 9}};
static const flyq_proto_config_t configs[] = {
    {{"retention.ms", 12}, {"604800000", 9}},
    {{"segment.bytes", 13}, {"1048576", 7}}};

static void request_seeds(flyq_bytes_t records) {
  flyq_proto_produce_req_part_t pp[] = {{0, records}, {-1, {NULL, -1}}};
  flyq_proto_produce_req_topic_t pt = {names[0], pp, 2};
  flyq_proto_produce_req_t produce = {-1, 30000, &pt, 1};
  flyq_proto_fetch_req_part_t fp[] = {{0, 0, 1 << 20}, {3, 42, 4096}};
  flyq_proto_fetch_req_topic_t ft = {names[0], fp, 2};
  flyq_proto_fetch_req_t fetch = {500, 1, 1 << 24, &ft, 1};
  flyq_proto_list_offsets_req_part_t lp[] = {
      {0, FLYQ_PROTO_TIMESTAMP_EARLIEST}, {1, FLYQ_PROTO_TIMESTAMP_LATEST}};
  flyq_proto_list_offsets_req_topic_t lt = {names[0], lp, 2};
  flyq_proto_list_offsets_req_t list_offsets = {&lt, 1};
  flyq_proto_metadata_req_t metadata = {names, 2}, metadata_all = {NULL, -1};
  flyq_proto_offset_commit_req_part_t cp[] = {{0, 42}, {1, 7}};
  flyq_proto_offset_commit_req_topic_t ct = {names[0], cp, 2};
  flyq_proto_offset_commit_req_t commit = {{"group-1", 7}, &ct, 1};
  int32_t partitions[] = {0, 1};
  flyq_proto_offset_fetch_req_topic_t ot = {names[0], partitions, 2};
  flyq_proto_offset_fetch_req_t ofetch = {{"group-1", 7}, &ot, 1};
  flyq_proto_offset_fetch_req_t ofetch_all = {{"group-1", 7}, NULL, -1};
  flyq_proto_create_topic_t nt[] = {{names[0], 6, configs, 2},
                                    {names[1], 1, NULL, 0}};
  flyq_proto_create_topics_req_t create = {nt, 2};
  flyq_proto_delete_topics_req_t del = {names, 2};
  flyq_proto_authenticate_req_t auth = {{"token", 5},
                                        {(const uint8_t *)"secret", 6}};
  request_seed("produce", FLYQ_API_PRODUCE, &produce);
  request_seed("fetch", FLYQ_API_FETCH, &fetch);
  request_seed("list-offsets", FLYQ_API_LIST_OFFSETS, &list_offsets);
  request_seed("metadata", FLYQ_API_METADATA, &metadata);
  request_seed("metadata-all", FLYQ_API_METADATA, &metadata_all);
  request_seed("offset-commit", FLYQ_API_OFFSET_COMMIT, &commit);
  request_seed("offset-fetch", FLYQ_API_OFFSET_FETCH, &ofetch);
  request_seed("offset-fetch-all", FLYQ_API_OFFSET_FETCH, &ofetch_all);
  request_seed("list-groups", FLYQ_API_LIST_GROUPS, NULL);
  request_seed("api-versions", FLYQ_API_API_VERSIONS, NULL);
  request_seed("create-topics", FLYQ_API_CREATE_TOPICS, &create);
  request_seed("delete-topics", FLYQ_API_DELETE_TOPICS, &del);
  request_seed("authenticate", FLYQ_API_AUTHENTICATE, &auth);
}

/* Two frames in one input, as a pipelining client sends them. */
static void pipelined_seed(void) {
  flyq_proto_metadata_req_t metadata = {names, 1};
  flyq_proto_req_header_t h = {FLYQ_API_API_VERSIONS, 0, 1, {NULL, -1}};
  flyq_buf_t b;
  flyq_buf_init(&b);
  must(flyq_proto_encode_api_versions_req(&b, &h), "pipelined");
  must(encode_req(&b, FLYQ_API_METADATA, &metadata), "pipelined");
  write_seed("request", "pipelined", b.data, b.len);
  flyq_buf_free(&b);
}

/* ---- Responses -------------------------------------------------------- */

/* Writes the frame in b as a response seed: the API key byte, then the
 * payload without the 4-byte size. */
static void response_seed(const char *name, int16_t api_key, flyq_buf_t *b,
                          int r) {
  must(r, name);
  b->data[3] = (uint8_t)api_key; /* the size's last byte becomes the key */
  write_seed("response", name, b->data + 3, b->len - 3);
  flyq_buf_reset(b);
}

static const flyq_proto_resp_header_t ok = {7, 0, {NULL, -1}};

static void response_seeds_1(flyq_buf_t *b, flyq_bytes_t records) {
  flyq_proto_api_versions_resp_t versions = {
      ok, flyq_proto_api_versions, FLYQ_PROTO_API_COUNT, flyq_str("0.1.0")};
  flyq_proto_produce_resp_part_t pp[] = {
      {0, 0, {NULL, -1}, 10, 12, 0}, {1, 3, flyq_str("no such partition"),
                                      -1, -1, -1}};
  flyq_proto_produce_resp_topic_t pt = {names[0], pp, 2};
  flyq_proto_produce_resp_t produce = {ok, &pt, 1};
  flyq_proto_fetch_resp_part_t fp[] = {
      {0, 0, {NULL, -1}, 4, 0, 4, records}, {1, 1, flyq_str("out of range"),
                                            0, 0, 0, {NULL, -1}}};
  flyq_proto_fetch_resp_topic_t ft = {names[0], fp, 2};
  flyq_proto_fetch_resp_t fetch = {ok, &ft, 1};
  flyq_proto_list_offsets_resp_part_t lp[] = {{0, 0, 0}, {1, 0, 99}};
  flyq_proto_list_offsets_resp_topic_t lt = {names[0], lp, 2};
  flyq_proto_list_offsets_resp_t list_offsets = {ok, &lt, 1};
  response_seed("api-versions", FLYQ_API_API_VERSIONS, b,
                flyq_proto_encode_api_versions_resp(b, &versions));
  response_seed("produce", FLYQ_API_PRODUCE, b,
                flyq_proto_encode_produce_resp(b, &produce));
  response_seed("fetch", FLYQ_API_FETCH, b,
                flyq_proto_encode_fetch_resp(b, &fetch, NULL, 0));
  response_seed("list-offsets", FLYQ_API_LIST_OFFSETS, b,
                flyq_proto_encode_list_offsets_resp(b, &list_offsets));
}

static void response_seeds_2(flyq_buf_t *b) {
  flyq_proto_metadata_part_t mp[] = {{0, 0, 10, 10, 1, 4096, -1},
                                     {1, 5, 6, 6, 2, 100, 1700000000000}};
  flyq_proto_metadata_topic_t mt[] = {{names[0], 0, mp, 2, configs, 2},
                                      {names[1], 3, NULL, 0, NULL, 0}};
  flyq_proto_metadata_resp_t metadata = {ok, flyq_str("127.0.0.1"), 7500, mt,
                                         2};
  flyq_proto_offset_commit_resp_part_t cp[] = {{0, 0}, {1, 3}};
  flyq_proto_offset_commit_resp_topic_t ct = {names[0], cp, 2};
  flyq_proto_offset_commit_resp_t commit = {ok, &ct, 1};
  flyq_proto_offset_fetch_resp_part_t op[] = {{0, 42, 0}, {1, -1, 0}};
  flyq_proto_offset_fetch_resp_topic_t ot = {names[0], op, 2};
  flyq_proto_offset_fetch_resp_t ofetch = {ok, &ot, 1};
  response_seed("metadata", FLYQ_API_METADATA, b,
                flyq_proto_encode_metadata_resp(b, &metadata));
  response_seed("offset-commit", FLYQ_API_OFFSET_COMMIT, b,
                flyq_proto_encode_offset_commit_resp(b, &commit));
  response_seed("offset-fetch", FLYQ_API_OFFSET_FETCH, b,
                flyq_proto_encode_offset_fetch_resp(b, &ofetch));
}

static void response_seeds_3(flyq_buf_t *b) {
  flyq_proto_list_groups_resp_t groups = {ok, names, 2};
  flyq_proto_topic_result_t results[] = {
      {names[0], 0, {NULL, -1}}, {names[1], 36, flyq_str("already exists")}};
  flyq_proto_create_topics_resp_t create = {ok, results, 2};
  flyq_proto_delete_topics_resp_t del = {ok, results, 2};
  flyq_proto_authenticate_resp_t auth = {ok, flyq_str("alice")};
  response_seed("list-groups", FLYQ_API_LIST_GROUPS, b,
                flyq_proto_encode_list_groups_resp(b, &groups));
  response_seed("create-topics", FLYQ_API_CREATE_TOPICS, b,
                flyq_proto_encode_create_topics_resp(b, &create));
  response_seed("delete-topics", FLYQ_API_DELETE_TOPICS, b,
                flyq_proto_encode_delete_topics_resp(b, &del));
  response_seed("authenticate", FLYQ_API_AUTHENTICATE, b,
                flyq_proto_encode_authenticate_resp(b, &auth));
  response_seed("error-only", FLYQ_API_PRODUCE, b,
                flyq_proto_encode_error_response(
                    b, 7, FLYQ_WIRE_INVALID_REQUEST, "bad request"));
  response_seed("prefix-only", 0xff, b,
                flyq_proto_encode_error_response(b, -1, 0, NULL));
}

int main(int argc, char **argv) {
  flyq_bytes_t records;
  flyq_buf_t b;
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  records = seed_records();
  batch_seeds();
  request_seeds(records);
  pipelined_seed();
  flyq_buf_init(&b);
  response_seeds_1(&b, records);
  response_seeds_2(&b);
  response_seeds_3(&b);
  flyq_buf_free(&b);
  free((void *)records.ptr);
  return 0;
}
