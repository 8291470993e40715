/* Topic settings as text: the "retention.ms"-style keys that CreateTopics
 * carries and Metadata reports, parsed into and formatted from a
 * flyq_log_config_t. One table lists every key with its field and range;
 * the keys are the config file's (docs/config.md), and CreateTopics also
 * takes Kafka's "flush.ms" for "flush.interval_ms".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"

typedef struct kv_def {
  const char *key;
  size_t off;    /* of the field in flyq_log_config_t */
  int is_signed; /* int64_t field, else uint64_t */
  int64_t min;
  int64_t max;
} kv_def_t;

#define SIGNED_FIELD(key, field, min)                                         \
  {key, offsetof(flyq_log_config_t, field), 1, min, INT64_MAX}
#define UNSIGNED_FIELD(key, field, min, max)                                  \
  {key, offsetof(flyq_log_config_t, field), 0, min, max}

static const kv_def_t kv_defs[FLYQ_TOPIC_CONFIG_KEYS] = {
    SIGNED_FIELD("retention.ms", retention_ms, -1),
    SIGNED_FIELD("retention.bytes", retention_bytes, -1),
    UNSIGNED_FIELD("segment.bytes", segment_bytes, 1024, INT32_MAX),
    SIGNED_FIELD("segment.ms", segment_ms, -1),
    UNSIGNED_FIELD("flush.messages", flush_messages, 0, INT64_MAX),
    SIGNED_FIELD("flush.interval_ms", flush_ms, -1),
};

static const kv_def_t *kv_lookup(const char *key) {
  if (strcmp(key, "flush.ms") == 0) key = "flush.interval_ms"; /* Kafka's */
  for (size_t i = 0; i < FLYQ_TOPIC_CONFIG_KEYS; i++)
    if (strcmp(kv_defs[i].key, key) == 0) return &kv_defs[i];
  return NULL;
}

/* A whole decimal integer, optionally negative; no spaces, no junk. */
static int parse_int64(const char *s, int64_t *out) {
  char *end;
  if (s == NULL || *s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
    return FLYQ_ERR_CONFIG;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0') return FLYQ_ERR_CONFIG;
  *out = v;
  return 0;
}

static void kv_store(flyq_log_config_t *c, const kv_def_t *d, int64_t v) {
  char *field = (char *)c + d->off;
  if (d->is_signed) {
    memcpy(field, &v, sizeof v);
  } else {
    uint64_t u = (uint64_t)v;
    memcpy(field, &u, sizeof u);
  }
}

static int kv_apply_one(flyq_log_config_t *c, const flyq_topic_kv_t *kv,
                        char *err, size_t errlen) {
  const kv_def_t *d = kv->key ? kv_lookup(kv->key) : NULL;
  int64_t v;
  if (d == NULL) {
    if (err) snprintf(err, errlen, "unknown topic setting '%s'",
                      kv->key ? kv->key : "(null)");
    return FLYQ_ERR_CONFIG;
  }
  if (parse_int64(kv->value, &v) != 0 || v < d->min || v > d->max) {
    if (err) snprintf(err, errlen, "%s: '%s' is not an integer in [%" PRId64
                      ", %" PRId64 "]", d->key, kv->value ? kv->value : "(null)",
                      d->min, d->max);
    return FLYQ_ERR_CONFIG;
  }
  kv_store(c, d, v);
  return 0;
}

/* Applies kvs[0..n) over *c. On error *c may be partly changed (callers
 * work on a copy); err receives the reason. */
int flyq__topic_config_apply(flyq_log_config_t *c, const flyq_topic_kv_t *kvs,
                             size_t n, char *err, size_t errlen) {
  for (size_t i = 0; i < n; i++) {
    int rc = kv_apply_one(c, &kvs[i], err, errlen);
    if (rc < 0) return rc;
  }
  return 0;
}

/* Fills info->config with every setting of c as text. */
void flyq__topic_config_format(const flyq_log_config_t *c,
                               flyq_broker_topic_info_t *info) {
  for (size_t i = 0; i < FLYQ_TOPIC_CONFIG_KEYS; i++) {
    const kv_def_t *d = &kv_defs[i];
    const char *field = (const char *)c + d->off;
    char *buf = info->config_values[i];
    size_t cap = sizeof info->config_values[i];
    if (d->is_signed) {
      int64_t v;
      memcpy(&v, field, sizeof v);
      snprintf(buf, cap, "%" PRId64, v);
    } else {
      uint64_t v;
      memcpy(&v, field, sizeof v);
      snprintf(buf, cap, "%" PRIu64, v);
    }
    info->config[i].key = d->key;
    info->config[i].value = buf;
  }
}
