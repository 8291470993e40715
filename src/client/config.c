/* The client's admin calls for declarative config: ConfigPlan (API 50) and
 * ConfigApply (API 51). Both send a config text (or null: the broker's own
 * startup file) and get back the list of changes, which is copied into the
 * call's arena as C strings. And Stats (API 52), the other admin call that
 * only operators make.
 */
#include <errno.h>
#include <string.h>

#include "client/client_int.h"

/* Copies the decoded changes into plan (arena memory). */
static int plan_copy(flyq_client_t *c, const flyq_proto_config_resp_t *resp,
                     flyq_client_plan_t *plan) {
  flyq_client_change_t *v =
      flyq_arena_calloc(&c->arena, (size_t)resp->nchanges + 1, sizeof *v);
  if (v == NULL) return -ENOMEM;
  for (int32_t i = 0; i < resp->nchanges; i++) {
    const flyq_proto_config_change_t *ch = &resp->changes[i];
    v[i].kind = flyq__cstr(&c->arena, ch->kind);
    v[i].topic = flyq__cstr(&c->arena, ch->topic);
    v[i].detail = flyq__cstr(&c->arena, ch->detail);
    if (!v[i].kind || !v[i].topic || !v[i].detail) return -ENOMEM;
    plan->nerrors += flyq_str_eq(ch->kind, "error");
    plan->ndrift += flyq_str_eq(ch->kind, "drift");
  }
  plan->changes = v;
  plan->n = (size_t)resp->nchanges;
  return 0;
}

static int config_call(flyq_client_t *c, int16_t api, const char *what,
                       const char *text, size_t len, const char *name,
                       flyq_client_plan_t *plan) {
  flyq_proto_req_header_t h;
  flyq_proto_config_req_t req = {{NULL, -1}, flyq_str(name ? name : "config")};
  flyq_proto_config_resp_t resp;
  int r;
  if (plan == NULL || (text == NULL && len > 0) || len > INT32_MAX)
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0, "%s: invalid argument",
                             what);
  memset(plan, 0, sizeof *plan);
  if (text) req.text = (flyq_bytes_t){(const uint8_t *)text, (int32_t)len};
  r = flyq__start(c, api, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_config_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, what) < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, what);
  if (r < 0) return r;
  if (flyq_proto_decode_config_resp(c->sync.payload, c->sync.len, &c->arena,
                                    &resp) < 0)
    return flyq__malformed(c, what);
  r = plan_copy(c, &resp, plan);
  if (r < 0) return flyq__client_fail(c, r, 0, "%s: out of memory", what);
  return 0;
}

int flyq_client_config_plan(flyq_client_t *c, const char *text, size_t len,
                            const char *name, flyq_client_plan_t *plan) {
  return config_call(c, FLYQ_API_CONFIG_PLAN, "ConfigPlan", text, len, name,
                     plan);
}

int flyq_client_config_apply(flyq_client_t *c, const char *text, size_t len,
                             const char *name, flyq_client_plan_t *plan) {
  return config_call(c, FLYQ_API_CONFIG_APPLY, "ConfigApply", text, len, name,
                     plan);
}

int flyq_client_stats(flyq_client_t *c, const char **json, size_t *len) {
  flyq_proto_req_header_t h;
  flyq_proto_stats_resp_t resp;
  int r;
  if (json == NULL || len == NULL)
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                             "Stats: invalid argument");
  r = flyq__start(c, FLYQ_API_STATS, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_stats_req(&c->out, &h);
  if (flyq__encoded(c, r, "Stats") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "Stats");
  if (r < 0) return r;
  if (flyq_proto_decode_stats_resp(c->sync.payload, c->sync.len, &resp) < 0 ||
      resp.json.len < 0)
    return flyq__malformed(c, "Stats");
  *json = (const char *)resp.json.ptr;
  *len = (size_t)resp.json.len;
  return 0;
}
