/* Connection setup APIs: ApiVersions (18) and Authenticate (36): request
 * and response codecs (docs/protocol.md).
 */
#include <string.h>

#include "proto/proto_int.h"

#define API_VERSION_MIN 6 /* api_key, min_version, max_version */

/* ---- ApiVersions ---- */

static void put_api(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_api_version_t *v = elem;
  (void)ctx;
  flyq_buf_put_i16(b, v->api_key);
  flyq_buf_put_i16(b, v->min_version);
  flyq_buf_put_i16(b, v->max_version);
}

static void get_api(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_api_version_t *v = elem;
  (void)a;
  v->api_key = flyq_reader_get_i16(r);
  v->min_version = flyq_reader_get_i16(r);
  v->max_version = flyq_reader_get_i16(r);
}

int flyq_proto_encode_api_versions_req(flyq_buf_t *b,
                                       const flyq_proto_req_header_t *h) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_API_VERSIONS);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_api_versions_req(flyq_reader_t *r) {
  return flyq__dec_finish(r);
}

int flyq_proto_encode_api_versions_resp(
    flyq_buf_t *b, const flyq_proto_api_versions_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0) {
    flyq__put_elems(b, resp->apis, resp->napis, sizeof *resp->apis, 0,
                    put_api, NULL);
    flyq__put_name(b, resp->broker_version);
  }
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_api_versions_resp(const uint8_t *p, size_t len,
                                        flyq_arena_t *a,
                                        flyq_proto_api_versions_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr)) {
    resp->apis = flyq__get_elems(&r, a, sizeof *resp->apis, API_VERSION_MIN,
                                 0, &resp->napis, get_api);
    resp->broker_version = flyq__get_name(&r);
  }
  return flyq__dec_finish(&r);
}

/* ---- Authenticate ---- */

int flyq_proto_encode_authenticate_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_authenticate_req_t *req) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_AUTHENTICATE);
  flyq__put_name(b, req->mechanism);
  flyq_buf_put_bytes(b, req->credentials.ptr, req->credentials.len);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_authenticate_req(flyq_reader_t *r, flyq_arena_t *a,
                                       flyq_proto_authenticate_req_t *req) {
  (void)a;
  memset(req, 0, sizeof *req);
  req->mechanism = flyq__get_name(r);
  req->credentials = flyq_reader_get_bytes(r);
  return flyq__dec_finish(r);
}

int flyq_proto_encode_authenticate_resp(
    flyq_buf_t *b, const flyq_proto_authenticate_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0) flyq_buf_put_str(b, resp->principal);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_authenticate_resp(
    const uint8_t *p, size_t len, flyq_arena_t *a,
    flyq_proto_authenticate_resp_t *resp) {
  flyq_reader_t r;
  (void)a;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->principal = flyq_reader_get_string(&r);
  return flyq__dec_finish(&r);
}
