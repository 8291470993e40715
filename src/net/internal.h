/* Internals of the network layer (src/net/net.h), shared by its files:
 *
 *   listener.c  the listening socket, accepting, the sweep timer, stop
 *   conn.c      one connection: reading, framing, limits, closing
 *   write.c     a connection's output queue: memory and file chunks
 *   addr.c      "host:port" parsing
 *
 * Reads go into one 256 KiB slab per listener; whole frames in it are handed
 * up from there without a copy. Only bytes left over (a partial frame, or
 * frames held back by backpressure) are copied into the connection's own
 * buffer, which grows with what actually arrived and is freed as soon as
 * it is empty, so an idle connection holds no read buffer.
 */
#ifndef FLYQ_NET_INTERNAL_H
#define FLYQ_NET_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "net/net.h"

#define FLYQ__NET_SLAB (256u * 1024)    /* shared read buffer */
#define FLYQ__NET_FILE_CHUNK (1u << 20) /* file bytes read per write */
#define FLYQ__NET_WINDOW (4u << 20)     /* bytes in uv_write at once */
#define FLYQ__NET_POOL 8                /* spare FILE_CHUNK buffers kept */
#define FLYQ__NET_LINGER_MS 2000        /* after an error frame */

/* Connection states, in the order a connection goes through them. */
enum {
  FLYQ__CONN_OPEN,     /* reading (unless paused) and handing up frames */
  FLYQ__CONN_DRAINING, /* listener stopping: finish in flight, then close */
  FLYQ__CONN_REJECTED, /* error frame queued: send it, linger, close */
  FLYQ__CONN_CLOSING   /* uv_close called */
};

typedef struct flyq__net_out flyq__net_out_t;

struct flyq_conn {
  uv_tcp_t tcp; /* first: the handle's data is not used */
  flyq_net_t *net;
  flyq_conn_t *prev, *next; /* in net->conns */
  void *data;
  int state;
  int accepted;        /* on_open kept it: counts, gets on_close */
  int reading;         /* uv_read_start is active */
  int in_dispatch;     /* inside the frame loop (no re-entry) */
  int dispatch_queued; /* in net->ready */
  flyq_conn_t *ready_next;
  uint8_t *buf; /* leftover bytes, NULL when none */
  size_t buf_len, buf_cap;
  uint64_t partial_since; /* uv_now when the partial frame started; 0 */
  uint64_t deadline;      /* REJECTED: close at the latest then */
  uint32_t inflight;
  uint64_t out_bytes;                   /* queued and not yet sent */
  uint64_t writing;                     /* bytes inside uv_write */
  flyq__net_out_t *out_head, *out_tail; /* every send not yet completed */
  flyq__net_out_t *out_next; /* first send with bytes not yet in uv_write */
  int cold_reading; /* a write's file bytes are being read in the pool */
  int closed;       /* the handle's close callback ran */
  uv_shutdown_t shutdown;
  int shutdown_started;
  char peer[64];
};

struct flyq_net {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_timer_t sweep;
  uv_timer_t stop_timer;
  uv_idle_t idle; /* hands up frames held back by backpressure */
  flyq_net_config_t cfg;
  char *listen;       /* cfg.listen points here */
  flyq_conn_t *conns; /* every connection, rejected ones included */
  flyq_conn_t *ready; /* connections with frames to hand up */
  size_t nconns;      /* accepted connections */
  void *pool;         /* spare write buffers for file bytes (write.c) */
  int pool_len;
  int handles; /* open handles: listener's, conns' */
  int stopping;
  uint64_t cold_reads; /* writes whose file bytes were read in the pool */
  flyq_net_close_cb close_cb;
  void *close_arg;
  uint8_t slab[FLYQ__NET_SLAB];
};

/* listener.c */
void flyq__net_handle_closed(flyq_net_t *n);
void flyq__net_schedule(flyq_conn_t *c); /* hand up buffered frames soon */
void flyq__net_conn_gone(flyq_net_t *n); /* a connection's close cb ran */

/* conn.c */
void flyq__conn_accept(flyq_net_t *n);
void flyq__conn_check(flyq_conn_t *c, uint64_t now); /* timeouts */
void flyq__conn_drain(flyq_conn_t *c);               /* listener stopping */
void flyq__conn_dispatch(flyq_conn_t *c);
/* The read in the pool that c's close waited for is done: finishes it. */
void flyq__conn_closed(flyq_conn_t *c);
/* Re-evaluates limits and state after output or requests finished. */
void flyq__conn_update(flyq_conn_t *c);
/* Queues the error frame for reason and closes once it is sent. */
void flyq__conn_reject(flyq_conn_t *c, int reason);

/* write.c */
/* flyq_conn_send() without the state check (the error frame goes through
 * here after the connection was rejected). */
int flyq__conn_queue(flyq_conn_t *c, const flyq_net_chunk_t *chunks, size_t n,
                     flyq_net_sent_cb cb, void *arg);
/* Starts as many writes as the window allows. Returns 0 or the error that
 * made it close the connection. */
int flyq__conn_pump(flyq_conn_t *c);
/* Completes every queued (not yet written) send with status. */
void flyq__conn_cancel_output(flyq_conn_t *c, int status);
int flyq__conn_output_empty(const flyq_conn_t *c);
/* Frees the spare write buffers (when the listener is freed). */
void flyq__net_pool_free(flyq_net_t *n);

#endif /* FLYQ_NET_INTERNAL_H */
