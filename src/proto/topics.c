/* CreateTopics (API 19) and DeleteTopics (API 20): request and response
 * codecs (docs/protocol.md). Both answer with one result per topic.
 */
#include <string.h>

#include "proto/proto_int.h"

#define CREATE_MIN 10 /* name, partitions, configs count */

static void put_create(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_create_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq_buf_put_i32(b, t->partitions);
  flyq__put_elems(b, t->configs, t->nconfigs, sizeof *t->configs, 0,
                  flyq__put_config, ctx);
}

static void get_create(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_create_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->partitions = flyq_reader_get_i32(r);
  t->configs = flyq__get_elems(r, a, sizeof *t->configs, FLYQ__MIN_CONFIG, 0,
                               &t->nconfigs, flyq__get_config);
}

int flyq_proto_encode_create_topics_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_create_topics_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_CREATE_TOPICS);
  flyq__put_elems(b, req->topics, req->ntopics, sizeof *req->topics, 0,
                  put_create, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_create_topics_req(flyq_reader_t *r, flyq_arena_t *a,
                                        flyq_proto_create_topics_req_t *req) {
  memset(req, 0, sizeof *req);
  req->topics = flyq__get_elems(r, a, sizeof *req->topics, CREATE_MIN, 0,
                                &req->ntopics, get_create);
  return flyq__dec_finish(r);
}

/* Both responses are a list of topic results after the common prefix. */
static int encode_results(flyq_buf_t *b, const flyq_proto_resp_header_t *h,
                          const flyq_proto_topic_result_t *topics, int32_t n) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, h);
  if (h->error_code == 0)
    flyq__put_elems(b, topics, n, sizeof *topics, 0, flyq__put_topic_result,
                    NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

static int decode_results(const uint8_t *p, size_t len, flyq_arena_t *a,
                          flyq_proto_resp_header_t *h,
                          const flyq_proto_topic_result_t **topics,
                          int32_t *n) {
  flyq_reader_t r;
  *topics = NULL;
  *n = 0;
  if (flyq__dec_resp_begin(&r, p, len, h))
    *topics = flyq__get_elems(&r, a, sizeof **topics, FLYQ__MIN_TOPIC_RESULT,
                              0, n, flyq__get_topic_result);
  return flyq__dec_finish(&r);
}

int flyq_proto_encode_create_topics_resp(
    flyq_buf_t *b, const flyq_proto_create_topics_resp_t *resp) {
  return encode_results(b, &resp->hdr, resp->topics, resp->ntopics);
}

int flyq_proto_decode_create_topics_resp(
    const uint8_t *p, size_t len, flyq_arena_t *a,
    flyq_proto_create_topics_resp_t *resp) {
  memset(resp, 0, sizeof *resp);
  return decode_results(p, len, a, &resp->hdr, &resp->topics, &resp->ntopics);
}

int flyq_proto_encode_delete_topics_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_delete_topics_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_DELETE_TOPICS);
  flyq__put_elems(b, req->names, req->nnames, sizeof *req->names, 0,
                  flyq__put_name_elem, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_delete_topics_req(flyq_reader_t *r, flyq_arena_t *a,
                                        flyq_proto_delete_topics_req_t *req) {
  memset(req, 0, sizeof *req);
  req->names = flyq__get_elems(r, a, sizeof *req->names, FLYQ__MIN_STRING, 0,
                               &req->nnames, flyq__get_name_elem);
  return flyq__dec_finish(r);
}

int flyq_proto_encode_delete_topics_resp(
    flyq_buf_t *b, const flyq_proto_delete_topics_resp_t *resp) {
  return encode_results(b, &resp->hdr, resp->topics, resp->ntopics);
}

int flyq_proto_decode_delete_topics_resp(
    const uint8_t *p, size_t len, flyq_arena_t *a,
    flyq_proto_delete_topics_resp_t *resp) {
  memset(resp, 0, sizeof *resp);
  return decode_results(p, len, a, &resp->hdr, &resp->topics, &resp->ntopics);
}
