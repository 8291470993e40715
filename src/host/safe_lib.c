/* Standard library functions that a host state's code could keep running
 * in one C call, out of reach of the budget's hooks, replaced by versions
 * that cannot:
 *   string.rep   a repetition whose result is empty ("" or n <= 0)
 *                returns at once (the stock one copies nothing n times,
 *                and n may be 1e15); any other result is allocated first,
 *                so the memory cap bounds it;
 *   table.move   moves the elements one by one as the stock one does, and
 *                polls the budget (flyq__lua_poll) every MOVE_POLL of
 *                them: moving nils between empty tables takes no memory
 *                and would otherwise run for days;
 *   table.sort   the stock sort, its comparisons made through a C function
 *                that polls the budget at each one when the comparator
 *                would run no Lua code (none given: a < b in C, or a C
 *                function): 500,000 strings of 16 MiB take hours to sort,
 *                and no hook fires inside the stock sort.
 * Pattern functions have their own matcher (pattern.c); cjson's limits are
 * in plugin_api.c.
 */
#include <lauxlib.h>
#include <lualib.h>

#include "host/sandbox.h"

#define MOVE_POLL 4096

/* string.rep(s, n [, sep]); the stock function is upvalue 1. */
static int safe_rep(lua_State *L) {
  size_t l, lsep;
  luaL_checklstring(L, 1, &l);
  lua_Integer n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  if (n <= 0 || (l == 0 && lsep == 0)) {
    lua_pushliteral(L, "");
    return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* table.move(a1, f, e, t [, a2]), as Lua 5.4's, with budget polls. */
static int safe_move(lua_State *L) {
  lua_Integer f = luaL_checkinteger(L, 2);
  lua_Integer e = luaL_checkinteger(L, 3);
  lua_Integer t = luaL_checkinteger(L, 4);
  int tt = !lua_isnoneornil(L, 5) ? 5 : 1; /* destination table */
  luaL_checkany(L, 1);
  luaL_checkany(L, tt);
  if (e >= f) {
    lua_Integer n = e - f;
    luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3,
                  "too many elements to move");
    luaL_argcheck(L, t <= LUA_MAXINTEGER - n || n < 0, 4,
                  "destination wrap around");
    if (t > e || t <= f || (tt != 1 && !lua_compare(L, 1, tt, LUA_OPEQ))) {
      for (lua_Integer i = 0; i <= n; i++) {
        if (i % MOVE_POLL == MOVE_POLL - 1) flyq__lua_poll(L);
        lua_geti(L, 1, f + i);
        lua_seti(L, tt, t + i);
      }
    } else {
      for (lua_Integer i = n; i >= 0; i--) {
        if (i % MOVE_POLL == 0) flyq__lua_poll(L);
        lua_geti(L, 1, f + i);
        lua_seti(L, tt, t + i);
      }
    }
  }
  lua_pushvalue(L, tt);
  return 1;
}

/* The comparator safe_sort gives the stock sort: polls the budget, then
 * calls upvalue 1 (a C comparator), or compares a < b when it is nil. */
static int polled_less(lua_State *L) {
  flyq__lua_poll(L);
  if (lua_isnil(L, lua_upvalueindex(1)))
    return lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT)), 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 2, 1);
  return 1;
}

/* table.sort(list [, comp]); the stock function is upvalue 1. A Lua
 * comparator is passed as it is: the budget's hooks fire inside it. */
static int safe_sort(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_isnoneornil(L, 2) || lua_iscfunction(L, 2)) {
    lua_settop(L, 2);
    lua_pushcclosure(L, polled_less, 1);
  }
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 2, 0);
  return 0;
}

void flyq__safe_libs(lua_State *L) {
  lua_getglobal(L, LUA_STRLIBNAME);
  lua_getfield(L, -1, "rep");
  lua_pushcclosure(L, safe_rep, 1);
  lua_setfield(L, -2, "rep");
  lua_getglobal(L, LUA_TABLIBNAME);
  lua_pushcfunction(L, safe_move);
  lua_setfield(L, -2, "move");
  lua_getfield(L, -1, "sort");
  lua_pushcclosure(L, safe_sort, 1);
  lua_setfield(L, -2, "sort");
  lua_pop(L, 2);
}
