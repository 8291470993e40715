/* The request queue and the wait loop of the client.
 *
 * Requests are encoded straight into c->out and queued in a ring, oldest
 * first. The wait loop (flyq__pump) writes c->out, reads whole frames into
 * c->rbuf and completes requests in order: an acks = 0 produce once its
 * last byte is written, every other request when its response arrives.
 * A response must carry the correlation id of the oldest request waiting;
 * anything else (or a connection-level error frame, correlation id -1)
 * loses the connection, which completes every queued request with the
 * error.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

#define EAGER_WRITE_BYTES (64 * 1024)

int64_t flyq__mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

flyq_proto_req_header_t flyq__req_header(flyq_client_t *c, int16_t api_key) {
  flyq_proto_req_header_t h = {api_key, 0, c->next_correlation,
                               flyq_str(c->client_id)};
  return h;
}

flyq__req_t *flyq__req_push(flyq_client_t *c, const flyq_proto_req_header_t *h,
                            int expects_response, flyq__req_done_fn done) {
  size_t cap = c->opts.max_inflight;
  flyq__req_t *r = &c->reqs[(c->rhead + c->rcount) % cap];
  memset(r, 0, sizeof(*r));
  r->correlation_id = h->correlation_id;
  r->api_key = h->api_key;
  r->expects_response = expects_response;
  r->end_pos = c->out_base + c->out.len;
  r->done = done;
  r->partition = -1;
  r->records = -1;
  c->rcount++;
  c->next_correlation =
      c->next_correlation == INT32_MAX ? 0 : c->next_correlation + 1;
  return r;
}

/* Removes the oldest request and completes it. The entry is copied first,
 * so its completion may queue new requests. */
static void complete_head(flyq_client_t *c, const uint8_t *payload,
                          size_t len, int err) {
  flyq__req_t r = c->reqs[c->rhead];
  c->rhead = (c->rhead + 1) % c->opts.max_inflight;
  c->rcount--;
  c->completed++;
  c->in_callback++;
  r.done(c, &r, payload, len, err);
  c->in_callback--;
}

/* Completes the acks = 0 requests at the head whose bytes are written. */
static void complete_written(flyq_client_t *c) {
  uint64_t written = c->out_base + c->out_sent;
  while (c->rcount > 0 && !c->reqs[c->rhead].expects_response &&
         c->reqs[c->rhead].end_pos <= written)
    complete_head(c, NULL, 0, 0);
}

int flyq__client_lose(flyq_client_t *c, int err, int16_t code,
                      const char *fmt, ...) {
  va_list ap;
  char tmp[sizeof(c->errmsg)];
  if (c->fd < 0) return err;
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  close(c->fd);
  c->fd = -1;
  c->rlen = c->rpos = 0;
  c->out_base += c->out.len;
  c->out_sent = 0;
  flyq_buf_reset(&c->out);
  flyq__client_fail(c, err, code, "%s", tmp); /* the callbacks see it */
  while (c->rcount > 0) complete_head(c, NULL, 0, err);
  return flyq__client_fail(c, err, code, "%s", tmp);
}

/* The frame with correlation id -1: the broker's reason for closing. */
static int connection_error(flyq_client_t *c, const uint8_t *p, size_t len) {
  flyq_reader_t rd;
  flyq_proto_resp_header_t h;
  flyq_reader_init(&rd, p, len);
  if (flyq_proto_decode_resp_header(&rd, &h) < 0 || h.error_code == 0)
    return flyq__client_lose(c, FLYQ_ERR_PROTOCOL, 0,
                             "malformed connection-level error frame");
  return flyq__client_lose(
      c, flyq_wire_error_to_err(h.error_code), h.error_code,
      "broker closed the connection: %s: %.*s",
      flyq_wire_errname(h.error_code), h.error_message.len > 0
          ? (int)h.error_message.len : 0,
      h.error_message.len > 0 ? h.error_message.ptr : "");
}

/* Hands one response payload to the request it answers. */
static int dispatch(flyq_client_t *c, const uint8_t *p, size_t len) {
  int32_t id;
  const flyq__req_t *head;
  complete_written(c); /* acks = 0 requests ahead of the one answered */
  head = c->rcount ? &c->reqs[c->rhead] : NULL;
  if (flyq_proto_peek_correlation_id(p, len, &id) < 0)
    return flyq__client_lose(c, FLYQ_ERR_PROTOCOL, 0, "short response frame");
  if (id == -1) return connection_error(c, p, len);
  if (head == NULL || !head->expects_response)
    return flyq__client_lose(c, FLYQ_ERR_PROTOCOL, 0,
                             "response with correlation id %d while no "
                             "request is waiting for one", (int)id);
  if (id != head->correlation_id)
    return flyq__client_lose(c, FLYQ_ERR_PROTOCOL, 0,
                             "response correlation id %d does not match "
                             "the oldest request's %d", (int)id,
                             (int)head->correlation_id);
  complete_head(c, p, len, 0);
  return 0;
}

/* Takes the next whole frame out of c->rbuf. Returns 1 with *p and *len set,
 * 0 when it is incomplete, or the error (the connection is lost). */
static int next_frame(flyq_client_t *c, const uint8_t **p, size_t *len) {
  size_t have = c->rlen - c->rpos;
  uint32_t size;
  int r;
  if (have < 4) return 0;
  r = flyq_proto_frame_size(c->rbuf + c->rpos, have, c->opts.max_frame_bytes,
                            &size);
  if (r < 0)
    return flyq__client_lose(c, r, 0, "bad response frame size %u (limit %u)",
                             (unsigned)size, (unsigned)c->opts.max_frame_bytes);
  if (have - 4 < size) return 0;
  *p = c->rbuf + c->rpos + 4;
  *len = size;
  c->rpos += 4 + (size_t)size;
  return 1;
}

/* Dispatches the whole frames already received, stopping as soon as done()
 * holds so that a blocking call's payload stays where it is. */
static int process_frames(flyq_client_t *c,
                          int (*done)(flyq_client_t *, void *), void *arg) {
  const uint8_t *p = NULL;
  size_t len = 0;
  int r;
  while (!done(c, arg)) {
    if (c->fd < 0) return FLYQ_ERR_CLOSED;
    r = next_frame(c, &p, &len);
    if (r <= 0) return r;
    if (c->raw_frames) {
      c->sync.done = 1;
      c->sync.payload = p;
      c->sync.len = len;
      return 0;
    }
    r = dispatch(c, p, len);
    if (r < 0) return r;
  }
  return 0;
}

/* One poll() on the socket and the reading that follows. Returns
 * FLYQ_ERR_TIMEOUT once the deadline (< 0: none) has passed. */
static int wait_io(flyq_client_t *c, int64_t deadline) {
  struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
  int timeout = -1, n, r;
  if (deadline >= 0) {
    int64_t left = deadline - flyq__mono_ms();
    timeout = left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
  }
  if (c->out_sent < c->out.len) pfd.events |= POLLOUT;
  n = poll(&pfd, 1, timeout);
  if (n < 0) return errno == EINTR ? 0 : -errno;
  if (n == 0)
    return deadline >= 0 && flyq__mono_ms() >= deadline ? FLYQ_ERR_TIMEOUT : 0;
  if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR))) return 0;
  r = flyq__sock_read(c);
  if (r == FLYQ_ERR_CLOSED)
    return flyq__client_lose(c, r, 0, "connection closed by the broker");
  if (r < 0)
    return flyq__client_lose(c, r, 0, "read: %s", flyq_strerror(r));
  return 0;
}

/* A write failed (usually the broker closed the connection): what it sent
 * before closing, such as a connection-level error frame, explains why, so
 * read and dispatch that first. */
static int write_failed(flyq_client_t *c, int err,
                        int (*done)(flyq_client_t *, void *), void *arg) {
  int r;
  while (flyq__sock_read(c) > 0) continue;
  r = process_frames(c, done, arg);
  if (c->fd < 0 || r < 0) return r < 0 ? r : FLYQ_ERR_CLOSED;
  if (done(c, arg)) return 0;
  if (err == -EPIPE || err == -ECONNRESET)
    return flyq__client_lose(c, FLYQ_ERR_CLOSED, 0,
                             "connection closed by the broker");
  return flyq__client_lose(c, err, 0, "write: %s", flyq_strerror(err));
}

int flyq__pump(flyq_client_t *c, int64_t deadline,
               int (*done)(flyq_client_t *c, void *arg), void *arg) {
  int r;
  for (;;) {
    if (c->fd < 0) return FLYQ_ERR_CLOSED;
    r = flyq__sock_write(c);
    if (r < 0) return write_failed(c, r, done, arg);
    complete_written(c);
    r = process_frames(c, done, arg);
    if (r < 0) return r;
    if (done(c, arg)) return 0;
    if (c->fd < 0) return FLYQ_ERR_CLOSED;
    r = wait_io(c, deadline);
    if (r < 0) return r;
  }
}

static int never_done(flyq_client_t *c, void *arg) {
  (void)c;
  (void)arg;
  return 0;
}

static int slot_free(flyq_client_t *c, void *arg) {
  (void)arg;
  return c->rcount < c->opts.max_inflight;
}

int flyq__wait_slot(flyq_client_t *c) {
  int r;
  if (slot_free(c, NULL)) return 0;
  if (c->in_callback)
    return flyq__client_fail(c, FLYQ_ERR_LIMIT, 0,
                             "%u requests in flight", c->opts.max_inflight);
  r = flyq__pump(c, -1, slot_free, NULL);
  return r;
}

int flyq__maybe_write(flyq_client_t *c) {
  int r;
  if (c->out.len - c->out_sent < EAGER_WRITE_BYTES) return 0;
  r = flyq__sock_write(c);
  if (r < 0) return write_failed(c, r, never_done, NULL);
  return 0;
}

static void sync_done(flyq_client_t *c, flyq__req_t *r, const uint8_t *p,
                      size_t len, int err) {
  (void)r;
  c->sync.done = 1;
  c->sync.err = err;
  c->sync.payload = p;
  c->sync.len = len;
}

static int sync_is_done(flyq_client_t *c, void *arg) {
  (void)arg;
  return c->sync.done;
}

/* Checks the common response prefix of a blocking call's payload. */
static int check_top_level(flyq_client_t *c, const char *what) {
  flyq_reader_t rd;
  flyq_proto_resp_header_t h;
  flyq_reader_init(&rd, c->sync.payload, c->sync.len);
  if (flyq_proto_decode_resp_header(&rd, &h) < 0)
    return flyq__client_lose(c, FLYQ_ERR_PROTOCOL, 0,
                             "%s: malformed response", what);
  if (h.error_code != 0)
    return flyq__client_wire_fail(c, what, h.error_code, h.error_message);
  return 0;
}

int flyq__sync_call(flyq_client_t *c, const flyq_proto_req_header_t *h,
                    int expects_response, int64_t extra_ms, const char *what) {
  int64_t wait = c->opts.request_timeout_ms + (extra_ms > 0 ? extra_ms : 0);
  int r;
  memset(&c->sync, 0, sizeof(c->sync));
  flyq__req_push(c, h, expects_response, sync_done);
  r = flyq__pump(c, flyq__mono_ms() + wait, sync_is_done, NULL);
  if (r == FLYQ_ERR_TIMEOUT)
    return flyq__client_lose(c, r, 0,
                             "%s: no response within %lld ms; connection "
                             "closed", what, (long long)wait);
  if (r == 0 && c->sync.err) r = c->sync.err;
  if (r < 0) return r;
  return expects_response ? check_top_level(c, what) : 0;
}

int flyq__start(flyq_client_t *c, int16_t api_key, flyq_proto_req_header_t *h) {
  int r = flyq__client_begin(c, 1);
  if (r == 0) r = flyq__wait_slot(c);
  if (r == 0) *h = flyq__req_header(c, api_key);
  return r;
}

int flyq__encoded(flyq_client_t *c, int r, const char *what) {
  if (r == 0) return 0;
  return flyq__client_fail(c, r, 0, "%s: cannot encode the request: %s", what,
                           flyq_strerror(r));
}

int flyq__malformed(flyq_client_t *c, const char *what) {
  return flyq__client_lose(c, FLYQ_ERR_PROTOCOL, 0,
                           "%s: malformed response from the broker", what);
}
