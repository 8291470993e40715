/* One segment of a partition log: its files, reference count, append with
 * cut-back on failure, and lookups of batches by offset and by time. The
 * log (log.c) decides when to roll; recovery.c validates segments at open.
 */
#include "storage/segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/endian.h"
#include "flyq/logmsg.h"

#define PATH_BYTES 4096

ssize_t (*flyq__log_write_hook)(int fd, const void *buf, size_t n,
                                off_t off) = NULL;

static flyq_segment_t *segment_new(const char *dir, int64_t base) {
  flyq_segment_t *seg = calloc(1, sizeof *seg);
  if (seg == NULL) return NULL;
  if (asprintf(&seg->prefix, "%s/%020" PRId64, dir, base) < 0) {
    free(seg);
    return NULL;
  }
  seg->base_offset = base;
  seg->end_offset = base;
  seg->max_ts = INT64_MIN;
  seg->first_append_ms = -1;
  seg->fd = -1;
  seg->bad_logged = UINT64_MAX;
  atomic_init(&seg->refs, 1);
  flyq__index_init(&seg->ix);
  return seg;
}

int flyq__segment_path(const flyq_segment_t *seg, const char *ext, char *buf,
                       size_t size) {
  int n = snprintf(buf, size, "%s.%s", seg->prefix, ext);
  return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int open_file(const flyq_segment_t *seg, const char *ext, int flags) {
  char path[PATH_BYTES];
  int r = flyq__segment_path(seg, ext, path, sizeof path);
  if (r < 0) return r;
  int fd = open(path, flags | O_CLOEXEC, 0644);
  return fd < 0 ? -errno : fd;
}

int flyq__segment_create(const char *dir, int64_t base, flyq_segment_t **out) {
  flyq_segment_t *seg = segment_new(dir, base);
  if (seg == NULL) return -ENOMEM;
  int r = open_file(seg, "log", O_RDWR | O_CREAT | O_EXCL);
  if (r < 0) {
    flyq__segment_unref(seg);
    return r;
  }
  seg->fd = r;
  r = flyq__segment_open_index(seg, 1);
  if (r < 0) {
    flyq__segment_unlink(seg);
    flyq__segment_unref(seg);
    return r;
  }
  *out = seg;
  return 0;
}

int flyq__segment_open(const char *dir, int64_t base, flyq_segment_t **out) {
  flyq_segment_t *seg = segment_new(dir, base);
  if (seg == NULL) return -ENOMEM;
  int r = open_file(seg, "log", O_RDWR);
  struct stat st;
  if (r >= 0) {
    seg->fd = r;
    r = fstat(seg->fd, &st) < 0 ? -errno : 0;
  }
  if (r < 0) {
    flyq__segment_unref(seg);
    return r;
  }
  seg->size = (uint64_t)st.st_size;
  *out = seg;
  return 0;
}

flyq_segment_t *flyq__segment_ref(flyq_segment_t *seg) {
  atomic_fetch_add(&seg->refs, 1);
  return seg;
}

void flyq__segment_unref(flyq_segment_t *seg) {
  if (seg == NULL || atomic_fetch_sub(&seg->refs, 1) != 1) return;
  if (seg->fd >= 0) close(seg->fd);
  flyq__index_free(&seg->ix);
  free(seg->prefix);
  free(seg);
}

int flyq__segment_unlink(flyq_segment_t *seg) {
  static const char *const exts[] = {"log", "index", "timeindex"};
  int err = 0;
  for (int i = 0; i < 3; i++) {
    char path[PATH_BYTES];
    int r = flyq__segment_path(seg, exts[i], path, sizeof path);
    if (r == 0 && unlink(path) < 0 && errno != ENOENT) r = -errno;
    if (r < 0 && err == 0) err = r;
  }
  return err;
}

int flyq__segment_open_index(flyq_segment_t *seg, int rewrite) {
  flyq_index_t *ix = &seg->ix;
  if (ix->off_fd < 0) ix->off_fd = open_file(seg, "index", O_RDWR | O_CREAT);
  if (ix->time_fd < 0)
    ix->time_fd = open_file(seg, "timeindex", O_RDWR | O_CREAT);
  int r = ix->off_fd < 0 ? ix->off_fd : ix->time_fd < 0 ? ix->time_fd : 0;
  if (r < 0) {
    flyq__segment_close_index(seg);
    return r;
  }
  if (rewrite) return flyq__index_save_all(ix);
  ix->off_saved = ix->noff;
  ix->time_saved = ix->ntime;
  return 0;
}

int flyq__segment_close_index(flyq_segment_t *seg) {
  flyq_index_t *ix = &seg->ix;
  int r = ix->off_fd >= 0 && ix->time_fd >= 0 ? flyq__index_save(ix) : 0;
  if (r < 0)
    flyq_logmsg(FLYQ_LOG_WARN, "storage", "%s: cannot write index: %s",
                seg->prefix, flyq_strerror(r));
  if (ix->off_fd >= 0) close(ix->off_fd);
  if (ix->time_fd >= 0) close(ix->time_fd);
  ix->off_fd = ix->time_fd = -1;
  return r;
}

int flyq__segment_load_index(flyq_segment_t *seg) {
  int off_fd = open_file(seg, "index", O_RDONLY);
  int time_fd = open_file(seg, "timeindex", O_RDONLY);
  int r = off_fd < 0 ? off_fd : time_fd < 0 ? time_fd : 0;
  /* Each entry names a distinct batch of at least a header's size. */
  size_t max = (size_t)(seg->size / FLYQ_BATCH_HEADER_SIZE) + 1;
  if (r == 0) r = flyq__index_load(&seg->ix, off_fd, time_fd, max);
  if (off_fd >= 0) close(off_fd);
  if (time_fd >= 0) close(time_fd);
  return r == -ENOENT ? FLYQ_ERR_CORRUPT : r;
}

/* Field positions: see the header table in include/flyq/batch.h. */
int flyq__segment_decode_header(const uint8_t *p, flyq_batch_header_t *h) {
  h->base_offset = (int64_t)flyq__be64_get(p);
  h->batch_length = (int32_t)flyq__be32_get(p + 8);
  h->partition_leader_epoch = (int32_t)flyq__be32_get(p + 12);
  h->magic = (int8_t)p[16];
  h->crc = flyq__be32_get(p + 17);
  h->attributes = (int16_t)flyq__be16_get(p + 21);
  h->last_offset_delta = (int32_t)flyq__be32_get(p + 23);
  h->base_timestamp = (int64_t)flyq__be64_get(p + 27);
  h->max_timestamp = (int64_t)flyq__be64_get(p + 35);
  h->producer_id = (int64_t)flyq__be64_get(p + 43);
  h->producer_epoch = (int16_t)flyq__be16_get(p + 51);
  h->base_sequence = (int32_t)flyq__be32_get(p + 53);
  h->record_count = (int32_t)flyq__be32_get(p + 57);
  if (h->magic != FLYQ_BATCH_MAGIC ||
      h->batch_length < FLYQ_BATCH_HEADER_SIZE - FLYQ_BATCH_LOG_OVERHEAD ||
      (uint32_t)h->batch_length >
          FLYQ_BATCH_MAX_SIZE - FLYQ_BATCH_LOG_OVERHEAD ||
      h->record_count < 1 || h->last_offset_delta != h->record_count - 1)
    return FLYQ_ERR_CORRUPT;
  return 0;
}

int flyq__pread_all(int fd, void *buf, size_t len, uint64_t pos) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, (uint8_t *)buf + got, len - got, (off_t)(pos + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return FLYQ_ERR_TRUNCATED;
    got += (size_t)n;
  }
  return 0;
}

int flyq__segment_read_header(const flyq_segment_t *seg, uint64_t pos,
                              flyq_batch_header_t *h) {
  uint8_t buf[FLYQ_BATCH_HEADER_SIZE];
  if (pos + FLYQ_BATCH_HEADER_SIZE > seg->size) return FLYQ_ERR_TRUNCATED;
  int r = flyq__pread_all(seg->fd, buf, sizeof buf, pos);
  if (r == 0) r = flyq__segment_decode_header(buf, h);
  if (r == 0 &&
      pos + (uint64_t)h->batch_length + FLYQ_BATCH_LOG_OVERHEAD > seg->size)
    r = FLYQ_ERR_TRUNCATED;
  return r;
}

void flyq__segment_index_batch(flyq_segment_t *seg,
                               const flyq_batch_header_t *h, uint64_t pos,
                               uint32_t interval) {
  if (h->max_timestamp > seg->max_ts) seg->max_ts = h->max_timestamp;
  seg->end_offset = h->base_offset + h->last_offset_delta + 1;
  /* Out of memory only makes the index sparser; lookups stay correct. */
  (void)flyq__index_add_batch(&seg->ix,
                              (uint32_t)(h->base_offset - seg->base_offset),
                              (uint32_t)pos, seg->max_ts, interval);
}

/* Writes buf at the end of the valid data, or cuts the file back. */
static int write_at_end(flyq_segment_t *seg, const uint8_t *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    off_t off = (off_t)(seg->size + done);
    ssize_t n = flyq__log_write_hook
                    ? flyq__log_write_hook(seg->fd, buf + done, len - done, off)
                    : pwrite(seg->fd, buf + done, len - done, off);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    int err = n < 0 ? -errno : -EIO;
    if (ftruncate(seg->fd, (off_t)seg->size) < 0)
      flyq_logmsg(FLYQ_LOG_ERROR, "storage", "%s.log: cannot cut back: %s",
                  seg->prefix, strerror(errno));
    return err;
  }
  return 0;
}

int flyq__segment_append(flyq_segment_t *seg, const uint8_t *buf, size_t len,
                         int64_t now_ms, uint32_t interval) {
  int r = write_at_end(seg, buf, len);
  if (r < 0) return r;
  for (size_t pos = 0; pos < len;) {
    flyq_batch_header_t h;
    (void)flyq__segment_decode_header(buf + pos, &h); /* validated */
    flyq__segment_index_batch(seg, &h, seg->size + pos, interval);
    pos += (size_t)h.batch_length + FLYQ_BATCH_LOG_OVERHEAD;
  }
  seg->size += len;
  if (seg->first_append_ms < 0) seg->first_append_ms = now_ms;
  /* Index files are rebuildable; a failed write is retried next time. */
  (void)flyq__index_save(&seg->ix);
  return 0;
}

void flyq__segment_mark(const flyq_segment_t *seg, flyq_segment_mark_t *m) {
  m->size = seg->size;
  m->end_offset = seg->end_offset;
  m->max_ts = seg->max_ts;
  m->first_append_ms = seg->first_append_ms;
  m->noff = seg->ix.noff;
  m->ntime = seg->ix.ntime;
}

int flyq__segment_rewind(flyq_segment_t *seg, const flyq_segment_mark_t *m) {
  int r = ftruncate(seg->fd, (off_t)m->size) < 0 ? -errno : 0;
  seg->size = m->size;
  if (seg->verified_hi > seg->size) seg->verified_hi = seg->size;
  if (seg->trusted_from > seg->size) seg->trusted_from = seg->size;
  seg->end_offset = m->end_offset;
  seg->max_ts = m->max_ts;
  seg->first_append_ms = m->first_append_ms;
  flyq__index_truncate(&seg->ix, m->noff, m->ntime);
  return r;
}

int flyq__segment_find(const flyq_segment_t *seg, int64_t offset, uint64_t *pos,
                       flyq_batch_header_t *h) {
  if (offset >= seg->end_offset) return FLYQ_ERR_NOT_FOUND;
  uint64_t p = 0;
  int64_t next = seg->base_offset; /* base offset the batch at p must have */
  if (offset > seg->base_offset) {
    int64_t rel = offset - seg->base_offset;
    size_t i = flyq__index_floor(&seg->ix,
                                 rel > UINT32_MAX ? UINT32_MAX : (uint32_t)rel);
    if (i != FLYQ_INDEX_NONE) {
      p = seg->ix.off[i].pos;
      next = seg->base_offset + seg->ix.off[i].rel;
    }
  }
  while (p < seg->size) {
    int r = flyq__segment_read_header(seg, p, h);
    if (r < 0) return r;
    /* Base offsets are outside the CRC: a damaged one shows only here. */
    if (h->base_offset != next) return FLYQ_ERR_CORRUPT;
    if (h->base_offset + h->last_offset_delta >= offset) {
      *pos = p;
      return 0;
    }
    next = h->base_offset + h->last_offset_delta + 1;
    p += (uint64_t)h->batch_length + FLYQ_BATCH_LOG_OVERHEAD;
  }
  return FLYQ_ERR_NOT_FOUND;
}

uint32_t flyq__segment_span(const flyq_segment_t *seg, uint64_t pos,
                            uint32_t first_len, uint32_t max_bytes) {
  uint64_t end = pos + first_len;
  if (first_len >= max_bytes) return first_len;
  uint64_t limit = pos + max_bytes;
  if (limit > seg->size) limit = seg->size;
  /* Every batch before an indexed position below the limit fits. */
  size_t i = flyq__index_floor_pos(&seg->ix, limit);
  if (i != FLYQ_INDEX_NONE && seg->ix.off[i].pos > end)
    end = seg->ix.off[i].pos;
  while (end < limit) {
    flyq_batch_header_t h;
    if (flyq__segment_read_header(seg, end, &h) < 0) break;
    uint64_t next = end + (uint64_t)h.batch_length + FLYQ_BATCH_LOG_OVERHEAD;
    if (next > limit) break;
    end = next;
  }
  return (uint32_t)(end - pos);
}

/* Where a time search may start: every batch before the returned position
 * has a max timestamp < ts. Time entries record the running maximum at
 * offset entries, so the offset entry just before the first time entry
 * >= ts (or the last offset entry when there is none) is such a point. */
static uint64_t time_scan_start(const flyq_index_t *ix, int64_t ts) {
  if (ix->noff == 0) return 0;
  size_t k = flyq__index_time_ceil(ix, ts);
  if (k == ix->ntime) return ix->off[ix->noff - 1].pos;
  size_t j = flyq__index_floor(ix, ix->time[k].rel);
  return j == FLYQ_INDEX_NONE || j == 0 ? 0 : ix->off[j - 1].pos;
}

int flyq__segment_offset_for_time(const flyq_segment_t *seg, int64_t ts,
                                  int64_t *offset) {
  if (seg->size == 0 || seg->max_ts < ts) return FLYQ_ERR_NOT_FOUND;
  for (uint64_t p = time_scan_start(&seg->ix, ts); p < seg->size;) {
    flyq_batch_header_t h;
    int r = flyq__segment_read_header(seg, p, &h);
    if (r < 0) return r;
    if (h.max_timestamp >= ts) {
      *offset = h.base_offset;
      return 0;
    }
    p += (uint64_t)h.batch_length + FLYQ_BATCH_LOG_OVERHEAD;
  }
  return FLYQ_ERR_NOT_FOUND;
}
