/* ListOffsets (API 2): request and response codecs (docs/protocol.md,
 * "ListOffsets").
 */
#include <string.h>

#include "proto/proto_int.h"

#define REQ_PART_MIN 12  /* partition, timestamp */
#define RESP_PART_MIN 14 /* partition, error, offset */

static void put_req_part(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_list_offsets_req_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i64(b, p->timestamp);
}

static void get_req_part(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_list_offsets_req_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->timestamp = flyq_reader_get_i64(r);
}

static void put_req_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_list_offsets_req_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0, put_req_part,
                  ctx);
}

static void get_req_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_list_offsets_req_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, REQ_PART_MIN, 0,
                             &t->nparts, get_req_part);
}

int flyq_proto_encode_list_offsets_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_list_offsets_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_LIST_OFFSETS);
  flyq__put_elems(b, req->topics, req->ntopics, sizeof *req->topics, 0,
                  put_req_topic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_list_offsets_req(flyq_reader_t *r, flyq_arena_t *a,
                                       flyq_proto_list_offsets_req_t *req) {
  memset(req, 0, sizeof *req);
  req->topics = flyq__get_elems(r, a, sizeof *req->topics, FLYQ__MIN_TOPIC, 0,
                                &req->ntopics, get_req_topic);
  return flyq__dec_finish(r);
}

static void put_resp_part(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_list_offsets_resp_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i16(b, p->error_code);
  flyq_buf_put_i64(b, p->offset);
}

static void get_resp_part(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_list_offsets_resp_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->error_code = flyq_reader_get_i16(r);
  p->offset = flyq_reader_get_i64(r);
}

static void put_resp_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_list_offsets_resp_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0, put_resp_part,
                  ctx);
}

static void get_resp_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_list_offsets_resp_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, RESP_PART_MIN, 0,
                             &t->nparts, get_resp_part);
}

int flyq_proto_encode_list_offsets_resp(
    flyq_buf_t *b, const flyq_proto_list_offsets_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq__put_elems(b, resp->topics, resp->ntopics, sizeof *resp->topics, 0,
                    put_resp_topic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_list_offsets_resp(const uint8_t *p, size_t len,
                                        flyq_arena_t *a,
                                        flyq_proto_list_offsets_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->topics = flyq__get_elems(&r, a, sizeof *resp->topics,
                                   FLYQ__MIN_TOPIC, 0, &resp->ntopics,
                                   get_resp_topic);
  return flyq__dec_finish(&r);
}
