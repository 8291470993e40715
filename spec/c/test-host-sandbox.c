/* The sandbox states of src/host/sandbox.c used directly, as the plugin
 * runtime will: the pcall wrapper's codes, messages and traceback, the
 * budget, the memory cap, and require of the embedded modules. */
#include <errno.h>
#include <lauxlib.h>

#include "flyq/common.h"
#include "host/sandbox.h"
#include "test.h"

static char err[512];

/* Runs src in a sandbox env of L; returns the flyq__lua_pcall code. */
static int run(lua_State *L, const char *src) {
  flyq__sandbox_env(L);
  if (flyq__sandbox_load(L, src, strlen(src), "=chunk") != LUA_OK) {
    snprintf(err, sizeof err, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return FLYQ_ERR_PLUGIN;
  }
  return flyq__lua_pcall(L, 0, 1, err, sizeof err);
}

TEST(pcall_returns_message_and_traceback) {
  lua_State *L = flyq__lua_new(8 << 20);
  int top;
  CHECK(L != NULL);
  top = lua_gettop(L);
  CHECK_EQ(run(L, "local function f()\n  error('deep')\nend\nf()"),
           FLYQ_ERR_PLUGIN);
  CHECK(strcmp(err, "chunk:2: deep") == 0);
  CHECK(strstr(flyq__lua_traceback(L), "stack traceback:") != NULL);
  CHECK(strstr(flyq__lua_traceback(L), "in local 'f'") != NULL);
  CHECK_EQ(lua_gettop(L), top); /* the error was popped */
  CHECK_OK(run(L, "return 6 * 7"));
  CHECK_EQ(lua_tointeger(L, -1), 42);
  CHECK(strcmp(flyq__lua_traceback(L), "") == 0);
  flyq__lua_close(L);
}

TEST(budget_can_be_set_and_removed) {
  lua_State *L = flyq__lua_new(8 << 20);
  CHECK(L != NULL);
  flyq__lua_set_budget(L, 100000);
  CHECK_EQ(run(L, "local n = 0\nwhile true do n = n + 1 end"), FLYQ_ERR_LIMIT);
  CHECK(strcmp(err, "chunk:2: instruction limit exceeded (100000 instructions)") == 0);
  /* still spent: any code fails */
  CHECK_EQ(run(L, "for i = 1, 1e6 do end"), FLYQ_ERR_LIMIT);
  flyq__lua_set_budget(L, 0);
  CHECK_OK(run(L, "local n = 0 for i = 1, 1e6 do n = n + 1 end return n"));
  CHECK_EQ(lua_tointeger(L, -1), 1000000);
  flyq__lua_close(L);
}

/* Few instructions that each spend long in C still end at the budget's
 * deadline: 100000 instructions allow 10 ms, and each of these copies 1 MiB
 * (the loop would need minutes to use up its instruction count). */
TEST(budget_has_a_wall_clock_deadline) {
  lua_State *L = flyq__lua_new(64 << 20);
  CHECK(L != NULL);
  flyq__lua_set_budget(L, 100000);
  int64_t t0 = flyq_now_ms();
  CHECK_EQ(run(L, "local s = ('x'):rep(1 << 20)\n"
                  "for i = 1, 1e8 do local t = s:rep(1) .. i end"),
           FLYQ_ERR_LIMIT);
  CHECK(strstr(err, "chunk:2: time limit exceeded") == err);
  CHECK(flyq_now_ms() - t0 < 5000);
  flyq__lua_set_budget(L, 100000); /* a fresh budget runs again */
  CHECK_OK(run(L, "return 1"));
  flyq__lua_close(L);
}

static int nothing(lua_State *L) {
  (void)L;
  return 0;
}

/* A limit that strikes in FlyQ's own Lua code (lua/flyq/...) names the
 * user's frame below it, or no position: never the runtime's lines. */
TEST(a_limit_in_flyqs_own_code_blames_the_caller) {
  static const char runtime[] = "return function(f) f() while true do end end";
  static const char user[] = "local x = 1\nfake(function() end)";
  lua_State *L = flyq__lua_new(8 << 20);
  CHECK(L != NULL);
  CHECK(luaL_loadbufferx(L, runtime, strlen(runtime), "@lua/flyq/fake.lua",
                         "t") == LUA_OK);
  lua_call(L, 0, 1); /* [fake]: a function of "FlyQ's own" code */
  flyq__sandbox_env(L);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "fake");
  CHECK(flyq__sandbox_load(L, user, strlen(user), "=chunk") == LUA_OK);
  flyq__lua_set_budget(L, 100000);
  CHECK_EQ(flyq__lua_pcall(L, 0, 0, err, sizeof err), FLYQ_ERR_LIMIT);
  if (strstr(err, "chunk:2: instruction limit exceeded") != err)
    flyq_test_fail(__FILE__, __LINE__, "got: %s", err);
  flyq__lua_set_budget(L, 100000); /* [fake] */
  lua_pushcfunction(L, nothing); /* f(): no Lua frame of the user's */
  CHECK_EQ(flyq__lua_pcall(L, 1, 0, err, sizeof err), FLYQ_ERR_LIMIT);
  if (strstr(err, "instruction limit exceeded") != err)
    flyq_test_fail(__FILE__, __LINE__, "got: %s", err);
  flyq__lua_close(L);
}

TEST(memory_cap_is_enomem_and_state_survives) {
  lua_State *L = flyq__lua_new(4 << 20);
  CHECK(L != NULL);
  CHECK_EQ(run(L, "return ('x'):rep(8 * 1024 * 1024)"), -ENOMEM);
  CHECK(strcmp(err, "chunk:1: memory limit exceeded (4 MiB)") == 0);
  CHECK_OK(run(L, "return #('x'):rep(1024)"));
  CHECK_EQ(lua_tointeger(L, -1), 1024);
  flyq__lua_close(L);
  CHECK(flyq__lua_new(1024) == NULL); /* too small for the libraries */
}

TEST(host_requires_only_embedded_modules) {
  lua_State *L = flyq__lua_new(8 << 20);
  CHECK(L != NULL);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "flyq.config");
  CHECK_OK(flyq__lua_pcall(L, 1, 1, err, sizeof err));
  CHECK(lua_istable(L, -1));
  lua_pop(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "lfs"); /* installed, but not embedded */
  CHECK_EQ(flyq__lua_pcall(L, 1, 1, err, sizeof err), FLYQ_ERR_PLUGIN);
  CHECK(strstr(err, "module 'lfs' not found") != NULL);
  lua_getglobal(L, "string");
  lua_getfield(L, -1, "dump");
  CHECK(lua_isnil(L, -1));
  lua_pop(L, 2);
  flyq__lua_close(L);
}

TEST_LIST(TEST_ENTRY(pcall_returns_message_and_traceback)
          TEST_ENTRY(budget_can_be_set_and_removed)
          TEST_ENTRY(budget_has_a_wall_clock_deadline)
          TEST_ENTRY(a_limit_in_flyqs_own_code_blames_the_caller)
          TEST_ENTRY(memory_cap_is_enomem_and_state_survives)
          TEST_ENTRY(host_requires_only_embedded_modules));
