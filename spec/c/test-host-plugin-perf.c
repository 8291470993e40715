/* What an on_produce hook costs on the produce path, measured in-process:
 * batches of 1000 records (100-byte values) appended to a partition log
 * (flyq_log_append, the broker's store step) with no hook, and with
 * flyq_plugins_on_produce first, running a hook that returns the record,
 * one that reads the key, and one that changes the value. Prints
 * records/s of process CPU time (user + system: the machine is shared, and
 * wall-clock figures mostly measure the neighbours) and the ratio to the
 * no-hook run, best of REPS alternating repetitions; checks that the output
 * is what each hook asks for. End-to-end figures over the network belong
 * to `flyq bench` (docs/benchmarks.md).
 */
#include <time.h>

#include "flyq/common.h"
#include "flyq/log.h"
#include "test-host-plugin.h"

#define RECORDS 1000
#define BATCHES 100
#define REPS 3

static uint8_t *batch;
static size_t batch_len;

static void make_batch(void) {
  static char keys[RECORDS][16], value[101];
  static const char *kv[2 * RECORDS];
  memset(value, 'v', 100);
  for (int i = 0; i < RECORDS; i++) {
    snprintf(keys[i], sizeof keys[i], "key-%d", i);
    kv[2 * i] = keys[i];
    kv[2 * i + 1] = value;
  }
  batch = pt_batch(kv, RECORDS, &batch_len);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Appends BATCHES batches to a fresh log, through topic's hooks unless
 * topic is NULL; returns records/s. */
static double run(flyq_plugins_t *rt, const char *topic, int want_unchanged) {
  char dir[600], err[256];
  flyq_log_config_t cfg;
  flyq_log_t *log;
  uint8_t *buf = malloc(batch_len);
  double t0;
  static int n;
  snprintf(dir, sizeof dir, "%s/log-%d", flyq_test_tmpdir(), n++);
  flyq_log_config_default(&cfg);
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  t0 = now_s();
  for (int i = 0; i < BATCHES; i++) {
    flyq_plugins_output_t out;
    flyq_append_result_t res;
    const uint8_t *data = batch;
    size_t len = batch_len;
    if (topic) {
      CHECK_OK(flyq_plugins_on_produce(rt, topic, -1, NULL, batch, batch_len,
                                       &out, err, sizeof err));
      CHECK_EQ(out.unchanged, want_unchanged);
      if (!out.unchanged) {
        CHECK_EQ(out.nbatches, 1);
        data = out.batches[0].data, len = out.batches[0].len;
      }
    }
    memcpy(buf = realloc(buf, len), data, len); /* the request buffer */
    if (topic && out.unchanged && out.validated) /* as the broker does */
      CHECK_OK(flyq_log_append_validated(log, buf, len, 0, &res));
    else
      CHECK_OK(flyq_log_append(log, buf, len, 0, &res));
    CHECK_EQ(res.last_offset - res.base_offset + 1, RECORDS);
    if (topic) flyq_plugins_output_free(&out);
  }
  t0 = now_s() - t0;
  CHECK_OK(flyq_log_close(log));
  free(buf);
  return BATCHES * RECORDS / t0;
}

TEST(hook_throughput) {
  static const char *const names[] = {"none", "same", "keys", "upper"};
  double best[4] = {0};
  flyq_plugins_t *rt;
  make_batch();
  pt_write("same.lua", "return { name = 'same', on_produce = function(r)\n"
                       "  return r end }\n");
  pt_write("keys.lua", "return { name = 'keys', on_produce = function(r)\n"
                       "  if r.key == 'nope' then return nil end\n"
                       "  return r end }\n");
  pt_write("upper.lua", "return { name = 'upper', on_produce = function(r)\n"
                        "  r.value = r.value:upper()\n  return r end }\n");
  rt = pt_open("return { plugin_path = {DIR}, topics = {\n"
               "  same = { on_produce = 'same' }, keys = { on_produce = 'keys' },\n"
               "  upper = { on_produce = 'upper' } } }\n");
  for (int rep = 0; rep < REPS; rep++)
    for (int k = 0; k < 4; k++) {
      double r = run(rt, k ? names[k] : NULL, k < 3);
      if (r > best[k]) best[k] = r;
    }
  CHECK_EQ(pt_stats(rt, "keys")->values_pushed, 0);
  for (int k = 0; k < 4; k++)
    printf("  %-5s %10.0f records/s  %5.1f%% of no hook\n", names[k], best[k],
           100 * best[k] / best[0]);
  free(batch);
  pt_done(rt);
}

TEST_LIST(TEST_ENTRY(hook_throughput));
