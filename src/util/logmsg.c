/* flyq_logmsg(): timestamped one-line diagnostics on stderr. See
 * include/flyq/logmsg.h. The level is an atomic so that any thread may log
 * while another changes it. */
#include "flyq/logmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024

static atomic_int current_level = FLYQ_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
static const char *const level_tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void flyq_logmsg_set_level(int level) {
  if (level < FLYQ_LOG_ERROR) level = FLYQ_LOG_ERROR;
  if (level > FLYQ_LOG_DEBUG) level = FLYQ_LOG_DEBUG;
  atomic_store(&current_level, level);
}

int flyq_logmsg_get_level(void) { return atomic_load(&current_level); }

int flyq_logmsg_level_parse(const char *name) {
  if (name == NULL) return -1;
  for (int i = FLYQ_LOG_ERROR; i <= FLYQ_LOG_DEBUG; i++)
    if (strcmp(name, level_names[i]) == 0) return i;
  return -1;
}

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least 25 bytes). */
static int format_time(char *buf, size_t size) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  return snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* Control characters become spaces: a message is one line, whatever text
 * it quotes (a plugin's print or error cannot forge a line of its own, nor
 * send a terminal a C1 control such as CSI, U+009B, in UTF-8: C2 9B). */
static void one_line(char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      s[i] = ' ';
    } else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
               (unsigned char)s[i + 1] <= 0x9f) {
      s[i] = s[i + 1] = ' ';
      i++;
    }
  }
}

void flyq_logmsg(int level, const char *component, const char *fmt, ...) {
  if (level > atomic_load(&current_level)) return;
  if (level < FLYQ_LOG_ERROR) level = FLYQ_LOG_ERROR;
  char line[LINE_MAX_BYTES];
  size_t n = (size_t)format_time(line, sizeof line);
  n += (size_t)snprintf(line + n, sizeof line - n,
                        " %-5s %s: ", level_tags[level],
                        component ? component : "-");
  size_t text = n;
  if (n < sizeof line - 1) {
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - 1 - n, fmt, ap);
    va_end(ap);
    if (m > 0) n += (size_t)m;
  }
  if (n > sizeof line - 2) n = sizeof line - 2;
  one_line(line + text, n - text);
  line[n++] = '\n';
  ssize_t w;
  do w = write(STDERR_FILENO, line, n);
  while (w < 0 && errno == EINTR);
}
