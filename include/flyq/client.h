/* The FlyQ C client: one TCP connection to a broker speaking the native
 * protocol (docs/protocol.md), with blocking calls for every API, pipelined
 * produce with callbacks, and a batching record sender.
 *
 * It uses plain POSIX sockets and poll() (no event library), so it is easy
 * to embed. A flyq_client_t owns one connection and is NOT thread-safe: use
 * it from one thread at a time (one client per thread is the usual pattern).
 *
 * Errors: every function returns 0 (or a count where said) or a negative
 * code: FLYQ_ERR_* / -errno (include/flyq/common.h). When the broker
 * answered with an error, the code is the FLYQ_ERR_* nearest to the wire
 * error (flyq_wire_error_to_err() in include/flyq/proto.h, e.g.
 * UNKNOWN_TOPIC_OR_PARTITION -> FLYQ_ERR_UNKNOWN_TOPIC),
 * flyq_client_error_code() gives the wire code itself and
 * flyq_client_errmsg() a one-line text that includes the broker's
 * error_message. Local and connection errors also set the text.
 *
 * Callbacks (produce_async, send) fire only from inside a call on the same
 * client: flyq_client_poll(), flyq_client_flush(), flyq_client_send_flush(),
 * a blocking call, flyq_client_close(), or a produce_async/send that has to
 * wait for a free in-flight slot or finds the connection lost. Each
 * accepted request gets its callback exactly once, also when the
 * connection is lost or closed (with the error). A callback must not call
 * blocking functions of its client (they return FLYQ_ERR_INVALID_ARG
 * there); it may call produce_async and send, which then return
 * FLYQ_ERR_LIMIT instead of waiting when no slot is free.
 *
 * Strings in results are NUL-terminated. Unless a result has its own free
 * function, it is owned by the client and valid until the next call on it.
 */
#ifndef FLYQ_CLIENT_H
#define FLYQ_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/batch.h"
#include "flyq/common.h"

typedef struct flyq_client flyq_client_t;

/* Special timestamps for flyq_client_list_offset() and special start offsets
 * for flyq_client_consume(). */
#define FLYQ_OFFSET_EARLIEST (-2)
#define FLYQ_OFFSET_LATEST (-1)

/* Produce acknowledgement modes. */
#define FLYQ_ACKS_NONE 0   /* no response; done once the bytes are written */
#define FLYQ_ACKS_LEADER 1 /* after the append */
#define FLYQ_ACKS_ALL (-1) /* after the fsync */

/* The outcome of one partition of a produce. */
typedef struct flyq_produce_part {
  int32_t partition;
  int16_t error_code;        /* wire error code, 0 = stored */
  const char *error_message; /* NULL when error_code is 0 */
  int64_t base_offset;       /* -1 on error or with acks = 0 */
  int64_t last_offset;       /* -1 on error or with acks = 0 */
  int64_t log_start_offset;  /* -1 on error or with acks = 0 */
} flyq_produce_part_t;

/* The outcome of one produce request. err is 0 when every partition was
 * stored, else the first error: a connection error, the top-level wire
 * error, or the first failed partition's; error_code/error_message are the
 * wire code and broker text for it (0/NULL for local errors). The offsets
 * repeat parts[0]'s for convenience (one partition is the common case).
 * With partition -1 there is one part per partition that got records.
 * No part at all (nparts 0, offsets -1, err 0) means the topic's plugins
 * dropped the records or routed all of them to other topics. */
typedef struct flyq_produce_result {
  int err;
  int16_t error_code;
  const char *error_message;
  const char *topic;
  int32_t records;          /* records in the batch when the client knows
                               (flyq_client_send), else -1 */
  int64_t base_offset;
  int64_t last_offset;
  int64_t log_start_offset;
  const flyq_produce_part_t *parts;
  size_t nparts;
} flyq_produce_result_t;

/* Called once per produce request; res and everything it points to is valid
 * only during the call. */
typedef void (*flyq_produce_cb)(flyq_client_t *c,
                                const flyq_produce_result_t *res, void *arg);

typedef struct flyq_client_options {
  const char *client_id;      /* request header client_id (copied, at most
                                 255 bytes); NULL = "flyq-client" */
  int32_t request_timeout_ms; /* how long a blocking call waits for its
                                 response (fetch adds max_wait_ms); when it
                                 expires the connection is closed; 30000 */
  uint32_t max_inflight;      /* requests written or queued but not yet
                                 answered; 5 (as Kafka's producers: more
                                 only queues work behind the broker,
                                 docs/benchmarks.md) */
  uint32_t max_frame_bytes;   /* largest response frame accepted; 128 MiB */
  size_t send_batch_bytes;    /* flyq_client_send: a partition's batch is sent
                                 once it reaches this size; 1 MiB */
  int send_acks;              /* acks for flyq_client_send batches; 1 */
  flyq_produce_cb send_cb;    /* optional: called once per batch sent by
                                 flyq_client_send (delivery report) */
  void *send_cb_arg;
} flyq_client_options_t;

/* Fills opts with the defaults above. */
void flyq_client_options_init(flyq_client_options_t *opts);

/* Creates an unconnected client. opts may be NULL (defaults); it is copied.
 * Returns 0 or -ENOMEM / FLYQ_ERR_INVALID_ARG. */
int flyq_client_new(const flyq_client_options_t *opts, flyq_client_t **out);

/* Connects to "host:port" ("[v6addr]:port" for IPv6 literals), trying each
 * resolved address within timeout_ms in total (<= 0: 10000), then checks
 * with ApiVersions that the broker supports every API version this client
 * uses. Fails with FLYQ_ERR_INVALID_ARG (bad address or already connected),
 * FLYQ_ERR_TIMEOUT, -ECONNREFUSED etc., FLYQ_ERR_UNSUPPORTED, or the
 * broker's connection-level error (e.g. FLYQ_ERR_LIMIT for too many
 * connections); flyq_client_errmsg() says what happened. May be called
 * again after the connection was lost. */
int flyq_client_connect(flyq_client_t *c, const char *addr, int timeout_ms);

/* 1 while the connection is up, 0 before connect and after it was lost. */
int flyq_client_connected(const flyq_client_t *c);

/* Closes the connection (if any) and frees the client. Requests still in
 * flight get their callbacks with FLYQ_ERR_CLOSED; call flyq_client_flush()
 * first to wait for them. Pending flyq_client_send records are dropped (the
 * send callback is not called for batches never sent). NULL is a no-op. */
void flyq_client_close(flyq_client_t *c);

/* Text describing the last error on this client ("" if none). Valid until
 * the next call on c. */
const char *flyq_client_errmsg(const flyq_client_t *c);

/* Wire error code of the last error the broker reported (0 if the last
 * error was local or none). */
int16_t flyq_client_error_code(const flyq_client_t *c);

/* The broker's version string from ApiVersions, or "" when not connected. */
const char *flyq_client_broker_version(const flyq_client_t *c);

/* The socket, for embedding in an external poll loop (-1 if not connected).
 * Call flyq_client_poll(c, 0) when it is readable or writable. */
int flyq_client_fd(const flyq_client_t *c);

/* Authenticate (API 36). credentials may be NULL (null bytes). On success
 * *principal (may be NULL) receives the broker's principal name, valid until
 * the next call. A refusal is FLYQ_ERR_AUTH with the broker's message. */
int flyq_client_authenticate(flyq_client_t *c, const char *mechanism,
                             const void *credentials, size_t len,
                             const char **principal);

/* ---- Produce ---------------------------------------------------------- */

/* Sends one or more record batches (RecordBatch v2, built with
 * flyq_batch_builder_*) to topic/partition (partition -1: the broker's
 * partitioner chooses per record) and waits for the result. acks is
 * FLYQ_ACKS_*; with acks = 0 it returns once the bytes are written. res may
 * be NULL; it is filled also on failure (err, code, message) and valid until
 * the next call. Returns res->err. */
int flyq_client_produce(flyq_client_t *c, const char *topic,
                        int32_t partition, int acks, const uint8_t *batches,
                        size_t len, flyq_produce_result_t *res);

/* Pipelined produce: queues the request (the bytes are copied, the caller
 * may reuse them at once) and returns; cb (may be NULL) fires later with the
 * result (acks = 0: once the bytes are written, offsets -1). When
 * max_inflight requests are outstanding it first waits, firing callbacks,
 * until one completes. Returns 0 (cb will fire) or an error (cb will not). */
int flyq_client_produce_async(flyq_client_t *c, const char *topic,
                              int32_t partition, int acks,
                              const uint8_t *batches, size_t len,
                              flyq_produce_cb cb, void *arg);

/* Writes queued requests and reads responses, firing callbacks, for up to
 * timeout_ms (0 = only what is ready now, < 0 = until at least one callback
 * fired or nothing is in flight). Returns the number of callbacks fired or a
 * negative code (the connection is then lost: every outstanding callback has
 * fired with the error). */
int flyq_client_poll(flyq_client_t *c, int timeout_ms);

/* Waits until nothing is in flight (every callback fired) or timeout_ms
 * passed (< 0: no limit). Does not send pending flyq_client_send records
 * (flyq_client_send_flush does). Returns 0, FLYQ_ERR_TIMEOUT, or the
 * connection error. */
int flyq_client_flush(flyq_client_t *c, int timeout_ms);

/* Number of requests queued or sent and not yet completed. */
size_t flyq_client_inflight(const flyq_client_t *c);

/* ---- Batching sender -------------------------------------------------- */

/* Adds one record to the client's batch for topic/partition (partition -1:
 * the broker's partitioner chooses) with the current time as timestamp.
 * key/value may be NULL (null); headers may be NULL when nheaders is 0.
 * Everything is copied. A batch is sent with produce_async (options.send_acks)
 * when it reaches options.send_batch_bytes; the result of each batch goes to
 * options.send_cb and its first error is remembered for send_flush.
 * Returns 0 or -ENOMEM / FLYQ_ERR_TOO_LARGE / a connection error. */
int flyq_client_send(flyq_client_t *c, const char *topic, int32_t partition,
                     const void *key, int32_t key_len, const void *value,
                     int32_t value_len, const flyq_record_header_t *headers,
                     int32_t nheaders);

/* flyq_client_send with an explicit timestamp (Unix ms; < 0 = now). */
int flyq_client_send_ts(flyq_client_t *c, const char *topic,
                        int32_t partition, int64_t timestamp, const void *key,
                        int32_t key_len, const void *value, int32_t value_len,
                        const flyq_record_header_t *headers, int32_t nheaders);

/* Sends every partly filled batch and waits (up to timeout_ms, < 0 = no
 * limit) until all in-flight requests completed. Returns 0, the first error
 * any batch got since the last send_flush (then cleared; details in
 * flyq_client_errmsg), FLYQ_ERR_TIMEOUT, or the connection error. */
int flyq_client_send_flush(flyq_client_t *c, int timeout_ms);

/* ---- Fetch and consume ------------------------------------------------ */

/* One partition's fetch answer. records/records_len are whole stored batches
 * (the first may start below the requested offset), owned by the client and
 * valid until the next call on it. error_code is the partition's wire error
 * (error_message then says why); the watermarks are filled when known. */
typedef struct flyq_fetch_result {
  int16_t error_code;
  const char *error_message;
  int64_t high_watermark;   /* next offset to be assigned */
  int64_t log_start_offset;
  int64_t flushed_offset;   /* records below this are fsynced */
  const uint8_t *records;
  size_t records_len;
} flyq_fetch_result_t;

/* Fetches from topic/partition at offset. max_bytes caps the record bytes
 * (at least one batch is returned when one exists); the broker waits up to
 * max_wait_ms for min_bytes. res must not be NULL. Returns 0, the
 * partition's error (res still filled), or a request/connection error. */
int flyq_client_fetch(flyq_client_t *c, const char *topic, int32_t partition,
                      int64_t offset, int32_t max_bytes, int32_t max_wait_ms,
                      int32_t min_bytes, flyq_fetch_result_t *res);

/* Walks the records of a fetch result, validating each batch (CRC) and
 * skipping records below min_offset. */
typedef struct flyq_fetch_iter {
  const uint8_t *p;
  const uint8_t *end;
  int64_t min_offset;
  int64_t next_offset; /* the offset to fetch next: after the last record
                          returned, or after the last whole batch walked */
  int in_batch;
  flyq_record_iter_t rit;
} flyq_fetch_iter_t;

void flyq_fetch_iter_init(flyq_fetch_iter_t *it, const uint8_t *records,
                          size_t len, int64_t min_offset);
/* Returns 1 and fills *rec (pointers into the records buffer), 0 at the end,
 * or FLYQ_ERR_CORRUPT / FLYQ_ERR_TRUNCATED / FLYQ_ERR_UNSUPPORTED. */
int flyq_fetch_iter_next(flyq_fetch_iter_t *it, flyq_record_t *rec);

/* Called for each record; rec is valid during the call. Return 0 to go on,
 * > 0 to stop (consume returns 0), < 0 to stop with that code. Like a
 * produce callback, it must not call blocking functions of c. */
typedef int (*flyq_record_cb)(flyq_client_t *c, const flyq_record_t *rec,
                              void *arg);

typedef struct flyq_consume_options {
  int32_t max_bytes;   /* per fetch; 1 MiB */
  int32_t max_wait_ms; /* broker-side long poll; 500 */
  int32_t min_bytes;   /* 1 */
  int64_t max_records; /* stop after this many records; <= 0 = no limit */
  int stop_at_end;     /* return 0 once caught up with the high watermark */
} flyq_consume_options_t;

void flyq_consume_options_init(flyq_consume_options_t *opts);

/* Fetches topic/partition from from_offset (or FLYQ_OFFSET_EARLIEST /
 * FLYQ_OFFSET_LATEST) in a loop and calls handler for every record, until
 * the handler stops it, max_records, end of data with stop_at_end, or an
 * error (OFFSET_OUT_OF_RANGE included). opts may be NULL (defaults: follow
 * forever). If next_offset is not NULL it receives the offset to resume
 * from. Returns 0 or a negative code. */
int flyq_client_consume(flyq_client_t *c, const char *topic,
                        int32_t partition, int64_t from_offset,
                        const flyq_consume_options_t *opts,
                        flyq_record_cb handler, void *arg,
                        int64_t *next_offset);

/* ---- Consumer filters (Fetch version 1) ------------------------------ */

/* A filter that runs on the broker: the plugin `name` from the broker's
 * plugin_path with string params (docs/plugins.md); only the records it
 * keeps cross the network. */
typedef struct flyq_fetch_filter {
  const char *name;                         /* NULL: no filter */
  const struct flyq_client_config_pair *params; /* may be NULL if nparams 0 */
  size_t nparams;
} flyq_fetch_filter_t;

/* flyq_client_fetch through filter (may be NULL). *next_offset (may be
 * NULL) receives where the next fetch should start when the broker says
 * (records it dropped past the last one returned), else -1. Needs a broker
 * that speaks Fetch version 1 when filter names one (FLYQ_ERR_UNSUPPORTED
 * otherwise); without a filter it works with either. */
int flyq_client_fetch_filtered(flyq_client_t *c, const char *topic,
                               int32_t partition, int64_t offset,
                               int32_t max_bytes, int32_t max_wait_ms,
                               int32_t min_bytes,
                               const flyq_fetch_filter_t *filter,
                               flyq_fetch_result_t *res, int64_t *next_offset);

/* flyq_client_consume through filter (may be NULL). */
int flyq_client_consume_filtered(flyq_client_t *c, const char *topic,
                                 int32_t partition, int64_t from_offset,
                                 const flyq_consume_options_t *opts,
                                 const flyq_fetch_filter_t *filter,
                                 flyq_record_cb handler, void *arg,
                                 int64_t *next_offset);

/* ---- Offsets, metadata, topics, groups ------------------------------- */

/* ListOffsets for one partition: timestamp FLYQ_OFFSET_EARLIEST (-2),
 * FLYQ_OFFSET_LATEST (-1) or Unix ms (first offset whose batch timestamp is
 * >= it, or the high watermark). */
int flyq_client_list_offset(flyq_client_t *c, const char *topic,
                            int32_t partition, int64_t timestamp,
                            int64_t *offset);

typedef struct flyq_client_config_pair {
  const char *key;
  const char *value;
} flyq_client_config_pair_t;

typedef struct flyq_partition_info {
  int32_t partition;
  int64_t log_start_offset;
  int64_t high_watermark;
  int64_t flushed_offset;
  int32_t segment_count;
  int64_t size_bytes;
  int64_t last_append_ms; /* -1 if nothing appended since the broker started */
} flyq_partition_info_t;

typedef struct flyq_topic_info {
  const char *name;
  int16_t error_code; /* e.g. UNKNOWN_TOPIC_OR_PARTITION (3) for a named
                         topic that does not exist */
  flyq_partition_info_t *partitions;
  size_t npartitions;
  flyq_client_config_pair_t *configs;
  size_t nconfigs;
} flyq_topic_info_t;

typedef struct flyq_metadata {
  const char *host;
  int32_t port;
  flyq_topic_info_t *topics;
  size_t ntopics;
  void *mem_; /* private */
} flyq_metadata_t;

/* Metadata for one topic, or for all when topic is NULL. *out is allocated;
 * free it with flyq_metadata_free(). A missing named topic is not an error
 * of the call: its entry carries the error_code. */
int flyq_client_metadata(flyq_client_t *c, const char *topic,
                         flyq_metadata_t **out);
void flyq_metadata_free(flyq_metadata_t *md);

/* CreateTopics for one topic. configs may be NULL when nconfigs is 0; keys
 * retention.ms, retention.bytes, segment.bytes, segment.ms, flush.messages,
 * flush.interval_ms (or Kafka's flush.ms) with decimal values. */
int flyq_client_create_topic(flyq_client_t *c, const char *topic,
                             int32_t partitions,
                             const flyq_client_config_pair_t *configs,
                             size_t nconfigs);

int flyq_client_delete_topic(flyq_client_t *c, const char *topic);

/* Commits offset (the next offset the group will consume). */
int flyq_client_offset_commit(flyq_client_t *c, const char *group,
                              const char *topic, int32_t partition,
                              int64_t offset);

/* The group's committed offset for one partition; -1 if none. */
int flyq_client_offset_fetch(flyq_client_t *c, const char *group,
                             const char *topic, int32_t partition,
                             int64_t *offset);

typedef struct flyq_group_offset {
  const char *topic;
  int32_t partition;
  int64_t offset; /* -1 if none */
  int16_t error_code;
} flyq_group_offset_t;

typedef struct flyq_group_offsets {
  flyq_group_offset_t *items;
  size_t n;
  void *mem_; /* private */
} flyq_group_offsets_t;

/* Every committed offset of a group. Free *out with
 * flyq_group_offsets_free(). */
int flyq_client_group_offsets(flyq_client_t *c, const char *group,
                              flyq_group_offsets_t **out);
void flyq_group_offsets_free(flyq_group_offsets_t *g);

typedef struct flyq_string_list {
  char **items;
  size_t n;
} flyq_string_list_t;

/* Names of every group with committed offsets. Free with
 * flyq_string_list_free(), which leaves an empty list. */
int flyq_client_list_groups(flyq_client_t *c, flyq_string_list_t *out);
void flyq_string_list_free(flyq_string_list_t *l);

/* ---- Config plan and apply (admin) ------------------------------------ */

/* One change of a config plan (docs/config.md, "Reloading"). */
typedef struct flyq_client_change {
  const char *kind;   /* "create_topic", "add_partitions", "set", "plugins",
                         "drift", "delete_topic", "restart" or "error" */
  const char *topic;  /* "" for a broker-wide change */
  const char *detail; /* "partitions 2 -> 4" */
} flyq_client_change_t;

typedef struct flyq_client_plan {
  const flyq_client_change_t *changes;
  size_t n;
  size_t nerrors; /* changes of kind "error" */
  size_t ndrift;  /* changes of kind "drift" (topics kept, not changed) */
} flyq_client_plan_t;

/* ConfigPlan (API 50): what applying a config would change on the broker,
 * without changing anything. text is len bytes of a config file's Lua
 * source, or NULL for the file the broker was started with; name (NULL:
 * "config") names it in the broker's error messages. On success *plan
 * (owned by the client, valid until the next call) lists the changes,
 * errors included (a partition count that would shrink). A config that does
 * not load is FLYQ_ERR_CONFIG, with the broker's "FILE:LINE: reason" in
 * flyq_client_errmsg(). A broker without these APIs gives
 * FLYQ_ERR_UNSUPPORTED. */
int flyq_client_config_plan(flyq_client_t *c, const char *text, size_t len,
                            const char *name, flyq_client_plan_t *plan);

/* ConfigApply (API 51): validates the config, plans it and applies the
 * plan; *plan receives what was applied. A config that does not load or a
 * plan with errors is FLYQ_ERR_CONFIG and changes nothing; a failure half
 * way is the failing step's error, with the broker's account of what was
 * applied in flyq_client_errmsg(). */
int flyq_client_config_apply(flyq_client_t *c, const char *text, size_t len,
                             const char *name, flyq_client_plan_t *plan);

/* Stats (API 52): the broker's counters and its plugins' stats as one JSON
 * object text (docs/protocol.md, "Stats"). *json (not NUL-terminated) and
 * *len are valid until the next call on c. */
int flyq_client_stats(flyq_client_t *c, const char **json, size_t *len);

/* ---- Raw frames (tests and tools) ------------------------------------- */

/* Writes bytes as they are (they should include the int32 frame size) and
 * waits until written. Only when nothing is in flight. */
int flyq_client_send_raw(flyq_client_t *c, const void *bytes, size_t len);

/* Reads one response frame and points *payload and *len at its payload (after
 * the size), valid until the next call. Only when nothing is in flight.
 * Returns 0, FLYQ_ERR_TIMEOUT, FLYQ_ERR_CLOSED (the peer closed), or
 * FLYQ_ERR_TOO_LARGE / FLYQ_ERR_PROTOCOL for a bad frame size. */
int flyq_client_recv_frame(flyq_client_t *c, int timeout_ms,
                           const uint8_t **payload, size_t *len);

#endif /* FLYQ_CLIENT_H */
