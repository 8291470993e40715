/* bench_hooks: in-process CPU cost per record of the on_produce path
 * (flyq_plugins_on_produce), split into its parts, without the network,
 * the log or the kernel: what `flyq bench` over TCP cannot separate.
 *
 * Each round times, on the same batch of 1000 records (100-byte values, no
 * key, no headers: what `flyq bench produce` sends; --records N for another
 * count), in this thread's CPU time:
 *   validate    flyq_batch_validate alone: what the append does without
 *               hooks (and the runtime does instead of it with hooks);
 *   record      on_produce through function(record) return record end;
 *   record_ctx  the same hook declaring ctx, function(record, ctx).
 * and prints, over the rounds, the median and the lower quartile of each in
 * ns per record, and the median of the per-round differences to validate
 * (what the hook adds). The machine is shared: quote medians of many
 * rounds, compare figures from the same run.
 *
 * Usage: bench_hooks [--rounds N] [--batches N] [--records N]
 * Plugins and config go to a new directory under $TMPDIR (or /tmp),
 * removed at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flyq/batch.h"
#include "flyq/config.h"
#include "flyq/plugins.h"

#define MAX_RECORDS 100000
#define VALUE_BYTES 100
#define MAX_ROUNDS 1000

static int records = 1000; /* a batch's */

enum { V_VALIDATE, V_RECORD, V_RECORD_CTX, NVARIANTS };
static const char *const names[NVARIANTS] = {"validate", "record",
                                             "record_ctx"};
static const char *const topics[NVARIANTS] = {NULL, "record", "record_ctx"};

static int usage(FILE *to, int status) {
  fprintf(to,
          "usage: bench_hooks [--rounds N] [--batches N] [--records N]\n\n"
          "In-process CPU cost per record of on_produce with a hook that\n"
          "returns its record, against batch validation alone (see the\n"
          "head of bench/bench_hooks.c and docs/benchmarks.md).\n\n"
          "  --rounds N   rounds, each timing every variant (default 31)\n"
          "  --batches N  batches per variant and round (default 200)\n"
          "  --records N  records per batch (default 1000, at most 100000)\n");
  return status;
}

static void die(const char *what, const char *why) {
  fprintf(stderr, "bench_hooks: %s: %s\n", what, why);
  exit(1);
}

static double cpu_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void write_file(const char *dir, const char *name, const char *text) {
  char path[4200];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if ((f = fopen(path, "w")) == NULL || fputs(text, f) < 0 || fclose(f) != 0)
    die(path, "cannot write");
}

static void remove_file(const char *dir, const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  unlink(path);
}

/* The runtime: topic "record" and "record_ctx", each with its plugin. */
static flyq_plugins_t *open_runtime(const char *dir, flyq_config_t *cfg) {
  char config[4400], path[4200], err[1024];
  flyq_plugins_t *rt;
  write_file(dir, "record.lua",
             "return { name = 'record',\n"
             "  on_produce = function(record) return record end }\n");
  write_file(dir, "record_ctx.lua",
             "return { name = 'record_ctx',\n"
             "  on_produce = function(record, ctx) return record end }\n");
  snprintf(config, sizeof config,
           "return { plugin_path = { '%s' }, topics = {\n"
           "  record = { on_produce = 'record' },\n"
           "  record_ctx = { on_produce = 'record_ctx' } } }\n", dir);
  write_file(dir, "flyq.lua", config);
  snprintf(path, sizeof path, "%s/flyq.lua", dir);
  if (flyq_config_init(cfg) != 0 ||
      flyq_config_load(cfg, path, err, sizeof err) != 0)
    die("config", err);
  if (flyq_plugins_new(cfg, &rt, err, sizeof err) != 0) die("plugins", err);
  return rt;
}

static uint8_t *make_batch(size_t *len) {
  static char value[VALUE_BYTES];
  flyq_batch_builder_t b;
  const uint8_t *data;
  uint8_t *copy;
  memset(value, 'v', sizeof value);
  flyq_batch_builder_init(&b);
  for (int i = 0; i < records; i++)
    if (flyq_batch_builder_add(&b, 1000 + i, NULL, -1, value, VALUE_BYTES,
                               NULL, 0) != 0)
      die("batch", "cannot build");
  if (flyq_batch_builder_finish(&b, &data, len) != 0 ||
      (copy = malloc(*len)) == NULL)
    die("batch", "cannot build");
  memcpy(copy, data, *len);
  flyq_batch_builder_free(&b);
  return copy;
}

/* ns per record of batches runs of variant v. */
static double time_variant(flyq_plugins_t *rt, int v, const uint8_t *batch,
                           size_t len, int batches) {
  char err[1024];
  double t0 = cpu_ns();
  for (int i = 0; i < batches; i++) {
    flyq_plugins_output_t out;
    if (v == V_VALIDATE) {
      if (flyq_batch_validate(batch, len, NULL) != 0) die("validate", "failed");
      continue;
    }
    if (flyq_plugins_on_produce(rt, topics[v], -1, NULL, batch, len, &out, err,
                                sizeof err) != 0)
      die(names[v], err);
    if (!out.unchanged) die(names[v], "the hook changed the batch");
    flyq_plugins_output_free(&out);
  }
  return (cpu_ns() - t0) / ((double)batches * records);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The q-quantile (0..1) of v[0..n), sorted in place. */
static double quantile(double *v, int n, double q) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[(int)(q * (n - 1) + 0.5)];
}

int main(int argc, char **argv) {
  static double t[NVARIANTS][MAX_ROUNDS], d[NVARIANTS][MAX_ROUNDS];
  int rounds = 31, batches = 200;
  char dir[4096];
  const char *tmp = getenv("TMPDIR");
  flyq_config_t cfg;
  flyq_plugins_t *rt;
  size_t len;
  uint8_t *batch;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
      batches = atoi(argv[++i]);
    else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc)
      records = atoi(argv[++i]);
    else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
      return usage(stdout, 0);
    else
      return usage(stderr, 2);
  }
  if (rounds < 1 || rounds > MAX_ROUNDS || batches < 1 || records < 1 ||
      records > MAX_RECORDS) {
    fprintf(stderr, "bench_hooks: --rounds 1..%d, --batches >= 1, "
            "--records 1..%d\n", MAX_ROUNDS, MAX_RECORDS);
    return 2;
  }
  snprintf(dir, sizeof dir, "%s/flyq-bench-hooks.XXXXXX", tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL) die(dir, "cannot make the directory");
  rt = open_runtime(dir, &cfg);
  batch = make_batch(&len);
  for (int v = 0; v < NVARIANTS; v++) time_variant(rt, v, batch, len, 10);
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k < NVARIANTS; k++) {
      int v = (r + k) % NVARIANTS; /* the order rotates */
      t[v][r] = time_variant(rt, v, batch, len, batches);
    }
  printf("== hooks (in-process): %d rounds of %d batches of %d records, "
         "ns per record (CPU time)\n", rounds, batches, records);
  for (int v = 0; v < NVARIANTS; v++) /* before quantile() sorts t */
    for (int r = 0; r < rounds; r++) d[v][r] = t[v][r] - t[V_VALIDATE][r];
  for (int v = 0; v < NVARIANTS; v++) {
    printf("  %-10s  median %6.1f  p25 %6.1f", names[v],
           quantile(t[v], rounds, 0.5), quantile(t[v], rounds, 0.25));
    if (v != V_VALIDATE)
      printf("  over validate: median %5.1f", quantile(d[v], rounds, 0.5));
    printf("\n");
  }
  flyq_plugins_free(rt);
  flyq_config_free(&cfg);
  free(batch);
  remove_file(dir, "record.lua");
  remove_file(dir, "record_ctx.lua");
  remove_file(dir, "flyq.lua");
  rmdir(dir);
  return 0;
}
