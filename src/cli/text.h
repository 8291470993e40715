/* Text lines that may quote text from the broker or a plugin (a
 * plugin's name, error or counter): such text must not end the line or
 * reach the terminal as a control sequence. Used by every message of
 * cli.h and by the text output of `flyq stats` and `flyq plugin test`.
 * Implemented in text.c.
 *
 * The escapes: a newline shows as \n, a carriage return as \r, a tab as
 * \t, and any other control character (C0, DEL, C1) and any byte that is
 * not part of valid UTF-8 as \xNN. A backslash stays as it is.
 */
#ifndef FLYQ_CLI_TEXT_H
#define FLYQ_CLI_TEXT_H

#include <stdarg.h>
#include <stdio.h>

/* Writes s to f with the escapes above. */
void flyq__cli_put_text(FILE *f, const char *s);

/* printf(fmt, ap) to f as one line: the text with the escapes above, then
 * a newline. */
void flyq__cli_vline(FILE *f, const char *fmt, va_list ap);
void flyq__cli_line(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* FLYQ_CLI_TEXT_H */
