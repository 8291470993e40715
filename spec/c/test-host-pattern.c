/* FlyQ's string.find, match, gmatch and gsub (src/host/pattern.c) against
 * Lua's own: the same Lua code runs every case in a host state (ours) and
 * in a plain lua_State with the stock string library, and every result,
 * error message included, must be the same. The cases are hand-picked
 * patterns (every feature, every malformed form) over a set of subjects,
 * and a few thousand generated ones.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>
#include <time.h>

#include "flyq/common.h"
#include "host/sandbox.h"
#include "test.h"

/* Runs every case; returns a table of one result line per case. */
static const char harness[] =
    "local find, match, gmatch, gsub = string.find, string.match,\n"
    "  string.gmatch, string.gsub\n"
    "local function ser(...)\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do\n"
    "    local v = select(i, ...)\n"
    "    t[#t + 1] = type(v) .. ':' .. tostring(v)\n"
    "  end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "local function all(s, p, init)\n"
    "  local acc = {}\n"
    "  for a, b, c in gmatch(s, p, init) do\n"
    "    acc[#acc + 1] = ser(a, b, c)\n"
    "    if #acc > 40 then break end\n"
    "  end\n"
    "  return table.concat(acc, ';')\n"
    "end\n"
    "local function upper(a) if a == 'b' then return false end\n"
    "  return type(a) == 'string' and a:upper() or nil end\n"
    "local function one(s, p, init)\n"
    "  return table.concat({\n"
    "    ser(pcall(find, s, p)), ser(pcall(find, s, p, init)),\n"
    "    ser(pcall(find, s, p, init, true)),\n"
    "    ser(pcall(match, s, p)), ser(pcall(match, s, p, init)),\n"
    "    ser(pcall(all, s, p)), ser(pcall(all, s, p, init)),\n"
    "    ser(pcall(gsub, s, p, '<%0>')), ser(pcall(gsub, s, p, '[%1|%%]', 3)),\n"
    "    ser(pcall(gsub, s, p, '%2')), ser(pcall(gsub, s, p, '%x')),\n"
    "    ser(pcall(gsub, s, p, upper)), ser(pcall(gsub, s, p, 7)),\n"
    "    ser(pcall(gsub, s, p, {a = 'A', b = false, c = {}})),\n"
    "    ser(pcall(gsub, s, p, true)),\n"
    "  }, ' | ')\n"
    "end\n"
    "local subjects, patterns, inits = ...\n"
    "local out = {}\n"
    "for _, s in ipairs(subjects) do\n"
    "  for _, p in ipairs(patterns) do\n"
    "    for _, init in ipairs(inits) do\n"
    "      out[#out + 1] = ser(s, p, init) .. ' => ' .. one(s, p, init)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "-- Generated: short patterns from a set of tokens over short subjects.\n"
    "local tokens = {'a', 'b', 'c', '.', '%a', '%d', '%s', '%w', '[ab]',\n"
    "  '[^a]', '[a-c]', '*', '+', '-', '?', '(', ')', '()', '%1', '^', '$',\n"
    "  '%b()', '%f[%w]', '%%', '[%]]', '%'}\n"
    "local chars = 'abc ()1%]'\n"
    "local seed = 12345\n"
    "local function rnd(n)\n"
    "  seed = (seed * 1103515245 + 12345) % 2147483648\n"
    "  return seed % n + 1\n"
    "end\n"
    "for _ = 1, 3000 do\n"
    "  local p, s = {}, {}\n"
    "  for _ = 1, rnd(6) do p[#p + 1] = tokens[rnd(#tokens)] end\n"
    "  for _ = 1, rnd(12) - 1 do\n"
    "    local k = rnd(#chars)\n"
    "    s[#s + 1] = chars:sub(k, k)\n"
    "  end\n"
    "  p, s = table.concat(p), table.concat(s)\n"
    "  out[#out + 1] = ser(s, p) .. ' => ' .. one(s, p, rnd(5) - 2)\n"
    "end\n"
    "return out\n";

static const char *const subjects[] = {
    "", "hello world", "aaa", "a.b.c", "  x  ", "key=value; k2=v2",
    "(a(b)c)", "THE (quick) fox", "ab12cd345", "abababab", "%%x", "[]]",
    "x\n\ty", "caf\xc3\xa9 a", NULL};

static const char *const patterns[] = {
    "", "a", "o", "l+", "%w+", "%d*", "%s+", "^a", "a$", "^$", ".-", ".",
    "..", "a*", "a-", "a?b", "a+b*c-d?", "(.-)=(%w+)", "(%w+)=(%w+)",
    "%b()", "%bxy", "%f[%w]%w+", "%f[%W]", "[a-c]+", "[%a_][%w_]*",
    "[^%s]+", "[]]", "[^]]", "%]", "[a%-z]+", "[%]]", "%.", "$a", "a$b",
    "^^", "(a)(b)(c)", "((a))", "()a()", "(a*(.)%w(%s*))", "%a+%s*%d*",
    "(h)(e)(l)(l)(o)", "%z", "[%z]", "%g+", "%p", "%c", "%x+", "%u%l*",
    "%A+", "%S+", "%D", "(a)%1", "(%w)%1", "%0", "%", "[a", "[^", "(", ")",
    "%b", "%ba", "%f", "%fa", "(()", "%1", "(a)%2", "(()())", "[a-]",
    "[-a]", "[%w-]+", "x*$", "^(.-)%s*$", "%s*(.-)%s*$", "(%d+)(%a+)", NULL};

static void push_list(lua_State *L, const char *const *v) {
  lua_newtable(L);
  for (int i = 0; v[i]; i++) {
    lua_pushstring(L, v[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

/* Runs the harness in L; returns its table of lines (left on the stack). */
static void run(lua_State *L) {
  static const lua_Integer inits[] = {1, 2, 0, -3, 100};
  if (luaL_loadbufferx(L, harness, sizeof harness - 1, "=harness", "t") != 0)
    flyq_test_fail(__FILE__, __LINE__, "load: %s", lua_tostring(L, -1));
  push_list(L, subjects);
  push_list(L, patterns);
  lua_newtable(L);
  for (int i = 0; i < 5; i++) {
    lua_pushinteger(L, inits[i]);
    lua_rawseti(L, -2, i + 1);
  }
  if (lua_pcall(L, 3, 1, 0) != 0)
    flyq_test_fail(__FILE__, __LINE__, "run: %s", lua_tostring(L, -1));
}

TEST(same_results_as_lua) {
  lua_State *ref = luaL_newstate(), *ours = flyq__lua_new(256u << 20);
  lua_Integer n;
  CHECK(ref != NULL && ours != NULL);
  luaL_openlibs(ref);
  run(ref);
  run(ours);
  n = (lua_Integer)lua_rawlen(ref, -1);
  CHECK_EQ(n, (lua_Integer)lua_rawlen(ours, -1));
  CHECK(n > 8000);
  for (lua_Integer i = 1; i <= n; i++) {
    const char *want, *got;
    lua_rawgeti(ref, -1, i);
    lua_rawgeti(ours, -1, i);
    want = lua_tostring(ref, -1);
    got = lua_tostring(ours, -1);
    if (strcmp(want, got) != 0)
      flyq_test_fail(__FILE__, __LINE__, "case %lld:\n  lua:  %s\n  ours: %s",
                     (long long)i, want, got);
    lua_pop(ref, 1);
    lua_pop(ours, 1);
  }
  lua_close(ref);
  flyq__lua_close(ours);
}

/* The pattern that runs for minutes in Lua's matcher stops at the
 * budget's deadline (under the instruction budget: its CPU time). */
TEST(a_backtracking_pattern_is_stopped) {
  lua_State *L = flyq__lua_new(64u << 20);
  char err[256];
  struct timespec t0, t1;
  CHECK(L != NULL);
  CHECK_OK(luaL_loadstring(L, "return string.find(('a'):rep(40), "
                              "('a-'):rep(20) .. 'b')"));
  flyq__lua_set_budget_ns(L, 1000000000, 20000000); /* 20 ms */
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_EQ(flyq__lua_pcall(L, 0, 0, err, sizeof err), FLYQ_ERR_LIMIT);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < 2);
  CHECK(strstr(err, "time limit exceeded") != NULL);
  flyq__lua_close(L);
}

TEST_LIST(TEST_ENTRY(same_results_as_lua)
          TEST_ENTRY(a_backtracking_pattern_is_stopped));
