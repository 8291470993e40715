/* flyq_buf_t: the growable output buffer the encoders write frames into
 * (include/flyq/buf.h). All integers are written big-endian.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto_int.h"

#define BUF_MIN_CAP 256

int flyq__buf_fail(flyq_buf_t *b, int err) {
  if (b->err == 0) b->err = err;
  return b->err;
}

void flyq_buf_init(flyq_buf_t *b) { memset(b, 0, sizeof *b); }

void flyq_buf_free(flyq_buf_t *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

void flyq_buf_reset(flyq_buf_t *b) {
  b->len = 0;
  b->err = 0;
}

void flyq_buf_truncate(flyq_buf_t *b, size_t len) {
  if (len < b->len) b->len = len;
  b->err = 0;
}

int flyq_buf_reserve(flyq_buf_t *b, size_t n) {
  if (b->err) return b->err;
  if (n <= b->cap - b->len) return 0;
  if (n > SIZE_MAX / 4 - b->len) return flyq__buf_fail(b, -ENOMEM);
  size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
  while (cap - b->len < n) cap *= 2;
  uint8_t *p = realloc(b->data, cap);
  if (p == NULL) return flyq__buf_fail(b, -ENOMEM);
  b->data = p;
  b->cap = cap;
  return 0;
}

/* Room for n bytes at the end, already counted in b->len; NULL if failed. */
static uint8_t *buf_take(flyq_buf_t *b, size_t n) {
  if (flyq_buf_reserve(b, n) != 0) return NULL;
  uint8_t *p = b->data + b->len;
  b->len += n;
  return p;
}

static void put_be(uint8_t *p, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; i--) {
    p[i] = (uint8_t)v;
    v >>= 8;
  }
}

static void buf_put_be(flyq_buf_t *b, uint64_t v, int n) {
  uint8_t *p = buf_take(b, (size_t)n);
  if (p) put_be(p, v, n);
}

void flyq_buf_put_i8(flyq_buf_t *b, int8_t v) { buf_put_be(b, (uint8_t)v, 1); }
void flyq_buf_put_i16(flyq_buf_t *b, int16_t v) {
  buf_put_be(b, (uint16_t)v, 2);
}
void flyq_buf_put_i32(flyq_buf_t *b, int32_t v) {
  buf_put_be(b, (uint32_t)v, 4);
}
void flyq_buf_put_i64(flyq_buf_t *b, int64_t v) {
  buf_put_be(b, (uint64_t)v, 8);
}

void flyq_buf_put_raw(flyq_buf_t *b, const void *p, size_t n) {
  if (n == 0) return;
  if (p == NULL) {
    flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
    return;
  }
  uint8_t *dst = buf_take(b, n);
  if (dst) memcpy(dst, p, n);
}

void flyq_buf_put_string(flyq_buf_t *b, const char *s, int64_t len) {
  if (len < -1 || len > INT16_MAX) {
    flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
    return;
  }
  flyq_buf_put_i16(b, (int16_t)len);
  if (len > 0) flyq_buf_put_raw(b, s, (size_t)len);
}

void flyq_buf_put_str(flyq_buf_t *b, flyq_str_t s) {
  flyq_buf_put_string(b, s.ptr, s.len);
}

void flyq_buf_put_bytes(flyq_buf_t *b, const void *p, int64_t len) {
  if (len < -1 || len > INT32_MAX) {
    flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
    return;
  }
  flyq_buf_put_i32(b, (int32_t)len);
  if (len > 0) flyq_buf_put_raw(b, p, (size_t)len);
}

void flyq_buf_put_bytes_header(flyq_buf_t *b, int32_t len) {
  if (len < -1) {
    flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
    return;
  }
  flyq_buf_put_i32(b, len);
}

size_t flyq_buf_array_begin(flyq_buf_t *b) {
  size_t pos = b->len;
  flyq_buf_put_i32(b, 0);
  return b->err ? FLYQ_BUF_NOPOS : pos;
}

void flyq_buf_array_end(flyq_buf_t *b, size_t pos, int32_t count) {
  if (b->err || pos == FLYQ_BUF_NOPOS || pos > b->len || b->len - pos < 4)
    return;
  put_be(b->data + pos, (uint32_t)count, 4);
}

size_t flyq_buf_frame_begin(flyq_buf_t *b) { return flyq_buf_array_begin(b); }

int flyq_buf_frame_end(flyq_buf_t *b, size_t pos, size_t extra) {
  if (b->err) return b->err;
  if (pos == FLYQ_BUF_NOPOS || pos > b->len || b->len - pos < 4)
    return flyq__buf_fail(b, FLYQ_ERR_INVALID_ARG);
  size_t size = b->len - pos - 4;
  if (size > INT32_MAX || extra > INT32_MAX - size)
    return flyq__buf_fail(b, FLYQ_ERR_TOO_LARGE);
  put_be(b->data + pos, (uint32_t)(size + extra), 4);
  return 0;
}
