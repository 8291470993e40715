/* What plugin code may and may not do (src/host/plugin_api.c, sandbox.c):
 * the budget per hook call, by instruction count and by the CPU-time
 * watchdog (pcall cannot swallow either), the
 * memory cap, coroutine abuse, escapes from the sandbox, and the flyq API,
 * cjson and require.
 */
#include <time.h>

#include "flyq/common.h"
#include "test-host-plugin.h"

/* orders runs plugin `name` (on_error `on_error`) with the limits
 * `limits` (Lua table fields). */
static flyq_plugins_t *with_limits(const char *name, const char *on_error,
                                   const char *limits) {
  char config[512];
  snprintf(config, sizeof config,
           "return { plugin_path = {DIR},\n"
           "  plugins = { limits = { %s } },\n"
           "  topics = { orders = { on_produce = '%s', on_error = '%s' } } }\n",
           limits, name, on_error);
  return pt_open(config);
}

/* Small limits, counted in instructions (the exact, slow budget). */
static flyq_plugins_t *limited(const char *name, const char *on_error) {
  return with_limits(name, on_error, "instructions = 200000, memory = '8MiB'");
}

/* Small limits, by the CPU-time watchdog (the default kind of budget). */
static flyq_plugins_t *timed(const char *name, const char *on_error) {
  return with_limits(name, on_error, "time_ms = 20, memory = '8MiB'");
}

/* on_produce over one record key=value on orders. */
static int one(flyq_plugins_t *rt, const char *key, const char *value,
               flyq_plugins_output_t *out, char *err, size_t errlen) {
  const char *kv[] = {key, value};
  size_t len;
  uint8_t *buf = pt_batch(kv, 1, &len);
  int rc = flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, out, err,
                                   errlen);
  free(buf);
  return rc;
}

/* The value of the only record of out (which is freed), into buf. */
static const char *value_of(flyq_plugins_output_t *out, char *buf, size_t n) {
  flyq_record_t rec;
  CHECK_EQ(out->nbatches, 1);
  pt_record(out->batches[0].data, out->batches[0].len, 0, &rec);
  snprintf(buf, n, "%.*s", (int)rec.value_len, (const char *)rec.value);
  flyq_plugins_output_free(out);
  return buf;
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The plugin fails the call in key's way, then works again for "ok". */
static void fails_then_works(flyq_plugins_t *rt, const char *key,
                             const char *want1, const char *want2) {
  flyq_plugins_output_t out;
  char err[512], v[64];
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_EQ(one(rt, key, "v", &out, err, sizeof err), FLYQ_ERR_PLUGIN);
  CHECK(seconds_since(&t0) < 5);
  CHECK_HAS(err, want1);
  CHECK_HAS(err, want2);
  CHECK_OK(one(rt, "ok", "v", &out, err, sizeof err));
  CHECK(strcmp(value_of(&out, v, sizeof v), "fine") == 0);
}

/* The plugin stores "key" as given. */
static void works(flyq_plugins_t *rt, const char *key) {
  flyq_plugins_output_t out;
  char err[512];
  CHECK_OK(one(rt, key, "v", &out, err, sizeof err));
  flyq_plugins_output_free(&out);
}

static const char loop_lua[] =
    "return { name = 'loop', on_produce = function(r)\n"
    "  if r.key == 'plain' then\n"
    "    while true do end\n"
    "  elseif r.key == 'pcall' then\n"
    "    for i = 1, 100 do pcall(function() while true do end end) end\n"
    "    r.value = 'escaped'\n"
    "    return r\n"
    "  elseif r.key == 'xpcall' then\n"
    "    xpcall(function() while true do end end, function() while true do end end)\n"
    "    return r\n"
    "  elseif r.key == 'cowrap' then\n" /* the abort caught in a coroutine */
    "    local co = coroutine.wrap(function()\n"
    "      while true do pcall(function() while true do end end) end end)\n"
    "    pcall(co); pcall(co)\n"
    "    r.value = 'escaped'\n"
    "    return r\n"
    "  elseif r.key == 'pattern' then\n" /* minutes in Lua's own matcher */
    "    return (('a'):rep(40)):find(('a-'):rep(20) .. 'b')\n"
    "  elseif r.key == 'bomb' then\n" /* allocates up to the memory cap */
    "    local t = {}\n"
    "    while true do t[#t + 1] = ('x'):rep(1 << 20) .. #t end\n"
    "  elseif r.key == 'rebomb' then\n" /* the cap's error caught, another raised */
    "    local ok = pcall(function()\n"
    "      local t = {}\n"
    "      while true do t[#t + 1] = ('x'):rep(1 << 20) .. #t end\n"
    "    end)\n"
    "    error('gave up', 0)\n"
    "  end\n"
    "  r.value = 'fine'\n"
    "  return r\n"
    "end }\n";

TEST(endless_loops_are_aborted) {
  flyq_plugins_t *rt;
  pt_write("loop.lua", loop_lua);
  rt = limited("loop", "reject");
  fails_then_works(rt, "plain", "plugin loop: ", "loop.lua:3: instruction "
                   "limit exceeded (200000 instructions) (on_produce, record 1)");
  fails_then_works(rt, "pcall", "plugin loop: ", "instruction limit exceeded");
  fails_then_works(rt, "xpcall", "plugin loop: ", "instruction limit exceeded");
  fails_then_works(rt, "cowrap", "plugin loop: ", "instruction limit exceeded");
  fails_then_works(rt, "pattern", "plugin loop: ", "loop.lua:18: time limit");
  CHECK_EQ(pt_stats(rt, "loop")->errors, 5);
  pt_done(rt);
}

TEST(the_watchdog_aborts_endless_loops) {
  flyq_plugins_t *rt;
  pt_write("loop.lua", loop_lua);
  rt = timed("loop", "reject");
  fails_then_works(rt, "plain", "plugin loop: ", "loop.lua:3: time limit "
                   "exceeded (20 ms of CPU time per call) (on_produce, record 1)");
  fails_then_works(rt, "pcall", "plugin loop: ", "time limit exceeded");
  fails_then_works(rt, "xpcall", "plugin loop: ", "time limit exceeded");
  fails_then_works(rt, "cowrap", "plugin loop: ", "time limit exceeded");
  fails_then_works(rt, "pattern", "plugin loop: ", "loop.lua:18: time limit "
                   "exceeded (20 ms of CPU time per call)");
  CHECK_EQ(pt_stats(rt, "loop")->errors, 5);
  pt_done(rt);
}

/* The POSIX timers this process has (lines "ID: n" of /proc/self/timers). */
static int timers_of_process(void) {
  char line[128];
  int n = 0;
  FILE *f = fopen("/proc/self/timers", "r");
  CHECK(f != NULL);
  while (fgets(line, sizeof line, f)) n += strncmp(line, "ID:", 3) == 0;
  fclose(f);
  return n;
}

/* Library calls that would run for hours inside one C call: stopped by
 * the time limit, or made to return at once. */
static const char *const long_calls_lua =
    "return { name = 'long', on_produce = function(r)\n"
    "  local a = ('a'):rep(2e6)\n"
    "  if r.key == 'move' then table.move({}, 1, 1e15, 2)\n"
    "  elseif r.key == 'literal' then\n"
    "    local x = a:gsub(('a'):rep(1e5) .. 'b', '')\n"
    "  elseif r.key == 'rep' then\n"
    "    assert(string.rep('', 1e13) == '' and ('x'):rep(0) == '')\n"
    "  elseif r.key == 'plain' then\n"
    "    assert(not a:find(('a'):rep(1e5) .. 'b', 1, true))\n"
    "    assert(not a:find(('a'):rep(1e5) .. 'b'))\n"
    "  elseif r.key == 'sort' then\n" /* 40,000 comparisons of 2 MB */
    "    local t = {} for i = 1, 4000 do t[i] = a end table.sort(t)\n"
    "  elseif r.key == 'sorted' then\n"
    "    local t = {3, 1, 2} table.sort(t) assert(table.concat(t) == '123')\n"
    "    table.sort(t, math.max)\n" /* a C comparator: any answer is fine */
    "    local ok, e = pcall(table.sort, {1, 'x'})\n"
    "    assert(not ok and e:find('attempt to compare'))\n"
    "  end\n"
    "  r.value = 'fine'\n"
    "  return r\n"
    "end }\n";

TEST(library_calls_cannot_run_unbounded) {
  flyq_plugins_t *rt;
  struct timespec t0;
  pt_write("long.lua", long_calls_lua);
  /* 200 ms: building the 2 MB subject takes tens of ms under ASan */
  rt = with_limits("long", "reject", "time_ms = 200, memory = '8MiB'");
  clock_gettime(CLOCK_MONOTONIC, &t0); /* unchecked, each takes seconds
                                          (literal) to days (move) */
  fails_then_works(rt, "move", "plugin long: ", "long.lua:3: time limit exceeded");
  CHECK(seconds_since(&t0) < 1.5);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  fails_then_works(rt, "literal", "plugin long: ",
                   "long.lua:5: time limit exceeded");
  CHECK(seconds_since(&t0) < 1.5);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  works(rt, "rep");
  works(rt, "plain");
  CHECK(seconds_since(&t0) < 1.5);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  fails_then_works(rt, "sort", "plugin long: ", "long.lua:12: time limit exceeded");
  CHECK(seconds_since(&t0) < 1.5);
  works(rt, "sorted");
  CHECK_EQ(pt_stats(rt, "long")->errors, 3);
  pt_done(rt);
}

/* Code a plugin loads under the name of one of FlyQ's own modules is
 * still the plugin's: a limit it hits names it, not the plugin's caller
 * or nothing (positions skip FlyQ's modules, which are "@lua/flyq/..."). */
TEST(a_loaded_chunk_cannot_pass_for_flyqs_own) {
  flyq_plugins_t *rt;
  pt_write("disown.lua",
           "return { name = 'disown', on_produce = function(r)\n"
           "  if r.key == 'loop' then\n"
           "    assert(load('while true do end', '@lua/flyq/x.lua'))()\n"
           "  end\n"
           "  r.value = 'fine'\n"
           "  return r\n"
           "end }\n");
  rt = timed("disown", "reject");
  fails_then_works(rt, "loop", "plugin disown: ",
                   "lua/flyq/x.lua:1: time limit exceeded (20 ms of CPU time per call)");
  pt_done(rt);
}

/* flyq.sha256 and hmac_sha256 of tens of MiB, one C call each, check the
 * limit as they hash (the watchdog's hook cannot fire inside a C call).
 * The string is made once, in the main chunk. */
TEST(hashing_megabytes_is_timed_as_it_goes) {
  flyq_plugins_t *rt;
  pt_write("hasher.lua",
           "local s = ('x'):rep(24 << 20)\n"
           "return { name = 'hasher', on_produce = function(r)\n"
           "  if r.key == 'sha' then for i = 1, 100 do flyq.sha256(s) end end\n"
           "  if r.key == 'hmac' then flyq.hmac_sha256('k', s .. s) end\n"
           "  assert(flyq.sha256('abc') == 'ba7816bf8f01cfea414140de5dae2223'\n"
           "                               .. 'b00361a396177a9cb410ff61f20015ad')\n"
           "  r.value = 'fine'\n"
           "  return r\n"
           "end }\n");
  rt = with_limits("hasher", "reject", "time_ms = 5, memory = '128MiB'");
  fails_then_works(rt, "sha", "plugin hasher: ",
                   "hasher.lua:3: time limit exceeded (5 ms of CPU time per call)");
  fails_then_works(rt, "hmac", "plugin hasher: ",
                   "hasher.lua:4: time limit exceeded (5 ms of CPU time per call)");
  CHECK_EQ(pt_stats(rt, "hasher")->errors, 2);
  pt_done(rt);
}

/* lua-cjson mallocs its text outside the memory cap, exits the process
 * past 2 GiB and decodes on the C stack: plugins get it with limits they
 * cannot lift. */
static const char *const cjson_lua =
    "return { name = 'cj', on_produce = function(r)\n"
    "  if r.key == 'big' then\n"
    "    local s = ('\\1'):rep(2 * 1024 * 1024)\n"
    "    cjson.encode({s, s, s, s})\n" /* 4 x 12 MiB of \u0001 > 8 MiB */
    "  elseif r.key == 'deep' then\n"
    "    cjson.new().decode_max_depth(1e6)\n"
    "  elseif r.key == 'deep2' then\n"
    "    cjson.encode_max_depth(1001)\n"
    "  elseif r.key == 'nested' then\n"
    "    cjson.decode(('['):rep(1e5) .. (']'):rep(1e5))\n"
    "  elseif r.key == 'wrap' then\n" /* lua-cjson keeps the low 32 bits */
    "    cjson.decode_max_depth(-4294967296 + 1000000) cjson.decode(('['):rep(9e5))\n"
    "  elseif r.key == 'wrap2' then\n"
    "    cjson.new().encode_max_depth(-4294967296 + 1000000)\n"
    "  elseif r.key == 'zero' then\n"
    "    cjson.decode_max_depth(0)\n"
    "  end\n"
    "  local j = cjson.new()\n"
    "  j.encode_keep_buffer(true)\n"
    "  j.decode_max_depth(10)\n"
    "  assert(j.encode_keep_buffer() == false)\n"
    "  assert(j.encode({a = 'x/y'}) == '{\"a\":\"x\\\\/y\"}')\n"
    "  r.value = 'fine'\n"
    "  return r\n"
    "end }\n";

TEST(cjson_cannot_crash_or_pass_the_memory_cap) {
  flyq_plugins_t *rt;
  pt_write("cj.lua", cjson_lua);
  rt = with_limits("cj", "reject", "time_ms = 2000, memory = '8MiB'");
  fails_then_works(rt, "big", "plugin cj: ", "cj.lua:4: cjson.encode: the "
                   "text would be larger than the memory limit (8 MiB)");
  fails_then_works(rt, "deep", "plugin cj: ", "cj.lua:6: cjson: a depth "
                   "must be an integer from 1 to 1000");
  fails_then_works(rt, "deep2", "plugin cj: ", "cj.lua:8: cjson: a depth "
                   "must be an integer from 1 to 1000");
  fails_then_works(rt, "nested", "plugin cj: ", "cj.lua:10: Found too many "
                   "nested data structures (1001)");
  fails_then_works(rt, "wrap", "plugin cj: ", "cj.lua:12: cjson: a depth "
                   "must be an integer from 1 to 1000");
  fails_then_works(rt, "wrap2", "plugin cj: ", "cj.lua:14: cjson: a depth "
                   "must be an integer from 1 to 1000");
  fails_then_works(rt, "zero", "plugin cj: ", "cj.lua:16: cjson: a depth "
                   "must be an integer from 1 to 1000");
  CHECK_EQ(pt_stats(rt, "cj")->errors, 7);
  pt_done(rt);
}

TEST(the_watchdog_timer_goes_with_the_last_state) {
  const char *ok_lua = "return { name = 'ok',\n"
                       "  on_produce = function(r) r.value = 'fine' return r end }\n";
  int before = timers_of_process();
  for (int round = 0; round < 2; round++) {
    flyq_plugins_t *rt;
    pt_write("ok.lua", ok_lua);
    rt = timed("ok", "reject");
    works(rt, "x");
    CHECK_EQ(timers_of_process(), before + 1);
    pt_done(rt);
    CHECK_EQ(timers_of_process(), before);
  }
}

/* The watchdog times each record's hook call, not the batch: a batch whose
 * hook calls each stay under the limit passes however long it takes, and
 * the record that loops is the one the error names. head declares the
 * hook (its one-parameter and two-parameter forms run different loops). */
static void times_each_call(const char *head) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[512], src[512];
  size_t len;
  const char *kv[] = {"slow", "1", "slow", "2", "slow", "3", "slow", "4",
                      "slow", "5", "slow", "6", "plain", "7"};
  uint8_t *buf = pt_batch(kv, 6, &len);
  snprintf(src, sizeof src,
           "return { name = 'slow', on_produce = %s\n"
           "  local t = os.clock()\n"
           "  while os.clock() - t < 0.008 do end\n"
           "  if r.key == 'plain' then while true do end end\n"
           "  return r\n"
           "end }\n", head);
  pt_write("slow.lua", src);
  rt = timed("slow", "reject");
  CHECK_OK(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out, err,
                                   sizeof err)); /* 6 x 8 ms > 20 ms */
  CHECK_EQ(out.unchanged, 1);
  CHECK_EQ(out.records_out, 6);
  flyq_plugins_output_free(&out);
  free(buf);
  buf = pt_batch(kv, 7, &len);
  CHECK_EQ(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out, err,
                                   sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "slow.lua:4: time limit exceeded");
  CHECK_HAS(err, "(on_produce, record 7)");
  free(buf);
  pt_done(rt);
}

TEST(the_watchdog_times_each_call) {
  times_each_call("function(r)");
  times_each_call("function(r, ctx)");
}

/* With on_error pass, the looping records fail and go on unchanged (not
 * as the hook left them), and the others are processed; want is the
 * limit's message. */
static void loops_pass(flyq_plugins_t *rt, const char *want) {
  flyq_plugins_output_t out;
  char err[512], v[64];
  size_t len;
  const char *kv[] = {"pcall", "a", "ok", "b", "plain", "c", "ok", "d"};
  uint8_t *buf = pt_batch(kv, 4, &len);
  CHECK_OK(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out, err,
                                   sizeof err));
  CHECK_EQ(out.failed, 2);
  CHECK_EQ(out.records_out, 4);
  {
    flyq_record_t rec;
    pt_record(out.batches[0].data, out.batches[0].len, 0, &rec);
    CHECK(pt_is(rec.value, rec.value_len, "a")); /* not "escaped" */
    pt_record(out.batches[0].data, out.batches[0].len, 3, &rec);
    CHECK(pt_is(rec.value, rec.value_len, "fine"));
  }
  flyq_plugins_output_free(&out);
  CHECK_HAS(pt_stats(rt, "loop")->last_error, want);
  CHECK_OK(one(rt, "ok", "v", &out, err, sizeof err));
  CHECK(strcmp(value_of(&out, v, sizeof v), "fine") == 0);
  free(buf);
  pt_done(rt);
}

TEST(endless_loops_are_aborted_with_on_error_pass) {
  pt_write("loop.lua", loop_lua);
  loops_pass(limited("loop", "pass"), "loop.lua:3: instruction limit exceeded");
}

TEST(the_watchdog_with_on_error_pass) {
  pt_write("loop.lua", loop_lua);
  loops_pass(timed("loop", "pass"), "loop.lua:3: time limit exceeded");
}

/* The limit breaker (FLYQ__LIMIT_TRIP): under on_error pass or
 * dead_letter, a request whose records all run into a limit (key bad:
 * "plain" loops, "bomb" allocates up to the cap) is cut short after three
 * of them: the hook runs on none of the rest, which fail with "not run"
 * and go on unchanged or to the dead letters (the last record, which
 * would have worked, included). Without the breaker the request would
 * hold the thread for N limits. The next request runs the hook again. */
static void cut_short_n(flyq_plugins_t *rt, const char *bad, int dead,
                        size_t N) {
  const char **kv = calloc(2 * (N + 1), sizeof *kv);
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[512], v[160];
  struct timespec t0;
  size_t len;
  uint8_t *buf;
  for (size_t i = 0; i < N; i++) kv[2 * i] = bad, kv[2 * i + 1] = "x";
  kv[2 * N] = "ok";
  kv[2 * N + 1] = "y";
  buf = pt_batch(kv, N + 1, &len);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_OK(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out, err,
                                   sizeof err));
  CHECK(seconds_since(&t0) < 1.0); /* 60 x 20 ms of CPU without the breaker */
  CHECK_EQ(out.failed, N + 1);
  CHECK_EQ(out.records_out, N + 1);
  CHECK_EQ(out.dead_letters, dead ? N + 1 : 0);
  if (dead) { /* all of them dead letters, the last one not run */
    CHECK_EQ(out.nbatches, 1);
    pt_record(out.batches[0].data, out.batches[0].len, N, &rec);
    CHECK(pt_is(rec.value, rec.value_len, "y"));
    CHECK_HAS(pt_header(&rec, "flyq.error", v, sizeof v),
              "not run: on_produce hit a plugin limit 3 times in this request");
  } else { /* all of them stored as they came, the last one not run */
    CHECK_EQ(out.unchanged, 1);
  }
  flyq_plugins_output_free(&out);
  CHECK_EQ(pt_stats(rt, "loop")->errors, N + 1);
  snprintf(v, sizeof v, "(on_produce, record %zu)", N + 1);
  CHECK_HAS(pt_stats(rt, "loop")->last_error, v);
  CHECK_OK(one(rt, "ok", "v", &out, err, sizeof err));
  CHECK(strcmp(value_of(&out, v, sizeof v), "fine") == 0);
  free(buf);
  free(kv);
  pt_done(rt);
}

static void cut_short(flyq_plugins_t *rt, const char *bad, int dead) {
  cut_short_n(rt, bad, dead, 60);
}

#define ROOMY "time_ms = 1000, memory = '8MiB'"

TEST(a_request_that_keeps_hitting_limits_is_cut_short) {
  pt_write("loop.lua", loop_lua);
  cut_short(timed("loop", "pass"), "plain", 0);
  cut_short(timed("loop", "dead_letter"), "plain", 1);
  cut_short(limited("loop", "pass"), "plain", 0);
  cut_short(limited("loop", "dead_letter"), "plain", 1);
  /* the memory cap (a time limit long enough that it strikes first) */
  cut_short(with_limits("loop", "pass", ROOMY), "bomb", 0);
  cut_short(limited("loop", "dead_letter"), "bomb", 1);
  /* past the fast loop's first chunk of 1024 records: a memory error
   * reruns its chunk one record at a time, and the breaker trips there */
  cut_short_n(with_limits("loop", "pass", ROOMY), "bomb", 0, 1100);
  cut_short_n(with_limits("loop", "dead_letter", ROOMY), "bomb", 1, 1100);
  /* a hook that catches the cap's error and raises its own still counts */
  cut_short(with_limits("loop", "pass", ROOMY), "rebomb", 0);
  cut_short(with_limits("loop", "dead_letter", ROOMY), "rebomb", 1);
}

/* A plugin that loops while it loads (its file's main chunk, or init)
 * fails to load, within the limit, instead of hanging the broker. */
TEST(loading_is_timed_too) {
  static const char *const files[][2] = {
      {"top", "while true do end\nreturn { name = 'top' }\n"},
      {"init", "return { name = 'init', on_produce = function(r) return r end,\n"
               "  init = function() while true do end end }\n"}};
  for (int i = 0; i < 2; i++) {
    char file[32], config[256];
    flyq_plugins_t *rt = NULL;
    struct timespec t0;
    snprintf(file, sizeof file, "%s.lua", files[i][0]);
    pt_write(file, files[i][1]);
    snprintf(config, sizeof config,
             "return { plugin_path = {DIR}, plugins = { limits = { time_ms = 20 } },\n"
             "  topics = { orders = { on_produce = '%s' } } }\n", files[i][0]);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(pt_runtime(config, &rt), FLYQ_ERR_PLUGIN);
    CHECK(seconds_since(&t0) < 5);
    CHECK_HAS(pt_err, "time limit exceeded (20 ms of CPU time per call)");
    CHECK(rt == NULL);
    flyq_config_free(&pt_cfg);
  }
}

/* The instruction budget of loading is the plugin's own code (its main
 * chunk, then init, each with a budget of its own), not FlyQ's check of
 * its params against its schema: the smallest limit (1000) loads a plugin
 * with a long schema, and still stops a chunk that spends more. */
TEST(checking_params_is_not_the_plugins_budget) {
  static const char *const chunks[] = {"", "for i = 1, 1000 do end\n"};
  for (int i = 0; i < 2; i++) {
    char text[2048], config[256];
    size_t n = (size_t)snprintf(text, sizeof text, "%sreturn { name = 'wide', schema = {\n",
                                chunks[i]);
    flyq_plugins_t *rt = NULL;
    for (int f = 0; f < 30; f++)
      n += (size_t)snprintf(text + n, sizeof text - n,
                            "  f%d = { type = 'string', default = 'x' },\n", f);
    snprintf(text + n, sizeof text - n,
             "}, init = function(params, ctx) ctx.state.n = 0\n"
             "  for i = 1, 100 do ctx.state.n = ctx.state.n + 1 end end,\n"
             "  on_produce = function(r) return r end }\n");
    pt_write("wide.lua", text);
    snprintf(config, sizeof config,
             "return { plugin_path = {DIR}, plugins = { limits = { instructions = 1000 } },\n"
             "  topics = { orders = { on_produce = 'wide' } } }\n");
    CHECK_EQ(pt_runtime(config, &rt), i == 0 ? 0 : FLYQ_ERR_PLUGIN);
    if (i == 1) CHECK_HAS(pt_err, "wide.lua:1: instruction limit exceeded (1000 instructions)");
    flyq_plugins_free(rt);
    flyq_config_free(&pt_cfg);
  }
}

/* A call that failed at the memory cap leaves no garbage that makes the
 * next calls fail: string buffers (string.rep) get no emergency
 * collection from Lua, so the host collects after such a failure. */
TEST(the_memory_cap_frees_what_a_failed_call_left) {
  flyq_plugins_t *rt;
  pt_write("hog2.lua",
           "return { name = 'hog2', on_produce = function(r)\n"
           "  if r.key == 'hog' then\n"
           "    local t = {}\n"
           "    for i = 1, 1e9 do t[i] = string.rep('x', 65536) .. i end\n"
           "  end\n"
           "  local s = string.rep('y', 4 << 20)\n"
           "  r.value = 'fine'\n"
           "  return r\n"
           "end }\n");
  rt = pt_open("return { plugin_path = {DIR},\n"
               "  plugins = { limits = { time_ms = 10000, memory = '16MiB' } },\n"
               "  topics = { orders = { on_produce = 'hog2' } } }\n");
  works(rt, "big");
  for (int round = 0; round < 3; round++)
    fails_then_works(rt, "hog", "plugin hog2: ", "memory limit exceeded (16 MiB)");
  CHECK(pt_stats(rt, "hog2")->memory_bytes < 8u << 20);
  pt_done(rt);
}

/* A plugin whose live data fills over half its memory cap meets the cap
 * in normal work, and Lua's emergency collection makes that good: those
 * refusals are not memory errors, and ordinary errors of such a plugin
 * do not trip the limit breaker (the records after three of them run). */
TEST(a_plugin_near_its_cap_fails_records_one_by_one) {
  const char *kv[] = {"bad", "x", "bad", "x", "bad", "x", "ok", "y", "ok", "y"};
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[512];
  size_t len;
  uint8_t *buf = pt_batch(kv, 5, &len);
  flyq_plugins_t *rt;
  pt_write("near.lua",
           "local keep = {}\n"
           "return { name = 'near',\n"
           "  init = function()\n"
           "    for i = 1, 5000 do keep[i] = ('k'):rep(1000) .. i end\n"
           "  end,\n"
           "  on_produce = function(r)\n"
           "    for n = 1, 400 do local t = {} for j = 1, 1000 do t[j] = j end end\n"
           "    if r.key == 'bad' then error('bad record', 0) end\n"
           "    r.value = 'fine'\n"
           "    return r\n"
           "  end }\n");
  rt = with_limits("near", "pass", "time_ms = 2000, memory = '8MiB'");
  CHECK_OK(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out, err,
                                   sizeof err));
  CHECK_EQ(out.failed, 3);
  CHECK_EQ(out.records_out, 5);
  for (size_t i = 3; i < 5; i++) {
    pt_record(out.batches[0].data, out.batches[0].len, i, &rec);
    CHECK(pt_is(rec.value, rec.value_len, "fine"));
  }
  CHECK_HAS(pt_stats(rt, "near")->last_error, "bad record");
  flyq_plugins_output_free(&out);
  free(buf);
  pt_done(rt);
}

/* A batch of n records ("k", "v"), on orders: each must come out "fine". */
static void all_fine(flyq_plugins_t *rt, size_t n) {
  const char **kv = calloc(2 * n, sizeof *kv);
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[512];
  size_t len;
  uint8_t *buf;
  for (size_t i = 0; i < n; i++) kv[2 * i] = "k", kv[2 * i + 1] = "v";
  buf = pt_batch(kv, n, &len);
  CHECK_OK(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out, err,
                                   sizeof err));
  CHECK_EQ(out.failed, 0);
  CHECK_EQ(out.records_out, n);
  pt_record(out.batches[0].data, out.batches[0].len, n - 1, &rec);
  CHECK(pt_is(rec.value, rec.value_len, "fine"));
  flyq_plugins_output_free(&out);
  free(buf);
  free(kv);
}

/* A plugin that meets its memory cap while the runtime fills its proxy
 * ring (at the first record it sees) works once it has room again: the
 * ring is not left half made, to fail records when it wraps round. The
 * plugin fills its state up to the cap and lets go of `drop` small
 * strings; over the sweep of drop, the first request meets the cap at
 * various points (before the ring, inside it, after it). Its authorize
 * hook, in the same instance, then lets go of the rest. */
TEST(a_plugin_at_its_cap_before_its_first_record_recovers) {
  int capped = 0;
  pt_write("squeeze.lua",
           "local pad = {}\n"
           "return { name = 'squeeze',\n"
           "  init = function(params)\n"
           "    pcall(function()\n"
           "      while true do pad[#pad + 1] = ('x'):rep(100) .. #pad end\n"
           "    end)\n"
           "    for i = 1, params.drop do pad[#pad] = nil end\n"
           "  end,\n"
           "  authorize = function() pad = nil return true end,\n"
           "  on_produce = function(r) r.value = 'fine' return r end }\n");
  for (int drop = 200; drop <= 1000; drop += 40) {
    flyq_plugins_output_t out;
    char config[512], err[512], v[64];
    flyq_plugins_t *rt;
    int rc;
    snprintf(config, sizeof config,
             "local sq = { plugin = 'squeeze', params = { drop = %d } }\n"
             "return { plugin_path = {DIR}, auth = sq,\n"
             "  plugins = { limits = { time_ms = 1000, memory = '4MiB' } },\n"
             "  topics = { orders = { on_produce = { sq } } } }\n", drop);
    rt = pt_open(config);
    rc = one(rt, "a", "v", &out, err, sizeof err);
    if (rc == 0) {
      CHECK(strcmp(value_of(&out, v, sizeof v), "fine") == 0);
    } else {
      CHECK_EQ(rc, FLYQ_ERR_PLUGIN);
      CHECK_HAS(err, "memory limit exceeded (4 MiB)");
      capped++;
    }
    CHECK_OK(flyq_plugins_authorize(rt, "alice", "produce", "topic:orders"));
    all_fine(rt, 5000); /* more than the ring's 4096 slots */
    pt_done(rt);
  }
  CHECK(capped > 0);
}

TEST(memory_bombs_fail_without_killing_the_process) {
  flyq_plugins_t *rt;
  pt_write("bomb.lua",
           "return { name = 'bomb', on_produce = function(r, ctx)\n"
           "  if r.key == 'rep' then local s = string.rep('x', 1 << 26) end\n"
           "  if r.key == 'table' then\n"
           "    local t = {}\n"
           "    for i = 1, 1e9 do t[i] = i end\n"
           "  end\n"
           "  if r.key == 'state' then\n"
           "    ctx.state.t = {}\n"
           "    for i = 1, 1e9 do ctx.state.t[i] = ('x'):rep(100) .. i end\n"
           "  end\n"
           "  ctx.state.t = nil\n"
           "  r.value = 'fine'\n"
           "  return r\n"
           "end }\n");
  rt = pt_open("return { plugin_path = {DIR},\n"
               "  plugins = { limits = { instructions = 100000000,\n"
               "                         time_ms = 10000, memory = '4MiB' } },\n"
               "  topics = { orders = { on_produce = 'bomb' } } }\n");
  fails_then_works(rt, "rep", "plugin bomb: ", "memory limit exceeded (4 MiB)");
  fails_then_works(rt, "table", "plugin bomb: ", "memory limit exceeded (4 MiB)");
  fails_then_works(rt, "state", "plugin bomb: ", "memory limit exceeded (4 MiB)");
  CHECK(pt_stats(rt, "bomb")->memory_bytes < 4u << 20);
  pt_done(rt);
}

TEST(coroutine_abuse_fails_cleanly) {
  flyq_plugins_t *rt;
  pt_write("co.lua",
           "return { name = 'co', on_produce = function(r, ctx)\n"
           "  if r.key == 'many' then\n"
           "    local t = {}\n"
           "    while true do t[#t + 1] = coroutine.create(function() end) end\n"
           "  elseif r.key == 'yield' then\n"
           "    coroutine.yield(r)\n"
           "  elseif r.key == 'inside' then\n"
           "    coroutine.wrap(function() while true do end end)()\n"
           "  elseif r.key == 'kept' then\n"
           "    ctx.state.co = coroutine.wrap(function()\n"
           "      coroutine.yield(1)\n"
           "      while true do end\n"
           "    end)\n"
           "    ctx.state.co()\n"
           "    return r\n"
           "  elseif r.key == 'resume' then\n"
           "    ctx.state.co()\n"
           "  elseif r.key == 'reps' then\n"
           "    coroutine.wrap(function()\n"
           "      while true do local s = ('x'):rep(2000000) end\n"
           "    end)()\n"
           "  elseif r.key == 'swallow' then\n" /* resume returns false... */
           "    local co = coroutine.create(function() while true do end end)\n"
           "    r.value = tostring(coroutine.resume(co))\n"
           "    return r\n"                     /* ...the hook still fails */
           "  elseif r.key == 'nested' then\n"
           "    local function deep(n)\n"
           "      return coroutine.wrap(function() return deep(n + 1) end)()\n"
           "    end\n"
           "    deep(1)\n"
           "  end\n"
           "  r.value = 'fine'\n"
           "  return r\n"
           "end }\n");
  rt = limited("co", "reject");
  fails_then_works(rt, "many", "plugin co: ", "limit exceeded");
  fails_then_works(rt, "yield", "plugin co: ", "attempt to yield");
  fails_then_works(rt, "inside", "plugin co: ", "co.lua:8: instruction limit");
  works(rt, "kept");
  fails_then_works(rt, "resume", "plugin co: ", "co.lua:12: instruction limit");
  fails_then_works(rt, "nested", "plugin co: ", "co.lua:");
  pt_done(rt);
  /* The watchdog reaches into coroutines too. */
  rt = timed("co", "reject");
  fails_then_works(rt, "inside", "plugin co: ", "co.lua:8: time limit");
  works(rt, "kept");
  fails_then_works(rt, "resume", "plugin co: ", "co.lua:12: time limit");
  fails_then_works(rt, "swallow", "plugin co: ", "time limit exceeded");
  { /* a loop of long C calls in a coroutine stops about as soon as on the
       main thread, not after a thousand of them */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fails_then_works(rt, "reps", "plugin co: ", "time limit exceeded");
    CHECK(seconds_since(&t0) < 0.5);
  }
  pt_done(rt);
}

TEST(the_sandbox_has_no_way_out) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[512], v[1024];
  pt_write("escape.lua",
           "local function try(f, ...)\n"
           "  local ok, e = pcall(f, ...)\n"
           "  return ok and 'OPEN' or 'closed'\n"
           "end\n"
           "return { name = 'escape',\n"
           "  init = function() string.format = nil end,\n"
           "  on_produce = function(r)\n"
           "    if r.key == 'bad' then return 42 end\n"
           "    local seen = {\n"
           "      type(io), type(os.execute), type(os.exit), type(os.getenv),\n"
           "      type(os.clock), type(os.time), type(debug), type(dofile),\n"
           "      type(loadfile), type(package), type(string.dump),\n"
           "      type(getmetatable), type(setmetatable), type(collectgarbage),\n"
           "      type(('').dump), type(rawget(_G, 'require')),\n"
           "      try(require, 'os'), try(require, 'io'), try(require, 'flyq.runtime'),\n"
           "      try(require, 'cjson.safe'), type(require('cjson')),\n"
           "      tostring(load('\\27Lua\\84\\0') == nil),\n"
           "      tostring(load('\\27Lua', 'x', 'b') == nil),\n"
           "      try(function() ('x').upper = nil end),\n"
           "      tostring(('abc'):upper()),\n"
           "      try(function() return r.nosuchfield end),\n"
           "      try(function() r.nosuchfield = 1 end),\n"
           "    }\n"
           "    r.value = table.concat(seen, ' ')\n"
           "    return r\n"
           "  end }\n");
  rt = limited("escape", "reject");
  CHECK_OK(one(rt, "k", "v", &out, err, sizeof err));
  CHECK_STR(value_of(&out, v, sizeof v),
            "nil nil nil nil function function nil nil nil nil nil nil nil "
            "nil nil function closed closed closed closed table true true "
            "closed ABC OPEN closed");
  /* string.format = nil in init did not break the driver's messages */
  CHECK_EQ(one(rt, "bad", "v", &out, err, sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "plugin escape: returned 42 (expected the record, nil, a new "
                 "record or a list of records) (on_produce, record 1)");
  pt_done(rt);
}

TEST(the_flyq_api_and_cjson) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[512], v[1024];
  const flyq_plugin_stats_t *st;
  int64_t before = flyq_now_ms(), now;
  pt_write("api.lua",
           "return { name = 'api', on_produce = function(r)\n"
           "  flyq.counter('seen')\n"
           "  flyq.counter('bytes', #r.value)\n"
           "  flyq.log('debug', 'hello from a plugin')\n"
           "  print('print', 'goes to the log')\n"
           "  local doc = cjson.decode('{\"n\": [1, 2, 3], \"s\": \"x\"}')\n"
           "  r.value = table.concat({\n"
           "    flyq.sha256('abc'),\n"
           "    flyq.hmac_sha256('Jefe', 'what do ya want for nothing?'),\n"
           "    tostring(flyq.constant_time_eq('secret', 'secret')),\n"
           "    tostring(flyq.constant_time_eq('secret', 'secreT')),\n"
           "    tostring(flyq.constant_time_eq('secret', 'secrets')),\n"
           "    tostring(#doc.n), require('cjson').encode({ doc.s }),\n"
           "    tostring(pcall(function() return cjson.null.key end)),\n"
           "    tostring(cjson.decode('[null]')[1] == cjson.null),\n"
           "    tostring(flyq.now_ms()),\n"
           "  }, ' ')\n"
           "  return r\n"
           "end }\n");
  rt = limited("api", "reject");
  CHECK_OK(one(rt, "k", "value", &out, err, sizeof err));
  flyq_plugins_output_free(&out);
  CHECK_OK(one(rt, "k", "xy", &out, err, sizeof err));
  value_of(&out, v, sizeof v);
  CHECK_HAS(v, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad "
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 "
               "true false false 3 [\"x\"] false true ");
  now = strtoll(strrchr(v, ' ') + 1, NULL, 10);
  CHECK(now >= before && now <= flyq_now_ms());
  st = pt_stats(rt, "api");
  CHECK_EQ(st->ncounters, 2);
  CHECK(strcmp(st->counters[0].name, "seen") == 0);
  CHECK_EQ(st->counters[0].value, 2);
  CHECK(strcmp(st->counters[1].name, "bytes") == 0);
  CHECK_EQ(st->counters[1].value, 7);
  pt_done(rt);
}

TEST_LIST(TEST_ENTRY(endless_loops_are_aborted)
          TEST_ENTRY(library_calls_cannot_run_unbounded)
          TEST_ENTRY(cjson_cannot_crash_or_pass_the_memory_cap)
          TEST_ENTRY(the_watchdog_aborts_endless_loops)
          TEST_ENTRY(the_watchdog_times_each_call)
          TEST_ENTRY(the_watchdog_timer_goes_with_the_last_state)
          TEST_ENTRY(the_watchdog_with_on_error_pass)
          TEST_ENTRY(loading_is_timed_too)
          TEST_ENTRY(checking_params_is_not_the_plugins_budget)
          TEST_ENTRY(hashing_megabytes_is_timed_as_it_goes)
          TEST_ENTRY(a_loaded_chunk_cannot_pass_for_flyqs_own)
          TEST_ENTRY(endless_loops_are_aborted_with_on_error_pass)
          TEST_ENTRY(a_request_that_keeps_hitting_limits_is_cut_short)
          TEST_ENTRY(a_plugin_at_its_cap_before_its_first_record_recovers)
          TEST_ENTRY(a_plugin_near_its_cap_fails_records_one_by_one)
          TEST_ENTRY(memory_bombs_fail_without_killing_the_process)
          TEST_ENTRY(the_memory_cap_frees_what_a_failed_call_left)
          TEST_ENTRY(coroutine_abuse_fails_cleanly)
          TEST_ENTRY(the_sandbox_has_no_way_out)
          TEST_ENTRY(the_flyq_api_and_cjson));
