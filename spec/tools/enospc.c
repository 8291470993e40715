/* flyq_enospc.so: an LD_PRELOAD shim that makes writes under one directory
 * fail with ENOSPC once a byte budget is spent. It is the fallback of
 * spec/functional/disk_full_spec.lua where a small tmpfs cannot be mounted
 * (not root, no mount namespace).
 *
 * Environment (both required, else the shim does nothing):
 *   FLYQ_ENOSPC_DIR     writes to files whose path starts with it count
 *   FLYQ_ENOSPC_BUDGET  a file whose SIZE is the budget in bytes; making it
 *                       larger frees space (read at every counted write)
 *
 * write, pwrite and pwritev to such files are counted. A write that would
 * exceed the budget writes what still fits (a short write, as a full disk
 * does) or, when nothing fits, fails with ENOSPC. Deleting files frees
 * nothing: the budget file is the only way to free space.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);

static atomic_llong used;

static void *next_fn(const char *name) {
  void *f = dlsym(RTLD_NEXT, name);
  if (f == NULL) abort();
  return f;
}

/* 1 if fd is a regular file under FLYQ_ENOSPC_DIR. */
static int counted(int fd) {
  const char *dir = getenv("FLYQ_ENOSPC_DIR");
  char link[64], path[4096];
  struct stat st;
  if (dir == NULL || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) return 0;
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n < 0) return 0;
  path[n] = '\0';
  return strncmp(path, dir, strlen(dir)) == 0;
}

/* How many of n bytes may be written to fd now: n when not counted, else
 * what the budget leaves (0 means ENOSPC). Takes them from the budget. */
static size_t allowance(int fd, size_t n) {
  const char *budget = getenv("FLYQ_ENOSPC_BUDGET");
  struct stat st;
  if (n == 0 || budget == NULL || !counted(fd)) return n;
  long long limit = stat(budget, &st) == 0 ? (long long)st.st_size : 0;
  long long before = atomic_load(&used), take;
  do {
    long long left = limit > before ? limit - before : 0;
    take = (long long)n < left ? (long long)n : left;
  } while (!atomic_compare_exchange_weak(&used, &before, before + take));
  return (size_t)take;
}

/* Gives back what a write took but did not write. */
static void refund(size_t took, ssize_t wrote) {
  long long unused = (long long)took - (wrote > 0 ? wrote : 0);
  if (unused > 0) atomic_fetch_sub(&used, unused);
}

ssize_t write(int fd, const void *buf, size_t n) {
  static write_fn real;
  if (real == NULL) real = (write_fn)next_fn("write");
  size_t ok = allowance(fd, n);
  if (ok == 0 && n > 0) return errno = ENOSPC, -1;
  ssize_t r = real(fd, buf, ok);
  refund(ok, r);
  return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  static pwrite_fn real;
  if (real == NULL) real = (pwrite_fn)next_fn("pwrite");
  size_t ok = allowance(fd, n);
  if (ok == 0 && n > 0) return errno = ENOSPC, -1;
  ssize_t r = real(fd, buf, ok, off);
  refund(ok, r);
  return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  return pwrite(fd, buf, n, off);
}

/* Writes the first iovec only: a short write, which callers handle. */
ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
  static pwritev_fn real;
  if (real == NULL) real = (pwritev_fn)next_fn("pwritev");
  if (cnt <= 0 || !counted(fd)) return real(fd, iov, cnt, off);
  return pwrite(fd, iov[0].iov_base, iov[0].iov_len, off);
}
