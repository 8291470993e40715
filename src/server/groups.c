/* Consumer group APIs, all answered at once: OffsetCommit (8), OffsetFetch
 * (9) and ListGroups (16). A group name that is not valid fails the whole
 * request with INVALID_REQUEST.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "flyq/store.h"
#include "server/internal.h"

static int group_name(flyq__req_t *req, flyq_str_t s, const char **out) {
  int rc = flyq__req_name(req, s, out);
  if (rc == FLYQ_ERR_INVALID_NAME)
    flyq__req_error(req, FLYQ_WIRE_INVALID_REQUEST, "invalid group name");
  else if (rc < 0)
    flyq__req_fail(req, rc);
  return rc;
}

/* ---- OffsetCommit ----------------------------------------------------- */

static int commit_topic(flyq__req_t *req, const char *group,
                        const flyq_proto_offset_commit_req_topic_t *rt,
                        flyq_proto_offset_commit_resp_topic_t *out) {
  const char *name;
  int name_rc = flyq__req_name(req, rt->name, &name);
  flyq_proto_offset_commit_resp_part_t *p =
      flyq_arena_calloc(&req->arena, (size_t)rt->nparts, sizeof *p);
  if (p == NULL && rt->nparts > 0) return -ENOMEM;
  for (int32_t i = 0; i < rt->nparts; i++) {
    int err = name_rc < 0 ? name_rc
                          : flyq_broker_commit_offset(req->broker, group, name,
                                                      rt->parts[i].partition,
                                                      rt->parts[i].offset);
    p[i] = (flyq_proto_offset_commit_resp_part_t){rt->parts[i].partition,
                                                  flyq_wire_error_from(err)};
  }
  *out = (flyq_proto_offset_commit_resp_topic_t){rt->name, p, rt->nparts};
  return 0;
}

void flyq__handle_offset_commit(flyq__req_t *req,
                                const flyq_proto_offset_commit_req_t *r) {
  const char *group;
  if (group_name(req, r->group, &group) < 0) return;
  flyq_proto_offset_commit_resp_topic_t *t =
      flyq_arena_calloc(&req->arena, (size_t)r->ntopics, sizeof *t);
  int rc = t == NULL && r->ntopics > 0 ? -ENOMEM : 0;
  for (int32_t i = 0; rc == 0 && i < r->ntopics; i++)
    rc = commit_topic(req, group, &r->topics[i], &t[i]);
  if (rc == 0) {
    flyq_proto_offset_commit_resp_t resp = {
        {req->correlation_id, 0, {NULL, -1}}, t, r->ntopics};
    rc = flyq_proto_encode_offset_commit_resp(&req->out, &resp);
  }
  flyq__req_respond(req, rc);
}

/* ---- OffsetFetch ------------------------------------------------------ */

/* Collects every commit of a group in two passes: count, then fill. */
typedef struct collect {
  flyq__req_t *req;
  char last[FLYQ_NAME_MAX + 1]; /* topic of the previous entry */
  int32_t ntopics, topics_cap;
  size_t nparts, parts_cap;
  flyq_proto_offset_fetch_resp_topic_t *topics;
  flyq_proto_offset_fetch_resp_part_t *parts;
} collect_t;

static int new_topic(collect_t *c, const char *topic) {
  int is_new = c->nparts == 0 || strcmp(topic, c->last) != 0;
  if (is_new) snprintf(c->last, sizeof c->last, "%s", topic);
  return is_new;
}

static int count_one(const char *topic, int32_t partition, int64_t offset,
                     void *arg) {
  collect_t *c = arg;
  (void)partition, (void)offset;
  c->ntopics += new_topic(c, topic);
  c->nparts++;
  return 0;
}

static int fill_one(const char *topic, int32_t partition, int64_t offset,
                    void *arg) {
  collect_t *c = arg;
  if (c->nparts == c->parts_cap) return 1;
  if (new_topic(c, topic)) {
    if (c->ntopics == c->topics_cap) return 1;
    char *name = flyq_arena_strdup(&c->req->arena, flyq_str(topic));
    if (name == NULL) return -ENOMEM;
    c->topics[c->ntopics++] = (flyq_proto_offset_fetch_resp_topic_t){
        flyq_str(name), c->parts + c->nparts, 0};
  }
  c->parts[c->nparts++] =
      (flyq_proto_offset_fetch_resp_part_t){partition, offset, 0};
  c->topics[c->ntopics - 1].nparts++;
  return 0;
}

static int fetch_all(flyq__req_t *req, const char *group, collect_t *c) {
  memset(c, 0, sizeof *c);
  c->req = req;
  int rc = flyq_broker_foreach_offset(req->broker, group, count_one, c);
  if (rc == FLYQ_ERR_NOT_FOUND) return 0;
  if (rc < 0) return rc;
  c->topics_cap = c->ntopics;
  c->parts_cap = c->nparts;
  c->topics =
      flyq_arena_calloc(&req->arena, (size_t)c->ntopics, sizeof *c->topics);
  c->parts = flyq_arena_calloc(&req->arena, c->nparts, sizeof *c->parts);
  if (c->topics == NULL || c->parts == NULL) return -ENOMEM;
  c->ntopics = 0;
  c->nparts = 0;
  rc = flyq_broker_foreach_offset(req->broker, group, fill_one, c);
  return rc == FLYQ_ERR_NOT_FOUND || rc == 1 ? 0 : rc;
}

static int fetch_topic(flyq__req_t *req, const char *group,
                       const flyq_proto_offset_fetch_req_topic_t *rt,
                       flyq_proto_offset_fetch_resp_topic_t *out) {
  const char *name;
  int name_rc = flyq__req_name(req, rt->name, &name);
  flyq_proto_offset_fetch_resp_part_t *p =
      flyq_arena_calloc(&req->arena, (size_t)rt->npartitions, sizeof *p);
  if (p == NULL && rt->npartitions > 0) return -ENOMEM;
  for (int32_t i = 0; i < rt->npartitions; i++) {
    int64_t offset = -1;
    int err = name_rc < 0
                  ? name_rc
                  : flyq_broker_fetch_offset(req->broker, group, name,
                                             rt->partitions[i], &offset);
    p[i] = (flyq_proto_offset_fetch_resp_part_t){
        rt->partitions[i], err < 0 ? -1 : offset, flyq_wire_error_from(err)};
  }
  *out = (flyq_proto_offset_fetch_resp_topic_t){rt->name, p, rt->npartitions};
  return 0;
}

static int fetch_named(flyq__req_t *req, const char *group,
                       const flyq_proto_offset_fetch_req_t *r, collect_t *c) {
  memset(c, 0, sizeof *c);
  c->topics =
      flyq_arena_calloc(&req->arena, (size_t)r->ntopics, sizeof *c->topics);
  if (c->topics == NULL && r->ntopics > 0) return -ENOMEM;
  c->ntopics = r->ntopics;
  for (int32_t i = 0; i < r->ntopics; i++) {
    int rc = fetch_topic(req, group, &r->topics[i], &c->topics[i]);
    if (rc < 0) return rc;
  }
  return 0;
}

void flyq__handle_offset_fetch(flyq__req_t *req,
                               const flyq_proto_offset_fetch_req_t *r) {
  const char *group;
  collect_t c;
  if (group_name(req, r->group, &group) < 0) return;
  int rc = r->ntopics < 0 ? fetch_all(req, group, &c)
                          : fetch_named(req, group, r, &c);
  if (rc < 0) {
    flyq__req_fail(req, rc);
    return;
  }
  flyq_proto_offset_fetch_resp_t resp = {
      {req->correlation_id, 0, {NULL, -1}}, c.topics, c.ntopics};
  flyq__req_respond(req, flyq_proto_encode_offset_fetch_resp(&req->out, &resp));
}

/* ---- ListGroups ------------------------------------------------------- */

typedef struct group_list {
  flyq__req_t *req;
  flyq_str_t *names; /* NULL while counting */
  int32_t n, cap;
} group_list_t;

static int group_one(const char *group, void *arg) {
  group_list_t *g = arg;
  if (g->names == NULL) {
    g->n++;
    return 0;
  }
  if (g->n == g->cap) return 1;
  char *name = flyq_arena_strdup(&g->req->arena, flyq_str(group));
  if (name == NULL) return -ENOMEM;
  g->names[g->n++] = flyq_str(name);
  return 0;
}

void flyq__handle_list_groups(flyq__req_t *req) {
  group_list_t g = {req, NULL, 0, 0};
  int rc = flyq_broker_foreach_group(req->broker, group_one, &g);
  if (rc == 0) {
    g.cap = g.n;
    g.n = 0;
    g.names = flyq_arena_calloc(&req->arena, (size_t)g.cap, sizeof *g.names);
    rc = g.names == NULL
             ? -ENOMEM
             : flyq_broker_foreach_group(req->broker, group_one, &g);
  }
  if (rc < 0) {
    flyq__req_fail(req, rc);
    return;
  }
  flyq_proto_list_groups_resp_t resp = {
      {req->correlation_id, 0, {NULL, -1}}, g.names, g.n};
  flyq__req_respond(req, flyq_proto_encode_list_groups_resp(&req->out, &resp));
}
