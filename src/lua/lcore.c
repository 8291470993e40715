/* flyq.core: the storage engine (include/flyq/store.h) as a Lua 5.4 module.
 *
 * It serves embedded mode (a Lua program that owns a data directory) and the
 * busted specs in spec/unit/, which drive the C core through it. A store is
 * a full userdata; every method looks its topic and partition up by name on
 * each call, so nothing held by Lua can dangle after a topic is deleted.
 *
 * Errors: expected failures (unknown topic or partition, offset out of
 * range, corrupt batch, I/O errors) return nil, message, code where code is
 * the short error name ("UNKNOWN_TOPIC", "ENOSPC"); misuse (wrong argument
 * types or ranges, a closed store) raises a Lua error. Memory that C owns
 * while Lua may raise (batch builders, read buffers) lives in a userdata
 * with __gc, so a Lua error, out of memory included, leaks nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "flyq/batch.h"
#include "flyq/common.h"
#include "flyq/log.h"
#include "flyq/logmsg.h"
#include "flyq/store.h"
#include "lua/lclient.h"
#include "lua/lrecords.h"
#include "util/crc32c.h"

#define LCORE_STORE "flyq.core.store"
#define LCORE_BUILDER "flyq.core.builder"
#define LCORE_BUFFER "flyq.core.buffer"
#define LCORE_READ_DEFAULT (1024 * 1024) /* default max_bytes of a read */

LUAMOD_API int luaopen_flyq_core(lua_State *L);

typedef struct lstore {
  flyq_store_t *st;           /* NULL once closed or abandoned */
  flyq_log_config_t defaults; /* the store's defaults, for create_topic */
} lstore_t;

/* A malloc'd byte buffer owned by a userdata, freed by __gc at the latest. */
typedef struct lbuffer {
  uint8_t *data;
  size_t len;
} lbuffer_t;

/* The fields of flyq_log_config_t as Lua option names, with the range each
 * accepts. */
#define LCORE_LOG_CONFIG(XX)              \
  XX(segment_bytes, 1, INT64_MAX)         \
  XX(segment_ms, INT64_MIN, INT64_MAX)    \
  XX(index_interval_bytes, 0, UINT32_MAX) \
  XX(retention_ms, -1, INT64_MAX)         \
  XX(retention_bytes, -1, INT64_MAX)      \
  XX(flush_messages, 0, INT64_MAX)        \
  XX(flush_ms, -1, INT64_MAX)

/* ---- Errors ---- */

/* Pushes nil, "<error text>: <what>", "<ERRNAME>" and returns 3. what may
 * be NULL. */
static int lcore_fail(lua_State *L, int err, const char *what) {
  lua_pushnil(L);
  if (what != NULL)
    lua_pushfstring(L, "%s: %s", flyq_strerror(err), what);
  else
    lua_pushstring(L, flyq_strerror(err));
  lua_pushstring(L, flyq_errname(err));
  return 3;
}

/* Returns true for err == 0, else the failure triple. */
static int lcore_result(lua_State *L, int err, const char *what) {
  if (err < 0) return lcore_fail(L, err, what);
  lua_pushboolean(L, 1);
  return 1;
}

/* ---- Argument helpers ---- */


/* An integer argument: a number with an exact integer representation.
 * Unlike luaL_checkinteger, numeric strings such as "1" are refused. */
static lua_Integer lcore_checkint(lua_State *L, int arg) {
  lua_Integer v = 0;
  if (!flyq__lua_tointeger(L, arg, &v)) {
    if (lua_type(L, arg) == LUA_TNUMBER)
      luaL_argerror(L, arg, "number has no integer representation");
    luaL_typeerror(L, arg, "integer");
  }
  return v;
}

/* An optional integer argument; def when absent or nil. */
static lua_Integer lcore_optint(lua_State *L, int arg, lua_Integer def) {
  return lua_isnoneornil(L, arg) ? def : lcore_checkint(L, arg);
}

/* A name argument (topic or group). Returns NULL if it holds a NUL byte, so
 * that the caller reports FLYQ_ERR_INVALID_NAME instead of silently using
 * the part before it. */
static const char *lcore_name(lua_State *L, int arg) {
  size_t len;
  luaL_checktype(L, arg, LUA_TSTRING);
  const char *s = lua_tolstring(L, arg, &len);
  return strlen(s) == len ? s : NULL;
}

/* An optional integer argument in [min, max]; def when absent or nil. */
static lua_Integer lcore_optrange(lua_State *L, int arg, lua_Integer def,
                                  lua_Integer min, lua_Integer max) {
  lua_Integer v = lcore_optint(L, arg, def);
  luaL_argcheck(L, v >= min && v <= max, arg, "out of range");
  return v;
}


/* ---- Log configuration tables ---- */

/* Sets the field called key in cfg to v, raising if v is out of its range.
 * Returns 0 if key names no field. */
static int lconf_set(lua_State *L, flyq_log_config_t *cfg, const char *key,
                     lua_Integer v) {
#define LCONF_SET(name, min, max)                         \
  if (strcmp(key, #name) == 0) {                          \
    if (v < (lua_Integer)(min) || v > (lua_Integer)(max)) \
      luaL_error(L, "option '%s' out of range", key);     \
    cfg->name = v;                                        \
    return 1;                                             \
  }
  LCORE_LOG_CONFIG(LCONF_SET)
#undef LCONF_SET
  return 0;
}

/* Pushes cfg as a table of options. */
static void lconf_push(lua_State *L, const flyq_log_config_t *cfg) {
  lua_createtable(L, 0, 7); /* [.., config] */
#define LCONF_PUSH(name, min, max)                                  \
  lua_pushinteger(L, (lua_Integer)cfg->name); /* [.., config, v] */ \
  lua_setfield(L, -2, #name);                 /* [.., config] */
  LCORE_LOG_CONFIG(LCONF_PUSH)
#undef LCONF_PUSH
}

/* Applies the options table at idx to cfg. partitions may be NULL when
 * "partitions" is not an accepted option. Raises on unknown options,
 * non-integers and values out of range; cfg may then be partly updated. */
static void lconf_parse(lua_State *L, int idx, flyq_log_config_t *cfg,
                        int32_t *partitions) {
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);                 /* [.., nil] */
  while (lua_next(L, idx) != 0) { /* [.., key, value] */
    lua_Integer v = 0;
    if (lua_type(L, -2) != LUA_TSTRING)
      luaL_error(L, "option names are strings");
    const char *key = lua_tostring(L, -2);
    if (!flyq__lua_tointeger(L, -1, &v))
      luaL_error(L, "option '%s' must be an integer", key);
    if (partitions != NULL && strcmp(key, "partitions") == 0) {
      if (v < 1 || v > FLYQ_PARTITIONS_MAX)
        luaL_error(L, "option 'partitions' out of range");
      *partitions = (int32_t)v;
    } else if (!lconf_set(L, cfg, key, v)) {
      luaL_error(L, "unknown option '%s'", key);
    }
    lua_pop(L, 1); /* [.., key] */
  }
}

/* ---- Owned buffers and builders ---- */

/* Frees the bytes now rather than at the next garbage collection. */
static void lbuffer_free(lbuffer_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = 0;
}

static int lbuffer_gc(lua_State *L) {
  lbuffer_free(luaL_checkudata(L, 1, LCORE_BUFFER));
  return 0;
}

/* Pushes an empty buffer userdata. */
static lbuffer_t *lbuffer_new(lua_State *L) {
  lbuffer_t *b = lua_newuserdatauv(L, sizeof *b, 0); /* [.., buffer] */
  b->data = NULL;
  b->len = 0;
  luaL_setmetatable(L, LCORE_BUFFER);
  return b;
}

static int lbuilder_gc(lua_State *L) {
  flyq_batch_builder_t *b = luaL_checkudata(L, 1, LCORE_BUILDER);
  flyq_batch_builder_free(b);
  flyq_batch_builder_init(b);
  return 0;
}

/* Pushes an empty batch builder userdata. */
static flyq_batch_builder_t *lbuilder_new(lua_State *L) {
  flyq_batch_builder_t *b = lua_newuserdatauv(L, sizeof *b, 0);
  flyq_batch_builder_init(b); /* [.., builder] */
  luaL_setmetatable(L, LCORE_BUILDER);
  return b;
}

/* ---- The store userdata ---- */

static lstore_t *lstore_check(lua_State *L) {
  lstore_t *s = luaL_checkudata(L, 1, LCORE_STORE);
  if (s->st == NULL) luaL_error(L, "attempt to use a closed store");
  return s;
}

/* The log of topic (argument 2) and partition (argument 3). On failure
 * pushes the failure triple and returns NULL; the caller returns 3. */
static flyq_log_t *lstore_log(lua_State *L, lstore_t *s) {
  const char *name = lcore_name(L, 2);
  lua_Integer p = lcore_checkint(L, 3);
  flyq_topic_t *t = name != NULL ? flyq_store_topic(s->st, name) : NULL;
  if (t == NULL) {
    lcore_fail(L, FLYQ_ERR_UNKNOWN_TOPIC, luaL_tolstring(L, 2, NULL));
    return NULL;
  }
  flyq_log_t *log =
      p >= 0 && p <= INT32_MAX ? flyq_topic_log(t, (int32_t)p) : NULL;
  if (log == NULL)
    lcore_fail(L, FLYQ_ERR_UNKNOWN_PARTITION,
               lua_pushfstring(L, "%s/%I", name, p));
  return log;
}

/* Closes the store if still open; used by close, __gc and __close. */
static int lstore_shut(lstore_t *s) {
  int err = 0;
  if (s->st != NULL) err = flyq_store_close(s->st);
  s->st = NULL;
  return err;
}

static int lstore_gc(lua_State *L) {
  lstore_shut(luaL_checkudata(L, 1, LCORE_STORE));
  return 0;
}

/* store:close(): flushes and closes. Returns true or the failure triple;
 * the store is closed either way. */
static int lstore_close(lua_State *L) {
  return lcore_result(L, lstore_shut(lstore_check(L)), NULL);
}

/* store:abandon(): frees the store without flushing, as a crash would. */
static int lstore_abandon(lua_State *L) {
  lstore_t *s = lstore_check(L);
  flyq_store_abandon(s->st);
  s->st = NULL;
  return 0;
}

static int lstore_tostring(lua_State *L) {
  lstore_t *s = luaL_checkudata(L, 1, LCORE_STORE);
  if (s->st == NULL)
    lua_pushliteral(L, "flyq.core.store (closed)");
  else
    lua_pushfstring(L, "flyq.core.store (%s)", flyq_store_dir(s->st));
  return 1;
}

/* store:create_topic(name [, {partitions=N, <log options>}]) -> true */
static int lstore_create_topic(lua_State *L) {
  lstore_t *s = lstore_check(L);
  const char *name = lcore_name(L, 2);
  flyq_topic_config_t cfg = {.partitions = 1, .log = s->defaults};
  if (!lua_isnoneornil(L, 3)) lconf_parse(L, 3, &cfg.log, &cfg.partitions);
  if (name == NULL) return lcore_fail(L, FLYQ_ERR_INVALID_NAME, NULL);
  return lcore_result(L, flyq_store_create_topic(s->st, name, &cfg, NULL),
                      name);
}

/* store:delete_topic(name) -> true */
static int lstore_delete_topic(lua_State *L) {
  lstore_t *s = lstore_check(L);
  const char *name = lcore_name(L, 2);
  if (name == NULL) return lcore_fail(L, FLYQ_ERR_UNKNOWN_TOPIC, NULL);
  return lcore_result(L, flyq_store_delete_topic(s->st, name), name);
}

/* store:topic(name) -> {name, partitions, config} */
static int lstore_topic(lua_State *L) {
  lstore_t *s = lstore_check(L);
  const char *name = lcore_name(L, 2);
  flyq_topic_t *t = name != NULL ? flyq_store_topic(s->st, name) : NULL;
  if (t == NULL)
    return lcore_fail(L, FLYQ_ERR_UNKNOWN_TOPIC, luaL_tolstring(L, 2, NULL));
  lua_createtable(L, 0, 3); /* [.., topic] */
  lua_pushstring(L, flyq_topic_name(t));
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, flyq_topic_partitions(t));
  lua_setfield(L, -2, "partitions");
  lconf_push(L, &flyq_topic_config(t)->log); /* [.., topic, config] */
  lua_setfield(L, -2, "config");             /* [.., topic] */
  return 1;
}

/* ---- Iteration: store callbacks into Lua ---- */

/* The store's foreach functions call back into C; a Lua error raised there
 * would jump over the store's own code. So each callback runs its Lua work
 * in lua_pcall and stops the iteration on failure; the caller re-raises
 * after the store has returned. */
typedef struct lvisit {
  lua_State *L;
  int list;   /* stack index of the result table */
  int status; /* LUA_OK or the pcall status (error object on the stack) */
} lvisit_t;

/* Calls fn(list, arg) protected. Returns non-zero to stop the iteration. */
static int lvisit_call(lvisit_t *v, lua_CFunction fn, void *arg) {
  lua_pushcfunction(v->L, fn);          /* [.., fn] */
  lua_pushvalue(v->L, v->list);         /* [.., fn, list] */
  lua_pushlightuserdata(v->L, arg);     /* [.., fn, list, arg] */
  v->status = lua_pcall(v->L, 2, 0, 0); /* [..] or [.., err] */
  return v->status != LUA_OK;
}

/* Starts a visit: pushes the result table. */
static void lvisit_begin(lua_State *L, lvisit_t *v) {
  luaL_checkstack(L, 8, NULL);
  lua_newtable(L); /* [.., list] */
  v->L = L;
  v->list = lua_gettop(L);
  v->status = LUA_OK;
}

/* Ends a visit: re-raises a Lua error, else returns the table or failure. */
static int lvisit_end(lua_State *L, lvisit_t *v, int err) {
  if (v->status != LUA_OK) return lua_error(L);
  if (err < 0) return lcore_fail(L, err, NULL);
  lua_settop(L, v->list); /* [.., list] */
  return 1;
}

/* list[#list + 1] = the string arg. */
static int lvisit_append_name(lua_State *L) {
  lua_pushstring(L, lua_touserdata(L, 2)); /* [list, arg, name] */
  lua_rawseti(L, 1, (lua_Integer)lua_rawlen(L, 1) + 1);
  return 0;
}

static int lvisit_topic(flyq_topic_t *t, void *arg) {
  return lvisit_call(arg, lvisit_append_name, (void *)flyq_topic_name(t));
}

static int lvisit_group(const char *group, void *arg) {
  return lvisit_call(arg, lvisit_append_name, (void *)group);
}

typedef struct loffset {
  const char *topic;
  int32_t partition;
  int64_t offset;
} loffset_t;

/* list[topic][partition] = offset. */
static int lvisit_set_offset(lua_State *L) {
  const loffset_t *o = lua_touserdata(L, 2);
  if (lua_getfield(L, 1, o->topic) == LUA_TNIL) { /* [list, arg, t?] */
    lua_pop(L, 1);                                /* [list, arg] */
    lua_newtable(L);                              /* [list, arg, t] */
    lua_pushvalue(L, -1);                         /* [list, arg, t, t] */
    lua_setfield(L, 1, o->topic);                 /* [list, arg, t] */
  }
  lua_pushinteger(L, o->offset);    /* [list, arg, t, offset] */
  lua_rawseti(L, -2, o->partition); /* [list, arg, t] */
  return 0;
}

static int lvisit_offset(const char *topic, int32_t partition, int64_t offset,
                         void *arg) {
  loffset_t o = {topic, partition, offset};
  return lvisit_call(arg, lvisit_set_offset, &o);
}

/* store:topics() -> array of names in name order */
static int lstore_topics(lua_State *L) {
  lstore_t *s = lstore_check(L);
  lvisit_t v;
  lvisit_begin(L, &v);
  int err = flyq_store_foreach_topic(s->st, lvisit_topic, &v);
  return lvisit_end(L, &v, err);
}

/* store:groups() -> array of group names in name order */
static int lstore_groups(lua_State *L) {
  lstore_t *s = lstore_check(L);
  lvisit_t v;
  lvisit_begin(L, &v);
  int err = flyq_store_foreach_group(s->st, lvisit_group, &v);
  return lvisit_end(L, &v, err);
}

/* store:group_offsets(group) -> {topic = {[partition] = offset}}; an
 * unknown group has no offsets (empty table). */
static int lstore_group_offsets(lua_State *L) {
  lstore_t *s = lstore_check(L);
  const char *group = lcore_name(L, 2);
  lvisit_t v;
  if (group == NULL) return lcore_fail(L, FLYQ_ERR_INVALID_NAME, NULL);
  lvisit_begin(L, &v);
  int err = flyq_store_foreach_offset(s->st, group, lvisit_offset, &v);
  if (err == FLYQ_ERR_NOT_FOUND) err = 0;
  return lvisit_end(L, &v, err);
}

/* ---- Appending and reading ---- */

/* store:append(topic, partition, records) -> base_offset, last_offset.
 * Flushes when the log's flush policy says so; if that flush fails, the
 * records are in the log but the failure is returned. */
static int lstore_append(lua_State *L) {
  lstore_t *s = lstore_check(L);
  flyq_append_result_t res;
  const uint8_t *batch;
  size_t len;
  luaL_checktype(L, 4, LUA_TTABLE);
  flyq_log_t *log = lstore_log(L, s);
  if (log == NULL) return 3;
  flyq_batch_builder_t *b = lbuilder_new(L); /* [.., builder] */
  int err = flyq__lua_records_build(L, 4, b);
  if (err == 0) err = flyq_batch_builder_finish(b, &batch, &len);
  if (err == 0) err = flyq_log_append(log, b->buf, len, flyq_now_ms(), &res);
  if (err == 0 && res.flush_due) err = flyq_log_flush(log);
  flyq_batch_builder_free(b);
  flyq_batch_builder_init(b);
  if (err < 0) return lcore_fail(L, err, NULL);
  lua_pushinteger(L, res.base_offset);
  lua_pushinteger(L, res.last_offset);
  return 2;
}

/* store:append_batch(topic, partition, bytes) -> base_offset, last_offset.
 * bytes holds one or more encoded batches; all are validated first and
 * either all or none is appended. */
static int lstore_append_batch(lua_State *L) {
  lstore_t *s = lstore_check(L);
  flyq_append_result_t res;
  size_t len;
  luaL_checktype(L, 4, LUA_TSTRING);
  const char *bytes = lua_tolstring(L, 4, &len);
  flyq_log_t *log = lstore_log(L, s);
  if (log == NULL) return 3;
  if (len == 0) return lcore_fail(L, FLYQ_ERR_TRUNCATED, NULL);
  lbuffer_t *copy = lbuffer_new(L); /* [.., buffer] */
  copy->data = malloc(len);
  if (copy->data == NULL) return lcore_fail(L, -ENOMEM, NULL);
  memcpy(copy->data, bytes, len);
  int err = flyq_log_append_many(log, copy->data, len, flyq_now_ms(), &res);
  if (err == 0 && res.flush_due) err = flyq_log_flush(log);
  lbuffer_free(copy);
  if (err < 0) return lcore_fail(L, err, NULL);
  lua_pushinteger(L, res.base_offset);
  lua_pushinteger(L, res.last_offset);
  return 2;
}

/* The optional max_bytes argument of the read functions. */
static uint32_t lstore_max_bytes(lua_State *L, int arg) {
  return (uint32_t)lcore_optrange(L, arg, LCORE_READ_DEFAULT, 0, UINT32_MAX);
}

/* store:read(topic, partition, offset [, max_bytes]) -> records, next.
 * records is an array of {offset, timestamp, key, value, headers} from
 * offset on (at least one batch when offset < high watermark, never across
 * a segment end); next is the offset to read from next. CRCs are checked. */
static int lstore_read(lua_State *L) {
  lstore_t *s = lstore_check(L);
  int64_t next = 0;
  lua_Integer offset = lcore_checkint(L, 4);
  uint32_t max = lstore_max_bytes(L, 5);
  flyq_log_t *log = lstore_log(L, s);
  if (log == NULL) return 3;
  lbuffer_t *buf = lbuffer_new(L); /* [.., buffer] */
  int err = flyq_log_read_copy(log, offset, max, &buf->data, &buf->len);
  if (err == 0) err = flyq__lua_records_push(L, buf->data, buf->len, offset, &next);
  lbuffer_free(buf);
  if (err < 0) return lcore_fail(L, err, NULL);
  lua_pushinteger(L, next); /* [.., buffer, list, next] */
  return 2;
}

/* Reads the slice s into b: b->data gets exactly s->len bytes. Returns 0 or
 * a negative code; b is untouched on failure. */
static int lslice_pread(const flyq_slice_t *s, lbuffer_t *b) {
  uint8_t *data = malloc(s->len > 0 ? s->len : 1);
  size_t done = 0;
  if (data == NULL) return -ENOMEM;
  while (done < s->len) {
    ssize_t n =
        pread(s->fd, data + done, s->len - done, (off_t)(s->pos + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      free(data);
      return n < 0 ? -errno : FLYQ_ERR_TRUNCATED;
    }
    done += (size_t)n;
  }
  b->data = data;
  b->len = done;
  return 0;
}

/* store:read_raw(topic, partition, offset [, max_bytes]) -> bytes.
 * The stored batches as a reader with sendfile would get them, through
 * flyq_log_read and pread: whole batches, CRCs not checked. */
static int lstore_read_raw(lua_State *L) {
  lstore_t *s = lstore_check(L);
  flyq_slice_t slice;
  lua_Integer offset = lcore_checkint(L, 4);
  uint32_t max = lstore_max_bytes(L, 5);
  flyq_log_t *log = lstore_log(L, s);
  if (log == NULL) return 3;
  lbuffer_t *buf = lbuffer_new(L); /* [.., buffer] */
  int err = flyq_log_read(log, offset, max, &slice);
  if (err < 0) return lcore_fail(L, err, NULL);
  err = lslice_pread(&slice, buf); /* no Lua call while held */
  flyq_slice_release(&slice);
  if (err < 0) return lcore_fail(L, err, NULL);
  lua_pushlstring(L, (const char *)buf->data, buf->len); /* [.., buf, s] */
  lbuffer_free(buf);
  return 1;
}

/* store:offset_for_time(topic, partition, ts) -> offset */
static int lstore_offset_for_time(lua_State *L) {
  lstore_t *s = lstore_check(L);
  int64_t offset;
  lua_Integer ts = lcore_checkint(L, 4);
  flyq_log_t *log = lstore_log(L, s);
  if (log == NULL) return 3;
  int err = flyq_log_offset_for_time(log, ts, &offset);
  if (err < 0) return lcore_fail(L, err, NULL);
  lua_pushinteger(L, offset);
  return 1;
}

/* store:watermarks(topic, partition) -> {log_start, high, flushed,
 * segments, bytes, last_append_ms (nil before the first append)} */
static int lstore_watermarks(lua_State *L) {
  flyq_log_t *log = lstore_log(L, lstore_check(L));
  flyq_log_stats_t st;
  if (log == NULL) return 3;
  flyq_log_stats(log, &st);
  lua_createtable(L, 0, 6); /* [.., marks] */
  lua_pushinteger(L, st.start_offset);
  lua_setfield(L, -2, "log_start");
  lua_pushinteger(L, st.end_offset);
  lua_setfield(L, -2, "high");
  lua_pushinteger(L, st.flushed_offset);
  lua_setfield(L, -2, "flushed");
  lua_pushinteger(L, (lua_Integer)st.segment_count);
  lua_setfield(L, -2, "segments");
  lua_pushinteger(L, (lua_Integer)st.bytes);
  lua_setfield(L, -2, "bytes");
  if (st.last_append_ms >= 0)
    lua_pushinteger(L, st.last_append_ms);
  else
    lua_pushnil(L);
  lua_setfield(L, -2, "last_append_ms");
  return 1;
}

/* ---- Group offsets, flush, retention ---- */

/* A partition number argument; out-of-range values become -1, which the
 * store reports as an unknown partition. */
static int32_t lcore_partition(lua_State *L, int arg) {
  lua_Integer p = lcore_checkint(L, arg);
  return p >= 0 && p <= INT32_MAX ? (int32_t)p : -1;
}

/* store:commit(group, topic, partition, offset) -> true (in memory until
 * flush_groups, flush or close) */
static int lstore_commit(lua_State *L) {
  lstore_t *s = lstore_check(L);
  const char *group = lcore_name(L, 2);
  const char *topic = lcore_name(L, 3);
  int32_t p = lcore_partition(L, 4);
  lua_Integer offset = lcore_checkint(L, 5);
  if (group == NULL || topic == NULL)
    return lcore_fail(L, FLYQ_ERR_INVALID_NAME, NULL);
  return lcore_result(
      L, flyq_store_commit_offset(s->st, group, topic, p, offset), NULL);
}

/* store:committed(group, topic, partition) -> offset, or nil if none */
static int lstore_committed(lua_State *L) {
  lstore_t *s = lstore_check(L);
  const char *group = lcore_name(L, 2);
  const char *topic = lcore_name(L, 3);
  int32_t p = lcore_partition(L, 4);
  int64_t offset;
  if (group == NULL || topic == NULL)
    return lcore_fail(L, FLYQ_ERR_INVALID_NAME, NULL);
  int err = flyq_store_fetch_offset(s->st, group, topic, p, &offset);
  if (err == FLYQ_ERR_NOT_FOUND) {
    lua_pushnil(L);
    return 1;
  }
  if (err < 0) return lcore_fail(L, err, NULL);
  lua_pushinteger(L, offset);
  return 1;
}

static int lstore_flush_groups(lua_State *L) {
  return lcore_result(L, flyq_store_flush_groups(lstore_check(L)->st), NULL);
}

static int lstore_flush(lua_State *L) {
  return lcore_result(L, flyq_store_flush(lstore_check(L)->st), NULL);
}

/* store:retention([now_ms]) -> true */
static int lstore_retention(lua_State *L) {
  lstore_t *s = lstore_check(L);
  lua_Integer now = lcore_optint(L, 2, flyq_now_ms());
  return lcore_result(L, flyq_store_apply_retention(s->st, now), NULL);
}

/* ---- Module functions ---- */

/* core.open(data_dir [, defaults]) -> store. defaults holds log options. */
static int lcore_open(lua_State *L) {
  size_t len;
  char err[256] = "";
  const char *dir = luaL_checklstring(L, 1, &len);
  luaL_argcheck(L, strlen(dir) == len, 1, "path contains a NUL byte");
  lua_settop(L, 2);                                 /* [dir, defaults] */
  lstore_t *s = lua_newuserdatauv(L, sizeof *s, 0); /* [dir, defaults, store] */
  s->st = NULL;
  flyq_log_config_default(&s->defaults);
  luaL_setmetatable(L, LCORE_STORE);
  if (!lua_isnoneornil(L, 2)) lconf_parse(L, 2, &s->defaults, NULL);
  int rc = flyq_store_open(dir, &s->defaults, &s->st, err, sizeof err);
  if (rc < 0) {
    s->st = NULL;
    return lcore_fail(L, rc, err[0] != '\0' ? err : dir);
  }
  return 1;
}

/* core.strerror(code) -> text; code is a number or a name ("ENOSPC"). */
static int lcore_strerror(lua_State *L) {
  lua_Integer code = 0;
  if (lua_type(L, 1) == LUA_TSTRING) {
    lua_settop(L, 1);                   /* [name] */
    lua_rawget(L, lua_upvalueindex(1)); /* [code?] */
    luaL_argcheck(L, flyq__lua_tointeger(L, -1, &code), 1, "unknown error name");
  } else {
    code = lcore_checkint(L, 1);
    luaL_argcheck(L, code >= INT_MIN && code <= 0, 1, "not an error code");
  }
  lua_pushstring(L, flyq_strerror((int)code));
  return 1;
}

/* core.log_level([name]) -> name of the level in force before the call;
 * sets it when name ("error", "warn", "info", "debug") is given. */
static int lcore_log_level(lua_State *L) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  int old = flyq_logmsg_get_level();
  if (!lua_isnoneornil(L, 1)) {
    int level = flyq_logmsg_level_parse(luaL_checkstring(L, 1));
    luaL_argcheck(L, level >= 0, 1, "expected error, warn, info or debug");
    flyq_logmsg_set_level(level);
  }
  lua_pushstring(L, old >= 0 && old <= 3 ? names[old] : "?");
  return 1;
}

static int lcore_now_ms(lua_State *L) {
  lua_pushinteger(L, flyq_now_ms());
  return 1;
}

/* core.crc32c(bytes [, crc]) -> CRC-32C, chained from crc (default 0). */
static int lcore_crc32c(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  uint32_t crc = (uint32_t)lcore_optrange(L, 2, 0, 0, UINT32_MAX);
  lua_pushinteger(L, flyq__crc32c(crc, s, len));
  return 1;
}

/* Pushes the table name -> code of FlyQ's errors and of the errnos
 * flyq_errname() knows by name. */
static void lcore_push_errors(lua_State *L) {
  lua_newtable(L); /* [.., errors] */
  for (int e = 1; e < 200; e++) {
    const char *name = flyq_errname(-e);
    if (name[0] != 'E' || (name[1] >= '0' && name[1] <= '9')) continue;
    lua_pushinteger(L, -e);
    lua_setfield(L, -2, name);
  }
#define LCORE_ERR(name, val, text) \
  lua_pushinteger(L, val);         \
  lua_setfield(L, -2, #name);
  FLYQ_ERRNO_MAP(LCORE_ERR)
#undef LCORE_ERR
}

static const luaL_Reg lstore_methods[] = {
    {"close", lstore_close},
    {"abandon", lstore_abandon},
    {"create_topic", lstore_create_topic},
    {"delete_topic", lstore_delete_topic},
    {"topics", lstore_topics},
    {"topic", lstore_topic},
    {"append", lstore_append},
    {"append_batch", lstore_append_batch},
    {"read", lstore_read},
    {"read_raw", lstore_read_raw},
    {"offset_for_time", lstore_offset_for_time},
    {"watermarks", lstore_watermarks},
    {"commit", lstore_commit},
    {"committed", lstore_committed},
    {"group_offsets", lstore_group_offsets},
    {"groups", lstore_groups},
    {"flush_groups", lstore_flush_groups},
    {"flush", lstore_flush},
    {"retention", lstore_retention},
    {NULL, NULL}};

/* Creates the metatables of the module's userdata types. */
static void lcore_metatables(lua_State *L) {
  luaL_newmetatable(L, LCORE_BUFFER); /* [.., mt] */
  lua_pushcfunction(L, lbuffer_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newmetatable(L, LCORE_BUILDER); /* [.., mt, mt] */
  lua_pushcfunction(L, lbuilder_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newmetatable(L, LCORE_STORE); /* [.., mt, mt, mt] */
  lua_pushcfunction(L, lstore_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, lstore_gc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, lstore_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, lstore_methods); /* [.., mt, mt, mt, methods] */
  lua_setfield(L, -2, "__index"); /* [.., mt, mt, mt] */
  lua_pop(L, 3);                  /* [..] */
}

LUAMOD_API int luaopen_flyq_core(lua_State *L) {
  static const luaL_Reg funcs[] = {{"open", lcore_open},
                                   {"now_ms", lcore_now_ms},
                                   {"log_level", lcore_log_level},
                                   {"crc32c", lcore_crc32c},
                                   {NULL, NULL}};
  lcore_metatables(L);
  luaL_newlib(L, funcs);                  /* [.., core] */
  lcore_push_errors(L);                   /* [.., core, errors] */
  lua_pushvalue(L, -1);                   /* [.., core, errors, errors] */
  lua_setfield(L, -3, "errors");          /* [.., core, errors] */
  lua_pushcclosure(L, lcore_strerror, 1); /* [.., core, strerror] */
  lua_setfield(L, -2, "strerror");        /* [.., core] */
  lua_pushliteral(L, FLYQ_VERSION);
  lua_setfield(L, -2, "version");
  flyq__lua_client_open(L);               /* [.., core] + client functions */
  return 1;
}
