/* The connection threads of `flyq bench` (see bench.h): each has its own
 * client. Produce sends pipelined batches built with the batch builder and
 * times each request from send to acknowledgement (--rate paces the
 * batches); consume fetches its offset ranges and times each fetch.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench.h"

/* One produce request in flight. */
typedef struct request {
  flyq__bench_worker_t *w;
  int64_t sent_ns;
  int32_t msgs;
} request_t;

static void worker_fail(flyq__bench_worker_t *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void worker_fail(flyq__bench_worker_t *w, const char *fmt, ...) {
  va_list ap;
  w->errors++;
  if (w->err[0] != '\0') return;
  va_start(ap, fmt);
  vsnprintf(w->err, sizeof(w->err), fmt, ap);
  va_end(ap);
}

/* Appends one latency sample (dropped when out of memory). */
static void add_latency(flyq__bench_worker_t *w, int64_t ns) {
  if (w->nlat == w->lat_cap) {
    size_t cap = w->lat_cap ? w->lat_cap * 2 : 1024;
    int64_t *l = realloc(w->lat_ns, cap * sizeof(*l));
    if (l == NULL) return;
    w->lat_ns = l;
    w->lat_cap = cap;
  }
  w->lat_ns[w->nlat++] = ns;
}

/* ---- produce ---------------------------------------------------------- */

static void on_ack(flyq_client_t *c, const flyq_produce_result_t *res,
                   void *arg) {
  request_t *req = arg;
  flyq__bench_worker_t *w = req->w;
  (void)c;
  add_latency(w, flyq__cli_now_ns() - req->sent_ns);
  if (res->err == 0) w->msgs += req->msgs;
  else
    worker_fail(w, "producing to %s[%d]: %s: %s", res->topic, (int)w->partition,
                res->error_code ? flyq_wire_errname(res->error_code)
                                : flyq_strerror(res->err),
                res->error_message ? res->error_message : "");
  free(req);
}

/* With --rate: serves responses (so that their latency is measured when
 * they arrive) until the message after the first `sent` ones is due. Waits
 * in whole milliseconds rather than spinning: a batch may leave up to 1 ms
 * late, which the schedule (absolute due times) makes up for. */
static void pace(flyq__bench_worker_t *w, int64_t start_ns, int64_t sent) {
  int64_t due;
  if (w->rate <= 0) return;
  due = start_ns + (int64_t)((double)sent / w->rate * 1e9);
  for (;;) {
    int64_t left = due - flyq__cli_now_ns();
    if (left <= 0) return;
    if (flyq_client_poll(w->cli.client, (int)((left + 999999) / 1000000)) < 0)
      return;
  }
}

/* Builds one batch of n messages and sends it. Returns 0 or an error
 * (recorded). */
static int send_batch(flyq__bench_worker_t *w, flyq_batch_builder_t *bb,
                      const uint8_t *value, int32_t n) {
  const flyq__bench_t *b = w->b;
  flyq_client_t *c = w->cli.client;
  int64_t ts = flyq_now_ms();
  const uint8_t *bytes;
  size_t len;
  request_t *req;
  int r = 0;
  flyq_batch_builder_reset(bb);
  for (int32_t i = 0; i < n && r == 0; i++)
    r = flyq_batch_builder_add(bb, ts, NULL, 0, value, (int32_t)b->size, NULL,
                               0);
  if (r == 0) r = flyq_batch_builder_finish(bb, &bytes, &len);
  while (r == 0 && flyq_client_inflight(c) >= (size_t)b->inflight)
    r = flyq_client_poll(c, -1) < 0 ? FLYQ_ERR_CLOSED : 0;
  req = r == 0 ? malloc(sizeof(*req)) : NULL;
  if (req == NULL) {
    worker_fail(w, "building a batch: %s", flyq_strerror(r ? r : -ENOMEM));
    return r ? r : -ENOMEM;
  }
  *req = (request_t){w, flyq__cli_now_ns(), n};
  r = flyq_client_produce_async(c, b->topic, w->partition, b->acks, bytes, len,
                                on_ack, req);
  if (r < 0) {
    free(req);
    worker_fail(w, "%s", flyq_client_errmsg(c));
  }
  return r;
}

static void run_produce(flyq__bench_worker_t *w, int64_t start_ns) {
  const flyq__bench_t *b = w->b;
  flyq_batch_builder_t bb;
  uint8_t *value = malloc(b->size ? (size_t)b->size : 1);
  int64_t sent = 0;
  if (value == NULL) {
    worker_fail(w, "out of memory");
    return;
  }
  for (int64_t i = 0; i < b->size; i++) value[i] = (uint8_t)('a' + i % 26);
  flyq_batch_builder_init(&bb);
  while (sent < w->count) {
    int32_t n =
        (int32_t)(w->count - sent < b->batch ? w->count - sent : b->batch);
    pace(w, start_ns, sent);
    if (send_batch(w, &bb, value, n) < 0) break;
    sent += n;
  }
  if (flyq_client_connected(w->cli.client) &&
      flyq_client_flush(w->cli.client, -1) < 0)
    worker_fail(w, "%s", flyq_client_errmsg(w->cli.client));
  flyq_batch_builder_free(&bb);
  free(value);
}

/* ---- consume ---------------------------------------------------------- */

/* Counts the records of one fetch result in [*offset, to), advancing
 * *offset. Returns 0 or an error (recorded). */
static int count_records(flyq__bench_worker_t *w,
                         const flyq_fetch_result_t *res, int64_t *offset,
                         int64_t to) {
  flyq_fetch_iter_t it;
  flyq_record_t rec;
  int r;
  flyq_fetch_iter_init(&it, res->records, res->records_len, *offset);
  while ((r = flyq_fetch_iter_next(&it, &rec)) == 1 && rec.offset < to) {
    w->msgs++;
    w->bytes += rec.value_len > 0 ? rec.value_len : 0;
    *offset = rec.offset + 1;
  }
  if (r < 0) {
    worker_fail(w, "offset %lld: %s", (long long)*offset, flyq_strerror(r));
    return r;
  }
  if (r == 0 && it.next_offset > *offset)
    *offset = it.next_offset < to ? it.next_offset : to;
  return 0;
}

/* Reads one range. Stops early (without error) when the log ends before
 * rg->to. Returns 0 or an error (recorded). */
static int consume_range(flyq__bench_worker_t *w,
                         const flyq__bench_range_t *rg) {
  flyq_fetch_result_t res;
  int64_t off = rg->from;
  while (off < rg->to) {
    int64_t before = off, t0 = flyq__cli_now_ns();
    int r = flyq_client_fetch(w->cli.client, w->b->topic, rg->partition, off,
                              FLYQ_BENCH_FETCH_BYTES, 0, 1, &res);
    add_latency(w, flyq__cli_now_ns() - t0);
    if (r < 0) {
      worker_fail(w, "%s", flyq_client_errmsg(w->cli.client));
      return r;
    }
    if (count_records(w, &res, &off, rg->to) < 0) return -1;
    if (off == before && off >= res.high_watermark) break;
  }
  return 0;
}

static void run_consume(flyq__bench_worker_t *w) {
  for (size_t i = 0; i < w->nranges; i++)
    if (consume_range(w, &w->ranges[i]) < 0) return;
}

/* ---- threads ---------------------------------------------------------- */

static void *worker_main(void *arg) {
  flyq__bench_worker_t *w = arg;
  flyq__bench_t *b = w->b;
  flyq_client_options_t opts;
  int ok;
  flyq_client_options_init(&opts);
  if (!b->consume) opts.max_inflight = (uint32_t)b->inflight;
  opts.max_frame_bytes = 2 * FLYQ_BENCH_FETCH_BYTES;
  ok = flyq__cli_connect(&w->cli, &opts) == 0; /* reports its error */
  pthread_barrier_wait(&b->ready);
  pthread_barrier_wait(&b->go); /* paced from b->start_ns, as timed */
  if (!ok) {
    w->errors++;
    return NULL;
  }
  if (b->consume) run_consume(w);
  else run_produce(w, b->start_ns);
  flyq__cli_close(&w->cli);
  return NULL;
}

int flyq__bench_run(flyq__bench_t *b) {
  int64_t started = 0;
  int r = 0;
  if (pthread_barrier_init(&b->ready, NULL, (unsigned)b->connections + 1))
    return 1;
  if (pthread_barrier_init(&b->go, NULL, (unsigned)b->connections + 1)) {
    pthread_barrier_destroy(&b->ready);
    return 1;
  }
  for (; started < b->connections && r == 0; started++) {
    flyq__bench_worker_t *w = &b->workers[started];
    w->cli = b->cli;
    w->cli.client = NULL;
    r = pthread_create(&w->thread, NULL, worker_main, w);
  }
  if (r != 0) {
    flyq__cli_error(&b->cli, "starting threads: %s", strerror(r));
    exit(1); /* the started threads wait on the barrier forever */
  }
  pthread_barrier_wait(&b->ready);
  b->start_ns = flyq__cli_now_ns();
  pthread_barrier_wait(&b->go);
  for (int64_t i = 0; i < started; i++)
    pthread_join(b->workers[i].thread, NULL);
  b->end_ns = flyq__cli_now_ns();
  pthread_barrier_destroy(&b->ready);
  pthread_barrier_destroy(&b->go);
  return 0;
}
