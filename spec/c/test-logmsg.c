/* flyq_logmsg(): level parsing, filtering and the line format. */
#include <stdlib.h>
#include <unistd.h>

#include "flyq/logmsg.h"
#include "test.h"

/* Runs one flyq_logmsg call with stderr sent to a temp file and returns
 * what it wrote (static buffer). */
static const char *capture(int level, const char *msg) {
  static char out[2048];
  char path[512];
  snprintf(path, sizeof path, "%s/stderr", flyq_test_tmpdir());
  FILE *f = fopen(path, "w+");
  CHECK(f != NULL);
  int saved = dup(STDERR_FILENO);
  CHECK(dup2(fileno(f), STDERR_FILENO) >= 0);
  flyq_logmsg(level, "storage", "%s", msg);
  dup2(saved, STDERR_FILENO);
  close(saved);
  size_t n = (size_t)pread(fileno(f), out, sizeof out - 1, 0);
  out[n] = '\0';
  fclose(f);
  return out;
}

TEST(level_parse) {
  CHECK_EQ(flyq_logmsg_level_parse("error"), FLYQ_LOG_ERROR);
  CHECK_EQ(flyq_logmsg_level_parse("warn"), FLYQ_LOG_WARN);
  CHECK_EQ(flyq_logmsg_level_parse("info"), FLYQ_LOG_INFO);
  CHECK_EQ(flyq_logmsg_level_parse("debug"), FLYQ_LOG_DEBUG);
  CHECK_EQ(flyq_logmsg_level_parse("DEBUG"), -1);
  CHECK_EQ(flyq_logmsg_level_parse("trace"), -1);
  CHECK_EQ(flyq_logmsg_level_parse(""), -1);
  CHECK_EQ(flyq_logmsg_level_parse(NULL), -1);
}

TEST(line_format) {
  flyq_logmsg_set_level(FLYQ_LOG_INFO);
  const char *s = capture(FLYQ_LOG_WARN, "disk is 93% full");
  /* 2026-11-26T09:30:00.123Z WARN  storage: disk is 93% full\n */
  CHECK_EQ(strlen(s), 24 + 1 + 5 + 1 + 9 + 16 + 1);
  CHECK(s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':');
  CHECK(s[16] == ':' && s[19] == '.' && s[23] == 'Z');
  CHECK_MEM(s + 24, " WARN  storage: disk is 93% full\n", 33);
  s = capture(FLYQ_LOG_ERROR, "x");
  CHECK_MEM(s + 24, " ERROR storage: x\n", 18);
}

TEST(level_filters) {
  flyq_logmsg_set_level(FLYQ_LOG_WARN);
  CHECK_EQ(flyq_logmsg_get_level(), FLYQ_LOG_WARN);
  CHECK_EQ(strlen(capture(FLYQ_LOG_INFO, "hidden")), 0);
  CHECK(strlen(capture(FLYQ_LOG_WARN, "shown")) > 0);
  flyq_logmsg_set_level(FLYQ_LOG_DEBUG);
  CHECK(strlen(capture(FLYQ_LOG_DEBUG, "shown")) > 0);
  flyq_logmsg_set_level(99);
  CHECK_EQ(flyq_logmsg_get_level(), FLYQ_LOG_DEBUG);
  flyq_logmsg_set_level(FLYQ_LOG_INFO);
}

TEST(long_message_is_one_cut_line) {
  static char big[5000];
  memset(big, 'a', sizeof big - 1);
  flyq_logmsg_set_level(FLYQ_LOG_INFO);
  const char *s = capture(FLYQ_LOG_INFO, big);
  size_t n = strlen(s);
  CHECK(n > 900 && n <= 1024);
  CHECK(s[n - 1] == '\n');
  CHECK(strchr(s, '\n') == s + n - 1);
}

/* Quoted text (a plugin's print, an error message) cannot start a line of
 * its own. */
TEST(control_characters_stay_on_the_line) {
  flyq_logmsg_set_level(FLYQ_LOG_INFO);
  const char *s = capture(FLYQ_LOG_INFO,
                          "hi\n2026-01-01T00:00:00.000Z ERROR serve: fake\r\x7f");
  CHECK(strchr(s, '\n') == s + strlen(s) - 1);
  CHECK(strchr(s, '\r') == NULL && strchr(s, 0x7f) == NULL);
  CHECK_MEM(s + 24, " INFO  storage: hi 2026-01-01T00:00:00.000Z ERROR serve: "
            "fake  \n", 65);
  /* C1 controls in UTF-8 (CSI is C2 9B) too; other characters stay */
  s = capture(FLYQ_LOG_INFO, "a\xc2\x9b""31mred \xc2\xa0\xc3\xa9");
  CHECK_MEM(s + 24, " INFO  storage: a  31mred \xc2\xa0\xc3\xa9\n", 31);
}

TEST_LIST(TEST_ENTRY(level_parse) TEST_ENTRY(line_format)
              TEST_ENTRY(control_characters_stay_on_the_line)
              TEST_ENTRY(level_filters)
                  TEST_ENTRY(long_message_is_one_cut_line));
