/* A connection's output: sends queued in order, each a list of chunks from
 * memory (written as they are, no copy) or from a file range. File bytes
 * are read into a buffer the write request owns, at most
 * FLYQ__NET_FILE_CHUNK per uv_write, so a response of any size costs a
 * bounded amount of memory; at most FLYQ__NET_WINDOW bytes are inside
 * uv_write at once. A response that fits is one uv_write with several
 * buffers.
 *
 * File bytes in the page cache are read on the loop thread
 * (preadv2 with RWF_NOWAIT, which never waits for the disk); a range that
 * is not (a consumer reading old data) is read in libuv's thread pool, so
 * that the disk never stalls the loop. Meanwhile the connection's later
 * writes wait (they must go out in order), and its close waits for the
 * read: the file descriptors and the write stay valid until it is done.
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
#include "util/fileio.h"

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

/* A file range a write carries: len bytes at pos of fd, into filebuf at
 * at; done of them read so far. */
typedef struct file_read {
  int fd;
  uint64_t pos;
  size_t len, at, done;
} file_read_t;

/* What a write that carries file bytes needs beyond a memory-only one:
 * its buffers and ranges outlive write_next when the ranges are read in
 * the thread pool. Only the pooled writes have it. */
typedef struct file_io {
  uv_work_t work; /* the reads that wait for the disk */
  int status;     /* of those reads */
  unsigned nb, nreads;
  uv_buf_t bufs[MAX_BUFS];
  file_read_t reads[MAX_BUFS];
  uint8_t filebuf[FLYQ__NET_FILE_CHUNK]; /* the file bytes it carries */
} file_io_t;

typedef struct net_write {
  uv_write_t req;
  flyq_conn_t *c;
  flyq__net_out_t *out;
  size_t bytes;
  file_io_t *io; /* NULL for a memory-only write; else right after it,
                    and the write is kept in the listener's pool */
  struct net_write *next_free;
} net_write_t;

/* ---- Write requests --------------------------------------------------- */

/* A write request, with a file_io when it carries file bytes (fbytes).
 * Those come from the listener's pool, so the pages they were read into
 * are reused instead of being faulted in again for every chunk. */
static net_write_t *write_new(flyq_net_t *n, size_t fbytes) {
  net_write_t *w = n->pool;
  if (fbytes > 0 && w != NULL) {
    n->pool = w->next_free;
    n->pool_len--;
    return w;
  }
  w = malloc(sizeof *w + (fbytes > 0 ? sizeof(file_io_t) : 0));
  if (w) w->io = fbytes > 0 ? (file_io_t *)(w + 1) : NULL;
  return w;
}

static void write_free(flyq_net_t *n, net_write_t *w) {
  if (w->io == NULL || n->pool_len >= FLYQ__NET_POOL) {
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

/* Reads what is left of io's file ranges (flyq__pread_at: with nowait,
 * -EAGAIN when some bytes are not in the page cache). */
static int read_ranges(file_io_t *io, int nowait) {
  for (unsigned i = 0; i < io->nreads; i++) {
    file_read_t *r = &io->reads[i];
    int rc = flyq__pread_at(r->fd, io->filebuf + r->at, r->len, r->pos,
                            &r->done, nowait);
    if (rc < 0) return rc;
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

/* Fills bufs (*nb of them) from out's next chunks; file bytes are to be
 * read into w->io (fbytes of them) as its reads say. Advances out. */
static void fill(flyq__net_out_t *out, net_write_t *w, size_t fbytes,
                 uv_buf_t *bufs, unsigned *nb) {
  size_t fpos = 0;
  while (out->idx < out->n && *nb < MAX_BUFS) {
    const flyq_net_chunk_t *ch = &out->chunks[out->idx];
    size_t n = take(ch, out->off, fbytes - fpos);
    if (n == 0) break;
    if (ch->data == NULL) { /* then fbytes > 0: w->io exists */
      w->io->reads[w->io->nreads++] =
          (file_read_t){ch->fd, ch->pos + out->off, n, fpos, 0};
      bufs[(*nb)++] = uv_buf_init((char *)w->io->filebuf + fpos, (unsigned)n);
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
}

static void write_cb(uv_write_t *req, int status);

/* w did not go out (rc: a read or uv_write error, or UV_ECANCELED): its
 * bytes leave the window and out gets the error. */
static void write_failed(flyq_conn_t *c, net_write_t *w, int rc) {
  flyq__net_out_t *out = w->out;
  c->writing -= w->bytes;
  out->nwrites--;
  if (out->status == 0) out->status = rc;
  write_free(c->net, w);
}

/* Hands w with bufs[0..nb) (copied by libuv) to the kernel. Returns 0, or
 * the error (w is then failed). */
static int write_submit(flyq_conn_t *c, net_write_t *w, uv_buf_t *bufs,
                        unsigned nb) {
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, nb, write_cb);
  if (rc < 0) write_failed(c, w, rc);
  return rc;
}

static void cold_read_work(uv_work_t *req) {
  net_write_t *w = req->data;
  w->io->status = read_ranges(w->io, 0);
}

static void cold_read_done(uv_work_t *req, int status) {
  net_write_t *w = req->data;
  file_io_t *io = w->io;
  flyq_conn_t *c = w->c;
  int rc = status < 0 ? status : io->status;
  c->cold_reading = 0;
  if (c->state == FLYQ__CONN_CLOSING) {
    write_failed(c, w, UV_ECANCELED);
    flyq__conn_closed(c); /* its close waited for this read */
    return;
  }
  if (rc == 0) rc = write_submit(c, w, io->bufs, io->nb);
  else write_failed(c, w, rc);
  if (rc < 0) {
    flyq_logmsg(FLYQ_LOG_WARN, "net", "%s: write: %s", c->peer,
                flyq_strerror(rc));
    flyq_conn_close(c);
    return;
  }
  flyq__conn_pump(c);
  flyq__conn_update(c);
}

/* Reads what the page cache lacks of w in the thread pool, then writes. */
static int write_later(flyq_conn_t *c, net_write_t *w) {
  int rc;
  w->io->work.data = w;
  rc = uv_queue_work(c->net->loop, &w->io->work, cold_read_work,
                     cold_read_done);
  if (rc < 0) {
    write_failed(c, w, rc);
    return rc;
  }
  c->cold_reading = 1;
  c->net->cold_reads++;
  return 0;
}

/* One uv_write with the next chunks of out; its file bytes read here when
 * the page cache has them, else in the thread pool first. */
static int write_next(flyq_conn_t *c, flyq__net_out_t *out) {
  size_t fbytes = plan_file_bytes(out);
  net_write_t *w = write_new(c->net, fbytes);
  uv_buf_t mem_bufs[MAX_BUFS], *bufs;
  unsigned nb = 0;
  int rc;
  if (w == NULL) return -ENOMEM;
  w->c = c;
  w->out = out;
  w->bytes = 0;
  if (w->io) w->io->nreads = 0;
  bufs = w->io ? w->io->bufs : mem_bufs;
  fill(out, w, fbytes, bufs, &nb);
  if (out->idx == out->n) c->out_next = out->next;
  out->nwrites++;
  c->writing += w->bytes;
  if (w->io) {
    w->io->nb = nb;
    rc = read_ranges(w->io, 1);
    if (rc == -EAGAIN) return write_later(c, w);
    if (rc < 0) {
      write_failed(c, w, rc);
      return rc;
    }
  }
  return write_submit(c, w, bufs, nb);
}

int flyq__conn_pump(flyq_conn_t *c) {
  while (c->state != FLYQ__CONN_CLOSING && c->out_next &&
         !c->cold_reading && c->writing < FLYQ__NET_WINDOW) {
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
