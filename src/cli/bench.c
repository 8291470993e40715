/* `flyq bench produce|consume TOPIC`: throughput and latency against a
 * running broker. This file parses the flags, plans each connection's share
 * (produce: a partition and a message count; consume: offset ranges) and
 * prints the summary; the connections run as threads, one client each, in
 * bench_run.c. Timing starts once every connection is up. Sizes in MB are
 * 10^6 bytes of message values.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench.h"
#include "cli/commands.h"

#define MAX_CONNECTIONS 1024
#define QUOTE(x) #x
#define DEFAULT(x) QUOTE(x) /* a macro's value as a string literal */

static const char usage[] =
    "usage: flyq bench produce TOPIC [--count N] [--size BYTES] [--batch N]\n"
    "                          [--acks 0|1|all] [--connections K]\n"
    "                          [--inflight N] [--rate MSGS_PER_S] [--json]\n"
    "       flyq bench consume TOPIC [--count N] [--connections K] [--json]\n"
    "\n"
    "Measures the broker over TCP and prints messages/s, MB/s (10^6 bytes\n"
    "of values), the p50/p99/p999 latency and the elapsed time.\n"
    "produce: latency per request, from send to acknowledgement (acks 0:\n"
    "until written); the topic is auto-created when missing.\n"
    "consume: reads up to N messages from the start of the topic's\n"
    "partitions; latency per fetch.\n"
    "\n"
    "Options:\n"
    "      --count N           messages in total (default 1000000)\n"
    "      --size BYTES        (produce) value size (default 100)\n"
    "      --batch N           (produce) messages per request (default 1000)\n"
    "      --acks 0|1|all      (produce) acknowledgement mode (default 1)\n"
    "      --connections K     connections, one thread each (default 1)\n"
    "      --inflight N        (produce) requests in flight per connection\n"
    "                          (default " DEFAULT(FLYQ_BENCH_INFLIGHT) ", as "
    "Kafka's max.in.flight)\n"
    "      --rate MSGS_PER_S   (produce) pace the sending to this total rate\n"
    "                          (default: as fast as possible)\n"
    "      --json              print one JSON object instead of "
    "text\n" FLYQ_CLI_COMMON_HELP "\n"
    "Exit status: 0 success, 1 error (any failed request), 2 usage error.\n";

enum {
  OPT_COUNT = FLYQ_CLI_OPT_FIRST,
  OPT_SIZE,
  OPT_BATCH,
  OPT_ACKS,
  OPT_CONNECTIONS,
  OPT_RATE,
  OPT_INFLIGHT,
  OPT_JSON
};

/* ---- planning ---------------------------------------------------------- */

/* produce: connection i sends its share to partition i mod the topic's
 * partition count (1 when the topic does not exist yet: auto-create). */
static int plan_produce(flyq__bench_t *b) {
  flyq_metadata_t *md = NULL;
  int32_t nparts = 1;
  int r = flyq_client_metadata(b->cli.client, b->topic, &md);
  if (r < 0) return flyq__cli_client_error(&b->cli, r);
  if (md->ntopics == 1 && md->topics[0].error_code == 0 &&
      md->topics[0].npartitions > 0)
    nparts = (int32_t)md->topics[0].npartitions;
  for (int64_t i = 0; i < b->connections; i++) {
    flyq__bench_worker_t *w = &b->workers[i];
    w->partition = md->ntopics == 1 && md->topics[0].error_code == 0
                       ? md->topics[0].partitions[i % nparts].partition
                       : 0;
    w->count = b->count / b->connections + (i < b->count % b->connections);
    w->rate = (double)b->rate / (double)b->connections;
  }
  flyq_metadata_free(md);
  return 0;
}

/* Gives each worker its share of the ranges all[0..n), in order. */
static int split_ranges(flyq__bench_t *b, const flyq__bench_range_t *all,
                        size_t n, int64_t total) {
  size_t cur = 0;
  int64_t pos = n ? all[0].from : 0;
  for (int64_t i = 0; i < b->connections; i++) {
    flyq__bench_worker_t *w = &b->workers[i];
    int64_t need = total / b->connections + (i < total % b->connections);
    w->ranges = calloc(n + 1, sizeof(*w->ranges));
    if (w->ranges == NULL) return -ENOMEM;
    while (need > 0) {
      int64_t take = all[cur].to - pos < need ? all[cur].to - pos : need;
      w->ranges[w->nranges++] =
          (flyq__bench_range_t){all[cur].partition, pos, pos + take};
      pos += take;
      need -= take;
      if (pos == all[cur].to && ++cur < n) pos = all[cur].from;
    }
  }
  return 0;
}

/* consume: the first --count messages of the partitions, in partition
 * order, split evenly between the connections. */
static int plan_consume(flyq__bench_t *b) {
  flyq_metadata_t *md;
  const flyq_topic_info_t *t;
  flyq__bench_range_t *all;
  size_t n = 0;
  int64_t total = 0;
  int r = flyq__cli_topic_meta(&b->cli, b->topic, &md, &t);
  if (r != 0) return r;
  all = calloc(t->npartitions + 1, sizeof(*all));
  for (size_t i = 0; all && i < t->npartitions && total < b->count; i++) {
    const flyq_partition_info_t *p = &t->partitions[i];
    int64_t take = p->high_watermark - p->log_start_offset;
    if (take > b->count - total) take = b->count - total;
    if (take <= 0) continue;
    all[n++] = (flyq__bench_range_t){p->partition, p->log_start_offset,
                                     p->log_start_offset + take};
    total += take;
  }
  flyq_metadata_free(md);
  r = all ? split_ranges(b, all, n, total) : -ENOMEM;
  free(all);
  if (r < 0) flyq__cli_error(&b->cli, "out of memory");
  else if (total == 0)
    flyq__cli_error(&b->cli, "topic '%s' is empty", b->topic);
  return r < 0 || total == 0;
}

/* ---- report ------------------------------------------------------------ */

typedef struct summary {
  int64_t msgs, bytes, errors;
  size_t samples;
  double elapsed_s, p50_ms, p99_ms, p999_ms;
} summary_t;

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The nearest-rank percentile q of sorted[0..n), in ms (0 when n is 0). */
static double percentile(const int64_t *sorted, size_t n, double q) {
  size_t rank = (size_t)(q * (double)n + 0.999999);
  if (n == 0) return 0;
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return (double)sorted[rank - 1] / 1e6;
}

/* Sums the workers' counts and merges their latency samples. */
static void summarize(const flyq__bench_t *b, summary_t *s) {
  int64_t *all;
  size_t n = 0;
  memset(s, 0, sizeof(*s));
  for (int64_t i = 0; i < b->connections; i++) n += b->workers[i].nlat;
  all = malloc((n ? n : 1) * sizeof(*all));
  for (int64_t i = 0; i < b->connections; i++) {
    const flyq__bench_worker_t *w = &b->workers[i];
    s->msgs += w->msgs;
    s->bytes += b->consume ? w->bytes : w->msgs * b->size;
    s->errors += w->errors;
    if (all && w->nlat)
      memcpy(all + s->samples, w->lat_ns, w->nlat * sizeof(*all));
    if (all) s->samples += w->nlat;
  }
  s->elapsed_s = (double)(b->end_ns - b->start_ns) / 1e9;
  if (all == NULL) return;
  qsort(all, s->samples, sizeof(*all), cmp_i64);
  s->p50_ms = percentile(all, s->samples, 0.50);
  s->p99_ms = percentile(all, s->samples, 0.99);
  s->p999_ms = percentile(all, s->samples, 0.999);
  free(all);
}

static void print_json(const flyq__bench_t *b, const summary_t *s) {
  double secs = s->elapsed_s > 0 ? s->elapsed_s : 1e-9;
  printf("{\"mode\":\"%s\",\"topic\":", b->consume ? "consume" : "produce");
  flyq__cli_json_string(stdout, (const uint8_t *)b->topic, strlen(b->topic));
  printf(",\"messages\":%lld,\"bytes\":%lld,\"connections\":%lld",
         (long long)s->msgs, (long long)s->bytes, (long long)b->connections);
  if (!b->consume)
    printf(",\"size\":%lld,\"batch\":%lld,\"acks\":%d,\"inflight\":%lld,"
           "\"rate\":%lld",
           (long long)b->size, (long long)b->batch, b->acks,
           (long long)b->inflight, (long long)b->rate);
  printf(",\"elapsed_s\":%.6f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,"
         "\"latency_p50_ms\":%.4f,\"latency_p99_ms\":%.4f,"
         "\"latency_p999_ms\":%.4f,\"latency_samples\":%zu,\"errors\":%lld}\n",
         s->elapsed_s, (double)s->msgs / secs, (double)s->bytes / secs / 1e6,
         s->p50_ms, s->p99_ms, s->p999_ms, s->samples, (long long)s->errors);
}

static void print_text(const flyq__bench_t *b, const summary_t *s) {
  double secs = s->elapsed_s > 0 ? s->elapsed_s : 1e-9;
  if (b->consume)
    printf("consume %s: %lld messages, %lld connection%s\n", b->topic,
           (long long)s->msgs, (long long)b->connections,
           b->connections == 1 ? "" : "s");
  else
    printf("produce %s: %lld messages of %lld bytes, batch %lld, acks %s, "
           "%lld connection%s, %lld in flight, rate %s\n",
           b->topic, (long long)s->msgs, (long long)b->size,
           (long long)b->batch,
           b->acks < 0 ? "all"
           : b->acks   ? "1"
                       : "0",
           (long long)b->connections, b->connections == 1 ? "" : "s",
           (long long)b->inflight,
           b->rate > 0 ? "paced" : "unlimited");
  printf("  elapsed     %.3f s\n", s->elapsed_s);
  printf("  throughput  %.0f msgs/s, %.1f MB/s\n", (double)s->msgs / secs,
         (double)s->bytes / secs / 1e6);
  printf("  latency     p50 %.3f ms, p99 %.3f ms, p999 %.3f ms (%zu %s)\n",
         s->p50_ms, s->p99_ms, s->p999_ms, s->samples,
         b->consume ? "fetches" : "requests");
  if (s->errors) printf("  errors      %lld\n", (long long)s->errors);
}

/* Prints the summary and each worker's first error. Returns the status. */
static int report(const flyq__bench_t *b) {
  summary_t s;
  summarize(b, &s);
  for (int64_t i = 0; i < b->connections; i++)
    if (b->workers[i].err[0] != '\0')
      flyq__cli_error(&b->cli, "%s", b->workers[i].err);
  if (b->json) print_json(b, &s);
  else print_text(b, &s);
  return s.errors > 0 || (!b->consume && s.msgs < b->count);
}

/* ---- command line ------------------------------------------------------ */

/* A numeric flag: its value and its range. */
static int number(flyq__bench_t *b, const char *flag, int64_t min, int64_t max,
                  int64_t *out) {
  if (flyq__cli_parse_i64(optarg, min, max, out) == 0) return -1;
  return flyq__cli_usage_error(&b->cli, "bad %s '%s' (%lld to %lld)", flag,
                               optarg, (long long)min, (long long)max);
}

/* Handles one flag. Returns -1 to go on, else the exit status. */
static int flag(flyq__bench_t *b, int opt, char **argv) {
  if (b->consume && (opt == OPT_SIZE || opt == OPT_BATCH || opt == OPT_ACKS ||
                     opt == OPT_INFLIGHT || opt == OPT_RATE))
    return flyq__cli_usage_error(&b->cli, "--size, --batch, --acks, "
                                          "--inflight and --rate are for "
                                          "bench produce only");
  switch (opt) {
  case OPT_COUNT: return number(b, "--count", 1, INT64_MAX / 2, &b->count);
  case OPT_SIZE:
    return number(b, "--size", 0, FLYQ_BATCH_MAX_SIZE / 2, &b->size);
  case OPT_BATCH: return number(b, "--batch", 1, 1000000, &b->batch);
  case OPT_CONNECTIONS:
    return number(b, "--connections", 1, MAX_CONNECTIONS, &b->connections);
  case OPT_RATE: return number(b, "--rate", 1, 1000000000, &b->rate);
  case OPT_INFLIGHT:
    return number(b, "--inflight", 1, FLYQ_BENCH_INFLIGHT_MAX, &b->inflight);
  case OPT_JSON: b->json = 1; return -1;
  case OPT_ACKS:
    if (flyq__cli_parse_acks(optarg, &b->acks) == 0) return -1;
    return flyq__cli_usage_error(&b->cli, "bad --acks '%s' (0, 1 or all)",
                                 optarg);
  default: return flyq__cli_common_opt(&b->cli, opt, argv);
  }
}

static int parse(flyq__bench_t *b, int argc, char **argv) {
  static const struct option longopts[] = {
      FLYQ_CLI_COMMON_LONGOPTS,
      {"count", required_argument, NULL, OPT_COUNT},
      {"size", required_argument, NULL, OPT_SIZE},
      {"batch", required_argument, NULL, OPT_BATCH},
      {"acks", required_argument, NULL, OPT_ACKS},
      {"connections", required_argument, NULL, OPT_CONNECTIONS},
      {"rate", required_argument, NULL, OPT_RATE},
      {"inflight", required_argument, NULL, OPT_INFLIGHT},
      {"json", no_argument, NULL, OPT_JSON},
      {NULL, 0, NULL, 0}};
  static const char *const names[] = {"TOPIC"};
  int opt, r;
  while ((opt = getopt_long(argc, argv, FLYQ_CLI_COMMON_SHORTOPTS, longopts,
                            NULL)) != -1)
    if ((r = flag(b, opt, argv)) >= 0) return r;
  return flyq__cli_positionals(&b->cli, argc, argv, 1, &b->topic, names);
}

static int run(flyq__bench_t *b) {
  int r = flyq__cli_connect(&b->cli, NULL);
  if (r != 0) return r;
  b->workers = calloc((size_t)b->connections, sizeof(*b->workers));
  if (b->workers == NULL) {
    flyq__cli_error(&b->cli, "out of memory");
    return 1;
  }
  for (int64_t i = 0; i < b->connections; i++) b->workers[i].b = b;
  r = b->consume ? plan_consume(b) : plan_produce(b);
  flyq__cli_close(&b->cli); /* the workers have their own */
  if (r == 0) r = flyq__bench_run(b);
  return r == 0 ? report(b) : r;
}

static void bench_free(flyq__bench_t *b) {
  for (int64_t i = 0; b->workers && i < b->connections; i++) {
    free(b->workers[i].ranges);
    free(b->workers[i].lat_ns);
  }
  free(b->workers);
}

static int bench_main(int argc, char **argv, int consume) {
  flyq__bench_t b;
  int r;
  memset(&b, 0, sizeof(b));
  flyq__cli_init(&b.cli, consume ? "bench consume" : "bench produce", usage);
  b.consume = consume;
  b.count = 1000000;
  b.size = 100;
  b.batch = 1000;
  b.acks = FLYQ_ACKS_LEADER;
  b.connections = 1;
  b.inflight = FLYQ_BENCH_INFLIGHT;
  r = parse(&b, argc, argv);
  if (r < 0) r = run(&b);
  bench_free(&b);
  return r;
}

static int cmd_produce(int argc, char **argv) {
  return bench_main(argc, argv, 0);
}

static int cmd_consume(int argc, char **argv) {
  return bench_main(argc, argv, 1);
}

int flyq__cmd_bench(int argc, char **argv) {
  static const flyq__cli_sub_t subs[] = {{"produce", cmd_produce},
                                         {"consume", cmd_consume}};
  return flyq__cli_dispatch("bench", usage, subs,
                            sizeof(subs) / sizeof(subs[0]), argc, argv);
}
