/* `flyq group list|describe|reset`: consumer-group offsets over the
 * ListGroups, OffsetFetch, OffsetCommit, Metadata and ListOffsets APIs.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const char usage[] =
    "usage: flyq group list\n"
    "       flyq group describe GROUP\n"
    "       flyq group reset GROUP TOPIC --to earliest|latest|OFFSET [-p N]\n"
    "\n"
    "Subcommands:\n"
    "  list      print every group with committed offsets, one per line\n"
    "  describe  print a table of GROUP's committed offsets: topic,\n"
    "            partition, committed offset, high watermark, lag\n"
    "  reset     commit a new offset for GROUP on every partition of TOPIC\n"
    "            (or only -p N) and print it\n"
    "\n"
    "Options:\n"
    "      --to WHERE          (reset) earliest, latest, or an offset\n"
    "                          between the log start and the high watermark\n"
    "  -p, --partition N       (reset) only partition N\n" FLYQ_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n";

enum { OPT_TO = FLYQ_CLI_OPT_FIRST };

static const char *const plain_names[] = {"GROUP"};

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_list(int argc, char **argv) {
  flyq__cli_t cli;
  flyq_string_list_t groups = {NULL, 0};
  int r;
  flyq__cli_init(&cli, "group list", usage);
  r = flyq__cli_parse_plain(&cli, argc, argv, 0, NULL, plain_names);
  if (r >= 0) return r; /* --help or a usage error */
  r = flyq__cli_connect(&cli, NULL);
  if (r == 0) r = flyq_client_list_groups(cli.client, &groups);
  if (r < 0) r = flyq__cli_client_error(&cli, r);
  if (r == 0) {
    qsort(groups.items, groups.n, sizeof(*groups.items), by_name);
    for (size_t i = 0; i < groups.n; i++) puts(groups.items[i]);
  }
  flyq_string_list_free(&groups);
  flyq__cli_close(&cli);
  return r;
}

/* The partition's info in md, or NULL. */
static const flyq_partition_info_t *
find_part(const flyq_metadata_t *md, const char *topic, int32_t partition) {
  for (size_t i = 0; i < md->ntopics; i++) {
    const flyq_topic_info_t *t = &md->topics[i];
    if (strcmp(t->name, topic) != 0) continue;
    for (size_t j = 0; j < t->npartitions; j++)
      if (t->partitions[j].partition == partition) return &t->partitions[j];
  }
  return NULL;
}

static int by_topic_partition(const void *a, const void *b) {
  const flyq_group_offset_t *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  return c != 0 ? c
                : (x->partition > y->partition) - (x->partition < y->partition);
}

static void print_offsets(flyq_group_offsets_t *g, const flyq_metadata_t *md) {
  qsort(g->items, g->n, sizeof(*g->items), by_topic_partition);
  printf("%-24s %9s %14s %14s %10s\n", "TOPIC", "PARTITION", "COMMITTED",
         "HIGH_WATERMARK", "LAG");
  for (size_t i = 0; i < g->n; i++) {
    const flyq_group_offset_t *o = &g->items[i];
    const flyq_partition_info_t *p = find_part(md, o->topic, o->partition);
    printf("%-24s %9d ", o->topic, (int)o->partition);
    if (o->offset >= 0) printf("%14lld ", (long long)o->offset);
    else printf("%14s ", "-");
    if (p == NULL) {
      printf("%14s %10s\n", "-", "-");
      continue;
    }
    printf("%14lld ", (long long)p->high_watermark);
    if (o->offset >= 0)
      printf("%10lld\n", (long long)(p->high_watermark - o->offset));
    else printf("%10s\n", "-");
  }
}

static int cmd_describe(int argc, char **argv) {
  flyq__cli_t cli;
  flyq_group_offsets_t *g = NULL;
  flyq_metadata_t *md = NULL;
  const char *group;
  int r;
  flyq__cli_init(&cli, "group describe", usage);
  r = flyq__cli_parse_plain(&cli, argc, argv, 1, &group, plain_names);
  if (r >= 0) return r; /* --help or a usage error */
  r = flyq__cli_connect(&cli, NULL);
  if (r == 0) r = flyq_client_group_offsets(cli.client, group, &g);
  if (r == 0) r = flyq_client_metadata(cli.client, NULL, &md);
  if (r < 0) r = flyq__cli_client_error(&cli, r);
  if (r == 0 && g->n == 0) {
    flyq__cli_error(&cli, "group '%s' has no committed offsets", group);
    r = 1;
  }
  if (r == 0) print_offsets(g, md);
  flyq_metadata_free(md);
  flyq_group_offsets_free(g);
  flyq__cli_close(&cli);
  return r;
}

typedef struct reset {
  flyq__cli_t cli;
  const char *args[2]; /* GROUP, TOPIC */
  int64_t to;          /* FLYQ_OFFSET_EARLIEST / _LATEST or an offset */
  int has_to;
  int32_t partition; /* -1: all */
} reset_t;

static int parse_reset(reset_t *rs, int argc, char **argv) {
  static const struct option longopts[] = {
      FLYQ_CLI_COMMON_LONGOPTS,
      {"to", required_argument, NULL, OPT_TO},
      {"partition", required_argument, NULL, 'p'},
      {NULL, 0, NULL, 0}};
  static const char *const names[] = {"GROUP", "TOPIC"};
  int64_t v;
  int opt, r = -1;
  while (r < 0 && (opt = getopt_long(argc, argv, FLYQ_CLI_COMMON_SHORTOPTS "p:",
                                     longopts, NULL)) != -1) {
    if (opt == 'p' && flyq__cli_parse_i64(optarg, 0, INT32_MAX, &v) == 0)
      rs->partition = (int32_t)v;
    else if (opt == 'p')
      r = flyq__cli_usage_error(&rs->cli, "bad partition '%s'", optarg);
    else if (opt != OPT_TO) r = flyq__cli_common_opt(&rs->cli, opt, argv);
    else if (strcmp(optarg, "earliest") == 0) rs->to = FLYQ_OFFSET_EARLIEST;
    else if (strcmp(optarg, "latest") == 0) rs->to = FLYQ_OFFSET_LATEST;
    else if (flyq__cli_parse_i64(optarg, 0, INT64_MAX, &rs->to) < 0)
      r = flyq__cli_usage_error(&rs->cli,
                                "bad --to '%s' (earliest, latest "
                                "or an offset)",
                                optarg);
    rs->has_to |= opt == OPT_TO;
  }
  if (r < 0 && !rs->has_to) r = flyq__cli_usage_error(&rs->cli, "missing --to");
  return r >= 0
             ? r
             : flyq__cli_positionals(&rs->cli, argc, argv, 2, rs->args, names);
}

/* The new offset of one partition, checked against its log. Returns 0 or
 * 1 (reported). */
static int target_offset(reset_t *rs, const flyq_partition_info_t *p,
                         int64_t *off) {
  int r = 0;
  *off = rs->to;
  if (*off < 0)
    r = flyq_client_list_offset(rs->cli.client, rs->args[1], p->partition,
                                rs->to, off);
  if (r < 0) return flyq__cli_client_error(&rs->cli, r);
  if (*off >= p->log_start_offset && *off <= p->high_watermark) return 0;
  flyq__cli_error(&rs->cli, "offset %lld is outside %s[%d] (%lld to %lld)",
                  (long long)*off, rs->args[1], (int)p->partition,
                  (long long)p->log_start_offset, (long long)p->high_watermark);
  return 1;
}

/* Resolves every chosen partition's offset first (nothing is committed if
 * one is invalid), then commits them and prints the table. */
static int reset_topic(reset_t *rs, const flyq_topic_info_t *t) {
  int64_t *offs = calloc(t->npartitions + 1, sizeof(*offs));
  size_t n = 0;
  int r = offs ? 0 : 1;
  for (size_t i = 0; r == 0 && i < t->npartitions; i++) {
    if (rs->partition >= 0 && t->partitions[i].partition != rs->partition)
      continue;
    r = target_offset(rs, &t->partitions[i], &offs[i]);
    n++;
  }
  if (r == 0 && n == 0) {
    flyq__cli_error(&rs->cli, "topic '%s' has no partition %d", rs->args[1],
                    (int)rs->partition);
    r = 1;
  }
  if (r == 0) printf("%-24s %9s %14s\n", "TOPIC", "PARTITION", "OFFSET");
  for (size_t i = 0; r == 0 && i < t->npartitions; i++) {
    int32_t id = t->partitions[i].partition;
    if (rs->partition >= 0 && id != rs->partition) continue;
    r = flyq_client_offset_commit(rs->cli.client, rs->args[0], rs->args[1], id,
                                  offs[i]);
    if (r < 0) r = flyq__cli_client_error(&rs->cli, r);
    else printf("%-24s %9d %14lld\n", rs->args[1], (int)id, (long long)offs[i]);
  }
  free(offs);
  return r;
}

static int cmd_reset(int argc, char **argv) {
  reset_t rs;
  flyq_metadata_t *md = NULL;
  const flyq_topic_info_t *t;
  int r;
  memset(&rs, 0, sizeof(rs));
  flyq__cli_init(&rs.cli, "group reset", usage);
  rs.partition = -1;
  r = parse_reset(&rs, argc, argv);
  if (r >= 0) return r; /* --help or a usage error */
  r = flyq__cli_connect(&rs.cli, NULL);
  if (r == 0) r = flyq__cli_topic_meta(&rs.cli, rs.args[1], &md, &t);
  if (r == 0) r = reset_topic(&rs, t);
  flyq_metadata_free(md);
  flyq__cli_close(&rs.cli);
  return r;
}

int flyq__cmd_group(int argc, char **argv) {
  static const flyq__cli_sub_t subs[] = {
      {"list", cmd_list}, {"describe", cmd_describe}, {"reset", cmd_reset}};
  return flyq__cli_dispatch("group", usage, subs,
                            sizeof(subs) / sizeof(subs[0]), argc, argv);
}
