/* Fetch through on_consume hooks: the topic's own (from the config) and the
 * filter a consumer chose with Fetch v1 (docs/protocol.md, "Fetch"). A
 * partition that goes through hooks is read from its slice into memory
 * (what the page cache holds on the loop thread, the rest in the thread
 * pool: fetch.c), handed to the plugin runtime, and the batches it
 * returns are sent from memory instead of the file range; next_offset
 * tells a v1 consumer where to go on when the hooks dropped the last
 * records.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flyq/logmsg.h"
#include "server/internal.h"
#include "util/fileio.h"

#define FILTER_NAME_MAX 64

/* A plugin name: letters, digits, '_' and '-' (it names a file). */
static int name_ok(flyq_str_t s) {
  if (s.len <= 0 || s.len > FILTER_NAME_MAX) return 0;
  for (int32_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* The params as a JSON object text (keys sorted, so that equal params give
 * equal text and share one cached filter instance), in req's arena. */
static int params_json(flyq__req_t *req, const flyq_proto_fetch_filter_t *f,
                       const char **out) {
  json_t *o = json_object();
  int rc = o ? 0 : -ENOMEM;
  for (int32_t i = 0; rc == 0 && i < f->nparams; i++) {
    flyq_str_t k = f->params[i].key, v = f->params[i].value;
    json_t *jv = json_stringn(v.ptr ? v.ptr : "", v.len > 0 ? (size_t)v.len : 0);
    char *key = flyq_arena_strdup(&req->arena, k);
    if (key == NULL) rc = -ENOMEM;
    else if (jv == NULL || strlen(key) != (size_t)k.len)
      rc = FLYQ_ERR_INVALID_ARG; /* not UTF-8, or a NUL in the key */
    if (rc == 0 && json_object_set_new(o, key, jv) < 0) rc = FLYQ_ERR_INVALID_ARG;
    else if (rc < 0) json_decref(jv);
  }
  char *text = rc == 0 ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  if (rc == 0 && text == NULL) rc = FLYQ_ERR_INVALID_ARG; /* not UTF-8 */
  if (rc == 0 && (*out = flyq_arena_strdup(&req->arena, flyq_str(text))) == NULL)
    rc = -ENOMEM;
  free(text);
  json_decref(o);
  return rc;
}

int flyq__filter_parse(flyq__req_t *req, const flyq_proto_fetch_filter_t *f,
                       const char **name, const char **params) {
  *name = *params = NULL;
  if (f == NULL || f->name.ptr == NULL || f->name.len < 0) return 0;
  if (!name_ok(f->name)) return FLYQ_ERR_INVALID_NAME;
  if ((*name = flyq_arena_strdup(&req->arena, f->name)) == NULL) return -ENOMEM;
  return params_json(req, f, params);
}

/* Filtered partitions are read whole into memory (flyq__filter_read) and rebuilt,
 * so a fetch that has any is capped at this many stored bytes, whatever
 * max_bytes the client asked for (one batch may still exceed it). */
#define FILTER_MAX_BYTES (8 << 20)

int32_t flyq__filter_max_bytes(flyq__req_t *req, const char *name,
                               const flyq_fetch_part_req_t *parts, size_t n,
                               int32_t max_bytes) {
  flyq_plugins_t *rt = flyq__req_plugins(req);
  if (rt == NULL || max_bytes <= FILTER_MAX_BYTES) return max_bytes;
  int filtered = name != NULL;
  for (size_t i = 0; i < n && !filtered; i++)
    filtered = parts[i].topic != NULL &&
               flyq_plugins_has_on_consume(rt, parts[i].topic);
  return filtered ? FILTER_MAX_BYTES : max_bytes;
}

/* 1 when partition fp of a fetch goes through hooks. */
static int filtered(flyq_plugins_t *rt, const char *name,
                    const flyq_fetch_part_t *fp) {
  return fp->err >= 0 && fp->slice.len > 0 &&
         (name || flyq_plugins_has_on_consume(rt, fp->topic));
}

/* Reads what is left of r; see flyq__pread_at. */
static int part_read(const flyq_slice_t *s, flyq__part_read_t *r, int nowait) {
  return flyq__pread_at(s->fd, r->buf, s->len, s->pos, &r->done, nowait);
}

int flyq__filter_read(flyq__req_t *req, const char *name,
                      const flyq_broker_fetch_result_t *res,
                      flyq__part_read_t **out) {
  flyq_plugins_t *rt = flyq__req_plugins(req);
  flyq__part_read_t *r;
  int later = 0;
  *out = NULL;
  if (rt == NULL) return 0;
  r = flyq_arena_calloc(&req->arena, res->nparts ? res->nparts : 1, sizeof *r);
  if (r == NULL) return -ENOMEM;
  for (size_t i = 0; i < res->nparts; i++) {
    const flyq_fetch_part_t *fp = &res->parts[i];
    if (!filtered(rt, name, fp)) continue;
    if ((r[i].buf = malloc(fp->slice.len)) == NULL) {
      flyq__filter_reads_free(res, r);
      return -ENOMEM;
    }
    r[i].err = part_read(&fp->slice, &r[i], 1);
    if (r[i].err == -EAGAIN) later = 1;
  }
  *out = r;
  return later;
}

void flyq__filter_read_rest(const flyq_broker_fetch_result_t *res,
                            flyq__part_read_t *reads) {
  for (size_t i = 0; reads && i < res->nparts; i++)
    if (reads[i].buf && reads[i].err == -EAGAIN)
      reads[i].err = part_read(&res->parts[i].slice, &reads[i], 0);
}

void flyq__filter_reads_free(const flyq_broker_fetch_result_t *res,
                             flyq__part_read_t *reads) {
  for (size_t i = 0; reads && i < res->nparts; i++) {
    free(reads[i].buf);
    reads[i].buf = NULL;
  }
}

/* The output batches back to back in req's arena. */
static int output_join(flyq__req_t *req, const flyq_plugins_output_t *out,
                       flyq__filtered_t *f) {
  size_t len = 0;
  for (size_t i = 0; i < out->nbatches; i++) len += out->batches[i].len;
  if (len > INT32_MAX) return FLYQ_ERR_TOO_LARGE;
  uint8_t *data = len ? flyq_arena_alloc(&req->arena, len) : NULL;
  if (data == NULL && len > 0) return -ENOMEM;
  for (size_t i = 0, at = 0; i < out->nbatches; i++) {
    memcpy(data + at, out->batches[i].data, out->batches[i].len);
    at += out->batches[i].len;
  }
  f->data = data;
  f->len = len;
  return 0;
}

/* Runs the hooks over one partition's slice, read into r (whose buffer
 * it frees), from the fetch offset from; fills *f. */
static void filter_part(flyq__req_t *req, flyq_plugins_t *rt,
                        const char *name, const char *params, int64_t from,
                        flyq_fetch_part_t *fp, flyq__part_read_t *r,
                        flyq__filtered_t *f) {
  uint8_t *buf = r->buf;
  char err[1024] = "";
  flyq_plugins_output_t out;
  memset(&out, 0, sizeof out);
  int rc = r->err;
  r->buf = NULL;
  if (rc == 0)
    rc = flyq_plugins_on_consume(rt, name, params, fp->topic, fp->partition,
                                 from, flyq__req_principal(req), buf,
                                 fp->slice.len, &out, err, sizeof err);
  if (rc == 0 && out.unchanged) {
    free(buf);
    return; /* the slice goes out as it is */
  }
  if (rc == FLYQ_ERR_NOT_FOUND) rc = FLYQ_ERR_CONFIG; /* no such filter */
  f->active = 1;
  f->next_offset = rc == 0 ? out.next_offset : -1;
  if (rc == 0) rc = output_join(req, &out, f);
  if (rc < 0) {
    f->err = rc;
    f->msg = err[0] ? flyq_arena_strdup(&req->arena, flyq_str(err)) : NULL;
  }
  flyq_plugins_output_free(&out);
  free(buf);
  flyq_slice_release(&fp->slice); /* sent from memory, or not at all */
  memset(&fp->slice, 0, sizeof fp->slice);
}

int flyq__filter_apply(flyq__req_t *req, const char *name, const char *params,
                       const flyq_fetch_part_req_t *parts,
                       flyq_broker_fetch_result_t *res,
                       flyq__part_read_t *reads, flyq__filtered_t **out) {
  flyq_plugins_t *rt = flyq__req_plugins(req);
  *out = NULL;
  if (rt == NULL || reads == NULL) return 0;
  flyq__filtered_t *f = flyq_arena_calloc(&req->arena, res->nparts, sizeof *f);
  if (f == NULL && res->nparts > 0) return -ENOMEM;
  for (size_t i = 0; i < res->nparts; i++) {
    f[i].next_offset = -1;
    if (reads[i].buf)
      filter_part(req, rt, name, params, parts[i].offset, &res->parts[i],
                  &reads[i], &f[i]);
  }
  *out = f;
  return 0;
}
