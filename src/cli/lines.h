/* A line reader for `flyq produce`: reads a file descriptor in large
 * chunks and returns one line at a time without its trailing '\n', lines of
 * any length up to a limit (longer ones are skipped and reported), and a
 * last line that has no '\n'.
 */
#ifndef FLYQ_CLI_LINES_H
#define FLYQ_CLI_LINES_H

#include <stddef.h>
#include <stdint.h>

/* Called before a read that would block (no input ready yet); a negative
 * return is returned by flyq__lines_next. */
typedef int (*flyq__lines_idle_fn)(void *arg);

typedef struct flyq__lines {
  int fd;
  size_t max_line; /* longest line returned */
  flyq__lines_idle_fn idle; /* may be NULL */
  void *idle_arg;
  uint8_t *buf;
  size_t cap;
  size_t start;   /* first byte of the current line */
  size_t scanned; /* buf[start..scanned) holds no '\n' */
  size_t end;     /* bytes read up to here */
  int eof;
} flyq__lines_t;

/* Sets up a reader of fd (not owned) returning lines of at most max_line
 * bytes. idle (may be NULL) runs before each read that would block, e.g.
 * to send what the lines read so far made while the input is slow.
 * Allocates nothing yet. */
void flyq__lines_init(flyq__lines_t *l, int fd, size_t max_line,
                      flyq__lines_idle_fn idle, void *idle_arg);
void flyq__lines_free(flyq__lines_t *l);

/* Results of flyq__lines_next besides a negative -errno. */
enum { FLYQ_LINES_EOF = 0, FLYQ_LINES_LINE = 1, FLYQ_LINES_TOO_LONG = 2 };

/* Reads the next line: FLYQ_LINES_LINE with *line and *len (valid until the
 * next call), FLYQ_LINES_TOO_LONG when a line longer than max_line was
 * skipped (*len is then how long it was), FLYQ_LINES_EOF, or -errno (read
 * error; -ENOMEM). */
int flyq__lines_next(flyq__lines_t *l, const uint8_t **line, size_t *len);

#endif /* FLYQ_CLI_LINES_H */
