/* Produce (API 0): request and response codecs (docs/protocol.md,
 * "Produce"). Record bytes are carried as opaque bytes; validating the
 * batches is the broker's job.
 */
#include <string.h>

#include "proto/proto_int.h"

#define REQ_PART_MIN 8   /* partition + records length */
#define RESP_PART_MIN 32 /* partition, error, message, three offsets */

static void put_req_part(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_produce_req_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_bytes(b, p->records.ptr, p->records.len);
}

static void get_req_part(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_produce_req_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->records = flyq_reader_get_bytes(r);
}

static void put_req_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_produce_req_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0, put_req_part,
                  ctx);
}

static void get_req_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_produce_req_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, REQ_PART_MIN, 0,
                             &t->nparts, get_req_part);
}

int flyq_proto_encode_produce_req(flyq_buf_t *b,
                                  const flyq_proto_req_header_t *h,
                                  const flyq_proto_produce_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_PRODUCE);
  flyq_buf_put_i8(b, req->acks);
  flyq_buf_put_i32(b, req->timeout_ms);
  flyq__put_elems(b, req->topics, req->ntopics, sizeof *req->topics, 0,
                  put_req_topic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_produce_req(flyq_reader_t *r, flyq_arena_t *a,
                                  flyq_proto_produce_req_t *req) {
  memset(req, 0, sizeof *req);
  req->acks = flyq_reader_get_i8(r);
  req->timeout_ms = flyq_reader_get_i32(r);
  req->topics = flyq__get_elems(r, a, sizeof *req->topics, FLYQ__MIN_TOPIC, 0,
                                &req->ntopics, get_req_topic);
  return flyq__dec_finish(r);
}

static void put_resp_part(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_produce_resp_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i16(b, p->error_code);
  flyq_buf_put_str(b, p->error_message);
  flyq_buf_put_i64(b, p->base_offset);
  flyq_buf_put_i64(b, p->last_offset);
  flyq_buf_put_i64(b, p->log_start_offset);
}

static void get_resp_part(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_produce_resp_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->error_code = flyq_reader_get_i16(r);
  p->error_message = flyq_reader_get_string(r);
  p->base_offset = flyq_reader_get_i64(r);
  p->last_offset = flyq_reader_get_i64(r);
  p->log_start_offset = flyq_reader_get_i64(r);
}

static void put_resp_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_produce_resp_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0, put_resp_part,
                  ctx);
}

static void get_resp_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_produce_resp_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, RESP_PART_MIN, 0,
                             &t->nparts, get_resp_part);
}

int flyq_proto_encode_produce_resp(flyq_buf_t *b,
                                   const flyq_proto_produce_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq__put_elems(b, resp->topics, resp->ntopics, sizeof *resp->topics, 0,
                    put_resp_topic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_produce_resp(const uint8_t *p, size_t len,
                                   flyq_arena_t *a,
                                   flyq_proto_produce_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->topics = flyq__get_elems(&r, a, sizeof *resp->topics,
                                   FLYQ__MIN_TOPIC, 0, &resp->ntopics,
                                   get_resp_topic);
  return flyq__dec_finish(&r);
}
