/* The helpers every per-API encoder and decoder is built from: frame
 * start/finish, arrays, non-null names (src/proto/proto_int.h).
 */
#include <errno.h>

#include "proto/proto_int.h"

size_t flyq__enc_req_begin(flyq_buf_t *b, const flyq_proto_req_header_t *h,
                           int16_t api_key) {
  size_t frame = flyq_buf_frame_begin(b);
  if (h->api_key != api_key) flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
  flyq_proto_encode_req_header(b, h);
  return frame;
}

size_t flyq__enc_resp_begin(flyq_buf_t *b,
                            const flyq_proto_resp_header_t *h) {
  size_t frame = flyq_buf_frame_begin(b);
  flyq_str_t msg = h->error_message;
  if (msg.len > INT16_MAX) msg.len = INT16_MAX;
  flyq_buf_put_i32(b, h->correlation_id);
  flyq_buf_put_i16(b, h->error_code);
  flyq_buf_put_str(b, msg);
  return frame;
}

int flyq__enc_finish(flyq_buf_t *b, size_t start, size_t frame, size_t extra) {
  int err = flyq_buf_frame_end(b, frame, extra);
  if (err) flyq_buf_truncate(b, start);
  return err;
}

int32_t flyq__put_array(flyq_buf_t *b, const void *items, int32_t n,
                        int nullable) {
  if (n < -1 || (n == -1 && !nullable) || (n > 0 && items == NULL)) {
    flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
    return 0;
  }
  flyq_buf_put_i32(b, n);
  return b->err || n < 0 ? 0 : n;
}

void flyq__put_name(flyq_buf_t *b, flyq_str_t s) {
  if (s.len < 0) flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
  flyq_buf_put_str(b, s);
}

void *flyq__get_array(flyq_reader_t *r, flyq_arena_t *a, size_t elem_size,
                      size_t min_wire, int nullable, int32_t *count) {
  int32_t n = flyq_reader_get_array_count(r, min_wire);
  *count = 0;
  if (r->err) return NULL;
  if (n == -1) {
    if (nullable) *count = -1;
    else flyq__reader_fail(r, FLYQ_ERR_PROTOCOL);
    return NULL;
  }
  if (n == 0) return NULL;
  void *items = flyq_arena_calloc(a, (size_t)n, elem_size);
  if (items == NULL) {
    flyq__reader_fail(r, -ENOMEM);
    return NULL;
  }
  *count = n;
  return items;
}

flyq_str_t flyq__get_name(flyq_reader_t *r) {
  flyq_str_t s = flyq_reader_get_string(r);
  if (s.len < 0) flyq__reader_fail(r, FLYQ_ERR_PROTOCOL);
  return s;
}

int flyq__dec_resp_begin(flyq_reader_t *r, const uint8_t *p, size_t len,
                         flyq_proto_resp_header_t *h) {
  flyq_reader_init(r, p, len);
  return flyq_proto_decode_resp_header(r, h) == 0 && h->error_code == 0;
}

int flyq__dec_finish(flyq_reader_t *r) { return flyq_reader_finish(r); }

void flyq__put_elems(flyq_buf_t *b, const void *items, int32_t n, size_t size,
                     int nullable, flyq__put_fn put, void *ctx) {
  int32_t count = flyq__put_array(b, items, n, nullable);
  for (int32_t i = 0; i < count && b->err == 0; i++)
    put(b, (const char *)items + (size_t)i * size, ctx);
}

void *flyq__get_elems(flyq_reader_t *r, flyq_arena_t *a, size_t size,
                      size_t min_wire, int nullable, int32_t *count,
                      flyq__get_fn get) {
  char *items = flyq__get_array(r, a, size, min_wire, nullable, count);
  for (int32_t i = 0; i < *count && r->err == 0; i++)
    get(r, a, items + (size_t)i * size);
  return items;
}

void flyq__put_name_elem(flyq_buf_t *b, const void *elem, void *ctx) {
  (void)ctx;
  flyq__put_name(b, *(const flyq_str_t *)elem);
}

void flyq__get_name_elem(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  (void)a;
  *(flyq_str_t *)elem = flyq__get_name(r);
}

void flyq__put_config(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_config_t *c = elem;
  (void)ctx;
  flyq__put_name(b, c->key);
  flyq__put_name(b, c->value);
}

void flyq__get_config(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_config_t *c = elem;
  (void)a;
  c->key = flyq__get_name(r);
  c->value = flyq__get_name(r);
}

void flyq__put_topic_result(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_topic_result_t *t = elem;
  (void)ctx;
  flyq__put_name(b, t->name);
  flyq_buf_put_i16(b, t->error_code);
  flyq_buf_put_str(b, t->error_message);
}

void flyq__get_topic_result(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_topic_result_t *t = elem;
  (void)a;
  t->name = flyq__get_name(r);
  t->error_code = flyq_reader_get_i16(r);
  t->error_message = flyq_reader_get_string(r);
}
