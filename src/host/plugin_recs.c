/* Records between hooks (flyq__prec_t arrays) and the arena that holds the
 * bytes of records a hook changed, for the length of one runtime call
 * (see plugin.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/plugin.h"

#define CHUNK_MIN 16384

struct flyq__chunk {
  struct flyq__chunk *next;
  size_t used, cap;
  max_align_t data[];
};

int flyq__recs_push(flyq__recs_t *a, const flyq__prec_t *r) {
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 256;
    flyq__prec_t *v = realloc(a->v, cap * sizeof *v);
    if (v == NULL) return -ENOMEM;
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = *r;
  return 0;
}

void flyq__recs_free(flyq__recs_t *a) {
  free(a->v);
  memset(a, 0, sizeof *a);
}

void *flyq__arena_alloc(flyq__arena_t *a, size_t n) {
  const size_t align = sizeof(max_align_t);
  struct flyq__chunk *c = a->head;
  if (n > SIZE_MAX / 2) return NULL;
  n = (n + align - 1) / align * align;
  if (c == NULL || c->cap - c->used < n) {
    size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
    c = malloc(sizeof *c + cap);
    if (c == NULL) return NULL;
    c->used = 0;
    c->cap = cap;
    c->next = a->head;
    a->head = c;
  }
  c->used += n;
  return (char *)c->data + c->used - n;
}

void flyq__arena_free(flyq__arena_t *a) {
  while (a->head) {
    struct flyq__chunk *next = a->head->next;
    free(a->head);
    a->head = next;
  }
}

flyq_record_header_t *flyq__prec_headers(flyq__arena_t *a,
                                         const flyq__prec_t *r, int32_t extra,
                                         int32_t *n) {
  int32_t have = r->hdrs ? r->nhdrs : r->r.header_count;
  flyq_record_header_t *h;
  const uint8_t *p = NULL;
  *n = -1;
  if (have < 0 || have > INT32_MAX - extra ||
      (r->hdrs == NULL && (size_t)have > r->r.headers_len))
    return NULL; /* each raw header takes at least 2 bytes */
  h = flyq__arena_alloc(a, ((size_t)have + (size_t)extra) * sizeof *h);
  if (h == NULL) return NULL;
  if (r->hdrs) {
    if (have > 0) memcpy(h, r->hdrs, (size_t)have * sizeof *h);
  } else {
    for (int32_t i = 0; i < have; i++)
      if (flyq_record_next_header(&r->r, &p, &h[i]) != 1) return NULL;
  }
  *n = have;
  return h;
}
