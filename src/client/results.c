/* The client calls whose results the caller owns and frees: Metadata, a
 * group's committed offsets (OffsetFetch with a null topic list) and
 * ListGroups. Metadata and group offsets live in an arena of their own
 * (result->mem_), so one free releases everything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

/* A heap arena for a result. */
static flyq_arena_t *result_arena(void) {
  flyq_arena_t *a = malloc(sizeof(*a));
  if (a) flyq_arena_init(a);
  return a;
}

static void result_arena_free(flyq_arena_t *a) {
  if (a == NULL) return;
  flyq_arena_free(a);
  free(a);
}

static int out_of_memory(flyq_client_t *c, const char *what) {
  return flyq__client_fail(c, -ENOMEM, 0, "%s: out of memory", what);
}

static int copy_partitions(flyq_arena_t *a, flyq_topic_info_t *t,
                           const flyq_proto_metadata_topic_t *pt) {
  t->partitions = flyq_arena_calloc(a, (size_t)pt->nparts + 1,
                                    sizeof(*t->partitions));
  if (t->partitions == NULL) return -ENOMEM;
  for (int32_t i = 0; i < pt->nparts; i++) {
    const flyq_proto_metadata_part_t *p = &pt->parts[i];
    flyq_partition_info_t pi = {p->partition,     p->log_start_offset,
                                p->high_watermark, p->flushed_offset,
                                p->segment_count, p->size_bytes,
                                p->last_append_ms};
    t->partitions[i] = pi;
  }
  t->npartitions = (size_t)pt->nparts;
  return 0;
}

static int copy_configs(flyq_arena_t *a, flyq_topic_info_t *t,
                        const flyq_proto_metadata_topic_t *pt) {
  t->configs = flyq_arena_calloc(a, (size_t)pt->nconfigs + 1,
                                 sizeof(*t->configs));
  if (t->configs == NULL) return -ENOMEM;
  for (int32_t i = 0; i < pt->nconfigs; i++) {
    t->configs[i].key = flyq__cstr(a, pt->configs[i].key);
    t->configs[i].value = flyq__cstr(a, pt->configs[i].value);
    if (!t->configs[i].key || !t->configs[i].value) return -ENOMEM;
  }
  t->nconfigs = (size_t)pt->nconfigs;
  return 0;
}

static int copy_metadata(flyq_arena_t *a, flyq_metadata_t *md,
                         const flyq_proto_metadata_resp_t *resp) {
  md->host = flyq__cstr(a, resp->host);
  md->port = resp->port;
  md->topics = flyq_arena_calloc(a, (size_t)resp->ntopics + 1,
                                 sizeof(*md->topics));
  if (md->host == NULL || md->topics == NULL) return -ENOMEM;
  for (int32_t i = 0; i < resp->ntopics; i++) {
    flyq_topic_info_t *t = &md->topics[i];
    t->name = flyq__cstr(a, resp->topics[i].name);
    t->error_code = resp->topics[i].error_code;
    if (t->name == NULL || copy_partitions(a, t, &resp->topics[i]) < 0 ||
        copy_configs(a, t, &resp->topics[i]) < 0)
      return -ENOMEM;
  }
  md->ntopics = (size_t)resp->ntopics;
  return 0;
}

/* Sends Metadata for topic (NULL = all) and decodes the answer into c's
 * arena. */
static int metadata_call(flyq_client_t *c, const char *topic,
                         flyq_proto_metadata_resp_t *resp) {
  flyq_proto_req_header_t h;
  flyq_str_t name = flyq_str(topic);
  flyq_proto_metadata_req_t req = {&name, topic ? 1 : -1};
  int r = flyq__start(c, FLYQ_API_METADATA, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_metadata_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, "Metadata") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "Metadata");
  if (r < 0) return r;
  if (flyq_proto_decode_metadata_resp(c->sync.payload, c->sync.len, &c->arena,
                                      resp) < 0 ||
      resp->ntopics < 0 || resp->host.len < 0 ||
      (topic && (resp->ntopics != 1 ||
                 !flyq_str_eq(resp->topics[0].name, topic))))
    return flyq__malformed(c, "Metadata");
  return 0;
}

int flyq_client_metadata(flyq_client_t *c, const char *topic,
                         flyq_metadata_t **out) {
  flyq_proto_metadata_resp_t resp;
  flyq_metadata_t *md;
  flyq_arena_t *a;
  int r = metadata_call(c, topic, &resp);
  *out = NULL;
  if (r < 0) return r;
  a = result_arena();
  md = a ? flyq_arena_calloc(a, 1, sizeof(*md)) : NULL;
  if (md == NULL || copy_metadata(a, md, &resp) < 0) {
    result_arena_free(a);
    return out_of_memory(c, "Metadata");
  }
  md->mem_ = a;
  *out = md;
  return 0;
}

void flyq_metadata_free(flyq_metadata_t *md) {
  if (md) result_arena_free(md->mem_); /* md itself is in the arena */
}

static int group_offsets_call(flyq_client_t *c, const char *group,
                              flyq_proto_offset_fetch_resp_t *resp) {
  flyq_proto_req_header_t h;
  flyq_proto_offset_fetch_req_t req = {flyq_str(group), NULL, -1};
  int r = flyq__start(c, FLYQ_API_OFFSET_FETCH, &h);
  if (r < 0) return r;
  r = flyq_proto_encode_offset_fetch_req(&c->out, &h, &req);
  if (flyq__encoded(c, r, "OffsetFetch") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "OffsetFetch");
  if (r < 0) return r;
  if (flyq_proto_decode_offset_fetch_resp(c->sync.payload, c->sync.len,
                                          &c->arena, resp) < 0 ||
      resp->ntopics < 0)
    return flyq__malformed(c, "OffsetFetch");
  return 0;
}

static int copy_group_offsets(flyq_arena_t *a, flyq_group_offsets_t *g,
                              const flyq_proto_offset_fetch_resp_t *resp) {
  size_t n = 0, k = 0;
  for (int32_t i = 0; i < resp->ntopics; i++)
    n += (size_t)resp->topics[i].nparts;
  g->items = flyq_arena_calloc(a, n + 1, sizeof(*g->items));
  if (g->items == NULL) return -ENOMEM;
  for (int32_t i = 0; i < resp->ntopics; i++) {
    const flyq_proto_offset_fetch_resp_topic_t *t = &resp->topics[i];
    const char *name = flyq__cstr(a, t->name);
    if (name == NULL) return -ENOMEM;
    for (int32_t j = 0; j < t->nparts; j++, k++) {
      g->items[k].topic = name;
      g->items[k].partition = t->parts[j].partition;
      g->items[k].offset = t->parts[j].offset;
      g->items[k].error_code = t->parts[j].error_code;
    }
  }
  g->n = n;
  return 0;
}

int flyq_client_group_offsets(flyq_client_t *c, const char *group,
                              flyq_group_offsets_t **out) {
  flyq_proto_offset_fetch_resp_t resp;
  flyq_group_offsets_t *g;
  flyq_arena_t *a;
  int r = group ? group_offsets_call(c, group, &resp)
                : flyq__client_fail(c, FLYQ_ERR_INVALID_ARG, 0,
                                    "OffsetFetch: missing group");
  *out = NULL;
  if (r < 0) return r;
  a = result_arena();
  g = a ? flyq_arena_calloc(a, 1, sizeof(*g)) : NULL;
  if (g == NULL || copy_group_offsets(a, g, &resp) < 0) {
    result_arena_free(a);
    return out_of_memory(c, "OffsetFetch");
  }
  g->mem_ = a;
  *out = g;
  return 0;
}

void flyq_group_offsets_free(flyq_group_offsets_t *g) {
  if (g) result_arena_free(g->mem_); /* g itself is in the arena */
}

static int copy_groups(flyq_string_list_t *out,
                       const flyq_proto_list_groups_resp_t *resp) {
  out->items = calloc((size_t)resp->ngroups + 1, sizeof(*out->items));
  if (out->items == NULL) return -ENOMEM;
  for (int32_t i = 0; i < resp->ngroups; i++) {
    flyq_str_t s = resp->groups[i];
    out->items[i] = strndup(s.ptr ? s.ptr : "", s.len > 0 ? (size_t)s.len : 0);
    if (out->items[i] == NULL) return -ENOMEM;
    out->n++;
  }
  return 0;
}

int flyq_client_list_groups(flyq_client_t *c, flyq_string_list_t *out) {
  flyq_proto_req_header_t h;
  flyq_proto_list_groups_resp_t resp;
  int r = flyq__start(c, FLYQ_API_LIST_GROUPS, &h);
  out->items = NULL;
  out->n = 0;
  if (r < 0) return r;
  r = flyq_proto_encode_list_groups_req(&c->out, &h);
  if (flyq__encoded(c, r, "ListGroups") < 0) return r;
  r = flyq__sync_call(c, &h, 1, 0, "ListGroups");
  if (r < 0) return r;
  if (flyq_proto_decode_list_groups_resp(c->sync.payload, c->sync.len,
                                         &c->arena, &resp) < 0 ||
      resp.ngroups < 0)
    return flyq__malformed(c, "ListGroups");
  if (copy_groups(out, &resp) < 0) {
    flyq_string_list_free(out);
    return out_of_memory(c, "ListGroups");
  }
  return 0;
}

void flyq_string_list_free(flyq_string_list_t *l) {
  for (size_t i = 0; i < l->n; i++) free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = 0;
}
