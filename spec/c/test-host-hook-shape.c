/* flyq__hook_returns_arg (src/host/hook_shape.c): which hooks the bytecode
 * shows to return their record (or nothing, or nil), so that a chunk
 * runner may call them on up to a slice of records before reading what they
 * returned. A hook it wrongly passes could return a table that its later
 * calls change before FlyQ reads it: every shape that can return anything
 * else must be refused. */
#include <lauxlib.h>
#include <lualib.h>

#include "host/plugin.h"
#include "test.h"

/* flyq__hook_returns_arg on the function that src (an expression) makes. */
static int shape(lua_State *L, const char *src) {
  char chunk[1024];
  int ok;
  snprintf(chunk, sizeof chunk, "local up = {} return %s", src);
  if (luaL_loadstring(L, chunk) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
    flyq_test_fail(__FILE__, __LINE__, "%s: %s", src, lua_tostring(L, -1));
  ok = flyq__hook_returns_arg(L, -1);
  lua_pop(L, 1);
  return ok;
}

static const char *const record_or_nothing[] = {
    "function(r) return r end",
    "function(r, ctx) return r end",
    "function(r) end",
    "function(r) if r.key == 'x' then return nil end return r end",
    "function(r) if r.key == 'x' then return end return r end",
    "function(r) r.value = r.value .. '!' return r end",
    "function(r, ctx) ctx.state.n = (ctx.state.n or 0) + 1 return r end",
    "function(r) local t = {} for i = 1, 3 do t[i] = i end return r end",
    "function(r) for k, v in pairs(r.headers or {}) do end return r end",
    "function(r) up[#up + 1] = r.key return r end",
    "function(r) return (r) end",
    "function(r) local ok = pcall(error, 'x') if not ok then return r end end",
    /* a generic for makes every return a RETURN that closes */
    "function(r) for k in pairs(up) do end if r.key then return nil end "
    "return r end",
};

static const char *const anything_else[] = {
    "function(r) return {} end",
    "function(r) return { r } end",
    "function(r) return up end",
    "function(r) return false end",
    "function(r) return r.key end",
    "function(r) r = up return r end",
    "function(r) local x = r return x end",
    "function(r) return (function() return r end)() end",
    "function(r) local f = function() r = up end f() return r end",
    "function(r) return next(up) end",
    "function(...) return ... end",
    "function(r, ...) return r end",
    "function(r) return select(1, r) end",
    "function() return nil end",
    "function(r) if r.key then return up end return r end",
    "function(r) return r.key == 'x' and nil or up end",
    "function(r) for i = 1, 2 do r = up end return r end",
    "function(r) local a, b = 1, nil if r.key then b = up end return b end",
    "function(r) local b = nil if r.key then b = up end return b end",
    "function(r) for k in pairs(up) do end local b if r.key then b = up end "
    "return b end",
    /* a `return nil` that a goto or a break jumps to past the nil */
    "function(r) local b = up if r.key then goto l end b = nil ::l:: "
    "return b end",
    "function(r) local b = up while r.key do b = nil break end return b end",
    "function(r) goto l ::l:: r = up return r end",
    "function(r) r, up = up, r return r end",
    "function(r) local x <close> = up return x end",
    "function(r) do local a <close> = up if r.key then return a end end "
    "return r end",
    "function(r) repeat local x = up if x then return x end until true "
    "return r end",
    "function(r) for k, v in next, up do return v end return r end",
    "function(r) return r:m() end",
    "function(r) return (r:m()) end",
    "function(r) local a = r.key and nil return a end",
    "print",
};

TEST(hooks_that_return_their_record_or_nothing) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  for (size_t i = 0; i < sizeof record_or_nothing / sizeof *record_or_nothing;
       i++)
    if (!shape(L, record_or_nothing[i]))
      flyq_test_fail(__FILE__, __LINE__, "refused: %s", record_or_nothing[i]);
  lua_close(L);
}

TEST(hooks_that_may_return_anything_else) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  for (size_t i = 0; i < sizeof anything_else / sizeof *anything_else; i++)
    if (shape(L, anything_else[i]))
      flyq_test_fail(__FILE__, __LINE__, "passed: %s", anything_else[i]);
  lua_close(L);
}

/* A value that is no function, or a function too long to read, proves
 * nothing. */
TEST(what_cannot_be_read_proves_nothing) {
  lua_State *L = luaL_newstate();
  luaL_Buffer b;
  luaL_openlibs(L);
  lua_pushinteger(L, 7);
  CHECK(!flyq__hook_returns_arg(L, -1));
  lua_pop(L, 1);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "return function(r) local x = 0\n");
  for (int i = 0; i < 20000; i++) luaL_addstring(&b, "x = x + 1\n");
  luaL_addstring(&b, "return r end");
  luaL_pushresult(&b);
  CHECK(luaL_loadstring(L, lua_tostring(L, -1)) == LUA_OK);
  lua_call(L, 0, 1);
  CHECK(!flyq__hook_returns_arg(L, -1));
  lua_close(L);
}

TEST_LIST(TEST_ENTRY(hooks_that_return_their_record_or_nothing)
          TEST_ENTRY(hooks_that_may_return_anything_else)
          TEST_ENTRY(what_cannot_be_read_proves_nothing));
