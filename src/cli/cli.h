/* Plumbing shared by the client subcommands of `flyq` (produce, consume,
 * topic, group, bench): the common flags (-b/--broker, --token, -h/--help),
 * usage and error messages in one format ("flyq CMD: what: ..."),
 * connecting and authenticating, number parsing, topic metadata and JSON
 * string output. Implemented in cli.c.
 *
 * Exit statuses of every subcommand: 0 success, 1 failure (connection,
 * broker error, bad data), 2 usage error.
 */
#ifndef FLYQ_CLI_CLI_H
#define FLYQ_CLI_CLI_H

#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flyq/client.h"
#include "flyq/proto.h" /* wire error names */
#include "cli/text.h" /* the escapes of every message */

#define FLYQ_CLI_DEFAULT_BROKER "127.0.0.1:7500"
#define FLYQ_CLI_CONNECT_TIMEOUT_MS 10000

/* getopt_long values of the long-only flags. Commands number their own
 * long-only flags from FLYQ_CLI_OPT_FIRST. */
enum { FLYQ_CLI_OPT_TOKEN = 0x100, FLYQ_CLI_OPT_FIRST };

/* The common flags, to put first in every command's option table, and the
 * short-option prefix of every command's optstring (':' makes a missing
 * value its own error). */
#define FLYQ_CLI_COMMON_LONGOPTS                                               \
  {"broker", required_argument, NULL, 'b'},                                    \
      {"token", required_argument, NULL, FLYQ_CLI_OPT_TOKEN}, {                \
    "help", no_argument, NULL, 'h'                                             \
  }
#define FLYQ_CLI_COMMON_SHORTOPTS ":b:h"

/* The help lines of the common flags, for every command's usage text. */
#define FLYQ_CLI_COMMON_HELP                                                   \
  "  -b, --broker HOST:PORT  broker address (env FLYQ_BROKER;\n"               \
  "                          default " FLYQ_CLI_DEFAULT_BROKER ")\n"           \
  "      --token TOKEN       authenticate with this token (env FLYQ_TOKEN)\n"  \
  "  -h, --help              show this help\n"

typedef struct flyq__cli {
  const char *cmd;       /* "produce", "topic create": prefixes messages */
  const char *usage;     /* the --help text */
  const char *broker;    /* -b, FLYQ_BROKER or the default */
  const char *token;     /* --token or FLYQ_TOKEN; NULL = none */
  flyq_client_t *client; /* set by flyq__cli_connect */
} flyq__cli_t;

/* Fills cli from the environment and resets getopt for a new parse. cmd and
 * usage must stay valid while cli is used. */
void flyq__cli_init(flyq__cli_t *cli, const char *cmd, const char *usage);

/* Handles what getopt_long returned for a flag the command does not handle
 * itself: the common flags, --help (prints the usage), unknown flags and
 * missing values. Returns -1 to go on parsing, else the exit status. */
int flyq__cli_common_opt(flyq__cli_t *cli, int opt, char **argv);

/* Checks that exactly n positional arguments remain after the flags and
 * stores them in out[0..n). names ("TOPIC", ...) are for the error. Returns
 * -1 to go on, else the exit status (2). */
int flyq__cli_positionals(flyq__cli_t *cli, int argc, char **argv, int n,
                          const char **out, const char *const *names);

/* Parses a command line that has only the common flags and n positional
 * arguments (flyq__cli_positionals). Returns -1 to go on, else the exit
 * status. */
int flyq__cli_parse_plain(flyq__cli_t *cli, int argc, char **argv, int n,
                          const char **out, const char *const *names);

/* The messages below go to stderr as one line each, with the escapes of
 * text.h: they may quote the broker's or a plugin's text. */

/* Prints "flyq CMD: <message>\ntry 'flyq CMD --help'" to stderr; returns 2. */
int flyq__cli_usage_error(const flyq__cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "flyq CMD: <message>" to stderr. */
void flyq__cli_error(const flyq__cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* flyq__cli_error with a va_list. */
void flyq__cli_verror(const flyq__cli_t *cli, const char *fmt, va_list ap);

/* Prints the client's last error (or flyq_strerror(err) when it has no
 * text) as "flyq CMD: <text>"; returns 1. */
int flyq__cli_client_error(const flyq__cli_t *cli, int err);

/* Creates cli->client with opts (may be NULL: defaults), connects to
 * cli->broker and authenticates with the token when there is one. Returns 0,
 * or prints the error and returns 1 (cli->client is then NULL). */
int flyq__cli_connect(flyq__cli_t *cli, const flyq_client_options_t *opts);

/* Closes cli->client (may be NULL). */
void flyq__cli_close(flyq__cli_t *cli);

/* Parses a whole decimal integer within [min, max]. Returns 0 or -1. */
int flyq__cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parses 0, 1, all (or -1) into FLYQ_ACKS_*. Returns 0 or -1. */
int flyq__cli_parse_acks(const char *s, int *acks);

/* A subcommand of a command with subcommands (topic, group, bench). run
 * gets argv shifted so that argv[0] is its name. */
typedef struct flyq__cli_sub {
  const char *name;
  int (*run)(int argc, char **argv);
} flyq__cli_sub_t;

/* Runs the subcommand named by argv[1] of command cmd (argv[0]); answers
 * help, -h and --help with usage; a missing or unknown subcommand is a
 * usage error (2). Returns the exit status. */
int flyq__cli_dispatch(const char *cmd, const char *usage,
                       const flyq__cli_sub_t *subs, size_t nsubs, int argc,
                       char **argv);

/* Formats Unix ms as "2024-05-01T12:00:00.123Z" (UTC) into buf (at least
 * 32 bytes); a negative value gives "-". Returns buf. */
const char *flyq__cli_format_ms(int64_t ms, char *buf, size_t len);

/* Fetches the metadata of one topic. On success *md (free with
 * flyq_metadata_free) holds it and *t points at the topic. Otherwise prints
 * the error (an unknown topic included) and returns 1 with *md NULL. */
int flyq__cli_topic_meta(flyq__cli_t *cli, const char *topic,
                         flyq_metadata_t **md, const flyq_topic_info_t **t);

/* Writes s[0..len) to f as a JSON string with its quotes: valid UTF-8 as
 * is, '"', '\\' and control characters escaped, and every byte that is not
 * part of valid UTF-8 as \u00XX. */
void flyq__cli_json_string(FILE *f, const uint8_t *s, size_t len);

/* Writes s[0..len) to f as a JSON string of its base64 (RFC 4648, with
 * padding): how `--json` output carries bytes that are not UTF-8. */
void flyq__cli_json_base64(FILE *f, const uint8_t *s, size_t len);

/* Decodes base64 text[0..len) into *out (malloc'd, the caller frees) of
 * *n bytes. Returns 0, -EINVAL (not base64) or -ENOMEM. */
int flyq__cli_base64_decode(const char *text, size_t len, uint8_t **out,
                            size_t *n);

/* Monotonic clock in nanoseconds. */
int64_t flyq__cli_now_ns(void);

#endif /* FLYQ_CLI_CLI_H */
