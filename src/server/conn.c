/* A connection's requests, kept in arrival order. A response is sent only
 * when every request before it has been answered, so a parked fetch holds
 * back the later responses of its own connection (never the broker, nor
 * other connections), as in Kafka. Each request counts as in flight for
 * the network layer until it leaves the queue.
 */
#include <stdlib.h>

#include "server/internal.h"

flyq__sconn_t *flyq__sconn_new(flyq_server_t *srv, flyq_conn_t *conn) {
  flyq__sconn_t *sc = calloc(1, sizeof *sc);
  if (sc == NULL) return NULL;
  sc->srv = srv;
  sc->conn = conn;
  return sc;
}

flyq__req_t *flyq__req_new(flyq__sconn_t *sc) {
  flyq__req_t *req = calloc(1, sizeof *req);
  if (req == NULL) return NULL;
  req->sc = sc;
  req->broker = sc->srv->broker;
  req->correlation_id = -1;
  flyq_arena_init(&req->arena);
  flyq_buf_init(&req->out);
  if (sc->tail)
    sc->tail->next = req;
  else
    sc->head = req;
  sc->tail = req;
  return req;
}

void flyq__req_free(flyq__req_t *req) {
  flyq_broker_fetch_result_free(req->fetch);
  flyq_buf_free(&req->out);
  flyq_arena_free(&req->arena);
  free(req);
}

static void req_sent(void *arg, int status) {
  (void)status; /* a failed send closes the connection; nothing to do */
  flyq__req_free(arg);
}

/* Hands req's response to the network; req is freed once it is sent. A
 * response that cannot be sent closes the connection: its client would
 * otherwise wait for it forever. */
static void send_response(flyq__sconn_t *sc, flyq__req_t *req) {
  flyq_net_chunk_t one = {req->out.data, -1, 0, req->out.len};
  const flyq_net_chunk_t *chunks = req->chunks ? req->chunks : &one;
  size_t n = req->chunks ? req->nchunks : 1;
  int lost = req->lost, rc = 0;
  if (!req->silent && !lost)
    rc = flyq_conn_send(sc->conn, chunks, n, req_sent, req);
  if (req->silent || lost || rc < 0) flyq__req_free(req);
  if (lost || (rc < 0 && rc != UV_ECANCELED)) flyq_conn_close(sc->conn);
}

void flyq__sconn_flush(flyq__sconn_t *sc) {
  if (sc->in_frame) return;
  while (sc->head && sc->head->ready) {
    flyq__req_t *req = sc->head;
    sc->head = req->next;
    if (sc->head == NULL) sc->tail = NULL;
    req->next = NULL;
    send_response(sc, req);
    flyq_conn_request_done(sc->conn);
  }
}

void flyq__sconn_free(flyq__sconn_t *sc) {
  flyq__req_t *req = sc->head, *next;
  for (; req; req = next) {
    next = req->next;
    if (req->handle) {
      flyq_broker_fetch_cancel(req->broker, req->handle);
      req->handle = NULL;
      req->waiting = 0;
    }
    req->sc = NULL;
    req->next = NULL;
    if (req->waiting == 0) flyq__req_free(req);
  }
  free(sc->principal);
  free(sc);
}
