/* Reads that can tell the page cache from the disk (see fileio.h). */
#include "util/fileio.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/uio.h>

/* Set once a file system refused RWF_NOWAIT: from then on every nowait
 * read answers -EAGAIN at once. */
static atomic_int nowait_unsupported;

int flyq__pread_at(int fd, uint8_t *buf, size_t len, uint64_t pos,
                   size_t *done, int nowait) {
  if (nowait && atomic_load_explicit(&nowait_unsupported, memory_order_relaxed))
    return -EAGAIN;
  while (*done < len) {
    struct iovec v = {buf + *done, len - *done};
    ssize_t n = preadv2(fd, &v, 1, (off_t)(pos + *done), nowait ? RWF_NOWAIT : 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && nowait && (errno == EOPNOTSUPP || errno == ENOSYS)) {
      atomic_store_explicit(&nowait_unsupported, 1, memory_order_relaxed);
      return -EAGAIN;
    }
    if (n < 0) return errno == EAGAIN && nowait ? -EAGAIN : -errno;
    if (n == 0) return nowait ? -EAGAIN : -EIO; /* past the end of file */
    *done += (size_t)n;
  }
  return 0;
}
