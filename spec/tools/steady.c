/* flyq-steady: the well-behaved client of the hostile-client specs
 * (spec/functional/hostile_spec.lua, docs/reliability.md "Hostile
 * clients"). While a hostile client attacks the broker, it produces one
 * record (acks=1) and fetches it back, once every --interval-ms, and times
 * each request. It stops when --stop-file appears (or after --max-seconds)
 * and prints one JSON object: rounds, requests, errors, the first error,
 * and latency percentiles in milliseconds, corrected for coordinated
 * omission (see record_latency).
 *
 *   flyq-steady --addr HOST:PORT --topic T [--interval-ms 5]
 *               [--ready-file F] [--stop-file F] [--max-seconds 300]
 *               [--out FILE]
 *
 * --ready-file is created once the first round succeeded, so a spec can
 * start its attack on a broker that is known to serve this client. An
 * error counts, closes the connection and reconnects; a fetched record
 * that is not the one produced counts as an error too.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flyq/client.h"

typedef struct steady_opts {
  const char *addr, *topic, *ready_file, *stop_file, *out;
  long interval_ms, max_seconds;
} steady_opts_t;

typedef struct steady {
  steady_opts_t o;
  flyq_client_t *c;
  flyq_batch_builder_t bb;
  double *lat_ms; /* one per request, plus the corrections */
  size_t nlat, lat_cap;
  long rounds, requests, errors, connects;
  char first_error[256];
  int ready;
} steady_t;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
  if (ms <= 0) return;
  long ns = (long)(ms * 1e6);
  struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static int file_exists(const char *path) {
  return path != NULL && access(path, F_OK) == 0;
}

static int touch(const char *path) {
  FILE *f = fopen(path, "w");
  return f != NULL && fclose(f) == 0 ? 0 : -1;
}

static int add_sample(steady_t *s, double ms) {
  if (s->nlat == s->lat_cap) {
    size_t cap = s->lat_cap ? s->lat_cap * 2 : 4096;
    double *p = realloc(s->lat_ms, cap * sizeof *p);
    if (p == NULL) return -ENOMEM;
    s->lat_ms = p;
    s->lat_cap = cap;
  }
  s->lat_ms[s->nlat++] = ms;
  return 0;
}

/* Records one request's latency. A request slower than the interval held
 * back the requests this client would have sent meanwhile; they are
 * recorded too, as having waited ms - interval, ms - 2 * interval, ...
 * (the coordinated-omission correction of HdrHistogram), so that a stall
 * weighs in the percentiles as it would for a client that did not wait. */
static int record_latency(steady_t *s, double ms) {
  double step = (double)s->o.interval_ms;
  s->requests++;
  int rc = add_sample(s, ms);
  for (double w = ms - step; rc == 0 && step > 0 && w > step; w -= step)
    rc = add_sample(s, w);
  return rc;
}

/* Counts an error (the first one's text is kept) and drops the connection
 * so that the next round connects. */
static void fail(steady_t *s, const char *what, const char *msg) {
  s->errors++;
  if (s->first_error[0] == '\0')
    snprintf(s->first_error, sizeof s->first_error, "%s: %s", what, msg);
  flyq_client_close(s->c);
  s->c = NULL;
}

static int ensure_connected(steady_t *s) {
  if (s->c != NULL) return 0;
  flyq_client_options_t opts;
  flyq_client_options_init(&opts);
  opts.client_id = "flyq-steady";
  opts.request_timeout_ms = 10000;
  if (flyq_client_new(&opts, &s->c) < 0) return -ENOMEM;
  int rc = flyq_client_connect(s->c, s->o.addr, 10000);
  if (rc < 0) {
    fail(s, "connect", flyq_client_errmsg(s->c));
    return rc;
  }
  s->connects++;
  return 0;
}

/* Produces one record with value and returns its offset in *offset. */
static int produce_one(steady_t *s, const char *value, int64_t *offset) {
  const uint8_t *batch;
  size_t len;
  flyq_produce_result_t res;
  flyq_batch_builder_reset(&s->bb);
  int rc = flyq_batch_builder_add(&s->bb, flyq_now_ms(), NULL, 0, value,
                                  (int32_t)strlen(value), NULL, 0);
  if (rc == 0) rc = flyq_batch_builder_finish(&s->bb, &batch, &len);
  if (rc < 0) return rc;
  double t0 = now_ms();
  rc = flyq_client_produce(s->c, s->o.topic, 0, FLYQ_ACKS_LEADER, batch, len,
                           &res);
  if (rc < 0) {
    fail(s, "produce", flyq_client_errmsg(s->c));
    return rc;
  }
  *offset = res.base_offset;
  return record_latency(s, now_ms() - t0);
}

/* 1 if the fetched records hold value at offset. */
static int holds(const flyq_fetch_result_t *res, int64_t offset,
                 const char *value) {
  flyq_fetch_iter_t it;
  flyq_record_t rec;
  flyq_fetch_iter_init(&it, res->records, res->records_len, offset);
  if (flyq_fetch_iter_next(&it, &rec) != 1 || rec.offset != offset) return 0;
  return rec.value_len == (int32_t)strlen(value) &&
         memcmp(rec.value, value, strlen(value)) == 0;
}

static int fetch_one(steady_t *s, int64_t offset, const char *value) {
  flyq_fetch_result_t res;
  double t0 = now_ms();
  int rc = flyq_client_fetch(s->c, s->o.topic, 0, offset, 64 * 1024, 0, 1,
                             &res);
  if (rc < 0) {
    fail(s, "fetch", flyq_client_errmsg(s->c));
    return rc;
  }
  if (!holds(&res, offset, value)) {
    fail(s, "fetch", "the record read back is not the one produced");
    return FLYQ_ERR_CORRUPT;
  }
  return record_latency(s, now_ms() - t0);
}

static void round_trip(steady_t *s) {
  char value[64];
  int64_t offset;
  snprintf(value, sizeof value, "steady-%ld", s->rounds);
  s->rounds++;
  if (ensure_connected(s) < 0 || produce_one(s, value, &offset) < 0 ||
      fetch_one(s, offset, value) < 0)
    return;
  if (!s->ready && s->o.ready_file && touch(s->o.ready_file) == 0)
    s->ready = 1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The p-th percentile (0 < p <= 100) of the sorted latencies; 0 if none. */
static double percentile(const steady_t *s, double p) {
  if (s->nlat == 0) return 0;
  size_t i = (size_t)(p / 100.0 * (double)s->nlat + 0.999999);
  if (i < 1) i = 1;
  if (i > s->nlat) i = s->nlat;
  return s->lat_ms[i - 1];
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
    else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
    else fputc(ch, f);
  }
  fputc('"', f);
}

static void write_report(FILE *f, steady_t *s, double seconds) {
  qsort(s->lat_ms, s->nlat, sizeof *s->lat_ms, cmp_double);
  fprintf(f,
          "{\"seconds\":%.3f,\"rounds\":%ld,\"requests\":%ld,"
          "\"samples\":%zu,\"errors\":%ld,\"connects\":%ld,\"p50_ms\":%.3f,"
          "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
          "\"first_error\":",
          seconds, s->rounds, s->requests, s->nlat, s->errors, s->connects,
          percentile(s, 50), percentile(s, 90), percentile(s, 99),
          percentile(s, 100));
  json_string(f, s->first_error);
  fputs("}\n", f);
}

/* Prints the report to stdout, or to --out through a temporary file and a
 * rename, so that a reader polling for --out never sees half of it. */
static int report(steady_t *s, double seconds) {
  char tmp[4096];
  if (s->o.out == NULL) {
    write_report(stdout, s, seconds);
    return fflush(stdout);
  }
  snprintf(tmp, sizeof tmp, "%s.tmp", s->o.out);
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return -errno;
  write_report(f, s, seconds);
  if (fclose(f) != 0 || rename(tmp, s->o.out) != 0) return -errno;
  return 0;
}

static int usage(void) {
  fputs("usage: flyq-steady --addr HOST:PORT --topic T [--interval-ms N]\n"
        "                   [--ready-file F] [--stop-file F]\n"
        "                   [--max-seconds N] [--out FILE]\n",
        stderr);
  return 2;
}

static int parse(int argc, char **argv, steady_opts_t *o) {
  static const struct option longopts[] = {
      {"addr", required_argument, 0, 'a'},
      {"topic", required_argument, 0, 't'},
      {"interval-ms", required_argument, 0, 'i'},
      {"ready-file", required_argument, 0, 'r'},
      {"stop-file", required_argument, 0, 's'},
      {"max-seconds", required_argument, 0, 'm'},
      {"out", required_argument, 0, 'o'},
      {0, 0, 0, 0}};
  int ch;
  *o = (steady_opts_t){.interval_ms = 5, .max_seconds = 300};
  while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (ch) {
    case 'a': o->addr = optarg; break;
    case 't': o->topic = optarg; break;
    case 'i': o->interval_ms = strtol(optarg, NULL, 10); break;
    case 'r': o->ready_file = optarg; break;
    case 's': o->stop_file = optarg; break;
    case 'm': o->max_seconds = strtol(optarg, NULL, 10); break;
    case 'o': o->out = optarg; break;
    default: return -1;
    }
  }
  if (o->addr == NULL || o->topic == NULL || optind != argc ||
      o->interval_ms < 0 || o->max_seconds <= 0)
    return -1;
  return 0;
}

int main(int argc, char **argv) {
  steady_t s;
  memset(&s, 0, sizeof s);
  if (parse(argc, argv, &s.o) < 0) return usage();
  flyq_batch_builder_init(&s.bb);
  double start = now_ms(), next = start;
  double end = start + (double)s.o.max_seconds * 1e3;
  while (now_ms() < end && !file_exists(s.o.stop_file)) {
    round_trip(&s);
    next += (double)s.o.interval_ms;
    if (next < now_ms()) next = now_ms(); /* a slow round: no catching up */
    sleep_ms(next - now_ms());
  }
  int rc = report(&s, (now_ms() - start) / 1e3);
  flyq_client_close(s.c);
  flyq_batch_builder_free(&s.bb);
  free(s.lat_ms);
  return rc == 0 ? 0 : 1;
}
