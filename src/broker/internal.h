/* Internals of the broker (include/flyq/broker.h), shared by the files of
 * src/broker: the broker struct, its topic table, the per-partition state
 * (parked fetches, produces waiting for an fsync, the fsync job in flight)
 * and the intrusive lists that tie them together.
 *
 * Completion discipline: code that finishes a request never calls the
 * user's callback while walking broker structures. It moves the request to
 * b->ready (fetches) or b->done (produces) and flyq__deliver() pops and
 * answers them one at a time, from a libuv callback, so a callback may
 * re-enter the broker freely.
 */
#ifndef FLYQ_BROKER_INTERNAL_H
#define FLYQ_BROKER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "flyq/batch.h"
#include "flyq/broker.h"

/* Circular doubly linked list; a detached node points to itself. */
typedef struct flyq__list {
  struct flyq__list *prev;
  struct flyq__list *next;
} flyq__list_t;

#define FLYQ__CONTAINER(ptr, type, field)                                     \
  ((type *)(void *)((char *)(ptr) - offsetof(type, field)))

static inline void flyq__list_init(flyq__list_t *l) { l->prev = l->next = l; }
static inline int flyq__list_empty(const flyq__list_t *l) {
  return l->next == l;
}
static inline void flyq__list_push(flyq__list_t *head, flyq__list_t *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}
static inline void flyq__list_remove(flyq__list_t *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  flyq__list_init(n);
}

typedef struct flyq__topic flyq__topic_t;
typedef struct flyq__sync_job flyq__sync_job_t;

typedef struct flyq__part {
  flyq__topic_t *topic;
  int32_t id;
  flyq_log_t *log;
  flyq__list_t watchers; /* flyq__watch_t of parked fetches */
  flyq__list_t acks;     /* flyq__ack_t, in offset order */
  flyq__list_t dirty;    /* link in b->dirty while data is unflushed */
  flyq__sync_job_t *job; /* fsync in flight, or NULL */
  int resync;            /* another fsync is wanted after job */
} flyq__part_t;

struct flyq__topic {
  flyq__topic_t *next; /* hash chain */
  uint32_t hash;
  char *name;
  flyq_topic_t *t;
  uint32_t rr; /* round-robin cursor for null keys */
  int32_t nparts;
  flyq__part_t **parts;
};

struct flyq__sync_job {
  uv_work_t work;
  flyq_broker_t *b;
  flyq__part_t *part; /* NULL once the partition was deleted */
  flyq_log_sync_t sync;
};

/* One partition a parked fetch watches. */
typedef struct flyq__watch {
  flyq__list_t link; /* in part->watchers */
  struct flyq_fetch_handle *f;
} flyq__watch_t;

struct flyq_fetch_handle {
  flyq__list_t link; /* in b->parked or b->ready */
  flyq_broker_t *b;
  uv_timer_t timer;
  flyq_fetch_cb cb;
  void *arg;
  int32_t max_bytes;
  int32_t min_bytes;
  uint64_t avail; /* bytes available to this fetch */
  int woken;      /* in b->ready (or cancelled) */
  flyq_broker_fetch_result_t *res; /* allocated at park time, handed to cb */
  size_t nparts;
  flyq_fetch_part_req_t *parts; /* topic names copied after the arrays */
  flyq__watch_t *watches;
};

/* One partition an acks=-1 produce waits on. */
typedef struct flyq__ack {
  flyq__list_t link; /* in part->acks */
  struct flyq__produce_req *req;
  int64_t last_offset;
  size_t idx;
} flyq__ack_t;

typedef struct flyq__produce_req {
  flyq__list_t link; /* in b->done once every entry is settled */
  flyq_broker_t *b;
  uv_timer_t timer;
  int has_timer;
  flyq_broker_produce_cb cb;
  void *arg;
  size_t pending;
  size_t nparts;
  flyq_broker_produce_part_t *parts;
  flyq__ack_t *acks;
  char *topic;
} flyq__produce_req_t;

struct flyq_broker {
  uv_loop_t *loop;
  flyq_config_t cfg; /* scalars only: every pointer is NULL */
  flyq_store_t *store;
  flyq__topic_t **buckets;
  size_t nbuckets;
  size_t ntopics;
  uv_timer_t flush_timer;
  uv_timer_t groups_timer;
  uv_timer_t retention_timer;
  uv_idle_t idle;
  int64_t flush_tick_ms;
  flyq__list_t dirty;  /* parts with appends not yet fsynced */
  flyq__list_t parked; /* fetches waiting for data */
  flyq__list_t ready;  /* fetches to answer */
  flyq__list_t done;   /* produces to answer */
  int jobs;            /* fsync jobs in flight */
  int handles;         /* open uv handles, request timers included */
  int groups_dirty;
  int started;         /* timers initialised */
  int closing;
  int store_closed;
  int close_status;
  flyq_broker_close_cb close_cb;
  void *close_arg;
  /* Scratch for FLYQ_PARTITION_ANY produces, reused across calls. */
  flyq_batch_builder_t *builders;
  int32_t nbuilders;
  int32_t *touched;
  flyq_record_header_t *hdrs;
  size_t nhdrs;
  flyq_broker_stats_t stats;
  flyq_broker_reload_fn reload_fn; /* apply.c: the host's config loader */
  void *reload_arg;
  flyq_broker_partition_fn partition_fn; /* produce.c; NULL: own rule */
  void *partition_arg;
};

/* broker.c */
void flyq__schedule(flyq_broker_t *b); /* deliver from the loop soon */
void flyq__deliver(flyq_broker_t *b);
void flyq__handle_closed(flyq_broker_t *b); /* a handle's close cb ran */
void flyq__close_step(flyq_broker_t *b);
/* Shortens the flush timer's period if log asks for a finer
 * flush.interval_ms. */
void flyq__flush_timer_adjust(flyq_broker_t *b, const flyq_log_config_t *log);

/* topics.c */
flyq__topic_t *flyq__topic_find(flyq_broker_t *b, const char *name);
/* Finds topic, creating it when auto-create allows, or when create. */
int flyq__topic_get(flyq_broker_t *b, const char *name, int create,
                    flyq__topic_t **out);
flyq__part_t *flyq__part_find(flyq_broker_t *b, const char *topic,
                              int32_t partition, int *err);
int flyq__topics_load(flyq_broker_t *b);
int flyq__topics_declare(flyq_broker_t *b, const flyq_config_t *cfg);
void flyq__topics_free(flyq_broker_t *b);

/* topic_config.c */
int flyq__topic_config_apply(flyq_log_config_t *c, const flyq_topic_kv_t *kvs,
                             size_t n, char *err, size_t errlen);
void flyq__topic_config_format(const flyq_log_config_t *c,
                               flyq_broker_topic_info_t *info);

/* produce.c */
void flyq__produce_finish(flyq__produce_req_t *req);
void flyq__ack_settle(flyq__ack_t *a, int err);
void flyq__produce_scratch_free(flyq_broker_t *b);

/* sync.c: group commit of fsyncs, one job per partition. */
void flyq__sync_request(flyq_broker_t *b, flyq__part_t *p);
/* Bookkeeping after bytes were appended to p: dirty list, flush policy,
 * parked fetches. */
void flyq__appended(flyq_broker_t *b, flyq__part_t *p, uint64_t bytes,
                    int flush_due);
void flyq__sync_tick(flyq_broker_t *b, int64_t now_ms);
/* Before p is freed: wakes its fetches, fails its waiting produces with
 * err, orphans its fsync job. */
void flyq__part_detach(flyq_broker_t *b, flyq__part_t *p, int err);
void flyq__acks_settle_all(flyq_broker_t *b, int flush_rc);

/* fetch.c */
void flyq__fetch_appended(flyq_broker_t *b, flyq__part_t *p, uint64_t bytes);
void flyq__fetch_wake_all(flyq__part_t *p);   /* p's watchers -> ready */
void flyq__fetch_wake_parked(flyq_broker_t *b); /* every parked -> ready */
void flyq__fetch_answer(flyq_fetch_handle_t *f);

#endif /* FLYQ_BROKER_INTERNAL_H */
