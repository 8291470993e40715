/* Topic APIs, all answered at once: Metadata (3), ListOffsets (2),
 * CreateTopics (19) and DeleteTopics (20).
 */
#include <errno.h>
#include <string.h>

#include "server/internal.h"

/* ---- Metadata --------------------------------------------------------- */

static int md_topic(flyq__req_t *req, const flyq_broker_topic_info_t *ti,
                    flyq_str_t name, int name_err,
                    flyq_proto_metadata_topic_t *out) {
  int err = name_err < 0 ? name_err : ti->err;
  out->name = name;
  out->error_code = flyq_wire_error_from(err);
  if (err < 0) return 0;
  flyq_proto_metadata_part_t *p =
      flyq_arena_calloc(&req->arena, (size_t)ti->npartitions, sizeof *p);
  if (p == NULL && ti->npartitions > 0) return -ENOMEM;
  for (int32_t i = 0; i < ti->npartitions; i++) {
    const flyq_log_stats_t *s = &ti->partitions[i];
    p[i] = (flyq_proto_metadata_part_t){i,
                                        s->start_offset,
                                        s->end_offset,
                                        s->flushed_offset,
                                        (int32_t)s->segment_count,
                                        (int64_t)s->bytes,
                                        s->last_append_ms};
  }
  flyq_proto_config_t *c =
      flyq_arena_calloc(&req->arena, FLYQ_TOPIC_CONFIG_KEYS, sizeof *c);
  if (c == NULL) return -ENOMEM;
  for (int i = 0; i < FLYQ_TOPIC_CONFIG_KEYS; i++)
    c[i] = (flyq_proto_config_t){flyq_str(ti->config[i].key),
                                 flyq_str(ti->config[i].value)};
  out->parts = p;
  out->nparts = ti->npartitions;
  out->configs = c;
  out->nconfigs = FLYQ_TOPIC_CONFIG_KEYS;
  return 0;
}

/* C names for the requested topics (NULL for all); invalid[i] is the
 * error of a name that is not valid or may not be described. */
static int md_names(flyq__req_t *req, const flyq_proto_metadata_req_t *r,
                    const char ***names, int **invalid) {
  *names = NULL;
  *invalid = NULL;
  if (r->ntopics < 0) return 0;
  *names = flyq_arena_calloc(&req->arena, (size_t)r->ntopics, sizeof **names);
  *invalid =
      flyq_arena_calloc(&req->arena, (size_t)r->ntopics, sizeof **invalid);
  if (r->ntopics > 0 && (*names == NULL || *invalid == NULL)) return -ENOMEM;
  for (int32_t i = 0; i < r->ntopics; i++) {
    int rc = flyq__req_topic(req, r->topics[i], FLYQ_ACTION_DESCRIBE,
                             &(*names)[i]);
    if (rc == -ENOMEM) return rc;
    (*invalid)[i] = rc < 0 ? rc : 0;
  }
  return 0;
}

static int md_encode(flyq__req_t *req, const flyq_proto_metadata_req_t *r,
                     const flyq_broker_metadata_t *md, const int *invalid) {
  flyq_proto_metadata_topic_t *t =
      flyq_arena_calloc(&req->arena, md->ntopics, sizeof *t);
  if (t == NULL && md->ntopics > 0) return -ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < md->ntopics; i++) {
    const flyq_broker_topic_info_t *ti = &md->topics[i];
    flyq_str_t name = r->ntopics >= 0 ? r->topics[i] : flyq_str(ti->name);
    /* Listing every topic shows only those the principal may describe. */
    if (r->ntopics < 0 &&
        flyq__authorize(req, FLYQ_ACTION_DESCRIBE, "topic", ti->name) < 0)
      continue;
    int rc = md_topic(req, ti, name, invalid ? invalid[i] : 0, &t[k++]);
    if (rc < 0) return rc;
  }
  const flyq_server_t *srv = req->sc->srv;
  flyq_proto_metadata_resp_t resp = {{req->correlation_id, 0, {NULL, -1}},
                                     flyq_str(srv->host),
                                     srv->port,
                                     t,
                                     (int32_t)k};
  return flyq_proto_encode_metadata_resp(&req->out, &resp);
}

void flyq__handle_metadata(flyq__req_t *req,
                           const flyq_proto_metadata_req_t *r) {
  const char **names;
  int *invalid;
  flyq_broker_metadata_t md;
  int rc = md_names(req, r, &names, &invalid);
  if (rc == 0)
    rc = flyq_broker_metadata(req->broker, names,
                              r->ntopics > 0 ? (size_t)r->ntopics : 0, &md);
  if (rc < 0) {
    flyq__req_fail(req, rc);
    return;
  }
  if (names && md.ntopics != (size_t)r->ntopics)
    rc = FLYQ_ERR_INVALID_ARG;
  else
    rc = md_encode(req, r, &md, invalid);
  flyq__req_respond(req, rc);
  flyq_broker_metadata_free(&md);
}

/* ---- ListOffsets ------------------------------------------------------ */

static int lo_topic(flyq__req_t *req,
                    const flyq_proto_list_offsets_req_topic_t *rt,
                    flyq_proto_list_offsets_resp_topic_t *out) {
  const char *name;
  int name_rc = flyq__req_topic(req, rt->name, FLYQ_ACTION_LIST_OFFSETS, &name);
  if (name_rc == -ENOMEM) return name_rc;
  flyq_proto_list_offsets_resp_part_t *p =
      flyq_arena_calloc(&req->arena, (size_t)rt->nparts, sizeof *p);
  if (p == NULL && rt->nparts > 0) return -ENOMEM;
  for (int32_t i = 0; i < rt->nparts; i++) {
    int64_t offset = -1;
    int err =
        name_rc < 0
            ? name_rc
            : flyq_broker_list_offset(req->broker, name, rt->parts[i].partition,
                                      rt->parts[i].timestamp, &offset);
    p[i].partition = rt->parts[i].partition;
    p[i].error_code = flyq_wire_error_from(err);
    p[i].offset = err < 0 ? -1 : offset;
  }
  *out = (flyq_proto_list_offsets_resp_topic_t){rt->name, p, rt->nparts};
  return 0;
}

void flyq__handle_list_offsets(flyq__req_t *req,
                               const flyq_proto_list_offsets_req_t *r) {
  flyq_proto_list_offsets_resp_topic_t *t =
      flyq_arena_calloc(&req->arena, (size_t)r->ntopics, sizeof *t);
  int rc = t == NULL && r->ntopics > 0 ? -ENOMEM : 0;
  for (int32_t i = 0; rc == 0 && i < r->ntopics; i++)
    rc = lo_topic(req, &r->topics[i], &t[i]);
  if (rc == 0) {
    flyq_proto_list_offsets_resp_t resp = {
        {req->correlation_id, 0, {NULL, -1}}, t, r->ntopics};
    rc = flyq_proto_encode_list_offsets_resp(&req->out, &resp);
  }
  flyq__req_respond(req, rc);
}

/* ---- CreateTopics and DeleteTopics ------------------------------------ */

/* Wire code for a topic creation error: a bad partition count and a bad
 * setting have codes of their own. */
static int16_t create_code(int err) {
  if (err == FLYQ_ERR_INVALID_ARG) return FLYQ_WIRE_INVALID_PARTITIONS;
  if (err == FLYQ_ERR_CONFIG) return FLYQ_WIRE_INVALID_REQUEST;
  return flyq_wire_error_from(err);
}

/* The settings as C strings; a key or value holding a NUL byte cannot be a
 * valid setting. */
static int create_configs(flyq__req_t *req, const flyq_proto_create_topic_t *ct,
                          flyq_topic_kv_t **out) {
  flyq_topic_kv_t *kv =
      flyq_arena_calloc(&req->arena, (size_t)ct->nconfigs, sizeof *kv);
  if (kv == NULL && ct->nconfigs > 0) return -ENOMEM;
  for (int32_t i = 0; i < ct->nconfigs; i++) {
    flyq_str_t k = ct->configs[i].key, v = ct->configs[i].value;
    if ((k.len > 0 && memchr(k.ptr, '\0', (size_t)k.len)) ||
        (v.len > 0 && memchr(v.ptr, '\0', (size_t)v.len)))
      return FLYQ_ERR_CONFIG;
    kv[i].key = flyq_arena_strdup(&req->arena, k);
    kv[i].value = flyq_arena_strdup(&req->arena, v);
    if (kv[i].key == NULL || kv[i].value == NULL) return -ENOMEM;
  }
  *out = kv;
  return 0;
}

static int create_one(flyq__req_t *req, const flyq_proto_create_topic_t *ct,
                      flyq_proto_topic_result_t *res) {
  char *msg = flyq_arena_alloc(&req->arena, 256);
  if (msg == NULL) return -ENOMEM;
  msg[0] = '\0';
  const char *name;
  flyq_topic_kv_t *kv = NULL;
  int err = flyq__req_topic(req, ct->name, FLYQ_ACTION_CREATE_TOPIC, &name);
  if (err == 0) err = create_configs(req, ct, &kv);
  if (err == 0)
    err = flyq_broker_create_topic(req->broker, name, ct->partitions, kv,
                                   (size_t)ct->nconfigs, msg, 256);
  res->name = ct->name;
  res->error_code = create_code(err);
  res->error_message = flyq_str(err == 0 ? NULL
                                : msg[0] ? msg
                                         : flyq_strerror(err));
  return 0;
}

void flyq__handle_create_topics(flyq__req_t *req,
                                const flyq_proto_create_topics_req_t *r) {
  flyq_proto_topic_result_t *t =
      flyq_arena_calloc(&req->arena, (size_t)r->ntopics, sizeof *t);
  int rc = t == NULL && r->ntopics > 0 ? -ENOMEM : 0;
  for (int32_t i = 0; rc == 0 && i < r->ntopics; i++)
    rc = create_one(req, &r->topics[i], &t[i]);
  if (rc == 0) {
    flyq_proto_create_topics_resp_t resp = {
        {req->correlation_id, 0, {NULL, -1}}, t, r->ntopics};
    rc = flyq_proto_encode_create_topics_resp(&req->out, &resp);
  }
  flyq__req_respond(req, rc);
}

void flyq__handle_delete_topics(flyq__req_t *req,
                                const flyq_proto_delete_topics_req_t *r) {
  flyq_proto_topic_result_t *t =
      flyq_arena_calloc(&req->arena, (size_t)r->nnames, sizeof *t);
  int rc = t == NULL && r->nnames > 0 ? -ENOMEM : 0;
  for (int32_t i = 0; rc == 0 && i < r->nnames; i++) {
    const char *name;
    int err = flyq__req_topic(req, r->names[i], FLYQ_ACTION_DELETE_TOPIC, &name);
    if (err == 0) err = flyq_broker_delete_topic(req->broker, name);
    t[i] = (flyq_proto_topic_result_t){r->names[i], flyq_wire_error_from(err),
                                       flyq__errmsg(err)};
  }
  if (rc == 0) {
    flyq_proto_delete_topics_resp_t resp = {
        {req->correlation_id, 0, {NULL, -1}}, t, r->nnames};
    rc = flyq_proto_encode_delete_topics_resp(&req->out, &resp);
  }
  flyq__req_respond(req, rc);
}
