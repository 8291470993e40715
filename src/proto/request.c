/* flyq_proto_decode_any_request(): header plus the body of whatever API the
 * header names. The server's dispatcher and the fuzz targets start here.
 */
#include <string.h>

#include "proto/proto_int.h"

static int decode_body(flyq_reader_t *r, flyq_arena_t *a,
                       flyq_proto_request_t *req) {
  switch (req->hdr.api_key) {
  case FLYQ_API_PRODUCE:
    return flyq_proto_decode_produce_req(r, a, &req->body.produce);
  case FLYQ_API_FETCH:
    if (req->hdr.api_version >= 1)
      return flyq_proto_decode_fetch_req_v1(r, a, &req->body.fetch,
                                            &req->fetch_filter);
    return flyq_proto_decode_fetch_req(r, a, &req->body.fetch);
  case FLYQ_API_LIST_OFFSETS:
    return flyq_proto_decode_list_offsets_req(r, a, &req->body.list_offsets);
  case FLYQ_API_METADATA:
    return flyq_proto_decode_metadata_req(r, a, &req->body.metadata);
  case FLYQ_API_OFFSET_COMMIT:
    return flyq_proto_decode_offset_commit_req(r, a, &req->body.offset_commit);
  case FLYQ_API_OFFSET_FETCH:
    return flyq_proto_decode_offset_fetch_req(r, a, &req->body.offset_fetch);
  case FLYQ_API_LIST_GROUPS: return flyq_proto_decode_list_groups_req(r);
  case FLYQ_API_API_VERSIONS: return flyq_proto_decode_api_versions_req(r);
  case FLYQ_API_CREATE_TOPICS:
    return flyq_proto_decode_create_topics_req(r, a, &req->body.create_topics);
  case FLYQ_API_DELETE_TOPICS:
    return flyq_proto_decode_delete_topics_req(r, a, &req->body.delete_topics);
  case FLYQ_API_AUTHENTICATE:
    return flyq_proto_decode_authenticate_req(r, a, &req->body.authenticate);
  case FLYQ_API_CONFIG_PLAN:
  case FLYQ_API_CONFIG_APPLY:
    return flyq_proto_decode_config_req(r, a, &req->body.config);
  case FLYQ_API_STATS: return flyq_proto_decode_stats_req(r);
  }
  return FLYQ_ERR_UNSUPPORTED;
}

int flyq_proto_decode_any_request(const uint8_t *payload, size_t len,
                                  flyq_arena_t *a, flyq_proto_request_t *req) {
  flyq_reader_t r;
  memset(req, 0, sizeof *req);
  req->fetch_filter.name = (flyq_str_t){NULL, -1};
  flyq_reader_init(&r, payload, len);
  int err = flyq_proto_decode_req_header(&r, &req->hdr);
  if (err) return err;
  if (!flyq_proto_version_supported(req->hdr.api_key, req->hdr.api_version))
    return FLYQ_ERR_UNSUPPORTED;
  return decode_body(&r, a, req);
}
