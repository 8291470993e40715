/* flyq_log_append_validated: batches the caller vouches for are stored
 * without a CRC or record check (a lie is stored as it is, as log.h says),
 * while what costs nothing to check (sizes, fixed headers) is still
 * refused, all or none. */
#include "codec/endian.h"
#include "logtest.h"

static flyq_log_t *open_log(const char *dir, const flyq_log_config_t *cfg,
                            flyq_log_recovery_t *rec) {
  flyq_log_t *log = NULL;
  CHECK_OK(flyq_log_open(dir, cfg, &log, rec));
  return log;
}

/* Nothing of the log's data was written. */
static void check_empty(flyq_log_t *log, const char *dir) {
  char path[512];
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  CHECK_EQ(st.end_offset, 0);
  CHECK_EQ(st.bytes, 0);
  CHECK_EQ(lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "log")), 0);
}

TEST(appends_and_reads_back_across_rolls) {
  const char *dir = flyq_test_tmpdir();
  size_t sizes[6], total;
  uint8_t *buf = lt_build_many(2, 6, 100, &total, sizes);
  flyq_log_config_t cfg = lt_config(sizes[0] * 2 + 10, 1);
  flyq_log_t *log = open_log(dir, &cfg, NULL);
  lt_append(log, 2, 1, 0);
  flyq_append_result_t res;
  CHECK_OK(flyq_log_append_validated(log, buf, total, 5, &res));
  CHECK_EQ(res.base_offset, 2);
  CHECK_EQ(res.last_offset, 19);
  CHECK_EQ((int64_t)flyq__be64_get(buf + sizes[0]), 5); /* assigned in place */
  flyq_log_stats_t st;
  flyq_log_stats(log, &st);
  CHECK(st.segment_count >= 3);
  CHECK_EQ(st.last_append_ms, 5);
  CHECK_EQ(lt_read_all(log, 0, 1), 20);
  free(buf);
  CHECK_OK(flyq_log_close(log));
  log = open_log(dir, &cfg, NULL);
  CHECK_EQ(lt_read_all(log, 0, 1), 20);
  CHECK_OK(flyq_log_close(log));
}

/* The stored bytes of the batch at offset, through a slice (no CRC check
 * for bytes appended since the open). */
static void check_stored(flyq_log_t *log, int64_t offset, const uint8_t *want,
                         size_t len) {
  flyq_slice_t s;
  CHECK_OK(flyq_log_read(log, offset, 1, &s));
  CHECK_EQ(s.len, len);
  uint8_t *got = malloc(len);
  CHECK(got != NULL);
  CHECK(pread(s.fd, got, len, (off_t)s.pos) == (ssize_t)len);
  CHECK_MEM(got, want, len);
  free(got);
  flyq_slice_release(&s);
}

TEST(stores_a_wrong_crc_as_it_is) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_t *log = open_log(dir, NULL, NULL);
  uint8_t *b;
  size_t len;
  lt_build(0, 3, 1, &b, &len);
  b[FLYQ_BATCH_CRC_START - 1] ^= 0x01; /* last byte of the CRC field */
  CHECK_EQ(flyq_log_append(log, b, len, 0, NULL), FLYQ_ERR_CORRUPT);
  CHECK_EQ(flyq_log_append_many(log, b, len, 0, NULL), FLYQ_ERR_CORRUPT);
  check_empty(log, dir);
  flyq_append_result_t res;
  CHECK_OK(flyq_log_append_validated(log, b, len, 0, &res));
  CHECK_EQ(res.base_offset, 0);
  CHECK_EQ(res.last_offset, 2);
  check_stored(log, 0, b, len);
  uint8_t *copy = (uint8_t *)1;
  size_t clen = 7;
  CHECK_EQ(flyq_log_read_copy(log, 0, 1, &copy, &clen), FLYQ_ERR_CORRUPT);
  CHECK(copy == NULL);
  free(b);
  flyq_log_abandon(log);
}

TEST(does_not_decode_records) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_t *log = open_log(dir, NULL, NULL);
  size_t good = lt_append(log, 3, 1, 0);
  uint8_t *b;
  size_t len;
  lt_build(3, 3, 1, &b, &len);
  b[FLYQ_BATCH_HEADER_SIZE] = 0x01; /* first record's length: -1 */
  CHECK_EQ(flyq_batch_validate(b, len, NULL), FLYQ_ERR_CORRUPT);
  CHECK_EQ(flyq_log_append_many(log, b, len, 0, NULL), FLYQ_ERR_CORRUPT);
  CHECK_EQ(flyq_log_end_offset(log), 3);
  flyq_append_result_t res;
  CHECK_OK(flyq_log_append_validated(log, b, len, 0, &res));
  CHECK_EQ(res.base_offset, 3);
  CHECK_EQ(flyq_log_end_offset(log), 6);
  check_stored(log, 3, b, len);
  free(b);
  /* An unclean reopen checks the bytes like any on disk: cut there. */
  flyq_log_abandon(log);
  flyq_log_recovery_t rec;
  log = open_log(dir, NULL, &rec);
  CHECK_EQ(rec.clean, 0);
  CHECK_EQ(rec.truncated_bytes, len);
  CHECK_EQ(flyq_log_end_offset(log), 3);
  CHECK_EQ(lt_read_all(log, 0, 1 << 20), 3);
  char path[512];
  CHECK_EQ(lt_file_size(lt_seg_path(path, sizeof path, dir, 0, "log")),
           (long)good);
  CHECK_OK(flyq_log_close(log));
}

/* buf with the 4-byte field at `at` set to v must be refused with want, and
 * nothing written. */
static void refused_with(flyq_log_t *log, const char *dir, const uint8_t *buf,
                         size_t len, size_t at, uint32_t v, int want) {
  uint8_t *copy = malloc(len);
  CHECK(copy != NULL);
  memcpy(copy, buf, len);
  flyq__be32_put(copy + at, v);
  int r = flyq_log_append_validated(log, copy, len, 0, NULL);
  free(copy);
  CHECK_EQ(r, want);
  check_empty(log, dir);
}

TEST(refuses_what_costs_nothing_to_check) {
  const char *dir = flyq_test_tmpdir();
  flyq_log_t *log = open_log(dir, NULL, NULL);
  size_t sizes[2], total;
  uint8_t *buf = lt_build_many(0, 2, 100, &total, sizes);
  size_t second = sizes[0];
  uint32_t blen = (uint32_t)(sizes[1] - FLYQ_BATCH_LOG_OVERHEAD);
  CHECK_EQ(flyq_log_append_validated(log, buf, 0, 0, NULL),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_log_append_validated(log, buf, total - 1, 0, NULL),
           FLYQ_ERR_TRUNCATED);
  check_empty(log, dir);
  uint8_t *longer = calloc(1, total + 5); /* 5 stray bytes after the run */
  CHECK(longer != NULL);
  memcpy(longer, buf, total);
  CHECK_EQ(flyq_log_append_validated(log, longer, total + 5, 0, NULL),
           FLYQ_ERR_TRUNCATED);
  free(longer);
  check_empty(log, dir);
  refused_with(log, dir, buf, total, second + 8, 10, FLYQ_ERR_CORRUPT);
  refused_with(log, dir, buf, total, second + 8, blen + 1, FLYQ_ERR_TRUNCATED);
  refused_with(log, dir, buf, total, second + 8, blen - 1, FLYQ_ERR_TRUNCATED);
  refused_with(log, dir, buf, total, second + 23, 5, FLYQ_ERR_CORRUPT);
  refused_with(log, dir, buf, total, second + 57, 0, FLYQ_ERR_CORRUPT);
  buf[second + 16] = 1; /* magic */
  CHECK_EQ(flyq_log_append_validated(log, buf, total, 0, NULL),
           FLYQ_ERR_CORRUPT);
  check_empty(log, dir);
  buf[second + 16] = FLYQ_BATCH_MAGIC;
  flyq_append_result_t res;
  CHECK_OK(flyq_log_append_validated(log, buf, total, 0, &res));
  CHECK_EQ(res.last_offset, 5);
  CHECK_EQ(lt_read_all(log, 0, 1), 6);
  free(buf);
  CHECK_OK(flyq_log_close(log));
}

TEST_LIST(TEST_ENTRY(appends_and_reads_back_across_rolls)
          TEST_ENTRY(stores_a_wrong_crc_as_it_is)
          TEST_ENTRY(does_not_decode_records)
          TEST_ENTRY(refuses_what_costs_nothing_to_check));
