/* The driver's fast loop (lua/flyq/runtime.lua, src/host/plugin_host.c):
 * records whose hooks return them make no C call and are settled later,
 * in chunks of proxies. These tests run batches larger than a chunk
 * through hooks that mix every kind of answer, and check that the output
 * is, record for record, what the hooks asked for.
 */
#include "flyq/common.h"
#include "test-host-plugin.h"

#define N 10000 /* more than two rings of 4096 slots, in chunks of 128 */

static uint8_t *numbered(size_t n, size_t *len) {
  static char keys[N][24];
  static const char *kv[2 * N];
  for (size_t i = 0; i < n; i++) {
    snprintf(keys[i], sizeof keys[i], "%zu", i + 1);
    kv[2 * i] = keys[i];
    kv[2 * i + 1] = keys[i];
  }
  return pt_batch(kv, n, len);
}

static flyq_plugins_t *open_chain(const char *chain) {
  char config[512];
  snprintf(config, sizeof config,
           "return { plugin_path = {DIR},\n"
           "  topics = { t = { on_produce = { %s } } } }\n", chain);
  return pt_open(config);
}

static void run(flyq_plugins_t *rt, const uint8_t *buf, size_t len,
                flyq_plugins_output_t *out) {
  char err[512];
  CHECK_OK(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, out, err,
                                   sizeof err));
}

static const char mix_lua[] =
    "return { name = 'mix', on_produce = function(r)\n"
    "  local i = tonumber(r.key)\n"
    "  if i % 7 == 0 then return nil end\n"
    "  if i % 11 == 0 then r.value = 'changed' .. i; return r end\n"
    "  if i % 13 == 0 then return { r, { key = 'extra', value = 'x' .. i } } end\n"
    "  if i % 17 == 0 then return { key = 'new', value = 'n' .. i } end\n"
    "  return r\n"
    "end }\n";

/* What mix makes of record i (1-based): the values, in order, into v. */
static int mix_expect(size_t i, char v[2][32]) {
  if (i % 7 == 0) return 0;
  if (i % 11 == 0) return snprintf(v[0], 32, "changed%zu", i), 1;
  if (i % 13 == 0) {
    snprintf(v[0], 32, "%zu", i);
    snprintf(v[1], 32, "x%zu", i);
    return 2;
  }
  if (i % 17 == 0) return snprintf(v[0], 32, "n%zu", i), 1;
  return snprintf(v[0], 32, "%zu", i), 1;
}

TEST(every_kind_of_answer_across_chunks) {
  size_t len, k = 0, dropped = 0;
  uint8_t *buf = numbered(N, &len);
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  pt_write("mix.lua", mix_lua);
  rt = open_chain("'mix'");
  run(rt, buf, len, &out);
  CHECK_EQ(out.unchanged, 0);
  CHECK_EQ(out.nbatches, 1);
  for (size_t i = 1; i <= N; i++) {
    char v[2][32];
    int n = mix_expect(i, v);
    dropped += n == 0;
    for (int j = 0; j < n; j++, k++) {
      flyq_record_t rec;
      pt_record(out.batches[0].data, out.batches[0].len, k, &rec);
      if (!pt_is(rec.value, rec.value_len, v[j]))
        flyq_test_fail(__FILE__, __LINE__, "output %zu (input %zu): %.*s, "
                       "want %s", k, i, (int)rec.value_len,
                       (const char *)rec.value, v[j]);
    }
  }
  CHECK_EQ(pt_count(out.batches[0].data, out.batches[0].len), k);
  CHECK_EQ(out.records_out, k);
  CHECK_EQ(out.dropped, dropped);
  flyq_plugins_output_free(&out);
  free(buf);
  pt_done(rt);
}

/* A hook that returns its record or nothing (drops, changes in place):
 * chunk runners call it on whole slices of 128 records and on a chunk of
 * 16 at the end; the output is the same as the loop's, which on_error =
 * pass keeps to. */
static const char keep_lua[] =
    "return { name = 'keep', on_produce = function(r)\n"
    "  local i = tonumber(r.key)\n"
    "  if i % 7 == 0 then return nil end\n"
    "  if i % 11 == 0 then r.value = 'changed' .. i end\n"
    "  if i % 500 == 0 then return end\n"
    "  return r\n"
    "end }\n";

static void check_kept(const flyq_plugins_output_t *out, size_t n) {
  size_t k = 0;
  for (size_t i = 1; i <= n; i++) {
    char v[32];
    flyq_record_t rec;
    if (i % 7 == 0 || i % 500 == 0) continue;
    snprintf(v, sizeof v, i % 11 == 0 ? "changed%zu" : "%zu", i);
    pt_record(out->batches[0].data, out->batches[0].len, k++, &rec);
    if (!pt_is(rec.value, rec.value_len, v))
      flyq_test_fail(__FILE__, __LINE__, "output %zu (input %zu): %.*s, "
                     "want %s", k - 1, i, (int)rec.value_len,
                     (const char *)rec.value, v);
  }
  CHECK_EQ(out->records_out, k);
  CHECK_EQ(out->dropped, n - k);
}

TEST(a_hook_that_returns_its_record_runs_in_chunks) {
  const char *on_error[] = {"reject", "pass"};
  size_t len;
  uint8_t *buf = numbered(N, &len);
  pt_write("keep.lua", keep_lua);
  for (int e = 0; e < 2; e++) {
    flyq_plugins_output_t out;
    char config[256];
    flyq_plugins_t *rt;
    snprintf(config, sizeof config,
             "return { plugin_path = {DIR},\n"
             "  topics = { t = { on_produce = 'keep', on_error = '%s' } } }\n",
             on_error[e]);
    rt = pt_open(config);
    run(rt, buf, len, &out);
    check_kept(&out, N);
    /* 78 whole slices, then a chunk of 16; none under pass */
    CHECK_EQ(pt_stats(rt, "keep")->chunked_calls, e == 0 ? N : 0);
    CHECK_EQ(pt_stats(rt, "keep")->calls, N);
    flyq_plugins_output_free(&out);
    pt_done(rt);
  }
  free(buf);
}

/* In a chunk, each record's hook call is timed alone, as in the loop: 300
 * calls of 1 ms pass a limit of 20 ms; a call that does not end fails at
 * its record and line. */
TEST(a_chunk_times_each_record_alone) {
  size_t len;
  uint8_t *buf = numbered(300, &len);
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  char err[512];
  pt_write("slow.lua", "return { name = 'slow', on_produce = function(r)\n"
           "  local t = os.clock()\n"
           "  while os.clock() - t < 0.001 do end\n"
           "  if r.key == '250' and r.value == 'stop' then while true do end end\n"
           "  return r end }\n");
  rt = pt_open("return { plugin_path = {DIR},\n"
               "  plugins = { limits = { time_ms = 20 } },\n"
               "  topics = { t = { on_produce = 'slow' } } }\n");
  run(rt, buf, len, &out);
  CHECK_EQ(out.unchanged, 1);
  CHECK_EQ(pt_stats(rt, "slow")->chunked_calls, 256 + 32 + 8); /* 4 in the loop */
  flyq_plugins_output_free(&out);
  free(buf);
  {
    static char keys[300][8];
    static const char *kv[600];
    for (int i = 0; i < 300; i++) {
      snprintf(keys[i], sizeof keys[i], "%d", i + 1);
      kv[2 * i] = keys[i];
      kv[2 * i + 1] = i == 249 ? "stop" : "go";
    }
    buf = pt_batch(kv, 300, &len);
  }
  CHECK_EQ(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                   sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "slow.lua:4: time limit exceeded");
  CHECK_HAS(err, "(on_produce, record 250)");
  free(buf);
  pt_done(rt);
}

TEST(untouched_records_keep_the_bytes) {
  size_t len;
  uint8_t *buf = numbered(N, &len);
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  pt_write("same.lua", "return { name = 'same', on_produce = function(r)\n"
                       "  return r end }\n");
  pt_write("peek.lua", "return { name = 'peek', on_produce = function(r)\n"
                       "  if r.headers.h == 'nope' then return nil end\n"
                       "  return r end }\n");
  rt = open_chain("'same', 'peek', 'same'");
  run(rt, buf, len, &out);
  CHECK_EQ(out.unchanged, 1);
  CHECK_EQ(out.validated, 1);
  CHECK_EQ(out.records_out, N);
  CHECK_EQ(out.dropped, 0);
  CHECK_EQ(pt_stats(rt, "peek")->headers_pushed, N);
  flyq_plugins_output_free(&out);
  free(buf);
  pt_done(rt);
}

/* A record changed in place and returned is no longer "unchanged". */
TEST(a_record_changed_in_place) {
  size_t len;
  uint8_t *buf = numbered(N, &len);
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  flyq_record_t rec;
  pt_write("one.lua", "return { name = 'one', on_produce = function(r)\n"
                      "  if r.key == '1500' then r.value = 'x' end\n"
                      "  return r end }\n");
  rt = open_chain("'one'");
  run(rt, buf, len, &out);
  CHECK_EQ(out.unchanged, 0);
  CHECK_EQ(out.records_out, N);
  pt_record(out.batches[0].data, out.batches[0].len, 1499, &rec);
  CHECK(pt_is(rec.value, rec.value_len, "x"));
  pt_record(out.batches[0].data, out.batches[0].len, 1500, &rec);
  CHECK(pt_is(rec.value, rec.value_len, "1501"));
  flyq_plugins_output_free(&out);
  free(buf);
  pt_done(rt);
}

/* The hook's head and first line for each way of declaring its
 * parameters: a hook of one parameter runs in its own copy of the fast
 * loop (the call leaves ctx out), the others get ctx. */
static const char *const heads[][2] = {
    {"function(r)", "local ctx = nil"},
    {"function(r, ctx)", "assert(ctx.topic == 't')"},
    {"function(r, ctx, more)", "assert(ctx.topic == 't' and more == nil)"},
    {"function(...)", "local r, ctx = ...; "
                      "assert(select('#', ...) == 2 and ctx.topic == 't')"},
};

/* Whichever record of a chunk fails (its first, one inside, its last;
 * chunk runners for the heads that return their record), the error names
 * it. */
TEST(an_error_names_its_record) {
  static const char *const at[] = {"2049", "2100", "2176"};
  size_t len;
  uint8_t *buf = numbered(N, &len);
  for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
    for (size_t a = 0; a < sizeof at / sizeof at[0]; a++) {
      flyq_plugins_output_t out;
      flyq_plugins_t *rt;
      char err[512], src[512], want[128];
      snprintf(src, sizeof src, "return { name = 'boom', on_produce = %s %s\n"
               "  if r.key == '%s' then error('boom') end\n"
               "  return r end }\n", heads[h][0], heads[h][1], at[a]);
      pt_write("boom.lua", src);
      rt = open_chain("'boom'"); /* the records before pass the asserts */
      CHECK_EQ(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                       sizeof err), FLYQ_ERR_PLUGIN);
      snprintf(want, sizeof want, "boom.lua:2: boom (on_produce, record %s)",
               at[a]);
      CHECK_HAS(err, want);
      CHECK_EQ(pt_stats(rt, "boom")->calls, (uint64_t)atoi(at[a]));
      if (h < 2) /* function(r) and function(r, ctx): runners */
        CHECK_EQ(pt_stats(rt, "boom")->chunked_calls, 2048);
      pt_done(rt);
    }
  }
  free(buf);
}

/* An error deep inside a hook (past the 64 innermost levels the message
 * handler looks at first, or a Lua stack overflow) names its record too,
 * in a chunk runner as in the loop: records 1 and 128 of a slice, 200 of
 * the second one, 260 of the chunk of 32 after them, 290 of the chunk of
 * 8 after that, 300 of the 4 in the loop at the end. */
TEST(an_error_deep_in_a_hook_names_its_record) {
  static const char *const at[] = {"1", "128", "200", "260", "290", "300"};
  static const char *const how[][2] = {
      {"down(100)", "deep.lua:1: boom"},
      {"down(-1)", "deep.lua:1: stack overflow"}};
  size_t len;
  uint8_t *buf = numbered(300, &len);
  for (size_t h = 0; h < sizeof how / sizeof how[0]; h++) {
    for (size_t a = 0; a < sizeof at / sizeof at[0]; a++) {
      flyq_plugins_output_t out;
      flyq_plugins_t *rt;
      char err[512], src[512], want[128];
      snprintf(src, sizeof src,
               "local function down(n) if n == 0 then error('boom') end "
               "return 1 + down(n - 1) end\n"
               "return { name = 'deep', on_produce = function(r)\n"
               "  if r.key == '%s' then %s end\n"
               "  return r end }\n", at[a], how[h][0]);
      pt_write("deep.lua", src);
      rt = pt_open("return { plugin_path = {DIR},\n"
                   "  plugins = { limits = { time_ms = 2000 } },\n"
                   "  topics = { t = { on_produce = 'deep' } } }\n");
      CHECK_EQ(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                       sizeof err), FLYQ_ERR_PLUGIN);
      CHECK_HAS(err, how[h][1]);
      snprintf(want, sizeof want, "(on_produce, record %s)", at[a]);
      CHECK_HAS(err, want);
      CHECK_EQ(pt_stats(rt, "deep")->calls, (uint64_t)atoi(at[a]));
      pt_done(rt);
    }
  }
  free(buf);
}

/* A chunk runner is made at its first use, and its frame needs room on
 * the Lua stack; a plugin too near its memory cap for either runs the
 * chunk in the loop, as it runs the last few records of a batch. The
 * plugin fills its state up to the cap, then frees `room` pieces of about
 * 1 KiB: with the least room in which a batch of `base` records passes,
 * and a little more, the batches of `sizes` records pass too: 127 (in
 * chunks of 64 .. 8 where their runners fit) then 128 (a whole slice);
 * 7 (the loop only) then 8, 16 and 24 (the small runners). */
static int near_cap_run(const char *hook, size_t room, size_t n) {
  char src[1024], err[512];
  size_t len;
  uint8_t *buf = numbered(n, &len);
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  int rc;
  snprintf(src, sizeof src,
           "local keep\n"
           "local function grow(n) keep = { next = keep, s = ('x'):rep(1000) .. n } end\n"
           "return { name = 'full', init = function()\n"
           "  local n = 0\n"
           "  while pcall(grow, n) do n = n + 1 end\n"
           "  for i = 1, %zu do keep = keep.next end\n"
           "end, on_produce = %s }\n", room, hook);
  pt_write("full.lua", src);
  rt = pt_open("return { plugin_path = {DIR},\n"
               "  plugins = { limits = { memory = '4MiB', time_ms = 5000 } },\n"
               "  topics = { t = { on_produce = 'full' } } }\n");
  rc = flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                               sizeof err);
  if (rc == 0) flyq_plugins_output_free(&out);
  free(buf);
  pt_done(rt);
  return rc;
}

static void passes_near_cap(const char *hook, size_t base,
                            const size_t *sizes, size_t nsizes) {
  size_t room = 8;
  while (room < 512 && near_cap_run(hook, room, base) != 0) room += 2;
  CHECK(room < 512);
  for (size_t more = 0; more <= 32; more += 2)
    for (size_t i = 0; i < nsizes; i++)
      if (near_cap_run(hook, room + more, sizes[i]) != 0)
        flyq_test_fail(__FILE__, __LINE__, "%s: %zu records fail with room "
                       "%zu (%zu pass with %zu)", hook, sizes[i], room + more,
                       base, room);
}

TEST(a_plugin_near_its_memory_cap_runs_a_slice_in_the_loop) {
  static const char *const hooks[] = {
      "function(r) return r end",
      "function(r, ctx) return r end",
      "function(r) if r.timestamp % 7 == 0 then return nil end return r end"};
  static const size_t slice[] = {128}, small[] = {8, 16, 24};
  for (size_t h = 0; h < sizeof hooks / sizeof hooks[0]; h++) {
    passes_near_cap(hooks[h], 127, slice, 1);
    passes_near_cap(hooks[h], 7, small, 3);
  }
}

/* A record kept from earlier in a batch stays that record while the batch
 * has at most 4096 records (docs/plugins.md), though the chunks at its end
 * each start a slice of their own: the ring does not come round onto the
 * batch's own slots. Beyond 4096, it may read as a later record. */
TEST(a_record_kept_within_a_batch_stays_itself) {
  static const size_t sizes[] = {3900, 4000, 4090, 4096};
  pt_write("first.lua", "local first\n"
           "return { name = 'first', on_produce = function(r)\n"
           "  if r.key == '1' then first = r end\n"
           "  if first.key ~= '1' then error('first reads as ' .. first.key) end\n"
           "  return r end }\n");
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t len;
    uint8_t *buf = numbered(sizes[i], &len);
    flyq_plugins_t *rt = open_chain("'first'");
    flyq_plugins_output_t out;
    run(rt, buf, len, &out); /* once with the ring fresh, once not */
    flyq_plugins_output_free(&out);
    run(rt, buf, len, &out);
    CHECK(out.unchanged);
    CHECK(pt_stats(rt, "first")->chunked_calls > 2 * (sizes[i] - 128));
    flyq_plugins_output_free(&out);
    free(buf);
    pt_done(rt);
  }
}

/* A record kept past its call fails when used, in the next batch. */
TEST(a_kept_record_is_dead) {
  size_t len;
  uint8_t *buf = numbered(3, &len);
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  char err[512];
  pt_write("keep.lua", "return { name = 'keep', on_produce = function(r, ctx)\n"
                       "  if r.key ~= '1' then return r end\n"
                       "  if ctx.state.old then r.value = ctx.state.old.key end\n"
                       "  ctx.state.old = r\n"
                       "  return r end }\n");
  rt = open_chain("'keep'");
  run(rt, buf, len, &out);
  flyq_plugins_output_free(&out);
  CHECK_EQ(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                   sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "record used after the call that received it ended");
  free(buf);
  pt_done(rt);
}

/* A plugin that passes everything on (same), between two that do not,
 * must not make the third read and write the same stage buffer. */
TEST(a_chain_with_a_pass_through_in_the_middle) {
  size_t len, n = 300;
  uint8_t *buf = numbered(n, &len);
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  pt_write("chg.lua", "return { name = 'chg', on_produce = function(r)\n"
                      "  r.value = 'c' .. r.value; return r end }\n");
  pt_write("same.lua", "return { name = 'same', on_produce = function(r)\n"
                       "  return r end }\n");
  pt_write("fan.lua", "return { name = 'fan', on_produce = function(r)\n"
                      "  return { r, { key = 'x', value = 'x' .. r.key } } end }\n");
  rt = open_chain("'chg', 'same', 'fan'");
  run(rt, buf, len, &out);
  CHECK_EQ(out.records_out, 2 * n);
  for (size_t i = 0; i < 2 * n; i++) {
    flyq_record_t rec;
    char want[32];
    snprintf(want, sizeof want, i % 2 ? "x%zu" : "c%zu", i / 2 + 1);
    pt_record(out.batches[0].data, out.batches[0].len, i, &rec);
    if (!pt_is(rec.value, rec.value_len, want))
      flyq_test_fail(__FILE__, __LINE__, "output %zu: %.*s, want %s", i,
                     (int)rec.value_len, (const char *)rec.value, want);
  }
  flyq_plugins_output_free(&out);
  free(buf);
  pt_done(rt);
}

/* An error that shows when a kept record is settled (a bad topic assigned
 * in place) names that record, not the one whose answer settled it. */
/* A kept record that cannot be stored fails when it is passed on, at the
 * next answer that is not a record (3's nil): the error names it, and the
 * calls are those that ran: up to 3 in the loop (a vararg hook), the
 * whole slice in a chunk runner. */
TEST(a_settling_error_names_its_record) {
  static const char *const heads[] = {"function(r)", "function(r, ...)"};
  static const uint64_t calls[] = {128, 3};
  size_t len;
  uint8_t *buf = numbered(300, &len);
  for (int h = 0; h < 2; h++) {
    flyq_plugins_output_t out;
    char err[512], src[512];
    flyq_plugins_t *rt;
    snprintf(src, sizeof src, "return { name = 'bad', on_produce = %s\n"
             "  if r.key == '1' then r.topic = 'no good!' end\n"
             "  if r.key == '3' then return nil end\n"
             "  return r end }\n", heads[h]);
    pt_write("bad.lua", src);
    rt = open_chain("'bad'");
    CHECK_EQ(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                     sizeof err), FLYQ_ERR_PLUGIN);
    CHECK_HAS(err, "invalid topic name \"no good!\" (on_produce, record 1)");
    CHECK_EQ(pt_stats(rt, "bad")->calls, calls[h]);
    pt_done(rt);
  }
  free(buf);
}

/* A memory error (no message handler runs) names no record of an earlier
 * error. */
TEST(a_memory_error_names_no_old_record) {
  size_t len;
  uint8_t *buf = numbered(N, &len);
  flyq_plugins_output_t out;
  char err[512];
  flyq_plugins_t *rt;
  const char *kv[] = {"bomb", "v", "x", "y"};
  pt_write("mem.lua", "return { name = 'mem', on_produce = function(r)\n"
                      "  if r.key == '4000' then error('boom') end\n"
                      "  if r.key == 'bomb' then local s = ('x'):rep(1 << 26) end\n"
                      "  return r end }\n");
  rt = pt_open("return { plugin_path = {DIR},\n"
               "  plugins = { limits = { memory = '8MiB' } },\n"
               "  topics = { t = { on_produce = 'mem' } } }\n");
  CHECK_EQ(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                   sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "(on_produce, record 4000)");
  free(buf);
  buf = pt_batch(kv, 2, &len);
  CHECK(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                sizeof err) < 0);
  CHECK_HAS(err, "memory limit exceeded");
  CHECK(strstr(err, "record 4000") == NULL);
  free(buf);
  pt_done(rt);
}

/* on_error pass and dead_letter run the fast loop too: a failure fails
 * its record alone and the loop goes on after it. The output (stored
 * records and dead letters) must be, byte for byte, what the record-by-
 * record protected loop (the exact instruction budget) makes, and every
 * hook must have run once. */
static const char flaky_lua[] =
    "return { name = 'flaky', on_produce = function(r)\n"
    "  flyq.counter('calls', 1)\n"
    "  local i = tonumber(r.key)\n"
    "  if i % 97 == 0 then error('boom ' .. i) end\n"               /* in the hook */
    "  if i % 89 == 0 then return { r, 7 } end\n"                   /* in keep() */
    "  if i % 83 == 0 then r.topic = 'no good!' return r end\n"     /* settling */
    "  if i % 79 == 0 then r.value = 'v' .. i return r end\n"
    "  if i % 71 == 0 then return nil end\n"
    "  if i % 61 == 0 then return { r, { key = 'x', value = 'x' .. i, timestamp = 5 } } end\n"
    "  if r.value == 'bomb' then local t = {} for k = 1, 1e9 do t[k] = k end end\n"
    "  return r\n"
    "end }\n";

static flyq_plugins_t *open_flaky(const char *on_error, const char *limits) {
  char config[512];
  snprintf(config, sizeof config,
           "return { plugin_path = {DIR},\n"
           "  plugins = { limits = { memory = '16MiB', %s } },\n"
           "  topics = { t = { on_produce = 'flaky', on_error = '%s' } } }\n",
           limits, on_error);
  return pt_open(config);
}

static void same_output(const flyq_plugins_output_t *a,
                        const flyq_plugins_output_t *b) {
  CHECK_EQ(a->nbatches, b->nbatches);
  CHECK_EQ(a->records_out, b->records_out);
  CHECK_EQ(a->failed, b->failed);
  CHECK_EQ(a->dead_letters, b->dead_letters);
  for (size_t i = 0; i < a->nbatches; i++) {
    CHECK(strcmp(a->batches[i].topic, b->batches[i].topic) == 0);
    CHECK_EQ(a->batches[i].len, b->batches[i].len);
    CHECK(memcmp(a->batches[i].data, b->batches[i].data, a->batches[i].len) == 0);
  }
}

/* The failures flaky makes of records 1..n. */
static size_t flaky_failures(size_t n) {
  size_t f = 0;
  for (size_t i = 1; i <= n; i++) f += i % 97 == 0 || i % 89 == 0 || i % 83 == 0;
  return f;
}

/* Runs buf (nrec records) through flaky under on_error, with the fast loop
 * (the CPU-time budget) and the protected record-by-record loop (an
 * instruction budget), checks both outputs are the same and that both
 * stats count one call per record, and returns the fast run's hook calls
 * (the plugin's own count, reruns included). */
static int64_t fast_like_exact(const char *on_error, const uint8_t *buf,
                               size_t len, size_t nrec, size_t failures) {
  flyq_plugins_output_t fast, exact;
  flyq_plugins_t *rt = open_flaky(on_error, "time_ms = 1000");
  flyq_plugins_t *rx =
      open_flaky(on_error, "instructions = 100000000, time_ms = 1000");
  int64_t calls;
  run(rt, buf, len, &fast);
  run(rx, buf, len, &exact);
  CHECK_EQ(fast.failed, failures);
  same_output(&fast, &exact);
  CHECK_EQ(pt_stats(rt, "flaky")->errors, failures);
  CHECK_EQ(pt_stats(rt, "flaky")->calls, nrec);
  CHECK_EQ(pt_stats(rx, "flaky")->calls, nrec);
  calls = pt_stats(rt, "flaky")->counters[0].value;
  flyq_plugins_output_free(&fast);
  flyq_plugins_output_free(&exact);
  pt_done(rt);
  pt_done(rx);
  return calls;
}

TEST(pass_and_dead_letter_fail_records_alone_in_the_fast_loop) {
  static const char *const modes[] = {"pass", "dead_letter"};
  const char *kv[] = {"1", "a", "2", "b", "3", "bomb", "4", "c", "97", "d"};
  size_t len, blen;
  uint8_t *buf = numbered(N, &len), *bomb = pt_batch(kv, 5, &blen);
  pt_write("flaky.lua", flaky_lua);
  for (int m = 0; m < 2; m++) {
    /* Each hook ran once: a failure is picked up where it happened. */
    CHECK_EQ(fast_like_exact(modes[m], buf, len, N, flaky_failures(N)), N);
    /* A memory error names no record: the rest of its chunk (here all 5
     * records) runs again record by record, protected; records 1 and 2
     * were kept but not yet passed on, and 3 was the bomb, so 3 hooks ran
     * twice. The bomb and "97" fail. */
    CHECK_EQ(fast_like_exact(modes[m], bomb, blen, 5, 2), 5 + 3);
  }
  free(buf);
  free(bomb);
}

/* Fails unless batch b holds records with exactly the values want[0..n). */
static void check_values(const flyq_plugins_batch_t *b, const char *const *want,
                         size_t n) {
  CHECK_EQ(pt_count(b->data, b->len), n);
  for (size_t i = 0; i < n; i++) {
    flyq_record_t rec;
    pt_record(b->data, b->len, i, &rec);
    if (!pt_is(rec.value, rec.value_len, want[i]))
      flyq_test_fail(__FILE__, __LINE__, "record %zu: %.*s, want %s", i,
                     (int)rec.value_len, (const char *)rec.value, want[i]);
  }
}

/* Runs kv (n records) through plugin name under on_error with an 8 MiB
 * cap (4 MiB with small) and the CPU-time budget. */
static flyq_plugins_t *run_capped(const char *name, const char *on_error,
                                  int small, const char **kv, size_t n,
                                  flyq_plugins_output_t *out) {
  char config[512];
  size_t len;
  uint8_t *buf = pt_batch(kv, n, &len);
  flyq_plugins_t *rt;
  snprintf(config, sizeof config,
           "return { plugin_path = {DIR},\n"
           "  plugins = { limits = { memory = '%s', time_ms = 1000 } },\n"
           "  topics = { t = { on_produce = '%s', on_error = '%s' } } }\n",
           small ? "4MiB" : "8MiB", name, on_error);
  rt = pt_open(config);
  run(rt, buf, len, out);
  free(buf);
  return rt;
}

/* A memory error names no record: the rest of its chunk runs again from
 * the input (what the first run wrote into the records is forgotten), and
 * only that chunk. */
TEST(a_memory_error_reruns_the_rest_of_its_chunk_from_the_input) {
  static char keys[3000][8];
  static const char *kv[6000];
  const char *small[] = {"1", "a", "2", "b", "3", "bomb", "4", "c"};
  const char *want[] = {"a!", "b!", "bomb", "c!"};
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  pt_write("bang.lua", "return { name = 'bang', on_produce = function(r)\n"
           "  flyq.counter('calls', 1)\n"
           "  if r.value == 'bomb' then local s = ('x'):rep(1 << 26) end\n"
           "  if r.value ~= 'big' then r.value = r.value .. '!' end\n"
           "  return r end }\n");
  rt = run_capped("bang", "pass", 0, small, 4, &out);
  check_values(&out.batches[0], want, 4);
  CHECK_EQ(out.failed, 1);
  flyq_plugins_output_free(&out);
  pt_done(rt);
  /* 3000 records in chunks of a slice (FLYQ__SLICE, 128), the bomb at
   * 2500: 2500 calls, then the rest of the 20th chunk (2433 .. 2560) runs
   * again record by record, and the chunks after it as before. */
  for (int i = 0; i < 3000; i++) {
    snprintf(keys[i], sizeof keys[i], "%d", i + 1);
    kv[2 * i] = keys[i];
    kv[2 * i + 1] = i == 2499 ? "bomb" : "big";
  }
  rt = run_capped("bang", "pass", 0, kv, 3000, &out);
  CHECK_EQ(out.failed, 1);
  CHECK_EQ(out.records_out, 3000);
  CHECK_EQ(pt_stats(rt, "bang")->counters[0].value, 2500 + (3000 - 2432));
  CHECK_EQ(pt_stats(rt, "bang")->calls, 3000); /* each record once */
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

/* A memory error while a record's answer is being emitted undoes what of
 * it was emitted, and that record fails. */
TEST(a_memory_error_in_a_fan_out_undoes_it) {
  const char *kv[] = {"1", "a", "2", "b", "3", "c"};
  const char *want[] = {"a", "b", "c"};
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  pt_write("fan.lua", "return { name = 'fan', on_produce = function(r)\n"
           "  if r.key == '2' then\n"
           "    return { { key = 'k', value = 'part1' },\n"
           "             { [('k'):rep(1400000)] = 1 } }\n"
           "  end\n"
           "  return r end }\n");
  rt = run_capped("fan", "pass", 1, kv, 3, &out);
  if (!out.unchanged) check_values(&out.batches[0], want, 3); /* else: a b c */
  CHECK_EQ(out.failed, 1);
  CHECK_EQ(pt_stats(rt, "fan")->errors, 1);
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

/* A memory error after a record failed while settling is not blamed on
 * the record the failed one's error named. */
TEST(a_memory_error_after_a_settling_failure) {
  const char *kv[] = {"1", "a", "2", "b", "3", "c", "4", "bomb", "5", "e"};
  const char *pass[] = {"a", "new2", "c", "bomb", "e"};
  const char *kept[] = {"new2", "c", "e"}, *dead[] = {"a", "bomb"};
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  pt_write("stale.lua", "return { name = 'stale', on_produce = function(r)\n"
           "  if r.key == '1' then r.topic = 'no good!' return r end\n"
           "  if r.key == '2' then return { key = 'n', value = 'new2' } end\n"
           "  if r.value == 'bomb' then local s = ('x'):rep(1 << 26) end\n"
           "  return r end }\n");
  rt = run_capped("stale", "pass", 0, kv, 5, &out);
  check_values(&out.batches[0], pass, 5);
  CHECK_EQ(out.failed, 2);
  flyq_plugins_output_free(&out);
  pt_done(rt);
  rt = run_capped("stale", "dead_letter", 0, kv, 5, &out);
  CHECK_EQ(out.nbatches, 2);
  check_values(&out.batches[0], kept, 3);
  CHECK(strcmp(out.batches[1].topic, "t.dlq") == 0);
  check_values(&out.batches[1], dead, 2);
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST_LIST(TEST_ENTRY(every_kind_of_answer_across_chunks)
          TEST_ENTRY(a_record_kept_within_a_batch_stays_itself)
          TEST_ENTRY(a_hook_that_returns_its_record_runs_in_chunks)
          TEST_ENTRY(a_chunk_times_each_record_alone)
          TEST_ENTRY(a_memory_error_reruns_the_rest_of_its_chunk_from_the_input)
          TEST_ENTRY(a_memory_error_in_a_fan_out_undoes_it)
          TEST_ENTRY(a_memory_error_after_a_settling_failure)
          TEST_ENTRY(pass_and_dead_letter_fail_records_alone_in_the_fast_loop)
          TEST_ENTRY(a_chain_with_a_pass_through_in_the_middle)
          TEST_ENTRY(a_settling_error_names_its_record)
          TEST_ENTRY(a_memory_error_names_no_old_record)
          TEST_ENTRY(untouched_records_keep_the_bytes)
          TEST_ENTRY(a_record_changed_in_place)
          TEST_ENTRY(an_error_names_its_record)
          TEST_ENTRY(an_error_deep_in_a_hook_names_its_record)
          TEST_ENTRY(a_plugin_near_its_memory_cap_runs_a_slice_in_the_loop)
          TEST_ENTRY(a_kept_record_is_dead));
