/* Partition log retention (by time and by size), start offset movement,
 * and slices that outlive deleted segments and destroyed logs. */
#include "logtest.h"
#include "storage/segment.h"

#define MAXSEG 64

/* What the tests know about each segment of the log they built. */
typedef struct segs {
  int n;
  int64_t base[MAXSEG];
  int64_t max_ts[MAXSEG];
  uint64_t size[MAXSEG];
} segs_t;

/* Appends n batches of 2 records; batch i's timestamps come from ts(i).
 * Records every segment's base, max timestamp and size. */
static void fill(flyq_log_t *log, int n, int64_t (*ts)(int), segs_t *sg) {
  sg->n = 0;
  for (int i = 0; i < n; i++) {
    flyq_log_stats_t before, after;
    flyq_log_stats(log, &before);
    size_t size = lt_append(log, 2, ts(i), 0);
    flyq_log_stats(log, &after);
    if (sg->n == 0 || after.segment_count != before.segment_count) {
      CHECK(sg->n < MAXSEG);
      sg->base[sg->n] = before.end_offset;
      sg->max_ts[sg->n] = INT64_MIN;
      sg->size[sg->n++] = 0;
    }
    int k = sg->n - 1;
    if (ts(i) + 1 > sg->max_ts[k]) sg->max_ts[k] = ts(i) + 1;
    sg->size[k] += size;
  }
}

/* Rising timestamps with a dip inside each stretch, so that a segment's
 * newest record is not always its last. */
static int64_t ts_wavy(int i) { return 1000 * i + (i % 3 == 1 ? 1500 : 0); }

static void check_segments_from(flyq_log_t *log, const char *dir,
                                const segs_t *sg, int first) {
  char path[512];
  for (int i = 0; i < sg->n; i++) {
    long size =
        lt_file_size(lt_seg_path(path, sizeof path, dir, sg->base[i], "log"));
    long isize =
        lt_file_size(lt_seg_path(path, sizeof path, dir, sg->base[i], "index"));
    if (i < first)
      CHECK(size < 0 && isize < 0);
    else
      CHECK_EQ(size, (long)sg->size[i]);
  }
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  CHECK_EQ(st.start_offset, sg->base[first]);
  CHECK_EQ(st.segment_count, sg->n - first);
  uint64_t bytes = 0;
  for (int i = first; i < sg->n; i++) bytes += sg->size[i];
  CHECK_EQ(st.bytes, bytes);
  flyq_slice_t s;
  if (sg->base[first] > 0)
    CHECK_EQ(flyq_log_read(log, sg->base[first] - 1, 100, &s),
             FLYQ_ERR_OFFSET_OUT_OF_RANGE);
  CHECK_EQ(lt_read_all(log, sg->base[first], 1),
           st.end_offset - sg->base[first]);
}

/* Number of leading segments whose newest timestamp is < limit, never the
 * last. */
static int expired_prefix(const segs_t *sg, int from, int64_t limit) {
  int k = from;
  while (k < sg->n - 1 && sg->max_ts[k] < limit) k++;
  return k;
}

static void retention_by_time(int reopen) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(700, 4096);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  segs_t sg;
  fill(log, 30, ts_wavy, &sg);
  CHECK(sg.n >= 5);
  if (reopen == 1) CHECK_OK(flyq_log_close(log));
  if (reopen == 2) flyq_log_abandon(log);
  if (reopen) CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  cfg.retention_ms = 5000;
  flyq_log_set_config(log, &cfg);
  int first = 0;
  for (int64_t now = 0; now <= 40000; now += 250) {
    int deleted = -1;
    CHECK_OK(flyq_log_apply_retention(log, now, &deleted));
    int want = expired_prefix(&sg, first, now - cfg.retention_ms);
    CHECK_EQ(deleted, want - first);
    first = want;
    check_segments_from(log, dir, &sg, first);
  }
  CHECK_EQ(first, sg.n - 1); /* everything but the active segment */
  int deleted = -1;
  CHECK_OK(flyq_log_apply_retention(log, INT64_MAX, &deleted));
  CHECK_EQ(deleted, 0);
  lt_append(log, 2, 5, 0);
  CHECK_OK(flyq_log_close(log));
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  CHECK_EQ(flyq_log_start_offset(log), sg.base[sg.n - 1]);
  flyq_log_abandon(log);
}

TEST(retention_by_time) { retention_by_time(0); }
TEST(retention_by_time_after_clean_reopen) { retention_by_time(1); }
TEST(retention_by_time_after_unclean_reopen) { retention_by_time(2); }

static int64_t ts_old_then_new(int i) { return i < 4 ? 100000 : 10; }

/* Time retention deletes oldest first and stops at the first segment that
 * is still young, even if later ones are older. */
TEST(retention_by_time_stops_at_young_segment) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(300, 4096);
  cfg.retention_ms = 1000;
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  segs_t sg;
  fill(log, 12, ts_old_then_new, &sg);
  CHECK(sg.n >= 4);
  CHECK_EQ(sg.max_ts[0], 100001);
  int deleted = -1;
  CHECK_OK(flyq_log_apply_retention(log, 50000, &deleted));
  CHECK_EQ(deleted, 0);
  check_segments_from(log, dir, &sg, 0);
  CHECK_OK(flyq_log_apply_retention(log, 200000, &deleted));
  CHECK_EQ(deleted, sg.n - 1);
  check_segments_from(log, dir, &sg, sg.n - 1);
  CHECK_OK(flyq_log_close(log));
}

static int64_t ts_const(int i) { return (int64_t)i; }

TEST(retention_by_size) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(500, 100);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  segs_t sg;
  fill(log, 40, ts_const, &sg);
  CHECK(sg.n >= 6);
  uint64_t total = 0;
  for (int i = 0; i < sg.n; i++) total += sg.size[i];
  /* Exactly at the limit is not over it. */
  cfg.retention_bytes = (int64_t)(total - sg.size[0] - sg.size[1]);
  flyq_log_set_config(log, &cfg);
  int deleted = -1;
  CHECK_OK(flyq_log_apply_retention(log, 0, &deleted));
  CHECK_EQ(deleted, 2);
  int first = 2;
  check_segments_from(log, dir, &sg, first);
  for (int64_t limit = (int64_t)total + 10; limit >= -1; limit -= 97) {
    cfg.retention_bytes = limit < 0 ? 0 : limit;
    flyq_log_set_config(log, &cfg);
    CHECK_OK(flyq_log_apply_retention(log, 0, &deleted));
    /* Oldest first, while the partition is larger than the limit. */
    int want = first;
    uint64_t bytes = 0;
    for (int i = first; i < sg.n; i++) bytes += sg.size[i];
    while (want < sg.n - 1 && bytes > (uint64_t)cfg.retention_bytes)
      bytes -= sg.size[want++];
    CHECK_EQ(deleted, want - first);
    first = want;
    check_segments_from(log, dir, &sg, first);
  }
  CHECK_EQ(first, sg.n - 1);
  CHECK_OK(flyq_log_close(log));
}

TEST(retention_off_deletes_nothing) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(300, 4096);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  segs_t sg;
  fill(log, 10, ts_const, &sg);
  int deleted = -1;
  CHECK_OK(flyq_log_apply_retention(log, INT64_MAX, &deleted));
  CHECK_EQ(deleted, 0);
  CHECK_OK(flyq_log_apply_retention(log, INT64_MIN, NULL));
  check_segments_from(log, dir, &sg, 0);
  CHECK_OK(flyq_log_close(log));
}

/* Reads a slice with pread and checks its records, starting at *next. */
static void check_slice(const flyq_slice_t *s, int64_t *next) {
  uint8_t *buf = malloc(s->len);
  CHECK(buf != NULL);
  CHECK_OK(flyq__pread_all(s->fd, buf, s->len, s->pos));
  lt_check_batches(buf, s->len, next);
  free(buf);
}

TEST(slice_survives_segment_deletion) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_config_t cfg = lt_config(400, 4096);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  segs_t sg;
  fill(log, 12, ts_const, &sg);
  CHECK(sg.n >= 3);
  flyq_slice_t s;
  CHECK_OK(flyq_log_read(log, 0, 1u << 20, &s));
  CHECK_EQ(s.len, sg.size[0]);
  cfg.retention_bytes = 0;
  flyq_log_set_config(log, &cfg);
  int deleted;
  CHECK_OK(flyq_log_apply_retention(log, 0, &deleted));
  CHECK_EQ(deleted, sg.n - 1);
  char path[512];
  CHECK(lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "log")) < 0);
  int64_t next = 0;
  check_slice(&s, &next);
  CHECK_EQ(next, sg.base[1]);
  flyq_slice_release(&s);
  CHECK_OK(flyq_log_close(log));
}

TEST(destroy_keeps_open_slices_readable) {
  char dir[300];
  snprintf(dir, sizeof dir, "%s/part", flyq_test_tmpdir());
  flyq_log_config_t cfg = lt_config(400, 4096);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(dir, &cfg, &log, NULL));
  segs_t sg;
  fill(log, 12, ts_const, &sg);
  flyq_slice_t first, last;
  CHECK_OK(flyq_log_read(log, 0, 1u << 20, &first));
  CHECK_OK(flyq_log_read(log, sg.base[sg.n - 1], 1u << 20, &last));
  CHECK_OK(flyq_log_destroy(log));
  struct stat st;
  CHECK(stat(dir, &st) < 0);
  int64_t next = 0;
  check_slice(&first, &next);
  CHECK_EQ(next, sg.base[1]);
  next = sg.base[sg.n - 1];
  check_slice(&last, &next);
  CHECK_EQ(next, 24);
  flyq_slice_release(&first);
  flyq_slice_release(&last);
}

TEST_LIST(
    TEST_ENTRY(retention_by_time)
        TEST_ENTRY(retention_by_time_after_clean_reopen)
            TEST_ENTRY(retention_by_time_after_unclean_reopen)
                TEST_ENTRY(retention_by_time_stops_at_young_segment)
                    TEST_ENTRY(retention_by_size)
                        TEST_ENTRY(retention_off_deletes_nothing)
                            TEST_ENTRY(slice_survives_segment_deletion)
                                TEST_ENTRY(destroy_keeps_open_slices_readable));
