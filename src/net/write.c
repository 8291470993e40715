/* A connection's output: sends queued in order, each a list of chunks from
 * memory (written as they are, no copy) or from a file range. File bytes
 * are read with pread on the loop thread into a buffer the write request
 * owns, at most FLYQ__NET_FILE_CHUNK per uv_write, so a response of any
 * size costs a bounded amount of memory; at most FLYQ__NET_WINDOW bytes are
 * inside uv_write at once. A response that fits is one uv_write with
 * several buffers.
 *
 * Writes complete in order, so the send at the head of the queue is the
 * one that completes first; its callback runs once its last write did.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flyq/common.h"
#include "flyq/logmsg.h"
#include "net/internal.h"

#define MAX_BUFS 64            /* uv_buf_t per uv_write */
#define MAX_BUF_LEN (1u << 30) /* a uv_buf_t length is an unsigned int */

struct flyq__net_out {
  flyq__net_out_t *next;
  flyq_net_sent_cb cb;
  void *arg;
  uint64_t total;
  int status;  /* first error of its writes */
  int nwrites; /* its uv_writes in flight */
  size_t idx;  /* next chunk to submit */
  size_t off;  /* bytes of chunks[idx] already submitted */
  size_t n;
  flyq_net_chunk_t chunks[];
};

typedef struct net_write {
  uv_write_t req;
  flyq_conn_t *c;
  flyq__net_out_t *out;
  size_t bytes;
  int pooled; /* filebuf is FLYQ__NET_FILE_CHUNK long: reusable */
  struct net_write *next_free;
  uint8_t filebuf[]; /* the file bytes this write carries */
} net_write_t;

/* ---- Write requests --------------------------------------------------- */

/* A write request with room for fbytes file bytes. Those that carry file
 * bytes come from the listener's pool, so the pages they were read into
 * are reused instead of being faulted in again for every chunk. */
static net_write_t *write_new(flyq_net_t *n, size_t fbytes) {
  net_write_t *w = n->pool;
  if (fbytes > 0 && w != NULL) {
    n->pool = w->next_free;
    n->pool_len--;
    return w;
  }
  int pooled = fbytes > 0;
  w = malloc(sizeof *w + (pooled ? FLYQ__NET_FILE_CHUNK : 0));
  if (w) w->pooled = pooled;
  return w;
}

static void write_free(flyq_net_t *n, net_write_t *w) {
  if (!w->pooled || n->pool_len >= FLYQ__NET_POOL) {
    free(w);
    return;
  }
  w->next_free = n->pool;
  n->pool = w;
  n->pool_len++;
}

void flyq__net_pool_free(flyq_net_t *n) {
  while (n->pool) {
    net_write_t *w = n->pool;
    n->pool = w->next_free;
    free(w);
  }
  n->pool_len = 0;
}

static int pread_full(int fd, uint8_t *p, size_t len, uint64_t pos) {
  while (len > 0) {
    ssize_t r = pread(fd, p, len, (off_t)pos);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r == 0) return -EIO; /* the range runs past the end of the file */
    p += r;
    pos += (uint64_t)r;
    len -= (size_t)r;
  }
  return 0;
}

/* The bytes the next write takes from chunk ch (off already sent), given
 * the file budget left. */
static size_t take(const flyq_net_chunk_t *ch, size_t off, size_t budget) {
  size_t left = ch->len - off;
  if (left > MAX_BUF_LEN) left = MAX_BUF_LEN;
  return ch->data == NULL && left > budget ? budget : left;
}

/* File bytes the next write of out carries (walks as fill() will). */
static size_t plan_file_bytes(const flyq__net_out_t *out) {
  size_t fbytes = 0, off = out->off;
  int nb = 0;
  for (size_t i = out->idx; i < out->n && nb < MAX_BUFS; i++, off = 0) {
    const flyq_net_chunk_t *ch = &out->chunks[i];
    size_t n = take(ch, off, FLYQ__NET_FILE_CHUNK - fbytes);
    if (n == 0) break; /* file budget used up (chunks are never empty) */
    nb++;
    if (ch->data == NULL) fbytes += n;
    if (off + n < ch->len) break;
  }
  return fbytes;
}

/* Fills bufs from out's next chunks, reading file bytes into w->filebuf
 * (fbytes long). Advances out. Returns 0 or a pread error. */
static int fill(flyq__net_out_t *out, net_write_t *w, size_t fbytes,
                uv_buf_t *bufs, unsigned *nb) {
  size_t fpos = 0;
  while (out->idx < out->n && *nb < MAX_BUFS) {
    const flyq_net_chunk_t *ch = &out->chunks[out->idx];
    size_t n = take(ch, out->off, fbytes - fpos);
    if (n == 0) break;
    if (ch->data == NULL) {
      int rc = pread_full(ch->fd, w->filebuf + fpos, n, ch->pos + out->off);
      if (rc < 0) return rc;
      bufs[(*nb)++] = uv_buf_init((char *)w->filebuf + fpos, (unsigned)n);
      fpos += n;
    } else {
      bufs[(*nb)++] = uv_buf_init((char *)ch->data + out->off, (unsigned)n);
    }
    w->bytes += n;
    out->off += n;
    if (out->off < ch->len) break;
    out->idx++;
    out->off = 0;
  }
  return 0;
}

static void write_cb(uv_write_t *req, int status);

/* One uv_write with the next chunks of out. */
static int write_next(flyq_conn_t *c, flyq__net_out_t *out) {
  size_t fbytes = plan_file_bytes(out);
  net_write_t *w = write_new(c->net, fbytes);
  if (w == NULL) return -ENOMEM;
  uv_buf_t bufs[MAX_BUFS];
  unsigned nb = 0;
  w->c = c;
  w->out = out;
  w->bytes = 0;
  int rc = fill(out, w, fbytes, bufs, &nb);
  if (rc == 0)
    rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, nb, write_cb);
  if (rc < 0) {
    write_free(c->net, w);
    if (out->status == 0) out->status = rc;
    return rc;
  }
  if (out->idx == out->n) c->out_next = out->next;
  out->nwrites++;
  c->writing += w->bytes;
  return 0;
}

int flyq__conn_pump(flyq_conn_t *c) {
  while (c->state != FLYQ__CONN_CLOSING && c->out_next &&
         c->writing < FLYQ__NET_WINDOW) {
    int rc = write_next(c, c->out_next);
    if (rc < 0) {
      flyq_logmsg(FLYQ_LOG_WARN, "net", "%s: write: %s", c->peer,
                  flyq_strerror(rc));
      flyq_conn_close(c);
      return rc;
    }
  }
  return 0;
}

static void complete(flyq_conn_t *c, flyq__net_out_t *out, int status) {
  c->out_head = out->next;
  if (c->out_head == NULL) c->out_tail = NULL;
  if (c->out_next == out) c->out_next = out->next;
  c->out_bytes -= out->total;
  flyq_net_sent_cb cb = out->cb;
  void *arg = out->arg;
  free(out);
  cb(arg, status);
}

/* Completes the sends at the head whose writes are all done. */
static void complete_written(flyq_conn_t *c) {
  while (c->out_head && c->out_head != c->out_next && c->out_head->nwrites == 0)
    complete(c, c->out_head, c->out_head->status);
}

static void write_cb(uv_write_t *req, int status) {
  net_write_t *w = (net_write_t *)req;
  flyq_conn_t *c = w->c;
  flyq__net_out_t *out = w->out;
  c->writing -= w->bytes;
  write_free(c->net, w);
  out->nwrites--;
  if (status < 0 && out->status == 0) out->status = status;
  complete_written(c);
  if (status < 0) {
    flyq_conn_close(c);
    return;
  }
  flyq__conn_pump(c);
  flyq__conn_update(c);
}

void flyq__conn_cancel_output(flyq_conn_t *c, int status) {
  while (c->out_head) {
    flyq__net_out_t *out = c->out_head;
    complete(c, out, out->status ? out->status : status);
  }
}

int flyq__conn_output_empty(const flyq_conn_t *c) {
  return c->out_head == NULL;
}

int flyq__conn_queue(flyq_conn_t *c, const flyq_net_chunk_t *chunks, size_t n,
                     flyq_net_sent_cb cb, void *arg) {
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) total += chunks[i].len;
  if (n == 0 || total == 0 || cb == NULL) return FLYQ_ERR_INVALID_ARG;
  flyq__net_out_t *out = malloc(sizeof *out + n * sizeof *chunks);
  if (out == NULL) return -ENOMEM;
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < n; i++) /* empty chunks would make empty writes */
    if (chunks[i].len > 0) out->chunks[out->n++] = chunks[i];
  out->cb = cb;
  out->arg = arg;
  out->total = total;
  if (c->out_tail)
    c->out_tail->next = out;
  else
    c->out_head = out;
  c->out_tail = out;
  if (c->out_next == NULL) c->out_next = out;
  c->out_bytes += total;
  flyq__conn_pump(c); /* an error closes c; the close completes out */
  return 0;
}

int flyq_conn_send(flyq_conn_t *c, const flyq_net_chunk_t *chunks, size_t n,
                   flyq_net_sent_cb cb, void *arg) {
  if (c->state == FLYQ__CONN_CLOSING || c->state == FLYQ__CONN_REJECTED)
    return UV_ECANCELED;
  int rc = flyq__conn_queue(c, chunks, n, cb, arg);
  if (rc == 0 && !c->in_dispatch) flyq__conn_update(c);
  return rc;
}
