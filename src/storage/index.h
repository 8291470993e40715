/* The two sparse indexes of one segment, kept in memory as sorted arrays
 * and mirrored to their files with plain writes (no mmap, no fsync: both
 * can be rebuilt from the .log).
 *
 *   .index      8-byte entries: u32 BE offset - segment base, u32 BE position
 *   .timeindex 12-byte entries: i64 BE max timestamp so far, u32 BE relative
 *               offset of the batch at which it was recorded
 *
 * flyq__index_add_batch() is the single rule that decides which entries
 * exist, used both on append and when rebuilding from the .log, so a
 * rebuilt index is byte-identical to one written live with the same
 * index_interval_bytes. Every time entry sits on a batch that also has an
 * offset entry.
 */
#ifndef FLYQ_STORAGE_INDEX_H
#define FLYQ_STORAGE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define FLYQ_INDEX_ENTRY_SIZE 8
#define FLYQ_TIME_ENTRY_SIZE 12
/* Returned by the lookups when there is no such entry. */
#define FLYQ_INDEX_NONE ((size_t)-1)

typedef struct flyq_index_entry {
  uint32_t rel; /* offset - segment base offset */
  uint32_t pos; /* position of the batch in the .log */
} flyq_index_entry_t;

typedef struct flyq_time_entry {
  int64_t ts;   /* greatest batch max timestamp up to this batch */
  uint32_t rel; /* relative base offset of the batch */
} flyq_time_entry_t;

typedef struct flyq_index {
  flyq_index_entry_t *off;
  size_t noff, off_cap;
  flyq_time_entry_t *time;
  size_t ntime, time_cap;
  int off_fd, time_fd;          /* -1 when the files are not open */
  size_t off_saved, time_saved; /* entries already in the files */
} flyq_index_t;

void flyq__index_init(flyq_index_t *ix);
/* Frees the arrays and closes the files if open. */
void flyq__index_free(flyq_index_t *ix);

/* Applies the entry rule to a batch written at pos: an offset entry when
 * the index is empty or at least interval bytes lie between the last
 * entry's position and pos; with it, a time entry when max_so_far (the
 * segment's greatest batch max timestamp including this batch) exceeds the
 * last time entry. Memory only. Returns 0 or -ENOMEM (nothing added). */
int flyq__index_add_batch(flyq_index_t *ix, uint32_t rel, uint32_t pos,
                          int64_t max_so_far, uint32_t interval);

/* Writes the entries not yet in the files (no-op when they are closed).
 * On error returns -errno; the entries stay pending and later calls retry. */
int flyq__index_save(flyq_index_t *ix);

/* Replaces the files' contents with all entries in memory. */
int flyq__index_save_all(flyq_index_t *ix);

/* Forgets entries beyond the first noff / ntime, in memory and in the
 * files if open. */
void flyq__index_truncate(flyq_index_t *ix, size_t noff, size_t ntime);

/* Reads both files into memory (replacing its contents). Returns 0,
 * FLYQ_ERR_CORRUPT when a file's size is not a multiple of its entry size
 * or it holds more than max_entries entries (so garbage cannot make us
 * allocate without bound), -ENOMEM or -errno. */
int flyq__index_load(flyq_index_t *ix, int off_fd, int time_fd,
                     size_t max_entries);

/* Cheap consistency checks against a .log of log_size bytes: entries start
 * at (0, 0) when the log is not empty, strictly increase, point inside the
 * log, and every time entry has a matching offset entry. Returns 0 or
 * FLYQ_ERR_CORRUPT. */
int flyq__index_check(const flyq_index_t *ix, uint64_t log_size);

/* Greatest offset entry with rel <= target, or FLYQ_INDEX_NONE. */
size_t flyq__index_floor(const flyq_index_t *ix, uint32_t rel);
/* Greatest offset entry with pos <= target, or FLYQ_INDEX_NONE. */
size_t flyq__index_floor_pos(const flyq_index_t *ix, uint64_t pos);
/* First time entry with ts >= target, or ntime when there is none. */
size_t flyq__index_time_ceil(const flyq_index_t *ix, int64_t ts);

#endif /* FLYQ_STORAGE_INDEX_H */
