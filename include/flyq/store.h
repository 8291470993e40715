/* The store: a data directory of topics (each N partition logs) and the
 * committed offsets of consumer groups. This layer knows nothing of sockets
 * or Lua. It belongs to one thread, like flyq_log_t.
 *
 * On disk (see docs/storage.md):
 *   <data_dir>/<topic>/topic.json          topic settings (JSON)
 *   <data_dir>/<topic>/<partition>/        one flyq_log_t per partition
 *   <data_dir>/__groups/<group>.json       committed offsets of one group
 *
 * Topic and group names: 1..249 bytes of [A-Za-z0-9._-], not "." or "..",
 * not starting with "__" (reserved for FlyQ's own directories).
 */
#ifndef FLYQ_STORE_H
#define FLYQ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/common.h"
#include "flyq/log.h"

#define FLYQ_NAME_MAX 249
#define FLYQ_PARTITIONS_MAX 10000

typedef struct flyq_store flyq_store_t;
typedef struct flyq_topic flyq_topic_t;

typedef struct flyq_topic_config {
  int32_t partitions;
  flyq_log_config_t log;
} flyq_topic_config_t;

/* Returns 0 if name is a valid topic or group name, else
 * FLYQ_ERR_INVALID_NAME. */
int flyq_name_validate(const char *name);

/* Opens data_dir (created if missing) and every topic in it. defaults is
 * copied and used for topics created without their own settings (NULL:
 * flyq_log_config_default()). err (may be NULL) receives a human-readable
 * reason on failure. */
int flyq_store_open(const char *data_dir, const flyq_log_config_t *defaults,
                    flyq_store_t **out, char *err, size_t errlen);

/* Flushes all logs and dirty groups, closes cleanly and frees the store. */
int flyq_store_close(flyq_store_t *st);

/* Crash simulation for tests: frees everything without flushing. */
void flyq_store_abandon(flyq_store_t *st);

const char *flyq_store_dir(const flyq_store_t *st);

/* Creates a topic; cfg NULL means 1 partition with the store defaults.
 * Returns FLYQ_ERR_TOPIC_EXISTS, FLYQ_ERR_INVALID_NAME or an I/O error.
 * *out (may be NULL) receives the topic. */
int flyq_store_create_topic(flyq_store_t *st, const char *name,
                            const flyq_topic_config_t *cfg,
                            flyq_topic_t **out);

/* Deletes a topic and its files. Committed group offsets for it are
 * dropped too. Open slices stay readable until released. */
int flyq_store_delete_topic(flyq_store_t *st, const char *name);

/* NULL if there is no such topic. */
flyq_topic_t *flyq_store_topic(flyq_store_t *st, const char *name);

/* Topics in name order: calls fn for each until it returns non-zero, which
 * is then returned. */
int flyq_store_foreach_topic(flyq_store_t *st,
                             int (*fn)(flyq_topic_t *t, void *arg), void *arg);
size_t flyq_store_topic_count(const flyq_store_t *st);

const char *flyq_topic_name(const flyq_topic_t *t);
int32_t flyq_topic_partitions(const flyq_topic_t *t);
const flyq_topic_config_t *flyq_topic_config(const flyq_topic_t *t);
/* NULL if p is out of range. */
flyq_log_t *flyq_topic_log(flyq_topic_t *t, int32_t p);

/* Changes the topic's settings and persists them. Partition counts only
 * grow (FLYQ_ERR_INVALID_ARG otherwise); new partitions are created. */
int flyq_topic_set_config(flyq_topic_t *t, const flyq_topic_config_t *cfg);

/* Consumer-group offsets. A commit marks the group dirty in memory; it is
 * written by flyq_store_flush_groups() (atomically: temp file, fsync,
 * rename, fsync of the directory). Offsets of unknown topics or partitions
 * are refused (FLYQ_ERR_UNKNOWN_TOPIC / FLYQ_ERR_UNKNOWN_PARTITION). */
int flyq_store_commit_offset(flyq_store_t *st, const char *group,
                             const char *topic, int32_t partition,
                             int64_t offset);
/* FLYQ_ERR_NOT_FOUND when the group has no commit for that partition. */
int flyq_store_fetch_offset(flyq_store_t *st, const char *group,
                            const char *topic, int32_t partition,
                            int64_t *offset);
/* Calls fn for each committed (topic, partition, offset) of group, in
 * topic then partition order. Returns FLYQ_ERR_NOT_FOUND for an unknown
 * group. */
int flyq_store_foreach_offset(flyq_store_t *st, const char *group,
                              int (*fn)(const char *topic, int32_t partition,
                                        int64_t offset, void *arg),
                              void *arg);
/* Group names in name order. */
int flyq_store_foreach_group(flyq_store_t *st,
                             int (*fn)(const char *group, void *arg),
                             void *arg);
int flyq_store_flush_groups(flyq_store_t *st);

/* flush_groups plus flyq_log_flush on every partition. */
int flyq_store_flush(flyq_store_t *st);

/* Retention over every partition. */
int flyq_store_apply_retention(flyq_store_t *st, int64_t now_ms);

#endif /* FLYQ_STORE_H */
