/* File reads that must not wait for the disk on the loop thread: the
 * network layer's file ranges (src/net/write.c) and the server's filtered
 * fetches (src/server/filter.c) read what the page cache holds where they
 * are, and the rest in libuv's thread pool. */
#ifndef FLYQ_UTIL_FILEIO_H
#define FLYQ_UTIL_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* Reads the len bytes at pos of fd into buf, going on from *done (the
 * bytes already read, advanced as it reads). With nowait, only what the
 * page cache holds (preadv2 with RWF_NOWAIT). Returns 0 once all len
 * bytes are in; -EAGAIN when the rest must be read again without nowait
 * (not cached; or a file system that cannot tell, such as tmpfs or NFS:
 * after the first such answer nowait reads are not even tried); or
 * -errno, -EIO at the end of the file. Thread-safe. */
int flyq__pread_at(int fd, uint8_t *buf, size_t len, uint64_t pos,
                   size_t *done, int nowait);

#endif /* FLYQ_UTIL_FILEIO_H */
