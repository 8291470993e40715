/* The batching record sender: flyq_client_send adds records to one batch
 * builder per topic/partition and hands a batch to produce_async once it
 * reaches options.send_batch_bytes; flyq_client_send_flush sends the rest
 * and waits. The first failure of any batch is kept for send_flush.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

static void send_done(flyq_client_t *c, const flyq_produce_result_t *res,
                      void *arg) {
  (void)arg;
  if (res->err != 0 && c->send_err == 0) {
    c->send_err = res->err;
    c->send_error_code = res->error_code;
    snprintf(c->send_errmsg, sizeof(c->send_errmsg), "Produce %s: %s%s%s",
             res->topic, flyq_strerror(res->err),
             res->error_message ? ": " : "",
             res->error_message ? res->error_message : "");
  }
  if (c->opts.send_cb) c->opts.send_cb(c, res, c->opts.send_cb_arg);
}

/* The accumulator of topic/partition, created when missing. */
static flyq__acc_t *find_acc(flyq_client_t *c, const char *topic,
                             int32_t partition) {
  flyq__acc_t *a;
  for (size_t i = 0; i < c->naccs; i++) {
    a = &c->accs[i];
    if (a->partition == partition && strcmp(a->topic, topic) == 0) return a;
  }
  if (c->naccs == c->accs_cap) {
    size_t cap = c->accs_cap ? c->accs_cap * 2 : 4;
    flyq__acc_t *n = realloc(c->accs, cap * sizeof(*n));
    if (n == NULL) return NULL;
    c->accs = n;
    c->accs_cap = cap;
  }
  a = &c->accs[c->naccs];
  a->topic = flyq__topic_intern(c, topic);
  if (a->topic == NULL) return NULL;
  a->partition = partition;
  flyq_batch_builder_init(&a->builder);
  c->naccs++;
  return a;
}

/* Sends the accumulated batch (if any) with produce_async. */
static int send_acc(flyq_client_t *c, flyq__acc_t *a) {
  const uint8_t *batch;
  size_t len;
  int32_t n = a->builder.count;
  int r;
  if (n == 0) return 0;
  r = flyq_batch_builder_finish(&a->builder, &batch, &len);
  if (r == 0)
    r = flyq__produce_async(c, a->topic, a->partition, c->opts.send_acks,
                            batch, len, n, send_done, NULL);
  flyq_batch_builder_reset(&a->builder);
  return r;
}

int flyq_client_send_ts(flyq_client_t *c, const char *topic,
                        int32_t partition, int64_t timestamp, const void *key,
                        int32_t key_len, const void *value, int32_t value_len,
                        const flyq_record_header_t *headers,
                        int32_t nheaders) {
  flyq__acc_t *a;
  int r = topic ? flyq__client_begin(c, 0) : FLYQ_ERR_INVALID_ARG;
  if (r < 0) return r;
  a = find_acc(c, topic, partition);
  if (a == NULL) return flyq__client_fail(c, -ENOMEM, 0, "out of memory");
  r = flyq_batch_builder_add(&a->builder,
                             timestamp < 0 ? flyq_now_ms() : timestamp, key,
                             key_len, value, value_len, headers, nheaders);
  if (r < 0)
    return flyq__client_fail(c, r, 0, "send %s: %s", topic, flyq_strerror(r));
  if (a->builder.len >= c->opts.send_batch_bytes) return send_acc(c, a);
  return 0;
}

int flyq_client_send(flyq_client_t *c, const char *topic, int32_t partition,
                     const void *key, int32_t key_len, const void *value,
                     int32_t value_len, const flyq_record_header_t *headers,
                     int32_t nheaders) {
  return flyq_client_send_ts(c, topic, partition, -1, key, key_len, value,
                             value_len, headers, nheaders);
}

int flyq_client_send_flush(flyq_client_t *c, int timeout_ms) {
  int r = flyq__client_begin(c, 1);
  for (size_t i = 0; r == 0 && i < c->naccs; i++) r = send_acc(c, &c->accs[i]);
  if (r == 0) r = flyq_client_flush(c, timeout_ms);
  if (c->send_err != 0 && (r == 0 || r == c->send_err)) {
    r = flyq__client_fail(c, c->send_err, c->send_error_code, "%s",
                          c->send_errmsg);
  }
  c->send_err = 0;
  return r;
}

void flyq__send_free(flyq_client_t *c) {
  for (size_t i = 0; i < c->naccs; i++)
    flyq_batch_builder_free(&c->accs[i].builder);
  free(c->accs);
  c->accs = NULL;
  c->naccs = c->accs_cap = 0;
}
