/* Stats (API 52): request and response codecs (docs/protocol.md,
 * "Stats"). The request has no body; the response is one JSON object as
 * bytes, so that its fields can grow without a new version.
 */
#include <string.h>

#include "proto/proto_int.h"

int flyq_proto_encode_stats_req(flyq_buf_t *b,
                                const flyq_proto_req_header_t *h) {
  size_t start = b->len;
  size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_STATS);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_stats_req(flyq_reader_t *r) {
  return flyq__dec_finish(r);
}

int flyq_proto_encode_stats_resp(flyq_buf_t *b,
                                 const flyq_proto_stats_resp_t *resp) {
  size_t start = b->len;
  size_t frame = flyq__enc_resp_begin(b, &resp->hdr);
  if (resp->hdr.error_code == 0)
    flyq_buf_put_bytes(b, resp->json.ptr, resp->json.len);
  return flyq__enc_finish(b, start, frame, 0);
}

int flyq_proto_decode_stats_resp(const uint8_t *p, size_t len,
                                 flyq_proto_stats_resp_t *resp) {
  flyq_reader_t r;
  memset(resp, 0, sizeof *resp);
  resp->json = (flyq_bytes_t){NULL, -1};
  if (flyq__dec_resp_begin(&r, p, len, &resp->hdr))
    resp->json = flyq_reader_get_bytes(&r);
  return flyq__dec_finish(&r);
}
