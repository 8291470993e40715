/* The plugin runtime (include/flyq/plugins.h): built from a config, it owns
 * one instance per (plugin, params) pair it uses, loaded eagerly for the
 * config's topics and auth chain and lazily for consumer filters, and it
 * answers the per-topic questions. The hook calls live in runtime_filter.c,
 * runtime_partition.c and runtime_auth.c.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flyq/common.h"
#include "host/runtime.h"

#define MAX_FILTERS 64
#define MAX_NAME 128

/* ---- Finding and loading instances -------------------------------------- */

/* Plugin names are file names without ".lua": letters, digits, _ and -. */
static int valid_plugin_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > MAX_NAME) return 0;
  return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_-") == n;
}

/* Writes the first <dir>/<name>.lua of path[0..n) that exists into file;
 * 0, or FLYQ_ERR_NOT_FOUND. */
static int find_on_path(char *const *path, size_t n, const char *name,
                        char *file, size_t len) {
  for (size_t i = 0; i < n; i++) {
    int w = snprintf(file, len, "%s/%s.lua", path[i], name);
    if (w > 0 && (size_t)w < len && access(file, R_OK) == 0) return 0;
  }
  return FLYQ_ERR_NOT_FOUND;
}

/* Writes the first <dir>/<name>.lua of plugin_path that exists into file. */
static int find_file(const flyq_plugins_t *rt, const char *name, char *file,
                     size_t len, char *err, size_t errlen) {
  size_t used = 0;
  if (find_on_path(rt->path, rt->npath, name, file, len) == 0) return 0;
  used = (size_t)snprintf(err, errlen, "plugin %s: no %s.lua on plugin_path (",
                          name, name);
  if (rt->npath == 0 && used < errlen)
    used += (size_t)snprintf(err + used, errlen - used, "empty");
  for (size_t i = 0; i < rt->npath && used < errlen; i++)
    used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                             i ? ", " : "", rt->path[i]);
  if (used < errlen) snprintf(err + used, errlen - used, ")");
  return FLYQ_ERR_NOT_FOUND;
}

/* 1 when an instance before p was loaded from the same file. */
static int file_seen(const flyq_plugins_t *rt, const flyq__plugin_t *p) {
  for (const flyq__plugin_t *q = rt->first; q != p; q = q->next)
    if (q->has_digest && strcmp(q->file, p->file) == 0) return 1;
  return 0;
}

/* The config's name of the plugin in file ("<dir>/<name>.lua") into out. */
static void name_of_file(const char *file, char *out, size_t len) {
  const char *base = strrchr(file, '/');
  size_t n;
  base = base ? base + 1 : file;
  n = strlen(base);
  if (n >= 4 && strcmp(base + n - 4, ".lua") == 0) n -= 4;
  snprintf(out, len, "%.*s", (int)n, base);
}

int flyq_plugins_changed_files(const flyq_plugins_t *rt,
                               const flyq_config_t *next,
                               flyq_plugins_file_fn fn, void *arg) {
  char file[PATH_MAX], name[MAX_NAME + 8];
  for (const flyq__plugin_t *p = rt ? rt->first : NULL; p; p = p->next) {
    int rc = 0;
    if (!p->has_digest || file_seen(rt, p)) continue;
    name_of_file(p->file, name, sizeof name);
    if (find_on_path(next->plugin_path, next->nplugin_path, name, file,
                     sizeof file) < 0)
      rc = fn(arg, name, p->file, "gone");
    else if (strcmp(file, p->file) != 0)
      rc = fn(arg, name, file, "moved");
    else if (flyq__plugin_file_changed(p, file))
      rc = fn(arg, name, file, "changed");
    if (rc < 0) return rc;
  }
  return 0;
}

static flyq__plugin_t *find_instance(const flyq_plugins_t *rt,
                                     const char *key) {
  for (flyq__plugin_t *p = rt->first; p; p = p->next)
    if (strcmp(p->key, key) == 0) return p;
  return NULL;
}

static void add_instance(flyq_plugins_t *rt, flyq__plugin_t *p) {
  if (rt->last)
    rt->last->next = p;
  else
    rt->first = p;
  rt->last = p;
}

/* The instance of src, loaded unless one with the same key exists. */
static int instance(flyq_plugins_t *rt, flyq__plugin_src_t *src,
                    flyq__plugin_t **out, char *err, size_t errlen) {
  int rc;
  if ((*out = find_instance(rt, src->key)) != NULL) return 0;
  src->budget = rt->budget;
  src->time_ns = rt->time_ns;
  src->memory = rt->memory;
  rc = flyq__plugin_open(src, out, err, errlen);
  if (rc == 0) add_instance(rt, *out);
  return rc;
}

/* "name\nparams": what instances are cached by (malloc'd, or NULL). */
/* The cache key of plugin name with params; text: the params are a
 * consumer's text values (flyq__plugin_src_t.params_text), which never
 * share an instance with the config's. */
static char *instance_key(const char *name, const char *params, int text) {
  size_t len = strlen(name) + (params ? strlen(params) : 2) + 7;
  char *key = malloc(len);
  if (key)
    snprintf(key, len, "%s\n%s%s", name, params ? params : "{}",
             text ? "\ntext" : "");
  return key;
}

/* The instance of plugin name with params (NULL: none; text as in
 * instance_key) from plugin_path. */
static int named_instance(flyq_plugins_t *rt, const char *name,
                          const char *params, int text, flyq__plugin_t **out,
                          char *err, size_t errlen) {
  char file[4096];
  char *key = instance_key(name, params, text);
  flyq__plugin_src_t src = {.name = name, .key = key, .file = file,
                            .params = params, .params_text = text};
  int rc;
  if (key == NULL) return -ENOMEM;
  if (!valid_plugin_name(name)) {
    snprintf(err, errlen, "plugin \"%s\": invalid name (letters, digits, _ "
             "and -)", name);
    rc = FLYQ_ERR_INVALID_NAME;
  } else if ((*out = find_instance(rt, key)) != NULL) {
    rc = 0;
  } else {
    rc = find_file(rt, name, file, sizeof file, err, errlen);
    if (rc == 0) rc = instance(rt, &src, out, err, errlen);
  }
  free(key);
  return rc;
}

/* Checks that p has the hook it is used for at the config key path (NULL:
 * the message names none). */
static int need_hook(const flyq__plugin_t *p, unsigned hooks,
                     const char *hook, const char *path, char *err,
                     size_t errlen) {
  if (p->hooks & hooks) return 0;
  snprintf(err, errlen, "%s%splugin %s has no %s hook", path ? path : "",
           path ? ": " : "", p->name, hook);
  return FLYQ_ERR_CONFIG;
}

/* ---- "Did you mean" for a plugin name that is not found ----------------- */

/* Levenshtein distance of a and b (each at most MAX_NAME bytes). */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), row[MAX_NAME + 1];
  if (la > MAX_NAME || lb > MAX_NAME) return SIZE_MAX;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0], up;
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t best = diag + (a[i - 1] != b[j - 1]);
      up = row[j];
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[lb];
}

/* Keeps candidate in best (size MAX_NAME + 1) if it is closer to name than
 * *bestd. */
static void consider(const char *name, const char *candidate, size_t n,
                     char *best, size_t *bestd) {
  char c[MAX_NAME + 1];
  size_t d;
  if (n == 0 || n > MAX_NAME) return;
  memcpy(c, candidate, n);
  c[n] = '\0';
  if ((d = distance(name, c)) < *bestd) {
    memcpy(best, c, n + 1);
    *bestd = d;
  }
}

/* Appends ' (did you mean "x"?)' to err for the name among extra[0..nextra)
 * and the plugin files on plugin_path closest to name (fewer than 3 edits
 * away, as for config keys), if any. */
static void suggest(const flyq_plugins_t *rt, const char *name,
                    const char *const *extra, size_t nextra, char *err,
                    size_t errlen) {
  char best[MAX_NAME + 1];
  size_t bestd = 3, used = strlen(err);
  for (size_t i = 0; i < nextra; i++)
    consider(name, extra[i], strlen(extra[i]), best, &bestd);
  for (size_t i = 0; i < rt->npath; i++) {
    DIR *d = opendir(rt->path[i]);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
      size_t n = strlen(e->d_name);
      if (n > 4 && strcmp(e->d_name + n - 4, ".lua") == 0)
        consider(name, e->d_name, n - 4, best, &bestd);
    }
    if (d) closedir(d);
  }
  if (bestd < 3 && used < errlen)
    snprintf(err + used, errlen - used, " (did you mean \"%s\"?)", best);
}

/* The instance for the config entry spec, with hook; extra[0..n) are the
 * built-in names the entry could also have meant. An error starts with the
 * entry's key path (spec->path, from the schema), if it has one. */
static int spec_instance(flyq_plugins_t *rt, const flyq_config_plugin_t *spec,
                         unsigned hooks, const char *hook,
                         const char *const *extra, size_t nextra,
                         flyq__plugin_t **out, char *err, size_t errlen) {
  char inner[1024];
  int rc = named_instance(rt, spec->name, spec->params, 0, out, inner,
                          sizeof inner);
  if (rc == FLYQ_ERR_NOT_FOUND)
    suggest(rt, spec->name, extra, nextra, inner, sizeof inner);
  if (rc < 0) {
    snprintf(err, errlen, "%s%s%s", spec->path ? spec->path : "",
             spec->path ? ": " : "", inner);
    return rc;
  }
  if (flyq__plugin_add_use(*out, spec->path) < 0) return -ENOMEM;
  return need_hook(*out, hooks, hook, spec->path, err, errlen);
}

/* ---- Building from the config ------------------------------------------- */

static int inline_partitioner(flyq_plugins_t *rt, const flyq_config_t *cfg,
                              const flyq_config_plugin_t *spec,
                              flyq__rt_topic_t *t, char *err, size_t errlen) {
  char key[MAX_NAME + 300];
  const char *path = spec->path ? spec->path : "partitioner";
  flyq__plugin_src_t src = {.name = "inline", .key = key, .file = cfg->path,
                            .inline_topic = t->name, .inline_path = path,
                            .config_source = cfg->source,
                            .config_len = cfg->source_len};
  if (cfg->source == NULL || cfg->path == NULL) {
    snprintf(err, errlen, "%s: an inline function needs the config file's "
             "source", path);
    return FLYQ_ERR_CONFIG;
  }
  snprintf(key, sizeof key, "\ninline partitioner of %s", t->name);
  t->kind = FLYQ_PARTITIONER_PLUGIN;
  int rc = instance(rt, &src, &t->partitioner, err, errlen);
  return rc == 0 ? flyq__plugin_add_use(t->partitioner, path) : rc;
}

static int partitioner(flyq_plugins_t *rt, const flyq_config_t *cfg,
                       const flyq_config_topic_t *ct, flyq__rt_topic_t *t,
                       char *err, size_t errlen) {
  static const char *const builtin[] = {"key_hash", "round_robin", "sticky"};
  const char *name = ct->partitioner.name;
  if (ct->partitioner.inline_fn)
    return inline_partitioner(rt, cfg, &ct->partitioner, t, err, errlen);
  if (name == NULL) return 0;
  for (int i = 0; i < 3; i++)
    if (strcmp(name, builtin[i]) == 0) {
      t->kind = FLYQ_PARTITIONER_KEY_HASH + i;
      return 0;
    }
  t->kind = FLYQ_PARTITIONER_PLUGIN;
  return spec_instance(rt, &ct->partitioner, FLYQ__HOOK_PARTITION, "partition",
                       builtin, 3, &t->partitioner, err, errlen);
}

/* Loads the instances of the list specs[0..n), used for hook. */
static int chain(flyq_plugins_t *rt, const char *hook, unsigned hooks,
                 const flyq_config_plugin_t *specs, size_t n,
                 flyq__plugin_t ***out, char *err, size_t errlen) {
  int rc = 0;
  if (n == 0) return 0;
  if ((*out = calloc(n, sizeof **out)) == NULL) return -ENOMEM;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = spec_instance(rt, &specs[i], hooks, hook, NULL, 0, &(*out)[i], err,
                       errlen);
  return rc;
}

static int build_topic(flyq_plugins_t *rt, const flyq_config_t *cfg,
                       const flyq_config_topic_t *ct, flyq__rt_topic_t *t,
                       char *err, size_t errlen) {
  int rc;
  if ((t->name = strdup(ct->name)) == NULL) return -ENOMEM;
  t->on_error = ct->on_error;
  rc = partitioner(rt, cfg, ct, t, err, errlen);
  if (rc == 0)
    rc = chain(rt, "on_produce", FLYQ__HOOK_ON_PRODUCE, ct->on_produce,
               ct->non_produce, &t->on_produce, err, errlen);
  if (rc == 0) t->non_produce = ct->non_produce;
  if (rc == 0)
    rc = chain(rt, "on_consume", FLYQ__HOOK_ON_CONSUME, ct->on_consume,
               ct->non_consume, &t->on_consume, err, errlen);
  if (rc == 0) t->non_consume = ct->non_consume;
  return rc;
}

static int cmp_topic(const void *a, const void *b) {
  return strcmp(((const flyq__rt_topic_t *)a)->name,
                ((const flyq__rt_topic_t *)b)->name);
}

static int copy_path(flyq_plugins_t *rt, const flyq_config_t *cfg) {
  if (cfg->nplugin_path == 0) return 0;
  rt->path = calloc(cfg->nplugin_path, sizeof *rt->path);
  if (rt->path == NULL) return -ENOMEM;
  for (; rt->npath < cfg->nplugin_path; rt->npath++)
    if ((rt->path[rt->npath] = strdup(cfg->plugin_path[rt->npath])) == NULL)
      return -ENOMEM;
  return 0;
}

static int build(flyq_plugins_t *rt, const flyq_config_t *cfg, char *err,
                 size_t errlen) {
  int rc = copy_path(rt, cfg);
  if (rc == 0 && cfg->ntopics > 0 &&
      (rt->topics = calloc(cfg->ntopics, sizeof *rt->topics)) == NULL)
    rc = -ENOMEM;
  for (size_t i = 0; rc == 0 && i < cfg->ntopics; i++, rt->ntopics++)
    rc = build_topic(rt, cfg, &cfg->topics[i], &rt->topics[i], err, errlen);
  if (rc == 0)
    rc = chain(rt, "authenticate or authorize",
               FLYQ__HOOK_AUTHENTICATE | FLYQ__HOOK_AUTHORIZE, cfg->auth,
               cfg->nauth, &rt->auth, err, errlen);
  if (rc == 0) rt->nauth = cfg->nauth;
  if (rc == 0 && rt->ntopics > 1)
    qsort(rt->topics, rt->ntopics, sizeof *rt->topics, cmp_topic);
  return rc;
}

int flyq_plugins_new(const flyq_config_t *cfg, flyq_plugins_t **out,
                     char *err, size_t errlen) {
  char ignored[1];
  flyq_plugins_t *rt = calloc(1, sizeof *rt);
  int rc;
  if (err == NULL || errlen == 0) err = ignored, errlen = sizeof ignored;
  err[0] = '\0';
  if (rt == NULL) return -ENOMEM;
  rt->budget = cfg->plugin_instructions;
  rt->time_ns = cfg->plugin_time_ms > INT64_MAX / 1000000
                    ? INT64_MAX / 2 : cfg->plugin_time_ms * 1000000;
  rt->memory = cfg->plugin_memory > SIZE_MAX ? SIZE_MAX : (size_t)cfg->plugin_memory;
  flyq_batch_builder_init(&rt->builder);
  rc = build(rt, cfg, err, errlen);
  if (rc < 0) {
    if (rc == -ENOMEM && err[0] == '\0') snprintf(err, errlen, "out of memory");
    flyq_plugins_free(rt);
    return rc;
  }
  *out = rt;
  return 0;
}

void flyq_plugins_free(flyq_plugins_t *rt) {
  if (rt == NULL) return;
  for (size_t i = 0; i < rt->ntopics; i++) {
    free(rt->topics[i].name);
    free(rt->topics[i].on_produce);
    free(rt->topics[i].on_consume);
  }
  free(rt->topics);
  while (rt->first) {
    flyq__plugin_t *next = rt->first->next;
    flyq__plugin_close(rt->first);
    rt->first = next;
  }
  free(rt->auth);
  for (size_t i = 0; i < rt->npath; i++) free(rt->path[i]);
  free(rt->path);
  flyq__lazy_free(&rt->orig);
  flyq__recs_free(&rt->stage[0]);
  flyq__recs_free(&rt->stage[1]);
  flyq__recs_free(&rt->dead);
  free(rt->flags);
  free(rt->hdrs);
  flyq_batch_builder_free(&rt->builder);
  free(rt);
}

/* ---- Shared with the other runtime files -------------------------------- */

flyq__rt_topic_t *flyq__rt_topic(const flyq_plugins_t *rt, const char *name) {
  flyq__rt_topic_t key = {.name = (char *)name};
  if (rt->ntopics == 0 || name == NULL) return NULL;
  return bsearch(&key, rt->topics, rt->ntopics, sizeof key, cmp_topic);
}

/* Closes the least recently used consumer filter instance (a load that
 * fails evicts nothing). Filter
 * instances are used only inside one runtime call, never kept, and no
 * topic refers to one (topics' instances are loaded first and are never
 * marked filter), so closing one between calls is safe. */
static void evict_filter(flyq_plugins_t *rt) {
  flyq__plugin_t *lru = NULL, *prev = NULL, *lru_prev = NULL;
  for (flyq__plugin_t *p = rt->first; p; prev = p, p = p->next)
    if (p->filter && (lru == NULL || p->used < lru->used)) {
      lru = p;
      lru_prev = prev;
    }
  if (lru == NULL) return;
  if (lru_prev)
    lru_prev->next = lru->next;
  else
    rt->first = lru->next;
  if (rt->last == lru) rt->last = lru_prev;
  flyq__plugin_close(lru);
  rt->nfilters--;
}

int flyq__rt_filter(flyq_plugins_t *rt, const char *name, const char *params,
                    flyq__plugin_t **out, char *err, size_t errlen) {
  char *key = instance_key(name, params, 1);
  int rc = key ? 0 : -ENOMEM;
  *out = key ? find_instance(rt, key) : NULL;
  free(key);
  if (rc == 0 && *out == NULL) {
    rc = named_instance(rt, name, params, 1, out, err, errlen);
    if (rc == FLYQ_ERR_NOT_FOUND) { /* for a client: no broker paths */
      snprintf(err, errlen, "filter %s: no such plugin on the broker", name);
      suggest(rt, name, NULL, 0, err, errlen);
    }
    if (rc == 0) {
      (*out)->filter = 1;
      (*out)->used = ++rt->use_clock; /* the newest: not the one evicted */
      if (++rt->nfilters > MAX_FILTERS) evict_filter(rt);
    }
  }
  if (rc < 0) return rc;
  (*out)->used = ++rt->use_clock;
  return need_hook(*out, FLYQ__HOOK_ON_CONSUME, "on_consume", "filter", err,
                   errlen);
}

void flyq_plugins_set_partitions(flyq_plugins_t *rt,
                                 flyq_plugins_partitions_fn fn, void *arg) {
  rt->partitions = fn;
  rt->partitions_arg = arg;
}

/* ---- Questions ----------------------------------------------------------- */

int flyq_plugins_has_on_produce(const flyq_plugins_t *rt, const char *topic) {
  const flyq__rt_topic_t *t = flyq__rt_topic(rt, topic);
  return t != NULL && t->non_produce > 0;
}

int flyq_plugins_has_on_consume(const flyq_plugins_t *rt, const char *topic) {
  const flyq__rt_topic_t *t = flyq__rt_topic(rt, topic);
  return t != NULL && t->non_consume > 0;
}

flyq_partitioner_kind_t flyq_plugins_partitioner(const flyq_plugins_t *rt,
                                                 const char *topic) {
  const flyq__rt_topic_t *t = flyq__rt_topic(rt, topic);
  return t ? t->kind : FLYQ_PARTITIONER_DEFAULT;
}

int flyq_plugins_on_error(const flyq_plugins_t *rt, const char *topic) {
  const flyq__rt_topic_t *t = flyq__rt_topic(rt, topic);
  return t ? t->on_error : FLYQ_ON_ERROR_REJECT;
}

/* 1 if an auth plugin has one of hooks. */
static int auth_has(const flyq_plugins_t *rt, unsigned hooks) {
  for (size_t i = 0; i < rt->nauth; i++)
    if (rt->auth[i]->hooks & hooks) return 1;
  return 0;
}

int flyq_plugins_has_auth(const flyq_plugins_t *rt) {
  return auth_has(rt, FLYQ__HOOK_AUTHENTICATE);
}

int flyq_plugins_has_authorize(const flyq_plugins_t *rt) {
  return auth_has(rt, FLYQ__HOOK_AUTHORIZE);
}

/* ---- Stats ---------------------------------------------------------------- */

/* Fills s->uses: where the config uses p (its key paths, as the schema
 * writes them), or "consumer filter". Returns 0 or -ENOMEM. */
static int uses_of(const flyq__plugin_t *p, flyq_plugin_stats_t *s) {
  static const char *const filter[] = {"consumer filter"};
  const char *const *from = p->filter ? filter : (const char *const *)p->uses;
  size_t n = p->filter ? 1 : p->nuses;
  if (n == 0) return 0;
  if ((s->uses = calloc(n, sizeof *s->uses)) == NULL) return -ENOMEM;
  for (; s->nuses < n; s->nuses++)
    if ((s->uses[s->nuses] = strdup(from[s->nuses])) == NULL) return -ENOMEM;
  return 0;
}

int flyq_plugins_stats(const flyq_plugins_t *rt, flyq_plugin_stats_t **out,
                       size_t *n) {
  size_t count = 0, i = 0;
  flyq_plugin_stats_t *s;
  *out = NULL;
  *n = 0;
  for (const flyq__plugin_t *p = rt->first; p; p = p->next) count++;
  if (count == 0) return 0;
  if ((s = calloc(count, sizeof *s)) == NULL) return -ENOMEM;
  for (const flyq__plugin_t *p = rt->first; p; p = p->next, i++) {
    if (flyq__plugin_stats(p, &s[i]) < 0 || uses_of(p, &s[i]) < 0) {
      flyq_plugins_stats_free(s, i + 1);
      return -ENOMEM;
    }
  }
  *out = s;
  *n = count;
  return 0;
}

void flyq_plugins_stats_free(flyq_plugin_stats_t *stats, size_t n) {
  for (size_t i = 0; stats && i < n; i++) {
    free(stats[i].name);
    free(stats[i].file);
    free(stats[i].params);
    free(stats[i].last_error);
    for (size_t j = 0; j < stats[i].nuses; j++) free(stats[i].uses[j]);
    free(stats[i].uses);
    for (size_t j = 0; j < stats[i].ncounters; j++)
      free(stats[i].counters[j].name);
    free(stats[i].counters);
  }
  free(stats);
}
