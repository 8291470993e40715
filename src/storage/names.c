/* Topic, group and partition names: the rules of include/flyq/store.h, and
 * the sorted name-keyed vector shared by the topic table (store.c) and the
 * group tables (groups.c).
 */
#include "storage/names.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/store.h"

static int name_char_ok(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int flyq_name_validate(const char *name) {
  size_t n;
  if (name == NULL) return FLYQ_ERR_INVALID_NAME;
  n = strnlen(name, FLYQ_NAME_MAX + 1);
  if (n == 0 || n > FLYQ_NAME_MAX) return FLYQ_ERR_INVALID_NAME;
  if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return FLYQ_ERR_INVALID_NAME;
  if (strncmp(name, "__", 2) == 0) return FLYQ_ERR_INVALID_NAME;
  for (size_t i = 0; i < n; i++)
    if (!name_char_ok((unsigned char)name[i])) return FLYQ_ERR_INVALID_NAME;
  return 0;
}

int flyq__partition_parse(const char *s, int32_t *out) {
  int32_t v = 0;
  if (s == NULL || s[0] == '\0') return FLYQ_ERR_INVALID_ARG;
  if (s[0] == '0' && s[1] != '\0') return FLYQ_ERR_INVALID_ARG;
  for (const char *p = s; *p != '\0'; p++) {
    if (*p < '0' || *p > '9') return FLYQ_ERR_INVALID_ARG;
    v = v * 10 + (*p - '0');
    if (v >= FLYQ_PARTITIONS_MAX) return FLYQ_ERR_INVALID_ARG;
  }
  *out = v;
  return 0;
}

int flyq__namevec_find(const flyq__namevec_t *v, const char *key,
                       size_t *pos) {
  size_t lo = 0, hi = v->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(*(char *const *)v->items[mid], key);
    if (c == 0) {
      *pos = mid;
      return 1;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *pos = lo;
  return 0;
}

int flyq__namevec_reserve(flyq__namevec_t *v) {
  size_t cap;
  void **items;
  if (v->n < v->cap) return 0;
  cap = v->cap ? v->cap * 2 : 8;
  if ((items = realloc(v->items, cap * sizeof *items)) == NULL) return -ENOMEM;
  v->items = items;
  v->cap = cap;
  return 0;
}

int flyq__namevec_insert(flyq__namevec_t *v, size_t pos, void *item) {
  int r = flyq__namevec_reserve(v);
  if (r != 0) return r;
  memmove(v->items + pos + 1, v->items + pos, (v->n - pos) * sizeof *v->items);
  v->items[pos] = item;
  v->n++;
  return 0;
}

void *flyq__namevec_remove(flyq__namevec_t *v, size_t pos) {
  void *item = v->items[pos];
  memmove(v->items + pos, v->items + pos + 1,
          (v->n - pos - 1) * sizeof *v->items);
  v->n--;
  return item;
}

void flyq__namevec_free(flyq__namevec_t *v) {
  free(v->items);
  v->items = NULL;
  v->n = v->cap = 0;
}
