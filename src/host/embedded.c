/* Loads the Lua modules compiled into the binary (see embedded.h) through
 * package.preload, so that require("flyq.config") never touches the disk.
 */
#include "host/embedded.h"

#include <lauxlib.h>

/* package.preload loader: (name, ":preload:") -> the module's value. The
 * module descriptor is upvalue 1. */
static int load_module(lua_State *L) {
  const flyq__lua_module_t *m = lua_touserdata(L, lua_upvalueindex(1));
  if (luaL_loadbufferx(L, (const char *)m->src, m->len, m->chunkname, "t") !=
      LUA_OK)
    return lua_error(L);
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2); /* [name, extra, chunk, name, extra] */
  lua_call(L, 2, 1);
  return 1;
}

void flyq__lua_preload(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE); /* [preload] */
  for (const flyq__lua_module_t *m = flyq__lua_modules; m->name; m++) {
    lua_pushlightuserdata(L, (void *)m);
    lua_pushcclosure(L, load_module, 1);
    lua_setfield(L, -2, m->name);
  }
  lua_pop(L, 1);
}
