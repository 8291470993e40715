/* Produce: the blocking flyq_client_produce, the pipelined
 * flyq_client_produce_async with its callback, flyq_client_poll and
 * flyq_client_flush, and the decoding of a Produce response into a
 * flyq_produce_result_t (checked against the topic and partition asked).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/client_int.h"

static void result_init(flyq_produce_result_t *res, const char *topic,
                        int32_t records) {
  memset(res, 0, sizeof(*res));
  res->topic = topic;
  res->records = records;
  res->base_offset = res->last_offset = res->log_start_offset = -1;
}

/* Records the first failure of the result. */
static void result_error(flyq_produce_result_t *res, int err, int16_t code,
                         const char *msg) {
  if (res->err != 0) return;
  res->err = err;
  res->error_code = code;
  res->error_message = msg;
}

static int copy_parts(flyq_arena_t *a, flyq_produce_result_t *res,
                      const flyq_proto_produce_resp_topic_t *t) {
  flyq_produce_part_t *parts =
      flyq_arena_calloc(a, (size_t)t->nparts + 1, sizeof(*parts));
  if (parts == NULL) return -ENOMEM;
  for (int32_t i = 0; i < t->nparts; i++) {
    const flyq_proto_produce_resp_part_t *p = &t->parts[i];
    flyq_produce_part_t *q = &parts[i];
    q->partition = p->partition;
    q->error_code = p->error_code;
    q->error_message = flyq__cstr(a, p->error_message);
    q->base_offset = p->base_offset;
    q->last_offset = p->last_offset;
    q->log_start_offset = p->log_start_offset;
    if (q->error_code != 0)
      result_error(res, flyq_wire_error_to_err(q->error_code), q->error_code,
                   q->error_message);
  }
  if (t->nparts == 0) /* nothing stored in this topic: see decode_result */
    parts[0].base_offset = parts[0].last_offset = parts[0].log_start_offset = -1;
  res->parts = parts;
  res->nparts = (size_t)t->nparts;
  res->base_offset = parts[0].base_offset;
  res->last_offset = parts[0].last_offset;
  res->log_start_offset = parts[0].log_start_offset;
  return 0;
}

/* Fills res from the response to a produce for topic/partition. Returns 0
 * (res->err may still say the broker refused) or FLYQ_ERR_PROTOCOL for a
 * response that does not decode or does not answer the request. */
static int decode_result(flyq_arena_t *a, const uint8_t *p, size_t len,
                         int32_t partition, flyq_produce_result_t *res) {
  flyq_proto_produce_resp_t resp;
  const flyq_proto_produce_resp_topic_t *t;
  if (flyq_proto_decode_produce_resp(p, len, a, &resp) < 0)
    return FLYQ_ERR_PROTOCOL;
  if (resp.hdr.error_code != 0) {
    result_error(res, flyq_wire_error_to_err(resp.hdr.error_code),
                 resp.hdr.error_code, flyq__cstr(a, resp.hdr.error_message));
    return 0;
  }
  /* No partition entry is a success too: the topic's plugins dropped the
   * records or routed them all to other topics. */
  t = resp.topics;
  if (resp.ntopics != 1 || !flyq_str_eq(t->name, res->topic) ||
      (partition >= 0 && t->nparts > 0 &&
       (t->nparts != 1 || t->parts[0].partition != partition)))
    return FLYQ_ERR_PROTOCOL;
  return copy_parts(a, res, t) < 0 ? -ENOMEM : 0;
}

/* The result of an acks = 0 produce once written: one part, offsets -1. */
static int written_result(flyq_arena_t *a, flyq_produce_result_t *res,
                          int32_t partition) {
  flyq_produce_part_t *part = flyq_arena_calloc(a, 1, sizeof(*part));
  if (part == NULL) return -ENOMEM;
  part->partition = partition;
  part->base_offset = part->last_offset = part->log_start_offset = -1;
  res->parts = part;
  res->nparts = 1;
  return 0;
}

/* Fills res for a completed request r (payload NULL: written or failed). */
static int complete_result(flyq_client_t *c, flyq_arena_t *a,
                           const flyq__req_t *r, const uint8_t *p,
                           size_t len, int err, flyq_produce_result_t *res) {
  int d = 0;
  result_init(res, r->topic, r->records);
  if (err != 0) {
    result_error(res, err, 0, c->errmsg);
  } else if (p == NULL) {
    if (written_result(a, res, r->partition) < 0)
      result_error(res, -ENOMEM, 0, "out of memory");
  } else {
    d = decode_result(a, p, len, r->partition, res);
    if (d < 0) result_error(res, d, 0, "malformed Produce response");
  }
  return d;
}

static void async_done(flyq_client_t *c, flyq__req_t *r, const uint8_t *p,
                       size_t len, int err) {
  flyq_produce_result_t res;
  int d;
  flyq_arena_reset(&c->cb_arena);
  d = complete_result(c, &c->cb_arena, r, p, len, err, &res);
  if (r->cb) r->cb(c, &res, r->arg);
  if (d < 0) flyq__malformed(c, "Produce");
}

static int check_args(flyq_client_t *c, const char *topic, int acks,
                      const uint8_t *batches, size_t len) {
  if (topic && batches && len > 0 && len <= INT32_MAX &&
      (acks == 0 || acks == 1 || acks == -1))
    return 0;
  return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                           "Produce: invalid arguments (topic, batches, "
                           "acks %d)", acks);
}

/* Encodes a Produce request for one topic/partition into c->out. */
static int encode(flyq_client_t *c, const flyq_proto_req_header_t *h,
                  const char *topic, int32_t partition, int acks,
                  const uint8_t *batches, size_t len) {
  flyq_proto_produce_req_part_t part = {partition,
                                        {batches, (int32_t)len}};
  flyq_proto_produce_req_topic_t t = {flyq_str(topic), &part, 1};
  flyq_proto_produce_req_t req = {(int8_t)acks, c->opts.request_timeout_ms,
                                  &t, 1};
  return flyq__encoded(c, flyq_proto_encode_produce_req(&c->out, h, &req),
                       "Produce");
}

int flyq__produce_async(flyq_client_t *c, const char *topic,
                        int32_t partition, int acks, const uint8_t *batches,
                        size_t len, int32_t records, flyq_produce_cb cb,
                        void *arg) {
  flyq_proto_req_header_t h;
  flyq__req_t *req;
  const char *name;
  int r = check_args(c, topic, acks, batches, len);
  if (r == 0) r = flyq__client_begin(c, 0);
  if (r == 0) r = flyq__wait_slot(c);
  if (r < 0) return r;
  name = flyq__topic_intern(c, topic);
  if (name == NULL) return flyq__client_fail(c, -ENOMEM, 0, "out of memory");
  h = flyq__req_header(c, FLYQ_API_PRODUCE);
  r = encode(c, &h, topic, partition, acks, batches, len);
  if (r < 0) return r;
  req = flyq__req_push(c, &h, acks != 0, async_done);
  req->cb = cb;
  req->arg = arg;
  req->topic = name;
  req->partition = partition;
  req->records = records;
  /* Accepted: if the write loses the connection, cb has fired with it. */
  (void)flyq__maybe_write(c);
  return 0;
}

int flyq_client_produce_async(flyq_client_t *c, const char *topic,
                              int32_t partition, int acks,
                              const uint8_t *batches, size_t len,
                              flyq_produce_cb cb, void *arg) {
  return flyq__produce_async(c, topic, partition, acks, batches, len, -1, cb,
                             arg);
}

int flyq_client_produce(flyq_client_t *c, const char *topic,
                        int32_t partition, int acks, const uint8_t *batches,
                        size_t len, flyq_produce_result_t *res) {
  flyq_produce_result_t tmp;
  flyq_proto_req_header_t h;
  flyq__req_t req = {.topic = topic, .partition = partition, .records = -1};
  int r = check_args(c, topic, acks, batches, len);
  if (res == NULL) res = &tmp;
  result_init(res, topic, -1);
  if (r == 0) r = flyq__start(c, FLYQ_API_PRODUCE, &h);
  if (r == 0) r = encode(c, &h, topic, partition, acks, batches, len);
  if (r == 0) r = flyq__sync_call(c, &h, acks != 0, 0, "Produce");
  if (r < 0) {
    result_error(res, r, c->error_code, c->errmsg);
    return r;
  }
  if (complete_result(c, &c->arena, &req, c->sync.payload, c->sync.len, 0,
                      res) < 0)
    return flyq__malformed(c, "Produce");
  if (res->err != 0) {
    char what[300];
    snprintf(what, sizeof(what), "Produce %s[%d]", topic, (int)partition);
    flyq__client_wire_fail(c, what, res->error_code,
                           flyq_str(res->error_message));
  }
  return res->err;
}

static int nothing_in_flight(flyq_client_t *c, void *arg) {
  (void)arg;
  return c->rcount == 0;
}

static int fired_or_idle(flyq_client_t *c, void *arg) {
  return c->rcount == 0 || c->completed != *(uint64_t *)arg;
}

static int never(flyq_client_t *c, void *arg) {
  (void)c;
  (void)arg;
  return 0;
}

int flyq_client_poll(flyq_client_t *c, int timeout_ms) {
  uint64_t start = c->completed;
  int64_t deadline = timeout_ms < 0 ? -1 : flyq__mono_ms() + timeout_ms;
  int r = flyq__client_begin(c, 1);
  if (r < 0) return r;
  r = flyq__pump(c, deadline, timeout_ms < 0 ? fired_or_idle : never, &start);
  if (r < 0 && r != FLYQ_ERR_TIMEOUT) return r;
  return (int)(c->completed - start);
}

int flyq_client_flush(flyq_client_t *c, int timeout_ms) {
  int64_t deadline = timeout_ms < 0 ? -1 : flyq__mono_ms() + timeout_ms;
  int r;
  if (c->rcount == 0 && c->fd < 0) return 0;
  r = flyq__client_begin(c, 1);
  if (r < 0) return r;
  r = flyq__pump(c, deadline, nothing_in_flight, NULL);
  if (r == FLYQ_ERR_TIMEOUT)
    flyq__client_fail(c, r, 0, "flush: %zu requests still in flight after "
                      "%d ms", c->rcount, timeout_ms);
  return r;
}
