/* Partitioners (flyq_plugins_partition): the built-ins in C (key_hash,
 * round_robin, sticky), and Lua partition hooks (a plugin, or an inline
 * function of the config) driven over the whole batch by flyq.runtime.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "flyq/common.h"
#include "flyq/partition.h"
#include "host/runtime.h"

typedef struct part_request {
  const char *topic;
  const char *principal;
  int32_t npartitions;
  int protected;
  size_t nin;
} part_request_t;

/* key_hash: murmur2 of the key; a null key takes the next round-robin. */
static int32_t key_hash(const flyq_record_t *r, int32_t n, uint32_t *rr) {
  if (r->key_len < 0) return (int32_t)((*rr)++ % (uint32_t)n);
  return flyq_partition_for_key(r->key, (size_t)r->key_len, n);
}

static void builtin(flyq_partitioner_kind_t kind, const flyq__recs_t *in,
                    int32_t n, uint32_t *rr, int32_t *parts) {
  int32_t sticky = -1;
  for (size_t i = 0; i < in->n; i++) {
    const flyq_record_t *r = &in->v[i].r;
    if (kind == FLYQ_PARTITIONER_ROUND_ROBIN) {
      parts[i] = (int32_t)((*rr)++ % (uint32_t)n);
    } else if (kind == FLYQ_PARTITIONER_STICKY && r->key_len < 0) {
      if (sticky < 0) sticky = (int32_t)((*rr)++ % (uint32_t)n);
      parts[i] = sticky;
    } else {
      parts[i] = key_hash(r, n, rr);
    }
  }
}

/* partition(inst, n, npartitions, topic, principal, protected) */
static int push_part_request(lua_State *L, void *arg) {
  const part_request_t *req = arg;
  lua_pushinteger(L, (lua_Integer)req->nin);
  lua_pushinteger(L, req->npartitions);
  lua_pushstring(L, req->topic);
  if (req->principal)
    lua_pushstring(L, req->principal);
  else
    lua_pushnil(L);
  lua_pushboolean(L, req->protected);
  return 5;
}

/* Runs the topic's Lua partitioner; records it failed on (on_error pass or
 * dead_letter) get the key_hash placement. */
static int lua_partition(flyq_plugins_t *rt, flyq__rt_topic_t *t,
                         part_request_t *req, int32_t *parts, char *err,
                         size_t errlen) {
  flyq__call_t call = {.hook = "partition", .in = rt->orig.recs.v,
                       .nin = rt->orig.recs.n, .parts = parts, .topic = t->name,
                       .partition = -1, .on_error = t->on_error,
                       .orig = rt->orig.recs.v, .flags = rt->flags};
  int rc;
  for (size_t i = 0; i < rt->orig.recs.n; i++) parts[i] = -1;
  req->nin = rt->orig.recs.n;
  rc = flyq__plugin_run(t->partitioner, &call, "partition", push_part_request,
                        req, 0, err, errlen);
  for (size_t i = 0; rc == 0 && i < rt->orig.recs.n; i++)
    if (parts[i] < 0)
      parts[i] = key_hash(&rt->orig.recs.v[i].r, req->npartitions, &t->rr);
  return rc;
}

int flyq_plugins_partition(flyq_plugins_t *rt, const char *topic,
                           const char *principal, const uint8_t *batches,
                           size_t len, int32_t npartitions, int32_t *parts,
                           size_t cap, size_t *nrecords, char *err,
                           size_t errlen) {
  char ignored[1];
  flyq__rt_topic_t *t = flyq__rt_topic(rt, topic);
  part_request_t req = {topic, principal, npartitions,
                        t && t->on_error != FLYQ_ON_ERROR_REJECT, 0};
  int rc;
  if (err == NULL || errlen == 0) err = ignored, errlen = sizeof ignored;
  err[0] = '\0';
  *nrecords = 0;
  if (topic == NULL || npartitions < 1 || (batches == NULL && len > 0))
    return FLYQ_ERR_INVALID_ARG;
  rc = flyq__rt_decode(rt, batches, len, -1);
  if (rc == 0) flyq__lazy_all(&rt->orig); /* every record is placed */
  if (rc == 0 && rt->orig.recs.n > cap) rc = FLYQ_ERR_INVALID_ARG;
  if (rc < 0) {
    snprintf(err, errlen, "%s", flyq_strerror(rc));
    return rc;
  }
  if (t && t->kind == FLYQ_PARTITIONER_PLUGIN && rt->orig.recs.n > 0)
    rc = lua_partition(rt, t, &req, parts, err, errlen);
  else
    builtin(t ? t->kind : FLYQ_PARTITIONER_DEFAULT, &rt->orig.recs, npartitions,
            t ? &t->rr : &rt->rr, parts);
  if (rc == 0) *nrecords = rt->orig.recs.n;
  return rc;
}
