/* Internals of config plan and apply (include/flyq/broker.h, "Config plan
 * and apply"), shared by the files of src/broker:
 *
 *   plan.c           the plan: its changes, the topic comparison
 *   plan_settings.c  the broker-wide settings and the plugin settings:
 *                    which key is live, which needs a restart
 *   apply.c          carrying a plan out; the host's reload handler
 */
#ifndef FLYQ_BROKER_PLAN_H
#define FLYQ_BROKER_PLAN_H

#include <stddef.h>

#include "broker/internal.h"

/* Appends a change with a printf-formatted detail. topic NULL means ""
 * (broker-wide). Returns 0 or -ENOMEM. */
int flyq__plan_add(flyq_broker_plan_t *p, flyq_change_kind_t kind,
                   const char *topic, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The broker-wide changes from cur to next. Strings (listen, data_dir, ...)
 * and plugin lists are compared only when full is set (cur is then a whole
 * config, not the broker's scalar copy). */
int flyq__plan_settings(const flyq_config_t *cur, const flyq_config_t *next,
                        int full, flyq_broker_plan_t *p);

/* One SET change per log setting that differs between cur and next, for
 * topic. */
int flyq__plan_log(const flyq_log_config_t *cur, const flyq_log_config_t *next,
                   const char *topic, flyq_broker_plan_t *p);

/* Writes ", key value" into buf for each log setting of log that differs
 * from defaults (buf is "" when none does). */
void flyq__log_overrides(const flyq_log_config_t *log,
                         const flyq_log_config_t *defaults, char *buf,
                         size_t len);

/* One PLUGINS change per plugin setting (partitioner, on_produce,
 * on_consume, on_error) that differs between cur and next (either may be
 * NULL: a topic without plugins). cur_src/next_src are the config texts,
 * which hold inline partitioner functions (may be NULL). */
int flyq__plan_topic_plugins(const flyq_config_topic_t *cur,
                             const char *cur_src,
                             const flyq_config_topic_t *next,
                             const char *next_src, const char *topic,
                             flyq_broker_plan_t *p);

/* cfg's topics sorted by name into *out (malloc'd; NULL cfg: none), for
 * flyq__decl_find. Returns 0 or -ENOMEM. */
int flyq__decl_sorted(const flyq_config_t *cfg,
                      const flyq_config_topic_t ***out, size_t *n);
/* The topic named name in v[0..n) sorted by flyq__decl_sorted, or NULL. */
const flyq_config_topic_t *flyq__decl_find(const flyq_config_topic_t *const *v,
                                           size_t n, const char *name);

/* Copies next's scalar settings that do not need a restart (defaults,
 * auto_create_topics, max_topics, the timer periods, the plugin limits,
 * ...) into the broker's copy live. */
void flyq__settings_take(flyq_config_t *live, const flyq_config_t *next);

#endif /* FLYQ_BROKER_PLAN_H */
