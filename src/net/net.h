/* The network layer: a libuv TCP listener that cuts the byte stream of each
 * connection into frames (a 4-byte big-endian size, then the payload) and
 * hands whole frames to its user, the protocol handlers in src/server. It
 * knows nothing of what a frame means or of file formats: it only moves
 * bytes, some from memory and some from file ranges (stored batches, read
 * with pread into a buffer the write owns).
 *
 * It enforces the limits of docs/protocol.md ("Limits"): max_connections,
 * max_frame_bytes and request_timeout_ms end in a connection-level error
 * frame (given by the user) and a close; max_inflight and max_output_bytes
 * pause reading (uv_read_stop) until the connection drains, so the memory
 * a connection holds stays bounded whatever its peer does.
 *
 * Everything runs on the loop's thread. Callbacks never run from inside a
 * flyq_net_* or flyq_conn_* call: they come from libuv callbacks. As with
 * any libuv program, the process must ignore SIGPIPE (a write to a peer
 * that closed would otherwise kill it).
 */
#ifndef FLYQ_NET_H
#define FLYQ_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "flyq/common.h"

typedef struct flyq_net flyq_net_t;
typedef struct flyq_conn flyq_conn_t;

/* Why a connection is refused; each has its own error frame. */
enum {
  FLYQ_NET_REJECT_TOO_LARGE, /* frame size over max_frame_bytes */
  FLYQ_NET_REJECT_BAD_SIZE,  /* frame size below the minimum or negative */
  FLYQ_NET_REJECT_TOO_MANY,  /* max_connections reached */
  FLYQ_NET_REJECT_TIMEOUT,   /* a partial frame older than the timeout */
  FLYQ_NET_REJECT_COUNT
};

typedef struct flyq_net_callbacks {
  /* A connection was accepted within max_connections. Return 0 to keep it
   * (on_close will then be called once), or a negative code to close it at
   * once (on_close is then not called). */
  int (*on_open)(flyq_conn_t *c, void *arg);
  /* One whole frame; payload excludes the size prefix and is valid (and
   * writable) only during the call. Each frame counts as one request in
   * flight until flyq_conn_request_done(). */
  void (*on_frame)(flyq_conn_t *c, uint8_t *payload, size_t len, void *arg);
  /* The connection is closed: every send callback has run. c is freed
   * when this returns. */
  void (*on_close)(flyq_conn_t *c, void *arg);
} flyq_net_callbacks_t;

typedef struct flyq_net_config {
  const char *listen; /* "host:port" or "[v6]:port"; port 0 = ephemeral */
  uint32_t max_frame_bytes;
  uint32_t max_connections;
  uint32_t max_inflight;      /* frames handed up and not yet done */
  uint64_t max_output_bytes;  /* bytes queued for sending */
  int64_t request_timeout_ms; /* for a partial frame; <= 0: no timeout */
  /* The error frame sent before closing for each FLYQ_NET_REJECT_* reason
   * (may be NULL/0 to close without one). Not copied: the bytes must stay
   * valid until the close callback of flyq_net_close(). */
  const uint8_t *reject[FLYQ_NET_REJECT_COUNT];
  size_t reject_len[FLYQ_NET_REJECT_COUNT];
  flyq_net_callbacks_t cb;
  void *arg; /* passed to every callback */
} flyq_net_config_t;

/* Parses "host:port" (host: an IPv4 or IPv6 literal, IPv6 possibly in
 * brackets, or a name resolved with getaddrinfo) into *out. Returns 0,
 * FLYQ_ERR_INVALID_ARG for a malformed string or a port outside 0..65535,
 * or a UV_EAI_* code when the name does not resolve. */
int flyq_net_parse_addr(const char *s, struct sockaddr_storage *out);

/* 1 if addr is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x.y.z). */
int flyq_net_is_loopback(const struct sockaddr_storage *addr);

/* Binds and listens on cfg->listen. cfg is copied (not the reject bytes).
 * Returns 0, FLYQ_ERR_INVALID_ARG, a UV_E* code (e.g. UV_EADDRINUSE) or
 * -ENOMEM. On error the handles already made are being closed: run the
 * loop (as before any uv_loop_close) and they free themselves. */
int flyq_net_listen(uv_loop_t *loop, const flyq_net_config_t *cfg,
                    flyq_net_t **out);

/* The bound address (with the real port when 0 was asked): host receives
 * the numeric host, without brackets. Returns 0 or a UV_E* code. */
int flyq_net_address(const flyq_net_t *n, char *host, size_t hostlen,
                     int *port);

/* Number of open connections (those on_open accepted). */
size_t flyq_net_connections(const flyq_net_t *n);

/* Writes whose file bytes were not in the page cache and were read in
 * libuv's thread pool, since n started. */
uint64_t flyq_net_cold_reads(const flyq_net_t *n);

typedef void (*flyq_net_close_cb)(void *arg);

/* Graceful stop: closes the listening socket at once; every connection
 * stops reading and handing up frames, finishes its requests in flight
 * (until flyq_conn_request_done) and its output, then closes. After
 * timeout_ms (<= 0: no wait) the remaining connections are closed at once.
 * Once every handle is closed, n is freed and cb (may be NULL) runs.
 * Calling it twice is a no-op. */
void flyq_net_close(flyq_net_t *n, int64_t timeout_ms, flyq_net_close_cb cb,
                    void *arg);

/* ---- Connections ------------------------------------------------------ */

/* A piece of a response: len bytes from memory (data != NULL) or from the
 * file fd at offset pos (data == NULL). */
typedef struct flyq_net_chunk {
  const uint8_t *data;
  int fd;
  uint64_t pos;
  size_t len;
} flyq_net_chunk_t;

/* status: 0 once every byte was handed to the kernel; UV_ECANCELED when
 * the connection closed first; another negative code for a failed write
 * or file read (the connection is then closed). */
typedef void (*flyq_net_sent_cb)(void *arg, int status);

/* Queues chunks[0..n) to be sent in order, after everything queued before,
 * without copying: the caller keeps the memory and file descriptors valid
 * until cb(arg, status) runs, exactly once, from the loop. The chunks array
 * itself is copied (empty chunks are skipped). Works while the listener
 * stops (requests in flight are answered). Returns 0, or without calling
 * cb: UV_ECANCELED when the connection is closing or was refused,
 * FLYQ_ERR_INVALID_ARG (nothing to send, a NULL cb) or -ENOMEM. */
int flyq_conn_send(flyq_conn_t *c, const flyq_net_chunk_t *chunks, size_t n,
                   flyq_net_sent_cb cb, void *arg);

/* One request handed up by on_frame is finished (its response, if any, was
 * queued with flyq_conn_send). Reading may resume. */
void flyq_conn_request_done(flyq_conn_t *c);

/* Closes at once: pending sends complete with UV_ECANCELED, then on_close
 * runs. No-op when already closing. */
void flyq_conn_close(flyq_conn_t *c);

void flyq_conn_set_data(flyq_conn_t *c, void *data);
void *flyq_conn_data(const flyq_conn_t *c);

/* "1.2.3.4:5678" or "[::1]:5678", for log messages. Static per connection. */
const char *flyq_conn_peer(const flyq_conn_t *c);

#endif /* FLYQ_NET_H */
