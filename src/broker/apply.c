/* Carrying out a config plan (include/flyq/broker.h, "Config plan and
 * apply"), and the host's reload handler through which protocol handlers
 * plan and apply config text without knowing Lua.
 *
 * Order: the topic steps in plan order (each topic declared once, with all
 * its settings; pruned topics deleted), then the broker-wide settings, which
 * cannot fail. A failing topic step stops there, so the broker-wide
 * settings are only taken when every topic step succeeded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/plan.h"
#include "flyq/logmsg.h"

/* err receives "the plan has N errors, nothing was applied: topic:
 * detail; ...". */
static int refuse(const flyq_broker_plan_t *plan, char *err, size_t errlen) {
  size_t used;
  if (err == NULL || errlen == 0) return FLYQ_ERR_CONFIG;
  snprintf(err, errlen,
           "the plan has %zu error%s, nothing was applied:", plan->nerrors,
           plan->nerrors == 1 ? "" : "s");
  used = strlen(err);
  for (size_t i = 0; i < plan->n && used + 1 < errlen; i++) {
    const flyq_broker_change_t *c = &plan->changes[i];
    if (c->kind != FLYQ_CHANGE_ERROR) continue;
    int n = snprintf(err + used, errlen - used, " %s%s%s;", c->topic,
                     c->topic[0] ? ": " : "", c->detail);
    used += n > 0 ? (size_t)n : 0;
  }
  if (used < errlen && err[used - 1] == ';') err[used - 1] = '\0';
  return FLYQ_ERR_CONFIG;
}

/* The plan's topic steps need next's topics by name. */
typedef struct steps {
  flyq_broker_t *b;
  const flyq_config_t *next;
  const flyq_config_topic_t **decl; /* sorted */
  size_t ndecl;
  const char *declared; /* the last topic declared, or NULL */
  size_t done;          /* topic steps started */
} steps_t;

/* Creates the declared topic or applies its partitions and settings. */
static int declare(steps_t *s, const char *name) {
  const flyq_config_topic_t *decl = flyq__decl_find(s->decl, s->ndecl, name);
  flyq_config_t one;
  if (decl == NULL) return FLYQ_ERR_INVALID_ARG; /* not next's plan */
  flyq_config_topic_t t = *decl;
  memset(&one, 0, sizeof one);
  if (t.partitions <= 0) t.partitions = s->next->default_partitions;
  one.topics = &t;
  one.ntopics = 1;
  s->declared = name;
  s->done++;
  return flyq__topics_declare(s->b, &one);
}

/* One change; a topic with several changes is declared once. */
static int step(steps_t *s, const flyq_broker_change_t *c) {
  switch (c->kind) {
  case FLYQ_CHANGE_CREATE_TOPIC:
  case FLYQ_CHANGE_ADD_PARTITIONS:
  case FLYQ_CHANGE_SET:
    if (c->topic[0] == '\0') return 0; /* broker-wide: at the end */
    if (s->declared && strcmp(s->declared, c->topic) == 0) return 0;
    return declare(s, c->topic);
  case FLYQ_CHANGE_DELETE_TOPIC:
    s->done++;
    return flyq_broker_delete_topic(s->b, c->topic);
  default: return 0;
  }
}

/* Restarts timer t with period ms if it changed; a timer the broker never
 * started (period <= 0 at creation) cannot be: *value then stays. */
static void retime(uv_timer_t *t, int64_t *value, int64_t ms, const char *key) {
  if (*value == ms) return;
  if (ms <= 0) {
    uv_timer_stop(t);
  } else {
    uv_timer_set_repeat(t, (uint64_t)ms);
    if (uv_timer_again(t) < 0) {
      flyq_logmsg(FLYQ_LOG_WARN, "broker",
                  "%s: the timer was off at start; restart to turn it on", key);
      return;
    }
  }
  *value = ms;
}

/* The broker-wide settings that apply at once. */
static void take_settings(flyq_broker_t *b, const flyq_config_t *next) {
  int64_t groups_ms = b->cfg.groups_flush_interval_ms;
  int64_t retention_ms = b->cfg.retention_check_interval_ms;
  flyq__settings_take(&b->cfg, next);
  b->cfg.groups_flush_interval_ms = groups_ms;
  b->cfg.retention_check_interval_ms = retention_ms;
  retime(&b->groups_timer, &b->cfg.groups_flush_interval_ms,
         next->groups_flush_interval_ms, "groups.flush_interval_ms");
  retime(&b->retention_timer, &b->cfg.retention_check_interval_ms,
         next->retention_check_interval_ms, "retention_check_interval_ms");
  flyq__flush_timer_adjust(b, &b->cfg.log);
}

/* Runs the topic steps; on failure err says where it stopped. */
static int run_steps(steps_t *s, const flyq_broker_plan_t *plan, char *err,
                     size_t errlen) {
  for (size_t i = 0; i < plan->n; i++) {
    const flyq_broker_change_t *c = &plan->changes[i];
    int rc = step(s, c);
    if (rc < 0) {
      if (err)
        snprintf(err, errlen,
                 "%s %s: %s (stopped at change %zu of %zu: the topic changes "
                 "before it were applied, no broker-wide setting was)",
                 flyq_broker_change_kind_name(c->kind), c->topic,
                 flyq_strerror(rc), i + 1, plan->n);
      return rc;
    }
  }
  return 0;
}

int flyq_broker_apply(flyq_broker_t *b, const flyq_config_t *next,
                      const flyq_broker_plan_t *plan, size_t *steps,
                      char *err, size_t errlen) {
  steps_t s = {.b = b, .next = next};
  if (steps) *steps = 0;
  if (b->closing) return FLYQ_ERR_CLOSED;
  if (plan->nerrors > 0) return refuse(plan, err, errlen);
  int rc = flyq__decl_sorted(next, &s.decl, &s.ndecl);
  if (rc < 0 && err) snprintf(err, errlen, "out of memory");
  if (rc == 0) rc = run_steps(&s, plan, err, errlen);
  if (rc == 0) take_settings(b, next);
  if (steps) *steps = s.done;
  free(s.decl);
  return rc;
}

/* ---- The host's reload handler ----------------------------------------- */

void flyq_broker_set_reload_handler(flyq_broker_t *b, flyq_broker_reload_fn fn,
                                    void *arg) {
  b->reload_fn = fn;
  b->reload_arg = fn ? arg : NULL;
}

int flyq_broker_reload(flyq_broker_t *b, const char *text, size_t len,
                       const char *name, int apply, flyq_broker_plan_t *out,
                       char *err, size_t errlen) {
  char ignored[1];
  int rc;
  memset(out, 0, sizeof *out);
  if (err == NULL || errlen == 0) err = ignored, errlen = sizeof ignored;
  err[0] = '\0';
  if (b->closing) {
    snprintf(err, errlen, "the broker is shutting down");
    return FLYQ_ERR_CLOSED;
  }
  if (b->reload_fn == NULL) {
    snprintf(err, errlen, "this broker cannot load config text");
    return FLYQ_ERR_UNSUPPORTED;
  }
  rc = b->reload_fn(b->reload_arg, text, len, name ? name : "config", apply,
                    out, err, errlen);
  if (rc < 0) flyq_broker_plan_free(out);
  return rc;
}
