/* Fetch: the blocking flyq_client_fetch (records stay in the client's read
 * buffer until the next call), the iterator that validates each batch and
 * skips records below the requested offset, and the consume loop built on
 * both.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "client/client_int.h"

static void fetch_result_init(flyq_fetch_result_t *res) {
  memset(res, 0, sizeof(*res));
  res->high_watermark = res->log_start_offset = res->flushed_offset = -1;
}

/* Decodes the Fetch response (version v) for topic/partition into res
 * and *next (-1 when the broker does not say). */
static int fetch_decode(flyq_client_t *c, const char *topic,
                        int32_t partition, int v, flyq_fetch_result_t *res,
                        int64_t *next) {
  flyq_proto_fetch_resp_t resp;
  const flyq_proto_fetch_resp_part_t *p;
  int64_t *nexts = NULL;
  char what[300];
  int r = v >= 1 ? flyq_proto_decode_fetch_resp_v1(c->sync.payload,
                                                   c->sync.len, &c->arena,
                                                   &resp, &nexts)
                 : flyq_proto_decode_fetch_resp(c->sync.payload, c->sync.len,
                                                &c->arena, &resp);
  *next = -1;
  if (r < 0 ||
      resp.ntopics != 1 || !flyq_str_eq(resp.topics[0].name, topic) ||
      resp.topics[0].nparts != 1 ||
      resp.topics[0].parts[0].partition != partition)
    return flyq__malformed(c, "Fetch");
  p = &resp.topics[0].parts[0];
  if (nexts) *next = nexts[0];
  res->error_code = p->error_code;
  res->error_message = flyq__cstr(&c->arena, p->error_message);
  res->high_watermark = p->high_watermark;
  res->log_start_offset = p->log_start_offset;
  res->flushed_offset = p->flushed_offset;
  if (p->records.len > 0) {
    res->records = p->records.ptr;
    res->records_len = (size_t)p->records.len;
  }
  if (p->error_code == 0) return 0;
  snprintf(what, sizeof(what), "Fetch %s[%d]", topic, (int)partition);
  return flyq__client_wire_fail(c, what, p->error_code, p->error_message);
}

/* The filter as wire params, in the call's arena. Errors have their text. */
static int filter_wire(flyq_client_t *c, const flyq_fetch_filter_t *f,
                       flyq_proto_fetch_filter_t *w) {
  w->name = flyq_str(f->name);
  w->params = NULL;
  w->nparams = 0;
  if (f->nparams == 0) return 0;
  if (f->params == NULL || f->nparams > INT32_MAX)
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0, "Fetch: bad params");
  flyq_proto_config_t *p = flyq_arena_calloc(&c->arena, f->nparams, sizeof *p);
  if (p == NULL) return flyq__client_fail(c, -ENOMEM, 0, "out of memory");
  for (size_t i = 0; i < f->nparams; i++) {
    if (f->params[i].key == NULL || f->params[i].value == NULL)
      return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                               "Fetch: a filter param without key or value");
    p[i] = (flyq_proto_config_t){flyq_str(f->params[i].key),
                                 flyq_str(f->params[i].value)};
  }
  w->params = p;
  w->nparams = (int32_t)f->nparams;
  return 0;
}

/* Version 1 whenever the broker speaks it (for next_offset), else 0. */
static int encode_fetch(flyq_client_t *c, flyq_proto_req_header_t *h,
                        const flyq_proto_fetch_req_t *req,
                        const flyq_fetch_filter_t *filter) {
  flyq_proto_fetch_filter_t w = {{NULL, -1}, NULL, 0};
  int named = filter && filter->name;
  if (!c->fetch_v1 && named)
    return flyq__client_fail(c, FLYQ_ERR_UNSUPPORTED, 0,
                             "Fetch: the broker does not support filters "
                             "(Fetch version 1)");
  if (!c->fetch_v1)
    return flyq__encoded(c, flyq_proto_encode_fetch_req(&c->out, h, req),
                         "Fetch");
  int r = named ? filter_wire(c, filter, &w) : 0;
  if (r < 0) return r;
  h->api_version = 1;
  return flyq__encoded(c, flyq_proto_encode_fetch_req_v1(&c->out, h, req, &w),
                       "Fetch");
}

int flyq_client_fetch_filtered(flyq_client_t *c, const char *topic,
                               int32_t partition, int64_t offset,
                               int32_t max_bytes, int32_t max_wait_ms,
                               int32_t min_bytes,
                               const flyq_fetch_filter_t *filter,
                               flyq_fetch_result_t *res, int64_t *next_offset) {
  flyq_proto_req_header_t h;
  flyq_proto_fetch_req_part_t part = {partition, offset, max_bytes};
  flyq_proto_fetch_req_topic_t t = {flyq_str(topic), &part, 1};
  flyq_proto_fetch_req_t req = {max_wait_ms, min_bytes, max_bytes, &t, 1};
  int64_t next;
  int r = topic ? 0 : flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                                       "Fetch: missing topic");
  fetch_result_init(res);
  if (next_offset) *next_offset = -1;
  if (r == 0) r = flyq__start(c, FLYQ_API_FETCH, &h);
  if (r < 0) return r;
  r = encode_fetch(c, &h, &req, filter);
  if (r < 0) return r;
  r = flyq__sync_call(c, &h, 1, max_wait_ms, "Fetch");
  if (r < 0) return r;
  r = fetch_decode(c, topic, partition, h.api_version, res, &next);
  if (next_offset) *next_offset = next;
  return r;
}

int flyq_client_fetch(flyq_client_t *c, const char *topic, int32_t partition,
                      int64_t offset, int32_t max_bytes, int32_t max_wait_ms,
                      int32_t min_bytes, flyq_fetch_result_t *res) {
  return flyq_client_fetch_filtered(c, topic, partition, offset, max_bytes,
                                    max_wait_ms, min_bytes, NULL, res, NULL);
}

void flyq_fetch_iter_init(flyq_fetch_iter_t *it, const uint8_t *records,
                          size_t len, int64_t min_offset) {
  memset(it, 0, sizeof(*it));
  it->p = records;
  it->end = records ? records + len : records;
  it->min_offset = min_offset;
  it->next_offset = min_offset;
}

/* Validates the next batch and starts iterating its records. */
static int next_batch(flyq_fetch_iter_t *it) {
  size_t left = (size_t)(it->end - it->p);
  int64_t size = flyq_batch_size(it->p, left);
  int r;
  if (size < 0) return (int)size;
  if ((uint64_t)size > left) return FLYQ_ERR_TRUNCATED;
  r = flyq_batch_validate(it->p, (size_t)size, NULL);
  if (r == 0) r = flyq_record_iter_init(&it->rit, it->p, (size_t)size);
  if (r < 0) return r;
  it->p += size;
  it->in_batch = 1;
  return 0;
}

int flyq_fetch_iter_next(flyq_fetch_iter_t *it, flyq_record_t *rec) {
  for (;;) {
    int r;
    if (!it->in_batch) {
      if (it->p == it->end) return 0;
      r = next_batch(it);
      if (r < 0) return r;
    }
    r = flyq_record_iter_next(&it->rit, rec);
    if (r < 0) return r;
    if (r == 0) {
      int64_t end = it->rit.h.base_offset + it->rit.h.last_offset_delta + 1;
      if (end > it->next_offset) it->next_offset = end;
      it->in_batch = 0;
      continue;
    }
    if (rec->offset < it->min_offset) continue;
    if (rec->offset + 1 > it->next_offset) it->next_offset = rec->offset + 1;
    return 1;
  }
}

void flyq_consume_options_init(flyq_consume_options_t *o) {
  memset(o, 0, sizeof(*o));
  o->max_bytes = 1024 * 1024;
  o->max_wait_ms = 500;
  o->min_bytes = 1;
}

/* Calls handler for the records of one fetch result from *offset on,
 * advancing *offset and *count. Returns 0 to go on, 1 to stop, or an
 * error. */
static int consume_records(flyq_client_t *c, const flyq_fetch_result_t *res,
                           const flyq_consume_options_t *o,
                           flyq_record_cb handler, void *arg, int64_t *offset,
                           int64_t *count) {
  flyq_fetch_iter_t it;
  flyq_record_t rec;
  int r, h;
  flyq_fetch_iter_init(&it, res->records, res->records_len, *offset);
  while ((r = flyq_fetch_iter_next(&it, &rec)) == 1) {
    c->in_callback++; /* records point into the read buffer */
    h = handler(c, &rec, arg);
    c->in_callback--;
    *offset = rec.offset + 1;
    (*count)++;
    if (h != 0) return h < 0 ? h : 1;
    if (o->max_records > 0 && *count >= o->max_records) return 1;
  }
  if (r < 0)
    return flyq__client_fail(c, r, 0, "Fetch: bad record batch at offset "
                             "%lld: %s", (long long)*offset, flyq_strerror(r));
  if (it.next_offset > *offset) *offset = it.next_offset;
  return 0;
}

/* Resolves FLYQ_OFFSET_EARLIEST / FLYQ_OFFSET_LATEST. */
static int start_offset(flyq_client_t *c, const char *topic,
                        int32_t partition, int64_t from, int64_t *offset) {
  *offset = from;
  if (from >= 0) return 0;
  if (from != FLYQ_OFFSET_EARLIEST && from != FLYQ_OFFSET_LATEST)
    return flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                             "consume: invalid start offset %lld",
                             (long long)from);
  return flyq_client_list_offset(c, topic, partition, from, offset);
}

int flyq_client_consume_filtered(flyq_client_t *c, const char *topic,
                                 int32_t partition, int64_t from_offset,
                                 const flyq_consume_options_t *opts,
                                 const flyq_fetch_filter_t *filter,
                                 flyq_record_cb handler, void *arg,
                                 int64_t *next_offset) {
  flyq_consume_options_t o;
  flyq_fetch_result_t res;
  int64_t offset = from_offset, count = 0, next;
  int r;
  if (opts) o = *opts;
  else flyq_consume_options_init(&o);
  r = handler && topic
          ? start_offset(c, topic, partition, from_offset, &offset)
          : flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                              "consume: missing topic or handler");
  while (r == 0) {
    r = flyq_client_fetch_filtered(c, topic, partition, offset, o.max_bytes,
                                   o.max_wait_ms, o.min_bytes, filter, &res,
                                   &next);
    if (r == 0) r = consume_records(c, &res, &o, handler, arg, &offset, &count);
    if (r == 0 && next > offset) offset = next; /* past dropped records */
    if (r == 0 && o.stop_at_end && offset >= res.high_watermark) r = 1;
  }
  if (next_offset) *next_offset = offset;
  return r > 0 ? 0 : r;
}

int flyq_client_consume(flyq_client_t *c, const char *topic,
                        int32_t partition, int64_t from_offset,
                        const flyq_consume_options_t *opts,
                        flyq_record_cb handler, void *arg,
                        int64_t *next_offset) {
  return flyq_client_consume_filtered(c, topic, partition, from_offset, opts,
                                      NULL, handler, arg, next_offset);
}
