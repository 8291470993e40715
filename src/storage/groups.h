/* Committed offsets of consumer groups: held in memory, one JSON file per
 * group in <data_dir>/__groups/<group>.json, rewritten atomically by
 * flyq__groups_flush() only for groups changed since their last write.
 *
 * This table knows nothing of topics; the store validates names, topics and
 * partitions before calling flyq__groups_commit().
 */
#ifndef FLYQ_STORAGE_GROUPS_H
#define FLYQ_STORAGE_GROUPS_H

#include <stdint.h>

#define FLYQ_GROUPS_DIR "__groups"

typedef struct flyq__groups flyq__groups_t;

/* Opens the group directory dir (created if missing): removes leftover
 * temporary files and loads every <group>.json. A file that is not valid
 * JSON of the expected shape is logged and ignored (the group starts empty)
 * but left on disk until a new commit of that group is flushed. */
int flyq__groups_open(const char *dir, flyq__groups_t **out);
/* Frees the table without writing anything. gs may be NULL. */
void flyq__groups_free(flyq__groups_t *gs);

/* Sets the committed offset; the group is created if needed and becomes
 * dirty unless the offset is unchanged. Only -ENOMEM can fail. */
int flyq__groups_commit(flyq__groups_t *gs, const char *group,
                        const char *topic, int32_t partition, int64_t offset);
/* FLYQ_ERR_NOT_FOUND when there is no such commit. */
int flyq__groups_fetch(const flyq__groups_t *gs, const char *group,
                       const char *topic, int32_t partition, int64_t *offset);
/* See flyq_store_foreach_offset() and flyq_store_foreach_group(). fn must
 * not change the table. */
int flyq__groups_foreach_offset(const flyq__groups_t *gs, const char *group,
                                int (*fn)(const char *topic, int32_t partition,
                                          int64_t offset, void *arg),
                                void *arg);
int flyq__groups_foreach_group(const flyq__groups_t *gs,
                               int (*fn)(const char *group, void *arg),
                               void *arg);

/* Writes every dirty group and clears its flag. Returns the first error;
 * groups that failed stay dirty and every group is still tried. */
int flyq__groups_flush(flyq__groups_t *gs);

/* Drops the offsets of topic from every group (marking them dirty). */
void flyq__groups_drop_topic(flyq__groups_t *gs, const char *topic);

/* Drops the offsets of partitions that do not exist: partitions(topic, arg)
 * returns the partition count of topic, 0 for an unknown topic. Groups that
 * lose offsets become dirty. */
void flyq__groups_prune(flyq__groups_t *gs,
                        int32_t (*partitions)(const char *topic, void *arg),
                        void *arg);

#endif /* FLYQ_STORAGE_GROUPS_H */
