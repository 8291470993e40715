/* Shared by the files of flyq-hostile (spec/tools/hostile*.c), the tool
 * that plays the hostile clients of spec/functional/hostile_spec.lua:
 *
 *   hostile.c        the command line and the JSON report
 *   hostile_net.c    raw non-blocking connections, frames, RSS sampling
 *   hostile_modes.c  one function per attack
 *
 * A connection (hq_conn_t) is a plain socket with an output queue and an
 * input buffer; hq_pump() moves bytes for many of them at once with
 * poll(). Nothing here knows the broker's internals: only docs/protocol.md.
 */
#ifndef FLYQ_HOSTILE_H
#define FLYQ_HOSTILE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define HQ_MAX_FRAMES_KEPT 4 /* response frames remembered per connection */

/* A response frame's common prefix (docs/protocol.md, "Frames"). */
typedef struct hq_frame {
  int32_t corr;
  int16_t code;
  char msg[96];
} hq_frame_t;

typedef struct hq_conn hq_conn_t;

struct hq_conn {
  int fd;          /* -1 when not connected */
  int no_read;     /* never read (the client that does not read) */
  int eof;         /* the peer closed or reset the connection */
  int err;         /* errno of a failed read or write, else 0 */
  int tag;         /* the mode's own */
  long step;       /* the mode's own */
  long want;       /* response frames the mode waits for */
  /* Called for every response frame read (may be NULL). */
  void (*on_frame)(hq_conn_t *c, const hq_frame_t *f);
  double t0, t_eof; /* ms: when the mode started the clock; EOF seen */
  uint8_t *out;    /* bytes queued, not yet written: out[out_off..out_len) */
  size_t out_len, out_off, out_cap;
  uint8_t *in;     /* bytes read and not yet taken as frames */
  size_t in_len, in_cap;
  uint64_t sent, received; /* bytes */
  long frames, bad_frames; /* response frames read; unparsable ones */
  hq_frame_t kept[HQ_MAX_FRAMES_KEPT]; /* the first frames read */
};

typedef struct hq_opts {
  const char *mode, *topic;
  struct sockaddr_in addr;
  pid_t pid;    /* the broker, for RSS; 0 = not sampled */
  long count, conns, requests, hold_ms, timeout_ms, trickle_ms, wave;
  long max_bytes, bytes, max_write;
  uint64_t seed;
  int probe;
} hq_opts_t;

/* The broker's resident memory over a run, in KiB (-1 = not sampled). */
typedef struct hq_rss {
  pid_t pid;
  long before, peak, after;
  double last;
} hq_rss_t;

/* hostile_net.c */
double hq_now_ms(void);
void hq_sleep_ms(double ms);
/* Raises RLIMIT_NOFILE to its hard limit; returns the new soft limit. */
long hq_raise_nofile(void);
/* VmRSS of pid in KiB, or -1. */
long hq_rss_kb(pid_t pid);
void hq_rss_start(hq_rss_t *r, pid_t pid);
/* Samples the peak at most every 20 ms. */
void hq_rss_sample(hq_rss_t *r);
/* Waits settle_ms, then records the final value. */
void hq_rss_finish(hq_rss_t *r, double settle_ms);

/* Connects (blocking, then non-blocking). sockbuf > 0 shrinks SO_RCVBUF
 * and SO_SNDBUF first. Returns 0 or -errno; c is reset either way. */
int hq_connect(hq_conn_t *c, const struct sockaddr_in *addr, int sockbuf);
/* Appends n bytes to c's output. Returns 0 or -ENOMEM. */
int hq_queue(hq_conn_t *c, const void *p, size_t n);
/* Polls conns[0..n) for up to timeout_ms, writes what is queued and reads
 * what arrived (unless no_read), taking whole frames as they come.
 * Returns the number of connections that made progress, or -errno. */
int hq_pump(hq_conn_t *conns, size_t n, int timeout_ms);
/* Closes the socket and frees the buffers. */
void hq_close(hq_conn_t *c);
/* 1 while connected with nothing seen of a close. */
int hq_alive(const hq_conn_t *c);

/* Appends an encoded ApiVersions request to c's output. */
int hq_queue_api_versions(hq_conn_t *c, int32_t corr);
/* Appends an encoded Fetch request (partition 0, max_wait 0). */
int hq_queue_fetch(hq_conn_t *c, int32_t corr, const char *topic,
                   int64_t offset, int32_t max_bytes);

/* hostile.c: the JSON report. */
void hq_json_frames(FILE *f, const hq_conn_t *c);
void hq_json_rss(FILE *f, const hq_rss_t *r);
void hq_json_string(FILE *f, const char *s);

/* hostile_modes.c: each runs one attack and prints its JSON report.
 * Returns 0, or -errno when the attack could not be run at all. */
int hq_mode_idle(const hq_opts_t *o);
int hq_mode_slowloris(const hq_opts_t *o);
int hq_mode_bigframe(const hq_opts_t *o);
int hq_mode_noread(const hq_opts_t *o);
int hq_mode_flood(const hq_opts_t *o);
int hq_mode_random(const hq_opts_t *o);

#endif /* FLYQ_HOSTILE_H */
