/* Subcommands of the `flyq` executable. main.c dispatches argv[1] to one of
 * these; each parses its own flags (and --help) and returns the process exit
 * status. */
#ifndef FLYQ_CLI_COMMANDS_H
#define FLYQ_CLI_COMMANDS_H

#include "flyq/config.h"
#include "flyq/plugins.h"

int flyq__cmd_serve(int argc, char **argv);   /* serve.c */
int flyq__cmd_produce(int argc, char **argv); /* produce.c */
int flyq__cmd_consume(int argc, char **argv); /* consume.c */
int flyq__cmd_topic(int argc, char **argv);   /* topic.c */
int flyq__cmd_group(int argc, char **argv);   /* group.c */
int flyq__cmd_bench(int argc, char **argv);   /* bench.c */
int flyq__cmd_config(int argc, char **argv);  /* config.c (check/plan/apply) */
int flyq__cmd_plugin(int argc, char **argv);  /* plugin.c (test) */
int flyq__cmd_stats(int argc, char **argv);   /* stats.c */

/* What `flyq serve` checks of a loaded config before it opens anything,
 * shared with `flyq config check` (serve.c): the plugin runtime builds (every
 * plugin found, loaded, its params valid, its init run) and the listen
 * address is valid and allowed (loopback, or auth, or allow_anonymous).
 * listen_flag: cfg->listen comes from `--listen`, not from the file (for
 * messages). On success returns -1 and *rt owns the runtime; otherwise
 * prints one line "flyq CMD: ..." on stderr, leaves *rt NULL and returns
 * the exit status 1. */
int flyq__serve_preflight(const flyq_config_t *cfg, int listen_flag,
                          const char *cmd, flyq_plugins_t **rt);

/* The last line of a config plan (config.c), as `flyq config plan` and
 * `apply` print it and a reload logs it: changes (lines that take effect
 * at once; applied: they were made), restarts (restart-only settings,
 * which wait for the next start), errors, and drift (topics kept, not
 * counted as changes). Writes at most len bytes to buf. */
void flyq__config_summary(char *buf, size_t len, size_t changes,
                          size_t restarts, size_t errors, size_t drift,
                          int applied);

#endif /* FLYQ_CLI_COMMANDS_H */
