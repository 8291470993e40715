/* UTF-8 helpers (src/util/utf8.c): what counts as valid, cuts that never
 * end inside a character, and the U+FFFD repair.
 */
#include <stdlib.h>
#include <string.h>

#include "test.h"

#include "util/utf8.h"

static int valid(const char *s) {
  return flyq__utf8_valid((const uint8_t *)s, strlen(s));
}

TEST(valid_and_invalid) {
  CHECK(valid(""));
  CHECK(valid("plain ascii"));
  CHECK(valid("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")); /* é € 😀 */
  CHECK(!valid("\xc3"));              /* cut */
  CHECK(!valid("\xc0\xaf"));          /* overlong */
  CHECK(!valid("\xed\xa0\x80"));      /* surrogate */
  CHECK(!valid("\xf4\x90\x80\x80"));  /* above U+10FFFF */
  CHECK(!valid("\x80"));              /* a lone continuation byte */
  CHECK(!valid("\xff"));
}

/* "ab" then n copies of the character ch, cut to every size from 1 to the
 * whole: each cut is valid UTF-8, as long as it can be. */
static void check_cuts(const char *ch) {
  char text[64], buf[64];
  size_t len = strlen(ch);
  snprintf(text, sizeof text, "ab%s%s%s", ch, ch, ch);
  for (size_t size = 1; size <= strlen(text) + 1; size++) {
    int n = flyq__utf8_snprintf(buf, size, "%s", text);
    size_t whole = size - 1 < 2 ? size - 1 : 2 + (size - 3) / len * len;
    CHECK_EQ(n, strlen(text));
    CHECK(valid(buf));
    CHECK_EQ(strlen(buf), whole < strlen(text) ? whole : strlen(text));
    CHECK(strncmp(buf, text, strlen(buf)) == 0);
  }
}

TEST(snprintf_cuts_between_characters) {
  check_cuts("\xc3\xa9");
  check_cuts("\xe2\x82\xac");
  check_cuts("\xf0\x9f\x98\x80");
  check_cuts("x");
}

TEST(snprintf_keeps_what_fits_as_it_is) {
  char buf[16];
  CHECK_EQ(flyq__utf8_snprintf(buf, sizeof buf, "%s", "ok\xc3"), 3);
  CHECK(strcmp(buf, "ok\xc3") == 0); /* not cut: not its business */
  CHECK_EQ(flyq__utf8_snprintf(buf, 0, "%s", "x"), 1);
}

TEST(repair_replaces_each_bad_byte) {
  static const char in[] = "a\xff\xc3\xa9\xc3(\xed\xa0\x80z";
  char *out = flyq__utf8_repair(in, sizeof in - 1);
  CHECK(out != NULL);
  CHECK(strcmp(out, "a\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd(\xef\xbf\xbd"
                    "\xef\xbf\xbd\xef\xbf\xbdz") == 0);
  CHECK(valid(out));
  free(out);
  out = flyq__utf8_repair("", 0);
  CHECK(out != NULL && out[0] == '\0');
  free(out);
}

TEST_LIST(TEST_ENTRY(valid_and_invalid)
          TEST_ENTRY(snprintf_cuts_between_characters)
          TEST_ENTRY(snprintf_keeps_what_fits_as_it_is)
          TEST_ENTRY(repair_replaces_each_bad_byte));
