/* Helpers shared by the per-API encoders and decoders in src/proto/.
 *
 * Every encoder has the same shape:
 *   size_t start = b->len;
 *   size_t frame = flyq__enc_req_begin(b, h, FLYQ_API_X);   (or resp_begin)
 *   ...put the body...
 *   return flyq__enc_finish(b, start, frame, 0);
 * and every decoder reads the whole body, then checks once with
 * flyq__dec_finish(), relying on the sticky errors of flyq_buf_t and
 * flyq_reader_t.
 */
#ifndef FLYQ_PROTO_INT_H
#define FLYQ_PROTO_INT_H

#include "flyq/proto.h"

/* Sets b's sticky error unless one is set already. Returns the sticky one. */
int flyq__buf_fail(flyq_buf_t *b, int err);

/* Sets r's sticky error unless one is set already. */
void flyq__reader_fail(flyq_reader_t *r, int err);

/* Starts a request frame (size placeholder + header). h->api_key must be
 * api_key, else the buffer fails with FLYQ_ERR_INVALID_ARG. Returns the
 * frame position for flyq__enc_finish(). */
size_t flyq__enc_req_begin(flyq_buf_t *b, const flyq_proto_req_header_t *h,
                           int16_t api_key);

/* Starts a response frame (size placeholder + common prefix). Returns the
 * frame position. The caller writes the body only when
 * h->error_code == 0. */
size_t flyq__enc_resp_begin(flyq_buf_t *b, const flyq_proto_resp_header_t *h);

/* Patches the frame size (plus extra bytes sent separately). On any error
 * truncates b back to start, clears its sticky error and returns the code. */
int flyq__enc_finish(flyq_buf_t *b, size_t start, size_t frame, size_t extra);

/* Writes an array count for an array of n items at items. n == -1 is
 * allowed only if nullable. Fails the buffer with FLYQ_ERR_INVALID_ARG for
 * a bad count or items == NULL with n > 0. Returns how many elements the
 * caller must now write (0 on error or null). */
int32_t flyq__put_array(flyq_buf_t *b, const void *items, int32_t n,
                        int nullable);

/* A string that must not be null (names, keys, values). */
void flyq__put_name(flyq_buf_t *b, flyq_str_t s);

/* Reads an array count and allocates count elements of elem_size in the
 * arena. min_wire is the smallest encoding of one element. A null array
 * (-1) fails with FLYQ_ERR_PROTOCOL unless nullable. Sets *count (0 on
 * error, -1 for null) and returns the zeroed elements, or NULL when there
 * are none or on error (r->err is then set, -ENOMEM included). */
void *flyq__get_array(flyq_reader_t *r, flyq_arena_t *a, size_t elem_size,
                      size_t min_wire, int nullable, int32_t *count);

/* A string that must not be null: null fails with FLYQ_ERR_PROTOCOL. */
flyq_str_t flyq__get_name(flyq_reader_t *r);

/* Element codecs for the generic array helpers below. ctx is passed
 * through unchanged. */
typedef void (*flyq__put_fn)(flyq_buf_t *b, const void *elem, void *ctx);
typedef void (*flyq__get_fn)(flyq_reader_t *r, flyq_arena_t *a, void *elem);

/* flyq__put_array(), then put() for each of the n elements of size bytes. */
void flyq__put_elems(flyq_buf_t *b, const void *items, int32_t n, size_t size,
                     int nullable, flyq__put_fn put, void *ctx);

/* flyq__get_array(), then get() for each element until an error. Returns
 * the elements (for a `const T *` field) and sets *count. */
void *flyq__get_elems(flyq_reader_t *r, flyq_arena_t *a, size_t size,
                      size_t min_wire, int nullable, int32_t *count,
                      flyq__get_fn get);

/* Element codecs shared by several APIs: flyq_str_t names (non-null),
 * flyq_proto_config_t and flyq_proto_topic_result_t. */
void flyq__put_name_elem(flyq_buf_t *b, const void *elem, void *ctx);
void flyq__get_name_elem(flyq_reader_t *r, flyq_arena_t *a, void *elem);
void flyq__put_config(flyq_buf_t *b, const void *elem, void *ctx);
void flyq__get_config(flyq_reader_t *r, flyq_arena_t *a, void *elem);
void flyq__put_topic_result(flyq_buf_t *b, const void *elem, void *ctx);
void flyq__get_topic_result(flyq_reader_t *r, flyq_arena_t *a, void *elem);

/* Minimum wire sizes of common elements, for flyq__get_elems(). */
#define FLYQ__MIN_STRING 2
#define FLYQ__MIN_TOPIC 6 /* name + array count */
#define FLYQ__MIN_CONFIG 4
#define FLYQ__MIN_TOPIC_RESULT 6

/* Starts decoding a response payload: inits r over p/len and reads the
 * common prefix into h. Returns 1 when a body follows (no error so far and
 * error_code == 0), else 0. */
int flyq__dec_resp_begin(flyq_reader_t *r, const uint8_t *p, size_t len,
                         flyq_proto_resp_header_t *h);

/* Ends a decode: trailing bytes are FLYQ_ERR_PROTOCOL. Returns r->err. */
int flyq__dec_finish(flyq_reader_t *r);

#endif /* FLYQ_PROTO_INT_H */
