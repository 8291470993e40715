/* Frames and the headers every message starts with: the frame size prefix,
 * the request header, the common response prefix and the error-only
 * response (docs/protocol.md, "Frames").
 */
#include "proto/proto_int.h"

int flyq_proto_frame_size(const uint8_t *p, size_t len, uint32_t max,
                          uint32_t *size) {
  if (len < 4) return FLYQ_ERR_TRUNCATED;
  uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
  *size = v;
  if (v > INT32_MAX || v < FLYQ_PROTO_FRAME_MIN) return FLYQ_ERR_PROTOCOL;
  if (v > max) return FLYQ_ERR_TOO_LARGE;
  return 0;
}

int flyq_proto_encode_req_header(flyq_buf_t *b,
                                 const flyq_proto_req_header_t *h) {
  if (h->client_id.len > FLYQ_PROTO_CLIENT_ID_MAX)
    return flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
  flyq_buf_put_i16(b, h->api_key);
  flyq_buf_put_i16(b, h->api_version);
  flyq_buf_put_i32(b, h->correlation_id);
  flyq_buf_put_str(b, h->client_id);
  return b->err;
}

int flyq_proto_decode_req_header(flyq_reader_t *r,
                                 flyq_proto_req_header_t *h) {
  h->api_key = -1;
  h->api_version = -1;
  h->correlation_id = -1;
  h->client_id = (flyq_str_t){NULL, -1};
  if (r->err == 0 && flyq_reader_remaining(r) < 8) {
    flyq__reader_fail(r, FLYQ_ERR_TRUNCATED);
    return r->err;
  }
  h->api_key = flyq_reader_get_i16(r);
  h->api_version = flyq_reader_get_i16(r);
  h->correlation_id = flyq_reader_get_i32(r);
  h->client_id = flyq_reader_get_string(r);
  if (h->client_id.len > FLYQ_PROTO_CLIENT_ID_MAX)
    flyq__reader_fail(r, FLYQ_ERR_PROTOCOL);
  return r->err;
}

int flyq_proto_decode_resp_header(flyq_reader_t *r,
                                  flyq_proto_resp_header_t *h) {
  h->correlation_id = flyq_reader_get_i32(r);
  h->error_code = flyq_reader_get_i16(r);
  h->error_message = flyq_reader_get_string(r);
  return r->err;
}

int flyq_proto_peek_correlation_id(const uint8_t *payload, size_t len,
                                   int32_t *id) {
  flyq_reader_t r;
  flyq_reader_init(&r, payload, len);
  *id = flyq_reader_get_i32(&r);
  return r.err;
}

int flyq_proto_encode_error_response(flyq_buf_t *b, int32_t correlation_id,
                                     int16_t code, const char *msg) {
  flyq_proto_resp_header_t h = {correlation_id, code, flyq_str(msg)};
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &h);
  return flyq__enc_finish(b, start, frame, 0);
}
