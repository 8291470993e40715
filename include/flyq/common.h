/* Error codes and small shared definitions for every FlyQ layer.
 *
 * Functions return 0 on success or a negative code. A code is either a
 * negated errno value (as libuv does on Unix, so -ENOSPC and UV_ENOSPC are the
 * same number) or one of the FLYQ_ERR_* values below, which live in a range
 * no errno uses. flyq_strerror() turns either kind into text.
 */
#ifndef FLYQ_COMMON_H
#define FLYQ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define FLYQ_VERSION "0.1.0"

/* FlyQ's own error codes. Keep flyq_strerror() and flyq_errname() in sync. */
#define FLYQ_ERRNO_MAP(XX)                                                    \
  XX(CORRUPT, -30001, "corrupt record batch")                                 \
  XX(INVALID_ARG, -30002, "invalid argument")                                 \
  XX(OFFSET_OUT_OF_RANGE, -30003, "offset out of range")                      \
  XX(TOPIC_EXISTS, -30004, "topic already exists")                            \
  XX(UNKNOWN_TOPIC, -30005, "unknown topic")                                  \
  XX(UNKNOWN_PARTITION, -30006, "unknown partition")                          \
  XX(INVALID_NAME, -30007, "invalid name")                                    \
  XX(TOO_LARGE, -30008, "too large")                                          \
  XX(UNSUPPORTED, -30009, "unsupported feature")                              \
  XX(CLOSED, -30010, "closed")                                                \
  XX(NOT_FOUND, -30011, "not found")                                          \
  XX(CONFIG, -30012, "invalid configuration")                                 \
  XX(TRUNCATED, -30013, "truncated input")                                    \
  XX(LIMIT, -30014, "limit reached")                                          \
  XX(PROTOCOL, -30015, "protocol error")                                      \
  XX(TIMEOUT, -30016, "timed out")                                            \
  XX(AUTH, -30017, "authentication failed")                                   \
  XX(DENIED, -30018, "not authorized")                                        \
  XX(PLUGIN, -30019, "plugin error")

enum {
#define FLYQ_ERR_ENUM(name, val, text) FLYQ_ERR_##name = (val),
  FLYQ_ERRNO_MAP(FLYQ_ERR_ENUM)
#undef FLYQ_ERR_ENUM
};

/* Text for any code returned by a FlyQ function (FLYQ_ERR_* or -errno).
 * The returned string is static. */
const char *flyq_strerror(int err);

/* Short upper-case name, e.g. "OFFSET_OUT_OF_RANGE" or "ENOSPC". Static. */
const char *flyq_errname(int err);

/* Wall-clock time in milliseconds since the Unix epoch. */
int64_t flyq_now_ms(void);

#endif /* FLYQ_COMMON_H */
