/* flyq_config_load_string (src/host/config.c): config text received over
 * the wire (ConfigPlan, ConfigApply) loads exactly like a file, with the
 * given name in its messages, and leaves the config untouched on error. */
#include <stdlib.h>

#include "flyq/config.h"
#include "test.h"

static char err[1024];

static int load(flyq_config_t *cfg, const char *text, const char *name) {
  err[0] = '\0';
  return flyq_config_load_string(cfg, text, strlen(text), name, err,
                                 sizeof err);
}

TEST(loads_like_a_file) {
  static const char text[] =
      "return { log_level = \"debug\", topics = { a = { partitions = 3 } } }";
  flyq_config_t cfg;
  CHECK_OK(flyq_config_init(&cfg));
  CHECK_OK(load(&cfg, text, "new.lua"));
  CHECK_EQ(cfg.ntopics, 1);
  CHECK(strcmp(cfg.topics[0].name, "a") == 0);
  CHECK_EQ(cfg.topics[0].partitions, 3);
  CHECK(strcmp(cfg.path, "new.lua") == 0);
  CHECK_EQ(cfg.source_len, strlen(text));
  CHECK(strcmp(cfg.source, text) == 0);
  CHECK(strcmp(err, "") == 0);
  flyq_config_free(&cfg);
}

/* Errors name the text as given, and cfg keeps what it had. */
TEST(errors_leave_the_config_alone) {
  flyq_config_t cfg;
  CHECK_OK(flyq_config_init(&cfg));
  CHECK_OK(load(&cfg, "return { topics = { a = {} } }", "ok.lua"));
  CHECK_EQ(load(&cfg, "return { topics = ", "bad.lua"), FLYQ_ERR_CONFIG);
  CHECK(strcmp(err, "bad.lua:1: unexpected symbol near <eof>") == 0);
  CHECK_EQ(load(&cfg, "return { colour = 1 }", NULL), FLYQ_ERR_CONFIG);
  CHECK(strcmp(err, "config: colour: unknown key") == 0);
  CHECK_EQ(flyq_config_load_string(&cfg, NULL, 3, "x", err, sizeof err),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(cfg.ntopics, 1);
  CHECK(strcmp(cfg.path, "ok.lua") == 0);
  flyq_config_free(&cfg);
}

TEST(size_limit_and_binary_chunks) {
  size_t len = (4u << 20) + 1;
  char *big = malloc(len);
  flyq_config_t cfg;
  CHECK(big != NULL);
  memset(big, ' ', len);
  CHECK_OK(flyq_config_init(&cfg));
  CHECK_EQ(flyq_config_load_string(&cfg, big, len, "big.lua", err, sizeof err),
           FLYQ_ERR_CONFIG);
  CHECK(strcmp(err, "big.lua: larger than 4 MiB") == 0);
  free(big);
  static const char chunk[] = "\x1bLua\x54\x00";
  CHECK_EQ(flyq_config_load_string(&cfg, chunk, sizeof chunk - 1, "bin", err,
                                   sizeof err),
           FLYQ_ERR_CONFIG);
  CHECK_EQ(flyq_config_load_string(&cfg, "", 0, "empty", err, sizeof err),
           FLYQ_ERR_CONFIG);
  CHECK(strcmp(err, "empty: the config file must return a table, got nil") ==
        0);
  flyq_config_free(&cfg);
}

TEST_LIST(TEST_ENTRY(loads_like_a_file)
          TEST_ENTRY(errors_leave_the_config_alone)
          TEST_ENTRY(size_limit_and_binary_chunks));
