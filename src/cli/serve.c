/* `flyq serve`: runs the broker. Loads the config (or the defaults), opens
 * the store, creates the broker and the native listener on one libuv loop,
 * and runs until SIGINT or SIGTERM, then shuts down gracefully: stop
 * accepting, finish the requests in flight (at most shutdown_timeout_ms),
 * close the broker (flush logs and groups, write the clean markers), exit
 * 0. SIGHUP reloads the config file; ConfigPlan and ConfigApply requests
 * come here too, through the broker's reload handler (docs/config.md,
 * "Reloading").
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/commands.h"
#include "cli/text.h"
#include "flyq/broker.h"
#include "flyq/config.h"
#include "flyq/logmsg.h"
#include "flyq/plugins.h"
#include "flyq/store.h"
#include "net/net.h"
#include "server/server.h"

static const char usage[] =
    "usage: flyq serve [-c FILE] [--listen HOST:PORT] [--data-dir DIR]\n"
    "                  [--log-level LEVEL] [--port-file FILE]\n"
    "\n"
    "Runs the broker until SIGINT or SIGTERM (graceful shutdown, exit 0).\n"
    "SIGHUP reloads the config file (like `flyq config apply`); a file that\n"
    "does not load changes nothing and the broker keeps running.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE      the config file (docs/config.md); without it,\n"
    "                         the defaults: data in ./data, native protocol\n"
    "                         on 127.0.0.1:7500\n"
    "      --listen HOST:PORT where the native protocol listens (overrides\n"
    "                         the config; port 0 picks a free port)\n"
    "      --data-dir DIR     the data directory (overrides the config)\n"
    "      --log-level LEVEL  error, warn, info or debug (overrides the\n"
    "                         config)\n"
    "      --port-file FILE   write the bound port to FILE once listening\n"
    "  -h, --help             show this help\n"
    "\n"
    "A listen address other than loopback is refused unless the config\n"
    "has an auth plugin with an authenticate hook or sets\n"
    "allow_anonymous = true; a reload that the next start would refuse\n"
    "changes nothing.\n"
    "Exit status: 0 after a clean shutdown, 1 on error, 2 usage error.\n";

enum { OPT_LISTEN = 0x100, OPT_DATA_DIR, OPT_LOG_LEVEL, OPT_PORT_FILE };

typedef struct serve_opts {
  const char *config, *listen, *data_dir, *log_level, *port_file;
} serve_opts_t;

/* The running broker and its shutdown. */
typedef struct serve {
  uv_loop_t loop;
  serve_opts_t opts; /* kept: a reload loads opts.config and applies the
                        flags again */
  flyq_config_t cfg; /* the config in force (restart-only settings as at
                        startup) */
  flyq_broker_t *broker;
  flyq_server_t *server;
  flyq_plugins_t *plugins; /* the runtime built from cfg */
  flyq_plugins_t *next_plugins; /* built for a reload, not yet in force */
  uv_signal_t sig[3];
  int stopping;
  int server_open, broker_open;
  int status; /* exit status */
} serve_t;

static int usage_error(const char *fmt, const char *arg) {
  fputs("flyq serve: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\ntry 'flyq serve --help'\n", stderr);
  return 2;
}

static int parse_flags(int argc, char **argv, serve_opts_t *o) {
  static const struct option longopts[] = {
      {"config", required_argument, 0, 'c'},
      {"listen", required_argument, 0, OPT_LISTEN},
      {"data-dir", required_argument, 0, OPT_DATA_DIR},
      {"log-level", required_argument, 0, OPT_LOG_LEVEL},
      {"port-file", required_argument, 0, OPT_PORT_FILE},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  const char **dest[] = {&o->listen, &o->data_dir, &o->log_level,
                         &o->port_file};
  int c;
  opterr = 0;
  optind = 0; /* glibc: full reset, main may have used getopt */
  while ((c = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
    if (c == 'c')
      o->config = optarg;
    else if (c >= OPT_LISTEN && c <= OPT_PORT_FILE)
      *dest[c - OPT_LISTEN] = optarg;
    else if (c == 'h')
      return fputs(usage, stdout) == EOF;
    else if (c == ':')
      return usage_error("option '%s' needs a value", argv[optind - 1]);
    else
      return usage_error("unknown option '%s'", argv[optind - 1]);
  }
  if (optind < argc)
    return usage_error("unexpected argument '%s'", argv[optind]);
  return -1;
}

static int replace(char **field, const char *value) {
  if (value == NULL) return 0;
  char *copy = strdup(value);
  if (copy == NULL) return -ENOMEM;
  free(*field);
  *field = copy;
  return 0;
}

/* The flags override the file, at startup and at every reload. The log
 * level was checked by load_config. Returns 0 or -ENOMEM. */
static int apply_flags(flyq_config_t *cfg, const serve_opts_t *o) {
  if (o->log_level) cfg->log_level = flyq_logmsg_level_parse(o->log_level);
  if (replace(&cfg->listen, o->listen) < 0 ||
      replace(&cfg->data_dir, o->data_dir) < 0)
    return -ENOMEM;
  return 0;
}

/* The config file (if any) with the flags applied. Returns -1 to go on,
 * else the exit status. */
static int load_config(flyq_config_t *cfg, const serve_opts_t *o) {
  char err[512];
  int level = o->log_level ? flyq_logmsg_level_parse(o->log_level) : 0;
  if (level < 0) return usage_error("unknown log level '%s'", o->log_level);
  int rc = flyq_config_init(cfg);
  if (rc == 0 && o->config)
    rc = flyq_config_load(cfg, o->config, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "flyq serve: %s\n", o->config ? err : flyq_strerror(rc));
    return 1;
  }
  if (apply_flags(cfg, o) < 0) {
    fprintf(stderr, "flyq serve: out of memory\n");
    return 1;
  }
  flyq_logmsg_set_level(cfg->log_level);
  return -1;
}

/* The plugin runtime for cfg (docs/config.md, plugin keys). Returns 0, or
 * a negative code with one line in err. */
static int plugins_build(const flyq_config_t *cfg, flyq_plugins_t **out,
                         char *err, size_t errlen) {
  int rc = flyq_plugins_new(cfg, out, err, errlen);
  if (rc < 0 && err[0] == '\0') snprintf(err, errlen, "%s", flyq_strerror(rc));
  return rc;
}

/* cfg->listen as a socket address (may resolve a name); listen_flag: it
 * comes from --listen. Returns 0, or FLYQ_ERR_CONFIG with one line in err
 * naming where the address comes from: "FILE: listen: bad address ...",
 * as the schema's errors do, or "--listen: bad address ...". */
static int listen_parse(const flyq_config_t *cfg, int listen_flag,
                        struct sockaddr_storage *addr, char *err,
                        size_t errlen) {
  int rc = flyq_net_parse_addr(cfg->listen, addr);
  if (rc == 0) return 0;
  snprintf(err, errlen, "%s%s%s: bad address \"%s\": %s",
           listen_flag || cfg->path == NULL ? "" : cfg->path,
           listen_flag || cfg->path == NULL ? "" : ": ",
           listen_flag ? "--listen" : "listen", cfg->listen,
           rc == FLYQ_ERR_INVALID_ARG ? "expected HOST:PORT" : uv_strerror(rc));
  return FLYQ_ERR_CONFIG;
}

/* The listen rule, the one place it is decided (at startup, by `config
 * check` and by every reload): a listener on addr (cfg->listen parsed)
 * must be loopback unless clients must authenticate (rt has an
 * authenticate hook) or cfg allows anonymous access. Returns 0, or
 * FLYQ_ERR_CONFIG with one line in err. */
static int listen_rule(const flyq_config_t *cfg,
                       const struct sockaddr_storage *addr,
                       const flyq_plugins_t *rt, char *err, size_t errlen) {
  if (flyq_net_is_loopback(addr) || cfg->allow_anonymous ||
      flyq_plugins_has_auth(rt))
    return 0;
  snprintf(err, errlen,
           "refusing to listen on %s: it is not a loopback address and no "
           "auth plugin with an authenticate hook is configured; configure "
           "`auth` (docs/config.md) or "
           "set allow_anonymous = true to accept anonymous clients from the "
           "network",
           cfg->listen);
  return FLYQ_ERR_CONFIG;
}

/* What `flyq serve` checks before it listens: the address parses and the
 * listen rule holds with rt. Returns 0, or FLYQ_ERR_CONFIG with err. */
static int listen_check(const flyq_config_t *cfg, int listen_flag,
                        const flyq_plugins_t *rt, char *err, size_t errlen) {
  struct sockaddr_storage addr;
  int rc = listen_parse(cfg, listen_flag, &addr, err, errlen);
  return rc < 0 ? rc : listen_rule(cfg, &addr, rt, err, errlen);
}

int flyq__serve_preflight(const flyq_config_t *cfg, int listen_flag,
                          const char *cmd, flyq_plugins_t **rt) {
  char err[768] = "";
  *rt = NULL;
  if (plugins_build(cfg, rt, err, sizeof err) < 0) {
    flyq__cli_line(stderr, "flyq %s: plugins: %s", cmd, err);
    return 1;
  }
  if (listen_check(cfg, listen_flag, *rt, err, sizeof err) < 0) {
    fprintf(stderr, "flyq %s: %s\n", cmd, err);
    flyq_plugins_free(*rt);
    *rt = NULL;
    return 1;
  }
  return -1;
}

/* More descriptors for max_connections, up to the hard limit. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

/* Writes the port to path atomically (the spec harness polls for it). */
static int write_port_file(const char *path, int port) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return -errno;
  int ok = fprintf(f, "%d\n", port) > 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) < 0) {
    int err = -errno;
    remove(tmp);
    return err ? err : -EIO;
  }
  return 0;
}

/* ---- Shutdown --------------------------------------------------------- */

static void maybe_done(serve_t *s) {
  if (s->server_open || s->broker_open) return;
  /* Everything is flushed: a signal arriving during the final frees must
   * not turn a clean exit into a kill, so ignore them from here on. */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  for (int i = 0; i < 3; i++) uv_close((uv_handle_t *)&s->sig[i], NULL);
  flyq_logmsg(FLYQ_LOG_INFO, "serve", "stopped");
}

static void server_closed(void *arg) {
  serve_t *s = arg;
  s->server_open = 0;
  maybe_done(s);
}

static void broker_closed(int status, void *arg) {
  serve_t *s = arg;
  s->broker_open = 0;
  if (status < 0) {
    flyq_logmsg(FLYQ_LOG_ERROR, "serve", "closing the store: %s",
                flyq_strerror(status));
    s->status = 1;
  }
  maybe_done(s);
}

static void shutdown_begin(serve_t *s) {
  s->stopping = 1;
  if (s->server)
    flyq_server_close(s->server, s->cfg.shutdown_timeout_ms, server_closed, s);
  if (s->broker && flyq_broker_close(s->broker, broker_closed, s) < 0)
    s->broker_open = 0;
  maybe_done(s);
}

static void reload_on_sighup(serve_t *s);

static void on_signal(uv_signal_t *h, int signum) {
  serve_t *s = h->data;
  const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
  if (signum == SIGHUP) {
    reload_on_sighup(s);
    return;
  }
  if (s->stopping) {
    flyq_logmsg(FLYQ_LOG_INFO, "serve", "%s: already shutting down", name);
    return;
  }
  flyq_logmsg(FLYQ_LOG_INFO, "serve", "%s: shutting down", name);
  shutdown_begin(s);
}

static void signals_start(serve_t *s) {
  static const int signums[3] = {SIGINT, SIGTERM, SIGHUP};
  for (int i = 0; i < 3; i++) {
    uv_signal_init(&s->loop, &s->sig[i]);
    s->sig[i].data = s;
    uv_signal_start(&s->sig[i], on_signal, signums[i]);
  }
}

/* ---- Config reload ---------------------------------------------------- */

/* The config to reload: text (NULL: the -c file) with the flags applied,
 * as at startup. On error next owns nothing and err says why. */
static int load_next(serve_t *s, const char *text, size_t len,
                     const char *name, flyq_config_t *next, char *err,
                     size_t errlen) {
  int rc = flyq_config_init(next);
  if (rc < 0) {
    snprintf(err, errlen, "out of memory");
    return rc;
  }
  if (text == NULL && s->opts.config == NULL) {
    snprintf(err, errlen, "the broker was started without a config file "
                          "(no -c): there is no file to reload");
    rc = FLYQ_ERR_INVALID_ARG;
  } else if (text == NULL) {
    rc = flyq_config_load(next, s->opts.config, err, errlen);
  } else {
    rc = flyq_config_load_string(next, text, len, name, err, errlen);
  }
  if (rc == 0 && (rc = apply_flags(next, &s->opts)) < 0)
    snprintf(err, errlen, "out of memory");
  if (rc < 0) flyq_config_free(next);
  return rc;
}

/* Hook: next is in force on the broker. What the host applies itself
 * happens here: next becomes s->cfg (shutdown_timeout_ms is read from it at
 * shutdown), the log level is set, and the plugin runtime that
 * validate_next built from next (s->next_plugins, NULL if none) is swapped
 * into the server and the old one freed. Takes over next's content and
 * s->next_plugins. */
static void on_config_applied(serve_t *s, flyq_config_t *next) {
  flyq_config_free(&s->cfg);
  s->cfg = *next;
  memset(next, 0, sizeof *next);
  flyq_logmsg_set_level(s->cfg.log_level);
  if (s->next_plugins == NULL) return;
  flyq_plugins_free(flyq_server_set_plugins(s->server, s->next_plugins));
  s->plugins = s->next_plugins;
  s->next_plugins = NULL;
  flyq_logmsg(FLYQ_LOG_INFO, "plugins", "runtime rebuilt and swapped in");
}

/* The address the broker listens on, as bound: numeric, so that no name
 * is resolved on the loop. */
static int bound_addr(serve_t *s, struct sockaddr_storage *addr) {
  char host[64], text[80];
  int port, rc = flyq_server_address(s->server, host, sizeof host, &port);
  if (rc < 0) return rc;
  snprintf(text, sizeof text, "[%s]:%d", host, port);
  return flyq_net_parse_addr(text, addr);
}

/* The listen rule at the next start, for next as loaded (its own listen
 * and allow_anonymous) with its plugins (s->next_plugins): a reload must
 * not leave a config the broker would refuse to start with. The address
 * the broker was started with is the one it bound; any other is parsed
 * as at startup (a name is resolved). */
static int rule_next_start(serve_t *s, const flyq_config_t *next, char *err,
                           size_t errlen) {
  struct sockaddr_storage addr;
  char why[600];
  int rc = -1;
  if (strcmp(next->listen, s->cfg.listen) == 0) rc = bound_addr(s, &addr);
  if (rc < 0)
    rc = listen_parse(next, s->opts.listen != NULL, &addr, why, sizeof why);
  if (rc == 0) rc = listen_rule(next, &addr, s->next_plugins, why, sizeof why);
  if (rc < 0)
    snprintf(err, errlen, "refused: the broker would not start with this "
             "config: %s", why);
  return rc;
}

/* The listen rule now: the listener in use keeps its address and
 * allow_anonymous (s->cfg) until a restart, but takes s->next_plugins at
 * once, which must not leave it without authentication. */
static int rule_in_use(serve_t *s, char *err, size_t errlen) {
  struct sockaddr_storage addr;
  char why[600];
  int rc = bound_addr(s, &addr);
  if (rc < 0)
    snprintf(why, sizeof why, "the address in use: %s", flyq_strerror(rc));
  else
    rc = listen_rule(&s->cfg, &addr, s->next_plugins, why, sizeof why);
  if (rc < 0)
    snprintf(err, errlen, "refused for the listener in use (its address "
             "and allow_anonymous change only at a restart): %s", why);
  return rc < 0 ? FLYQ_ERR_CONFIG : 0;
}

/* A plugin that is not on plugin_path or has an invalid name is a fault
 * of the config, as bad params are: FLYQ_ERR_CONFIG (the reload handler's
 * contract, include/flyq/broker.h). Other codes are kept. */
static int plugin_error_code(int rc) {
  return rc == FLYQ_ERR_NOT_FOUND || rc == FLYQ_ERR_INVALID_NAME
             ? FLYQ_ERR_CONFIG
             : rc;
}

/* What a reload checks before it changes anything, for a plan as for an
 * apply: next's plugins build (into s->next_plugins, which the caller
 * frees or swaps in), the listen rule holds at the next start (as `flyq
 * serve` checks it), next keeps the running restart-only settings, and
 * the rule holds for the listener in use. Returns 0, or a negative code
 * with one line in err. */
static int validate_next(serve_t *s, flyq_config_t *next, char *err,
                         size_t errlen) {
  char perr[768] = "";
  int rc = plugins_build(next, &s->next_plugins, perr, sizeof perr);
  if (rc < 0) {
    snprintf(err, errlen, "plugins: %s", perr);
    return plugin_error_code(rc);
  }
  if ((rc = rule_next_start(s, next, err, errlen)) < 0) return rc;
  if ((rc = flyq_broker_keep_restart_settings(next, &s->cfg)) < 0) {
    snprintf(err, errlen, "out of memory");
    return rc;
  }
  return rule_in_use(s, err, errlen);
}

/* Applies next (validated: s->next_plugins is its runtime). */
static int apply_next(serve_t *s, flyq_config_t *next,
                      const flyq_broker_plan_t *plan, size_t *steps,
                      char *err, size_t errlen) {
  int rc = flyq_broker_apply(s->broker, next, plan, steps, err, errlen);
  if (rc == 0) on_config_applied(s, next);
  return rc;
}

/* steps: topic changes made before an error (see flyq_broker_apply). */
static void log_outcome(const char *via, const char *name, int rc,
                        size_t steps, const flyq_broker_plan_t *plan,
                        const char *err) {
  if (rc < 0) {
    flyq_logmsg(FLYQ_LOG_WARN, "config", "%s: %s: %s", via,
                steps ? "partly applied, the broker-wide settings were not"
                      : "not applied, the broker keeps its running config",
                err[0] ? err : flyq_strerror(rc));
    return;
  }
  size_t drift = 0, restarts = 0;
  char summary[256];
  for (size_t i = 0; i < plan->n; i++) {
    const flyq_broker_change_t *c = &plan->changes[i];
    drift += c->kind == FLYQ_CHANGE_DRIFT;
    restarts += c->kind == FLYQ_CHANGE_RESTART;
    flyq_logmsg(FLYQ_LOG_INFO, "config", "%s%s%s: %s",
                flyq_broker_change_kind_name(c->kind), c->topic[0] ? " " : "",
                c->topic, c->detail);
  }
  flyq__config_summary(summary, sizeof summary, plan->n - drift - restarts,
                       restarts, 0, drift, 0);
  flyq_logmsg(FLYQ_LOG_INFO, "config", "%s: applied %s: %s", via, name,
              summary);
}

/* A plugin file whose text a reload would load afresh: a plan line
 * "plugins: file NAME.lua changed (FILE)" (or moved, gone). */
static int plan_file_change(void *arg, const char *name, const char *file,
                            const char *what) {
  char detail[PATH_MAX + 160];
  snprintf(detail, sizeof detail, "file %s.lua %s (%s)", name, what, file);
  return flyq_broker_plan_add(arg, FLYQ_CHANGE_PLUGINS, detail);
}

/* Loads text (NULL: the -c file), plans it and, with apply, applies it;
 * the outcome of an apply is logged. On error *plan is empty. */
static int reload(serve_t *s, const char *via, const char *text, size_t len,
                  const char *name, int apply, flyq_broker_plan_t *plan,
                  char *err, size_t errlen) {
  flyq_config_t next;
  size_t steps = 0;
  int rc;
  memset(plan, 0, sizeof *plan);
  if (text == NULL) name = s->opts.config ? s->opts.config : "(no file)";
  rc = load_next(s, text, len, name, &next, err, errlen);
  if (rc == 0) {
    rc = flyq_broker_plan(s->broker, &s->cfg, &next, plan);
    if (rc == 0) rc = flyq_plugins_changed_files(s->plugins, &next,
                                                 plan_file_change, plan);
    if (rc < 0) snprintf(err, errlen, "planning: %s", flyq_strerror(rc));
    /* A broken plugin refuses the whole reload before anything changes,
     * and a plan says so too. */
    if (rc == 0) rc = validate_next(s, &next, err, errlen);
    if (rc == 0 && apply) rc = apply_next(s, &next, plan, &steps, err, errlen);
    flyq_plugins_free(s->next_plugins); /* NULL once swapped in */
    s->next_plugins = NULL;
    flyq_config_free(&next);
  }
  if (apply) log_outcome(via, name, rc, steps, plan, err);
  if (rc < 0) flyq_broker_plan_free(plan);
  return rc;
}

/* The broker's reload handler: ConfigPlan and ConfigApply requests. */
static int on_reload_request(void *arg, const char *text, size_t len,
                             const char *name, int apply,
                             flyq_broker_plan_t *out, char *err,
                             size_t errlen) {
  return reload(arg, apply ? "config apply request" : "config plan request",
                text, len, name, apply, out, err, errlen);
}

static void reload_on_sighup(serve_t *s) {
  flyq_broker_plan_t plan;
  char err[1024] = "";
  if (s->broker == NULL || s->stopping) {
    flyq_logmsg(FLYQ_LOG_WARN, "config", "SIGHUP: ignored, the broker is %s",
                s->stopping ? "shutting down" : "not running yet");
    return;
  }
  if (reload(s, "SIGHUP", NULL, 0, NULL, 1, &plan, err, sizeof err) == 0)
    flyq_broker_plan_free(&plan);
}

/* ---- Startup ---------------------------------------------------------- */

/* Partition counts only grow: a declared topic with fewer partitions than
 * it has on disk refuses the start, as it refuses a reload, before the
 * broker applies anything of the file. */
static int check_partitions(const serve_t *s, flyq_store_t *store) {
  for (size_t i = 0; i < s->cfg.ntopics; i++) {
    const flyq_config_topic_t *ct = &s->cfg.topics[i];
    flyq_topic_t *t = flyq_store_topic(store, ct->name);
    int32_t want = ct->partitions > 0 ? ct->partitions
                                      : s->cfg.default_partitions;
    if (t == NULL || want >= flyq_topic_partitions(t)) continue;
    flyq_logmsg(FLYQ_LOG_ERROR, "serve",
                "%s: topics.%s.partitions: %d, but the topic has %d "
                "partitions in %s: partition counts only grow (declare %d "
                "or more, or delete the topic)",
                s->opts.config ? s->opts.config : "config", ct->name, want,
                flyq_topic_partitions(t), s->cfg.data_dir,
                flyq_topic_partitions(t));
    return FLYQ_ERR_CONFIG;
  }
  return 0;
}

/* The broker holds at most limits.max_topics topics: the topics in the
 * data directory and the declared ones it does not have, counted as a
 * plan counts them (flyq_broker_plan). Too many refuse the start, as a
 * reload refuses them, before the broker applies anything of the file. */
static int check_topic_count(const serve_t *s, flyq_store_t *store) {
  size_t have = flyq_store_topic_count(store), declared = 0;
  for (size_t i = 0; i < s->cfg.ntopics; i++)
    declared += flyq_store_topic(store, s->cfg.topics[i].name) == NULL;
  if (have + declared <= s->cfg.max_topics) return 0;
  flyq_logmsg(FLYQ_LOG_ERROR, "serve",
              "%s: limits.max_topics: %u, but the broker would hold %zu "
              "topics (%zu in %s and %zu declared that it does not have): "
              "raise limits.max_topics, or declare or keep fewer topics",
              s->opts.config ? s->opts.config : "config",
              (unsigned)s->cfg.max_topics, have + declared, have,
              s->cfg.data_dir, declared);
  return FLYQ_ERR_CONFIG;
}

static int open_broker(serve_t *s) {
  char err[512] = "";
  flyq_store_t *store;
  int rc =
      flyq_store_open(s->cfg.data_dir, &s->cfg.log, &store, err, sizeof err);
  if (rc < 0) {
    flyq_logmsg(FLYQ_LOG_ERROR, "serve", "opening %s: %s", s->cfg.data_dir,
                err[0] ? err : flyq_strerror(rc));
    return rc;
  }
  if ((rc = check_partitions(s, store)) < 0 ||
      (rc = check_topic_count(s, store)) < 0) {
    flyq_store_close(store);
    return rc;
  }
  rc = flyq_broker_new(&s->loop, &s->cfg, store, &s->broker);
  if (rc < 0) {
    flyq_logmsg(FLYQ_LOG_ERROR, "serve", "starting the broker: %s",
                flyq_strerror(rc));
    flyq_store_close(store);
    return rc;
  }
  s->broker_open = 1;
  flyq_broker_set_reload_handler(s->broker, on_reload_request, s);
  return 0;
}

static int open_server(serve_t *s, const char *port_file) {
  char host[64];
  int port;
  int rc = flyq_server_start(&s->loop, s->broker, &s->cfg, &s->server);
  if (rc < 0) {
    flyq_logmsg(FLYQ_LOG_ERROR, "serve", "cannot listen on %s: %s",
                s->cfg.listen, flyq_strerror(rc));
    return rc;
  }
  s->server_open = 1;
  flyq_server_set_plugins(s->server, s->plugins);
  flyq_server_address(s->server, host, sizeof host, &port);
  flyq_logmsg(FLYQ_LOG_INFO, "serve",
              strchr(host, ':') ? "listening on [%s]:%d" : "listening on %s:%d",
              host, port);
  if (port_file && (rc = write_port_file(port_file, port)) < 0) {
    flyq_logmsg(FLYQ_LOG_ERROR, "serve", "writing %s: %s", port_file,
                flyq_strerror(rc));
    return rc;
  }
  return 0;
}

/* Runs the loop until the shutdown is over and frees everything. */
static int run(serve_t *s, const char *port_file) {
  int rc = uv_loop_init(&s->loop);
  if (rc < 0) {
    fprintf(stderr, "flyq serve: %s\n", uv_strerror(rc));
    return 1;
  }
  signals_start(s);
  rc = open_broker(s);
  if (rc == 0) rc = open_server(s, port_file);
  if (rc < 0) {
    s->status = 1;
    shutdown_begin(s);
  }
  uv_run(&s->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&s->loop) != 0)
    flyq_logmsg(FLYQ_LOG_WARN, "serve", "handles left open at exit");
  return s->status;
}

int flyq__cmd_serve(int argc, char **argv) {
  serve_opts_t o = {0};
  int rc = parse_flags(argc, argv, &o);
  if (rc >= 0) return rc;
  serve_t *s = calloc(1, sizeof *s);
  if (s == NULL) return 1;
  s->opts = o;
  rc = load_config(&s->cfg, &o);
  if (rc < 0)
    rc = flyq__serve_preflight(&s->cfg, o.listen != NULL, "serve", &s->plugins);
  if (rc < 0) {
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    rc = run(s, o.port_file);
  }
  flyq_plugins_free(s->plugins);
  flyq_config_free(&s->cfg);
  free(s);
  return rc;
}
