/* ConfigPlan (50) and ConfigApply (51), answered at once: the config text
 * goes to the broker's reload handler (flyq_broker_reload, registered by
 * the host that can run Lua), and the plan it returns is the response.
 * Both are admin operations (docs/protocol.md); requests are logged with
 * the client's address.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flyq/logmsg.h"
#include "server/internal.h"

#define ERRMSG_MAX 2048

/* A plan string as a wire string, cut to what a string can carry. */
static flyq_str_t wire_str(const char *s) {
  size_t n = strlen(s);
  return (flyq_str_t){s, n > INT16_MAX ? INT16_MAX : (int32_t)n};
}

static int encode_plan(flyq__req_t *req, const flyq_broker_plan_t *plan) {
  flyq_proto_config_change_t *c =
      flyq_arena_calloc(&req->arena, plan->n, sizeof *c);
  if (c == NULL && plan->n > 0) return -ENOMEM;
  if (plan->n > INT32_MAX) return FLYQ_ERR_TOO_LARGE;
  for (size_t i = 0; i < plan->n; i++) {
    const flyq_broker_change_t *ch = &plan->changes[i];
    c[i].kind = flyq_str(flyq_broker_change_kind_name(ch->kind));
    c[i].topic = wire_str(ch->topic);
    c[i].detail = wire_str(ch->detail);
  }
  flyq_proto_config_resp_t resp = {
      {req->correlation_id, 0, {NULL, -1}}, c, (int32_t)plan->n};
  return flyq_proto_encode_config_resp(&req->out, &resp);
}

/* The name as a C string; names with control characters are refused (they
 * end up in log lines). */
static const char *config_name(flyq__req_t *req, flyq_str_t s) {
  for (int32_t i = 0; i < s.len; i++)
    if ((unsigned char)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f) return NULL;
  return s.len > 0 ? flyq_arena_strdup(&req->arena, s) : "config";
}

static int16_t wire_code(int err) {
  return err == FLYQ_ERR_UNSUPPORTED ? FLYQ_WIRE_INVALID_REQUEST
                                     : flyq_wire_error_from(err);
}

void flyq__handle_config(flyq__req_t *req, const flyq_proto_config_req_t *r) {
  int apply = req->api_key == FLYQ_API_CONFIG_APPLY;
  const char *name = config_name(req, r->name);
  char *err = flyq_arena_alloc(&req->arena, ERRMSG_MAX);
  flyq_broker_plan_t plan;
  if (name == NULL || err == NULL) {
    flyq__req_error(
        req, name ? FLYQ_WIRE_UNKNOWN_SERVER_ERROR : FLYQ_WIRE_INVALID_REQUEST,
        name ? "out of memory" : "config_name holds a control character");
    return;
  }
  flyq_logmsg(apply ? FLYQ_LOG_INFO : FLYQ_LOG_DEBUG, "server",
              "%s of %s from %s", flyq_proto_api_name(req->api_key),
              r->text.len < 0 ? "the startup config file" : name,
              flyq_conn_peer(req->sc->conn));
  int rc = flyq_broker_reload(req->broker, (const char *)r->text.ptr,
                              r->text.len < 0 ? 0 : (size_t)r->text.len, name,
                              apply, &plan, err, ERRMSG_MAX);
  if (rc < 0) {
    flyq__req_error(req, wire_code(rc), err[0] ? err : flyq_strerror(rc));
    return;
  }
  flyq__req_respond(req, encode_plan(req, &plan));
  flyq_broker_plan_free(&plan);
}
