/* `flyq config`: declarative config as GitOps. `check` runs a config file
 * in the sandbox without a broker (flyq_config_load, src/host/config.c);
 * `plan` shows what the file would change on a running broker and `apply`
 * makes those changes (ConfigPlan and ConfigApply, docs/protocol.md). The
 * file format and what takes effect on reload are in docs/config.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "flyq/config.h"

/* What flyq_config_load accepts; a larger file is refused here already. */
#define CONFIG_FILE_MAX (4u << 20)

static const char usage[] =
    "usage: flyq config check [-c FILE]\n"
    "       flyq config plan [-c FILE] [-b HOST:PORT] [--token TOKEN]\n"
    "       flyq config apply [-c FILE] [-b HOST:PORT] [--token TOKEN]\n"
    "\n"
    "Commands:\n"
    "  check   run FILE in the config sandbox, check every key against\n"
    "          the schema, then load its plugins (params, init) and check\n"
    "          the listen address as `flyq serve` would, without starting a\n"
    "          broker; prints \"ok: FILE (N topics, M plugins loaded)\", or\n"
    "          the error (\"flyq config check: FILE: key.path: reason\",\n"
    "          \"flyq config check: plugins: ...\") and exits 1\n"
    "  plan    show what applying FILE would change on a running broker\n"
    "  apply   apply FILE to a running broker (as SIGHUP does with the\n"
    "          broker's own file)\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE       the config file; without it, check uses the\n"
    "                          built-in defaults, plan and apply the file\n"
    "                          the broker was started with\n"
    "  -b, --broker HOST:PORT  (plan, apply) broker address (env\n"
    "                          FLYQ_BROKER; default " FLYQ_CLI_DEFAULT_BROKER ")\n"
    "      --token TOKEN       (plan, apply) authenticate with this token\n"
    "                          (env FLYQ_TOKEN)\n"
    "  -h, --help              show this help ('flyq config plan --help'\n"
    "                          for plan and apply)\n"
    "\n"
    "Exit status: 0 valid, 1 invalid, 2 usage error.\n"
    "The file format is described in docs/config.md.\n";

static const char plan_usage[] =
    "usage: flyq config plan [-c FILE] [-b HOST:PORT] [--token TOKEN]\n"
    "       flyq config apply [-c FILE] [-b HOST:PORT] [--token TOKEN]\n"
    "\n"
    "plan sends FILE to the broker, which loads and validates it and prints\n"
    "what applying it would change, one line each, \"KIND TOPIC: DETAIL\"\n"
    "(\"KIND: DETAIL\" for broker-wide settings):\n"
    "  create_topic     a declared topic the broker does not have\n"
    "  add_partitions   more partitions (partition counts only grow)\n"
    "  set              a setting that changes at once\n"
    "  plugins          a plugin setting, or a plugin file whose text\n"
    "                   changed (\"plugins: file NAME.lua changed (FILE)\")\n"
    "  drift            a topic the file does not declare (kept)\n"
    "  delete_topic     the same with prune = true: deleted\n"
    "  restart          a setting that needs a restart (listen, data_dir)\n"
    "  error            a change the broker refuses (fewer partitions)\n"
    "apply makes the changes and prints them. It refuses a file that does\n"
    "not load or whose plan has errors, and then changes nothing.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE       the config file (default: the file the\n"
    "                          broker was started with, reloaded by it)\n"
    FLYQ_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 success (plan: no errors), 1 error (plan: the plan has\n"
    "errors, or the file is invalid), 2 usage error.\n";

static int usage_error(const char *fmt, const char *arg) {
  fputs("flyq config: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\ntry 'flyq config --help'\n", stderr);
  return 2;
}

/* ---- check ------------------------------------------------------------- */

/* Parses [-c FILE] [-h] after the subcommand (argv[0]). *file stays NULL
 * without -c. Returns -1 to go on, else the exit status. */
static int parse_flags(int argc, char **argv, const char **file) {
  static const struct option longopts[] = {
      {"config", required_argument, 0, 'c'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int c;
  opterr = 0;
  optind = 0; /* glibc: full reset, main may have used getopt */
  while ((c = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
    if (c == 'c') *file = optarg;
    if (c == 'h') {
      fputs(usage, stdout);
      return 0;
    }
    if (c == ':')
      return usage_error("option '%s' needs a FILE", argv[optind - 1]);
    if (c == '?') return usage_error("unknown option '%s'", argv[optind - 1]);
  }
  if (optind < argc)
    return usage_error("unexpected argument '%s'", argv[optind]);
  return -1;
}

/* flyq config check: 0 valid, 1 invalid. Checks what `flyq serve` would
 * before opening anything: the file against the schema, then its plugins
 * (loaded and initialised as the broker would) and the listen rule. */
static int check(int argc, char **argv) {
  flyq_config_t cfg;
  flyq_plugins_t *rt = NULL;
  const char *file = NULL;
  char err[1024];
  int r = parse_flags(argc, argv, &file);
  if (r >= 0) return r;
  if (flyq_config_init(&cfg) < 0) {
    fputs("flyq config check: out of memory\n", stderr);
    return 1;
  }
  if (file != NULL && flyq_config_load(&cfg, file, err, sizeof err) < 0) {
    fprintf(stderr, "flyq config check: %s\n", err);
    r = 1;
  } else {
    r = flyq__serve_preflight(&cfg, 0, "config check", &rt);
  }
  if (r < 0) {
    flyq_plugin_stats_t *st = NULL;
    size_t n = 0;
    (void)flyq_plugins_stats(rt, &st, &n); /* only counted: 0 if no memory */
    flyq_plugins_stats_free(st, n);
    printf("ok: %s (%zu topic%s, %zu plugin%s loaded)\n",
           file ? file : "no file, built-in defaults", cfg.ntopics,
           cfg.ntopics == 1 ? "" : "s", n, n == 1 ? "" : "s");
    r = 0;
  }
  flyq_plugins_free(rt);
  flyq_config_free(&cfg);
  return r;
}

/* ---- plan and apply ---------------------------------------------------- */

/* Parses the flags of plan and apply. Returns -1 to go on, else the exit
 * status. */
static int parse_remote(flyq__cli_t *cli, int argc, char **argv,
                        const char **file) {
  static const struct option longopts[] = {
      FLYQ_CLI_COMMON_LONGOPTS,
      {"config", required_argument, NULL, 'c'},
      {NULL, 0, NULL, 0}};
  int opt, r;
  while ((opt = getopt_long(argc, argv, FLYQ_CLI_COMMON_SHORTOPTS "c:",
                            longopts, NULL)) != -1) {
    if (opt == 'c')
      *file = optarg;
    else if ((r = flyq__cli_common_opt(cli, opt, argv)) >= 0)
      return r;
  }
  return flyq__cli_positionals(cli, argc, argv, 0, NULL, NULL);
}

/* Reads the whole file into a malloc'd buffer. Returns 0, or prints the
 * error and returns 1. */
static int read_config(const flyq__cli_t *cli, const char *path, char **text,
                       size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = f ? malloc(CONFIG_FILE_MAX + 1) : NULL;
  size_t n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
  int bad = f == NULL || buf == NULL || ferror(f);
  int saved = errno;
  if (f) fclose(f);
  if (bad || n > CONFIG_FILE_MAX) {
    if (n > CONFIG_FILE_MAX)
      flyq__cli_error(cli, "%s: larger than %u MiB", path,
                      CONFIG_FILE_MAX >> 20);
    else
      flyq__cli_error(cli, "%s: cannot read: %s", path, strerror(saved));
    free(buf);
    return 1;
  }
  *text = buf;
  *len = n;
  return 0;
}

static void print_plan(const flyq_client_plan_t *p) {
  for (size_t i = 0; i < p->n; i++) {
    const flyq_client_change_t *c = &p->changes[i];
    if (c->topic[0])
      printf("%s %s: %s\n", c->kind, c->topic, c->detail);
    else
      printf("%s: %s\n", c->kind, c->detail);
  }
}

/* Appends printf-style text to the string in buf (len bytes), truncating. */
static void append(char *buf, size_t len, const char *fmt, ...) {
  size_t used = strlen(buf);
  va_list ap;
  va_start(ap, fmt);
  if (used < len) vsnprintf(buf + used, len - used, fmt, ap);
  va_end(ap);
}

static const char *plural(size_t n) { return n == 1 ? "" : "s"; }

void flyq__config_summary(char *buf, size_t len, size_t changes,
                          size_t restarts, size_t errors, size_t drift,
                          int applied) {
  if (len == 0) return;
  buf[0] = '\0';
  if (changes == 0 && restarts == 0 && errors == 0)
    append(buf, len, "no changes");
  else
    append(buf, len, "%zu change%s%s", changes, plural(changes),
           applied ? " applied" : "");
  if (restarts > 0)
    append(buf, len, ", %zu take%s effect at the next start", restarts,
           restarts == 1 ? "s" : "");
  if (errors > 0) append(buf, len, ", %zu error%s", errors, plural(errors));
  if (drift > 0)
    append(buf, len, ", %zu topic%s not in the config (kept)", drift,
           plural(drift));
  if (errors > 0)
    append(buf, len, ": `flyq config apply` would refuse this config");
}

/* Prints the plan and its summary (flyq__config_summary); returns the exit
 * status. */
static int report(const flyq_client_plan_t *p, int applied) {
  char summary[256];
  size_t restarts = 0;
  print_plan(p);
  for (size_t i = 0; i < p->n; i++)
    restarts += strcmp(p->changes[i].kind, "restart") == 0;
  flyq__config_summary(summary, sizeof summary,
                       p->n - p->ndrift - p->nerrors - restarts, restarts,
                       p->nerrors, p->ndrift, applied && p->nerrors == 0);
  puts(summary);
  return p->nerrors > 0;
}

/* flyq config plan / apply. */
static int remote(int argc, char **argv, int apply) {
  flyq__cli_t cli;
  flyq_client_plan_t plan;
  const char *file = NULL;
  char *text = NULL;
  size_t len = 0;
  int r;
  flyq__cli_init(&cli, apply ? "config apply" : "config plan", plan_usage);
  r = parse_remote(&cli, argc, argv, &file);
  if (r >= 0) return r; /* --help or a usage error */
  if (file && read_config(&cli, file, &text, &len) != 0) return 1;
  r = flyq__cli_connect(&cli, NULL);
  if (r == 0) {
    r = apply ? flyq_client_config_apply(cli.client, text, len, file, &plan)
              : flyq_client_config_plan(cli.client, text, len, file, &plan);
    r = r < 0 ? flyq__cli_client_error(&cli, r) : report(&plan, apply);
  }
  flyq__cli_close(&cli);
  free(text);
  return r;
}

static int plan_cmd(int argc, char **argv) { return remote(argc, argv, 0); }
static int apply_cmd(int argc, char **argv) { return remote(argc, argv, 1); }

int flyq__cmd_config(int argc, char **argv) {
  static const flyq__cli_sub_t subs[] = {
      {"check", check}, {"plan", plan_cmd}, {"apply", apply_cmd}};
  return flyq__cli_dispatch("config", usage, subs, sizeof subs / sizeof *subs,
                            argc, argv);
}
