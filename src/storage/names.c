/* Topic, group and partition names: the rules of include/flyq/store.h, and
 * the name lookup shared by the topic table (store.c) and the group table
 * (groups.c).
 */
#include "storage/names.h"

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

int flyq__name_search(void *const *arr, size_t n, const char *key,
                      size_t *pos) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(*(char *const *)arr[mid], key);
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
