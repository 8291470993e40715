/* Helpers of the plugin runtime tests (spec/c/test-host-plugin*.c): plugin
 * files and a config in the test's temporary directory, a runtime built
 * from that config, batches built from key/value pairs, and access to the
 * records of output batches. Everything is static: each test file is its
 * own program.
 */
#ifndef FLYQ_SPEC_TEST_HOST_PLUGIN_H
#define FLYQ_SPEC_TEST_HOST_PLUGIN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/batch.h"
#include "flyq/config.h"
#include "flyq/plugins.h"
#include "test.h"

/* Not every test file uses every helper. */
#define PT_HELPER static __attribute__((unused))

static char pt_err[1024];
static flyq_config_t pt_cfg;

/* Writes text to <tmpdir>/<name>; returns the path (valid until the next
 * call). */
PT_HELPER const char *pt_write(const char *name, const char *text) {
  static char path[1024];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", flyq_test_tmpdir(), name);
  f = fopen(path, "w");
  CHECK(f != NULL);
  CHECK(fputs(text, f) >= 0);
  CHECK(fclose(f) == 0);
  return path;
}

/* Loads config (Lua; the local DIR names the temporary directory, where
 * pt_write puts plugins) and builds a runtime from it. Returns the code of
 * flyq_plugins_new, with its message in pt_err. pt_cfg keeps the config
 * until pt_done. */
PT_HELPER int pt_runtime(const char *config, flyq_plugins_t **rt) {
  size_t len = strlen(config) + 1200;
  char *src = malloc(len);
  const char *path;
  CHECK(src != NULL);
  snprintf(src, len, "local DIR = \"%s\"\n%s", flyq_test_tmpdir(), config);
  path = pt_write("flyq.lua", src);
  free(src);
  flyq_config_free(&pt_cfg);
  CHECK_OK(flyq_config_init(&pt_cfg));
  pt_err[0] = '\0';
  if (flyq_config_load(&pt_cfg, path, pt_err, sizeof pt_err) != 0)
    flyq_test_fail(__FILE__, __LINE__, "config: %s", pt_err);
  return flyq_plugins_new(&pt_cfg, rt, pt_err, sizeof pt_err);
}

/* pt_runtime that must succeed. */
PT_HELPER flyq_plugins_t *pt_open(const char *config) {
  flyq_plugins_t *rt = NULL;
  if (pt_runtime(config, &rt) != 0)
    flyq_test_fail(__FILE__, __LINE__, "flyq_plugins_new: %s", pt_err);
  return rt;
}

PT_HELPER void pt_done(flyq_plugins_t *rt) {
  flyq_plugins_free(rt);
  flyq_config_free(&pt_cfg);
}

/* A batch of n records from kv = {key0, value0, key1, value1, ...} (NULL:
 * null), timestamps 1000, 1001, ...; each record gets the header
 * ("h", "v<i>"). Returns a malloc'd copy and its length. */
PT_HELPER uint8_t *pt_batch(const char *const *kv, size_t n, size_t *len) {
  flyq_batch_builder_t b;
  const uint8_t *data;
  uint8_t *copy;
  flyq_batch_builder_init(&b);
  for (size_t i = 0; i < n; i++) {
    const char *k = kv[2 * i], *v = kv[2 * i + 1];
    char hv[24];
    flyq_record_header_t h;
    snprintf(hv, sizeof hv, "v%zu", i);
    h = (flyq_record_header_t){(const uint8_t *)"h", 1, (const uint8_t *)hv,
                               (int32_t)strlen(hv)};
    CHECK_OK(flyq_batch_builder_add(&b, 1000 + (int64_t)i, k,
                                    k ? (int32_t)strlen(k) : -1, v,
                                    v ? (int32_t)strlen(v) : -1, &h, 1));
  }
  CHECK_OK(flyq_batch_builder_finish(&b, &data, len));
  copy = malloc(*len);
  CHECK(copy != NULL);
  memcpy(copy, data, *len);
  flyq_batch_builder_free(&b);
  return copy;
}

/* The idx-th record of the batches data[0..len) (validating each batch),
 * or fails the test. Returns the number of records when idx is SIZE_MAX. */
PT_HELPER size_t pt_record(const uint8_t *data, size_t len, size_t idx,
                        flyq_record_t *rec) {
  size_t seen = 0;
  for (size_t off = 0; off < len;) {
    int64_t size = flyq_batch_size(data + off, len - off);
    flyq_record_iter_t it;
    flyq_record_t r;
    CHECK(size > 0 && (uint64_t)size <= len - off);
    CHECK_OK(flyq_batch_validate(data + off, (size_t)size, NULL));
    CHECK_OK(flyq_record_iter_init(&it, data + off, (size_t)size));
    while (flyq_record_iter_next(&it, &r) == 1) {
      if (seen++ == idx) {
        *rec = r;
        return idx;
      }
    }
    off += (size_t)size;
  }
  CHECK(idx == SIZE_MAX);
  return seen;
}

PT_HELPER size_t pt_count(const uint8_t *data, size_t len) {
  return pt_record(data, len, SIZE_MAX, NULL);
}

/* 1 if the bytes p[0..len) (len -1: null) are the string s (NULL: null). */
PT_HELPER int pt_is(const uint8_t *p, int32_t len, const char *s) {
  if (s == NULL || len < 0) return s == NULL && len < 0;
  return (size_t)len == strlen(s) && memcmp(p, s, (size_t)len) == 0;
}

/* The value of header name of rec, as a NUL-terminated copy in buf ("" if
 * missing, "(null)" for a null value). */
PT_HELPER const char *pt_header(const flyq_record_t *rec, const char *name,
                             char *buf, size_t n) {
  const uint8_t *p = NULL;
  flyq_record_header_t h;
  buf[0] = '\0';
  while (flyq_record_next_header(rec, &p, &h) == 1)
    if (pt_is(h.key, h.key_len, name)) {
      if (h.value_len < 0)
        snprintf(buf, n, "(null)");
      else
        snprintf(buf, n, "%.*s", (int)h.value_len, (const char *)h.value);
    }
  return buf;
}

/* The stats of the instance named name (freed with the next call). */
PT_HELPER const flyq_plugin_stats_t *pt_stats(const flyq_plugins_t *rt,
                                           const char *name) {
  static flyq_plugin_stats_t *all;
  static size_t n;
  flyq_plugins_stats_free(all, n);
  CHECK_OK(flyq_plugins_stats(rt, &all, &n));
  for (size_t i = 0; i < n; i++)
    if (strcmp(all[i].name, name) == 0) return &all[i];
  flyq_test_fail(__FILE__, __LINE__, "no stats for plugin %s", name);
}

/* Fails unless haystack contains needle. */
#define CHECK_HAS(haystack, needle)                                           \
  do {                                                                        \
    if (strstr((haystack), (needle)) == NULL)                                 \
      flyq_test_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",    \
                     (haystack), (needle));                                   \
  } while (0)

/* Fails unless the strings are equal. */
#define CHECK_STR(got, want)                                                  \
  do {                                                                        \
    const char *got_ = (got), *want_ = (want);                                \
    if (strcmp(got_, want_) != 0)                                             \
      flyq_test_fail(__FILE__, __LINE__, "got \"%s\", want \"%s\"", got_,    \
                     want_);                                                  \
  } while (0)

#endif /* FLYQ_SPEC_TEST_HOST_PLUGIN_H */
