/* Fetch (API 1): request and response codecs (docs/protocol.md, "Fetch").
 * Version 1 adds the consumer's filter to the request and next_offset to
 * each partition of the response.
 *
 * The response encoder can leave a partition's record bytes out of the
 * buffer and report where they belong (a splice point), so the server sends
 * stored batches unchanged from wherever they are.
 */
#include <errno.h>
#include <string.h>

#include "proto/proto_int.h"

#define REQ_PART_MIN 16  /* partition, fetch_offset, partition_max_bytes */
#define RESP_PART_MIN 36 /* partition, error, message, three offsets, records */
#define RESP_PART_MIN_V1 44 /* and next_offset */

/* Where the response encoder reports deferred record bytes. */
typedef struct splices {
  size_t *at;
  size_t cap;
  size_t n;
  size_t bytes; /* total deferred bytes */
  const int64_t *next; /* v1: next_offset per partition (NULL: all -1) */
  int v1;
  size_t k; /* partitions written so far */
} splices_t;

/* Decoding state of a response (v1: next_offset per partition). */
typedef struct resp_dec {
  int64_t *next;
  size_t cap, k;
} resp_dec_t;

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

static void put_req_body(flyq_buf_t *b, const flyq_proto_fetch_req_t *req) {
  flyq_buf_put_i32(b, req->max_wait_ms);
  flyq_buf_put_i32(b, req->min_bytes);
  flyq_buf_put_i32(b, req->max_bytes);
  flyq__put_elems(b, req->topics, req->ntopics, sizeof *req->topics, 0,
                  put_req_topic, NULL);
}

static void get_req_body(flyq_reader_t *r, flyq_arena_t *a,
                         flyq_proto_fetch_req_t *req) {
  memset(req, 0, sizeof *req);
  req->max_wait_ms = flyq_reader_get_i32(r);
  req->min_bytes = flyq_reader_get_i32(r);
  req->max_bytes = flyq_reader_get_i32(r);
  req->topics = flyq__get_elems(r, a, sizeof *req->topics, FLYQ__MIN_TOPIC, 0,
                                &req->ntopics, get_req_topic);
}

int flyq_proto_encode_fetch_req(flyq_buf_t *b, const flyq_proto_req_header_t *h,
                                const flyq_proto_fetch_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_FETCH);
  if (h->api_version != 0) flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
  put_req_body(b, req);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_fetch_req(flyq_reader_t *r, flyq_arena_t *a,
                                flyq_proto_fetch_req_t *req) {
  get_req_body(r, a, req);
  return flyq__dec_finish(r);
}

int flyq_proto_encode_fetch_req_v1(flyq_buf_t *b,
                                   const flyq_proto_req_header_t *h,
                                   const flyq_proto_fetch_req_t *req,
                                   const flyq_proto_fetch_filter_t *filter) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_FETCH);
  if (h->api_version != 1) flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
  put_req_body(b, req);
  if (filter == NULL) {
    flyq_buf_put_string(b, NULL, -1);
    flyq_buf_put_i32(b, 0);
  } else {
    flyq_buf_put_string(b, filter->name.ptr,
                        filter->name.ptr ? filter->name.len : -1);
    flyq__put_elems(b, filter->params, filter->nparams,
                    sizeof *filter->params, 0, flyq__put_config, NULL);
  }
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_fetch_req_v1(flyq_reader_t *r, flyq_arena_t *a,
                                   flyq_proto_fetch_req_t *req,
                                   flyq_proto_fetch_filter_t *filter) {
  get_req_body(r, a, req);
  memset(filter, 0, sizeof *filter);
  filter->name = flyq_reader_get_string(r);
  filter->params = flyq__get_elems(r, a, sizeof *filter->params,
                                   FLYQ__MIN_CONFIG, 0, &filter->nparams,
                                   flyq__get_config);
  if (filter->name.len < 0) filter->name = (flyq_str_t){NULL, -1};
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
  splices_t *sp = ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i16(b, p->error_code);
  flyq_buf_put_str(b, p->error_message);
  flyq_buf_put_i64(b, p->high_watermark);
  flyq_buf_put_i64(b, p->log_start_offset);
  flyq_buf_put_i64(b, p->flushed_offset);
  if (sp->v1) flyq_buf_put_i64(b, sp->next ? sp->next[sp->k] : -1);
  sp->k++;
  put_records(b, p->records, sp);
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

/* next_offset goes between flushed_offset and the records: decode the
 * whole part here. The arena's array grows with the partitions. */
static void get_resp_part_v1(flyq_reader_t *r, resp_dec_t *d, flyq_arena_t *a,
                             flyq_proto_fetch_resp_part_t *p) {
  p->partition = flyq_reader_get_i32(r);
  p->error_code = flyq_reader_get_i16(r);
  p->error_message = flyq_reader_get_string(r);
  p->high_watermark = flyq_reader_get_i64(r);
  p->log_start_offset = flyq_reader_get_i64(r);
  p->flushed_offset = flyq_reader_get_i64(r);
  int64_t next = flyq_reader_get_i64(r);
  p->records = flyq_reader_get_bytes(r);
  if (d->k == d->cap) {
    size_t cap = d->cap ? 2 * d->cap : 16;
    int64_t *n = flyq_arena_calloc(a, cap, sizeof *n);
    if (n == NULL) {
      r->err = -ENOMEM;
      return;
    }
    if (d->k) memcpy(n, d->next, d->k * sizeof *n);
    d->next = n;
    d->cap = cap;
  }
  d->next[d->k++] = next;
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
  splices_t sp = {splice_at, nsplice, 0, 0, NULL, 0, 0};
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

int flyq_proto_encode_fetch_resp_v1(flyq_buf_t *b,
                                    const flyq_proto_fetch_resp_t *resp,
                                    const int64_t *next, size_t *splice_at,
                                    size_t nsplice) {
  splices_t sp = {splice_at, nsplice, 0, 0, next, 1, 0};
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq__put_elems(b, resp->topics, resp->ntopics, sizeof *resp->topics, 0,
                    put_resp_topic, &sp);
  return flyq__enc_finish(b, start, frame, sp.bytes);
}

/* The parts of one v1 topic (array count checked like flyq__get_elems). */
static void get_resp_topic_v1(flyq_reader_t *r, flyq_arena_t *a,
                              resp_dec_t *d, flyq_proto_fetch_resp_topic_t *t) {
  t->name = flyq__get_name(r);
  int32_t n = flyq_reader_get_array_count(r, RESP_PART_MIN_V1);
  if (n < 0 && r->err == 0) r->err = FLYQ_ERR_PROTOCOL;
  flyq_proto_fetch_resp_part_t *parts =
      n > 0 ? flyq_arena_calloc(a, (size_t)n, sizeof *parts) : NULL;
  if (n > 0 && parts == NULL && r->err == 0) r->err = -ENOMEM;
  for (int32_t i = 0; i < n && r->err == 0; i++)
    get_resp_part_v1(r, d, a, &parts[i]);
  t->parts = parts;
  t->nparts = r->err == 0 && n > 0 ? n : 0;
}

int flyq_proto_decode_fetch_resp_v1(const uint8_t *p, size_t len,
                                    flyq_arena_t *a,
                                    flyq_proto_fetch_resp_t *resp,
                                    int64_t **next) {
  flyq_reader_t r;
  resp_dec_t d = {NULL, 0, 0};
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr)) {
    int32_t n = flyq_reader_get_array_count(&r, FLYQ__MIN_TOPIC);
    if (n < 0 && r.err == 0) r.err = FLYQ_ERR_PROTOCOL;
    flyq_proto_fetch_resp_topic_t *t =
        n > 0 ? flyq_arena_calloc(a, (size_t)n, sizeof *t) : NULL;
    if (n > 0 && t == NULL && r.err == 0) r.err = -ENOMEM;
    for (int32_t i = 0; i < n && r.err == 0; i++)
      get_resp_topic_v1(&r, a, &d, &t[i]);
    resp->topics = t;
    resp->ntopics = r.err == 0 && n > 0 ? n : 0;
  }
  *next = d.next;
  return flyq__dec_finish(&r);
}
