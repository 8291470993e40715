/* One segment of a partition log: a .log file of stored batches starting
 * at base_offset, with its offset and time indexes (index.h).
 *
 * Files: <dir>/<base offset, 20 digits>.log / .index / .timeindex.
 * The .log holds whole batches back to back; `size` is the end of the valid
 * data (positions fit in u32, offsets relative to base fit in u32).
 *
 * A segment is reference counted: the log holds one reference while the
 * segment is in its list, and every flyq_slice_t holds one. The .log fd is
 * closed and the memory freed when the last reference goes, so deleting a
 * segment (unlink) never breaks a reader that still holds a slice. The
 * counter is atomic so that slices may be released on any thread; all other
 * fields belong to the log's thread.
 */
#ifndef FLYQ_STORAGE_SEGMENT_H
#define FLYQ_STORAGE_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "flyq/batch.h"
#include "flyq/log.h"
#include "storage/index.h"

struct flyq_segment {
  int64_t base_offset;
  int64_t end_offset;      /* last offset + 1; base_offset when empty */
  uint64_t size;           /* end of the valid data in the .log */
  int64_t max_ts;          /* greatest batch max timestamp; INT64_MIN empty */
  int64_t first_append_ms; /* first append since open/creation; -1 none */
  int fd;                  /* the .log, read-write */
  /* Reads check CRCs of the bytes that were on disk before this process
   * opened the segment (flyq__segment_verify): positions below
   * trusted_from that are not in [verified_lo, verified_hi). Bytes at or
   * above trusted_from were validated by this process before being
   * written. bad_logged: position of the last damaged batch reported. */
  uint64_t trusted_from, verified_lo, verified_hi, bad_logged;
  atomic_int refs;
  flyq_index_t ix;
  char *prefix; /* "<dir>/<20 digits>", the file names without extension */
};

/* Saved state of a segment, to undo appends (see flyq__segment_rewind). */
typedef struct flyq_segment_mark {
  uint64_t size;
  int64_t end_offset, max_ts, first_append_ms;
  size_t noff, ntime;
} flyq_segment_mark_t;

/* Test hook: when set, used instead of pwrite() for .log appends (same
 * contract as pwrite). Lets tests make a write fail half-way. */
extern ssize_t (*flyq__log_write_hook)(int fd, const void *buf, size_t n,
                                       off_t off);

/* Creates a new empty segment (its three files; the .log must not exist),
 * with its index files open for appending. One reference, owned by the
 * caller. On error nothing is left behind. */
int flyq__segment_create(const char *dir, int64_t base, flyq_segment_t **out);

/* Opens an existing segment's .log; size is the file size and the indexes
 * are empty and closed: recovery (flyq__segment_recover) fills them. */
int flyq__segment_open(const char *dir, int64_t base, flyq_segment_t **out);

flyq_segment_t *flyq__segment_ref(flyq_segment_t *seg);
/* Drops a reference; the last one closes every fd and frees seg. */
void flyq__segment_unref(flyq_segment_t *seg);

/* Removes the segment's files (.log first; missing files are fine). The
 * open fd keeps working for whoever holds a reference. */
int flyq__segment_unlink(flyq_segment_t *seg);

/* Path of one of the segment's files; ext is "log", "index", "timeindex".
 * Returns 0 or -ENAMETOOLONG. */
int flyq__segment_path(const flyq_segment_t *seg, const char *ext, char *buf,
                       size_t size);

/* Opens both index files for writing, creating them if missing. With
 * rewrite, their contents are replaced by the entries in memory; without,
 * the files are assumed to hold exactly those entries. */
int flyq__segment_open_index(flyq_segment_t *seg, int rewrite);
/* Writes pending entries and closes the index files. Returns 0 or the
 * -errno of a failed write (logged; the files are closed either way). */
int flyq__segment_close_index(flyq_segment_t *seg);

/* Reads both index files into memory. A missing or short file gives
 * FLYQ_ERR_CORRUPT. */
int flyq__segment_load_index(flyq_segment_t *seg);

/* Decodes the fixed header of a stored batch from its first 61 bytes and
 * checks what a walk relies on: magic 2, batch_length >= 49, at least one
 * record and last_offset_delta == record_count - 1. Returns 0 or
 * FLYQ_ERR_CORRUPT. */
int flyq__segment_decode_header(const uint8_t *p, flyq_batch_header_t *h);

/* Reads exactly len bytes at pos, looping on short reads and EINTR.
 * Returns 0, FLYQ_ERR_TRUNCATED at end of file, or -errno. */
int flyq__pread_all(int fd, void *buf, size_t len, uint64_t pos);

/* Reads and decodes the header of the batch at pos, which must end within
 * seg->size. Returns 0, FLYQ_ERR_CORRUPT, FLYQ_ERR_TRUNCATED or -errno. */
int flyq__segment_read_header(const flyq_segment_t *seg, uint64_t pos,
                              flyq_batch_header_t *h);

/* Accounts for a batch (header h) lying at pos: end offset, max timestamp
 * and index entries (memory only). */
void flyq__segment_index_batch(flyq_segment_t *seg,
                               const flyq_batch_header_t *h, uint64_t pos,
                               uint32_t interval);

/* Appends len bytes of whole batches whose offsets are already assigned
 * (the first base offset must equal seg->end_offset). On a write error the
 * .log is cut back to its previous size and nothing changes. Index entries
 * are written after the data; a failure there is retried on the next
 * append. */
int flyq__segment_append(flyq_segment_t *seg, const uint8_t *buf, size_t len,
                         int64_t now_ms, uint32_t interval);

void flyq__segment_mark(const flyq_segment_t *seg, flyq_segment_mark_t *m);
/* Restores the state saved by flyq__segment_mark, cutting the .log and the
 * index files back. */
int flyq__segment_rewind(flyq_segment_t *seg, const flyq_segment_mark_t *m);

/* Position and header of the first batch whose last offset is >= offset
 * (index lookup, then a forward scan of headers). FLYQ_ERR_NOT_FOUND when
 * the segment has none. */
int flyq__segment_find(const flyq_segment_t *seg, int64_t offset, uint64_t *pos,
                       flyq_batch_header_t *h);

/* Length of the run of whole batches starting at pos (whose first batch is
 * first_len bytes): at least that batch, then more while the total stays
 * within max_bytes, never past seg->size. */
uint32_t flyq__segment_span(const flyq_segment_t *seg, uint64_t pos,
                            uint32_t first_len, uint32_t max_bytes);

/* Base offset of the first batch whose max timestamp is >= ts.
 * FLYQ_ERR_NOT_FOUND when the segment has none. */
int flyq__segment_offset_for_time(const flyq_segment_t *seg, int64_t ts,
                                  int64_t *offset);

/* Checks the run of whole batches [pos, pos + *len) about to be served,
 * whose first batch has base offset base: every batch not yet known good
 * is fully validated (CRC included) once. If a batch is damaged, *len is
 * cut to the good batches before it, or, when the first batch is damaged,
 * FLYQ_ERR_CORRUPT is returned (both logged at WARN once per position).
 * Returns 0, FLYQ_ERR_CORRUPT or -errno. */
int flyq__segment_verify(flyq_segment_t *seg, uint64_t pos, int64_t base,
                         uint32_t *len);

/* Recovery (recovery.c). Brings a freshly opened segment to a consistent
 * state: with full, every batch is validated from the start (length, magic,
 * CRC via flyq_batch_validate, offset sequence), the .log is truncated at
 * the first invalid byte and both indexes are rebuilt; otherwise the index
 * files are loaded and checked cheaply and the tail is walked from the last
 * index entry, falling back to the full path when anything fails. rec
 * accumulates what was done. With active, the index files stay open. */
int flyq__segment_recover(flyq_segment_t *seg, int full, int active,
                          uint32_t interval, flyq_log_recovery_t *rec);

#endif /* FLYQ_STORAGE_SEGMENT_H */
