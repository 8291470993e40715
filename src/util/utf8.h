/* UTF-8 checks and repairs for text that crosses into JSON or a terminal
 * from sources that need not be valid UTF-8 (plugin names, error messages,
 * file paths, messages cut to a buffer's size).
 *
 * Valid means RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. NUL counts as a valid character; callers that pass C strings
 * never see one.
 */
#ifndef FLYQ_UTIL_UTF8_H
#define FLYQ_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The length (1 to 4) of the valid UTF-8 character at s[0..n), n > 0, or
 * 0 if s does not start with one. */
size_t flyq__utf8_len(const uint8_t *s, size_t n);

/* 1 if s[0..len) is valid UTF-8, else 0. */
int flyq__utf8_valid(const uint8_t *s, size_t len);

/* snprintf, except that text cut to fit size never ends inside a UTF-8
 * character: an incomplete last character is left out as well, so the cut
 * adds no invalid UTF-8. Text that fits is written as snprintf writes it.
 * Returns what snprintf returns. */
int flyq__utf8_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A NUL-terminated copy of s[0..len) (malloc'd, the caller frees) in
 * which every byte that is not part of a valid UTF-8 character is
 * replaced by U+FFFD, the replacement character. NULL when out of
 * memory. */
char *flyq__utf8_repair(const char *s, size_t len);

#endif /* FLYQ_UTIL_UTF8_H */
