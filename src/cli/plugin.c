/* `flyq plugin test FILE`: runs a plugin offline, without a broker, on
 * sample records given as JSON lines, through the same plugin runtime the
 * broker uses (include/flyq/plugins.h), and prints what would be stored,
 * dropped, fanned out or routed, the errors, and how long the hook took.
 *
 * on_produce and on_consume run record by record (a batch of one each), so
 * that every outcome belongs to one input line; partition runs all the
 * records as one batch, as the broker would. authenticate and authorize
 * read no input: they ask the plugin (as the config's `auth`) one question
 * given by flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/lines.h"
#include "cli/output.h"
#include "flyq/common.h"
#include "flyq/config.h"
#include "flyq/plugins.h"
#include "flyq/store.h"

#define MAX_LINE (16u << 20)
#define MAX_HEADERS 1024

static const char usage[] =
    "usage: flyq plugin test FILE [--params JSON] [--input FILE.jsonl]\n"
    "                        [--hook on_produce|on_consume|partition]\n"
    "                        [--topic T] [--partitions N]\n"
    "                        [--on-error reject|pass|dead_letter]\n"
    "                        [--principal P]\n"
    "       flyq plugin test FILE --hook authenticate --credentials STR\n"
    "                        [--mechanism M] [--params JSON]\n"
    "       flyq plugin test FILE --hook authorize [--principal P]\n"
    "                        [--action A] [--resource R] [--params JSON]\n"
    "\n"
    "Runs the plugin FILE (DIR/NAME.lua) on sample records without a broker\n"
    "and prints, for each input line N, what would happen to it:\n"
    "  N kept {record}       returned unchanged: stored as it came\n"
    "  N stored {record}     stored as shown (changed, fanned out, routed:\n"
    "                        see its topic and partition)\n"
    "  N dropped             the hook returned nil\n"
    "  N error MESSAGE       the hook failed\n"
    "  N partition P {record}  (--hook partition)\n"
    "then a summary and the time the hook took (total, mean per record).\n"
    "With --hook authenticate it prints `authenticated PRINCIPAL` or\n"
    "`rejected REASON`; with --hook authorize `allowed` or `denied` (a\n"
    "hook denied or abstained); a failing hook also prints `error MESSAGE`.\n"
    "\n"
    "Input: one JSON object per line, as `flyq consume --json` prints them:\n"
    "  {\"key\": \"k\", \"value\": \"v\", \"headers\": {\"h\": \"x\"}, \"timestamp\": 1}\n"
    "(every field optional; a value that is not a string is used as JSON\n"
    "text; \"offset\" sets the offset on_consume sees; key_b64, value_b64\n"
    "and headers_b64 carry bytes that are not UTF-8 as base64).\n"
    "\n"
    "Options:\n"
    "  --params JSON      the plugin's params, a JSON object (default {})\n"
    "  --input FILE       read the records from FILE (default stdin)\n"
    "  --hook HOOK        on_produce (default), on_consume, partition,\n"
    "                     authenticate or authorize\n"
    "  --topic T          the topic the hook is told about (default test)\n"
    "  --partitions N     partitions of that topic (default 3)\n"
    "  --on-error MODE    the topic's on_error (default reject)\n"
    "  --principal P      the client's principal (default: anonymous)\n"
    "  --credentials STR  authenticate: the credentials' bytes\n"
    "  --mechanism M      authenticate: the mechanism (default token)\n"
    "  --action A         authorize: the action (default produce)\n"
    "  --resource R       authorize: the resource (default topic:T)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Exit status: 0 no errors, 1 a record failed, the plugin did not load\n"
    "or the credentials or action were refused, 2 usage error.\n";

enum { HOOK_PRODUCE, HOOK_CONSUME, HOOK_PARTITION, HOOK_AUTHENTICATE,
       HOOK_AUTHORIZE };
enum { OPT_PARAMS = FLYQ_CLI_OPT_FIRST, OPT_INPUT, OPT_HOOK, OPT_TOPIC,
       OPT_PARTITIONS, OPT_ON_ERROR, OPT_PRINCIPAL, OPT_CREDENTIALS,
       OPT_MECHANISM, OPT_ACTION, OPT_RESOURCE };

typedef struct opts {
  const char *file, *params, *input, *topic;
  int hook, on_error;
  int32_t partitions;
  const char *principal; /* NULL: anonymous */
  const char *credentials, *mechanism, *action, *resource;
} opts_t;

/* One input record, decoded from its JSON line. */
typedef struct sample {
  json_t *doc;
  char *key, *value; /* NULL: null; may point into doc or be malloc'd */
  size_t key_len, value_len;
  int key_owned, value_owned;
  flyq_record_header_t headers[MAX_HEADERS];
  int32_t nheaders;
  int64_t timestamp, offset;
} sample_t;

typedef struct tally {
  size_t records, kept, changed, dropped, fanned, errors, out;
  int64_t ns;
} tally_t;

/* ---- Flags -------------------------------------------------------------- */

static int pick(const char *s, const char *const *names) {
  for (int i = 0; names[i]; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

/* --params must be a JSON object: a usage error otherwise, named as such
 * (not a plugin error). */
static int check_params(flyq__cli_t *cli, const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &err);
  int ok = json_is_object(v);
  json_decref(v);
  if (ok) return -1;
  return flyq__cli_usage_error(cli, "--params: expected a JSON object, %s",
                               v ? "got another JSON value" : err.text);
}

static int parse_opt(flyq__cli_t *cli, int c, opts_t *o) {
  static const char *const hooks[] = {"on_produce", "on_consume", "partition",
                                      "authenticate", "authorize", NULL};
  static const char *const modes[] = {"reject", "pass", "dead_letter", NULL};
  int64_t n;
  switch (c) {
  case OPT_PARAMS: o->params = optarg; return check_params(cli, optarg);
  case OPT_INPUT: o->input = optarg; return -1;
  case OPT_TOPIC: o->topic = optarg; return -1;
  case OPT_PRINCIPAL: o->principal = optarg; return -1;
  case OPT_CREDENTIALS: o->credentials = optarg; return -1;
  case OPT_MECHANISM: o->mechanism = optarg; return -1;
  case OPT_ACTION: o->action = optarg; return -1;
  case OPT_RESOURCE: o->resource = optarg; return -1;
  case OPT_HOOK:
    if ((o->hook = pick(optarg, hooks)) >= 0) return -1;
    return flyq__cli_usage_error(cli, "bad --hook '%s'", optarg);
  case OPT_ON_ERROR:
    if ((o->on_error = pick(optarg, modes)) >= 0) return -1;
    return flyq__cli_usage_error(cli, "bad --on-error '%s'", optarg);
  case OPT_PARTITIONS:
    if (flyq__cli_parse_i64(optarg, 1, FLYQ_PARTITIONS_MAX, &n) == 0) {
      o->partitions = (int32_t)n;
      return -1;
    }
    return flyq__cli_usage_error(cli, "bad --partitions '%s'", optarg);
  }
  return 2; /* not reached: parse only passes our options */
}

static int parse(flyq__cli_t *cli, int argc, char **argv, opts_t *o) {
  static const struct option longopts[] = {
      {"params", required_argument, NULL, OPT_PARAMS},
      {"input", required_argument, NULL, OPT_INPUT},
      {"hook", required_argument, NULL, OPT_HOOK},
      {"topic", required_argument, NULL, OPT_TOPIC},
      {"partitions", required_argument, NULL, OPT_PARTITIONS},
      {"on-error", required_argument, NULL, OPT_ON_ERROR},
      {"principal", required_argument, NULL, OPT_PRINCIPAL},
      {"credentials", required_argument, NULL, OPT_CREDENTIALS},
      {"mechanism", required_argument, NULL, OPT_MECHANISM},
      {"action", required_argument, NULL, OPT_ACTION},
      {"resource", required_argument, NULL, OPT_RESOURCE},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  static const char *const names[] = {"FILE"};
  int c, r;
  *o = (opts_t){.topic = "test", .partitions = 3, .mechanism = "token",
                .action = FLYQ_ACTION_PRODUCE};
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    r = c >= OPT_PARAMS ? parse_opt(cli, c, o) : flyq__cli_common_opt(cli, c, argv);
    if (r >= 0) return r;
  }
  if ((r = flyq__cli_positionals(cli, argc, argv, 1, &o->file, names)) >= 0)
    return r;
  if (flyq_name_validate(o->topic) != 0)
    return flyq__cli_usage_error(cli, "bad --topic '%s'", o->topic);
  if (o->hook == HOOK_AUTHENTICATE && o->credentials == NULL)
    return flyq__cli_usage_error(cli, "--hook authenticate needs --credentials");
  return -1;
}

/* ---- The runtime ---------------------------------------------------------- */

/* The plugin FILE as the config names it: DIR and NAME of DIR/NAME.lua. */
static int split_file(const char *file, flyq_config_t *cfg,
                      flyq_config_plugin_t *spec, const opts_t *o) {
  const char *slash = strrchr(file, '/');
  const char *base = slash ? slash + 1 : file;
  size_t n = strlen(base);
  if ((cfg->plugin_path = calloc(1, sizeof(char *))) == NULL) return -ENOMEM;
  cfg->nplugin_path = 1;
  cfg->plugin_path[0] = slash ? strndup(file, (size_t)(slash - file)) : strdup(".");
  if (n > 4 && strcmp(base + n - 4, ".lua") == 0) n -= 4;
  spec->name = strndup(base, n);
  spec->params = strdup(o->params ? o->params : "{}");
  if (!cfg->plugin_path[0] || !spec->name || !spec->params) return -ENOMEM;
  return 0;
}

/* A config with one topic that runs the plugin FILE as o->hook. Its
 * plugin has no key path (spec->path NULL): the runtime's errors then name
 * none, since this config is not the user's. */
static int make_config(const opts_t *o, flyq_config_t *cfg) {
  flyq_config_plugin_t *spec = calloc(1, sizeof *spec);
  flyq_config_topic_t *t = calloc(1, sizeof *t);
  int rc = flyq_config_init(cfg);
  if (rc == 0 && (spec == NULL || t == NULL)) rc = -ENOMEM;
  if (rc < 0) return free(spec), free(t), rc;
  cfg->topics = t;
  cfg->ntopics = 1;
  *t = (flyq_config_topic_t){.name = strdup(o->topic),
                             .partitions = o->partitions, .log = cfg->log,
                             .on_error = o->on_error};
  if (o->hook == HOOK_PARTITION) {
    t->partitioner = *spec;
    free(spec);
    spec = &t->partitioner;
  } else if (o->hook == HOOK_AUTHENTICATE || o->hook == HOOK_AUTHORIZE) {
    cfg->auth = spec, cfg->nauth = 1;
  } else if (o->hook == HOOK_CONSUME) {
    t->on_consume = spec, t->non_consume = 1;
  } else {
    t->on_produce = spec, t->non_produce = 1;
  }
  rc = split_file(o->file, cfg, spec, o);
  return rc == 0 && t->name == NULL ? -ENOMEM : rc;
}

/* flyq_plugins_partitions_fn: --partitions for --topic; other topics (a
 * hook may route records to any) are not known here. */
static int32_t topic_partitions(void *arg, const char *topic) {
  const opts_t *o = arg;
  return strcmp(topic, o->topic) == 0 ? o->partitions : 0;
}

static flyq_plugins_t *load(flyq__cli_t *cli, const opts_t *o) {
  flyq_config_t cfg;
  flyq_plugins_t *rt = NULL;
  char err[1024];
  int rc = make_config(o, &cfg);
  if (rc == 0) rc = flyq_plugins_new(&cfg, &rt, err, sizeof err);
  else snprintf(err, sizeof err, "%s", flyq_strerror(rc));
  flyq_config_free(&cfg);
  if (rc < 0) flyq__cli_error(cli, "%s", err);
  else flyq_plugins_set_partitions(rt, topic_partitions, (void *)o);
  return rt;
}

/* ---- Input ------------------------------------------------------------------ */

static void sample_free(sample_t *s) {
  if (s->key_owned) free(s->key);
  if (s->value_owned) free(s->value);
  json_decref(s->doc);
  memset(s, 0, sizeof *s);
}

/* A string field as bytes: strings as they are, null as null, anything
 * else as its JSON text (malloc'd: *owned). */
static int field_bytes(json_t *v, char **out, size_t *len, int *owned) {
  *owned = 0;
  if (v == NULL || json_is_null(v)) {
    *out = NULL;
    return 0;
  }
  if (json_is_string(v)) {
    *out = (char *)json_string_value(v);
    *len = json_string_length(v);
    return 0;
  }
  if ((*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
    return -ENOMEM;
  *owned = 1;
  *len = strlen(*out);
  return 0;
}

static const char *read_headers(sample_t *s, json_t *h) {
  const char *name;
  json_t *v;
  if (h == NULL || json_is_null(h)) return NULL;
  if (!json_is_object(h)) return "\"headers\" must be an object";
  json_object_foreach(h, name, v) {
    flyq_record_header_t *x = &s->headers[s->nheaders];
    if (s->nheaders == MAX_HEADERS) return "too many headers";
    if (!json_is_string(v) && !json_is_null(v))
      return "header values must be strings or null";
    *x = (flyq_record_header_t){(const uint8_t *)name, (int32_t)strlen(name),
                                NULL, -1};
    if (json_is_string(v)) {
      x->value = (const uint8_t *)json_string_value(v);
      x->value_len = (int32_t)json_string_length(v);
    }
    s->nheaders++;
  }
  return NULL;
}

/* Base64 text v as a JSON string of its bytes (any bytes: jansson keeps
 * the length), or NULL when v is not a string of base64. */
static json_t *decoded(json_t *v) {
  uint8_t *bytes;
  size_t n;
  json_t *out;
  if (!json_is_string(v) ||
      flyq__cli_base64_decode(json_string_value(v), json_string_length(v),
                              &bytes, &n) < 0)
    return NULL;
  out = json_stringn_nocheck((const char *)bytes, n);
  free(bytes);
  return out;
}

/* obj[name] = base64-decoded obj[b64] (which goes; b64 is name_b64), as
 * consume --json writes bytes that are not UTF-8; name must not be there
 * as well. */
static const char *take_b64(json_t *obj, const char *name, const char *b64,
                            char *why, size_t n) {
  json_t *v;
  if ((v = json_object_get(obj, b64)) == NULL) return NULL;
  if (json_object_get(obj, name) != NULL)
    return snprintf(why, n, "both \"%s\" and \"%s\"", name, b64), why;
  if ((v = decoded(v)) == NULL)
    return snprintf(why, n, "\"%s\" must be a base64 string", b64), why;
  json_object_set_new(obj, name, v);
  json_object_del(obj, b64);
  return NULL;
}

/* Folds key_b64, value_b64 and headers_b64 of line doc into key, value and
 * headers; returns NULL or what is wrong. */
static const char *take_binary(json_t *doc, char *why, size_t n) {
  const char *bad, *name;
  json_t *hb = json_object_get(doc, "headers_b64"), *h, *v;
  if ((bad = take_b64(doc, "key", "key_b64", why, n)) ||
      (bad = take_b64(doc, "value", "value_b64", why, n)))
    return bad;
  if (hb == NULL) return NULL;
  if (!json_is_object(hb)) return "\"headers_b64\" must be an object";
  if ((h = json_object_get(doc, "headers")) == NULL || json_is_null(h))
    json_object_set_new(doc, "headers", h = json_object());
  if (!json_is_object(h)) return "\"headers\" must be an object";
  json_object_foreach(hb, name, v) {
    json_t *d = decoded(v);
    if (json_object_get(h, name) != NULL)
      bad = "a header in both \"headers\" and \"headers_b64\"";
    else if (d == NULL)
      bad = "\"headers_b64\" values must be base64 strings";
    if (bad) {
      json_decref(d);
      return bad;
    }
    json_object_set_new(h, name, d);
  }
  json_object_del(doc, "headers_b64");
  return NULL;
}

/* Decodes one input line into s; returns NULL or what is wrong. */
static const char *read_sample(sample_t *s, const uint8_t *line, size_t len,
                               int64_t index, char *why, size_t n) {
  json_error_t jerr;
  json_t *ts, *off;
  const char *bad;
  memset(s, 0, sizeof *s);
  s->doc = json_loadb((const char *)line, len,
                      JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
  if (s->doc == NULL) return snprintf(why, n, "%s", jerr.text), why;
  if (!json_is_object(s->doc)) return "expected a JSON object";
  if ((bad = take_binary(s->doc, why, n)) != NULL) return bad;
  if (field_bytes(json_object_get(s->doc, "key"), &s->key, &s->key_len,
                  &s->key_owned) < 0 ||
      field_bytes(json_object_get(s->doc, "value"), &s->value, &s->value_len,
                  &s->value_owned) < 0)
    return "out of memory";
  ts = json_object_get(s->doc, "timestamp");
  off = json_object_get(s->doc, "offset");
  if ((ts && !json_is_integer(ts)) || (off && !json_is_integer(off)))
    return "\"timestamp\" and \"offset\" must be integers";
  s->timestamp = ts ? json_integer_value(ts) : flyq_now_ms();
  s->offset = off ? json_integer_value(off) : index;
  if (s->key_len > INT32_MAX || s->value_len > INT32_MAX) return "too large";
  return read_headers(s, json_object_get(s->doc, "headers"));
}

static int add_sample(flyq_batch_builder_t *b, const sample_t *s) {
  return flyq_batch_builder_add(b, s->timestamp, s->key, (int32_t)s->key_len,
                                s->value, (int32_t)s->value_len, s->headers,
                                s->nheaders);
}

/* ---- Running ------------------------------------------------------------ */

static void print_records(const char *what, size_t line,
                          const flyq_plugins_batch_t *g, int32_t partition) {
  flyq__output_t o = {FLYQ_OUTPUT_JSON, NULL, g->topic, stdout};
  for (size_t off = 0; off < g->len;) {
    int64_t size = flyq_batch_size(g->data + off, g->len - off);
    flyq_record_iter_t it;
    flyq_record_t rec;
    if (size <= 0 || flyq_record_iter_init(&it, g->data + off, (size_t)size) < 0)
      return;
    while (flyq_record_iter_next(&it, &rec) == 1) {
      printf("%zu %s ", line, what);
      flyq__output_record(&o, partition, &rec);
    }
    off += (size_t)size;
  }
}

/* Prints what became of input record `line` and counts it. */
static void report(size_t line, const flyq_plugins_output_t *out,
                   const flyq_plugins_batch_t *in, tally_t *t) {
  t->out += out->records_out;
  if (out->unchanged) {
    t->kept++;
    print_records("kept", line, in, in->partition);
    return;
  }
  if (out->records_out == 0 && out->failed == 0) {
    t->dropped++;
    printf("%zu dropped\n", line);
  }
  if (out->records_out > 1) t->fanned++;
  if (out->records_out > 0 && out->failed == 0) t->changed++;
  for (size_t i = 0; i < out->nbatches; i++)
    print_records("stored", line, &out->batches[i], out->batches[i].partition);
}

/* The plugin's error count, and its last error into buf (for on_error pass
 * and dead_letter, where the call succeeds). */
static uint64_t last_error(const flyq_plugins_t *rt, char *buf, size_t n) {
  flyq_plugin_stats_t *st = NULL;
  size_t count = 0;
  uint64_t errors = 0;
  snprintf(buf, n, "(unknown)");
  if (flyq_plugins_stats(rt, &st, &count) == 0 && count > 0) {
    errors = st[0].errors;
    if (st[0].last_error) snprintf(buf, n, "%s", st[0].last_error);
  }
  flyq_plugins_stats_free(st, count);
  return errors;
}

/* Drops ", record 1" from the end of the runtime's message: each input line
 * runs as a batch of one, and the output line already starts with the
 * input line's number. */
static void drop_record_one(char *msg) {
  static const char tail[] = ", record 1)";
  size_t n = strlen(msg), k = sizeof tail - 1;
  if (n >= k && strcmp(msg + n - k, tail) == 0) strcpy(msg + n - k, ")");
}

/* Runs the filter hook on the one-record batch b of input record `line`. */
static void run_filter(flyq_plugins_t *rt, const opts_t *o, size_t line,
                       flyq_plugins_batch_t *b, int64_t offset, tally_t *t) {
  flyq_plugins_output_t out;
  char err[1024];
  int64_t t0;
  int rc;
  if (o->hook == HOOK_CONSUME) flyq_batch_set_base_offset(b->data, offset);
  t0 = flyq__cli_now_ns();
  rc = o->hook == HOOK_CONSUME
           ? flyq_plugins_on_consume(rt, NULL, NULL, o->topic, 0, offset,
                                     o->principal, b->data, b->len, &out, err,
                                     sizeof err)
           : flyq_plugins_on_produce(rt, o->topic, -1, o->principal, b->data,
                                     b->len, &out, err, sizeof err);
  t->ns += flyq__cli_now_ns() - t0;
  t->records++;
  if (rc == 0 && out.failed > 0) last_error(rt, err, sizeof err);
  if (rc < 0 || out.failed > 0) {
    t->errors++;
    drop_record_one(err);
    flyq__cli_line(stdout, "%zu error %s", line, err);
  }
  if (rc == 0) report(line, &out, b, t);
  flyq_plugins_output_free(&out);
}

/* The one-record batch of s into b (data owned by the builder). */
static int one_batch(flyq_batch_builder_t *bb, const sample_t *s,
                     const opts_t *o, flyq_plugins_batch_t *b) {
  const uint8_t *data;
  int rc;
  flyq_batch_builder_reset(bb);
  rc = add_sample(bb, s);
  if (rc == 0) rc = flyq_batch_builder_finish(bb, &data, &b->len);
  *b = (flyq_plugins_batch_t){(char *)o->topic, o->hook == HOOK_CONSUME ? 0 : -1,
                              (uint8_t *)data, b->len, 1};
  return rc;
}

/* Prints the records of data[0..len) with their partitions, numbered from
 * input line `first`. */
static void print_placed(const opts_t *o, size_t first, const uint8_t *data,
                         size_t len, const int32_t *parts, size_t n) {
  flyq__output_t out = {FLYQ_OUTPUT_JSON, NULL, o->topic, stdout};
  flyq_record_iter_t it;
  flyq_record_t rec;
  if (flyq_record_iter_init(&it, data, len) < 0) return;
  for (size_t i = 0; i < n && flyq_record_iter_next(&it, &rec) == 1; i++) {
    printf("%zu partition %d ", first + i, (int)parts[i]);
    flyq__output_record(&out, parts[i], &rec);
  }
}

/* Places the one-record batch b of input record `line`: its partition,
 * or its error (under on_error pass or dead_letter both: the record then
 * gets the key_hash placement). */
static void run_partition(flyq_plugins_t *rt, const opts_t *o, size_t line,
                          const flyq_plugins_batch_t *b, tally_t *t) {
  char err[1024];
  int32_t part = -1;
  size_t n = 0;
  uint64_t before = last_error(rt, err, sizeof err);
  int64_t t0 = flyq__cli_now_ns();
  int rc = flyq_plugins_partition(rt, o->topic, o->principal, b->data, b->len,
                                  o->partitions, &part, 1, &n, err, sizeof err);
  t->ns += flyq__cli_now_ns() - t0;
  t->records++;
  if (rc == 0 && last_error(rt, err, sizeof err) == before) err[0] = '\0';
  if (err[0] != '\0') {
    t->errors++;
    drop_record_one(err);
    flyq__cli_line(stdout, "%zu error %s", line, err);
  }
  if (rc == 0) print_placed(o, line, b->data, b->len, &part, n);
  if (rc == 0) t->out += n;
}

/* ---- Authentication and authorization ------------------------------------ */

/* Prints the plugin's last error if the call made it fail. */
static void auth_error(const flyq_plugins_t *rt, tally_t *t) {
  flyq_plugin_stats_t *st = NULL;
  size_t n = 0;
  if (flyq_plugins_stats(rt, &st, &n) == 0 && n > 0 && st[0].errors > 0) {
    flyq__cli_line(stdout, "error %s", st[0].last_error);
    t->errors++;
  }
  flyq_plugins_stats_free(st, n);
}

/* --hook authorize on a plugin without that hook: an error, not the
 * "allowed" of a chain with no authorize hooks. */
static void no_authorize(const flyq_plugins_t *rt, tally_t *t) {
  flyq_plugin_stats_t *st = NULL;
  size_t n = 0;
  int named = flyq_plugins_stats(rt, &st, &n) == 0 && n > 0;
  flyq__cli_line(stdout, "error plugin %s has no authorize hook",
                 named ? st[0].name : "");
  if (named) flyq_plugins_stats_free(st, n);
  t->errors++;
}

/* Asks the plugin the one question of o; returns 0 when it was accepted
 * or allowed, 1 otherwise. */
static int run_auth(flyq_plugins_t *rt, const opts_t *o, tally_t *t) {
  char reason[512], resource[300];
  char *principal = NULL;
  int64_t t0 = flyq__cli_now_ns();
  int rc;
  if (o->hook == HOOK_AUTHENTICATE) {
    rc = flyq_plugins_authenticate(rt, o->mechanism,
                                   (const uint8_t *)o->credentials,
                                   strlen(o->credentials), NULL, &principal,
                                   reason, sizeof reason);
  } else if (!flyq_plugins_has_authorize(rt)) {
    no_authorize(rt, t);
    return 1;
  } else {
    snprintf(resource, sizeof resource, "topic:%s", o->topic);
    rc = flyq_plugins_authorize(rt, o->principal, o->action,
                                o->resource ? o->resource : resource);
  }
  t->ns += flyq__cli_now_ns() - t0;
  t->records = 1;
  auth_error(rt, t);
  if (o->hook == HOOK_AUTHORIZE)
    printf("%s\n", rc == 0 ? "allowed" : "denied");
  else if (rc == 0)
    flyq__cli_line(stdout, "authenticated %s", principal);
  else
    flyq__cli_line(stdout, "rejected %s", reason);
  free(principal);
  return rc == 0 ? 0 : 1;
}

/* ---- The command ------------------------------------------------------------- */

static void summary(flyq_plugins_t *rt, const tally_t *t, const opts_t *o) {
  flyq_plugin_stats_t *st = NULL;
  size_t n = 0;
  const char *errs = t->errors == 1 ? "error" : "errors";
  if (o->hook == HOOK_PARTITION)
    printf("summary: %zu records in, %zu placed, %zu %s\n", t->records,
           t->out, t->errors, errs);
  else if (o->hook == HOOK_AUTHENTICATE || o->hook == HOOK_AUTHORIZE)
    printf("summary: 1 call, %zu %s\n", t->errors, errs);
  else
    printf("summary: %zu records in, %zu stored: %zu kept, %zu changed, %zu "
           "dropped, %zu fanned out, %zu %s\n", t->records, t->out,
           t->kept, t->changed, t->dropped, t->fanned, t->errors, errs);
  printf("time: %.3f ms total, %.1f us per %s\n", (double)t->ns / 1e6,
         t->records ? (double)t->ns / 1e3 / (double)t->records : 0.0,
         o->hook == HOOK_AUTHENTICATE || o->hook == HOOK_AUTHORIZE ? "call"
                                                                  : "record");
  if (flyq_plugins_stats(rt, &st, &n) < 0) return;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < st[i].ncounters; j++)
      flyq__cli_line(stdout, "counter %s = %lld", st[i].counters[j].name,
                     (long long)st[i].counters[j].value);
  flyq_plugins_stats_free(st, n);
}

static int blank(const uint8_t *line, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') return 0;
  return 1;
}

/* The batches made from the input, a record at a time. */
typedef struct input {
  flyq_batch_builder_t one;
  size_t records;           /* records read so far */
} input_t;

/* Runs the record of one input line. Returns NULL, or what is wrong with
 * the line. */
static const char *use_line(flyq_plugins_t *rt, const opts_t *o, input_t *in,
                            const uint8_t *line, size_t len, tally_t *t,
                            char *why, size_t n) {
  sample_t s;
  flyq_plugins_batch_t b;
  const char *bad = read_sample(&s, line, len, (int64_t)in->records++, why, n);
  if (bad == NULL && one_batch(&in->one, &s, o, &b) < 0)
    bad = "record too large";
  else if (bad == NULL && o->hook == HOOK_PARTITION)
    run_partition(rt, o, in->records, &b, t);
  else if (bad == NULL)
    run_filter(rt, o, in->records, &b, s.offset, t);
  sample_free(&s);
  return bad;
}

/* Reads the input and runs every record. Records are numbered from 1 in
 * the output, blank lines skipped; errors name the input line. */
static int run(flyq__cli_t *cli, flyq_plugins_t *rt, const opts_t *o, int fd,
               tally_t *t) {
  flyq__lines_t lines;
  input_t in = {.records = 0};
  const uint8_t *line;
  size_t len, n = 0;
  int r;
  const char *bad = NULL;
  char why[256];
  flyq__lines_init(&lines, fd, MAX_LINE, NULL, NULL);
  flyq_batch_builder_init(&in.one);
  while (bad == NULL && (r = flyq__lines_next(&lines, &line, &len)) > 0) {
    n++;
    if (r == FLYQ_LINES_TOO_LONG) bad = "line too long";
    else if (!blank(line, len)) bad = use_line(rt, o, &in, line, len, t, why, sizeof why);
  }
  if (bad) flyq__cli_error(cli, "input line %zu: %s", n, bad);
  else if (r < 0) flyq__cli_error(cli, "read: %s", strerror(-r));
  flyq_batch_builder_free(&in.one);
  flyq__lines_free(&lines);
  return bad != NULL || r < 0;
}

/* 1 if file can be the plugin under test: a readable NAME.lua (the
 * runtime finds a plugin by that name); else says why. */
static int readable_plugin(flyq__cli_t *cli, const char *file) {
  size_t n = strlen(file);
  if (n < 5 || strcmp(file + n - 4, ".lua") != 0 || file[n - 5] == '/') {
    flyq__cli_error(cli, "%s: a plugin file is NAME.lua", file);
    return 0;
  }
  if (access(file, R_OK) != 0) {
    flyq__cli_error(cli, "cannot read %s: %s", file, strerror(errno));
    return 0;
  }
  return 1;
}

static int cmd_test(int argc, char **argv) {
  flyq__cli_t cli;
  opts_t o;
  tally_t t = {0};
  flyq_plugins_t *rt;
  int fd = 0, r;
  flyq__cli_init(&cli, "plugin test", usage);
  if ((r = parse(&cli, argc, argv, &o)) >= 0) return r;
  if (!readable_plugin(&cli, o.file)) return 1;
  if (o.input && (fd = open(o.input, O_RDONLY | O_CLOEXEC)) < 0) {
    flyq__cli_error(&cli, "%s: %s", o.input, strerror(errno));
    return 1;
  }
  rt = load(&cli, &o);
  if (rt && (o.hook == HOOK_AUTHENTICATE || o.hook == HOOK_AUTHORIZE))
    r = run_auth(rt, &o, &t);
  else
    r = rt ? run(&cli, rt, &o, fd, &t) : 1;
  if (rt) summary(rt, &t, &o);
  flyq_plugins_free(rt);
  if (fd > 0) close(fd);
  return r ? r : t.errors > 0;
}

int flyq__cmd_plugin(int argc, char **argv) {
  static const flyq__cli_sub_t subs[] = {{"test", cmd_test}};
  return flyq__cli_dispatch("plugin", usage, subs, 1, argc, argv);
}
