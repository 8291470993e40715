/* The plugin runtime: FlyQ's policy layer as the broker and the server see
 * it, with no Lua in sight. A runtime is built from a flyq_config_t (the
 * `plugin_path`, `plugins`, `auth` and per-topic `partitioner`,
 * `on_produce`, `on_consume` and `on_error` keys, docs/config.md) and answers
 * four kinds of questions: what becomes of a produced batch (on_produce),
 * what a consumer gets to see of a fetched batch (on_consume), which
 * partition each record of a batch goes to (partition), and who a client is
 * and what it may do (authenticate, authorize). Writing plugins is described
 * in docs/plugins.md; the implementation lives in src/host/runtime*.c and
 * src/host/plugin*.c with the Lua driver lua/flyq/runtime.lua.
 *
 * The plugin side (what plugin authors rely on). A plugin is a Lua file
 * <name>.lua that returns a table:
 *
 *   { name = "redact",                       -- required, for messages
 *     schema = { key = spec, ... },          -- params checked at load
 *                                            -- (lua/flyq/schema.lua)
 *     init = function(params, ctx) end,      -- once, at load
 *     partition = function(record, n, ctx) return p end, -- 0 <= p < n
 *     on_produce = function(record, ctx) return record end,
 *     on_consume = function(record, ctx) return record end,
 *     authenticate = function(credentials, conn, ctx)
 *       return principal end,                -- or nil, reason
 *     authorize = function(principal, action, resource, ctx)
 *       return true end }                    -- false denies, nil abstains
 *
 * record: key and value (strings, nil for null), headers (a table of name
 * -> string, false for a null value; of repeated names the last one),
 * timestamp (ms), topic, partition (nil: the partitioner decides), offset
 * (on_consume only). Reading a field copies it into Lua the first time;
 * assigning key, value, headers or timestamp changes the record; assigning
 * topic (and partition) routes it (on_produce only). A record may only be
 * used during the call that received it.
 * on_produce and on_consume return the record to keep it (changed or not),
 * nil to drop it, or a list of records to fan out, where a new record is a
 * table { key =, value =, headers =, timestamp =, topic =, partition = }
 * (every field optional; the timestamp defaults to the source record's).
 * ctx: topic, partition (the request's, or nil), principal (nil when
 * anonymous), params (as checked, defaults filled in) and state (a table
 * kept for the instance's life). credentials: mechanism and data, plus
 * token (mechanism "token") or authzid, username and password ("plain").
 * conn: remote and local addresses.
 * The environment (src/host/plugin_api.c): string, table, math, utf8,
 * coroutine, cjson (also require("cjson")), os.clock, os.time, flyq.log,
 * flyq.counter, flyq.now_ms, flyq.sha256, flyq.hmac_sha256,
 * flyq.constant_time_eq, print (to the log), load (text only), env(NAME);
 * no io, other os functions, debug, package, dofile, loadfile,
 * string.dump, getmetatable, setmetatable or collectgarbage.
 *
 * Threading: a runtime belongs to one thread (the loop thread); no function
 * here may be called concurrently on the same runtime. Every call runs the
 * hooks synchronously, in config order, and returns when they are done.
 *
 * Cost model: a call crosses into each plugin's Lua state once per batch
 * (a Lua driver loops over the records); a record's key, value and headers
 * are copied into Lua only when a hook reads them. A call for a topic
 * without hooks returns at once (check flyq_plugins_has_on_produce first to
 * skip even that).
 *
 * Limits: each plugin instance (a plugin with one set of params) has its
 * own Lua state with a memory cap (`plugins.limits.memory`, default 64 MiB)
 * and each hook call, meaning one record through one hook (or one init, one
 * authenticate, one authorize call), may run `plugins.limits.instructions`
 * Lua instructions (default 1,000,000, a few milliseconds). Exceeding either
 * is a plugin error that the plugin cannot catch; the next call starts with
 * a fresh budget.
 *
 * Plugin errors: every failure of a hook names the plugin and, where Lua
 * knows it, FILE:LINE ("plugin upper: plugins/upper.lua:7: boom
 * (on_produce, record 3)", record N being the N-th record that hook was
 * given in the call). It is counted and logged (with the running
 * count) and shows in flyq_plugins_stats. What happens to the record is the
 * topic's `on_error` (FLYQ_ON_ERROR_*, include/flyq/config.h).
 *
 * Hot reload: build a new runtime from the new config with flyq_plugins_new
 * and, between two calls on the loop thread, swap it in and free the old
 * one. A broken config or plugin makes flyq_plugins_new fail with the error
 * text, and the old runtime simply stays in place. Stats, plugin state
 * (ctx.state) and cached consumer filters start afresh in the new runtime.
 */
#ifndef FLYQ_PLUGINS_H
#define FLYQ_PLUGINS_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/config.h"

typedef struct flyq_plugins flyq_plugins_t;

/* ---- Life cycle ------------------------------------------------------- */

/* Builds a runtime from cfg: finds every plugin named in cfg on
 * cfg->plugin_path (<dir>/<name>.lua, first match wins), loads it into its
 * own sandboxed Lua state, checks its params against its schema, calls its
 * init, and checks that it has the hooks it is used for. An inline
 * partitioner function is recovered by running the config source
 * (cfg->source) again inside the plugin's own state. cfg is only read during
 * the call. On success *out owns everything it needs. On failure *out is
 * untouched, err (may be NULL) receives one line naming the plugin (and
 * FILE:LINE, or the params key path such as "params.limits.rate") and the
 * result is FLYQ_ERR_CONFIG (bad plugin, params or hook), FLYQ_ERR_NOT_FOUND
 * (a plugin not on plugin_path), FLYQ_ERR_INVALID_NAME (a plugin name that
 * is not letters, digits, _ and -), FLYQ_ERR_PLUGIN (the plugin's code or
 * init failed or hit a limit), -errno (a plugin file cannot be read) or
 * -ENOMEM. */
int flyq_plugins_new(const flyq_config_t *cfg, flyq_plugins_t **out,
                     char *err, size_t errlen);

/* The plugin files rt loaded that a runtime built from next would load
 * with other contents: for each plugin name rt loaded (inline partitioners
 * aside; consumer filters and plugins next does not name included),
 * fn(arg, name, file, what) with what "changed" (the same file reads
 * differently), "moved" (next's plugin_path finds another file, file) or
 * "gone" (next finds none; file is the old one; for a plugin next names,
 * flyq_plugins_new(next) then fails). Reads the files. rt may be NULL.
 * Returns 0, or the first negative result of fn. */
typedef int (*flyq_plugins_file_fn)(void *arg, const char *name,
                                    const char *file, const char *what);
int flyq_plugins_changed_files(const flyq_plugins_t *rt,
                               const flyq_config_t *next,
                               flyq_plugins_file_fn fn, void *arg);

/* Closes every plugin state and frees rt. rt may be NULL. Output structs
 * filled earlier stay valid (they own their memory). */
void flyq_plugins_free(flyq_plugins_t *rt);

/* ---- Per-topic questions ---------------------------------------------- */

/* 1 if topic has on_produce hooks (flyq_plugins_on_produce would do
 * something), else 0. Topics not declared in the config have none. */
int flyq_plugins_has_on_produce(const flyq_plugins_t *rt, const char *topic);

/* 1 if topic has on_consume hooks of its own (consumer filters aside). */
int flyq_plugins_has_on_consume(const flyq_plugins_t *rt, const char *topic);

typedef enum flyq_partitioner_kind {
  FLYQ_PARTITIONER_DEFAULT = 0, /* none configured: the broker's own rule
                                   (key_hash; null keys round-robin) */
  FLYQ_PARTITIONER_KEY_HASH,    /* murmur2 of the key, like Kafka
                                   (flyq_partition_for_key); null keys
                                   round-robin */
  FLYQ_PARTITIONER_ROUND_ROBIN, /* record by record, keys ignored */
  FLYQ_PARTITIONER_STICKY,      /* keyed records: key_hash; every null-key
                                   record of one call goes to one partition,
                                   the next call to the next partition */
  FLYQ_PARTITIONER_PLUGIN       /* a Lua partition hook (plugin or inline) */
} flyq_partitioner_kind_t;

/* The partitioner configured for topic. */
flyq_partitioner_kind_t flyq_plugins_partitioner(const flyq_plugins_t *rt,
                                                 const char *topic);

/* The topic's on_error setting (FLYQ_ON_ERROR_REJECT when not declared). */
int flyq_plugins_on_error(const flyq_plugins_t *rt, const char *topic);

/* 1 if the config has authenticate hooks (the server then requires
 * Authenticate before anything else), else 0. */
int flyq_plugins_has_auth(const flyq_plugins_t *rt);

/* 1 if the config has authorize hooks, else 0 (every authenticated client
 * may then do everything). */
int flyq_plugins_has_authorize(const flyq_plugins_t *rt);

/* ---- on_produce and on_consume ---------------------------------------- */

/* Record batches for one (topic, partition): one or more RecordBatch v2
 * back to back, ready for flyq_broker_produce. */
typedef struct flyq_plugins_batch {
  char *topic;       /* NUL-terminated; owned */
  int32_t partition; /* an explicit partition, or -1 (FLYQ_PARTITION_ANY):
                        the topic's partitioner places each record */
  uint8_t *data;     /* owned */
  size_t len;
  size_t records;    /* records in data */
} flyq_plugins_batch_t;

/* What the hooks made of the input. When unchanged is 1, nbatches is 0 and
 * the caller stores (or sends) its input bytes exactly as they are: every
 * record came back untouched, in order, to its own topic and partition.
 * Otherwise batches[0..nbatches) is the whole result, grouped by (topic,
 * partition) in order of first appearance (possibly none, when every record
 * was dropped). Owned by the caller: release with flyq_plugins_output_free.
 *
 * on_produce groups: the request's (topic, partition) for records that
 * were not routed; (other topic, -1) for records whose hook set
 * record.topic (or (other topic, p) when it also set record.partition);
 * ("<topic>.dlq", -1) for dead letters (on_error = dead_letter). Records
 * keep their key, value, headers and timestamp unless a hook changed them.
 *
 * on_consume: one group (the topic and partition of the input); every
 * record keeps its offset (a batch never spans a gap in offsets), so the
 * consumer resumes at next_offset whatever was dropped. */
typedef struct flyq_plugins_output {
  int unchanged;
  int validated;       /* the input batches passed flyq_batch_validate in
                          this call (always when hooks ran); with unchanged
                          they need not be checked again before storing */
  flyq_plugins_batch_t *batches;
  size_t nbatches;
  size_t records_in;   /* records in the input (on_consume: from the
                          fetch offset on) */
  size_t records_out;  /* records in batches (dead letters included), or
                          records_in when unchanged */
  size_t dropped;      /* input records that produced no output */
  size_t failed;       /* input records a hook failed on (on_error pass or
                          dead_letter; with reject the call fails) */
  size_t dead_letters; /* records sent to "<topic>.dlq" */
  int64_t next_offset; /* on_consume: the last input batch's last offset
                          + 1 (-1 for no input); else -1 */
} flyq_plugins_output_t;

/* Runs topic's on_produce hooks (in config order; each hook sees what the
 * previous one returned; a record routed to another topic still goes
 * through the rest of this topic's chain, never through the other topic's)
 * over batches[0..len) (RecordBatch v2, back to back; only read). partition
 * is the request's partition or -1; principal is the client's (NULL:
 * anonymous). Fills *out (initialised by the call; free it in every case;
 * for a topic without hooks: unchanged, and every count 0). The records
 * are decoded for the length of the call, about 100 bytes of C memory
 * each. Returns 0, or with *out empty:
 *  - FLYQ_ERR_PLUGIN: a hook failed and on_error is reject, or the driver
 *    itself failed; err (may be NULL) names plugin, FILE:LINE and record.
 *    Nothing of the request may be stored.
 *  - FLYQ_ERR_CORRUPT, FLYQ_ERR_TRUNCATED, FLYQ_ERR_UNSUPPORTED: bad input.
 *  - FLYQ_ERR_TOO_LARGE: a record grew past the batch limit.
 *  - FLYQ_ERR_INVALID_NAME: "<topic>.dlq" is too long for a topic name.
 *  - -ENOMEM.
 * The routed topic names are only checked as names (FLYQ_ERR_PLUGIN with
 * an invalid one); whether the principal may write to them is the caller's
 * question (flyq_plugins_authorize). */
int flyq_plugins_on_produce(flyq_plugins_t *rt, const char *topic,
                            int32_t partition, const char *principal,
                            const uint8_t *batches, size_t len,
                            flyq_plugins_output_t *out, char *err,
                            size_t errlen);

/* Runs the on_consume hooks for batches[0..len) fetched from (topic,
 * partition) at offset from: the records below from (the first stored
 * batch may start before the fetch offset) are neither given to the hooks
 * nor returned (the output is then never unchanged); 0 keeps them all.
 * An error names the failing record by its offset. Runs first the topic's
 * own hooks, then the consumer's filter if
 * filter is not NULL: the plugin of that name on plugin_path with params
 * (a JSON object text; NULL for none). Filter instances are loaded on first
 * use and cached by (name, params), at most 64 of them: loading another
 * closes the least recently used one (its state and stats go). Records
 * cannot be routed here
 * (record.topic and record.partition are read-only); on_error dead_letter
 * acts as pass. Returns as flyq_plugins_on_produce, and also
 * FLYQ_ERR_NOT_FOUND (no such plugin), FLYQ_ERR_CONFIG (bad params or no
 * on_consume hook) for a filter. */
int flyq_plugins_on_consume(flyq_plugins_t *rt, const char *filter,
                            const char *params, const char *topic,
                            int32_t partition, int64_t from,
                            const char *principal,
                            const uint8_t *batches, size_t len,
                            flyq_plugins_output_t *out, char *err,
                            size_t errlen);

/* How many partitions topic has, or would get if a produce created it now;
 * 0 when that is not known (no such topic, and none would be made). */
typedef int32_t (*flyq_plugins_partitions_fn)(void *arg, const char *topic);

/* Lets on_produce check a partition a hook chose (record.partition, or a
 * new record's partition) against its topic, routed or not: one out of
 * range fails that record like any bad field, and on_error decides
 * (without fn, the default, only the append checks it, and fails the whole
 * request). fn is called on the loop thread, during the hooks. */
void flyq_plugins_set_partitions(flyq_plugins_t *rt,
                                 flyq_plugins_partitions_fn fn, void *arg);

/* Frees what out owns and zeroes it; safe on a zeroed or freed output. */
void flyq_plugins_output_free(flyq_plugins_output_t *out);

/* ---- Partitioning ----------------------------------------------------- */

/* Chooses a partition in [0, npartitions) for every record of
 * batches[0..len) (only read), in record order, into parts[0..*nrecords)
 * (cap entries available). Meant for requests without an explicit
 * partition: records with one never reach the partitioner. Uses the topic's
 * partitioner (FLYQ_PARTITIONER_DEFAULT acts as key_hash). A Lua partition
 * hook returning a non-integer or a number outside [0, npartitions) fails;
 * with on_error reject the call then returns FLYQ_ERR_PLUGIN (err names
 * the plugin), with pass or dead_letter the record gets the key_hash
 * placement and the error is counted. Other returns: FLYQ_ERR_INVALID_ARG
 * (npartitions < 1, or more records than cap), FLYQ_ERR_CORRUPT,
 * FLYQ_ERR_TRUNCATED, FLYQ_ERR_UNSUPPORTED, -ENOMEM. */
int flyq_plugins_partition(flyq_plugins_t *rt, const char *topic,
                           const char *principal, const uint8_t *batches,
                           size_t len, int32_t npartitions, int32_t *parts,
                           size_t cap, size_t *nrecords, char *err,
                           size_t errlen);

/* ---- Authentication and authorization --------------------------------- */

/* The connection as authenticate hooks see it (conn.remote, conn.local).
 * Either string may be NULL. */
typedef struct flyq_plugins_conn {
  const char *remote; /* "ip:port" of the client */
  const char *local;  /* "ip:port" it connected to */
} flyq_plugins_conn_t;

/* Asks the authenticate hooks, in config order, about credentials[0..len)
 * presented with mechanism ("token", "plain", ...). The first hook that
 * returns a principal wins: *principal receives a malloc'd copy that the
 * caller frees, and the result is 0. A hook returning nil (and a reason)
 * passes to the next one. Returns FLYQ_ERR_AUTH when no hook accepted
 * (reason, may be NULL, gets the last hook's reason) or when a hook failed
 * (fail closed: the reason says so, the details go to the log and the
 * stats), FLYQ_ERR_UNSUPPORTED when no authenticate hook is configured, or
 * -ENOMEM. *principal is NULL on every error. conn may be NULL. */
int flyq_plugins_authenticate(flyq_plugins_t *rt, const char *mechanism,
                              const uint8_t *credentials, size_t len,
                              const flyq_plugins_conn_t *conn,
                              char **principal, char *reason,
                              size_t reasonlen);

/* Actions for flyq_plugins_authorize (any string is passed on as is). */
#define FLYQ_ACTION_PRODUCE "produce"
#define FLYQ_ACTION_FETCH "fetch"
#define FLYQ_ACTION_LIST_OFFSETS "list_offsets"
#define FLYQ_ACTION_OFFSET_FETCH "offset_fetch"
#define FLYQ_ACTION_CREATE_TOPIC "create_topic"
#define FLYQ_ACTION_DELETE_TOPIC "delete_topic"
#define FLYQ_ACTION_DESCRIBE "describe"
#define FLYQ_ACTION_COMMIT "commit"
#define FLYQ_ACTION_LIST_GROUPS "list_groups"
#define FLYQ_ACTION_ADMIN "admin"

/* Asks the authorize hooks, in config order, whether principal (NULL:
 * anonymous) may do action on resource ("topic:NAME", "group:NAME" or
 * "cluster"). A hook answers true (allow: stop), false (deny: stop) or nil
 * (abstain: ask the next). Returns 0 (allowed) or FLYQ_ERR_DENIED: when a
 * hook denies, when every hook abstains, and when a hook fails (fail
 * closed; the error is counted and logged). With no authorize hook
 * configured at all, everything is allowed (0). */
int flyq_plugins_authorize(flyq_plugins_t *rt, const char *principal,
                           const char *action, const char *resource);

/* ---- Stats ------------------------------------------------------------ */

typedef struct flyq_plugin_counter {
  char *name;
  int64_t value;
} flyq_plugin_counter_t;

/* One plugin instance (a plugin with one set of params). */
typedef struct flyq_plugin_stats {
  char *name;          /* the plugin's name ("inline" for an inline
                          partitioner) */
  char *file;          /* the file it was loaded from */
  char *params;        /* its params as JSON */
  int params_secret;   /* the params may hold a secret: a client is never
                          shown them. Every instance the config names; a
                          consumer filter whose schema marks one
                          secret = true, or that has no schema */
  char id[9];          /* 8 random hex digits the instance drew when it
                          was made: tells instances apart (params hidden
                          or not) and says nothing about them */
  char **uses;         /* where it is used, nuses of them: the config's
                          key paths ("topics.orders.on_produce[1]",
                          "topics.orders.partitioner", "auth[2]"), or
                          "consumer filter" */
  size_t nuses;
  uint64_t batches;    /* driver runs (one per call) */
  uint64_t calls;      /* hook calls: one per record a hook was called
                          on (once, reruns included), one per auth call */
  uint64_t chunked_calls; /* of those, made by chunk runners: the hook
                             returns its record or nothing, and ran on
                             up to 128 records at a time with nothing
                             between two calls (docs/plugins.md) */
  uint64_t errors;     /* failed hook calls and failed driver runs */
  char *last_error;    /* NULL when errors is 0 */
  uint64_t keys_pushed;    /* record keys copied into Lua */
  uint64_t values_pushed;  /* record values copied into Lua */
  uint64_t headers_pushed; /* header tables built for Lua */
  uint64_t memory_bytes;   /* the Lua state's heap now */
  flyq_plugin_counter_t *counters; /* flyq.counter(name, delta) totals */
  size_t ncounters;
} flyq_plugin_stats_t;

/* A snapshot of every instance, in load order (consumer filters last).
 * *out (free with flyq_plugins_stats_free) holds *n entries. Returns 0 or
 * -ENOMEM (*out NULL, *n 0). */
int flyq_plugins_stats(const flyq_plugins_t *rt, flyq_plugin_stats_t **out,
                       size_t *n);
void flyq_plugins_stats_free(flyq_plugin_stats_t *stats, size_t n);

#endif /* FLYQ_PLUGINS_H */
