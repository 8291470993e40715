/* Helpers shared by the partition log tests (test-log.c, test-recovery.c,
 * test-retention.c): deterministic batches whose record contents follow
 * from their offsets, a reader that checks every record of a log, and small
 * file utilities. Everything is static inline so each test takes only what
 * it uses.
 */
#ifndef FLYQ_SPEC_LOGTEST_H
#define FLYQ_SPEC_LOGTEST_H

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flyq/batch.h"
#include "flyq/log.h"
#include "test.h"

/* Value byte j of the record at offset off. */
static inline uint8_t lt_value_byte(int64_t off, size_t j) {
  return (uint8_t)(off * 131 + (int64_t)j * 7 + (int64_t)(j >> 8));
}

static inline size_t lt_value_len(int64_t off) {
  return 10 + (size_t)(off % 23);
}

/* Builds a batch of n records meant for offsets first..first+n-1: record i
 * has key "k<offset>", a value derived from its offset and timestamp
 * ts + i. Returns a malloc'd copy in *out. */
static inline void lt_build(int64_t first, int n, int64_t ts, uint8_t **out,
                            size_t *len) {
  flyq_batch_builder_t b;
  flyq_batch_builder_init(&b);
  for (int i = 0; i < n; i++) {
    int64_t off = first + i;
    char key[32];
    uint8_t val[64];
    int klen = snprintf(key, sizeof key, "k%" PRId64, off);
    for (size_t j = 0; j < lt_value_len(off); j++)
      val[j] = lt_value_byte(off, j);
    CHECK_OK(flyq_batch_builder_add(&b, ts + i, key, klen, val,
                                    (int32_t)lt_value_len(off), NULL, 0));
  }
  const uint8_t *p;
  CHECK_OK(flyq_batch_builder_finish(&b, &p, len));
  *out = malloc(*len);
  CHECK(*out != NULL);
  memcpy(*out, p, *len);
  flyq_batch_builder_free(&b);
}

/* Appends a batch of n records at the log's end offset with timestamps
 * ts..ts+n-1, checking the assigned offsets. Returns the batch size. */
static inline size_t lt_append(flyq_log_t *log, int n, int64_t ts,
                               int64_t now_ms) {
  int64_t first = flyq_log_end_offset(log);
  uint8_t *b;
  size_t len;
  flyq_append_result_t res;
  lt_build(first, n, ts, &b, &len);
  int r = flyq_log_append(log, b, len, now_ms, &res);
  free(b);
  CHECK_OK(r);
  CHECK_EQ(res.base_offset, first);
  CHECK_EQ(res.last_offset, first + n - 1);
  CHECK_EQ(flyq_log_end_offset(log), first + n);
  return len;
}

/* n batches of 3 records (lt_build) for offsets from first, back to back,
 * the i-th with timestamp ts + i; sizes (may be NULL) receives each
 * batch's size. Returns a malloc'd buffer of *total bytes. */
static inline uint8_t *lt_build_many(int64_t first, int n, int64_t ts,
                                     size_t *total, size_t *sizes) {
  uint8_t *buf = NULL;
  *total = 0;
  for (int i = 0; i < n; i++) {
    uint8_t *b;
    size_t len;
    lt_build(first + 3 * i, 3, ts + i, &b, &len);
    buf = realloc(buf, *total + len);
    CHECK(buf != NULL);
    memcpy(buf + *total, b, len);
    *total += len;
    if (sizes) sizes[i] = len;
    free(b);
  }
  return buf;
}

/* Checks one record against what lt_build put at its offset. */
static inline void lt_check_record(const flyq_record_t *rec) {
  char key[32];
  int klen = snprintf(key, sizeof key, "k%" PRId64, rec->offset);
  CHECK_EQ(rec->key_len, klen);
  CHECK_MEM(rec->key, key, (size_t)klen);
  CHECK_EQ(rec->value_len, (int32_t)lt_value_len(rec->offset));
  for (size_t j = 0; j < lt_value_len(rec->offset); j++)
    CHECK_EQ(rec->value[j], lt_value_byte(rec->offset, j));
}

/* Checks every record of the batches in buf, which must start at *next;
 * advances *next past them. */
static inline void lt_check_batches(const uint8_t *buf, size_t len,
                                    int64_t *next) {
  for (size_t pos = 0; pos < len;) {
    int64_t size = flyq_batch_size(buf + pos, len - pos);
    CHECK(size > 0 && (size_t)size <= len - pos);
    flyq_record_iter_t it;
    flyq_record_t rec;
    CHECK_OK(flyq_record_iter_init(&it, buf + pos, (size_t)size));
    int r;
    while ((r = flyq_record_iter_next(&it, &rec)) == 1) {
      CHECK_EQ(rec.offset, *next);
      lt_check_record(&rec);
      (*next)++;
    }
    CHECK_EQ(r, 0);
    pos += (size_t)size;
  }
}

/* Reads the whole log from `from` with read_copy in steps of max_bytes and
 * checks every record. Returns the number of records read. */
static inline int64_t lt_read_all(flyq_log_t *log, int64_t from,
                                  uint32_t max_bytes) {
  int64_t next = from;
  while (next < flyq_log_end_offset(log)) {
    uint8_t *buf;
    size_t len;
    CHECK_OK(flyq_log_read_copy(log, next, max_bytes, &buf, &len));
    CHECK(len > 0);
    int64_t before = next;
    /* A read may start before `next` (mid-batch): skip what we saw. */
    flyq_batch_header_t h;
    CHECK_OK(flyq_batch_parse_header(buf, len, &h));
    CHECK(h.base_offset <= next);
    next = h.base_offset;
    lt_check_batches(buf, len, &next);
    CHECK(next > before);
    free(buf);
  }
  CHECK_EQ(next, flyq_log_end_offset(log));
  return next - from;
}

/* "<dir>/<base 20 digits>.<ext>" into buf. */
static inline const char *lt_seg_path(char *buf, size_t size, const char *dir,
                                      int64_t base, const char *ext) {
  CHECK(snprintf(buf, size, "%s/%020" PRId64 ".%s", dir, base, ext) <
        (int)size);
  return buf;
}

/* Reads a whole file into a malloc'd buffer; *len = -1 if missing. */
static inline uint8_t *lt_read_file(const char *path, long *len) {
  int fd = open(path, O_RDONLY);
  *len = -1;
  if (fd < 0) return NULL;
  struct stat st;
  CHECK(fstat(fd, &st) == 0);
  uint8_t *buf = malloc((size_t)st.st_size + 1);
  CHECK(buf != NULL);
  CHECK(pread(fd, buf, (size_t)st.st_size, 0) == st.st_size);
  close(fd);
  *len = (long)st.st_size;
  return buf;
}

static inline void lt_write_file(const char *path, const void *data,
                                 size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK(write(fd, data, len) == (ssize_t)len);
  close(fd);
}

static inline long lt_file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* 1 if both files exist and have the same bytes. */
static inline int lt_same_file(const char *a, const char *b) {
  long la, lb;
  uint8_t *pa = lt_read_file(a, &la), *pb = lt_read_file(b, &lb);
  int same = la >= 0 && la == lb && memcmp(pa, pb, (size_t)la) == 0;
  free(pa);
  free(pb);
  return same;
}

/* Copies the regular files of src into dst (created if needed). */
static inline void lt_copy_dir(const char *src, const char *dst) {
  mkdir(dst, 0755);
  DIR *d = opendir(src);
  CHECK(d != NULL);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || e->d_name[1] == '.'))
      continue;
    char from[512], to[512];
    CHECK(snprintf(from, sizeof from, "%s/%s", src, e->d_name) < 512);
    CHECK(snprintf(to, sizeof to, "%s/%s", dst, e->d_name) < 512);
    long len;
    uint8_t *buf = lt_read_file(from, &len);
    CHECK(buf != NULL);
    lt_write_file(to, buf, (size_t)len);
    free(buf);
  }
  closedir(d);
}

/* Number of entries of dir whose name ends with suffix. */
static inline int lt_count_files(const char *dir, const char *suffix) {
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  struct dirent *e;
  int n = 0;
  size_t sl = strlen(suffix);
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0) n++;
  }
  closedir(d);
  return n;
}

/* Removes the regular files of dir and dir itself. */
static inline void lt_remove_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || e->d_name[1] == '.'))
      continue;
    char path[512];
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < 512)
      unlink(path);
  }
  closedir(d);
  rmdir(dir);
}

/* A config with everything time-based off and the given sizes. */
static inline flyq_log_config_t lt_config(uint64_t segment_bytes,
                                          uint32_t interval) {
  flyq_log_config_t cfg;
  flyq_log_config_default(&cfg);
  cfg.segment_bytes = segment_bytes;
  cfg.segment_ms = -1;
  cfg.index_interval_bytes = interval;
  cfg.retention_ms = -1;
  cfg.retention_bytes = -1;
  return cfg;
}

#endif /* FLYQ_SPEC_LOGTEST_H */
