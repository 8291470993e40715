/* `flyq stats`: the broker's counters and every plugin instance's stats
 * (calls, errors, the last error, its counters) over the Stats API, as
 * text or as the broker's JSON.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const char usage[] =
    "usage: flyq stats [--json] [-b HOST:PORT] [--token TOKEN]\n"
    "\n"
    "Prints the broker's counters (requests, records, bytes, fsyncs,\n"
    "errors, connections...) and, for every plugin instance in load order,\n"
    "its file, where it is used (the config's key paths, such as\n"
    "topics.orders.on_produce[1], or consumer filter), its params (#ID,\n"
    "its random id, when they may hold a secret), batches, hook calls (one\n"
    "per record a hook ran on, one per auth call; \"in chunks\": those\n"
    "made up to 128 at a time, docs/plugins.md), errors, last error and\n"
    "counters (docs/protocol.md, \"Stats\"). Control characters in a\n"
    "plugin's text print escaped (\\n, \\x1b...). An admin operation: with\n"
    "auth plugins, the principal needs `admin` on `cluster`.\n"
    "\n"
    "Options:\n"
    "      --json              print the broker's JSON object as it came\n"
    FLYQ_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 success, 1 error, 2 usage error.\n";

enum { OPT_JSON = FLYQ_CLI_OPT_FIRST };

/* "  key value" for each number of the object o, on one line after name. */
static void print_numbers(const char *name, json_t *o) {
  const char *key;
  json_t *v;
  if (!json_is_object(o)) return;
  printf("%s:", name);
  json_object_foreach(o, key, v)
    if (json_is_number(v)) printf(" %s %.0f", key, json_number_value(v));
  printf("\n");
}

static const char *text_of(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  return s ? s : "";
}

/* " as USE, USE... PARAMS" of instance p (malloc'd; NULL when out of
 * memory): where it is used and its params, as JSON when the broker shows
 * them (nothing for none), else "#ID", its random id. */
static char *where_text(json_t *p) {
  json_t *u, *params = json_object_get(p, "params");
  char *s = NULL, *text;
  size_t n, i;
  FILE *f = open_memstream(&s, &n);
  if (f == NULL) return NULL;
  json_array_foreach(json_object_get(p, "used_as"), i, u)
    fprintf(f, "%s%s", i == 0 ? " as " : ", ",
            json_string_value(u) ? json_string_value(u) : "");
  text = json_is_object(params) ? json_dumps(params, JSON_COMPACT) : NULL;
  if (text && strcmp(text, "{}") != 0)
    fprintf(f, " %s", text);
  else if (text == NULL && json_is_string(json_object_get(p, "id")))
    fprintf(f, " #%s", text_of(p, "id")); /* hidden params: which is which */
  free(text);
  if (fclose(f) == 0) return s;
  free(s);
  return NULL;
}

/* One plugin instance: a line, its last error and its counters, with
 * the plugin's text escaped (flyq__cli_line). */
static void print_plugin(json_t *p) {
  const char *key;
  char *where = where_text(p);
  json_t *v, *counters = json_object_get(p, "counters");
  double chunked = json_number_value(json_object_get(p, "chunked_calls"));
  char in_chunks[48] = "";
  if (chunked > 0)
    snprintf(in_chunks, sizeof in_chunks, " (%.0f in chunks)", chunked);
  flyq__cli_line(stdout,
                 "plugin %s (%s)%s: batches %.0f, calls %.0f%s, errors %.0f",
                 text_of(p, "name"), text_of(p, "file"), where ? where : "",
                 json_number_value(json_object_get(p, "batches")),
                 json_number_value(json_object_get(p, "calls")), in_chunks,
                 json_number_value(json_object_get(p, "errors")));
  free(where);
  if (json_is_string(json_object_get(p, "last_error")))
    flyq__cli_line(stdout, "  last error: %s", text_of(p, "last_error"));
  if (json_is_object(counters))
    json_object_foreach(counters, key, v)
      flyq__cli_line(stdout, "  counter %s = %.0f", key, json_number_value(v));
}

static int print_text(flyq__cli_t *cli, const char *text, size_t len) {
  json_error_t err;
  json_t *root = json_loadb(text, len, 0, &err), *plugins, *p;
  size_t i;
  if (!json_is_object(root)) {
    flyq__cli_error(cli, "Stats: the broker's JSON does not parse: %s",
                    err.text);
    json_decref(root);
    return 1;
  }
  print_numbers("broker", json_object_get(root, "broker"));
  print_numbers("server", json_object_get(root, "server"));
  plugins = json_object_get(root, "plugins");
  if (json_is_array(plugins))
    json_array_foreach(plugins, i, p) print_plugin(p);
  json_decref(root);
  return 0;
}

/* Returns -1 to go on, else the exit status. */
static int parse(flyq__cli_t *cli, int argc, char **argv, int *json) {
  static const struct option longopts[] = {
      FLYQ_CLI_COMMON_LONGOPTS, {"json", no_argument, NULL, OPT_JSON},
      {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, FLYQ_CLI_COMMON_SHORTOPTS, longopts,
                            NULL)) != -1) {
    int r = opt == OPT_JSON ? (*json = 1, -1)
                            : flyq__cli_common_opt(cli, opt, argv);
    if (r >= 0) return r;
  }
  return flyq__cli_positionals(cli, argc, argv, 0, NULL, NULL);
}

int flyq__cmd_stats(int argc, char **argv) {
  flyq__cli_t cli;
  const char *text;
  size_t len;
  int json = 0, r;
  flyq__cli_init(&cli, "stats", usage);
  r = parse(&cli, argc, argv, &json);
  if (r >= 0) return r;
  r = flyq__cli_connect(&cli, NULL);
  if (r == 0 && (r = flyq_client_stats(cli.client, &text, &len)) < 0)
    r = flyq__cli_client_error(&cli, r);
  if (r == 0 && json)
    printf("%.*s\n", (int)len, text);
  else if (r == 0)
    r = print_text(&cli, text, len);
  flyq__cli_close(&cli);
  return r;
}
