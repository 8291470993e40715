/* Internals of the native protocol server (src/server/server.h):
 *
 *   server.c    start and close, the network callbacks, rejection frames
 *   conn.c      a connection's queue of requests, answered in order
 *   dispatch.c  decoding a frame and routing it to its handler
 *   policy.c    the plugin runtime: partitioner, Authenticate, the
 *               authorization gate
 *   filter.c    fetches through on_consume hooks and consumer filters
 *   produce.c fetch.c topics.c groups.c session.c config.c
 *               one handler per API
 *
 * A request (flyq__req_t) lives from its frame until its response has been
 * sent. Its arena holds the decoded request and everything the response
 * needs, so a request answered later (a parked fetch, an acks=-1 produce)
 * owns all it uses. A handler either answers at once (flyq__req_respond or
 * flyq__req_error) or leaves the request waiting for broker callbacks,
 * which answer it later. When the connection closes first, parked fetches
 * are cancelled and requests still waiting for the broker are detached
 * (req->sc = NULL): their callbacks then only free them.
 */
#ifndef FLYQ_SERVER_INTERNAL_H
#define FLYQ_SERVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/broker.h"
#include "flyq/plugins.h"
#include "flyq/proto.h"
#include "net/net.h"
#include "server/server.h"

typedef struct flyq__sconn flyq__sconn_t;
typedef struct flyq__req flyq__req_t;

struct flyq_server {
  uv_loop_t *loop;
  flyq_broker_t *broker;
  flyq_net_t *net;
  char host[64]; /* advertised in Metadata */
  int port;
  flyq_buf_t reject[FLYQ_NET_REJECT_COUNT];
  int closing;
  flyq_plugins_t *plugins; /* in force; NULL: none (not owned) */
  uint64_t cold_filter_reads; /* filtered fetches read in the thread pool */
  flyq_server_close_cb close_cb;
  void *close_arg;
};

/* A connection's server-side state (flyq_conn_data of the connection). */
struct flyq__sconn {
  flyq_server_t *srv;
  flyq_conn_t *conn;
  flyq__req_t *head, *tail; /* requests not yet handed to the network */
  int in_frame;             /* handling a frame: answers wait for its end */
  char *principal;          /* from Authenticate; NULL: anonymous; owned */
};

struct flyq__req {
  flyq__req_t *next;
  flyq__sconn_t *sc; /* NULL once the connection is gone */
  flyq_broker_t *broker;
  int32_t correlation_id;
  int16_t api_key;
  int ready;          /* the response is in out (or there is none) */
  int silent;         /* acks=0 produce: no response */
  int lost;           /* no response could be made: close the connection */
  int waiting;        /* broker callbacks still to come */
  flyq_arena_t arena; /* the decoded request and the response's parts */
  void *state;        /* the handler's own, in the arena */
  flyq_buf_t out;     /* the encoded response frame */
  /* Set when the response splices file ranges between parts of out. */
  flyq_net_chunk_t *chunks;
  size_t nchunks;
  flyq_broker_fetch_result_t *fetch;  /* slices the response sends; freed after */
  flyq_fetch_handle_t *handle; /* a parked fetch */
};

/* conn.c */
flyq__sconn_t *flyq__sconn_new(flyq_server_t *srv, flyq_conn_t *conn);
/* Cancels or detaches the requests of a closed connection; frees sc. */
void flyq__sconn_free(flyq__sconn_t *sc);
/* A new request at the end of sc's queue; NULL when out of memory. */
flyq__req_t *flyq__req_new(flyq__sconn_t *sc);
void flyq__req_free(flyq__req_t *req);
/* Sends the responses at the head of sc's queue that are ready. Does
 * nothing while sc is handling a frame (the frame's end flushes). */
void flyq__sconn_flush(flyq__sconn_t *sc);

/* dispatch.c */
void flyq__dispatch(flyq__sconn_t *sc, uint8_t *payload, size_t len);
/* The response in req->out is complete; encode_rc is what its encoder
 * returned (a failure becomes an UNKNOWN_SERVER_ERROR response). */
void flyq__req_respond(flyq__req_t *req, int encode_rc);
/* Answers req with an error-only response (msg may be NULL). */
void flyq__req_error(flyq__req_t *req, int16_t code, const char *msg);
/* Answers req with the wire code and text of a FlyQ error. */
void flyq__req_fail(flyq__req_t *req, int err);
/* A topic or group name as a C string in req's arena. Returns 0, or
 * FLYQ_ERR_INVALID_NAME for a name that is not valid (*out is then "",
 * which no topic has), or -ENOMEM. */
int flyq__req_name(flyq__req_t *req, flyq_str_t s, const char **out);
/* A copy of the non-null string s in req's arena, for a response made
 * after the frame is gone. Returns 0 or -ENOMEM (*out is then empty). */
int flyq__req_copy(flyq__req_t *req, flyq_str_t s, flyq_str_t *out);
/* The message of a per-entry error: NULL for 0, else flyq_strerror(). */
flyq_str_t flyq__errmsg(int err);

/* policy.c */
flyq_plugins_t *flyq__req_plugins(const flyq__req_t *req); /* NULL: none */
/* The principal, as hooks see it (ctx.principal); NULL: anonymous. */
const char *flyq__req_principal(const flyq__req_t *req);
/* Asks the runtime whether req's principal may do action on kind:name
 * (kind "topic" or "group"; name NULL: the resource is kind itself, e.g.
 * "cluster"). Returns 0 or FLYQ_ERR_DENIED (logged). */
int flyq__authorize(flyq__req_t *req, const char *action, const char *kind,
                    const char *name);
/* flyq__req_name, then flyq__authorize(action, "topic", name): a denied
 * topic returns FLYQ_ERR_DENIED with *out "". */
int flyq__req_topic(flyq__req_t *req, flyq_str_t s, const char *action,
                    const char **out);
/* Authentication and request-wide authorization, before the handler runs.
 * Returns 0 to go on, or -1 when req has been answered with an error. */
int flyq__gate(flyq__req_t *req, const flyq_proto_request_t *r);
/* filter.c: what the on_consume hooks made of one fetched partition. */
typedef struct flyq__filtered {
  int active;          /* the hooks changed it: send data, not the slice */
  int err;             /* the hooks failed: the partition's error */
  const char *msg;     /* its text, or NULL */
  const uint8_t *data; /* the batches to send, in req's arena */
  size_t len;
  int64_t next_offset; /* -1: after the last record sent */
} flyq__filtered_t;
/* Checks a Fetch v1 filter: *name (NULL: none) and *params (a JSON object
 * text) in req's arena. Returns 0, FLYQ_ERR_INVALID_NAME (a name that
 * cannot be a plugin's), FLYQ_ERR_INVALID_ARG (params that are not UTF-8
 * or hold NUL) or -ENOMEM. */
int flyq__filter_parse(flyq__req_t *req, const flyq_proto_fetch_filter_t *f,
                       const char **name, const char **params);
/* max_bytes for a fetch of parts[0..n) with filter name (may be NULL):
 * capped at 8 MiB when any partition goes through on_consume hooks, since
 * those are read into memory. */
int32_t flyq__filter_max_bytes(flyq__req_t *req, const char *name,
                               const flyq_fetch_part_req_t *parts, size_t n,
                               int32_t max_bytes);
/* The stored bytes of one fetched partition that goes through hooks,
 * read before they run. */
typedef struct flyq__part_read {
  uint8_t *buf; /* the slice's bytes (malloc'd); NULL: not filtered */
  size_t done;  /* of them read */
  int err;      /* a read error */
} flyq__part_read_t;
/* Starts reading the slice of every partition of res that goes through
 * on_consume hooks (the topic's, or the filter name if not NULL): on the
 * calling (loop) thread, what the page cache holds. *out: one entry per
 * partition in req's arena (NULL without a runtime). Returns 0 when all
 * is read, 1 when flyq__filter_read_rest must read the rest (in the
 * thread pool), or -ENOMEM (the buffers made are freed). */
int flyq__filter_read(flyq__req_t *req, const char *name,
                      const flyq_broker_fetch_result_t *res,
                      flyq__part_read_t **out);
/* Reads what flyq__filter_read left, waiting for the disk. Touches only
 * res's slices and reads: safe on another thread. */
void flyq__filter_read_rest(const flyq_broker_fetch_result_t *res,
                            flyq__part_read_t *reads);
/* Frees the buffers of reads (may be NULL) that apply did not take. */
void flyq__filter_reads_free(const flyq_broker_fetch_result_t *res,
                             flyq__part_read_t *reads);
/* Runs the on_consume hooks over every partition that reads holds the
 * bytes of (flyq__filter_read, then flyq__filter_read_rest if it said
 * so), from the fetch offset of its entry of parts (the request res
 * answers, in the same order), taking their buffers; filtered partitions
 * lose their slice. *out: one entry per partition in req's arena (NULL
 * without a runtime). Returns 0 or -ENOMEM. */
int flyq__filter_apply(flyq__req_t *req, const char *name, const char *params,
                       const flyq_fetch_part_req_t *parts,
                       flyq_broker_fetch_result_t *res,
                       flyq__part_read_t *reads, flyq__filtered_t **out);

int flyq__server_partition(void *arg, const char *topic, const char *principal,
                           const uint8_t *batches, size_t len,
                           int32_t npartitions, int32_t *parts, size_t cap,
                           size_t *nrecords, char *err, size_t errlen);

/* One handler per API; each answers req now or arranges to answer it. */
void flyq__handle_produce(flyq__req_t *req, const flyq_proto_produce_req_t *r);
void flyq__handle_fetch(flyq__req_t *req, const flyq_proto_request_t *r);
void flyq__handle_list_offsets(flyq__req_t *req,
                               const flyq_proto_list_offsets_req_t *r);
void flyq__handle_metadata(flyq__req_t *req,
                           const flyq_proto_metadata_req_t *r);
void flyq__handle_create_topics(flyq__req_t *req,
                                const flyq_proto_create_topics_req_t *r);
void flyq__handle_delete_topics(flyq__req_t *req,
                                const flyq_proto_delete_topics_req_t *r);
void flyq__handle_offset_commit(flyq__req_t *req,
                                const flyq_proto_offset_commit_req_t *r);
void flyq__handle_offset_fetch(flyq__req_t *req,
                               const flyq_proto_offset_fetch_req_t *r);
void flyq__handle_list_groups(flyq__req_t *req);
void flyq__handle_api_versions(flyq__req_t *req);
void flyq__handle_authenticate(flyq__req_t *req,
                               const flyq_proto_authenticate_req_t *r);
void flyq__handle_config(flyq__req_t *req, const flyq_proto_config_req_t *r);
void flyq__handle_stats(flyq__req_t *req);

#endif /* FLYQ_SERVER_INTERNAL_H */
