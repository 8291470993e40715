/* The sparse offset index and time index of a segment: the entry rule,
 * binary-search lookups, the consistency check, and the mirroring of the
 * in-memory arrays to their files. See index.h for the formats. */
#include "storage/index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/endian.h"
#include "flyq/common.h"

/* Entries encoded per write() when saving. */
#define SAVE_CHUNK 256

void flyq__index_init(flyq_index_t *ix) {
  memset(ix, 0, sizeof *ix);
  ix->off_fd = -1;
  ix->time_fd = -1;
}

void flyq__index_free(flyq_index_t *ix) {
  if (ix->off_fd >= 0) close(ix->off_fd);
  if (ix->time_fd >= 0) close(ix->time_fd);
  free(ix->off);
  free(ix->time);
  flyq__index_init(ix);
}

/* Makes room for one more element in *arr (capacity *cap, n used). */
static int grow(void **arr, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : 64;
  void *p = realloc(*arr, ncap * elem);
  if (p == NULL) return -ENOMEM;
  *arr = p;
  *cap = ncap;
  return 0;
}

int flyq__index_add_batch(flyq_index_t *ix, uint32_t rel, uint32_t pos,
                          int64_t max_so_far, uint32_t interval) {
  if (ix->noff > 0 && pos - ix->off[ix->noff - 1].pos < interval) return 0;
  int add_time = ix->ntime == 0 || max_so_far > ix->time[ix->ntime - 1].ts;
  if (grow((void **)&ix->off, &ix->off_cap, ix->noff, sizeof *ix->off) < 0 ||
      grow((void **)&ix->time, &ix->time_cap, ix->ntime, sizeof *ix->time) < 0)
    return -ENOMEM;
  ix->off[ix->noff++] = (flyq_index_entry_t){rel, pos};
  if (add_time) ix->time[ix->ntime++] = (flyq_time_entry_t){max_so_far, rel};
  return 0;
}

/* Writes len bytes at off, looping on short writes and EINTR. */
static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off) {
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    p += n;
    len -= (size_t)n;
    off += n;
  }
  return 0;
}

static void encode_off(uint8_t *p, const void *entry) {
  const flyq_index_entry_t *e = entry;
  flyq__be32_put(p, e->rel);
  flyq__be32_put(p + 4, e->pos);
}

static void encode_time(uint8_t *p, const void *entry) {
  const flyq_time_entry_t *e = entry;
  flyq__be64_put(p, (uint64_t)e->ts);
  flyq__be32_put(p + 8, e->rel);
}

/* Saves entries [*saved, n) of arr (element size esz, file entry size fsz)
 * to fd, advancing *saved as chunks land. */
static int save_entries(int fd, const void *arr, size_t n, size_t *saved,
                        size_t esz, size_t fsz,
                        void (*encode)(uint8_t *, const void *)) {
  uint8_t buf[SAVE_CHUNK * FLYQ_TIME_ENTRY_SIZE];
  while (*saved < n) {
    size_t k = n - *saved < SAVE_CHUNK ? n - *saved : SAVE_CHUNK;
    for (size_t i = 0; i < k; i++)
      encode(buf + i * fsz, (const uint8_t *)arr + (*saved + i) * esz);
    int r = pwrite_all(fd, buf, k * fsz, (off_t)(*saved * fsz));
    if (r < 0) return r;
    *saved += k;
  }
  return 0;
}

/* Time entries go first: if a write fails, every offset entry in the
 * files still has all time entries up to it, which the time lookup relies
 * on (see time_scan_start in segment.c); the reverse order is caught by
 * flyq__index_check (a time entry without its offset entry). */
int flyq__index_save(flyq_index_t *ix) {
  int r = 0;
  if (ix->time_fd >= 0)
    r = save_entries(ix->time_fd, ix->time, ix->ntime, &ix->time_saved,
                     sizeof *ix->time, FLYQ_TIME_ENTRY_SIZE, encode_time);
  if (r == 0 && ix->off_fd >= 0)
    r = save_entries(ix->off_fd, ix->off, ix->noff, &ix->off_saved,
                     sizeof *ix->off, FLYQ_INDEX_ENTRY_SIZE, encode_off);
  return r;
}

int flyq__index_save_all(flyq_index_t *ix) {
  if (ix->off_fd < 0 || ix->time_fd < 0) return -EBADF;
  if (ftruncate(ix->off_fd, 0) < 0 || ftruncate(ix->time_fd, 0) < 0)
    return -errno;
  ix->off_saved = 0;
  ix->time_saved = 0;
  return flyq__index_save(ix);
}

void flyq__index_truncate(flyq_index_t *ix, size_t noff, size_t ntime) {
  if (noff < ix->noff) ix->noff = noff;
  if (ntime < ix->ntime) ix->ntime = ntime;
  if (ix->off_fd >= 0 && ix->off_saved > ix->noff) {
    ix->off_saved = ix->noff;
    if (ftruncate(ix->off_fd, (off_t)(ix->noff * FLYQ_INDEX_ENTRY_SIZE)) < 0)
      ix->off_saved = 0; /* forces a full rewrite on the next save */
  }
  if (ix->time_fd >= 0 && ix->time_saved > ix->ntime) {
    ix->time_saved = ix->ntime;
    if (ftruncate(ix->time_fd, (off_t)(ix->ntime * FLYQ_TIME_ENTRY_SIZE)) < 0)
      ix->time_saved = 0;
  }
}

/* Reads the whole of fd, which must hold at most max entries of the given
 * size, into a malloc'd buffer (*len bytes; NULL if 0). */
static int read_file(int fd, size_t entry, size_t max, uint8_t **out,
                     size_t *len) {
  struct stat st;
  if (fstat(fd, &st) < 0) return -errno;
  if (st.st_size < 0 || (uint64_t)st.st_size % entry != 0 ||
      (uint64_t)st.st_size / entry > max)
    return FLYQ_ERR_CORRUPT;
  *len = (size_t)st.st_size;
  *out = NULL;
  if (*len == 0) return 0;
  if ((*out = malloc(*len)) == NULL) return -ENOMEM;
  size_t got = 0;
  while (got < *len) {
    ssize_t n = pread(fd, *out + got, *len - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      free(*out);
      return n < 0 ? -errno : FLYQ_ERR_CORRUPT;
    }
    got += (size_t)n;
  }
  return 0;
}

static int load_off(flyq_index_t *ix, int fd, size_t max) {
  uint8_t *buf;
  size_t len;
  int r = read_file(fd, FLYQ_INDEX_ENTRY_SIZE, max, &buf, &len);
  if (r < 0) return r;
  size_t n = len / FLYQ_INDEX_ENTRY_SIZE;
  flyq_index_entry_t *arr = n ? malloc(n * sizeof *arr) : NULL;
  if (n && arr == NULL) r = -ENOMEM;
  for (size_t i = 0; arr && i < n; i++)
    arr[i] = (flyq_index_entry_t){flyq__be32_get(buf + i * 8),
                                  flyq__be32_get(buf + i * 8 + 4)};
  free(buf);
  if (r < 0) return r;
  free(ix->off);
  ix->off = arr;
  ix->noff = ix->off_cap = ix->off_saved = n;
  return 0;
}

static int load_time(flyq_index_t *ix, int fd, size_t max) {
  uint8_t *buf;
  size_t len;
  int r = read_file(fd, FLYQ_TIME_ENTRY_SIZE, max, &buf, &len);
  if (r < 0) return r;
  size_t n = len / FLYQ_TIME_ENTRY_SIZE;
  flyq_time_entry_t *arr = n ? malloc(n * sizeof *arr) : NULL;
  if (n && arr == NULL) r = -ENOMEM;
  for (size_t i = 0; arr && i < n; i++)
    arr[i] = (flyq_time_entry_t){(int64_t)flyq__be64_get(buf + i * 12),
                                 flyq__be32_get(buf + i * 12 + 8)};
  free(buf);
  if (r < 0) return r;
  free(ix->time);
  ix->time = arr;
  ix->ntime = ix->time_cap = ix->time_saved = n;
  return 0;
}

int flyq__index_load(flyq_index_t *ix, int off_fd, int time_fd,
                     size_t max_entries) {
  int r = load_off(ix, off_fd, max_entries);
  return r < 0 ? r : load_time(ix, time_fd, max_entries);
}

static int check_off(const flyq_index_t *ix, uint64_t log_size) {
  if ((log_size == 0) != (ix->noff == 0)) return FLYQ_ERR_CORRUPT;
  if (ix->noff > 0 && (ix->off[0].rel != 0 || ix->off[0].pos != 0))
    return FLYQ_ERR_CORRUPT;
  for (size_t i = 0; i < ix->noff; i++) {
    if (ix->off[i].pos >= log_size) return FLYQ_ERR_CORRUPT;
    if (i > 0 && (ix->off[i].rel <= ix->off[i - 1].rel ||
                  ix->off[i].pos <= ix->off[i - 1].pos))
      return FLYQ_ERR_CORRUPT;
  }
  return 0;
}

static int check_time(const flyq_index_t *ix) {
  if ((ix->noff == 0) != (ix->ntime == 0)) return FLYQ_ERR_CORRUPT;
  if (ix->ntime > 0 && ix->time[0].rel != 0) return FLYQ_ERR_CORRUPT;
  for (size_t i = 0; i < ix->ntime; i++) {
    if (i > 0 && (ix->time[i].ts <= ix->time[i - 1].ts ||
                  ix->time[i].rel <= ix->time[i - 1].rel))
      return FLYQ_ERR_CORRUPT;
    size_t j = flyq__index_floor(ix, ix->time[i].rel);
    if (j == FLYQ_INDEX_NONE || ix->off[j].rel != ix->time[i].rel)
      return FLYQ_ERR_CORRUPT;
  }
  return 0;
}

int flyq__index_check(const flyq_index_t *ix, uint64_t log_size) {
  int r = check_off(ix, log_size);
  return r < 0 ? r : check_time(ix);
}

size_t flyq__index_floor(const flyq_index_t *ix, uint32_t rel) {
  size_t lo = 0, hi = ix->noff; /* answer is lo - 1 */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ix->off[mid].rel <= rel)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo == 0 ? FLYQ_INDEX_NONE : lo - 1;
}

size_t flyq__index_floor_pos(const flyq_index_t *ix, uint64_t pos) {
  size_t lo = 0, hi = ix->noff;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ix->off[mid].pos <= pos)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo == 0 ? FLYQ_INDEX_NONE : lo - 1;
}

size_t flyq__index_time_ceil(const flyq_index_t *ix, int64_t ts) {
  size_t lo = 0, hi = ix->ntime;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ix->time[mid].ts < ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}
