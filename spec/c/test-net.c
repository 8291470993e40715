/* The network layer (src/net) on its own: framing of split and pipelined
 * frames, the limits (max_frame_bytes, bad sizes, max_connections, the
 * partial-frame timeout, max_inflight and max_output_bytes backpressure),
 * file-range output, EOF and the graceful stop. The listener runs on
 * a loop thread with a small handler driven by the first payload byte:
 *   'E' echo the payload          'B' answer N (be32 at 1) pattern bytes
 *   'F' answer '<' + file bytes [off, off+n) (be32 at 1, 5) + '>'
 *   'H' hold: no answer until an 'R' from any connection releases all held
 */
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/vfs.h>

#include "net/net.h"
#include "nettest.h"

typedef struct held {
  struct held *next;
  flyq_conn_t *c;
  uint8_t *frame; /* the echo to send on release */
  size_t len;
} held_t;

static struct {
  nt_loop_t l;
  flyq_net_t *net;
  flyq_net_config_t cfg;
  int port;
  int fd; /* the file 'F' reads */
  held_t *held;
  atomic_int frames, opens, closes;
  uint8_t reject[FLYQ_NET_REJECT_COUNT][12];
} S;

#define FILE_BYTES (3u << 20)

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + 13); }
static uint8_t file_byte(size_t i) { return (uint8_t)(i * 31 + (i >> 12)); }

/* ---- The handler (loop thread) ---------------------------------------- */

static void freed_when_sent(void *arg, int status) {
  (void)status;
  free(arg);
}

/* A frame of len payload bytes; the payload is left for the caller. */
static uint8_t *frame_new(size_t len) {
  uint8_t *f = malloc(4 + len);
  CHECK(f != NULL);
  nt_put_be32(f, (uint32_t)len);
  return f;
}

static void send_frame(flyq_conn_t *c, uint8_t *f, size_t len) {
  flyq_net_chunk_t ch = {f, -1, 0, 4 + len};
  if (flyq_conn_send(c, &ch, 1, freed_when_sent, f) < 0) free(f);
}

static void echo(flyq_conn_t *c, const uint8_t *p, size_t len) {
  uint8_t *f = frame_new(len);
  memcpy(f + 4, p, len);
  send_frame(c, f, len);
}

static void big(flyq_conn_t *c, const uint8_t *p) {
  size_t n = nt_be32(p + 1);
  uint8_t *f = frame_new(n);
  for (size_t i = 0; i < n; i++) f[4 + i] = pattern(i);
  send_frame(c, f, n);
}

/* '<', the file range, '>': memory, file, memory in one send. */
static void file_range(flyq_conn_t *c, const uint8_t *p) {
  size_t off = nt_be32(p + 1), n = nt_be32(p + 5);
  uint8_t *f = frame_new(n + 2);
  f[4] = '<';
  f[5] = '>';
  flyq_net_chunk_t ch[3] = {
      {f, -1, 0, 5}, {NULL, S.fd, off, n}, {f + 5, -1, 0, 1}};
  if (flyq_conn_send(c, ch, 3, freed_when_sent, f) < 0) free(f);
}

static void hold(flyq_conn_t *c, const uint8_t *p, size_t len) {
  held_t *h = calloc(1, sizeof *h);
  CHECK(h != NULL);
  h->c = c;
  h->frame = frame_new(len);
  h->len = len;
  memcpy(h->frame + 4, p, len);
  held_t **end = &S.held;
  while (*end) end = &(*end)->next;
  *end = h;
}

static void release_all(void) {
  while (S.held) {
    held_t *h = S.held;
    S.held = h->next;
    send_frame(h->c, h->frame, h->len);
    flyq_conn_request_done(h->c);
    free(h);
  }
}

static void on_frame(flyq_conn_t *c, uint8_t *p, size_t len, void *arg) {
  (void)arg;
  atomic_fetch_add(&S.frames, 1);
  switch (p[0]) {
  case 'B': big(c, p); break;
  case 'F': file_range(c, p); break;
  case 'H': hold(c, p, len); return; /* stays in flight */
  case 'R':
    release_all();
    echo(c, p, len);
    break;
  default: echo(c, p, len); break;
  }
  flyq_conn_request_done(c);
}

static int on_open(flyq_conn_t *c, void *arg) {
  (void)c, (void)arg;
  atomic_fetch_add(&S.opens, 1);
  return 0;
}

static void on_close(flyq_conn_t *c, void *arg) {
  (void)arg;
  for (held_t **h = &S.held; *h;) {
    held_t *x = *h;
    if (x->c != c) {
      h = &x->next;
      continue;
    }
    *h = x->next;
    free(x->frame);
    free(x);
  }
  atomic_fetch_add(&S.closes, 1);
}

/* ---- Setup ------------------------------------------------------------ */

static void config_default(void) {
  memset(&S, 0, sizeof S);
  S.cfg.listen = "127.0.0.1:0";
  S.cfg.max_frame_bytes = 8u << 20;
  S.cfg.max_connections = 100;
  S.cfg.max_inflight = 64;
  S.cfg.max_output_bytes = 16u << 20;
  S.cfg.request_timeout_ms = 30000;
  for (int i = 0; i < FLYQ_NET_REJECT_COUNT; i++) {
    memcpy(S.reject[i], "\0\0\0\x08REJECT", 10);
    S.reject[i][10] = (uint8_t)('0' + i);
    S.reject[i][11] = '.';
    S.cfg.reject[i] = S.reject[i];
    S.cfg.reject_len[i] = sizeof S.reject[i];
  }
  S.cfg.cb = (flyq_net_callbacks_t){on_open, on_frame, on_close};
}

static void make_file(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/data", flyq_test_tmpdir());
  S.fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(S.fd >= 0);
  uint8_t *b = malloc(FILE_BYTES);
  CHECK(b != NULL);
  for (size_t i = 0; i < FILE_BYTES; i++) b[i] = file_byte(i);
  CHECK(write(S.fd, b, FILE_BYTES) == (ssize_t)FILE_BYTES);
  free(b);
}

static void listen_on_loop(void *arg) {
  int *rc = arg;
  char host[64];
  *rc = flyq_net_listen(&S.l.loop, &S.cfg, &S.net);
  if (*rc == 0) *rc = flyq_net_address(S.net, host, sizeof host, &S.port);
}

static void start(void) {
  int rc;
  signal(SIGPIPE, SIG_IGN); /* as flyq serve does: see net.h */
  make_file();
  nt_loop_start(&S.l);
  nt_loop_call(&S.l, listen_on_loop, &rc);
  CHECK_OK(rc);
  CHECK(S.port > 0);
}

static void close_on_loop(void *arg) {
  int64_t *timeout = arg;
  if (S.net) flyq_net_close(S.net, *timeout, NULL, NULL);
  S.net = NULL;
}

static void stop_after(int64_t timeout_ms) {
  nt_loop_stop(&S.l, close_on_loop, &timeout_ms);
  CHECK(S.held == NULL);
  close(S.fd);
}

static void stop(void) { stop_after(0); }

/* ---- Client side ------------------------------------------------------ */

/* Appends a frame "<kind><body>" to buf at *len. */
static size_t put_frame(uint8_t *buf, size_t len, char kind, const void *body,
                        size_t n) {
  nt_put_be32(buf + len, (uint32_t)(n + 1));
  buf[len + 4] = (uint8_t)kind;
  if (n) memcpy(buf + len + 5, body, n);
  return len + 5 + n;
}

/* Sends one frame of kind with an 8-byte body of two be32 values. */
static void send_req(int fd, char kind, uint32_t a, uint32_t b) {
  uint8_t body[8], buf[16];
  nt_put_be32(body, a);
  nt_put_be32(body + 4, b);
  nt_send(fd, buf, put_frame(buf, 0, kind, body, 8));
}

static void expect_echo(int fd, char kind, const void *body, size_t n) {
  size_t len;
  uint8_t *p = nt_read_frame(fd, &len, 5000);
  CHECK(p != NULL);
  CHECK_EQ(len, n + 1);
  CHECK_EQ(p[0], kind);
  CHECK_MEM(p + 1, body, n);
  free(p);
}

static void expect_reject(int fd, int reason) {
  uint8_t got[sizeof S.reject[0]];
  CHECK_EQ(nt_recv_exact(fd, got, sizeof got, 5000), 0);
  CHECK_MEM(got, S.reject[reason], sizeof got);
  CHECK(nt_wait_eof(fd, 5000));
}

/* Echo round trip on a connection: it is being served. */
static void ping_answer(int fd) {
  uint8_t body[8];
  nt_put_be32(body, 1);
  nt_put_be32(body + 4, 2);
  expect_echo(fd, 'E', body, 8);
}

static void ping(int fd) {
  send_req(fd, 'E', 1, 2);
  ping_answer(fd);
}

/* ---- Tests ------------------------------------------------------------ */

/* Frames pipelined in one stream, sent in pieces from 1 byte to 7000, some
 * larger than the read slab, come back whole and in order. */
TEST(frames_split_and_pipelined) {
  config_default();
  start();
  size_t sizes[4] = {10, 100000, 300000, 7};
  size_t total = 0;
  for (int i = 0; i < 4; i++) total += 5 + sizes[i];
  uint8_t *buf = malloc(total), *body = malloc(300000);
  CHECK(buf && body);
  for (size_t i = 0; i < 300000; i++) body[i] = pattern(i);
  size_t len = 0;
  for (int i = 0; i < 4; i++) len = put_frame(buf, len, 'E', body, sizes[i]);
  int fd = nt_connect(S.port);
  size_t pos = 0;
  for (; pos < 20; pos++) nt_send(fd, buf + pos, 1);
  for (size_t n; pos < len; pos += n) {
    n = len - pos < 7000 ? len - pos : 7000;
    nt_send(fd, buf + pos, n);
  }
  for (int i = 0; i < 4; i++) expect_echo(fd, 'E', body, sizes[i]);
  CHECK_EQ(atomic_load(&S.frames), 4);
  close(fd);
  free(buf);
  free(body);
  stop();
}

/* A frame of several MiB arrives in many reads into a growing buffer. */
TEST(frame_of_megabytes) {
  config_default();
  start();
  size_t n = 5u << 20;
  uint8_t *buf = malloc(5 + n);
  CHECK(buf != NULL);
  for (size_t i = 0; i < n; i++) buf[5 + i] = pattern(i);
  put_frame(buf, 0, 'E', buf + 5, n);
  int fd = nt_connect(S.port);
  nt_send(fd, buf, 5 + n);
  expect_echo(fd, 'E', buf + 5, n);
  close(fd);
  free(buf);
  stop();
}

/* Memory and file chunks go out in order, file ranges larger than one
 * read chunk included. */
TEST(file_ranges) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  uint32_t ranges[3][2] = {
      {0, 100}, {12345, (5u << 19) + 17}, {FILE_BYTES - 1, 1}};
  for (int r = 0; r < 3; r++) send_req(fd, 'F', ranges[r][0], ranges[r][1]);
  for (int r = 0; r < 3; r++) {
    size_t len;
    uint8_t *p = nt_read_frame(fd, &len, 5000);
    CHECK(p != NULL);
    CHECK_EQ(len, ranges[r][1] + 2);
    CHECK_EQ(p[0], '<');
    CHECK_EQ(p[len - 1], '>');
    size_t same = 0;
    while (same < ranges[r][1] && p[1 + same] == file_byte(ranges[r][0] + same))
      same++;
    CHECK_EQ(same, ranges[r][1]);
    free(p);
  }
  close(fd);
  stop();
}

/* Drops S.fd's pages from the page cache; returns 1 when none is left
 * (0 on tmpfs, which has no disk behind it to read from). */
static int evict_file(void) {
  struct statfs fs;
  size_t pages = (FILE_BYTES + 4095) / 4096, resident = 0;
  unsigned char vec[(FILE_BYTES + 4095) / 4096];
  void *m;
  CHECK_OK(fstatfs(S.fd, &fs));
  if (fs.f_type == TMPFS_MAGIC) return 0;
  CHECK_OK(fdatasync(S.fd));
  CHECK_OK(posix_fadvise(S.fd, 0, 0, POSIX_FADV_DONTNEED));
  m = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, S.fd, 0);
  CHECK(m != MAP_FAILED);
  CHECK_OK(mincore(m, FILE_BYTES, vec));
  for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
  munmap(m, FILE_BYTES);
  return resident == 0;
}

static void read_cold_reads(void *arg) {
  *(uint64_t *)arg = flyq_net_cold_reads(S.net);
}

/* Checks the answer to 'F' off n on fd. */
static void expect_file(int fd, uint32_t off, uint32_t n) {
  size_t len, same = 0;
  uint8_t *p = nt_read_frame(fd, &len, 10000);
  CHECK(p != NULL);
  CHECK_EQ(len, n + 2);
  while (same < n && p[1 + same] == file_byte(off + same)) same++;
  CHECK_EQ(same, n);
  free(p);
}

static uint64_t cold_reads(void) {
  uint64_t n = 0;
  nt_loop_call(&S.l, read_cold_reads, &n);
  return n;
}

/* File bytes the page cache does not hold are read in the thread pool, not
 * on the loop; the answer is the same, in order with the rest. (A read
 * with RWF_NOWAIT may start readahead that a fast disk finishes at once:
 * then the bytes were cached after all, and the test evicts again.) */
TEST(cold_file_ranges_are_read_in_the_pool) {
  uint64_t before = 0, after = 0;
  int evicted = 0;
  config_default();
  start();
  int fd = nt_connect(S.port);
  for (int attempt = 0; attempt < 5 && after == before; attempt++) {
    evicted = evict_file();
    before = cold_reads();
    send_req(fd, 'F', 4096, (2u << 20) + 5); /* three writes' worth */
    send_req(fd, 'E', 1, 2);                 /* answered after it */
    expect_file(fd, 4096, (2u << 20) + 5);
    ping_answer(fd);
    after = cold_reads();
    if (!evicted) break; /* tmpfs: no disk, nothing to evict */
  }
  if (evicted) {
    CHECK(after > before);
    /* Once cached, the same range is read on the loop. */
    send_req(fd, 'F', 4096, (2u << 20) + 5);
    expect_file(fd, 4096, (2u << 20) + 5);
    CHECK_EQ(cold_reads(), after);
  }
  close(fd);
  stop();
}

/* A connection that goes away while its file bytes are read in the pool
 * is closed once the read is done; the listener goes on. */
TEST(closing_during_a_cold_read) {
  int evicted = 0;
  config_default();
  start();
  for (int round = 0; round < 5; round++) {
    evicted += evict_file();
    int fd = nt_connect(S.port);
    send_req(fd, 'F', 0, FILE_BYTES);
    close(fd);
    NT_WAIT(atomic_load(&S.closes) == round + 1, 10000);
  }
  if (evicted) CHECK(cold_reads() >= 1); /* some were in the pool */
  int fd = nt_connect(S.port);
  ping(fd);
  close(fd);
  stop();
}

TEST(frame_too_large) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  uint8_t hdr[16] = {0};
  nt_put_be32(hdr, S.cfg.max_frame_bytes + 1);
  nt_send(fd, hdr, sizeof hdr);
  expect_reject(fd, FLYQ_NET_REJECT_TOO_LARGE);
  close(fd);
  fd = nt_connect(S.port); /* the listener goes on */
  ping(fd);
  close(fd);
  stop();
}

TEST(frame_size_invalid) {
  config_default();
  start();
  uint32_t sizes[2] = {3, 0xFFFFFFF0u};
  for (int i = 0; i < 2; i++) {
    int fd = nt_connect(S.port);
    uint8_t hdr[4];
    nt_put_be32(hdr, sizes[i]);
    nt_send(fd, hdr, 4);
    expect_reject(fd, FLYQ_NET_REJECT_BAD_SIZE);
    close(fd);
  }
  stop();
}

TEST(max_connections) {
  config_default();
  S.cfg.max_connections = 3;
  start();
  int fds[3];
  for (int i = 0; i < 3; i++) {
    fds[i] = nt_connect(S.port);
    ping(fds[i]);
  }
  int extra = nt_connect(S.port);
  expect_reject(extra, FLYQ_NET_REJECT_TOO_MANY);
  close(extra);
  CHECK_EQ(atomic_load(&S.opens), 3);
  close(fds[0]);
  NT_WAIT(atomic_load(&S.closes) == 1, 5000);
  fds[0] = nt_connect(S.port);
  for (int i = 0; i < 3; i++) {
    ping(fds[i]);
    close(fds[i]);
  }
  stop();
}

/* A frame that stops arriving is refused after request_timeout_ms; an
 * idle connection (no partial frame) is not. */
TEST(partial_frame_times_out) {
  config_default();
  S.cfg.request_timeout_ms = 200;
  start();
  int idle = nt_connect(S.port);
  int slow = nt_connect(S.port);
  uint8_t part[6] = {0, 0, 0, 20, 'E', 'x'};
  int64_t t0 = nt_now_ms();
  nt_send(slow, part, sizeof part);
  expect_reject(slow, FLYQ_NET_REJECT_TIMEOUT);
  int64_t took = nt_now_ms() - t0;
  CHECK(took >= 190);
  CHECK(took < 3000);
  ping(idle); /* idle for longer than the timeout, still served */
  close(idle);
  close(slow);
  stop();
}

/* max_inflight: no frame is read beyond it until requests finish; frames
 * held back come through, in order, once they do. */
TEST(inflight_limit) {
  config_default();
  S.cfg.max_inflight = 4;
  start();
  int a = nt_connect(S.port), b = nt_connect(S.port);
  for (uint32_t i = 0; i < 10; i++) send_req(a, 'H', i, 0);
  NT_WAIT(atomic_load(&S.frames) == 4, 5000);
  CHECK(nt_quiet(a, 100));
  CHECK_EQ(atomic_load(&S.frames), 4);
  /* Each release lets 4 more in: 4 held + R + 4, + R + the last 2, + R. */
  const int after[3] = {9, 12, 13};
  for (int round = 0; round < 3; round++) {
    send_req(b, 'R', 0, 0);
    uint8_t body[8] = {0};
    expect_echo(b, 'R', body, 8);
    NT_WAIT(atomic_load(&S.frames) == after[round], 5000);
  }
  for (uint32_t i = 0; i < 10; i++) {
    uint8_t body[8];
    nt_put_be32(body, i);
    nt_put_be32(body + 4, 0);
    expect_echo(a, 'H', body, 8);
  }
  close(a);
  close(b);
  stop();
}

/* Waits until the frame count has not moved for ms, and returns it. */
static int settle(int ms) {
  int last = -1, now = atomic_load(&S.frames);
  while (now != last) {
    last = now;
    poll(NULL, 0, ms);
    now = atomic_load(&S.frames);
  }
  return now;
}

/* A client that never reads: the server stops reading it once its output
 * is over max_output_bytes (memory stays bounded), keeps serving others,
 * and resumes when the client reads. */
TEST(output_cap_pauses_reading) {
  config_default();
  S.cfg.max_output_bytes = 1u << 20;
  start();
  int a = socket(AF_INET, SOCK_STREAM, 0);
  int small = 32 * 1024;
  setsockopt(a, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)S.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_OK(connect(a, (struct sockaddr *)&addr, sizeof addr));
  const uint32_t n = 200, size = 512 * 1024;
  for (uint32_t i = 0; i < n; i++) send_req(a, 'B', size, i);
  int handled = settle(150);
  /* Kernel buffers absorb a few MiB; the rest waits unread. */
  CHECK(handled < 24);
  int b = nt_connect(S.port);
  ping(b);
  close(b);
  for (uint32_t i = 0; i < n; i++) {
    size_t len;
    uint8_t *p = nt_read_frame(a, &len, 10000);
    CHECK(p != NULL);
    CHECK_EQ(len, size);
    CHECK_EQ(p[len - 1], pattern(len - 1));
    free(p);
  }
  CHECK_EQ(atomic_load(&S.frames), (int)n + 1);
  close(a);
  stop();
}

/* EOF (a half-close included) closes the connection at once: requests
 * still in flight are cancelled through on_close. */
TEST(eof_closes_and_cancels) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  ping(fd);
  send_req(fd, 'H', 1, 1);
  NT_WAIT(atomic_load(&S.frames) == 2, 5000);
  shutdown(fd, SHUT_WR);
  NT_WAIT(atomic_load(&S.closes) == 1, 5000);
  CHECK(nt_wait_eof(fd, 5000));
  close(fd);
  stop(); /* checks that on_close dropped the held request */
}

/* Stopping: requests in flight get until the timeout, then the connection
 * is closed; the loop ends with every handle closed. */
TEST(stop_waits_then_closes) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  send_req(fd, 'H', 1, 1);
  NT_WAIT(atomic_load(&S.frames) == 1, 5000);
  int64_t t0 = nt_now_ms();
  stop_after(200);
  CHECK(nt_now_ms() - t0 >= 150);
  CHECK(nt_wait_eof(fd, 5000));
  CHECK(nt_try_connect(S.port) < 0);
  close(fd);
}

TEST(parse_addr) {
  struct sockaddr_storage a;
  CHECK_OK(flyq_net_parse_addr("127.0.0.1:0", &a));
  CHECK(flyq_net_is_loopback(&a));
  CHECK_OK(flyq_net_parse_addr("127.9.8.7:65535", &a));
  CHECK(flyq_net_is_loopback(&a));
  CHECK_EQ(ntohs(((struct sockaddr_in *)&a)->sin_port), 65535);
  CHECK_OK(flyq_net_parse_addr("[::1]:7500", &a));
  CHECK_EQ(a.ss_family, AF_INET6);
  CHECK(flyq_net_is_loopback(&a));
  CHECK_OK(flyq_net_parse_addr("::1:7500", &a));
  CHECK(flyq_net_is_loopback(&a));
  CHECK_OK(flyq_net_parse_addr("0.0.0.0:7500", &a));
  CHECK(!flyq_net_is_loopback(&a));
  CHECK_OK(flyq_net_parse_addr("[::]:1", &a));
  CHECK(!flyq_net_is_loopback(&a));
  CHECK_OK(flyq_net_parse_addr("10.1.2.3:1", &a));
  CHECK(!flyq_net_is_loopback(&a));
  CHECK_OK(flyq_net_parse_addr("localhost:7500", &a));
  CHECK(flyq_net_is_loopback(&a));
  const char *bad[] = {
      "127.0.0.1",     "127.0.0.1:", ":7500", "127.0.0.1:65536",
      "127.0.0.1:12x", "[::1:7500",  "[]:1",  "1.2.3.4:1234567"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    CHECK_EQ(flyq_net_parse_addr(bad[i], &a), FLYQ_ERR_INVALID_ARG);
}

static void listen_fails_on_loop(void *arg) {
  int *rc = arg;
  flyq_net_t *n = NULL;
  *rc = flyq_net_listen(&S.l.loop, &S.cfg, &n);
}

/* An address in use is an error, and what was made is freed by the loop. */
TEST(listen_error) {
  config_default();
  start();
  char addr[32];
  snprintf(addr, sizeof addr, "127.0.0.1:%d", S.port);
  S.cfg.listen = addr;
  int rc = 0;
  nt_loop_call(&S.l, listen_fails_on_loop, &rc);
  CHECK_EQ(rc, UV_EADDRINUSE);
  stop();
}

TEST_LIST(TEST_ENTRY(frames_split_and_pipelined) TEST_ENTRY(frame_of_megabytes)
              TEST_ENTRY(file_ranges)
              TEST_ENTRY(cold_file_ranges_are_read_in_the_pool)
              TEST_ENTRY(closing_during_a_cold_read) TEST_ENTRY(frame_too_large)
                  TEST_ENTRY(frame_size_invalid) TEST_ENTRY(max_connections)
                      TEST_ENTRY(partial_frame_times_out)
                          TEST_ENTRY(inflight_limit)
                              TEST_ENTRY(output_cap_pauses_reading)
                                  TEST_ENTRY(eof_closes_and_cancels)
                                      TEST_ENTRY(stop_waits_then_closes)
                                          TEST_ENTRY(parse_addr)
                                              TEST_ENTRY(listen_error));
