/* Partition log: append, index lookups, rolls, reads across segments,
 * offset_for_time, reopen, failed writes, append_many and flushing. */
#include <errno.h>

#include "codec/endian.h"
#include "logtest.h"
#include "storage/segment.h"

/* What the tests remember about each appended batch. */
typedef struct batch_info {
  int64_t base, last, max_ts;
  uint64_t pos; /* in its segment */
  size_t size;
} batch_info_t;

static flyq_log_t *open_log(const char *dir, const flyq_log_config_t *cfg,
                            flyq_log_recovery_t *rec) {
  flyq_log_t *log = NULL;
  CHECK_OK(flyq_log_open(dir, cfg, &log, rec));
  return log;
}

TEST(empty_log) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_recovery_t rec;
  flyq_log_t *log = open_log(dir, NULL, &rec);
  char path[512];
  CHECK(lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "log")) == 0);
  CHECK(lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "index")) == 0);
  CHECK(lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "timeindex")) == 0);
  CHECK_EQ(rec.clean, 0);
  CHECK_EQ(flyq_log_start_offset(log), 0);
  CHECK_EQ(flyq_log_end_offset(log), 0);
  CHECK_EQ(flyq_log_flushed_offset(log), 0);
  flyq_slice_t s;
  CHECK_OK(flyq_log_read(log, 0, 1000, &s));
  CHECK_EQ(s.len, 0);
  CHECK(s.seg == NULL);
  CHECK_EQ(flyq_log_read(log, 1, 1000, &s), FLYQ_ERR_OFFSET_OUT_OF_RANGE);
  CHECK_EQ(flyq_log_read(log, -1, 1000, &s), FLYQ_ERR_OFFSET_OUT_OF_RANGE);
  int64_t off = -5;
  CHECK_OK(flyq_log_offset_for_time(log, 0, &off));
  CHECK_EQ(off, 0);
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  CHECK_EQ(st.segment_count, 1);
  CHECK_EQ(st.bytes, 0);
  CHECK_EQ(st.last_append_ms, -1);
  CHECK_OK(flyq_log_close(log));
  CHECK(lt_file_size(strcat(strcpy(path, dir), "/.clean")) == 0);
}

TEST(append_and_read) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(1 << 20, 4096);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  size_t total = 0;
  for (int i = 0; i < 10; i++) total += lt_append(log, 1 + i % 4, 1000 + i, 5);
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  CHECK_EQ(st.bytes, total);
  CHECK_EQ(st.last_append_ms, 5);
  CHECK_EQ(st.end_offset, 23); /* 1+2+3+4+1+2+3+4+1+2 records */
  char path[512];
  CHECK_EQ(lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "log")), total);
  CHECK_EQ(lt_read_all(log, 0, 1), 23);
  CHECK_EQ(lt_read_all(log, 7, 100000), 16);
  CHECK_EQ(lt_read_all(log, 22, 0), 1);
  flyq_slice_t s;
  CHECK_EQ(flyq_log_read(log, 24, 10, &s), FLYQ_ERR_OFFSET_OUT_OF_RANGE);
  CHECK_OK(flyq_log_read(log, 23, 10, &s));
  CHECK_EQ(s.len, 0);
  CHECK_OK(flyq_log_close(log));
}

/* Appends batches of 1..7 records with varying timestamps into one
 * segment, remembering where each went. */
static int append_varied(flyq_log_t *log, batch_info_t *bi, int n) {
  uint64_t pos = 0;
  for (int i = 0; i < n; i++) {
    int count = 1 + (i * 5) % 7;
    int64_t ts = 1000 + ((i * 37) % 11) * 100;
    bi[i].base = flyq_log_end_offset(log);
    bi[i].size = lt_append(log, count, ts, 0);
    bi[i].last = bi[i].base + count - 1;
    bi[i].max_ts = ts + count - 1;
    bi[i].pos = pos;
    pos += bi[i].size;
  }
  return n;
}

/* The entries the format rule gives for these batches. */
static size_t expected_index(const batch_info_t *bi, int n, uint32_t interval,
                             uint8_t *idx, uint8_t *tidx, size_t *ntime) {
  size_t noff = 0;
  int64_t max = INT64_MIN, last_t = INT64_MIN;
  uint64_t last_pos = 0;
  *ntime = 0;
  for (int i = 0; i < n; i++) {
    if (bi[i].max_ts > max) max = bi[i].max_ts;
    if (noff > 0 && bi[i].pos - last_pos < interval) continue;
    flyq__be32_put(idx + noff * 8, (uint32_t)bi[i].base);
    flyq__be32_put(idx + noff * 8 + 4, (uint32_t)bi[i].pos);
    noff++;
    last_pos = bi[i].pos;
    if (*ntime > 0 && max <= last_t) continue;
    flyq__be64_put(tidx + *ntime * 12, (uint64_t)max);
    flyq__be32_put(tidx + *ntime * 12 + 8, (uint32_t)bi[i].base);
    (*ntime)++;
    last_t = max;
  }
  return noff;
}

static void check_index_files(const char *dir, const batch_info_t *bi, int n,
                              uint32_t interval) {
  static uint8_t idx[64 * 8], tidx[64 * 12];
  size_t ntime, noff = expected_index(bi, n, interval, idx, tidx, &ntime);
  char path[512];
  long len;
  uint8_t *got =
      lt_read_file(lt_seg_path(path, sizeof path, dir, 0, "index"), &len);
  CHECK_EQ(len, (long)noff * 8);
  CHECK_MEM(got, idx, noff * 8);
  free(got);
  got = lt_read_file(lt_seg_path(path, sizeof path, dir, 0, "timeindex"), &len);
  CHECK_EQ(len, (long)ntime * 12);
  CHECK_MEM(got, tidx, ntime * 12);
  free(got);
  if (interval <= 1) CHECK_EQ(noff, (size_t)n);
  if (interval >= 1u << 20) CHECK_EQ(noff, 1);
  if (interval == bi[0].size) CHECK(noff > 1 && bi[1].pos == interval);
}

/* Every offset, read one batch at a time, lands on the batch holding it. */
static void check_lookups(uint32_t interval) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(1 << 20, interval);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  batch_info_t bi[40];
  int n = append_varied(log, bi, 40);
  check_index_files(dir, bi, n, interval);
  for (int i = 0; i < n; i++) {
    for (int64_t off = bi[i].base; off <= bi[i].last; off++) {
      flyq_slice_t s;
      CHECK_OK(flyq_log_read(log, off, 1, &s));
      CHECK_EQ(s.base_offset, bi[i].base);
      CHECK_EQ(s.pos, bi[i].pos);
      CHECK_EQ(s.len, bi[i].size);
      flyq_slice_release(&s);
      /* With room for exactly two batches, exactly two come back. */
      if (i + 1 < n) {
        CHECK_OK(flyq_log_read(log, off,
                               (uint32_t)(bi[i].size + bi[i + 1].size), &s));
        CHECK_EQ(s.len, bi[i].size + bi[i + 1].size);
        flyq_slice_release(&s);
      }
    }
  }
  CHECK_EQ(lt_read_all(log, 0, 1), bi[n - 1].last + 1);
  CHECK_OK(flyq_log_close(log));
}

TEST(index_lookups_interval_1) { check_lookups(1); }
TEST(index_lookups_interval_300) { check_lookups(300); }
TEST(index_lookups_interval_large) { check_lookups(1u << 20); }

/* The second batch starts exactly index_interval_bytes after the first, so
 * it gets an entry ("at least interval bytes"). */
TEST(index_lookups_interval_exact) {
  uint8_t *b;
  size_t len;
  lt_build(0, 1, 1000, &b, &len); /* append_varied's first batch */
  free(b);
  check_lookups((uint32_t)len);
}

TEST(roll_by_size_and_cross_segment_reads) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(1000, 100);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  int64_t bases[64];
  int nsegs = 0;
  uint32_t last_count = 0;
  for (int i = 0; i < 60; i++) {
    int64_t before = flyq_log_end_offset(log);
    lt_append(log, 1 + i % 5, 2000 + i, 0);
    flyq_log_stats_t st;
    flyq_log_stats(log, &st);
    if (st.segment_count != last_count) bases[nsegs++] = before;
    last_count = st.segment_count;
  }
  CHECK(nsegs >= 5);
  for (int i = 0; i < nsegs; i++) {
    char path[512];
    long size =
        lt_file_size(lt_seg_path(path, sizeof path, dir, bases[i], "log"));
    CHECK(size > 0 && size <= 1000);
    if (i > 0) CHECK_EQ(flyq_log_flushed_offset(log) >= bases[i], 1);
  }
  int64_t end = flyq_log_end_offset(log);
  CHECK_EQ(lt_read_all(log, 0, 1), end);
  CHECK_EQ(lt_read_all(log, 0, 300), end);
  CHECK_EQ(lt_read_all(log, 3, 1u << 30), end - 3);
  /* A big read stops at its segment's end. */
  flyq_slice_t s;
  CHECK_OK(flyq_log_read(log, 0, 1u << 30, &s));
  char path[512];
  CHECK_EQ(s.len, lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "log")));
  flyq_slice_release(&s);
  CHECK_OK(flyq_log_read(log, bases[1], 1u << 30, &s));
  CHECK_EQ(s.base_offset, bases[1]);
  CHECK_EQ(s.pos, 0);
  flyq_slice_release(&s);
  CHECK_OK(flyq_log_close(log));
}

TEST(roll_by_age) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(1 << 20, 4096);
  cfg.segment_ms = 1000;
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  static const int64_t now[] = {10000, 10500, 10999, 11000, 11999, 12000};
  static const uint32_t segs[] = {1, 1, 1, 2, 2, 3};
  int64_t base_of_new[3] = {0, -1, -1};
  for (int i = 0; i < 6; i++) {
    int64_t before = flyq_log_end_offset(log);
    lt_append(log, 2, now[i], now[i]);
    flyq_log_stats_t st;
    flyq_log_stats(log, &st);
    CHECK_EQ(st.segment_count, segs[i]);
    if (i > 0 && segs[i] != segs[i - 1]) base_of_new[segs[i] - 1] = before;
  }
  char path[512];
  CHECK_EQ(base_of_new[1], 6);
  CHECK_EQ(base_of_new[2], 10);
  CHECK(lt_file_size(lt_seg_path(path, sizeof path, dir, 6, "log")) > 0);
  CHECK(lt_file_size(lt_seg_path(path, sizeof path, dir, 10, "log")) > 0);
  CHECK_EQ(lt_read_all(log, 0, 1), 12);
  CHECK_OK(flyq_log_close(log));
}

/* offset_for_time against a linear scan, across segments, with batch
 * timestamps out of order. */
static void check_time_lookups(uint32_t interval, uint64_t segment_bytes) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(segment_bytes, interval);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  batch_info_t bi[50];
  for (int i = 0; i < 50; i++) {
    int count = 1 + i % 3;
    int64_t ts = 5000 + i * 10 + ((i % 4 == 3) ? -300 : 0);
    bi[i].base = flyq_log_end_offset(log);
    lt_append(log, count, ts, 0);
    bi[i].max_ts = ts + count - 1;
  }
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  if (segment_bytes < 10000) CHECK(st.segment_count > 3);
  for (int64_t ts = 4600; ts <= 5600; ts++) {
    int64_t want = flyq_log_end_offset(log), got = -1;
    for (int i = 0; i < 50; i++)
      if (bi[i].max_ts >= ts) {
        want = bi[i].base;
        break;
      }
    CHECK_OK(flyq_log_offset_for_time(log, ts, &got));
    if (got != want)
      flyq_test_fail(__FILE__, __LINE__,
                     "ts %" PRId64 ": %" PRId64 " != %" PRId64, ts, got, want);
  }
  CHECK_OK(flyq_log_close(log));
}

TEST(offset_for_time_across_segments) { check_time_lookups(1, 700); }
TEST(offset_for_time_sparse_index) { check_time_lookups(500, 2000); }
TEST(offset_for_time_one_segment) { check_time_lookups(1u << 20, 1 << 20); }

static void reopen_keeps_everything(int clean) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(900, 200);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  for (int i = 0; i < 30; i++) lt_append(log, 1 + i % 4, 100 + i, 0);
  flyq_log_stats_t before, after;
  flyq_log_stats(log, &before);
  if (clean)
    CHECK_OK(flyq_log_close(log));
  else
    flyq_log_abandon(log);
  flyq_log_recovery_t rec;
  log = open_log(dir, &cfg, &rec);
  CHECK_EQ(rec.clean, clean);
  CHECK_EQ(rec.truncated_bytes, 0);
  CHECK_EQ(rec.indexes_rebuilt, clean ? 0 : 2);
  flyq_log_stats(log, &after);
  CHECK_EQ(after.start_offset, 0);
  CHECK_EQ(after.end_offset, before.end_offset);
  CHECK_EQ(after.flushed_offset, before.end_offset);
  CHECK_EQ(after.segment_count, before.segment_count);
  CHECK_EQ(after.bytes, before.bytes);
  CHECK_EQ(lt_read_all(log, 0, 1), before.end_offset);
  for (int i = 0; i < 10; i++) lt_append(log, 3, 500 + i, 0);
  CHECK_EQ(lt_read_all(log, 0, 400), before.end_offset + 30);
  int64_t off;
  CHECK_OK(flyq_log_offset_for_time(log, 500, &off));
  CHECK_EQ(off, before.end_offset);
  CHECK_OK(flyq_log_close(log));
  char path[512];
  CHECK(lt_file_size(strcat(strcpy(path, dir), "/.clean")) == 0);
  log = open_log(dir, &cfg, &rec);
  CHECK_EQ(rec.clean, 1);
  CHECK(lt_file_size(path) < 0); /* removed at open */
  CHECK_EQ(lt_read_all(log, 0, 1 << 20), before.end_offset + 30);
  flyq_log_abandon(log);
}

TEST(reopen_after_clean_close) { reopen_keeps_everything(1); }
TEST(reopen_after_abandon) { reopen_keeps_everything(0); }

/* Write hook: passes `pass` calls through, then writes half of the next
 * one and fails the one after with ENOSPC. */
static int hook_pass, hook_step;
static ssize_t failing_write(int fd, const void *buf, size_t n, off_t off) {
  if (hook_pass > 0) {
    hook_pass--;
    return pwrite(fd, buf, n, off);
  }
  if (hook_step++ == 0) return pwrite(fd, buf, n / 2, off);
  flyq__log_write_hook = NULL;
  errno = ENOSPC;
  return -1;
}

static void arm_hook(int pass) {
  hook_pass = pass;
  hook_step = 0;
  flyq__log_write_hook = failing_write;
}

TEST(failed_write_leaves_nothing) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(1 << 20, 1);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  for (int i = 0; i < 5; i++) lt_append(log, 3, i, 0);
  char path[512], ipath[512];
  lt_seg_path(path, sizeof path, dir, 0, "log");
  lt_seg_path(ipath, sizeof ipath, dir, 0, "index");
  long size = lt_file_size(path), isize = lt_file_size(ipath);
  uint8_t *b;
  size_t len;
  lt_build(15, 4, 99, &b, &len);
  arm_hook(0);
  flyq_append_result_t res;
  CHECK_EQ(flyq_log_append(log, b, len, 0, &res), -ENOSPC);
  CHECK(flyq__log_write_hook == NULL);
  CHECK_EQ(hook_step, 2);
  CHECK_EQ(lt_file_size(path), size);
  CHECK_EQ(lt_file_size(ipath), isize);
  CHECK_EQ(flyq_log_end_offset(log), 15);
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  CHECK_EQ(st.bytes, size);
  CHECK_OK(flyq_log_append(log, b, len, 0, &res));
  CHECK_EQ(res.base_offset, 15);
  CHECK_EQ(res.last_offset, 18);
  free(b);
  CHECK_EQ(lt_read_all(log, 0, 1), 19);
  CHECK_OK(flyq_log_close(log));
  log = open_log(dir, &cfg, NULL);
  CHECK_EQ(lt_read_all(log, 0, 1), 19);
  CHECK_OK(flyq_log_close(log));
}

TEST(append_many) {
  const char *dir = flyq_test_tmpdir();
  size_t sizes[8], total;
  uint8_t *buf = lt_build_many(0, 8, 700, &total, sizes);
  flyq_log_config_t cfg = lt_config(sizes[0] * 3, 1);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  lt_append(log, 2, 1, 0);
  flyq_append_result_t res;
  /* A damaged third batch, or a cut last one: nothing at all is written. */
  buf[sizes[0] + sizes[1] + 70] ^= 1;
  CHECK(flyq_log_append_many(log, buf, total, 0, &res) < 0);
  buf[sizes[0] + sizes[1] + 70] ^= 1;
  CHECK(flyq_log_append_many(log, buf, total - 1, 0, &res) < 0);
  CHECK_EQ(flyq_log_end_offset(log), 2);
  CHECK_EQ(lt_count_files(dir, ".log"), 1);
  /* Offsets in the buffer were built from 0; the log assigns from 2. */
  CHECK_OK(flyq_log_append_many(log, buf, total, 0, &res));
  CHECK_EQ(res.base_offset, 2);
  CHECK_EQ(res.last_offset, 25);
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  CHECK(st.segment_count >= 3);
  int64_t base = 2;
  for (size_t pos = 0; pos < total;
       pos += (size_t)flyq_batch_size(buf + pos, total - pos)) {
    CHECK_EQ((int64_t)flyq__be64_get(buf + pos), base); /* assigned in place */
    base += 3;
  }
  free(buf);
  /* Records are checked against their real offsets: build again. */
  buf = lt_build_many(26, 8, 700, &total, NULL);
  CHECK_OK(flyq_log_append_many(log, buf, total, 0, &res));
  CHECK_EQ(res.base_offset, 26);
  free(buf);
  int64_t next = 2;
  uint8_t *got;
  size_t len;
  while (next < flyq_log_end_offset(log)) {
    CHECK_OK(flyq_log_read_copy(log, next, 1, &got, &len));
    flyq_batch_header_t h;
    CHECK_OK(flyq_batch_validate(got, len, &h));
    CHECK_EQ(h.base_offset, next);
    next += h.record_count;
    free(got);
  }
  CHECK_EQ(next, 50);
  CHECK_EQ(lt_read_all(log, 26, 1), 24);
  CHECK_OK(flyq_log_close(log));
}

TEST(append_many_all_or_none) {
  const char *dir = flyq_test_tmpdir();
  size_t sizes[6], total;
  uint8_t *buf = lt_build_many(0, 6, 700, &total, sizes);
  /* The active segment takes two batches, then a roll is needed. */
  flyq_log_config_t cfg = lt_config(sizes[0] * 2 + 10, 1);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  flyq_log_stats_t before, after;
  flyq_log_stats(log, &before);
  char path[512], ipath[512];
  lt_seg_path(path, sizeof path, dir, 0, "log");
  lt_seg_path(ipath, sizeof ipath, dir, 0, "index");
  arm_hook(1); /* the first group lands, the second fails */
  flyq_append_result_t res;
  CHECK_EQ(flyq_log_append_many(log, buf, total, 0, &res), -ENOSPC);
  flyq_log_stats(log, &after);
  CHECK_EQ(after.end_offset, 0);
  CHECK_EQ(after.segment_count, 1);
  CHECK_EQ(after.bytes, 0);
  CHECK_EQ(after.flushed_offset, 0);
  CHECK_EQ(lt_file_size(path), 0);
  CHECK_EQ(lt_file_size(ipath), 0);
  CHECK_EQ(lt_count_files(dir, ".log"), 1);
  CHECK_OK(flyq_log_append_many(log, buf, total, 0, &res));
  CHECK_EQ(res.base_offset, 0);
  CHECK_EQ(res.last_offset, 17);
  free(buf);
  flyq_log_stats(log, &after);
  CHECK(after.segment_count >= 3);
  CHECK_EQ(lt_count_files(dir, ".log"), after.segment_count);
  CHECK_EQ(lt_read_all(log, 0, 1), 18);
  CHECK_OK(flyq_log_close(log));
  log = open_log(dir, &cfg, NULL);
  CHECK_EQ(lt_read_all(log, 0, 1), 18);
  CHECK_OK(flyq_log_close(log));
}

TEST(rejects_bad_batches) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_t *log = open_log(dir, NULL, NULL);
  uint8_t *b;
  size_t len;
  lt_build(0, 3, 1, &b, &len);
  b[len - 2] ^= 0x40;
  CHECK(flyq_log_append(log, b, len, 0, NULL) < 0);
  b[len - 2] ^= 0x40;
  CHECK(flyq_log_append(log, b, len - 1, 0, NULL) < 0);
  CHECK(flyq_log_append_many(log, b, 0, 0, NULL) < 0);
  CHECK_EQ(flyq_log_end_offset(log), 0);
  char path[512];
  CHECK_EQ(lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "log")), 0);
  CHECK_OK(flyq_log_append(log, b, len, 0, NULL));
  CHECK_EQ(flyq_log_end_offset(log), 3);
  free(b);
  CHECK_OK(flyq_log_close(log));
}

TEST(read_copy_detects_damage) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(1 << 20, 1);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  size_t first = lt_append(log, 3, 1, 0);
  lt_append(log, 3, 2, 0);
  char path[512];
  int fd = open(lt_seg_path(path, sizeof path, dir, 0, "log"), O_RDWR);
  CHECK(fd >= 0);
  uint8_t byte;
  CHECK(pread(fd, &byte, 1, (off_t)first + 80) == 1);
  byte ^= 0x10;
  CHECK(pwrite(fd, &byte, 1, (off_t)first + 80) == 1);
  close(fd);
  uint8_t *buf = (uint8_t *)1;
  size_t len = 7;
  CHECK_OK(flyq_log_read_copy(log, 0, 1, &buf, &len)); /* first batch intact */
  CHECK_EQ(len, first);
  free(buf);
  CHECK_EQ(flyq_log_read_copy(log, 3, 1, &buf, &len), FLYQ_ERR_CORRUPT);
  CHECK(buf == NULL);
  CHECK_EQ(flyq_log_read_copy(log, 0, 1 << 20, &buf, &len), FLYQ_ERR_CORRUPT);
  CHECK_EQ(flyq_log_read_copy(log, 7, 1, &buf, &len),
           FLYQ_ERR_OFFSET_OUT_OF_RANGE);
  CHECK_OK(flyq_log_read_copy(log, 6, 1, &buf, &len));
  CHECK(buf == NULL);
  CHECK_EQ(len, 0);
  flyq_log_abandon(log);
}

TEST(flush_split_covers_only_what_begin_saw) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_t *log = open_log(dir, NULL, NULL);
  lt_append(log, 5, 1, 0);
  CHECK_EQ(flyq_log_flushed_offset(log), 0);
  flyq_log_sync_t sync;
  CHECK_OK(flyq_log_sync_begin(log, &sync));
  CHECK_EQ(sync.end_offset, 5);
  CHECK_EQ(sync.nfds, 1);
  lt_append(log, 3, 2, 0);
  flyq_log_sync_run(&sync);
  CHECK_EQ(sync.result, 0);
  CHECK_OK(flyq_log_sync_end(log, &sync));
  CHECK_EQ(flyq_log_flushed_offset(log), 5);
  CHECK_EQ(flyq_log_end_offset(log), 8);
  CHECK_OK(flyq_log_flush(log));
  CHECK_EQ(flyq_log_flushed_offset(log), 8);
  CHECK_OK(flyq_log_sync_begin(log, &sync));
  CHECK_EQ(sync.nfds, 0);
  flyq_log_sync_run(&sync);
  CHECK_OK(flyq_log_sync_end(log, &sync));
  CHECK_EQ(flyq_log_flushed_offset(log), 8);
  CHECK_OK(flyq_log_close(log));
}

TEST(flush_policy) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(1 << 20, 4096);
  cfg.flush_messages = 10;
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  uint8_t *b;
  size_t len;
  flyq_append_result_t res;
  lt_build(0, 4, 1, &b, &len);
  CHECK_OK(flyq_log_append(log, b, len, 1000, &res));
  CHECK_EQ(res.flush_due, 0);
  CHECK_OK(flyq_log_append(log, b, len, 1000, &res));
  CHECK_EQ(res.flush_due, 0);
  CHECK_OK(flyq_log_append(log, b, len, 1000, &res));
  CHECK_EQ(res.flush_due, 1); /* 12 unflushed */
  CHECK_OK(flyq_log_flush(log));
  CHECK_OK(flyq_log_append(log, b, len, 1000, &res));
  CHECK_EQ(res.flush_due, 0);
  CHECK_EQ(flyq_log_flush_due(log, 1000000), 0); /* flush_ms is off */
  cfg.flush_messages = 0;
  cfg.flush_ms = 100;
  flyq_log_set_config(log, &cfg);
  CHECK_EQ(flyq_log_config(log)->flush_ms, 100);
  CHECK_EQ(flyq_log_flush_due(log, 1099), 0);
  CHECK_EQ(flyq_log_flush_due(log, 1100), 1);
  flyq_log_sync_t sync;
  CHECK_OK(flyq_log_sync_begin(log, &sync));
  CHECK_OK(flyq_log_append(log, b, len, 2000, &res));
  CHECK_EQ(res.flush_due, 1); /* the append at 1000 is still unflushed */
  flyq_log_sync_run(&sync);
  CHECK_OK(flyq_log_sync_end(log, &sync));
  /* Only the append at 2000 is left unflushed. */
  CHECK_EQ(flyq_log_flush_due(log, 2099), 0);
  CHECK_EQ(flyq_log_flush_due(log, 2100), 1);
  CHECK_OK(flyq_log_flush(log));
  CHECK_EQ(flyq_log_flush_due(log, 5000), 0);
  cfg.flush_ms = 0;
  flyq_log_set_config(log, &cfg);
  CHECK_OK(flyq_log_append(log, b, len, 3000, &res));
  CHECK_EQ(res.flush_due, 1);
  free(b);
  CHECK_OK(flyq_log_close(log));
}

TEST(slice_outlives_close) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_t *log = open_log(dir, NULL, NULL);
  size_t size = lt_append(log, 4, 1, 0);
  flyq_slice_t s;
  CHECK_OK(flyq_log_read(log, 2, 1 << 20, &s));
  CHECK_OK(flyq_log_close(log));
  uint8_t *buf = malloc(s.len);
  CHECK_EQ(s.len, size);
  CHECK_OK(flyq__pread_all(s.fd, buf, s.len, s.pos));
  int64_t next = 0;
  lt_check_batches(buf, s.len, &next);
  CHECK_EQ(next, 4);
  free(buf);
  flyq_slice_release(&s);
  CHECK(s.seg == NULL);
}

TEST_LIST(
    TEST_ENTRY(empty_log) TEST_ENTRY(append_and_read) TEST_ENTRY(
        index_lookups_interval_1) TEST_ENTRY(index_lookups_interval_300)
        TEST_ENTRY(index_lookups_interval_large)
            TEST_ENTRY(index_lookups_interval_exact) TEST_ENTRY(
                roll_by_size_and_cross_segment_reads) TEST_ENTRY(roll_by_age)
                TEST_ENTRY(offset_for_time_across_segments) TEST_ENTRY(
                    offset_for_time_sparse_index)
                    TEST_ENTRY(offset_for_time_one_segment) TEST_ENTRY(
                        reopen_after_clean_close)
                        TEST_ENTRY(reopen_after_abandon) TEST_ENTRY(
                            failed_write_leaves_nothing) TEST_ENTRY(append_many)
                            TEST_ENTRY(append_many_all_or_none) TEST_ENTRY(
                                rejects_bad_batches)
                                TEST_ENTRY(read_copy_detects_damage) TEST_ENTRY(
                                    flush_split_covers_only_what_begin_saw)
                                    TEST_ENTRY(flush_policy)
                                        TEST_ENTRY(slice_outlives_close));
