/* The client's socket: "host:port" parsing, a non-blocking connect bounded
 * by a timeout, and the non-blocking reads and writes the wait loop
 * (client.c) drives with poll(). Nothing here knows the protocol beyond the
 * 4-byte frame size used to size the read buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client_int.h"
#include "codec/endian.h"

#define READ_CHUNK (64 * 1024)

/* Splits "host:port" / "[v6]:port" into host and port buffers. */
static int split_addr(const char *addr, char *host, size_t hostlen,
                      char *port, size_t portlen) {
  const char *colon = strrchr(addr, ':');
  const char *h = addr;
  size_t hl;
  if (colon == NULL || colon[1] == '\0') return FLYQ_ERR_INVALID_ARG;
  hl = (size_t)(colon - addr);
  if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
    h = addr + 1;
    hl -= 2;
  }
  if (hl == 0 || hl >= hostlen || strlen(colon + 1) >= portlen)
    return FLYQ_ERR_INVALID_ARG;
  memcpy(host, h, hl);
  host[hl] = '\0';
  strcpy(port, colon + 1);
  for (const char *p = port; *p; p++)
    if (*p < '0' || *p > '9') return FLYQ_ERR_INVALID_ARG;
  return 0;
}

/* Waits for a non-blocking connect on fd; returns 0 or a negative code. */
static int finish_connect(int fd, int64_t deadline) {
  struct pollfd pfd = {.fd = fd, .events = POLLOUT};
  int soerr = 0;
  socklen_t sl = sizeof(soerr);
  for (;;) {
    int64_t left = deadline - flyq__mono_ms();
    int n;
    if (left <= 0) return FLYQ_ERR_TIMEOUT;
    n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
    if (n < 0 && errno != EINTR) return -errno;
    if (n > 0) break;
  }
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) return -errno;
  return soerr ? -soerr : 0;
}

/* Opens a non-blocking socket for ai and connects it. */
static int try_addr(const struct addrinfo *ai, int64_t deadline, int *out) {
  int one = 1, r = 0;
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
  if (fd < 0) return -errno;
  if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
    r = errno == EINPROGRESS ? finish_connect(fd, deadline) : -errno;
  }
  if (r < 0) {
    close(fd);
    return r;
  }
  *out = fd;
  return 0;
}

int flyq__sock_connect(flyq_client_t *c, const char *addr, int timeout_ms) {
  char host[256], port[16];
  struct addrinfo hints = {0}, *res = NULL;
  int64_t deadline = flyq__mono_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
  int fd = -1, r = FLYQ_ERR_INVALID_ARG, gai;
  if (addr == NULL || split_addr(addr, host, sizeof(host), port,
                                 sizeof(port)) < 0)
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                             "invalid address \"%s\": expected host:port",
                             addr ? addr : "(null)");
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  gai = getaddrinfo(host, port, &hints, &res);
  if (gai != 0)
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0, "%s: %s", addr,
                             gai_strerror(gai));
  for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
    r = try_addr(ai, deadline, &fd);
    if (r == FLYQ_ERR_TIMEOUT) break;
  }
  freeaddrinfo(res);
  if (fd < 0)
    return flyq__client_fail(c, r, 0, "cannot connect to %s: %s", addr,
                             flyq_strerror(r));
  return fd;
}

int flyq__sock_write(flyq_client_t *c) {
  while (c->out_sent < c->out.len) {
    ssize_t n = send(c->fd, c->out.data + c->out_sent,
                     c->out.len - c->out_sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -errno;
    }
    c->out_sent += (size_t)n;
  }
  c->out_base += c->out.len;
  c->out_sent = 0;
  flyq_buf_reset(&c->out);
  return 0;
}

/* Makes room to read: at least the rest of the frame being received (its
 * size is known once 4 bytes are in), else READ_CHUNK. Moves unconsumed
 * bytes to the front of the buffer. */
static int read_room(flyq_client_t *c) {
  size_t have = c->rlen - c->rpos, want = READ_CHUNK;
  if (have >= 4) {
    uint64_t frame = 4 + (uint64_t)flyq__be32_get(c->rbuf + c->rpos);
    if (frame > 4 + (uint64_t)c->opts.max_frame_bytes) frame = have + 1;
    if (frame > have + READ_CHUNK) want = (size_t)(frame - have);
  }
  if (c->rpos > 0 && c->rcap - c->rlen < want) {
    memmove(c->rbuf, c->rbuf + c->rpos, have);
    c->rlen = have;
    c->rpos = 0;
  }
  if (c->rcap - c->rlen < want) {
    uint8_t *p = realloc(c->rbuf, c->rlen + want);
    if (p == NULL) return -ENOMEM;
    c->rbuf = p;
    c->rcap = c->rlen + want;
  }
  return 0;
}

int flyq__sock_read(flyq_client_t *c) {
  int r = read_room(c);
  if (r < 0) return r;
  for (;;) {
    ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
    if (n > 0) {
      c->rlen += (size_t)n;
      return (int)(n > INT32_MAX ? INT32_MAX : n);
    }
    if (n == 0) return FLYQ_ERR_CLOSED;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
}
