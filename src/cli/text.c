/* Escaped text lines (see text.h). */
#include "cli/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

/* Writes the escape of byte c (a control character, or a byte of a C1
 * control or of invalid UTF-8). */
static void text_escape(FILE *f, uint8_t c) {
  switch (c) {
  case '\n': fputs("\\n", f); break;
  case '\r': fputs("\\r", f); break;
  case '\t': fputs("\\t", f); break;
  default: fprintf(f, "\\x%02x", c); break;
  }
}

/* The length of the character at s[0..n) to write as it is, or 0 for
 * one to escape byte by byte: a control character, a C1 control
 * (U+0080..U+009F, which some terminals obey) or invalid UTF-8. */
static size_t plain_len(const uint8_t *s, size_t n) {
  size_t len = s[0] < 0x20 || s[0] == 0x7f ? 0 : flyq__utf8_len(s, n);
  return len == 2 && s[0] == 0xc2 && s[1] < 0xa0 ? 0 : len;
}

void flyq__cli_put_text(FILE *f, const char *s) {
  const uint8_t *u = (const uint8_t *)s;
  size_t len = strlen(s), run = 0, i = 0, n;
  while (i < len) {
    if ((n = plain_len(u + i, len - i)) > 0) {
      i += n;
      continue;
    }
    fwrite(s + run, 1, i - run, f);
    text_escape(f, u[i]);
    run = ++i;
  }
  fwrite(s + run, 1, i - run, f);
}

void flyq__cli_vline(FILE *f, const char *fmt, va_list ap) {
  char small[1024], *text = small;
  va_list again;
  int n;
  va_copy(again, ap);
  if ((n = vsnprintf(small, sizeof small, fmt, ap)) < 0) small[0] = '\0';
  if (n >= (int)sizeof small && (text = malloc((size_t)n + 1)) != NULL)
    vsnprintf(text, (size_t)n + 1, fmt, again);
  va_end(again);
  flyq__cli_put_text(f, text ? text : small); /* the cut text: no memory */
  fputc('\n', f);
  if (text != small) free(text);
}

void flyq__cli_line(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  flyq__cli_vline(f, fmt, ap);
  va_end(ap);
}
