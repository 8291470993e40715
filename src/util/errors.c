/* Error text and names for the codes FlyQ functions return, and the clock.
 *
 * A code is either one of the FLYQ_ERR_* values (see FLYQ_ERRNO_MAP in
 * include/flyq/common.h) or a negated errno value. Codes that are neither
 * still get a string, never NULL.
 */
#include "flyq/common.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Linux keeps errno values below 4096 (MAX_ERRNO); so does libuv. */
#define ERRNO_LIMIT 4096

/* The errno values flyq_errname() knows by name. */
#define ERRNO_NAMES(XX)                                                       \
  XX(ENOENT) XX(EEXIST) XX(EACCES) XX(ENOSPC) XX(EIO) XX(ENOMEM) XX(EINVAL)   \
  XX(EAGAIN) XX(EPIPE) XX(ECONNRESET) XX(ECONNREFUSED) XX(EADDRINUSE)         \
  XX(EMFILE) XX(ENAMETOOLONG) XX(ETIMEDOUT) XX(EBADF) XX(EROFS) XX(EDQUOT)    \
  XX(ENOTDIR) XX(EISDIR) XX(EPERM) XX(EINTR) XX(ENFILE) XX(EBUSY)             \
  XX(ENOTEMPTY) XX(EXDEV) XX(EFBIG) XX(ENOTCONN) XX(ECONNABORTED)             \
  XX(EHOSTUNREACH) XX(ENETUNREACH) XX(EADDRNOTAVAIL) XX(ENOSYS) XX(ENOTSUP)   \
  XX(ERANGE) XX(EOVERFLOW) XX(ECANCELED) XX(ESRCH) XX(ELOOP)

static int is_errno(int err) { return err < 0 && err > -ERRNO_LIMIT; }

const char *flyq_strerror(int err) {
  switch (err) {
#define FLYQ_ERR_TEXT(name, val, text)                                        \
  case FLYQ_ERR_##name:                                                       \
    return text;
    FLYQ_ERRNO_MAP(FLYQ_ERR_TEXT)
#undef FLYQ_ERR_TEXT
  }
  if (err == 0) return "success";
  if (is_errno(err)) return strerror(-err);
  return "unknown error";
}

/* Name of errno value e, or NULL when ERRNO_NAMES does not list it. */
static const char *errno_name(int e) {
  switch (e) {
#define ERRNO_NAME_CASE(name)                                                 \
  case name:                                                                  \
    return #name;
    ERRNO_NAMES(ERRNO_NAME_CASE)
#undef ERRNO_NAME_CASE
  }
  return NULL;
}

/* For codes without a name the text lives in a per-thread buffer that is
 * valid until the next such call in the same thread. */
const char *flyq_errname(int err) {
  static _Thread_local char unnamed[16];
  switch (err) {
#define FLYQ_ERR_NAME(name, val, text)                                        \
  case FLYQ_ERR_##name:                                                       \
    return #name;
    FLYQ_ERRNO_MAP(FLYQ_ERR_NAME)
#undef FLYQ_ERR_NAME
  }
  if (err == 0) return "OK";
  if (!is_errno(err)) return "UNKNOWN";
  const char *name = errno_name(-err);
  if (name != NULL) return name;
  snprintf(unnamed, sizeof unnamed, "E%d", -err);
  return unnamed;
}

int64_t flyq_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
