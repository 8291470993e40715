/* Plugin params cross from the config (or a consumer's request) to the
 * plugin's Lua state as JSON text. jansson decodes it (outside Lua, so that
 * a Lua error cannot leak the tree), and this file turns the tree into Lua
 * values: integers stay integers, reals stay floats, which cjson could not
 * tell apart.
 */
#include <jansson.h>
#include <lauxlib.h>

#include "host/plugin.h"

#define JSON_MAX_DEPTH 64

static void push_value(lua_State *L, const json_t *v, int depth);

/* [-0, +1] a table of the object or array v */
static void push_container(lua_State *L, const json_t *v, int depth) {
  const char *key;
  json_t *item;
  size_t i;
  if (depth >= JSON_MAX_DEPTH) luaL_error(L, "params nested too deeply");
  luaL_checkstack(L, 3, "params nested too deeply");
  if (json_is_array(v)) {
    lua_createtable(L, (int)json_array_size(v), 0);
    json_array_foreach(v, i, item) {
      push_value(L, item, depth + 1);
      lua_rawseti(L, -2, (lua_Integer)i + 1); /* null leaves a hole */
    }
    return;
  }
  lua_createtable(L, 0, (int)json_object_size(v));
  json_object_foreach((json_t *)v, key, item) {
    push_value(L, item, depth + 1);
    lua_setfield(L, -2, key); /* [t, value] -> [t] */
  }
}

static void push_value(lua_State *L, const json_t *v, int depth) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
  case JSON_ARRAY: push_container(L, v, depth); break;
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
  case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
  case JSON_TRUE: lua_pushboolean(L, 1); break;
  case JSON_FALSE: lua_pushboolean(L, 0); break;
  case JSON_NULL: lua_pushnil(L); break;
  }
}

void flyq__plugin_push_json(lua_State *L, const void *json) {
  push_value(L, json, 0);
}

/* Pushes the tree at 1 (light userdata); run protected so that the caller
 * can free the tree whatever happens. */
static int push_protected(lua_State *L) {
  push_value(L, lua_touserdata(L, 1), 0);
  return 1;
}

int flyq__plugin_json_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  json_error_t jerr;
  json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                         &jerr);
  int status;
  if (v == NULL) {
    lua_pushnil(L);
    lua_pushstring(L, jerr.text);
    return 2;
  }
  lua_pushcfunction(L, push_protected);
  lua_pushlightuserdata(L, v);
  status = lua_pcall(L, 1, 1, 0);
  json_decref(v);
  if (status != LUA_OK) return lua_error(L);
  return 1;
}
