/* Group commit: fsyncs of partition logs on the thread pool, at most one
 * job in flight per partition. A job starts when an acks=-1 produce needs
 * one, when the flush policy says so (flush.messages after an append,
 * flush.interval_ms from the flush timer), and again right after the
 * previous job if requests arrived meanwhile. Produces waiting on a
 * partition (part->acks, in offset order) are settled when the log's
 * flushed offset passes their last offset, or fail with the job's error if
 * it covered them.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "broker/internal.h"

/* Settles the waiters at the head of p->acks that the flushed offset
 * covers, and with rc those below covered_end when rc is an error. */
static void acks_settle(flyq__part_t *p, int rc, int64_t covered_end) {
  int64_t flushed = flyq_log_flushed_offset(p->log);
  while (!flyq__list_empty(&p->acks)) {
    flyq__ack_t *a = FLYQ__CONTAINER(p->acks.next, flyq__ack_t, link);
    if (a->last_offset < flushed)
      flyq__ack_settle(a, 0);
    else if (rc < 0 && a->last_offset < covered_end)
      flyq__ack_settle(a, rc);
    else
      break;
  }
}

static void fail_all_acks(flyq__part_t *p, int err) {
  while (!flyq__list_empty(&p->acks))
    flyq__ack_settle(FLYQ__CONTAINER(p->acks.next, flyq__ack_t, link), err);
}

static void dirty_update(flyq__part_t *p) {
  if (flyq_log_flushed_offset(p->log) >= flyq_log_end_offset(p->log))
    flyq__list_remove(&p->dirty);
}

/* The log of a deleted partition is gone, so flyq_log_sync_end() cannot be
 * called: release what flyq_log_sync_begin() took (dup'd fds, the array). */
static void sync_discard(flyq_log_sync_t *s) {
  for (int i = 0; i < s->nfds; i++) close(s->fds[i]);
  free(s->fds);
}

static void sync_work(uv_work_t *w) {
  flyq__sync_job_t *job = FLYQ__CONTAINER(w, flyq__sync_job_t, work);
  flyq_log_sync_run(&job->sync);
}

static void sync_start(flyq_broker_t *b, flyq__part_t *p);

static void sync_after(uv_work_t *w, int status) {
  flyq__sync_job_t *job = FLYQ__CONTAINER(w, flyq__sync_job_t, work);
  flyq_broker_t *b = job->b;
  flyq__part_t *p = job->part;
  (void)status; /* jobs are never cancelled */
  b->jobs--;
  if (p == NULL) {
    sync_discard(&job->sync);
  } else {
    p->job = NULL;
    int rc = flyq_log_sync_end(p->log, &job->sync);
    b->stats.fsyncs++;
    if (rc < 0) b->stats.fsync_errors++;
    acks_settle(p, rc, job->sync.end_offset);
    dirty_update(p);
    if (!b->closing && (p->resync || !flyq__list_empty(&p->acks)))
      sync_start(b, p);
  }
  free(job);
  flyq__deliver(b);
  if (b->closing) flyq__close_step(b);
}

static void sync_start(flyq_broker_t *b, flyq__part_t *p) {
  flyq__sync_job_t *job = calloc(1, sizeof *job);
  int rc = job ? flyq_log_sync_begin(p->log, &job->sync) : -ENOMEM;
  p->resync = 0;
  if (rc < 0) {
    free(job);
    b->stats.fsync_errors++;
    fail_all_acks(p, rc);
    return;
  }
  if (job->sync.nfds == 0) {
    flyq_log_sync_end(p->log, &job->sync);
    free(job);
    acks_settle(p, 0, 0);
    dirty_update(p);
    return;
  }
  job->b = b;
  job->part = p;
  p->job = job;
  b->jobs++;
  uv_queue_work(b->loop, &job->work, sync_work, sync_after);
}

void flyq__sync_request(flyq_broker_t *b, flyq__part_t *p) {
  if (p->job)
    p->resync = 1;
  else if (!b->closing)
    sync_start(b, p);
}

void flyq__appended(flyq_broker_t *b, flyq__part_t *p, uint64_t bytes,
                    int flush_due) {
  if (flyq__list_empty(&p->dirty)) flyq__list_push(&b->dirty, &p->dirty);
  if (flush_due) flyq__sync_request(b, p);
  if (!flyq__list_empty(&p->watchers)) flyq__fetch_appended(b, p, bytes);
}

void flyq__sync_tick(flyq_broker_t *b, int64_t now_ms) {
  flyq__list_t *l = b->dirty.next, *next;
  for (; l != &b->dirty; l = next) {
    next = l->next; /* only l itself can leave the list below */
    flyq__part_t *p = FLYQ__CONTAINER(l, flyq__part_t, dirty);
    if (p->job == NULL && flyq_log_flush_due(p->log, now_ms))
      flyq__sync_request(b, p);
  }
}

void flyq__part_detach(flyq_broker_t *b, flyq__part_t *p, int err) {
  (void)b;
  flyq__fetch_wake_all(p);
  fail_all_acks(p, err);
  if (p->job) p->job->part = NULL;
  p->job = NULL;
  flyq__list_remove(&p->dirty);
}

/* At close, after the final flush: answers every waiting produce. */
void flyq__acks_settle_all(flyq_broker_t *b, int flush_rc) {
  int err = flush_rc < 0 ? flush_rc : FLYQ_ERR_CLOSED;
  for (size_t i = 0; i < b->nbuckets; i++)
    for (flyq__topic_t *tp = b->buckets[i]; tp; tp = tp->next)
      for (int32_t j = 0; j < tp->nparts; j++) {
        acks_settle(tp->parts[j], 0, 0);
        fail_all_acks(tp->parts[j], err);
      }
}
