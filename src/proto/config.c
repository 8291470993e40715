/* ConfigPlan (API 50) and ConfigApply (API 51): request and response codecs
 * (docs/protocol.md). Both carry a config text and answer with the list of
 * changes, so they share one layout and one set of functions.
 */
#include <string.h>

#include "proto/proto_int.h"

#define CHANGE_MIN 6 /* three strings */

int flyq_proto_encode_config_req(flyq_buf_t *b,
                                 const flyq_proto_req_header_t *h,
                                 const flyq_proto_config_req_t *req) {
  size_t start = b->len;
  int16_t key = h->api_key == FLYQ_API_CONFIG_APPLY ? FLYQ_API_CONFIG_APPLY
                                                    : FLYQ_API_CONFIG_PLAN;
  size_t frame = flyq__enc_req_begin(b, h, key);
  flyq_buf_put_bytes(b, req->text.ptr, req->text.len);
  flyq__put_name(b, req->name);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_config_req(flyq_reader_t *r, flyq_arena_t *a,
                                 flyq_proto_config_req_t *req) {
  (void)a;
  memset(req, 0, sizeof *req);
  req->text = flyq_reader_get_bytes(r);
  req->name = flyq__get_name(r);
  return flyq__dec_finish(r);
}

static void put_change(flyq_buf_t *b, const void *elem, void *ctx) {
  const flyq_proto_config_change_t *c = elem;
  (void)ctx;
  flyq__put_name(b, c->kind);
  flyq__put_name(b, c->topic);
  flyq__put_name(b, c->detail);
}

static void get_change(flyq_reader_t *r, flyq_arena_t *a, void *elem) {
  flyq_proto_config_change_t *c = elem;
  (void)a;
  c->kind = flyq__get_name(r);
  c->topic = flyq__get_name(r);
  c->detail = flyq__get_name(r);
}

int flyq_proto_encode_config_resp(flyq_buf_t *b,
                                  const flyq_proto_config_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq__put_elems(b, resp->changes, resp->nchanges, sizeof *resp->changes, 0,
                    put_change, NULL);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_config_resp(const uint8_t *p, size_t len, flyq_arena_t *a,
                                  flyq_proto_config_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->changes = flyq__get_elems(&r, a, sizeof *resp->changes, CHANGE_MIN, 0,
                                    &resp->nchanges, get_change);
  return flyq__dec_finish(&r);
}
