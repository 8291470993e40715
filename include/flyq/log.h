/* The partition log: an append-only sequence of record batches stored as a
 * directory of segments. This layer knows nothing of sockets or Lua.
 *
 * On disk (see docs/storage.md):
 *   <dir>/00000000000000000000.log        batches, as received, offsets assigned
 *   <dir>/00000000000000000000.index      sparse: u32 relative offset, u32 position
 *   <dir>/00000000000000000000.timeindex  i64 timestamp, u32 relative offset
 *   <dir>/.clean                          present only after a clean close
 *
 * Threading: a log belongs to one thread (the broker's loop). The only part
 * that may run elsewhere is flyq_log_sync_run() on a flyq_log_sync_t, which
 * touches nothing but its own duplicated file descriptors.
 */
#ifndef FLYQ_LOG_H
#define FLYQ_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/common.h"

typedef struct flyq_log flyq_log_t;
typedef struct flyq_segment flyq_segment_t;

typedef struct flyq_log_config {
  uint64_t segment_bytes;        /* roll at this size; default 1 GiB */
  int64_t segment_ms;            /* roll when the active segment's first
                                    append is this old; default 7 days; <= 0 off */
  uint32_t index_interval_bytes; /* bytes between index entries; default 4096 */
  int64_t retention_ms;          /* delete closed segments older; -1 = forever;
                                    default 7 days */
  int64_t retention_bytes;       /* keep the partition under; -1 = no limit
                                    (default) */
  uint64_t flush_messages;       /* fsync after this many messages; 0 = off
                                    (default) */
  int64_t flush_ms;              /* fsync when unflushed data is this old; -1 = off
                                    (default) */
} flyq_log_config_t;

/* Fills cfg with the defaults documented above. */
void flyq_log_config_default(flyq_log_config_t *cfg);

/* What opening a log found and did. */
typedef struct flyq_log_recovery {
  int clean;                /* 1 if the clean-shutdown marker was present */
  uint64_t truncated_bytes; /* bytes cut from the end of the active segment */
  int indexes_rebuilt;      /* number of .index/.timeindex files rebuilt */
  int64_t valid_batches;    /* batches validated during recovery */
} flyq_log_recovery_t;

/* Opens (creating if needed) the log in dir. cfg is copied. On an unclean
 * open every batch of the active segment is validated (length, magic, CRC)
 * and the segment is truncated at the first invalid byte; indexes that are
 * missing, short or inconsistent are rebuilt. rec may be NULL. */
int flyq_log_open(const char *dir, const flyq_log_config_t *cfg,
                  flyq_log_t **out, flyq_log_recovery_t *rec);

/* Flushes everything, writes the clean-shutdown marker and frees the log.
 * Segments still referenced by slices stay open until released. */
int flyq_log_close(flyq_log_t *log);

/* Closes without flushing or writing the marker, as a crash would leave it
 * (tests use this to simulate an unclean shutdown). */
void flyq_log_abandon(flyq_log_t *log);

/* Replaces the configuration (takes effect on the next append/roll). */
void flyq_log_set_config(flyq_log_t *log, const flyq_log_config_t *cfg);
const flyq_log_config_t *flyq_log_config(const flyq_log_t *log);

typedef struct flyq_append_result {
  int64_t base_offset;
  int64_t last_offset;
  int flush_due; /* 1 if the flush policy asks for a flush now */
} flyq_append_result_t;

/* Validates one batch (flyq_batch_validate), assigns its offsets by
 * rewriting base_offset in batch (the caller's buffer is modified), and
 * appends it, rolling to a new segment first when the active one is full or
 * old. now_ms is the broker's clock. Nothing is written if validation fails.
 * On a write error the segment is cut back to its previous size, so a failed
 * append (e.g. ENOSPC) leaves nothing behind. Does not fsync. */
int flyq_log_append(flyq_log_t *log, uint8_t *batch, size_t len,
                    int64_t now_ms, flyq_append_result_t *res);

/* Appends several batches lying back to back in buf (e.g. a produce
 * request). All are validated before any is written; all or none is
 * appended. res describes the whole range. */
int flyq_log_append_many(flyq_log_t *log, uint8_t *buf, size_t len,
                         int64_t now_ms, flyq_append_result_t *res);

/* flyq_log_append_many for batches the caller vouches for: each passed
 * flyq_batch_validate (in this process) and has not changed since. Only
 * what costs nothing is checked: len 0 (FLYQ_ERR_INVALID_ARG), batch sizes
 * that do not add up to len (FLYQ_ERR_TRUNCATED / FLYQ_ERR_CORRUPT), and
 * each fixed header's magic, record count (>= 1) and last offset delta
 * (FLYQ_ERR_CORRUPT), which the log's offsets depend on. No CRC is computed
 * and no record decoded: if the caller is wrong, the bytes are stored as
 * they are. flyq_log_read serves them unchecked until the log is reopened
 * (as it does every batch appended since the open); flyq_log_read_copy and
 * a later open check their CRC like any bytes on disk. Otherwise as
 * flyq_log_append_many. */
int flyq_log_append_validated(flyq_log_t *log, uint8_t *buf, size_t len,
                              int64_t now_ms, flyq_append_result_t *res);

/* A run of whole stored batches inside one segment, readable with
 * pread/sendfile from fd at [pos, pos + len). Holds a reference on the
 * segment so that deleting it (retention, topic delete) does not break the
 * reader; release it with flyq_slice_release(). */
typedef struct flyq_slice {
  int fd;
  uint64_t pos;
  uint32_t len;
  int64_t base_offset; /* of the first batch in the slice */
  flyq_segment_t *seg;
} flyq_slice_t;

/* Finds the batches whose last offset is >= offset. Returns at most
 * max_bytes of whole batches, but always at least one batch when any exists,
 * and never crosses a segment end. offset == end offset gives an empty slice
 * (len 0, seg NULL). offset < start or > end gives
 * FLYQ_ERR_OFFSET_OUT_OF_RANGE. Bytes that predate the open are CRC-checked
 * the first time they are read: a slice ends before a damaged batch, and
 * FLYQ_ERR_CORRUPT is returned when the first batch is damaged. */
int flyq_log_read(flyq_log_t *log, int64_t offset, uint32_t max_bytes,
                  flyq_slice_t *out);
void flyq_slice_release(flyq_slice_t *s);

/* Like flyq_log_read, but copies into a malloc'd buffer the caller frees,
 * and verifies each batch's CRC, returning FLYQ_ERR_CORRUPT for damage.
 * At the end offset it returns 0 with *buf NULL and *len 0. */
int flyq_log_read_copy(flyq_log_t *log, int64_t offset, uint32_t max_bytes,
                       uint8_t **buf, size_t *len);

/* First offset whose batch max timestamp is >= ts, found through the time
 * index; the end offset if there is none. */
int flyq_log_offset_for_time(flyq_log_t *log, int64_t ts, int64_t *offset);

int64_t flyq_log_start_offset(const flyq_log_t *log); /* first readable */
int64_t flyq_log_end_offset(const flyq_log_t *log);   /* next to assign */
int64_t flyq_log_flushed_offset(const flyq_log_t *log); /* fsynced below this */

typedef struct flyq_log_stats {
  int64_t start_offset;
  int64_t end_offset;
  int64_t flushed_offset;
  uint32_t segment_count;
  uint64_t bytes;
  int64_t last_append_ms; /* -1 if nothing was appended since open */
} flyq_log_stats_t;
void flyq_log_stats(const flyq_log_t *log, flyq_log_stats_t *st);

/* Flush policy check for the time-based part: 1 if flush_ms has passed since
 * the oldest unflushed append. */
int flyq_log_flush_due(const flyq_log_t *log, int64_t now_ms);

/* Synchronous flush: fdatasync every segment with unflushed data and
 * advance the flushed offset. */
int flyq_log_flush(flyq_log_t *log);

/* Split flush for running the fsync off the loop thread:
 *   begin() on the log's thread captures what to sync (dup'd fds and the
 *   end offset) into *sync; run() may execute on any thread; end() back on
 *   the log's thread advances the flushed offset if run() succeeded and
 *   frees what begin() allocated. begin() returns 0 with sync->nfds == 0
 *   when there is nothing to flush (end() must still be called). */
typedef struct flyq_log_sync {
  int *fds;
  int nfds;
  int64_t end_offset;
  int result; /* set by run() */
} flyq_log_sync_t;
int flyq_log_sync_begin(flyq_log_t *log, flyq_log_sync_t *sync);
void flyq_log_sync_run(flyq_log_sync_t *sync);
int flyq_log_sync_end(flyq_log_t *log, flyq_log_sync_t *sync);

/* Deletes closed segments, oldest first, whose newest timestamp is older
 * than retention_ms, and while the partition is larger than retention_bytes.
 * Never deletes the active segment. Advances the start offset. *deleted (may
 * be NULL) receives the number of segments removed. */
int flyq_log_apply_retention(flyq_log_t *log, int64_t now_ms, int *deleted);

/* Closes the log and removes its directory. Readers holding slices keep
 * working until they release them. */
int flyq_log_destroy(flyq_log_t *log);

#endif /* FLYQ_LOG_H */
