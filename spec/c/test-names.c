/* Topic and group names (flyq_name_validate), partition names, and the
 * sorted name vector behind the topic and group tables. */
#include "flyq/store.h"
#include "storage/names.h"
#include "test.h"

static void check_name(const char *name, int want) {
  int r = flyq_name_validate(name);
  if (r != want)
    flyq_test_fail(__FILE__, __LINE__, "name \"%s\": got %d, want %d",
                   name ? name : "(null)", r, want);
}

TEST(valid_names) {
  char longest[FLYQ_NAME_MAX + 1];
  memset(longest, 'a', FLYQ_NAME_MAX);
  longest[FLYQ_NAME_MAX] = '\0';
  check_name("a", 0);
  check_name("orders", 0);
  check_name("Orders-2024_v1.0", 0);
  check_name("_x", 0);
  check_name("x__", 0);
  check_name(".a", 0);
  check_name("...", 0);
  check_name("a..b", 0);
  check_name("-", 0);
  check_name("0", 0);
  check_name(longest, 0);
}

TEST(invalid_names) {
  char too_long[FLYQ_NAME_MAX + 2];
  memset(too_long, 'a', FLYQ_NAME_MAX + 1);
  too_long[FLYQ_NAME_MAX + 1] = '\0';
  check_name(NULL, FLYQ_ERR_INVALID_NAME);
  check_name("", FLYQ_ERR_INVALID_NAME);
  check_name(".", FLYQ_ERR_INVALID_NAME);
  check_name("..", FLYQ_ERR_INVALID_NAME);
  check_name("/", FLYQ_ERR_INVALID_NAME);
  check_name("a/b", FLYQ_ERR_INVALID_NAME);
  check_name("../etc", FLYQ_ERR_INVALID_NAME);
  check_name("a\\b", FLYQ_ERR_INVALID_NAME);
  check_name("__x", FLYQ_ERR_INVALID_NAME);
  check_name("__", FLYQ_ERR_INVALID_NAME);
  check_name("__groups", FLYQ_ERR_INVALID_NAME);
  check_name("a b", FLYQ_ERR_INVALID_NAME);
  check_name("a\n", FLYQ_ERR_INVALID_NAME);
  check_name("a:b", FLYQ_ERR_INVALID_NAME);
  check_name("a*", FLYQ_ERR_INVALID_NAME);
  check_name("caf\xc3\xa9", FLYQ_ERR_INVALID_NAME);
  check_name("\xff", FLYQ_ERR_INVALID_NAME);
  check_name(too_long, FLYQ_ERR_INVALID_NAME);
}

/* A C string cannot hold a NUL: the name simply ends there, so "ab\0/x"
 * is the valid name "ab" and "\0abc" the invalid empty name. */
TEST(embedded_nul_ends_the_name) {
  static const char with_nul[] = "ab\0/x";
  static const char leading_nul[] = "\0abc";
  check_name(with_nul, 0);
  check_name(leading_nul, FLYQ_ERR_INVALID_NAME);
}

TEST(partition_names) {
  static const struct {
    const char *s;
    int ok;
    int32_t p;
  } cases[] = {
      {"0", 1, 0},      {"7", 1, 7},   {"10", 1, 10},  {"9999", 1, 9999},
      {"10000", 0, 0},  {"", 0, 0},    {"00", 0, 0},   {"01", 0, 0},
      {"-1", 0, 0},     {"+1", 0, 0},  {"1a", 0, 0},   {" 1", 0, 0},
      {"1.0", 0, 0},    {"99999999999", 0, 0},
  };
  int32_t p = -1;
  CHECK_EQ(flyq__partition_parse(NULL, &p), FLYQ_ERR_INVALID_ARG);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int r = flyq__partition_parse(cases[i].s, &p);
    if ((r == 0) != cases[i].ok)
      flyq_test_fail(__FILE__, __LINE__, "partition \"%s\": got %d",
                     cases[i].s, r);
    if (cases[i].ok) CHECK_EQ(p, cases[i].p);
    if (!cases[i].ok) CHECK_EQ(r, FLYQ_ERR_INVALID_ARG);
  }
}

typedef struct item {
  char *name;
  int value;
} item_t;

/* Inserts names in a scrambled order and checks the vector stays sorted,
 * finds each, reports insertion points, and removes correctly. */
TEST(namevec_sorted) {
  enum { N = 500 };
  flyq__namevec_t v = {0};
  item_t items[N];
  char names[N][8];
  size_t pos;
  for (int i = 0; i < N; i++) {
    int k = (i * 7919) % N; /* 7919 is coprime to N: a permutation */
    snprintf(names[i], sizeof names[i], "t%04d", k);
    items[i].name = names[i];
    items[i].value = k;
    CHECK_EQ(flyq__namevec_find(&v, names[i], &pos), 0);
    CHECK_OK(flyq__namevec_insert(&v, pos, &items[i]));
  }
  CHECK_EQ(v.n, N);
  for (int k = 0; k < N; k++) {
    char key[8];
    snprintf(key, sizeof key, "t%04d", k);
    CHECK_EQ(flyq__namevec_find(&v, key, &pos), 1);
    CHECK_EQ(pos, k);
    CHECK_EQ(((item_t *)v.items[pos])->value, k);
  }
  CHECK_EQ(flyq__namevec_find(&v, "a", &pos), 0);
  CHECK_EQ(pos, 0);
  CHECK_EQ(flyq__namevec_find(&v, "t0100x", &pos), 0);
  CHECK_EQ(pos, 101);
  CHECK_EQ(flyq__namevec_find(&v, "z", &pos), 0);
  CHECK_EQ(pos, N);
  CHECK_EQ(((item_t *)flyq__namevec_remove(&v, 100))->value, 100);
  CHECK_EQ(v.n, N - 1);
  CHECK_EQ(flyq__namevec_find(&v, "t0100", &pos), 0);
  CHECK_EQ(((item_t *)v.items[100])->value, 101);
  flyq__namevec_free(&v);
  CHECK(v.items == NULL);
}

TEST_LIST(TEST_ENTRY(valid_names)
          TEST_ENTRY(invalid_names)
          TEST_ENTRY(embedded_nul_ends_the_name)
          TEST_ENTRY(partition_names)
          TEST_ENTRY(namevec_sorted));
