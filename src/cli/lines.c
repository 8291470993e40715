/* The line reader of `flyq produce` (see lines.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/lines.h"

#define CHUNK (1u << 20)

void flyq__lines_init(flyq__lines_t *l, int fd, size_t max_line,
                      flyq__lines_idle_fn idle, void *idle_arg) {
  memset(l, 0, sizeof(*l));
  l->fd = fd;
  l->max_line = max_line;
  l->idle = idle;
  l->idle_arg = idle_arg;
}

/* Runs the idle callback if reading fd now would block. */
static int before_read(flyq__lines_t *l) {
  struct pollfd pfd = {.fd = l->fd, .events = POLLIN};
  if (l->idle == NULL || poll(&pfd, 1, 0) != 0) return 0;
  return l->idle(l->idle_arg);
}

void flyq__lines_free(flyq__lines_t *l) {
  free(l->buf);
  l->buf = NULL;
  l->cap = 0;
}

/* Moves the current line to the front of the buffer, grows it when full,
 * and reads what is available. Returns 0 (l->eof set at end of input) or
 * -errno. */
static int fill(flyq__lines_t *l) {
  ssize_t n;
  if (l->start > 0) {
    memmove(l->buf, l->buf + l->start, l->end - l->start);
    l->end -= l->start;
    l->scanned -= l->start;
    l->start = 0;
  }
  if (l->cap - l->end < CHUNK / 2) {
    size_t cap = l->cap ? l->cap * 2 : CHUNK;
    uint8_t *b = realloc(l->buf, cap);
    if (b == NULL) return -ENOMEM;
    l->buf = b;
    l->cap = cap;
  }
  if ((n = before_read(l)) < 0) return (int)n;
  do n = read(l->fd, l->buf + l->end, l->cap - l->end);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0) l->eof = 1;
  l->end += (size_t)n;
  return 0;
}

/* Skips the rest of a line that is already too long (all of the buffer
 * after start). Returns FLYQ_LINES_TOO_LONG with its total length in *len,
 * or -errno. */
static int skip_rest(flyq__lines_t *l, size_t *len) {
  size_t total = l->end - l->start;
  for (;;) {
    uint8_t *nl;
    int r;
    l->start = l->scanned = l->end = 0;
    if (l->eof) break;
    r = fill(l);
    if (r < 0) return r;
    nl = memchr(l->buf, '\n', l->end);
    if (nl != NULL) {
      total += (size_t)(nl - l->buf);
      l->start = l->scanned = (size_t)(nl - l->buf) + 1;
      break;
    }
    total += l->end;
  }
  *len = total;
  return FLYQ_LINES_TOO_LONG;
}

/* Returns buf[start..start+n) as the line and moves past it and its '\n'
 * (skip bytes). */
static int take(flyq__lines_t *l, size_t n, size_t skip, const uint8_t **line,
                size_t *len) {
  *line = l->buf + l->start;
  *len = n;
  l->start = l->scanned = l->start + n + skip;
  return n > l->max_line ? FLYQ_LINES_TOO_LONG : FLYQ_LINES_LINE;
}

int flyq__lines_next(flyq__lines_t *l, const uint8_t **line, size_t *len) {
  for (;;) {
    uint8_t *nl = l->end > l->scanned
                      ? memchr(l->buf + l->scanned, '\n', l->end - l->scanned)
                      : NULL;
    int r;
    if (nl != NULL)
      return take(l, (size_t)(nl - l->buf) - l->start, 1, line, len);
    l->scanned = l->end;
    if (l->end - l->start > l->max_line) return skip_rest(l, len);
    if (l->eof)
      return l->start == l->end ? FLYQ_LINES_EOF
                                : take(l, l->end - l->start, 0, line, len);
    r = fill(l);
    if (r < 0) return r;
  }
}
