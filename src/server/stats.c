/* Stats (API 52, admin): the broker's counters and the plugin runtime's
 * per-plugin stats as one JSON object (docs/protocol.md, "Stats"). The
 * plugin error counts are also in the log, with every failure.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"

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

static json_t *counters_json(const flyq_plugin_stats_t *p) {
  json_t *o = json_object();
  for (size_t i = 0; o && i < p->ncounters; i++)
    json_object_set_new(o, p->counters[i].name,
                        json_integer((json_int_t)p->counters[i].value));
  return o;
}

/* The params are left out: they may hold secrets (an auth plugin's
 * tokens). */
static json_t *plugin_json(const flyq_plugin_stats_t *p) {
  return json_pack(
      "{ss ss sI sI sI ss? sI sI sI sI so}", "name", p->name, "file",
      p->file ? p->file : "", "batches",
      (json_int_t)p->batches, "calls", (json_int_t)p->calls, "errors",
      (json_int_t)p->errors, "last_error",
      p->last_error, "keys_pushed",
      (json_int_t)p->keys_pushed, "values_pushed",
      (json_int_t)p->values_pushed, "headers_pushed",
      (json_int_t)p->headers_pushed, "memory_bytes",
      (json_int_t)p->memory_bytes, "counters", counters_json(p));
}

static json_t *plugins_json(flyq_plugins_t *rt) {
  json_t *a = json_array();
  flyq_plugin_stats_t *st = NULL;
  size_t n = 0;
  if (a == NULL || rt == NULL) return a;
  if (flyq_plugins_stats(rt, &st, &n) < 0) {
    json_decref(a);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) json_array_append_new(a, plugin_json(&st[i]));
  flyq_plugins_stats_free(st, n);
  return a;
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
