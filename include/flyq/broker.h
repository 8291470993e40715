/* The broker: FlyQ's protocol-agnostic core. It owns the store and runs on
 * one libuv loop, turning produce, fetch, offset and topic requests into
 * storage calls. Protocol handlers (the native listener in src/server, a
 * Kafka-compatible one later) decode their wire format into the structs
 * below and encode the results; nothing here knows about frames or wire
 * error codes. Errors are FLYQ_ERR_* or -errno (include/flyq/common.h).
 *
 * Threading: every function must be called on the loop's thread. The broker
 * uses libuv only for timers, one idle handle and the thread pool: the
 * fsyncs of acks=-1 produces and of the flush policy run there, never on
 * the loop. Only small metadata writes (topic create/delete, the group
 * offset files) and the final flush at close block the loop. Its timers
 * keep the loop alive until flyq_broker_close().
 *
 * Callback rules, for every function taking a callback:
 *  - When the function returns an error, the callback is never called.
 *  - When it returns 0, the callback is called exactly once (unless a
 *    cancel function is used), on the loop thread.
 *  - A callback may run synchronously, before the starting function
 *    returns, only where the function's comment says so. Any later
 *    completion runs from a libuv callback (timer, idle or thread-pool
 *    completion), never from inside another broker call.
 *  - Callbacks may call any broker function, including close.
 */
#ifndef FLYQ_BROKER_H
#define FLYQ_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "flyq/common.h"
#include "flyq/config.h"
#include "flyq/log.h"
#include "flyq/store.h"

typedef struct flyq_broker flyq_broker_t;

/* Creates a broker on loop. cfg is read during the call only: the broker
 * copies the settings it needs (it ignores cfg's strings afterwards).
 * Topics declared in cfg->topics are created when missing; when present,
 * their log settings are applied and their partition count grows to the
 * declared one (it never shrinks); declared topics are not held to
 * cfg->max_topics (`flyq serve` checks the count first). On success the
 * broker takes ownership of
 * store and closes it in flyq_broker_close(). On error the caller still
 * owns store (declared topics created before the failure stay in it) and
 * *out is untouched. The loop is not owned and must outlive the broker
 * (until the close callback has run).
 * Periodic work: flush.interval_ms is checked by a timer whose period is
 * the smallest positive flush.interval_ms of the defaults and of the
 * topics, clamped to 10 ms .. 1 s; retention runs every
 * cfg->retention_check_interval_ms and the group offsets are written every
 * cfg->groups_flush_interval_ms (<= 0 turns either off). */
int flyq_broker_new(uv_loop_t *loop, const flyq_config_t *cfg,
                    flyq_store_t *store, flyq_broker_t **out);

/* status: 0, or the first error met while flushing and closing the store. */
typedef void (*flyq_broker_close_cb)(int status, void *arg);

/* Graceful shutdown. From this call on every other broker function returns
 * FLYQ_ERR_CLOSED (flyq_broker_fetch_cancel and flyq_broker_fetch_result_free keep
 * working). The broker stops its timers, answers parked fetches with what
 * they have, waits for the fsyncs in flight, flushes every log and the dirty
 * groups, answers the produces waiting for an fsync, closes the store
 * (writing the clean-shutdown markers), closes all its libuv handles, frees
 * itself and then calls cb (may be NULL) from the loop, never from inside
 * this call. Returns FLYQ_ERR_CLOSED if close was already called (cb is then
 * not called). */
int flyq_broker_close(flyq_broker_t *b, flyq_broker_close_cb cb, void *arg);

/* ---- Produce ---------------------------------------------------------- */

/* acks values. FLYQ_ACKS_NONE and FLYQ_ACKS_LEADER behave the same here
 * (whether to answer the client is the protocol handler's business). */
#define FLYQ_ACKS_NONE 0
#define FLYQ_ACKS_LEADER 1
#define FLYQ_ACKS_ALL (-1)
/* Partition value asking the broker to choose per record. */
#define FLYQ_PARTITION_ANY (-1)

/* The outcome for one partition. On error (err < 0) base_offset and
 * last_offset are -1. With acks=-1 the records may have been stored even
 * when err is FLYQ_ERR_TIMEOUT or an fsync error: only their durability is
 * unknown. */
typedef struct flyq_produce_part {
  int32_t partition;
  int err;
  int64_t base_offset;      /* offset of the first record stored */
  int64_t last_offset;      /* offset of the last record stored */
  int64_t log_start_offset;
} flyq_broker_produce_part_t;

/* One entry for an explicit partition; for FLYQ_PARTITION_ANY one entry
 * per partition that received records, in partition order (none when the
 * batches held no records). Everything, topic included, is owned by the
 * broker and valid only during the callback. */
typedef struct flyq_produce_result {
  const char *topic;
  size_t nparts;
  const flyq_broker_produce_part_t *parts;
} flyq_broker_produce_result_t;

typedef void (*flyq_broker_produce_cb)(const flyq_broker_produce_result_t *res, void *arg);

/* Appends batches[0..len) (one or more RecordBatch v2 back to back) to
 * topic. An unknown topic is created with cfg->default_partitions when
 * cfg->auto_create_topics is set (FLYQ_ERR_LIMIT at cfg->max_topics), else
 * FLYQ_ERR_UNKNOWN_TOPIC.
 *
 * partition >= 0: every batch is validated before any is written; all or
 * none is appended. Offsets are assigned by rewriting the batches in place:
 * the buffer is modified and must stay valid until this call returns (the
 * broker keeps no pointer into it afterwards).
 * partition == FLYQ_PARTITION_ANY: all batches are validated, then records
 * are re-batched per target partition (by the partitioner set with
 * flyq_broker_set_partitioner, else null key: round-robin per topic; key:
 * flyq_partition_for_key()), keeping keys, values, headers and
 * timestamps. The buffer is only read.
 *
 * acks 0 or 1: cb is called synchronously, before this returns.
 * acks -1: cb is called later, from the loop, once the log's flushed offset
 * is past every record of the request (group commit: one fsync in flight
 * per partition, on the thread pool). timeout_ms > 0 bounds that wait
 * (FLYQ_ERR_TIMEOUT in the affected entries); timeout_ms <= 0 waits for the
 * fsync however long it takes. An fsync error fails the waiting entries
 * with that error.
 *
 * Returns 0, or without calling cb and with nothing stored:
 * FLYQ_ERR_INVALID_ARG (NULL topic/batches, len 0, bad acks or partition),
 * FLYQ_ERR_INVALID_NAME, FLYQ_ERR_UNKNOWN_TOPIC, FLYQ_ERR_LIMIT,
 * FLYQ_ERR_UNKNOWN_PARTITION, FLYQ_ERR_CORRUPT, FLYQ_ERR_TRUNCATED,
 * FLYQ_ERR_UNSUPPORTED (compressed batch), FLYQ_ERR_TOO_LARGE, -ENOMEM, an
 * I/O error such as -ENOSPC, or FLYQ_ERR_CLOSED. With FLYQ_PARTITION_ANY an
 * append error on one target partition after others succeeded is reported
 * in that partition's entry instead (the call returns 0). */
int flyq_broker_produce(flyq_broker_t *b, const char *topic,
                        int32_t partition, int acks, uint8_t *batches,
                        size_t len, int64_t timeout_ms, flyq_broker_produce_cb cb,
                        void *arg);

/* Several appends that stand or fall together: the plugin runtime's output
 * for one produced entry (records routed to other topics, dead letters). */
typedef struct flyq_broker_produce_group {
  const char *topic;
  int32_t partition;  /* >= 0, or FLYQ_PARTITION_ANY */
  uint8_t *batches;   /* as for flyq_broker_produce (modified in place for
                         an explicit partition) */
  size_t len;
  int validated;      /* 1: every batch in batches passed
                         flyq_batch_validate and is unchanged since; the
                         broker then does not check them again (if wrong,
                         the bytes are stored as they are, see
                         flyq_log_append_validated). 0: checked as usual */
  int create;         /* 1: a missing topic is created even when
                         auto_create_topics is off (dead letters: the
                         config asked for them) */
} flyq_broker_produce_group_t;

typedef struct flyq_broker_produce_opts {
  int acks;
  int64_t timeout_ms;
  const char *principal; /* handed to the partitioner; NULL: anonymous */
  char *err;             /* may be NULL: the partitioner's error text */
  size_t errlen;
} flyq_broker_produce_opts_t;

/* flyq_broker_produce for groups[0..n) as one request: every group's topic
 * is found or auto-created, every batch validated (for a group marked
 * validated, only its batch sizes and headers are read) and every record of a
 * FLYQ_PARTITION_ANY group placed (by the partitioner, see below) before
 * anything is appended, so that an error up to there stores nothing of
 * any group (auto-created topics stay). Then each group is appended and cb
 * is called once per group, in group order for acks 0 and 1 (synchronously,
 * as for flyq_broker_produce). A group whose append fails after an earlier
 * group was stored is reported through cb at once. Returns 0 or, without
 * calling cb, the codes of flyq_broker_produce and the partitioner's
 * (FLYQ_ERR_PLUGIN, with its text in opts->err). */
int flyq_broker_produce_groups(flyq_broker_t *b,
                               const flyq_broker_produce_group_t *groups,
                               size_t n, const flyq_broker_produce_opts_t *opts,
                               flyq_broker_produce_cb cb, void *arg);

/* Places each record of batches[0..len) (validated) of topic in
 * [0, npartitions): fills parts[0..*nrecords) (cap entries). Returns 0,
 * 1 to let the broker use its own rule (key hash, null keys round-robin),
 * or a negative code with one line in err (may be NULL). Called on the
 * loop thread during a produce call for FLYQ_PARTITION_ANY. */
typedef int (*flyq_broker_partition_fn)(void *arg, const char *topic,
                                        const char *principal,
                                        const uint8_t *batches, size_t len,
                                        int32_t npartitions, int32_t *parts,
                                        size_t cap, size_t *nrecords,
                                        char *err, size_t errlen);

/* Sets (fn NULL: removes) the partitioner used by every produce call. */
void flyq_broker_set_partitioner(flyq_broker_t *b, flyq_broker_partition_fn fn,
                                 void *arg);

/* ---- Fetch ------------------------------------------------------------ */

typedef struct flyq_fetch_part_req {
  const char *topic;
  int32_t partition;
  int64_t offset;
  int32_t max_bytes; /* per partition; one whole batch is always returned */
} flyq_fetch_part_req_t;

/* All sizes are >= 0. The request, its parts and their topic names are
 * copied by flyq_broker_fetch(): they may be freed once it returns. */
typedef struct flyq_fetch_req {
  const flyq_fetch_part_req_t *parts;
  size_t nparts;
  int32_t max_bytes;   /* cap on the sum of the slices (the first non-empty
                          partition may exceed it by returning one batch) */
  int32_t min_bytes;   /* answer once this many bytes are available */
  int64_t max_wait_ms; /* 0: answer at once */
} flyq_fetch_req_t;

/* One requested partition, in request order. err: 0,
 * FLYQ_ERR_UNKNOWN_TOPIC, FLYQ_ERR_UNKNOWN_PARTITION,
 * FLYQ_ERR_OFFSET_OUT_OF_RANGE or an I/O error; on error the slice is
 * empty, and the offsets are -1 when the topic or partition is unknown.
 * slice: whole stored batches from the segment file (len 0 and seg NULL
 * when empty, e.g. at the end of the log or when max_bytes was used up by
 * earlier partitions); the first batch may start before the requested
 * offset. */
typedef struct flyq_fetch_part {
  const char *topic;
  int32_t partition;
  int err;
  int64_t high_watermark;   /* next offset to be assigned */
  int64_t log_start_offset;
  int64_t flushed_offset;   /* records below this are fsynced */
  flyq_slice_t slice;
} flyq_fetch_part_t;

/* Owned by the caller from the moment cb receives it: the caller keeps the
 * slices (and their file descriptors) as long as it needs them, e.g. until
 * the response has been sent, then calls flyq_broker_fetch_result_free() exactly
 * once, which releases every slice and the memory (topic names included).
 * The slices stay readable even if the broker closes or the topic is
 * deleted in between. */
typedef struct flyq_fetch_result {
  size_t nparts;
  flyq_fetch_part_t *parts;
  uint64_t bytes; /* sum of the slice lengths */
} flyq_broker_fetch_result_t;

typedef void (*flyq_fetch_cb)(flyq_broker_fetch_result_t *res, void *arg);

/* A parked (long-poll) fetch. */
typedef struct flyq_fetch_handle flyq_fetch_handle_t;

/* Reads every requested partition. When at least min_bytes are available,
 * max_wait_ms is 0, or some partition has an error, cb is called
 * synchronously, before this returns, and *handle (may be NULL) is set to
 * NULL. Otherwise the request is parked, *handle receives its handle, and
 * cb is called later from the loop: as soon as appends bring min_bytes
 * (counted from the bytes available at park time plus every byte appended
 * since to a watched partition), when max_wait_ms passes (with whatever is
 * there, possibly nothing), when a watched topic is deleted, or at close.
 * *handle is written before cb can run. Returns 0, or without calling cb:
 * FLYQ_ERR_INVALID_ARG (NULL req/cb, a NULL topic, a negative size),
 * -ENOMEM or FLYQ_ERR_CLOSED. Unknown topics and partitions are not call
 * errors: they are reported per partition. */
int flyq_broker_fetch(flyq_broker_t *b, const flyq_fetch_req_t *req,
                      flyq_fetch_cb cb, void *arg,
                      flyq_fetch_handle_t **handle);

/* Forgets a parked fetch (e.g. its connection closed): its cb is never
 * called and the handle is invalid afterwards. Must not be called once cb
 * has been called. Works during and after close until the close callback. */
void flyq_broker_fetch_cancel(flyq_broker_t *b, flyq_fetch_handle_t *h);

/* Releases the slices of res and frees it. res may be NULL. Does not need
 * the broker (may be called after it closed). */
void flyq_broker_fetch_result_free(flyq_broker_fetch_result_t *res);

/* ---- Offsets of a partition ------------------------------------------ */

#define FLYQ_OFFSET_EARLIEST (-2)
#define FLYQ_OFFSET_LATEST (-1)

/* *offset receives the log start (timestamp FLYQ_OFFSET_EARLIEST), the high
 * watermark (FLYQ_OFFSET_LATEST), or for timestamp >= 0 the first offset
 * whose batch has a timestamp >= it (the high watermark if none). Returns 0,
 * FLYQ_ERR_UNKNOWN_TOPIC, FLYQ_ERR_UNKNOWN_PARTITION, FLYQ_ERR_INVALID_ARG
 * (other negative timestamp), an I/O error or FLYQ_ERR_CLOSED. */
int flyq_broker_list_offset(flyq_broker_t *b, const char *topic,
                            int32_t partition, int64_t timestamp,
                            int64_t *offset);

/* ---- Topics ----------------------------------------------------------- */

/* A topic setting as text. Keys: "retention.ms", "retention.bytes",
 * "segment.bytes", "segment.ms", "flush.messages", "flush.interval_ms"
 * (the config file's names; Kafka's "flush.ms" is taken for the last);
 * values are decimal integers. */
typedef struct flyq_topic_kv {
  const char *key;
  const char *value;
} flyq_topic_kv_t;

#define FLYQ_TOPIC_CONFIG_KEYS 6

/* Creates a topic with the broker's defaults overridden by configs (n
 * entries, may be NULL when n is 0; a repeated key: the last wins).
 * partitions: 1..FLYQ_PARTITIONS_MAX, or -1 for cfg->default_partitions.
 * Valid values: retention.ms, retention.bytes, segment.ms, flush.interval_ms >= -1;
 * flush.messages >= 0; segment.bytes in [1024, INT32_MAX].
 * Returns 0, FLYQ_ERR_TOPIC_EXISTS, FLYQ_ERR_INVALID_NAME,
 * FLYQ_ERR_INVALID_ARG (partitions), FLYQ_ERR_CONFIG (unknown key or bad
 * value), FLYQ_ERR_LIMIT (cfg->max_topics), an I/O error or
 * FLYQ_ERR_CLOSED. err (may be NULL) receives a human-readable reason on
 * failure. Nothing is created on failure. */
int flyq_broker_create_topic(flyq_broker_t *b, const char *name,
                             int32_t partitions, const flyq_topic_kv_t *configs,
                             size_t n, char *err, size_t errlen);

/* Deletes a topic and its data. Parked fetches watching it are answered
 * (from the loop, their entries for it with FLYQ_ERR_UNKNOWN_TOPIC) and
 * produces waiting for its fsync complete with FLYQ_ERR_UNKNOWN_TOPIC.
 * Committed group offsets for it are dropped. Returns 0,
 * FLYQ_ERR_UNKNOWN_TOPIC, an I/O error or FLYQ_ERR_CLOSED. */
int flyq_broker_delete_topic(flyq_broker_t *b, const char *name);

/* The partitions topic has; for a topic that does not exist, the number a
 * produce would create it with (auto_create_topics), else 0. */
int32_t flyq_broker_partitions(flyq_broker_t *b, const char *topic);

/* ---- Metadata --------------------------------------------------------- */

typedef struct flyq_topic_info {
  char *name;
  int err; /* 0, or FLYQ_ERR_UNKNOWN_TOPIC for a named missing topic */
  int32_t npartitions;
  flyq_log_stats_t *partitions; /* index = partition id */
  /* The topic's settings as text (keys as in flyq_topic_kv_t); values
   * point into config_values. All NULL when err is set. */
  flyq_topic_kv_t config[FLYQ_TOPIC_CONFIG_KEYS];
  char config_values[FLYQ_TOPIC_CONFIG_KEYS][24];
} flyq_broker_topic_info_t;

typedef struct flyq_metadata {
  size_t ntopics;
  flyq_broker_topic_info_t *topics;
} flyq_broker_metadata_t;

/* Describes the topics named in names[0..n) in that order, or every topic
 * in name order when names is NULL. Fills *md, which the caller frees with
 * flyq_broker_metadata_free() (nothing to free on error). Returns 0, -ENOMEM or
 * FLYQ_ERR_CLOSED. */
int flyq_broker_metadata(flyq_broker_t *b, const char *const *names,
                         size_t n, flyq_broker_metadata_t *md);
void flyq_broker_metadata_free(flyq_broker_metadata_t *md);

/* ---- Consumer groups -------------------------------------------------- */

/* Records group's next offset for a partition, in memory. Dirty groups are
 * written (a small synced file per group, on the loop thread) by a timer
 * every cfg->groups_flush_interval_ms and at close.
 * Returns 0, FLYQ_ERR_INVALID_NAME, FLYQ_ERR_UNKNOWN_TOPIC,
 * FLYQ_ERR_UNKNOWN_PARTITION, FLYQ_ERR_INVALID_ARG (offset < 0), -ENOMEM
 * or FLYQ_ERR_CLOSED. */
int flyq_broker_commit_offset(flyq_broker_t *b, const char *group,
                              const char *topic, int32_t partition,
                              int64_t offset);

/* *offset receives the committed offset, or -1 when the group has none for
 * that partition (not an error). Returns 0, FLYQ_ERR_UNKNOWN_TOPIC,
 * FLYQ_ERR_UNKNOWN_PARTITION or FLYQ_ERR_CLOSED. */
int flyq_broker_fetch_offset(flyq_broker_t *b, const char *group,
                             const char *topic, int32_t partition,
                             int64_t *offset);

/* Calls fn for each committed (topic, partition, offset) of group, in topic
 * then partition order, until fn returns non-zero (then returned). Returns
 * FLYQ_ERR_NOT_FOUND for a group without commits, or FLYQ_ERR_CLOSED.
 * fn must not call broker functions that change groups. */
int flyq_broker_foreach_offset(flyq_broker_t *b, const char *group,
                               int (*fn)(const char *topic, int32_t partition,
                                         int64_t offset, void *arg),
                               void *arg);

/* Calls fn for each group name in name order, as above. */
int flyq_broker_foreach_group(flyq_broker_t *b,
                              int (*fn)(const char *group, void *arg),
                              void *arg);

/* ---- Config plan and apply (docs/config.md, "Reloading") -------------- */

/* What applying a new config would do (FLYQ_CHANGE_ERROR: could not do).
 * flyq_broker_change_kind_name() gives the names used on the wire. */
typedef enum flyq_change_kind {
  FLYQ_CHANGE_CREATE_TOPIC,   /* declared, not on the broker */
  FLYQ_CHANGE_ADD_PARTITIONS, /* declared with more partitions */
  FLYQ_CHANGE_SET,            /* a setting applied at once (broker-wide or
                                 a topic's) */
  FLYQ_CHANGE_PLUGINS,        /* plugin settings, applied by the host's
                                 plugin runtime */
  FLYQ_CHANGE_DRIFT,          /* on the broker, not declared, kept */
  FLYQ_CHANGE_DELETE_TOPIC,   /* not declared, and the config prunes */
  FLYQ_CHANGE_RESTART,        /* a setting that takes effect only when the
                                 broker is restarted (listen, data_dir, the
                                 connection limits, ...) */
  FLYQ_CHANGE_ERROR           /* refused (e.g. fewer partitions): apply
                                 refuses the whole plan */
} flyq_change_kind_t;

typedef struct flyq_broker_change {
  flyq_change_kind_t kind;
  char *topic;  /* the topic, or "" for a broker-wide change; owned */
  char *detail; /* one line: "partitions 2 -> 4",
                   "retention.ms 604800000 -> 3600000"; owned */
} flyq_broker_change_t;

/* Broker-wide changes first (in a fixed key order), then topics in name
 * order, each topic's changes in the order they are applied. */
typedef struct flyq_broker_plan {
  flyq_broker_change_t *changes;
  size_t n;
  size_t cap;
  size_t nerrors; /* changes of kind FLYQ_CHANGE_ERROR */
} flyq_broker_plan_t;

/* "create_topic", "add_partitions", "set", "plugins", "drift",
 * "delete_topic", "restart" or "error". Static. */
const char *flyq_broker_change_kind_name(flyq_change_kind_t kind);

/* Compares the broker with next, a complete config (as flyq_config_load
 * makes it; read during the call only). Topics: the broker's topics and
 * settings against next->topics (a topic that is not declared is drift, or
 * deleted when next->prune is set; its dead-letter topic "<name>.dlq"
 * counts as declared when the topic's on_error is dead_letter). Partition
 * counts only grow: fewer is an error, and so is a topic count over
 * next->max_topics. Broker-wide settings and plugins: next against old, the
 * config the broker runs with; when old is NULL the broker's own copy of
 * its scalar settings is used and strings and plugins are not compared.
 * Fills *out (initialised here; free it with flyq_broker_plan_free, also
 * on error). Returns 0, -ENOMEM or FLYQ_ERR_CLOSED. Changes nothing. */
int flyq_broker_plan(flyq_broker_t *b, const flyq_config_t *old,
                     const flyq_config_t *next, flyq_broker_plan_t *out);

/* Carries out plan, which flyq_broker_plan made for next with no broker
 * call in between: creates, grows and re-configures topics, deletes the
 * pruned ones, then takes next's settings that apply at once (defaults of
 * new topics, auto_create_topics, max_topics, the groups and retention
 * timers). PLUGINS, RESTART and DRIFT changes need nothing from the broker;
 * log_level and shutdown_timeout_ms are the host's to apply. A plan with
 * errors is refused: FLYQ_ERR_CONFIG with the errors in err, nothing done.
 * A failing topic step stops the apply: the steps before it stay applied,
 * the broker-wide settings are not taken, and err (may be NULL) says which
 * step failed. *steps (may be NULL) receives the number of topic steps
 * started, a failed one included, also on error (0: the broker is
 * unchanged). Returns 0,
 * FLYQ_ERR_CONFIG, an I/O error, -ENOMEM or FLYQ_ERR_CLOSED. */
int flyq_broker_apply(flyq_broker_t *b, const flyq_config_t *next,
                      const flyq_broker_plan_t *plan, size_t *steps,
                      char *err, size_t errlen);

/* Adds a broker-wide change (topic "") of kind with detail to plan, after
 * the broker-wide changes already there and before the topics': for what
 * the host finds itself, such as plugin files whose text changed. Returns
 * 0 or -ENOMEM (plan unchanged). */
int flyq_broker_plan_add(flyq_broker_plan_t *plan, flyq_change_kind_t kind,
                         const char *detail);

/* Frees the changes of plan and empties it; safe to call twice. */
void flyq_broker_plan_free(flyq_broker_plan_t *plan);

/* Copies into next, from running, every setting that takes effect only at a
 * restart (listen, http, data_dir, allow_anonymous and the connection
 * limits), so that next describes the broker once it is applied. Returns 0
 * or -ENOMEM (next is then unchanged). */
int flyq_broker_keep_restart_settings(flyq_config_t *next,
                                      const flyq_config_t *running);

/* Reading config text needs the Lua host, which the broker does not link:
 * the host (flyq serve) registers a handler that loads the text (NULL: the
 * file the broker was started with), plans it against the running config
 * and, when apply is set, applies it. It fills *out on success (the caller
 * frees it), leaves it empty on error with one line in err, and returns 0 or
 * a negative code (FLYQ_ERR_CONFIG for a config that does not load or a
 * plan with errors). It runs synchronously, on the loop thread. */
typedef int (*flyq_broker_reload_fn)(void *arg, const char *text, size_t len,
                                     const char *name, int apply,
                                     flyq_broker_plan_t *out, char *err,
                                     size_t errlen);

/* Sets (or with fn NULL removes) the reload handler. */
void flyq_broker_set_reload_handler(flyq_broker_t *b, flyq_broker_reload_fn fn,
                                    void *arg);

/* For protocol handlers (ConfigPlan, ConfigApply): calls the reload handler
 * with text[0..len) (text NULL: the startup file) named name (NULL:
 * "config"). *out is initialised here and filled on success; on error it
 * is empty and err (may be NULL) has one line. Returns what the handler
 * returns, FLYQ_ERR_UNSUPPORTED when there is no handler, or
 * FLYQ_ERR_CLOSED. */
int flyq_broker_reload(flyq_broker_t *b, const char *text, size_t len,
                       const char *name, int apply, flyq_broker_plan_t *out,
                       char *err, size_t errlen);

/* ---- Stats ------------------------------------------------------------ */

/* Counters since the broker started, and a few gauges. */
typedef struct flyq_broker_stats {
  uint64_t produce_requests;
  uint64_t produced_records;
  uint64_t produced_bytes;  /* batch bytes appended */
  uint64_t fetch_requests;  /* answered fetches */
  uint64_t fetched_bytes;   /* slice bytes handed to fetch callbacks */
  uint64_t fsyncs;          /* completed fsync jobs */
  uint64_t fsync_errors;
  uint64_t errors;          /* failed calls and failed result entries */
  uint64_t parked_fetches;  /* gauge: fetches waiting for data */
  uint64_t pending_produces; /* gauge: acks=-1 produces waiting */
  uint64_t topics;          /* gauge */
} flyq_broker_stats_t;

void flyq_broker_stats(const flyq_broker_t *b, flyq_broker_stats_t *out);

#endif /* FLYQ_BROKER_H */
