/* cjson as plugins get it: lua-cjson behind the limits a plugin cannot
 * lift. lua-cjson builds its text in buffers it mallocs itself, outside
 * the state's memory cap, exits the process when one passes 2 GiB, and
 * parses on the C stack, so:
 *   - decode_max_depth and encode_max_depth take only 1 to MAX_DEPTH
 *     (a deeper decode overflows the C stack: a crash);
 *   - encode_keep_buffer is always off (a kept buffer stays allocated
 *     outside the cap, one per instance);
 *   - encode first walks the value (polling the budget) and refuses one
 *     whose text would be larger than the state's memory cap, which that
 *     text could not fit in anyway;
 *   - new() returns an instance limited the same way.
 * Everything else is lua-cjson's own.
 */
#include <lauxlib.h>
#include <string.h>

#include "host/plugin.h"
#include "host/sandbox.h"

#define MAX_DEPTH 1000 /* lua-cjson's default for both */
#define WALK_POLL 4096 /* values walked between two budget checks */

int luaopen_cjson(lua_State *L); /* liblua5.4-cjson installs no header */

typedef struct walk {
  lua_State *L;
  size_t size, max;
  unsigned steps;
} walk_t;

/* The length of s as a JSON string, quotes included (at most: lua-cjson
 * writes some control characters as two bytes, this counts six). */
static size_t string_size(const char *s, size_t len) {
  size_t n = len + 2;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) n += 5;
    else if (c == '"' || c == '\\' || c == '/') n += 1;
  }
  return n;
}

/* Adds the text size of the value at idx to w->size, stopping once it is
 * over w->max or deeper than MAX_DEPTH (lua-cjson then refuses it). */
static void walk(walk_t *w, int idx, int depth) {
  size_t len;
  const char *s;
  if (w->size > w->max || depth > MAX_DEPTH) return;
  if (++w->steps % WALK_POLL == 0) flyq__lua_poll(w->L);
  switch (lua_type(w->L, idx)) {
  case LUA_TSTRING:
    s = lua_tolstring(w->L, idx, &len);
    w->size += string_size(s, len);
    return;
  case LUA_TTABLE:
    luaL_checkstack(w->L, 3, "cjson.encode: nested too deeply");
    w->size += 2;
    lua_pushnil(w->L);
    while (lua_next(w->L, idx) != 0) {
      walk(w, lua_absindex(w->L, -2), depth + 1); /* the key */
      walk(w, lua_absindex(w->L, -1), depth + 1);
      w->size += 2; /* ':' and ',' */
      lua_pop(w->L, 1);
      if (w->size > w->max) {
        lua_pop(w->L, 1); /* the key: the walk is over */
        break;
      }
    }
    return;
  default:
    w->size += 32; /* numbers, booleans, null */
  }
}

/* encode(value); the instance's own encode is upvalue 1. */
static int safe_encode(lua_State *L) {
  walk_t w = {L, 0, flyq__lua_max_bytes(L), 0};
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  walk(&w, 1, 0);
  if (w.size > w.max)
    luaL_error(L, "cjson.encode: the text would be larger than the memory "
                  "limit (%d MiB)", (int)(w.max >> 20));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

/* decode_max_depth / encode_max_depth([n]); the original is upvalue 1.
 * n must be an integer from 1 to MAX_DEPTH: lua-cjson keeps only the low
 * 32 bits of a larger one (-2^32 + 10^6 would be 10^6). */
static int safe_depth(lua_State *L) {
  int integer;
  lua_Integer n = lua_tointegerx(L, 1, &integer);
  if (!lua_isnoneornil(L, 1) && (!integer || n < 1 || n > MAX_DEPTH))
    luaL_error(L, "cjson: a depth must be an integer from 1 to %d",
               MAX_DEPTH);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* encode_keep_buffer([on]): stays off; answers as lua-cjson (upvalue 1). */
static int keep_buffer_off(lua_State *L) {
  lua_settop(L, 0);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushboolean(L, 0);
  lua_call(L, 1, 1);
  return 1;
}

static void wrap(lua_State *L);

/* new(): a fresh lua-cjson instance (upvalue 1), wrapped. */
static int safe_new(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_call(L, 0, 1);
  wrap(L);
  return 1;
}

/* Replaces field name of the table on top with fn closing over the old. */
static void replace(lua_State *L, const char *name, lua_CFunction fn) {
  if (lua_getfield(L, -1, name) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    return;
  }
  lua_pushcclosure(L, fn, 1);
  lua_setfield(L, -2, name);
}

/* [cjson] -> [limited copy]: the module or an instance, limited. */
static void wrap(lua_State *L) {
  lua_newtable(L); /* [orig, copy] */
  lua_pushnil(L);
  while (lua_next(L, -3) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4);
  }
  lua_remove(L, -2);
  if (lua_getfield(L, -1, "encode_keep_buffer") == LUA_TFUNCTION) {
    lua_pushboolean(L, 0);
    lua_call(L, 1, 0);
  } else {
    lua_pop(L, 1);
  }
  replace(L, "encode", safe_encode);
  replace(L, "decode_max_depth", safe_depth);
  replace(L, "encode_max_depth", safe_depth);
  replace(L, "encode_keep_buffer", keep_buffer_off);
  replace(L, "new", safe_new);
}

void flyq__plugin_cjson(lua_State *L) {
  lua_pushcfunction(L, luaopen_cjson);
  lua_call(L, 0, 1);
  wrap(L);
}
