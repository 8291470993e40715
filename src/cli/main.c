/* The `flyq` executable: dispatches argv[1] to a subcommand (commands.h),
 * and answers `flyq help [COMMAND]`, `flyq --help` and `flyq --version`
 * itself. Each subcommand gets argv shifted by one (argv[0] is its name)
 * and returns the exit status.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "flyq/common.h"

typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command_t;

static const command_t commands[] = {
    {"serve", flyq__cmd_serve, "run the broker"},
    {"produce", flyq__cmd_produce, "send one message per line of stdin"},
    {"consume", flyq__cmd_consume, "print the messages of a topic"},
    {"topic", flyq__cmd_topic, "create, list, describe and delete topics"},
    {"group", flyq__cmd_group, "list, describe and reset consumer groups"},
    {"bench", flyq__cmd_bench, "measure produce and consume throughput"},
    {"config", flyq__cmd_config, "check, plan and apply a broker config file"},
    {"plugin", flyq__cmd_plugin, "run a plugin on sample records"},
    {"stats", flyq__cmd_stats, "print the broker's and its plugins' counters"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f) {
  fputs("usage: flyq COMMAND [ARGS...]\n"
        "       flyq help [COMMAND]\n"
        "       flyq --version\n"
        "\n"
        "Commands:\n",
        f);
  for (size_t i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fputs("\n"
        "Run 'flyq COMMAND --help' for the flags of a command. Client\n"
        "commands take -b/--broker HOST:PORT (env FLYQ_BROKER, default\n"
        "127.0.0.1:7500) and --token TOKEN (env FLYQ_TOKEN).\n",
        f);
}

static const command_t *find(const char *name) {
  for (size_t i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

static int unknown(const char *name) {
  fprintf(stderr, "flyq: unknown command '%s'\ntry 'flyq help'\n", name);
  return 2;
}

/* flyq help [COMMAND]: the command list, or COMMAND's --help. */
static int help(int argc, char **argv) {
  static char flag[] = "--help";
  const command_t *cmd;
  char *args[3];
  if (argc < 3) {
    usage(stdout);
    return 0;
  }
  cmd = find(argv[2]);
  if (cmd == NULL) return unknown(argv[2]);
  args[0] = argv[2];
  args[1] = flag;
  args[2] = NULL;
  return cmd->run(2, args);
}

int main(int argc, char **argv) {
  const command_t *cmd;
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0)
    return help(argc, argv);
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
      strcmp(argv[1], "version") == 0) {
    printf("flyq %s\n", FLYQ_VERSION);
    return 0;
  }
  if (argv[1][0] == '-') {
    fprintf(stderr, "flyq: unknown option '%s'\ntry 'flyq help'\n", argv[1]);
    return 2;
  }
  cmd = find(argv[1]);
  if (cmd == NULL) return unknown(argv[1]);
  return cmd->run(argc - 1, argv + 1);
}
