/* The server's life cycle: the listener with its limits and the
 * connection-level error frames (docs/protocol.md, "Connection-level
 * errors"), the network callbacks, and the graceful close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/logmsg.h"
#include "server/internal.h"

static int on_open(flyq_conn_t *c, void *arg) {
  flyq__sconn_t *sc = flyq__sconn_new(arg, c);
  if (sc == NULL) return -ENOMEM;
  flyq_conn_set_data(c, sc);
  return 0;
}

static void on_frame(flyq_conn_t *c, uint8_t *payload, size_t len, void *arg) {
  (void)arg;
  flyq__dispatch(flyq_conn_data(c), payload, len);
}

static void on_close(flyq_conn_t *c, void *arg) {
  (void)arg;
  flyq__sconn_free(flyq_conn_data(c));
}

/* The error frames the network layer sends before closing. */
static int rejects_encode(flyq_server_t *s, const flyq_config_t *cfg) {
  static const struct {
    int reason;
    int16_t code;
    const char *fmt;
  } r[FLYQ_NET_REJECT_COUNT] = {
      {FLYQ_NET_REJECT_TOO_LARGE, FLYQ_WIRE_MESSAGE_TOO_LARGE,
       "frame larger than max_frame_bytes (%llu)"},
      {FLYQ_NET_REJECT_BAD_SIZE, FLYQ_WIRE_INVALID_REQUEST,
       "invalid frame size"},
      {FLYQ_NET_REJECT_TOO_MANY, FLYQ_WIRE_LIMIT_EXCEEDED,
       "too many connections (max_connections %llu)"},
      {FLYQ_NET_REJECT_TIMEOUT, FLYQ_WIRE_REQUEST_TIMED_OUT,
       "request not complete within request_timeout_ms (%llu)"},
  };
  unsigned long long limit[FLYQ_NET_REJECT_COUNT] = {
      cfg->max_frame_bytes, 0, cfg->max_connections,
      (unsigned long long)cfg->request_timeout_ms};
  for (int i = 0; i < FLYQ_NET_REJECT_COUNT; i++) {
    char msg[128];
    snprintf(msg, sizeof msg, r[i].fmt, limit[i]);
    flyq_buf_t *b = &s->reject[r[i].reason];
    int rc = flyq_proto_encode_error_response(b, -1, r[i].code, msg);
    if (rc < 0) return rc;
  }
  return 0;
}

static void server_free(flyq_server_t *s) {
  for (int i = 0; i < FLYQ_NET_REJECT_COUNT; i++) flyq_buf_free(&s->reject[i]);
  free(s);
}

static void net_config(flyq_server_t *s, const flyq_config_t *cfg,
                       flyq_net_config_t *nc) {
  memset(nc, 0, sizeof *nc);
  nc->listen = cfg->listen;
  nc->max_frame_bytes = cfg->max_frame_bytes;
  nc->max_connections = cfg->max_connections;
  nc->max_inflight = cfg->max_inflight;
  nc->max_output_bytes = cfg->max_output_bytes;
  nc->request_timeout_ms = cfg->request_timeout_ms;
  for (int i = 0; i < FLYQ_NET_REJECT_COUNT; i++) {
    nc->reject[i] = s->reject[i].data;
    nc->reject_len[i] = s->reject[i].len;
  }
  nc->cb.on_open = on_open;
  nc->cb.on_frame = on_frame;
  nc->cb.on_close = on_close;
  nc->arg = s;
}

int flyq_server_start(uv_loop_t *loop, flyq_broker_t *broker,
                      const flyq_config_t *cfg, flyq_server_t **out) {
  if (loop == NULL || broker == NULL || cfg == NULL || out == NULL)
    return FLYQ_ERR_INVALID_ARG;
  flyq_server_t *s = calloc(1, sizeof *s);
  if (s == NULL) return -ENOMEM;
  s->loop = loop;
  s->broker = broker;
  for (int i = 0; i < FLYQ_NET_REJECT_COUNT; i++) flyq_buf_init(&s->reject[i]);
  flyq_net_config_t nc;
  int rc = rejects_encode(s, cfg);
  if (rc == 0) {
    net_config(s, cfg, &nc);
    rc = flyq_net_listen(loop, &nc, &s->net);
  }
  if (rc == 0) rc = flyq_net_address(s->net, s->host, sizeof s->host, &s->port);
  if (rc < 0) {
    if (s->net) flyq_net_close(s->net, 0, NULL, NULL);
    server_free(s);
    return rc;
  }
  flyq_broker_set_partitioner(broker, flyq__server_partition, s);
  *out = s;
  return 0;
}

int flyq_server_address(const flyq_server_t *s, char *host, size_t hostlen,
                        int *port) {
  return flyq_net_address(s->net, host, hostlen, port);
}

size_t flyq_server_connections(const flyq_server_t *s) {
  return flyq_net_connections(s->net);
}

static void net_closed(void *arg) {
  flyq_server_t *s = arg;
  flyq_server_close_cb cb = s->close_cb;
  void *cb_arg = s->close_arg;
  server_free(s);
  if (cb) cb(cb_arg);
}

void flyq_server_close(flyq_server_t *s, int64_t timeout_ms,
                       flyq_server_close_cb cb, void *arg) {
  if (s->closing) return;
  s->closing = 1;
  flyq_broker_set_partitioner(s->broker, NULL, NULL);
  s->close_cb = cb;
  s->close_arg = arg;
  flyq_net_close(s->net, timeout_ms, net_closed, s);
}
