/* The broker's life cycle: creation over an open store, the periodic work
 * (flush policy, group offsets, retention), the idle handle that delivers
 * completed requests from the loop, and the graceful close sequence:
 *
 *   close()  -> stop timers, parked fetches become ready, schedule
 *   idle     -> answer ready fetches; close_step()
 *   each fsync completion while closing -> close_step()
 *   close_step(), once no fsync is in flight: flush the store, settle the
 *   waiting produces, close the store, close every handle
 *   last handle closed -> free the broker, call the close callback
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"

#define FLUSH_TICK_MAX_MS 1000
#define FLUSH_TICK_MIN_MS 10
#define BROKER_HANDLES 4 /* three timers and the idle handle */

static void idle_cb(uv_idle_t *h) {
  flyq_broker_t *b = h->data;
  flyq__deliver(b);
  uv_idle_stop(h);
  if (b->closing) flyq__close_step(b);
}

void flyq__schedule(flyq_broker_t *b) {
  if (!uv_is_closing((uv_handle_t *)&b->idle)) uv_idle_start(&b->idle, idle_cb);
}

void flyq__deliver(flyq_broker_t *b) {
  for (;;) {
    if (!flyq__list_empty(&b->ready)) {
      flyq__list_t *l = b->ready.next;
      flyq__list_remove(l);
      flyq__fetch_answer(FLYQ__CONTAINER(l, flyq_fetch_handle_t, link));
    } else if (!flyq__list_empty(&b->done)) {
      flyq__list_t *l = b->done.next;
      flyq__list_remove(l);
      flyq__produce_finish(FLYQ__CONTAINER(l, flyq__produce_req_t, link));
    } else {
      return;
    }
  }
}

static void flush_tick(uv_timer_t *t) {
  flyq__sync_tick(t->data, flyq_now_ms());
}

static void groups_tick(uv_timer_t *t) {
  flyq_broker_t *b = t->data;
  if (!b->groups_dirty) return;
  if (flyq_store_flush_groups(b->store) == 0)
    b->groups_dirty = 0;
  else
    b->stats.errors++;
}

static void retention_tick(uv_timer_t *t) {
  flyq_broker_t *b = t->data;
  if (flyq_store_apply_retention(b->store, flyq_now_ms()) < 0)
    b->stats.errors++;
}

void flyq__flush_timer_adjust(flyq_broker_t *b, const flyq_log_config_t *log) {
  int64_t ms = log->flush_ms;
  if (ms <= 0 || ms >= b->flush_tick_ms) return;
  b->flush_tick_ms = ms < FLUSH_TICK_MIN_MS ? FLUSH_TICK_MIN_MS : ms;
  if (b->started)
    uv_timer_start(&b->flush_timer, flush_tick, (uint64_t)b->flush_tick_ms,
                   (uint64_t)b->flush_tick_ms);
}

static void timer_every(flyq_broker_t *b, uv_timer_t *t, uv_timer_cb cb,
                        int64_t ms) {
  uv_timer_init(b->loop, t);
  t->data = b;
  if (ms > 0) uv_timer_start(t, cb, (uint64_t)ms, (uint64_t)ms);
}

static void handles_start(flyq_broker_t *b) {
  timer_every(b, &b->flush_timer, flush_tick, b->flush_tick_ms);
  timer_every(b, &b->groups_timer, groups_tick, b->cfg.groups_flush_interval_ms);
  timer_every(b, &b->retention_timer, retention_tick,
              b->cfg.retention_check_interval_ms);
  uv_idle_init(b->loop, &b->idle);
  b->idle.data = b;
  b->handles = BROKER_HANDLES;
  b->started = 1;
}

/* Keeps the scalar settings of cfg: every pointer (strings, topics,
 * plugins) stays cfg's, which may be freed right after the call. */
static void config_copy(flyq_config_t *dst, const flyq_config_t *cfg) {
  *dst = *cfg;
  dst->listen = dst->http = dst->data_dir = NULL;
  dst->topics = NULL;
  dst->ntopics = 0;
  dst->plugin_path = NULL;
  dst->nplugin_path = 0;
  dst->auth = NULL;
  dst->nauth = 0;
  dst->path = dst->source = NULL;
  dst->source_len = 0;
  if (dst->default_partitions < 1) dst->default_partitions = 1;
}

int flyq_broker_new(uv_loop_t *loop, const flyq_config_t *cfg,
                    flyq_store_t *store, flyq_broker_t **out) {
  if (loop == NULL || cfg == NULL || store == NULL || out == NULL)
    return FLYQ_ERR_INVALID_ARG;
  flyq_broker_t *b = calloc(1, sizeof *b);
  if (b == NULL) return -ENOMEM;
  b->loop = loop;
  b->store = store;
  config_copy(&b->cfg, cfg);
  flyq__list_init(&b->dirty);
  flyq__list_init(&b->parked);
  flyq__list_init(&b->ready);
  flyq__list_init(&b->done);
  b->flush_tick_ms = FLUSH_TICK_MAX_MS;
  flyq__flush_timer_adjust(b, &cfg->log);
  int rc = flyq__topics_load(b);
  if (rc == 0) rc = flyq__topics_declare(b, cfg);
  if (rc < 0) {
    flyq__topics_free(b);
    free(b);
    return rc;
  }
  handles_start(b);
  *out = b;
  return 0;
}

static void finish(flyq_broker_t *b) {
  flyq_broker_close_cb cb = b->close_cb;
  void *arg = b->close_arg;
  int status = b->close_status;
  free(b);
  if (cb) cb(status, arg);
}

void flyq__handle_closed(flyq_broker_t *b) {
  if (--b->handles == 0 && b->store_closed) finish(b);
}

static void broker_handle_closed(uv_handle_t *h) { flyq__handle_closed(h->data); }

static void handles_close(flyq_broker_t *b) {
  uv_close((uv_handle_t *)&b->flush_timer, broker_handle_closed);
  uv_close((uv_handle_t *)&b->groups_timer, broker_handle_closed);
  uv_close((uv_handle_t *)&b->retention_timer, broker_handle_closed);
  uv_close((uv_handle_t *)&b->idle, broker_handle_closed);
}

void flyq__close_step(flyq_broker_t *b) {
  if (b->store_closed) return;
  flyq__deliver(b);
  if (b->jobs > 0) return;
  b->store_closed = 1;
  int rc = flyq_store_flush(b->store);
  flyq__acks_settle_all(b, rc);
  flyq__deliver(b);
  int rc2 = flyq_store_close(b->store);
  b->store = NULL;
  b->close_status = rc < 0 ? rc : rc2;
  flyq__topics_free(b);
  flyq__produce_scratch_free(b);
  handles_close(b);
}

int flyq_broker_close(flyq_broker_t *b, flyq_broker_close_cb cb, void *arg) {
  if (b->closing) return FLYQ_ERR_CLOSED;
  b->closing = 1;
  b->close_cb = cb;
  b->close_arg = arg;
  uv_timer_stop(&b->flush_timer);
  uv_timer_stop(&b->groups_timer);
  uv_timer_stop(&b->retention_timer);
  flyq__fetch_wake_parked(b);
  flyq__schedule(b);
  return 0;
}

void flyq_broker_stats(const flyq_broker_t *b, flyq_broker_stats_t *out) {
  *out = b->stats;
  out->topics = b->ntopics;
}
