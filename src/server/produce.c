/* Produce (API 0): one broker call per (topic, partition) entry, the
 * records passed as they arrived (no per-record work here) unless the
 * topic has on_produce hooks: then the plugin runtime runs them first and
 * its output (changed records, records routed to other topics, dead
 * letters) is stored in one broker call that stores all of it or nothing.
 * acks 0 and 1 complete during the call; acks=-1 entries complete when
 * their fsync does, so the request waits for its last entry before it is
 * answered. acks=0 requests are never answered. An invalid request (bad
 * acks) makes no broker call, so nothing of it is stored.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flyq/logmsg.h"

#include "server/internal.h"

/* One (topic, partition) entry of the request and its outcome. */
typedef struct slot {
  flyq__req_t *req;
  const char *topic; /* valid name, or NULL */
  int32_t partition; /* as requested */
  size_t nparts;     /* outcomes: 1, or one per partition for -1 */
  flyq_proto_produce_resp_part_t *parts;
  int lost;          /* an outcome could not be recorded (no memory) */
} slot_t;

/* The request's state, in its arena. */
typedef struct produce_state {
  int acks;
  int32_t ntopics;
  flyq_proto_produce_resp_topic_t *topics; /* names copied */
  int32_t *first; /* ntopics + 1 entries: the slots of topic t */
  slot_t *slots;
} produce_state_t;

/* The entry failed (err 0: stored nothing, without error); msg (may be
 * NULL: the code's text) is copied. */
static void slot_fail_msg(slot_t *s, int err, const char *msg) {
  flyq_proto_produce_resp_part_t *p =
      flyq_arena_calloc(&s->req->arena, 1, sizeof *p);
  s->parts = p;
  s->nparts = p ? 1 : 0;
  if (p == NULL) {
    s->lost = 1;
    return;
  }
  p->partition = s->partition;
  p->error_code = flyq_wire_error_from(err);
  p->error_message = flyq__errmsg(err);
  if (msg && msg[0]) {
    char *copy = flyq_arena_strdup(&s->req->arena, flyq_str(msg));
    if (copy) p->error_message = flyq_str(copy);
  }
  p->base_offset = p->last_offset = p->log_start_offset = -1;
}

static void slot_fail(slot_t *s, int err) { slot_fail_msg(s, err, NULL); }

/* 1 if part of res answers the entry itself: the request's topic, and its
 * partition when it named one (-1: whichever the partitioner chose). */
static int answers(const slot_t *s, const flyq_broker_produce_result_t *res,
                   const flyq_broker_produce_part_t *part) {
  return (s->topic == NULL || strcmp(res->topic, s->topic) == 0) &&
         (s->partition < 0 || part->partition == s->partition);
}

/* Adds the outcomes of res to the entry's: the requested partition (or,
 * for -1, every partition of the topic) gives its own; anything else the
 * hooks sent records to (another partition or topic, dead letters) shows
 * only when it failed, as an entry for the requested partition naming it.
 * A client gets answers for exactly the partitions it asked about. */
static void slot_add(slot_t *s, const flyq_broker_produce_result_t *res) {
  size_t n = 0;
  for (size_t i = 0; i < res->nparts; i++)
    if (answers(s, res, &res->parts[i]) || res->parts[i].err < 0) n++;
  if (n == 0) return;
  flyq_proto_produce_resp_part_t *p =
      flyq_arena_calloc(&s->req->arena, s->nparts + n, sizeof *p);
  if (p == NULL) {
    slot_fail(s, -ENOMEM);
    return;
  }
  if (s->nparts > 0) memcpy(p, s->parts, s->nparts * sizeof *p);
  for (size_t i = 0, k = s->nparts; i < res->nparts; i++) {
    const flyq_broker_produce_part_t *r = &res->parts[i];
    int own = answers(s, res, r);
    if (!own && r->err >= 0) continue;
    p[k].partition = own ? r->partition : s->partition;
    p[k].error_code = flyq_wire_error_from(r->err);
    p[k].error_message = flyq__errmsg(r->err);
    p[k].base_offset = r->base_offset;
    p[k].last_offset = r->last_offset;
    p[k++].log_start_offset = r->log_start_offset;
  }
  s->parts = p;
  s->nparts += n;
}

/* Each topic's parts: the outcomes of its slots back to back. An entry for
 * a named partition whose records all went elsewhere, without error, gets
 * an empty success, as one whose records the hooks dropped (an entry for
 * -1 then has none: docs/protocol.md). */
static int gather(flyq__req_t *req, produce_state_t *st) {
  for (int32_t t = 0; t < st->ntopics; t++) {
    size_t n = 0, k = 0;
    for (int32_t i = st->first[t]; i < st->first[t + 1]; i++) {
      slot_t *s = &st->slots[i];
      if (s->nparts == 0 && (s->partition >= 0 || s->lost))
        slot_fail_msg(s, s->lost ? -ENOMEM : 0, NULL);
      n += s->nparts;
    }
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
  slot_add(s, res);
  unref(s->req);
}

/* Stores groups[0..n) for s: one broker call, one callback per group. */
static void store(flyq__req_t *req, slot_t *s,
                  const flyq_broker_produce_group_t *groups, size_t n,
                  int64_t timeout_ms) {
  produce_state_t *st = req->state;
  char err[512] = "";
  flyq_broker_produce_opts_t o = {st->acks, timeout_ms,
                                  flyq__req_principal(req), err, sizeof err};
  req->waiting += n;
  int rc = flyq_broker_produce_groups(req->broker, groups, n, &o, produced, s);
  if (rc < 0) {
    req->waiting -= n;
    slot_fail_msg(s, rc, err);
  }
}

/* May the principal write where the hooks routed records? Dead letters
 * are the broker's own doing and need no permission. */
static int routes_allowed(flyq__req_t *req, const char *topic,
                          const flyq_plugins_output_t *out, char *err,
                          size_t errlen) {
  char dlq[300];
  snprintf(dlq, sizeof dlq, "%s.dlq", topic);
  for (size_t i = 0; i < out->nbatches; i++) {
    const char *t = out->batches[i].topic;
    if (strcmp(t, topic) == 0 || strcmp(t, dlq) == 0) continue;
    if (flyq__authorize(req, FLYQ_ACTION_PRODUCE, "topic", t) < 0) {
      snprintf(err, errlen, "not authorized: produce on topic:%s (routed)", t);
      return FLYQ_ERR_DENIED;
    }
  }
  return 0;
}

/* 1 if name is topic's dead-letter topic, "<topic>.dlq". */
static int is_dead_letters(const char *name, const char *topic) {
  size_t n = strlen(topic);
  return strncmp(name, topic, n) == 0 && strcmp(name + n, ".dlq") == 0;
}

/* The hooks' output as broker groups (pointing into out), then stored. The
 * dead-letter topic is created when missing, auto_create_topics or not:
 * the topic's on_error = "dead_letter" asked for it. */
static void store_output(flyq__req_t *req, slot_t *s, const char *topic,
                         flyq_plugins_output_t *out, int64_t timeout_ms) {
  flyq_broker_produce_group_t *g =
      flyq_arena_calloc(&req->arena, out->nbatches, sizeof *g);
  if (g == NULL) {
    slot_fail(s, -ENOMEM);
    return;
  }
  for (size_t i = 0; i < out->nbatches; i++)
    g[i] = (flyq_broker_produce_group_t){
        out->batches[i].topic, out->batches[i].partition,
        out->batches[i].data, out->batches[i].len, 0,
        is_dead_letters(out->batches[i].topic, topic)};
  store(req, s, g, out->nbatches, timeout_ms);
}

/* Runs the topic's on_produce hooks over the entry, then stores what they
 * made of it. A hook error (on_error reject) stores nothing. Input the
 * runtime validated and left unchanged is not checked again. */
static void produce_hooked(flyq__req_t *req, slot_t *s,
                           flyq_broker_produce_group_t *in,
                           int64_t timeout_ms) {
  flyq_plugins_output_t out;
  char err[1024] = "";
  int rc = flyq_plugins_on_produce(flyq__req_plugins(req), in->topic,
                                   in->partition, flyq__req_principal(req),
                                   in->batches, in->len, &out, err,
                                   sizeof err);
  if (rc == 0 && !out.unchanged)
    rc = routes_allowed(req, in->topic, &out, err, sizeof err);
  in->validated = rc == 0 && out.unchanged && out.validated;
  if (rc < 0)
    slot_fail_msg(s, rc, err);
  else if (out.unchanged)
    store(req, s, in, 1, timeout_ms);
  else if (out.nbatches > 0)
    store_output(req, s, in->topic, &out, timeout_ms);
  else /* every record dropped: nothing stored, no error */
    slot_fail_msg(s, 0, NULL);
  flyq_plugins_output_free(&out);
}

static void produce_slot(flyq__req_t *req, slot_t *s, const char *topic,
                         int name_rc, const flyq_proto_produce_req_part_t *p,
                         int64_t timeout_ms) {
  if (name_rc < 0) {
    slot_fail(s, name_rc);
    return;
  }
  size_t len = p->records.len > 0 ? (size_t)p->records.len : 0;
  /* The records point into the frame, which is ours to modify. */
  flyq_broker_produce_group_t g = {topic, p->partition,
                                   (uint8_t *)(uintptr_t)p->records.ptr, len,
                                   0, 0};
  flyq_plugins_t *rt = flyq__req_plugins(req);
  s->topic = topic;
  if (rt && len > 0 && flyq_plugins_has_on_produce(rt, topic))
    produce_hooked(req, s, &g, timeout_ms);
  else
    store(req, s, &g, 1, timeout_ms);
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
  int name_rc = flyq__req_topic(req, rt->name, FLYQ_ACTION_PRODUCE, &name);
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
