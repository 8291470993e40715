/* Produce: appends to one partition (the fast path: one append_many, no
 * per-record work here), or re-batches the records of FLYQ_PARTITION_ANY
 * requests per target partition, placed by the broker's own rule or by the
 * partitioner the host set. A request of several groups (what on_produce
 * hooks made of one entry) is prepared whole (topics, validation,
 * placement) before its first append. acks=-1 requests become a
 * flyq__produce_req_t that waits on each partition's fsync (sync.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "flyq/partition.h"

#define STACK_RESULTS 64
#define BUILDER_KEEP_BYTES (1u << 20) /* bigger scratch buffers are freed */

static int fail(flyq_broker_t *b, int rc) {
  b->stats.errors++;
  return rc;
}

static void count_append(flyq_broker_t *b, const flyq_append_result_t *res,
                         size_t len) {
  b->stats.produced_records += (uint64_t)(res->last_offset - res->base_offset + 1);
  b->stats.produced_bytes += len;
}

/* ---- acks=-1 requests ------------------------------------------------- */

/* One allocation: the request, its entries, their waiters and the name. */
static flyq__produce_req_t *req_new(flyq_broker_t *b, const char *topic,
                                    size_t n, flyq_broker_produce_cb cb, void *arg) {
  size_t nlen = strlen(topic) + 1;
  size_t size = sizeof(flyq__produce_req_t) + n * sizeof(flyq_broker_produce_part_t) +
                n * sizeof(flyq__ack_t) + nlen;
  flyq__produce_req_t *req = calloc(1, size);
  if (req == NULL) return NULL;
  req->b = b;
  req->cb = cb;
  req->arg = arg;
  req->nparts = n;
  req->parts = (flyq_broker_produce_part_t *)(req + 1);
  req->acks = (flyq__ack_t *)(req->parts + n);
  req->topic = (char *)(req->acks + n);
  memcpy(req->topic, topic, nlen);
  flyq__list_init(&req->link);
  for (size_t i = 0; i < n; i++) flyq__list_init(&req->acks[i].link);
  return req;
}

static void req_unref(flyq__produce_req_t *req) {
  if (--req->pending > 0) return;
  if (req->has_timer) uv_timer_stop(&req->timer);
  req->b->stats.pending_produces--;
  flyq__list_push(&req->b->done, &req->link);
  flyq__schedule(req->b);
}

void flyq__ack_settle(flyq__ack_t *a, int err) {
  flyq__produce_req_t *req = a->req;
  flyq__list_remove(&a->link);
  if (err < 0) {
    flyq_broker_produce_part_t *e = &req->parts[a->idx];
    e->err = err;
    e->base_offset = e->last_offset = -1;
  }
  req_unref(req);
}

static void req_timeout(uv_timer_t *t) {
  flyq__produce_req_t *req = FLYQ__CONTAINER(t, flyq__produce_req_t, timer);
  flyq_broker_t *b = req->b;
  req->pending++; /* keep req out of b->done until every entry is settled */
  for (size_t i = 0; i < req->nparts; i++)
    if (!flyq__list_empty(&req->acks[i].link))
      flyq__ack_settle(&req->acks[i], FLYQ_ERR_TIMEOUT);
  req_unref(req);
  flyq__deliver(b);
}

static void req_closed(uv_handle_t *h) {
  flyq__produce_req_t *req = h->data;
  flyq_broker_t *b = req->b;
  free(req);
  flyq__handle_closed(b);
}

/* Answers a settled request (popped from b->done) and frees it. */
void flyq__produce_finish(flyq__produce_req_t *req) {
  flyq_broker_produce_result_t res = {req->topic, req->nparts, req->parts};
  for (size_t i = 0; i < req->nparts; i++)
    if (req->parts[i].err < 0) req->b->stats.errors++;
  req->cb(&res, req->arg);
  if (req->has_timer)
    uv_close((uv_handle_t *)&req->timer, req_closed);
  else
    free(req);
}

/* Registers req's successful entries as fsync waiters on their partitions.
 * The extra reference keeps req pending while sync requests run. */
static void req_wait(flyq_broker_t *b, flyq__topic_t *tp,
                     flyq__produce_req_t *req, int64_t timeout_ms) {
  req->pending = 1;
  b->stats.pending_produces++;
  for (size_t i = 0; i < req->nparts; i++) {
    flyq__ack_t *a = &req->acks[i];
    if (req->parts[i].err < 0) continue;
    a->req = req;
    a->idx = i;
    a->last_offset = req->parts[i].last_offset;
    flyq__list_push(&tp->parts[req->parts[i].partition]->acks, &a->link);
    req->pending++;
  }
  if (timeout_ms > 0 && req->pending > 1) {
    uv_timer_init(b->loop, &req->timer);
    req->timer.data = req;
    req->has_timer = 1;
    b->handles++;
    uv_timer_start(&req->timer, req_timeout, (uint64_t)timeout_ms, 0);
  }
  for (size_t i = 0; i < req->nparts; i++)
    if (!flyq__list_empty(&req->acks[i].link))
      flyq__sync_request(b, tp->parts[req->parts[i].partition]);
  req_unref(req);
}

/* ---- One partition ---------------------------------------------------- */

/* Appends g's batches to log, checking them unless g->validated. */
static int append_batches(flyq_log_t *log, const flyq_broker_produce_group_t *g,
                          flyq_append_result_t *res) {
  int64_t now = flyq_now_ms();
  if (g->validated)
    return flyq_log_append_validated(log, g->batches, g->len, now, res);
  return flyq_log_append_many(log, g->batches, g->len, now, res);
}

/* g->topic is the caller's copy of the topic name: it outlives the
 * callback even if the callback deletes the topic. */
static int produce_one(flyq_broker_t *b, const flyq_broker_produce_group_t *g,
                       flyq__part_t *p, const flyq_broker_produce_opts_t *o,
                       flyq_broker_produce_cb cb, void *arg) {
  flyq__produce_req_t *req = NULL;
  flyq_append_result_t res;
  if (o->acks == FLYQ_ACKS_ALL && !(req = req_new(b, g->topic, 1, cb, arg)))
    return fail(b, -ENOMEM);
  int rc = append_batches(p->log, g, &res);
  if (rc < 0) {
    free(req);
    return fail(b, rc);
  }
  count_append(b, &res, g->len);
  flyq_broker_produce_part_t part = {p->id, 0, res.base_offset, res.last_offset,
                              flyq_log_start_offset(p->log)};
  flyq__topic_t *tp = p->topic;
  flyq__appended(b, p, g->len, res.flush_due);
  if (req == NULL) {
    flyq_broker_produce_result_t r = {g->topic, 1, &part};
    cb(&r, arg);
    return 0;
  }
  req->parts[0] = part;
  req_wait(b, tp, req, o->timeout_ms);
  return 0;
}

/* ---- Any partition: re-batching --------------------------------------- */

/* Checks that buf holds whole batches back to back and validates each one,
 * unless the caller vouched for them (validated: only the fixed headers are
 * read). *nrecords (may be NULL) gets their record count. */
static int validate_all(const uint8_t *buf, size_t len, int validated,
                        size_t *nrecords) {
  size_t n = 0;
  for (size_t off = 0; off < len;) {
    flyq_batch_header_t h;
    int64_t size = flyq_batch_size(buf + off, len - off);
    if (size < 0) return (int)size;
    if ((uint64_t)size > len - off) return FLYQ_ERR_TRUNCATED;
    int rc = validated ? flyq_batch_parse_header(buf + off, (size_t)size, &h)
                       : flyq_batch_validate(buf + off, (size_t)size, &h);
    if (rc < 0) return rc;
    n += (size_t)h.record_count;
    off += (size_t)size;
  }
  if (nrecords) *nrecords = n;
  return 0;
}

static int scratch_reserve(flyq_broker_t *b, int32_t n) {
  if (n <= b->nbuilders) return 0;
  flyq_batch_builder_t *nb = realloc(b->builders, (size_t)n * sizeof *nb);
  if (nb == NULL) return -ENOMEM;
  b->builders = nb;
  int32_t *nt = realloc(b->touched, (size_t)n * sizeof *nt);
  if (nt == NULL) return -ENOMEM;
  b->touched = nt;
  for (; b->nbuilders < n; b->nbuilders++)
    flyq_batch_builder_init(&b->builders[b->nbuilders]);
  return 0;
}

static void scratch_reset(flyq_broker_t *b, int32_t ntouched) {
  for (int32_t i = 0; i < ntouched; i++) {
    flyq_batch_builder_t *bb = &b->builders[b->touched[i]];
    if (bb->cap > BUILDER_KEEP_BYTES) {
      flyq_batch_builder_free(bb);
      flyq_batch_builder_init(bb);
    } else {
      flyq_batch_builder_reset(bb);
    }
  }
}

void flyq__produce_scratch_free(flyq_broker_t *b) {
  for (int32_t i = 0; i < b->nbuilders; i++)
    flyq_batch_builder_free(&b->builders[i]);
  free(b->builders);
  free(b->touched);
  free(b->hdrs);
}

/* Decodes rec's headers into b->hdrs. */
static int headers_decode(flyq_broker_t *b, const flyq_record_t *rec) {
  size_t n = rec->header_count > 0 ? (size_t)rec->header_count : 0;
  if (n > rec->headers_len) return FLYQ_ERR_CORRUPT; /* >= 1 byte each */
  if (n > b->nhdrs) {
    flyq_record_header_t *nh = realloc(b->hdrs, n * sizeof *nh);
    if (nh == NULL) return -ENOMEM;
    b->hdrs = nh;
    b->nhdrs = n;
  }
  const uint8_t *hp = NULL;
  for (size_t i = 0; i < n; i++)
    if (flyq_record_next_header(rec, &hp, &b->hdrs[i]) != 1)
      return FLYQ_ERR_CORRUPT;
  return 0;
}

static int32_t choose_partition(flyq__topic_t *tp, const flyq_record_t *rec) {
  if (rec->key_len < 0) return (int32_t)(tp->rr++ % (uint32_t)tp->nparts);
  return flyq_partition_for_key(rec->key, (size_t)rec->key_len, tp->nparts);
}

/* Where the records of one FLYQ_PARTITION_ANY group go: the partitioner's
 * answer (one partition per record), or NULL for the broker's own rule. */
typedef struct placement {
  const int32_t *parts;
  size_t n;
  size_t next;
} placement_t;

static int add_record(flyq_broker_t *b, flyq__topic_t *tp,
                      const flyq_record_t *rec, placement_t *pl,
                      int32_t *ntouched) {
  int rc = headers_decode(b, rec);
  if (rc < 0) return rc;
  int32_t pid;
  if (pl->parts == NULL) {
    pid = choose_partition(tp, rec);
  } else {
    if (pl->next >= pl->n) return FLYQ_ERR_CORRUPT;
    pid = pl->parts[pl->next++];
    if (pid < 0 || pid >= tp->nparts) return FLYQ_ERR_UNKNOWN_PARTITION;
  }
  flyq_batch_builder_t *bb = &b->builders[pid];
  if (bb->count == 0) b->touched[(*ntouched)++] = pid;
  return flyq_batch_builder_add(
      bb, rec->timestamp, rec->key_len < 0 ? NULL : rec->key, rec->key_len,
      rec->value_len < 0 ? NULL : rec->value, rec->value_len, b->hdrs,
      rec->header_count > 0 ? rec->header_count : 0);
}

/* Spreads the records of the validated batches over b->builders. */
static int rebatch(flyq_broker_t *b, flyq__topic_t *tp, const uint8_t *buf,
                   size_t len, placement_t *pl, int32_t *ntouched) {
  for (size_t off = 0; off < len;) {
    size_t size = (size_t)flyq_batch_size(buf + off, len - off);
    flyq_record_iter_t it;
    flyq_record_t rec;
    int rc = flyq_record_iter_init(&it, buf + off, size);
    while (rc == 0 && (rc = flyq_record_iter_next(&it, &rec)) == 1)
      rc = add_record(b, tp, &rec, pl, ntouched);
    if (rc < 0) return rc;
    off += size;
  }
  return 0;
}

static int cmp_int32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Appends the builder of partition p; fills *out either way. The builder's
 * batch is valid by construction, so the log does not check it again. */
static void append_built(flyq_broker_t *b, flyq__part_t *p,
                         flyq_broker_produce_part_t *out, int64_t now_ms) {
  const uint8_t *data;
  size_t len;
  flyq_append_result_t res;
  int rc = flyq_batch_builder_finish(&b->builders[p->id], &data, &len);
  if (rc == 0)
    rc = flyq_log_append_validated(p->log, (uint8_t *)data, len, now_ms, &res);
  *out = (flyq_broker_produce_part_t){p->id, rc, -1, -1, flyq_log_start_offset(p->log)};
  if (rc < 0) return;
  out->base_offset = res.base_offset;
  out->last_offset = res.last_offset;
  count_append(b, &res, len);
  flyq__appended(b, p, len, res.flush_due);
}

static void answer_now(flyq_broker_t *b, const char *name,
                       flyq_broker_produce_part_t *parts, size_t n,
                       flyq_broker_produce_cb cb, void *arg) {
  flyq_broker_produce_result_t r = {name, n, parts};
  for (size_t i = 0; i < n; i++)
    if (parts[i].err < 0) b->stats.errors++;
  cb(&r, arg);
}

/* buf was validated by the caller. */
static int produce_any(flyq_broker_t *b, const char *name, flyq__topic_t *tp,
                       const flyq_broker_produce_opts_t *o, const uint8_t *buf,
                       size_t len, placement_t *pl, flyq_broker_produce_cb cb,
                       void *arg) {
  int32_t n = 0;
  flyq_broker_produce_part_t stack[STACK_RESULTS], *parts = stack;
  flyq__produce_req_t *req = NULL;
  int rc = scratch_reserve(b, tp->nparts);
  if (rc == 0) rc = rebatch(b, tp, buf, len, pl, &n);
  if (rc == 0 && o->acks == FLYQ_ACKS_ALL) {
    req = req_new(b, tp->name, (size_t)n, cb, arg);
    parts = req ? req->parts : NULL;
  } else if (rc == 0 && n > STACK_RESULTS) {
    parts = malloc((size_t)n * sizeof *parts);
  }
  if (rc == 0 && parts == NULL) rc = -ENOMEM;
  if (rc < 0) {
    scratch_reset(b, n);
    return fail(b, rc);
  }
  qsort(b->touched, (size_t)n, sizeof *b->touched, cmp_int32);
  int64_t now = flyq_now_ms();
  for (int32_t i = 0; i < n; i++)
    append_built(b, tp->parts[b->touched[i]], &parts[i], now);
  scratch_reset(b, n);
  if (req) {
    req_wait(b, tp, req, o->timeout_ms);
    return 0;
  }
  answer_now(b, name, parts, (size_t)n, cb, arg);
  if (parts != stack) free(parts);
  return 0;
}

/* ---- Requests: prepare every group, then append ------------------------ */

/* A group checked and placed, ready to append. */
typedef struct prepared {
  int32_t *parts; /* the partitioner's placement (malloc'd), or NULL */
  size_t nparts;
} prepared_t;

void flyq_broker_set_partitioner(flyq_broker_t *b, flyq_broker_partition_fn fn,
                                 void *arg) {
  b->partition_fn = fn;
  b->partition_arg = arg;
}

/* Asks the partitioner (if any) where the records of g go. */
static int place(flyq_broker_t *b, const flyq_broker_produce_group_t *g,
                 flyq__topic_t *tp, size_t nrecords,
                 const flyq_broker_produce_opts_t *o, prepared_t *pr) {
  if (b->partition_fn == NULL || nrecords == 0) return 0;
  int32_t *parts = malloc(nrecords * sizeof *parts);
  if (parts == NULL) return -ENOMEM;
  size_t n = 0;
  int rc = b->partition_fn(b->partition_arg, g->topic, o->principal,
                           g->batches, g->len, tp->nparts, parts, nrecords, &n,
                           o->err, o->errlen);
  if (rc != 0) {
    free(parts);
    return rc > 0 ? 0 : rc;
  }
  pr->parts = parts;
  pr->nparts = n;
  return 0;
}

/* Everything that may fail before an append: the topic (auto-created),
 * the partition, the batches (validated, or only walked when g->validated;
 * a single explicit-partition group is checked by the append itself) and
 * the placement. */
static int prepare(flyq_broker_t *b, const flyq_broker_produce_group_t *g,
                   size_t ngroups, const flyq_broker_produce_opts_t *o,
                   prepared_t *pr) {
  flyq__topic_t *tp;
  size_t nrecords = 0;
  if (g->topic == NULL || g->batches == NULL || g->len == 0 ||
      g->partition < FLYQ_PARTITION_ANY)
    return FLYQ_ERR_INVALID_ARG;
  int rc = flyq__topic_get(b, g->topic, g->create, &tp);
  if (rc < 0) return rc;
  if (g->partition >= tp->nparts) return FLYQ_ERR_UNKNOWN_PARTITION;
  if (g->partition >= 0 && ngroups == 1) return 0;
  rc = validate_all(g->batches, g->len, g->validated, &nrecords);
  if (rc == 0 && g->partition == FLYQ_PARTITION_ANY)
    rc = place(b, g, tp, nrecords, o, pr);
  return rc;
}

/* Appends one prepared group. The topic is looked up again: a callback of
 * an earlier group may have deleted it. */
static int append_group(flyq_broker_t *b, const flyq_broker_produce_group_t *g,
                        const flyq_broker_produce_opts_t *o, prepared_t *pr,
                        flyq_broker_produce_cb cb, void *arg) {
  flyq__topic_t *tp = flyq__topic_find(b, g->topic);
  if (tp == NULL) return fail(b, FLYQ_ERR_UNKNOWN_TOPIC);
  if (g->partition >= tp->nparts) return fail(b, FLYQ_ERR_UNKNOWN_PARTITION);
  if (g->partition >= 0)
    return produce_one(b, g, tp->parts[g->partition], o, cb, arg);
  placement_t pl = {pr->parts, pr->nparts, 0};
  return produce_any(b, g->topic, tp, o, g->batches, g->len, &pl, cb, arg);
}

/* A group whose append failed after others were stored: cb reports it at
 * once (already counted as an error). */
static void answer_failed(const flyq_broker_produce_group_t *g,
                          int rc, flyq_broker_produce_cb cb, void *arg) {
  flyq_broker_produce_part_t part = {g->partition, rc, -1, -1, -1};
  flyq_broker_produce_result_t r = {g->topic, 1, &part};
  cb(&r, arg);
}

int flyq_broker_produce_groups(flyq_broker_t *b,
                               const flyq_broker_produce_group_t *groups,
                               size_t n, const flyq_broker_produce_opts_t *o,
                               flyq_broker_produce_cb cb, void *arg) {
  if (b->closing) return FLYQ_ERR_CLOSED;
  if (groups == NULL || n == 0 || o == NULL || cb == NULL ||
      o->acks < FLYQ_ACKS_ALL || o->acks > FLYQ_ACKS_LEADER)
    return fail(b, FLYQ_ERR_INVALID_ARG);
  prepared_t one = {0}, *pr = n == 1 ? &one : calloc(n, sizeof *pr);
  if (pr == NULL) return fail(b, -ENOMEM);
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = prepare(b, &groups[i], n, o, &pr[i]);
  if (rc < 0) {
    fail(b, rc);
  } else {
    b->stats.produce_requests++;
    rc = append_group(b, &groups[0], o, &pr[0], cb, arg); /* counts errors */
  }
  for (size_t i = 1; i < n && rc == 0; i++) {
    int arc = append_group(b, &groups[i], o, &pr[i], cb, arg);
    if (arc < 0) answer_failed(&groups[i], arc, cb, arg);
  }
  for (size_t i = 0; i < n; i++) free(pr[i].parts);
  if (pr != &one) free(pr);
  return rc;
}

int flyq_broker_produce(flyq_broker_t *b, const char *topic,
                        int32_t partition, int acks, uint8_t *batches,
                        size_t len, int64_t timeout_ms, flyq_broker_produce_cb cb,
                        void *arg) {
  flyq_broker_produce_group_t g = {topic, partition, batches, len, 0, 0};
  flyq_broker_produce_opts_t o = {acks, timeout_ms, NULL, NULL, 0};
  return flyq_broker_produce_groups(b, &g, 1, &o, cb, arg);
}
