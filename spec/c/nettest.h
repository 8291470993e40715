/* Helpers shared by the network and server tests (test-net*.c,
 * test-server*.c): a libuv loop running on its own thread, on which the
 * test thread runs functions synchronously (setup, queries, teardown), and
 * blocking client sockets with deadlines that read whole frames.
 * Everything is static inline so each test takes only what it uses.
 */
#ifndef FLYQ_SPEC_NETTEST_H
#define FLYQ_SPEC_NETTEST_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "test.h"

/* ---- A loop on its own thread ----------------------------------------- */

typedef struct nt_loop {
  uv_loop_t loop;
  uv_async_t async;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  void (*fn)(void *);
  void *arg;
  int pending;
  int quit;
} nt_loop_t;

static inline void nt_async_cb(uv_async_t *a) {
  nt_loop_t *l = a->data;
  pthread_mutex_lock(&l->mu);
  void (*fn)(void *) = l->fn;
  void *arg = l->arg;
  int quit = l->quit;
  pthread_mutex_unlock(&l->mu);
  if (fn) fn(arg);
  if (quit) uv_close((uv_handle_t *)a, NULL);
  pthread_mutex_lock(&l->mu);
  l->pending = 0;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static inline void *nt_thread_main(void *p) {
  nt_loop_t *l = p;
  uv_run(&l->loop, UV_RUN_DEFAULT);
  return NULL;
}

static inline void nt_loop_start(nt_loop_t *l) {
  memset(l, 0, sizeof *l);
  CHECK_OK(uv_loop_init(&l->loop));
  CHECK_OK(uv_async_init(&l->loop, &l->async, nt_async_cb));
  l->async.data = l;
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  CHECK_OK(pthread_create(&l->thread, NULL, nt_thread_main, l));
}

/* Runs fn(arg) on the loop thread and waits until it has returned. */
static inline void nt_loop_call(nt_loop_t *l, void (*fn)(void *), void *arg) {
  pthread_mutex_lock(&l->mu);
  l->fn = fn;
  l->arg = arg;
  l->pending = 1;
  pthread_mutex_unlock(&l->mu);
  uv_async_send(&l->async);
  pthread_mutex_lock(&l->mu);
  while (l->pending) pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
}

/* Runs fn (which must close every handle the test made) on the loop
 * thread, waits for the loop to end and closes it. */
static inline void nt_loop_stop(nt_loop_t *l, void (*fn)(void *), void *arg) {
  l->quit = 1;
  nt_loop_call(l, fn, arg);
  pthread_join(l->thread, NULL);
  CHECK_EQ(uv_loop_close(&l->loop), 0);
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
}

/* ---- Blocking clients ------------------------------------------------- */

static inline int64_t nt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection to 127.0.0.1:port, or -1. */
static inline int nt_try_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static inline int nt_connect(int port) {
  int fd = nt_try_connect(port);
  CHECK(fd >= 0);
  return fd;
}

static inline void nt_send(int fd, const void *p, size_t len) {
  const uint8_t *b = p;
  while (len > 0) {
    ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    CHECK(n > 0);
    b += n;
    len -= (size_t)n;
  }
}

/* Reads exactly len bytes. 0: done; 1: EOF or reset first; -1: deadline. */
static inline int nt_recv_exact(int fd, void *p, size_t len, int timeout_ms) {
  uint8_t *b = p;
  int64_t deadline = nt_now_ms() + timeout_ms;
  while (len > 0) {
    int64_t left = deadline - nt_now_ms();
    struct pollfd pfd = {fd, POLLIN, 0};
    if (left <= 0 || poll(&pfd, 1, (int)left) == 0) return -1;
    ssize_t n = recv(fd, b, len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 1;
    b += n;
    len -= (size_t)n;
  }
  return 0;
}

static inline uint32_t nt_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

static inline void nt_put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* One frame's payload (malloc'd, *len bytes), or NULL on EOF/deadline. */
static inline uint8_t *nt_read_frame(int fd, size_t *len, int timeout_ms) {
  uint8_t hdr[4];
  if (nt_recv_exact(fd, hdr, 4, timeout_ms) != 0) return NULL;
  *len = nt_be32(hdr);
  CHECK(*len < (1u << 30));
  uint8_t *p = malloc(*len ? *len : 1);
  CHECK(p != NULL);
  if (nt_recv_exact(fd, p, *len, timeout_ms) != 0) {
    free(p);
    return NULL;
  }
  return p;
}

/* 1 once the peer closed (EOF or reset), discarding what arrives first;
 * 0 at the deadline. */
static inline int nt_wait_eof(int fd, int timeout_ms) {
  int64_t deadline = nt_now_ms() + timeout_ms;
  uint8_t buf[4096];
  for (;;) {
    int64_t left = deadline - nt_now_ms();
    struct pollfd pfd = {fd, POLLIN, 0};
    if (left <= 0 || poll(&pfd, 1, (int)left) == 0) return 0;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 1;
  }
}

/* 1 if nothing arrives on fd within ms. */
static inline int nt_quiet(int fd, int ms) {
  struct pollfd pfd = {fd, POLLIN, 0};
  return poll(&pfd, 1, ms) == 0;
}

/* Polls cond (an expression) until true or timeout_ms passes. */
#define NT_WAIT(cond, timeout_ms)                                              \
  do {                                                                         \
    int64_t nt_deadline_ = nt_now_ms() + (timeout_ms);                         \
    while (!(cond)) {                                                          \
      if (nt_now_ms() > nt_deadline_)                                          \
        flyq_test_fail(__FILE__, __LINE__, "timed out waiting for %s", #cond); \
      usleep(2000);                                                            \
    }                                                                          \
  } while (0)

#endif /* FLYQ_SPEC_NETTEST_H */
