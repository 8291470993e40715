/* Consumer-group offsets: commits go to the store in memory and mark the
 * broker's groups dirty; the groups timer (broker.c) and close write them.
 */
#include "broker/internal.h"

int flyq_broker_commit_offset(flyq_broker_t *b, const char *group,
                              const char *topic, int32_t partition,
                              int64_t offset) {
  int err;
  if (b->closing) return FLYQ_ERR_CLOSED;
  if (group == NULL || flyq_name_validate(group) < 0)
    return FLYQ_ERR_INVALID_NAME;
  if (flyq__part_find(b, topic, partition, &err) == NULL) return err;
  if (offset < 0) return FLYQ_ERR_INVALID_ARG;
  err = flyq_store_commit_offset(b->store, group, topic, partition, offset);
  if (err < 0) {
    b->stats.errors++;
    return err;
  }
  b->groups_dirty = 1;
  return 0;
}

int flyq_broker_fetch_offset(flyq_broker_t *b, const char *group,
                             const char *topic, int32_t partition,
                             int64_t *offset) {
  int err;
  if (b->closing) return FLYQ_ERR_CLOSED;
  if (flyq__part_find(b, topic, partition, &err) == NULL) return err;
  *offset = -1;
  if (group == NULL) return 0;
  err = flyq_store_fetch_offset(b->store, group, topic, partition, offset);
  if (err == FLYQ_ERR_NOT_FOUND || err == FLYQ_ERR_INVALID_NAME) {
    *offset = -1;
    return 0;
  }
  return err;
}

int flyq_broker_foreach_offset(flyq_broker_t *b, const char *group,
                               int (*fn)(const char *topic, int32_t partition,
                                         int64_t offset, void *arg),
                               void *arg) {
  if (b->closing) return FLYQ_ERR_CLOSED;
  if (group == NULL) return FLYQ_ERR_NOT_FOUND;
  return flyq_store_foreach_offset(b->store, group, fn, arg);
}

int flyq_broker_foreach_group(flyq_broker_t *b,
                              int (*fn)(const char *group, void *arg),
                              void *arg) {
  if (b->closing) return FLYQ_ERR_CLOSED;
  return flyq_store_foreach_group(b->store, fn, arg);
}
