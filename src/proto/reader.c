/* flyq_reader_t: the bounds-checked cursor every decoder reads through
 * (include/flyq/buf.h). Nothing here reads outside [p, end).
 */
#include "proto/proto_int.h"

static const uint8_t empty_input[1];

void flyq__reader_fail(flyq_reader_t *r, int err) {
  if (r->err == 0) r->err = err;
}

void flyq_reader_init(flyq_reader_t *r, const void *p, size_t len) {
  r->p = p ? (const uint8_t *)p : empty_input;
  r->end = r->p + (p ? len : 0);
  r->err = 0;
}

/* The next n bytes, consumed; NULL (and TRUNCATED) if fewer remain. */
static const uint8_t *reader_take(flyq_reader_t *r, size_t n) {
  if (r->err) return NULL;
  if (flyq_reader_remaining(r) < n) {
    flyq__reader_fail(r, FLYQ_ERR_TRUNCATED);
    return NULL;
  }
  const uint8_t *p = r->p;
  r->p += n;
  return p;
}

static uint64_t reader_be(flyq_reader_t *r, int n) {
  const uint8_t *p = reader_take(r, (size_t)n);
  uint64_t v = 0;
  if (p == NULL) return 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

int8_t flyq_reader_get_i8(flyq_reader_t *r) { return (int8_t)reader_be(r, 1); }
int16_t flyq_reader_get_i16(flyq_reader_t *r) {
  return (int16_t)reader_be(r, 2);
}
int32_t flyq_reader_get_i32(flyq_reader_t *r) {
  return (int32_t)reader_be(r, 4);
}
int64_t flyq_reader_get_i64(flyq_reader_t *r) {
  return (int64_t)reader_be(r, 8);
}

/* len bytes after a length field already read; NULL for null or error. */
static const uint8_t *reader_payload(flyq_reader_t *r, int32_t len) {
  if (r->err || len == -1) return NULL;
  if (len < -1) {
    flyq__reader_fail(r, FLYQ_ERR_PROTOCOL);
    return NULL;
  }
  return reader_take(r, (size_t)len);
}

flyq_str_t flyq_reader_get_string(flyq_reader_t *r) {
  flyq_str_t s = {NULL, -1};
  int16_t len = flyq_reader_get_i16(r);
  const uint8_t *p = reader_payload(r, len);
  if (p != NULL) {
    s.ptr = (const char *)p;
    s.len = len;
  }
  return s;
}

flyq_bytes_t flyq_reader_get_bytes(flyq_reader_t *r) {
  flyq_bytes_t v = {NULL, -1};
  int32_t len = flyq_reader_get_i32(r);
  const uint8_t *p = reader_payload(r, len);
  if (p != NULL) {
    v.ptr = p;
    v.len = len;
  }
  return v;
}

int32_t flyq_reader_get_array_count(flyq_reader_t *r, size_t min_elem_size) {
  int32_t n = flyq_reader_get_i32(r);
  if (r->err) return 0;
  if (n < -1) {
    flyq__reader_fail(r, FLYQ_ERR_PROTOCOL);
    return 0;
  }
  if (min_elem_size == 0) min_elem_size = 1;
  if (n > 0 && (size_t)n > flyq_reader_remaining(r) / min_elem_size) {
    flyq__reader_fail(r, FLYQ_ERR_TRUNCATED);
    return 0;
  }
  return n;
}

int flyq_reader_finish(flyq_reader_t *r) {
  if (r->err == 0 && r->p != r->end) r->err = FLYQ_ERR_PROTOCOL;
  return r->err;
}
