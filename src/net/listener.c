/* The listener: binds the configured address, accepts connections, runs
 * the sweep timer that enforces the partial-frame timeout and ends lingering
 * closes, the idle handle that hands up frames held back by backpressure,
 * and the graceful stop (flyq_net_close).
 *
 * Handle accounting: n->handles counts every open handle (the listener's
 * four and one per connection); the last close callback frees n.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/common.h"
#include "flyq/logmsg.h"
#include "net/internal.h"

#define LISTEN_BACKLOG 511
#define SWEEP_MIN_MS 10
#define SWEEP_MAX_MS 500

static void on_connection(uv_stream_t *server, int status) {
  flyq_net_t *n = server->data;
  if (status < 0) {
    flyq_logmsg(FLYQ_LOG_WARN, "net", "accept: %s", uv_strerror(status));
    return;
  }
  flyq__conn_accept(n);
}

static void sweep_tick(uv_timer_t *t) {
  flyq_net_t *n = t->data;
  uint64_t now = uv_now(n->loop);
  for (flyq_conn_t *c = n->conns; c; c = c->next) flyq__conn_check(c, now);
}

/* Hands up the frames of the connections scheduled so far; those that
 * schedule themselves again wait for the next tick. */
static void idle_tick(uv_idle_t *h) {
  flyq_net_t *n = h->data;
  flyq_conn_t *list = n->ready;
  n->ready = NULL;
  uv_idle_stop(h);
  while (list) {
    flyq_conn_t *c = list;
    list = c->ready_next;
    c->ready_next = NULL;
    c->dispatch_queued = 0;
    flyq__conn_dispatch(c);
  }
}

void flyq__net_schedule(flyq_conn_t *c) {
  flyq_net_t *n = c->net;
  if (c->dispatch_queued || c->state == FLYQ__CONN_CLOSING) return;
  c->dispatch_queued = 1;
  c->ready_next = n->ready;
  n->ready = c;
  uv_idle_start(&n->idle, idle_tick);
}

static uint64_t sweep_period(const flyq_net_config_t *cfg) {
  int64_t ms =
      cfg->request_timeout_ms > 0 ? cfg->request_timeout_ms / 4 : SWEEP_MAX_MS;
  if (ms < SWEEP_MIN_MS) ms = SWEEP_MIN_MS;
  if (ms > SWEEP_MAX_MS) ms = SWEEP_MAX_MS;
  return (uint64_t)ms;
}

static void handle_closed_cb(uv_handle_t *h) {
  flyq__net_handle_closed(h->data);
}

void flyq__net_handle_closed(flyq_net_t *n) {
  if (--n->handles > 0) return;
  flyq_net_close_cb cb = n->close_cb;
  void *arg = n->close_arg;
  flyq__net_pool_free(n);
  free(n->listen);
  free(n);
  if (cb) cb(arg);
}

/* Once stopping and every connection is gone, the timers go too. */
static void maybe_finish(flyq_net_t *n) {
  if (!n->stopping || n->conns || uv_is_closing((uv_handle_t *)&n->sweep))
    return;
  uv_close((uv_handle_t *)&n->sweep, handle_closed_cb);
  uv_close((uv_handle_t *)&n->stop_timer, handle_closed_cb);
  uv_close((uv_handle_t *)&n->idle, handle_closed_cb);
}

void flyq__net_conn_gone(flyq_net_t *n) {
  maybe_finish(n);
  flyq__net_handle_closed(n);
}

static int bind_listen(flyq_net_t *n) {
  struct sockaddr_storage addr;
  int rc = flyq_net_parse_addr(n->cfg.listen, &addr);
  if (rc < 0) return rc;
  rc = uv_tcp_bind(&n->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&n->listener, LISTEN_BACKLOG, on_connection);
  return rc;
}

static void handles_init(flyq_net_t *n, uv_loop_t *loop) {
  uv_tcp_init(loop, &n->listener);
  uv_timer_init(loop, &n->sweep);
  uv_timer_init(loop, &n->stop_timer);
  uv_idle_init(loop, &n->idle);
  n->listener.data = n->sweep.data = n->stop_timer.data = n->idle.data = n;
  n->handles = 4;
}

int flyq_net_listen(uv_loop_t *loop, const flyq_net_config_t *cfg,
                    flyq_net_t **out) {
  if (loop == NULL || cfg == NULL || cfg->listen == NULL || out == NULL ||
      cfg->cb.on_frame == NULL)
    return FLYQ_ERR_INVALID_ARG;
  flyq_net_t *n = calloc(1, sizeof *n);
  if (n == NULL || (n->listen = strdup(cfg->listen)) == NULL) {
    free(n);
    return -ENOMEM;
  }
  n->loop = loop;
  n->cfg = *cfg;
  n->cfg.listen = n->listen;
  handles_init(n, loop);
  int rc = bind_listen(n);
  if (rc < 0) {
    n->stopping = 1;
    uv_close((uv_handle_t *)&n->listener, handle_closed_cb);
    maybe_finish(n);
    return rc;
  }
  uint64_t period = sweep_period(cfg);
  uv_timer_start(&n->sweep, sweep_tick, period, period);
  *out = n;
  return 0;
}

int flyq_net_address(const flyq_net_t *n, char *host, size_t hostlen,
                     int *port) {
  struct sockaddr_storage addr;
  int len = sizeof addr;
  int rc = uv_tcp_getsockname(&n->listener, (struct sockaddr *)&addr, &len);
  if (rc < 0) return rc;
  if (addr.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
    *port = ntohs(a->sin6_port);
    return uv_ip6_name(a, host, hostlen);
  }
  struct sockaddr_in *a = (struct sockaddr_in *)&addr;
  *port = ntohs(a->sin_port);
  return uv_ip4_name(a, host, hostlen);
}

size_t flyq_net_connections(const flyq_net_t *n) { return n->nconns; }

uint64_t flyq_net_cold_reads(const flyq_net_t *n) { return n->cold_reads; }

static void stop_timeout(uv_timer_t *t) {
  flyq_net_t *n = t->data;
  for (flyq_conn_t *c = n->conns; c; c = c->next) flyq_conn_close(c);
}

void flyq_net_close(flyq_net_t *n, int64_t timeout_ms, flyq_net_close_cb cb,
                    void *arg) {
  if (n->stopping) return;
  n->stopping = 1;
  n->close_cb = cb;
  n->close_arg = arg;
  uv_close((uv_handle_t *)&n->listener, handle_closed_cb);
  for (flyq_conn_t *c = n->conns; c; c = c->next) flyq__conn_drain(c);
  if (timeout_ms > 0)
    uv_timer_start(&n->stop_timer, stop_timeout, (uint64_t)timeout_ms, 0);
  else
    stop_timeout(&n->stop_timer);
  maybe_finish(n);
}
