/* Names inside the storage layer: partition directory/key names and the
 * lookup in the sorted name-keyed arrays that hold topics and groups.
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

/* Binary search in arr[0..n), an array of pointers to structs whose first
 * member is `char *name`, sorted by strcmp of that name. Returns 1 and sets
 * *pos to the index of key if present, else 0 and sets *pos to where it
 * would be inserted. */
int flyq__name_search(void *const *arr, size_t n, const char *key,
                      size_t *pos);

#endif /* FLYQ_STORAGE_NAMES_H */
