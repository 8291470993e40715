/* From a frame to its handler: decode the request (an unknown API or
 * version is answered UNSUPPORTED_VERSION, a malformed body INVALID_REQUEST
 * with the decoder's reason), call the API's handler, and the helpers the
 * handlers share to answer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flyq/logmsg.h"
#include "flyq/store.h"
#include "server/internal.h"

/* The disk's errors (STORAGE_ERROR) name their errno, so that an operator
 * can tell a full disk from a failing one. */
flyq_str_t flyq__errmsg(int err) {
  switch (err) {
  case -ENOSPC: return flyq_str("ENOSPC: no space left on device");
  case -EDQUOT: return flyq_str("EDQUOT: disk quota exceeded");
  case -EIO: return flyq_str("EIO: input/output error");
  case -EROFS: return flyq_str("EROFS: read-only file system");
  }
  return flyq_str(err < 0 ? flyq_strerror(err) : NULL);
}

void flyq__req_error(flyq__req_t *req, int16_t code, const char *msg) {
  flyq_buf_reset(&req->out);
  req->chunks = NULL;
  int rc = flyq_proto_encode_error_response(&req->out, req->correlation_id,
                                            code, msg);
  if (rc < 0) /* out of memory: the client would wait forever */
    req->lost = 1;
  req->ready = 1;
  req->waiting = 0;
}

void flyq__req_fail(flyq__req_t *req, int err) {
  flyq__req_error(req, flyq_wire_error_from(err), flyq_strerror(err));
}

void flyq__req_respond(flyq__req_t *req, int encode_rc) {
  if (encode_rc < 0) {
    flyq_logmsg(FLYQ_LOG_WARN, "server", "%s response: %s",
                flyq_proto_api_name(req->api_key), flyq_strerror(encode_rc));
    flyq__req_error(req, FLYQ_WIRE_UNKNOWN_SERVER_ERROR,
                    "response could not be encoded");
    return;
  }
  req->ready = 1;
}

int flyq__req_name(flyq__req_t *req, flyq_str_t s, const char **out) {
  *out = "";
  if (s.len <= 0 || memchr(s.ptr, '\0', (size_t)s.len) != NULL)
    return FLYQ_ERR_INVALID_NAME;
  char *name = flyq_arena_strdup(&req->arena, s);
  if (name == NULL) return -ENOMEM;
  if (flyq_name_validate(name) < 0) return FLYQ_ERR_INVALID_NAME;
  *out = name;
  return 0;
}

int flyq__req_copy(flyq__req_t *req, flyq_str_t s, flyq_str_t *out) {
  *out = (flyq_str_t){"", 0};
  if (s.len <= 0) return 0;
  char *copy = flyq_arena_alloc(&req->arena, (size_t)s.len);
  if (copy == NULL) return -ENOMEM;
  memcpy(copy, s.ptr, (size_t)s.len);
  *out = (flyq_str_t){copy, s.len};
  return 0;
}

static void route(flyq__req_t *req, const flyq_proto_request_t *r) {
  if (flyq__gate(req, r) < 0) return;
  switch (r->hdr.api_key) {
  case FLYQ_API_PRODUCE: flyq__handle_produce(req, &r->body.produce); break;
  case FLYQ_API_FETCH: flyq__handle_fetch(req, r); break;
  case FLYQ_API_LIST_OFFSETS:
    flyq__handle_list_offsets(req, &r->body.list_offsets);
    break;
  case FLYQ_API_METADATA: flyq__handle_metadata(req, &r->body.metadata); break;
  case FLYQ_API_OFFSET_COMMIT:
    flyq__handle_offset_commit(req, &r->body.offset_commit);
    break;
  case FLYQ_API_OFFSET_FETCH:
    flyq__handle_offset_fetch(req, &r->body.offset_fetch);
    break;
  case FLYQ_API_LIST_GROUPS: flyq__handle_list_groups(req); break;
  case FLYQ_API_API_VERSIONS: flyq__handle_api_versions(req); break;
  case FLYQ_API_CREATE_TOPICS:
    flyq__handle_create_topics(req, &r->body.create_topics);
    break;
  case FLYQ_API_DELETE_TOPICS:
    flyq__handle_delete_topics(req, &r->body.delete_topics);
    break;
  case FLYQ_API_AUTHENTICATE:
    flyq__handle_authenticate(req, &r->body.authenticate);
    break;
  case FLYQ_API_CONFIG_PLAN:
  case FLYQ_API_CONFIG_APPLY: flyq__handle_config(req, &r->body.config); break;
  case FLYQ_API_STATS: flyq__handle_stats(req); break;
  default: flyq__req_error(req, FLYQ_WIRE_UNSUPPORTED_VERSION, NULL); break;
  }
}

/* Answers a request that did not decode. */
static void decode_failed(flyq__req_t *req, const flyq_proto_request_t *r,
                          int rc) {
  char msg[160];
  if (rc == FLYQ_ERR_UNSUPPORTED) {
    snprintf(msg, sizeof msg, "unsupported API key %d version %d",
             r->hdr.api_key, r->hdr.api_version);
    flyq__req_error(req, FLYQ_WIRE_UNSUPPORTED_VERSION, msg);
  } else if (rc == -ENOMEM) {
    flyq__req_error(req, FLYQ_WIRE_UNKNOWN_SERVER_ERROR, "out of memory");
  } else {
    snprintf(msg, sizeof msg, "malformed %s request: %s",
             flyq_proto_api_name(r->hdr.api_key), flyq_strerror(rc));
    flyq__req_error(req, FLYQ_WIRE_INVALID_REQUEST, msg);
  }
}

void flyq__dispatch(flyq__sconn_t *sc, uint8_t *payload, size_t len) {
  flyq__req_t *req = flyq__req_new(sc);
  if (req == NULL) {
    flyq_logmsg(FLYQ_LOG_WARN, "server", "%s: out of memory, closing",
                flyq_conn_peer(sc->conn));
    flyq_conn_request_done(sc->conn);
    flyq_conn_close(sc->conn);
    return;
  }
  flyq_proto_request_t r;
  sc->in_frame = 1;
  int rc = flyq_proto_decode_any_request(payload, len, &req->arena, &r);
  req->correlation_id = r.hdr.correlation_id;
  req->api_key = r.hdr.api_key;
  if (rc < 0)
    decode_failed(req, &r, rc);
  else
    route(req, &r);
  sc->in_frame = 0;
  flyq__sconn_flush(sc);
}
