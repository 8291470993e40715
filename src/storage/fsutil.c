/* File-system helpers of the storage layer (see fsutil.h): the store uses
 * them for topic and group directories and for the small JSON files that
 * must survive a crash whole or not at all.
 */
#include "storage/fsutil.h"

#include "flyq/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *flyq__path_join(const char *dir, const char *name) {
  char *p;
  if (asprintf(&p, "%s/%s", dir, name) < 0) return NULL;
  return p;
}

static int mkdir_one(const char *path) {
  struct stat sb;
  if (mkdir(path, 0755) == 0) return 0;
  if (errno != EEXIST) return -errno;
  if (stat(path, &sb) != 0) return -errno;
  return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}

int flyq__mkdir_p(const char *path) {
  char *p = strdup(path);
  int r = 0;
  if (p == NULL) return -ENOMEM;
  for (char *s = p + 1; *s != '\0' && r == 0; s++) {
    if (*s != '/') continue;
    *s = '\0';
    r = mkdir_one(p);
    *s = '/';
  }
  if (r == 0) r = mkdir_one(p);
  free(p);
  return r;
}

int flyq__fsync_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int r = 0;
  if (fd < 0) return -errno;
  if (fsync(fd) != 0) r = -errno;
  close(fd);
  return r;
}

static int write_all(int fd, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Writes and fsyncs a new file at path (truncating any old one). */
static int write_file_synced(const char *path, const void *data, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int r;
  if (fd < 0) return -errno;
  r = write_all(fd, data, len);
  if (r == 0 && fsync(fd) != 0) r = -errno;
  if (close(fd) != 0 && r == 0) r = -errno;
  return r;
}

int flyq__fsync_parent(const char *path) {
  char *copy = strdup(path);
  int r;
  if (copy == NULL) return -ENOMEM;
  r = flyq__fsync_dir(dirname(copy));
  free(copy);
  return r;
}

int flyq__write_file_atomic(const char *path, const void *data, size_t len) {
  char *tmp;
  int r;
  if (asprintf(&tmp, "%s%s", path, FLYQ_TMP_SUFFIX) < 0) return -ENOMEM;
  r = write_file_synced(tmp, data, len);
  if (r == 0 && rename(tmp, path) != 0) r = -errno;
  if (r != 0) {
    unlink(tmp);
  } else {
    r = flyq__fsync_parent(path);
  }
  free(tmp);
  return r;
}

int flyq__write_json_atomic(const char *path, const json_t *j) {
  char *text = json_dumps(j, JSON_INDENT(2));
  size_t n;
  int r;
  if (text == NULL) return -ENOMEM;
  n = strlen(text);
  text[n] = '\n'; /* json_dumps' terminator becomes the newline */
  r = flyq__write_file_atomic(path, text, n + 1);
  free(text);
  return r;
}

static void set_why(char *why, size_t whylen, const char *text) {
  if (why != NULL && whylen > 0) snprintf(why, whylen, "%s", text);
}

/* Parses the open regular file f of size bytes. */
static int parse_json_file(FILE *f, long long size, json_t **out, char *why,
                           size_t whylen) {
  json_error_t jerr;
  if (size > (long long)FLYQ_JSON_FILE_MAX) {
    set_why(why, whylen, "file too large");
    return FLYQ_ERR_TOO_LARGE;
  }
  *out = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
  if (*out != NULL) return 0;
  set_why(why, whylen, jerr.text);
  return FLYQ_ERR_CORRUPT;
}

int flyq__read_json(const char *path, json_t **out, char *why, size_t whylen) {
  struct stat sb;
  FILE *f = fopen(path, "re");
  int r;
  if (f == NULL) {
    r = -errno;
    set_why(why, whylen, strerror(-r));
    return r;
  }
  if (fstat(fileno(f), &sb) != 0) {
    r = -errno;
    set_why(why, whylen, strerror(-r));
  } else if (!S_ISREG(sb.st_mode)) {
    r = S_ISDIR(sb.st_mode) ? -EISDIR : -EINVAL;
    set_why(why, whylen, "not a regular file");
  } else {
    r = parse_json_file(f, (long long)sb.st_size, out, why, whylen);
  }
  fclose(f);
  return r;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw) {
  (void)sb, (void)ftw;
  if (flag == FTW_DP) return rmdir(path) == 0 ? 0 : -1;
  return unlink(path) == 0 ? 0 : -1;
}

int flyq__rmtree(const char *path) {
  struct stat sb;
  if (lstat(path, &sb) != 0) return errno == ENOENT ? 0 : -errno;
  if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
    return errno ? -errno : -EIO;
  return 0;
}

int flyq__is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int flyq__has_suffix(const char *name, const char *suffix) {
  size_t n = strlen(name), m = strlen(suffix);
  return n >= m && memcmp(name + n - m, suffix, m) == 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends a copy of name to the growing array *v. */
static int push_name(char ***v, size_t *n, size_t *cap, const char *name) {
  if (*n == *cap) {
    size_t ncap = *cap ? *cap * 2 : 16;
    char **nv = realloc(*v, ncap * sizeof *nv);
    if (nv == NULL) return -ENOMEM;
    *v = nv;
    *cap = ncap;
  }
  if (((*v)[*n] = strdup(name)) == NULL) return -ENOMEM;
  (*n)++;
  return 0;
}

int flyq__list_dir(const char *dir, char ***names, size_t *count) {
  DIR *d = opendir(dir);
  char **v = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  int r = 0;
  if (d == NULL) return -errno;
  errno = 0;
  while (r == 0 && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      r = push_name(&v, &n, &cap, e->d_name);
    errno = 0;
  }
  if (r == 0 && errno != 0) r = -errno;
  closedir(d);
  if (r != 0) {
    flyq__list_free(v, n);
    return r;
  }
  if (n > 1) qsort(v, n, sizeof *v, cmp_names);
  *names = v;
  *count = n;
  return 0;
}

void flyq__list_free(char **names, size_t count) {
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
}
