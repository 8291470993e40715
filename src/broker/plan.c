/* The config plan (include/flyq/broker.h, "Config plan and apply"): what
 * applying a new config would change on the running broker. The broker's
 * topics and the declared ones are both sorted by name and walked together,
 * once to count the topics the broker would hold and once to list the
 * changes of each topic. Broker-wide settings are compared in
 * plan_settings.c. Nothing here changes the broker.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/plan.h"

#define DLQ_SUFFIX ".dlq"

const char *flyq_broker_change_kind_name(flyq_change_kind_t kind) {
  static const char *const names[] = {
      "create_topic", "add_partitions", "set",     "plugins",
      "drift",        "delete_topic",   "restart", "error"};
  return (unsigned)kind < sizeof names / sizeof *names ? names[kind] : "?";
}

int flyq__plan_add(flyq_broker_plan_t *p, flyq_change_kind_t kind,
                   const char *topic, const char *fmt, ...) {
  flyq_broker_change_t c = {kind, strdup(topic ? topic : ""), NULL};
  va_list ap;
  va_start(ap, fmt);
  int n = vasprintf(&c.detail, fmt, ap);
  va_end(ap);
  if (n < 0) c.detail = NULL;
  if (p->n == p->cap && c.topic && c.detail) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    flyq_broker_change_t *v = realloc(p->changes, cap * sizeof *v);
    if (v) p->changes = v, p->cap = cap;
  }
  if (c.topic == NULL || c.detail == NULL || p->n == p->cap) {
    free(c.topic);
    free(c.detail);
    return -ENOMEM;
  }
  p->changes[p->n++] = c;
  if (kind == FLYQ_CHANGE_ERROR) p->nerrors++;
  return 0;
}

int flyq_broker_plan_add(flyq_broker_plan_t *plan, flyq_change_kind_t kind,
                         const char *detail) {
  size_t at = 0;
  int rc = flyq__plan_add(plan, kind, "", "%s", detail);
  if (rc < 0) return rc;
  while (at < plan->n - 1 && plan->changes[at].topic[0] == '\0') at++;
  flyq_broker_change_t c = plan->changes[plan->n - 1];
  memmove(&plan->changes[at + 1], &plan->changes[at],
          (plan->n - 1 - at) * sizeof c);
  plan->changes[at] = c;
  return 0;
}

void flyq_broker_plan_free(flyq_broker_plan_t *plan) {
  for (size_t i = 0; i < plan->n; i++) {
    free(plan->changes[i].topic);
    free(plan->changes[i].detail);
  }
  free(plan->changes);
  memset(plan, 0, sizeof *plan);
}

/* ---- The two sorted lists ---------------------------------------------- */

typedef struct walk {
  flyq_broker_t *b;
  const flyq_config_t *old; /* may be NULL */
  const flyq_config_t *next;
  flyq__topic_t **cur; /* the broker's topics by name */
  size_t ncur;
  const flyq_config_topic_t **decl; /* next's topics by name */
  size_t ndecl;
  const flyq_config_topic_t **olddecl; /* old's topics by name */
  size_t nolddecl;
  size_t creates, deletes;
  flyq_broker_plan_t *p;
} walk_t;

static int by_cur(const void *a, const void *b) {
  return strcmp((*(flyq__topic_t *const *)a)->name,
                (*(flyq__topic_t *const *)b)->name);
}

static int by_decl(const void *a, const void *b) {
  return strcmp((*(const flyq_config_topic_t *const *)a)->name,
                (*(const flyq_config_topic_t *const *)b)->name);
}

static int cur_sorted(walk_t *w) {
  flyq_broker_t *b = w->b;
  w->cur = calloc(b->ntopics + 1, sizeof *w->cur);
  if (w->cur == NULL) return -ENOMEM;
  for (size_t i = 0; i < b->nbuckets; i++)
    for (flyq__topic_t *tp = b->buckets[i]; tp; tp = tp->next)
      w->cur[w->ncur++] = tp;
  qsort(w->cur, w->ncur, sizeof *w->cur, by_cur);
  return 0;
}

int flyq__decl_sorted(const flyq_config_t *cfg,
                      const flyq_config_topic_t ***out, size_t *n) {
  size_t count = cfg ? cfg->ntopics : 0;
  *n = 0;
  *out = calloc(count + 1, sizeof **out);
  if (*out == NULL) return -ENOMEM;
  for (size_t i = 0; i < count; i++) (*out)[i] = &cfg->topics[i];
  qsort(*out, count, sizeof **out, by_decl);
  *n = count;
  return 0;
}

const flyq_config_topic_t *flyq__decl_find(const flyq_config_topic_t *const *v,
                                           size_t n, const char *name) {
  flyq_config_topic_t key = {0};
  const flyq_config_topic_t *kp = &key;
  key.name = (char *)name; /* only read */
  const flyq_config_topic_t *const *hit =
      bsearch(&kp, v, n, sizeof *v, by_decl);
  return hit ? *hit : NULL;
}

/* 1 if name is "<t>.dlq" for a declared topic t whose on_error is
 * dead_letter: the dead-letter topic belongs to the config. */
static int is_dead_letter(const walk_t *w, const char *name) {
  size_t len = strlen(name), sl = strlen(DLQ_SUFFIX);
  char base[FLYQ_NAME_MAX + 1];
  if (len <= sl || len - sl > FLYQ_NAME_MAX ||
      strcmp(name + len - sl, DLQ_SUFFIX) != 0)
    return 0;
  memcpy(base, name, len - sl);
  base[len - sl] = '\0';
  const flyq_config_topic_t *t = flyq__decl_find(w->decl, w->ndecl, base);
  return t && t->on_error == FLYQ_ON_ERROR_DEAD_LETTER;
}

/* 1 if the broker's topic cur, which next does not declare, is deleted:
 * prune = true, and it is not a declared topic's dead-letter topic. */
static int is_pruned(const walk_t *w, const flyq__topic_t *cur) {
  return w->next->prune && !is_dead_letter(w, cur->name);
}

typedef int (*visit_fn)(walk_t *w, flyq__topic_t *cur,
                        const flyq_config_topic_t *decl);

/* Calls visit for every name in either list, in name order, with the
 * broker's topic and the declared one (either NULL when absent). */
static int merge(walk_t *w, visit_fn visit) {
  size_t i = 0, j = 0;
  int rc = 0;
  while (rc == 0 && (i < w->ncur || j < w->ndecl)) {
    int c = i == w->ncur    ? 1
            : j == w->ndecl ? -1
                            : strcmp(w->cur[i]->name, w->decl[j]->name);
    rc = visit(w, c <= 0 ? w->cur[i] : NULL, c >= 0 ? w->decl[j] : NULL);
    i += c <= 0;
    j += c >= 0;
  }
  return rc;
}

/* ---- What happens to each topic ---------------------------------------- */

static int count_visit(walk_t *w, flyq__topic_t *cur,
                       const flyq_config_topic_t *decl) {
  if (cur == NULL)
    w->creates++;
  else if (decl == NULL && is_pruned(w, cur))
    w->deletes++;
  return 0;
}

/* A declared topic's partition count (not set: the defaults'). */
static int32_t partitions_of(const walk_t *w, const flyq_config_topic_t *d) {
  return d->partitions > 0 ? d->partitions : w->next->default_partitions;
}

static int plan_create(walk_t *w, const flyq_config_topic_t *decl) {
  char extra[512];
  flyq__log_overrides(&decl->log, &w->next->log, extra, sizeof extra);
  return flyq__plan_add(w->p, FLYQ_CHANGE_CREATE_TOPIC, decl->name,
                        "partitions %d%s", (int)partitions_of(w, decl), extra);
}

static int plan_existing(walk_t *w, flyq__topic_t *cur,
                         const flyq_config_topic_t *decl) {
  int32_t want = partitions_of(w, decl), have = cur->nparts;
  int rc = 0;
  if (want < have)
    rc = flyq__plan_add(w->p, FLYQ_CHANGE_ERROR, cur->name,
                        "partitions %d -> %d: partition counts only grow",
                        (int)have, (int)want);
  else if (want > have)
    rc = flyq__plan_add(w->p, FLYQ_CHANGE_ADD_PARTITIONS, cur->name,
                        "partitions %d -> %d", (int)have, (int)want);
  if (rc == 0)
    rc = flyq__plan_log(&flyq_topic_config(cur->t)->log, &decl->log, cur->name,
                        w->p);
  return rc;
}

static int plan_undeclared(walk_t *w, flyq__topic_t *cur) {
  if (is_pruned(w, cur))
    return flyq__plan_add(w->p, FLYQ_CHANGE_DELETE_TOPIC, cur->name,
                          "not in the config and prune = true: the topic "
                          "and its data are deleted");
  if (is_dead_letter(w, cur->name)) return 0;
  return flyq__plan_add(w->p, FLYQ_CHANGE_DRIFT, cur->name,
                        "on the broker but not in the config (kept; "
                        "prune = true would delete it)");
}

/* A topic's changes: created, grown, its settings, or deleted or kept as
 * drift; then its plugin settings, except for a deleted topic, whose
 * deletion is all there is to say. */
static int plan_visit(walk_t *w, flyq__topic_t *cur,
                      const flyq_config_topic_t *decl) {
  const char *name = cur ? cur->name : decl->name;
  int rc = cur == NULL    ? plan_create(w, decl)
           : decl == NULL ? plan_undeclared(w, cur)
                          : plan_existing(w, cur, decl);
  if (decl == NULL && is_pruned(w, cur)) return rc;
  if (rc == 0 && w->old != NULL)
    rc = flyq__plan_topic_plugins(
        flyq__decl_find(w->olddecl, w->nolddecl, name), w->old->source, decl,
        w->next->source, name, w->p);
  return rc;
}

/* The topic count after the plan must stay within next->max_topics. */
static int plan_count(walk_t *w) {
  size_t after = w->ncur + w->creates - w->deletes;
  if (after <= w->next->max_topics) return 0;
  return flyq__plan_add(w->p, FLYQ_CHANGE_ERROR, NULL,
                        "limits.max_topics %u: the broker would hold %zu "
                        "topics",
                        (unsigned)w->next->max_topics, after);
}

int flyq_broker_plan(flyq_broker_t *b, const flyq_config_t *old,
                     const flyq_config_t *next, flyq_broker_plan_t *out) {
  walk_t w = {.b = b, .old = old, .next = next, .p = out};
  int rc;
  memset(out, 0, sizeof *out);
  if (b->closing) return FLYQ_ERR_CLOSED;
  rc = flyq__plan_settings(old ? old : &b->cfg, next, old != NULL, out);
  if (rc == 0) rc = cur_sorted(&w);
  if (rc == 0) rc = flyq__decl_sorted(next, &w.decl, &w.ndecl);
  if (rc == 0) rc = flyq__decl_sorted(old, &w.olddecl, &w.nolddecl);
  if (rc == 0) rc = merge(&w, count_visit);
  if (rc == 0) rc = plan_count(&w);
  if (rc == 0) rc = merge(&w, plan_visit);
  free(w.cur);
  free(w.decl);
  free(w.olddecl);
  return rc;
}
