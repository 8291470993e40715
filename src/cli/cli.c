/* Plumbing shared by the client subcommands (see cli.h): common flags,
 * messages, connecting, number parsing, topic metadata and JSON strings.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/base64.h>

#include "cli/cli.h"
#include "util/utf8.h"

void flyq__cli_init(flyq__cli_t *cli, const char *cmd, const char *usage) {
  const char *env = getenv("FLYQ_BROKER");
  memset(cli, 0, sizeof(*cli));
  cli->cmd = cmd;
  cli->usage = usage;
  cli->broker = env && *env ? env : FLYQ_CLI_DEFAULT_BROKER;
  env = getenv("FLYQ_TOKEN");
  cli->token = env && *env ? env : NULL;
  opterr = 0;
  optind = 0; /* glibc: a full reset, another parse may have run */
}

void flyq__cli_verror(const flyq__cli_t *cli, const char *fmt, va_list ap) {
  fprintf(stderr, "flyq %s: ", cli->cmd);
  flyq__cli_vline(stderr, fmt, ap);
}

int flyq__cli_usage_error(const flyq__cli_t *cli, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  flyq__cli_verror(cli, fmt, ap);
  va_end(ap);
  fprintf(stderr, "try 'flyq %s --help'\n", cli->cmd);
  return 2;
}

void flyq__cli_error(const flyq__cli_t *cli, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  flyq__cli_verror(cli, fmt, ap);
  va_end(ap);
}

int flyq__cli_client_error(const flyq__cli_t *cli, int err) {
  const char *msg = cli->client ? flyq_client_errmsg(cli->client) : "";
  flyq__cli_error(cli, "%s", *msg ? msg : flyq_strerror(err));
  return 1;
}

/* getopt_long returned '?': an unknown flag, or a value given to a long
 * flag that takes none. */
static int bad_option(flyq__cli_t *cli, char **argv) {
  const char *arg = argv[optind - 1];
  if (optopt != 0 && strncmp(arg, "--", 2) == 0 && strchr(arg, '='))
    return flyq__cli_usage_error(cli, "option '%s' takes no value", arg);
  if (optopt > 0 && optopt < 0x100)
    return flyq__cli_usage_error(cli, "unknown option '-%c'", optopt);
  return flyq__cli_usage_error(cli, "unknown option '%s'", arg);
}

int flyq__cli_common_opt(flyq__cli_t *cli, int opt, char **argv) {
  switch (opt) {
  case 'b': cli->broker = optarg; return -1;
  case FLYQ_CLI_OPT_TOKEN: cli->token = optarg; return -1;
  case 'h': return fputs(cli->usage, stdout) == EOF;
  case ':':
    return flyq__cli_usage_error(cli, "option '%s' needs a value",
                                 argv[optind - 1]);
  default: return bad_option(cli, argv);
  }
}

int flyq__cli_positionals(flyq__cli_t *cli, int argc, char **argv, int n,
                          const char **out, const char *const *names) {
  int have = argc - optind;
  if (have > n)
    return flyq__cli_usage_error(cli, "unexpected argument '%s'",
                                 argv[optind + n]);
  if (have < n) return flyq__cli_usage_error(cli, "missing %s", names[have]);
  for (int i = 0; i < n; i++) {
    if (argv[optind + i][0] == '\0')
      return flyq__cli_usage_error(cli, "empty %s", names[i]);
    out[i] = argv[optind + i];
  }
  return -1;
}

int flyq__cli_parse_plain(flyq__cli_t *cli, int argc, char **argv, int n,
                          const char **out, const char *const *names) {
  static const struct option longopts[] = {FLYQ_CLI_COMMON_LONGOPTS,
                                           {NULL, 0, NULL, 0}};
  int opt, r;
  while ((opt = getopt_long(argc, argv, FLYQ_CLI_COMMON_SHORTOPTS, longopts,
                            NULL)) != -1)
    if ((r = flyq__cli_common_opt(cli, opt, argv)) >= 0) return r;
  return flyq__cli_positionals(cli, argc, argv, n, out, names);
}

int flyq__cli_connect(flyq__cli_t *cli, const flyq_client_options_t *opts) {
  const char *what;
  int r = flyq_client_new(opts, &cli->client);
  if (r < 0) {
    flyq__cli_error(cli, "creating the client: %s", flyq_strerror(r));
    return 1;
  }
  r = flyq_client_connect(cli->client, cli->broker,
                          FLYQ_CLI_CONNECT_TIMEOUT_MS);
  what = "connecting to";
  if (r == 0 && cli->token != NULL) {
    r = flyq_client_authenticate(cli->client, "token", cli->token,
                                 strlen(cli->token), NULL);
    what = "authenticating to";
  }
  if (r == 0) return 0;
  flyq__cli_error(cli, "%s %s: %s", what, cli->broker,
                  *flyq_client_errmsg(cli->client)
                      ? flyq_client_errmsg(cli->client)
                      : flyq_strerror(r));
  flyq__cli_close(cli);
  return 1;
}

void flyq__cli_close(flyq__cli_t *cli) {
  flyq_client_close(cli->client);
  cli->client = NULL;
}

int flyq__cli_dispatch(const char *cmd, const char *usage,
                       const flyq__cli_sub_t *subs, size_t nsubs, int argc,
                       char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL;
  if (sub == NULL) {
    fprintf(stderr, "flyq %s: missing subcommand\ntry 'flyq %s --help'\n", cmd,
            cmd);
    return 2;
  }
  if (strcmp(sub, "help") == 0 || strcmp(sub, "-h") == 0 ||
      strcmp(sub, "--help") == 0)
    return fputs(usage, stdout) == EOF;
  for (size_t i = 0; i < nsubs; i++)
    if (strcmp(subs[i].name, sub) == 0) return subs[i].run(argc - 1, argv + 1);
  fprintf(stderr, "flyq %s: unknown %s '%s'\ntry 'flyq %s --help'\n", cmd,
          sub[0] == '-' ? "option" : "subcommand", sub, cmd);
  return 2;
}

const char *flyq__cli_format_ms(int64_t ms, char *buf, size_t len) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  if (ms < 0 || gmtime_r(&secs, &tm) == NULL) {
    snprintf(buf, len, "-");
    return buf;
  }
  snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
           (int)(ms % 1000));
  return buf;
}

int flyq__cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
  char *end;
  long long v;
  if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9'))) return -1;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max) return -1;
  *out = v;
  return 0;
}

int flyq__cli_parse_acks(const char *s, int *acks) {
  if (strcmp(s, "all") == 0 || strcmp(s, "-1") == 0) *acks = FLYQ_ACKS_ALL;
  else if (strcmp(s, "1") == 0) *acks = FLYQ_ACKS_LEADER;
  else if (strcmp(s, "0") == 0) *acks = FLYQ_ACKS_NONE;
  else return -1;
  return 0;
}

/* The entry for topic in md, or NULL. */
static const flyq_topic_info_t *find_topic(const flyq_metadata_t *md,
                                           const char *topic) {
  for (size_t i = 0; i < md->ntopics; i++)
    if (strcmp(md->topics[i].name, topic) == 0) return &md->topics[i];
  return NULL;
}

int flyq__cli_topic_meta(flyq__cli_t *cli, const char *topic,
                         flyq_metadata_t **md, const flyq_topic_info_t **t) {
  int r = flyq_client_metadata(cli->client, topic, md);
  if (r < 0) {
    *md = NULL;
    return flyq__cli_client_error(cli, r);
  }
  *t = find_topic(*md, topic);
  if (*t != NULL && (*t)->error_code == 0) return 0;
  if (*t == NULL)
    flyq__cli_error(cli, "topic '%s': not in the broker's answer", topic);
  else if ((*t)->error_code == FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION)
    flyq__cli_error(cli, "topic '%s': unknown topic", topic);
  else
    flyq__cli_error(cli, "topic '%s': %s", topic,
                    flyq_wire_errname((*t)->error_code));
  flyq_metadata_free(*md);
  *md = NULL;
  *t = NULL;
  return 1;
}

/* Writes the escape for byte c (a control character, '"', '\\' or a byte
 * outside valid UTF-8). */
static void json_escape(FILE *f, uint8_t c) {
  switch (c) {
  case '"': fputs("\\\"", f); break;
  case '\\': fputs("\\\\", f); break;
  case '\n': fputs("\\n", f); break;
  case '\r': fputs("\\r", f); break;
  case '\t': fputs("\\t", f); break;
  case '\b': fputs("\\b", f); break;
  case '\f': fputs("\\f", f); break;
  default: fprintf(f, "\\u%04x", c); break;
  }
}

void flyq__cli_json_string(FILE *f, const uint8_t *s, size_t len) {
  size_t run = 0, i = 0;
  fputc('"', f);
  if (len == 0) {
    fputc('"', f);
    return;
  }
  while (i < len) {
    size_t n = s[i] < 0x20 || s[i] == '"' || s[i] == '\\'
                   ? 0
                   : flyq__utf8_len(s + i, len - i);
    if (n > 0) {
      i += n;
      continue;
    }
    fwrite(s + run, 1, i - run, f);
    json_escape(f, s[i]);
    run = ++i;
  }
  fwrite(s + run, 1, i - run, f);
  fputc('"', f);
}

void flyq__cli_json_base64(FILE *f, const uint8_t *s, size_t len) {
  enum { CHUNK = 3 * 1024 }; /* a multiple of 3: no padding inside */
  char out[BASE64_ENCODE_RAW_LENGTH(CHUNK)];
  fputc('"', f);
  for (size_t i = 0; i < len; i += CHUNK) {
    size_t n = len - i < CHUNK ? len - i : CHUNK;
    base64_encode_raw(out, n, s + i);
    fwrite(out, 1, BASE64_ENCODE_RAW_LENGTH(n), f);
  }
  fputc('"', f);
}

int flyq__cli_base64_decode(const char *text, size_t len, uint8_t **out,
                            size_t *n) {
  struct base64_decode_ctx ctx;
  uint8_t *buf = malloc(BASE64_DECODE_LENGTH(len) + 1);
  size_t got = BASE64_DECODE_LENGTH(len) + 1;
  if (buf == NULL) return -ENOMEM;
  base64_decode_init(&ctx);
  if (!base64_decode_update(&ctx, &got, buf, len, text) ||
      !base64_decode_final(&ctx)) {
    free(buf);
    return -EINVAL;
  }
  *out = buf;
  *n = got;
  return 0;
}

int64_t flyq__cli_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
