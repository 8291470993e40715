/* Stats (API 52, admin): the broker's counters and the plugin runtime's
 * per-plugin stats as one JSON object (docs/protocol.md, "Stats"). The
 * plugin error counts are also in the log, with every failure.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"
#include "util/utf8.h"

static json_t *broker_json(const flyq_broker_t *b) {
  flyq_broker_stats_t st;
  flyq_broker_stats(b, &st);
  return json_pack(
      "{sI sI sI sI sI sI sI sI sI sI sI}", "produce_requests",
      (json_int_t)st.produce_requests, "produced_records",
      (json_int_t)st.produced_records, "produced_bytes",
      (json_int_t)st.produced_bytes, "fetch_requests",
      (json_int_t)st.fetch_requests, "fetched_bytes",
      (json_int_t)st.fetched_bytes, "fsyncs", (json_int_t)st.fsyncs,
      "fsync_errors", (json_int_t)st.fsync_errors, "errors",
      (json_int_t)st.errors, "parked_fetches", (json_int_t)st.parked_fetches,
      "pending_produces", (json_int_t)st.pending_produces, "topics",
      (json_int_t)st.topics);
}

/* s as a JSON string: jansson takes only valid UTF-8, and a plugin's
 * name, file path or error message need not be one, so each byte that is
 * not part of valid UTF-8 becomes U+FFFD (docs/protocol.md, "Stats").
 * NULL when out of memory. */
static json_t *text_json(const char *s) {
  char *fixed;
  json_t *j;
  if (flyq__utf8_valid((const uint8_t *)s, strlen(s))) return json_string(s);
  if ((fixed = flyq__utf8_repair(s, strlen(s))) == NULL) return NULL;
  j = json_string(fixed);
  free(fixed);
  return j;
}

/* Sets o[key] to v (stolen, may be NULL), with key made valid UTF-8 as
 * text_json does. Counter names are ASCII (flyq.counter checks them), so
 * two keys never become one. Returns 0, or -1 when out of memory. */
static int set_text_key(json_t *o, const char *key, json_t *v) {
  char *fixed = flyq__utf8_repair(key, strlen(key));
  int rc = json_object_set_new(o, fixed, v); /* -1 for a NULL key or v */
  free(fixed);
  return rc;
}

static json_t *counters_json(const flyq_plugin_stats_t *p) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < p->ncounters; i++)
    if (set_text_key(o, p->counters[i].name,
                     json_integer((json_int_t)p->counters[i].value)) < 0) {
      json_decref(o);
      o = NULL;
    }
  return o;
}

/* Where the instance is used (config key paths, "consumer filter"), or
 * NULL when out of memory. */
static json_t *uses_json(const flyq_plugin_stats_t *p) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < p->nuses; i++)
    if (json_array_append_new(a, text_json(p->uses[i])) < 0) {
      json_decref(a);
      a = NULL;
    }
  return a;
}

/* The params as a JSON object, or null when they may hold a secret (an
 * auth plugin's tokens: p->params_secret; none is in no params) or do
 * not read. */
static json_t *params_json(const flyq_plugin_stats_t *p) {
  int hide = p->params_secret && strcmp(p->params, "{}") != 0;
  json_t *j = hide ? NULL : json_loads(p->params, 0, NULL);
  return j ? j : json_null();
}

/* NULL when out of memory (json_pack then frees the values it was
 * given). */
static json_t *plugin_json(const flyq_plugin_stats_t *p) {
  return json_pack(
      "{so so so so ss sI sI sI sI so sI sI sI sI so}", "name",
      text_json(p->name), "file", text_json(p->file ? p->file : ""),
      "used_as", uses_json(p), "params", params_json(p), "id",
      p->id, "batches", (json_int_t)p->batches, "calls",
      (json_int_t)p->calls, "chunked_calls", (json_int_t)p->chunked_calls,
      "errors", (json_int_t)p->errors, "last_error",
      p->last_error ? text_json(p->last_error) : json_null(), "keys_pushed",
      (json_int_t)p->keys_pushed, "values_pushed",
      (json_int_t)p->values_pushed, "headers_pushed",
      (json_int_t)p->headers_pushed, "memory_bytes",
      (json_int_t)p->memory_bytes, "counters", counters_json(p));
}

/* Every instance's stats, or NULL when out of memory: an instance is
 * never left out. */
static json_t *plugins_json(flyq_plugins_t *rt) {
  json_t *a = json_array();
  flyq_plugin_stats_t *st = NULL;
  size_t n = 0;
  int rc;
  if (a == NULL || rt == NULL) return a;
  rc = flyq_plugins_stats(rt, &st, &n);
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = json_array_append_new(a, plugin_json(&st[i])); /* -1 for NULL */
  flyq_plugins_stats_free(st, n);
  if (rc == 0) return a;
  json_decref(a);
  return NULL;
}

/* The server's own counters: reads that would have waited for the disk
 * went to the thread pool (net: file ranges; filter: filtered fetches). */
static json_t *server_json(const flyq_server_t *s) {
  return json_pack("{sI sI sI}", "connections",
                   (json_int_t)flyq_net_connections(s->net), "cold_reads",
                   (json_int_t)flyq_net_cold_reads(s->net), "cold_filter_reads",
                   (json_int_t)s->cold_filter_reads);
}

void flyq__handle_stats(flyq__req_t *req) {
  json_t *o = json_pack("{so so so}", "broker", broker_json(req->broker),
                        "server", server_json(req->sc->srv), "plugins",
                        plugins_json(flyq__req_plugins(req)));
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (text == NULL) {
    flyq__req_fail(req, -ENOMEM);
    return;
  }
  char *copy = flyq_arena_strdup(&req->arena, flyq_str(text));
  free(text);
  if (copy == NULL) {
    flyq__req_fail(req, -ENOMEM);
    return;
  }
  flyq_proto_stats_resp_t resp = {{req->correlation_id, 0, {NULL, -1}},
                                  {(const uint8_t *)copy,
                                   (int32_t)strlen(copy)}};
  flyq__req_respond(req, flyq_proto_encode_stats_resp(&req->out, &resp));
}
