/* Damage inside a closed segment, found on the read path: a batch whose
 * bytes (CRC-covered, or its base offset, which the CRC does not cover)
 * changed on disk after a clean close is never served: a read starting at
 * it fails with FLYQ_ERR_CORRUPT, a read running into it stops before it,
 * and every other batch stays readable (docs/storage.md, "Read"). */
#include "logtest.h"

#define NBATCH 12
#define DAMAGED 4 /* index of the damaged batch, in segment 0 */

/* Positions, sizes and base offsets of the batches of segment 0. */
typedef struct fixture {
  char dir[256];
  flyq_log_config_t cfg;
  uint64_t pos[NBATCH];
  size_t size[NBATCH];
  int64_t base[NBATCH];
  int nseg0; /* batches in segment 0 */
} fixture_t;

/* Two segments, every batch indexed, closed cleanly. */
static void make_fixture(fixture_t *fx) {
  snprintf(fx->dir, sizeof fx->dir, "%s/log", flyq_test_tmpdir());
  fx->cfg = lt_config(1500, 0);
  flyq_log_t *log;
  CHECK_OK(flyq_log_open(fx->dir, &fx->cfg, &log, NULL));
  uint64_t pos = 0;
  fx->nseg0 = 0;
  for (int i = 0; i < NBATCH; i++) {
    flyq_log_stats_t st;
    fx->base[i] = flyq_log_end_offset(log);
    fx->size[i] = lt_append(log, 3, 1000 + i, 0);
    flyq_log_stats(log, &st);
    if (st.segment_count == 1) fx->nseg0 = i + 1;
    fx->pos[i] = pos;
    pos += fx->size[i];
  }
  CHECK(fx->nseg0 > DAMAGED + 1 && fx->nseg0 < NBATCH);
  CHECK_OK(flyq_log_close(log));
}

/* Overwrites len bytes at pos of segment 0's .log. */
static void damage(const fixture_t *fx, uint64_t pos, const void *bytes,
                   size_t len) {
  char path[512];
  int fd = open(lt_seg_path(path, sizeof path, fx->dir, 0, "log"), O_WRONLY);
  CHECK(fd >= 0);
  CHECK(pwrite(fd, bytes, len, (off_t)pos) == (ssize_t)len);
  close(fd);
}

/* Reopens the damaged log (cleanly closed: the open checks no CRC) and
 * checks what reads give. */
static void check_reads(const fixture_t *fx) {
  flyq_log_t *log;
  flyq_log_recovery_t rec;
  flyq_slice_t s;
  CHECK_OK(flyq_log_open(fx->dir, &fx->cfg, &log, &rec));
  CHECK_EQ(rec.clean, 1);
  /* From 0: the slice stops before the damaged batch. */
  CHECK_OK(flyq_log_read(log, 0, 1u << 20, &s));
  CHECK_EQ(s.len, fx->pos[DAMAGED]);
  flyq_slice_release(&s);
  /* At it, and inside it: an error, twice (the damage is remembered). */
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(flyq_log_read(log, fx->base[DAMAGED], 1u << 20, &s),
             FLYQ_ERR_CORRUPT);
    CHECK_EQ(flyq_log_read(log, fx->base[DAMAGED] + 2, 1, &s),
             FLYQ_ERR_CORRUPT);
  }
  /* After it: readable, up to the end. */
  CHECK_EQ(lt_read_all(log, fx->base[DAMAGED + 1], 1u << 20),
           flyq_log_end_offset(log) - fx->base[DAMAGED + 1]);
  /* Before it, through read_copy too. */
  uint8_t *buf;
  size_t len;
  int64_t next = 0;
  CHECK_OK(flyq_log_read_copy(log, 0, 1u << 20, &buf, &len));
  lt_check_batches(buf, len, &next);
  CHECK_EQ(next, fx->base[DAMAGED]);
  free(buf);
  /* New appends are served as usual. */
  int64_t end = flyq_log_end_offset(log);
  lt_append(log, 2, 5000, 0);
  CHECK_EQ(lt_read_all(log, end, 1u << 20), 2);
  CHECK_OK(flyq_log_close(log));
}

TEST(flipped_record_byte) {
  fixture_t fx;
  make_fixture(&fx);
  uint8_t byte = 0x5a;
  damage(&fx, fx.pos[DAMAGED] + fx.size[DAMAGED] - 3, &byte, 1);
  check_reads(&fx);
}

TEST(zeroed_base_offset) {
  fixture_t fx;
  make_fixture(&fx);
  static const uint8_t zeros[8];
  damage(&fx, fx.pos[DAMAGED], zeros, sizeof zeros);
  check_reads(&fx);
}

TEST(zeroed_header) {
  fixture_t fx;
  make_fixture(&fx);
  static const uint8_t zeros[FLYQ_BATCH_HEADER_SIZE];
  damage(&fx, fx.pos[DAMAGED], zeros, sizeof zeros);
  check_reads(&fx);
}

TEST_LIST(TEST_ENTRY(flipped_record_byte) TEST_ENTRY(zeroed_base_offset)
              TEST_ENTRY(zeroed_header));
