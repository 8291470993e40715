/* The driver's fast loop (lua/flyq/runtime.lua, src/host/plugin_host.c):
 * records whose hooks return them make no C call and are settled later,
 * in chunks of proxies. These tests run batches larger than a chunk
 * through hooks that mix every kind of answer, and check that the output
 * is, record for record, what the hooks asked for.
 */
#include "flyq/common.h"
#include "test-host-plugin.h"

#define N 10000 /* more than two rings of 4096 slots, in chunks of 1024 */

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

TEST(an_error_names_its_record) {
  size_t len;
  uint8_t *buf = numbered(N, &len);
  flyq_plugins_output_t out;
  flyq_plugins_t *rt;
  char err[512];
  pt_write("boom.lua", "return { name = 'boom', on_produce = function(r)\n"
                       "  if r.key == '2049' then error('boom') end\n"
                       "  return r end }\n");
  rt = open_chain("'boom'");
  CHECK_EQ(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                   sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "boom.lua:2: boom (on_produce, record 2049)");
  free(buf);
  pt_done(rt);
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
TEST(a_settling_error_names_its_record) {
  size_t len;
  uint8_t *buf = numbered(3, &len);
  flyq_plugins_output_t out;
  char err[512];
  flyq_plugins_t *rt;
  pt_write("bad.lua", "return { name = 'bad', on_produce = function(r)\n"
                      "  if r.key == '1' then r.topic = 'no good!' end\n"
                      "  if r.key == '3' then return nil end\n"
                      "  return r end }\n");
  rt = open_chain("'bad'");
  CHECK_EQ(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                   sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "invalid topic name \"no good!\" (on_produce, record 1)");
  free(buf);
  pt_done(rt);
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

TEST_LIST(TEST_ENTRY(every_kind_of_answer_across_chunks)
          TEST_ENTRY(a_chain_with_a_pass_through_in_the_middle)
          TEST_ENTRY(a_settling_error_names_its_record)
          TEST_ENTRY(a_memory_error_names_no_old_record)
          TEST_ENTRY(untouched_records_keep_the_bytes)
          TEST_ENTRY(a_record_changed_in_place)
          TEST_ENTRY(an_error_names_its_record)
          TEST_ENTRY(a_kept_record_is_dead));
