/* The attacks of flyq-hostile (spec/tools/hostile.c lists them), one
 * function each. Every attack reports facts (frames, closes, timings,
 * RSS) as one JSON object on stdout; judging them is the spec's job.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/proto.h"
#include "hostile.h"

#define WAVE_TIMEOUT_MS 10000 /* for one wave of connections to be served */
#define PROBE_TIMEOUT_MS 5000
#define SETTLE_MS 500 /* after closing, before the last RSS sample */
#define QUIET_MS 200  /* no news for this long: the broker has answered */
#define CLOSE_PAUSE_MS 10 /* between two waves of closes */

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* A request header (null client_id) for a frame of size bytes. */
static size_t put_header(uint8_t *p, uint32_t size, int16_t key,
                         int16_t version, int32_t corr) {
  put_be32(p, size);
  p[4] = (uint8_t)((uint16_t)key >> 8), p[5] = (uint8_t)key;
  p[6] = (uint8_t)((uint16_t)version >> 8), p[7] = (uint8_t)version;
  put_be32(p + 8, (uint32_t)corr);
  p[12] = 0xff, p[13] = 0xff; /* client_id: null */
  return 14;
}

static hq_conn_t *conns_new(size_t n) {
  hq_conn_t *cs = calloc(n ? n : 1, sizeof *cs);
  for (size_t i = 0; cs && i < n; i++) cs[i].fd = -1;
  return cs;
}

static void conns_free(hq_conn_t *cs, size_t n) {
  for (size_t i = 0; i < n; i++) hq_close(&cs[i]);
  free(cs);
}

/* Pumps until done(cs, n) or timeout_ms, sampling RSS. */
static void pump_until(hq_conn_t *cs, size_t n, hq_rss_t *rss,
                       int (*done)(const hq_conn_t *, size_t),
                       double timeout_ms) {
  double deadline = hq_now_ms() + timeout_ms;
  while (!done(cs, n) && hq_now_ms() < deadline) {
    if (hq_pump(cs, n, 10) < 0) break;
    if (rss) hq_rss_sample(rss);
  }
}

/* Pumps until nothing happened for quiet_ms (or everything is closed). */
static void pump_quiet(hq_conn_t *cs, size_t n, double quiet_ms) {
  double last = hq_now_ms();
  while (hq_now_ms() - last < quiet_ms) {
    int moved = hq_pump(cs, n, 10);
    if (moved < 0) break;
    if (moved > 0) last = hq_now_ms();
  }
}

/* Keeps the connections (pumping) for ms, sampling RSS. */
static void hold(hq_conn_t *cs, size_t n, double ms, hq_rss_t *rss) {
  for (double end = hq_now_ms() + ms; hq_now_ms() < end;) {
    if (hq_pump(cs, n, 20) < 0) hq_sleep_ms(20);
    hq_rss_sample(rss);
  }
}

static int all_closed(const hq_conn_t *cs, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (hq_alive(&cs[i])) return 0;
  return 1;
}

/* Every live connection has the responses it waits for. */
static int all_answered(const hq_conn_t *cs, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (hq_alive(&cs[i]) && cs[i].frames < cs[i].want) return 0;
  return 1;
}

static void json_close(FILE *f, const hq_conn_t *c) {
  fprintf(f, "\"eof\":%s,\"ms\":%.1f,\"errno\":%d,", c->eof ? "true" : "false",
          c->eof ? c->t_eof - c->t0 : -1.0, c->err);
  hq_json_frames(f, c);
}

/* ---- idle: many connections held open ----------------------------------- */

/* Opens cs[from..from+n), each served one ApiVersions; returns the number
 * that failed to connect (*err: the first errno). */
static long open_wave(const hq_opts_t *o, hq_conn_t *cs, size_t n, int *err) {
  long failed = 0;
  for (size_t i = 0; i < n; i++) {
    int rc = hq_connect(&cs[i], &o->addr, 0);
    if (rc == 0) rc = hq_queue_api_versions(&cs[i], (int32_t)i);
    cs[i].want = 1;
    if (rc < 0) {
      failed++;
      if (*err == 0) *err = -rc;
      hq_close(&cs[i]);
    }
  }
  pump_until(cs, n, NULL, all_answered, WAVE_TIMEOUT_MS);
  for (size_t i = 0; i < n; i++) { /* idle from now on: no buffers */
    free(cs[i].in), free(cs[i].out);
    cs[i].in = cs[i].out = NULL;
    cs[i].in_cap = cs[i].in_len = cs[i].out_cap = cs[i].out_len = 0;
  }
  return failed;
}

static long count_served(const hq_conn_t *cs, size_t n) {
  long served = 0;
  for (size_t i = 0; i < n; i++)
    served += hq_alive(&cs[i]) && cs[i].frames == 1 &&
              cs[i].kept[0].code == 0 && cs[i].bad_frames == 0;
  return served;
}

/* One more connection that sends nothing: what does the broker say? */
static void probe(const hq_opts_t *o, FILE *f) {
  hq_conn_t c;
  int rc = hq_connect(&c, &o->addr, 0);
  fprintf(f, ",\"probe\":{\"connect\":%d,", rc);
  if (rc == 0) pump_until(&c, 1, NULL, all_closed, PROBE_TIMEOUT_MS);
  json_close(f, &c);
  fputc('}', f);
  hq_close(&c);
}

/* Closes cs[0..n), wave at a time, as clients leaving one after another. */
static void close_in_waves(hq_conn_t *cs, size_t n, size_t wave) {
  for (size_t i = 0; i < n; i++) {
    hq_close(&cs[i]);
    if ((i + 1) % wave == 0) hq_sleep_ms(CLOSE_PAUSE_MS);
  }
}

int hq_mode_idle(const hq_opts_t *o) {
  size_t n = (size_t)o->count, wave = o->wave > 0 ? (size_t)o->wave : 1;
  hq_conn_t *cs = conns_new(n);
  hq_rss_t rss;
  long failed = 0, dropped = 0;
  int err = 0;
  if (cs == NULL) return -ENOMEM;
  hq_rss_start(&rss, o->pid);
  double t0 = hq_now_ms();
  for (size_t i = 0; i < n; i += wave)
    failed += open_wave(o, cs + i, n - i < wave ? n - i : wave, &err);
  double open_ms = hq_now_ms() - t0;
  long served = count_served(cs, n);
  hold(cs, n, (double)o->hold_ms, &rss);
  for (size_t i = 0; i < n; i++) dropped += cs[i].eof;
  printf("{\"mode\":\"idle\",\"count\":%zu,\"failed\":%ld,\"errno\":%d,"
         "\"served\":%ld,\"dropped\":%ld,\"open_ms\":%.1f,\"rss_open_kb\":%ld",
         n, failed, err, served, dropped, open_ms,
         o->pid > 0 ? hq_rss_kb(o->pid) : -1L);
  if (o->probe) probe(o, stdout);
  close_in_waves(cs, n, wave);
  conns_free(cs, n);
  hq_rss_finish(&rss, SETTLE_MS);
  fputc(',', stdout);
  hq_json_rss(stdout, &rss);
  puts("}");
  return 0;
}

/* ---- slowloris: frames that never complete ------------------------------- */

#define SLOW_FRAME 200 /* the size the partial frames announce */

/* Variant 0: 3 bytes of a size prefix. 1: a size and 10 bytes of a
 * header, then a byte every trickle_ms. 2: a whole ApiVersions request,
 * then as 1. step counts the payload bytes sent of the partial frame. */
static int slow_start(hq_conn_t *c, int variant, int32_t corr) {
  uint8_t hdr[14];
  c->tag = variant;
  if (variant == 0) return hq_queue(c, "\0\0\0", 3);
  if (variant == 2 && hq_queue_api_versions(c, corr) < 0) return -ENOMEM;
  put_header(hdr, SLOW_FRAME, FLYQ_API_API_VERSIONS, 0, corr + 1);
  c->step = 10;
  return hq_queue(c, hdr, 4 + 10);
}

static void slow_trickle(hq_conn_t *cs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!hq_alive(&cs[i]) || cs[i].tag == 0 || cs[i].step >= SLOW_FRAME - 1)
      continue;
    hq_queue(&cs[i], "\0", 1);
    cs[i].step++;
  }
}

int hq_mode_slowloris(const hq_opts_t *o) {
  size_t n = (size_t)o->count;
  hq_conn_t *cs = conns_new(n);
  if (cs == NULL) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    int rc = hq_connect(&cs[i], &o->addr, 0);
    if (rc == 0) rc = slow_start(&cs[i], (int)(i % 3), (int32_t)(2 * i));
    if (rc < 0) return conns_free(cs, n), rc;
  }
  double deadline = hq_now_ms() + (double)o->timeout_ms, next = hq_now_ms();
  while (!all_closed(cs, n) && hq_now_ms() < deadline) {
    if (hq_now_ms() >= next) {
      slow_trickle(cs, n);
      next += (double)o->trickle_ms;
    }
    hq_pump(cs, n, 10);
  }
  printf("{\"mode\":\"slowloris\",\"conns\":[");
  for (size_t i = 0; i < n; i++) {
    printf("%s{\"variant\":%d,\"bytes_sent\":%llu,", i ? "," : "", cs[i].tag,
           (unsigned long long)cs[i].sent);
    json_close(stdout, &cs[i]);
    putchar('}');
  }
  puts("]}");
  conns_free(cs, n);
  return 0;
}

/* ---- bigframe: absurd frame sizes ------------------------------------- */

static const uint32_t big_sizes[] = {0x7fffffffu, 0x80000000u, 0xffffffffu,
                                     0x40000000u, 0x01000001u, 7, 0};
#define BIG_JUNK (1u << 20) /* bytes sent after the size */

int hq_mode_bigframe(const hq_opts_t *o) {
  size_t n = (size_t)o->count, nsizes = sizeof big_sizes / sizeof *big_sizes;
  hq_conn_t *cs = conns_new(n);
  uint8_t *junk = calloc(1, BIG_JUNK + 4);
  hq_rss_t rss;
  if (cs == NULL || junk == NULL) return free(junk), conns_free(cs, n), -ENOMEM;
  hq_rss_start(&rss, o->pid);
  for (size_t i = 0; i < n; i++) {
    put_be32(junk, big_sizes[i % nsizes]);
    int rc = hq_connect(&cs[i], &o->addr, 0);
    if (rc == 0) rc = hq_queue(&cs[i], junk, BIG_JUNK + 4);
    if (rc < 0) return free(junk), conns_free(cs, n), rc;
  }
  free(junk);
  pump_until(cs, n, &rss, all_closed, (double)o->timeout_ms);
  printf("{\"mode\":\"bigframe\",\"conns\":[");
  for (size_t i = 0; i < n; i++) {
    printf("%s{\"size\":%u,", i ? "," : "", big_sizes[i % nsizes]);
    json_close(stdout, &cs[i]);
    putchar('}');
  }
  printf("],");
  conns_free(cs, n);
  hq_rss_finish(&rss, SETTLE_MS);
  hq_json_rss(stdout, &rss);
  puts("}");
  return 0;
}

/* ---- noread: pipelined fetches, responses never read ---------------------- */

#define NOREAD_SOCKBUF 4096 /* small kernel buffers: backpressure shows */

/* Connects c with small buffers and queues its fetches; it never reads. */
static int noread_open(const hq_opts_t *o, hq_conn_t *c) {
  int rc = hq_connect(c, &o->addr, NOREAD_SOCKBUF);
  for (long r = 0; rc == 0 && r < o->requests; r++)
    rc = hq_queue_fetch(c, (int32_t)r, o->topic, 0, (int32_t)o->max_bytes);
  c->no_read = 1;
  return rc;
}

int hq_mode_noread(const hq_opts_t *o) {
  size_t n = (size_t)o->count;
  hq_conn_t *cs = conns_new(n);
  hq_rss_t rss;
  uint64_t queued = 0, sent = 0;
  long closed = 0;
  if (cs == NULL || o->topic == NULL) return free(cs), -EINVAL;
  hq_rss_start(&rss, o->pid);
  for (size_t i = 0; i < n; i++) {
    int rc = noread_open(o, &cs[i]);
    if (rc < 0) return conns_free(cs, n), rc;
    queued += cs[i].out_len;
  }
  hold(cs, n, (double)o->hold_ms, &rss);
  for (size_t i = 0; i < n; i++) sent += cs[i].sent, closed += cs[i].eof;
  printf("{\"mode\":\"noread\",\"conns\":%zu,\"requests\":%ld,"
         "\"bytes_queued\":%llu,\"bytes_sent\":%llu,\"closed\":%ld,",
         n, o->requests, (unsigned long long)queued, (unsigned long long)sent,
         closed);
  conns_free(cs, n);
  hq_rss_finish(&rss, SETTLE_MS);
  hq_json_rss(stdout, &rss);
  puts("}");
  return 0;
}

/* ---- flood: unknown API keys and versions --------------------------------- */

static const int16_t flood_apis[][2] = {
    {-1, 0}, {4, 0}, {1000, 0}, {32767, 0}, {-32768, 0}, {0, 99}, {18, 7}};

/* step: the correlation id expected next; tag: frames that were wrong. */
static void flood_check(hq_conn_t *c, const hq_frame_t *f) {
  if (f->corr != (int32_t)c->step || f->code != FLYQ_WIRE_UNSUPPORTED_VERSION)
    c->tag++;
  c->step++;
}

static int flood_queue(hq_conn_t *c, long m) {
  uint8_t frame[14 + 8];
  size_t napis = sizeof flood_apis / sizeof *flood_apis;
  for (long j = 0; j < m; j++) {
    const int16_t *api = flood_apis[j % (long)napis];
    size_t body = (size_t)(j % 5); /* a few body bytes, as they come */
    put_header(frame, (uint32_t)(10 + body), api[0], api[1], (int32_t)j);
    memset(frame + 14, 0xab, body);
    if (hq_queue(c, frame, 14 + body) < 0) return -ENOMEM;
  }
  return 0;
}

int hq_mode_flood(const hq_opts_t *o) {
  size_t k = o->conns > 0 ? (size_t)o->conns : 1;
  hq_conn_t *cs = conns_new(k);
  long wrong = 0, answered = 0, closed = 0;
  if (cs == NULL) return -ENOMEM;
  for (size_t i = 0; i < k; i++) {
    long m = o->count / (long)k + ((long)i < o->count % (long)k);
    int rc = hq_connect(&cs[i], &o->addr, 0);
    if (rc == 0) rc = flood_queue(&cs[i], m);
    if (rc < 0) return conns_free(cs, k), rc;
    cs[i].on_frame = flood_check;
    cs[i].want = m;
  }
  double t0 = hq_now_ms();
  pump_until(cs, k, NULL, all_answered, (double)o->timeout_ms);
  for (size_t i = 0; i < k; i++)
    wrong += cs[i].tag, answered += cs[i].frames, closed += cs[i].eof;
  printf("{\"mode\":\"flood\",\"sent\":%ld,\"answered\":%ld,\"wrong\":%ld,"
         "\"closed\":%ld,\"ms\":%.1f,\"first\":{",
         o->count, answered, wrong, closed, hq_now_ms() - t0);
  hq_json_frames(stdout, &cs[0]);
  puts("}}");
  conns_free(cs, k);
  return 0;
}

/* ---- random: PRNG bytes ----------------------------------------------------- */

typedef struct rnd {
  uint64_t s;
} rnd_t;

static uint64_t rnd_next(rnd_t *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void rnd_fill(rnd_t *r, uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(rnd_next(r) >> 56);
}

#define RND_FRAME_MIN 18 /* a framed chunk: size, header and 4 more bytes */

/* Fills buf[0..len) for a connection of kind 0 (raw bytes), 1 (frames of
 * random payload) or 2 (frames with a plausible request header). Framed
 * chunks are whole frames (len >= RND_FRAME_MIN), so the next chunk starts
 * a frame too. */
static void rnd_chunk(rnd_t *r, int kind, uint8_t *buf, size_t len) {
  rnd_fill(r, buf, len);
  if (kind == 0) return;
  for (size_t pos = 0; len - pos >= RND_FRAME_MIN;) {
    size_t left = len - pos - 4; /* the last frame takes what remains */
    uint32_t size = 8 + (uint32_t)(rnd_next(r) % 2048);
    if (size > left || left - size < RND_FRAME_MIN) size = (uint32_t)left;
    put_be32(buf + pos, size);
    if (kind == 2 && size >= 10)
      put_header(buf + pos, size, (int16_t)(rnd_next(r) % 40) - 2,
                 (int16_t)(rnd_next(r) % 4 == 0), (int32_t)pos);
    pos += 4 + size;
  }
}

/* Each slot's sessions draw from their own stream, seeded by the seed, the
 * slot and the session's number, so what a session sends does not depend
 * on how the slots happened to interleave. */
typedef struct rnd_run {
  const hq_opts_t *o;
  rnd_t *r;       /* one per slot */
  long *nsession; /* sessions started per slot */
  uint8_t *buf;
  uint64_t queued;
  long sessions, closed, frames, bad_frames, connect_errors;
} rnd_run_t;

static int rnd_session(rnd_run_t *run, hq_conn_t *c, size_t slot) {
  int rc = hq_connect(c, &run->o->addr, 0);
  if (rc < 0) return run->connect_errors++, rc;
  rnd_t *r = &run->r[slot];
  r->s = run->o->seed;
  r->s = rnd_next(r) ^ ((uint64_t)slot << 32) ^ (uint64_t)run->nsession[slot]++;
  c->tag = (int)(rnd_next(r) % 3);
  run->sessions++;
  return 0;
}

/* Ends a closed session (counted), and refills or restarts live ones. */
static void rnd_step(rnd_run_t *run, hq_conn_t *c, size_t slot) {
  uint64_t total = (uint64_t)run->o->bytes;
  rnd_t *r = &run->r[slot];
  if (c->fd >= 0 && c->eof) {
    run->closed++, run->frames += c->frames, run->bad_frames += c->bad_frames;
    hq_close(c);
  }
  if (run->queued >= total) return;
  if (c->fd < 0 && rnd_session(run, c, slot) < 0) return;
  if (c->out_off < c->out_len) return;
  size_t len = 1 + (size_t)(rnd_next(r) % (uint64_t)run->o->max_write);
  if (c->tag != 0 && len < RND_FRAME_MIN) len = RND_FRAME_MIN;
  if (len > total - run->queued) len = (size_t)(total - run->queued);
  rnd_chunk(r, c->tag, run->buf, len);
  if (hq_queue(c, run->buf, len) == 0) run->queued += len;
}

static int rnd_drained(const hq_conn_t *cs, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (hq_alive(&cs[i]) && cs[i].out_off < cs[i].out_len) return 0;
  return 1;
}

static void rnd_free(rnd_run_t *run) {
  free(run->r);
  free(run->nsession);
  free(run->buf);
}

int hq_mode_random(const hq_opts_t *o) {
  size_t k = o->conns > 0 ? (size_t)o->conns : 1;
  hq_conn_t *cs = conns_new(k);
  rnd_run_t run = {.o = o, .r = calloc(k, sizeof *run.r),
                   .nsession = calloc(k, sizeof *run.nsession),
                   .buf = malloc((size_t)o->max_write + RND_FRAME_MIN)};
  uint64_t sent = 0;
  if (cs == NULL || !run.r || !run.nsession || !run.buf || o->max_write < 1)
    return rnd_free(&run), conns_free(cs, k), -ENOMEM;
  double t0 = hq_now_ms(), deadline = t0 + (double)o->timeout_ms;
  while (run.connect_errors < 10 && hq_now_ms() < deadline &&
         (run.queued < (uint64_t)o->bytes || !rnd_drained(cs, k))) {
    for (size_t i = 0; i < k; i++) rnd_step(&run, &cs[i], i);
    hq_pump(cs, k, 10);
    for (size_t i = 0; i < k; i++) sent += cs[i].sent, cs[i].sent = 0;
  }
  pump_quiet(cs, k, QUIET_MS); /* the answers and closes still on the way */
  for (size_t i = 0; i < k; i++) {
    run.frames += cs[i].frames, run.bad_frames += cs[i].bad_frames;
    run.closed += cs[i].fd >= 0 && cs[i].eof;
  }
  printf("{\"mode\":\"random\",\"seed\":%llu,\"bytes_sent\":%llu,"
         "\"sessions\":%ld,\"closed_by_broker\":%ld,\"frames\":%ld,"
         "\"bad_frames\":%ld,\"connect_errors\":%ld,\"ms\":%.1f}\n",
         (unsigned long long)o->seed, (unsigned long long)sent, run.sessions,
         run.closed, run.frames, run.bad_frames, run.connect_errors,
         hq_now_ms() - t0);
  rnd_free(&run);
  conns_free(cs, k);
  return 0;
}
