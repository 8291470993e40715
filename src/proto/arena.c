/* flyq_arena_t: a bump allocator in chunks, freed all at once
 * (include/flyq/buf.h). Decoders put the arrays of a decoded message here.
 *
 * Small allocations share 4 KiB chunks; one larger than a quarter chunk
 * gets a chunk of its own, so at most a quarter of each shared chunk is
 * wasted and the arena's total stays close to what was asked for.
 */
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/buf.h"

#define ARENA_CHUNK 4096
#define ARENA_ALIGN alignof(max_align_t)

struct flyq_arena_chunk {
  flyq_arena_chunk_t *next;
  max_align_t data[];
};

void flyq_arena_init(flyq_arena_t *a) { memset(a, 0, sizeof *a); }

void flyq_arena_reset(flyq_arena_t *a) {
  flyq_arena_chunk_t *c = a->chunks;
  while (c) {
    flyq_arena_chunk_t *next = c->next;
    free(c);
    c = next;
  }
  flyq_arena_init(a);
}

void flyq_arena_free(flyq_arena_t *a) { flyq_arena_reset(a); }

/* A new chunk with size usable bytes, linked into the list; NULL if out of
 * memory. */
static uint8_t *arena_chunk(flyq_arena_t *a, size_t size) {
  if (size > SIZE_MAX - sizeof(flyq_arena_chunk_t)) return NULL;
  flyq_arena_chunk_t *c = malloc(sizeof *c + size);
  if (c == NULL) return NULL;
  c->next = a->chunks;
  a->chunks = c;
  a->total += sizeof *c + size;
  return (uint8_t *)c->data;
}

void *flyq_arena_alloc(flyq_arena_t *a, size_t n) {
  if (n > SIZE_MAX - ARENA_ALIGN) return NULL;
  n = n == 0 ? ARENA_ALIGN : (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
  uint8_t *p;
  if (n <= a->avail) {
    p = a->p;
    a->p += n;
    a->avail -= n;
  } else if (n > ARENA_CHUNK / 4) {
    p = arena_chunk(a, n);
  } else {
    p = arena_chunk(a, ARENA_CHUNK);
    if (p == NULL) return NULL;
    a->p = p + n;
    a->avail = ARENA_CHUNK - n;
  }
  if (p) memset(p, 0, n);
  return p;
}

void *flyq_arena_calloc(flyq_arena_t *a, size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  return flyq_arena_alloc(a, count * size);
}

char *flyq_arena_strdup(flyq_arena_t *a, flyq_str_t s) {
  if (s.len < 0 || (s.len > 0 && s.ptr == NULL)) return NULL;
  char *p = flyq_arena_alloc(a, (size_t)s.len + 1);
  if (p == NULL) return NULL;
  if (s.len > 0) memcpy(p, s.ptr, (size_t)s.len);
  p[s.len] = '\0';
  return p;
}
