/* Partition log recovery: truncation and corruption of the last batch at
 * every byte, damaged tails behind a clean marker, and damaged or missing
 * index files, on clean and unclean opens. */
#include "logtest.h"

#define NBATCH 8

/* A two-segment log whose last batch sits in the active segment, plus the
 * active segment's index files as they were before that batch (what a
 * rebuild must reproduce after losing it). */
typedef struct fixture {
  char src[256];
  flyq_log_config_t cfg;
  int64_t active_base; /* base offset of the active segment */
  int64_t last_base;   /* base offset of the last batch */
  uint64_t last_pos;   /* its position in the active segment */
  size_t last_size;
  uint8_t *index, *timeindex; /* snapshots before the last batch */
  long index_len, timeindex_len;
} fixture_t;

static void make_fixture(fixture_t *fx, int clean) {
  snprintf(fx->src, sizeof fx->src, "%s/src", flyq_test_tmpdir());
  fx->cfg = lt_config(520, 150);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(fx->src, &fx->cfg, &log, NULL));
  uint64_t pos = 0;
  for (int i = 0; i < NBATCH; i++) {
    flyq_log_stats_t before, after;
    flyq_log_stats(log, &before);
    fx->last_base = before.end_offset;
    if (i == NBATCH - 1) {
      char path[512];
      lt_seg_path(path, sizeof path, fx->src, fx->active_base, "index");
      fx->index = lt_read_file(path, &fx->index_len);
      lt_seg_path(path, sizeof path, fx->src, fx->active_base, "timeindex");
      fx->timeindex = lt_read_file(path, &fx->timeindex_len);
    }
    size_t size = lt_append(log, 2, 100 * i, 0);
    flyq_log_stats(log, &after);
    if (after.segment_count != before.segment_count) {
      fx->active_base = before.end_offset;
      pos = 0;
    }
    fx->last_pos = pos;
    fx->last_size = size;
    pos += size;
    /* The last batch must not have rolled: it shares a segment. */
    if (i == NBATCH - 1) CHECK_EQ(after.segment_count, before.segment_count);
  }
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  CHECK_EQ(st.segment_count, 2);
  CHECK(fx->last_pos > 0);
  CHECK(fx->index_len > 8); /* several entries before the last batch */
  if (clean)
    CHECK_OK(flyq_log_close(log));
  else
    flyq_log_abandon(log);
}

static void free_fixture(fixture_t *fx) {
  free(fx->index);
  free(fx->timeindex);
}

/* Opens a copy of the fixture after damage, and checks that exactly the
 * batches before the last one survive, with indexes as a rebuild gives. */
static void check_lost_last(const fixture_t *fx, const char *dir,
                            uint64_t truncated, int clean) {
  flyq_log_t *log;
  flyq_log_recovery_t rec;
  CHECK_OK(flyq_log_open(dir, &fx->cfg, &log, &rec));
  CHECK_EQ(rec.clean, clean);
  CHECK_EQ(rec.truncated_bytes, truncated);
  CHECK(rec.indexes_rebuilt >= 2);
  CHECK_EQ(flyq_log_end_offset(log), fx->last_base);
  CHECK_EQ(flyq_log_flushed_offset(log), fx->last_base);
  char path[512], orig[512];
  lt_seg_path(path, sizeof path, dir, fx->active_base, "log");
  CHECK_EQ(lt_file_size(path), fx->last_pos);
  lt_seg_path(path, sizeof path, dir, fx->active_base, "index");
  long len;
  uint8_t *got = lt_read_file(path, &len);
  CHECK_EQ(len, fx->index_len);
  CHECK_MEM(got, fx->index, (size_t)len);
  free(got);
  lt_seg_path(path, sizeof path, dir, fx->active_base, "timeindex");
  got = lt_read_file(path, &len);
  CHECK_EQ(len, fx->timeindex_len);
  CHECK_MEM(got, fx->timeindex, (size_t)len);
  free(got);
  /* The closed segment is untouched. */
  CHECK(lt_same_file(lt_seg_path(path, sizeof path, dir, 0, "index"),
                     lt_seg_path(orig, sizeof orig, fx->src, 0, "index")));
  CHECK_EQ(lt_read_all(log, 0, 1), fx->last_base);
  lt_append(log, 2, 42, 0); /* gets last_base */
  CHECK_EQ(lt_read_all(log, 0, 200), fx->last_base + 2);
  flyq_log_abandon(log);
}

static void damage_copy(const fixture_t *fx, const char *dst, long cut_at,
                        long flip_at) {
  lt_remove_dir(dst);
  lt_copy_dir(fx->src, dst);
  char path[512];
  lt_seg_path(path, sizeof path, dst, fx->active_base, "log");
  if (cut_at >= 0) CHECK(truncate(path, cut_at) == 0);
  if (flip_at >= 0) {
    int fd = open(path, O_RDWR);
    uint8_t b;
    CHECK(fd >= 0 && pread(fd, &b, 1, flip_at) == 1);
    b ^= 0x5a;
    CHECK(pwrite(fd, &b, 1, flip_at) == 1);
    close(fd);
  }
}

TEST(truncate_last_batch_at_every_byte) {
  fixture_t fx;
  make_fixture(&fx, 0);
  char dst[300];
  snprintf(dst, sizeof dst, "%s/copy", flyq_test_tmpdir());
  for (size_t i = 0; i < fx.last_size; i++) {
    damage_copy(&fx, dst, (long)(fx.last_pos + i), -1);
    check_lost_last(&fx, dst, i, 0);
  }
  lt_remove_dir(dst);
  free_fixture(&fx);
}

/* Flipping any byte of the last batch loses exactly that batch, except
 * the partition leader epoch (bytes 12..15), which no check covers (it is
 * outside the CRC, as in Kafka) and which changes nothing we rely on. The
 * base offset (bytes 0..7, also outside the CRC) is caught by the offset
 * sequence check. */
TEST(flip_each_byte_of_last_batch) {
  fixture_t fx;
  make_fixture(&fx, 0);
  char dst[300];
  snprintf(dst, sizeof dst, "%s/copy", flyq_test_tmpdir());
  for (size_t i = 0; i < fx.last_size; i++) {
    damage_copy(&fx, dst, -1, (long)(fx.last_pos + i));
    if (i < 12 || i > 15) {
      check_lost_last(&fx, dst, fx.last_size, 0);
      continue;
    }
    flyq_log_t *log;
    flyq_log_recovery_t rec;
    CHECK_OK(flyq_log_open(dst, &fx.cfg, &log, &rec));
    CHECK_EQ(rec.truncated_bytes, 0);
    CHECK_EQ(lt_read_all(log, 0, 1), fx.last_base + 2);
    flyq_log_abandon(log);
  }
  lt_remove_dir(dst);
  free_fixture(&fx);
}

/* A clean marker does not hide a damaged tail: the walk from the last
 * index entry finds it. */
TEST(clean_marker_with_cut_tail) {
  fixture_t fx;
  make_fixture(&fx, 1);
  char dst[300];
  snprintf(dst, sizeof dst, "%s/copy", flyq_test_tmpdir());
  size_t cuts[] = {1, 12, 60, 61, fx.last_size - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    damage_copy(&fx, dst, (long)(fx.last_pos + cuts[i]), -1);
    check_lost_last(&fx, dst, cuts[i], 1);
  }
  lt_remove_dir(dst);
  free_fixture(&fx);
}

/* A log of four segments (the last holding one batch); bases receives
 * their base offsets. */
static flyq_log_t *four_segments(const char *dir, flyq_log_config_t *cfg,
                                 int64_t *bases) {
  *cfg = lt_config(600, 120);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(dir, cfg, &log, NULL));
  int n = 0;
  for (int i = 0; n < 4; i++) {
    flyq_log_stats_t before, after;
    flyq_log_stats(log, &before);
    lt_append(log, 3, 10 * i, 0);
    flyq_log_stats(log, &after);
    if (i == 0 || after.segment_count != before.segment_count)
      bases[n++] = before.end_offset;
  }
  return log;
}

static void damage_indexes(const char *dir, const int64_t *bases) {
  char path[512];
  static const uint8_t garbage[16] = {
      0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0, 0, 0, 1, 0, 0, 0, 2};
  lt_write_file(lt_seg_path(path, sizeof path, dir, bases[0], "index"), garbage,
                sizeof garbage);
  long len =
      lt_file_size(lt_seg_path(path, sizeof path, dir, bases[1], "timeindex"));
  CHECK(len >= 12);
  CHECK(truncate(path, len - 5) == 0);
  /* Swap two offset entries of the third: right size, wrong order. */
  uint8_t *idx = lt_read_file(
      lt_seg_path(path, sizeof path, dir, bases[2], "index"), &len);
  CHECK(len >= 16);
  uint8_t tmp[8];
  memcpy(tmp, idx, 8);
  memcpy(idx, idx + 8, 8);
  memcpy(idx + 8, tmp, 8);
  lt_write_file(path, idx, (size_t)len);
  free(idx);
  CHECK(unlink(lt_seg_path(path, sizeof path, dir, bases[3], "timeindex")) ==
        0);
  /* An orphan index without its .log is removed. */
  lt_write_file(lt_seg_path(path, sizeof path, dir, 999999, "index"), garbage,
                8);
}

static void rebuilt_indexes(int clean) {
  const char *dir = flyq_test_tmpdir();
  char saved[300];
  snprintf(saved, sizeof saved, "%s/saved", dir);
  char logdir[300];
  snprintf(logdir, sizeof logdir, "%s/log", dir);
  flyq_log_config_t cfg;
  int64_t bases[4];
  flyq_log_t *log = four_segments(logdir, &cfg, bases);
  int64_t end = flyq_log_end_offset(log);
  if (clean)
    CHECK_OK(flyq_log_close(log));
  else
    flyq_log_abandon(log);
  lt_copy_dir(logdir, saved);
  damage_indexes(logdir, bases);
  flyq_log_recovery_t rec;
  CHECK_OK(flyq_log_open(logdir, &cfg, &log, &rec));
  CHECK_EQ(rec.clean, clean);
  CHECK_EQ(rec.truncated_bytes, 0);
  CHECK_EQ(rec.indexes_rebuilt, 8); /* four segments, both files each */
  CHECK_EQ(flyq_log_end_offset(log), end);
  char a[512], b[512];
  for (int i = 0; i < 4; i++) {
    CHECK(lt_same_file(lt_seg_path(a, sizeof a, logdir, bases[i], "index"),
                       lt_seg_path(b, sizeof b, saved, bases[i], "index")));
    CHECK(lt_same_file(lt_seg_path(a, sizeof a, logdir, bases[i], "timeindex"),
                       lt_seg_path(b, sizeof b, saved, bases[i], "timeindex")));
  }
  CHECK(lt_file_size(lt_seg_path(a, sizeof a, logdir, 999999, "index")) < 0);
  CHECK_EQ(lt_read_all(log, 0, 1), end);
  int64_t off;
  CHECK_OK(flyq_log_offset_for_time(log, 10 * 5, &off));
  CHECK_EQ(off, 15);
  CHECK_OK(flyq_log_close(log));
  lt_remove_dir(saved);
  lt_remove_dir(logdir);
}

TEST(damaged_indexes_rebuilt_on_clean_open) { rebuilt_indexes(1); }
TEST(damaged_indexes_rebuilt_on_unclean_open) { rebuilt_indexes(0); }

/* On an unclean open, intact closed segments keep their index files. */
TEST(unclean_open_rebuilds_only_active_indexes) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg;
  int64_t bases[4];
  flyq_log_t *log = four_segments(dir, &cfg, bases);
  int64_t end = flyq_log_end_offset(log);
  flyq_log_abandon(log);
  flyq_log_recovery_t rec;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, &rec));
  CHECK_EQ(rec.clean, 0);
  CHECK_EQ(rec.indexes_rebuilt, 2);
  CHECK(rec.valid_batches > 0);
  CHECK_EQ(flyq_log_end_offset(log), end);
  CHECK_EQ(lt_read_all(log, 0, 1), end);
  CHECK_OK(flyq_log_close(log));
}

/* Garbage after the last batch of an active segment that was never
 * written by us (e.g. zeros from a crash) is cut. */
TEST(zero_tail_is_cut) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(1 << 20, 4096);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  size_t size = lt_append(log, 3, 1, 0);
  flyq_log_abandon(log);
  char path[512];
  CHECK(truncate(lt_seg_path(path, sizeof path, dir, 0, "log"),
                 (off_t)size + 4096) == 0);
  flyq_log_recovery_t rec;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, &rec));
  CHECK_EQ(rec.truncated_bytes, 4096);
  CHECK_EQ(rec.valid_batches, 1);
  CHECK_EQ(lt_file_size(path), size);
  CHECK_EQ(lt_read_all(log, 0, 1), 3);
  CHECK_OK(flyq_log_close(log));
}

TEST_LIST(TEST_ENTRY(truncate_last_batch_at_every_byte) TEST_ENTRY(
    flip_each_byte_of_last_batch) TEST_ENTRY(clean_marker_with_cut_tail)
              TEST_ENTRY(damaged_indexes_rebuilt_on_clean_open)
                  TEST_ENTRY(damaged_indexes_rebuilt_on_unclean_open)
                      TEST_ENTRY(unclean_open_rebuilds_only_active_indexes)
                          TEST_ENTRY(zero_tail_is_cut));
