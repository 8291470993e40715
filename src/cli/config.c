/* `flyq config`: checks a broker config file without starting a broker
 * (`check`); `plan` and `apply`, which will compare a file with a running
 * broker and apply it, are not implemented yet. The file format is in
 * docs/config.md; loading is flyq_config_load (src/host/config.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "flyq/config.h"

static const char usage[] =
    "usage: flyq config check [-c FILE]\n"
    "       flyq config plan [-c FILE]    (not implemented yet)\n"
    "       flyq config apply [-c FILE]   (not implemented yet)\n"
    "\n"
    "Commands:\n"
    "  check   run FILE in the config sandbox and check every key against\n"
    "          the schema, without starting a broker; prints\n"
    "          \"ok: FILE (N topics)\", or the error (FILE: key.path: reason)\n"
    "          and exits 1\n"
    "  plan    show what apply would change on a running broker\n"
    "          (not implemented yet: exits 2)\n"
    "  apply   create and update the file's topics on a running broker\n"
    "          (not implemented yet: exits 2)\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   the config file; without it, the built-in\n"
    "                      defaults (what `flyq serve` uses without -c)\n"
    "  -h, --help          show this help\n"
    "\n"
    "Exit status: 0 valid, 1 invalid, 2 usage error or not implemented.\n"
    "The file format is described in docs/config.md.\n";

static int usage_error(const char *fmt, const char *arg) {
  fputs("flyq config: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\ntry 'flyq config --help'\n", stderr);
  return 2;
}

/* Parses [-c FILE] [-h] after the subcommand (argv[0]). *file stays NULL
 * without -c. Returns -1 to go on, else the exit status. */
static int parse_flags(int argc, char **argv, const char **file) {
  static const struct option longopts[] = {{"config", required_argument, 0, 'c'},
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
  if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
  return -1;
}

/* flyq config check: 0 valid, 1 invalid. */
static int check(const char *file) {
  flyq_config_t cfg;
  char err[1024];
  int r = flyq_config_init(&cfg);
  if (r < 0) {
    fputs("flyq config check: out of memory\n", stderr);
    return 1;
  }
  if (file != NULL && flyq_config_load(&cfg, file, err, sizeof err) < 0) {
    fprintf(stderr, "%s\n", err);
    flyq_config_free(&cfg);
    return 1;
  }
  printf("ok: %s (%zu topic%s)\n", file ? file : "no file, built-in defaults",
         cfg.ntopics, cfg.ntopics == 1 ? "" : "s");
  flyq_config_free(&cfg);
  return 0;
}

int flyq__cmd_config(int argc, char **argv) {
  const char *file = NULL;
  const char *cmd = argc > 1 ? argv[1] : NULL;
  int r;
  if (cmd == NULL) return usage_error("missing command: %s", "check, plan or apply");
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "help") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  if (strcmp(cmd, "check") != 0 && strcmp(cmd, "plan") != 0 &&
      strcmp(cmd, "apply") != 0)
    return usage_error("unknown command '%s'", cmd);
  r = parse_flags(argc - 1, argv + 1, &file);
  if (r >= 0) return r;
  if (strcmp(cmd, "check") == 0) return check(file);
  fprintf(stderr, "flyq config %s: not implemented yet\n", cmd);
  return 2;
}
