/* Broker-wide and plugin settings in a config plan: one table says, for
 * every key of flyq_config_t the broker can compare, whether a new value
 * takes effect at once (SET), needs a restart (RESTART: the listener and its
 * limits, the data directory) or is the plugin runtime's (PLUGINS). The
 * same table drives the plan, flyq_broker_keep_restart_settings and the
 * copy of live settings into the broker (docs/config.md, "Reloading").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/plan.h"

#define FIELD_TEXT_MAX 512 /* a value as text: a path, an address, a number */

typedef enum { F_STR, F_BOOL, F_LEVEL, F_I32, F_U32, F_I64, F_U64 } ftype_t;

typedef struct field {
  const char *key; /* as in the config file */
  ftype_t type;
  size_t off;
  flyq_change_kind_t kind; /* SET, RESTART or PLUGINS */
} field_t;

#define CFG(key, type, member, kind)                                           \
  {key, type, offsetof(flyq_config_t, member), FLYQ_CHANGE_##kind}
static const field_t config_fields[] = {
    CFG("listen", F_STR, listen, RESTART),
    CFG("http", F_STR, http, RESTART),
    CFG("data_dir", F_STR, data_dir, RESTART),
    CFG("allow_anonymous", F_BOOL, allow_anonymous, RESTART),
    CFG("log_level", F_LEVEL, log_level, SET),
    CFG("auto_create_topics", F_BOOL, auto_create_topics, SET),
    CFG("defaults.partitions", F_I32, default_partitions, SET),
    CFG("groups.flush_interval_ms", F_I64, groups_flush_interval_ms, SET),
    CFG("retention_check_interval_ms", F_I64, retention_check_interval_ms, SET),
    CFG("shutdown_timeout_ms", F_I64, shutdown_timeout_ms, SET),
    CFG("limits.max_frame_bytes", F_U32, max_frame_bytes, RESTART),
    CFG("limits.max_connections", F_U32, max_connections, RESTART),
    CFG("limits.max_inflight", F_U32, max_inflight, RESTART),
    CFG("limits.max_output_bytes", F_U64, max_output_bytes, RESTART),
    CFG("limits.request_timeout_ms", F_I64, request_timeout_ms, RESTART),
    CFG("limits.max_topics", F_U32, max_topics, SET),
    CFG("prune", F_BOOL, prune, SET),
    CFG("plugins.limits.instructions", F_I64, plugin_instructions, PLUGINS),
    CFG("plugins.limits.time_ms", F_I64, plugin_time_ms, PLUGINS),
    CFG("plugins.limits.memory", F_U64, plugin_memory, PLUGINS),
    {NULL, F_STR, 0, FLYQ_CHANGE_SET}};

/* The settings of a partition log, in a topic and in the defaults (where
 * the flush keys are top-level: `flush.messages`, not
 * `defaults.flush.messages`). */
#define LOG(key, type, member)                                                 \
  {key, type, offsetof(flyq_log_config_t, member), FLYQ_CHANGE_SET}
static const field_t log_fields[] = {
    LOG("retention.ms", F_I64, retention_ms),
    LOG("retention.bytes", F_I64, retention_bytes),
    LOG("segment.bytes", F_U64, segment_bytes),
    LOG("segment.ms", F_I64, segment_ms),
    LOG("index_interval_bytes", F_U32, index_interval_bytes),
    LOG("flush.messages", F_U64, flush_messages),
    LOG("flush.interval_ms", F_I64, flush_ms),
    {NULL, F_STR, 0, FLYQ_CHANGE_SET}};

static size_t field_size(ftype_t t) {
  switch (t) {
  case F_STR: return sizeof(char *);
  case F_BOOL:
  case F_LEVEL: return sizeof(int);
  case F_I32:
  case F_U32: return sizeof(int32_t);
  case F_I64:
  case F_U64: return sizeof(int64_t);
  }
  return 0;
}

static const char *str_at(const field_t *f, const void *base) {
  const char *s;
  memcpy(&s, (const char *)base + f->off, sizeof s);
  return s;
}

static int field_equal(const field_t *f, const void *a, const void *b) {
  if (f->type == F_STR) {
    const char *x = str_at(f, a), *y = str_at(f, b);
    return x == y || (x && y && strcmp(x, y) == 0);
  }
  return memcmp((const char *)a + f->off, (const char *)b + f->off,
                field_size(f->type)) == 0;
}

/* An integer field at p in decimal. */
static void number_format(ftype_t type, const char *p, char *buf, size_t len) {
  union {
    int32_t i32;
    uint32_t u32;
    int64_t i64;
    uint64_t u64;
  } v;
  memcpy(&v, p, field_size(type));
  switch (type) {
  case F_I32: snprintf(buf, len, "%" PRId32, v.i32); break;
  case F_U32: snprintf(buf, len, "%" PRIu32, v.u32); break;
  case F_I64: snprintf(buf, len, "%" PRId64, v.i64); break;
  default: snprintf(buf, len, "%" PRIu64, v.u64); break;
  }
}

/* The value of f in base as the config file would spell it. */
static void field_format(const field_t *f, const void *base, char *buf,
                         size_t len) {
  static const char *const levels[] = {"error", "warn", "info", "debug"};
  const char *p = (const char *)base + f->off, *s;
  int i = 0;
  if (f->type == F_BOOL || f->type == F_LEVEL) memcpy(&i, p, sizeof i);
  switch (f->type) {
  case F_STR:
    s = str_at(f, base);
    snprintf(buf, len, "\"%s\"", s ? s : "");
    break;
  case F_BOOL: snprintf(buf, len, "%s", i ? "true" : "false"); break;
  case F_LEVEL:
    snprintf(buf, len, "%s", i >= 0 && i <= 3 ? levels[i] : "?");
    break;
  default: number_format(f->type, p, buf, len); break;
  }
}

/* A change "KEY OLD -> NEW" for field f if it differs. */
static int diff_field(const field_t *f, const char *prefix, const void *cur,
                      const void *next, const char *topic,
                      flyq_broker_plan_t *p) {
  char a[FIELD_TEXT_MAX], b[FIELD_TEXT_MAX];
  if (field_equal(f, cur, next)) return 0;
  field_format(f, cur, a, sizeof a);
  field_format(f, next, b, sizeof b);
  if (f->kind == FLYQ_CHANGE_RESTART)
    return flyq__plan_add(p, f->kind, topic,
                          "%s%s %s -> %s (takes effect at the next start)",
                          prefix, f->key, a, b);
  return flyq__plan_add(p, f->kind, topic, "%s%s %s -> %s", prefix, f->key, a,
                        b);
}

int flyq__plan_log(const flyq_log_config_t *cur, const flyq_log_config_t *next,
                   const char *topic, flyq_broker_plan_t *p) {
  int rc = 0;
  for (const field_t *f = log_fields; rc == 0 && f->key; f++)
    rc = diff_field(f, "", cur, next, topic, p);
  return rc;
}

void flyq__log_overrides(const flyq_log_config_t *log,
                         const flyq_log_config_t *defaults, char *buf,
                         size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (const field_t *f = log_fields; f->key && used < len; f++) {
    char v[FIELD_TEXT_MAX];
    if (field_equal(f, log, defaults)) continue;
    field_format(f, log, v, sizeof v);
    int n = snprintf(buf + used, len - used, ", %s %s", f->key, v);
    used += n > 0 ? (size_t)n : 0;
  }
}

/* ---- Plugins ----------------------------------------------------------- */

/* One plugin as text: "name", "name {params}", "inline function". Params
 * may hold secrets (tokens, keys): unless all, they show as "{...}". */
static void plugin_text(FILE *f, const flyq_config_plugin_t *pl, int all) {
  if (pl->inline_fn) {
    fputs("inline function", f);
    return;
  }
  fputs(pl->name ? pl->name : "default", f);
  if (pl->params && strcmp(pl->params, "{}") != 0)
    fprintf(f, " %s", all ? pl->params : "{...}");
}

/* A malloc'd text of a list of plugins ("none" when empty), or NULL; with
 * their params when all (for comparing, never for showing). */
static char *plugins_text(const flyq_config_plugin_t *v, size_t n, int all) {
  char *s = NULL;
  size_t len;
  FILE *f = open_memstream(&s, &len);
  if (f == NULL) return NULL;
  if (n == 0) fputs("none", f);
  for (size_t i = 0; i < n; i++) {
    if (i > 0) fputs(", ", f);
    plugin_text(f, &v[i], all);
  }
  if (fclose(f) != 0) {
    free(s);
    return NULL;
  }
  return s;
}

/* A PLUGINS change "KEY OLD -> NEW" if the two lists differ, params
 * included; "KEY OLD: params changed" when only params do (their values
 * are not shown). */
static int diff_plugins(const char *key, const flyq_config_plugin_t *a,
                        size_t na, const flyq_config_plugin_t *b, size_t nb,
                        const char *topic, flyq_broker_plan_t *p) {
  char *x = plugins_text(a, na, 1), *y = plugins_text(b, nb, 1);
  char *sx = plugins_text(a, na, 0), *sy = plugins_text(b, nb, 0);
  int rc = x && y && sx && sy ? 0 : -ENOMEM;
  if (rc == 0 && strcmp(x, y) != 0)
    rc = strcmp(sx, sy) != 0
             ? flyq__plan_add(p, FLYQ_CHANGE_PLUGINS, topic, "%s %s -> %s",
                              key, sx, sy)
             : flyq__plan_add(p, FLYQ_CHANGE_PLUGINS, topic,
                              "%s %s: params changed", key, sy);
  free(x);
  free(y);
  free(sx);
  free(sy);
  return rc;
}

static int diff_on_error(int a, int b, const char *topic,
                         flyq_broker_plan_t *p) {
  static const char *const names[] = {"reject", "pass", "dead_letter"};
  if (a == b || a < 0 || a > 2 || b < 0 || b > 2) return 0;
  return flyq__plan_add(p, FLYQ_CHANGE_PLUGINS, topic, "on_error %s -> %s",
                        names[a], names[b]);
}

/* Lines first..last of the text src (NULL: none) into *start, *len,
 * counted as Lua counts them: "\n", "\r", "\r\n" and "\n\r" end a line. */
static void line_span(const char *src, int first, int last,
                      const char **start, size_t *len) {
  const char *s = src ? src : "";
  int line = 1;
  *start = NULL;
  for (;; s++) {
    if (line == first && *start == NULL) *start = s;
    if (*s == '\0' || line > last) break;
    if (*s == '\n' || *s == '\r') {
      if ((s[1] == '\n' || s[1] == '\r') && s[1] != *s) s++;
      line++;
    }
  }
  if (*start == NULL) *start = s;
  *len = (size_t)(s - *start);
}

/* 1 when the text of inline partitioner a in a_src and b in b_src is the
 * same: the function's own lines when both are known, else the texts. */
static int inline_same(const flyq_config_plugin_t *a, const char *a_src,
                       const flyq_config_plugin_t *b, const char *b_src) {
  const char *x, *y;
  size_t nx, ny;
  if (a->first_line <= 0 || b->first_line <= 0)
    return a_src == b_src || (a_src && b_src && strcmp(a_src, b_src) == 0);
  line_span(a_src, a->first_line, a->last_line, &x, &nx);
  line_span(b_src, b->first_line, b->last_line, &y, &ny);
  return nx == ny && memcmp(x, y, nx) == 0;
}

/* An inline partitioner is code in the config text: a change when the
 * lines that hold it changed, or, for one whose lines are not known (it
 * reads locals of the file), when the text did. */
static int diff_inline(const flyq_config_topic_t *a, const char *a_src,
                       const flyq_config_topic_t *b, const char *b_src,
                       const char *topic, flyq_broker_plan_t *p) {
  const flyq_config_plugin_t *x = &a->partitioner, *y = &b->partitioner;
  if (!x->inline_fn || !y->inline_fn || inline_same(x, a_src, y, b_src))
    return 0;
  if (x->first_line > 0 && y->first_line > 0)
    return flyq__plan_add(p, FLYQ_CHANGE_PLUGINS, topic,
                          "partitioner inline function changed (lines %d-%d "
                          "of the new config text)", y->first_line,
                          y->last_line);
  return flyq__plan_add(p, FLYQ_CHANGE_PLUGINS, topic,
                        "partitioner inline function may have changed (it "
                        "reads values from elsewhere in the config text, "
                        "which changed)");
}

int flyq__plan_topic_plugins(const flyq_config_topic_t *cur,
                             const char *cur_src,
                             const flyq_config_topic_t *next,
                             const char *next_src, const char *topic,
                             flyq_broker_plan_t *p) {
  static const flyq_config_topic_t none;
  const flyq_config_topic_t *a = cur ? cur : &none, *b = next ? next : &none;
  int rc = diff_plugins("partitioner", &a->partitioner, 1, &b->partitioner, 1,
                        topic, p);
  if (rc == 0) rc = diff_inline(a, cur_src, b, next_src, topic, p);
  if (rc == 0)
    rc = diff_plugins("on_produce", a->on_produce, a->non_produce,
                      b->on_produce, b->non_produce, topic, p);
  if (rc == 0)
    rc = diff_plugins("on_consume", a->on_consume, a->non_consume,
                      b->on_consume, b->non_consume, topic, p);
  if (rc == 0) rc = diff_on_error(a->on_error, b->on_error, topic, p);
  return rc;
}

/* plugin_path as a list of plugins named after the directories. */
static int diff_plugin_path(const flyq_config_t *a, const flyq_config_t *b,
                            flyq_broker_plan_t *p) {
  size_t n = a->nplugin_path + b->nplugin_path;
  flyq_config_plugin_t *v = calloc(n + 1, sizeof *v);
  if (v == NULL) return -ENOMEM;
  for (size_t i = 0; i < a->nplugin_path; i++) v[i].name = a->plugin_path[i];
  for (size_t i = 0; i < b->nplugin_path; i++)
    v[a->nplugin_path + i].name = b->plugin_path[i];
  int rc = diff_plugins("plugin_path", v, a->nplugin_path, v + a->nplugin_path,
                        b->nplugin_path, NULL, p);
  free(v);
  return rc;
}

/* ---- Broker-wide ------------------------------------------------------- */

int flyq__plan_settings(const flyq_config_t *cur, const flyq_config_t *next,
                        int full, flyq_broker_plan_t *p) {
  int rc = 0;
  for (const field_t *f = config_fields; rc == 0 && f->key; f++)
    if (full || f->type != F_STR) rc = diff_field(f, "", cur, next, NULL, p);
  for (const field_t *f = log_fields; rc == 0 && f->key; f++)
    rc = diff_field(f, strncmp(f->key, "flush.", 6) ? "defaults." : "",
                    &cur->log, &next->log, NULL, p);
  if (rc == 0 && full) rc = diff_plugin_path(cur, next, p);
  if (rc == 0 && full)
    rc = diff_plugins("auth", cur->auth, cur->nauth, next->auth, next->nauth,
                      NULL, p);
  return rc;
}

void flyq__settings_take(flyq_config_t *live, const flyq_config_t *next) {
  for (const field_t *f = config_fields; f->key; f++)
    if (f->kind != FLYQ_CHANGE_RESTART && f->type != F_STR)
      memcpy((char *)live + f->off, (const char *)next + f->off,
             field_size(f->type));
  if (live->default_partitions < 1) live->default_partitions = 1;
  live->log = next->log;
}

int flyq_broker_keep_restart_settings(flyq_config_t *next,
                                      const flyq_config_t *running) {
  char *copies[8] = {0};
  size_t n = 0;
  const field_t *f;
  for (f = config_fields; f->key; f++) {
    const char *s = f->type == F_STR ? str_at(f, running) : NULL;
    if (f->kind != FLYQ_CHANGE_RESTART || f->type != F_STR) continue;
    if (s && (copies[n] = strdup(s)) == NULL) {
      while (n > 0) free(copies[--n]);
      return -ENOMEM;
    }
    n++;
  }
  for (f = config_fields, n = 0; f->key; f++) {
    if (f->kind != FLYQ_CHANGE_RESTART) continue;
    if (f->type == F_STR) {
      free((char *)str_at(f, next));
      memcpy((char *)next + f->off, &copies[n++], sizeof(char *));
    } else {
      memcpy((char *)next + f->off, (const char *)running + f->off,
             field_size(f->type));
    }
  }
  return 0;
}
