/* Fetch and long-poll. A fetch reads a slice per requested partition; when
 * fewer than min_bytes are available it is parked: each watched partition
 * lists it (part->watchers), every append adds its size to the fetch's
 * count, and the fetch moves to b->ready once the count reaches min_bytes,
 * its timer fires, a watched topic is deleted or the broker closes. Ready
 * fetches are read again and answered by flyq__deliver().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"

static void read_part(flyq_broker_t *b, const flyq_fetch_part_req_t *rq,
                      flyq_fetch_part_t *out, uint32_t budget, int skip) {
  out->partition = rq->partition;
  out->high_watermark = out->log_start_offset = out->flushed_offset = -1;
  memset(&out->slice, 0, sizeof out->slice);
  flyq__part_t *p = flyq__part_find(b, rq->topic, rq->partition, &out->err);
  if (p == NULL) return;
  out->high_watermark = flyq_log_end_offset(p->log);
  out->log_start_offset = flyq_log_start_offset(p->log);
  out->flushed_offset = flyq_log_flushed_offset(p->log);
  if (skip) return;
  out->err = flyq_log_read(p->log, rq->offset, budget, &out->slice);
  if (out->err < 0) memset(&out->slice, 0, sizeof out->slice);
}

static size_t names_size(const flyq_fetch_part_req_t *parts, size_t n) {
  size_t size = 0;
  for (size_t i = 0; i < n; i++) size += strlen(parts[i].topic) + 1;
  return size;
}

/* One allocation: the result, its parts and the topic names, which are
 * filled in here; collect() fills the rest. */
static flyq_broker_fetch_result_t *result_new(const flyq_fetch_part_req_t *parts,
                                       size_t n) {
  size_t size = sizeof(flyq_broker_fetch_result_t) + n * sizeof(flyq_fetch_part_t);
  flyq_broker_fetch_result_t *res = calloc(1, size + names_size(parts, n));
  if (res == NULL) return NULL;
  res->nparts = n;
  res->parts = (flyq_fetch_part_t *)(res + 1);
  char *name = (char *)res + size;
  for (size_t i = 0; i < n; i++) {
    size_t nlen = strlen(parts[i].topic) + 1;
    res->parts[i].topic = memcpy(name, parts[i].topic, nlen);
    name += nlen;
  }
  return res;
}

/* Reads every part into res (made by result_new for the same parts). */
static void collect(flyq_broker_t *b, const flyq_fetch_part_req_t *parts,
                    int32_t max_bytes, flyq_broker_fetch_result_t *res) {
  res->bytes = 0;
  for (size_t i = 0; i < res->nparts; i++) {
    int64_t left = (int64_t)max_bytes - (int64_t)res->bytes;
    int64_t budget = parts[i].max_bytes < left ? parts[i].max_bytes : left;
    int skip = res->bytes > 0 && left <= 0;
    read_part(b, &parts[i], &res->parts[i], budget > 0 ? (uint32_t)budget : 0,
              skip);
    res->bytes += res->parts[i].slice.len;
  }
}

static void result_release(flyq_broker_fetch_result_t *res) {
  for (size_t i = 0; i < res->nparts; i++) {
    if (res->parts[i].slice.seg) flyq_slice_release(&res->parts[i].slice);
    memset(&res->parts[i].slice, 0, sizeof res->parts[i].slice);
  }
}

static int any_error(const flyq_broker_fetch_result_t *res) {
  for (size_t i = 0; i < res->nparts; i++)
    if (res->parts[i].err < 0) return 1;
  return 0;
}

static void answer(flyq_broker_t *b, flyq_broker_fetch_result_t *res,
                   flyq_fetch_cb cb, void *arg) {
  b->stats.fetch_requests++;
  b->stats.fetched_bytes += res->bytes;
  for (size_t i = 0; i < res->nparts; i++)
    if (res->parts[i].err < 0) b->stats.errors++;
  cb(res, arg);
}

void flyq_broker_fetch_result_free(flyq_broker_fetch_result_t *res) {
  if (res == NULL) return;
  result_release(res);
  free(res);
}

/* ---- Parking ---------------------------------------------------------- */

static void make_ready(flyq_fetch_handle_t *f) {
  flyq_broker_t *b = f->b;
  if (f->woken) return;
  f->woken = 1;
  uv_timer_stop(&f->timer);
  flyq__list_remove(&f->link);
  flyq__list_push(&b->ready, &f->link);
  b->stats.parked_fetches--;
  flyq__schedule(b);
}

static void unwatch(flyq_fetch_handle_t *f) {
  for (size_t i = 0; i < f->nparts; i++) flyq__list_remove(&f->watches[i].link);
}

static void fetch_timeout(uv_timer_t *t) {
  flyq_fetch_handle_t *f = t->data;
  flyq_broker_t *b = f->b;
  make_ready(f);
  flyq__deliver(b);
}

static void fetch_closed(uv_handle_t *h) {
  flyq_fetch_handle_t *f = h->data;
  flyq_broker_t *b = f->b;
  flyq_broker_fetch_result_free(f->res);
  free(f);
  flyq__handle_closed(b);
}

/* One allocation: the handle, the copied parts, their watches, the names. */
static flyq_fetch_handle_t *handle_new(flyq_broker_t *b,
                                       const flyq_fetch_req_t *req) {
  size_t n = req->nparts;
  size_t size = sizeof(flyq_fetch_handle_t) +
                n * (sizeof(flyq_fetch_part_req_t) + sizeof(flyq__watch_t));
  flyq_fetch_handle_t *f = calloc(1, size + names_size(req->parts, n));
  if (f == NULL) return NULL;
  f->b = b;
  f->nparts = n;
  f->parts = (flyq_fetch_part_req_t *)(f + 1);
  f->watches = (flyq__watch_t *)(f->parts + n);
  char *name = (char *)f + size;
  for (size_t i = 0; i < n; i++) {
    size_t nlen = strlen(req->parts[i].topic) + 1;
    f->parts[i] = req->parts[i];
    f->parts[i].topic = memcpy(name, req->parts[i].topic, nlen);
    name += nlen;
    f->watches[i].f = f;
    flyq__list_init(&f->watches[i].link);
  }
  return f;
}

/* Parks req; takes ownership of res (its slices already released). */
static flyq_fetch_handle_t *park(flyq_broker_t *b, const flyq_fetch_req_t *req,
                                 flyq_fetch_cb cb, void *arg,
                                 flyq_broker_fetch_result_t *res) {
  int err;
  flyq_fetch_handle_t *f = handle_new(b, req);
  if (f == NULL) return NULL;
  f->res = res;
  f->avail = res->bytes;
  f->cb = cb;
  f->arg = arg;
  f->max_bytes = req->max_bytes;
  f->min_bytes = req->min_bytes;
  for (size_t i = 0; i < f->nparts; i++) {
    flyq__part_t *p = flyq__part_find(b, f->parts[i].topic,
                                      f->parts[i].partition, &err);
    if (p) flyq__list_push(&p->watchers, &f->watches[i].link);
  }
  flyq__list_push(&b->parked, &f->link);
  b->stats.parked_fetches++;
  uv_timer_init(b->loop, &f->timer);
  f->timer.data = f;
  b->handles++;
  uv_timer_start(&f->timer, fetch_timeout, (uint64_t)req->max_wait_ms, 0);
  return f;
}

void flyq__fetch_appended(flyq_broker_t *b, flyq__part_t *p, uint64_t bytes) {
  (void)b;
  for (flyq__list_t *l = p->watchers.next; l != &p->watchers; l = l->next) {
    flyq_fetch_handle_t *f = FLYQ__CONTAINER(l, flyq__watch_t, link)->f;
    f->avail += bytes;
    if (f->avail >= (uint64_t)f->min_bytes) make_ready(f);
  }
}

void flyq__fetch_wake_all(flyq__part_t *p) {
  while (!flyq__list_empty(&p->watchers)) {
    flyq__watch_t *w = FLYQ__CONTAINER(p->watchers.next, flyq__watch_t, link);
    flyq__list_remove(&w->link);
    make_ready(w->f);
  }
}

void flyq__fetch_wake_parked(flyq_broker_t *b) {
  while (!flyq__list_empty(&b->parked))
    make_ready(FLYQ__CONTAINER(b->parked.next, flyq_fetch_handle_t, link));
}

/* Answers a ready fetch (already removed from b->ready) and frees it. */
void flyq__fetch_answer(flyq_fetch_handle_t *f) {
  flyq_broker_fetch_result_t *res = f->res;
  unwatch(f);
  collect(f->b, f->parts, f->max_bytes, res);
  f->res = NULL;
  uv_close((uv_handle_t *)&f->timer, fetch_closed);
  answer(f->b, res, f->cb, f->arg);
}

void flyq_broker_fetch_cancel(flyq_broker_t *b, flyq_fetch_handle_t *f) {
  (void)b;
  if (f == NULL) return;
  if (!f->woken) f->b->stats.parked_fetches--;
  f->woken = 1;
  flyq__list_remove(&f->link);
  unwatch(f);
  uv_timer_stop(&f->timer);
  uv_close((uv_handle_t *)&f->timer, fetch_closed);
}

static int req_check(const flyq_fetch_req_t *req, flyq_fetch_cb cb) {
  if (req == NULL || cb == NULL || (req->nparts > 0 && req->parts == NULL))
    return FLYQ_ERR_INVALID_ARG;
  if (req->max_bytes < 0 || req->min_bytes < 0 || req->max_wait_ms < 0)
    return FLYQ_ERR_INVALID_ARG;
  for (size_t i = 0; i < req->nparts; i++)
    if (req->parts[i].topic == NULL || req->parts[i].max_bytes < 0)
      return FLYQ_ERR_INVALID_ARG;
  return 0;
}

int flyq_broker_fetch(flyq_broker_t *b, const flyq_fetch_req_t *req,
                      flyq_fetch_cb cb, void *arg,
                      flyq_fetch_handle_t **handle) {
  if (b->closing) return FLYQ_ERR_CLOSED;
  int rc = req_check(req, cb);
  if (rc < 0) {
    b->stats.errors++;
    return rc;
  }
  flyq_broker_fetch_result_t *res = result_new(req->parts, req->nparts);
  if (res == NULL) return -ENOMEM;
  collect(b, req->parts, req->max_bytes, res);
  if (res->bytes >= (uint64_t)req->min_bytes || req->max_wait_ms == 0 ||
      req->nparts == 0 || any_error(res)) {
    if (handle) *handle = NULL;
    answer(b, res, cb, arg);
    return 0;
  }
  result_release(res);
  flyq_fetch_handle_t *f = park(b, req, cb, arg, res);
  if (f == NULL) {
    free(res);
    return -ENOMEM;
  }
  if (handle) *handle = f;
  return 0;
}
