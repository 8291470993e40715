/* `flyq topic create|list|describe|delete`: topic administration over the
 * CreateTopics, Metadata and DeleteTopics APIs.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "flyq/config.h"

static const char usage[] =
    "usage: flyq topic create NAME [--partitions N] [--config KEY=VALUE]...\n"
    "       flyq topic list\n"
    "       flyq topic describe NAME\n"
    "       flyq topic delete NAME\n"
    "\n"
    "Subcommands:\n"
    "  create    create topic NAME\n"
    "  list      print every topic name, one per line\n"
    "  describe  print a table of NAME's partitions (log start, high\n"
    "            watermark, flushed offset, segments, bytes, last append)\n"
    "            and its config\n"
    "  delete    delete topic NAME and its data\n"
    "\n"
    "Options:\n"
    "      --partitions N      (create) number of partitions (default: the\n"
    "                          broker's defaults.partitions)\n"
    "      --config KEY=VALUE  (create) a topic setting, repeatable:\n"
    "                          retention.ms, retention.bytes, segment.bytes,\n"
    "                          segment.ms, flush.messages,\n"
    "                          flush.interval_ms; values as in the config\n"
    "                          file (retention.ms=7d, segment.bytes=256MiB)\n"
    FLYQ_CLI_COMMON_HELP "\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n";

enum { OPT_PARTITIONS = FLYQ_CLI_OPT_FIRST, OPT_CONFIG };

typedef struct create {
  int32_t partitions;
  flyq_client_config_pair_t *configs;
  char (*values)[24]; /* configs[i]'s value in decimal, when read here */
  size_t nconfigs;
} create_t;

static const char *const plain_names[] = {"NAME"};

/* One --config KEY=VALUE (split in place), its value read by the config
 * file's rules (sizes, durations) and sent as an integer; a key that is
 * not a topic setting goes as it is, for the broker to name. Returns -1 or
 * the status. */
static int add_config(flyq__cli_t *cli, create_t *cr, char *arg) {
  char *eq = strchr(arg, '='), err[512];
  flyq_client_config_pair_t *pair = &cr->configs[cr->nconfigs];
  int64_t v;
  int rc;
  if (eq == NULL || eq == arg || eq[1] == '\0')
    return flyq__cli_usage_error(cli, "bad --config '%s' (KEY=VALUE)", arg);
  *eq = '\0';
  pair->key = arg;
  pair->value = eq + 1;
  rc = flyq_config_topic_setting(arg, eq + 1, &v, err, sizeof err);
  if (rc == FLYQ_ERR_CONFIG)
    return flyq__cli_usage_error(cli, "bad --config: %s", err);
  if (rc < 0 && rc != FLYQ_ERR_NOT_FOUND) {
    flyq__cli_error(cli, "%s", err);
    return 1;
  }
  if (rc == 0) {
    snprintf(cr->values[cr->nconfigs], sizeof cr->values[0], "%lld",
             (long long)v);
    pair->value = cr->values[cr->nconfigs];
  }
  cr->nconfigs++;
  return -1;
}

static int parse_create(flyq__cli_t *cli, create_t *cr, int argc, char **argv,
                        const char **name) {
  static const struct option longopts[] = {
      FLYQ_CLI_COMMON_LONGOPTS,
      {"partitions", required_argument, NULL, OPT_PARTITIONS},
      {"config", required_argument, NULL, OPT_CONFIG},
      {NULL, 0, NULL, 0}};
  static const char *const names[] = {"NAME"};
  int64_t v;
  int opt, r = -1;
  while (r < 0 && (opt = getopt_long(argc, argv, FLYQ_CLI_COMMON_SHORTOPTS,
                                     longopts, NULL)) != -1) {
    if (opt == OPT_CONFIG) r = add_config(cli, cr, optarg);
    else if (opt != OPT_PARTITIONS) r = flyq__cli_common_opt(cli, opt, argv);
    else if (flyq__cli_parse_i64(optarg, 1, INT32_MAX, &v) == 0)
      cr->partitions = (int32_t)v;
    else r = flyq__cli_usage_error(cli, "bad --partitions '%s'", optarg);
  }
  return r >= 0 ? r : flyq__cli_positionals(cli, argc, argv, 1, name, names);
}

static int create_topic(flyq__cli_t *cli, const create_t *cr,
                        const char *name) {
  int r = flyq__cli_connect(cli, NULL);
  if (r != 0) return r;
  r = flyq_client_create_topic(cli->client, name, cr->partitions, cr->configs,
                               cr->nconfigs);
  return r < 0 ? flyq__cli_client_error(cli, r) : 0;
}

static int cmd_create(int argc, char **argv) {
  flyq__cli_t cli;
  create_t cr = {-1, NULL, NULL, 0};
  const char *name;
  int r;
  flyq__cli_init(&cli, "topic create", usage);
  cr.configs = calloc((size_t)argc, sizeof(*cr.configs));
  cr.values = calloc((size_t)argc, sizeof(*cr.values));
  if (cr.configs == NULL || cr.values == NULL) {
    free(cr.configs);
    free(cr.values);
    return 1;
  }
  r = parse_create(&cli, &cr, argc, argv, &name);
  if (r < 0) r = create_topic(&cli, &cr, name);
  flyq__cli_close(&cli);
  free(cr.configs);
  free(cr.values);
  return r;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmd_list(int argc, char **argv) {
  flyq__cli_t cli;
  flyq_metadata_t *md = NULL;
  const char **names = NULL;
  int r;
  flyq__cli_init(&cli, "topic list", usage);
  r = flyq__cli_parse_plain(&cli, argc, argv, 0, NULL, plain_names);
  if (r >= 0) return r; /* --help or a usage error */
  r = flyq__cli_connect(&cli, NULL);
  if (r == 0) r = flyq_client_metadata(cli.client, NULL, &md);
  if (r < 0) r = flyq__cli_client_error(&cli, r);
  if (r == 0) names = calloc(md->ntopics + 1, sizeof(*names));
  if (names != NULL) {
    for (size_t i = 0; i < md->ntopics; i++) names[i] = md->topics[i].name;
    qsort(names, md->ntopics, sizeof(*names), by_name);
    for (size_t i = 0; i < md->ntopics; i++) puts(names[i]);
  } else if (r == 0) {
    r = 1;
  }
  free(names);
  flyq_metadata_free(md);
  flyq__cli_close(&cli);
  return r;
}

static void print_topic(const flyq_topic_info_t *t) {
  char when[40];
  printf("topic %s: %zu partition%s\n\n", t->name, t->npartitions,
         t->npartitions == 1 ? "" : "s");
  printf("%9s %12s %14s %12s %8s %14s  %s\n", "PARTITION", "LOG_START",
         "HIGH_WATERMARK", "FLUSHED", "SEGMENTS", "BYTES", "LAST_APPEND");
  for (size_t i = 0; i < t->npartitions; i++) {
    const flyq_partition_info_t *p = &t->partitions[i];
    printf("%9d %12lld %14lld %12lld %8d %14lld  %s\n", (int)p->partition,
           (long long)p->log_start_offset, (long long)p->high_watermark,
           (long long)p->flushed_offset, (int)p->segment_count,
           (long long)p->size_bytes,
           flyq__cli_format_ms(p->last_append_ms, when, sizeof(when)));
  }
  printf("\nconfig:\n");
  for (size_t i = 0; i < t->nconfigs; i++)
    printf("  %s = %s\n", t->configs[i].key, t->configs[i].value);
}

static int cmd_describe(int argc, char **argv) {
  flyq__cli_t cli;
  flyq_metadata_t *md = NULL;
  const flyq_topic_info_t *t;
  const char *name;
  int r;
  flyq__cli_init(&cli, "topic describe", usage);
  r = flyq__cli_parse_plain(&cli, argc, argv, 1, &name, plain_names);
  if (r >= 0) return r; /* --help or a usage error */
  r = flyq__cli_connect(&cli, NULL);
  if (r == 0) r = flyq__cli_topic_meta(&cli, name, &md, &t);
  if (r == 0) print_topic(t);
  flyq_metadata_free(md);
  flyq__cli_close(&cli);
  return r;
}

static int cmd_delete(int argc, char **argv) {
  flyq__cli_t cli;
  const char *name;
  int r;
  flyq__cli_init(&cli, "topic delete", usage);
  r = flyq__cli_parse_plain(&cli, argc, argv, 1, &name, plain_names);
  if (r >= 0) return r; /* --help or a usage error */
  r = flyq__cli_connect(&cli, NULL);
  if (r == 0) {
    r = flyq_client_delete_topic(cli.client, name);
    r = r < 0 ? flyq__cli_client_error(&cli, r) : 0;
  }
  flyq__cli_close(&cli);
  return r;
}

int flyq__cmd_topic(int argc, char **argv) {
  static const flyq__cli_sub_t subs[] = {{"create", cmd_create},
                                         {"list", cmd_list},
                                         {"describe", cmd_describe},
                                         {"delete", cmd_delete}};
  return flyq__cli_dispatch("topic", usage, subs,
                            sizeof(subs) / sizeof(subs[0]), argc, argv);
}
