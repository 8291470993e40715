/* Subcommands of the `flyq` executable. main.c dispatches argv[1] to one of
 * these; each parses its own flags (and --help) and returns the process exit
 * status. */
#ifndef FLYQ_CLI_COMMANDS_H
#define FLYQ_CLI_COMMANDS_H

int flyq__cmd_serve(int argc, char **argv);   /* serve.c */
int flyq__cmd_produce(int argc, char **argv); /* produce.c */
int flyq__cmd_consume(int argc, char **argv); /* consume.c */
int flyq__cmd_topic(int argc, char **argv);   /* topic.c */
int flyq__cmd_group(int argc, char **argv);   /* group.c */
int flyq__cmd_bench(int argc, char **argv);   /* bench.c */
int flyq__cmd_config(int argc, char **argv);  /* config.c (check/plan/apply) */
int flyq__cmd_plugin(int argc, char **argv);  /* plugin.c (test) */

#endif /* FLYQ_CLI_COMMANDS_H */
