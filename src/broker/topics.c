/* The broker's topic table: a hash of the store's topics by name, so that
 * every request finds its topic and partition state in O(1). Also topic
 * creation (explicit, automatic on produce, declared in the config) and
 * deletion, which keep the table and the store in step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"

static uint32_t name_hash(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

flyq__topic_t *flyq__topic_find(flyq_broker_t *b, const char *name) {
  uint32_t h = name_hash(name);
  flyq__topic_t *tp = b->buckets[h & (b->nbuckets - 1)];
  for (; tp; tp = tp->next)
    if (tp->hash == h && strcmp(tp->name, name) == 0) return tp;
  return NULL;
}

static int table_grow(flyq_broker_t *b) {
  size_t n = b->nbuckets ? b->nbuckets * 2 : 64;
  flyq__topic_t **nb = calloc(n, sizeof *nb);
  if (nb == NULL) return -ENOMEM;
  for (size_t i = 0; i < b->nbuckets; i++) {
    flyq__topic_t *tp = b->buckets[i], *next;
    for (; tp; tp = next) {
      next = tp->next;
      tp->next = nb[tp->hash & (n - 1)];
      nb[tp->hash & (n - 1)] = tp;
    }
  }
  free(b->buckets);
  b->buckets = nb;
  b->nbuckets = n;
  return 0;
}

static void table_unlink(flyq_broker_t *b, flyq__topic_t *tp) {
  flyq__topic_t **pp = &b->buckets[tp->hash & (b->nbuckets - 1)];
  while (*pp != tp) pp = &(*pp)->next;
  *pp = tp->next;
  b->ntopics--;
}

/* Adds partition state up to the store topic's partition count. */
static int parts_sync(flyq__topic_t *tp) {
  int32_t n = flyq_topic_partitions(tp->t);
  if (n <= tp->nparts) return 0;
  flyq__part_t **np = realloc(tp->parts, (size_t)n * sizeof *np);
  if (np == NULL) return -ENOMEM;
  tp->parts = np;
  for (; tp->nparts < n; tp->nparts++) {
    flyq__part_t *p = calloc(1, sizeof *p);
    if (p == NULL) return -ENOMEM;
    p->topic = tp;
    p->id = tp->nparts;
    p->log = flyq_topic_log(tp->t, p->id);
    flyq__list_init(&p->watchers);
    flyq__list_init(&p->acks);
    flyq__list_init(&p->dirty);
    tp->parts[p->id] = p;
  }
  return 0;
}

static void topic_free(flyq__topic_t *tp) {
  for (int32_t i = 0; i < tp->nparts; i++) free(tp->parts[i]);
  free(tp->parts);
  free(tp->name);
  free(tp);
}

/* Adds the store topic t to the table. */
static int topic_add(flyq_broker_t *b, flyq_topic_t *t, flyq__topic_t **out) {
  if (b->ntopics >= b->nbuckets && table_grow(b) < 0) return -ENOMEM;
  flyq__topic_t *tp = calloc(1, sizeof *tp);
  if (tp == NULL) return -ENOMEM;
  tp->t = t;
  tp->name = strdup(flyq_topic_name(t));
  if (tp->name == NULL || parts_sync(tp) < 0) {
    topic_free(tp);
    return -ENOMEM;
  }
  tp->hash = name_hash(tp->name);
  tp->next = b->buckets[tp->hash & (b->nbuckets - 1)];
  b->buckets[tp->hash & (b->nbuckets - 1)] = tp;
  b->ntopics++;
  if (out) *out = tp;
  return 0;
}

/* Creates the topic in the store and the table, or neither. */
static int topic_create(flyq_broker_t *b, const char *name,
                        const flyq_topic_config_t *tc, flyq__topic_t **out) {
  flyq_topic_t *t;
  int rc = flyq_store_create_topic(b->store, name, tc, &t);
  if (rc < 0) return rc;
  rc = topic_add(b, t, out);
  if (rc < 0) {
    flyq_store_delete_topic(b->store, name);
    return rc;
  }
  flyq__flush_timer_adjust(b, &tc->log);
  return 0;
}

static int topic_create_limited(flyq_broker_t *b, const char *name,
                                const flyq_topic_config_t *tc,
                                flyq__topic_t **out) {
  int rc = flyq_name_validate(name);
  if (rc < 0) return rc;
  if (flyq_store_topic_count(b->store) >= b->cfg.max_topics)
    return FLYQ_ERR_LIMIT;
  return topic_create(b, name, tc, out);
}

int flyq__topic_get(flyq_broker_t *b, const char *name, int create,
                    flyq__topic_t **out) {
  flyq__topic_t *tp = flyq__topic_find(b, name);
  if (tp) {
    *out = tp;
    return 0;
  }
  if (!b->cfg.auto_create_topics && !create) return FLYQ_ERR_UNKNOWN_TOPIC;
  flyq_topic_config_t tc = {b->cfg.default_partitions, b->cfg.log};
  return topic_create_limited(b, name, &tc, out);
}

int32_t flyq_broker_partitions(flyq_broker_t *b, const char *topic) {
  const flyq__topic_t *tp = flyq__topic_find(b, topic);
  if (tp) return tp->nparts;
  return b->cfg.auto_create_topics ? b->cfg.default_partitions : 0;
}

flyq__part_t *flyq__part_find(flyq_broker_t *b, const char *topic,
                              int32_t partition, int *err) {
  flyq__topic_t *tp = topic ? flyq__topic_find(b, topic) : NULL;
  if (tp == NULL) {
    *err = FLYQ_ERR_UNKNOWN_TOPIC;
    return NULL;
  }
  if (partition < 0 || partition >= tp->nparts) {
    *err = FLYQ_ERR_UNKNOWN_PARTITION;
    return NULL;
  }
  *err = 0;
  return tp->parts[partition];
}

static int load_one(flyq_topic_t *t, void *arg) {
  return topic_add(arg, t, NULL);
}

int flyq__topics_load(flyq_broker_t *b) {
  if (table_grow(b) < 0) return -ENOMEM;
  return flyq_store_foreach_topic(b->store, load_one, b);
}

/* Creates a declared topic, or applies its settings to the existing one
 * (the partition count only grows). */
static int declare_one(flyq_broker_t *b, const flyq_config_topic_t *ct) {
  flyq_topic_config_t tc = {ct->partitions, ct->log};
  if (tc.partitions <= 0) tc.partitions = b->cfg.default_partitions;
  flyq__topic_t *tp = flyq__topic_find(b, ct->name);
  if (tp == NULL) return topic_create(b, ct->name, &tc, NULL);
  if (tc.partitions < tp->nparts) tc.partitions = tp->nparts;
  int rc = flyq_topic_set_config(tp->t, &tc);
  if (rc == 0) rc = parts_sync(tp);
  for (int32_t i = 0; rc == 0 && i < tp->nparts; i++)
    tp->parts[i]->log = flyq_topic_log(tp->t, i);
  flyq__flush_timer_adjust(b, &tc.log);
  return rc;
}

int flyq__topics_declare(flyq_broker_t *b, const flyq_config_t *cfg) {
  for (size_t i = 0; i < cfg->ntopics; i++) {
    int rc = declare_one(b, &cfg->topics[i]);
    if (rc < 0) return rc;
  }
  return 0;
}

void flyq__topics_free(flyq_broker_t *b) {
  for (size_t i = 0; i < b->nbuckets; i++) {
    flyq__topic_t *tp = b->buckets[i], *next;
    for (; tp; tp = next) {
      next = tp->next;
      topic_free(tp);
    }
  }
  free(b->buckets);
  b->buckets = NULL;
  b->nbuckets = b->ntopics = 0;
}

static int set_err(char *err, size_t errlen, int rc, const char *what) {
  if (err && errlen) snprintf(err, errlen, "%s", what);
  return rc;
}

int flyq_broker_create_topic(flyq_broker_t *b, const char *name,
                             int32_t partitions, const flyq_topic_kv_t *configs,
                             size_t n, char *err, size_t errlen) {
  if (b->closing) return set_err(err, errlen, FLYQ_ERR_CLOSED, "closing");
  if (name == NULL || flyq_name_validate(name) < 0)
    return set_err(err, errlen, FLYQ_ERR_INVALID_NAME, "invalid topic name");
  if (partitions == -1) partitions = b->cfg.default_partitions;
  if (partitions < 1 || partitions > FLYQ_PARTITIONS_MAX)
    return set_err(err, errlen, FLYQ_ERR_INVALID_ARG,
                   "partition count out of range");
  if (n > 0 && configs == NULL)
    return set_err(err, errlen, FLYQ_ERR_INVALID_ARG, "no settings given");
  if (flyq__topic_find(b, name))
    return set_err(err, errlen, FLYQ_ERR_TOPIC_EXISTS, "topic exists");
  flyq_topic_config_t tc = {partitions, b->cfg.log};
  int rc = flyq__topic_config_apply(&tc.log, configs, n, err, errlen);
  if (rc == 0) rc = topic_create_limited(b, name, &tc, NULL);
  if (rc < 0 && rc != FLYQ_ERR_CONFIG)
    set_err(err, errlen, rc, flyq_strerror(rc));
  if (rc < 0) b->stats.errors++;
  return rc;
}

int flyq_broker_delete_topic(flyq_broker_t *b, const char *name) {
  if (b->closing) return FLYQ_ERR_CLOSED;
  flyq__topic_t *tp = name ? flyq__topic_find(b, name) : NULL;
  if (tp == NULL) return FLYQ_ERR_UNKNOWN_TOPIC;
  int rc = flyq_store_delete_topic(b->store, name);
  if (rc < 0 && flyq_store_topic(b->store, name) != NULL) return rc;
  for (int32_t i = 0; i < tp->nparts; i++)
    flyq__part_detach(b, tp->parts[i], FLYQ_ERR_UNKNOWN_TOPIC);
  table_unlink(b, tp);
  topic_free(tp);
  flyq__schedule(b);
  return rc;
}
