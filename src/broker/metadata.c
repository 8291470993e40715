/* Read-only questions about topics and partitions: Metadata (topics, their
 * partitions' offsets and sizes, their settings) and ListOffsets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"

static int info_fill(flyq_broker_topic_info_t *info, const char *name,
                     flyq_topic_t *t) {
  info->name = strdup(name);
  if (info->name == NULL) return -ENOMEM;
  if (t == NULL) {
    info->err = FLYQ_ERR_UNKNOWN_TOPIC;
    return 0;
  }
  int32_t n = flyq_topic_partitions(t);
  info->partitions = calloc((size_t)n, sizeof *info->partitions);
  if (info->partitions == NULL) return -ENOMEM;
  info->npartitions = n;
  for (int32_t i = 0; i < n; i++)
    flyq_log_stats(flyq_topic_log(t, i), &info->partitions[i]);
  flyq__topic_config_format(&flyq_topic_config(t)->log, info);
  return 0;
}

typedef struct all_ctx {
  flyq_broker_metadata_t *md;
  size_t cap;
} all_ctx_t;

static int fill_next(flyq_topic_t *t, void *arg) {
  all_ctx_t *ctx = arg;
  if (ctx->md->ntopics == ctx->cap) return FLYQ_ERR_LIMIT;
  flyq_broker_topic_info_t *info = &ctx->md->topics[ctx->md->ntopics++];
  return info_fill(info, flyq_topic_name(t), t);
}

static int metadata_all(flyq_broker_t *b, flyq_broker_metadata_t *md) {
  all_ctx_t ctx = {md, flyq_store_topic_count(b->store)};
  md->topics = calloc(ctx.cap ? ctx.cap : 1, sizeof *md->topics);
  if (md->topics == NULL) return -ENOMEM;
  return flyq_store_foreach_topic(b->store, fill_next, &ctx);
}

static int metadata_named(flyq_broker_t *b, const char *const *names,
                          size_t n, flyq_broker_metadata_t *md) {
  md->topics = calloc(n ? n : 1, sizeof *md->topics);
  if (md->topics == NULL) return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const char *name = names[i] ? names[i] : "";
    flyq__topic_t *tp = flyq__topic_find(b, name);
    md->ntopics++;
    int rc = info_fill(&md->topics[i], name, tp ? tp->t : NULL);
    if (rc < 0) return rc;
  }
  return 0;
}

int flyq_broker_metadata(flyq_broker_t *b, const char *const *names,
                         size_t n, flyq_broker_metadata_t *md) {
  if (b->closing) return FLYQ_ERR_CLOSED;
  memset(md, 0, sizeof *md);
  int rc = names ? metadata_named(b, names, n, md) : metadata_all(b, md);
  if (rc < 0) flyq_broker_metadata_free(md);
  return rc;
}

void flyq_broker_metadata_free(flyq_broker_metadata_t *md) {
  for (size_t i = 0; i < md->ntopics; i++) {
    free(md->topics[i].name);
    free(md->topics[i].partitions);
  }
  free(md->topics);
  memset(md, 0, sizeof *md);
}

int flyq_broker_list_offset(flyq_broker_t *b, const char *topic,
                            int32_t partition, int64_t timestamp,
                            int64_t *offset) {
  int err;
  if (b->closing) return FLYQ_ERR_CLOSED;
  flyq__part_t *p = flyq__part_find(b, topic, partition, &err);
  if (p == NULL) return err;
  if (timestamp == FLYQ_OFFSET_EARLIEST) {
    *offset = flyq_log_start_offset(p->log);
  } else if (timestamp == FLYQ_OFFSET_LATEST) {
    *offset = flyq_log_end_offset(p->log);
  } else if (timestamp >= 0) {
    return flyq_log_offset_for_time(p->log, timestamp, offset);
  } else {
    return FLYQ_ERR_INVALID_ARG;
  }
  return 0;
}
