/* Record proxies: what a hook's `record` is, and how what a hook returns
 * becomes a record again (flyq__record_take, for the driver's host.emit in
 * plugin_host.c).
 *
 * A hook's `record` is a light userdata whose value is a slot number,
 * 1..FLYQ__RING: making one allocates nothing and, in the driver's fast
 * loop, costs no Lua write either (the driver's slices hold the RING
 * values once and for all, FLYQ__SLICE to a table), which is what keeps a
 * hook that returns its record cheap. The slots are handed out in turn,
 * round the ring, each run from the start of a slice; each says which run
 * (gen) and which input record it stands for now.
 * All light userdata share the metatable set here (the only other one a
 * plugin can get is cjson.null, the NULL pointer, which is no record).
 * What a hook did to a record lives in the instance's proxy array (one
 * entry per input record, stamped with the run, so that an entry of an
 * earlier run reads as zero without clearing the array). Reading
 * record.key or .value copies that string into Lua (the record is decoded
 * on first use); reading .headers makes a table, kept in a per-run cache
 * table (made only if some hook reads headers or assigns a field) so that
 * changes made to it in place count; nothing is copied for fields a hook
 * never reads (the instance's *_pushed counters show it). Assigning a
 * field stores the new value in the cache and marks it written. A
 * proxy of an earlier run (kept in ctx.state, say) raises when used while
 * its slot has not been handed out again; once it has (the ring came
 * round: in a later run, or in a run of more than FLYQ__RING records; a
 * run never reuses its own slots before that, see flyq__record_align), it
 * stands for the record its slot went to. Unique values would cost a Lua
 * table write per record.
 *
 * When a hook's result comes back (host.emit), an untouched proxy is
 * passed on as the input record itself, so that a batch whose records all
 * come back untouched is kept byte for byte; anything else is copied into
 * the call's arena as a changed record.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/store.h"
#include "host/plugin.h"

/* Fields; the first four have slots in the per-run cache table. */
enum {
  F_KEY = 1, F_VALUE, F_HEADERS, F_TOPIC, F_TIMESTAMP, F_PARTITION, F_OFFSET
};
#define BIT(f) (1u << (f))
#define CACHED_FIELDS 4
#define DUP_SCAN_MAX 256 /* headers scanned for duplicate names */

/* What a slot stands for: input record idx of run gen. */
typedef struct flyq__slot {
  uint64_t gen;
  size_t idx;
} slot_t;

static const char *const field_names[] = {
    NULL, "key", "value", "headers", "topic", "timestamp", "partition",
    "offset", NULL};

static const flyq_record_header_t no_headers[1];

/* What hooks did to one input record of the running call. */
typedef struct flyq__proxy {
  uint64_t gen;      /* the run this entry is of; older entries read as 0 */
  unsigned loaded;   /* BIT(F_*): the run's cache holds the field */
  unsigned written;  /* BIT(F_*): a hook assigned it */
  uint32_t distinct; /* distinct header names when headers were pushed */
  int32_t partition; /* when written; -1 for nil */
  int64_t timestamp; /* when written */
} proxy_t;

static const proxy_t untouched;

/* Proxy entry idx of the running call, as a hook left it. */
static const proxy_t *proxy_get(const flyq__plugin_t *p, size_t idx) {
  const proxy_t *x = &p->proxies[idx];
  return x->gen == p->gen ? x : &untouched;
}

/* Proxy entry idx of the running call, to be changed. */
static proxy_t *proxy_mut(flyq__plugin_t *p, size_t idx) {
  proxy_t *x = &p->proxies[idx];
  if (x->gen != p->gen) *x = (proxy_t){.gen = p->gen};
  return x;
}

/* Registry keys: the per-run cache of fields. */
static const char cache_key = 'c';

/* Raises msg, prefixed with the position of the function `level` levels
 * up the stack (1: the Lua code that triggered this C function, as for
 * luaL_error; 0: no position). The one place where this file's errors
 * enter Lua. */
static int raise_at(lua_State *L, int level, const char *fmt, ...) {
  va_list ap;
  if (level > 0)
    luaL_where(L, level);
  else
    lua_pushliteral(L, "");
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

/* The field named by the string at idx, or 0. Short strings are interned,
 * so a name is the one of the state's field name strings
 * (flyq__record_open) by address. */
static int field_of(lua_State *L, int idx) {
  const char *k = lua_tolstring(L, idx, NULL); /* a number: as a string */
  int f;
  if (k == NULL) return 0;
  switch (k[0]) { /* names differ in their first letter, but for t... */
  case 'k': f = F_KEY; break;
  case 'v': f = F_VALUE; break;
  case 'h': f = F_HEADERS; break;
  case 't': f = k[1] == 'o' ? F_TOPIC : F_TIMESTAMP; break;
  case 'p': f = F_PARTITION; break;
  case 'o': f = F_OFFSET; break;
  default: return 0;
  }
  return k == flyq__plugin_of(L)->field_names[f] ? f : 0;
}

/* The input index of the proxy at i, or -1 if the value at i is not a
 * proxy. Raises (with the position `level` up) for a proxy of an earlier
 * run. */
static long proxy_at(lua_State *L, int i, int level) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  uintptr_t v;
  const slot_t *s;
  /* A full userdata's address is never that small: no type check. */
  if ((v = (uintptr_t)lua_touserdata(L, i)) == 0 || v > FLYQ__RING ||
      p->slots == NULL)
    return -1;
  s = &p->slots[v - 1];
  if (p->call == NULL || s->gen != p->gen || s->idx >= p->call->nin)
    raise_at(L, level, "record used after the call that received it ended");
  return (long)s->idx;
}

/* proxy_at for a metamethod's first argument, which must be a proxy. */
static long self_at(lua_State *L) {
  long idx = proxy_at(L, 1, 1);
  if (idx < 0) raise_at(L, 1, "attempt to index a %s value", luaL_typename(L, 1));
  return idx;
}

/* Pushes cached field f of record idx (loaded before). */
static void cache_get(lua_State *L, size_t idx, int f) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key);
  lua_rawgeti(L, -1, (lua_Integer)(idx * CACHED_FIELDS) + f);
  lua_remove(L, -2);
}

/* Pops the value on top into cached field f of record idx. */
static void cache_set(lua_State *L, flyq__plugin_t *p, size_t idx, int f) {
  if (!p->cache_used) {
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
    p->cache_used = 1;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key);
  lua_insert(L, -2); /* [cache, value] */
  lua_rawseti(L, -2, (lua_Integer)(idx * CACHED_FIELDS) + f);
  lua_pop(L, 1);
}

/* ---- Reading ------------------------------------------------------------ */

static void push_bytes(lua_State *L, const uint8_t *b, int32_t len) {
  if (len < 0)
    lua_pushnil(L);
  else
    lua_pushlstring(L, (const char *)b, (size_t)len);
}

/* Sets t[key] = value (false for a null value) in the table on top;
 * returns 1 if key was new. */
static int set_header(lua_State *L, const flyq_record_header_t *h) {
  int fresh;
  lua_pushlstring(L, (const char *)h->key, (size_t)h->key_len);
  lua_pushvalue(L, -1);
  fresh = lua_rawget(L, -3) == LUA_TNIL;
  lua_pop(L, 1); /* [t, key] */
  if (h->value == NULL || h->value_len < 0)
    lua_pushboolean(L, 0);
  else
    lua_pushlstring(L, (const char *)h->value, (size_t)h->value_len);
  lua_rawset(L, -3);
  return fresh;
}

/* Pushes { name = value, ... } of r's headers (a later header of the same
 * name wins); returns the number of distinct names. */
static uint32_t push_headers(lua_State *L, const flyq__prec_t *r) {
  int32_t n = r->hdrs ? r->nhdrs : r->r.header_count;
  const uint8_t *p = NULL;
  flyq_record_header_t h;
  uint32_t distinct = 0;
  lua_createtable(L, 0, n > 0 && n < 64 ? n : 0);
  for (int32_t i = 0; i < n; i++) {
    if (r->hdrs)
      h = r->hdrs[i];
    else if (flyq_record_next_header(&r->r, &p, &h) != 1)
      break; /* validated batches never stop here */
    distinct += (uint32_t)set_header(L, &h);
  }
  return distinct;
}

/* Pushes the key or the value (f) of input record idx as it came: from
 * the request's bytes without decoding the rest of the record when the
 * input is the request's records. */
static void push_kv(lua_State *L, flyq__plugin_t *p, size_t idx, int f) {
  const flyq__call_t *c = p->call;
  const uint8_t *b;
  int32_t len;
  if (!c->lazy || c->in != c->orig ||
      flyq__lazy_field(c->lazy, idx, f == F_VALUE, &b, &len) < 0) {
    const flyq__prec_t *r = flyq__call_in(c, idx);
    b = f == F_VALUE ? r->r.value : r->r.key;
    len = f == F_VALUE ? r->r.value_len : r->r.key_len;
  }
  push_bytes(L, b, len);
  if (f == F_VALUE) p->values_pushed++; else p->keys_pushed++;
}

/* Pushes field f of record idx (cached fields: from the cache once
 * pushed). */
static void push_field(lua_State *L, flyq__plugin_t *p, size_t idx, int f) {
  const proxy_t *x = proxy_get(p, idx);
  const flyq__prec_t *r;
  proxy_t *m;
  if (f <= CACHED_FIELDS && (x->loaded & BIT(f))) {
    cache_get(L, idx, f);
    return;
  }
  if (f == F_KEY || f == F_VALUE) { /* not written (else loaded) */
    push_kv(L, p, idx, f); /* strings are values: pushed afresh, never cached */
    return;
  }
  r = flyq__call_in(p->call, idx);
  switch (f) {
  case F_TOPIC: lua_pushstring(L, r->topic ? r->topic : p->call->topic); return;
  case F_TIMESTAMP:
    lua_pushinteger(L, (x->written & BIT(f)) ? x->timestamp : r->r.timestamp);
    return;
  case F_PARTITION: {
    int32_t part = (x->written & BIT(f)) ? x->partition : r->partition;
    if (part < 0) lua_pushnil(L); else lua_pushinteger(L, part);
    return;
  }
  case F_OFFSET:
    if (p->call->consume) lua_pushinteger(L, r->r.offset); else lua_pushnil(L);
    return;
  case F_HEADERS: /* a table: cached, so that changes made in place stay */
    m = proxy_mut(p, idx);
    m->distinct = push_headers(L, r);
    p->headers_pushed++;
    p->touched = 1;
    lua_pushvalue(L, -1);
    cache_set(L, p, idx, f);
    m->loaded |= BIT(f);
    return;
  default: lua_pushnil(L); return;
  }
}

/* __index(record, name) */
static int proxy_index(lua_State *L) {
  long idx = self_at(L);
  push_field(L, flyq__plugin_of(L), (size_t)idx, field_of(L, 2));
  return 1;
}

/* ---- Writing ------------------------------------------------------------ */

static const char *type_of(lua_State *L, int idx) {
  return luaL_typename(L, idx);
}

/* Checks the value (at 3) for field f; raises at the assignment. */
static void check_assignment(lua_State *L, int f, int consume) {
  int t = lua_type(L, 3);
  int ok = 1;
  switch (f) {
  case F_KEY:
  case F_VALUE: ok = t == LUA_TSTRING || t == LUA_TNIL; break;
  case F_HEADERS: ok = t == LUA_TTABLE || t == LUA_TNIL; break;
  case F_TIMESTAMP: ok = lua_isinteger(L, 3); break;
  case F_TOPIC: ok = t == LUA_TSTRING || t == LUA_TNIL; break;
  case F_PARTITION: ok = t == LUA_TNIL || (lua_isinteger(L, 3) &&
                         lua_tointeger(L, 3) >= 0 &&
                         lua_tointeger(L, 3) <= INT32_MAX); break;
  default:
    raise_at(L, 1, "record has no field %s (fields: key, value, headers, "
             "timestamp, topic, partition)", luaL_tolstring(L, 2, NULL));
  }
  if (consume && (f == F_TOPIC || f == F_PARTITION || f == F_OFFSET))
    raise_at(L, 1, "record.%s is read-only in on_consume", field_names[f]);
  if (f == F_OFFSET) raise_at(L, 1, "record.offset is read-only");
  if (!ok)
    raise_at(L, 1, "record.%s: expected %s, got %s", field_names[f],
             f == F_HEADERS ? "table or nil" :
             f == F_TIMESTAMP ? "integer (milliseconds)" :
             f == F_PARTITION ? "integer >= 0 or nil" : "string or nil",
             type_of(L, 3));
}

/* __newindex(record, name, value) */
static int proxy_newindex(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  long idx = self_at(L);
  proxy_t *x = proxy_mut(p, (size_t)idx);
  int f = field_of(L, 2);
  check_assignment(L, f, p->call->consume);
  p->touched = 1;
  if (f == F_TIMESTAMP) {
    x->timestamp = lua_tointeger(L, 3);
  } else if (f == F_PARTITION) {
    x->partition = lua_isnil(L, 3) ? -1 : (int32_t)lua_tointeger(L, 3);
  } else {
    lua_settop(L, 3);
    cache_set(L, p, (size_t)idx, f);
    x->loaded |= BIT(f);
  }
  x->written |= BIT(f);
  return 0;
}

/* ---- Emitting: proxies and tables into changed records ------------------ */

/* Copies the string at idx (nil: *len -1) into the arena. */
static const uint8_t *arena_bytes(lua_State *L, flyq__call_t *c, int idx,
                                  int32_t *len) {
  size_t n;
  const char *s;
  uint8_t *copy;
  if (lua_isnil(L, idx)) {
    *len = -1;
    return NULL;
  }
  s = lua_tolstring(L, idx, &n);
  if (n > FLYQ_BATCH_MAX_SIZE) raise_at(L, 0, "a field is larger than 64 MiB");
  copy = flyq__arena_alloc(c->arena, n + 1);
  if (copy == NULL) luaL_error(L, "out of memory");
  memcpy(copy, s, n);
  copy[n] = '\0';
  *len = (int32_t)n;
  return copy;
}

static int cmp_header(const void *a, const void *b) {
  const flyq_record_header_t *x = a, *y = b;
  int32_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
  int c = memcmp(x->key, y->key, (size_t)n);
  return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Turns the headers table at idx into r's header array, sorted by name.
 * Raises on a bad name or value. */
static void headers_from_table(lua_State *L, flyq__call_t *c, int idx,
                               flyq__prec_t *r) {
  size_t n = 0, i = 0;
  flyq_record_header_t *h;
  idx = lua_absindex(L, idx);
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1)) n++;
  if (n > INT32_MAX / 2) raise_at(L, 0, "too many headers");
  h = flyq__arena_alloc(c->arena, n * sizeof *h);
  if (h == NULL && n > 0) luaL_error(L, "out of memory");
  for (lua_pushnil(L); lua_next(L, idx); lua_pop(L, 1), i++) {
    int vt = lua_type(L, -1);
    if (lua_type(L, -2) != LUA_TSTRING)
      raise_at(L, 0, "headers: names must be strings, got %s", type_of(L, -2));
    if (vt != LUA_TSTRING && !(vt == LUA_TBOOLEAN && !lua_toboolean(L, -1)))
      raise_at(L, 0, "headers[\"%s\"]: expected string or false (null), got %s",
               lua_tostring(L, -2), type_of(L, -1));
    h[i].key = arena_bytes(L, c, -2, &h[i].key_len);
    if (vt == LUA_TSTRING)
      h[i].value = arena_bytes(L, c, -1, &h[i].value_len);
    else
      h[i] = (flyq_record_header_t){h[i].key, h[i].key_len, NULL, -1};
  }
  if (n > 1) qsort(h, n, sizeof *h, cmp_header);
  r->hdrs = h;
  r->nhdrs = (int32_t)n;
}

/* Routes r to the topic named by the string at idx (nil: the request's
 * topic); explicit says whether the partition was set too. */
static void route(lua_State *L, flyq__call_t *c, int idx, flyq__prec_t *r,
                  int explicit) {
  int32_t len;
  const char *t = lua_isnil(L, idx) ? NULL : lua_tostring(L, idx);
  if (t == NULL || strcmp(t, c->topic) == 0) {
    r->topic = NULL;
    return;
  }
  if (strlen(t) != lua_rawlen(L, idx) || flyq_name_validate(t) != 0)
    raise_at(L, 0, "record.topic: invalid topic name \"%s\"", t);
  r->topic = (const char *)arena_bytes(L, c, idx, &len);
  if (!explicit) r->partition = -1;
}

/* Raises when r's partition, chosen by a hook, is not one of its topic's
 * (when the embedder says how many there are). */
static void check_partition(lua_State *L, const flyq__call_t *c,
                            const flyq__prec_t *r) {
  const char *topic = r->topic ? r->topic : c->topic;
  int32_t n;
  if (r->partition < 0 || c->partitions == NULL ||
      (r->topic == NULL && r->partition == c->partition))
    return; /* the request's own partition: the append checks it */
  n = c->partitions(c->partitions_arg, topic);
  if (n > 0 && r->partition >= n)
    raise_at(L, 0, "record.partition: no partition %d in topic \"%s\" "
             "(partitions 0 to %d)", (int)r->partition, topic, (int)n - 1);
}

/* Header i of r into *h: from its own array, or the next of its raw ones
 * (cursor *p, NULL at first). Returns 1, or 0 when corrupt. */
static int header_at(const flyq__prec_t *r, int32_t i, const uint8_t **p,
                     flyq_record_header_t *h) {
  if (r->hdrs) {
    *h = r->hdrs[i];
    return 1;
  }
  return flyq_record_next_header(&r->r, p, h) == 1;
}

/* 1 if the table on top maps h's name to h's value (false: null). */
static int table_has(lua_State *L, const flyq_record_header_t *h) {
  size_t len;
  const char *v;
  int same;
  lua_pushlstring(L, (const char *)h->key, (size_t)h->key_len);
  lua_rawget(L, -2);
  v = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
  if (h->value == NULL || h->value_len < 0)
    same = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
  else
    same = v && len == (size_t)h->value_len && memcmp(v, h->value, len) == 0;
  lua_pop(L, 1);
  return same;
}

/* 1 if a header after header i (raw cursor p) has the same name as h, so
 * that h's value does not count. Looks DUP_SCAN_MAX headers ahead. */
static int overridden(const flyq__prec_t *r, int32_t i, const uint8_t *p,
                      const flyq_record_header_t *h, int32_t n) {
  flyq_record_header_t g;
  for (int32_t j = i + 1; j < n && j <= i + DUP_SCAN_MAX; j++)
    if (header_at(r, j, &p, &g) && g.key_len == h->key_len &&
        memcmp(g.key, h->key, (size_t)h->key_len) == 0)
      return 1;
  return 0;
}

/* 1 if the cached headers table of record idx (proxy x) holds exactly r's
 * headers. */
static int headers_same(lua_State *L, size_t idx, const proxy_t *x,
                        const flyq__prec_t *r) {
  int32_t n = r->hdrs ? r->nhdrs : r->r.header_count;
  const uint8_t *p = NULL;
  flyq_record_header_t h;
  size_t count = 0;
  int same = 1;
  cache_get(L, idx, F_HEADERS);
  for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) count++;
  if (count != x->distinct) same = 0;
  for (int32_t i = 0; same && i < n; i++)
    same = header_at(r, i, &p, &h) &&
           (table_has(L, &h) || overridden(r, i, p, &h, n));
  lua_pop(L, 1);
  return same;
}

/* A changed copy of record idx (proxy x, input record r) into *out. */
static void from_proxy(lua_State *L, flyq__call_t *c, size_t idx,
                       const proxy_t *x, const flyq__prec_t *r,
                       flyq__prec_t *out) {
  int top = lua_gettop(L);
  *out = *r;
  out->changed = 1;
  if (x->written & BIT(F_KEY)) {
    cache_get(L, idx, F_KEY);
    out->r.key = arena_bytes(L, c, -1, &out->r.key_len);
  }
  if (x->written & BIT(F_VALUE)) {
    cache_get(L, idx, F_VALUE);
    out->r.value = arena_bytes(L, c, -1, &out->r.value_len);
  }
  if (x->written & BIT(F_TIMESTAMP)) out->r.timestamp = x->timestamp;
  if (x->written & BIT(F_PARTITION)) out->partition = x->partition;
  if (x->loaded & BIT(F_HEADERS)) {
    cache_get(L, idx, F_HEADERS);
    if (lua_isnil(L, -1))
      out->hdrs = no_headers, out->nhdrs = 0;
    else if ((x->written & BIT(F_HEADERS)) || !headers_same(L, idx, x, r))
      headers_from_table(L, c, -1, out);
  }
  if (x->written & BIT(F_TOPIC)) {
    cache_get(L, idx, F_TOPIC);
    route(L, c, -1, out, x->written & BIT(F_PARTITION));
  }
  check_partition(L, c, out);
  lua_settop(L, top);
}

/* The value of t[field] (t at 1) pushed, after checking its type. */
static int table_field(lua_State *L, int f) {
  int t = lua_getfield(L, 1, field_names[f]);
  int ok = t == LUA_TNIL;
  switch (f) {
  case F_KEY: case F_VALUE: case F_TOPIC: ok = ok || t == LUA_TSTRING; break;
  case F_HEADERS: ok = ok || t == LUA_TTABLE; break;
  case F_TIMESTAMP: ok = ok || lua_isinteger(L, -1); break;
  case F_PARTITION:
    ok = ok || (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 &&
                lua_tointeger(L, -1) <= INT32_MAX);
    break;
  }
  if (!ok)
    raise_at(L, 0, "new record: %s: unexpected %s", field_names[f],
             type_of(L, -1));
  return t;
}

/* A record built from the table at 1 into *out; what it does not say comes
 * from the record being processed (timestamp, offset) and the request
 * (topic, partition). */
static void from_table(lua_State *L, flyq__call_t *c, flyq__prec_t *out) {
  const flyq__prec_t *base = flyq__call_in(c, c->cur);
  int explicit;
  for (lua_pushnil(L); lua_next(L, 1); lua_pop(L, 1))
    if (field_of(L, -2) == 0 || field_of(L, -2) == F_OFFSET)
      raise_at(L, 0, "new record: unknown field %s (fields: key, value, "
               "headers, timestamp, topic, partition)",
               luaL_tolstring(L, -2, NULL));
  *out = (flyq__prec_t){.r = {.offset = base->r.offset,
                              .timestamp = base->r.timestamp},
                        .partition = c->partition, .src = base->src,
                        .changed = 1};
  table_field(L, F_KEY);
  out->r.key = arena_bytes(L, c, -1, &out->r.key_len);
  table_field(L, F_VALUE);
  out->r.value = arena_bytes(L, c, -1, &out->r.value_len);
  if (table_field(L, F_TIMESTAMP) != LUA_TNIL)
    out->r.timestamp = lua_tointeger(L, -1);
  if (table_field(L, F_HEADERS) != LUA_TNIL) headers_from_table(L, c, -1, out);
  explicit = table_field(L, F_PARTITION) != LUA_TNIL;
  if (explicit) out->partition = (int32_t)lua_tointeger(L, -1);
  if (table_field(L, F_TOPIC) != LUA_TNIL && c->consume)
    raise_at(L, 0, "new record: topic is read-only in on_consume");
  if (explicit && c->consume)
    raise_at(L, 0, "new record: partition is read-only in on_consume");
  route(L, c, -1, out, explicit);
  check_partition(L, c, out);
  lua_settop(L, 1);
}

/* ---- Entry points ------------------------------------------------------- */

/* The slots from the ring's position to the start of its next slice (0
 * at the start of one). */
static size_t slice_skip(const flyq__plugin_t *p) {
  return (FLYQ__SLICE - p->ring_pos % FLYQ__SLICE) % FLYQ__SLICE;
}

int flyq__record_begin(flyq__plugin_t *p, size_t n) {
  if (n > p->nproxies) {
    proxy_t *v = realloc(p->proxies, n * sizeof *v);
    if (v == NULL) return -ENOMEM;
    memset(v + p->nproxies, 0, (n - p->nproxies) * sizeof *v); /* gen 0 */
    p->proxies = v;
    p->nproxies = n;
  }
  p->touched = 0;
  p->ring_pos += slice_skip(p); /* each run starts on a slice of its own */
  p->run_slots = 0;
  return 0;
}

int flyq__record_align(flyq__plugin_t *p, size_t n) {
  size_t skip = slice_skip(p);
  if (skip == 0) return 0;
  if (p->run_slots + skip + n > FLYQ__RING) return -1;
  p->ring_pos += skip;
  p->run_slots += skip;
  return 0;
}

void flyq__record_end(flyq__plugin_t *p) {
  if (!p->cache_used) return;
  lua_pushnil(p->L); /* the key exists: this allocates nothing */
  lua_rawsetp(p->L, LUA_REGISTRYINDEX, &cache_key);
  p->cache_used = 0;
}

/* Fills the driver's slices with the proxy values, then makes the slots,
 * at the first record a plugin sees: plugins that never get one (auth,
 * unused instances) never pay for them. The slots come last because they
 * mark the ring as ready: a memory error while the tables grow (a plugin
 * near its cap) leaves p->slots NULL, and the next call fills again. */
static void ring_fill(lua_State *L, flyq__plugin_t *p) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->recs_ref);
  for (uintptr_t i = 0; i < FLYQ__RING / FLYQ__SLICE; i++) {
    lua_createtable(L, FLYQ__SLICE, 0);
    for (uintptr_t k = 1; k <= FLYQ__SLICE; k++) {
      lua_pushlightuserdata(L, (void *)(i * FLYQ__SLICE + k));
      lua_rawseti(L, -2, (lua_Integer)k);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_pop(L, 1);
  if ((p->slots = calloc(FLYQ__RING, sizeof *p->slots)) == NULL)
    luaL_error(L, "out of memory");
}

size_t flyq__record_slots(lua_State *L, flyq__plugin_t *p, size_t idx,
                          size_t n, size_t *first) {
  size_t room;
  if (p->slots == NULL) ring_fill(L, p);
  if (p->ring_pos == FLYQ__RING) p->ring_pos = 0;
  room = FLYQ__SLICE - p->ring_pos % FLYQ__SLICE;
  if (n > room) n = room;
  *first = p->ring_pos + 1;
  for (size_t j = 0; j < n; j++)
    p->slots[p->ring_pos + j] = (slot_t){p->gen, idx + j};
  p->ring_pos += n;
  p->run_slots += n;
  return n;
}

void flyq__record_new(lua_State *L, flyq__plugin_t *p, size_t idx) {
  size_t slot;
  flyq__record_slots(L, p, idx, 1, &slot);
  lua_pushlightuserdata(L, (void *)(uintptr_t)slot);
}

void flyq__record_slice(lua_State *L, const flyq__plugin_t *p, size_t i) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->recs_ref);
  lua_rawgeti(L, -1, (lua_Integer)i + 1);
  lua_remove(L, -2);
}

int flyq__record_ring(lua_State *L) {
  lua_createtable(L, FLYQ__RING / FLYQ__SLICE, 0); /* filled by ring_fill */
  return luaL_ref(L, LUA_REGISTRYINDEX);
}

void flyq__record_forget(flyq__plugin_t *p, size_t from, size_t to) {
  for (size_t i = from; i < to && i < p->nproxies; i++) p->proxies[i].gen = 0;
}

int flyq__record_clean(const flyq__plugin_t *p, size_t idx) {
  const proxy_t *x = proxy_get(p, idx);
  return x->written == 0 && !(x->loaded & BIT(F_HEADERS));
}

void flyq__record_keep(lua_State *L, flyq__call_t *c, size_t idx,
                       flyq__prec_t *out) {
  const proxy_t *x = proxy_get(flyq__plugin_of(L), idx);
  const flyq__prec_t *r = flyq__call_in(c, idx);
  if (x->written == 0 &&
      (!(x->loaded & BIT(F_HEADERS)) || headers_same(L, idx, x, r)))
    *out = *r;
  else
    from_proxy(L, c, idx, x, r, out);
}

void flyq__record_take(lua_State *L, flyq__call_t *c, flyq__prec_t *out) {
  long idx = proxy_at(L, 1, 0);
  if (idx >= 0) {
    flyq__record_keep(L, c, (size_t)idx, out);
  } else if (lua_type(L, 1) == LUA_TTABLE) {
    from_table(L, c, out);
  } else {
    raise_at(L, 0, "returned %s, which is not a record", type_of(L, 1));
  }
}

void flyq__record_open(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  lua_createtable(L, F_OFFSET, 0); /* the names, kept alive */
  for (int f = F_KEY; f <= F_OFFSET; f++) {
    p->field_names[f] = lua_pushstring(L, field_names[f]);
    lua_rawseti(L, -2, f);
  }
  lua_rawsetp(L, LUA_REGISTRYINDEX, field_names);
  lua_pushlightuserdata(L, NULL);
  lua_createtable(L, 0, 4);
  lua_pushcfunction(L, proxy_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, proxy_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2); /* every light userdata's */
  lua_pop(L, 1);
}
