/* Fetch (API 1): request and response codecs (docs/protocol.md, "Fetch").
 *
 * The response encoder can leave a partition's record bytes out of the
 * buffer and report where they belong (a splice point), so the server sends
 * stored batches unchanged from wherever they are.
 */
#include <string.h>

#include "proto/proto_int.h"

#define REQ_PART_MIN 16  /* partition, fetch_offset, partition_max_bytes */
#define RESP_PART_MIN 36 /* partition, error, message, three offsets, records */

/* Where the response encoder reports deferred record bytes. */
typedef struct splices {
  size_t *at;
  size_t cap;
  size_t n;
  size_t bytes; /* total deferred bytes */
} splices_t;

static void put_req_part(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_fetch_req_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i64(b, p->fetch_offset);
  flyq_buf_put_i32(b, p->partition_max_bytes);
}

static void get_req_part(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_fetch_req_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->fetch_offset = flyq_reader_get_i64(r);
  p->partition_max_bytes = flyq_reader_get_i32(r);
}

static void put_req_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_fetch_req_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0, put_req_part,
                  ctx);
}

static void get_req_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_fetch_req_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, REQ_PART_MIN, 0,
                             &t->nparts, get_req_part);
}

int flyq_proto_encode_fetch_req(flyq_buf_t *b, const flyq_proto_req_header_t *h,
                                const flyq_proto_fetch_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_FETCH);
  flyq_buf_put_i32(b, req->max_wait_ms);
  flyq_buf_put_i32(b, req->min_bytes);
  flyq_buf_put_i32(b, req->max_bytes);
  flyq__put_elems(b, req->topics, req->ntopics, sizeof *req->topics, 0,
                  put_req_topic, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_fetch_req(flyq_reader_t *r, flyq_arena_t *a,
                                flyq_proto_fetch_req_t *req) {
  memset(req, 0, sizeof *req);
  req->max_wait_ms = flyq_reader_get_i32(r);
  req->min_bytes = flyq_reader_get_i32(r);
  req->max_bytes = flyq_reader_get_i32(r);
  req->topics = flyq__get_elems(r, a, sizeof *req->topics, FLYQ__MIN_TOPIC, 0,
                                &req->ntopics, get_req_topic);
  return flyq__dec_finish(r);
}

/* The records field: inline bytes, or a length prefix and a splice point. */
static void put_records(flyq_buf_t *b, flyq_bytes_t rec, splices_t *sp) {
  if (rec.ptr != NULL || rec.len <= 0) {
    flyq_buf_put_bytes(b, rec.ptr, rec.len);
    return;
  }
  if (sp->n >= sp->cap || sp->at == NULL ||
      (size_t)rec.len > INT32_MAX - sp->bytes) {
    flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
    return;
  }
  flyq_buf_put_bytes_header(b, rec.len);
  sp->at[sp->n++] = b->len;
  sp->bytes += (size_t)rec.len;
}

static void put_resp_part(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_fetch_resp_part_t *p = elem;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i16(b, p->error_code);
  flyq_buf_put_str(b, p->error_message);
  flyq_buf_put_i64(b, p->high_watermark);
  flyq_buf_put_i64(b, p->log_start_offset);
  flyq_buf_put_i64(b, p->flushed_offset);
  put_records(b, p->records, ctx);
}

static void get_resp_part(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_fetch_resp_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->error_code = flyq_reader_get_i16(r);
  p->error_message = flyq_reader_get_string(r);
  p->high_watermark = flyq_reader_get_i64(r);
  p->log_start_offset = flyq_reader_get_i64(r);
  p->flushed_offset = flyq_reader_get_i64(r);
  p->records = flyq_reader_get_bytes(r);
}

static void put_resp_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_fetch_resp_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0, put_resp_part,
                  ctx);
}

static void get_resp_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_fetch_resp_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, RESP_PART_MIN, 0,
                             &t->nparts, get_resp_part);
}

int flyq_proto_encode_fetch_resp(flyq_buf_t *b,
                                 const flyq_proto_fetch_resp_t *resp,
                                 size_t *splice_at, size_t nsplice) {
  splices_t sp = {splice_at, nsplice, 0, 0};
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq__put_elems(b, resp->topics, resp->ntopics, sizeof *resp->topics, 0,
                    put_resp_topic, &sp);
  return flyq__enc_finish(b, start, frame, sp.bytes);
}

int flyq_proto_decode_fetch_resp(const uint8_t *p, size_t len, flyq_arena_t *a,
                                 flyq_proto_fetch_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->topics = flyq__get_elems(&r, a, sizeof *resp->topics,
                                   FLYQ__MIN_TOPIC, 0, &resp->ntopics,
                                   get_resp_topic);
  return flyq__dec_finish(&r);
}
