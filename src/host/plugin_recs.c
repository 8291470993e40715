/* Records between hooks (flyq__prec_t arrays), the request's records
 * decoded on first use (flyq__lazy_t), and the arena that holds the bytes
 * of records a hook changed, for the length of one runtime call (see
 * plugin.h).
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

/* ---- The request's records, decoded on first use ------------------------- */

static int lazy_reserve(flyq__lazy_t *z, size_t n) {
  if (n > z->cap) {
    size_t cap = z->cap ? z->cap : 256;
    uint8_t *d;
    const uint8_t **at;
    while (cap < n) cap *= 2;
    if ((d = realloc(z->decoded, cap)) == NULL) return -ENOMEM;
    z->decoded = d;
    if ((at = realloc(z->at, cap * sizeof *at)) == NULL) return -ENOMEM;
    z->at = at;
    z->cap = cap;
  }
  if (n > z->recs.cap) {
    flyq__prec_t *v = realloc(z->recs.v, z->cap * sizeof *v);
    if (v == NULL) return -ENOMEM;
    z->recs.v = v;
    z->recs.cap = z->cap;
  }
  return 0;
}

/* Validates the batch buf[0..size) and notes it and its records. */
static int lazy_batch(flyq__lazy_t *z, const uint8_t *buf, size_t size) {
  flyq__lazy_batch_t *b;
  flyq_batch_header_t h;
  int rc = flyq_batch_validate_header(buf, size, &h);
  if (rc < 0) return rc;
  if (z->recs.n + (size_t)h.record_count >= UINT32_MAX) return FLYQ_ERR_TOO_LARGE;
  if ((rc = lazy_reserve(z, z->recs.n + (size_t)h.record_count)) < 0 ||
      (rc = flyq_batch_validate_records(buf, size, &h, z->at + z->recs.n)) < 0)
    return rc;
  if (z->nb == z->bcap) {
    size_t cap = z->bcap ? z->bcap * 2 : 8;
    if ((b = realloc(z->b, cap * sizeof *b)) == NULL) return -ENOMEM;
    z->b = b;
    z->bcap = cap;
  }
  z->b[z->nb++] = (flyq__lazy_batch_t){h, buf + size, z->recs.n};
  z->recs.n += (size_t)h.record_count;
  return 0;
}

int flyq__lazy_load(flyq__lazy_t *z, const uint8_t *buf, size_t len,
                    int32_t partition) {
  int rc = 0;
  z->recs.n = z->nb = z->skipped = 0;
  z->end_offset = -1;
  z->partition = partition;
  for (size_t off = 0; off < len && rc == 0;) {
    int64_t size = flyq_batch_size(buf + off, len - off);
    rc = size < 0 ? (int)size
         : (uint64_t)size > len - off ? FLYQ_ERR_TRUNCATED
         : lazy_batch(z, buf + off, (size_t)size);
    off += size > 0 ? (size_t)size : 0;
  }
  if (rc < 0) z->recs.n = z->nb = 0;
  if (z->recs.n > 0) memset(z->decoded, 0, z->recs.n);
  return rc;
}

/* The offset of b's last record (it fits: flyq_batch_validate_header). */
static int64_t batch_last(const flyq__lazy_batch_t *b) {
  return b->h.base_offset + b->h.last_offset_delta;
}

void flyq__lazy_skip(flyq__lazy_t *z, int64_t offset) {
  size_t nb = 0, k;
  int64_t last = z->nb ? batch_last(&z->b[z->nb - 1]) : -1;
  z->end_offset = last < INT64_MAX ? last + 1 : last;
  while (nb < z->nb && batch_last(&z->b[nb]) < offset) nb++;
  k = nb < z->nb ? z->b[nb].first : z->recs.n;
  if (nb < z->nb && z->b[nb].h.base_offset < offset)
    k += (size_t)(offset - z->b[nb].h.base_offset); /* deltas are 0..n-1 */
  if (k == 0) return;
  memmove(z->at, z->at + k, (z->recs.n - k) * sizeof *z->at);
  memmove(z->b, z->b + nb, (z->nb - nb) * sizeof *z->b);
  z->nb -= nb;
  for (size_t i = 0; i < z->nb; i++)
    z->b[i].first = z->b[i].first > k ? z->b[i].first - k : 0;
  z->recs.n -= k;
  z->skipped += k;
}

/* The batch holding record i. */
static const flyq__lazy_batch_t *batch_of(const flyq__lazy_t *z, size_t i) {
  size_t lo = 0, hi = z->nb;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (z->b[mid].first <= i)
      lo = mid;
    else
      hi = mid;
  }
  return &z->b[lo];
}

const flyq__prec_t *flyq__lazy_get(flyq__lazy_t *z, size_t i) {
  flyq__prec_t *p = &z->recs.v[i];
  const flyq__lazy_batch_t *b;
  if (z->decoded[i]) return p;
  b = batch_of(z, i);
  *p = (flyq__prec_t){.partition = z->partition, .src = (uint32_t)i};
  /* Cannot fail: validation decoded the same bytes the same way. */
  if (flyq_record_decode_at(&b->h, z->at[i], b->end, &p->r) < 0)
    p->r = (flyq_record_t){.key_len = -1, .value_len = -1};
  z->decoded[i] = 1;
  return p;
}

int flyq__lazy_field(const flyq__lazy_t *z, size_t i, int f,
                     const uint8_t **b, int32_t *len) {
  const uint8_t *k, *v;
  int32_t klen, vlen;
  if (z->decoded[i] ||
      flyq_record_kv_at(z->at[i], batch_of(z, i)->end, &k, &klen, &v, &vlen) < 0)
    return -1;
  *b = f ? v : k;
  *len = f ? vlen : klen;
  return 0;
}

void flyq__lazy_all(flyq__lazy_t *z) {
  for (size_t i = 0; i < z->recs.n; i++) flyq__lazy_get(z, i);
}

void flyq__lazy_free(flyq__lazy_t *z) {
  flyq__recs_free(&z->recs);
  free(z->decoded);
  free(z->at);
  free(z->b);
  memset(z, 0, sizeof *z);
}
