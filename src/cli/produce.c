/* `flyq produce TOPIC`: one message per line of stdin. Lines are added to a
 * record batch that is sent with produce_async once it holds BATCH_RECORDS
 * records or BATCH_BYTES bytes, so several requests are in flight while the
 * next batch fills. Silent on success; every failed request is reported on
 * stderr and makes the exit status 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/lines.h"

#define BATCH_RECORDS 1000
#define BATCH_BYTES (1024 * 1024)
/* The longest line sent: what fits one request frame of the broker's
 * default max_frame_bytes (16 MiB) with room for the headers. A longer
 * frame would make the broker close the connection; longer lines are
 * skipped and reported instead. */
#define MAX_LINE ((size_t)16 * 1024 * 1024 - 64 * 1024)
#define MAX_ERRORS_SHOWN 10
/* How long to wait for the last acknowledgements once stdin is sent. */
#define FLUSH_TIMEOUT_MS 60000

static const char usage[] =
    "usage: flyq produce TOPIC [-k KEY | --key-sep SEP] [-p N]\n"
    "                    [--acks 0|1|all] [-H NAME=VALUE]...\n"
    "\n"
    "Sends one message per line of stdin to TOPIC (the trailing newline is\n"
    "not part of the message). Messages are batched and pipelined. Silent\n"
    "on success; errors go to stderr. A line longer than 16320 KiB (what\n"
    "fits the broker's default 16 MiB frame) is skipped and reported.\n"
    "\n"
    "Options:\n"
    "  -k, --key KEY           the same key for every message\n"
    "      --key-sep SEP       split each line at the first SEP into key and\n"
    "                          value (a line without SEP: null key, the whole\n"
    "                          line is the value)\n"
    "  -p, --partition N       partition (default -1: the broker's\n"
    "                          partitioner, by key hash or round-robin)\n"
    "      --acks 0|1|all      0: do not wait, 1: after the append (default),\n"
    "                          all: after the fsync\n"
    "  -H, --header NAME=VALUE add this header to every message\n"
    "                          (repeatable)\n" FLYQ_CLI_COMMON_HELP "\n"
    "Exit status: 0 every message acknowledged (with --acks 0: written),\n"
    "1 otherwise, 2 usage error.\n";

enum { OPT_KEY_SEP = FLYQ_CLI_OPT_FIRST, OPT_ACKS };

typedef struct produce {
  flyq__cli_t cli;
  const char *topic;
  int32_t partition;
  int acks;
  const char *key;     /* -k, or NULL */
  const char *key_sep; /* --key-sep, or NULL */
  size_t key_sep_len;
  flyq_record_header_t *headers; /* -H */
  int32_t nheaders;
  flyq_batch_builder_t batch;
  int64_t lines, failed;
  int errors_shown;
  int idle_err; /* send error from on_idle (reported) */
} produce_t;

/* Reports one failure (only the first MAX_ERRORS_SHOWN are shown). */
static void report(produce_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void report(produce_t *p, const char *fmt, ...) {
  va_list ap;
  if (p->errors_shown++ >= MAX_ERRORS_SHOWN) return;
  va_start(ap, fmt);
  flyq__cli_verror(&p->cli, fmt, ap);
  va_end(ap);
}

/* The partition of the first failed part (or the one asked for). */
static int32_t failed_partition(const produce_t *p,
                                const flyq_produce_result_t *res) {
  for (size_t i = 0; i < res->nparts; i++)
    if (res->parts[i].error_code != 0) return res->parts[i].partition;
  return p->partition;
}

/* One request in flight: what its callback needs to know. */
typedef struct request {
  produce_t *p;
  int32_t records;
} request_t;

static void on_result(flyq_client_t *c, const flyq_produce_result_t *res,
                      void *arg) {
  request_t *req = arg;
  produce_t *p = req->p;
  int32_t n = req->records;
  (void)c;
  free(req);
  if (res->err == 0) return;
  p->failed += n;
  if (res->error_code != 0)
    report(p, "producing %d message%s to %s[%d]: %s%s%s", (int)n,
           n == 1 ? "" : "s", p->topic, (int)failed_partition(p, res),
           flyq_wire_errname(res->error_code), res->error_message ? ": " : "",
           res->error_message ? res->error_message : "");
  else
    report(p, "producing %d message%s to %s: %s", (int)n, n == 1 ? "" : "s",
           p->topic,
           res->error_message && *res->error_message ? res->error_message
                                                     : flyq_strerror(res->err));
}

/* Sends the batch being filled (if any). Returns 0 or the error of
 * produce_async (reported; the batch's messages count as failed). */
static int send_batch(produce_t *p) {
  const uint8_t *bytes;
  size_t len;
  request_t *req;
  int r;
  if (p->batch.count == 0) return 0;
  req = malloc(sizeof(*req));
  r = req ? flyq_batch_builder_finish(&p->batch, &bytes, &len) : -ENOMEM;
  if (r == 0) {
    req->p = p;
    req->records = p->batch.count;
    r = flyq_client_produce_async(p->cli.client, p->topic, p->partition,
                                  p->acks, bytes, len, on_result, req);
  }
  if (r < 0) {
    free(req);
    p->failed += p->batch.count;
    report(p, "producing %d message%s to %s: %s", (int)p->batch.count,
           p->batch.count == 1 ? "" : "s", p->topic,
           *flyq_client_errmsg(p->cli.client)
               ? flyq_client_errmsg(p->cli.client)
               : flyq_strerror(r));
  }
  flyq_batch_builder_reset(&p->batch);
  return r;
}

/* Adds one message to the batch, sending the batch when it is full (or
 * first, when the message does not fit). A message the builder refuses is
 * reported and counted; only -ENOMEM and send errors stop the input. */
static int add_record(produce_t *p, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len) {
  int r;
  if (p->batch.count > 0 && p->batch.len + key_len + value_len > BATCH_BYTES &&
      (r = send_batch(p)) < 0)
    return r; /* a large message goes alone */
  r = flyq_batch_builder_add(&p->batch, flyq_now_ms(), key, (int32_t)key_len,
                             value, (int32_t)value_len, p->headers,
                             p->nheaders);
  if (r == FLYQ_ERR_TOO_LARGE && p->batch.count > 0) {
    r = send_batch(p);
    if (r == 0) return add_record(p, key, key_len, value, value_len);
    return r;
  }
  if (r < 0) {
    p->failed++;
    report(p, "line %lld: %s", (long long)p->lines, flyq_strerror(r));
    return r == -ENOMEM ? r : 0;
  }
  if (p->batch.count >= BATCH_RECORDS || p->batch.len >= BATCH_BYTES)
    return send_batch(p);
  return 0;
}

/* Adds one line: the key from -k, or split off at --key-sep. */
static int add_line(produce_t *p, const uint8_t *line, size_t len) {
  const uint8_t *sep;
  if (p->key != NULL)
    return add_record(p, (const uint8_t *)p->key, strlen(p->key), line, len);
  if (p->key_sep == NULL) return add_record(p, NULL, 0, line, len);
  sep = memmem(line, len, p->key_sep, p->key_sep_len);
  if (sep == NULL) return add_record(p, NULL, 0, line, len);
  return add_record(p, line, (size_t)(sep - line), sep + p->key_sep_len,
                    len - (size_t)(sep - line) - p->key_sep_len);
}

/* Input is slow (nothing to read yet): sends what is batched so far and
 * serves the acknowledgements that came in. */
static int on_idle(void *arg) {
  produce_t *p = arg;
  int r = send_batch(p);
  if (r == 0 && flyq_client_inflight(p->cli.client) > 0)
    (void)flyq_client_poll(p->cli.client, 0); /* failures: on_result */
  p->idle_err = r;
  return r;
}

/* Reads stdin to the end and sends every line. Stops early only when a
 * batch cannot be sent (the connection is lost) or stdin cannot be read.
 * Returns 0 or that error (already reported). */
static int pump_stdin(produce_t *p) {
  flyq__lines_t lines;
  const uint8_t *line;
  size_t len;
  int r, sent = 0;
  flyq__lines_init(&lines, STDIN_FILENO, MAX_LINE, on_idle, p);
  while (sent == 0 && (r = flyq__lines_next(&lines, &line, &len)) > 0) {
    p->lines++;
    if (r == FLYQ_LINES_LINE) {
      sent = add_line(p, line, len);
      continue;
    }
    p->failed++;
    report(p,
           "line %lld: %zu bytes, longer than the maximum message size "
           "(%zu)",
           (long long)p->lines, len, MAX_LINE);
  }
  flyq__lines_free(&lines);
  if (sent < 0) return sent;
  if (r < 0 && p->idle_err < 0) return r;
  if (r < 0) report(p, "reading stdin: %s", flyq_strerror(r));
  sent = send_batch(p);
  return r < 0 ? r : sent;
}

/* Adds one -H NAME=VALUE. Returns -1 to go on, else the exit status. */
static int add_header(produce_t *p, char *arg) {
  char *eq = strchr(arg, '=');
  flyq_record_header_t *h;
  if (eq == NULL || eq == arg)
    return flyq__cli_usage_error(&p->cli, "bad header '%s' (NAME=VALUE)", arg);
  h = realloc(p->headers, (size_t)(p->nheaders + 1) * sizeof(*h));
  if (h == NULL) {
    flyq__cli_error(&p->cli, "out of memory");
    return 1;
  }
  p->headers = h;
  h = &h[p->nheaders++];
  h->key = (const uint8_t *)arg;
  h->key_len = (int32_t)(eq - arg);
  h->value = (const uint8_t *)eq + 1;
  h->value_len = (int32_t)strlen(eq + 1);
  return -1;
}

/* Handles one flag of produce. Returns -1 to go on, else the exit status. */
static int flag(produce_t *p, int opt, char **argv) {
  int64_t v;
  switch (opt) {
  case 'k': p->key = optarg; return -1;
  case OPT_KEY_SEP:
    p->key_sep = optarg;
    p->key_sep_len = strlen(optarg);
    if (p->key_sep_len > 0) return -1;
    return flyq__cli_usage_error(&p->cli, "--key-sep must not be empty");
  case 'p':
    if (flyq__cli_parse_i64(optarg, -1, INT32_MAX, &v) < 0)
      return flyq__cli_usage_error(&p->cli, "bad partition '%s'", optarg);
    p->partition = (int32_t)v;
    return -1;
  case OPT_ACKS:
    if (flyq__cli_parse_acks(optarg, &p->acks) == 0) return -1;
    return flyq__cli_usage_error(&p->cli, "bad --acks '%s' (0, 1 or all)",
                                 optarg);
  case 'H': return add_header(p, optarg);
  default: return flyq__cli_common_opt(&p->cli, opt, argv);
  }
}

static int parse(produce_t *p, int argc, char **argv) {
  static const struct option longopts[] = {
      FLYQ_CLI_COMMON_LONGOPTS,
      {"key", required_argument, NULL, 'k'},
      {"key-sep", required_argument, NULL, OPT_KEY_SEP},
      {"partition", required_argument, NULL, 'p'},
      {"acks", required_argument, NULL, OPT_ACKS},
      {"header", required_argument, NULL, 'H'},
      {NULL, 0, NULL, 0}};
  static const char *const names[] = {"TOPIC"};
  int opt, r;
  while ((opt = getopt_long(argc, argv, FLYQ_CLI_COMMON_SHORTOPTS "k:p:H:",
                            longopts, NULL)) != -1)
    if ((r = flag(p, opt, argv)) >= 0) return r;
  if (p->key != NULL && p->key_sep != NULL)
    return flyq__cli_usage_error(&p->cli, "-k and --key-sep exclude each "
                                          "other");
  return flyq__cli_positionals(&p->cli, argc, argv, 1, &p->topic, names);
}

/* Connects, sends stdin and waits for every acknowledgement. */
static int run(produce_t *p) {
  int r = flyq__cli_connect(&p->cli, NULL);
  if (r != 0) return r;
  r = pump_stdin(p);
  if (flyq_client_connected(p->cli.client) &&
      flyq_client_flush(p->cli.client, FLUSH_TIMEOUT_MS) == FLYQ_ERR_TIMEOUT)
    report(p, "%zu requests still unanswered after %d ms",
           flyq_client_inflight(p->cli.client), FLUSH_TIMEOUT_MS);
  if (p->failed > 0 && p->errors_shown > 1)
    flyq__cli_error(&p->cli, "%lld of %lld messages not acknowledged",
                    (long long)p->failed, (long long)p->lines);
  if (r < 0)
    flyq__cli_error(&p->cli, "stopped after %lld lines", (long long)p->lines);
  return r < 0 || p->failed > 0 || flyq_client_inflight(p->cli.client) > 0;
}

int flyq__cmd_produce(int argc, char **argv) {
  produce_t p;
  int r;
  memset(&p, 0, sizeof(p));
  flyq__cli_init(&p.cli, "produce", usage);
  p.partition = -1;
  p.acks = FLYQ_ACKS_LEADER;
  flyq_batch_builder_init(&p.batch);
  r = parse(&p, argc, argv);
  if (r < 0) r = run(&p);
  flyq__cli_close(&p.cli);
  flyq_batch_builder_free(&p.batch);
  free(p.headers);
  return r;
}
