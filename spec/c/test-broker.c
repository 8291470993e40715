/* Tests of the broker API (include/flyq/broker.h): a real libuv loop and a
 * real store in a temporary directory, no sockets. Waits are always for a
 * condition, driven by the loop (uv_run once at a time) with a deadline.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "flyq/batch.h"
#include "flyq/broker.h"
#include "flyq/partition.h"
#include "test.h"

typedef struct env {
  uv_loop_t loop;
  flyq_config_t cfg;
  flyq_store_t *store; /* owned by the broker; read-only use in checks */
  flyq_broker_t *b;
  int closed;
  int close_status;
} env_t;

static void cfg_default(flyq_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  flyq_log_config_default(&cfg->log);
  cfg->auto_create_topics = 1;
  cfg->default_partitions = 1;
  cfg->groups_flush_interval_ms = 1000;
  cfg->retention_check_interval_ms = 60000;
  cfg->max_topics = 10000;
}

static void env_open(env_t *e, const flyq_config_t *cfg) {
  char err[256];
  memset(e, 0, sizeof *e);
  if (cfg) e->cfg = *cfg; else cfg_default(&e->cfg);
  CHECK_OK(uv_loop_init(&e->loop));
  CHECK_OK(flyq_store_open(flyq_test_tmpdir(), &e->cfg.log, &e->store, err,
                           sizeof err));
  CHECK_OK(flyq_broker_new(&e->loop, &e->cfg, e->store, &e->b));
}

/* Runs the loop until *flag is non-zero or ms pass; returns the flag. */
static int run_until(env_t *e, const int *flag, uint64_t ms) {
  uv_update_time(&e->loop);
  uint64_t end = uv_now(&e->loop) + ms;
  while (!*flag && uv_now(&e->loop) < end) uv_run(&e->loop, UV_RUN_ONCE);
  return *flag;
}

static void on_closed(int status, void *arg) {
  env_t *e = arg;
  e->closed = 1;
  e->close_status = status;
}

static void env_close(env_t *e) {
  CHECK_OK(flyq_broker_close(e->b, on_closed, e));
  CHECK(run_until(e, &e->closed, 10000));
  CHECK_OK(e->close_status);
  CHECK_EQ(uv_run(&e->loop, UV_RUN_NOWAIT), 0); /* no handle left behind */
  CHECK_OK(uv_loop_close(&e->loop));
}

static flyq_log_t *log_of(env_t *e, const char *topic, int32_t p) {
  flyq_topic_t *t = flyq_store_topic(e->store, topic);
  return t ? flyq_topic_log(t, p) : NULL;
}

/* ---- Batches ---------------------------------------------------------- */

/* n records; key "<key><i % nkeys>" or null when key is NULL; 100-byte
 * values whose first bytes say "v<i>". Returns a malloc'd copy. */
static uint8_t *make_batch(int n, const char *key, int nkeys, size_t *len) {
  flyq_batch_builder_t bb;
  flyq_batch_builder_init(&bb);
  for (int i = 0; i < n; i++) {
    char k[32], v[100];
    memset(v, 'x', sizeof v);
    snprintf(v, sizeof v, "v%d", i);
    int klen = key ? snprintf(k, sizeof k, "%s%d", key, i % nkeys) : -1;
    flyq_record_header_t h = {(const uint8_t *)"h", 1, (const uint8_t *)"hv", 2};
    CHECK_OK(flyq_batch_builder_add(&bb, 1700000000000 + i, key ? k : NULL,
                                    klen, v, sizeof v, &h, 1));
  }
  const uint8_t *data;
  CHECK_OK(flyq_batch_builder_finish(&bb, &data, len));
  uint8_t *copy = malloc(*len);
  memcpy(copy, data, *len);
  flyq_batch_builder_free(&bb);
  return copy;
}

/* ---- Callbacks -------------------------------------------------------- */

typedef struct got {
  env_t *e;
  int calls;
  size_t nparts;
  flyq_broker_produce_part_t parts[16];
  int durable[16]; /* flushed offset past last_offset inside the callback */
  flyq_broker_fetch_result_t *fetched;
  uint64_t at_ms;
} got_t;

static void on_produce(const flyq_broker_produce_result_t *res, void *arg) {
  got_t *g = arg;
  g->calls++;
  g->nparts = res->nparts;
  for (size_t i = 0; i < res->nparts && i < 16; i++) {
    g->parts[i] = res->parts[i];
    flyq_log_t *log = log_of(g->e, res->topic, res->parts[i].partition);
    g->durable[i] = log && flyq_log_flushed_offset(log) > res->parts[i].last_offset;
  }
}

static void on_fetch(flyq_broker_fetch_result_t *res, void *arg) {
  got_t *g = arg;
  g->calls++;
  g->fetched = res;
  g->at_ms = uv_now(&g->e->loop);
}

static int produce(env_t *e, const char *topic, int32_t p, int acks, int n,
                   const char *key, got_t *g) {
  size_t len;
  uint8_t *buf = make_batch(n, key, 4, &len);
  int rc = flyq_broker_produce(e->b, topic, p, acks, buf, len, 5000,
                               on_produce, g);
  free(buf);
  return rc;
}

/* ---- Tests ------------------------------------------------------------ */

TEST(produce_acks1_then_fetch) {
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(produce(&e, "t", 0, FLYQ_ACKS_LEADER, 10, "k", &g));
  CHECK_EQ(g.calls, 1); /* synchronous for acks=1 */
  CHECK_EQ(g.nparts, 1);
  CHECK_OK(g.parts[0].err);
  CHECK_EQ(g.parts[0].base_offset, 0);
  CHECK_EQ(g.parts[0].last_offset, 9);
  CHECK_OK(produce(&e, "t", 0, FLYQ_ACKS_NONE, 5, NULL, &g));
  CHECK_EQ(g.parts[0].base_offset, 10);
  CHECK_EQ(g.parts[0].last_offset, 14);

  got_t f = {.e = &e};
  flyq_fetch_part_req_t pr = {"t", 0, 10, 1 << 20};
  flyq_fetch_req_t req = {&pr, 1, 1 << 20, 1, 1000};
  flyq_fetch_handle_t *h = (void *)1;
  CHECK_OK(flyq_broker_fetch(e.b, &req, on_fetch, &f, &h));
  CHECK_EQ(f.calls, 1);
  CHECK(h == NULL);
  flyq_fetch_part_t *fp = &f.fetched->parts[0];
  CHECK_OK(fp->err);
  CHECK_EQ(fp->high_watermark, 15);
  CHECK_EQ(fp->log_start_offset, 0);
  CHECK_EQ(fp->slice.base_offset, 10);
  CHECK(fp->slice.len > FLYQ_BATCH_HEADER_SIZE);
  uint8_t hdr[8];
  CHECK_EQ(pread(fp->slice.fd, hdr, 8, (off_t)fp->slice.pos), 8);
  CHECK_EQ(hdr[7], 10); /* stored base offset, big-endian */
  CHECK_EQ(f.fetched->bytes, fp->slice.len);
  flyq_broker_fetch_result_free(f.fetched);

  flyq_broker_stats_t st;
  flyq_broker_stats(e.b, &st);
  CHECK_EQ(st.produced_records, 15);
  CHECK_EQ(st.produce_requests, 2);
  CHECK_EQ(st.fetch_requests, 1);
  CHECK_EQ(st.topics, 1);
  env_close(&e);
}

TEST(produce_acks_all_waits_for_fsync) {
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(produce(&e, "d", 0, FLYQ_ACKS_ALL, 20, "k", &g));
  CHECK_EQ(g.calls, 0); /* never before the fsync */
  got_t g2 = {.e = &e};
  CHECK_OK(produce(&e, "d", 0, FLYQ_ACKS_ALL, 20, NULL, &g2));
  CHECK(run_until(&e, &g.calls, 5000));
  CHECK(run_until(&e, &g2.calls, 5000));
  CHECK_EQ(g.calls, 1);
  CHECK_OK(g.parts[0].err);
  CHECK_EQ(g.parts[0].last_offset, 19);
  CHECK(g.durable[0]);
  CHECK_OK(g2.parts[0].err);
  CHECK_EQ(g2.parts[0].base_offset, 20);
  CHECK(g2.durable[0]);
  flyq_broker_stats_t st;
  flyq_broker_stats(e.b, &st);
  CHECK(st.fsyncs >= 1);
  CHECK_EQ(st.pending_produces, 0);
  env_close(&e);
}

TEST(acks_all_answered_at_close) {
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(produce(&e, "d", 0, FLYQ_ACKS_ALL, 5, NULL, &g));
  CHECK_OK(flyq_broker_close(e.b, on_closed, &e));
  CHECK_EQ(flyq_broker_close(e.b, on_closed, &e), FLYQ_ERR_CLOSED);
  CHECK_EQ(produce(&e, "d", 0, FLYQ_ACKS_LEADER, 1, NULL, &g), FLYQ_ERR_CLOSED);
  CHECK(run_until(&e, &e.closed, 10000));
  CHECK_EQ(g.calls, 1);
  CHECK_OK(g.parts[0].err);
  CHECK_OK(e.close_status);
  CHECK_OK(uv_loop_close(&e.loop));
}

typedef struct blocker {
  uv_work_t work;
  uv_sem_t *sem;
  int *done;
} blocker_t;

static void block_work(uv_work_t *w) {
  uv_sem_wait(((blocker_t *)w)->sem);
}

static void block_done(uv_work_t *w, int status) {
  (void)status;
  ++*((blocker_t *)w)->done;
}

/* Every thread-pool thread is kept busy, so the fsync cannot run before the
 * timeout; the records are stored, their durability is not confirmed. */
TEST(acks_all_timeout) {
  const char *env = getenv("UV_THREADPOOL_SIZE");
  int n = env && atoi(env) > 0 ? atoi(env) : 4, done = 0;
  blocker_t *bl = calloc((size_t)n, sizeof *bl);
  uv_sem_t sem;
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(uv_sem_init(&sem, 0));
  for (int i = 0; i < n; i++) {
    bl[i].sem = &sem;
    bl[i].done = &done;
    CHECK_OK(uv_queue_work(&e.loop, &bl[i].work, block_work, block_done));
  }
  size_t len;
  uint8_t *buf = make_batch(5, NULL, 1, &len);
  uv_update_time(&e.loop);
  uint64_t start = uv_now(&e.loop);
  CHECK_OK(flyq_broker_produce(e.b, "slow", 0, FLYQ_ACKS_ALL, buf, len, 50,
                               on_produce, &g));
  free(buf);
  int answered = run_until(&e, &g.calls, 5000);
  uint64_t waited = uv_now(&e.loop) - start;
  int64_t flushed = flyq_log_flushed_offset(log_of(&e, "slow", 0));
  for (int i = 0; i < n; i++) uv_sem_post(&sem); /* before any CHECK */
  while (done < n) uv_run(&e.loop, UV_RUN_ONCE);
  CHECK(answered);
  CHECK(waited >= 50);
  CHECK_EQ(g.parts[0].err, FLYQ_ERR_TIMEOUT);
  CHECK_EQ(g.parts[0].base_offset, -1);
  CHECK_EQ(flushed, 0);
  CHECK_EQ(flyq_log_end_offset(log_of(&e, "slow", 0)), 5);
  env_close(&e);
  CHECK_EQ(g.calls, 1);
  uv_sem_destroy(&sem);
  free(bl);
}

static flyq_config_t cfg_partitions(int32_t n) {
  flyq_config_t cfg;
  cfg_default(&cfg);
  cfg.default_partitions = n;
  return cfg;
}

/* Reads every record of partition p; calls check for each. */
static int count_records(env_t *e, const char *topic, int32_t p,
                         void (*check)(const flyq_record_t *, void *),
                         void *arg) {
  uint8_t *buf;
  size_t len;
  int n = 0;
  flyq_log_t *log = log_of(e, topic, p);
  if (flyq_log_end_offset(log) == 0) return 0;
  CHECK_OK(flyq_log_read_copy(log, 0, 1u << 30, &buf, &len));
  for (size_t off = 0; off < len;) {
    size_t size = (size_t)flyq_batch_size(buf + off, len - off);
    flyq_record_iter_t it;
    flyq_record_t rec;
    CHECK_OK(flyq_record_iter_init(&it, buf + off, size));
    while (flyq_record_iter_next(&it, &rec) == 1) {
      if (check) check(&rec, arg);
      n++;
    }
    off += size;
  }
  free(buf);
  return n;
}

static void check_keyed(const flyq_record_t *rec, void *arg) {
  int32_t p = *(int32_t *)arg;
  const flyq_record_header_t want = {(const uint8_t *)"h", 1,
                                     (const uint8_t *)"hv", 2};
  flyq_record_header_t h;
  const uint8_t *hp = NULL;
  CHECK_EQ(flyq_partition_for_key(rec->key, (size_t)rec->key_len, 3), p);
  CHECK_EQ(rec->value_len, 100);
  CHECK(rec->timestamp >= 1700000000000 && rec->timestamp < 1700000000100);
  CHECK_EQ(rec->header_count, 1);
  CHECK_EQ(flyq_record_next_header(rec, &hp, &h), 1);
  CHECK_EQ(h.key_len, want.key_len);
  CHECK_MEM(h.value, want.value, 2);
}

TEST(partitioner_keyed_and_round_robin) {
  flyq_config_t cfg = cfg_partitions(3);
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, &cfg);
  CHECK_OK(produce(&e, "rr", FLYQ_PARTITION_ANY, FLYQ_ACKS_LEADER, 9, NULL, &g));
  CHECK_EQ(g.calls, 1);
  CHECK_EQ(g.nparts, 3);
  for (int32_t p = 0; p < 3; p++) {
    CHECK_EQ(g.parts[p].partition, p);
    CHECK_OK(g.parts[p].err);
    CHECK_EQ(g.parts[p].last_offset - g.parts[p].base_offset + 1, 3);
    CHECK_EQ(count_records(&e, "rr", p, NULL, NULL), 3);
  }
  /* 40 keyed records over 4 distinct keys: each lands where the key says. */
  CHECK_OK(produce(&e, "kk", FLYQ_PARTITION_ANY, FLYQ_ACKS_LEADER, 40, "key-",
                   &g));
  int total = 0;
  for (int32_t p = 0; p < 3; p++) total += count_records(&e, "kk", p, check_keyed, &p);
  CHECK_EQ(total, 40);
  /* The same key again goes to the same partition. */
  size_t len;
  uint8_t *buf = make_batch(3, "key-2", 1, &len); /* keys "key-20" */
  int32_t want = flyq_partition_for_key("key-20", 6, 3);
  CHECK_OK(flyq_broker_produce(e.b, "kk", FLYQ_PARTITION_ANY, 1, buf, len, 0,
                               on_produce, &g));
  free(buf);
  CHECK_EQ(g.nparts, 1);
  CHECK_EQ(g.parts[0].partition, want);
  env_close(&e);
}

TEST(partitioner_acks_all) {
  flyq_config_t cfg = cfg_partitions(4);
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, &cfg);
  CHECK_OK(produce(&e, "x", FLYQ_PARTITION_ANY, FLYQ_ACKS_ALL, 8, NULL, &g));
  CHECK_EQ(g.calls, 0);
  CHECK(run_until(&e, &g.calls, 5000));
  CHECK_EQ(g.nparts, 4);
  for (int i = 0; i < 4; i++) {
    CHECK_OK(g.parts[i].err);
    CHECK(g.durable[i]);
  }
  env_close(&e);
}

TEST(auto_create_and_topic_limit) {
  flyq_config_t cfg;
  cfg_default(&cfg);
  cfg.max_topics = 2;
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, &cfg);
  CHECK_OK(produce(&e, "a", 0, 1, 1, NULL, &g));
  CHECK_OK(produce(&e, "b", 0, 1, 1, NULL, &g));
  CHECK_EQ(g.calls, 2);
  CHECK_EQ(produce(&e, "c", 0, 1, 1, NULL, &g), FLYQ_ERR_LIMIT);
  CHECK_EQ(g.calls, 2);
  CHECK(flyq_store_topic(e.store, "c") == NULL);
  CHECK_EQ(flyq_broker_create_topic(e.b, "c", 1, NULL, 0, NULL, 0),
           FLYQ_ERR_LIMIT);
  CHECK_EQ(produce(&e, "a", 1, 1, 1, NULL, &g), FLYQ_ERR_UNKNOWN_PARTITION);
  CHECK_EQ(produce(&e, "__x", 0, 1, 1, NULL, &g), FLYQ_ERR_INVALID_NAME);
  env_close(&e);

  cfg.auto_create_topics = 0;
  env_open(&e, &cfg);
  CHECK_EQ(produce(&e, "z", 0, 1, 1, NULL, &g), FLYQ_ERR_UNKNOWN_TOPIC);
  CHECK_OK(produce(&e, "a", 0, 1, 1, NULL, &g)); /* reopened from disk */
  CHECK_EQ(g.parts[0].base_offset, 1);
  env_close(&e);
}

static void produce_later(uv_timer_t *t) {
  env_t *e = t->data;
  got_t g = {.e = e};
  CHECK_OK(produce(e, "lp", 0, 1, 3, NULL, &g));
  uv_close((uv_handle_t *)t, NULL);
}

TEST(long_poll_wakes_on_produce) {
  env_t e;
  got_t f = {.e = &e};
  uv_timer_t t;
  env_open(&e, NULL);
  CHECK_OK(flyq_broker_create_topic(e.b, "lp", 1, NULL, 0, NULL, 0));
  flyq_fetch_part_req_t pr = {"lp", 0, 0, 1 << 20};
  flyq_fetch_req_t req = {&pr, 1, 1 << 20, 1, 10000};
  flyq_fetch_handle_t *h = NULL;
  uv_update_time(&e.loop);
  uint64_t start = uv_now(&e.loop);
  CHECK_OK(flyq_broker_fetch(e.b, &req, on_fetch, &f, &h));
  CHECK_EQ(f.calls, 0);
  CHECK(h != NULL);
  flyq_broker_stats_t st;
  flyq_broker_stats(e.b, &st);
  CHECK_EQ(st.parked_fetches, 1);
  uv_timer_init(&e.loop, &t);
  t.data = &e;
  uv_timer_start(&t, produce_later, 20, 0);
  CHECK(run_until(&e, &f.calls, 5000));
  CHECK(f.at_ms - start < 2000); /* well before max_wait_ms */
  CHECK(f.at_ms - start >= 20);
  CHECK_OK(f.fetched->parts[0].err);
  CHECK(f.fetched->parts[0].slice.len > 0);
  CHECK_EQ(f.fetched->parts[0].high_watermark, 3);
  flyq_broker_fetch_result_free(f.fetched);
  env_close(&e);
}

TEST(long_poll_times_out_empty) {
  env_t e;
  got_t f = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(flyq_broker_create_topic(e.b, "lp", 2, NULL, 0, NULL, 0));
  flyq_fetch_part_req_t pr[2] = {{"lp", 0, 0, 1 << 20}, {"lp", 1, 0, 1 << 20}};
  flyq_fetch_req_t req = {pr, 2, 1 << 20, 1, 150};
  uv_update_time(&e.loop);
  uint64_t start = uv_now(&e.loop);
  CHECK_OK(flyq_broker_fetch(e.b, &req, on_fetch, &f, NULL));
  CHECK_EQ(f.calls, 0);
  CHECK(run_until(&e, &f.calls, 5000));
  CHECK(f.at_ms - start >= 150);
  CHECK_EQ(f.fetched->nparts, 2);
  CHECK_EQ(f.fetched->bytes, 0);
  for (int i = 0; i < 2; i++) {
    CHECK_OK(f.fetched->parts[i].err);
    CHECK_EQ(f.fetched->parts[i].slice.len, 0);
    CHECK_EQ(f.fetched->parts[i].high_watermark, 0);
  }
  flyq_broker_fetch_result_free(f.fetched);
  env_close(&e);
}

TEST(long_poll_cancel_and_close) {
  env_t e;
  got_t f1 = {.e = &e}, f2 = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(flyq_broker_create_topic(e.b, "lp", 1, NULL, 0, NULL, 0));
  flyq_fetch_part_req_t pr = {"lp", 0, 0, 1 << 20};
  flyq_fetch_req_t req = {&pr, 1, 1 << 20, 1, 60000};
  flyq_fetch_handle_t *h1, *h2;
  CHECK_OK(flyq_broker_fetch(e.b, &req, on_fetch, &f1, &h1));
  CHECK_OK(flyq_broker_fetch(e.b, &req, on_fetch, &f2, &h2));
  flyq_broker_fetch_cancel(e.b, h1);
  got_t g = {.e = &e};
  CHECK_OK(produce(&e, "lp", 0, 1, 1, NULL, &g));
  CHECK(run_until(&e, &f2.calls, 5000));
  CHECK_EQ(f1.calls, 0);
  flyq_broker_fetch_result_free(f2.fetched);
  /* A fetch parked at close is answered with what there is. */
  got_t f3 = {.e = &e};
  pr.offset = 1;
  CHECK_OK(flyq_broker_fetch(e.b, &req, on_fetch, &f3, NULL));
  CHECK_EQ(f3.calls, 0);
  env_close(&e);
  CHECK_EQ(f3.calls, 1);
  CHECK_OK(f3.fetched->parts[0].err);
  CHECK_EQ(f3.fetched->bytes, 0);
  flyq_broker_fetch_result_free(f3.fetched);
  CHECK_EQ(f1.calls, 0);
}

TEST(delete_topic_answers_waiters) {
  env_t e;
  got_t f = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(flyq_broker_create_topic(e.b, "gone", 1, NULL, 0, NULL, 0));
  flyq_fetch_part_req_t pr = {"gone", 0, 0, 1 << 20};
  flyq_fetch_req_t req = {&pr, 1, 1 << 20, 1, 60000};
  CHECK_OK(flyq_broker_fetch(e.b, &req, on_fetch, &f, NULL));
  CHECK_OK(flyq_broker_delete_topic(e.b, "gone"));
  CHECK_EQ(f.calls, 0); /* answered from the loop, not inside delete */
  CHECK(run_until(&e, &f.calls, 5000));
  CHECK_EQ(f.fetched->parts[0].err, FLYQ_ERR_UNKNOWN_TOPIC);
  flyq_broker_fetch_result_free(f.fetched);
  CHECK_EQ(flyq_broker_delete_topic(e.b, "gone"), FLYQ_ERR_UNKNOWN_TOPIC);
  got_t g = {.e = &e};
  CHECK_OK(produce(&e, "gone", 0, FLYQ_ACKS_ALL, 2, NULL, &g));
  CHECK_OK(flyq_broker_delete_topic(e.b, "gone")); /* while the fsync runs */
  CHECK(run_until(&e, &g.calls, 5000));
  CHECK_EQ(g.parts[0].err, FLYQ_ERR_UNKNOWN_TOPIC);
  env_close(&e);
}

TEST(fetch_errors) {
  env_t e;
  got_t f = {.e = &e}, g = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(produce(&e, "t", 0, 1, 5, NULL, &g));
  flyq_fetch_part_req_t pr[3] = {
      {"t", 0, 6, 1000}, {"nope", 0, 0, 1000}, {"t", 7, 0, 1000}};
  flyq_fetch_req_t req = {pr, 3, 1 << 20, 1, 5000};
  CHECK_OK(flyq_broker_fetch(e.b, &req, on_fetch, &f, NULL));
  CHECK_EQ(f.calls, 1); /* errors answer at once */
  CHECK_EQ(f.fetched->parts[0].err, FLYQ_ERR_OFFSET_OUT_OF_RANGE);
  CHECK_EQ(f.fetched->parts[0].high_watermark, 5);
  CHECK_EQ(f.fetched->parts[1].err, FLYQ_ERR_UNKNOWN_TOPIC);
  CHECK_EQ(f.fetched->parts[2].err, FLYQ_ERR_UNKNOWN_PARTITION);
  CHECK_EQ(f.fetched->bytes, 0);
  flyq_broker_fetch_result_free(f.fetched);
  pr[0].max_bytes = -1;
  CHECK_EQ(flyq_broker_fetch(e.b, &req, on_fetch, &f, NULL),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(f.calls, 1);
  env_close(&e);
}

TEST(corrupt_batch_stores_nothing) {
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, NULL);
  CHECK_OK(produce(&e, "c", 0, 1, 3, NULL, &g));
  size_t l1, l2;
  uint8_t *b1 = make_batch(4, NULL, 1, &l1), *b2 = make_batch(4, NULL, 1, &l2);
  uint8_t *two = malloc(l1 + l2);
  memcpy(two, b1, l1);
  memcpy(two + l1, b2, l2);
  two[l1 + l2 - 5] ^= 0x55; /* second batch's CRC no longer matches */
  for (int32_t p = 0; p >= FLYQ_PARTITION_ANY; p--) {
    CHECK_EQ(flyq_broker_produce(e.b, "c", p, 1, two, l1 + l2, 0, on_produce, &g),
             FLYQ_ERR_CORRUPT);
    CHECK_EQ(flyq_broker_produce(e.b, "c", p, 1, two, l1 - 3, 0, on_produce, &g),
             FLYQ_ERR_TRUNCATED);
  }
  CHECK_EQ(g.calls, 1);
  CHECK_EQ(flyq_log_end_offset(log_of(&e, "c", 0)), 3);
  CHECK_EQ(count_records(&e, "c", 0, NULL, NULL), 3);
  flyq_broker_stats_t st;
  flyq_broker_stats(e.b, &st);
  CHECK_EQ(st.errors, 4);
  free(b1);
  free(b2);
  free(two);
  env_close(&e);
}

/* The bytes stored at offset 0 of topic/p, read through a slice (no CRC
 * check for bytes appended since the open), must be want. */
static void check_stored(env_t *e, const char *topic, const uint8_t *want,
                         size_t len) {
  flyq_slice_t s;
  CHECK_OK(flyq_log_read(log_of(e, topic, 0), 0, 1, &s));
  CHECK_EQ(s.len, len);
  uint8_t *got = malloc(len);
  CHECK(pread(s.fd, got, len, (off_t)s.pos) == (ssize_t)len);
  CHECK_MEM(got, want, len);
  free(got);
  flyq_slice_release(&s);
}

TEST(validated_group_is_not_checked_again) {
  env_t e;
  got_t g = {.e = &e};
  flyq_config_t cfg = cfg_partitions(2);
  env_open(&e, &cfg);
  size_t len;
  uint8_t *bad = make_batch(4, NULL, 1, &len);
  bad[FLYQ_BATCH_CRC_START - 1] ^= 0x01; /* only the CRC is wrong */
  flyq_broker_produce_opts_t o = {FLYQ_ACKS_LEADER, 0, NULL, NULL, 0};
  flyq_broker_produce_group_t one = {.topic = "one", .partition = 0,
                                     .batches = bad, .len = len};
  flyq_broker_produce_group_t any = {.topic = "any",
                                     .partition = FLYQ_PARTITION_ANY,
                                     .batches = bad, .len = len};
  CHECK_EQ(flyq_broker_produce_groups(e.b, &one, 1, &o, on_produce, &g),
           FLYQ_ERR_CORRUPT);
  CHECK_EQ(flyq_broker_produce_groups(e.b, &any, 1, &o, on_produce, &g),
           FLYQ_ERR_CORRUPT);
  CHECK_EQ(g.calls, 0);
  one.validated = any.validated = 1;
  CHECK_OK(flyq_broker_produce_groups(e.b, &one, 1, &o, on_produce, &g));
  CHECK_EQ(g.calls, 1);
  CHECK_OK(g.parts[0].err);
  CHECK_EQ(g.parts[0].last_offset, 3);
  check_stored(&e, "one", bad, len); /* as it came, wrong CRC and all */
  CHECK_OK(flyq_broker_produce_groups(e.b, &any, 1, &o, on_produce, &g));
  CHECK_EQ(g.calls, 2);
  CHECK_EQ(count_records(&e, "any", 0, NULL, NULL) +
               count_records(&e, "any", 1, NULL, NULL),
           4); /* re-batched: rebuilt batches with good CRCs */
  free(bad);
  env_close(&e);
}

TEST(groups_stay_all_or_nothing_with_validated) {
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, NULL);
  size_t l1, l2;
  uint8_t *b1 = make_batch(3, NULL, 1, &l1), *b2 = make_batch(3, NULL, 1, &l2);
  flyq_broker_produce_opts_t o = {FLYQ_ACKS_LEADER, 0, NULL, NULL, 0};
  flyq_broker_produce_group_t gs[2] = {{"x", 0, b1, l1, 1, 0},
                                       {"y", 0, b2, l2, 0, 0}};
  b2[l2 - 5] ^= 0x55; /* unvouched and damaged: refused, nothing stored */
  CHECK_EQ(flyq_broker_produce_groups(e.b, gs, 2, &o, on_produce, &g),
           FLYQ_ERR_CORRUPT);
  b2[l2 - 5] ^= 0x55;
  gs[1].validated = 1;
  gs[1].len = l2 - 1; /* vouched for, but its sizes do not add up */
  CHECK_EQ(flyq_broker_produce_groups(e.b, gs, 2, &o, on_produce, &g),
           FLYQ_ERR_TRUNCATED);
  CHECK_EQ(g.calls, 0);
  CHECK_EQ(flyq_log_end_offset(log_of(&e, "x", 0)), 0);
  gs[1].len = l2;
  CHECK_OK(flyq_broker_produce_groups(e.b, gs, 2, &o, on_produce, &g));
  CHECK_EQ(g.calls, 2);
  CHECK_EQ(count_records(&e, "x", 0, NULL, NULL), 3);
  CHECK_EQ(count_records(&e, "y", 0, NULL, NULL), 3);
  free(b1);
  free(b2);
  env_close(&e);
}

static int file_exists(const char *path) {
  struct stat s;
  return stat(path, &s) == 0;
}

typedef struct file_wait {
  uv_timer_t timer;
  const char *path;
  int found;
} file_wait_t;

static void poll_file(uv_timer_t *t) {
  file_wait_t *w = t->data;
  if (file_exists(w->path)) w->found = 1;
}

static int count_offsets(const char *topic, int32_t p, int64_t off, void *arg) {
  (void)topic, (void)p, (void)off;
  ++*(int *)arg;
  return 0;
}

static int count_groups(const char *group, void *arg) {
  (void)group;
  ++*(int *)arg;
  return 0;
}

TEST(offsets_commit_fetch_and_flush_timer) {
  flyq_config_t cfg;
  cfg_default(&cfg);
  cfg.groups_flush_interval_ms = 30;
  env_t e;
  env_open(&e, &cfg);
  CHECK_OK(flyq_broker_create_topic(e.b, "t", 2, NULL, 0, NULL, 0));
  int64_t off = 99;
  CHECK_OK(flyq_broker_fetch_offset(e.b, "g1", "t", 0, &off));
  CHECK_EQ(off, -1);
  CHECK_OK(flyq_broker_commit_offset(e.b, "g1", "t", 0, 42));
  CHECK_OK(flyq_broker_commit_offset(e.b, "g1", "t", 1, 7));
  CHECK_EQ(flyq_broker_commit_offset(e.b, "g1", "t", 2, 7),
           FLYQ_ERR_UNKNOWN_PARTITION);
  CHECK_EQ(flyq_broker_commit_offset(e.b, "g1", "u", 0, 7),
           FLYQ_ERR_UNKNOWN_TOPIC);
  CHECK_EQ(flyq_broker_commit_offset(e.b, "../g", "t", 0, 7),
           FLYQ_ERR_INVALID_NAME);
  CHECK_OK(flyq_broker_fetch_offset(e.b, "g1", "t", 0, &off));
  CHECK_EQ(off, 42);
  int n = 0;
  CHECK_OK(flyq_broker_foreach_offset(e.b, "g1", count_offsets, &n));
  CHECK_EQ(n, 2);
  CHECK_EQ(flyq_broker_foreach_offset(e.b, "g2", count_offsets, &n),
           FLYQ_ERR_NOT_FOUND);
  n = 0;
  CHECK_OK(flyq_broker_foreach_group(e.b, count_groups, &n));
  CHECK_EQ(n, 1);

  char path[512];
  snprintf(path, sizeof path, "%s/__groups/g1.json", flyq_test_tmpdir());
  CHECK(!file_exists(path));
  file_wait_t w = {.path = path};
  uv_timer_init(&e.loop, &w.timer);
  w.timer.data = &w;
  uv_timer_start(&w.timer, poll_file, 5, 5);
  CHECK(run_until(&e, &w.found, 5000));
  uv_close((uv_handle_t *)&w.timer, NULL);
  env_close(&e);
}

TEST(close_leaves_clean_markers) {
  flyq_config_t cfg = cfg_partitions(3);
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, &cfg);
  CHECK_OK(produce(&e, "m", FLYQ_PARTITION_ANY, 1, 6, NULL, &g));
  CHECK_OK(produce(&e, "n", 0, 1, 6, NULL, &g));
  env_close(&e);
  const char *topics[] = {"m", "m", "m", "n"};
  int32_t parts[] = {0, 1, 2, 0};
  for (int i = 0; i < 4; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%d/.clean", flyq_test_tmpdir(),
             topics[i], (int)parts[i]);
    CHECK(file_exists(path));
  }
}

TEST(create_topic_settings_and_metadata) {
  env_t e;
  char err[128] = "";
  env_open(&e, NULL);
  flyq_topic_kv_t kv[] = {{"retention.ms", "60000"}, {"segment.bytes", "4096"},
                          {"flush.messages", "1"}};
  CHECK_OK(flyq_broker_create_topic(e.b, "cfg", 2, kv, 3, err, sizeof err));
  CHECK_EQ(flyq_broker_create_topic(e.b, "cfg", 2, NULL, 0, err, sizeof err),
           FLYQ_ERR_TOPIC_EXISTS);
  flyq_topic_kv_t bad[][1] = {{{"segment.bytes", "12"}},
                              {{"retention.ms", "1x"}},
                              {{"flush.ms", "-2"}},
                              {{"colour", "blue"}},
                              {{"retention.bytes", ""}}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    CHECK_EQ(flyq_broker_create_topic(e.b, "bad", 1, bad[i], 1, err, sizeof err),
             FLYQ_ERR_CONFIG);
    CHECK(err[0] != '\0');
  }
  CHECK_EQ(flyq_broker_create_topic(e.b, "bad", 0, NULL, 0, NULL, 0),
           FLYQ_ERR_INVALID_ARG);
  CHECK(flyq_store_topic(e.store, "bad") == NULL);

  got_t g = {.e = &e};
  CHECK_OK(produce(&e, "cfg", 1, 1, 10, NULL, &g));
  const char *names[] = {"cfg", "missing"};
  flyq_broker_metadata_t md;
  CHECK_OK(flyq_broker_metadata(e.b, names, 2, &md));
  CHECK_EQ(md.ntopics, 2);
  flyq_broker_topic_info_t *ti = &md.topics[0];
  CHECK_OK(ti->err);
  CHECK_EQ(ti->npartitions, 2);
  CHECK_EQ(ti->partitions[1].end_offset, 10);
  CHECK_EQ(ti->partitions[0].end_offset, 0);
  CHECK(ti->partitions[1].last_append_ms > 0);
  int seen = 0;
  for (int i = 0; i < FLYQ_TOPIC_CONFIG_KEYS; i++) {
    if (strcmp(ti->config[i].key, "retention.ms") == 0)
      seen += strcmp(ti->config[i].value, "60000") == 0;
    if (strcmp(ti->config[i].key, "segment.bytes") == 0)
      seen += strcmp(ti->config[i].value, "4096") == 0;
  }
  CHECK_EQ(seen, 2);
  CHECK_EQ(md.topics[1].err, FLYQ_ERR_UNKNOWN_TOPIC);
  flyq_broker_metadata_free(&md);
  CHECK_OK(flyq_broker_metadata(e.b, NULL, 0, &md));
  CHECK_EQ(md.ntopics, 1);
  flyq_broker_metadata_free(&md);

  int64_t off;
  CHECK_OK(flyq_broker_list_offset(e.b, "cfg", 1, FLYQ_OFFSET_EARLIEST, &off));
  CHECK_EQ(off, 0);
  CHECK_OK(flyq_broker_list_offset(e.b, "cfg", 1, FLYQ_OFFSET_LATEST, &off));
  CHECK_EQ(off, 10);
  CHECK_OK(flyq_broker_list_offset(e.b, "cfg", 1, 1700000000005, &off));
  CHECK_EQ(off, 0); /* one batch: its timestamp covers the whole range */
  CHECK_OK(flyq_broker_list_offset(e.b, "cfg", 1, 1800000000000, &off));
  CHECK_EQ(off, 10);
  CHECK_EQ(flyq_broker_list_offset(e.b, "cfg", 1, -5, &off),
           FLYQ_ERR_INVALID_ARG);
  env_close(&e);
}

TEST(declared_topics_and_flush_policy) {
  flyq_config_t cfg;
  cfg_default(&cfg);
  flyq_config_topic_t ct = {.name = "decl", .partitions = 2, .log = cfg.log};
  ct.log.flush_messages = 1; /* every append asks for an fsync */
  cfg.topics = &ct;
  cfg.ntopics = 1;
  env_t e;
  env_open(&e, &cfg);
  flyq_topic_t *t = flyq_store_topic(e.store, "decl");
  CHECK(t != NULL);
  CHECK_EQ(flyq_topic_partitions(t), 2);
  got_t g = {.e = &e};
  CHECK_OK(produce(&e, "decl", 1, 1, 3, NULL, &g));
  flyq_log_t *log = log_of(&e, "decl", 1);
  int flushed = 0;
  uv_update_time(&e.loop);
  uint64_t end = uv_now(&e.loop) + 5000;
  while (!(flushed = flyq_log_flushed_offset(log) == 3) && uv_now(&e.loop) < end)
    uv_run(&e.loop, UV_RUN_ONCE);
  CHECK(flushed);
  env_close(&e);

  ct.partitions = 3; /* grows on the next start */
  env_open(&e, &cfg);
  CHECK_EQ(flyq_topic_partitions(flyq_store_topic(e.store, "decl")), 3);
  CHECK_OK(produce(&e, "decl", 2, 1, 1, NULL, &g));
  env_close(&e);
}

/* Not a benchmark gate (sanitizer builds are slow): shows the rate. */
TEST(produce_throughput) {
  enum { REQS = 300, RECS = 1000 };
  env_t e;
  got_t g = {.e = &e};
  env_open(&e, NULL);
  size_t len;
  uint8_t *tmpl = make_batch(RECS, NULL, 1, &len);
  uint8_t *buf = malloc(len);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < REQS; i++) {
    memcpy(buf, tmpl, len);
    CHECK_OK(flyq_broker_produce(e.b, "perf", 0, 1, buf, len, 0, on_produce, &g));
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("  produce: %.2f M records/s (%d x %d records of 100 bytes)\n",
         REQS * RECS / s / 1e6, REQS, RECS);
  CHECK_EQ(g.calls, REQS);
  CHECK_EQ(g.parts[0].last_offset, (int64_t)REQS * RECS - 1);
  free(tmpl);
  free(buf);
  env_close(&e);
}

TEST_LIST(TEST_ENTRY(produce_acks1_then_fetch)
          TEST_ENTRY(produce_acks_all_waits_for_fsync)
          TEST_ENTRY(acks_all_answered_at_close)
          TEST_ENTRY(acks_all_timeout)
          TEST_ENTRY(partitioner_keyed_and_round_robin)
          TEST_ENTRY(partitioner_acks_all)
          TEST_ENTRY(auto_create_and_topic_limit)
          TEST_ENTRY(long_poll_wakes_on_produce)
          TEST_ENTRY(long_poll_times_out_empty)
          TEST_ENTRY(long_poll_cancel_and_close)
          TEST_ENTRY(delete_topic_answers_waiters)
          TEST_ENTRY(fetch_errors)
          TEST_ENTRY(corrupt_batch_stores_nothing)
          TEST_ENTRY(validated_group_is_not_checked_again)
          TEST_ENTRY(groups_stay_all_or_nothing_with_validated)
          TEST_ENTRY(offsets_commit_fetch_and_flush_timer)
          TEST_ENTRY(close_leaves_clean_markers)
          TEST_ENTRY(create_topic_settings_and_metadata)
          TEST_ENTRY(declared_topics_and_flush_policy)
          TEST_ENTRY(produce_throughput));
