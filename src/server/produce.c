/* Produce (API 0): one broker call per (topic, partition) entry, the
 * records passed as they arrived (no per-record work here). acks 0 and 1
 * complete during the call; acks=-1 entries complete when their fsync
 * does, so the request waits for its last entry before it is answered.
 * acks=0 requests are never answered. An invalid request (bad acks) makes
 * no broker call, so nothing of it is stored.
 */
#include <errno.h>
#include <string.h>

#include "server/internal.h"

/* One (topic, partition) entry of the request and its outcome. */
typedef struct slot {
  flyq__req_t *req;
  int32_t partition; /* as requested */
  size_t nparts;     /* outcomes: 1, or one per partition for -1 */
  flyq_proto_produce_resp_part_t *parts;
} slot_t;

/* The request's state, in its arena. */
typedef struct produce_state {
  int acks;
  int32_t ntopics;
  flyq_proto_produce_resp_topic_t *topics; /* names copied */
  int32_t *first; /* ntopics + 1 entries: the slots of topic t */
  slot_t *slots;
} produce_state_t;

static void slot_fail(slot_t *s, int err) {
  flyq_proto_produce_resp_part_t *p =
      flyq_arena_calloc(&s->req->arena, 1, sizeof *p);
  s->parts = p;
  s->nparts = p ? 1 : 0;
  if (p == NULL) return;
  p->partition = s->partition;
  p->error_code = flyq_wire_error_from(err);
  p->error_message = flyq__errmsg(err);
  p->base_offset = p->last_offset = p->log_start_offset = -1;
}

static void slot_set(slot_t *s, const flyq_broker_produce_result_t *res) {
  flyq_proto_produce_resp_part_t *p =
      flyq_arena_calloc(&s->req->arena, res->nparts, sizeof *p);
  if (p == NULL && res->nparts > 0) {
    slot_fail(s, -ENOMEM);
    return;
  }
  for (size_t i = 0; i < res->nparts; i++) {
    const flyq_broker_produce_part_t *r = &res->parts[i];
    p[i].partition = r->partition;
    p[i].error_code = flyq_wire_error_from(r->err);
    p[i].error_message = flyq__errmsg(r->err);
    p[i].base_offset = r->base_offset;
    p[i].last_offset = r->last_offset;
    p[i].log_start_offset = r->log_start_offset;
  }
  s->parts = p;
  s->nparts = res->nparts;
}

/* Each topic's parts: the outcomes of its slots back to back. */
static int gather(flyq__req_t *req, produce_state_t *st) {
  for (int32_t t = 0; t < st->ntopics; t++) {
    size_t n = 0, k = 0;
    for (int32_t i = st->first[t]; i < st->first[t + 1]; i++)
      n += st->slots[i].nparts;
    flyq_proto_produce_resp_part_t *parts =
        flyq_arena_calloc(&req->arena, n, sizeof *parts);
    if (parts == NULL && n > 0) return -ENOMEM;
    for (int32_t i = st->first[t]; i < st->first[t + 1]; i++) {
      if (st->slots[i].nparts == 0) continue;
      memcpy(parts + k, st->slots[i].parts,
             st->slots[i].nparts * sizeof *parts);
      k += st->slots[i].nparts;
    }
    st->topics[t].parts = parts;
    st->topics[t].nparts = (int32_t)n;
  }
  return 0;
}

static void respond(flyq__req_t *req) {
  produce_state_t *st = req->state;
  if (st->acks == 0) {
    req->silent = 1;
    req->ready = 1;
    return;
  }
  int rc = gather(req, st);
  if (rc == 0) {
    flyq_proto_produce_resp_t resp = {
        {req->correlation_id, 0, {NULL, -1}}, st->topics, st->ntopics};
    rc = flyq_proto_encode_produce_resp(&req->out, &resp);
  }
  flyq__req_respond(req, rc);
}

/* One entry's broker call is over (or never started). */
static void unref(flyq__req_t *req) {
  if (--req->waiting > 0) return;
  if (req->sc == NULL) { /* the connection is gone */
    flyq__req_free(req);
    return;
  }
  respond(req);
  flyq__sconn_flush(req->sc);
}

static void produced(const flyq_broker_produce_result_t *res, void *arg) {
  slot_t *s = arg;
  slot_set(s, res);
  unref(s->req);
}

static void produce_slot(flyq__req_t *req, slot_t *s, const char *topic,
                         int name_rc, const flyq_proto_produce_req_part_t *p,
                         int64_t timeout_ms) {
  produce_state_t *st = req->state;
  if (name_rc < 0) {
    slot_fail(s, name_rc);
    return;
  }
  size_t len = p->records.len > 0 ? (size_t)p->records.len : 0;
  /* The records point into the frame, which is ours to modify. */
  uint8_t *records = (uint8_t *)(uintptr_t)p->records.ptr;
  req->waiting++;
  int rc = flyq_broker_produce(req->broker, topic, p->partition, st->acks,
                               records, len, timeout_ms, produced, s);
  if (rc < 0) {
    req->waiting--;
    slot_fail(s, rc);
  }
}

static int state_new(flyq__req_t *req, const flyq_proto_produce_req_t *r) {
  produce_state_t *st = flyq_arena_calloc(&req->arena, 1, sizeof *st);
  if (st == NULL) return -ENOMEM;
  st->acks = r->acks;
  st->ntopics = r->ntopics;
  st->topics =
      flyq_arena_calloc(&req->arena, (size_t)r->ntopics, sizeof *st->topics);
  st->first =
      flyq_arena_calloc(&req->arena, (size_t)r->ntopics + 1, sizeof *st->first);
  for (int32_t t = 0; st->first && t < r->ntopics; t++)
    st->first[t + 1] = st->first[t] + r->topics[t].nparts;
  size_t nslots = st->first ? (size_t)st->first[r->ntopics] : 0;
  st->slots = flyq_arena_calloc(&req->arena, nslots, sizeof *st->slots);
  if (st->first == NULL || (r->ntopics > 0 && st->topics == NULL) ||
      (nslots > 0 && st->slots == NULL))
    return -ENOMEM;
  req->state = st;
  return 0;
}

/* Copies topic t's name into the response and makes the broker calls. */
static void produce_topic(flyq__req_t *req, const flyq_proto_produce_req_t *r,
                          int32_t t) {
  produce_state_t *st = req->state;
  const flyq_proto_produce_req_topic_t *rt = &r->topics[t];
  const char *name;
  int name_rc = flyq__req_name(req, rt->name, &name);
  if (flyq__req_copy(req, rt->name, &st->topics[t].name) < 0)
    name_rc = -ENOMEM; /* the entries fail; the name goes out empty */
  for (int32_t i = 0; i < rt->nparts; i++) {
    slot_t *s = &st->slots[st->first[t] + i];
    s->req = req;
    s->partition = rt->parts[i].partition;
    produce_slot(req, s, name, name_rc, &rt->parts[i], r->timeout_ms);
  }
}

void flyq__handle_produce(flyq__req_t *req, const flyq_proto_produce_req_t *r) {
  if (r->acks != FLYQ_ACKS_NONE && r->acks != FLYQ_ACKS_LEADER &&
      r->acks != FLYQ_ACKS_ALL) {
    flyq__req_error(req, FLYQ_WIRE_INVALID_REQUEST, "acks must be 0, 1 or -1");
    return;
  }
  int rc = state_new(req, r);
  if (rc < 0) {
    flyq__req_fail(req, rc);
    return;
  }
  req->waiting = 1; /* until every call is made */
  for (int32_t t = 0; t < r->ntopics; t++) produce_topic(req, r, t);
  unref(req);
}
