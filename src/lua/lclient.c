/* The C client as part of the flyq.core Lua module (see lclient.h for the
 * module functions). A client is a full userdata holding one
 * flyq_client_t; it is closed by :close(), __close or __gc.
 *
 * Methods (all blocking, one request at a time):
 *   c:produce(topic, partition, acks, batch_bytes) -> result
 *       result = {base_offset=, last_offset=, log_start_offset=,
 *                 parts = {{partition=, base_offset=, last_offset=,
 *                           log_start_offset=, error=, message=}, ...}}
 *   c:fetch(topic, partition, offset, max_bytes, max_wait_ms, min_bytes)
 *       -> {records = bytes, high_watermark=, log_start_offset=,
 *           flushed_offset=}; a partition error also returns that table
 *          as the 4th value after nil, err, code
 *   c:list_offset(topic, partition, timestamp) -> offset
 *   c:metadata([topic]) -> {host=, port=, topics = {{name=, error=,
 *       partitions = {{partition=, log_start_offset=, high_watermark=,
 *       flushed_offset=, segment_count=, size_bytes=, last_append_ms=}},
 *       config = {key = value}}}}
 *   c:create_topic(name, partitions [, config]) -> true
 *   c:delete_topic(name) -> true
 *   c:offset_commit(group, topic, partition, offset) -> true
 *   c:offset_fetch(group, topic, partition) -> offset (-1 if none)
 *   c:group_offsets(group) -> {{topic=, partition=, offset=}, ...}
 *   c:list_groups() -> {name, ...}
 *   c:authenticate(mechanism [, credentials]) -> principal or true
 *   c:send_raw(bytes) -> true
 *   c:recv_frame(timeout_ms) -> payload | nil, "closed" | "timeout", code
 *   c:connected(), c:broker_version(), c:close()
 */
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "flyq/client.h"
#include "flyq/proto.h"
#include "lua/lclient.h"
#include "lua/lrecords.h"

#define LCLIENT_MT "flyq.core.client"
#define LCLIENT_BUILDER_MT "flyq.core.client.builder"

typedef struct lclient {
  flyq_client_t *c; /* NULL once closed */
} lclient_t;

/* ---- Errors and arguments --------------------------------------------- */

/* Pushes nil, message, code for a failed call on c and returns 3. */
static int lclient_fail(lua_State *L, flyq_client_t *c, int err) {
  int16_t code = c ? flyq_client_error_code(c) : 0;
  lua_pushnil(L);
  if (c && flyq_client_errmsg(c)[0] != '\0')
    lua_pushstring(L, flyq_client_errmsg(c));
  else
    lua_pushstring(L, flyq_strerror(err));
  lua_pushstring(L, code ? flyq_wire_errname(code) : flyq_errname(err));
  return 3;
}

static int lclient_ok(lua_State *L, flyq_client_t *c, int err) {
  if (err < 0) return lclient_fail(L, c, err);
  lua_pushboolean(L, 1);
  return 1;
}

static flyq_client_t *lclient_check(lua_State *L) {
  lclient_t *u = luaL_checkudata(L, 1, LCLIENT_MT);
  if (u->c == NULL) luaL_error(L, "attempt to use a closed client");
  return u->c;
}

/* An integer argument within [min, max]. */
static lua_Integer lclient_int(lua_State *L, int arg, lua_Integer min,
                               lua_Integer max) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= min && v <= max, arg, "out of range");
  return v;
}

static lua_Integer lclient_optint(lua_State *L, int arg, lua_Integer def,
                                  lua_Integer min, lua_Integer max) {
  return lua_isnoneornil(L, arg) ? def : lclient_int(L, arg, min, max);
}

static void lclient_setint(lua_State *L, const char *field, int64_t v) {
  lua_pushinteger(L, v);     /* [.., t, v] */
  lua_setfield(L, -2, field); /* [.., t] */
}

/* An integer field of the options table at idx, def when absent. */
static lua_Integer lclient_opt(lua_State *L, int idx, const char *field,
                               lua_Integer def, lua_Integer min,
                               lua_Integer max) {
  lua_Integer v = def;
  if (lua_getfield(L, idx, field) != LUA_TNIL) { /* [.., v] */
    int ok;
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < min || v > max)
      luaL_error(L, "option %s: expected an integer in range", field);
  }
  lua_pop(L, 1); /* [..] */
  return v;
}

/* ---- Records ---------------------------------------------------------- */


static int lbuilder_gc(lua_State *L) {
  flyq_batch_builder_t *b = luaL_checkudata(L, 1, LCLIENT_BUILDER_MT);
  flyq_batch_builder_free(b);
  flyq_batch_builder_init(b);
  return 0;
}

/* core.batch_encode(records) -> bytes */
static int lclient_batch_encode(lua_State *L) {
  flyq_batch_builder_t *b = lua_newuserdatauv(L, sizeof(*b), 0);
  const uint8_t *out;
  size_t len;
  int err;
  flyq_batch_builder_init(b); /* [records, builder] */
  luaL_setmetatable(L, LCLIENT_BUILDER_MT);
  err = flyq__lua_records_build(L, 1, b);
  if (err == 0) err = flyq_batch_builder_finish(b, &out, &len);
  if (err < 0) return lclient_fail(L, NULL, err);
  lua_pushlstring(L, (const char *)out, len); /* [records, builder, bytes] */
  return 1;
}

/* core.batch_decode(bytes [, from]) -> records, next_offset */
static int lclient_batch_decode(lua_State *L) {
  size_t len;
  const char *p = luaL_checklstring(L, 1, &len);
  int64_t from = lclient_optint(L, 2, 0, INT64_MIN, INT64_MAX), next;
  int err = flyq__lua_records_push(L, (const uint8_t *)p, len, from, &next);
  if (err < 0) return lclient_fail(L, NULL, err);
  lua_pushinteger(L, next); /* [.., records, next] */
  return 2;
}

/* ---- The client userdata ---------------------------------------------- */

/* core.connect(addr [, {timeout_ms=, request_timeout_ms=, max_inflight=,
 * max_frame_bytes=, client_id=}]) -> client | nil, err, code */
static int lclient_connect(lua_State *L) {
  const char *addr = luaL_checkstring(L, 1);
  flyq_client_options_t o;
  lclient_t *u;
  int timeout = 10000, err;
  flyq_client_options_init(&o);
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    timeout = (int)lclient_opt(L, 2, "timeout_ms", timeout, 1, INT32_MAX);
    o.request_timeout_ms = (int32_t)lclient_opt(
        L, 2, "request_timeout_ms", o.request_timeout_ms, 1, INT32_MAX);
    o.max_inflight = (uint32_t)lclient_opt(L, 2, "max_inflight",
                                           o.max_inflight, 1, 1 << 20);
    o.max_frame_bytes = (uint32_t)lclient_opt(
        L, 2, "max_frame_bytes", o.max_frame_bytes, 64, UINT32_MAX);
    lua_getfield(L, 2, "client_id"); /* [addr, opts, id] */
    o.client_id = lua_tostring(L, 3);
  }
  u = lua_newuserdatauv(L, sizeof(*u), 0); /* [.., client] */
  u->c = NULL;
  luaL_setmetatable(L, LCLIENT_MT);
  err = flyq_client_new(&o, &u->c);
  if (err < 0) return lclient_fail(L, NULL, err);
  err = flyq_client_connect(u->c, addr, timeout);
  if (err < 0) {
    int n = lclient_fail(L, u->c, err);
    flyq_client_close(u->c);
    u->c = NULL;
    return n;
  }
  return 1;
}

static int lclient_close(lua_State *L) {
  lclient_t *u = luaL_checkudata(L, 1, LCLIENT_MT);
  flyq_client_close(u->c);
  u->c = NULL;
  return 0;
}

static int lclient_connected(lua_State *L) {
  lclient_t *u = luaL_checkudata(L, 1, LCLIENT_MT);
  lua_pushboolean(L, u->c != NULL && flyq_client_connected(u->c));
  return 1;
}

static int lclient_broker_version(lua_State *L) {
  lua_pushstring(L, flyq_client_broker_version(lclient_check(L)));
  return 1;
}

/* Pushes one produce part as a table. */
static void lpush_part(lua_State *L, const flyq_produce_part_t *p) {
  lua_createtable(L, 0, 6); /* [.., part] */
  lclient_setint(L, "partition", p->partition);
  lclient_setint(L, "base_offset", p->base_offset);
  lclient_setint(L, "last_offset", p->last_offset);
  lclient_setint(L, "log_start_offset", p->log_start_offset);
  if (p->error_code != 0) {
    lua_pushstring(L, flyq_wire_errname(p->error_code));
    lua_setfield(L, -2, "error");
    lua_pushstring(L, p->error_message);
    lua_setfield(L, -2, "message");
  }
}

/* c:produce(topic, partition, acks, batch_bytes) -> result */
static int lclient_produce(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  const char *topic = luaL_checkstring(L, 2);
  int32_t partition = (int32_t)lclient_int(L, 3, -1, INT32_MAX);
  int acks = (int)lclient_int(L, 4, -1, 1);
  size_t len;
  const char *bytes = luaL_checklstring(L, 5, &len);
  flyq_produce_result_t res;
  int err = flyq_client_produce(c, topic, partition, acks,
                                (const uint8_t *)bytes, len, &res);
  if (err < 0) return lclient_fail(L, c, err);
  lua_createtable(L, 0, 4); /* [.., result] */
  lclient_setint(L, "base_offset", res.base_offset);
  lclient_setint(L, "last_offset", res.last_offset);
  lclient_setint(L, "log_start_offset", res.log_start_offset);
  lua_createtable(L, (int)res.nparts, 0); /* [.., result, parts] */
  for (size_t i = 0; i < res.nparts; i++) {
    lpush_part(L, &res.parts[i]);         /* [.., result, parts, part] */
    lua_rawseti(L, -2, (lua_Integer)i + 1); /* [.., result, parts] */
  }
  lua_setfield(L, -2, "parts"); /* [.., result] */
  return 1;
}

/* c:fetch(topic, partition, offset, max_bytes, max_wait_ms, min_bytes) */
static int lclient_fetch(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  const char *topic = luaL_checkstring(L, 2);
  int32_t partition = (int32_t)lclient_int(L, 3, INT32_MIN, INT32_MAX);
  int64_t offset = lclient_int(L, 4, INT64_MIN, INT64_MAX);
  int32_t max_bytes = (int32_t)lclient_optint(L, 5, 1 << 20, 0, INT32_MAX);
  int32_t wait = (int32_t)lclient_optint(L, 6, 0, 0, INT32_MAX);
  int32_t min_bytes = (int32_t)lclient_optint(L, 7, 1, 0, INT32_MAX);
  flyq_fetch_result_t res;
  int err = flyq_client_fetch(c, topic, partition, offset, max_bytes, wait,
                              min_bytes, &res);
  int n = err < 0 ? lclient_fail(L, c, err) : 0;
  if (err < 0 && res.error_code == 0) return n; /* no partition answer */
  lua_createtable(L, 0, 4); /* [.., info] */
  lua_pushlstring(L, res.records ? (const char *)res.records : "",
                  res.records_len);
  lua_setfield(L, -2, "records");
  lclient_setint(L, "high_watermark", res.high_watermark);
  lclient_setint(L, "log_start_offset", res.log_start_offset);
  lclient_setint(L, "flushed_offset", res.flushed_offset);
  return n + 1;
}

/* c:list_offset(topic, partition, timestamp) -> offset */
static int lclient_list_offset(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  const char *topic = luaL_checkstring(L, 2);
  int32_t partition = (int32_t)lclient_int(L, 3, INT32_MIN, INT32_MAX);
  int64_t ts = lclient_int(L, 4, INT64_MIN, INT64_MAX), offset;
  int err = flyq_client_list_offset(c, topic, partition, ts, &offset);
  if (err < 0) return lclient_fail(L, c, err);
  lua_pushinteger(L, offset);
  return 1;
}

/* Pushes one topic of a Metadata answer. */
static void lpush_topic(lua_State *L, const flyq_topic_info_t *t) {
  lua_createtable(L, 0, 4); /* [.., topic] */
  lua_pushstring(L, t->name);
  lua_setfield(L, -2, "name");
  if (t->error_code != 0) {
    lua_pushstring(L, flyq_wire_errname(t->error_code));
    lua_setfield(L, -2, "error");
  }
  lua_createtable(L, (int)t->npartitions, 0); /* [.., topic, parts] */
  for (size_t i = 0; i < t->npartitions; i++) {
    const flyq_partition_info_t *p = &t->partitions[i];
    lua_createtable(L, 0, 7); /* [.., topic, parts, part] */
    lclient_setint(L, "partition", p->partition);
    lclient_setint(L, "log_start_offset", p->log_start_offset);
    lclient_setint(L, "high_watermark", p->high_watermark);
    lclient_setint(L, "flushed_offset", p->flushed_offset);
    lclient_setint(L, "segment_count", p->segment_count);
    lclient_setint(L, "size_bytes", p->size_bytes);
    lclient_setint(L, "last_append_ms", p->last_append_ms);
    lua_rawseti(L, -2, (lua_Integer)i + 1); /* [.., topic, parts] */
  }
  lua_setfield(L, -2, "partitions");         /* [.., topic] */
  lua_createtable(L, 0, (int)t->nconfigs);   /* [.., topic, config] */
  for (size_t i = 0; i < t->nconfigs; i++) {
    lua_pushstring(L, t->configs[i].value);  /* [.., topic, config, v] */
    lua_setfield(L, -2, t->configs[i].key);  /* [.., topic, config] */
  }
  lua_setfield(L, -2, "config"); /* [.., topic] */
}

/* c:metadata([topic]) */
static int lclient_metadata(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  const char *topic = luaL_optstring(L, 2, NULL);
  flyq_metadata_t *md;
  int err = flyq_client_metadata(c, topic, &md);
  if (err < 0) return lclient_fail(L, c, err);
  lua_createtable(L, 0, 3); /* [.., md] */
  lua_pushstring(L, md->host);
  lua_setfield(L, -2, "host");
  lclient_setint(L, "port", md->port);
  lua_createtable(L, (int)md->ntopics, 0); /* [.., md, topics] */
  for (size_t i = 0; i < md->ntopics; i++) {
    lpush_topic(L, &md->topics[i]);         /* [.., md, topics, topic] */
    lua_rawseti(L, -2, (lua_Integer)i + 1); /* [.., md, topics] */
  }
  lua_setfield(L, -2, "topics"); /* [.., md] */
  flyq_metadata_free(md); /* pushing copies; only memory errors raise */
  return 1;
}

/* Reads the config map at arg into a userdata array of pairs; numbers are
 * converted to strings kept alive in an anchor table. Both are pushed. */
static size_t lconfig_pairs(lua_State *L, int arg,
                            flyq_client_config_pair_t **out) {
  size_t n = 0;
  int anchor;
  *out = NULL;
  if (lua_isnoneornil(L, arg)) return 0;
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_pushnil(L);                 /* [.., nil] */
  while (lua_next(L, arg) != 0) { /* [.., k, v] */
    lua_pop(L, 1);                /* [.., k] */
    n++;
  }
  *out = lua_newuserdatauv(L, (n ? n : 1) * sizeof(**out), 0); /* [.., a] */
  lua_createtable(L, (int)n, 0); /* [.., a, anchor] */
  anchor = lua_gettop(L);
  n = 0;
  lua_pushnil(L);                 /* [.., a, anchor, nil] */
  while (lua_next(L, arg) != 0) { /* [.., a, anchor, k, v] */
    if (lua_type(L, -2) != LUA_TSTRING ||
        (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
      luaL_argerror(L, arg, "config: string keys, string or number values");
    (*out)[n].key = lua_tostring(L, -2);
    (*out)[n].value = lua_tostring(L, -1); /* converts v, not the key */
    lua_rawseti(L, anchor, (lua_Integer)++n); /* [.., a, anchor, k] */
  }
  return n;
}

/* c:create_topic(name, partitions [, config]) */
static int lclient_create_topic(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  const char *name = luaL_checkstring(L, 2);
  int32_t parts = (int32_t)lclient_int(L, 3, INT32_MIN, INT32_MAX);
  flyq_client_config_pair_t *cfg;
  size_t n = lconfig_pairs(L, 4, &cfg);
  return lclient_ok(L, c, flyq_client_create_topic(c, name, parts, cfg, n));
}

static int lclient_delete_topic(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  return lclient_ok(L, c, flyq_client_delete_topic(c, luaL_checkstring(L, 2)));
}

/* c:offset_commit(group, topic, partition, offset) */
static int lclient_offset_commit(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  const char *group = luaL_checkstring(L, 2), *topic = luaL_checkstring(L, 3);
  int32_t partition = (int32_t)lclient_int(L, 4, INT32_MIN, INT32_MAX);
  int64_t offset = lclient_int(L, 5, INT64_MIN, INT64_MAX);
  return lclient_ok(L, c, flyq_client_offset_commit(c, group, topic, partition,
                                                    offset));
}

/* c:offset_fetch(group, topic, partition) -> offset (-1 if none) */
static int lclient_offset_fetch(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  const char *group = luaL_checkstring(L, 2), *topic = luaL_checkstring(L, 3);
  int32_t partition = (int32_t)lclient_int(L, 4, INT32_MIN, INT32_MAX);
  int64_t offset;
  int err = flyq_client_offset_fetch(c, group, topic, partition, &offset);
  if (err < 0) return lclient_fail(L, c, err);
  lua_pushinteger(L, offset);
  return 1;
}

/* c:group_offsets(group) -> {{topic=, partition=, offset=[, error=]}} */
static int lclient_group_offsets(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  flyq_group_offsets_t *g;
  int err = flyq_client_group_offsets(c, luaL_checkstring(L, 2), &g);
  if (err < 0) return lclient_fail(L, c, err);
  lua_createtable(L, (int)g->n, 0); /* [.., list] */
  for (size_t i = 0; i < g->n; i++) {
    lua_createtable(L, 0, 3); /* [.., list, item] */
    lua_pushstring(L, g->items[i].topic);
    lua_setfield(L, -2, "topic");
    lclient_setint(L, "partition", g->items[i].partition);
    lclient_setint(L, "offset", g->items[i].offset);
    if (g->items[i].error_code != 0) {
      lua_pushstring(L, flyq_wire_errname(g->items[i].error_code));
      lua_setfield(L, -2, "error");
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1); /* [.., list] */
  }
  flyq_group_offsets_free(g);
  return 1;
}

static int lclient_list_groups(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  flyq_string_list_t groups;
  int err = flyq_client_list_groups(c, &groups);
  if (err < 0) return lclient_fail(L, c, err);
  lua_createtable(L, (int)groups.n, 0); /* [.., list] */
  for (size_t i = 0; i < groups.n; i++) {
    lua_pushstring(L, groups.items[i]);     /* [.., list, name] */
    lua_rawseti(L, -2, (lua_Integer)i + 1); /* [.., list] */
  }
  flyq_string_list_free(&groups);
  return 1;
}

/* c:authenticate(mechanism [, credentials]) -> principal or true */
static int lclient_authenticate(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  const char *mech = luaL_checkstring(L, 2), *principal = NULL;
  size_t len = 0;
  const char *cred = luaL_optlstring(L, 3, NULL, &len);
  int err = flyq_client_authenticate(c, mech, cred, len, &principal);
  if (err < 0) return lclient_fail(L, c, err);
  if (principal) lua_pushstring(L, principal);
  else lua_pushboolean(L, 1);
  return 1;
}

static int lclient_send_raw(lua_State *L) {
  flyq_client_t *c = lclient_check(L);
  size_t len;
  const char *bytes = luaL_checklstring(L, 2, &len);
  return lclient_ok(L, c, flyq_client_send_raw(c, bytes, len));
}

/* c:recv_frame(timeout_ms) -> payload | nil, "closed" | "timeout", code */
static int lclient_recv_frame(lua_State *L) {
  lclient_t *u = luaL_checkudata(L, 1, LCLIENT_MT);
  int timeout = (int)lclient_optint(L, 2, 5000, -1, INT32_MAX);
  const uint8_t *p;
  size_t len;
  int err = u->c ? flyq_client_recv_frame(u->c, timeout, &p, &len)
                 : FLYQ_ERR_CLOSED;
  if (err == 0) {
    lua_pushlstring(L, (const char *)p, len);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, err == FLYQ_ERR_CLOSED    ? "closed"
                    : err == FLYQ_ERR_TIMEOUT ? "timeout"
                    : u->c                    ? flyq_client_errmsg(u->c)
                                              : flyq_strerror(err));
  lua_pushstring(L, flyq_errname(err));
  return 3;
}

static const luaL_Reg lclient_methods[] = {
    {"close", lclient_close},
    {"connected", lclient_connected},
    {"broker_version", lclient_broker_version},
    {"produce", lclient_produce},
    {"fetch", lclient_fetch},
    {"list_offset", lclient_list_offset},
    {"metadata", lclient_metadata},
    {"create_topic", lclient_create_topic},
    {"delete_topic", lclient_delete_topic},
    {"offset_commit", lclient_offset_commit},
    {"offset_fetch", lclient_offset_fetch},
    {"group_offsets", lclient_group_offsets},
    {"list_groups", lclient_list_groups},
    {"authenticate", lclient_authenticate},
    {"send_raw", lclient_send_raw},
    {"recv_frame", lclient_recv_frame},
    {NULL, NULL}};

void flyq__lua_client_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"connect", lclient_connect},
                                   {"batch_encode", lclient_batch_encode},
                                   {"batch_decode", lclient_batch_decode},
                                   {NULL, NULL}};
  luaL_newmetatable(L, LCLIENT_BUILDER_MT); /* [.., core, mt] */
  lua_pushcfunction(L, lbuilder_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);                     /* [.., core] */
  luaL_newmetatable(L, LCLIENT_MT);  /* [.., core, mt] */
  lua_pushcfunction(L, lclient_close);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, lclient_close);
  lua_setfield(L, -2, "__close");
  luaL_newlib(L, lclient_methods);   /* [.., core, mt, methods] */
  lua_setfield(L, -2, "__index");    /* [.., core, mt] */
  lua_pop(L, 1);                     /* [.., core] */
  luaL_setfuncs(L, funcs, 0);        /* [.., core] */
}
