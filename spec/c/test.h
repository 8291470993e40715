/* A minimal test harness for the plain C tests in spec/c/.
 *
 * Each test-*.c file defines its tests with TEST(name) { ... } and lists them
 * once with TEST_LIST(...). runner.c provides main(): it runs every test (or
 * only those named on the command line), prints one line per test, and ends
 * with "N passed, N failed". A failed CHECK stops the current test only.
 */
#ifndef FLYQ_SPEC_TEST_H
#define FLYQ_SPEC_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef void (*flyq_test_fn)(void);
typedef struct flyq_test_case {
  const char *name;
  flyq_test_fn fn;
} flyq_test_case_t;

/* Set by the test file through TEST_LIST. */
extern const flyq_test_case_t flyq_tests[];

/* Records a failure and longjmps out of the current test. */
void flyq_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

/* A fresh temporary directory for this test, removed after it. */
const char *flyq_test_tmpdir(void);

#define TEST(name) static void test_##name(void)
#define TEST_ENTRY(name) {#name, test_##name},
#define TEST_LIST(...)                                                        \
  const flyq_test_case_t flyq_tests[] = {__VA_ARGS__{NULL, NULL}}

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) flyq_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);      \
  } while (0)

#define CHECK_EQ(a, b)                                                        \
  do {                                                                        \
    long long a_ = (long long)(a), b_ = (long long)(b);                       \
    if (a_ != b_)                                                             \
      flyq_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b,    \
                     a_, b_);                                                 \
  } while (0)

#define CHECK_OK(expr)                                                        \
  do {                                                                        \
    int r_ = (expr);                                                          \
    if (r_ != 0)                                                              \
      flyq_test_fail(__FILE__, __LINE__, "%s returned %d", #expr, r_);        \
  } while (0)

#define CHECK_MEM(a, b, n)                                                    \
  do {                                                                        \
    if (memcmp((a), (b), (n)) != 0)                                           \
      flyq_test_fail(__FILE__, __LINE__, "memcmp(%s, %s, %s) != 0", #a, #b,   \
                     #n);                                                     \
  } while (0)

#endif /* FLYQ_SPEC_TEST_H */
