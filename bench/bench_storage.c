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
 *     appends of 1 MiB batches each followed by a flush, whose bandwidth is
 *     reported as a ratio of both.
 * Byte rates count stored bytes (batch headers and record framing included)
 * in MB/s of 10^6 bytes, as dd does. Reads come from the page cache.
 *
 * Usage: bench_storage [--dir DIR] [--reps N] [--seconds S]
 *                      [--sync-seconds S] [--only GROUPS] [--json]
 * DIR must be on the file system to measure; the benchmark works in a new
 * directory inside it (default $TMPDIR or /tmp) and removes it at the end.
 * GROUPS is a comma-separated subset of append,fsync,build,read,disk (all
 * by default), to measure one thing while changing it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
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
  double dd_mbps;       /* dd conv=fdatasync, median; 0 if dd failed */
  double dd_dsync_mbps; /* dd oflag=dsync (a sync per MiB), median */
  double piped_mbps;    /* median of the pipelined 1 MiB + flush appends */
  double fsync_mbps;    /* median of the 1 MiB + flush appends */
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
  bench_sample_t s = {0, 0, 0};
  flyq_log_t *log = bench_log_open(b);
  int check = c->batch >= 100 || c->fsync ? 1 : 64; /* clock reads */
  int64_t now = flyq_now_ms();
  double t0 = bench_clock(), t = t0;
  for (uint64_t i = 1; t - t0 < c->seconds && s.bytes < c->max_bytes; i++) {
    s.bytes += bench_append_one(log, c, bl, value, work, len, now);
    s.records += (uint64_t)c->batch;
    if (i % (uint64_t)check == 0) t = bench_clock();
  }
  s.secs = bench_clock() - t0;
  bench_log_destroy(log);
  return s;
}

/* A flush split as flyq_log_sync_* allow: begin and end on this thread,
 * the fdatasync (run) on a worker thread, as the broker does. */
typedef struct bench_flusher {
  flyq_log_t *log;
  flyq_log_sync_t sync;
  pthread_t thread;
  int busy; /* a run is in flight */
} bench_flusher_t;

static void *bench_sync_main(void *sync) {
  flyq_log_sync_run(sync);
  return NULL;
}

/* Waits for the flush in flight, if any, and completes it. */
static void bench_flush_wait(bench_flusher_t *f) {
  if (!f->busy) return;
  pthread_join(f->thread, NULL);
  f->busy = 0;
  int err = flyq_log_sync_end(f->log, &f->sync);
  if (err < 0) bench_die("flyq_log_sync_end", err);
}

/* Starts flushing everything appended so far on a worker thread. */
static void bench_flush_start(bench_flusher_t *f) {
  int err = flyq_log_sync_begin(f->log, &f->sync);
  if (err < 0) bench_die("flyq_log_sync_begin", err);
  err = pthread_create(&f->thread, NULL, bench_sync_main, &f->sync);
  if (err != 0) bench_die("pthread_create", -err);
  f->busy = 1;
}

/* Like bench_append_rep for a pre-built c without flushes of its own, but
 * each batch is flushed on a worker thread while the next one is appended:
 * a flush per batch, one in flight at a time. The time includes the last
 * flush. */
static bench_sample_t bench_pipelined_rep(bench_t *b, const bench_case_t *c,
                                          flyq_batch_builder_t *bl, size_t len,
                                          const uint8_t *value, uint8_t *work) {
  bench_sample_t s = {0, 0, 0};
  bench_flusher_t f = {.log = bench_log_open(b)};
  double t0 = bench_clock();
  while (bench_clock() - t0 < c->seconds && s.bytes < c->max_bytes) {
    s.bytes += bench_append_one(f.log, c, bl, value, work, len, flyq_now_ms());
    s.records += (uint64_t)c->batch;
    bench_flush_wait(&f);
    bench_flush_start(&f);
  }
  bench_flush_wait(&f);
  s.secs = bench_clock() - t0;
  bench_log_destroy(f.log);
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
  bench_sample_t samples[BENCH_MAX_REPS] = {{0, 0, 0}};
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
  bench_sample_t s = {0, 0, 0};
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
  bench_sample_t s = {0, 0, 0};
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
  bench_sample_t slices[BENCH_MAX_REPS] = {{0, 0, 0}};
  bench_sample_t copies[BENCH_MAX_REPS] = {{0, 0, 0}};
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

/* Alternates dd (one sync at the end), appends of about 1 MiB batches
 * (1 KiB records) each followed by a flush, the same with the flushes
 * pipelined, and dd with a sync per MiB, the same amount of data each, so
 * that all four see the same state of a noisy shared disk. */
static void bench_disk(bench_t *b) {
  bench_case_t c = {"1 MiB batches + flush",
                    1024,
                    1000,
                    1,
                    0,
                    4 * b->o.sync_seconds,
                    (uint64_t)BENCH_DD_MIB * BENCH_MIB};
  bench_case_t piped = c;
  piped.fsync = 0; /* bench_pipelined_rep flushes */
  bench_sample_t samples[BENCH_MAX_REPS] = {{0, 0, 0}};
  bench_sample_t psamples[BENCH_MAX_REPS] = {{0, 0, 0}};
  double dd[BENCH_MAX_REPS], dsync[BENCH_MAX_REPS];
  flyq_batch_builder_t bl;
  const uint8_t *built;
  uint8_t value[1024], *work;
  bench_fill(value, sizeof value);
  flyq_batch_builder_init(&bl);
  size_t len = bench_build(&bl, value, 1024, 1000, flyq_now_ms(), &built);
  if ((work = malloc(len)) == NULL) bench_die("malloc", -ENOMEM);
  for (int i = 0; i < b->o.reps; i++) {
    dd[i] = bench_dd(b, "conv=fdatasync");
    samples[i] = bench_append_rep(b, &c, &bl, len, value, work);
    psamples[i] = bench_pipelined_rep(b, &piped, &bl, len, value, work);
    dsync[i] = bench_dd(b, "oflag=dsync");
  }
  bench_add_row(b, c.name, 1024, 1000, 1, samples, b->o.reps);
  b->fsync_mbps = b->rows[b->nrows - 1].mbps;
  bench_add_row(b, "1 MiB + flush, pipelined", 1024, 1000, 1, psamples,
                b->o.reps);
  b->piped_mbps = b->rows[b->nrows - 1].mbps;
  b->dd_mbps = bench_median_ok(dd, b->o.reps);
  b->dd_dsync_mbps = bench_median_ok(dsync, b->o.reps);
  flyq_batch_builder_free(&bl);
  free(work);
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

/* The two targets, as "<figure> (target ...): ok" lines; only for what
 * was measured. */
static void bench_print_targets(const bench_t *b) {
  double rps = bench_target_rps(b);
  double pct = bench_pct(b->fsync_mbps, b->dd_mbps);
  if (b->o.groups & BENCH_G_DISK) {
    printf("dd bs=1M count=%d conv=fdatasync: %.1f MB/s\n", BENCH_DD_MIB,
           b->dd_mbps);
    printf("dd bs=1M count=%d oflag=dsync (a sync per MiB): %.1f MB/s\n",
           BENCH_DD_MIB, b->dd_dsync_mbps);
    printf(
        "1 MiB batches + flush: %.0f%% of dd fdatasync (target >= 80%%): "
        "%s; %.0f%% of dd dsync\n",
        pct, pct >= 80 ? "ok" : "BELOW TARGET",
        bench_pct(b->fsync_mbps, b->dd_dsync_mbps));
    printf(
        "1 MiB + flush, pipelined: %.0f%% of dd fdatasync; %.0f%% of dd "
        "dsync\n",
        bench_pct(b->piped_mbps, b->dd_mbps),
        bench_pct(b->piped_mbps, b->dd_dsync_mbps));
  }
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
      " \"pipelined_1mib_mb_per_s\": %.1f, \"results\": [\n",
      b->o.reps, b->dd_mbps, b->dd_dsync_mbps, b->fsync_mbps,
      b->dd_mbps > 0 ? b->fsync_mbps / b->dd_mbps : 0, b->piped_mbps);
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
          "                     [--sync-seconds S] [--json]\n"
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
  else if (strcmp(a, "--only") == 0)
    o->groups = bench_groups(v);
  else if (strcmp(a, "--reps") == 0) {
    o->reps = (int)bench_number(v, BENCH_MAX_REPS);
    if (o->reps != bench_number(v, BENCH_MAX_REPS)) bench_usage();
  } else
    bench_usage();
  return 2;
}

static void bench_parse(int argc, char **argv, bench_opts_t *o) {
  const char *tmp = getenv("TMPDIR");
  *o = (bench_opts_t){tmp != NULL && *tmp ? tmp : "/tmp",
                      5,
                      0.3,
                      1.0,
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
