/* main() for the plain C tests: see test.h. */
#include "test.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

static jmp_buf fail_jump;
static char tmpdir[256];

void flyq_test_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "  %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  longjmp(fail_jump, 1);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

const char *flyq_test_tmpdir(void) {
  if (tmpdir[0] == '\0') {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/flyq-test-XXXXXX", base ? base : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
      perror("mkdtemp");
      exit(2);
    }
  }
  return tmpdir;
}

static void tmpdir_cleanup(void) {
  if (tmpdir[0] != '\0') nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  tmpdir[0] = '\0';
}

static int selected(const char *name, int argc, char **argv) {
  if (argc < 2) return 1;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], name) == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  volatile int passed = 0, failed = 0; /* live across setjmp */
  for (const flyq_test_case_t *volatile t = flyq_tests; t->name; t++) {
    if (!selected(t->name, argc, argv)) continue;
    if (setjmp(fail_jump) == 0) {
      t->fn();
      printf("ok   %s\n", t->name);
      passed++;
    } else {
      printf("FAIL %s\n", t->name);
      failed++;
    }
    tmpdir_cleanup();
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
