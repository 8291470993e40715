/* Fetch (API 1): one broker fetch for the whole request, answered at once
 * or parked by the broker until min_bytes arrive or max_wait_ms passes.
 * The stored batches are never copied into the response buffer: the
 * encoder leaves a splice point per partition and the network layer sends
 * the slice's file range there, so the response is the encoded parts and
 * the file ranges in turn. The slices are released once it has been sent.
 * Partitions that go through on_consume hooks (the topic's, or the filter
 * of a version 1 request) are the exception: filter.c reads and rewrites
 * them, and they are copied into the response.
 */
#include <errno.h>
#include <string.h>

#include "server/internal.h"

/* What the response needs from the request, in the request's arena. */
typedef struct fetch_state {
  int32_t ntopics;
  size_t nparts;     /* all topics */
  flyq_str_t *names; /* copies of the requested names */
  int32_t *counts;   /* partitions per topic */
  int *invalid;      /* the topic's name error (not valid, not allowed) */
  int16_t version;
  const char *filter; /* v1: the consumer's filter, or NULL */
  const char *params; /* its params as JSON */
  const flyq_fetch_part_req_t *parts; /* the broker's request, in req's arena */
  flyq__part_read_t *reads;   /* per partition, or NULL */
  flyq__filtered_t *filtered; /* per partition, or NULL */
  uv_work_t work;             /* reads in the thread pool */
} fetch_state_t;

static void part_fill(flyq_proto_fetch_resp_part_t *out,
                      const flyq_fetch_part_t *fp, int invalid,
                      const flyq__filtered_t *f) {
  int err = invalid < 0 ? invalid : fp->err;
  if (err == 0 && f && f->err < 0) err = f->err;
  out->partition = fp->partition;
  out->error_code = flyq_wire_error_from(err);
  out->error_message = f && f->msg ? flyq_str(f->msg) : flyq__errmsg(err);
  out->high_watermark = fp->high_watermark;
  out->log_start_offset = fp->log_start_offset;
  out->flushed_offset = fp->flushed_offset;
  out->records.ptr = NULL; /* deferred when len > 0: see splice_chunks() */
  out->records.len = err == 0 ? (int32_t)fp->slice.len : 0;
  if (err == 0 && f && f->active) /* from memory, copied into the frame */
    out->records = (flyq_bytes_t){f->data ? f->data : (const uint8_t *)"",
                                  (int32_t)f->len};
}

/* The response's chunks: encoded bytes and slices in turn. */
static int splice_chunks(flyq__req_t *req, const size_t *at, size_t nat) {
  const flyq_broker_fetch_result_t *res = req->fetch;
  flyq_net_chunk_t *ch =
      flyq_arena_calloc(&req->arena, 2 * nat + 1, sizeof *ch);
  if (ch == NULL) return -ENOMEM;
  size_t from = 0, n = 0, d = 0;
  for (size_t i = 0; i < res->nparts && d < nat; i++) {
    const flyq_slice_t *s = &res->parts[i].slice;
    if (s->len == 0 || res->parts[i].err < 0) continue;
    ch[n++] = (flyq_net_chunk_t){req->out.data + from, -1, 0, at[d] - from};
    ch[n++] = (flyq_net_chunk_t){NULL, s->fd, s->pos, s->len};
    from = at[d++];
  }
  ch[n++] =
      (flyq_net_chunk_t){req->out.data + from, -1, 0, req->out.len - from};
  req->chunks = ch;
  req->nchunks = n;
  return 0;
}

static int encode(flyq__req_t *req, const fetch_state_t *st) {
  const flyq_broker_fetch_result_t *res = req->fetch;
  if (res->nparts != st->nparts) return FLYQ_ERR_INVALID_ARG;
  flyq_proto_fetch_resp_topic_t *topics =
      flyq_arena_calloc(&req->arena, (size_t)st->ntopics, sizeof *topics);
  flyq_proto_fetch_resp_part_t *parts =
      flyq_arena_calloc(&req->arena, st->nparts, sizeof *parts);
  if ((topics == NULL && st->ntopics > 0) || (parts == NULL && st->nparts > 0))
    return -ENOMEM;
  int64_t *next = flyq_arena_calloc(&req->arena, st->nparts, sizeof *next);
  if (next == NULL && st->nparts > 0) return -ENOMEM;
  size_t k = 0, ndeferred = 0;
  for (int32_t t = 0; t < st->ntopics; t++) {
    topics[t] =
        (flyq_proto_fetch_resp_topic_t){st->names[t], parts + k, st->counts[t]};
    for (int32_t i = 0; i < st->counts[t]; i++, k++) {
      const flyq__filtered_t *f = st->filtered ? &st->filtered[k] : NULL;
      part_fill(&parts[k], &res->parts[k], st->invalid[t], f);
      next[k] = f ? f->next_offset : -1;
      if (parts[k].records.len > 0 && parts[k].records.ptr == NULL)
        ndeferred++;
    }
  }
  size_t *at = flyq_arena_calloc(&req->arena, ndeferred, sizeof *at);
  if (at == NULL && ndeferred > 0) return -ENOMEM;
  flyq_proto_fetch_resp_t resp = {
      {req->correlation_id, 0, {NULL, -1}}, topics, st->ntopics};
  int rc = st->version >= 1
               ? flyq_proto_encode_fetch_resp_v1(&req->out, &resp, next, at,
                                                 ndeferred)
               : flyq_proto_encode_fetch_resp(&req->out, &resp, at, ndeferred);
  if (rc == 0 && ndeferred > 0) rc = splice_chunks(req, at, ndeferred);
  return rc;
}

/* Runs the hooks over what was read (rc: the reads' outcome), answers. */
static void respond(flyq__req_t *req, int rc) {
  fetch_state_t *st = req->state;
  if (rc == 0)
    rc = flyq__filter_apply(req, st->filter, st->params, st->parts,
                            req->fetch, st->reads, &st->filtered);
  flyq__filter_reads_free(req->fetch, st->reads);
  flyq__req_respond(req, rc < 0 ? rc : encode(req, st));
  flyq__sconn_flush(req->sc);
}

static void read_rest(uv_work_t *w) {
  flyq__req_t *req = w->data;
  fetch_state_t *st = req->state;
  flyq__filter_read_rest(req->fetch, st->reads);
}

/* The filtered partitions' bytes the page cache lacked are in. The
 * request waited; a connection gone meanwhile left it to be freed here. */
static void read_done(uv_work_t *w, int status) {
  flyq__req_t *req = w->data;
  fetch_state_t *st = req->state;
  req->waiting = 0;
  if (req->sc == NULL) {
    flyq__filter_reads_free(req->fetch, st->reads);
    flyq__req_free(req);
    return;
  }
  respond(req, status);
}

static void fetched(flyq_broker_fetch_result_t *res, void *arg) {
  flyq__req_t *req = arg;
  req->handle = NULL;
  req->waiting = 0;
  req->fetch = res;
  if (req->sc == NULL) {
    flyq__req_free(req);
    return;
  }
  fetch_state_t *st = req->state;
  int rc = flyq__filter_read(req, st->filter, res, &st->reads);
  if (rc == 1) { /* some bytes are not in the page cache */
    st->work.data = req;
    rc = uv_queue_work(req->sc->srv->loop, &st->work, read_rest, read_done);
    if (rc == 0) {
      req->waiting = 1;
      req->sc->srv->cold_filter_reads++;
      return;
    }
  }
  respond(req, rc);
}

static fetch_state_t *state_new(flyq__req_t *req,
                                const flyq_proto_fetch_req_t *r) {
  fetch_state_t *st = flyq_arena_calloc(&req->arena, 1, sizeof *st);
  if (st == NULL) return NULL;
  size_t n = (size_t)r->ntopics;
  st->ntopics = r->ntopics;
  st->names = flyq_arena_calloc(&req->arena, n, sizeof *st->names);
  st->counts = flyq_arena_calloc(&req->arena, n, sizeof *st->counts);
  st->invalid = flyq_arena_calloc(&req->arena, n, sizeof *st->invalid);
  if (n > 0 && (!st->names || !st->counts || !st->invalid)) return NULL;
  for (int32_t t = 0; t < r->ntopics; t++)
    st->nparts += (size_t)r->topics[t].nparts;
  return st;
}

/* The broker's request: one entry per partition, names as C strings. */
static int build(flyq__req_t *req, const flyq_proto_fetch_req_t *r,
                 fetch_state_t *st, flyq_fetch_part_req_t *parts) {
  size_t k = 0;
  for (int32_t t = 0; t < r->ntopics; t++) {
    const flyq_proto_fetch_req_topic_t *rt = &r->topics[t];
    const char *name;
    int rc = flyq__req_topic(req, rt->name, FLYQ_ACTION_FETCH, &name);
    if (rc == -ENOMEM) return rc;
    if (flyq__req_copy(req, rt->name, &st->names[t]) < 0) return -ENOMEM;
    st->counts[t] = rt->nparts;
    st->invalid[t] = rc < 0 ? rc : 0;
    for (int32_t i = 0; i < rt->nparts; i++, k++)
      parts[k] = (flyq_fetch_part_req_t){name, rt->parts[i].partition,
                                         rt->parts[i].fetch_offset,
                                         rt->parts[i].partition_max_bytes};
  }
  return 0;
}

void flyq__handle_fetch(flyq__req_t *req, const flyq_proto_request_t *pr) {
  const flyq_proto_fetch_req_t *r = &pr->body.fetch;
  fetch_state_t *st = state_new(req, r);
  flyq_fetch_part_req_t *parts =
      st ? flyq_arena_calloc(&req->arena, st->nparts, sizeof *parts) : NULL;
  int rc = st == NULL || (parts == NULL && st->nparts > 0)
               ? -ENOMEM
               : build(req, r, st, parts);
  if (rc == 0) {
    st->version = pr->hdr.api_version;
    rc = flyq__filter_parse(req, &pr->fetch_filter, &st->filter, &st->params);
    if (rc < 0 && rc != -ENOMEM) {
      flyq__req_error(req, FLYQ_WIRE_INVALID_REQUEST,
                      rc == FLYQ_ERR_INVALID_NAME
                          ? "invalid filter name (letters, digits, _ and -)"
                          : "invalid filter params");
      return;
    }
  }
  if (rc == 0) {
    int32_t max_bytes = flyq__filter_max_bytes(req, st->filter, parts,
                                               st->nparts, r->max_bytes);
    flyq_fetch_req_t fr = {parts, st->nparts, max_bytes, r->min_bytes,
                           r->max_wait_ms};
    req->state = st;
    st->parts = parts;
    req->waiting = 1;
    rc = flyq_broker_fetch(req->broker, &fr, fetched, req, &req->handle);
  }
  if (rc < 0) {
    req->waiting = 0;
    req->handle = NULL;
    flyq__req_fail(req, rc);
  }
}
