/* Plugin instances: one plugin with one set of params, in its own Lua state
 * (memory cap, instruction budget, sandbox environment with the flyq API
 * and cjson), driven by lua/flyq/runtime.lua. The runtime
 * (include/flyq/plugins.h, runtime*.c) owns instances and runs batches
 * through them; this header is what it needs.
 *
 *   plugin.c         open, close, driver calls, errors and stats
 *   plugin_api.c     the plugin environment: flyq.*, cjson, require, os, print
 *   plugin_record.c  record proxies: lazy fields, results back to records
 *   plugin_host.c    the host functions the driver calls
 *   plugin_json.c    params: JSON text -> Lua table
 *   plugin_recs.c    record arrays and the arena behind changed records
 */
#ifndef FLYQ_HOST_PLUGIN_H
#define FLYQ_HOST_PLUGIN_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "flyq/batch.h"
#include "flyq/plugins.h"

/* ---- Records on their way through the hooks --------------------------- */

/* A record between two hooks. r points into the input batches while the
 * record is unchanged, into the call's arena once a hook changed it. */
typedef struct flyq__prec {
  flyq_record_t r;                  /* key, value, timestamp, offset; its
                                       raw headers when hdrs is NULL */
  const flyq_record_header_t *hdrs; /* headers set by a hook, or NULL */
  int32_t nhdrs;
  int32_t partition; /* explicit partition, or -1 */
  const char *topic; /* routed to this topic; NULL: the request's */
  uint32_t src;      /* index of the input record it came from */
  uint8_t changed;   /* differs from input record src */
} flyq__prec_t;

typedef struct flyq__recs {
  flyq__prec_t *v;
  size_t n, cap;
} flyq__recs_t;

/* Appends a copy of *r. Returns 0 or -ENOMEM. */
int flyq__recs_push(flyq__recs_t *a, const flyq__prec_t *r);
void flyq__recs_free(flyq__recs_t *a);

/* The request's records, decoded on first use: loading validates every
 * batch (which decodes each record once, keeping nothing) and notes where
 * each record starts; a record is decoded into recs.v[i] when something
 * asks for it. A hook that returns its record untouched never has it
 * decoded, and the 100-odd bytes per record are never written. */
typedef struct flyq__lazy_batch {
  flyq_batch_header_t h;
  const uint8_t *end;
  size_t first; /* index of its first record */
} flyq__lazy_batch_t;

typedef struct flyq__lazy {
  flyq__recs_t recs;   /* recs.n records; recs.v[i] once decoded[i] */
  size_t skipped;      /* records dropped by flyq__lazy_skip */
  int64_t end_offset;  /* the last batch's last offset + 1, or -1 */
  uint8_t *decoded;
  const uint8_t **at;  /* where record i starts */
  size_t cap;          /* of decoded and at */
  flyq__lazy_batch_t *b;
  size_t nb, bcap;
  int32_t partition;   /* every record's explicit partition, or -1 */
} flyq__lazy_t;

/* Validates the batches buf[0..len) (back to back; only read, and kept
 * until the next load) and notes their records, which get partition.
 * Returns 0, FLYQ_ERR_CORRUPT, FLYQ_ERR_TRUNCATED, FLYQ_ERR_UNSUPPORTED,
 * FLYQ_ERR_TOO_LARGE or -ENOMEM; on error no record is loaded. */
int flyq__lazy_load(flyq__lazy_t *z, const uint8_t *buf, size_t len,
                    int32_t partition);

/* Drops the records below offset (by their batches' base offsets: the
 * input of a fetch, whose first batch may start before the fetch offset)
 * from what was loaded, before any of them is read; adds their number to
 * skipped. end_offset stays. */
void flyq__lazy_skip(flyq__lazy_t *z, int64_t offset);

/* Record i (< recs.n), decoded now if it was not yet. */
const flyq__prec_t *flyq__lazy_get(flyq__lazy_t *z, size_t i);

/* Record i's key (f 0) or value (f 1) into *b, *len (-1: null) from its
 * bytes, without decoding the rest of it. Returns 0, or -1 when the record
 * is decoded already (then read it from flyq__lazy_get). */
int flyq__lazy_field(const flyq__lazy_t *z, size_t i, int f,
                     const uint8_t **b, int32_t *len);

/* Decodes every record: recs.v is complete afterwards. */
void flyq__lazy_all(flyq__lazy_t *z);
void flyq__lazy_free(flyq__lazy_t *z);

/* Bytes that live until flyq__arena_free: copies of changed keys, values,
 * headers and topic names. */
typedef struct flyq__arena {
  struct flyq__chunk *head;
} flyq__arena_t;

/* n bytes (n may be 0), aligned for pointers, or NULL when out of memory. */
void *flyq__arena_alloc(flyq__arena_t *a, size_t n);
void flyq__arena_free(flyq__arena_t *a);

/* Decodes the headers of r (raw or replaced) into a new arena array of
 * *n + extra entries (the first *n filled). Returns NULL and sets *n to -1
 * when out of memory or the raw headers are corrupt. */
flyq_record_header_t *flyq__prec_headers(flyq__arena_t *a,
                                         const flyq__prec_t *r, int32_t extra,
                                         int32_t *n);

/* ---- One driver run ----------------------------------------------------- */

/* Flags of an input record (flyq__call_t.flags). */
enum { FLYQ__REC_FAILED = 1, FLYQ__REC_DEAD = 2 };

/* What the host functions of a driver run read and fill. Set up by the
 * runtime, valid during flyq__plugin_run only. */
typedef struct flyq__call {
  const char *hook;        /* "on_produce", ... (for messages) */
  void (*scrub)(char *text, size_t size, const void *arg); /* applied to an error's
                              message before it is kept, logged or
                              returned (authenticate: hides credentials) */
  const void *scrub_arg;
  const flyq__prec_t *in;  /* this hook's input */
  size_t nin;
  flyq__recs_t *out;       /* what it emits (NULL for partition) */
  int32_t *parts;          /* partition: one per input record, -1 first */
  flyq__arena_t *arena;
  const char *topic;       /* the request's topic */
  int32_t partition;       /* the request's partition, or -1 */
  int consume;             /* 1: records cannot be routed; offsets shown */
  int on_error;            /* FLYQ_ON_ERROR_* for protected runs */
  flyq_plugins_partitions_fn partitions; /* NULL: chosen partitions are not
                              checked here (flyq_plugins_set_partitions) */
  void *partitions_arg;
  const flyq__prec_t *orig; /* the request's records (dead letters) */
  flyq__lazy_t *lazy;      /* the same, when in == orig: read both
                              through flyq__call_in and flyq__call_orig */
  uint8_t *flags;          /* FLYQ__REC_* per orig record */
  flyq__recs_t *dead;      /* dead letters, for on_error dead_letter */
  int failed;              /* a host function ran out of memory */
  size_t cur;              /* the record being processed (0-based) */
  /* The driver's fast loop (host.fill, settle, finish; see runtime.lua). */
  int fast;                /* the fast loop ran: cur is base + its
                              j0 + k - first_slot */
  size_t base;             /* input index of the chunk's first record */
  size_t first_slot;       /* its slot */
  size_t chunk_end;        /* input index after the chunk's last record */
  int settling;            /* C is settling kept records: cur is the one */
  size_t next;             /* fast loop: input records before this one
                              are settled */
  int same;                /* the output is the input, record for record
                              (out was left empty) */
  size_t emitting;         /* fast loop: 1 + the input record whose answer
                              settle(j) let through (keep() emits it), or 0 */
  size_t emit_mark;        /* out->n before that record's emits */
  size_t ran;              /* fast loop: input records before this one had
                              their hooks run (a chunk runner's chunk, a
                              settle(j) or finish()) */
  int no_runner;           /* no chunk runner (memory: see push_runner):
                              this call's chunks go through the loop */
  /* The limit breaker (on_error pass or dead_letter): a request whose
   * records keep running into a limit must not hold the loop thread for
   * records x limit. */
  int limit_hit;           /* the last protect() ended at the time,
                              instruction or memory limit */
  unsigned limit_fails;    /* records failed so in this call */
  size_t counted;          /* input records before this one are counted in
                              the instance's calls (flyq__call_count) */
} flyq__call_t;

/* Proxies are the light userdata 1..FLYQ__RING (see plugin_record.c),
 * held by the driver in FLYQ__RING / FLYQ__SLICE tables, the slices: slice
 * i (0-based) holds the proxies i * FLYQ__SLICE + 1 .. + FLYQ__SLICE at
 * 1 .. FLYQ__SLICE. The driver's chunk runners call a hook on the
 * records of a chunk that starts a slice: the whole slice, or, for the
 * records left at the end of a call, FLYQ__SLICE / 2 .. FLYQ__RUN_MIN of
 * them, a power of two (host.fill; runtime.lua). */
#define FLYQ__RING 4096
#define FLYQ__SLICE 128
#define FLYQ__RUN_MIN 8
#define FLYQ__RUNNERS 5 /* 128, 64, 32, 16 and 8 records */
_Static_assert(FLYQ__SLICE >> (FLYQ__RUNNERS - 1) == FLYQ__RUN_MIN,
               "one runner for each power of two from the slice down");

/* Records of one call that may fail at a limit before the hook is run on
 * none of the rest: each of those fails with "not run: ..." and on_error
 * applies to it (pass stores it unchanged, dead_letter sends it to the
 * dead letters). So a request holds the loop thread for at most about
 * this many limits, however many of its records would loop. */
#define FLYQ__LIMIT_TRIP 3

/* Input record i of the call (decoded on first use when the input is the
 * request's records), and the request's record i. */
static inline const flyq__prec_t *flyq__call_in(const flyq__call_t *c,
                                                size_t i) {
  return c->lazy && c->in == c->orig ? flyq__lazy_get(c->lazy, i) : &c->in[i];
}

static inline const flyq__prec_t *flyq__call_orig(const flyq__call_t *c,
                                                  size_t i) {
  return c->lazy ? flyq__lazy_get(c->lazy, i) : &c->orig[i];
}

/* ---- Instances ---------------------------------------------------------- */

enum {
  FLYQ__HOOK_PARTITION = 1,
  FLYQ__HOOK_ON_PRODUCE = 2,
  FLYQ__HOOK_ON_CONSUME = 4,
  FLYQ__HOOK_AUTHENTICATE = 8,
  FLYQ__HOOK_AUTHORIZE = 16
};

typedef struct flyq__counter {
  char *name;
  int64_t value;
} flyq__counter_t;

typedef struct flyq__plugin {
  lua_State *L;
  char *key;       /* what the runtime finds it by: name + params */
  char *name;      /* the plugin table's name */
  char *file;      /* where it was loaded from */
  int has_digest;  /* digest is the file's (not for inline partitioners) */
  char id[9];      /* 8 random hex digits, drawn when made (the stats' id) */
  char **uses;     /* the config's key paths of the entries that use it,
                      as the schema wrote them (flyq_config_plugin_t.path) */
  size_t nuses;
  uint8_t digest[32]; /* SHA-256 of the file's text at load */
  char *params;    /* JSON */
  int secret_params; /* the params may hold a secret: never shown
                        (flyq.runtime.check) */
  unsigned hooks;  /* FLYQ__HOOK_* */
  int64_t budget;  /* instructions per hook call; <= 0: none */
  int64_t time_ns; /* CPU time per hook call */
  int exact;       /* budget by instruction count (the slow driver loop),
                      not by the CPU-time watchdog */
  int watched;     /* this run's budget is the watchdog (else a count) */
  int mod_ref;     /* registry: the flyq.runtime module */
  int recs_ref;    /* registry: the driver's slices of the proxy values */
  int loop_ref;    /* registry: the driver's fast loops and chunk
                      runners, as the keys of a table (the watchdog's
                      drivers: their j0 + k is the record's slot) */
  uint64_t progress; /* moves on at each chunk and slow-loop record */
  int runner_ref[FLYQ__RUNNERS][2]; /* registry: the chunk runners
                        (host.fill), by size (FLYQ__SLICE >> i records),
                        with ctx and bare; LUA_NOREF until first used */
  int answers_ref;   /* registry: host.check's table of a slice's answers,
                        made with the first runner, or LUA_NOREF */
  unsigned chunked; /* FLYQ__HOOK_ON_PRODUCE, _ON_CONSUME: the hook returns
                       its record or nothing (flyq__hook_returns_arg), so a
                       chunk runner may call it (host.fill) */
  int inst_ref;    /* registry: the instance table from setup */
  const char *field_names[8]; /* the state's strings "key", "value"...,
                                 by field number (flyq__record_open) */
  flyq__call_t *call; /* the running call, NULL between calls */
  uint64_t gen;    /* run number: proxies of earlier runs are dead */
  struct flyq__slot *slots;    /* FLYQ__RING: what each proxy value is */
  size_t ring_pos;             /* slots handed out since the ring began */
  size_t run_slots;            /* slots handed out or skipped in this run */
  struct flyq__proxy *proxies; /* per input record of the run */
  size_t nproxies;
  int cache_used;  /* the run's field cache exists */
  int touched;     /* a hook of the run assigned a field or read headers */
  int filter;      /* loaded for a consumer filter: the runtime may close
                      it when it is the least recently used one */
  uint64_t used;   /* the runtime's use clock at its last use as a filter */
  uint64_t batches, errors;
  uint64_t calls;  /* hook calls: one per record a hook was called on (in
                      a call: flyq__call_count), one per auth call */
  uint64_t chunked_calls; /* of those, in chunks a runner completed */
  uint64_t keys_pushed, values_pushed, headers_pushed;
  char last_error[512];
  flyq__counter_t *counters;
  size_t ncounters;
  struct flyq__plugin *next; /* the runtime's list */
} flyq__plugin_t;

/* Counts the hook calls of c's input records c->counted .. end-1 in
 * p->calls: each record once, however often the driver comes back to it
 * (a chunk handed out again after a failure, a rerun). The fast loop
 * counts a chunk when it is handed out, before its hooks run. */
static inline void flyq__call_count(flyq__plugin_t *p, flyq__call_t *c,
                                    size_t end) {
  if (end <= c->counted) return;
  p->calls += end - c->counted;
  c->counted = end;
}

/* Takes back what flyq__call_count counted for input records from .. on:
 * their hooks did not run (the loop stopped before them), or are to run
 * again and be counted then. */
static inline void flyq__call_uncount(flyq__plugin_t *p, flyq__call_t *c,
                                      size_t from) {
  if (c->counted <= from) return;
  p->calls -= c->counted - from;
  c->counted = from;
}

/* Where an instance comes from. */
typedef struct flyq__plugin_src {
  const char *name;   /* what the config calls it (for messages) */
  const char *key;    /* cache key */
  const char *file;   /* the plugin file, or the config file when inline */
  const char *params; /* JSON object text; NULL for none */
  int params_text;    /* the params' values are text (a consumer's
                         --param k=v): read by their schema types */
  const char *inline_topic; /* non-NULL: the inline partitioner of this
                               topic, found by running config_source */
  const char *inline_path;  /* its key path, for messages */
  const char *config_source;
  size_t config_len;
  int64_t budget;     /* instructions per hook call; <= 0: none */
  int64_t time_ns;    /* CPU time per hook call */
  size_t memory;      /* the state's memory cap */
} flyq__plugin_src_t;

/* Loads a plugin into a new state and sets it up (params checked, init
 * called). On error *out is untouched and err receives "plugin NAME: ..."
 * (or the file when the name is not known yet); returns FLYQ_ERR_CONFIG
 * (bad plugin table or params), FLYQ_ERR_PLUGIN (its code failed), a read
 * error (-errno) or -ENOMEM. */
int flyq__plugin_open(const flyq__plugin_src_t *src, flyq__plugin_t **out,
                      char *err, size_t errlen);

/* Closes the state and frees p (may be NULL). */
void flyq__plugin_close(flyq__plugin_t *p);

/* Notes that the config entry at key path path (may be NULL: nothing to
 * note) uses p, for the stats. Returns 0 or -ENOMEM. */
int flyq__plugin_add_use(flyq__plugin_t *p, const char *path);

/* The instance that owns L (kept in L's extra space). */
flyq__plugin_t *flyq__plugin_of(lua_State *L);

/* 1 if the function at idx is Lua code whose bytecode shows that it
 * returns its first argument, as it got it, or no value, whatever it does
 * in between (hook_shape.c); 0 if not or if that cannot be shown. Reads
 * the function's bytecode; runs no code in L (the first call checks the
 * bytecode format once, in a state of its own). [-0, +0, -] */
int flyq__hook_returns_arg(lua_State *L, int idx);

/* Pushes the arguments of a driver function after the instance table and
 * returns how many; runs in protected mode, so it may allocate. */
typedef int (*flyq__push_args_fn)(lua_State *L, void *arg);

/* Calls flyq.runtime[fn](instance, <what push pushes>) with the instruction
 * budget set and call attached (the host functions work on it). On error
 * the failure is counted and err receives "plugin NAME: MESSAGE (HOOK,
 * record N)" (the record part when a record was being processed). Returns
 * 0, FLYQ_ERR_PLUGIN or -ENOMEM (a host function ran out of C memory). The
 * nresults results are left on the stack on success only. */
int flyq__plugin_run(flyq__plugin_t *p, flyq__call_t *call, const char *fn,
                     flyq__push_args_fn push, void *arg, int nresults,
                     char *err, size_t errlen);

/* A fresh budget for the next hook call of a run (after a caught
 * failure, or per record in the slow loop). */
void flyq__plugin_budget(flyq__plugin_t *p);

/* Counts a failed hook call of call: "plugin NAME: MESSAGE (HOOK, record
 * N)" (on consume "offset N": the record's offset) into out, as the last
 * error, and in the log (at the 1st, 2nd, 4th, 8th... error, with the
 * count). record is the 1-based input record (<= call->nin), 0 for none. */
void flyq__plugin_error(flyq__plugin_t *p, const flyq__call_t *call,
                        size_t record, const char *msg, char *out,
                        size_t outlen);

/* The 1-based input record of call the error just caught was raised in,
 * by the fast loop's counter (the watchdog's and the message handler's
 * reading), or 0 when it names none (a memory error, or an error outside
 * the loop's records). */
size_t flyq__plugin_failed_record(flyq__plugin_t *p, const flyq__call_t *call);

/* 1 when the file p was loaded from now reads differently (or not at all)
 * than at load. */
int flyq__plugin_file_changed(const flyq__plugin_t *p, const char *file);

/* Fills s with p's stats (strings malloc'd). Returns 0 or -ENOMEM. */
int flyq__plugin_stats(const flyq__plugin_t *p, flyq_plugin_stats_t *s);

/* ---- Used by plugin.c only ---------------------------------------------- */

/* Pushes a new environment for plugin code: flyq__sandbox_env plus flyq,
 * cjson, require("cjson"), os.clock, os.time, and a print that logs.
 * [-0, +1, m] */
void flyq__plugin_env(lua_State *L);

/* Pushes the host function table the driver attaches to (see
 * lua/flyq/runtime.lua), and sets up the proxies' metatable. Once per
 * state. [-0, +1, m] */
void flyq__plugin_host(lua_State *L);

/* Registers the proxies' metatable. [-0, +0, m] */
void flyq__record_open(lua_State *L);

/* Makes room for the proxies of a run over n records (before it:
 * allocates nothing in the state; earlier runs' proxies are stale by
 * p->gen). Returns 0 or -ENOMEM. */
int flyq__record_begin(flyq__plugin_t *p, size_t n);

/* Forgets the run's field cache (after it: allocates nothing). */
void flyq__record_end(flyq__plugin_t *p);

/* Hands out the next slots of the ring to input records idx, idx+1, ...
 * of p's running call: as many as fit before the end of the ring's
 * current slice, at most n. Returns how many; *first is the first slot's
 * number (its proxy). The first call makes the ring (may raise: out of
 * memory). */
size_t flyq__record_slots(lua_State *L, flyq__plugin_t *p, size_t idx,
                          size_t n, size_t *first);

/* Moves the ring on to the start of its next slice, unless it is at one,
 * so that the next slots handed out start a slice; returns 0. Returns -1
 * and moves nothing when the slots skipped would make the run's last n
 * records wrap round the ring onto slots the run already used: a run of
 * up to FLYQ__RING records never hands out a slot twice, and a record
 * kept from earlier in the run stays that record (docs/plugins.md). */
int flyq__record_align(flyq__plugin_t *p, size_t n);

/* Pushes slice i (0-based) of the ring made by flyq__record_slots.
 * [-0, +1] */
void flyq__record_slice(lua_State *L, const flyq__plugin_t *p, size_t i);

/* Forgets what hooks did to input records from .. to-1 of p's running
 * call, so that they run again from the input. */
void flyq__record_forget(flyq__plugin_t *p, size_t from, size_t to);

/* Pushes a proxy of input record idx of p's running call. [-0, +1] */
void flyq__record_new(lua_State *L, flyq__plugin_t *p, size_t idx);

/* A new table for the slices (filled at the first slot handed out), in
 * the registry; returns its ref. Once per state. [-0, +0, m] */
int flyq__record_ring(lua_State *L);

/* The output of input record idx of call c when its hook returned the
 * record itself: the input record when untouched, else a changed copy.
 * Raises like flyq__record_take. [-0, +0, m] */
void flyq__record_keep(lua_State *L, flyq__call_t *c, size_t idx,
                       flyq__prec_t *out);

/* 1 when flyq__record_keep of input record idx cannot raise: the hook
 * wrote no field and never read the headers (it is the input as it came). */
int flyq__record_clean(const flyq__plugin_t *p, size_t idx);

/* What the value at stack index 1 (a proxy, or a table for a new record)
 * stands for, as a record of call c into *out: the input record itself
 * when it is an untouched proxy, else a changed copy (bytes in c->arena).
 * Raises on anything that is not a valid record. [-0, +0, m] */
void flyq__record_take(lua_State *L, flyq__call_t *c, flyq__prec_t *out);

/* Pushes the Lua value of the JSON value json (a json_t *), at most 64
 * levels deep; JSON null is nil (an absent key). Raises on deeper input.
 * [-0, +1, m] */
void flyq__plugin_push_json(lua_State *L, const void *json);

/* json(text) -> value | nil, message: JSON text (any value) as Lua values,
 * as flyq__plugin_push_json makes them. A lua_CFunction. */
int flyq__plugin_json_decode(lua_State *L);

/* Pushes cjson as plugins get it: lua-cjson with limits a plugin cannot
 * lift (plugin_cjson.c). [-0, +1, m] */
void flyq__plugin_cjson(lua_State *L);

#endif /* FLYQ_HOST_PLUGIN_H */
