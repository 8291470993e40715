/* The environment plugin code runs in: the sandbox of sandbox.c (safe base
 * functions, string, table, math, utf8, coroutine, a text-only load) plus
 * what plugins need and nothing that reaches the host:
 *
 *   flyq.log(level, msg)        a line in the broker's log ("plugin" component)
 *   flyq.counter(name[, delta]) adds delta (default 1) to a counter shown in
 *                               the instance's stats
 *   flyq.now_ms()               wall-clock milliseconds
 *   flyq.sha256(s)              hex SHA-256 (nettle)
 *   flyq.hmac_sha256(key, s)    hex HMAC-SHA-256 (nettle)
 *   flyq.constant_time_eq(a, b) string equality in time independent of the
 *                               contents
 *   cjson, require("cjson")     lua-cjson, linked into the binary (no dlopen,
 *                               no search path), with limits (plugin_cjson.c):
 *                               the only module require finds
 *   os.clock, os.time           and nothing else of os
 *   print(...)                  logs at info level instead of writing stdout
 */
#include <lauxlib.h>
#include <lualib.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/common.h"
#include "flyq/logmsg.h"
#include "host/plugin.h"
#include "host/sandbox.h"

#define MAX_COUNTERS 256
#define MAX_COUNTER_NAME 128
/* What a counter name is made of: it shows in `flyq stats` and as a JSON
 * key, so nothing that could forge a line or be invalid UTF-8. */
#define COUNTER_CHARS                                                          \
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:"

/* flyq.log(level, msg): level is "error", "warn", "info" or "debug". */
static int api_log(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  int level = flyq_logmsg_level_parse(luaL_checkstring(L, 1));
  const char *msg = luaL_checkstring(L, 2);
  if (level < 0)
    luaL_argerror(L, 1, "expected \"error\", \"warn\", \"info\" or \"debug\"");
  flyq_logmsg(level, "plugin", "%s: %s", p->name ? p->name : "?", msg);
  return 0;
}

/* print(...): the arguments as tostring shows them, tab-separated, logged
 * at info level. */
static int api_print(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_pushresult(&b);
  flyq_logmsg(FLYQ_LOG_INFO, "plugin", "%s: %s", p->name ? p->name : "?",
              lua_tostring(L, -1));
  return 0;
}

static flyq__counter_t *counter_find(flyq__plugin_t *p, const char *name) {
  for (size_t i = 0; i < p->ncounters; i++)
    if (strcmp(p->counters[i].name, name) == 0) return &p->counters[i];
  return NULL;
}

/* A new counter named name, or NULL when out of memory. */
static flyq__counter_t *counter_add(flyq__plugin_t *p, const char *name) {
  flyq__counter_t *v = realloc(p->counters, (p->ncounters + 1) * sizeof *v);
  char *copy = strdup(name);
  if (v) p->counters = v;
  if (v == NULL || copy == NULL) {
    free(copy);
    return NULL;
  }
  v[p->ncounters] = (flyq__counter_t){copy, 0};
  return &v[p->ncounters++];
}

/* flyq.counter(name[, delta]) -> the new total. */
static int api_counter(lua_State *L) {
  flyq__plugin_t *p = flyq__plugin_of(L);
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  lua_Integer delta = luaL_optinteger(L, 2, 1);
  flyq__counter_t *c;
  if (len == 0 || len > MAX_COUNTER_NAME || strspn(name, COUNTER_CHARS) != len)
    luaL_argerror(L, 1, "expected 1 to 128 letters, digits, \"_\", \"-\", "
                        "\".\" or \":\"");
  if ((c = counter_find(p, name)) == NULL) {
    if (p->ncounters >= MAX_COUNTERS)
      luaL_error(L, "too many counters (at most %d)", MAX_COUNTERS);
    if ((c = counter_add(p, name)) == NULL) luaL_error(L, "out of memory");
  }
  c->value = (int64_t)((uint64_t)c->value + (uint64_t)delta); /* wraps */
  lua_pushinteger(L, c->value);
  return 1;
}

static int api_now_ms(lua_State *L) {
  lua_pushinteger(L, flyq_now_ms());
  return 1;
}

static void push_hex(lua_State *L, const uint8_t *d, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char hex[2 * SHA256_DIGEST_SIZE];
  for (size_t i = 0; i < n; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  lua_pushlstring(L, hex, 2 * n);
}

/* Hashes s[0..len) into ctx with update, HASH_POLL bytes at a time with
 * a budget poll after each: hashing tens of MiB in one piece would run
 * past the time limit out of its reach. */
#define HASH_POLL (256u << 10)
#define HASH_IN_PIECES(L, update, ctx, s, len)                          \
  do {                                                                  \
    for (size_t off_ = 0; off_ < (len); off_ += HASH_POLL) {            \
      size_t n_ = (len) - off_ < HASH_POLL ? (len) - off_ : HASH_POLL;  \
      update((ctx), n_, (const uint8_t *)(s) + off_);                   \
      flyq__lua_poll(L);                                                \
    }                                                                   \
  } while (0)

static int api_sha256(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  struct sha256_ctx ctx;
  uint8_t digest[SHA256_DIGEST_SIZE];
  sha256_init(&ctx);
  HASH_IN_PIECES(L, sha256_update, &ctx, s, len);
  sha256_digest(&ctx, sizeof digest, digest);
  push_hex(L, digest, sizeof digest);
  return 1;
}

static int api_hmac_sha256(lua_State *L) {
  size_t klen, len;
  const char *key = luaL_checklstring(L, 1, &klen);
  const char *s = luaL_checklstring(L, 2, &len);
  struct hmac_sha256_ctx ctx;
  uint8_t digest[SHA256_DIGEST_SIZE];
  hmac_sha256_set_key(&ctx, klen, (const uint8_t *)key);
  HASH_IN_PIECES(L, hmac_sha256_update, &ctx, s, len);
  hmac_sha256_digest(&ctx, sizeof digest, digest);
  push_hex(L, digest, sizeof digest);
  return 1;
}

/* Different lengths compare unequal at once: only the contents are
 * protected, as with any MAC comparison. */
static int api_constant_time_eq(lua_State *L) {
  size_t alen, blen;
  const char *a = luaL_checklstring(L, 1, &alen);
  const char *b = luaL_checklstring(L, 2, &blen);
  lua_pushboolean(L, alen == blen && memeql_sec(a, b, alen));
  return 1;
}

/* require(name): cjson (upvalue 1) for "cjson", an error for the rest. */
static int api_require(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (strcmp(name, "cjson") != 0)
    luaL_error(L, "module '%s' is not available to plugins (only cjson)",
               name);
  lua_pushvalue(L, lua_upvalueindex(1));
  return 1;
}

/* [env] -> [env]: env.flyq */
static void set_flyq(lua_State *L) {
  static const luaL_Reg api[] = {{"log", api_log},
                                 {"counter", api_counter},
                                 {"now_ms", api_now_ms},
                                 {"sha256", api_sha256},
                                 {"hmac_sha256", api_hmac_sha256},
                                 {"constant_time_eq", api_constant_time_eq},
                                 {NULL, NULL}};
  luaL_newlib(L, api);
  lua_setfield(L, -2, "flyq");
}

/* [env] -> [env]: env.os with clock and time only. */
static void set_os(lua_State *L) {
  lua_pushcfunction(L, luaopen_os);
  lua_call(L, 0, 1); /* [env, os] (registers nothing) */
  lua_createtable(L, 0, 2);
  lua_getfield(L, -2, "clock");
  lua_setfield(L, -2, "clock");
  lua_getfield(L, -2, "time");
  lua_setfield(L, -2, "time"); /* [env, os, safe] */
  lua_setfield(L, -3, "os");
  lua_pop(L, 1);
}

/* [env] -> [env]: env.cjson and env.require. */
static void set_cjson(lua_State *L) {
  flyq__plugin_cjson(L); /* [env, cjson] */
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "cjson");
  lua_pushcclosure(L, api_require, 1);
  lua_setfield(L, -2, "require");
}

void flyq__plugin_env(lua_State *L) {
  flyq__sandbox_env(L); /* [env] */
  set_flyq(L);
  set_os(L);
  set_cjson(L);
  lua_pushcfunction(L, api_print);
  lua_setfield(L, -2, "print");
}
