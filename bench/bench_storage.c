/* bench_storage: in-process throughput of the partition log (flyq_log_*).
 *
 * Measures, each figure the median of several repetitions on a fresh log:
 *   - appends of pre-built batches (the broker receives encoded batches: the
 *     batch is built once and each append gets a fresh copy of it), with no
 *     fsync and with flyq_log_flush() after every batch;
 *   - build + append (the batch is built inside the timed loop);
 *   - sequential reads of a whole log, through flyq_log_read() + pread into a
 *     reused buffer, and through flyq_log_read_copy() (CRC-checked);
 *   - the disk itself: dd bs=1M count=256 with conv=fdatasync (one sync at
 *     the end) and with oflag=dsync (a sync per MiB), alternated with
 *     appends of 1 MiB batches made durable three ways: a flush after each,
 *     the same with the flush on a worker thread during the next append,
 *     and group commit (flushes back to back on a worker, at most N
 *     batches not yet durable); their bandwidth is reported as a ratio of
 *     dd's in the same repetition.
 * Byte rates count stored bytes (batch headers and record framing included)
 * in MB/s of 10^6 bytes, as dd does. Reads come from the page cache.
 *
 * Usage: bench_storage [--dir DIR] [--reps N] [--seconds S]
 *                      [--sync-seconds S] [--window N] [--only GROUPS]
 *                      [--json]
 * DIR must be on the file system to measure; the benchmark works in a new
 * directory inside it (default $TMPDIR or /tmp) and removes it at the end.
 * N is the group commit's window in batches (default 4). GROUPS is a
 * comma-separated subset of append,fsync,build,read,disk (all by default),
 * to measure one thing while changing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flyq/batch.h"
#include "flyq/log.h"
#include "flyq/logmsg.h"

#define BENCH_MAX_REPS 31
#define BENCH_MAX_ROWS 32
#define BENCH_MIB (1024u * 1024u)
#define BENCH_NOSYNC_MAX_BYTES (256ull * BENCH_MIB) /* per repetition */
#define BENCH_READ_LOG_BYTES (256ull * BENCH_MIB)
#define BENCH_DD_MIB 256

extern char **environ;

typedef struct bench_opts {
  const char *parent; /* where the work directory is created */
  int reps;
  double seconds;      /* time bound of a no-fsync repetition */
  double sync_seconds; /* time bound of an fsync repetition */
  int window;          /* batches not yet durable in the group commit */
  int json;
  unsigned groups; /* BENCH_G_* bits to run */
} bench_opts_t;

enum {
  BENCH_G_APPEND = 1, /* pre-built batches, no fsync */
  BENCH_G_FSYNC = 2,  /* pre-built batches, flush after each */
  BENCH_G_BUILD = 4,  /* build + append, no fsync */
  BENCH_G_READ = 8,
  BENCH_G_DISK = 16, /* dd against 1 MiB batches + flush */
};
static const char *const bench_group_names[] = {"append", "fsync", "build",
                                                "read",   "disk",  NULL};

/* The variants of the disk group. */
enum {
  BENCH_DD,     /* dd conv=fdatasync: one sync at the end */
  BENCH_INLINE, /* 1 MiB batches, each followed by flyq_log_flush */
  BENCH_PIPED,  /* the same, the flush of one during the next append */
  BENCH_GROUP,  /* 1 MiB batches, group commit (bench_group_rep) */
  BENCH_DSYNC,  /* dd oflag=dsync: a sync per MiB */
  BENCH_NDISK
};

/* One append workload. */
typedef struct bench_case {
  const char *name;
  size_t value_bytes; /* per record; keys are null */
  int batch;          /* records per batch */
  int fsync;          /* flyq_log_flush after every batch */
  int build;          /* build each batch inside the timed loop */
  double seconds;     /* time bound of one repetition */
  uint64_t max_bytes; /* size bound of one repetition */
} bench_case_t;

/* What one repetition did. */
typedef struct bench_sample {
  uint64_t records;
  uint64_t bytes;
  uint64_t flushes; /* flushes that synced something */
  double secs;
} bench_sample_t;

/* One line of the report: medians over the repetitions. */
typedef struct bench_row {
  char name[48];
  size_t value_bytes;
  int batch;
  int fsync;
  double rps;  /* records per second */
  double mbps; /* 10^6 bytes per second */
} bench_row_t;

typedef struct bench {
  bench_opts_t o;
  char dir[4096]; /* the work directory */
  int next_log;   /* numbers the log directories */
  bench_row_t rows[BENCH_MAX_ROWS];
  int nrows;
  double disk_mbps[BENCH_NDISK];  /* medians; 0 when not measured */
  double disk_ratio[BENCH_NDISK]; /* median of the ratios to dd, same rep */
  double batches_per_flush[BENCH_NDISK]; /* medians, log variants */
} bench_t;

static double bench_clock(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of v[0..n); sorts v. */
static double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void bench_die(const char *what, int err) {
  fprintf(stderr, "bench_storage: %s: %s\n", what, flyq_strerror(err));
  exit(1);
}

/* ---- Logs and batches ---- */

/* Opens a fresh log under the work directory; no flush policy, so only the
 * benchmark's explicit flushes sync. */
static flyq_log_t *bench_log_open(bench_t *b) {
  char path[4200];
  flyq_log_config_t cfg;
  flyq_log_t *log;
  flyq_log_config_default(&cfg);
  cfg.flush_messages = 0;
  cfg.flush_ms = -1;
  snprintf(path, sizeof path, "%s/log-%d", b->dir, b->next_log++);
  int err = flyq_log_open(path, &cfg, &log, NULL);
  if (err < 0) bench_die("flyq_log_open", err);
  return log;
}

static void bench_log_destroy(flyq_log_t *log) {
  int err = flyq_log_destroy(log);
  if (err < 0) bench_die("flyq_log_destroy", err);
}

/* Fills v with n bytes of a fixed pseudo-random pattern. */
static void bench_fill(uint8_t *v, size_t n) {
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    v[i] = (uint8_t)x;
  }
}

/* Builds a batch of n records of value_bytes each into bl (reset first).
 * *out is owned by bl and valid until its next use. */
static size_t bench_build(flyq_batch_builder_t *bl, const uint8_t *value,
                          size_t value_bytes, int n, int64_t now,
                          const uint8_t **out) {
  size_t len;
  flyq_batch_builder_reset(bl);
  for (int i = 0; i < n; i++) {
    int err = flyq_batch_builder_add(bl, now, NULL, 0, value,
                                     (int32_t)value_bytes, NULL, 0);
    if (err < 0) bench_die("flyq_batch_builder_add", err);
  }
  int err = flyq_batch_builder_finish(bl, out, &len);
  if (err < 0) bench_die("flyq_batch_builder_finish", err);
  return len;
}

/* ---- Append workloads ---- */

/* Appends one batch: a copy of the pre-built one, or a freshly built one. */
static size_t bench_append_one(flyq_log_t *log, const bench_case_t *c,
                               flyq_batch_builder_t *bl, const uint8_t *value,
                               uint8_t *work, size_t len, int64_t now) {
  flyq_append_result_t res;
  const uint8_t *built;
  uint8_t *batch = work;
  if (c->build) {
    len = bench_build(bl, value, c->value_bytes, c->batch, now, &built);
    batch = bl->buf;
  } else {
    memcpy(work, bl->buf, len);
  }
  int err = flyq_log_append(log, batch, len, now, &res);
  if (err < 0) bench_die("flyq_log_append", err);
  if (c->fsync && (err = flyq_log_flush(log)) < 0)
    bench_die("flyq_log_flush", err);
  return len;
}

/* One repetition of c on a fresh log. bl holds the pre-built batch (len
 * bytes) unless c->build. */
static bench_sample_t bench_append_rep(bench_t *b, const bench_case_t *c,
                                       flyq_batch_builder_t *bl, size_t len,
                                       const uint8_t *value, uint8_t *work) {
  bench_sample_t s = {0};
  flyq_log_t *log = bench_log_open(b);
  int check = c->batch >= 100 || c->fsync ? 1 : 64; /* clock reads */
  int64_t now = flyq_now_ms();
  double t0 = bench_clock(), t = t0;
  for (uint64_t i = 1; t - t0 < c->seconds && s.bytes < c->max_bytes; i++) {
    s.bytes += bench_append_one(log, c, bl, value, work, len, now);
    s.records += (uint64_t)c->batch;
    s.flushes += (uint64_t)c->fsync;
    if (i % (uint64_t)check == 0) t = bench_clock();
  }
  s.secs = bench_clock() - t0;
  bench_log_destroy(log);
  return s;
}

/* A flush split as flyq_log_sync_* allow: begin and end on this thread,
 * the fdatasync (run) on a worker thread that waits for work, as a thread
 * of the broker's libuv pool does. (A thread started per flush is no
 * substitute: on a busy machine it waited milliseconds for a CPU.) */
typedef struct bench_flusher {
  flyq_log_t *log;
  flyq_log_sync_t sync;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int requested;    /* under mu: the worker is to run sync */
  int quit;         /* under mu: the worker is to return */
  atomic_int ended; /* set under mu by the worker once a run has returned */
  int busy;         /* a run was requested and not yet completed */
  uint64_t flushes; /* runs completed */
} bench_flusher_t;

static void *bench_sync_main(void *arg) {
  bench_flusher_t *f = arg;
  pthread_mutex_lock(&f->mu);
  for (;;) {
    while (!f->requested && !f->quit) pthread_cond_wait(&f->cv, &f->mu);
    if (!f->requested) break;
    f->requested = 0;
    pthread_mutex_unlock(&f->mu);
    flyq_log_sync_run(&f->sync);
    pthread_mutex_lock(&f->mu);
    atomic_store(&f->ended, 1);
    pthread_cond_broadcast(&f->cv);
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

/* Opens a fresh log and starts its worker. */
static void bench_flusher_init(bench_t *b, bench_flusher_t *f) {
  memset(f, 0, sizeof *f);
  f->log = bench_log_open(b);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  int err = pthread_create(&f->thread, NULL, bench_sync_main, f);
  if (err != 0) bench_die("pthread_create", -err);
}

/* Stops the worker (no flush may be in flight) and destroys the log. */
static void bench_flusher_destroy(bench_flusher_t *f) {
  pthread_mutex_lock(&f->mu);
  f->quit = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->thread, NULL);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  bench_log_destroy(f->log);
}

/* Waits for the flush in flight, if any, and completes it. */
static void bench_flush_wait(bench_flusher_t *f) {
  if (!f->busy) return;
  pthread_mutex_lock(&f->mu);
  while (!atomic_load(&f->ended)) pthread_cond_wait(&f->cv, &f->mu);
  pthread_mutex_unlock(&f->mu);
  f->busy = 0;
  f->flushes++;
  int err = flyq_log_sync_end(f->log, &f->sync);
  if (err < 0) bench_die("flyq_log_sync_end", err);
}

/* Starts flushing everything appended so far on the worker. */
static void bench_flush_start(bench_flusher_t *f) {
  int err = flyq_log_sync_begin(f->log, &f->sync);
  if (err < 0) bench_die("flyq_log_sync_begin", err);
  pthread_mutex_lock(&f->mu);
  atomic_store(&f->ended, 0);
  f->requested = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  f->busy = 1;
}

/* Group commit: completes the flush in flight if it has ended (with wait,
 * once it has), then starts the next one if anything is not yet
 * flushed. */
static void bench_flush_poll(bench_flusher_t *f, int wait) {
  if (f->busy && (wait || atomic_load(&f->ended))) bench_flush_wait(f);
  if (!f->busy && flyq_log_flushed_offset(f->log) < flyq_log_end_offset(f->log))
    bench_flush_start(f);
}

/* Like bench_append_rep for a pre-built c without flushes of its own, but
 * each batch is flushed on a worker thread while the next one is appended:
 * a flush per batch, one in flight at a time. The time includes the last
 * flush. */
static bench_sample_t bench_pipelined_rep(bench_t *b, const bench_case_t *c,
                                          flyq_batch_builder_t *bl, size_t len,
                                          const uint8_t *value, uint8_t *work) {
  bench_sample_t s = {0};
  bench_flusher_t f;
  bench_flusher_init(b, &f);
  double t0 = bench_clock();
  while (bench_clock() - t0 < c->seconds && s.bytes < c->max_bytes) {
    s.bytes += bench_append_one(f.log, c, bl, value, work, len, flyq_now_ms());
    s.records += (uint64_t)c->batch;
    bench_flush_wait(&f);
    bench_flush_start(&f);
  }
  bench_flush_wait(&f);
  s.secs = bench_clock() - t0;
  s.flushes = f.flushes;
  bench_flusher_destroy(&f);
  return s;
}

/* Like bench_pipelined_rep, but the flush runs continuously, as the
 * broker's for acks=all: one in flight at a time, the next begun as soon
 * as it ends, covering everything appended meanwhile. An append waits
 * while window batches are not yet durable (as producers waiting for their
 * acks would). Every batch counted is durable: the time includes the
 * flush that covers the last one. */
static bench_sample_t bench_group_rep(bench_t *b, const bench_case_t *c,
                                      flyq_batch_builder_t *bl, size_t len,
                                      const uint8_t *value, uint8_t *work) {
  bench_sample_t s = {0};
  bench_flusher_t f;
  bench_flusher_init(b, &f);
  int64_t window = (int64_t)b->o.window * c->batch; /* in records */
  double t0 = bench_clock();
  while (bench_clock() - t0 < c->seconds && s.bytes < c->max_bytes) {
    while (flyq_log_end_offset(f.log) - flyq_log_flushed_offset(f.log) >=
           window)
      bench_flush_poll(&f, 1);
    s.bytes += bench_append_one(f.log, c, bl, value, work, len, flyq_now_ms());
    s.records += (uint64_t)c->batch;
    bench_flush_poll(&f, 0);
  }
  while (flyq_log_flushed_offset(f.log) < flyq_log_end_offset(f.log))
    bench_flush_poll(&f, 1);
  s.secs = bench_clock() - t0;
  s.flushes = f.flushes;
  bench_flusher_destroy(&f);
  return s;
}

/* Adds a report row from samples[0..n). */
static void bench_add_row(bench_t *b, const char *name, size_t value_bytes,
                          int batch, int fsync, const bench_sample_t *samples,
                          int n) {
  double rps[BENCH_MAX_REPS], mbps[BENCH_MAX_REPS];
  bench_row_t *r = &b->rows[b->nrows++];
  for (int i = 0; i < n; i++) {
    rps[i] = (double)samples[i].records / samples[i].secs;
    mbps[i] = (double)samples[i].bytes / samples[i].secs / 1e6;
  }
  snprintf(r->name, sizeof r->name, "%s", name);
  r->value_bytes = value_bytes;
  r->batch = batch;
  r->fsync = fsync;
  r->rps = bench_median(rps, n);
  r->mbps = bench_median(mbps, n);
}

/* Runs c o.reps times and adds its row. */
static void bench_append_case(bench_t *b, const bench_case_t *c) {
  bench_sample_t samples[BENCH_MAX_REPS] = {{0}};
  flyq_batch_builder_t bl;
  const uint8_t *built;
  uint8_t *value = malloc(c->value_bytes);
  if (value == NULL) bench_die("malloc", -ENOMEM);
  bench_fill(value, c->value_bytes);
  flyq_batch_builder_init(&bl);
  size_t len =
      bench_build(&bl, value, c->value_bytes, c->batch, flyq_now_ms(), &built);
  uint8_t *work = malloc(len);
  if (work == NULL) bench_die("malloc", -ENOMEM);
  for (int i = 0; i < b->o.reps; i++)
    samples[i] = bench_append_rep(b, c, &bl, len, value, work);
  bench_add_row(b, c->name, c->value_bytes, c->batch, c->fsync, samples,
                b->o.reps);
  free(work);
  free(value);
  flyq_batch_builder_free(&bl);
}

/* The append matrix: 100 B and 1 KiB records, batches of 1, 100 and 1000,
 * pre-built without and with fsync, then built in the loop without. */
static void bench_appends(bench_t *b) {
  static const size_t sizes[] = {100, 1024};
  static const int batches[] = {1, 100, 1000};
  for (int mode = 0; mode < 3; mode++) {
    if (!(b->o.groups & (1u << mode))) continue; /* APPEND, FSYNC, BUILD */
    for (int s = 0; s < 2; s++) {
      for (int k = 0; k < 3; k++) {
        bench_case_t c = {mode == 2 ? "build+append" : "append (pre-built)",
                          sizes[s],
                          batches[k],
                          mode == 1,
                          mode == 2,
                          mode == 1 ? b->o.sync_seconds : b->o.seconds,
                          BENCH_NOSYNC_MAX_BYTES};
        bench_append_case(b, &c);
      }
    }
  }
}

/* ---- Sequential reads ---- */

/* Counts the records of the whole batches in buf[0..len) and returns the
 * offset after the last one. */
static int64_t bench_walk(const uint8_t *buf, size_t len, uint64_t *records) {
  flyq_batch_header_t h = {0};
  size_t pos = 0;
  while (pos < len) {
    int err = flyq_batch_parse_header(buf + pos, len - pos, &h);
    if (err < 0) bench_die("flyq_batch_parse_header", err);
    *records += (uint64_t)h.record_count;
    pos += (size_t)h.batch_length + FLYQ_BATCH_LOG_OVERHEAD;
  }
  return h.base_offset + h.last_offset_delta + 1;
}

/* Reads the whole log with slices and pread into buf, which holds
 * 2 * BENCH_MIB bytes: a slice is at most BENCH_MIB, or one batch. */
static bench_sample_t bench_read_slices(flyq_log_t *log, uint8_t *buf) {
  bench_sample_t s = {0};
  int64_t off = flyq_log_start_offset(log), end = flyq_log_end_offset(log);
  double t0 = bench_clock();
  while (off < end) {
    flyq_slice_t sl;
    int err = flyq_log_read(log, off, BENCH_MIB, &sl);
    if (err < 0) bench_die("flyq_log_read", err);
    if (sl.len > 2 * BENCH_MIB)
      bench_die("slice larger than the buffer", FLYQ_ERR_TOO_LARGE);
    ssize_t n = pread(sl.fd, buf, sl.len, (off_t)sl.pos);
    if (n != (ssize_t)sl.len)
      bench_die("pread", n < 0 ? -errno : FLYQ_ERR_TRUNCATED);
    off = bench_walk(buf, sl.len, &s.records);
    s.bytes += sl.len;
    flyq_slice_release(&sl);
  }
  s.secs = bench_clock() - t0;
  return s;
}

/* Reads the whole log with flyq_log_read_copy (allocates, checks CRCs). */
static bench_sample_t bench_read_copies(flyq_log_t *log) {
  bench_sample_t s = {0};
  int64_t off = flyq_log_start_offset(log), end = flyq_log_end_offset(log);
  double t0 = bench_clock();
  while (off < end) {
    uint8_t *buf;
    size_t len;
    int err = flyq_log_read_copy(log, off, BENCH_MIB, &buf, &len);
    if (err < 0) bench_die("flyq_log_read_copy", err);
    off = bench_walk(buf, len, &s.records);
    s.bytes += len;
    free(buf);
  }
  s.secs = bench_clock() - t0;
  return s;
}

/* Fills a log with BENCH_READ_LOG_BYTES of 100 B records in batches of
 * 1000, then reads it back o.reps times each way. */
static void bench_reads(bench_t *b) {
  bench_case_t fill = {"fill", 100, 1000, 0, 0, 1e9, BENCH_READ_LOG_BYTES};
  bench_sample_t slices[BENCH_MAX_REPS] = {{0}};
  bench_sample_t copies[BENCH_MAX_REPS] = {{0}};
  flyq_batch_builder_t bl;
  const uint8_t *built;
  uint8_t value[100], *work, *buf = malloc(2 * BENCH_MIB);
  bench_fill(value, sizeof value);
  flyq_batch_builder_init(&bl);
  size_t len = bench_build(&bl, value, 100, 1000, flyq_now_ms(), &built);
  if (buf == NULL || (work = malloc(len)) == NULL) bench_die("malloc", -ENOMEM);
  flyq_log_t *log = bench_log_open(b);
  for (uint64_t n = 0; n < fill.max_bytes;)
    n += bench_append_one(log, &fill, &bl, value, work, len, flyq_now_ms());
  for (int i = 0; i < b->o.reps; i++) {
    slices[i] = bench_read_slices(log, buf);
    copies[i] = bench_read_copies(log);
  }
  bench_add_row(b, "read (slice+pread)", 100, 1000, 0, slices, b->o.reps);
  bench_add_row(b, "read (read_copy, CRC)", 100, 1000, 0, copies, b->o.reps);
  bench_log_destroy(log);
  flyq_batch_builder_free(&bl);
  free(work);
  free(buf);
}

/* ---- The disk: dd against 1 MiB batches + flush ---- */

/* Runs dd writing BENCH_DD_MIB MiB of 1 MiB blocks into the work directory,
 * syncing as sync says ("conv=fdatasync": once at the end; "oflag=dsync":
 * after every block), and returns its MB/s (timed here), or 0 if dd
 * failed. */
static double bench_dd(const bench_t *b, const char *sync) {
  char of[4200], count[16];
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int status = -1;
  snprintf(of, sizeof of, "of=%s/ddtest", b->dir);
  snprintf(count, sizeof count, "count=%d", BENCH_DD_MIB);
  char *argv[] = {"dd", "if=/dev/zero", of, "bs=1M", count, (char *)sync, NULL};
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  double t0 = bench_clock();
  int err = posix_spawnp(&pid, "dd", &fa, NULL, argv, environ);
  if (err == 0 && waitpid(pid, &status, 0) < 0) status = -1;
  double secs = bench_clock() - t0;
  posix_spawn_file_actions_destroy(&fa);
  unlink(of + 3);
  if (err != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 0;
  return (double)BENCH_DD_MIB * BENCH_MIB / secs / 1e6;
}

/* Median of the values of v[0..n) that are > 0 (a failed dd gives 0), or
 * 0 when there is none. Reorders v. */
static double bench_median_ok(double *v, int n) {
  int k = 0;
  for (int i = 0; i < n; i++)
    if (v[i] > 0) v[k++] = v[i];
  return k > 0 ? bench_median(v, k) : 0;
}

/* Makes the file system write out what the previous variant left behind
 * (its deleted files, the journal), untimed, so that each variant starts
 * from the same state instead of paying for the one before. */
static void bench_settle(const bench_t *b) {
  int fd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) bench_die("open", -errno);
  if (syncfs(fd) < 0) bench_die("syncfs", -errno);
  close(fd);
}

/* The state of the disk group. */
typedef struct bench_disk {
  bench_case_t c;          /* 1 MiB batches, a flush after each */
  flyq_batch_builder_t bl; /* holds the pre-built batch, len bytes */
  size_t len;
  uint8_t *work; /* len bytes, for the copy of the batch */
  bench_sample_t s[BENCH_NDISK][BENCH_MAX_REPS]; /* of the log variants */
  double mbps[BENCH_NDISK][BENCH_MAX_REPS];      /* of every variant */
} bench_disk_t;

/* Fills b->disk_mbps and b->disk_ratio from d->mbps: medians, and medians
 * of the ratios to dd of the same repetition (skipping those where dd
 * failed). */
static void bench_disk_summary(bench_t *b, bench_disk_t *d) {
  for (int v = 0; v < BENCH_NDISK; v++) {
    double ratio[BENCH_MAX_REPS];
    int k = 0;
    for (int i = 0; i < b->o.reps; i++)
      if (d->mbps[BENCH_DD][i] > 0)
        ratio[k++] = d->mbps[v][i] / d->mbps[BENCH_DD][i];
    b->disk_ratio[v] = k > 0 ? bench_median(ratio, k) : 0;
  }
  for (int v = 0; v < BENCH_NDISK; v++) {
    double per[BENCH_MAX_REPS];
    for (int i = 0; i < b->o.reps; i++) {
      const bench_sample_t *s = &d->s[v][i];
      uint64_t batches = s->records / (uint64_t)d->c.batch;
      per[i] = s->flushes ? (double)batches / (double)s->flushes : 0;
    }
    b->batches_per_flush[v] = bench_median(per, b->o.reps);
    b->disk_mbps[v] = bench_median_ok(d->mbps[v], b->o.reps);
  }
}

/* Runs log variant v once as repetition i and records its sample. */
static void bench_disk_log(bench_t *b, bench_disk_t *d, int v, int i) {
  bench_case_t nosync = d->c;
  nosync.fsync = 0; /* the pipelined and group runs flush themselves */
  bench_sample_t s =
      v == BENCH_INLINE
          ? bench_append_rep(b, &d->c, &d->bl, d->len, NULL, d->work)
      : v == BENCH_PIPED
          ? bench_pipelined_rep(b, &nosync, &d->bl, d->len, NULL, d->work)
          : bench_group_rep(b, &nosync, &d->bl, d->len, NULL, d->work);
  d->s[v][i] = s;
  d->mbps[v][i] = (double)s.bytes / s.secs / 1e6;
}

/* Repetition i: each variant in turn, the same amount of data each, so
 * that all see about the same state of a noisy shared disk; the order
 * rotates from one repetition to the next so that no variant always
 * follows the same one. */
static void bench_disk_rep(bench_t *b, bench_disk_t *d, int i) {
  for (int k = 0; k < BENCH_NDISK; k++) {
    int v = (k + i) % BENCH_NDISK;
    if (v == BENCH_DD)
      d->mbps[v][i] = bench_dd(b, "conv=fdatasync");
    else if (v == BENCH_DSYNC)
      d->mbps[v][i] = bench_dd(b, "oflag=dsync");
    else
      bench_disk_log(b, d, v, i);
    bench_settle(b);
  }
}

/* Alternates the BENCH_NDISK variants over 1 MiB batches (1000 x 1 KiB
 * records) and dd, and adds the rows of the log variants. */
static void bench_disk(bench_t *b) {
  static bench_disk_t d; /* large */
  const uint8_t *built;
  uint8_t value[1024];
  char group[48];
  d.c = (bench_case_t){"1 MiB batches + flush",
                       1024,
                       1000,
                       1,
                       0,
                       4 * b->o.sync_seconds,
                       (uint64_t)BENCH_DD_MIB * BENCH_MIB};
  bench_fill(value, sizeof value);
  flyq_batch_builder_init(&d.bl);
  d.len = bench_build(&d.bl, value, 1024, 1000, flyq_now_ms(), &built);
  if ((d.work = malloc(d.len)) == NULL) bench_die("malloc", -ENOMEM);
  for (int i = 0; i < b->o.reps; i++) bench_disk_rep(b, &d, i);
  snprintf(group, sizeof group, "1 MiB, group commit w%d", b->o.window);
  bench_add_row(b, d.c.name, 1024, 1000, 1, d.s[BENCH_INLINE], b->o.reps);
  bench_add_row(b, "1 MiB + flush, pipelined", 1024, 1000, 1, d.s[BENCH_PIPED],
                b->o.reps);
  bench_add_row(b, group, 1024, 1000, 1, d.s[BENCH_GROUP], b->o.reps);
  bench_disk_summary(b, &d);
  flyq_batch_builder_free(&d.bl);
  free(d.work);
}

/* ---- Report ---- */

/* records/s of the 100 B x 1000 pre-built no-fsync row (the target row). */
static double bench_target_rps(const bench_t *b) {
  for (int i = 0; i < b->nrows; i++) {
    const bench_row_t *r = &b->rows[i];
    if (strcmp(r->name, "append (pre-built)") == 0 && r->value_bytes == 100 &&
        r->batch == 1000 && !r->fsync)
      return r->rps;
  }
  return 0;
}

/* Percentage x / of, or 0 when of is 0 (not measured). */
static double bench_pct(double x, double of) {
  return of > 0 ? x / of * 100 : 0;
}

/* The disk figures: dd, then each log variant as a share of dd
 * conv=fdatasync, against the 80% target for the two that sync every
 * batch. */
static void bench_print_disk(const bench_t *b) {
  static const char *const names[] = {NULL, "1 MiB batches + flush",
                                      "1 MiB + flush, pipelined", NULL, NULL};
  printf("dd bs=1M count=%d conv=fdatasync: %.1f MB/s\n", BENCH_DD_MIB,
         b->disk_mbps[BENCH_DD]);
  printf("dd bs=1M count=%d oflag=dsync (a sync per MiB): %.1f MB/s (%.0f%%)\n",
         BENCH_DD_MIB, b->disk_mbps[BENCH_DSYNC],
         b->disk_ratio[BENCH_DSYNC] * 100);
  printf(
      "share of dd conv=fdatasync: median of the per-repetition ratios "
      "(ratio of the medians)\n");
  for (int v = BENCH_INLINE; v <= BENCH_PIPED; v++) {
    double pct = b->disk_ratio[v] * 100;
    printf("  %s: %.0f%% (%.0f%%) (target >= 80%%): %s\n", names[v], pct,
           bench_pct(b->disk_mbps[v], b->disk_mbps[BENCH_DD]),
           pct >= 80 ? "ok" : "BELOW TARGET");
  }
  printf(
      "  1 MiB, group commit w%d (every batch durable before it counts): "
      "%.0f%% (%.0f%%); %.1f batches per fdatasync\n",
      b->o.window, b->disk_ratio[BENCH_GROUP] * 100,
      bench_pct(b->disk_mbps[BENCH_GROUP], b->disk_mbps[BENCH_DD]),
      b->batches_per_flush[BENCH_GROUP]);
}

/* The two targets, as "<figure> (target ...): ok" lines; only for what
 * was measured. */
static void bench_print_targets(const bench_t *b) {
  double rps = bench_target_rps(b);
  if (b->o.groups & BENCH_G_DISK) bench_print_disk(b);
  if (b->o.groups & BENCH_G_APPEND)
    printf(
        "append 100 B x 1000, no fsync: %.2f M records/s "
        "(target >= 5 M): %s\n",
        rps / 1e6, rps >= 5e6 ? "ok" : "BELOW TARGET");
}

static void bench_print_table(const bench_t *b) {
  printf("%-24s %7s %6s %6s %14s %10s\n", "case", "rec B", "batch", "fsync",
         "records/s", "MB/s");
  for (int i = 0; i < b->nrows; i++) {
    const bench_row_t *r = &b->rows[i];
    printf("%-24s %7zu %6d %6s %14.0f %10.1f\n", r->name, r->value_bytes,
           r->batch, r->fsync ? "yes" : "no", r->rps, r->mbps);
  }
  printf("\nmedians of %d repetitions; MB = 10^6 bytes of stored batches\n",
         b->o.reps);
  bench_print_targets(b);
}

static void bench_print_json(const bench_t *b) {
  printf(
      "{\"reps\": %d, \"dd_mb_per_s\": %.1f, \"dd_dsync_mb_per_s\": %.1f,"
      " \"fsync_1mib_mb_per_s\": %.1f, \"fsync_1mib_ratio\": %.3f,"
      " \"pipelined_1mib_mb_per_s\": %.1f, \"pipelined_1mib_ratio\": %.3f,"
      " \"group_window\": %d, \"group_1mib_mb_per_s\": %.1f,"
      " \"group_1mib_ratio\": %.3f, \"results\": [\n",
      b->o.reps, b->disk_mbps[BENCH_DD], b->disk_mbps[BENCH_DSYNC],
      b->disk_mbps[BENCH_INLINE], b->disk_ratio[BENCH_INLINE],
      b->disk_mbps[BENCH_PIPED], b->disk_ratio[BENCH_PIPED], b->o.window,
      b->disk_mbps[BENCH_GROUP], b->disk_ratio[BENCH_GROUP]);
  for (int i = 0; i < b->nrows; i++) {
    const bench_row_t *r = &b->rows[i];
    printf(
        "  {\"case\": \"%s\", \"record_bytes\": %zu, \"batch\": %d, "
        "\"fsync\": %s, \"records_per_s\": %.0f, \"mb_per_s\": %.1f}%s\n",
        r->name, r->value_bytes, r->batch, r->fsync ? "true" : "false", r->rps,
        r->mbps, i + 1 < b->nrows ? "," : "");
  }
  printf("]}\n");
}

/* ---- Main ---- */

static void bench_usage(void) {
  fprintf(stderr,
          "usage: bench_storage [--dir DIR] [--reps N (1..%d)] [--seconds S]\n"
          "                     [--sync-seconds S] [--window N] [--json]\n"
          "                     [--only append,fsync,build,read,disk]\n",
          BENCH_MAX_REPS);
  exit(2);
}

/* Parses a positive number bounded by max; exits on anything else. */
static double bench_number(const char *s, double max) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v > 0 && v <= max))
    bench_usage();
  return v;
}

/* Parses an integer in 1..max; exits on anything else. */
static int bench_integer(const char *s, int max) {
  double v = bench_number(s, max);
  if (v != (int)v) bench_usage();
  return (int)v;
}

/* Parses a comma-separated list of group names into BENCH_G_* bits. */
static unsigned bench_groups(const char *list) {
  unsigned bits = 0;
  char buf[128], *save = NULL;
  snprintf(buf, sizeof buf, "%s", list);
  for (char *g = strtok_r(buf, ",", &save); g; g = strtok_r(NULL, ",", &save)) {
    int k = 0;
    while (bench_group_names[k] && strcmp(g, bench_group_names[k]) != 0) k++;
    if (bench_group_names[k] == NULL) bench_usage();
    bits |= 1u << k;
  }
  return bits ? bits : (bench_usage(), 0);
}

/* Applies option a with value v (may be NULL). Returns the number of
 * arguments used. */
static int bench_option(bench_opts_t *o, const char *a, const char *v) {
  if (strcmp(a, "--json") == 0) return o->json = 1;
  if (v == NULL) bench_usage();
  if (strcmp(a, "--dir") == 0)
    o->parent = v;
  else if (strcmp(a, "--seconds") == 0)
    o->seconds = bench_number(v, 600);
  else if (strcmp(a, "--sync-seconds") == 0)
    o->sync_seconds = bench_number(v, 600);
  else if (strcmp(a, "--window") == 0)
    o->window = bench_integer(v, 64);
  else if (strcmp(a, "--only") == 0)
    o->groups = bench_groups(v);
  else if (strcmp(a, "--reps") == 0)
    o->reps = bench_integer(v, BENCH_MAX_REPS);
  else
    bench_usage();
  return 2;
}

static void bench_parse(int argc, char **argv, bench_opts_t *o) {
  const char *tmp = getenv("TMPDIR");
  *o = (bench_opts_t){tmp != NULL && *tmp ? tmp : "/tmp",
                      5,
                      0.3,
                      1.0,
                      4,
                      0,
                      BENCH_G_APPEND | BENCH_G_FSYNC | BENCH_G_BUILD |
                          BENCH_G_READ | BENCH_G_DISK};
  for (int i = 1; i < argc;)
    i += bench_option(o, argv[i], i + 1 < argc ? argv[i + 1] : NULL);
}

int main(int argc, char **argv) {
  static bench_t b;
  bench_parse(argc, argv, &b.o);
  flyq_logmsg_set_level(FLYQ_LOG_WARN); /* not one INFO line per new log */
  snprintf(b.dir, sizeof b.dir, "%s/flyq-bench-XXXXXX", b.o.parent);
  if (mkdtemp(b.dir) == NULL) bench_die(b.dir, -errno);
  if (!b.o.json) fprintf(stderr, "bench_storage: working in %s\n", b.dir);
  bench_appends(&b);
  if (b.o.groups & BENCH_G_READ) bench_reads(&b);
  if (b.o.groups & BENCH_G_DISK) bench_disk(&b);
  if (rmdir(b.dir) < 0) bench_die("rmdir", -errno);
  if (b.o.json)
    bench_print_json(&b);
  else
    bench_print_table(&b);
  return 0;
}
