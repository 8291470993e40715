/* A main() for the fuzz targets without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on each file named on the command line and
 * on each file inside each directory named (not recursively; names
 * starting with '.' are skipped). The normal build links every target with
 * it so that ctest replays the regression inputs and the seed corpus with
 * gcc, in the ASan build too. Exits 0 when every input ran, 1 when a path
 * cannot be read; an input that breaks an invariant traps.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Runs the target on the file at path, read into a buffer of exactly its
 * size so that ASan sees reads past the end. Returns 0 or -1. */
static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (f == NULL || fstat(fileno(f), &st) < 0) {
    perror(path);
    if (f) fclose(f);
    return -1;
  }
  size_t size = (size_t)st.st_size;
  uint8_t *data = malloc(size ? size : 1);
  int ok = data != NULL && fread(data, 1, size, f) == size;
  fclose(f);
  if (ok) LLVMFuzzerTestOneInput(data, size);
  else fprintf(stderr, "%s: cannot read\n", path);
  free(data);
  return ok ? 0 : -1;
}

/* Replays the files of dir; adds their number to *count. */
static int replay_dir(const char *dir, int *count) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4096];
  int r = 0;
  if (d == NULL) {
    perror(dir);
    return -1;
  }
  while (r == 0 && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    r = replay_file(path);
    (*count)++;
  }
  closedir(d);
  return r;
}

int main(int argc, char **argv) {
  int count = 0, r = 0;
  struct stat st;
  for (int i = 1; i < argc && r == 0; i++) {
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      r = replay_dir(argv[i], &count);
    } else {
      r = replay_file(argv[i]);
      count++;
    }
  }
  printf("%s: %d inputs replayed\n", argv[0], count);
  return r == 0 ? 0 : 1;
}
