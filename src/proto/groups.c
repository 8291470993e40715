/* Consumer group APIs: OffsetCommit (8), OffsetFetch (9) and ListGroups
 * (16): request and response codecs (docs/protocol.md).
 */
#include <string.h>

#include "proto/proto_int.h"

#define COMMIT_REQ_PART_MIN 12 /* partition, offset */
#define COMMIT_RESP_PART_MIN 6 /* partition, error */
#define FETCH_RESP_PART_MIN 14 /* partition, offset, error */

/* ---- OffsetCommit ---- */

static void put_commit_part(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_offset_commit_req_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i64(b, p->offset);
}

static void get_commit_part(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_offset_commit_req_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->offset = flyq_reader_get_i64(r);
}

static void put_commit_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_offset_commit_req_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0,
                  put_commit_part, ctx);
}

static void get_commit_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_offset_commit_req_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, COMMIT_REQ_PART_MIN, 0,
                             &t->nparts, get_commit_part);
}

int flyq_proto_encode_offset_commit_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_offset_commit_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_OFFSET_COMMIT);
  flyq__put_name(b, req->group);
  flyq__put_elems(b, req->topics, req->ntopics, sizeof *req->topics, 0,
                  put_commit_topic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_offset_commit_req(flyq_reader_t *r, flyq_arena_t *a,
                                        flyq_proto_offset_commit_req_t *req) {
  memset(req, 0, sizeof *req);
  req->group = flyq__get_name(r);
  req->topics = flyq__get_elems(r, a, sizeof *req->topics, FLYQ__MIN_TOPIC, 0,
                                &req->ntopics, get_commit_topic);
  return flyq__dec_finish(r);
}

static void put_commit_result(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_offset_commit_resp_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i16(b, p->error_code);
}

static void get_commit_result(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_offset_commit_resp_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->error_code = flyq_reader_get_i16(r);
}

static void put_commit_rtopic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_offset_commit_resp_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0,
                  put_commit_result, ctx);
}

static void get_commit_rtopic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_offset_commit_resp_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, COMMIT_RESP_PART_MIN, 0,
                             &t->nparts, get_commit_result);
}

int flyq_proto_encode_offset_commit_resp(
    flyq_buf_t *b, const flyq_proto_offset_commit_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq__put_elems(b, resp->topics, resp->ntopics, sizeof *resp->topics, 0,
                    put_commit_rtopic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_offset_commit_resp(
    const uint8_t *p, size_t len, flyq_arena_t *a,
    flyq_proto_offset_commit_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->topics = flyq__get_elems(&r, a, sizeof *resp->topics,
                                   FLYQ__MIN_TOPIC, 0, &resp->ntopics,
                                   get_commit_rtopic);
  return flyq__dec_finish(&r);
}

/* ---- OffsetFetch ---- */

static void put_i32_elem(flyq_buf_t *b, const void *elem, void *ctx) {
  (void)ctx;
  flyq_buf_put_i32(b, *(const int32_t *)elem);
}

static void get_i32_elem(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  (void)a;
  *(int32_t *)elem = flyq_reader_get_i32(r);
}

static void put_fetch_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_offset_fetch_req_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->partitions, t->npartitions, sizeof *t->partitions, 0,
                  put_i32_elem, ctx);
}

static void get_fetch_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_offset_fetch_req_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->partitions = flyq__get_elems(r, a, sizeof *t->partitions, 4, 0,
                                  &t->npartitions, get_i32_elem);
}

int flyq_proto_encode_offset_fetch_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_offset_fetch_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_OFFSET_FETCH);
  flyq__put_name(b, req->group);
  flyq__put_elems(b, req->topics, req->ntopics, sizeof *req->topics, 1,
                  put_fetch_topic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_offset_fetch_req(flyq_reader_t *r, flyq_arena_t *a,
                                       flyq_proto_offset_fetch_req_t *req) {
  memset(req, 0, sizeof *req);
  req->group = flyq__get_name(r);
  req->topics = flyq__get_elems(r, a, sizeof *req->topics, FLYQ__MIN_TOPIC, 1,
                                &req->ntopics, get_fetch_topic);
  return flyq__dec_finish(r);
}

static void put_fetch_result(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_offset_fetch_resp_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i64(b, p->offset);
  flyq_buf_put_i16(b, p->error_code);
}

static void get_fetch_result(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_offset_fetch_resp_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->offset = flyq_reader_get_i64(r);
  p->error_code = flyq_reader_get_i16(r);
}

static void put_fetch_rtopic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_offset_fetch_resp_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0,
                  put_fetch_result, ctx);
}

static void get_fetch_rtopic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_offset_fetch_resp_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, FETCH_RESP_PART_MIN, 0,
                             &t->nparts, get_fetch_result);
}

int flyq_proto_encode_offset_fetch_resp(
    flyq_buf_t *b, const flyq_proto_offset_fetch_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq__put_elems(b, resp->topics, resp->ntopics, sizeof *resp->topics, 0,
                    put_fetch_rtopic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_offset_fetch_resp(const uint8_t *p, size_t len,
                                        flyq_arena_t *a,
                                        flyq_proto_offset_fetch_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->topics = flyq__get_elems(&r, a, sizeof *resp->topics,
                                   FLYQ__MIN_TOPIC, 0, &resp->ntopics,
                                   get_fetch_rtopic);
  return flyq__dec_finish(&r);
}

/* ---- ListGroups ---- */

int flyq_proto_encode_list_groups_req(flyq_buf_t *b,
                                      const flyq_proto_req_header_t *h) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_LIST_GROUPS);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_list_groups_req(flyq_reader_t *r) {
  return flyq__dec_finish(r);
}

int flyq_proto_encode_list_groups_resp(
    flyq_buf_t *b, const flyq_proto_list_groups_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq__put_elems(b, resp->groups, resp->ngroups, sizeof *resp->groups, 0,
                    flyq__put_name_elem, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_list_groups_resp(const uint8_t *p, size_t len,
                                       flyq_arena_t *a,
                                       flyq_proto_list_groups_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->groups = flyq__get_elems(&r, a, sizeof *resp->groups,
                                   FLYQ__MIN_STRING, 0, &resp->ngroups,
                                   flyq__get_name_elem);
  return flyq__dec_finish(&r);
}
