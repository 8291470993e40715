/* crashtest: FlyQ's acknowledged-write guarantee under SIGKILL
 * (docs/reliability.md, "Crash consistency").
 *
 * Runs a real `flyq serve` child on 127.0.0.1:0 with a temporary data
 * directory, has several producers write numbered messages through the C
 * client (pipelined, acks=all or acks=1), kills the broker with SIGKILL at
 * random moments (during recovery, a random delay after the restart, or
 * right after the k-th acknowledgement), restarts it, and repeats. Every
 * send attempt carries a unique value ("seq:<n> try:<t> id:<i>" and
 * padding derived from the id), so every record read back names exactly
 * one attempt. At the end everything is fetched from offset 0 and checked:
 *
 *   - every acknowledged attempt is read back exactly once, at the offset
 *     and partition its acknowledgement gave, with its bytes intact;
 *   - every batch served passes flyq_batch_validate (CRC included), and
 *     the client's record iterator agrees;
 *   - offsets strictly increase with no gap and no duplicate;
 *   - an unacknowledged attempt appears at most once, and nothing else
 *     appears.
 *
 * It prints the counts (kills, acknowledged, recovered, truncated bytes
 * from the broker's recovery lines, duration) and exits 0 when every check
 * passed, 1 otherwise (2 on a usage error). The ctest tests and
 * `make crashtest` run it (cmake/reliability.cmake).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "flyq/batch.h"
#include "flyq/client.h"

#define TOPIC "crash"
#define MAX_PRODUCERS 8
#define MAX_FAILURES_SHOWN 20
#define VALUE_MAX (256 * 1024)
#define BIG_EVERY 509        /* about one record in BIG_EVERY is big */
#define BIG_PAD (200 * 1024) /* larger than a segment: a roll of its own */

enum { SENT, ACKED, FAILED };

/* One send attempt of one message. */
typedef struct attempt {
  uint32_t seq, try;
  int32_t partition;
  int state;
  int64_t offset; /* the acknowledged offset, when ACKED */
  uint32_t seen;  /* times read back */
} attempt_t;

typedef struct producer {
  flyq_client_t *c;
  int32_t partition;
  uint32_t *retry; /* seqs whose last attempt failed */
  size_t nretry, capretry;
} producer_t;

typedef struct opts {
  const char *flyq;
  int acks;
  int kills;
  int producers;
  int partitions;
  int window; /* requests in flight per producer */
  int max_delay_ms;
  uint64_t seed;
  int keep;
} opts_t;

typedef struct run {
  opts_t o;
  char dir[64];
  char cfg_path[128], port_path[128], log_path[128];
  pid_t pid;
  uint64_t rng;
  attempt_t *att;
  size_t natt, capatt;
  uint32_t nseq, captries;
  uint32_t *tries; /* per seq: attempts so far */
  producer_t prod[MAX_PRODUCERS];
  uint64_t acks_in_cycle;
  int kills, startup_kills;
  uint64_t failures;
  uint64_t recovered, unacked_present, batches;
} run_t;

/* ---- Small helpers ----------------------------------------------------- */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

static uint64_t rnd(run_t *r) { /* xorshift64* */
  r->rng ^= r->rng >> 12;
  r->rng ^= r->rng << 25;
  r->rng ^= r->rng >> 27;
  return r->rng * 0x2545F4914F6CDD1Dull;
}

static int rnd_between(run_t *r, int lo, int hi) {
  return lo + (int)(rnd(r) % (uint64_t)(hi - lo + 1));
}

static void failure(run_t *r, const char *fmt, ...) {
  if (++r->failures <= MAX_FAILURES_SHOWN) {
    va_list ap;
    va_start(ap, fmt);
    fputs("crashtest: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
}

/* The broker child while it runs, so that die() does not leave it behind,
 * and the run's directory. */
static pid_t child;
static const char *workdir;

/* Stops the run on a harness error (not a broken guarantee); the
 * directory is kept for inspection. */
static void die(const char *fmt, ...) {
  va_list ap;
  if (child > 0) kill(child, SIGKILL);
  va_start(ap, fmt);
  fputs("crashtest: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, workdir ? " (kept %s)\n" : "\n", workdir);
  exit(1);
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n);
  if (p == NULL) die("out of memory");
  return p;
}

/* The value of attempt id (buf holds VALUE_MAX bytes): a readable prefix,
 * then padding derived from the id so that any damaged byte shows; now and
 * then a big one, so that some writes take long enough to be torn.
 * Returns its length. */
static int value_of(const attempt_t *a, size_t id, char *buf) {
  int n = snprintf(buf, VALUE_MAX, "seq:%" PRIu32 " try:%" PRIu32 " id:%zu|",
                   a->seq, a->try, id);
  int pad = id % BIG_EVERY == 7 ? BIG_PAD : (int)((id * 2654435761u) % 256);
  for (int i = 0; i < pad; i++)
    buf[n + i] = (char)('a' + (id + (size_t)i) % 26);
  return n + pad;
}

/* ---- The broker process ------------------------------------------------ */

static void write_config(const run_t *r) {
  FILE *f = fopen(r->cfg_path, "w");
  if (f == NULL) die("%s: %s", r->cfg_path, strerror(errno));
  fprintf(f,
          "return {\n"
          "  listen = \"127.0.0.1:0\",\n"
          "  data_dir = \"%s/data\",\n"
          "  topics = { %s = { partitions = %d, segment = { bytes = "
          "\"128KiB\" },\n"
          "                    index_interval_bytes = 1024 } },\n"
          "}\n",
          r->dir, TOPIC, r->o.partitions);
  if (fclose(f) != 0) die("%s: %s", r->cfg_path, strerror(errno));
}

static void broker_spawn(run_t *r) {
  unlink(r->port_path);
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    int out = open(r->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int in = open("/dev/null", O_RDONLY);
    if (out < 0 || in < 0) _exit(127);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execl(r->o.flyq, "flyq", "serve", "-c", r->cfg_path, "--port-file",
          r->port_path, (char *)NULL);
    _exit(127);
  }
  r->pid = child = pid;
}

/* Waits for the child to exit; returns its wait status. */
static int broker_reap(run_t *r) {
  int status;
  while (waitpid(r->pid, &status, 0) < 0)
    if (errno != EINTR) die("waitpid: %s", strerror(errno));
  r->pid = child = 0;
  return status;
}

static void broker_kill(run_t *r) {
  kill(r->pid, SIGKILL);
  int status = broker_reap(r);
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
    failure(r, "flyq serve died on its own before the kill (status %d)",
            status);
  r->kills++;
}

static int read_port(const run_t *r) {
  FILE *f = fopen(r->port_path, "r");
  int port = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%d", &port) != 1) port = 0;
  fclose(f);
  return port;
}

static void show_log_tail(const run_t *r) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "tail -n 30 '%s' >&2", r->log_path);
  if (system(cmd) != 0) fprintf(stderr, "(cannot show %s)\n", r->log_path);
}

/* Waits until the broker listens; returns "127.0.0.1:PORT" in addr. */
static void broker_wait(run_t *r, char *addr, size_t size) {
  int64_t deadline = mono_ms() + 30000;
  int port, status;
  while ((port = read_port(r)) <= 0) {
    if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
      show_log_tail(r);
      die("flyq serve exited (status %d) before listening", status);
    }
    if (mono_ms() > deadline) {
      show_log_tail(r);
      die("flyq serve did not listen within 30 s");
    }
    sleep_ms(1);
  }
  snprintf(addr, size, "127.0.0.1:%d", port);
}

/* A producer's client; pump() keeps window requests in flight without
 * ever waiting inside produce_async, so the client must allow them all. */
static flyq_client_t *connect_to(const char *addr, int window) {
  flyq_client_options_t o;
  flyq_client_t *c;
  flyq_client_options_init(&o);
  o.client_id = "crashtest";
  o.request_timeout_ms = 20000;
  o.max_inflight = (uint32_t)window;
  if (flyq_client_new(&o, &c) < 0) die("out of memory");
  int rc = flyq_client_connect(c, addr, 10000);
  if (rc < 0) die("connect %s: %s", addr, flyq_client_errmsg(c));
  return c;
}

/* ---- Producing --------------------------------------------------------- */

typedef struct request {
  run_t *r;
  producer_t *p;
  size_t first; /* attempt id of the first record */
  int count;
} request_t;

static void retry_push(producer_t *p, uint32_t seq) {
  if (p->nretry == p->capretry) {
    p->capretry = p->capretry ? 2 * p->capretry : 64;
    p->retry = xrealloc(p->retry, p->capretry * sizeof *p->retry);
  }
  p->retry[p->nretry++] = seq;
}

/* The next message a producer sends: a retry first, else a new one. */
static uint32_t next_seq(run_t *r, producer_t *p) {
  if (p->nretry > 0) return p->retry[--p->nretry];
  if (r->nseq == r->captries) {
    r->captries = r->captries ? 2 * r->captries : 1024;
    r->tries = xrealloc(r->tries, r->captries * sizeof *r->tries);
  }
  r->tries[r->nseq] = 0;
  return r->nseq++;
}

static size_t attempt_new(run_t *r, producer_t *p, uint32_t seq) {
  if (r->natt == r->capatt) {
    r->capatt = r->capatt ? 2 * r->capatt : 4096;
    r->att = xrealloc(r->att, r->capatt * sizeof *r->att);
  }
  r->att[r->natt] =
      (attempt_t){seq, ++r->tries[seq], p->partition, SENT, -1, 0};
  return r->natt++;
}

static void produced(flyq_client_t *c, const flyq_produce_result_t *res,
                     void *arg) {
  request_t *q = arg;
  run_t *r = q->r;
  (void)c;
  int ok = res->err == 0;
  if (ok && r->o.acks != 0 &&
      res->last_offset - res->base_offset + 1 != q->count)
    failure(r, "ack for %d records covers offsets %" PRId64 "..%" PRId64,
            q->count, res->base_offset, res->last_offset);
  for (int i = 0; i < q->count; i++) {
    attempt_t *a = &r->att[q->first + (size_t)i];
    a->state = ok ? ACKED : FAILED;
    if (ok)
      a->offset = res->base_offset + i;
    else
      retry_push(q->p, a->seq);
  }
  if (ok) r->acks_in_cycle++;
  free(q);
}

/* Sends one batch of 1..4 new attempts. Returns 0 or the client's error. */
static int send_one(run_t *r, producer_t *p) {
  flyq_batch_builder_t b;
  request_t *q = xrealloc(NULL, sizeof *q);
  *q = (request_t){r, p, r->natt, rnd_between(r, 1, 4)};
  flyq_batch_builder_init(&b);
  for (int i = 0; i < q->count; i++) {
    static char value[VALUE_MAX];
    size_t id = attempt_new(r, p, next_seq(r, p));
    int n = value_of(&r->att[id], id, value);
    if (flyq_batch_builder_add(&b, flyq_now_ms(), NULL, 0, value, n, NULL, 0))
      die("batch builder failed");
  }
  const uint8_t *bytes;
  size_t len;
  if (flyq_batch_builder_finish(&b, &bytes, &len) < 0) die("batch finish");
  int rc = flyq_client_produce_async(p->c, TOPIC, p->partition, r->o.acks,
                                     bytes, len, produced, q);
  flyq_batch_builder_free(&b);
  if (rc < 0) { /* no callback: the attempts failed here */
    for (int i = 0; i < q->count; i++) {
      r->att[q->first + (size_t)i].state = FAILED;
      retry_push(p, r->att[q->first + (size_t)i].seq);
    }
    free(q);
  }
  return rc;
}

/* Keeps every producer's window full and fires the callbacks that are
 * ready, waiting at most wait_ms for the sockets. */
static void pump(run_t *r, int wait_ms) {
  struct pollfd fds[MAX_PRODUCERS];
  for (int i = 0; i < r->o.producers; i++) {
    producer_t *p = &r->prod[i];
    while (flyq_client_connected(p->c) &&
           flyq_client_inflight(p->c) < (size_t)r->o.window)
      if (send_one(r, p) < 0) break;
    fds[i] = (struct pollfd){flyq_client_fd(p->c), POLLIN, 0};
  }
  poll(fds, (nfds_t)r->o.producers, wait_ms);
  for (int i = 0; i < r->o.producers; i++)
    if (flyq_client_connected(r->prod[i].c)) flyq_client_poll(r->prod[i].c, 0);
}

/* After the kill: reads what the broker answered before it died (those
 * acknowledgements count), then fails the rest and closes. */
static void producers_close(run_t *r) {
  for (int i = 0; i < r->o.producers; i++) {
    producer_t *p = &r->prod[i];
    (void)flyq_client_flush(p->c, 10000);
    flyq_client_close(p->c);
    p->c = NULL;
  }
}

/* One cycle: start, produce until the kill condition, SIGKILL. */
static void cycle(run_t *r) {
  char addr[64];
  int mode = rnd_between(r, 0, 9);
  broker_spawn(r);
  if (mode < 2) { /* during startup and recovery */
    sleep_ms(rnd_between(r, 0, 25));
    broker_kill(r);
    r->startup_kills++;
    return;
  }
  broker_wait(r, addr, sizeof addr);
  for (int i = 0; i < r->o.producers; i++)
    r->prod[i].c = connect_to(addr, r->o.window);
  r->acks_in_cycle = 0;
  int64_t start = mono_ms(), deadline = start + 5000;
  int64_t at =
      mode < 6 ? start + rnd_between(r, 1, r->o.max_delay_ms) : deadline;
  uint64_t after_acks = (uint64_t)rnd_between(r, 1, 64);
  while (mono_ms() < at) {
    pump(r, 1);
    if (mode >= 6 && r->acks_in_cycle >= after_acks) { /* keep sending */
      at = mono_ms() + rnd_between(r, 0, 3);
      after_acks = UINT64_MAX;
    }
  }
  broker_kill(r);
  producers_close(r);
}

/* ---- Reading back ------------------------------------------------------ */

/* Parses the attempt id out of a value and checks every byte of it. */
static int check_value(run_t *r, const flyq_record_t *rec, size_t *id) {
  static char want[VALUE_MAX];
  char text[64];
  size_t n =
      rec->value_len > 0 && rec->value_len < 63 ? (size_t)rec->value_len : 63;
  if (rec->value == NULL) return -1;
  memcpy(text, rec->value, n);
  text[n] = '\0';
  const char *p = strstr(text, " id:");
  if (p == NULL || sscanf(p + 4, "%zu", id) != 1 || *id >= r->natt) return -1;
  int len = value_of(&r->att[*id], *id, want);
  return rec->value_len == len && memcmp(rec->value, want, (size_t)len) == 0
             ? 0
             : -1;
}

static void check_record(run_t *r, int32_t part, const flyq_record_t *rec,
                         int64_t *expect) {
  size_t id;
  if (rec->offset != *expect)
    failure(r, "partition %d: offset %" PRId64 " where %" PRId64 " was next",
            part, rec->offset, *expect);
  *expect = rec->offset + 1;
  r->recovered++;
  if (check_value(r, rec, &id) < 0) {
    failure(r, "partition %d offset %" PRId64 ": a value never sent (%d bytes)",
            part, rec->offset, (int)rec->value_len);
    return;
  }
  attempt_t *a = &r->att[id];
  if (++a->seen > 1)
    failure(r, "attempt %zu (seq %u) read back twice", id, a->seq);
  if (a->partition != part)
    failure(r, "attempt %zu sent to partition %d, found in %d", id,
            a->partition, part);
  if (a->state == ACKED && a->offset != rec->offset)
    failure(r,
            "attempt %zu acknowledged at offset %" PRId64 ", found at %" PRId64,
            id, a->offset, rec->offset);
  if (a->state != ACKED && a->seen == 1) r->unacked_present++;
}

/* Validates every batch of a fetch answer on its own (CRC included), as a
 * second opinion next to the client's iterator. */
static void check_batches(run_t *r, int32_t part, const uint8_t *p,
                          size_t len) {
  while (len > 0) {
    int64_t size = flyq_batch_size(p, len);
    if (size < 0 || (uint64_t)size > len ||
        flyq_batch_validate(p, (size_t)size, NULL) < 0) {
      failure(r, "partition %d: the broker served a corrupt batch", part);
      return;
    }
    r->batches++;
    p += size;
    len -= (size_t)size;
  }
}

static void read_partition(run_t *r, flyq_client_t *c, int32_t part) {
  int64_t off = 0, expect = 0, high = 1;
  while (off < high) {
    flyq_fetch_result_t res;
    int rc = flyq_client_fetch(c, TOPIC, part, off, 1 << 20, 0, 1, &res);
    if (rc < 0)
      die("fetch %d@%" PRId64 ": %s", part, off, flyq_client_errmsg(c));
    high = res.high_watermark;
    check_batches(r, part, res.records, res.records_len);
    flyq_fetch_iter_t it;
    flyq_record_t rec;
    flyq_fetch_iter_init(&it, res.records, res.records_len, off);
    while ((rc = flyq_fetch_iter_next(&it, &rec)) == 1)
      check_record(r, part, &rec, &expect);
    if (rc < 0)
      die("partition %d: record iterator: %s", part, flyq_strerror(rc));
    if (it.next_offset <= off && off < high)
      die("partition %d: no progress at offset %" PRId64, part, off);
    off = it.next_offset;
  }
}

static void check_attempts(run_t *r) {
  for (size_t i = 0; i < r->natt; i++)
    if (r->att[i].state == ACKED && r->att[i].seen != 1)
      failure(r,
              "acknowledged attempt %zu (seq %u, partition %d, offset %" PRId64
              ") read back %u times",
              i, r->att[i].seq, r->att[i].partition, r->att[i].offset,
              r->att[i].seen);
}

/* ---- The broker's log -------------------------------------------------- */

/* Sums "N bytes truncated" of the recovery lines; counts sanitizer
 * reports and ERROR lines. */
static uint64_t scan_log(run_t *r) {
  FILE *f = fopen(r->log_path, "r");
  char line[4096];
  uint64_t sum = 0;
  if (f == NULL) die("%s: %s", r->log_path, strerror(errno));
  while (fgets(line, sizeof line, f)) {
    const char *t = strstr(line, " bytes truncated");
    if (t != NULL) {
      const char *d = t;
      while (d > line && d[-1] >= '0' && d[-1] <= '9') d--;
      sum += strtoull(d, NULL, 10);
    }
    if (strstr(line, "Sanitizer") || strstr(line, "runtime error:") ||
        strstr(line, " ERROR "))
      failure(r, "broker log: %s", line);
  }
  fclose(f);
  return sum;
}

/* ---- Main -------------------------------------------------------------- */

static int usage(void) {
  fputs("usage: crashtest --flyq PATH [--acks all|1] [--kills N]\n"
        "                 [--producers N] [--partitions N] [--window N]\n"
        "                 [--max-delay-ms N] [--seed N] [--keep]\n",
        stderr);
  return 2;
}

static int int_arg(const char *s, int lo, int hi, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v < lo || v > hi) return -1;
  *out = (int)v;
  return 0;
}

static int parse_args(int argc, char **argv, opts_t *o) {
  *o = (opts_t){getenv("FLYQ_BIN"), -1, 50, 3, 2, 8, 100, 0, 0};
  o->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (strcmp(a, "--keep") == 0) {
      o->keep = 1;
      continue;
    }
    if (v == NULL) return -1;
    if (strcmp(a, "--flyq") == 0)
      o->flyq = v;
    else if (strcmp(a, "--acks") == 0)
      o->acks = strcmp(v, "all") == 0 ? -1
                : strcmp(v, "1") == 0 ? 1
                                      : (bad = 1);
    else if (strcmp(a, "--kills") == 0)
      bad = int_arg(v, 1, 1000000, &o->kills);
    else if (strcmp(a, "--producers") == 0)
      bad = int_arg(v, 1, MAX_PRODUCERS, &o->producers);
    else if (strcmp(a, "--partitions") == 0)
      bad = int_arg(v, 1, 64, &o->partitions);
    else if (strcmp(a, "--window") == 0)
      bad = int_arg(v, 1, 64, &o->window);
    else if (strcmp(a, "--max-delay-ms") == 0)
      bad = int_arg(v, 1, 60000, &o->max_delay_ms);
    else if (strcmp(a, "--seed") == 0)
      o->seed = strtoull(v, NULL, 10);
    else
      return -1;
    if (bad) return -1;
    i++;
  }
  return o->flyq ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static void setup(run_t *r) {
  snprintf(r->dir, sizeof r->dir, "/tmp/flyq-crash.XXXXXX");
  if (mkdtemp(r->dir) == NULL) die("mkdtemp: %s", strerror(errno));
  workdir = r->dir;
  snprintf(r->cfg_path, sizeof r->cfg_path, "%s/flyq.lua", r->dir);
  snprintf(r->port_path, sizeof r->port_path, "%s/port", r->dir);
  snprintf(r->log_path, sizeof r->log_path, "%s/flyq.log", r->dir);
  write_config(r);
  r->rng = r->o.seed ? r->o.seed : 1;
  for (int i = 0; i < r->o.producers; i++)
    r->prod[i].partition = i % r->o.partitions;
}

/* Starts the broker once more, reads everything back, stops it cleanly. */
static void verify(run_t *r) {
  char addr[64];
  broker_spawn(r);
  broker_wait(r, addr, sizeof addr);
  flyq_client_t *c = connect_to(addr, 1);
  for (int32_t p = 0; p < r->o.partitions; p++) read_partition(r, c, p);
  flyq_client_close(c);
  check_attempts(r);
  kill(r->pid, SIGTERM);
  int status = broker_reap(r);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    failure(r, "flyq serve did not exit 0 after SIGTERM (status %d)", status);
}

static void report(run_t *r, uint64_t truncated, double secs) {
  uint64_t acked = 0;
  for (size_t i = 0; i < r->natt; i++) acked += r->att[i].state == ACKED;
  printf("crashtest acks=%s seed=%" PRIu64 ": kills=%d (%d during startup) "
         "messages=%" PRIu32 " attempts=%zu acknowledged=%" PRIu64
         " recovered=%" PRIu64 " (unacknowledged but present %" PRIu64
         ") batches=%" PRIu64 " truncated_bytes=%" PRIu64
         " duration=%.1fs: %s\n",
         r->o.acks < 0 ? "all" : "1", r->o.seed, r->kills, r->startup_kills,
         r->nseq, r->natt, acked, r->recovered, r->unacked_present, r->batches,
         truncated, secs, r->failures ? "FAILED" : "ok");
}

int main(int argc, char **argv) {
  static run_t run;
  run_t *r = &run;
  if (parse_args(argc, argv, &r->o) < 0) return usage();
  signal(SIGPIPE, SIG_IGN);
  setup(r);
  int64_t t0 = mono_ms();
  while (r->kills < r->o.kills) cycle(r);
  verify(r);
  uint64_t truncated = scan_log(r);
  report(r, truncated, (double)(mono_ms() - t0) / 1000.0);
  if (r->failures) show_log_tail(r);
  if (!r->o.keep)
    nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  else
    fprintf(stderr, "crashtest: kept %s\n", r->dir);
  for (int i = 0; i < r->o.producers; i++) free(r->prod[i].retry);
  free(r->att);
  free(r->tries);
  return r->failures ? 1 : 0;
}
