/* Small file-system helpers shared by the storage layer: paths, mkdir -p,
 * crash-safe replacement of a small file, removal of a directory tree and
 * sorted directory listings. All return 0 or -errno unless said otherwise.
 */
#ifndef FLYQ_STORAGE_FSUTIL_H
#define FLYQ_STORAGE_FSUTIL_H

#include <jansson.h>
#include <stddef.h>

/* Suffix of the temporary file flyq__write_file_atomic() writes beside its
 * target. */
#define FLYQ_TMP_SUFFIX ".tmp"

/* Returns "dir/name" in a malloc'd string the caller frees, or NULL when out
 * of memory. */
char *flyq__path_join(const char *dir, const char *name);

/* Creates path and any missing parents (mode 0755). An existing directory is
 * not an error; an existing non-directory is -ENOTDIR. */
int flyq__mkdir_p(const char *path);

/* fsyncs a directory, making the entries created or renamed in it durable. */
int flyq__fsync_dir(const char *path);
/* fsyncs the directory that contains path. */
int flyq__fsync_parent(const char *path);

/* Replaces path with data[0..len) so that after a crash the file holds
 * either the old or the new content: writes path + FLYQ_TMP_SUFFIX (same
 * directory), fsyncs it, renames it over path and fsyncs the directory. On
 * error the temporary file is removed and path is untouched (unless the
 * error came from the final directory fsync). */
int flyq__write_file_atomic(const char *path, const void *data, size_t len);

/* Writes j as indented JSON text plus a newline with
 * flyq__write_file_atomic(). Does not take ownership of j. */
int flyq__write_json_atomic(const char *path, const json_t *j);

/* Reads and parses the JSON file at path (a regular file of at most
 * FLYQ_JSON_FILE_MAX bytes; duplicate keys refused). On success *out is a
 * new reference the caller releases with json_decref(). Returns -errno when
 * the file cannot be read (-ENOENT when it is missing), FLYQ_ERR_TOO_LARGE,
 * or FLYQ_ERR_CORRUPT for text that is not JSON. why (may be NULL) receives
 * a reason on failure. */
#define FLYQ_JSON_FILE_MAX (64u * 1024 * 1024)
int flyq__read_json(const char *path, json_t **out, char *why, size_t whylen);

/* Removes path and everything below it, without following symlinks. A
 * missing path is not an error. On error part of the tree may remain. */
int flyq__rmtree(const char *path);

/* 1 if path is a directory, 0 otherwise (including when it does not
 * exist). */
int flyq__is_dir(const char *path);

/* 1 if name ends with suffix. */
int flyq__has_suffix(const char *name, const char *suffix);

/* Lists the entries of dir except "." and "..", sorted by strcmp. On
 * success *names is a malloc'd array of *count malloc'd strings, freed with
 * flyq__list_free(); on error nothing is allocated. */
int flyq__list_dir(const char *dir, char ***names, size_t *count);
void flyq__list_free(char **names, size_t count);

#endif /* FLYQ_STORAGE_FSUTIL_H */
