/* flyq-hostile's plumbing (spec/tools/hostile.h): clocks, the broker's
 * RSS from /proc, raw non-blocking connections with an output queue and an
 * input buffer cut into response frames, and the few requests the attacks
 * encode with the wire codec.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "flyq/proto.h"
#include "hostile.h"

#define READ_CHUNK (64u * 1024)

double hq_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void hq_sleep_ms(double ms) {
  if (ms <= 0) return;
  long ns = (long)(ms * 1e6);
  struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

long hq_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return -errno;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return (long)rl.rlim_cur;
}

/* ---- The broker's memory ----------------------------------------------- */

long hq_rss_kb(pid_t pid) {
  char path[64], line[256];
  long kb = -1;
  snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

void hq_rss_start(hq_rss_t *r, pid_t pid) {
  r->pid = pid;
  r->before = r->peak = r->after = pid > 0 ? hq_rss_kb(pid) : -1;
  r->last = hq_now_ms();
}

void hq_rss_sample(hq_rss_t *r) {
  double now = hq_now_ms();
  if (r->pid <= 0 || now - r->last < 20) return;
  r->last = now;
  long kb = hq_rss_kb(r->pid);
  if (kb > r->peak) r->peak = kb;
}

void hq_rss_finish(hq_rss_t *r, double settle_ms) {
  if (r->pid <= 0) return;
  hq_sleep_ms(settle_ms);
  r->last = 0;
  hq_rss_sample(r);
  r->after = hq_rss_kb(r->pid);
}

/* ---- Connections --------------------------------------------------------- */

int hq_connect(hq_conn_t *c, const struct sockaddr_in *addr, int sockbuf) {
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return -errno;
  if (sockbuf > 0) {
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof sockbuf);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof sockbuf);
  }
  if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) < 0 ||
      fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
    int err = -errno;
    close(c->fd);
    c->fd = -1;
    return err;
  }
  c->t0 = hq_now_ms();
  return 0;
}

int hq_queue(hq_conn_t *c, const void *p, size_t n) {
  if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
  if (c->out_len + n > c->out_cap) {
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + n) cap *= 2;
    uint8_t *q = realloc(c->out, cap);
    if (q == NULL) return -ENOMEM;
    c->out = q;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, p, n);
  c->out_len += n;
  return 0;
}

void hq_close(hq_conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  free(c->out);
  free(c->in);
  c->out = c->in = NULL;
  c->out_len = c->out_off = c->out_cap = c->in_len = c->in_cap = 0;
}

int hq_alive(const hq_conn_t *c) { return c->fd >= 0 && !c->eof; }

static void saw_close(hq_conn_t *c, int err) {
  c->eof = 1;
  c->err = err;
  c->t_eof = hq_now_ms();
  c->out_off = c->out_len = 0;
}

/* Keeps the common prefix of one response frame's payload. */
static void take_frame(hq_conn_t *c, const uint8_t *p, size_t len) {
  flyq_reader_t r;
  flyq_proto_resp_header_t h;
  flyq_reader_init(&r, p, len);
  if (flyq_proto_decode_resp_header(&r, &h) < 0) {
    c->bad_frames++;
    return;
  }
  hq_frame_t f;
  f.corr = h.correlation_id;
  f.code = h.error_code;
  int n = h.error_message.len > 0 ? h.error_message.len : 0;
  if (n > (int)sizeof f.msg - 1) n = (int)sizeof f.msg - 1;
  if (n > 0) memcpy(f.msg, h.error_message.ptr, (size_t)n);
  f.msg[n] = '\0';
  if (c->frames < HQ_MAX_FRAMES_KEPT) c->kept[c->frames] = f;
  c->frames++;
  if (c->on_frame) c->on_frame(c, &f);
}

/* Takes the whole frames at the start of c->in. A size no broker may send
 * (negative, below 6) counts as a bad frame and ends the connection. */
static void take_frames(hq_conn_t *c) {
  size_t pos = 0;
  while (c->in_len - pos >= 4) {
    const uint8_t *p = c->in + pos;
    uint32_t size = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                    (uint32_t)p[2] << 8 | p[3];
    if (size < 6 || size > INT32_MAX) {
      c->bad_frames++;
      saw_close(c, EPROTO);
      pos = c->in_len;
      break;
    }
    if (c->in_len - pos - 4 < size) break;
    take_frame(c, p + 4, size);
    pos += 4 + (size_t)size;
  }
  memmove(c->in, c->in + pos, c->in_len - pos);
  c->in_len -= pos;
}

static int grow_in(hq_conn_t *c) {
  if (c->in_cap - c->in_len >= READ_CHUNK) return 0;
  size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
  while (cap - c->in_len < READ_CHUNK) cap *= 2;
  uint8_t *p = realloc(c->in, cap);
  if (p == NULL) return -ENOMEM;
  c->in = p;
  c->in_cap = cap;
  return 0;
}

static int do_read(hq_conn_t *c) {
  if (grow_in(c) < 0) {
    saw_close(c, ENOMEM);
    return 1;
  }
  ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n <= 0) {
    saw_close(c, n < 0 ? errno : 0);
    return 1;
  }
  c->in_len += (size_t)n;
  c->received += (uint64_t)n;
  take_frames(c);
  return 1;
}

static int do_write(hq_conn_t *c) {
  ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                   MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
  if (n < 0) {
    saw_close(c, errno);
    return 1;
  }
  c->out_off += (size_t)n;
  c->sent += (uint64_t)n;
  return 1;
}

static short wanted(const hq_conn_t *c) {
  if (!hq_alive(c)) return 0;
  return (short)((c->no_read ? 0 : POLLIN) |
                 (c->out_off < c->out_len ? POLLOUT : 0));
}

/* Does the I/O poll reported for c; returns 1 if something happened. A
 * connection that does not read learns of a close from POLLERR/POLLHUP. */
static int serve(hq_conn_t *c, short revents) {
  int moved = 0;
  if ((revents & POLLOUT) && hq_alive(c)) moved |= do_write(c);
  if (!hq_alive(c)) return 1;
  if (!c->no_read && (revents & (POLLIN | POLLHUP | POLLERR)))
    return do_read(c) | moved;
  if (c->no_read && (revents & (POLLHUP | POLLERR))) {
    saw_close(c, ECONNRESET);
    return 1;
  }
  return moved;
}

int hq_pump(hq_conn_t *conns, size_t n, int timeout_ms) {
  struct pollfd *pfd = calloc(n ? n : 1, sizeof *pfd);
  if (pfd == NULL) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    pfd[i].fd = wanted(&conns[i]) ? conns[i].fd : -1;
    pfd[i].events = wanted(&conns[i]);
  }
  int rc = poll(pfd, (nfds_t)n, timeout_ms), moved = 0;
  if (rc < 0) rc = errno == EINTR ? 0 : -errno;
  for (size_t i = 0; rc > 0 && i < n; i++)
    if (pfd[i].revents) moved += serve(&conns[i], pfd[i].revents);
  free(pfd);
  return rc < 0 ? rc : moved;
}

/* ---- Requests ------------------------------------------------------------ */

static int queue_buf(hq_conn_t *c, flyq_buf_t *b, int rc) {
  if (rc == 0) rc = hq_queue(c, b->data, b->len);
  flyq_buf_free(b);
  return rc;
}

int hq_queue_api_versions(hq_conn_t *c, int32_t corr) {
  flyq_buf_t b;
  flyq_proto_req_header_t h = {FLYQ_API_API_VERSIONS, 0, corr,
                               flyq_str("flyq-hostile")};
  flyq_buf_init(&b);
  return queue_buf(c, &b, flyq_proto_encode_api_versions_req(&b, &h));
}

int hq_queue_fetch(hq_conn_t *c, int32_t corr, const char *topic,
                   int64_t offset, int32_t max_bytes) {
  flyq_buf_t b;
  flyq_proto_req_header_t h = {FLYQ_API_FETCH, 0, corr,
                               flyq_str("flyq-hostile")};
  flyq_proto_fetch_req_part_t part = {0, offset, max_bytes};
  flyq_proto_fetch_req_topic_t t = {flyq_str(topic), &part, 1};
  flyq_proto_fetch_req_t req = {0};
  req.max_wait_ms = 0;
  req.min_bytes = 1;
  req.max_bytes = max_bytes;
  req.topics = &t;
  req.ntopics = 1;
  flyq_buf_init(&b);
  return queue_buf(c, &b, flyq_proto_encode_fetch_req(&b, &h, &req));
}
