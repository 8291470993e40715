/* Open-time recovery of one segment (see flyq__segment_recover in
 * segment.h): the cheap path trusts the index files after checking them
 * and walking the batch headers after the last index entry; the full path
 * validates every batch, truncates the .log at the first invalid byte and
 * rebuilds both indexes with the same entry rule as append. The cheap path
 * leaves the CRCs unchecked: flyq__segment_verify checks them on the read
 * path, the first time each byte is served.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "flyq/batch.h"
#include "flyq/logmsg.h"
#include "storage/segment.h"

#define READ_CHUNK (1u << 20)

/* A read-ahead window over the .log, grown to hold the largest batch. */
typedef struct reader {
  int fd;
  uint64_t file_size;
  uint8_t *buf;
  size_t cap;
  uint64_t start; /* file position of buf[0] */
  size_t len;     /* valid bytes in buf */
} reader_t;

static int reader_fill(reader_t *rd, uint64_t pos, size_t n) {
  size_t want = n > READ_CHUNK ? n : READ_CHUNK;
  if (want > rd->file_size - pos) want = (size_t)(rd->file_size - pos);
  if (want > rd->cap) {
    uint8_t *p = realloc(rd->buf, want);
    if (p == NULL) return -ENOMEM;
    rd->buf = p;
    rd->cap = want;
  }
  rd->len = 0;
  int r = flyq__pread_all(rd->fd, rd->buf, want, pos);
  if (r < 0) return r;
  rd->start = pos;
  rd->len = want;
  return 0;
}

/* Points *out at bytes [pos, pos + n). FLYQ_ERR_TRUNCATED past the end. */
static int reader_get(reader_t *rd, uint64_t pos, size_t n,
                      const uint8_t **out) {
  if (pos > rd->file_size || n > rd->file_size - pos) return FLYQ_ERR_TRUNCATED;
  if (pos < rd->start || pos + n > rd->start + rd->len) {
    int r = reader_fill(rd, pos, n);
    if (r < 0) return r;
  }
  *out = rd->buf + (pos - rd->start);
  return 0;
}

/* 1 for the codes that mean "these bytes are not a valid batch". */
static int is_bad_data(int r) {
  return r == FLYQ_ERR_CORRUPT || r == FLYQ_ERR_TRUNCATED ||
         r == FLYQ_ERR_UNSUPPORTED;
}

/* Fully validates the batch at pos, which must carry base offset expected.
 * Returns its size, a bad-data code, or -errno. */
static int64_t check_batch(const flyq_segment_t *seg, reader_t *rd,
                           uint64_t pos, int64_t expected,
                           flyq_batch_header_t *h) {
  const uint8_t *p;
  int r = reader_get(rd, pos, FLYQ_BATCH_LOG_OVERHEAD, &p);
  if (r < 0) return r;
  int64_t size = flyq_batch_size(p, FLYQ_BATCH_LOG_OVERHEAD);
  if (size < 0) return FLYQ_ERR_CORRUPT;
  if (pos + (uint64_t)size > UINT32_MAX) return FLYQ_ERR_CORRUPT;
  if ((r = reader_get(rd, pos, (size_t)size, &p)) < 0) return r;
  if ((r = flyq_batch_validate(p, (size_t)size, h)) < 0) return r;
  if (h->base_offset != expected || h->record_count < 1 ||
      h->base_offset + h->last_offset_delta - seg->base_offset > UINT32_MAX)
    return FLYQ_ERR_CORRUPT;
  return size;
}

/* Validates batches from the start, rebuilding the in-memory index.
 * *end receives the end of the valid data, *why the reason it stopped. */
static int scan_all(flyq_segment_t *seg, uint32_t interval, uint64_t *end,
                    int *why, int64_t *valid) {
  reader_t rd = {.fd = seg->fd, .file_size = seg->size};
  uint64_t pos = 0;
  int64_t size = 0;
  flyq__index_truncate(&seg->ix, 0, 0);
  seg->end_offset = seg->base_offset;
  seg->max_ts = INT64_MIN;
  while (pos < seg->size) {
    flyq_batch_header_t h;
    size = check_batch(seg, &rd, pos, seg->end_offset, &h);
    if (size < 0) break;
    flyq__segment_index_batch(seg, &h, pos, interval);
    pos += (uint64_t)size;
    (*valid)++;
  }
  free(rd.buf);
  *end = pos;
  *why = size < 0 ? (int)size : 0;
  return size < 0 && !is_bad_data((int)size) ? (int)size : 0;
}

static int cut(flyq_segment_t *seg, uint64_t end, int why,
               flyq_log_recovery_t *rec) {
  flyq_logmsg(FLYQ_LOG_WARN, "storage",
              "%s.log: truncating %" PRIu64 " bytes at position %" PRIu64
              " (offset %" PRId64 "): %s",
              seg->prefix, seg->size - end, end, seg->end_offset,
              flyq_strerror(why));
  if (ftruncate(seg->fd, (off_t)end) < 0) return -errno;
  rec->truncated_bytes += seg->size - end;
  seg->size = end;
  return 0;
}

/* The full path. The surviving data is made durable (fdatasync), so the
 * log may report it as flushed. */
static int recover_full(flyq_segment_t *seg, int active, uint32_t interval,
                        flyq_log_recovery_t *rec) {
  uint64_t end;
  int why;
  int r = scan_all(seg, interval, &end, &why, &rec->valid_batches);
  if (r == 0 && end < seg->size) r = cut(seg, end, why, rec);
  if (r == 0 && fdatasync(seg->fd) < 0) r = -errno;
  if (r == 0) r = flyq__segment_open_index(seg, 1);
  if (r < 0) return r;
  rec->indexes_rebuilt += 2;
  flyq_logmsg(FLYQ_LOG_INFO, "storage",
              "%s: indexes rebuilt (%zu offset, %zu time entries)", seg->prefix,
              seg->ix.noff, seg->ix.ntime);
  return active ? 0 : flyq__segment_close_index(seg);
}

/* Walks the headers from the last index entry to the end of the file,
 * which must be a batch boundary, with offsets following each other. Sets
 * end_offset and max_ts. */
static int walk_tail(flyq_segment_t *seg) {
  const flyq_index_t *ix = &seg->ix;
  if (seg->size > UINT32_MAX) return FLYQ_ERR_CORRUPT;
  uint64_t p = ix->noff ? ix->off[ix->noff - 1].pos : 0;
  int64_t next = seg->base_offset + (ix->noff ? ix->off[ix->noff - 1].rel : 0);
  int64_t max = ix->ntime ? ix->time[ix->ntime - 1].ts : INT64_MIN;
  while (p < seg->size) {
    flyq_batch_header_t h;
    int r = flyq__segment_read_header(seg, p, &h);
    if (r < 0) return r;
    if (h.base_offset != next) return FLYQ_ERR_CORRUPT;
    next = h.base_offset + h.last_offset_delta + 1;
    if (h.max_timestamp > max) max = h.max_timestamp;
    p += (uint64_t)h.batch_length + FLYQ_BATCH_LOG_OVERHEAD;
  }
  if (next - 1 - seg->base_offset > UINT32_MAX) return FLYQ_ERR_CORRUPT;
  seg->end_offset = next;
  seg->max_ts = max;
  return 0;
}

/* After recovery: what reads must still check (flyq__segment_verify). */
static int recovered(flyq_segment_t *seg, int full, int r) {
  seg->trusted_from = seg->size;
  seg->verified_lo = 0;
  seg->verified_hi = full ? seg->size : 0;
  return r;
}

int flyq__segment_recover(flyq_segment_t *seg, int full, int active,
                          uint32_t interval, flyq_log_recovery_t *rec) {
  if (full) return recovered(seg, 1, recover_full(seg, active, interval, rec));
  int r = flyq__segment_load_index(seg);
  if (r == 0) r = flyq__index_check(&seg->ix, seg->size);
  if (r == 0) r = walk_tail(seg);
  if (is_bad_data(r)) {
    flyq_logmsg(FLYQ_LOG_WARN, "storage",
                "%s: index or tail inconsistent (%s): validating the segment",
                seg->prefix, flyq_strerror(r));
    return recovered(seg, 1, recover_full(seg, active, interval, rec));
  }
  if (r < 0) return r;
  return recovered(seg, 0, active ? flyq__segment_open_index(seg, 0) : 0);
}

/* ---- Checks on the read path ---- */

/* Remembers [lo, hi) as checked: merged with the known range when they
 * touch, else replacing it (the latest reader's range is the likeliest to
 * be read again). */
static void verified_add(flyq_segment_t *seg, uint64_t lo, uint64_t hi) {
  if (lo <= seg->verified_hi && hi >= seg->verified_lo &&
      seg->verified_hi > seg->verified_lo) {
    if (lo > seg->verified_lo) lo = seg->verified_lo;
    if (hi < seg->verified_hi) hi = seg->verified_hi;
  }
  seg->verified_lo = lo;
  seg->verified_hi = hi;
}

static void report_damage(flyq_segment_t *seg, uint64_t pos, int64_t offset,
                          int why) {
  if (seg->bad_logged == pos) return;
  seg->bad_logged = pos;
  flyq_logmsg(FLYQ_LOG_WARN, "storage",
              "%s.log: damaged batch at position %" PRIu64 " (offset %" PRId64
              "): %s; not served",
              seg->prefix, pos, offset, flyq_strerror(why));
}

int flyq__segment_verify(flyq_segment_t *seg, uint64_t pos, int64_t base,
                         uint32_t *len) {
  uint64_t end = pos + *len;
  if (end > seg->trusted_from) end = seg->trusted_from;
  if (pos >= end || (pos >= seg->verified_lo && end <= seg->verified_hi))
    return 0;
  /* The reader never reads past the range: a slice is small. */
  reader_t rd = {.fd = seg->fd, .file_size = end};
  uint64_t p = pos;
  int64_t size = 0, expected = base;
  while (p < end) {
    flyq_batch_header_t h;
    size = check_batch(seg, &rd, p, expected, &h);
    if (size < 0) break;
    expected = h.base_offset + h.last_offset_delta + 1;
    p += (uint64_t)size;
  }
  free(rd.buf);
  if (size < 0 && !is_bad_data((int)size)) return (int)size;
  if (p > pos) verified_add(seg, pos, p);
  if (p == end) return 0;
  report_damage(seg, p, expected, (int)size);
  if (p == pos) return FLYQ_ERR_CORRUPT;
  *len = (uint32_t)(p - pos);
  return 0;
}
