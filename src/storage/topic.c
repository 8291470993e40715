/* One topic (see topic.h): reading and writing topic.json, opening its
 * partition logs, rebuilding a topic whose topic.json was lost, and growing
 * the partition count.
 */
#include "storage/topic.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "flyq/logmsg.h"
#include "storage/fsutil.h"
#include "storage/names.h"

#define TOPIC_VERSION 1

/* How to dispose of a log when a topic (or part of it) goes away. */
typedef enum { LOGS_CLOSE, LOGS_ABANDON, LOGS_DESTROY } logs_end_t;

int flyq__log_config_check(const flyq_log_config_t *c) {
  if (c->segment_bytes == 0 || c->segment_bytes > (uint64_t)INT64_MAX)
    return FLYQ_ERR_CONFIG;
  if (c->flush_messages > (uint64_t)INT64_MAX) return FLYQ_ERR_CONFIG;
  return 0;
}

int flyq__topic_config_check(const flyq_topic_config_t *c) {
  if (c->partitions < 1 || c->partitions > FLYQ_PARTITIONS_MAX)
    return FLYQ_ERR_INVALID_ARG;
  return flyq__log_config_check(&c->log);
}

/* ---- topic.json ---- */

static json_t *config_to_json(const char *name, const flyq_topic_config_t *c) {
  const flyq_log_config_t *l = &c->log;
  return json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i}",
                   "name", name, "partitions", (int)c->partitions,
                   "segment_bytes", (json_int_t)l->segment_bytes,
                   "segment_ms", (json_int_t)l->segment_ms,
                   "index_interval_bytes", (json_int_t)l->index_interval_bytes,
                   "retention_ms", (json_int_t)l->retention_ms,
                   "retention_bytes", (json_int_t)l->retention_bytes,
                   "flush_messages", (json_int_t)l->flush_messages,
                   "flush_ms", (json_int_t)l->flush_ms, "version",
                   TOPIC_VERSION);
}

static int write_config(const flyq_topic_t *t) {
  json_t *j = config_to_json(t->name, &t->cfg);
  char *path = flyq__path_join(t->dir, FLYQ_TOPIC_FILE);
  int r = (j == NULL || path == NULL) ? -ENOMEM : 0;
  if (r == 0) r = flyq__write_json_atomic(path, j);
  json_decref(j);
  free(path);
  return r;
}

/* Reads the integer field key of o into *v if it lies in [min, max]. */
static int get_int(const json_t *o, const char *key, json_int_t min,
                   json_int_t max, json_int_t *v) {
  json_t *f = json_object_get(o, key);
  if (!json_is_integer(f)) return FLYQ_ERR_CORRUPT;
  *v = json_integer_value(f);
  return (*v < min || *v > max) ? FLYQ_ERR_CORRUPT : 0;
}

static int log_config_from_json(const json_t *j, flyq_log_config_t *l) {
  json_int_t v[8];
  int r = get_int(j, "segment_bytes", 1, INT64_MAX, &v[0]);
  if (r == 0) r = get_int(j, "segment_ms", INT64_MIN, INT64_MAX, &v[1]);
  if (r == 0)
    r = get_int(j, "index_interval_bytes", 0, UINT32_MAX, &v[2]);
  if (r == 0) r = get_int(j, "retention_ms", INT64_MIN, INT64_MAX, &v[3]);
  if (r == 0) r = get_int(j, "retention_bytes", INT64_MIN, INT64_MAX, &v[4]);
  if (r == 0) r = get_int(j, "flush_messages", 0, INT64_MAX, &v[5]);
  if (r == 0) r = get_int(j, "flush_ms", INT64_MIN, INT64_MAX, &v[6]);
  if (r != 0) return r;
  l->segment_bytes = (uint64_t)v[0];
  l->segment_ms = v[1];
  l->index_interval_bytes = (uint32_t)v[2];
  l->retention_ms = v[3];
  l->retention_bytes = v[4];
  l->flush_messages = (uint64_t)v[5];
  l->flush_ms = v[6];
  return 0;
}

/* Fills *c from a parsed topic.json of topic name. */
static int config_from_json(const json_t *j, const char *name,
                            flyq_topic_config_t *c) {
  json_int_t version, parts;
  const char *jname = json_string_value(json_object_get(j, "name"));
  if (get_int(j, "version", INT64_MIN, INT64_MAX, &version) != 0)
    return FLYQ_ERR_CORRUPT;
  if (version != TOPIC_VERSION) return FLYQ_ERR_UNSUPPORTED;
  if (get_int(j, "partitions", 1, FLYQ_PARTITIONS_MAX, &parts) != 0)
    return FLYQ_ERR_CORRUPT;
  if (jname == NULL || strcmp(jname, name) != 0)
    flyq_logmsg(FLYQ_LOG_WARN, "storage",
                "topic %s: topic.json names another topic; using the "
                "directory name", name);
  c->partitions = (int32_t)parts;
  return log_config_from_json(j, &c->log);
}

/* Reads topic.json into t->cfg. why receives the reason of a failure. */
static int read_config(flyq_topic_t *t, char *why, size_t whylen) {
  char *path = flyq__path_join(t->dir, FLYQ_TOPIC_FILE);
  json_t *j = NULL;
  int r;
  if (path == NULL) return -ENOMEM;
  r = flyq__read_json(path, &j, why, whylen);
  free(path);
  if (r != 0) return r;
  r = config_from_json(j, t->name, &t->cfg);
  json_decref(j);
  if (r == FLYQ_ERR_CORRUPT) snprintf(why, whylen, "invalid settings");
  if (r == FLYQ_ERR_UNSUPPORTED) snprintf(why, whylen, "unknown version");
  return r;
}

/* ---- partitions ---- */

/* Counts the partition directories 0..n-1 present without a gap in dir. */
static int count_partition_dirs(const flyq_topic_t *t, int32_t *n) {
  char **names;
  size_t count, found = 0;
  unsigned char *seen = calloc(FLYQ_PARTITIONS_MAX, 1);
  int r = seen ? flyq__list_dir(t->dir, &names, &count) : -ENOMEM;
  if (r != 0) {
    free(seen);
    return r;
  }
  for (size_t i = 0; i < count; i++) {
    int32_t p;
    char *path = flyq__path_join(t->dir, names[i]);
    if (flyq__partition_parse(names[i], &p) == 0 && path && flyq__is_dir(path))
      seen[p] = 1, found++;
    free(path);
  }
  flyq__list_free(names, count);
  for (*n = 0; *n < FLYQ_PARTITIONS_MAX && seen[*n]; (*n)++) continue;
  free(seen);
  if (found > (size_t)*n)
    flyq_logmsg(FLYQ_LOG_WARN, "storage",
                "topic %s: ignoring %zu partition directories after gap %d",
                t->name, found - (size_t)*n, (int)*n);
  return 0;
}

/* Opens (creating if needed) partition p with cfg. warn_created: log a
 * warning when the directory did not exist. */
static int open_partition(flyq_topic_t *t, int32_t p,
                          const flyq_log_config_t *cfg, int warn_created) {
  char pname[16];
  char *dir;
  int r = 0;
  snprintf(pname, sizeof pname, "%d", (int)p);
  if ((dir = flyq__path_join(t->dir, pname)) == NULL) return -ENOMEM;
  if (mkdir(dir, 0755) != 0)
    r = errno == EEXIST ? 0 : -errno;
  else if (warn_created)
    flyq_logmsg(FLYQ_LOG_WARN, "storage",
                "topic %s: partition %d directory was missing, created empty",
                t->name, (int)p);
  if (r == 0) r = flyq_log_open(dir, cfg, &t->logs[p], NULL);
  if (r != 0)
    flyq_logmsg(FLYQ_LOG_ERROR, "storage",
                "topic %s: cannot open partition %d: %s", t->name, (int)p,
                flyq_strerror(r));
  free(dir);
  return r;
}

/* Ends the logs [from, to) the given way; returns the first error. */
static int end_logs(flyq_topic_t *t, int32_t from, int32_t to, logs_end_t how) {
  int first = 0;
  for (int32_t p = from; p < to; p++) {
    int r = 0;
    if (t->logs[p] == NULL) continue;
    if (how == LOGS_CLOSE) r = flyq_log_close(t->logs[p]);
    if (how == LOGS_DESTROY) r = flyq_log_destroy(t->logs[p]);
    if (how == LOGS_ABANDON) flyq_log_abandon(t->logs[p]);
    t->logs[p] = NULL;
    if (first == 0) first = r;
  }
  return first;
}

/* Opens partitions [from, to) into t->logs, which must have room for them.
 * On error the ones opened are ended with on_error. */
static int open_partitions(flyq_topic_t *t, int32_t from, int32_t to,
                           const flyq_log_config_t *cfg, int warn_created,
                           logs_end_t on_error) {
  for (int32_t p = from; p < to; p++) {
    int r = open_partition(t, p, cfg, warn_created);
    if (r != 0) {
      end_logs(t, from, p, on_error);
      return r;
    }
  }
  return 0;
}

/* Grows t->logs from have to n slots, the new ones NULL. */
static int reserve_logs(flyq_topic_t *t, int32_t have, int32_t n) {
  flyq_log_t **v = realloc(t->logs, (size_t)n * sizeof *v);
  if (v == NULL) return -ENOMEM;
  for (int32_t p = have; p < n; p++) v[p] = NULL;
  t->logs = v;
  return 0;
}

/* ---- lifecycle ---- */

static void topic_free(flyq_topic_t *t) {
  if (t == NULL) return;
  free(t->logs);
  free(t->name);
  free(t->dir);
  free(t);
}

static flyq_topic_t *topic_new(const char *data_dir, const char *name) {
  flyq_topic_t *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->name = strdup(name);
  t->dir = flyq__path_join(data_dir, name);
  if (t->name == NULL || t->dir == NULL) {
    topic_free(t);
    return NULL;
  }
  return t;
}

/* 1 if dir holds nothing but temporary files (what a crash during
 * flyq__topic_create can leave). */
static int dir_is_unused(const char *dir) {
  char **names;
  size_t count, i;
  if (flyq__list_dir(dir, &names, &count) != 0) return 0;
  for (i = 0; i < count && flyq__has_suffix(names[i], FLYQ_TMP_SUFFIX); i++)
    continue;
  flyq__list_free(names, count);
  return i == count;
}

static int make_topic_dir(const char *dir) {
  if (mkdir(dir, 0755) == 0) return 0;
  if (errno != EEXIST) return -errno;
  return flyq__is_dir(dir) && dir_is_unused(dir) ? 0 : -EEXIST;
}

/* topic.json first, so that a crash leaves a topic whose missing partitions
 * are created at the next open, with the right settings. */
static int create_files(flyq_topic_t *t, const char *data_dir) {
  int r = write_config(t);
  if (r == 0) r = flyq__fsync_dir(data_dir);
  if (r == 0) r = reserve_logs(t, 0, t->cfg.partitions);
  if (r == 0)
    r = open_partitions(t, 0, t->cfg.partitions, &t->cfg.log, 0, LOGS_DESTROY);
  if (r == 0) r = flyq__fsync_dir(t->dir);
  return r;
}

int flyq__topic_create(const char *data_dir, const char *name,
                       const flyq_topic_config_t *cfg, flyq_topic_t **out) {
  flyq_topic_t *t = topic_new(data_dir, name);
  int r;
  if (t == NULL) return -ENOMEM;
  t->cfg = *cfg;
  r = make_topic_dir(t->dir);
  if (r == 0) {
    r = create_files(t, data_dir);
    if (r != 0) end_logs(t, 0, t->logs ? t->cfg.partitions : 0, LOGS_DESTROY);
    if (r != 0) flyq__rmtree(t->dir);
  }
  if (r != 0) {
    topic_free(t);
    return r;
  }
  *out = t;
  return 0;
}

/* Rebuilds t->cfg from the partition directories after topic.json was lost
 * (why says how) and rewrites topic.json. */
static int rebuild_config(flyq_topic_t *t, const flyq_log_config_t *defaults,
                          const char *why) {
  int32_t n;
  int r = count_partition_dirs(t, &n);
  if (r != 0) return r;
  if (n == 0) {
    flyq_logmsg(FLYQ_LOG_WARN, "storage",
                "skipping directory %s: topic.json %s and no partitions",
                t->dir, why);
    return FLYQ_ERR_NOT_FOUND;
  }
  flyq_logmsg(FLYQ_LOG_WARN, "storage",
              "topic %s: topic.json %s; rebuilt with %d partitions and the "
              "default settings", t->name, why, (int)n);
  t->cfg.partitions = n;
  t->cfg.log = *defaults;
  return write_config(t);
}

int flyq__topic_load(const char *data_dir, const char *name,
                     const flyq_log_config_t *defaults, flyq_topic_t **out) {
  flyq_topic_t *t = topic_new(data_dir, name);
  char why[128] = "", reason[160];
  int r;
  if (t == NULL) return -ENOMEM;
  r = read_config(t, why, sizeof why);
  if (r == FLYQ_ERR_UNSUPPORTED)
    flyq_logmsg(FLYQ_LOG_ERROR, "storage", "topic %s: topic.json has an %s",
                name, why);
  if (r != 0 && r != FLYQ_ERR_UNSUPPORTED && r != -ENOMEM) {
    if (r == -ENOENT)
      snprintf(reason, sizeof reason, "is missing");
    else
      snprintf(reason, sizeof reason, "is unreadable (%s)", why);
    r = rebuild_config(t, defaults, reason);
  }
  if (r == 0) r = reserve_logs(t, 0, t->cfg.partitions);
  if (r == 0)
    r = open_partitions(t, 0, t->cfg.partitions, &t->cfg.log, 1, LOGS_CLOSE);
  if (r != 0) {
    topic_free(t);
    return r;
  }
  *out = t;
  return 0;
}

int flyq__topic_close(flyq_topic_t *t) {
  int r = end_logs(t, 0, t->cfg.partitions, LOGS_CLOSE);
  topic_free(t);
  return r;
}

void flyq__topic_abandon(flyq_topic_t *t) {
  end_logs(t, 0, t->cfg.partitions, LOGS_ABANDON);
  topic_free(t);
}

int flyq__topic_destroy(flyq_topic_t *t) {
  int r = end_logs(t, 0, t->cfg.partitions, LOGS_DESTROY);
  int r2 = flyq__rmtree(t->dir);
  if (r2 == 0) r2 = flyq__fsync_parent(t->dir);
  topic_free(t);
  return r != 0 ? r : r2;
}

int flyq__topic_flush(flyq_topic_t *t) {
  int first = 0;
  for (int32_t p = 0; p < t->cfg.partitions; p++) {
    int r = flyq_log_flush(t->logs[p]);
    if (first == 0) first = r;
  }
  return first;
}

int flyq__topic_apply_retention(flyq_topic_t *t, int64_t now_ms) {
  int first = 0;
  for (int32_t p = 0; p < t->cfg.partitions; p++) {
    int r = flyq_log_apply_retention(t->logs[p], now_ms, NULL);
    if (first == 0) first = r;
  }
  return first;
}

/* ---- public accessors ---- */

const char *flyq_topic_name(const flyq_topic_t *t) { return t->name; }

int32_t flyq_topic_partitions(const flyq_topic_t *t) {
  return t->cfg.partitions;
}

const flyq_topic_config_t *flyq_topic_config(const flyq_topic_t *t) {
  return &t->cfg;
}

flyq_log_t *flyq_topic_log(flyq_topic_t *t, int32_t p) {
  if (t == NULL || p < 0 || p >= t->cfg.partitions) return NULL;
  return t->logs[p];
}

/* New partitions first, then topic.json: a crash in between leaves unused
 * partition directories that the next open ignores. */
int flyq_topic_set_config(flyq_topic_t *t, const flyq_topic_config_t *cfg) {
  int32_t old;
  flyq_topic_config_t saved;
  int r;
  if (t == NULL || cfg == NULL) return FLYQ_ERR_INVALID_ARG;
  if ((r = flyq__topic_config_check(cfg)) != 0) return r;
  old = t->cfg.partitions;
  if (cfg->partitions < old) return FLYQ_ERR_INVALID_ARG;
  r = reserve_logs(t, old, cfg->partitions);
  if (r == 0)
    r = open_partitions(t, old, cfg->partitions, &cfg->log, 0, LOGS_DESTROY);
  if (r == 0 && cfg->partitions > old) r = flyq__fsync_dir(t->dir);
  if (r != 0) {
    end_logs(t, old, cfg->partitions, LOGS_DESTROY);
    return r;
  }
  saved = t->cfg;
  t->cfg = *cfg;
  if ((r = write_config(t)) != 0) {
    t->cfg = saved;
    end_logs(t, old, cfg->partitions, LOGS_DESTROY);
    return r;
  }
  for (int32_t p = 0; p < old; p++) flyq_log_set_config(t->logs[p], &cfg->log);
  return 0;
}
