/* Loading the broker's Lua config file (src/host/config.c) and the sandbox it
 * runs in (src/host/sandbox.c): defaults, a full file, the exact error
 * messages, and the sandbox's limits and missing functions. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "flyq/config.h"
#include "flyq/logmsg.h"
#include "test.h"

#define MiB (1024ull * 1024)
#define DAY_MS (86400000ll)

static char path[512];
static char err[1024];

/* Writes src to <tmpdir>/flyq.lua and loads it into cfg; returns the code. */
static int load(flyq_config_t *cfg, const char *src) {
  FILE *f;
  snprintf(path, sizeof path, "%s/flyq.lua", flyq_test_tmpdir());
  f = fopen(path, "w");
  CHECK(f != NULL);
  CHECK(fputs(src, f) >= 0);
  CHECK(fclose(f) == 0);
  err[0] = '\0';
  return flyq_config_load(cfg, path, err, sizeof err);
}

/* Loads src, expects code and the message "<path><want>". */
static void check_error(const char *src, int code, const char *want) {
  flyq_config_t cfg;
  char full[1024];
  int r;
  CHECK_OK(flyq_config_init(&cfg));
  r = load(&cfg, src);
  flyq_config_free(&cfg);
  snprintf(full, sizeof full, "%s%s", path, want);
  if (r != code || strcmp(err, full) != 0)
    flyq_test_fail(__FILE__, __LINE__, "got %d \"%s\", want %d \"%s\"", r, err,
                   code, full);
}

/* Loads src, expects failure with a message containing want. */
static void check_error_has(const char *src, int code, const char *want) {
  flyq_config_t cfg;
  int r;
  CHECK_OK(flyq_config_init(&cfg));
  r = load(&cfg, src);
  flyq_config_free(&cfg);
  if (r != code || strstr(err, want) == NULL)
    flyq_test_fail(__FILE__, __LINE__, "got %d \"%s\", want %d and \"%s\"", r,
                   err, code, want);
}

static double seconds_since(const struct timespec *t0) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  return (double)(t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

TEST(defaults_without_a_file) {
  flyq_config_t cfg;
  CHECK_OK(flyq_config_init(&cfg));
  CHECK(strcmp(cfg.listen, "127.0.0.1:7500") == 0);
  CHECK(strcmp(cfg.http, "127.0.0.1:7501") == 0);
  CHECK(strcmp(cfg.data_dir, "./data") == 0);
  CHECK_EQ(cfg.log_level, FLYQ_LOG_INFO);
  CHECK_EQ(cfg.allow_anonymous, 0);
  CHECK_EQ(cfg.auto_create_topics, 1);
  CHECK_EQ(cfg.default_partitions, 1);
  CHECK_EQ(cfg.log.segment_bytes, 1024 * MiB);
  CHECK_EQ(cfg.log.retention_ms, 7 * DAY_MS);
  CHECK_EQ(cfg.log.retention_bytes, -1);
  CHECK_EQ(cfg.max_frame_bytes, 16 * MiB);
  CHECK_EQ(cfg.max_output_bytes, 64 * MiB);
  CHECK_EQ(cfg.max_connections, 10000);
  CHECK_EQ(cfg.max_inflight, 256);
  CHECK_EQ(cfg.request_timeout_ms, 30000);
  CHECK_EQ(cfg.groups_flush_interval_ms, 1000);
  CHECK_EQ(cfg.ntopics, 0);
  CHECK(cfg.topics == NULL);
  flyq_config_free(&cfg);
  flyq_config_free(&cfg); /* twice is harmless */
}

static const char full_config[] =
    "return {\n"
    "  listen = \"127.0.0.1:7600\", http = \"127.0.0.1:7601\",\n"
    "  data_dir = \"/var/lib/flyq\", log_level = \"debug\",\n"
    "  flush = { messages = 10000, interval_ms = 1000 },\n"
    "  limits = { max_frame_bytes = \"8MiB\", max_connections = 500,\n"
    "    max_inflight = 32, max_output_bytes = \"1GB\",\n"
    "    request_timeout_ms = \"10s\", max_topics = 100 },\n"
    "  defaults = { partitions = 3, retention = { ms = \"7d\", bytes = -1 },\n"
    "    segment = { bytes = \"1GiB\", ms = \"1h\" },\n"
    "    index_interval_bytes = 8192 },\n"
    "  auto_create_topics = false, allow_anonymous = true,\n"
    "  groups = { flush_interval_ms = 500 },\n"
    "  retention_check_interval_ms = \"30s\", shutdown_timeout_ms = \"5s\",\n"
    "  topics = {\n"
    "    orders = { partitions = 6, retention = { ms = 7 * 86400000,\n"
    "      bytes = \"10GiB\" }, segment = { bytes = \"256MiB\" } },\n"
    "    [\"audit.log-v2\"] = { flush = { messages = 1 } },\n"
    "  },\n"
    "}\n";

TEST(full_valid_file) {
  flyq_config_t cfg;
  flyq_config_topic_t *audit, *orders;
  CHECK_OK(flyq_config_init(&cfg));
  if (load(&cfg, full_config) != 0) flyq_test_fail(__FILE__, __LINE__, "%s", err);
  CHECK(strcmp(cfg.listen, "127.0.0.1:7600") == 0);
  CHECK(strcmp(cfg.http, "127.0.0.1:7601") == 0);
  CHECK(strcmp(cfg.data_dir, "/var/lib/flyq") == 0);
  CHECK_EQ(cfg.log_level, FLYQ_LOG_DEBUG);
  CHECK_EQ(cfg.log.flush_messages, 10000);
  CHECK_EQ(cfg.log.flush_ms, 1000);
  CHECK_EQ(cfg.max_frame_bytes, 8 * MiB);
  CHECK_EQ(cfg.max_connections, 500);
  CHECK_EQ(cfg.max_inflight, 32);
  CHECK_EQ(cfg.max_output_bytes, 1000000000);
  CHECK_EQ(cfg.request_timeout_ms, 10000);
  CHECK_EQ(cfg.max_topics, 100);
  CHECK_EQ(cfg.default_partitions, 3);
  CHECK_EQ(cfg.log.retention_ms, 7 * DAY_MS);
  CHECK_EQ(cfg.log.retention_bytes, -1);
  CHECK_EQ(cfg.log.segment_bytes, 1024 * MiB);
  CHECK_EQ(cfg.log.segment_ms, 3600000);
  CHECK_EQ(cfg.log.index_interval_bytes, 8192);
  CHECK_EQ(cfg.auto_create_topics, 0);
  CHECK_EQ(cfg.allow_anonymous, 1);
  CHECK_EQ(cfg.groups_flush_interval_ms, 500);
  CHECK_EQ(cfg.retention_check_interval_ms, 30000);
  CHECK_EQ(cfg.shutdown_timeout_ms, 5000);
  CHECK_EQ(cfg.ntopics, 2); /* sorted by name */
  audit = &cfg.topics[0];
  orders = &cfg.topics[1];
  CHECK(strcmp(audit->name, "audit.log-v2") == 0);
  CHECK_EQ(audit->partitions, 3); /* from defaults */
  CHECK_EQ(audit->log.flush_messages, 1);
  CHECK_EQ(audit->log.flush_ms, 1000);
  CHECK_EQ(audit->log.segment_bytes, 1024 * MiB);
  CHECK(strcmp(orders->name, "orders") == 0);
  CHECK_EQ(orders->partitions, 6);
  CHECK_EQ(orders->log.retention_ms, 7 * DAY_MS);
  CHECK_EQ(orders->log.retention_bytes, 10 * 1024 * MiB);
  CHECK_EQ(orders->log.segment_bytes, 256 * MiB);
  CHECK_EQ(orders->log.segment_ms, 3600000); /* inherited */
  CHECK_EQ(orders->log.flush_messages, 10000);
  CHECK_EQ(orders->log.index_interval_bytes, 8192);
  flyq_config_free(&cfg);
}

TEST(empty_table_keeps_defaults) {
  flyq_config_t cfg;
  CHECK_OK(flyq_config_init(&cfg));
  free(cfg.listen);
  cfg.listen = strdup("changed:1");
  CHECK_OK(load(&cfg, "return {}"));
  CHECK(strcmp(cfg.listen, "127.0.0.1:7500") == 0);
  CHECK_EQ(cfg.ntopics, 0);
  flyq_config_free(&cfg);
}

/* sizes and durations, in every accepted form */
static int64_t load_size(const char *v) {
  flyq_config_t cfg;
  char src[256];
  int64_t got;
  snprintf(src, sizeof src, "return { defaults = { retention = { bytes = %s } } }", v);
  CHECK_OK(flyq_config_init(&cfg));
  if (load(&cfg, src) != 0) flyq_test_fail(__FILE__, __LINE__, "%s", err);
  got = (int64_t)cfg.log.retention_bytes;
  flyq_config_free(&cfg);
  return got;
}

static int64_t load_duration(const char *v) {
  flyq_config_t cfg;
  char src[256];
  int64_t got;
  snprintf(src, sizeof src, "return { defaults = { retention = { ms = %s } } }", v);
  CHECK_OK(flyq_config_init(&cfg));
  if (load(&cfg, src) != 0) flyq_test_fail(__FILE__, __LINE__, "%s", err);
  got = cfg.log.retention_ms;
  flyq_config_free(&cfg);
  return got;
}

TEST(size_units) {
  CHECK_EQ(load_size("4096"), 4096);
  CHECK_EQ(load_size("4096.0"), 4096);
  CHECK_EQ(load_size("\"1024B\""), 1024);
  CHECK_EQ(load_size("\"512KiB\""), 512 * 1024);
  CHECK_EQ(load_size("\"256MiB\""), 256 * MiB);
  CHECK_EQ(load_size("\"3GiB\""), 3 * 1024 * MiB);
  CHECK_EQ(load_size("\"2TiB\""), 2 * 1024 * 1024 * MiB);
  CHECK_EQ(load_size("\"7KB\""), 7000);
  CHECK_EQ(load_size("\"7MB\""), 7000000);
  CHECK_EQ(load_size("\"10GB\""), 10000000000ll);
  CHECK_EQ(load_size("\"1TB\""), 1000000000000ll);
  CHECK_EQ(load_size("\"64 MiB\""), 64 * MiB);
}

TEST(duration_units) {
  CHECK_EQ(load_duration("1500"), 1500);
  CHECK_EQ(load_duration("-1"), -1);
  CHECK_EQ(load_duration("\"250ms\""), 250);
  CHECK_EQ(load_duration("\"10s\""), 10000);
  CHECK_EQ(load_duration("\"30m\""), 30 * 60000);
  CHECK_EQ(load_duration("\"1h\""), 3600000);
  CHECK_EQ(load_duration("\"7d\""), 7 * DAY_MS);
  CHECK_EQ(load_duration("\"1h30m\""), 5400000);
  CHECK_EQ(load_duration("\"1500\""), 1500); /* digits: milliseconds */
}

TEST(unknown_key) {
  check_error("return { topics = { orders = { partitons = 3 } } }",
              FLYQ_ERR_CONFIG,
              ": topics.orders.partitons: unknown key "
              "(did you mean \"partitions\"?)");
  check_error("return { colour = 1 }", FLYQ_ERR_CONFIG, ": colour: unknown key");
  check_error("return { \"x\" }", FLYQ_ERR_CONFIG, ": [1]: unknown key");
}

TEST(wrong_type) {
  check_error("return { auto_create_topics = \"yes\" }", FLYQ_ERR_CONFIG,
              ": auto_create_topics: expected boolean, got \"yes\"");
  check_error("return { limits = 5 }", FLYQ_ERR_CONFIG,
              ": limits: expected table, got 5");
  check_error("return { data_dir = {} }", FLYQ_ERR_CONFIG,
              ": data_dir: expected non-empty string, got a table");
  check_error("return { log_level = \"verbose\" }", FLYQ_ERR_CONFIG,
              ": log_level: expected one of \"error\", \"warn\", \"info\", "
              "\"debug\", got \"verbose\"");
  check_error("return 42", FLYQ_ERR_CONFIG,
              ": the config file must return a table, got 42");
}

TEST(bad_size) {
  check_error("return { defaults = { segment = { bytes = \"12XB\" } } }",
              FLYQ_ERR_CONFIG,
              ": defaults.segment.bytes: expected size (bytes or a string "
              "like \"256MiB\"), got \"12XB\"");
  /* segment.bytes has topic create's (and Kafka's) bounds */
  check_error("return { topics = { t = { segment = { bytes = 1023 } } } }",
              FLYQ_ERR_CONFIG,
              ": topics.t.segment.bytes: expected size >= 1024 bytes, got 1023");
  check_error("return { defaults = { segment = { bytes = \"2GiB\" } } }",
              FLYQ_ERR_CONFIG,
              ": defaults.segment.bytes: expected size <= 2147483647 bytes, "
              "got \"2GiB\"");
  check_error("return { defaults = { retention = { bytes = -2 } } }",
              FLYQ_ERR_CONFIG,
              ": defaults.retention.bytes: expected size >= 0 bytes or -1 "
              "(no limit), got -2");
  check_error("return { limits = { max_frame_bytes = \"8GiB\" } }",
              FLYQ_ERR_CONFIG,
              ": limits.max_frame_bytes: expected size <= 4294967295 bytes, "
              "got \"8GiB\"");
  check_error("return { limits = { max_output_bytes = 1.5 } }",
              FLYQ_ERR_CONFIG,
              ": limits.max_output_bytes: expected size (bytes or a string "
              "like \"256MiB\"), got 1.5");
}

TEST(bad_duration) {
  check_error("return { groups = { flush_interval_ms = \"7y\" } }",
              FLYQ_ERR_CONFIG,
              ": groups.flush_interval_ms: expected duration (milliseconds or "
              "a string like \"7d\", \"1h\", \"30m\", \"10s\", \"250ms\"), "
              "got \"7y\"");
  check_error("return { defaults = { retention = { ms = \"-1\" } } }",
              FLYQ_ERR_CONFIG,
              ": defaults.retention.ms: expected duration (milliseconds or a "
              "string like \"7d\", \"1h\", \"30m\", \"10s\", \"250ms\") or "
              "-1 (forever), got \"-1\"");
  check_error("return { limits = { request_timeout_ms = \"0\" } }",
              FLYQ_ERR_CONFIG,
              ": limits.request_timeout_ms: expected duration >= 1ms, got "
              "\"0\"");
  check_error("return { limits = { request_timeout_ms = 0 } }", FLYQ_ERR_CONFIG,
              ": limits.request_timeout_ms: expected duration >= 1ms, got 0");
}

TEST(bad_partitions) {
  check_error("return { topics = { orders = { partitions = \"six\" } } }",
              FLYQ_ERR_CONFIG,
              ": topics.orders.partitions: expected integer >= 1, got \"six\"");
  check_error("return { topics = { orders = { partitions = 0 } } }",
              FLYQ_ERR_CONFIG,
              ": topics.orders.partitions: expected integer >= 1, got 0");
  check_error("return { defaults = { partitions = 10001 } }", FLYQ_ERR_CONFIG,
              ": defaults.partitions: expected integer <= 10000, got 10001");
}

TEST(bad_topic_name) {
  const char *why = ": invalid topic name (1 to 249 characters of A-Z a-z 0-9 "
                    ". _ -, not \".\" or \"..\", not starting with \"__\")";
  char want[512];
  snprintf(want, sizeof want, ": topics[\"a/b\"]%s", why);
  check_error("return { topics = { [\"a/b\"] = {} } }", FLYQ_ERR_CONFIG, want);
  snprintf(want, sizeof want, ": topics.__x%s", why);
  check_error("return { topics = { __x = {} } }", FLYQ_ERR_CONFIG, want);
  snprintf(want, sizeof want, ": topics[\"a\\0b\"]%s", why);
  check_error("return { topics = { [\"a\\0b\"] = {} } }", FLYQ_ERR_CONFIG, want);
  check_error("return { topics = { { partitions = 1 } } }", FLYQ_ERR_CONFIG,
              ": topics[1]: expected topic name as key (topics = { name = "
              "{...} }), got 1");
}

TEST(bad_address) {
  check_error("return { listen = \"127.0.0.1:65536\" }", FLYQ_ERR_CONFIG,
              ": listen: expected address \"host:port\" with a port from 0 "
              "to 65535, got \"127.0.0.1:65536\"");
  check_error("return { http = \"localhost\" }", FLYQ_ERR_CONFIG,
              ": http: expected address \"host:port\" with a port from 0 to "
              "65535, got \"localhost\"");
  check_error("return { listen = \"::1:80\" }", FLYQ_ERR_CONFIG,
              ": listen: expected address \"host:port\" with a port from 0 to "
              "65535, got \"::1:80\"");
  check_error("return { listen = \"256.1.1.1:80\" }", FLYQ_ERR_CONFIG,
              ": listen: expected address whose host is a name, an IPv4 "
              "address or an [IPv6] address in brackets, got "
              "\"256.1.1.1:80\"");
}

TEST(good_addresses) {
  flyq_config_t cfg;
  CHECK_OK(flyq_config_init(&cfg));
  CHECK_OK(load(&cfg, "return { listen = \"[::1]:0\", http = \"0.0.0.0:65535\" }"));
  CHECK(strcmp(cfg.listen, "[::1]:0") == 0);
  CHECK(strcmp(cfg.http, "0.0.0.0:65535") == 0);
  flyq_config_free(&cfg);
}

TEST(error_leaves_cfg_unchanged) {
  flyq_config_t cfg;
  CHECK_OK(flyq_config_init(&cfg));
  CHECK_OK(load(&cfg, "return { listen = \"127.0.0.1:9\", topics = { a = {} } }"));
  CHECK_EQ(load(&cfg, "return { listen = \"127.0.0.1:10\", bogus = 1 }"),
           FLYQ_ERR_CONFIG);
  CHECK(strcmp(cfg.listen, "127.0.0.1:9") == 0);
  CHECK_EQ(cfg.ntopics, 1);
  CHECK(strcmp(cfg.topics[0].name, "a") == 0);
  flyq_config_free(&cfg);
}

TEST(syntax_error_has_file_and_line) {
  check_error("return {\n  listen = ,\n}\n", FLYQ_ERR_CONFIG,
              ":2: unexpected symbol near ','");
}

/* A byte order mark and a "#!" first line are skipped, as stock Lua does;
 * line numbers stay those of the file. */
TEST(bom_and_shebang_are_skipped) {
  flyq_config_t cfg;
  CHECK_OK(flyq_config_init(&cfg));
  if (load(&cfg, "\xEF\xBB\xBFreturn { log_level = 'debug' }\n") != 0)
    flyq_test_fail(__FILE__, __LINE__, "BOM: %s", err);
  CHECK_EQ(cfg.log_level, FLYQ_LOG_DEBUG);
  flyq_config_free(&cfg);
  check_error("#!/usr/bin/env flyq serve -c\nlocal x = 1\nerror('third')\n",
              FLYQ_ERR_CONFIG, ":3: third");
  check_error("\xEF\xBB\xBF#!x\nreturn {\n  listen = ,\n}\n",
              FLYQ_ERR_CONFIG, ":3: unexpected symbol near ','");
}

TEST(runtime_error_has_file_and_line) {
  check_error("local x = 1\nerror(\"no good\")\n", FLYQ_ERR_CONFIG,
              ":2: no good");
  check_error("error({})", FLYQ_ERR_CONFIG,
              ": (error object is a table value)");
  check_error("error(\"bare\", 0)", FLYQ_ERR_CONFIG, ": bare");
  check_error("error(\"two\\nlines\", 0)", FLYQ_ERR_CONFIG, ": two lines");
}

TEST(missing_file) {
  flyq_config_t cfg;
  char want[600];
  snprintf(path, sizeof path, "%s/nope.lua", flyq_test_tmpdir());
  CHECK_OK(flyq_config_init(&cfg));
  CHECK_EQ(flyq_config_load(&cfg, path, err, sizeof err), -ENOENT);
  snprintf(want, sizeof want, "%s: cannot read: No such file or directory", path);
  CHECK(strcmp(err, want) == 0);
  CHECK_EQ(flyq_config_load(&cfg, path, NULL, 0), -ENOENT);
  flyq_config_free(&cfg);
}

TEST(endless_loop_hits_the_instruction_limit) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  check_error("while true do end", FLYQ_ERR_LIMIT,
              ":1: instruction limit exceeded (50000000 instructions)");
  /* catching the error does not help */
  check_error_has("while true do\n  pcall(function() while true do end end)\n"
                  "end\n",
                  FLYQ_ERR_LIMIT, "instruction limit exceeded");
  check_error_has("coroutine.wrap(function() while true do end end)()",
                  FLYQ_ERR_LIMIT, "instruction limit exceeded");
  CHECK(seconds_since(&t0) < 10.0);
}

TEST(memory_bomb_hits_the_memory_limit) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  check_error("local t = {} for i = 1, 1e9 do t[i] = (\"x\"):rep(1e6) end",
              FLYQ_ERR_LIMIT, ":1: memory limit exceeded (64 MiB)");
  check_error("return {\n data_dir = (\"x\"):rep(1e9) }", FLYQ_ERR_LIMIT,
              ":2: memory limit exceeded (64 MiB)");
  /* catching the error does not help: the file still fails, at the line
   * where it reached the cap */
  check_error("local ok = pcall(function() local t = {}\n"
              "  while true do t[#t + 1] = (\"x\"):rep(8e6) end end)\n"
              "return { log_level = ok and 'debug' or 'info' }",
              FLYQ_ERR_LIMIT, ":2: memory limit exceeded (64 MiB)");
  CHECK(seconds_since(&t0) < 10.0);
}

TEST(io_os_require_are_unavailable) {
  check_error("local f = io.open(\"/etc/passwd\")", FLYQ_ERR_CONFIG,
              ":1: attempt to index a nil value (global 'io')");
  check_error("os.execute(\"touch /tmp/flyq-pwned\")", FLYQ_ERR_CONFIG,
              ":1: attempt to index a nil value (global 'os')");
  check_error("local m = require(\"os\")", FLYQ_ERR_CONFIG,
              ":1: attempt to call a nil value (global 'require')");
  check_error("local f = function() end\nlocal g = load(string.dump(f))",
              FLYQ_ERR_CONFIG,
              ":2: attempt to call a nil value (field 'dump')");
}

TEST(sandbox_has_only_safe_functions) {
  flyq_config_t cfg;
  static const char src[] =
      "local gone = { dofile, loadfile, debug, package, collectgarbage,\n"
      "  getmetatable, setmetatable, os, io, require, (\"\").dump,\n"
      "  string.dump }\n"
      "local f, e = load(\"\\27LuaT\")\n"
      "local ok = f == nil and e:find(\"binary chunk\") and\n"
      "  load(\"return 1 + 1\")() == 2 and next(gone) == nil and\n"
      "  load(\"return x\", \"c\", \"t\", { x = 5 })() == 5\n"
      "string.upper = nil\n"
      "return { data_dir = ok and (\"ok\"):upper() or \"bad\" }\n";
  CHECK_OK(flyq_config_init(&cfg));
  if (load(&cfg, src) != 0) flyq_test_fail(__FILE__, __LINE__, "%s", err);
  CHECK(strcmp(cfg.data_dir, "OK") == 0);
  flyq_config_free(&cfg);
}

TEST(env_reads_the_environment) {
  flyq_config_t cfg;
  CHECK_OK(setenv("FLYQ_TEST_DATA_DIR", "/srv/flyq-test", 1));
  unsetenv("FLYQ_TEST_UNSET");
  CHECK_OK(flyq_config_init(&cfg));
  CHECK_OK(load(&cfg, "return { data_dir = env(\"FLYQ_TEST_DATA_DIR\"),\n"
                      "  listen = env(\"FLYQ_TEST_UNSET\", \"127.0.0.1:9\"),\n"
                      "  http = env(\"FLYQ_TEST_UNSET\") }"));
  CHECK(strcmp(cfg.data_dir, "/srv/flyq-test") == 0);
  CHECK(strcmp(cfg.listen, "127.0.0.1:9") == 0);
  CHECK(strcmp(cfg.http, "127.0.0.1:7501") == 0);
  flyq_config_free(&cfg);
}

/* An inline partitioner keeps the lines that hold it, for the plan: only
 * when nothing but its own lines can change what it does. */
TEST(inline_partitioner_lines) {
  flyq_config_t cfg;
  CHECK_OK(flyq_config_init(&cfg));
  CHECK_OK(load(&cfg, "return { topics = {\n"
                      "  a = { partitioner = function(r, n)\n"
                      "    return math.max(0, n - 1) end },\n"
                      "  b = { partitioner = function(r, n) return 0 end },\n"
                      "} }\n"));
  CHECK_EQ(cfg.ntopics, 2);
  CHECK(cfg.topics[0].partitioner.inline_fn);
  CHECK_EQ(cfg.topics[0].partitioner.first_line, 2);
  CHECK_EQ(cfg.topics[0].partitioner.last_line, 3);
  CHECK_EQ(cfg.topics[1].partitioner.first_line, 4);
  CHECK_EQ(cfg.topics[1].partitioner.last_line, 4);
  /* A local of the file, or code of another chunk: not known. */
  CHECK_OK(load(&cfg, "local k = 2\n"
                      "local f = load('return function(r, n) return 0 end')()\n"
                      "return { topics = {\n"
                      "  a = { partitioner = function(r, n) return k end },\n"
                      "  b = { partitioner = f } } }\n"));
  CHECK(cfg.topics[0].partitioner.inline_fn);
  CHECK_EQ(cfg.topics[0].partitioner.first_line, 0);
  CHECK(cfg.topics[1].partitioner.inline_fn);
  CHECK_EQ(cfg.topics[1].partitioner.first_line, 0);
  /* Globals the file sets, or a library table it changes, are read
   * through _ENV: any line may then change what the function does. */
  static const char *const touched[] = {
      "P = 1\n",
      "math.max = function() return 1 end\n",
      "rawset(_G, 'Q', 2)\n"};
  for (size_t i = 0; i < sizeof touched / sizeof *touched; i++) {
    char src[256];
    snprintf(src, sizeof src, "%sreturn { topics = {\n"
             "  a = { partitioner = function(r, n) return math.max(0, n - 1) end },\n"
             "} }\n", touched[i]);
    CHECK_OK(load(&cfg, src));
    CHECK(cfg.topics[0].partitioner.inline_fn);
    CHECK_EQ(cfg.topics[0].partitioner.first_line, 0);
  }
  flyq_config_free(&cfg);
}

/* `flyq topic create --config` values, read as the config file reads them. */
TEST(topic_setting_text) {
  int64_t v = 7;
  CHECK_OK(flyq_config_topic_setting("retention.ms", "1h", &v, err,
                                     sizeof err));
  CHECK_EQ(v, 3600000);
  CHECK_OK(flyq_config_topic_setting("segment.bytes", "256MiB", &v, err,
                                     sizeof err));
  CHECK_EQ(v, 256 * MiB);
  CHECK_OK(flyq_config_topic_setting("retention.bytes", "-1", &v, err,
                                     sizeof err));
  CHECK_EQ(v, -1);
  CHECK_OK(flyq_config_topic_setting("flush.ms", "250", &v, err, sizeof err));
  CHECK_EQ(v, 250);
  CHECK_EQ(flyq_config_topic_setting("segment.bytes", "512", &v, err,
                                     sizeof err), FLYQ_ERR_CONFIG);
  CHECK(strcmp(err, "segment.bytes: expected size >= 1024 bytes, got 512") ==
        0);
  v = 7;
  CHECK_EQ(flyq_config_topic_setting("colour", "red", &v, err, sizeof err),
           FLYQ_ERR_NOT_FOUND);
  CHECK_EQ(v, 7);
}

TEST_LIST(TEST_ENTRY(defaults_without_a_file)
          TEST_ENTRY(full_valid_file)
          TEST_ENTRY(empty_table_keeps_defaults)
          TEST_ENTRY(size_units)
          TEST_ENTRY(duration_units)
          TEST_ENTRY(unknown_key)
          TEST_ENTRY(wrong_type)
          TEST_ENTRY(bad_size)
          TEST_ENTRY(bad_duration)
          TEST_ENTRY(bad_partitions)
          TEST_ENTRY(bad_topic_name)
          TEST_ENTRY(bad_address)
          TEST_ENTRY(good_addresses)
          TEST_ENTRY(error_leaves_cfg_unchanged)
          TEST_ENTRY(syntax_error_has_file_and_line)
          TEST_ENTRY(bom_and_shebang_are_skipped)
          TEST_ENTRY(runtime_error_has_file_and_line)
          TEST_ENTRY(missing_file)
          TEST_ENTRY(endless_loop_hits_the_instruction_limit)
          TEST_ENTRY(memory_bomb_hits_the_memory_limit)
          TEST_ENTRY(io_os_require_are_unavailable)
          TEST_ENTRY(sandbox_has_only_safe_functions)
          TEST_ENTRY(env_reads_the_environment)
          TEST_ENTRY(inline_partitioner_lines)
          TEST_ENTRY(topic_setting_text));
