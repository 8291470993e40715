/* The plugin runtime's insides (include/flyq/plugins.h), shared by
 *
 *   runtime.c            building from the config, instances, questions, stats
 *   runtime_filter.c     on_produce and on_consume: hook chains, new batches
 *   runtime_partition.c  partitioners, built-in and Lua
 *   runtime_auth.c       authenticate and authorize chains
 */
#ifndef FLYQ_HOST_RUNTIME_H
#define FLYQ_HOST_RUNTIME_H

#include "flyq/batch.h"
#include "flyq/plugins.h"
#include "host/plugin.h"

/* What the config says about one declared topic. */
typedef struct flyq__rt_topic {
  char *name;
  int on_error;                   /* FLYQ_ON_ERROR_* */
  flyq_partitioner_kind_t kind;
  flyq__plugin_t *partitioner;    /* kind FLYQ_PARTITIONER_PLUGIN */
  flyq__plugin_t **on_produce;
  size_t non_produce;
  flyq__plugin_t **on_consume;
  size_t non_consume;
  uint32_t rr;                    /* next round-robin / sticky partition */
} flyq__rt_topic_t;

struct flyq_plugins {
  flyq__rt_topic_t *topics; /* sorted by name */
  size_t ntopics;
  flyq__plugin_t *first, *last; /* every instance, in load order */
  flyq__plugin_t **auth;        /* the auth chain */
  size_t nauth;
  size_t nfilters;              /* consumer filters loaded */
  uint64_t use_clock;           /* ticks at each consumer filter lookup */
  char **path;                  /* plugin_path */
  size_t npath;
  int64_t budget;               /* instructions per hook call; 0: none */
  int64_t time_ns;              /* CPU time per hook call */
  size_t memory;                /* per state */
  uint32_t rr;                  /* round robin of undeclared topics */
  flyq_plugins_partitions_fn partitions; /* see flyq_plugins_set_partitions */
  void *partitions_arg;
  /* Scratch, reused from call to call. */
  flyq__lazy_t orig;            /* the request's records */
  flyq__recs_t stage[2];        /* hook outputs, alternately */
  flyq__recs_t dead;            /* dead letters */
  uint8_t *flags;               /* per orig record */
  size_t flags_cap;
  flyq_record_header_t *hdrs;   /* decoded raw headers */
  size_t hdrs_cap;
  flyq_batch_builder_t builder;
};

/* The declared topic called name, or NULL. */
flyq__rt_topic_t *flyq__rt_topic(const flyq_plugins_t *rt, const char *name);

/* Validates every batch of buf[0..len) and loads its records into
 * rt->orig (decoded on first use; explicit partition: partition; src:
 * their index), and zeroes rt->flags for them. Returns 0, FLYQ_ERR_CORRUPT, FLYQ_ERR_TRUNCATED,
 * FLYQ_ERR_UNSUPPORTED, FLYQ_ERR_TOO_LARGE or -ENOMEM. */
int flyq__rt_decode(flyq_plugins_t *rt, const uint8_t *buf, size_t len,
                    int32_t partition);

/* The consumer filter name with params (JSON text, NULL: none), loaded on
 * first use; past MAX_FILTERS of them, loading one closes the least
 * recently used. Returns 0 (*out set), FLYQ_ERR_INVALID_NAME,
 * FLYQ_ERR_NOT_FOUND, FLYQ_ERR_CONFIG (bad params, no on_consume hook),
 * FLYQ_ERR_PLUGIN or -ENOMEM, with err filled. */
int flyq__rt_filter(flyq_plugins_t *rt, const char *name, const char *params,
                    flyq__plugin_t **out, char *err, size_t errlen);

#endif /* FLYQ_HOST_RUNTIME_H */
