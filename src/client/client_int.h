/* Internals of the C client (include/flyq/client.h), shared by the files of
 * src/client/:
 *
 *   client.c   lifetime, options, errors, interned topic names
 *   queue.c    the request queue, the wait loop and blocking calls
 *   sock.c     address parsing, non-blocking connect, socket reads/writes
 *   produce.c  produce, produce_async and their result decoding
 *   send.c     the batching record sender
 *   fetch.c    fetch, the record iterator and the consume loop
 *   admin.c    ApiVersions, Authenticate, ListOffsets, topics, offsets
 *   results.c  Metadata, group offsets, ListGroups (results the caller frees)
 *   raw.c      raw frame access for tests and tools
 *
 * Every request goes through one FIFO queue (flyq__req_t ring). A request is
 * encoded as a whole frame into the output buffer `out`; requests that get
 * a response complete when it arrives (responses come in request order, so
 * a response always belongs to the oldest request still waiting), acks = 0
 * produces complete when their last byte is written. Blocking calls queue
 * their request like any other and run the wait loop until it completes;
 * its payload then stays in the read buffer, untouched, until the next call.
 */
#ifndef FLYQ_CLIENT_INT_H
#define FLYQ_CLIENT_INT_H

#include <stdarg.h>
#include <stdint.h>

#include "flyq/buf.h"
#include "flyq/client.h"
#include "flyq/proto.h"

typedef struct flyq__req flyq__req_t;

/* Completes a request: payload/len is the response payload after the frame
 * size (NULL/0 for acks = 0 or when err != 0), err is 0 or the connection
 * error. Valid only during the call. */
typedef void (*flyq__req_done_fn)(flyq_client_t *c, flyq__req_t *r,
                                  const uint8_t *payload, size_t len,
                                  int err);

struct flyq__req {
  int32_t correlation_id;
  int16_t api_key;
  int expects_response;
  uint64_t end_pos;        /* stream position just after its last byte */
  flyq__req_done_fn done;
  flyq_produce_cb cb;      /* produce requests */
  void *arg;
  const char *topic;       /* interned (flyq__topic_intern), may be NULL */
  int32_t partition;
  int32_t records;         /* -1 when unknown */
};

/* The state of the blocking call in progress (at most one). */
typedef struct flyq__sync {
  int active;
  int done;
  int err;
  const uint8_t *payload;
  size_t len;
} flyq__sync_t;

/* A partly filled batch of flyq_client_send. */
typedef struct flyq__acc {
  const char *topic; /* interned */
  int32_t partition;
  flyq_batch_builder_t builder;
} flyq__acc_t;

struct flyq_client {
  flyq_client_options_t opts;
  char *client_id;
  int fd;
  int in_callback;
  int raw_frames;          /* the wait loop only frames, never dispatches */
  int32_t next_correlation;
  char broker_version[64];
  int fetch_v1;            /* the broker speaks Fetch version 1 */

  /* output: out.data[out_sent..out.len) is still to be written */
  flyq_buf_t out;
  size_t out_sent;
  uint64_t out_base;       /* stream position of out.data[0] */

  /* input: rbuf[rpos..rlen) are received bytes not yet consumed */
  uint8_t *rbuf;
  size_t rcap, rlen, rpos;

  /* the request queue (ring of opts.max_inflight entries) */
  flyq__req_t *reqs;
  size_t rhead, rcount;
  uint64_t completed;      /* requests completed so far */

  flyq__sync_t sync;
  flyq_arena_t arena;      /* results of the current call; reset per call */
  flyq_arena_t cb_arena;   /* one async response; reset per response */

  /* errors */
  char errmsg[512];
  int16_t error_code;

  /* flyq_client_send */
  flyq__acc_t *accs;
  size_t naccs, accs_cap;
  int send_err;
  int16_t send_error_code;
  char send_errmsg[512];

  /* interned topic names */
  char **topics;
  size_t ntopics, topics_cap;
};

/* ---- client.c --------------------------------------------------------- */

/* Sets the error text (printf format) and wire code; returns err. */
int flyq__client_fail(flyq_client_t *c, int err, int16_t code,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Sets the text for a broker error: "what: WIRE_NAME: message"; returns
 * the FLYQ_ERR_* for code. msg may be null. */
int flyq__client_wire_fail(flyq_client_t *c, const char *what, int16_t code,
                           flyq_str_t msg);
/* Guards every public call: FLYQ_ERR_CLOSED when not connected, and
 * FLYQ_ERR_INVALID_ARG for a blocking call from a callback. A blocking
 * call also resets the result arena (the previous call's results). */
int flyq__client_begin(flyq_client_t *c, int blocking);
/* Uses fd (a connected stream socket; the client takes ownership) as the
 * connection, without the ApiVersions check. For tests with a fake peer;
 * flyq_client_connect uses it after connecting. */
int flyq__client_attach(flyq_client_t *c, int fd);
/* A stable copy of topic owned by the client (NULL on ENOMEM). */
const char *flyq__topic_intern(flyq_client_t *c, const char *topic);
/* NUL-terminated arena copy of a wire string; NULL for null (and for
 * out of memory: callers check when it matters). */
const char *flyq__cstr(flyq_arena_t *a, flyq_str_t s);

/* ---- queue.c ---------------------------------------------------------- */

/* A request header with the next correlation id (not consumed until
 * flyq__req_push). */
flyq_proto_req_header_t flyq__req_header(flyq_client_t *c, int16_t api_key);
/* Queues the request whose frame (header h) was just encoded at the end of
 * c->out. The caller must have made room with flyq__wait_slot. Returns the
 * entry for the caller to fill in (cb, arg, topic...); records and
 * partition default to -1. */
flyq__req_t *flyq__req_push(flyq_client_t *c, const flyq_proto_req_header_t *h,
                            int expects_response, flyq__req_done_fn done);
/* Waits until the queue has room for one more request (from a callback:
 * FLYQ_ERR_LIMIT instead of waiting). */
int flyq__wait_slot(flyq_client_t *c);
/* Writes c->out without blocking once enough is pending. */
int flyq__maybe_write(flyq_client_t *c);
/* Starts a blocking call: flyq__client_begin + flyq__wait_slot, then fills
 * *h with the request header to encode. */
int flyq__start(flyq_client_t *c, int16_t api_key, flyq_proto_req_header_t *h);
/* After an encoder returned r: 0 stays 0, an error gets its text. */
int flyq__encoded(flyq_client_t *c, int r, const char *what);
/* A response that does not decode or does not answer what was asked:
 * loses the connection with FLYQ_ERR_PROTOCOL. */
int flyq__malformed(flyq_client_t *c, const char *what);

/* Queues a blocking request (as flyq__req_push) and runs the wait loop
 * until it completes or request_timeout_ms + extra_ms pass (the connection
 * is then closed). On success c->sync.payload/len hold the response
 * payload (NULL for acks = 0), valid until the next call, and its
 * top-level error code was 0; otherwise the error is returned with its
 * text ("what: ..."). */
int flyq__sync_call(flyq_client_t *c, const flyq_proto_req_header_t *h,
                    int expects_response, int64_t extra_ms, const char *what);

/* Loses the connection: closes the socket, fails every queued request with
 * err (their callbacks fire) and sets the text. Returns err. */
int flyq__client_lose(flyq_client_t *c, int err, int16_t code,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The wait loop: writes, reads and dispatches until done(c, arg) is true,
 * the deadline (ms on the monotonic clock, < 0 = none) passes (returns
 * FLYQ_ERR_TIMEOUT; the connection stays up) or the connection is lost
 * (returns its error). */
int flyq__pump(flyq_client_t *c, int64_t deadline,
               int (*done)(flyq_client_t *c, void *arg), void *arg);
int64_t flyq__mono_ms(void);

/* ---- sock.c ----------------------------------------------------------- */

/* Connects a non-blocking TCP socket to addr within timeout_ms. Returns the
 * fd or a negative code with the text in c->errmsg. */
int flyq__sock_connect(flyq_client_t *c, const char *addr, int timeout_ms);
/* Writes what it can of c->out without blocking. Returns 0 or an error. */
int flyq__sock_write(flyq_client_t *c);
/* Reads what is available into c->rbuf (growing it for the frame being
 * received). Returns bytes read (> 0), 0 when nothing was ready, or an
 * error (FLYQ_ERR_CLOSED at end of stream). */
int flyq__sock_read(flyq_client_t *c);

/* ---- produce.c -------------------------------------------------------- */

/* flyq_client_produce_async with the record count the result reports. */
int flyq__produce_async(flyq_client_t *c, const char *topic,
                        int32_t partition, int acks, const uint8_t *batches,
                        size_t len, int32_t records, flyq_produce_cb cb,
                        void *arg);

/* ---- admin.c ---------------------------------------------------------- */

/* ApiVersions and the check that the broker supports what we use. */
int flyq__check_versions(flyq_client_t *c);

/* ---- send.c ----------------------------------------------------------- */

void flyq__send_free(flyq_client_t *c);

#endif /* FLYQ_CLIENT_INT_H */
