/* Names inside the storage layer: partition directory/key names and the
 * sorted name-keyed vectors that hold topics and groups.
 * flyq_name_validate() itself is public (include/flyq/store.h).
 */
#ifndef FLYQ_STORAGE_NAMES_H
#define FLYQ_STORAGE_NAMES_H

#include <stddef.h>
#include <stdint.h>

/* Parses a partition number written as canonical decimal ("0", "17"; no
 * sign, no leading zero, no other character) below FLYQ_PARTITIONS_MAX.
 * Returns 0 or FLYQ_ERR_INVALID_ARG. s may be NULL. */
int flyq__partition_parse(const char *s, int32_t *out);

/* A vector of pointers to structs whose first member is `char *name`,
 * kept sorted by strcmp of that name: the topic table and the group tables.
 * Zero-initialise it; flyq__namevec_free() frees the vector, not the
 * items. */
typedef struct flyq__namevec {
  void **items;
  size_t n;
  size_t cap;
} flyq__namevec_t;

/* Returns 1 and sets *pos to the index of key if present, else 0 and sets
 * *pos to where it would be inserted. */
int flyq__namevec_find(const flyq__namevec_t *v, const char *key,
                       size_t *pos);
/* Makes room for one more item so that the next insert cannot fail. */
int flyq__namevec_reserve(flyq__namevec_t *v);
/* Inserts item at pos (from flyq__namevec_find). Returns 0 or -ENOMEM. */
int flyq__namevec_insert(flyq__namevec_t *v, size_t pos, void *item);
/* Removes and returns the item at pos. */
void *flyq__namevec_remove(flyq__namevec_t *v, size_t pos);
void flyq__namevec_free(flyq__namevec_t *v);

#endif /* FLYQ_STORAGE_NAMES_H */
