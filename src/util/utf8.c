/* UTF-8 checks and repairs (see utf8.h). */
#include "util/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* U+FFFD in UTF-8. */
static const char replacement[] = "\xef\xbf\xbd";

/* The number of bytes the lead byte c announces (2 to 4), else 0. */
static size_t announced(uint8_t c) {
  if (c >= 0xc2 && c <= 0xdf) return 2;
  if ((c & 0xf0) == 0xe0) return 3;
  if (c >= 0xf0 && c <= 0xf4) return 4;
  return 0;
}

size_t flyq__utf8_len(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  uint32_t cp;
  size_t len = announced(c);
  if (c < 0x80) return 1;
  if (len == 0 || n < len) return 0;
  cp = c & (0x7fu >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[i] & 0x3fu);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
  return len;
}

int flyq__utf8_valid(const uint8_t *s, size_t len) {
  for (size_t i = 0, n; i < len; i += n)
    if ((n = flyq__utf8_len(s + i, len - i)) == 0) return 0;
  return 1;
}

/* Ends the n bytes of s before a last character they hold only part of
 * (a lead byte followed by fewer continuation bytes than it announces). */
static void trim(char *s, size_t n) {
  size_t i = n;
  while (i > 0 && n - i < 3 && ((uint8_t)s[i - 1] & 0xc0) == 0x80) i--;
  if (i > 0 && announced((uint8_t)s[i - 1]) > n - i + 1) s[i - 1] = '\0';
}

int flyq__utf8_snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  if (size > 0 && n >= 0 && (size_t)n >= size) trim(buf, size - 1);
  return n;
}

char *flyq__utf8_repair(const char *s, size_t len) {
  const uint8_t *u = (const uint8_t *)s;
  char *out = malloc(3 * len + 1); /* at worst every byte becomes U+FFFD */
  size_t o = 0;
  if (out == NULL) return NULL;
  for (size_t i = 0, n; i < len; i += n) {
    if ((n = flyq__utf8_len(u + i, len - i)) > 0) {
      memcpy(out + o, s + i, n);
      o += n;
    } else {
      memcpy(out + o, replacement, 3);
      o += 3;
      n = 1;
    }
  }
  out[o] = '\0';
  return out;
}
