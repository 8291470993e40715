/* The partition log (include/flyq/log.h): an ordered list of segments of
 * which the last is the active one, offsets, the roll policy, the flush
 * policy and the split flush, retention, reads, and open/close.
 *
 * Invariant: every segment except the active one is durable. Rolling
 * fdatasyncs the active segment before the new one is created (and fsyncs
 * the directory after), so only the active segment can hold unflushed data.
 */
#include "flyq/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flyq/batch.h"
#include "flyq/logmsg.h"
#include "storage/fsutil.h"
#include "storage/segment.h"

#define CLEAN_MARKER ".clean"
#define DAY_MS (24 * 60 * 60 * 1000LL)

struct flyq_log {
  char *dir;
  flyq_log_config_t cfg;
  flyq_segment_t **segs; /* by base offset; the last is active */
  size_t nsegs, cap;
  uint64_t bytes;
  int64_t flushed_offset;
  int64_t last_append_ms;
  int64_t first_unflushed_ms;  /* oldest append not yet flushed; -1 none */
  int64_t first_since_sync_ms; /* first append since sync_begin; -1 none */
  int index_failed; /* an index file of a closed segment could not be written */
};

/* What an append_many must restore when it fails half-way. */
typedef struct undo {
  size_t nsegs;
  flyq_segment_mark_t mark; /* of the segment active at the start */
  uint64_t bytes;
  int64_t flushed_offset, first_unflushed_ms, first_since_sync_ms;
} undo_t;

void flyq_log_config_default(flyq_log_config_t *cfg) {
  cfg->segment_bytes = 1ull << 30;
  cfg->segment_ms = 7 * DAY_MS;
  cfg->index_interval_bytes = 4096;
  cfg->retention_ms = 7 * DAY_MS;
  cfg->retention_bytes = -1;
  cfg->flush_messages = 0;
  cfg->flush_ms = -1;
}

static flyq_segment_t *active(const flyq_log_t *log) {
  return log->segs[log->nsegs - 1];
}

int64_t flyq_log_start_offset(const flyq_log_t *log) {
  return log->segs[0]->base_offset;
}

int64_t flyq_log_end_offset(const flyq_log_t *log) {
  return active(log)->end_offset;
}

int64_t flyq_log_flushed_offset(const flyq_log_t *log) {
  return log->flushed_offset;
}

void flyq_log_set_config(flyq_log_t *log, const flyq_log_config_t *cfg) {
  log->cfg = *cfg;
}

const flyq_log_config_t *flyq_log_config(const flyq_log_t *log) {
  return &log->cfg;
}

void flyq_log_stats(const flyq_log_t *log, flyq_log_stats_t *st) {
  st->start_offset = flyq_log_start_offset(log);
  st->end_offset = flyq_log_end_offset(log);
  st->flushed_offset = log->flushed_offset;
  st->segment_count = (uint32_t)log->nsegs;
  st->bytes = log->bytes;
  st->last_append_ms = log->last_append_ms;
}

/* ---- segment list ---- */

static int reserve(flyq_log_t *log) {
  if (log->nsegs < log->cap) return 0;
  size_t ncap = log->cap ? log->cap * 2 : 8;
  flyq_segment_t **p = realloc(log->segs, ncap * sizeof *p);
  if (p == NULL) return -ENOMEM;
  log->segs = p;
  log->cap = ncap;
  return 0;
}

/* Index of the segment holding offset: the last with base <= offset. */
static size_t find_segment(const flyq_log_t *log, int64_t offset) {
  size_t lo = 0, hi = log->nsegs;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (log->segs[mid]->base_offset <= offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo == 0 ? 0 : lo - 1;
}

/* Creates an empty segment at base, makes its directory entry durable and
 * appends it to the list. */
static int add_segment(flyq_log_t *log, int64_t base) {
  flyq_segment_t *seg;
  int r = reserve(log);
  if (r == 0) r = flyq__segment_create(log->dir, base, &seg);
  if (r < 0) return r;
  if ((r = flyq__fsync_dir(log->dir)) < 0) {
    flyq__segment_unlink(seg);
    flyq__segment_unref(seg);
    return r;
  }
  log->segs[log->nsegs++] = seg;
  return 0;
}

static void free_log(flyq_log_t *log) {
  for (size_t i = 0; i < log->nsegs; i++) flyq__segment_unref(log->segs[i]);
  free(log->segs);
  free(log->dir);
  free(log);
}

/* ---- append ---- */

static int needs_roll(const flyq_log_t *log, const flyq_segment_t *seg,
                      uint64_t size, int64_t next, const flyq_batch_header_t *h,
                      int64_t now_ms) {
  uint64_t limit =
      log->cfg.segment_bytes < UINT32_MAX ? log->cfg.segment_bytes : UINT32_MAX;
  uint64_t len = (uint64_t)h->batch_length + FLYQ_BATCH_LOG_OVERHEAD;
  if (size == 0) return 0;
  if (size + len > limit) return 1;
  if (log->cfg.segment_ms > 0 && seg->first_append_ms >= 0 &&
      now_ms - seg->first_append_ms >= log->cfg.segment_ms)
    return 1;
  return next + h->last_offset_delta - seg->base_offset > UINT32_MAX;
}

/* Makes the active segment durable and starts a new one at its end. */
static int roll(flyq_log_t *log) {
  flyq_segment_t *old = active(log);
  if (fdatasync(old->fd) < 0) return -errno;
  int r = add_segment(log, old->end_offset);
  if (r < 0) return r;
  if (flyq__segment_close_index(old) < 0) log->index_failed = 1;
  if (old->end_offset > log->flushed_offset)
    log->flushed_offset = old->end_offset;
  log->first_unflushed_ms = -1;
  log->first_since_sync_ms = -1;
  flyq_logmsg(FLYQ_LOG_DEBUG, "storage", "%s: rolled to offset %" PRId64,
              log->dir, old->end_offset);
  return 0;
}

/* Assigns offsets to the run of batches at the start of buf that go into
 * one segment, rolling first if the first of them does not fit the active
 * one. *glen receives the run's length. */
static int next_group(flyq_log_t *log, uint8_t *buf, size_t len, int64_t now_ms,
                      size_t *glen) {
  flyq_segment_t *seg = active(log);
  int64_t next = seg->end_offset;
  size_t pos = 0;
  while (pos < len) {
    flyq_batch_header_t h;
    (void)flyq__segment_decode_header(buf + pos, &h); /* validated */
    if (needs_roll(log, seg, seg->size + pos, next, &h, now_ms)) {
      if (pos > 0) break;
      int r = roll(log);
      if (r < 0) return r;
      seg = active(log);
      next = seg->end_offset;
    }
    flyq_batch_set_base_offset(buf + pos, next);
    next += h.last_offset_delta + 1;
    pos += (size_t)h.batch_length + FLYQ_BATCH_LOG_OVERHEAD;
  }
  *glen = pos;
  return 0;
}

static void save_undo(const flyq_log_t *log, undo_t *u) {
  u->nsegs = log->nsegs;
  flyq__segment_mark(active(log), &u->mark);
  u->bytes = log->bytes;
  u->flushed_offset = log->flushed_offset;
  u->first_unflushed_ms = log->first_unflushed_ms;
  u->first_since_sync_ms = log->first_since_sync_ms;
}

/* Removes the segments created since u was saved and cuts the segment that
 * was active back, reopening its index files if a roll closed them. */
static void undo(flyq_log_t *log, const undo_t *u) {
  while (log->nsegs > u->nsegs) {
    flyq_segment_t *seg = log->segs[--log->nsegs];
    flyq__segment_unlink(seg);
    flyq__segment_unref(seg);
  }
  flyq_segment_t *seg = active(log);
  if (seg->ix.off_fd < 0) (void)flyq__segment_open_index(seg, 0);
  int r = flyq__segment_rewind(seg, &u->mark);
  if (r < 0)
    flyq_logmsg(FLYQ_LOG_ERROR, "storage", "%s.log: cannot cut back: %s",
                seg->prefix, flyq_strerror(r));
  log->bytes = u->bytes;
  log->flushed_offset = u->flushed_offset;
  log->first_unflushed_ms = u->first_unflushed_ms;
  log->first_since_sync_ms = u->first_since_sync_ms;
}

int flyq_log_flush_due(const flyq_log_t *log, int64_t now_ms) {
  return log->cfg.flush_ms >= 0 && log->first_unflushed_ms >= 0 &&
         now_ms - log->first_unflushed_ms >= log->cfg.flush_ms;
}

static int flush_due(const flyq_log_t *log, int64_t now_ms) {
  uint64_t unflushed =
      (uint64_t)(flyq_log_end_offset(log) - log->flushed_offset);
  if (log->cfg.flush_messages > 0 && unflushed >= log->cfg.flush_messages)
    return 1;
  return flyq_log_flush_due(log, now_ms);
}

/* Appends validated batches, all or none. */
static int append_validated(flyq_log_t *log, uint8_t *buf, size_t len,
                            int64_t now_ms, flyq_append_result_t *res) {
  undo_t u;
  save_undo(log, &u);
  int64_t base = -1;
  for (size_t pos = 0, glen; pos < len; pos += glen) {
    int r = next_group(log, buf + pos, len - pos, now_ms, &glen);
    if (r == 0 && base < 0) base = active(log)->end_offset;
    if (r == 0)
      r = flyq__segment_append(active(log), buf + pos, glen, now_ms,
                               log->cfg.index_interval_bytes);
    if (r < 0) {
      undo(log, &u);
      return r;
    }
    log->bytes += glen;
  }
  log->last_append_ms = now_ms;
  if (log->first_unflushed_ms < 0) log->first_unflushed_ms = now_ms;
  if (log->first_since_sync_ms < 0) log->first_since_sync_ms = now_ms;
  if (res != NULL) {
    res->base_offset = base;
    res->last_offset = flyq_log_end_offset(log) - 1;
    res->flush_due = flush_due(log, now_ms);
  }
  return 0;
}

int flyq_log_append(flyq_log_t *log, uint8_t *batch, size_t len, int64_t now_ms,
                    flyq_append_result_t *res) {
  flyq_batch_header_t h;
  if (len > FLYQ_BATCH_MAX_SIZE) return FLYQ_ERR_TOO_LARGE;
  int r = flyq_batch_validate(batch, len, &h);
  if (r < 0) return r;
  if (h.record_count < 1) return FLYQ_ERR_CORRUPT;
  return append_validated(log, batch, len, now_ms, res);
}

/* Checks that buf holds whole batches back to back, each with a sane fixed
 * header; with full, also validates each one (CRC, records). */
static int check_batches(const uint8_t *buf, size_t len, int full) {
  if (len == 0) return FLYQ_ERR_INVALID_ARG;
  for (size_t pos = 0; pos < len;) {
    int64_t size = flyq_batch_size(buf + pos, len - pos);
    if (size < 0) return (int)size;
    if ((uint64_t)size > len - pos) return FLYQ_ERR_TRUNCATED;
    flyq_batch_header_t h;
    int r = full ? flyq_batch_validate(buf + pos, (size_t)size, &h)
                 : flyq__segment_decode_header(buf + pos, &h);
    if (r < 0) return r;
    if (h.record_count < 1) return FLYQ_ERR_CORRUPT;
    pos += (size_t)size;
  }
  return 0;
}

int flyq_log_append_many(flyq_log_t *log, uint8_t *buf, size_t len,
                         int64_t now_ms, flyq_append_result_t *res) {
  int r = check_batches(buf, len, 1);
  return r < 0 ? r : append_validated(log, buf, len, now_ms, res);
}

int flyq_log_append_validated(flyq_log_t *log, uint8_t *buf, size_t len,
                              int64_t now_ms, flyq_append_result_t *res) {
  int r = check_batches(buf, len, 0);
  return r < 0 ? r : append_validated(log, buf, len, now_ms, res);
}

/* ---- read ---- */

int flyq_log_read(flyq_log_t *log, int64_t offset, uint32_t max_bytes,
                  flyq_slice_t *out) {
  *out = (flyq_slice_t){.fd = -1, .base_offset = offset};
  if (offset < flyq_log_start_offset(log) || offset > flyq_log_end_offset(log))
    return FLYQ_ERR_OFFSET_OUT_OF_RANGE;
  for (size_t i = find_segment(log, offset); i < log->nsegs; i++) {
    flyq_segment_t *seg = log->segs[i];
    flyq_batch_header_t h;
    uint64_t pos;
    int r = flyq__segment_find(seg, offset, &pos, &h);
    if (r == FLYQ_ERR_NOT_FOUND) continue; /* offset == end, or a gap */
    if (r < 0) return r;
    uint32_t first = (uint32_t)h.batch_length + FLYQ_BATCH_LOG_OVERHEAD;
    out->fd = seg->fd;
    out->pos = pos;
    out->len = flyq__segment_span(seg, pos, first, max_bytes);
    if ((r = flyq__segment_verify(seg, pos, h.base_offset, &out->len)) < 0)
      return r;
    out->base_offset = h.base_offset;
    out->seg = flyq__segment_ref(seg);
    return 0;
  }
  return 0;
}

void flyq_slice_release(flyq_slice_t *s) {
  flyq__segment_unref(s->seg);
  s->seg = NULL;
  s->fd = -1;
  s->len = 0;
}

/* Fully validates the whole batches filling buf. */
static int verify_batches(const uint8_t *buf, size_t len) {
  for (size_t pos = 0; pos < len;) {
    int64_t size = flyq_batch_size(buf + pos, len - pos);
    if (size < 0 || (uint64_t)size > len - pos ||
        flyq_batch_validate(buf + pos, (size_t)size, NULL) < 0)
      return FLYQ_ERR_CORRUPT;
    pos += (size_t)size;
  }
  return 0;
}

int flyq_log_read_copy(flyq_log_t *log, int64_t offset, uint32_t max_bytes,
                       uint8_t **buf, size_t *len) {
  flyq_slice_t s;
  *buf = NULL;
  *len = 0;
  int r = flyq_log_read(log, offset, max_bytes, &s);
  if (r < 0 || s.len == 0) return r;
  uint8_t *p = malloc(s.len);
  r = p ? flyq__pread_all(s.fd, p, s.len, s.pos) : -ENOMEM;
  if (r == FLYQ_ERR_TRUNCATED) r = FLYQ_ERR_CORRUPT;
  if (r == 0) r = verify_batches(p, s.len);
  if (r == 0) {
    *buf = p;
    *len = s.len;
  } else {
    free(p);
  }
  flyq_slice_release(&s);
  return r;
}

int flyq_log_offset_for_time(flyq_log_t *log, int64_t ts, int64_t *offset) {
  for (size_t i = 0; i < log->nsegs; i++) {
    int r = flyq__segment_offset_for_time(log->segs[i], ts, offset);
    if (r != FLYQ_ERR_NOT_FOUND) return r;
  }
  *offset = flyq_log_end_offset(log);
  return 0;
}

/* ---- flush ---- */

int flyq_log_sync_begin(flyq_log_t *log, flyq_log_sync_t *sync) {
  size_t first = log->nsegs;
  *sync = (flyq_log_sync_t){.end_offset = flyq_log_end_offset(log)};
  log->first_since_sync_ms = -1;
  while (first > 0 && log->segs[first - 1]->end_offset > log->flushed_offset)
    first--;
  if (first == log->nsegs) return 0;
  sync->fds = malloc((log->nsegs - first) * sizeof *sync->fds);
  if (sync->fds == NULL) return -ENOMEM;
  for (size_t i = first; i < log->nsegs; i++) {
    int fd = fcntl(log->segs[i]->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      int err = -errno;
      while (sync->nfds > 0) close(sync->fds[--sync->nfds]);
      free(sync->fds);
      sync->fds = NULL;
      return err;
    }
    sync->fds[sync->nfds++] = fd;
  }
  sync->result = -EINPROGRESS; /* until run() */
  return 0;
}

void flyq_log_sync_run(flyq_log_sync_t *sync) {
  sync->result = 0;
  for (int i = 0; i < sync->nfds; i++)
    if (fdatasync(sync->fds[i]) < 0 && sync->result == 0) sync->result = -errno;
}

int flyq_log_sync_end(flyq_log_t *log, flyq_log_sync_t *sync) {
  for (int i = 0; i < sync->nfds; i++) close(sync->fds[i]);
  free(sync->fds);
  sync->fds = NULL;
  sync->nfds = 0;
  if (sync->result < 0) {
    flyq_logmsg(FLYQ_LOG_ERROR, "storage", "%s: fdatasync failed: %s", log->dir,
                flyq_strerror(sync->result));
    return sync->result;
  }
  if (sync->end_offset > log->flushed_offset) {
    log->flushed_offset = sync->end_offset;
    log->first_unflushed_ms = log->flushed_offset >= flyq_log_end_offset(log)
                                  ? -1
                                  : log->first_since_sync_ms;
  }
  return 0;
}

int flyq_log_flush(flyq_log_t *log) {
  flyq_log_sync_t sync;
  int r = flyq_log_sync_begin(log, &sync);
  if (r < 0) return r;
  flyq_log_sync_run(&sync);
  return flyq_log_sync_end(log, &sync);
}

/* ---- retention ---- */

static int expired(const flyq_log_t *log, const flyq_segment_t *seg,
                   int64_t now_ms) {
  int64_t limit;
  if (log->cfg.retention_bytes >= 0 &&
      log->bytes > (uint64_t)log->cfg.retention_bytes)
    return 1;
  return log->cfg.retention_ms >= 0 &&
         !__builtin_sub_overflow(now_ms, log->cfg.retention_ms, &limit) &&
         seg->max_ts < limit;
}

static int delete_oldest(flyq_log_t *log) {
  flyq_segment_t *seg = log->segs[0];
  int r = flyq__segment_unlink(seg);
  if (r < 0) {
    flyq_logmsg(FLYQ_LOG_ERROR, "storage", "%s.log: cannot delete: %s",
                seg->prefix, flyq_strerror(r));
    return r;
  }
  flyq_logmsg(FLYQ_LOG_INFO, "storage",
              "%s.log: deleted by retention (%" PRIu64
              " bytes, offsets %" PRId64 "..%" PRId64 ")",
              seg->prefix, seg->size, seg->base_offset, seg->end_offset - 1);
  log->bytes -= seg->size;
  memmove(log->segs, log->segs + 1, --log->nsegs * sizeof *log->segs);
  flyq__segment_unref(seg);
  return 0;
}

int flyq_log_apply_retention(flyq_log_t *log, int64_t now_ms, int *deleted) {
  int n = 0, r = 0;
  while (log->nsegs > 1 && expired(log, log->segs[0], now_ms)) {
    if ((r = delete_oldest(log)) < 0) break;
    n++;
  }
  if (deleted != NULL) *deleted = n;
  return r;
}

/* ---- open / close ---- */

/* Parses "<20 digits>.<ext>" into *base. Returns 1 on a match. */
static int parse_name(const char *name, const char *ext, int64_t *base) {
  uint64_t v = 0;
  for (int i = 0; i < 20; i++) {
    if (name[i] < '0' || name[i] > '9') return 0;
    v = v * 10 + (uint64_t)(name[i] - '0');
    if (v > INT64_MAX) return 0;
  }
  if (name[20] != '.' || strcmp(name + 21, ext) != 0) return 0;
  *base = (int64_t)v;
  return 1;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes index files left without their .log (a deletion cut short). */
static void remove_orphan(const char *dir, char **names, size_t n,
                          const char *name) {
  int64_t base;
  if (!parse_name(name, "index", &base) &&
      !parse_name(name, "timeindex", &base))
    return;
  char log_name[32], *key = log_name;
  snprintf(log_name, sizeof log_name, "%.20s.log", name);
  if (bsearch(&key, names, n, sizeof *names, cmp_names) != NULL) return;
  char *path = flyq__path_join(dir, name);
  if (path != NULL && unlink(path) == 0)
    flyq_logmsg(FLYQ_LOG_WARN, "storage", "%s: removed orphan index", path);
  free(path);
}

/* Opens every segment found in the directory, in offset order. */
static int open_segments(flyq_log_t *log) {
  char **names;
  size_t n;
  int r = flyq__list_dir(log->dir, &names, &n);
  if (r < 0) return r;
  for (size_t i = 0; i < n && r == 0; i++) {
    int64_t base;
    remove_orphan(log->dir, names, n, names[i]);
    if (!parse_name(names[i], "log", &base)) continue;
    if ((r = reserve(log)) == 0)
      r = flyq__segment_open(log->dir, base, &log->segs[log->nsegs]);
    if (r == 0) log->nsegs++;
  }
  flyq__list_free(names, n);
  return r;
}

static int recover_segments(flyq_log_t *log, flyq_log_recovery_t *rec) {
  for (size_t i = 0; i < log->nsegs; i++) {
    int last = i + 1 == log->nsegs;
    flyq_segment_t *seg = log->segs[i];
    int r = flyq__segment_recover(seg, last && !rec->clean, last,
                                  log->cfg.index_interval_bytes, rec);
    if (r < 0) return r;
    if (i > 0 && seg->base_offset < log->segs[i - 1]->end_offset) {
      flyq_logmsg(FLYQ_LOG_ERROR, "storage",
                  "%s.log: overlaps the previous segment", seg->prefix);
      return FLYQ_ERR_CORRUPT;
    }
    log->bytes += seg->size;
  }
  return 0;
}

/* Reads and removes the clean-shutdown marker (durably, so that a crash
 * from now on is seen as unclean). */
static int take_clean_marker(const char *dir, int *clean) {
  char *path = flyq__path_join(dir, CLEAN_MARKER);
  if (path == NULL) return -ENOMEM;
  int r = unlink(path) == 0 ? 0 : -errno;
  free(path);
  *clean = r == 0;
  if (r == -ENOENT) return 0;
  return r < 0 ? r : flyq__fsync_dir(dir);
}

static int open_log(flyq_log_t *log, flyq_log_recovery_t *rec) {
  int r = flyq__mkdir_p(log->dir);
  if (r == 0) r = take_clean_marker(log->dir, &rec->clean);
  if (r == 0) r = open_segments(log);
  if (r == 0) r = recover_segments(log, rec);
  int fresh = log->nsegs == 0;
  if (r == 0 && fresh) r = add_segment(log, 0);
  if (r < 0) return r;
  log->flushed_offset = flyq_log_end_offset(log);
  if (!rec->clean && !fresh)
    flyq_logmsg(FLYQ_LOG_INFO, "storage",
                "%s: recovered after unclean shutdown: %" PRId64
                " batches validated, %" PRIu64
                " bytes truncated, %d index "
                "files rebuilt, end offset %" PRId64,
                log->dir, rec->valid_batches, rec->truncated_bytes,
                rec->indexes_rebuilt, log->flushed_offset);
  return 0;
}

int flyq_log_open(const char *dir, const flyq_log_config_t *cfg,
                  flyq_log_t **out, flyq_log_recovery_t *rec) {
  flyq_log_recovery_t scratch;
  if (rec == NULL) rec = &scratch;
  memset(rec, 0, sizeof *rec);
  flyq_log_t *log = calloc(1, sizeof *log);
  if (log == NULL || (log->dir = strdup(dir)) == NULL) {
    free(log);
    return -ENOMEM;
  }
  if (cfg != NULL)
    log->cfg = *cfg;
  else
    flyq_log_config_default(&log->cfg);
  log->last_append_ms = -1;
  log->first_unflushed_ms = -1;
  log->first_since_sync_ms = -1;
  int r = open_log(log, rec);
  if (r < 0) {
    free_log(log);
    return r;
  }
  *out = log;
  return 0;
}

static int write_clean_marker(const char *dir) {
  char *path = flyq__path_join(dir, CLEAN_MARKER);
  if (path == NULL) return -ENOMEM;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int r = fd < 0 ? -errno : 0;
  free(path);
  if (fd >= 0) close(fd);
  return r < 0 ? r : flyq__fsync_dir(dir);
}

int flyq_log_close(flyq_log_t *log) {
  flyq_segment_t *seg = active(log);
  int r = flyq_log_flush(log);
  int r2 = flyq__segment_close_index(seg);
  if (r == 0) r = r2;
  if (r == 0 && log->index_failed) r = -EIO;
  if (r == 0) r = write_clean_marker(log->dir);
  if (r < 0)
    flyq_logmsg(FLYQ_LOG_ERROR, "storage", "%s: unclean close: %s", log->dir,
                flyq_strerror(r));
  free_log(log);
  return r;
}

void flyq_log_abandon(flyq_log_t *log) { free_log(log); }

int flyq_log_destroy(flyq_log_t *log) {
  char *dir = log->dir;
  log->dir = NULL;
  free_log(log);
  int r = flyq__rmtree(dir);
  free(dir);
  return r;
}
