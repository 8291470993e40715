/* One connection: reading, cutting frames, the limits, and closing.
 *
 * Bytes are read into the listener's slab; whole frames are handed up from
 * there and what is left (a partial frame, or frames held back because the
 * connection is over max_inflight or max_output_bytes) is kept in the
 * connection's own buffer, which later reads extend. While a connection is
 * over a limit it does not read at all (backpressure), and frames already
 * buffered wait until the idle handle hands them up.
 *
 * Closing is always asynchronous (uv_close): the close callback completes
 * the sends still queued, calls on_close and frees the connection.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/common.h"
#include "flyq/logmsg.h"
#include "flyq/proto.h"
#include "net/internal.h"

#define ROOM_MIN (64u * 1024) /* free space offered to a read, at least */
#define BURST 128 /* frames handed up per connection per loop turn */

static const char *const reject_names[FLYQ_NET_REJECT_COUNT] = {
    "frame too large", "bad frame size", "too many connections",
    "request timed out"};

static int blocked(const flyq_conn_t *c) {
  const flyq_net_config_t *cfg = &c->net->cfg;
  return (cfg->max_inflight && c->inflight >= cfg->max_inflight) ||
         (cfg->max_output_bytes && c->out_bytes >= cfg->max_output_bytes);
}

static int can_dispatch(const flyq_conn_t *c) {
  return c->state == FLYQ__CONN_OPEN && !blocked(c);
}

/* Bytes still missing from the frame starting at p (0 if unknown). */
static size_t frame_missing(const flyq_conn_t *c, const uint8_t *p,
                            size_t len) {
  uint32_t size;
  if (flyq_proto_frame_size(p, len, c->net->cfg.max_frame_bytes, &size) < 0)
    return 0;
  return (size_t)size + 4 > len ? (size_t)size + 4 - len : 0;
}

/* 1 if the buffer starts with a whole frame. */
static int has_frame(const flyq_conn_t *c) {
  uint32_t size;
  return flyq_proto_frame_size(c->buf, c->buf_len, c->net->cfg.max_frame_bytes,
                               &size) == 0 &&
         (size_t)size + 4 <= c->buf_len;
}

/* Capacity for len buffered bytes plus the rest of their frame, growing by
 * at most the bytes already held, so memory follows what really arrived. */
static size_t capacity_for(size_t len, size_t missing) {
  size_t room = missing > ROOM_MIN ? missing : ROOM_MIN;
  size_t most = len > ROOM_MIN ? len : ROOM_MIN;
  return len + (room < most ? room : most);
}

static int buf_resize(flyq_conn_t *c, size_t cap) {
  uint8_t *p = realloc(c->buf, cap);
  if (p == NULL) return -ENOMEM;
  c->buf = p;
  c->buf_cap = cap;
  return 0;
}

static void buf_free(flyq_conn_t *c) {
  free(c->buf);
  c->buf = NULL;
  c->buf_len = c->buf_cap = 0;
}

/* ---- Reading ---------------------------------------------------------- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  flyq_conn_t *c = (flyq_conn_t *)h;
  (void)suggested;
  if (c->buf_len == 0 || c->state != FLYQ__CONN_OPEN) {
    *buf = uv_buf_init((char *)c->net->slab, FLYQ__NET_SLAB);
    return;
  }
  size_t missing = frame_missing(c, c->buf, c->buf_len);
  size_t free_bytes = c->buf_cap - c->buf_len;
  size_t cap = capacity_for(c->buf_len, missing);
  if ((free_bytes == 0 || missing > free_bytes) && cap > c->buf_cap &&
      buf_resize(c, cap) < 0) {
    *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init((char *)c->buf + c->buf_len, c->buf_cap - c->buf_len);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void read_start(flyq_conn_t *c) {
  if (c->reading) return;
  if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
    c->reading = 1;
}

static void read_stop(flyq_conn_t *c) {
  if (!c->reading) return;
  uv_read_stop((uv_stream_t *)&c->tcp);
  c->reading = 0;
}

/* Hands up the whole frames at p while limits allow, at most BURST of
 * them so that a client pipelining many small requests cannot hold the
 * loop (and every other connection) for long; returns the bytes used. A
 * bad frame size rejects the connection. */
static size_t cut_frames(flyq_conn_t *c, uint8_t *p, size_t len) {
  const flyq_net_config_t *cfg = &c->net->cfg;
  size_t pos = 0;
  c->in_dispatch = 1;
  for (int n = 0; n < BURST && can_dispatch(c); n++) {
    uint32_t size;
    int rc =
        flyq_proto_frame_size(p + pos, len - pos, cfg->max_frame_bytes, &size);
    if (rc == FLYQ_ERR_TRUNCATED) break;
    if (rc < 0) {
      flyq__conn_reject(c, rc == FLYQ_ERR_TOO_LARGE ? FLYQ_NET_REJECT_TOO_LARGE
                                                    : FLYQ_NET_REJECT_BAD_SIZE);
      break;
    }
    if (len - pos - 4 < size) break;
    c->inflight++;
    c->partial_since = 0;
    cfg->cb.on_frame(c, p + pos + 4, size, cfg->arg);
    pos += 4 + (size_t)size;
  }
  c->in_dispatch = 0;
  return pos;
}

/* Starts (or stops) the partial-frame clock after frames were cut. */
static void clock_partial(flyq_conn_t *c) {
  if (c->buf_len == 0 || c->state != FLYQ__CONN_OPEN || blocked(c) ||
      has_frame(c)) {
    c->partial_since = 0;
  } else if (c->partial_since == 0) {
    uint64_t now = uv_now(c->net->loop);
    c->partial_since = now ? now : 1;
  }
}

/* Drops the first used bytes of the buffer (all of them once the
 * connection no longer hands up frames). */
static void buf_consume(flyq_conn_t *c, size_t used) {
  if (c->state != FLYQ__CONN_OPEN) used = c->buf_len;
  size_t left = c->buf_len - used;
  if (left == 0) {
    buf_free(c);
    return;
  }
  if (used) memmove(c->buf, c->buf + used, left);
  c->buf_len = left;
  if (c->buf_cap > 2 * FLYQ__NET_SLAB && left <= FLYQ__NET_SLAB)
    buf_resize(c, FLYQ__NET_SLAB); /* on failure the bigger buffer stays */
}

/* Cuts frames from the slab and keeps what is left. */
static void take_slab(flyq_conn_t *c, size_t len) {
  uint8_t *slab = c->net->slab;
  size_t used = cut_frames(c, slab, len);
  size_t left = len - used;
  if (left == 0 || c->state != FLYQ__CONN_OPEN) return;
  size_t cap = capacity_for(left, frame_missing(c, slab + used, left));
  if (buf_resize(c, cap) < 0) {
    flyq_logmsg(FLYQ_LOG_WARN, "net", "%s: out of memory", c->peer);
    flyq_conn_close(c);
    return;
  }
  memcpy(c->buf, slab + used, left);
  c->buf_len = left;
}

void flyq__conn_dispatch(flyq_conn_t *c) {
  if (c->state == FLYQ__CONN_CLOSING) return;
  if (c->buf_len > 0) buf_consume(c, cut_frames(c, c->buf, c->buf_len));
  clock_partial(c);
  flyq__conn_update(c);
}

/* EOF or an error: the peer is gone (a half-closed peer is treated as
 * gone too), so whatever it still waits for is cancelled. */
static void on_read_error(flyq_conn_t *c, int err) {
  if (err != UV_EOF)
    flyq_logmsg(FLYQ_LOG_DEBUG, "net", "%s: %s", c->peer, uv_strerror(err));
  flyq_conn_close(c);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  flyq_conn_t *c = (flyq_conn_t *)s;
  if (nread < 0) {
    on_read_error(c, (int)nread);
    return;
  }
  if (nread == 0 || c->state != FLYQ__CONN_OPEN) return; /* discarded */
  if (buf->base == (char *)c->net->slab) {
    take_slab(c, (size_t)nread);
    clock_partial(c);
    flyq__conn_update(c);
  } else {
    c->buf_len += (size_t)nread;
    flyq__conn_dispatch(c);
  }
}

/* ---- State changes ---------------------------------------------------- */

/* After the error frame: FIN sent, the connection lingers (discarding
 * reads) until the peer's EOF or the deadline, so that closing does not
 * reset the connection before the peer has read the frame. */
static void shutdown_cb(uv_shutdown_t *req, int status) {
  flyq_conn_t *c = req->data;
  if (status < 0) flyq_conn_close(c);
}

static void start_shutdown(flyq_conn_t *c) {
  if (c->shutdown_started) return;
  c->shutdown_started = 1;
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_cb) < 0)
    flyq_conn_close(c);
}

static int idle_now(const flyq_conn_t *c) {
  return c->inflight == 0 && flyq__conn_output_empty(c);
}

void flyq__conn_update(flyq_conn_t *c) {
  switch (c->state) {
  case FLYQ__CONN_OPEN:
    if (blocked(c)) {
      read_stop(c);
      c->partial_since = 0;
      break;
    }
    if (has_frame(c)) { /* hand up what is buffered before reading more */
      read_stop(c);
      flyq__net_schedule(c);
    } else {
      read_start(c);
    }
    clock_partial(c);
    break;
  case FLYQ__CONN_DRAINING:
    if (idle_now(c)) flyq_conn_close(c);
    break;
  case FLYQ__CONN_REJECTED:
    if (flyq__conn_output_empty(c)) start_shutdown(c);
    break;
  }
}

static void reject_sent(void *arg, int status) { (void)arg, (void)status; }

void flyq__conn_reject(flyq_conn_t *c, int reason) {
  if (c->state == FLYQ__CONN_CLOSING || c->state == FLYQ__CONN_REJECTED) return;
  flyq_logmsg(FLYQ_LOG_INFO, "net", "%s: %s, closing", c->peer,
              reject_names[reason]);
  const flyq_net_config_t *cfg = &c->net->cfg;
  c->state = FLYQ__CONN_REJECTED;
  c->partial_since = 0;
  c->deadline = uv_now(c->net->loop) + FLYQ__NET_LINGER_MS;
  read_start(c); /* from now on reads are discarded */
  flyq_net_chunk_t ch = {cfg->reject[reason], -1, 0, cfg->reject_len[reason]};
  if (ch.data == NULL || ch.len == 0 ||
      flyq__conn_queue(c, &ch, 1, reject_sent, NULL) < 0)
    flyq_conn_close(c);
  else if (!c->in_dispatch)
    flyq__conn_update(c);
}

void flyq__conn_check(flyq_conn_t *c, uint64_t now) {
  int64_t timeout = c->net->cfg.request_timeout_ms;
  if (c->state == FLYQ__CONN_OPEN && c->partial_since && timeout > 0 &&
      now - c->partial_since >= (uint64_t)timeout)
    flyq__conn_reject(c, FLYQ_NET_REJECT_TIMEOUT);
  else if (c->state == FLYQ__CONN_REJECTED && now >= c->deadline)
    flyq_conn_close(c);
}

void flyq__conn_drain(flyq_conn_t *c) {
  if (c->state != FLYQ__CONN_OPEN) return;
  c->state = FLYQ__CONN_DRAINING;
  c->partial_since = 0;
  read_stop(c);
  flyq__conn_update(c);
}

/* ---- Life cycle ------------------------------------------------------- */

static void unlink_conn(flyq_net_t *n, flyq_conn_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    n->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  for (flyq_conn_t **r = &n->ready; *r; r = &(*r)->ready_next) {
    if (*r == c) {
      *r = c->ready_next;
      break;
    }
  }
}

/* The end of a closed connection: its output is cancelled, the owner
 * told, c freed. */
static void conn_gone(flyq_conn_t *c) {
  flyq_net_t *n = c->net;
  flyq__conn_cancel_output(c, UV_ECANCELED);
  unlink_conn(n, c);
  if (c->accepted) {
    n->nconns--;
    if (n->cfg.cb.on_close) n->cfg.cb.on_close(c, n->cfg.arg);
  }
  flyq_logmsg(FLYQ_LOG_DEBUG, "net", "%s: closed", c->peer);
  buf_free(c);
  free(c);
  flyq__net_conn_gone(n);
}

/* A file read in the thread pool holds the connection's output (its file
 * descriptors) and a write: the end waits for it (flyq__conn_closed). */
static void close_cb(uv_handle_t *h) {
  flyq_conn_t *c = (flyq_conn_t *)h;
  c->closed = 1;
  if (!c->cold_reading) conn_gone(c);
}

void flyq__conn_closed(flyq_conn_t *c) {
  if (c->closed) conn_gone(c);
}

void flyq_conn_close(flyq_conn_t *c) {
  if (c->state == FLYQ__CONN_CLOSING) return;
  c->state = FLYQ__CONN_CLOSING;
  c->reading = 0;
  uv_close((uv_handle_t *)&c->tcp, close_cb);
}

static void peer_name(flyq_conn_t *c) {
  struct sockaddr_storage addr;
  int len = sizeof addr;
  char host[INET6_ADDRSTRLEN] = "?";
  memset(&addr, 0, sizeof addr);
  int port = 0;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &len) == 0) {
    if (addr.ss_family == AF_INET6) {
      uv_ip6_name((struct sockaddr_in6 *)&addr, host, sizeof host);
      port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    } else {
      uv_ip4_name((struct sockaddr_in *)&addr, host, sizeof host);
      port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
    }
  }
  const char *fmt = addr.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d";
  snprintf(c->peer, sizeof c->peer, fmt, host, port);
}

/* A new connection, linked first so that it is always in n->conns. */
static flyq_conn_t *conn_new(flyq_net_t *n) {
  flyq_conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  uv_tcp_init(n->loop, &c->tcp);
  n->handles++;
  c->net = n;
  c->state = FLYQ__CONN_OPEN;
  c->next = n->conns;
  if (n->conns) n->conns->prev = c;
  n->conns = c;
  return c;
}

void flyq__conn_accept(flyq_net_t *n) {
  const flyq_net_config_t *cfg = &n->cfg;
  flyq_conn_t *c = conn_new(n);
  if (c == NULL) {
    flyq_logmsg(FLYQ_LOG_WARN, "net", "accept: out of memory");
    return;
  }
  if (uv_accept((uv_stream_t *)&n->listener, (uv_stream_t *)&c->tcp) < 0) {
    flyq_conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  peer_name(c);
  if (cfg->max_connections && n->nconns >= cfg->max_connections) {
    flyq__conn_reject(c, FLYQ_NET_REJECT_TOO_MANY);
    return;
  }
  if (cfg->cb.on_open && cfg->cb.on_open(c, cfg->arg) < 0) {
    flyq_conn_close(c);
    return;
  }
  c->accepted = 1;
  n->nconns++;
  flyq_logmsg(FLYQ_LOG_DEBUG, "net", "%s: connected", c->peer);
  read_start(c);
}

void flyq_conn_request_done(flyq_conn_t *c) {
  if (c->inflight > 0) c->inflight--;
  if (!c->in_dispatch) flyq__conn_update(c);
}

void flyq_conn_set_data(flyq_conn_t *c, void *data) { c->data = data; }
void *flyq_conn_data(const flyq_conn_t *c) { return c->data; }
const char *flyq_conn_peer(const flyq_conn_t *c) { return c->peer; }
