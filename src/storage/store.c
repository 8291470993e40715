/* The store (include/flyq/store.h): the data directory, the table of topics
 * sorted by name (binary search, since the broker looks a topic up on every
 * request), and the consumer-group offsets, with open / flush / close /
 * retention over all of them. One topic is topic.c; the groups are
 * groups.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/logmsg.h"
#include "flyq/store.h"
#include "storage/fsutil.h"
#include "storage/groups.h"
#include "storage/names.h"
#include "storage/topic.h"

struct flyq_store {
  char *dir;
  flyq_log_config_t defaults;
  flyq__namevec_t topics; /* of flyq_topic_t, by name */
  flyq__groups_t *groups;
};

static flyq_topic_t *topic_at(const flyq_store_t *st, size_t i) {
  return st->topics.items[i];
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (err == NULL || errlen == 0) return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

/* Frees the store; its topics must already be closed or abandoned. */
static void store_free(flyq_store_t *st) {
  flyq__groups_free(st->groups);
  flyq__namevec_free(&st->topics);
  free(st->dir);
  free(st);
}

/* ---- open ---- */

/* Loads the topic in directory name, if it is one. */
static int load_topic(flyq_store_t *st, const char *name) {
  char *path = flyq__path_join(st->dir, name);
  flyq_topic_t *t;
  size_t pos;
  int r, is_dir;
  if (path == NULL) return -ENOMEM;
  is_dir = flyq__is_dir(path);
  free(path);
  if (!is_dir) return 0;
  if (flyq_name_validate(name) != 0) {
    if (strncmp(name, "__", 2) != 0)
      flyq_logmsg(FLYQ_LOG_WARN, "storage",
                  "ignoring directory %s/%s: not a valid topic name", st->dir,
                  name);
    return 0;
  }
  r = flyq__topic_load(st->dir, name, &st->defaults, &t);
  if (r == FLYQ_ERR_NOT_FOUND) return 0;
  if (r != 0) return r;
  flyq__namevec_find(&st->topics, name, &pos);
  if ((r = flyq__namevec_insert(&st->topics, pos, t)) != 0)
    flyq__topic_close(t);
  return r;
}

static int load_topics(flyq_store_t *st, char *err, size_t errlen) {
  char **names;
  size_t count;
  int r = flyq__list_dir(st->dir, &names, &count);
  if (r != 0) {
    set_err(err, errlen, "cannot list %s: %s", st->dir, flyq_strerror(r));
    return r;
  }
  for (size_t i = 0; r == 0 && i < count; i++) {
    r = load_topic(st, names[i]);
    if (r != 0)
      set_err(err, errlen, "cannot open topic %s: %s", names[i],
              flyq_strerror(r));
  }
  flyq__list_free(names, count);
  return r;
}

static int32_t topic_partitions(const char *topic, void *arg) {
  flyq_topic_t *t = flyq_store_topic(arg, topic);
  return t ? t->cfg.partitions : 0;
}

static int load_groups(flyq_store_t *st, char *err, size_t errlen) {
  char *dir = flyq__path_join(st->dir, FLYQ_GROUPS_DIR);
  int r = dir ? flyq__groups_open(dir, &st->groups) : -ENOMEM;
  if (r != 0)
    set_err(err, errlen, "cannot open group offsets in %s: %s",
            dir ? dir : st->dir, flyq_strerror(r));
  else
    flyq__groups_prune(st->groups, topic_partitions, st);
  free(dir);
  return r;
}

/* Checks the arguments and allocates the store. */
static int store_new(const char *data_dir, const flyq_log_config_t *defaults,
                     flyq_store_t **out, char *err, size_t errlen) {
  flyq_store_t *st;
  if (data_dir == NULL || data_dir[0] == '\0' || out == NULL) {
    set_err(err, errlen, "no data directory given");
    return FLYQ_ERR_INVALID_ARG;
  }
  if ((st = calloc(1, sizeof *st)) == NULL) return -ENOMEM;
  if (defaults != NULL)
    st->defaults = *defaults;
  else
    flyq_log_config_default(&st->defaults);
  if (flyq__log_config_check(&st->defaults) != 0) {
    set_err(err, errlen, "invalid default log settings");
    free(st);
    return FLYQ_ERR_CONFIG;
  }
  if ((st->dir = strdup(data_dir)) == NULL) {
    free(st);
    return -ENOMEM;
  }
  *out = st;
  return 0;
}

int flyq_store_open(const char *data_dir, const flyq_log_config_t *defaults,
                    flyq_store_t **out, char *err, size_t errlen) {
  flyq_store_t *st;
  int r = store_new(data_dir, defaults, &st, err, errlen);
  if (r != 0) return r;
  if ((r = flyq__mkdir_p(st->dir)) != 0)
    set_err(err, errlen, "cannot create %s: %s", st->dir, flyq_strerror(r));
  if (r == 0) r = load_topics(st, err, errlen);
  if (r == 0) r = load_groups(st, err, errlen);
  if (r != 0) {
    for (size_t i = 0; i < st->topics.n; i++)
      flyq__topic_close(topic_at(st, i));
    store_free(st);
    return r;
  }
  *out = st;
  return 0;
}

/* ---- close ---- */

int flyq_store_close(flyq_store_t *st) {
  int first;
  if (st == NULL) return 0;
  first = flyq__groups_flush(st->groups);
  for (size_t i = 0; i < st->topics.n; i++) {
    int r = flyq__topic_close(topic_at(st, i));
    if (first == 0) first = r;
  }
  store_free(st);
  return first;
}

void flyq_store_abandon(flyq_store_t *st) {
  if (st == NULL) return;
  for (size_t i = 0; i < st->topics.n; i++)
    flyq__topic_abandon(topic_at(st, i));
  store_free(st);
}

const char *flyq_store_dir(const flyq_store_t *st) { return st->dir; }

/* ---- topics ---- */

int flyq_store_create_topic(flyq_store_t *st, const char *name,
                            const flyq_topic_config_t *cfg,
                            flyq_topic_t **out) {
  flyq_topic_config_t c;
  flyq_topic_t *t;
  size_t pos;
  int r;
  if (st == NULL) return FLYQ_ERR_INVALID_ARG;
  if ((r = flyq_name_validate(name)) != 0) return r;
  if (flyq__namevec_find(&st->topics, name, &pos)) return FLYQ_ERR_TOPIC_EXISTS;
  if (cfg != NULL) {
    c = *cfg;
  } else {
    c.partitions = 1;
    c.log = st->defaults;
  }
  if ((r = flyq__topic_config_check(&c)) != 0) return r;
  if ((r = flyq__namevec_reserve(&st->topics)) != 0) return r;
  if ((r = flyq__topic_create(st->dir, name, &c, &t)) != 0) return r;
  flyq__namevec_insert(&st->topics, pos, t); /* cannot fail after reserve */
  if (out != NULL) *out = t;
  return 0;
}

/* Group offsets go first: name may be the topic's own name string. */
int flyq_store_delete_topic(flyq_store_t *st, const char *name) {
  size_t pos;
  if (st == NULL || name == NULL) return FLYQ_ERR_INVALID_ARG;
  if (!flyq__namevec_find(&st->topics, name, &pos))
    return FLYQ_ERR_UNKNOWN_TOPIC;
  flyq__groups_drop_topic(st->groups, name);
  return flyq__topic_destroy(flyq__namevec_remove(&st->topics, pos));
}

flyq_topic_t *flyq_store_topic(flyq_store_t *st, const char *name) {
  size_t pos;
  if (st == NULL || name == NULL) return NULL;
  if (!flyq__namevec_find(&st->topics, name, &pos)) return NULL;
  return topic_at(st, pos);
}

int flyq_store_foreach_topic(flyq_store_t *st,
                             int (*fn)(flyq_topic_t *t, void *arg),
                             void *arg) {
  if (st == NULL || fn == NULL) return FLYQ_ERR_INVALID_ARG;
  for (size_t i = 0; i < st->topics.n; i++) {
    int r = fn(topic_at(st, i), arg);
    if (r != 0) return r;
  }
  return 0;
}

size_t flyq_store_topic_count(const flyq_store_t *st) { return st->topics.n; }

/* ---- groups ---- */

int flyq_store_commit_offset(flyq_store_t *st, const char *group,
                             const char *topic, int32_t partition,
                             int64_t offset) {
  flyq_topic_t *t;
  int r;
  if (st == NULL) return FLYQ_ERR_INVALID_ARG;
  if ((r = flyq_name_validate(group)) != 0) return r;
  if ((t = flyq_store_topic(st, topic)) == NULL) return FLYQ_ERR_UNKNOWN_TOPIC;
  if (partition < 0 || partition >= t->cfg.partitions)
    return FLYQ_ERR_UNKNOWN_PARTITION;
  if (offset < 0) return FLYQ_ERR_INVALID_ARG;
  return flyq__groups_commit(st->groups, group, topic, partition, offset);
}

int flyq_store_fetch_offset(flyq_store_t *st, const char *group,
                            const char *topic, int32_t partition,
                            int64_t *offset) {
  if (st == NULL || group == NULL || topic == NULL || offset == NULL)
    return FLYQ_ERR_INVALID_ARG;
  return flyq__groups_fetch(st->groups, group, topic, partition, offset);
}

int flyq_store_foreach_offset(flyq_store_t *st, const char *group,
                              int (*fn)(const char *topic, int32_t partition,
                                        int64_t offset, void *arg),
                              void *arg) {
  if (st == NULL || group == NULL || fn == NULL) return FLYQ_ERR_INVALID_ARG;
  return flyq__groups_foreach_offset(st->groups, group, fn, arg);
}

int flyq_store_foreach_group(flyq_store_t *st,
                             int (*fn)(const char *group, void *arg),
                             void *arg) {
  if (st == NULL || fn == NULL) return FLYQ_ERR_INVALID_ARG;
  return flyq__groups_foreach_group(st->groups, fn, arg);
}

int flyq_store_flush_groups(flyq_store_t *st) {
  if (st == NULL) return FLYQ_ERR_INVALID_ARG;
  return flyq__groups_flush(st->groups);
}

/* ---- all partitions ---- */

int flyq_store_flush(flyq_store_t *st) {
  int first;
  if (st == NULL) return FLYQ_ERR_INVALID_ARG;
  first = flyq__groups_flush(st->groups);
  for (size_t i = 0; i < st->topics.n; i++) {
    int r = flyq__topic_flush(topic_at(st, i));
    if (first == 0) first = r;
  }
  return first;
}

int flyq_store_apply_retention(flyq_store_t *st, int64_t now_ms) {
  int first = 0;
  if (st == NULL) return FLYQ_ERR_INVALID_ARG;
  for (size_t i = 0; i < st->topics.n; i++) {
    int r = flyq__topic_apply_retention(topic_at(st, i), now_ms);
    if (first == 0) first = r;
  }
  return first;
}
