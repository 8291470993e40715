/* One topic inside the store: its settings (persisted in topic.json) and the
 * flyq_log_t of each partition. The store (store.c) owns the topic table and
 * is the only caller of these functions.
 *
 * On disk: <data_dir>/<name>/topic.json and <data_dir>/<name>/<p>/ for
 * p = 0..partitions-1.
 */
#ifndef FLYQ_STORAGE_TOPIC_H
#define FLYQ_STORAGE_TOPIC_H

#include <stdint.h>

#include "flyq/store.h"

#define FLYQ_TOPIC_FILE "topic.json"

struct flyq_topic {
  char *name; /* first member: see flyq__namevec_t */
  char *dir;  /* <data_dir>/<name> */
  flyq_topic_config_t cfg;
  flyq_log_t **logs; /* cfg.partitions logs */
};

/* 0 if cfg can be stored in topic.json and used by the logs, else
 * FLYQ_ERR_CONFIG. */
int flyq__log_config_check(const flyq_log_config_t *cfg);
/* flyq__log_config_check() plus 1 <= partitions <= FLYQ_PARTITIONS_MAX
 * (FLYQ_ERR_INVALID_ARG otherwise). */
int flyq__topic_config_check(const flyq_topic_config_t *cfg);

/* Creates the topic directory (or reuses an existing one that holds nothing
 * but temporary files), topic.json and every partition. cfg must have passed
 * flyq__topic_config_check(). On error nothing created is left behind and
 * *out is untouched; -EEXIST when the directory exists and is in use. */
int flyq__topic_create(const char *data_dir, const char *name,
                       const flyq_topic_config_t *cfg, flyq_topic_t **out);

/* Opens the topic in <data_dir>/<name>. When topic.json is missing or
 * unreadable the topic is rebuilt from its partition directories with the
 * defaults, and topic.json is rewritten (logged as a warning); a directory
 * without partition directories is skipped with FLYQ_ERR_NOT_FOUND. A
 * topic.json of an unknown version gives FLYQ_ERR_UNSUPPORTED. */
int flyq__topic_load(const char *data_dir, const char *name,
                     const flyq_log_config_t *defaults, flyq_topic_t **out);

/* Each of these frees t; the first error met is returned but every
 * partition is still handled. close: flyq_log_close each partition.
 * abandon: flyq_log_abandon, no writes. destroy: flyq_log_destroy each
 * partition, then removes the topic directory (slices stay readable). */
int flyq__topic_close(flyq_topic_t *t);
void flyq__topic_abandon(flyq_topic_t *t);
int flyq__topic_destroy(flyq_topic_t *t);

/* flyq_log_flush / flyq_log_apply_retention on every partition; the first
 * error is returned, every partition is still tried. */
int flyq__topic_flush(flyq_topic_t *t);
int flyq__topic_apply_retention(flyq_topic_t *t, int64_t now_ms);

#endif /* FLYQ_STORAGE_TOPIC_H */
