/* Consumer-group committed offsets: commit / fetch / iterate, validation,
 * persistence through flush, close and a crash (flyq_store_abandon), only
 * dirty groups rewritten, leftover temp files and damaged group files. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flyq/store.h"
#include "test.h"

static char *path_of(const char *a, const char *b) {
  char *p;
  CHECK(asprintf(&p, "%s/%s", a, b) > 0);
  return p;
}

static char *data_dir(void) {
  return path_of(flyq_test_tmpdir(), "data");
}

/* Path of a file in the data directory; the caller frees it. */
static char *data_path(const char *name) {
  char *dir = data_dir(), *p = path_of(dir, name);
  free(dir);
  return p;
}

static flyq_store_t *open_store(void) {
  char *dir = data_dir(), err[256] = "";
  flyq_store_t *st = NULL;
  int r = flyq_store_open(dir, NULL, &st, err, sizeof err);
  free(dir);
  if (r != 0) flyq_test_fail(__FILE__, __LINE__, "open: %d %s", r, err);
  return st;
}

/* A store with topics "orders" (3 partitions) and "audit" (1). */
static flyq_store_t *open_with_topics(void) {
  flyq_store_t *st = open_store();
  flyq_topic_config_t cfg;
  flyq_log_config_default(&cfg.log);
  cfg.partitions = 3;
  CHECK_OK(flyq_store_create_topic(st, "orders", &cfg, NULL));
  CHECK_OK(flyq_store_create_topic(st, "audit", NULL, NULL));
  return st;
}

static int64_t fetch(flyq_store_t *st, const char *g, const char *t,
                     int32_t p) {
  int64_t off = -1;
  int r = flyq_store_fetch_offset(st, g, t, p, &off);
  if (r == FLYQ_ERR_NOT_FOUND) return -1;
  CHECK_OK(r);
  CHECK(off >= 0);
  return off;
}

static void write_file(const char *name, const char *text) {
  char *p = data_path(name);
  FILE *f = fopen(p, "w");
  free(p);
  CHECK(f != NULL);
  CHECK(fputs(text, f) >= 0);
  CHECK(fclose(f) == 0);
}

/* Contents of a data-dir file (malloc'd), NULL if missing. */
static char *read_file(const char *name) {
  char *p = data_path(name), *buf = calloc(1, 1 << 16);
  FILE *f = fopen(p, "r");
  free(p);
  if (f == NULL) {
    free(buf);
    return NULL;
  }
  CHECK(fread(buf, 1, (1 << 16) - 1, f) < (1 << 16) - 1);
  fclose(f);
  return buf;
}

static int file_exists(const char *name) {
  struct stat sb;
  char *p = data_path(name);
  int r = stat(p, &sb) == 0;
  free(p);
  return r;
}

static ino_t inode_of(const char *name) {
  struct stat sb;
  char *p = data_path(name);
  int r = stat(p, &sb);
  free(p);
  CHECK_OK(r);
  return sb.st_ino;
}

/* Appends "topic/partition=offset;" for each commit. */
static int collect_offsets(const char *topic, int32_t p, int64_t off,
                           void *arg) {
  char *out = arg;
  size_t n = strlen(out);
  snprintf(out + n, 512 - n, "%s/%d=%lld;", topic, (int)p, (long long)off);
  return 0;
}

static int collect_groups(const char *group, void *arg) {
  strcat(arg, group);
  strcat(arg, ",");
  return 0;
}

TEST(commit_fetch_and_reopen) {
  flyq_store_t *st = open_with_topics();
  char seen[512] = "";
  CHECK_OK(flyq_store_commit_offset(st, "billing", "orders", 2, 42));
  CHECK_OK(flyq_store_commit_offset(st, "billing", "orders", 0, 7));
  CHECK_OK(flyq_store_commit_offset(st, "billing", "audit", 0, 0));
  CHECK_OK(flyq_store_commit_offset(st, "archiver", "orders", 1, 1000));
  CHECK_OK(flyq_store_commit_offset(st, "billing", "orders", 2, 43));
  CHECK_EQ(fetch(st, "billing", "orders", 2), 43);
  CHECK_EQ(fetch(st, "billing", "orders", 0), 7);
  CHECK_EQ(fetch(st, "billing", "orders", 1), -1);
  CHECK_EQ(fetch(st, "billing", "audit", 0), 0);
  CHECK_EQ(fetch(st, "archiver", "orders", 1), 1000);
  CHECK_EQ(fetch(st, "archiver", "orders", 2), -1);
  CHECK_EQ(fetch(st, "nobody", "orders", 1), -1);
  CHECK_OK(flyq_store_flush_groups(st));
  CHECK_OK(flyq_store_close(st));

  st = open_store();
  CHECK_EQ(fetch(st, "billing", "orders", 2), 43);
  CHECK_EQ(fetch(st, "billing", "orders", 0), 7);
  CHECK_EQ(fetch(st, "billing", "orders", 1), -1);
  CHECK_EQ(fetch(st, "billing", "audit", 0), 0);
  CHECK_EQ(fetch(st, "archiver", "orders", 1), 1000);
  CHECK_OK(flyq_store_foreach_offset(st, "billing", collect_offsets, seen));
  CHECK(strcmp(seen, "audit/0=0;orders/0=7;orders/2=43;") == 0);
  seen[0] = '\0';
  CHECK_OK(flyq_store_foreach_group(st, collect_groups, seen));
  CHECK(strcmp(seen, "archiver,billing,") == 0);
  CHECK_EQ(flyq_store_foreach_offset(st, "nobody", collect_offsets, seen),
           FLYQ_ERR_NOT_FOUND);
  CHECK_OK(flyq_store_close(st));
}

TEST(close_flushes_groups) {
  flyq_store_t *st = open_with_topics();
  CHECK_OK(flyq_store_commit_offset(st, "g", "orders", 1, 5));
  CHECK_OK(flyq_store_close(st));
  st = open_store();
  CHECK_EQ(fetch(st, "g", "orders", 1), 5);
  CHECK_OK(flyq_store_close(st));
}

static int stop_after_first(const char *topic, int32_t p, int64_t off,
                            void *arg) {
  (void)topic, (void)p, (void)off;
  ++*(int *)arg;
  return -5;
}

TEST(commit_validation) {
  flyq_store_t *st = open_with_topics();
  int calls = 0;
  int64_t off = 99;
  CHECK_EQ(flyq_store_commit_offset(st, "", "orders", 0, 1),
           FLYQ_ERR_INVALID_NAME);
  CHECK_EQ(flyq_store_commit_offset(st, "a/b", "orders", 0, 1),
           FLYQ_ERR_INVALID_NAME);
  CHECK_EQ(flyq_store_commit_offset(st, "__g", "orders", 0, 1),
           FLYQ_ERR_INVALID_NAME);
  CHECK_EQ(flyq_store_commit_offset(st, NULL, "orders", 0, 1),
           FLYQ_ERR_INVALID_NAME);
  CHECK_EQ(flyq_store_commit_offset(st, "g", "missing", 0, 1),
           FLYQ_ERR_UNKNOWN_TOPIC);
  CHECK_EQ(flyq_store_commit_offset(st, "g", NULL, 0, 1),
           FLYQ_ERR_UNKNOWN_TOPIC);
  CHECK_EQ(flyq_store_commit_offset(st, "g", "orders", 3, 1),
           FLYQ_ERR_UNKNOWN_PARTITION);
  CHECK_EQ(flyq_store_commit_offset(st, "g", "orders", -1, 1),
           FLYQ_ERR_UNKNOWN_PARTITION);
  CHECK_EQ(flyq_store_commit_offset(st, "g", "audit", 1, 1),
           FLYQ_ERR_UNKNOWN_PARTITION);
  CHECK_EQ(flyq_store_commit_offset(st, "g", "orders", 0, -1),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_store_commit_offset(st, "g", "orders", 0, INT64_MIN),
           FLYQ_ERR_INVALID_ARG);
  /* Nothing was recorded, not even the group. */
  CHECK_EQ(flyq_store_fetch_offset(st, "g", "orders", 0, &off),
           FLYQ_ERR_NOT_FOUND);
  CHECK_EQ(off, 99);
  CHECK_EQ(flyq_store_foreach_group(st, collect_groups, (char[64]){0}), 0);
  CHECK_EQ(flyq_store_foreach_offset(st, "g", collect_offsets, (char[512]){0}),
           FLYQ_ERR_NOT_FOUND);
  CHECK_OK(flyq_store_commit_offset(st, "g", "orders", 2, INT64_MAX));
  CHECK_EQ(fetch(st, "g", "orders", 2), INT64_MAX);
  CHECK_OK(flyq_store_commit_offset(st, "g", "orders", 0, 3));
  CHECK_EQ(flyq_store_foreach_offset(st, "g", stop_after_first, &calls), -5);
  CHECK_EQ(calls, 1);
  CHECK_EQ(flyq_store_fetch_offset(st, "g", "orders", 9, &off),
           FLYQ_ERR_NOT_FOUND);
  CHECK_OK(flyq_store_close(st));
  CHECK(!file_exists("__groups/__g.json"));
}

TEST(unflushed_commits_lost_on_crash) {
  flyq_store_t *st = open_with_topics();
  CHECK_OK(flyq_store_commit_offset(st, "g1", "orders", 0, 5));
  CHECK_OK(flyq_store_flush_groups(st));
  CHECK_OK(flyq_store_commit_offset(st, "g1", "orders", 0, 9));
  CHECK_OK(flyq_store_commit_offset(st, "g1", "orders", 1, 4));
  CHECK_OK(flyq_store_commit_offset(st, "g2", "audit", 0, 3));
  flyq_store_abandon(st);
  st = open_store();
  CHECK_EQ(fetch(st, "g1", "orders", 0), 5);
  CHECK_EQ(fetch(st, "g1", "orders", 1), -1);
  CHECK_EQ(fetch(st, "g2", "audit", 0), -1);
  CHECK(!file_exists("__groups/g2.json"));
  CHECK_OK(flyq_store_commit_offset(st, "g2", "audit", 0, 3));
  CHECK_OK(flyq_store_flush(st));
  flyq_store_abandon(st);
  st = open_store();
  CHECK_EQ(fetch(st, "g2", "audit", 0), 3);
  CHECK_OK(flyq_store_close(st));
}

/* An atomic rewrite renames a new file over the old one, so a rewritten
 * group file gets a new inode while the old one still exists. */
TEST(only_dirty_groups_rewritten) {
  flyq_store_t *st = open_with_topics();
  ino_t a1, b1, a2, b2;
  CHECK_OK(flyq_store_commit_offset(st, "a", "orders", 0, 1));
  CHECK_OK(flyq_store_commit_offset(st, "b", "orders", 0, 1));
  CHECK_OK(flyq_store_flush_groups(st));
  a1 = inode_of("__groups/a.json");
  b1 = inode_of("__groups/b.json");
  CHECK_OK(flyq_store_flush_groups(st)); /* nothing dirty */
  CHECK_EQ(inode_of("__groups/a.json"), a1);
  CHECK_EQ(inode_of("__groups/b.json"), b1);
  CHECK_OK(flyq_store_commit_offset(st, "a", "orders", 1, 2));
  CHECK_OK(flyq_store_commit_offset(st, "b", "orders", 0, 1)); /* same */
  CHECK_OK(flyq_store_flush_groups(st));
  a2 = inode_of("__groups/a.json");
  b2 = inode_of("__groups/b.json");
  CHECK(a2 != a1);
  CHECK_EQ(b2, b1);
  CHECK_OK(flyq_store_flush(st));
  CHECK_EQ(inode_of("__groups/a.json"), a2);
  CHECK_OK(flyq_store_close(st));
  CHECK_EQ(inode_of("__groups/a.json"), a2);
  CHECK_EQ(inode_of("__groups/b.json"), b1);
  CHECK(!file_exists("__groups/a.json.tmp"));
}

/* A directory in place of the temp file makes the write fail: the group
 * stays dirty and the next flush writes it. */
TEST(failed_flush_stays_dirty) {
  flyq_store_t *st = open_with_topics();
  char *p = data_path("__groups/g.json.tmp");
  CHECK_OK(flyq_store_commit_offset(st, "g", "orders", 0, 12));
  CHECK_OK(flyq_store_commit_offset(st, "h", "orders", 0, 13));
  CHECK_OK(mkdir(p, 0755));
  CHECK_EQ(flyq_store_flush_groups(st), -EISDIR);
  CHECK(!file_exists("__groups/g.json"));
  CHECK(file_exists("__groups/h.json"));
  CHECK_OK(rmdir(p));
  free(p);
  CHECK_OK(flyq_store_flush_groups(st));
  flyq_store_abandon(st);
  st = open_store();
  CHECK_EQ(fetch(st, "g", "orders", 0), 12);
  CHECK_EQ(fetch(st, "h", "orders", 0), 13);
  CHECK_OK(flyq_store_close(st));
}

TEST(group_file_format) {
  flyq_store_t *st = open_with_topics();
  json_error_t jerr;
  json_t *j, *orders;
  char *p;
  CHECK_OK(flyq_store_commit_offset(st, "g", "orders", 0, 42));
  CHECK_OK(flyq_store_commit_offset(st, "g", "orders", 2, 7));
  CHECK_OK(flyq_store_commit_offset(st, "g", "audit", 0, 1));
  CHECK_OK(flyq_store_flush_groups(st));
  p = data_path("__groups/g.json");
  j = json_load_file(p, JSON_REJECT_DUPLICATES, &jerr);
  free(p);
  CHECK(j != NULL);
  CHECK_EQ(json_object_size(j), 3);
  CHECK_EQ(json_integer_value(json_object_get(j, "version")), 1);
  CHECK(strcmp(json_string_value(json_object_get(j, "group")), "g") == 0);
  CHECK_EQ(json_object_size(json_object_get(j, "offsets")), 2);
  orders = json_object_get(json_object_get(j, "offsets"), "orders");
  CHECK_EQ(json_object_size(orders), 2);
  CHECK_EQ(json_integer_value(json_object_get(orders, "0")), 42);
  CHECK_EQ(json_integer_value(json_object_get(orders, "2")), 7);
  CHECK_EQ(json_integer_value(json_object_get(
               json_object_get(json_object_get(j, "offsets"), "audit"), "0")),
           1);
  json_decref(j);
  CHECK_OK(flyq_store_close(st));
}

TEST(leftover_tmp_file_ignored_and_removed) {
  flyq_store_t *st = open_with_topics();
  char *before;
  CHECK_OK(flyq_store_commit_offset(st, "g", "orders", 1, 11));
  CHECK_OK(flyq_store_close(st));
  before = read_file("__groups/g.json");
  CHECK(before != NULL);
  write_file("__groups/g.json.tmp",
             "{\"version\":1,\"group\":\"g\",\"offsets\":{\"orders\":{\"1\":999}}}");
  write_file("__groups/other.json.tmp", "garbage");
  st = open_store();
  CHECK(!file_exists("__groups/g.json.tmp"));
  CHECK(!file_exists("__groups/other.json.tmp"));
  CHECK_EQ(fetch(st, "g", "orders", 1), 11);
  CHECK_EQ(fetch(st, "other", "orders", 1), -1);
  CHECK_OK(flyq_store_close(st));
  char *after = read_file("__groups/g.json");
  CHECK(after != NULL && strcmp(before, after) == 0);
  free(before);
  free(after);
}

TEST(damaged_group_files_do_not_stop_open) {
  static const char *bad[] = {
      "", "{", "garbage",
      "{\"version\":1,\"group\":\"bad3\",\"offsets\":{\"orders\":{\"0\":-4}}}",
      "{\"version\":1,\"group\":\"other\",\"offsets\":{}}",
      "{\"version\":1,\"group\":\"bad5\",\"offsets\":{\"orders\":{\"x\":1}}}",
      "{\"version\":1,\"group\":\"bad6\",\"offsets\":{\"a/b\":{\"0\":1}}}",
      "{\"version\":1,\"group\":\"bad7\",\"offsets\":{\"orders\":{\"0\":1.5}}}",
      "{\"version\":9,\"group\":\"bad8\",\"offsets\":{}}"};
  enum { NBAD = sizeof bad / sizeof bad[0] };
  flyq_store_t *st = open_with_topics();
  char name[64], *full, *text;
  CHECK_OK(flyq_store_commit_offset(st, "good", "orders", 0, 8));
  CHECK_OK(flyq_store_commit_offset(st, "d0", "orders", 0, 8));
  CHECK_OK(flyq_store_close(st));
  /* d0: a real file cut in the middle. */
  full = read_file("__groups/d0.json");
  CHECK(full != NULL && strlen(full) > 10);
  full[strlen(full) / 2] = '\0';
  write_file("__groups/d0.json", full);
  for (int i = 0; i < NBAD; i++) {
    snprintf(name, sizeof name, "__groups/bad%d.json", i);
    write_file(name, bad[i]);
  }
  st = open_store();
  CHECK_EQ(fetch(st, "good", "orders", 0), 8);
  CHECK_EQ(fetch(st, "d0", "orders", 0), -1);
  for (int i = 0; i < NBAD; i++) {
    snprintf(name, sizeof name, "bad%d", i);
    CHECK_EQ(fetch(st, name, "orders", 0), -1);
  }
  /* Left as is by flush and close while the group does not commit. */
  CHECK_OK(flyq_store_commit_offset(st, "good", "orders", 0, 9));
  CHECK_OK(flyq_store_flush(st));
  CHECK_OK(flyq_store_close(st));
  text = read_file("__groups/d0.json");
  CHECK(text != NULL && strcmp(text, full) == 0);
  free(text);
  for (int i = 0; i < NBAD; i++) {
    snprintf(name, sizeof name, "__groups/bad%d.json", i);
    text = read_file(name);
    CHECK(text != NULL && strcmp(text, bad[i]) == 0);
    free(text);
  }
  /* A new commit of the group replaces its damaged file. */
  st = open_store();
  CHECK_OK(flyq_store_commit_offset(st, "d0", "audit", 0, 6));
  CHECK_OK(flyq_store_flush_groups(st));
  flyq_store_abandon(st);
  st = open_store();
  CHECK_EQ(fetch(st, "d0", "audit", 0), 6);
  CHECK_EQ(fetch(st, "d0", "orders", 0), -1);
  CHECK_EQ(fetch(st, "good", "orders", 0), 9);
  CHECK_OK(flyq_store_close(st));
  free(full);
}

/* Offsets of topics deleted (or shrunk) while the store was down are
 * dropped at open, and the file is rewritten at the next flush. */
TEST(offsets_of_missing_topics_pruned) {
  flyq_store_t *st = open_with_topics();
  char seen[512] = "";
  CHECK_OK(flyq_store_close(st));
  write_file("__groups/g.json",
             "{\"version\":1,\"group\":\"g\",\"offsets\":{"
             "\"ghost\":{\"0\":5},"
             "\"audit\":{\"0\":3,\"4\":8},"
             "\"orders\":{\"2\":1}}}");
  st = open_store();
  CHECK_OK(flyq_store_foreach_offset(st, "g", collect_offsets, seen));
  CHECK(strcmp(seen, "audit/0=3;orders/2=1;") == 0);
  CHECK_OK(flyq_store_close(st));
  char *text = read_file("__groups/g.json");
  CHECK(text != NULL);
  CHECK(strstr(text, "ghost") == NULL);
  CHECK(strstr(text, "\"4\"") == NULL);
  CHECK(strstr(text, "\"orders\"") != NULL);
  free(text);
}

TEST(delete_topic_drops_offsets_everywhere) {
  flyq_store_t *st = open_with_topics();
  flyq_topic_config_t cfg = *flyq_topic_config(flyq_store_topic(st, "orders"));
  char *text;
  CHECK_OK(flyq_store_commit_offset(st, "g1", "orders", 0, 1));
  CHECK_OK(flyq_store_commit_offset(st, "g1", "audit", 0, 2));
  CHECK_OK(flyq_store_commit_offset(st, "g2", "orders", 2, 3));
  CHECK_OK(flyq_store_flush_groups(st));
  CHECK_OK(flyq_store_delete_topic(st, "orders"));
  CHECK_EQ(fetch(st, "g1", "orders", 0), -1);
  CHECK_EQ(fetch(st, "g2", "orders", 2), -1);
  CHECK_EQ(fetch(st, "g1", "audit", 0), 2);
  CHECK_OK(flyq_store_flush_groups(st));
  flyq_store_abandon(st);
  text = read_file("__groups/g2.json");
  CHECK(text != NULL && strstr(text, "orders") == NULL);
  free(text);
  /* Even with the topic recreated, the old offsets are gone for good. */
  st = open_store();
  CHECK_OK(flyq_store_create_topic(st, "orders", &cfg, NULL));
  CHECK_EQ(fetch(st, "g1", "orders", 0), -1);
  CHECK_EQ(fetch(st, "g2", "orders", 2), -1);
  CHECK_EQ(fetch(st, "g1", "audit", 0), 2);
  CHECK_OK(flyq_store_close(st));
}

TEST_LIST(TEST_ENTRY(commit_fetch_and_reopen)
          TEST_ENTRY(close_flushes_groups)
          TEST_ENTRY(commit_validation)
          TEST_ENTRY(unflushed_commits_lost_on_crash)
          TEST_ENTRY(only_dirty_groups_rewritten)
          TEST_ENTRY(failed_flush_stays_dirty)
          TEST_ENTRY(group_file_format)
          TEST_ENTRY(leftover_tmp_file_ignored_and_removed)
          TEST_ENTRY(damaged_group_files_do_not_stop_open)
          TEST_ENTRY(offsets_of_missing_topics_pruned)
          TEST_ENTRY(delete_topic_drops_offsets_everywhere));
