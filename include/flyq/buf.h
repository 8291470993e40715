/* Byte buffers, readers and arenas: the building blocks of the wire codec
 * (include/flyq/proto.h, docs/protocol.md).
 *
 * flyq_buf_t   a growable output buffer with big-endian put functions. Errors
 *              are sticky: after the first failure every put is a no-op and
 *              b->err keeps the code, so an encoder checks once at the end.
 * flyq_reader_t a bounds-checked cursor over bytes someone else owns. Errors
 *              are sticky too: after the first failure every get returns a
 *              zero value and reads nothing, so a decoder reads a whole
 *              struct and checks r->err once.
 * flyq_arena_t a bump allocator in chunks, freed all at once. Decoders put
 *              their nested arrays there; strings and bytes stay pointers
 *              into the decoded input (zero copy).
 *
 * Wire strings and bytes are not NUL-terminated: flyq_str_t and flyq_bytes_t
 * carry a pointer and a length, with len -1 (and ptr NULL) meaning null.
 */
#ifndef FLYQ_BUF_H
#define FLYQ_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flyq/common.h"

/* A wire string: len bytes at ptr, not NUL-terminated. len -1 = null (ptr is
 * NULL then). An encoder refuses len > INT16_MAX or len < -1. */
typedef struct flyq_str {
  const char *ptr;
  int32_t len;
} flyq_str_t;

/* Wire bytes: len bytes at ptr. len -1 = null (ptr is NULL then). */
typedef struct flyq_bytes {
  const uint8_t *ptr;
  int32_t len;
} flyq_bytes_t;

/* A flyq_str_t for a C string; NULL gives the null string. The string must
 * stay valid as long as the result is used. A string longer than a wire
 * string can be gets len INT16_MAX + 1, which encoders refuse. */
static inline flyq_str_t flyq_str(const char *s) {
  size_t n = s ? strlen(s) : 0;
  flyq_str_t r = {s, !s ? -1 : n > INT16_MAX ? INT16_MAX + 1 : (int32_t)n};
  return r;
}

/* 1 if s is not null and equals the C string c (which must not be NULL). */
static inline int flyq_str_eq(flyq_str_t s, const char *c) {
  size_t n = strlen(c);
  return s.len >= 0 && (size_t)s.len == n && memcmp(s.ptr, c, n) == 0;
}

/* ---- Output buffer ---------------------------------------------------- */

typedef struct flyq_buf {
  uint8_t *data; /* owned; NULL until the first put */
  size_t len;    /* bytes written */
  size_t cap;    /* bytes allocated */
  int err;       /* sticky: 0, -ENOMEM or FLYQ_ERR_INVALID_ARG */
} flyq_buf_t;

/* Returned by the *_begin functions when the buffer is already failed; the
 * matching *_end then does nothing. */
#define FLYQ_BUF_NOPOS ((size_t)-1)

void flyq_buf_init(flyq_buf_t *b);
/* Frees the memory; the buffer may be reused after flyq_buf_init(). */
void flyq_buf_free(flyq_buf_t *b);
/* Forgets the content and the sticky error, keeps the memory. */
void flyq_buf_reset(flyq_buf_t *b);
/* Ensures room for n more bytes. Returns 0 or the (now sticky) error. */
int flyq_buf_reserve(flyq_buf_t *b, size_t n);
/* Drops everything after len (len <= b->len) and clears the sticky error.
 * Encoders use it to leave a buffer as it was before a failed call. */
void flyq_buf_truncate(flyq_buf_t *b, size_t len);

void flyq_buf_put_i8(flyq_buf_t *b, int8_t v);
void flyq_buf_put_i16(flyq_buf_t *b, int16_t v);
void flyq_buf_put_i32(flyq_buf_t *b, int32_t v);
void flyq_buf_put_i64(flyq_buf_t *b, int64_t v);
/* n raw bytes, no length prefix. p may be NULL only when n is 0. */
void flyq_buf_put_raw(flyq_buf_t *b, const void *p, size_t n);
/* int16 length + bytes. len -1 writes null (s ignored). len > INT16_MAX or
 * < -1 sets FLYQ_ERR_INVALID_ARG. */
void flyq_buf_put_string(flyq_buf_t *b, const char *s, int64_t len);
/* flyq_buf_put_string() of a flyq_str_t. */
void flyq_buf_put_str(flyq_buf_t *b, flyq_str_t s);
/* int32 length + bytes. len -1 writes null (p ignored). len > INT32_MAX or
 * < -1 sets FLYQ_ERR_INVALID_ARG. */
void flyq_buf_put_bytes(flyq_buf_t *b, const void *p, int64_t len);
/* Only the int32 length prefix of a bytes field: the caller sends the len
 * bytes themselves separately (e.g. stored batches read from disk).
 * len < -1 sets FLYQ_ERR_INVALID_ARG. */
void flyq_buf_put_bytes_header(flyq_buf_t *b, int32_t len);

/* Writes a placeholder int32 array count and returns its position (or
 * FLYQ_BUF_NOPOS). flyq_buf_array_end() patches the count in. A null array
 * is simply flyq_buf_put_i32(b, -1). */
size_t flyq_buf_array_begin(flyq_buf_t *b);
void flyq_buf_array_end(flyq_buf_t *b, size_t pos, int32_t count);

/* Reserves the int32 frame size and returns its position (or FLYQ_BUF_NOPOS).
 * flyq_buf_frame_end() patches in the number of bytes written after it plus
 * extra (bytes the caller will send separately, see flyq_buf_put_bytes_header)
 * and returns 0, the sticky error, or FLYQ_ERR_TOO_LARGE (sticky) when the
 * size does not fit an int32. */
size_t flyq_buf_frame_begin(flyq_buf_t *b);
int flyq_buf_frame_end(flyq_buf_t *b, size_t pos, size_t extra);

/* ---- Reader ----------------------------------------------------------- */

typedef struct flyq_reader {
  const uint8_t *p;   /* next byte to read */
  const uint8_t *end; /* one past the last byte */
  int err; /* sticky: 0, FLYQ_ERR_TRUNCATED, FLYQ_ERR_PROTOCOL, or -ENOMEM
              when a decoder's arena ran out */
} flyq_reader_t;

/* The reader does not copy: p must stay valid while the reader and anything
 * read from it (strings, bytes) are used. p may be NULL when len is 0. */
void flyq_reader_init(flyq_reader_t *r, const void *p, size_t len);
static inline size_t flyq_reader_remaining(const flyq_reader_t *r) {
  return (size_t)(r->end - r->p);
}

/* Fixed-size integers. Past the end: FLYQ_ERR_TRUNCATED, returns 0. */
int8_t flyq_reader_get_i8(flyq_reader_t *r);
int16_t flyq_reader_get_i16(flyq_reader_t *r);
int32_t flyq_reader_get_i32(flyq_reader_t *r);
int64_t flyq_reader_get_i64(flyq_reader_t *r);

/* A string or bytes pointing into the input. Length < -1:
 * FLYQ_ERR_PROTOCOL; longer than what remains: FLYQ_ERR_TRUNCATED. On error
 * the result is the null value. Null is allowed here; decoders that do not
 * allow it check .len themselves. */
flyq_str_t flyq_reader_get_string(flyq_reader_t *r);
flyq_bytes_t flyq_reader_get_bytes(flyq_reader_t *r);

/* An array count, -1 for null. Count < -1: FLYQ_ERR_PROTOCOL; count *
 * min_elem_size > remaining bytes: FLYQ_ERR_TRUNCATED (min_elem_size is the
 * smallest encoding of one element, at least 1 is assumed). On error
 * returns 0. This bound is what keeps decoders' memory a small multiple of
 * the input. */
int32_t flyq_reader_get_array_count(flyq_reader_t *r, size_t min_elem_size);

/* Sets FLYQ_ERR_PROTOCOL if bytes remain (trailing garbage). Returns the
 * sticky error (0 if all is well). */
int flyq_reader_finish(flyq_reader_t *r);

/* ---- Arena ------------------------------------------------------------ */

typedef struct flyq_arena_chunk flyq_arena_chunk_t;

typedef struct flyq_arena {
  flyq_arena_chunk_t *chunks; /* newest first */
  uint8_t *p;                 /* free space in the current chunk */
  size_t avail;               /* bytes free at p */
  size_t total;               /* bytes malloc'ed, overhead included */
} flyq_arena_t;

void flyq_arena_init(flyq_arena_t *a);
/* Frees every allocation at once; the arena stays usable. */
void flyq_arena_reset(flyq_arena_t *a);
/* Same as reset; call it when done with the arena. */
void flyq_arena_free(flyq_arena_t *a);
/* Zeroed memory aligned for any type, valid until reset/free. Returns NULL
 * when out of memory; n == 0 still returns a valid non-NULL pointer. */
void *flyq_arena_alloc(flyq_arena_t *a, size_t n);
/* count * size bytes, zeroed; NULL on overflow or out of memory. */
void *flyq_arena_calloc(flyq_arena_t *a, size_t count, size_t size);
/* A NUL-terminated copy of s in the arena (NULL for the null string or out
 * of memory). Useful to pass decoded names to APIs that take C strings. */
char *flyq_arena_strdup(flyq_arena_t *a, flyq_str_t s);

#endif /* FLYQ_BUF_H */
