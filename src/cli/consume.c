/* `flyq consume TOPIC`: prints the messages of one partition or of every
 * partition of a topic (fetched in turn, so their messages interleave),
 * from a chosen start or a consumer group's committed offsets, until the
 * end of the log, a message count, or (with -f) SIGINT/SIGTERM. With -g the
 * position is committed after each printed fetch and at exit. With
 * --filter a plugin on the broker chooses the messages (Fetch version 1);
 * a partition it (or the topic's on_consume) fails on is reported and
 * left behind while the others go on. How a message is printed is in
 * output.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/output.h"

#define FETCH_MAX_BYTES (1024 * 1024)
#define FOLLOW_WAIT_MS 500
#define MIN_WAIT_MS 10
#define MAX_PARAMS 64

static const char usage[] =
    "usage: flyq consume TOPIC [-p N] [--from "
    "earliest|latest|OFFSET|@UNIX_MS]\n"
    "                    [-g GROUP] [-n COUNT] [-f] [--format FMT | --json]\n"
    "                    [--filter NAME [--param KEY=VALUE]...]\n"
    "\n"
    "Prints the messages of TOPIC, one value per line by default (a null\n"
    "value prints an empty line), and stops at the end of the log.\n"
    "\n"
    "Options:\n"
    "  -p, --partition N  only partition N (default: every partition,\n"
    "                     interleaved)\n"
    "      --from WHERE   where to start: earliest (default), latest, an\n"
    "                     offset, or @UNIX_MS (the first message stored at or\n"
    "                     after that time)\n"
    "  -g, --group GROUP  start at GROUP's committed offsets (--from where it\n"
    "                     has none) and commit the position after every\n"
    "                     fetch and at exit\n"
    "  -n, --count COUNT  stop after COUNT messages\n"
    "  -f, --follow       wait for new messages instead of stopping at the\n"
    "                     end, until SIGINT or SIGTERM\n"
    "      --format FMT   print each message as FMT: %t topic, %p partition,\n"
    "                     %o offset, %k key, %v value, %T timestamp (ms),\n"
    "                     %h headers as k=v,k2=v2, %% a percent sign;\n"
    "                     \\n newline, \\t tab, \\r return, \\\\ backslash\n"
    "                     (no newline is added)\n"
    "      --json         print each message as one JSON object per line:\n"
    "                     topic, partition, offset, timestamp, key, value,\n"
    "                     headers (an object); a key, value or header\n"
    "                     value that is not UTF-8 comes as base64 in\n"
    "                     key_b64, value_b64 or headers_b64 instead\n"
    "      --filter NAME  only the messages the plugin NAME (on the broker's\n"
    "                     plugin_path) keeps cross the network\n"
    "      --param K=V    a param of the filter (repeatable)\n" FLYQ_CLI_COMMON_HELP "\n"
    "A partition whose fetch a plugin fails on a record (PLUGIN_ERROR) is\n"
    "reported once, with how to skip the record, and left behind; the\n"
    "other partitions go on.\n"
    "\n"
    "Exit status: 0 done, 1 error (unknown topic, broker error, a partition\n"
    "a plugin failed on), 2 usage error.\n";

enum { OPT_FROM = FLYQ_CLI_OPT_FIRST, OPT_FORMAT, OPT_JSON, OPT_FILTER,
       OPT_PARAM };

typedef struct part {
  int32_t id;
  int64_t offset;    /* next to print */
  int64_t committed; /* last committed by us, -1 none */
  int done;          /* caught up (without -f), or failed */
  int failed;        /* a plugin failed on one of its records: reported,
                        not fetched again, offset stays before it */
} part_t;

typedef struct consume {
  flyq__cli_t cli;
  const char *topic;
  int32_t partition; /* -1: all */
  int64_t from;      /* FLYQ_OFFSET_EARLIEST / _LATEST, an offset, or */
  int from_time;     /* ... a time (from is Unix ms) */
  const char *group;
  int64_t max_count; /* 0: no limit */
  int64_t count;
  int follow;
  flyq__output_t out;
  part_t *parts;
  size_t nparts;
  size_t failed;     /* partitions failed (part_t.failed) */
  flyq_fetch_filter_t filter; /* name NULL: none */
  flyq_client_config_pair_t params[MAX_PARAMS];
  char *param_text[MAX_PARAMS]; /* "KEY\0VALUE" copies, owned */
} consume_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* SIGINT/SIGTERM ask the loop to stop (a second one kills). */
static void catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* Commits part's position for the group if it moved. Returns 0 or 1
 * (reported). */
static int commit(consume_t *cc, part_t *part) {
  int r;
  if (cc->group == NULL || part->offset == part->committed) return 0;
  if (fflush(stdout) != 0) return 1; /* not printed: not consumed */
  r = flyq_client_offset_commit(cc->cli.client, cc->group, cc->topic, part->id,
                                part->offset);
  if (r < 0) return flyq__cli_client_error(&cc->cli, r);
  part->committed = part->offset;
  return 0;
}

/* Where part starts: the group's commit, else --from. Returns 0 or 1. */
static int start_offset(consume_t *cc, part_t *part) {
  flyq_client_t *c = cc->cli.client;
  int r = 0;
  part->committed = -1;
  if (cc->group != NULL)
    r = flyq_client_offset_fetch(c, cc->group, cc->topic, part->id,
                                 &part->committed);
  if (r == 0 && part->committed >= 0) part->offset = part->committed;
  else if (r == 0 && (cc->from_time || cc->from < 0))
    r = flyq_client_list_offset(c, cc->topic, part->id, cc->from,
                                &part->offset);
  else if (r == 0) part->offset = cc->from;
  return r < 0 ? flyq__cli_client_error(&cc->cli, r) : 0;
}

/* Prints the records of one fetch result from part->offset on, advancing
 * it. Returns 0 or 1 (a bad batch, reported). */
static int print_records(consume_t *cc, part_t *part,
                         const flyq_fetch_result_t *res) {
  flyq_fetch_iter_t it;
  flyq_record_t rec;
  int r;
  flyq_fetch_iter_init(&it, res->records, res->records_len, part->offset);
  while ((r = flyq_fetch_iter_next(&it, &rec)) == 1) {
    flyq__output_record(&cc->out, part->id, &rec);
    part->offset = rec.offset + 1;
    if (++cc->count == cc->max_count) return 0;
  }
  if (r < 0) {
    flyq__cli_error(&cc->cli, "%s[%d] at offset %lld: %s", cc->topic,
                    (int)part->id, (long long)part->offset, flyq_strerror(r));
    return 1;
  }
  if (it.next_offset > part->offset) part->offset = it.next_offset;
  return 0;
}

/* The offset of the record a plugin failed on, from the broker's message
 * "plugin NAME: ... (on_consume, offset N)" (docs/protocol.md, Fetch), or
 * -1 when the message does not end so (cut short). */
static int64_t failed_offset(const char *msg) {
  const char *at = NULL, *p = msg;
  size_t n;
  while ((p = strstr(p, ", offset ")) != NULL) at = p++;
  if (at == NULL) return -1;
  at += strlen(", offset ");
  n = strspn(at, "0123456789");
  if (n == 0 || n > 18 || strcmp(at + n, ")") != 0) return -1;
  return strtoll(at, NULL, 10);
}

/* A plugin failed on a record of part (PLUGIN_ERROR, on_error reject):
 * the broker sent nothing of part, and every fetch of it would fail the
 * same way. Reports it once with how to get past it; part is not fetched
 * again and its position (and commit) stays before the record. */
static void part_failed(consume_t *cc, part_t *part,
                        const flyq_fetch_result_t *res) {
  int64_t bad = failed_offset(res->error_message ? res->error_message : "");
  flyq__cli_client_error(&cc->cli, 0);
  if (bad >= 0)
    flyq__cli_error(&cc->cli,
                    "%s[%d]: stopped at offset %lld; to skip the record: "
                    "-p %d --from %lld, or the topic's on_error = \"pass\"",
                    cc->topic, (int)part->id, (long long)part->offset,
                    (int)part->id, (long long)bad + 1);
  else
    flyq__cli_error(&cc->cli,
                    "%s[%d]: stopped at offset %lld; to skip the record: "
                    "-p %d --from (its offset + 1), or the topic's "
                    "on_error = \"pass\"",
                    cc->topic, (int)part->id, (long long)part->offset,
                    (int)part->id);
  part->failed = part->done = 1;
  cc->failed++;
}

static int finished(const consume_t *cc) {
  return stop_requested || (cc->max_count > 0 && cc->count >= cc->max_count);
}

/* One fetch of part (waiting up to wait_ms), printed and committed. Sets
 * *got when records came. Returns 0 or 1 (reported). */
static int fetch_part(consume_t *cc, part_t *part, int32_t wait_ms, int *got) {
  flyq_fetch_result_t res;
  int64_t before = part->offset, next;
  int r = flyq_client_fetch_filtered(cc->cli.client, cc->topic, part->id,
                                     part->offset, FETCH_MAX_BYTES, wait_ms, 1,
                                     &cc->filter, &res, &next);
  if (r < 0 && res.error_code == FLYQ_WIRE_PLUGIN_ERROR) {
    part_failed(cc, part, &res);
    return 0;
  }
  if (r < 0) return flyq__cli_client_error(&cc->cli, r);
  if (print_records(cc, part, &res) != 0) return 1;
  if (finished(cc)) next = -1; /* stopped inside the records */
  if (next > part->offset) part->offset = next; /* past filtered records */
  if (ferror(stdout)) return 1;
  if (part->offset > before) *got = 1;
  if (cc->follow && part->offset > before) fflush(stdout); /* show it now */
  if (!cc->follow && part->offset >= res.high_watermark) part->done = 1;
  return commit(cc, part);
}

/* Fetches the partitions in turn until finished. Without -f a partition
 * drops out once caught up; with -f a round that got nothing is followed
 * by one whose fetches long-poll (sharing FOLLOW_WAIT_MS between them). A
 * partition a plugin failed on drops out (part_failed); the others go
 * on. */
static int loop(consume_t *cc) {
  int32_t wait = 0;
  size_t active = cc->nparts;
  while (active > 0 && !finished(cc)) {
    int got = 0;
    active = 0;
    for (size_t i = 0; i < cc->nparts && !finished(cc); i++) {
      if (cc->parts[i].done) continue;
      if (fetch_part(cc, &cc->parts[i], wait, &got) != 0) return 1;
      active += !cc->parts[i].done;
    }
    wait = got || !cc->follow ? 0 : FOLLOW_WAIT_MS / (int32_t)cc->nparts;
    if (cc->follow && !got && wait < MIN_WAIT_MS) wait = MIN_WAIT_MS;
  }
  return 0;
}

/* Fills cc->parts from the topic's metadata (-p: that partition only) and
 * resolves their start offsets. Returns 0 or 1 (reported). */
static int setup_parts(consume_t *cc) {
  flyq_metadata_t *md;
  const flyq_topic_info_t *t;
  int r = flyq__cli_topic_meta(&cc->cli, cc->topic, &md, &t);
  if (r != 0) return r;
  cc->parts = calloc(t->npartitions ? t->npartitions : 1, sizeof(*cc->parts));
  for (size_t i = 0; cc->parts && i < t->npartitions; i++) {
    int32_t id = t->partitions[i].partition;
    if (cc->partition < 0 || id == cc->partition)
      cc->parts[cc->nparts++].id = id;
  }
  flyq_metadata_free(md);
  if (cc->parts == NULL) {
    flyq__cli_error(&cc->cli, "out of memory");
    return 1;
  }
  if (cc->nparts == 0) {
    flyq__cli_error(&cc->cli, "topic '%s' has no partition %d", cc->topic,
                    (int)cc->partition);
    return 1;
  }
  for (size_t i = 0; i < cc->nparts; i++)
    if (start_offset(cc, &cc->parts[i]) != 0) return 1;
  return 0;
}

/* Flushes stdout, reporting a write error (quietly for a closed pipe).
 * Returns 0 or 1. */
static int flush_output(consume_t *cc) {
  if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
  if (errno != EPIPE)
    flyq__cli_error(&cc->cli, "writing output: %s", strerror(errno));
  return 1;
}

static int run(consume_t *cc) {
  int r = flyq__cli_connect(&cc->cli, NULL);
  if (r == 0) r = setup_parts(cc);
  if (r != 0) return r;
  catch_signals();
  r = loop(cc);
  if (r == 0 && cc->failed > 0) r = 1; /* reported by part_failed */
  if (flush_output(cc) != 0) return 1;
  for (size_t i = 0; i < cc->nparts; i++)
    if (r == 0 || flyq_client_connected(cc->cli.client))
      r |= commit(cc, &cc->parts[i]);
  return r;
}

/* --from earliest|latest|OFFSET|@UNIX_MS. Returns 0 or -1. */
static int parse_from(consume_t *cc, const char *s) {
  cc->from_time = 0;
  if (strcmp(s, "earliest") == 0) cc->from = FLYQ_OFFSET_EARLIEST;
  else if (strcmp(s, "latest") == 0) cc->from = FLYQ_OFFSET_LATEST;
  else if (s[0] == '@') {
    cc->from_time = 1;
    return flyq__cli_parse_i64(s + 1, 0, INT64_MAX, &cc->from);
  } else return flyq__cli_parse_i64(s, 0, INT64_MAX, &cc->from);
  return 0;
}

/* --param KEY=VALUE. Returns -1 to go on, else the exit status. */
static int add_param(consume_t *cc, const char *arg) {
  const char *eq = strchr(arg, '=');
  size_t n = cc->filter.nparams;
  if (eq == NULL || eq == arg)
    return flyq__cli_usage_error(&cc->cli, "bad --param '%s' (KEY=VALUE)", arg);
  if (n == MAX_PARAMS)
    return flyq__cli_usage_error(&cc->cli, "more than %d --param", MAX_PARAMS);
  char *copy = strdup(arg);
  if (copy == NULL) return flyq__cli_usage_error(&cc->cli, "out of memory");
  copy[eq - arg] = '\0';
  cc->param_text[n] = copy;
  cc->params[n] = (flyq_client_config_pair_t){copy, copy + (eq - arg) + 1};
  cc->filter.params = cc->params;
  cc->filter.nparams = n + 1;
  return -1;
}

/* Handles one flag of consume. Returns -1 to go on, else the exit status. */
static int flag(consume_t *cc, int opt, char **argv) {
  int64_t v;
  switch (opt) {
  case 'p':
    if (flyq__cli_parse_i64(optarg, 0, INT32_MAX, &v) < 0)
      return flyq__cli_usage_error(&cc->cli, "bad partition '%s'", optarg);
    cc->partition = (int32_t)v;
    return -1;
  case OPT_FROM:
    if (parse_from(cc, optarg) == 0) return -1;
    return flyq__cli_usage_error(&cc->cli,
                                 "bad --from '%s' (earliest, "
                                 "latest, OFFSET or @UNIX_MS)",
                                 optarg);
  case 'g':
    cc->group = optarg;
    return *optarg ? -1 : flyq__cli_usage_error(&cc->cli, "empty group");
  case 'n':
    if (flyq__cli_parse_i64(optarg, 1, INT64_MAX, &cc->max_count) == 0)
      return -1;
    return flyq__cli_usage_error(&cc->cli, "bad count '%s'", optarg);
  case 'f': cc->follow = 1; return -1;
  case OPT_FORMAT:
    cc->out.mode = FLYQ_OUTPUT_FORMAT;
    cc->out.format = optarg;
    return -1;
  case OPT_JSON: cc->out.mode = FLYQ_OUTPUT_JSON; return -1;
  case OPT_FILTER: cc->filter.name = optarg; return -1;
  case OPT_PARAM: return add_param(cc, optarg);
  default: return flyq__cli_common_opt(&cc->cli, opt, argv);
  }
}

/* What the flags cannot check one by one. Returns -1 or the status. */
static int check_flags(consume_t *cc, int json_and_format) {
  const char *bad;
  if (json_and_format)
    return flyq__cli_usage_error(&cc->cli, "--format and --json exclude "
                                           "each other");
  if (cc->filter.nparams > 0 && cc->filter.name == NULL)
    return flyq__cli_usage_error(&cc->cli, "--param needs --filter");
  if (cc->out.mode == FLYQ_OUTPUT_FORMAT &&
      flyq__output_check_format(cc->out.format, &bad) < 0)
    return flyq__cli_usage_error(&cc->cli, "bad --format sequence '%.2s'", bad);
  return -1;
}

static int parse(consume_t *cc, int argc, char **argv) {
  static const struct option longopts[] = {
      FLYQ_CLI_COMMON_LONGOPTS,
      {"partition", required_argument, NULL, 'p'},
      {"from", required_argument, NULL, OPT_FROM},
      {"group", required_argument, NULL, 'g'},
      {"count", required_argument, NULL, 'n'},
      {"follow", no_argument, NULL, 'f'},
      {"format", required_argument, NULL, OPT_FORMAT},
      {"json", no_argument, NULL, OPT_JSON},
      {"filter", required_argument, NULL, OPT_FILTER},
      {"param", required_argument, NULL, OPT_PARAM},
      {NULL, 0, NULL, 0}};
  static const char *const names[] = {"TOPIC"};
  int opt, r, modes = 0;
  while ((opt = getopt_long(argc, argv, FLYQ_CLI_COMMON_SHORTOPTS "p:g:n:f",
                            longopts, NULL)) != -1) {
    if ((r = flag(cc, opt, argv)) >= 0) return r;
    modes |= opt == OPT_FORMAT ? 1 : opt == OPT_JSON ? 2 : 0;
  }
  if ((r = check_flags(cc, modes == 3)) >= 0) return r;
  return flyq__cli_positionals(&cc->cli, argc, argv, 1, &cc->topic, names);
}

int flyq__cmd_consume(int argc, char **argv) {
  consume_t cc;
  int r;
  memset(&cc, 0, sizeof(cc));
  flyq__cli_init(&cc.cli, "consume", usage);
  cc.partition = -1;
  cc.from = FLYQ_OFFSET_EARLIEST;
  cc.out.mode = FLYQ_OUTPUT_VALUE;
  cc.out.f = stdout;
  r = parse(&cc, argc, argv);
  cc.out.topic = cc.topic;
  if (r < 0) r = run(&cc);
  flyq__cli_close(&cc.cli);
  free(cc.parts);
  for (size_t i = 0; i < cc.filter.nparams; i++) free(cc.param_text[i]);
  return r;
}
