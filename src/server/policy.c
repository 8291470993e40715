/* Plugins in the request path (docs/architecture.md, "Plugins in the
 * request path"): the runtime in force (swapped whole on reload), the
 * broker's partitioner, who a connection is (Authenticate) and what it may
 * do (every API but ApiVersions and Authenticate). With no runtime, or one
 * without auth hooks, connections are anonymous and everything is allowed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/logmsg.h"
#include "server/internal.h"

/* flyq_plugins_partitions_fn: the broker's count for topic. */
static int32_t topic_partitions(void *arg, const char *topic) {
  flyq_server_t *s = arg;
  return flyq_broker_partitions(s->broker, topic);
}

flyq_plugins_t *flyq_server_set_plugins(flyq_server_t *s, flyq_plugins_t *rt) {
  flyq_plugins_t *old = s->plugins;
  s->plugins = rt;
  if (rt) flyq_plugins_set_partitions(rt, topic_partitions, s);
  return old;
}

/* The broker's partitioner (flyq_broker_partition_fn): the runtime's for
 * round_robin, sticky and Lua partitioners; the broker's own rule (the
 * same as key_hash) otherwise. */
int flyq__server_partition(void *arg, const char *topic, const char *principal,
                           const uint8_t *batches, size_t len,
                           int32_t npartitions, int32_t *parts, size_t cap,
                           size_t *nrecords, char *err, size_t errlen) {
  flyq_server_t *s = arg;
  if (s->plugins == NULL) return 1;
  flyq_partitioner_kind_t k = flyq_plugins_partitioner(s->plugins, topic);
  if (k == FLYQ_PARTITIONER_DEFAULT || k == FLYQ_PARTITIONER_KEY_HASH)
    return 1;
  return flyq_plugins_partition(s->plugins, topic, principal, batches, len,
                                npartitions, parts, cap, nrecords, err, errlen);
}

flyq_plugins_t *flyq__req_plugins(const flyq__req_t *req) {
  return req->sc ? req->sc->srv->plugins : NULL;
}

const char *flyq__req_principal(const flyq__req_t *req) {
  return req->sc ? req->sc->principal : NULL;
}

int flyq__authorize(flyq__req_t *req, const char *action, const char *kind,
                    const char *name) {
  flyq_plugins_t *rt = flyq__req_plugins(req);
  char resource[300];
  if (rt == NULL) return 0;
  if (name)
    snprintf(resource, sizeof resource, "%s:%s", kind, name);
  else
    snprintf(resource, sizeof resource, "%s", kind);
  int rc = flyq_plugins_authorize(rt, flyq__req_principal(req), action,
                                  resource);
  if (rc < 0)
    flyq_logmsg(FLYQ_LOG_INFO, "auth", "%s: denied %s on %s to %s",
                flyq_conn_peer(req->sc->conn), action, resource,
                flyq__req_principal(req) ? flyq__req_principal(req)
                                         : "anonymous");
  return rc < 0 ? FLYQ_ERR_DENIED : 0;
}

int flyq__req_topic(flyq__req_t *req, flyq_str_t s, const char *action,
                    const char **out) {
  int rc = flyq__req_name(req, s, out);
  if (rc == 0 && flyq__authorize(req, action, "topic", *out) < 0) {
    *out = "";
    rc = FLYQ_ERR_DENIED;
  }
  return rc;
}

/* ---- The gate in front of every API ------------------------------------ */

/* A request-wide authorization: groups, cluster operations. Answers req and
 * returns -1 when it is denied. */
static int deny(flyq__req_t *req, int16_t code, const char *action,
                const char *kind, flyq_str_t name) {
  char buf[256] = "";
  const char *c = NULL;
  if (name.len > 0) {
    snprintf(buf, sizeof buf, "%.*s", (int)name.len, name.ptr);
    if (strlen(buf) != (size_t)name.len) return 0; /* the handler refuses it */
    c = buf;
  }
  if (flyq__authorize(req, action, kind, c) == 0) return 0;
  char msg[400];
  snprintf(msg, sizeof msg, "not authorized: %s on %s%s%s", action, kind,
           c ? ":" : "", c ? c : "");
  flyq__req_error(req, code, msg);
  return -1;
}

int flyq__gate(flyq__req_t *req, const flyq_proto_request_t *r) {
  flyq_plugins_t *rt = flyq__req_plugins(req);
  int16_t key = r->hdr.api_key;
  if (rt == NULL || key == FLYQ_API_API_VERSIONS ||
      key == FLYQ_API_AUTHENTICATE)
    return 0;
  if (flyq_plugins_has_auth(rt) && flyq__req_principal(req) == NULL) {
    flyq__req_error(req, FLYQ_WIRE_CLUSTER_AUTHORIZATION_FAILED,
                    "authentication required: send Authenticate first");
    return -1;
  }
  switch (key) {
  case FLYQ_API_OFFSET_COMMIT:
    return deny(req, FLYQ_WIRE_GROUP_AUTHORIZATION_FAILED, FLYQ_ACTION_COMMIT,
                "group", r->body.offset_commit.group);
  case FLYQ_API_OFFSET_FETCH:
    return deny(req, FLYQ_WIRE_GROUP_AUTHORIZATION_FAILED,
                FLYQ_ACTION_OFFSET_FETCH,
                "group", r->body.offset_fetch.group);
  case FLYQ_API_LIST_GROUPS:
    return deny(req, FLYQ_WIRE_CLUSTER_AUTHORIZATION_FAILED,
                FLYQ_ACTION_LIST_GROUPS, "cluster", flyq_str(NULL));
  case FLYQ_API_CONFIG_PLAN:
  case FLYQ_API_CONFIG_APPLY:
  case FLYQ_API_STATS:
    return deny(req, FLYQ_WIRE_CLUSTER_AUTHORIZATION_FAILED, FLYQ_ACTION_ADMIN,
                "cluster", flyq_str(NULL));
  }
  return 0; /* per topic, in the handlers */
}

/* ---- Authenticate ------------------------------------------------------ */

static void auth_ok(flyq__req_t *req, char *principal, const char *mech) {
  flyq__sconn_t *sc = req->sc;
  free(sc->principal);
  sc->principal = principal;
  flyq_logmsg(FLYQ_LOG_INFO, "auth", "%s: authenticated as %s (%.64s)",
              flyq_conn_peer(sc->conn), principal, mech);
  flyq_proto_authenticate_resp_t resp = {{req->correlation_id, 0, {NULL, -1}},
                                         flyq_str(principal)};
  flyq__req_respond(req, flyq_proto_encode_authenticate_resp(&req->out, &resp));
}

void flyq__handle_authenticate(flyq__req_t *req,
                               const flyq_proto_authenticate_req_t *r) {
  flyq_plugins_t *rt = flyq__req_plugins(req);
  if (rt == NULL || !flyq_plugins_has_auth(rt)) {
    flyq__req_error(req, FLYQ_WIRE_UNSUPPORTED_SASL_MECHANISM,
                    "no authentication is configured on this broker "
                    "(connections are anonymous)");
    return;
  }
  char *mech = flyq_arena_strdup(&req->arena, r->mechanism);
  char local[80], reason[256] = "";
  char *principal = NULL;
  if (mech == NULL || (r->mechanism.len > 0 &&
                       memchr(r->mechanism.ptr, '\0', (size_t)r->mechanism.len))) {
    flyq__req_error(req, FLYQ_WIRE_INVALID_REQUEST, "bad mechanism");
    return;
  }
  flyq_server_t *srv = req->sc->srv;
  snprintf(local, sizeof local, "%s:%d", srv->host, srv->port);
  flyq_plugins_conn_t conn = {flyq_conn_peer(req->sc->conn), local};
  size_t len = r->credentials.len > 0 ? (size_t)r->credentials.len : 0;
  int rc = flyq_plugins_authenticate(rt, mech, r->credentials.ptr, len, &conn,
                                     &principal, reason, sizeof reason);
  if (rc == 0) {
    auth_ok(req, principal, mech);
    return;
  }
  /* The reason has no copy of the credentials (the runtime hides them). A
   * failed Authenticate leaves the connection with no principal, not the
   * one an earlier Authenticate gave it. */
  free(req->sc->principal);
  req->sc->principal = NULL;
  flyq_logmsg(FLYQ_LOG_WARN, "auth", "%s: authentication failed (%.64s): %s",
              conn.remote, mech, reason[0] ? reason : flyq_strerror(rc));
  flyq__req_error(req,
                  rc == FLYQ_ERR_UNSUPPORTED
                      ? FLYQ_WIRE_UNSUPPORTED_SASL_MECHANISM
                      : FLYQ_WIRE_AUTHENTICATION_FAILED,
                  reason[0] ? reason : flyq_strerror(rc));
}
