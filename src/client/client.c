/* The client's lifetime (options, new, connect, close), its error text and
 * the small helpers every other client file uses. The request queue and the
 * wait loop are in queue.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client_int.h"

#define DEFAULT_CLIENT_ID "flyq-client"

void flyq_client_options_init(flyq_client_options_t *o) {
  memset(o, 0, sizeof(*o));
  o->request_timeout_ms = 30000;
  o->max_inflight = 5;
  o->max_frame_bytes = 128u * 1024 * 1024;
  o->send_batch_bytes = 1024 * 1024;
  o->send_acks = FLYQ_ACKS_LEADER;
}

static int options_check(const flyq_client_options_t *o) {
  if (o->max_inflight == 0 || o->max_inflight > 1u << 20) return -1;
  if (o->max_frame_bytes < 64 || o->request_timeout_ms <= 0) return -1;
  if (o->send_batch_bytes == 0 || o->send_batch_bytes > FLYQ_BATCH_MAX_SIZE)
    return -1;
  if (o->send_acks != 0 && o->send_acks != 1 && o->send_acks != -1) return -1;
  if (o->client_id && strlen(o->client_id) > FLYQ_PROTO_CLIENT_ID_MAX)
    return -1;
  return 0;
}

int flyq_client_new(const flyq_client_options_t *opts, flyq_client_t **out) {
  flyq_client_t *c;
  *out = NULL;
  c = calloc(1, sizeof(*c));
  if (c == NULL) return -ENOMEM;
  if (opts) c->opts = *opts;
  else flyq_client_options_init(&c->opts);
  if (options_check(&c->opts) < 0) {
    free(c);
    return FLYQ_ERR_INVALID_ARG;
  }
  c->client_id = strdup(opts && opts->client_id ? opts->client_id
                                                : DEFAULT_CLIENT_ID);
  c->reqs = calloc(c->opts.max_inflight, sizeof(*c->reqs));
  if (c->client_id == NULL || c->reqs == NULL) {
    free(c->client_id);
    free(c->reqs);
    free(c);
    return -ENOMEM;
  }
  c->opts.client_id = c->client_id;
  c->fd = -1;
  flyq_buf_init(&c->out);
  flyq_arena_init(&c->arena);
  flyq_arena_init(&c->cb_arena);
  *out = c;
  return 0;
}

int flyq__client_attach(flyq_client_t *c, int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (c->fd >= 0 || fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return FLYQ_ERR_INVALID_ARG;
  c->fd = fd;
  c->out_sent = 0;
  c->rlen = c->rpos = 0;
  flyq_buf_reset(&c->out);
  c->errmsg[0] = '\0';
  c->error_code = 0;
  return 0;
}

int flyq_client_connect(flyq_client_t *c, const char *addr, int timeout_ms) {
  int fd, r;
  if (c->in_callback || c->fd >= 0)
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                             c->fd >= 0 ? "already connected"
                                        : "connect from a callback");
  fd = flyq__sock_connect(c, addr, timeout_ms);
  if (fd < 0) return fd;
  flyq__client_attach(c, fd);
  r = flyq__check_versions(c);
  if (r < 0) flyq__client_lose(c, r, c->error_code, "%s", c->errmsg);
  return r;
}

int flyq_client_connected(const flyq_client_t *c) { return c->fd >= 0; }

void flyq_client_close(flyq_client_t *c) {
  if (c == NULL) return;
  flyq__client_lose(c, FLYQ_ERR_CLOSED, 0, "client closed");
  flyq__send_free(c);
  for (size_t i = 0; i < c->ntopics; i++) free(c->topics[i]);
  free(c->topics);
  flyq_buf_free(&c->out);
  flyq_arena_free(&c->arena);
  flyq_arena_free(&c->cb_arena);
  free(c->rbuf);
  free(c->reqs);
  free(c->client_id);
  free(c);
}

const char *flyq_client_errmsg(const flyq_client_t *c) { return c->errmsg; }

int16_t flyq_client_error_code(const flyq_client_t *c) {
  return c->error_code;
}

const char *flyq_client_broker_version(const flyq_client_t *c) {
  return c->fd >= 0 ? c->broker_version : "";
}

int flyq_client_fd(const flyq_client_t *c) { return c->fd; }

size_t flyq_client_inflight(const flyq_client_t *c) { return c->rcount; }

int flyq__client_fail(flyq_client_t *c, int err, int16_t code,
                      const char *fmt, ...) {
  va_list ap;
  char tmp[sizeof(c->errmsg)];
  va_start(ap, fmt);
  vsnprintf(tmp, sizeof(tmp), fmt, ap); /* fmt's args may be c->errmsg */
  va_end(ap);
  memcpy(c->errmsg, tmp, sizeof(tmp));
  c->error_code = code;
  return err;
}

int flyq__client_wire_fail(flyq_client_t *c, const char *what, int16_t code,
                           flyq_str_t msg) {
  int err = flyq_wire_error_to_err(code);
  if (msg.len > 0)
    return flyq__client_fail(c, err, code, "%s: %s: %.*s", what,
                             flyq_wire_errname(code), (int)msg.len, msg.ptr);
  return flyq__client_fail(c, err, code, "%s: %s", what,
                           flyq_wire_errname(code));
}

int flyq__client_begin(flyq_client_t *c, int blocking) {
  if (blocking && c->in_callback)
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                             "blocking client call from a callback");
  if (c->fd < 0) {
    if (c->errmsg[0] == '\0')
      flyq__client_fail(c, FLYQ_ERR_CLOSED, 0, "not connected");
    return FLYQ_ERR_CLOSED;
  }
  if (blocking) flyq_arena_reset(&c->arena);
  return 0;
}

const char *flyq__topic_intern(flyq_client_t *c, const char *topic) {
  char *copy;
  for (size_t i = c->ntopics; i-- > 0;)
    if (strcmp(c->topics[i], topic) == 0) return c->topics[i];
  if (c->ntopics == c->topics_cap) {
    size_t cap = c->topics_cap ? c->topics_cap * 2 : 8;
    char **t = realloc(c->topics, cap * sizeof(*t));
    if (t == NULL) return NULL;
    c->topics = t;
    c->topics_cap = cap;
  }
  copy = strdup(topic);
  if (copy != NULL) c->topics[c->ntopics++] = copy;
  return copy;
}

const char *flyq__cstr(flyq_arena_t *a, flyq_str_t s) {
  return s.len < 0 ? NULL : flyq_arena_strdup(a, s);
}
