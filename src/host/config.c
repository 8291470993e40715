/* Loading the broker's config file (include/flyq/config.h, docs/config.md).
 *
 * The file is Lua. It runs in a sandbox state (sandbox.h: memory cap,
 * instruction budget, no io/os/require), and the table it returns is checked
 * and normalized by the embedded module flyq.config (lua/flyq/config.lua),
 * which owns the schema and the error messages. This file only maps the
 * normalized keys onto flyq_config_t.
 */
#include "flyq/config.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flyq/logmsg.h"
#include "flyq/store.h"
#include "host/sandbox.h"

#define CONFIG_MAX_FILE (4u << 20)         /* bytes of config source */
#define CONFIG_MAX_MEMORY ((size_t)64 << 20) /* the sandbox's memory cap */
#define CONFIG_MAX_INSTRUCTIONS 50000000    /* a fraction of a second */
/* The CPU time the file may use, C calls (patterns) included: a reload
 * evaluates it on the broker's loop thread, which serves nobody meanwhile
 * (the instruction count alone would allow 5 s). */
#define CONFIG_MAX_CPU_NS 1000000000LL
#define PLUGIN_TIME_MS 10 /* CPU time per hook call */
#define PLUGIN_MEMORY ((uint64_t)64 << 20) /* per plugin Lua state */

/* How a normalized key is stored. */
typedef enum kind { K_STR, K_BOOL, K_LEVEL, K_I32, K_U32, K_I64, K_U64 } kind_t;

typedef struct field {
  const char *key; /* as flyq.config exports it */
  kind_t kind;
  size_t off;      /* in flyq_config_t or flyq_log_config_t */
} field_t;

#define CFG(key, kind, member) {key, kind, offsetof(flyq_config_t, member)}
static const field_t config_fields[] = {
    CFG("listen", K_STR, listen),
    CFG("http", K_STR, http),
    CFG("data_dir", K_STR, data_dir),
    CFG("log_level", K_LEVEL, log_level),
    CFG("allow_anonymous", K_BOOL, allow_anonymous),
    CFG("auto_create_topics", K_BOOL, auto_create_topics),
    CFG("groups.flush_interval_ms", K_I64, groups_flush_interval_ms),
    CFG("retention_check_interval_ms", K_I64, retention_check_interval_ms),
    CFG("shutdown_timeout_ms", K_I64, shutdown_timeout_ms),
    CFG("limits.max_frame_bytes", K_U32, max_frame_bytes),
    CFG("limits.max_connections", K_U32, max_connections),
    CFG("limits.max_inflight", K_U32, max_inflight),
    CFG("limits.max_output_bytes", K_U64, max_output_bytes),
    CFG("limits.request_timeout_ms", K_I64, request_timeout_ms),
    CFG("limits.max_topics", K_U32, max_topics),
    CFG("prune", K_BOOL, prune),
    CFG("plugins.limits.instructions", K_I64, plugin_instructions),
    CFG("plugins.limits.time_ms", K_I64, plugin_time_ms),
    CFG("plugins.limits.memory", K_U64, plugin_memory),
    {NULL, K_STR, 0}};

/* The settings of a partition log, in `defaults` and in each topic. */
#define LOG(key, kind, member) {key, kind, offsetof(flyq_log_config_t, member)}
static const field_t log_fields[] = {
    LOG("retention.ms", K_I64, retention_ms),
    LOG("retention.bytes", K_I64, retention_bytes),
    LOG("segment.bytes", K_U64, segment_bytes),
    LOG("segment.ms", K_I64, segment_ms),
    LOG("index_interval_bytes", K_U32, index_interval_bytes),
    LOG("flush.messages", K_U64, flush_messages),
    LOG("flush.interval_ms", K_I64, flush_ms),
    {NULL, K_STR, 0}};

int flyq_config_init(flyq_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->listen = strdup("127.0.0.1:7500");
  cfg->http = strdup("127.0.0.1:7501");
  cfg->data_dir = strdup("./data");
  cfg->log_level = FLYQ_LOG_INFO;
  cfg->auto_create_topics = 1;
  cfg->default_partitions = 1;
  flyq_log_config_default(&cfg->log);
  cfg->groups_flush_interval_ms = 1000;
  cfg->retention_check_interval_ms = 60000;
  cfg->max_frame_bytes = 16u << 20;
  cfg->max_connections = 10000;
  cfg->max_inflight = 256;
  cfg->max_output_bytes = 64u << 20;
  cfg->request_timeout_ms = 30000;
  cfg->max_topics = 10000;
  cfg->shutdown_timeout_ms = 10000;
  cfg->plugin_time_ms = PLUGIN_TIME_MS;
  cfg->plugin_memory = PLUGIN_MEMORY;
  if (cfg->listen && cfg->http && cfg->data_dir) return 0;
  flyq_config_free(cfg);
  return -ENOMEM;
}

static void free_plugins(flyq_config_plugin_t *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(v[i].name);
    free(v[i].params);
    free(v[i].path);
  }
  free(v);
}

static void free_topic(flyq_config_topic_t *t) {
  free(t->name);
  free(t->partitioner.name);
  free(t->partitioner.params);
  free(t->partitioner.path);
  free_plugins(t->on_produce, t->non_produce);
  free_plugins(t->on_consume, t->non_consume);
}

void flyq_config_free(flyq_config_t *cfg) {
  for (size_t i = 0; i < cfg->ntopics; i++) free_topic(&cfg->topics[i]);
  free(cfg->topics);
  for (size_t i = 0; i < cfg->nplugin_path; i++) free(cfg->plugin_path[i]);
  free(cfg->plugin_path);
  free_plugins(cfg->auth, cfg->nauth);
  free(cfg->path);
  free(cfg->source);
  free(cfg->listen);
  free(cfg->http);
  free(cfg->data_dir);
  memset(cfg, 0, sizeof *cfg);
}

/* Stores the value on top of the stack (checked by flyq.config) at
 * base + f->off, and pops it. Raises on a value of the wrong kind, which
 * would be a bug in flyq.config. cfg stays consistent if this raises. */
static void store_value(lua_State *L, const field_t *f, char *base) {
  size_t len = 0;
  lua_Integer n = lua_tointeger(L, -1);
  const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len)
                                                 : NULL;
  char *copy;
  switch (f->kind) {
  case K_STR:
    if (s == NULL || strlen(s) != len) luaL_error(L, "bad string: %s", f->key);
    if ((copy = strdup(s)) == NULL) luaL_error(L, "out of memory");
    free(*(char **)(base + f->off));
    *(char **)(base + f->off) = copy;
    break;
  case K_BOOL: *(int *)(base + f->off) = lua_toboolean(L, -1); break;
  case K_LEVEL:
    n = flyq_logmsg_level_parse(s);
    if (n < 0) luaL_error(L, "bad log level: %s", f->key);
    *(int *)(base + f->off) = (int)n;
    break;
  case K_I32: *(int32_t *)(base + f->off) = (int32_t)n; break;
  case K_U32: *(uint32_t *)(base + f->off) = (uint32_t)n; break;
  case K_I64: *(int64_t *)(base + f->off) = (int64_t)n; break;
  case K_U64: *(uint64_t *)(base + f->off) = (uint64_t)n; break;
  }
  lua_pop(L, 1);
}

/* Applies each field of fields present in the table at idx to base. */
static void apply_fields(lua_State *L, int idx, const field_t *fields,
                         void *base) {
  for (const field_t *f = fields; f->key; f++) {
    if (lua_getfield(L, idx, f->key) == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    if (f->kind >= K_I32 && !lua_isinteger(L, -1))
      luaL_error(L, "bad integer: %s", f->key);
    store_value(L, f, base);
  }
}

/* Reads t.partitions into *out if present. [t] */
static void apply_partitions(lua_State *L, int idx, int32_t *out) {
  static const field_t f[] = {{"partitions", K_I32, 0}, {NULL, K_STR, 0}};
  apply_fields(L, idx, f, out);
}

/* A malloc'd copy of t[key] (t at idx) if it is a string, else NULL. */
static char *dup_field(lua_State *L, int idx, const char *key) {
  char *copy = NULL;
  if (lua_getfield(L, idx, key) == LUA_TSTRING &&
      (copy = strdup(lua_tostring(L, -1))) == NULL)
    luaL_error(L, "out of memory");
  lua_pop(L, 1);
  return copy;
}

/* Reads a plugin as flyq.config exports it ({name =, params =, path =} or
 * {inline = true, fn =, path =}, at idx) into p, which owns what it got if
 * this raises. */
static void apply_plugin(lua_State *L, int idx, flyq_config_plugin_t *p) {
  lua_getfield(L, idx, "inline");
  p->inline_fn = lua_toboolean(L, -1);
  lua_pop(L, 1);
  p->name = dup_field(L, idx, "name");
  p->params = dup_field(L, idx, "params");
  p->path = dup_field(L, idx, "path");
}

static int same_entries(lua_State *L, int a, int b, int depth);

/* 1 if the values at va and vb (entries of tables a and b) are the same:
 * equal, C functions with the same code (each sandbox has its own load
 * closure), each table itself (_G), or, depth levels down, tables with the
 * same entries (the sandbox's copies of the libraries). */
static int same_value(lua_State *L, int a, int b, int va, int vb, int depth) {
  if (lua_rawequal(L, va, vb)) return 1;
  if (lua_iscfunction(L, va) && lua_iscfunction(L, vb))
    return lua_tocfunction(L, va) == lua_tocfunction(L, vb);
  if (lua_rawequal(L, va, a) && lua_rawequal(L, vb, b)) return 1;
  return depth > 0 && lua_istable(L, va) && lua_istable(L, vb) &&
         same_entries(L, va, vb, depth - 1);
}

/* 1 if tables a and b have the same keys with same_value values. */
static int same_entries(lua_State *L, int a, int b, int depth) {
  size_t na = 0, nb = 0;
  a = lua_absindex(L, a);
  b = lua_absindex(L, b);
  luaL_checkstack(L, 6, "config: comparing environments");
  lua_pushnil(L);
  while (lua_next(L, a)) { /* [key, va] */
    int same;
    na++;
    lua_pushvalue(L, -2);
    lua_rawget(L, b); /* [key, va, vb] */
    same = same_value(L, a, b, lua_gettop(L) - 1, lua_gettop(L), depth);
    lua_pop(L, 2);
    if (!same) {
      lua_pop(L, 1);
      return 0;
    }
  }
  for (lua_pushnil(L); lua_next(L, b); lua_pop(L, 1)) nb++;
  return na == nb;
}

/* 1 if the environment table at idx holds just what a fresh sandbox
 * environment holds: the file set no global and changed no library
 * table, so what a function reads through _ENV is the same at every
 * load, whatever the rest of the file says. */
static int env_pristine(lua_State *L, int idx) {
  int same;
  idx = lua_absindex(L, idx);
  flyq__sandbox_env(L);
  same = same_entries(L, idx, -1, 1);
  lua_pop(L, 1);
  return same;
}

/* Notes in p the lines of the config file that hold the inline function
 * fn of the plugin at idx (see flyq_config_plugin_t): fn must be code of
 * the file's chunk (named chunk) whose only upvalue, if any, is _ENV, and
 * that _ENV the sandbox's as the file left it untouched (env_pristine), so
 * that no other line of the file can change what it does. */
static void inline_lines(lua_State *L, int idx, const char *chunk,
                         flyq_config_plugin_t *p) {
  lua_Debug ar;
  int own = lua_getfield(L, idx, "fn") == LUA_TFUNCTION; /* [fn] */
  if (own) {
    lua_pushvalue(L, -1);
    lua_getinfo(L, ">Su", &ar); /* pops the copy */
    own = strcmp(ar.what, "Lua") == 0 && strcmp(ar.source, chunk) == 0;
  }
  for (int i = 1; own && i <= ar.nups; i++) {
    const char *up = lua_getupvalue(L, -1, i); /* [fn, value] */
    own = up != NULL && strcmp(up, "_ENV") == 0 && lua_istable(L, -1) &&
          env_pristine(L, -1);
    lua_pop(L, up != NULL);
  }
  lua_pop(L, 1);
  if (!own) return;
  p->first_line = ar.linedefined;
  p->last_line = ar.lastlinedefined;
}

/* Fills *out[0..*n) from the list of plugins t[key] (t at idx), if any. */
static void apply_plugins(lua_State *L, int idx, const char *key,
                          flyq_config_plugin_t **out, size_t *n) {
  size_t len = lua_getfield(L, idx, key) == LUA_TTABLE ? lua_rawlen(L, -1) : 0;
  if (len > 0 && (*out = calloc(len, sizeof **out)) == NULL)
    luaL_error(L, "out of memory");
  for (size_t i = 0; i < len; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1); /* [list, plugin] */
    (*n)++;
    apply_plugin(L, lua_gettop(L), &(*out)[i]);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* Fills cfg->plugin_path from the list of strings at idx.plugin_path. */
static void apply_plugin_path(lua_State *L, int idx, flyq_config_t *cfg) {
  size_t len =
      lua_getfield(L, idx, "plugin_path") == LUA_TTABLE ? lua_rawlen(L, -1) : 0;
  if (len > 0 && (cfg->plugin_path = calloc(len, sizeof(char *))) == NULL)
    luaL_error(L, "out of memory");
  for (size_t i = 0; i < len; i++) {
    lua_rawgeti(L, -1, (lua_Integer)i + 1);
    cfg->plugin_path[i] = strdup(luaL_checkstring(L, -1));
    if (cfg->plugin_path[i] == NULL) luaL_error(L, "out of memory");
    cfg->nplugin_path++;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* The plugin settings of the topic at idx, from the file run as chunk. */
static void apply_topic_plugins(lua_State *L, int idx, const char *chunk,
                                flyq_config_topic_t *t) {
  static const char *const on_error[] = {"reject", "pass", "dead_letter", NULL};
  if (lua_getfield(L, idx, "partitioner") == LUA_TTABLE) {
    apply_plugin(L, lua_gettop(L), &t->partitioner);
    if (t->partitioner.inline_fn)
      inline_lines(L, lua_gettop(L), chunk, &t->partitioner);
  }
  lua_pop(L, 1);
  apply_plugins(L, idx, "on_produce", &t->on_produce, &t->non_produce);
  apply_plugins(L, idx, "on_consume", &t->on_consume, &t->non_consume);
  if (lua_getfield(L, idx, "on_error") == LUA_TSTRING)
    t->on_error = luaL_checkoption(L, -1, NULL, on_error);
  lua_pop(L, 1);
}

/* Fills cfg->topics from the array at idx; each topic starts from the
 * defaults already in cfg. */
static void apply_topics(lua_State *L, int idx, const char *chunk,
                         flyq_config_t *cfg) {
  size_t n = lua_rawlen(L, idx);
  if (n == 0) return;
  cfg->topics = calloc(n, sizeof *cfg->topics);
  if (cfg->topics == NULL) luaL_error(L, "out of memory");
  for (size_t i = 0; i < n; i++) {
    flyq_config_topic_t *t = &cfg->topics[i];
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    if (lua_getfield(L, -1, "name") != LUA_TSTRING) /* [topic, name] */
      luaL_error(L, "topic without a name");
    t->name = strdup(lua_tostring(L, -1));
    if (t->name == NULL) luaL_error(L, "out of memory");
    cfg->ntopics++;
    lua_pop(L, 1);
    t->partitions = cfg->default_partitions;
    t->log = cfg->log;
    apply_partitions(L, lua_gettop(L), &t->partitions);
    apply_fields(L, lua_gettop(L), log_fields, &t->log);
    apply_topic_plugins(L, lua_gettop(L), chunk, t);
    lua_pop(L, 1);
  }
}

/* Applies the table exported by flyq.config (at idx) to cfg; chunk is the
 * name the file ran under ("@FILE"). */
static void apply(lua_State *L, int idx, const char *chunk,
                  flyq_config_t *cfg) {
  apply_fields(L, idx, config_fields, cfg);
  lua_getfield(L, idx, "defaults");
  apply_fields(L, lua_gettop(L), log_fields, &cfg->log);
  apply_partitions(L, lua_gettop(L), &cfg->default_partitions);
  lua_getfield(L, idx, "topics");
  apply_topics(L, lua_gettop(L), chunk, cfg);
  lua_pop(L, 2);
  apply_plugin_path(L, idx, cfg);
  apply_plugins(L, idx, "auth", &cfg->auth, &cfg->nauth);
}

/* valid_name(name) -> boolean: the topic name rule of flyq_name_validate. */
static int valid_name(lua_State *L) {
  size_t len;
  const char *name = luaL_checklstring(L, 1, &len);
  lua_pushboolean(L, strlen(name) == len && flyq_name_validate(name) == 0);
  return 1;
}

/* Pushes the ctx table that flyq.config's check() takes; defaults is a
 * config as flyq_config_init leaves it. */
static void push_check_ctx(lua_State *L, const char *path,
                           const flyq_config_t *defaults) {
  lua_createtable(L, 0, 4);
  lua_pushstring(L, path);
  lua_setfield(L, -2, "file");
  lua_pushcfunction(L, valid_name);
  lua_setfield(L, -2, "valid_name");
  lua_pushinteger(L, FLYQ_PARTITIONS_MAX);
  lua_setfield(L, -2, "max_partitions");
  lua_pushinteger(L, defaults->max_topics);
  lua_setfield(L, -2, "max_topics");
}

typedef struct load_job {
  const char *path;
  const char *src; /* the file's contents */
  size_t len;
  flyq_config_t *cfg; /* filled on success */
} load_job_t;

/* Runs the config file, checks its result and applies it to job->cfg.
 * Called protected, with the job as light userdata. */
static int load_protected(lua_State *L) {
  load_job_t *job = lua_touserdata(L, 1);
  const char *chunkname = lua_pushfstring(L, "@%s", job->path);
  flyq__sandbox_env(L);
  if (flyq__sandbox_load(L, job->src, job->len, chunkname) != LUA_OK)
    return lua_error(L);
  lua_call(L, 0, 1); /* [job, chunkname, result] */
  lua_getglobal(L, "require");
  lua_pushliteral(L, "flyq.config");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "check");
  lua_pushvalue(L, -3);
  push_check_ctx(L, job->path, job->cfg); /* [..., result, module, check, result, ctx] */
  lua_call(L, 2, 1);
  apply(L, lua_gettop(L), chunkname, job->cfg);
  return 0;
}

/* Turns control characters (e.g. from error("a\nb")) into spaces. */
static void one_line(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = ' ';
}

/* Runs job in a fresh sandbox state. */
static int run_job(load_job_t *job, char *err, size_t errlen) {
  lua_State *L = flyq__lua_new(CONFIG_MAX_MEMORY);
  char msg[1024];
  int r;
  if (L == NULL) {
    snprintf(err, errlen, "%s: out of memory", job->path);
    return -ENOMEM;
  }
  flyq__lua_set_budget_ns(L, CONFIG_MAX_INSTRUCTIONS, CONFIG_MAX_CPU_NS);
  lua_pushcfunction(L, load_protected);
  lua_pushlightuserdata(L, job);
  r = flyq__lua_pcall(L, 1, 0, msg, sizeof msg);
  if (r == 0 && flyq__lua_cap_errors(L) > 0) { /* reached, then caught */
    flyq__lua_cap_message(L, msg, sizeof msg);
    r = -ENOMEM;
  }
  flyq__lua_close(L);
  if (r == 0) return 0;
  /* Memory errors and error(x, 0) carry no position: name the file. */
  if (strncmp(msg, job->path, strlen(job->path)) == 0)
    snprintf(err, errlen, "%s", msg);
  else
    snprintf(err, errlen, "%s: %s", job->path, msg);
  one_line(err);
  if (r == -ENOMEM) return FLYQ_ERR_LIMIT;
  return r == FLYQ_ERR_LIMIT ? r : FLYQ_ERR_CONFIG;
}

typedef struct setting_job {
  const char *key, *text;
  int found;     /* key is a topic setting */
  int64_t value;
} setting_job_t;

/* Calls flyq.config's topic_setting(key, text). Called protected, with the
 * job as light userdata. */
static int setting_protected(lua_State *L) {
  setting_job_t *job = lua_touserdata(L, 1);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "flyq.config");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "topic_setting"); /* [job, module, topic_setting] */
  lua_pushstring(L, job->key);
  lua_pushstring(L, job->text);
  lua_call(L, 2, 1);
  job->found = lua_isinteger(L, -1);
  job->value = lua_tointeger(L, -1);
  return 0;
}

int flyq_config_topic_setting(const char *key, const char *text, int64_t *out,
                              char *err, size_t errlen) {
  setting_job_t job = {key, text, 0, 0};
  char ignored[1], msg[512];
  lua_State *L = flyq__lua_new(CONFIG_MAX_MEMORY);
  int r;
  if (err == NULL || errlen == 0) err = ignored, errlen = sizeof ignored;
  err[0] = '\0';
  if (L == NULL) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  flyq__lua_set_budget_ns(L, CONFIG_MAX_INSTRUCTIONS, CONFIG_MAX_CPU_NS);
  lua_pushcfunction(L, setting_protected);
  lua_pushlightuserdata(L, &job);
  r = flyq__lua_pcall(L, 1, 0, msg, sizeof msg);
  flyq__lua_close(L);
  if (r < 0) {
    snprintf(err, errlen, "%s", msg);
    one_line(err);
    return r == -ENOMEM ? r : FLYQ_ERR_CONFIG;
  }
  if (!job.found) return FLYQ_ERR_NOT_FOUND;
  *out = job.value;
  return 0;
}

/* Reads the whole file at path (at most CONFIG_MAX_FILE bytes) into a
 * malloc'd buffer the caller frees. */
static int read_file(const char *path, char **out, size_t *len, char *err,
                     size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  char *buf = fd < 0 ? NULL : malloc(CONFIG_MAX_FILE + 1);
  size_t n = 0;
  int r = fd < 0 ? -errno : buf == NULL ? -ENOMEM : 0;
  while (r == 0 && n <= CONFIG_MAX_FILE) {
    ssize_t got = read(fd, buf + n, CONFIG_MAX_FILE + 1 - n);
    if (got == 0) break;
    if (got > 0) n += (size_t)got;
    else if (errno != EINTR) r = -errno;
  }
  if (fd >= 0) close(fd);
  if (r < 0) snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-r));
  if (r == 0 && n > CONFIG_MAX_FILE) {
    snprintf(err, errlen, "%s: larger than %u MiB", path, CONFIG_MAX_FILE >> 20);
    r = FLYQ_ERR_CONFIG;
  }
  if (r < 0) {
    free(buf);
    return r;
  }
  *out = buf;
  *len = n;
  return 0;
}

/* Runs src (len bytes; the buffer has room for one more, and is taken
 * over) as the config named path and replaces *cfg with the result. */
static int load_source(flyq_config_t *cfg, const char *path, char *src,
                       size_t len, char *err, size_t errlen) {
  load_job_t job = {path, src, len, NULL};
  flyq_config_t next;
  int r = flyq_config_init(&next);
  if (r < 0) snprintf(err, errlen, "%s: out of memory", path);
  if (r == 0) {
    job.cfg = &next;
    r = run_job(&job, err, errlen);
  }
  if (r == 0 && (next.path = strdup(path)) == NULL) {
    snprintf(err, errlen, "%s: out of memory", path);
    r = -ENOMEM;
  }
  if (r == 0) { /* kept for the plugin runtime's inline functions */
    char *fit = realloc(src, job.len + 1); /* src may have CONFIG_MAX_FILE */
    next.source = fit ? fit : src;
    next.source[job.len] = '\0';
    next.source_len = job.len;
    src = NULL;
  }
  free(src);
  if (r < 0) {
    flyq_config_free(&next);
    return r;
  }
  flyq_config_free(cfg);
  *cfg = next;
  return 0;
}

int flyq_config_load(flyq_config_t *cfg, const char *path, char *err,
                     size_t errlen) {
  char ignored[1];
  char *src = NULL;
  size_t len = 0;
  int r;
  if (err == NULL || errlen == 0) err = ignored, errlen = sizeof ignored;
  err[0] = '\0';
  r = read_file(path, &src, &len, err, errlen);
  if (r < 0) return r;
  return load_source(cfg, path, src, len, err, errlen);
}

int flyq_config_load_string(flyq_config_t *cfg, const char *text, size_t len,
                            const char *name, char *err, size_t errlen) {
  char ignored[1];
  char *src;
  if (err == NULL || errlen == 0) err = ignored, errlen = sizeof ignored;
  err[0] = '\0';
  if (name == NULL) name = "config";
  if (text == NULL && len > 0) {
    snprintf(err, errlen, "%s: no text", name);
    return FLYQ_ERR_INVALID_ARG;
  }
  if (len > CONFIG_MAX_FILE) {
    snprintf(err, errlen, "%s: larger than %u MiB", name,
             CONFIG_MAX_FILE >> 20);
    return FLYQ_ERR_CONFIG;
  }
  if ((src = malloc(len + 1)) == NULL) {
    snprintf(err, errlen, "%s: out of memory", name);
    return -ENOMEM;
  }
  if (len > 0) memcpy(src, text, len);
  return load_source(cfg, name, src, len, err, errlen);
}
