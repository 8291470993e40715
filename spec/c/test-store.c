/* The store: topics under a data directory, their settings in topic.json,
 * reopening after a clean close and after a crash (flyq_store_abandon),
 * name and partition checks, delete, reconstruction of a lost topic.json,
 * growing partitions, flush and retention over all partitions. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flyq/batch.h"
#include "flyq/store.h"
#include "test.h"

#define TS 1700000000000LL /* record timestamps */

/* ---- helpers ---- */

static char *path_of(const char *a, const char *b) {
  char *p;
  CHECK(asprintf(&p, "%s/%s", a, b) > 0);
  return p;
}

static int exists(const char *dir, const char *name) {
  struct stat sb;
  char *p = path_of(dir, name);
  int r = lstat(p, &sb) == 0;
  free(p);
  return r;
}

static void write_text(const char *dir, const char *name, const char *text) {
  char *p = path_of(dir, name);
  FILE *f = fopen(p, "w");
  free(p);
  CHECK(f != NULL);
  CHECK(fputs(text, f) >= 0);
  CHECK(fclose(f) == 0);
}

static void rm_rf(const char *dir, const char *name) {
  char *cmd;
  CHECK(asprintf(&cmd, "rm -rf '%s/%s'", dir, name) > 0);
  CHECK_EQ(system(cmd), 0);
  free(cmd);
}

static void rename_in(const char *dir, const char *from, const char *to) {
  char *a = path_of(dir, from), *b = path_of(dir, to);
  int r = rename(a, b);
  free(a);
  free(b);
  CHECK_OK(r);
}

/* Number of entries in dir, "." and ".." excluded. */
static int count_entries(const char *dir) {
  char *cmd;
  int n = -1;
  FILE *f;
  CHECK(asprintf(&cmd, "ls -A '%s' | wc -l", dir) > 0);
  f = popen(cmd, "r");
  free(cmd);
  CHECK(f != NULL);
  CHECK(fscanf(f, "%d", &n) == 1);
  pclose(f);
  return n;
}

static flyq_store_t *open_store(const char *dir,
                                const flyq_log_config_t *defaults) {
  flyq_store_t *st = NULL;
  char err[256] = "";
  int r = flyq_store_open(dir, defaults, &st, err, sizeof err);
  if (r != 0) flyq_test_fail(__FILE__, __LINE__, "open: %d %s", r, err);
  CHECK(st != NULL);
  return st;
}

static char *data_dir(void) {
  return path_of(flyq_test_tmpdir(), "data");
}

/* A log config unlike the defaults in every field. */
static flyq_log_config_t custom_log(void) {
  flyq_log_config_t c;
  flyq_log_config_default(&c);
  c.segment_bytes = 123456;
  c.segment_ms = 98765;
  c.index_interval_bytes = 321;
  c.retention_ms = 86400001;
  c.retention_bytes = 7777777;
  c.flush_messages = 42;
  c.flush_ms = 1500;
  return c;
}

static void check_log_config(const flyq_log_config_t *a,
                             const flyq_log_config_t *b) {
  CHECK_EQ(a->segment_bytes, b->segment_bytes);
  CHECK_EQ(a->segment_ms, b->segment_ms);
  CHECK_EQ(a->index_interval_bytes, b->index_interval_bytes);
  CHECK_EQ(a->retention_ms, b->retention_ms);
  CHECK_EQ(a->retention_bytes, b->retention_bytes);
  CHECK_EQ(a->flush_messages, b->flush_messages);
  CHECK_EQ(a->flush_ms, b->flush_ms);
}

static void make_key(char *buf, size_t n, const char *topic, int32_t p,
                     int i) {
  snprintf(buf, n, "%s/%d/%d", topic, (int)p, i);
}

static void make_value(char *buf, size_t n, const char *topic, int32_t p,
                       int i) {
  snprintf(buf, n, "value %d of %s/%d", i * 31, topic, (int)p);
}

/* Appends records first..first+n-1 of (topic, p) as one batch. */
static void append_records(flyq_store_t *st, const char *topic, int32_t p,
                           int first, int n) {
  flyq_batch_builder_t b;
  flyq_append_result_t res;
  flyq_log_t *log = flyq_topic_log(flyq_store_topic(st, topic), p);
  const uint8_t *batch;
  uint8_t *copy;
  size_t len;
  char key[300], value[300];
  CHECK(log != NULL);
  flyq_batch_builder_init(&b);
  for (int i = first; i < first + n; i++) {
    make_key(key, sizeof key, topic, p, i);
    make_value(value, sizeof value, topic, p, i);
    CHECK_OK(flyq_batch_builder_add(&b, TS + i, key, (int32_t)strlen(key),
                                    value, (int32_t)strlen(value), NULL, 0));
  }
  CHECK_OK(flyq_batch_builder_finish(&b, &batch, &len));
  copy = malloc(len);
  memcpy(copy, batch, len);
  flyq_batch_builder_free(&b);
  CHECK_OK(flyq_log_append(log, copy, len, TS + first, &res));
  free(copy);
  CHECK_EQ(res.base_offset, first);
  CHECK_EQ(res.last_offset, first + n - 1);
}

/* Checks one record against what append_records wrote for offset i. */
static void check_record(const flyq_record_t *rec, const char *topic,
                         int32_t p, int i) {
  char key[300], value[300];
  make_key(key, sizeof key, topic, p, i);
  make_value(value, sizeof value, topic, p, i);
  CHECK_EQ(rec->offset, i);
  CHECK_EQ(rec->timestamp, TS + i);
  CHECK_EQ(rec->key_len, strlen(key));
  CHECK_MEM(rec->key, key, strlen(key));
  CHECK_EQ(rec->value_len, strlen(value));
  CHECK_MEM(rec->value, value, strlen(value));
}

/* Checks the records of every batch in buf[0..len) from offset *next on,
 * advancing *next. */
static void check_batches(const uint8_t *buf, size_t len, const char *topic,
                          int32_t p, int64_t *next) {
  size_t pos = 0;
  while (pos < len) {
    int64_t size = flyq_batch_size(buf + pos, len - pos);
    flyq_record_iter_t it;
    flyq_record_t rec;
    int r;
    CHECK(size > 0 && (size_t)size <= len - pos);
    CHECK_OK(flyq_record_iter_init(&it, buf + pos, (size_t)size));
    while ((r = flyq_record_iter_next(&it, &rec)) == 1) {
      if (rec.offset < *next) continue;
      check_record(&rec, topic, p, (int)*next);
      (*next)++;
    }
    CHECK_EQ(r, 0);
    pos += (size_t)size;
  }
}

/* Reads partition p of topic from its start and checks that it holds
 * exactly the records first..n-1 written by append_records. */
static void check_partition(flyq_store_t *st, const char *topic, int32_t p,
                            int first, int n) {
  flyq_log_t *log = flyq_topic_log(flyq_store_topic(st, topic), p);
  int64_t next;
  CHECK(log != NULL);
  CHECK_EQ(flyq_log_start_offset(log), first);
  CHECK_EQ(flyq_log_end_offset(log), n);
  for (next = first; next < n;) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int64_t before = next;
    CHECK_OK(flyq_log_read_copy(log, next, 1 << 20, &buf, &len));
    check_batches(buf, len, topic, p, &next);
    free(buf);
    CHECK(next > before);
  }
  CHECK_EQ(next, n);
}

/* Records in partition p of the test topics: differ per partition. */
static int records_in(int32_t p) { return 3 + 2 * (int)p; }

/* Fills every partition of topic with records_in(p) records in two
 * batches. */
static void fill_topic(flyq_store_t *st, const char *topic) {
  int32_t n = flyq_topic_partitions(flyq_store_topic(st, topic));
  for (int32_t p = 0; p < n; p++) {
    append_records(st, topic, p, 0, 1);
    append_records(st, topic, p, 1, records_in(p) - 1);
  }
}

static void check_topic_data(flyq_store_t *st, const char *topic) {
  int32_t n = flyq_topic_partitions(flyq_store_topic(st, topic));
  for (int32_t p = 0; p < n; p++)
    check_partition(st, topic, p, 0, records_in(p));
}

static int collect_names(flyq_topic_t *t, void *arg) {
  char *out = arg;
  strcat(out, flyq_topic_name(t));
  strcat(out, ",");
  return 0;
}

/* ---- tests ---- */

/* Creates "orders" (3 partitions, custom settings) and "logs" (NULL cfg:
 * 1 partition, the store defaults) with data in every partition. */
static void create_two_topics(flyq_store_t *st) {
  flyq_topic_config_t cfg = {3, custom_log()};
  flyq_topic_t *t = NULL;
  CHECK_OK(flyq_store_create_topic(st, "orders", &cfg, &t));
  CHECK(t != NULL && t == flyq_store_topic(st, "orders"));
  CHECK_OK(flyq_store_create_topic(st, "logs", NULL, NULL));
  fill_topic(st, "orders");
  fill_topic(st, "logs");
}

static void check_two_topics(flyq_store_t *st,
                             const flyq_log_config_t *defaults) {
  flyq_log_config_t custom = custom_log();
  flyq_topic_t *orders = flyq_store_topic(st, "orders");
  flyq_topic_t *logs = flyq_store_topic(st, "logs");
  char names[64] = "";
  CHECK_EQ(flyq_store_topic_count(st), 2);
  CHECK_OK(flyq_store_foreach_topic(st, collect_names, names));
  CHECK(strcmp(names, "logs,orders,") == 0);
  CHECK(orders != NULL && logs != NULL);
  CHECK(strcmp(flyq_topic_name(orders), "orders") == 0);
  CHECK_EQ(flyq_topic_partitions(orders), 3);
  CHECK_EQ(flyq_topic_partitions(logs), 1);
  check_log_config(&flyq_topic_config(orders)->log, &custom);
  check_log_config(flyq_log_config(flyq_topic_log(orders, 2)), &custom);
  check_log_config(&flyq_topic_config(logs)->log, defaults);
  check_topic_data(st, "orders");
  check_topic_data(st, "logs");
}

static flyq_log_config_t store_defaults(void) {
  flyq_log_config_t d;
  flyq_log_config_default(&d);
  d.segment_bytes = 1 << 20;
  d.retention_ms = 3600000;
  return d;
}

TEST(reopen_after_close) {
  char *dir = data_dir();
  flyq_log_config_t d = store_defaults();
  flyq_store_t *st = open_store(dir, &d);
  CHECK(strcmp(flyq_store_dir(st), dir) == 0);
  create_two_topics(st);
  check_two_topics(st, &d);
  CHECK_OK(flyq_store_close(st));
  CHECK(exists(dir, "orders/topic.json"));
  CHECK(exists(dir, "orders/2"));
  CHECK(!exists(dir, "orders/3"));
  st = open_store(dir, &d);
  check_two_topics(st, &d);
  append_records(st, "orders", 1, records_in(1), 2);
  check_partition(st, "orders", 1, 0, records_in(1) + 2);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(reopen_after_abandon) {
  char *dir = data_dir();
  flyq_log_config_t d = store_defaults(), other;
  flyq_store_t *st = open_store(dir, &d);
  create_two_topics(st);
  flyq_store_abandon(st);
  /* Other defaults: topics keep the settings they were created with. */
  flyq_log_config_default(&other);
  st = open_store(dir, &other);
  check_two_topics(st, &d);
  flyq_store_abandon(st);
  st = open_store(dir, &other);
  check_two_topics(st, &d);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(null_defaults_are_the_log_defaults) {
  char *dir = data_dir();
  flyq_log_config_t d;
  flyq_store_t *st = open_store(dir, NULL);
  flyq_log_config_default(&d);
  CHECK_OK(flyq_store_create_topic(st, "t", NULL, NULL));
  check_log_config(&flyq_topic_config(flyq_store_topic(st, "t"))->log, &d);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(topic_json_contents) {
  char *dir = data_dir(), *path;
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {4, custom_log()};
  json_error_t jerr;
  json_t *j;
  CHECK_OK(flyq_store_create_topic(st, "events", &cfg, NULL));
  path = path_of(dir, "events/topic.json");
  j = json_load_file(path, 0, &jerr);
  free(path);
  CHECK(j != NULL);
  CHECK(strcmp(json_string_value(json_object_get(j, "name")), "events") == 0);
  CHECK_EQ(json_integer_value(json_object_get(j, "version")), 1);
  CHECK_EQ(json_integer_value(json_object_get(j, "partitions")), 4);
  CHECK_EQ(json_integer_value(json_object_get(j, "segment_bytes")), 123456);
  CHECK_EQ(json_integer_value(json_object_get(j, "segment_ms")), 98765);
  CHECK_EQ(json_integer_value(json_object_get(j, "index_interval_bytes")),
           321);
  CHECK_EQ(json_integer_value(json_object_get(j, "retention_ms")), 86400001);
  CHECK_EQ(json_integer_value(json_object_get(j, "retention_bytes")), 7777777);
  CHECK_EQ(json_integer_value(json_object_get(j, "flush_messages")), 42);
  CHECK_EQ(json_integer_value(json_object_get(j, "flush_ms")), 1500);
  CHECK_EQ(json_object_size(j), 10);
  json_decref(j);
  CHECK(!exists(dir, "events/topic.json.tmp"));
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(invalid_names_rejected) {
  static const char *bad[] = {"", ".", "..", "/", "a/b", "../x", "__x",
                              "__groups", "a b", "x\xc3\xa9"};
  char *dir = data_dir(), too_long[FLYQ_NAME_MAX + 2];
  flyq_store_t *st = open_store(dir, NULL);
  memset(too_long, 't', sizeof too_long - 1);
  too_long[sizeof too_long - 1] = '\0';
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_EQ(flyq_store_create_topic(st, bad[i], NULL, NULL),
             FLYQ_ERR_INVALID_NAME);
  CHECK_EQ(flyq_store_create_topic(st, too_long, NULL, NULL),
           FLYQ_ERR_INVALID_NAME);
  CHECK_EQ(flyq_store_create_topic(st, NULL, NULL, NULL),
           FLYQ_ERR_INVALID_NAME);
  CHECK_EQ(flyq_store_topic_count(st), 0);
  CHECK_EQ(count_entries(dir), 1); /* __groups only */
  CHECK(exists(dir, "__groups"));
  CHECK_EQ(count_entries(flyq_test_tmpdir()), 1); /* nothing beside data */
  too_long[FLYQ_NAME_MAX] = '\0';
  CHECK_OK(flyq_store_create_topic(st, too_long, NULL, NULL));
  CHECK(exists(dir, too_long));
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(invalid_partitions_and_settings_rejected) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg;
  static const int32_t bad[] = {0, -1, FLYQ_PARTITIONS_MAX + 1, INT32_MIN};
  flyq_log_config_default(&cfg.log);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cfg.partitions = bad[i];
    CHECK_EQ(flyq_store_create_topic(st, "t", &cfg, NULL),
             FLYQ_ERR_INVALID_ARG);
  }
  cfg.partitions = 1;
  cfg.log.segment_bytes = 0;
  CHECK_EQ(flyq_store_create_topic(st, "t", &cfg, NULL), FLYQ_ERR_CONFIG);
  CHECK(flyq_store_topic(st, "t") == NULL);
  CHECK_EQ(flyq_store_topic_count(st), 0);
  CHECK_EQ(count_entries(dir), 1); /* __groups only */
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(duplicate_topic_rejected) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {2, custom_log()};
  CHECK_OK(flyq_store_create_topic(st, "t", NULL, NULL));
  append_records(st, "t", 0, 0, 3);
  CHECK_EQ(flyq_store_create_topic(st, "t", &cfg, NULL),
           FLYQ_ERR_TOPIC_EXISTS);
  CHECK_EQ(flyq_topic_partitions(flyq_store_topic(st, "t")), 1);
  check_partition(st, "t", 0, 0, 3);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

typedef struct order_check {
  char prev[FLYQ_NAME_MAX + 1];
  int count;
  int unordered;
} order_check_t;

static int check_order(flyq_topic_t *t, void *arg) {
  order_check_t *c = arg;
  if (c->count > 0 && strcmp(c->prev, flyq_topic_name(t)) >= 0)
    c->unordered++;
  snprintf(c->prev, sizeof c->prev, "%s", flyq_topic_name(t));
  c->count++;
  return 0;
}

TEST(many_topics_sorted) {
  enum { N = 120 };
  char *dir = data_dir(), name[16];
  flyq_store_t *st = open_store(dir, NULL);
  order_check_t order = {"", 0, 0};
  for (int i = 0; i < N; i++) {
    snprintf(name, sizeof name, "topic-%03d", (i * 37) % N);
    CHECK_OK(flyq_store_create_topic(st, name, NULL, NULL));
  }
  CHECK_OK(flyq_store_foreach_topic(st, check_order, &order));
  CHECK_EQ(order.count, N);
  CHECK_EQ(order.unordered, 0);
  CHECK_OK(flyq_store_close(st));
  st = open_store(dir, NULL);
  CHECK_EQ(flyq_store_topic_count(st), N);
  memset(&order, 0, sizeof order);
  for (int i = 0; i < N; i++) {
    flyq_topic_t *t;
    snprintf(name, sizeof name, "topic-%03d", i);
    t = flyq_store_topic(st, name);
    CHECK(t != NULL && strcmp(flyq_topic_name(t), name) == 0);
  }
  CHECK_OK(flyq_store_foreach_topic(st, check_order, &order));
  CHECK_EQ(order.count, N);
  CHECK_EQ(order.unordered, 0);
  CHECK(flyq_store_topic(st, "topic-") == NULL);
  CHECK(flyq_store_topic(st, "topic-1200") == NULL);
  CHECK(flyq_store_topic(st, NULL) == NULL);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

static int stop_at_second(flyq_topic_t *t, void *arg) {
  int *seen = arg;
  (void)t;
  return ++*seen == 2 ? 77 : 0;
}

TEST(foreach_topic_stops) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  int seen = 0;
  CHECK_OK(flyq_store_create_topic(st, "a", NULL, NULL));
  CHECK_OK(flyq_store_create_topic(st, "b", NULL, NULL));
  CHECK_OK(flyq_store_create_topic(st, "c", NULL, NULL));
  CHECK_EQ(flyq_store_foreach_topic(st, stop_at_second, &seen), 77);
  CHECK_EQ(seen, 2);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(delete_topic) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {2, custom_log()};
  flyq_slice_t slice;
  uint8_t *copy = NULL, *via_slice;
  size_t copy_len = 0;
  int64_t off;
  CHECK_OK(flyq_store_create_topic(st, "gone", &cfg, NULL));
  CHECK_OK(flyq_store_create_topic(st, "kept", NULL, NULL));
  fill_topic(st, "gone");
  fill_topic(st, "kept");
  CHECK_OK(flyq_store_commit_offset(st, "g", "gone", 1, 4));
  CHECK_OK(flyq_store_commit_offset(st, "g", "kept", 0, 2));
  CHECK_OK(flyq_store_flush_groups(st));
  flyq_log_t *log = flyq_topic_log(flyq_store_topic(st, "gone"), 1);
  CHECK_OK(flyq_log_read_copy(log, 0, 1 << 20, &copy, &copy_len));
  CHECK_OK(flyq_log_read(log, 0, 1 << 20, &slice));
  CHECK(slice.len > 0 && slice.len <= copy_len);

  CHECK_OK(flyq_store_delete_topic(st, "gone"));
  CHECK(!exists(dir, "gone"));
  CHECK(flyq_store_topic(st, "gone") == NULL);
  CHECK_EQ(flyq_store_topic_count(st), 1);
  CHECK_EQ(flyq_store_fetch_offset(st, "g", "gone", 1, &off),
           FLYQ_ERR_NOT_FOUND);
  CHECK_OK(flyq_store_fetch_offset(st, "g", "kept", 0, &off));
  CHECK_EQ(off, 2);
  CHECK_EQ(flyq_store_delete_topic(st, "gone"), FLYQ_ERR_UNKNOWN_TOPIC);

  /* The slice taken before the delete still reads the same bytes. */
  via_slice = malloc(slice.len);
  CHECK_EQ(pread(slice.fd, via_slice, slice.len, (off_t)slice.pos), slice.len);
  CHECK_MEM(via_slice, copy, slice.len);
  flyq_slice_release(&slice);
  free(via_slice);
  free(copy);

  /* The drop is persisted, and a new topic of that name starts empty. */
  CHECK_OK(flyq_store_close(st));
  st = open_store(dir, NULL);
  CHECK(flyq_store_topic(st, "gone") == NULL);
  CHECK_OK(flyq_store_create_topic(st, "gone", NULL, NULL));
  CHECK_EQ(flyq_store_fetch_offset(st, "g", "gone", 1, &off),
           FLYQ_ERR_NOT_FOUND);
  CHECK_EQ(flyq_log_end_offset(flyq_topic_log(flyq_store_topic(st, "gone"),
                                              0)),
           0);
  check_topic_data(st, "kept");
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

/* Closes a store with "orders" (3 partitions, custom settings, data). */
static void make_orders(const char *dir) {
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {3, custom_log()};
  CHECK_OK(flyq_store_create_topic(st, "orders", &cfg, NULL));
  fill_topic(st, "orders");
  CHECK_OK(flyq_store_close(st));
}

/* Reopens dir with defaults d and checks "orders" was rebuilt from its 3
 * partition directories with d, data intact, topic.json rewritten. */
static void check_rebuilt_orders(const char *dir) {
  flyq_log_config_t d = store_defaults();
  flyq_store_t *st = open_store(dir, &d);
  flyq_topic_t *t = flyq_store_topic(st, "orders");
  CHECK(t != NULL);
  CHECK_EQ(flyq_topic_partitions(t), 3);
  check_log_config(&flyq_topic_config(t)->log, &d);
  check_topic_data(st, "orders");
  CHECK_OK(flyq_store_close(st));
  CHECK(exists(dir, "orders/topic.json"));
  st = open_store(dir, NULL); /* now from the rewritten topic.json */
  t = flyq_store_topic(st, "orders");
  CHECK(t != NULL);
  CHECK_EQ(flyq_topic_partitions(t), 3);
  check_log_config(&flyq_topic_config(t)->log, &d);
  CHECK_OK(flyq_store_close(st));
}

TEST(missing_topic_json_rebuilt) {
  char *dir = data_dir();
  make_orders(dir);
  rm_rf(dir, "orders/topic.json");
  check_rebuilt_orders(dir);
  free(dir);
}

TEST(garbage_topic_json_rebuilt) {
  static const char *garbage[] = {
      "", "{\"name\":\"orders\",\"partitions\":3", "not json",
      "{\"version\":1,\"name\":\"orders\",\"partitions\":0}",
      "{\"version\":1,\"name\":\"orders\",\"partitions\":\"3\"}",
      "[1,2,3]"};
  char *dir = data_dir();
  make_orders(dir);
  for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
    write_text(dir, "orders/topic.json", garbage[i]);
    check_rebuilt_orders(dir);
  }
  free(dir);
}

/* Partitions 0, 2 and 7 without 1: only 0 is contiguous. */
TEST(partition_gap_stops_rebuild) {
  char *dir = data_dir();
  flyq_store_t *st;
  make_orders(dir);
  rm_rf(dir, "orders/topic.json");
  rename_in(dir, "orders/1", "orders/7");
  st = open_store(dir, NULL);
  CHECK_EQ(flyq_topic_partitions(flyq_store_topic(st, "orders")), 1);
  check_partition(st, "orders", 0, 0, records_in(0));
  CHECK_OK(flyq_store_close(st));
  CHECK(exists(dir, "orders/2")); /* left alone */
  CHECK(exists(dir, "orders/7"));
  free(dir);
}

TEST(non_topic_directories_skipped) {
  char *dir = data_dir(), *p;
  flyq_store_t *st;
  make_orders(dir);
  p = path_of(dir, "junk");
  CHECK_OK(mkdir(p, 0755));
  free(p);
  write_text(dir, "junk/notes.txt", "keep me");
  p = path_of(dir, "bad name");
  CHECK_OK(mkdir(p, 0755));
  free(p);
  p = path_of(dir, "__other");
  CHECK_OK(mkdir(p, 0755));
  free(p);
  write_text(dir, "stray-file", "x");
  st = open_store(dir, NULL);
  CHECK_EQ(flyq_store_topic_count(st), 1);
  CHECK(flyq_store_topic(st, "orders") != NULL);
  CHECK(flyq_store_topic(st, "junk") == NULL);
  /* A directory in use is not taken over by create_topic. */
  CHECK_EQ(flyq_store_create_topic(st, "junk", NULL, NULL), -EEXIST);
  CHECK(exists(dir, "junk/notes.txt"));
  CHECK(!exists(dir, "junk/topic.json"));
  CHECK_OK(flyq_store_close(st));
  CHECK(exists(dir, "junk/notes.txt"));
  CHECK(exists(dir, "bad name"));
  CHECK(exists(dir, "__other"));
  free(dir);
}

/* What a crash between mkdir and topic.json leaves: an empty directory
 * (maybe with a temp file). It is skipped, and create_topic reuses it. */
TEST(half_created_topic_dir_reused) {
  char *dir = data_dir(), *p;
  flyq_store_t *st = open_store(dir, NULL);
  CHECK_OK(flyq_store_close(st));
  p = path_of(dir, "t");
  CHECK_OK(mkdir(p, 0755));
  free(p);
  write_text(dir, "t/topic.json.tmp", "{\"partial");
  st = open_store(dir, NULL);
  CHECK_EQ(flyq_store_topic_count(st), 0);
  CHECK_OK(flyq_store_create_topic(st, "t", NULL, NULL));
  append_records(st, "t", 0, 0, 2);
  CHECK(!exists(dir, "t/topic.json.tmp"));
  CHECK_OK(flyq_store_close(st));
  st = open_store(dir, NULL);
  check_partition(st, "t", 0, 0, 2);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(missing_partition_dir_recreated) {
  char *dir = data_dir();
  flyq_store_t *st;
  make_orders(dir);
  rm_rf(dir, "orders/2");
  st = open_store(dir, NULL);
  CHECK_EQ(flyq_topic_partitions(flyq_store_topic(st, "orders")), 3);
  check_partition(st, "orders", 0, 0, records_in(0));
  check_partition(st, "orders", 1, 0, records_in(1));
  check_partition(st, "orders", 2, 0, 0);
  CHECK_OK(flyq_store_close(st));
  CHECK(exists(dir, "orders/2"));
  free(dir);
}

TEST(unknown_topic_version_refused) {
  static const char *text =
      "{\"version\":2,\"name\":\"orders\",\"partitions\":3}";
  char *dir = data_dir(), *p, buf[128] = "", err[256] = "";
  flyq_store_t *st = NULL;
  FILE *f;
  make_orders(dir);
  write_text(dir, "orders/topic.json", text);
  CHECK_EQ(flyq_store_open(dir, NULL, &st, err, sizeof err),
           FLYQ_ERR_UNSUPPORTED);
  CHECK(st == NULL);
  CHECK(strstr(err, "orders") != NULL);
  p = path_of(dir, "orders/topic.json");
  f = fopen(p, "r");
  free(p);
  CHECK(f != NULL);
  CHECK(fgets(buf, sizeof buf, f) != NULL);
  fclose(f);
  CHECK(strcmp(buf, text) == 0);
  free(dir);
}

TEST(set_config_grows_partitions) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {2, custom_log()};
  flyq_topic_t *t;
  CHECK_OK(flyq_store_create_topic(st, "t", &cfg, &t));
  fill_topic(st, "t");
  cfg.partitions = 5;
  cfg.log.retention_ms = 5000;
  cfg.log.flush_messages = 9;
  CHECK_OK(flyq_topic_set_config(t, &cfg));
  CHECK_EQ(flyq_topic_partitions(t), 5);
  CHECK(flyq_topic_log(t, 4) != NULL);
  CHECK(flyq_topic_log(t, 5) == NULL);
  CHECK(flyq_topic_log(t, -1) == NULL);
  check_log_config(flyq_log_config(flyq_topic_log(t, 0)), &cfg.log);
  check_log_config(flyq_log_config(flyq_topic_log(t, 4)), &cfg.log);
  check_log_config(&flyq_topic_config(t)->log, &cfg.log);
  append_records(st, "t", 4, 0, records_in(4));
  append_records(st, "t", 2, 0, records_in(2));
  append_records(st, "t", 3, 0, records_in(3));
  CHECK_OK(flyq_store_close(st));
  CHECK(exists(dir, "t/4"));
  st = open_store(dir, NULL);
  t = flyq_store_topic(st, "t");
  CHECK_EQ(flyq_topic_partitions(t), 5);
  check_log_config(&flyq_topic_config(t)->log, &cfg.log);
  check_topic_data(st, "t");
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(set_config_shrink_refused) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {3, custom_log()}, smaller = cfg, bad = cfg;
  flyq_topic_t *t;
  CHECK_OK(flyq_store_create_topic(st, "t", &cfg, &t));
  smaller.partitions = 2;
  smaller.log.retention_ms = 1;
  CHECK_EQ(flyq_topic_set_config(t, &smaller), FLYQ_ERR_INVALID_ARG);
  bad.partitions = FLYQ_PARTITIONS_MAX + 1;
  CHECK_EQ(flyq_topic_set_config(t, &bad), FLYQ_ERR_INVALID_ARG);
  bad.partitions = 3;
  bad.log.segment_bytes = 0;
  CHECK_EQ(flyq_topic_set_config(t, &bad), FLYQ_ERR_CONFIG);
  CHECK_EQ(flyq_topic_set_config(t, NULL), FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_topic_partitions(t), 3);
  check_log_config(&flyq_topic_config(t)->log, &cfg.log);
  check_log_config(flyq_log_config(flyq_topic_log(t, 0)), &cfg.log);
  CHECK_OK(flyq_store_close(st));
  st = open_store(dir, NULL);
  t = flyq_store_topic(st, "t");
  CHECK_EQ(flyq_topic_partitions(t), 3);
  check_log_config(&flyq_topic_config(t)->log, &cfg.log);
  CHECK(!exists(dir, "t/3"));
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

/* A directory where topic.json.tmp must go makes the create fail after
 * the topic directory was made: nothing is left behind. */
TEST(failed_create_leaves_nothing) {
  char *dir = data_dir(), *p;
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {2, custom_log()};
  p = path_of(dir, "t");
  CHECK_OK(mkdir(p, 0755));
  free(p);
  p = path_of(dir, "t/topic.json.tmp");
  CHECK_OK(mkdir(p, 0755));
  free(p);
  CHECK_EQ(flyq_store_create_topic(st, "t", &cfg, NULL), -EISDIR);
  CHECK(!exists(dir, "t"));
  CHECK(flyq_store_topic(st, "t") == NULL);
  CHECK_EQ(flyq_store_topic_count(st), 0);
  CHECK_OK(flyq_store_create_topic(st, "t", &cfg, NULL));
  CHECK_EQ(flyq_topic_partitions(flyq_store_topic(st, "t")), 2);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

/* A file where partition 2 must go makes growing from 1 to 3 partitions
 * fail: partition 1 is removed again and the settings stay as they were. */
TEST(failed_grow_rolls_back) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {1, custom_log()}, grown;
  flyq_topic_t *t;
  CHECK_OK(flyq_store_create_topic(st, "t", &cfg, &t));
  append_records(st, "t", 0, 0, 3);
  write_text(dir, "t/2", "in the way");
  grown = cfg;
  grown.partitions = 3;
  grown.log.retention_ms = 1;
  CHECK(flyq_topic_set_config(t, &grown) < 0);
  CHECK_EQ(flyq_topic_partitions(t), 1);
  CHECK(flyq_topic_log(t, 1) == NULL);
  CHECK(!exists(dir, "t/1"));
  check_log_config(flyq_log_config(flyq_topic_log(t, 0)), &cfg.log);
  CHECK_OK(flyq_store_close(st));
  st = open_store(dir, NULL);
  t = flyq_store_topic(st, "t");
  CHECK_EQ(flyq_topic_partitions(t), 1);
  check_log_config(&flyq_topic_config(t)->log, &cfg.log);
  check_partition(st, "t", 0, 0, 3);
  rm_rf(dir, "t/2");
  CHECK_OK(flyq_topic_set_config(t, &grown));
  CHECK_EQ(flyq_topic_partitions(t), 3);
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(flush_all_partitions) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t cfg = {3, custom_log()};
  cfg.log.flush_messages = 0;
  cfg.log.flush_ms = -1;
  CHECK_OK(flyq_store_create_topic(st, "a", &cfg, NULL));
  CHECK_OK(flyq_store_create_topic(st, "b", NULL, NULL));
  fill_topic(st, "a");
  fill_topic(st, "b");
  CHECK(flyq_log_flushed_offset(flyq_topic_log(flyq_store_topic(st, "a"),
                                               2)) < records_in(2));
  CHECK_OK(flyq_store_flush(st));
  for (int32_t p = 0; p < 3; p++) {
    flyq_log_t *log = flyq_topic_log(flyq_store_topic(st, "a"), p);
    CHECK_EQ(flyq_log_flushed_offset(log), records_in(p));
  }
  CHECK_EQ(flyq_log_flushed_offset(
               flyq_topic_log(flyq_store_topic(st, "b"), 0)),
           records_in(0));
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

/* Appends n one-record batches with timestamps TS + i. */
static void append_singles(flyq_store_t *st, const char *topic, int32_t p,
                           int n) {
  for (int i = 0; i < n; i++) append_records(st, topic, p, i, 1);
}

TEST(retention_over_all_partitions) {
  char *dir = data_dir();
  flyq_store_t *st = open_store(dir, NULL);
  flyq_topic_config_t by_size = {2, custom_log()}, by_time, kept;
  by_size.log.segment_bytes = 1; /* every batch in its own segment */
  by_size.log.segment_ms = -1;
  by_size.log.retention_ms = -1;
  by_size.log.retention_bytes = 1;
  by_time = by_size;
  by_time.log.retention_bytes = -1;
  by_time.log.retention_ms = 1000;
  kept = by_size;
  kept.log.retention_bytes = -1;
  CHECK_OK(flyq_store_create_topic(st, "size", &by_size, NULL));
  CHECK_OK(flyq_store_create_topic(st, "time", &by_time, NULL));
  CHECK_OK(flyq_store_create_topic(st, "kept", &kept, NULL));
  for (int32_t p = 0; p < 2; p++) {
    append_singles(st, "size", p, 5);
    append_singles(st, "time", p, 5);
    append_singles(st, "kept", p, 5);
  }
  CHECK_OK(flyq_store_apply_retention(st, TS + 1000000));
  for (int32_t p = 0; p < 2; p++) {
    /* Only the active segment (the last batch) remains. */
    check_partition(st, "size", p, 4, 5);
    check_partition(st, "time", p, 4, 5);
    check_partition(st, "kept", p, 0, 5);
  }
  CHECK_OK(flyq_store_close(st));
  free(dir);
}

TEST(open_errors) {
  char *dir = data_dir(), err[256] = "";
  flyq_store_t *st = NULL;
  flyq_log_config_t bad;
  write_text(flyq_test_tmpdir(), "data", "a file, not a directory");
  CHECK(flyq_store_open(dir, NULL, &st, err, sizeof err) < 0);
  CHECK(st == NULL);
  CHECK(err[0] != '\0');
  CHECK(flyq_store_open(dir, NULL, &st, NULL, 0) < 0);
  CHECK_EQ(flyq_store_open(NULL, NULL, &st, err, sizeof err),
           FLYQ_ERR_INVALID_ARG);
  flyq_log_config_default(&bad);
  bad.segment_bytes = 0;
  free(dir);
  dir = path_of(flyq_test_tmpdir(), "other");
  CHECK_EQ(flyq_store_open(dir, &bad, &st, err, sizeof err), FLYQ_ERR_CONFIG);
  CHECK(!exists(flyq_test_tmpdir(), "other"));
  free(dir);
}

TEST(nested_data_dir_created) {
  char *dir = path_of(flyq_test_tmpdir(), "a/b/c");
  flyq_store_t *st = open_store(dir, NULL);
  CHECK_OK(flyq_store_create_topic(st, "t", NULL, NULL));
  CHECK_OK(flyq_store_close(st));
  CHECK(exists(flyq_test_tmpdir(), "a/b/c/t/0"));
  free(dir);
}

TEST_LIST(TEST_ENTRY(reopen_after_close)
          TEST_ENTRY(reopen_after_abandon)
          TEST_ENTRY(null_defaults_are_the_log_defaults)
          TEST_ENTRY(topic_json_contents)
          TEST_ENTRY(invalid_names_rejected)
          TEST_ENTRY(invalid_partitions_and_settings_rejected)
          TEST_ENTRY(duplicate_topic_rejected)
          TEST_ENTRY(many_topics_sorted)
          TEST_ENTRY(foreach_topic_stops)
          TEST_ENTRY(delete_topic)
          TEST_ENTRY(missing_topic_json_rebuilt)
          TEST_ENTRY(garbage_topic_json_rebuilt)
          TEST_ENTRY(partition_gap_stops_rebuild)
          TEST_ENTRY(non_topic_directories_skipped)
          TEST_ENTRY(half_created_topic_dir_reused)
          TEST_ENTRY(missing_partition_dir_recreated)
          TEST_ENTRY(unknown_topic_version_refused)
          TEST_ENTRY(set_config_grows_partitions)
          TEST_ENTRY(set_config_shrink_refused)
          TEST_ENTRY(failed_create_leaves_nothing)
          TEST_ENTRY(failed_grow_rolls_back)
          TEST_ENTRY(flush_all_partitions)
          TEST_ENTRY(retention_over_all_partitions)
          TEST_ENTRY(open_errors)
          TEST_ENTRY(nested_data_dir_created));
