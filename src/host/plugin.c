/* Plugin instances (plugin.h): a Lua state per plugin and params, made by
 * sandbox.c (memory cap, and a budget per hook call: the CPU-time
 * watchdog, or an instruction count when the config sets one or the
 * watchdog is not available), with the driver
 * flyq.runtime attached in its trusted globals and the plugin's code in a
 * sandbox environment (plugin_api.c). Every call into the state goes
 * through flyq__plugin_run, which sets the budget, attaches the call the
 * host functions work on, and turns a failure into one counted, logged
 * message that names the plugin.
 */
#include <errno.h>
#include <jansson.h>
#include <lauxlib.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "flyq/common.h"
#include "flyq/logmsg.h"
#include "host/plugin.h"
#include "host/sandbox.h"
#include "util/utf8.h"

#define PLUGIN_MAX_FILE (4u << 20) /* bytes of plugin source */

/* A setup in progress (open_protected's light userdata). */
typedef struct open_job {
  const flyq__plugin_src_t *src;
  flyq__plugin_t *p;
  const char *text; /* the plugin file, or the config file when inline */
  size_t len;
  json_t *params;   /* decoded params, NULL for none */
  char bad[512];    /* setup's complaint about the plugin or its params */
} open_job_t;

flyq__plugin_t *flyq__plugin_of(lua_State *L) {
  return *(flyq__plugin_t **)lua_getextraspace(L);
}

static char *dup_or_raise(lua_State *L, const char *s) {
  char *copy = strdup(s);
  if (copy == NULL) luaL_error(L, "out of memory");
  return copy;
}

/* Turns the config's value on top into { name = "inline", partition = fn }
 * for its topics[topic].partitioner. [-1, +1] */
static void take_inline(lua_State *L, const flyq__plugin_src_t *src) {
  if (lua_type(L, -1) != LUA_TTABLE ||
      lua_getfield(L, -1, "topics") != LUA_TTABLE ||
      lua_getfield(L, -1, src->inline_topic) != LUA_TTABLE ||
      lua_getfield(L, -1, "partitioner") != LUA_TFUNCTION)
    luaL_error(L, "%s: %s is no longer a function (the config file must "
               "return the same value every time)", src->file,
               src->inline_path);
  lua_createtable(L, 0, 2);
  lua_insert(L, -2);
  lua_setfield(L, -2, "partition");
  lua_pushliteral(L, "inline");
  lua_setfield(L, -2, "name"); /* [config, topics, topic, plugin] */
  lua_replace(L, -4);
  lua_pop(L, 2);
}

/* Pushes the table the plugin's code returns (for an inline partitioner:
 * what the config file returns, run in the plugin's environment). */
static void push_plugin(lua_State *L, const open_job_t *job) {
  const char *chunkname = lua_pushfstring(L, "@%s", job->src->file);
  flyq__plugin_env(L); /* [chunkname, env] */
  if (flyq__sandbox_load(L, job->text, job->len, chunkname) != LUA_OK)
    lua_error(L);
  lua_remove(L, -2); /* [fn] */
  lua_call(L, 0, 1);
  if (job->src->inline_topic) take_inline(L, job->src);
}

/* The watchdog's progress (sandbox.h): moves on at every record of the
 * driver's slow loops and at every chunk of its fast loop, whose records
 * end when they return into it. */
static uint64_t progress(void *arg) {
  return ((const flyq__plugin_t *)arg)->progress;
}

/* Tells the watchdog that the driver's fast loops and chunk runners (the
 * keys of the module's table drivers, the module at idx) call the hooks;
 * the slot of their record is j0 + k (a runner's k: its current line). */
static void watch_calls(lua_State *L, flyq__plugin_t *p, int idx) {
  if (lua_getfield(L, idx, "drivers") != LUA_TTABLE)
    luaL_error(L, "flyq.runtime: no drivers");
  p->loop_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  flyq__lua_set_calls(L, progress, p, p->loop_ref, "j0", "k");
}

/* The hooks the instance table at idx has; *chunked: its on_produce and
 * on_consume hooks that a chunk runner may call (flyq__hook_returns_arg). */
static unsigned hooks_of(lua_State *L, int idx, unsigned *chunked) {
  static const char *const names[] = {"partition", "on_produce", "on_consume",
                                      "authenticate", "authorize"};
  const unsigned filter_map = FLYQ__HOOK_ON_PRODUCE | FLYQ__HOOK_ON_CONSUME;
  unsigned hooks = 0;
  *chunked = 0;
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (lua_getfield(L, idx, names[i]) == LUA_TFUNCTION) {
      hooks |= 1u << i;
      if ((filter_map & 1u << i) && flyq__hook_returns_arg(L, -1))
        *chunked |= 1u << i;
    }
    lua_pop(L, 1);
  }
  return hooks;
}

static void budget_begin(flyq__plugin_t *p);
static void budget_end(flyq__plugin_t *p);

/* Attaches the driver, loads the plugin, checks it with flyq.runtime.check
 * and calls flyq.runtime.setup (init). The budget covers the plugin's own
 * code, its chunk and then init, not FlyQ's check of its params. Called
 * protected with the job as light userdata at 1. */
static int open_protected(lua_State *L) {
  open_job_t *job = lua_touserdata(L, 1);
  flyq__plugin_t *p = job->p;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "flyq.runtime");
  lua_call(L, 1, 1); /* [job, M] */
  lua_getfield(L, 2, "attach");
  flyq__plugin_host(L);
  lua_call(L, 1, 0);
  watch_calls(L, p, 2);
  budget_begin(p);
  push_plugin(L, job); /* [job, M, plugin] */
  budget_end(p);
  lua_getfield(L, 2, "check");
  lua_pushvalue(L, 3);
  if (job->params)
    flyq__plugin_push_json(L, job->params);
  else
    lua_newtable(L);
  lua_pushboolean(L, job->src->params_text);
  lua_call(L, 3, 2); /* [job, M, plugin, params|nil, secret|message] */
  if (lua_isnil(L, 4)) {
    snprintf(job->bad, sizeof job->bad, "%s", lua_tostring(L, 5));
    return 0;
  }
  p->secret_params = lua_toboolean(L, 5);
  lua_pop(L, 1);
  lua_getfield(L, 2, "setup");
  lua_insert(L, 3); /* [job, M, setup, plugin, params] */
  budget_begin(p); /* init gets a budget of its own */
  lua_call(L, 2, 2); /* [job, M, inst, name] */
  free(p->name);
  p->name = NULL;
  p->name = dup_or_raise(L, lua_tostring(L, 4));
  p->hooks = hooks_of(L, 3, &p->chunked);
  lua_settop(L, 3);
  p->inst_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  p->mod_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* Reads the plugin file into *out (malloc'd). */
static int read_source(const char *path, char **out, size_t *len, char *err,
                       size_t errlen) {
  FILE *f = fopen(path, "rb");
  char *buf = f ? malloc(PLUGIN_MAX_FILE + 1) : NULL;
  size_t n = buf ? fread(buf, 1, PLUGIN_MAX_FILE + 1, f) : 0;
  int rc = f == NULL ? -errno : buf == NULL ? -ENOMEM : ferror(f) ? -EIO : 0;
  if (f) fclose(f);
  if (rc == 0 && n > PLUGIN_MAX_FILE) {
    snprintf(err, errlen, "%s: larger than %u MiB", path, PLUGIN_MAX_FILE >> 20);
    rc = FLYQ_ERR_CONFIG;
  } else if (rc < 0) {
    snprintf(err, errlen, "%s: cannot read: %s", path, flyq_strerror(rc));
  }
  if (rc < 0) {
    free(buf);
    return rc;
  }
  *out = buf;
  *len = n;
  return 0;
}

static void digest_of(const char *text, size_t len, uint8_t out[32]) {
  struct sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, len, (const uint8_t *)text);
  sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
}

int flyq__plugin_file_changed(const flyq__plugin_t *p, const char *file) {
  char *text, err[64];
  size_t len;
  uint8_t d[32];
  if (read_source(file, &text, &len, err, sizeof err) < 0) return 1;
  digest_of(text, len, d);
  free(text);
  return memcmp(d, p->digest, sizeof d) != 0;
}

/* Decodes src->params (a JSON object) into job->params. */
static int decode_params(open_job_t *job, char *err, size_t errlen) {
  json_error_t jerr;
  if (job->src->params == NULL) return 0;
  job->params = json_loads(job->src->params, JSON_REJECT_DUPLICATES, &jerr);
  if (job->params && json_is_object(job->params)) return 0;
  snprintf(err, errlen, "params: %s", job->params ? "expected a JSON object"
                                                   : jerr.text);
  return FLYQ_ERR_CONFIG;
}

/* The instruction budget of a hook call (none: only the CPU-time limit). */
static void count_budget(flyq__plugin_t *p) {
  flyq__lua_set_budget_ns(p->L, p->budget > 0 ? p->budget : INT64_MAX / 2,
                          p->time_ns);
}

/* Starts the budget of a run of p (ended by budget_end). */
static void budget_begin(flyq__plugin_t *p) {
  p->watched = !p->exact && flyq__lua_watch_begin(p->L, p->time_ns) == 0;
  if (!p->watched) count_budget(p);
}

static void budget_end(flyq__plugin_t *p) {
  flyq__lua_watch_end(p->L);
  flyq__lua_set_budget(p->L, 0);
}

void flyq__plugin_budget(flyq__plugin_t *p) {
  if (p->watched)
    flyq__lua_watch_reset(p->L);
  else
    count_budget(p);
}

/* 8 random hex digits into id: an instance's name in the stats, which
 * says nothing about its params (a hash of them would let a guess at a
 * secret param be tested against it). getrandom of a few bytes does not
 * fail once the kernel's pool is ready; if it did, the id would be zeros,
 * which still hides the params. */
static void random_id(char id[9]) {
  uint8_t r[4] = {0};
  (void)!getrandom(r, sizeof r, 0);
  for (int i = 0; i < 4; i++) snprintf(id + 2 * i, 3, "%02x", (unsigned)r[i]);
}

/* A new instance with its state; the state knows the instance. */
static flyq__plugin_t *plugin_new(const flyq__plugin_src_t *src) {
  flyq__plugin_t *p = calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  random_id(p->id);
  p->budget = src->budget;
  p->time_ns = src->time_ns;
  p->exact = src->budget > 0 || !flyq__lua_watch_available();
  p->inst_ref = p->mod_ref = p->recs_ref = p->loop_ref = LUA_NOREF;
  for (int i = 0; i < FLYQ__RUNNERS; i++)
    p->runner_ref[i][0] = p->runner_ref[i][1] = LUA_NOREF;
  p->answers_ref = LUA_NOREF;
  p->key = strdup(src->key);
  p->name = strdup(src->name);
  p->file = strdup(src->file);
  p->params = strdup(src->params ? src->params : "{}");
  p->L = flyq__lua_new(src->memory);
  if (p->key == NULL || p->name == NULL || p->file == NULL || p->params == NULL || p->L == NULL) {
    flyq__plugin_close(p);
    return NULL;
  }
  *(flyq__plugin_t **)lua_getextraspace(p->L) = p;
  lua_gc(p->L, LUA_GCGEN, 0, 0); /* most garbage is one record's proxy */
  return p;
}

/* Runs the setup of job; returns 0 or the code, with "MESSAGE" in err. */
static int setup(open_job_t *job, char *err, size_t errlen) {
  lua_State *L = job->p->L;
  int r;
  lua_pushcfunction(L, open_protected);
  lua_pushlightuserdata(L, job);
  r = flyq__lua_pcall(L, 1, 0, err, errlen);
  budget_end(job->p); /* begun by open_protected */
  if (r == 0 && job->bad[0] != '\0') {
    snprintf(err, errlen, "%s", job->bad);
    return FLYQ_ERR_CONFIG;
  }
  return r == 0 ? 0 : FLYQ_ERR_PLUGIN;
}

int flyq__plugin_open(const flyq__plugin_src_t *src, flyq__plugin_t **out,
                      char *err, size_t errlen) {
  open_job_t job = {.src = src};
  char *text = NULL, msg[640] = "out of memory";
  int rc = 0;
  if (src->inline_topic) {
    job.text = src->config_source;
    job.len = src->config_len;
  } else if ((rc = read_source(src->file, &text, &job.len, msg, sizeof msg)) == 0) {
    job.text = text;
  }
  if (rc == 0) rc = decode_params(&job, msg, sizeof msg);
  if (rc == 0 && (job.p = plugin_new(src)) == NULL) {
    snprintf(msg, sizeof msg, "out of memory");
    rc = -ENOMEM;
  }
  if (rc == 0 && text != NULL) {
    digest_of(text, job.len, job.p->digest);
    job.p->has_digest = 1;
  }
  if (rc == 0) rc = setup(&job, msg, sizeof msg);
  json_decref(job.params);
  free(text);
  if (rc < 0) {
    snprintf(err, errlen, "plugin %s: %s", src->name, msg);
    flyq__plugin_close(job.p);
    return rc;
  }
  *out = job.p;
  return 0;
}

void flyq__plugin_close(flyq__plugin_t *p) {
  if (p == NULL) return;
  flyq__lua_close(p->L);
  for (size_t i = 0; i < p->ncounters; i++) free(p->counters[i].name);
  free(p->counters);
  free(p->proxies);
  free(p->slots);
  free(p->key);
  free(p->name);
  free(p->file);
  free(p->params);
  for (size_t i = 0; i < p->nuses; i++) free(p->uses[i]);
  free(p->uses);
  free(p);
}

int flyq__plugin_add_use(flyq__plugin_t *p, const char *path) {
  char **v;
  if (path == NULL) return 0;
  if ((v = realloc(p->uses, (p->nuses + 1) * sizeof *v)) == NULL)
    return -ENOMEM;
  p->uses = v;
  if ((v[p->nuses] = strdup(path)) == NULL) return -ENOMEM;
  p->nuses++;
  return 0;
}

/* A driver call (run_protected's light userdata). */
typedef struct run_job {
  flyq__plugin_t *p;
  const char *fn;
  flyq__push_args_fn push;
  void *arg;
  int nresults;
} run_job_t;

/* Pushes flyq.runtime[fn], the instance and the arguments, and calls. */
static int run_protected(lua_State *L) {
  run_job_t *job = lua_touserdata(L, 1);
  int nargs;
  lua_settop(L, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, job->p->mod_ref);
  lua_getfield(L, 1, job->fn);
  lua_rawgeti(L, LUA_REGISTRYINDEX, job->p->inst_ref); /* [M, fn, inst] */
  nargs = job->push(L, job->arg);
  lua_call(L, nargs + 1, job->nresults);
  return job->nresults;
}

void flyq__plugin_error(flyq__plugin_t *p, const flyq__call_t *call,
                        size_t record, const char *msg, char *out,
                        size_t outlen) {
  char line[sizeof p->last_error], clean[sizeof p->last_error], *valid;
  if (call->scrub) {
    snprintf(clean, sizeof clean, "%s", msg);
    call->scrub(clean, sizeof clean, call->scrub_arg);
    msg = clean;
  }
  /* The message goes to clients, the log and the stats as UTF-8 text: a
   * plugin may quote bytes that are not (NULL: no memory, kept as is). */
  if ((valid = flyq__utf8_repair(msg, strlen(msg))) != NULL) msg = valid;
  if (record > 0 && record <= call->nin && call->consume)
    flyq__utf8_snprintf(line, sizeof line, "plugin %s: %s (%s, offset %lld)",
                        p->name, msg, call->hook,
                        (long long)flyq__call_in(call, record - 1)->r.offset);
  else if (record > 0)
    flyq__utf8_snprintf(line, sizeof line, "plugin %s: %s (%s, record %zu)",
                        p->name, msg, call->hook, record);
  else
    flyq__utf8_snprintf(line, sizeof line, "plugin %s: %s (%s)", p->name, msg,
                        call->hook);
  p->errors++;
  memcpy(p->last_error, line, sizeof line);
  if ((p->errors & (p->errors - 1)) == 0) /* 1st, 2nd, 4th, 8th... */
    flyq_logmsg(FLYQ_LOG_WARN, "plugin", "%s [%llu error%s so far]", line,
                (unsigned long long)p->errors, p->errors == 1 ? "" : "s");
  if (flyq__lua_traceback(p->L)[0] != '\0')
    flyq_logmsg(FLYQ_LOG_DEBUG, "plugin", "%s: %s", p->name,
                flyq__lua_traceback(p->L));
  if (outlen > 0) flyq__utf8_snprintf(out, outlen, "%s", line);
  free(valid);
}

size_t flyq__plugin_failed_record(flyq__plugin_t *p, const flyq__call_t *call) {
  int64_t slot = flyq__lua_error_counter(p->L);
  if (slot < (int64_t)call->first_slot || slot > FLYQ__RING) return 0;
  return call->base + (size_t)slot - call->first_slot + 1;
}

int flyq__plugin_run(flyq__plugin_t *p, flyq__call_t *call, const char *fn,
                     flyq__push_args_fn push, void *arg, int nresults,
                     char *err, size_t errlen) {
  run_job_t job = {p, fn, push, arg, nresults};
  char msg[512];
  size_t record = 0;
  int r;
  if (flyq__record_begin(p, call->nin) < 0) {
    snprintf(err, errlen, "plugin %s: out of memory", p->name);
    return -ENOMEM;
  }
  p->call = call;
  p->gen++;
  p->batches++;
  lua_pushcfunction(p->L, run_protected);
  lua_pushlightuserdata(p->L, &job);
  budget_begin(p);
  r = flyq__lua_pcall(p->L, 1, nresults, msg, sizeof msg);
  budget_end(p);
  if (r != 0) record = call->fast && !call->settling
                           ? flyq__plugin_failed_record(p, call)
                       : call->nin > 0 ? call->cur + 1 : 0;
  /* The hooks ran up to the failing record, or further: in a chunk
     runner's chunk, or up to the record whose answer was being settled
     for (a failure while settling names an earlier record). */
  if (r != 0 && call->fast && record > 0)
    flyq__call_uncount(p, call, call->settling || record < call->ran
                                    ? call->ran : record);
  p->call = NULL;
  flyq__record_end(p);
  if (call->failed) {
    if (r == 0) lua_pop(p->L, nresults);
    snprintf(err, errlen, "plugin %s: out of memory", p->name);
    return -ENOMEM;
  }
  if (r == 0) return 0;
  flyq__plugin_error(p, call, record, msg, err, errlen);
  return FLYQ_ERR_PLUGIN;
}

static int copy_counters(const flyq__plugin_t *p, flyq_plugin_stats_t *s) {
  if (p->ncounters == 0) return 0;
  s->counters = calloc(p->ncounters, sizeof *s->counters);
  if (s->counters == NULL) return -ENOMEM;
  for (; s->ncounters < p->ncounters; s->ncounters++) {
    flyq_plugin_counter_t *c = &s->counters[s->ncounters];
    c->value = p->counters[s->ncounters].value;
    if ((c->name = strdup(p->counters[s->ncounters].name)) == NULL)
      return -ENOMEM;
  }
  return 0;
}

int flyq__plugin_stats(const flyq__plugin_t *p, flyq_plugin_stats_t *s) {
  memset(s, 0, sizeof *s);
  s->batches = p->batches;
  s->calls = p->calls;
  s->chunked_calls = p->chunked_calls;
  s->errors = p->errors;
  s->keys_pushed = p->keys_pushed;
  s->values_pushed = p->values_pushed;
  s->headers_pushed = p->headers_pushed;
  s->memory_bytes = (uint64_t)lua_gc(p->L, LUA_GCCOUNT, 0) * 1024 +
                    (uint64_t)lua_gc(p->L, LUA_GCCOUNTB, 0);
  s->name = strdup(p->name);
  s->file = strdup(p->file);
  s->params = strdup(p->params);
  /* The config's params are never shown (as in a config plan): an auth
   * plugin's tokens need not be marked secret. A consumer's filter params
   * are its own --param text. */
  s->params_secret = !p->filter || p->secret_params;
  memcpy(s->id, p->id, sizeof s->id);
  if (p->errors > 0) s->last_error = strdup(p->last_error);
  if (s->name == NULL || s->file == NULL || s->params == NULL ||
      (p->errors > 0 && s->last_error == NULL))
    return -ENOMEM;
  return copy_counters(p, s);
}
