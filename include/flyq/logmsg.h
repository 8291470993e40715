/* Diagnostic messages: one line per call on stderr, shared by every layer
 * (the storage engine reports recovery through it; the broker uses it too).
 * Named flyq_logmsg so that it does not clash with the partition log
 * (flyq_log_t).
 *
 * A line looks like "2026-11-26T09:30:00.123Z WARN  storage: message" (UTC,
 * milliseconds) and is written with a single write(), so lines from
 * several threads do not interleave. Messages longer than about 1 KiB are
 * cut. Messages above the current level are dropped; the default is INFO.
 */
#ifndef FLYQ_LOGMSG_H
#define FLYQ_LOGMSG_H

enum {
  FLYQ_LOG_ERROR = 0,
  FLYQ_LOG_WARN = 1,
  FLYQ_LOG_INFO = 2,
  FLYQ_LOG_DEBUG = 3
};

/* Writes one line if level <= the current level. component names the
 * layer ("storage", "broker", ...); fmt is printf-style, without a
 * trailing newline. */
void flyq_logmsg(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the most verbose level still written (clamped to ERROR..DEBUG). */
void flyq_logmsg_set_level(int level);
int flyq_logmsg_get_level(void);

/* "error", "warn", "info" or "debug" (exact, lower case) -> FLYQ_LOG_*;
 * anything else (or NULL) -> -1. */
int flyq_logmsg_level_parse(const char *name);

#endif /* FLYQ_LOGMSG_H */
