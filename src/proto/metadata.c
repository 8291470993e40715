/* Metadata (API 3): request and response codecs (docs/protocol.md,
 * "Metadata"). The request's topic list may be null (all topics).
 */
#include <string.h>

#include "proto/proto_int.h"

#define PART_MIN 48  /* partition, 3 offsets, segments, size, last append */
#define TOPIC_MIN 12 /* name, error, partitions count, configs count */

int flyq_proto_encode_metadata_req(flyq_buf_t *b,
                                   const flyq_proto_req_header_t *h,
                                   const flyq_proto_metadata_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_METADATA);
  flyq__put_elems(b, req->topics, req->ntopics, sizeof *req->topics, 1,
                  flyq__put_name_elem, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_metadata_req(flyq_reader_t *r, flyq_arena_t *a,
                                   flyq_proto_metadata_req_t *req) {
  memset(req, 0, sizeof *req);
  req->topics = flyq__get_elems(r, a, sizeof *req->topics, FLYQ__MIN_STRING,
                                1, &req->ntopics, flyq__get_name_elem);
  return flyq__dec_finish(r);
}

static void put_part(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_metadata_part_t *p = elem;
  (void)ctx;
  flyq_buf_put_i32(b, p->partition);
  flyq_buf_put_i64(b, p->log_start_offset);
  flyq_buf_put_i64(b, p->high_watermark);
  flyq_buf_put_i64(b, p->flushed_offset);
  flyq_buf_put_i32(b, p->segment_count);
  flyq_buf_put_i64(b, p->size_bytes);
  flyq_buf_put_i64(b, p->last_append_ms);
}

static void get_part(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_metadata_part_t *p = elem;
  (void)a;
  p->partition = flyq_reader_get_i32(r);
  p->log_start_offset = flyq_reader_get_i64(r);
  p->high_watermark = flyq_reader_get_i64(r);
  p->flushed_offset = flyq_reader_get_i64(r);
  p->segment_count = flyq_reader_get_i32(r);
  p->size_bytes = flyq_reader_get_i64(r);
  p->last_append_ms = flyq_reader_get_i64(r);
}

static void put_topic(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_metadata_topic_t *t = elem;
  flyq__put_name(b, t->name);
  flyq_buf_put_i16(b, t->error_code);
  flyq__put_elems(b, t->parts, t->nparts, sizeof *t->parts, 0, put_part, ctx);
  flyq__put_elems(b, t->configs, t->nconfigs, sizeof *t->configs, 0,
                  flyq__put_config, ctx);
}

static void get_topic(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_metadata_topic_t *t = elem;
  t->name = flyq__get_name(r);
  t->error_code = flyq_reader_get_i16(r);
  t->parts = flyq__get_elems(r, a, sizeof *t->parts, PART_MIN, 0, &t->nparts,
                             get_part);
  t->configs = flyq__get_elems(r, a, sizeof *t->configs, FLYQ__MIN_CONFIG, 0,
                               &t->nconfigs, flyq__get_config);
}

int flyq_proto_encode_metadata_resp(flyq_buf_t *b,
                                    const flyq_proto_metadata_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0) {
    flyq__put_name(b, resp->host);
    flyq_buf_put_i32(b, resp->port);
    flyq__put_elems(b, resp->topics, resp->ntopics, sizeof *resp->topics, 0,
                    put_topic, NULL);
  }
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_metadata_resp(const uint8_t *p, size_t len,
                                    flyq_arena_t *a,
                                    flyq_proto_metadata_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr)) {
    resp->host = flyq__get_name(&r);
    resp->port = flyq_reader_get_i32(&r);
    resp->topics = flyq__get_elems(&r, a, sizeof *resp->topics, TOPIC_MIN, 0,
                                   &resp->ntopics, get_topic);
  }
  return flyq__dec_finish(&r);
}
