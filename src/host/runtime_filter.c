/* on_produce and on_consume (include/flyq/plugins.h): the request's records
 * are validated and loaded (rt->orig, decoded on first use), go through
 * the topic's hooks one plugin at a
 * time (each plugin's driver loops over the whole batch: one Lua call per
 * batch per plugin), and come out either "unchanged" (every record came
 * back as it was: the caller keeps its bytes) or as new batches grouped by
 * (topic, partition), built with flyq_batch_builder_*.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/common.h"
#include "flyq/store.h"
#include "host/runtime.h"

#define REC_OUT 4 /* rt->flags: the record produced some output */

/* One request: what every hook of the chain is told. */
typedef struct request {
  const char *fn;   /* the driver function: "produce" or "consume" */
  const char *hook; /* for messages: "on_produce" */
  const char *topic;
  int32_t partition; /* -1: none */
  const char *principal;
  int on_error;
  int consume;
  int64_t from; /* on_consume: the fetch offset (records below it skipped) */
  size_t nin;   /* records of the stage being run */
} request_t;

/* ---- Input ---------------------------------------------------------------- */

int flyq__rt_decode(flyq_plugins_t *rt, const uint8_t *buf, size_t len,
                    int32_t partition) {
  int rc = flyq__lazy_load(&rt->orig, buf, len, partition);
  size_t n = rt->orig.recs.n;
  if (rc < 0) return rc;
  if (n > rt->flags_cap) {
    uint8_t *flags = realloc(rt->flags, n);
    if (flags == NULL) return -ENOMEM;
    rt->flags = flags;
    rt->flags_cap = n;
  }
  if (n > 0) memset(rt->flags, 0, n);
  return 0;
}

/* ---- Running the hooks ---------------------------------------------------- */

/* produce/consume(inst, n, topic, partition, principal, protected) */
static int push_request(lua_State *L, void *arg) {
  const request_t *req = arg;
  lua_pushinteger(L, (lua_Integer)req->nin);
  lua_pushstring(L, req->topic);
  if (req->partition >= 0)
    lua_pushinteger(L, req->partition);
  else
    lua_pushnil(L);
  if (req->principal)
    lua_pushstring(L, req->principal);
  else
    lua_pushnil(L);
  lua_pushboolean(L, req->on_error != FLYQ_ON_ERROR_REJECT);
  return 5;
}

/* Runs the hooks of chain[0..n) one after the other from rt->orig; *final
 * and *nfinal receive what the last one returned. */
static int run_chain(flyq_plugins_t *rt, flyq__plugin_t *const *chain,
                     size_t n, request_t *req, flyq__arena_t *arena,
                     const flyq__prec_t **final, size_t *nfinal, char *err,
                     size_t errlen) {
  const flyq__prec_t *in = rt->orig.recs.v;
  size_t nin = rt->orig.recs.n;
  rt->dead.n = 0;
  for (size_t i = 0; i < n && nin > 0; i++) {
    /* not in's buffer: a hook that passed everything on left in as it was */
    flyq__recs_t *out = in == rt->stage[0].v ? &rt->stage[1] : &rt->stage[0];
    flyq__call_t call = {
        .hook = req->hook, .in = in, .nin = nin, .out = out, .arena = arena,
        .topic = req->topic, .partition = req->partition,
        .consume = req->consume, .on_error = req->on_error,
        .partitions = rt->partitions, .partitions_arg = rt->partitions_arg,
        .orig = rt->orig.recs.v, .lazy = &rt->orig, .flags = rt->flags,
        .dead = req->on_error == FLYQ_ON_ERROR_DEAD_LETTER ? &rt->dead : NULL};
    int rc;
    out->n = 0;
    req->nin = nin;
    rc = flyq__plugin_run(chain[i], &call, req->fn, push_request, req, 0, err,
                          errlen);
    if (rc < 0) return rc;
    if (!call.same) { /* else the output is in[0..nin) as it was */
      in = out->v;
      nin = out->n;
    }
  }
  *final = in;
  *nfinal = nin;
  return 0;
}

/* 1 if final is the request's records as they came. */
static int unchanged(const flyq_plugins_t *rt, const flyq__prec_t *v,
                     size_t n) {
  if (n != rt->orig.recs.n || rt->dead.n > 0 || rt->orig.skipped > 0)
    return 0;
  if (v == rt->orig.recs.v) return 1; /* every hook passed its input on */
  for (size_t i = 0; i < n; i++)
    if (v[i].changed || v[i].src != i || v[i].topic != NULL ||
        v[i].partition != rt->orig.partition)
      return 0;
  return 1;
}

/* ---- Output ----------------------------------------------------------------- */

typedef struct out_build {
  flyq_plugins_t *rt;
  flyq_plugins_output_t *out;
  size_t *caps;  /* bytes allocated for out->batches[i].data */
  size_t ncaps;
  int consume;
} out_build_t;

/* The index of group (topic, partition), made if new; -1 when out of
 * memory. */
static long group_of(out_build_t *b, const char *topic, int32_t partition) {
  flyq_plugins_output_t *out = b->out;
  flyq_plugins_batch_t *v;
  size_t *caps;
  for (size_t i = 0; i < out->nbatches; i++)
    if (out->batches[i].partition == partition &&
        strcmp(out->batches[i].topic, topic) == 0)
      return (long)i;
  v = realloc(out->batches, (out->nbatches + 1) * sizeof *v);
  if (v) out->batches = v;
  caps = v ? realloc(b->caps, (out->nbatches + 1) * sizeof *caps) : NULL;
  if (caps) b->caps = caps;
  if (v == NULL || caps == NULL) return -1;
  v[out->nbatches] = (flyq_plugins_batch_t){.topic = strdup(topic),
                                            .partition = partition};
  caps[out->nbatches] = 0;
  if (v[out->nbatches].topic == NULL) return -1;
  return (long)out->nbatches++;
}

static int append(flyq_plugins_batch_t *g, size_t *cap, const uint8_t *data,
                  size_t len) {
  if (g->len + len > *cap) {
    size_t want = *cap ? *cap : 4096;
    uint8_t *d;
    while (want < g->len + len) want *= 2;
    if ((d = realloc(g->data, want)) == NULL) return -ENOMEM;
    g->data = d;
    *cap = want;
  }
  memcpy(g->data + g->len, data, len);
  g->len += len;
  return 0;
}

/* Appends the builder's batch to group gi (with base_offset when >= 0). */
static int flush(out_build_t *b, size_t gi, int64_t base_offset) {
  flyq_plugins_batch_t *g = &b->out->batches[gi];
  const uint8_t *data;
  size_t len, at = g->len;
  int rc;
  if (b->rt->builder.count == 0) return 0;
  rc = flyq_batch_builder_finish(&b->rt->builder, &data, &len);
  if (rc == 0) rc = append(g, &b->caps[gi], data, len);
  if (rc == 0 && base_offset >= 0)
    flyq_batch_set_base_offset(g->data + at, base_offset);
  flyq_batch_builder_reset(&b->rt->builder);
  return rc;
}

/* r's headers as an array: its own, or its raw ones decoded into rt->hdrs. */
static int headers(flyq_plugins_t *rt, const flyq__prec_t *r,
                   const flyq_record_header_t **h, int32_t *n) {
  const uint8_t *p = NULL;
  if (r->hdrs) {
    *h = r->hdrs;
    *n = r->nhdrs;
    return 0;
  }
  *n = r->r.header_count;
  if ((size_t)*n > rt->hdrs_cap) {
    flyq_record_header_t *v = realloc(rt->hdrs, (size_t)*n * sizeof *v);
    if (v == NULL) return -ENOMEM;
    rt->hdrs = v;
    rt->hdrs_cap = (size_t)*n;
  }
  for (int32_t i = 0; i < *n; i++)
    if (flyq_record_next_header(&r->r, &p, &rt->hdrs[i]) != 1)
      return FLYQ_ERR_CORRUPT;
  *h = rt->hdrs;
  return 0;
}

static int builder_add(flyq_plugins_t *rt, const flyq__prec_t *r) {
  const flyq_record_header_t *h;
  int32_t n;
  int rc = headers(rt, r, &h, &n);
  if (rc < 0) return rc;
  return flyq_batch_builder_add(&rt->builder, r->r.timestamp, r->r.key,
                                r->r.key_len, r->r.value, r->r.value_len, h, n);
}

/* Adds r to group gi, starting a new batch when the builder is full or (on
 * consume) when r's offset does not follow the previous one. */
static int add(out_build_t *b, size_t gi, const flyq__prec_t *r,
               int64_t *first, int64_t *prev) {
  int rc = 0;
  if (b->consume && b->rt->builder.count > 0 && r->r.offset != *prev + 1)
    rc = flush(b, gi, *first);
  if (rc == 0 && b->rt->builder.count == 0) *first = r->r.offset;
  if (rc == 0 && (rc = builder_add(b->rt, r)) == FLYQ_ERR_TOO_LARGE &&
      b->rt->builder.count > 0) {
    rc = flush(b, gi, *first);
    *first = r->r.offset;
    if (rc == 0) rc = builder_add(b->rt, r);
  }
  *prev = r->r.offset;
  if (rc == 0) b->out->batches[gi].records++;
  return rc;
}

/* Builds group gi from the records of v[0..n) whose group index is gi. */
static int build_group(out_build_t *b, size_t gi, const flyq__prec_t *v,
                       size_t n, const long *gidx) {
  int64_t first = -1, prev = -1;
  int rc = 0;
  flyq_batch_builder_reset(&b->rt->builder);
  for (size_t i = 0; i < n && rc == 0; i++)
    if (gidx[i] == (long)gi) rc = add(b, gi, &v[i], &first, &prev);
  if (rc == 0) rc = flush(b, gi, b->consume ? first : -1);
  b->out->records_out += b->out->batches[gi].records;
  return rc;
}

/* Groups and builds v[0..n) (default topic: topic, or the dead-letter
 * topic when dlq) into b->out. */
static int build_all(out_build_t *b, const flyq__prec_t *v, size_t n,
                     const char *topic) {
  long *gidx = n ? malloc(n * sizeof *gidx) : NULL;
  size_t before = b->out->nbatches;
  int rc = n && gidx == NULL ? -ENOMEM : 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    gidx[i] = group_of(b, v[i].topic ? v[i].topic : topic, v[i].partition);
    if (gidx[i] < 0) rc = -ENOMEM;
  }
  for (size_t gi = before; gi < b->out->nbatches && rc == 0; gi++)
    rc = build_group(b, gi, v, n, gidx);
  free(gidx);
  return rc;
}

static int build_dead(out_build_t *b, const char *topic) {
  char dlq[FLYQ_NAME_MAX + 8];
  if (b->rt->dead.n == 0) return 0;
  snprintf(dlq, sizeof dlq, "%s.dlq", topic);
  if (flyq_name_validate(dlq) != 0) return FLYQ_ERR_INVALID_NAME;
  b->out->dead_letters = b->rt->dead.n;
  return build_all(b, b->rt->dead.v, b->rt->dead.n, dlq);
}

static void count(flyq_plugins_t *rt, flyq_plugins_output_t *out,
                  const flyq__prec_t *v, size_t n) {
  out->records_in = rt->orig.recs.n;
  if (v == rt->orig.recs.v && n == rt->orig.recs.n) return; /* all passed on, none
                                                      failed */
  for (size_t i = 0; i < n; i++) rt->flags[v[i].src] |= REC_OUT;
  for (size_t i = 0; i < rt->orig.recs.n; i++) {
    if (rt->flags[i] & FLYQ__REC_FAILED)
      out->failed++;
    else if (!(rt->flags[i] & REC_OUT))
      out->dropped++;
  }
}

/* Fills out from the chain's result v[0..n). */
static int output(flyq_plugins_t *rt, const request_t *req,
                  const flyq__prec_t *v, size_t n,
                  flyq_plugins_output_t *out) {
  out_build_t b = {rt, out, NULL, 0, req->consume};
  int rc = 0;
  count(rt, out, v, n);
  if (unchanged(rt, v, n)) {
    out->unchanged = 1;
    out->records_out = n;
  } else {
    if (v == rt->orig.recs.v) flyq__lazy_all(&rt->orig);
    rc = build_all(&b, v, n, req->topic);
    if (rc == 0) rc = build_dead(&b, req->topic);
  }
  free(b.caps);
  if (req->consume) out->next_offset = rt->orig.end_offset;
  return rc;
}

/* ---- The two entry points ------------------------------------------------- */

/* Runs chain[0..n) and then extra (may be NULL) over batches. */
static int filter(flyq_plugins_t *rt, flyq__plugin_t *const *chain, size_t n,
                  flyq__plugin_t *extra, request_t *req, const uint8_t *batches,
                  size_t len, flyq_plugins_output_t *out, char *err,
                  size_t errlen) {
  flyq__arena_t arena = {NULL};
  flyq__plugin_t **all = malloc((n + 1) * sizeof *all);
  const flyq__prec_t *v = NULL;
  size_t nv = 0;
  int rc = all ? flyq__rt_decode(rt, batches, len, req->partition) : -ENOMEM;
  out->validated = rc == 0;
  if (rc == 0 && req->consume) flyq__lazy_skip(&rt->orig, req->from);
  if (rc == 0) {
    if (n > 0) memcpy(all, chain, n * sizeof *all);
    if (extra) all[n++] = extra;
    rc = run_chain(rt, all, n, req, &arena, &v, &nv, err, errlen);
  }
  if (rc == 0) rc = output(rt, req, v, nv, out);
  if (rc < 0 && err[0] == '\0') snprintf(err, errlen, "%s", flyq_strerror(rc));
  flyq__arena_free(&arena);
  free(all);
  if (rc < 0) flyq_plugins_output_free(out);
  return rc;
}

static void output_init(flyq_plugins_output_t *out) {
  memset(out, 0, sizeof *out);
  out->next_offset = -1;
}

int flyq_plugins_on_produce(flyq_plugins_t *rt, const char *topic,
                            int32_t partition, const char *principal,
                            const uint8_t *batches, size_t len,
                            flyq_plugins_output_t *out, char *err,
                            size_t errlen) {
  char ignored[1];
  flyq__rt_topic_t *t = flyq__rt_topic(rt, topic);
  request_t req = {"produce", "on_produce", topic, partition < 0 ? -1 : partition,
                   principal, t ? t->on_error : 0, 0, 0, 0};
  if (err == NULL || errlen == 0) err = ignored, errlen = sizeof ignored;
  err[0] = '\0';
  output_init(out);
  if (t == NULL || t->non_produce == 0) {
    out->unchanged = 1;
    return 0;
  }
  if (batches == NULL && len > 0) return FLYQ_ERR_INVALID_ARG;
  return filter(rt, t->on_produce, t->non_produce, NULL, &req, batches, len,
                out, err, errlen);
}

int flyq_plugins_on_consume(flyq_plugins_t *rt, const char *filter_name,
                            const char *params, const char *topic,
                            int32_t partition, int64_t from,
                            const char *principal,
                            const uint8_t *batches, size_t len,
                            flyq_plugins_output_t *out, char *err,
                            size_t errlen) {
  char ignored[1];
  flyq__rt_topic_t *t = flyq__rt_topic(rt, topic);
  flyq__plugin_t *extra = NULL;
  int on_error = t ? t->on_error : FLYQ_ON_ERROR_REJECT;
  request_t req = {"consume", "on_consume", topic, partition < 0 ? -1 : partition,
                   principal,
                   on_error == FLYQ_ON_ERROR_DEAD_LETTER ? FLYQ_ON_ERROR_PASS
                                                         : on_error,
                   1, from, 0};
  int rc;
  if (err == NULL || errlen == 0) err = ignored, errlen = sizeof ignored;
  err[0] = '\0';
  output_init(out);
  if (topic == NULL || (batches == NULL && len > 0)) return FLYQ_ERR_INVALID_ARG;
  if (filter_name &&
      (rc = flyq__rt_filter(rt, filter_name, params, &extra, err, errlen)) < 0)
    return rc;
  if (extra == NULL && (t == NULL || t->non_consume == 0)) {
    out->unchanged = 1;
    return 0;
  }
  return filter(rt, t ? t->on_consume : NULL, t ? t->non_consume : 0, extra,
                &req, batches, len, out, err, errlen);
}

void flyq_plugins_output_free(flyq_plugins_output_t *out) {
  for (size_t i = 0; i < out->nbatches; i++) {
    free(out->batches[i].topic);
    free(out->batches[i].data);
  }
  free(out->batches);
  memset(out, 0, sizeof *out);
  out->next_offset = -1;
}
