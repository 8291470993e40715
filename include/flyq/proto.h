/* The native wire protocol codec (docs/protocol.md is the contract).
 *
 * Pure code: no sockets, no files. The server decodes requests and encodes
 * responses; the client encodes requests and decodes responses. Every API
 * has a request struct, a response struct and four functions:
 *
 *   flyq_proto_encode_X_req(buf, hdr, req)      client: one whole frame
 *   flyq_proto_decode_X_req(reader, arena, req) server: the body after the
 *                                               request header
 *   flyq_proto_encode_X_resp(buf, resp)         server: one whole frame
 *   flyq_proto_decode_X_resp(p, len, arena, resp) client: one frame payload
 *
 * Encoders append one complete frame (int32 size included) to buf, so many
 * requests can be pipelined in one buffer. They return 0 or a negative code
 * (-ENOMEM, FLYQ_ERR_INVALID_ARG for a value the wire cannot carry, such as
 * a string over 32767 bytes, a negative count or null where null is not
 * allowed). On failure buf is left exactly as it was before the call.
 *
 * Decoders never copy strings or bytes: the decoded structs point into the
 * input, which must outlive them. Arrays go into the arena, which grows
 * by at most 16 times the input size plus a few KiB whatever the input
 * says (array counts are checked against the bytes that remain). They
 * return 0, FLYQ_ERR_TRUNCATED (a field runs past the end),
 * FLYQ_ERR_PROTOCOL (length < -1, null where not allowed, client_id over
 * 255 bytes, trailing bytes) or -ENOMEM; on failure the struct's content is
 * unspecified (it may point into the arena) and must not be used.
 *
 * Nullability: strings and arrays are never null except client_id, every
 * error_message, the Authenticate principal, Metadata's topic list and
 * OffsetFetch's topic list. Bytes (records, credentials, config text) may
 * be null (len -1); a consumer treats null records as empty.
 *
 * Array fields are a pointer plus an int32 count; for nullable arrays a
 * count of -1 means null (the pointer is then ignored/NULL).
 */
#ifndef FLYQ_PROTO_H
#define FLYQ_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "flyq/buf.h"
#include "flyq/common.h"

/* ---- Frames ----------------------------------------------------------- */

/* Smallest legal frame size (the 4-byte prefix not counted). */
#define FLYQ_PROTO_FRAME_MIN 8
#define FLYQ_PROTO_FRAME_MAX_DEFAULT (16u * 1024 * 1024)
#define FLYQ_PROTO_CLIENT_ID_MAX 255

/* Parses the 4-byte size prefix at p. Returns 0 and sets *size (bytes that
 * follow the prefix) when FLYQ_PROTO_FRAME_MIN <= size <= max;
 * FLYQ_ERR_TRUNCATED when len < 4; FLYQ_ERR_PROTOCOL when the size is
 * negative or below the minimum; FLYQ_ERR_TOO_LARGE when it exceeds max.
 * *size is set whenever 4 bytes are present (a negative size reads as its
 * unsigned value). */
int flyq_proto_frame_size(const uint8_t *p, size_t len, uint32_t max,
                          uint32_t *size);

/* ---- APIs and versions ------------------------------------------------ */

enum {
  FLYQ_API_PRODUCE = 0,
  FLYQ_API_FETCH = 1,
  FLYQ_API_LIST_OFFSETS = 2,
  FLYQ_API_METADATA = 3,
  FLYQ_API_OFFSET_COMMIT = 8,
  FLYQ_API_OFFSET_FETCH = 9,
  FLYQ_API_LIST_GROUPS = 16,
  FLYQ_API_API_VERSIONS = 18,
  FLYQ_API_CREATE_TOPICS = 19,
  FLYQ_API_DELETE_TOPICS = 20,
  FLYQ_API_AUTHENTICATE = 36,
  FLYQ_API_CONFIG_PLAN = 50,
  FLYQ_API_CONFIG_APPLY = 51,
  FLYQ_API_STATS = 52,
};

typedef struct flyq_proto_api_version {
  int16_t api_key;
  int16_t min_version;
  int16_t max_version;
} flyq_proto_api_version_t;

/* What this broker advertises in ApiVersions, ordered by api_key. */
#define FLYQ_PROTO_API_COUNT 14
extern const flyq_proto_api_version_t
    flyq_proto_api_versions[FLYQ_PROTO_API_COUNT];

/* 1 if the key is known and the version is within its advertised range. */
int flyq_proto_version_supported(int16_t api_key, int16_t api_version);

/* "Produce", "Fetch", ...; "Unknown" for an unknown key. Static. */
const char *flyq_proto_api_name(int16_t api_key);

/* ---- Wire error codes (docs/protocol.md, "Error codes") --------------- */

#define FLYQ_WIRE_ERRNO_MAP(XX)                                               \
  XX(NONE, 0)                                                                 \
  XX(UNKNOWN_SERVER_ERROR, -1)                                                \
  XX(OFFSET_OUT_OF_RANGE, 1)                                                  \
  XX(CORRUPT_MESSAGE, 2)                                                      \
  XX(UNKNOWN_TOPIC_OR_PARTITION, 3)                                           \
  XX(REQUEST_TIMED_OUT, 7)                                                    \
  XX(MESSAGE_TOO_LARGE, 10)                                                   \
  XX(INVALID_TOPIC, 17)                                                       \
  XX(TOPIC_AUTHORIZATION_FAILED, 29)                                          \
  XX(GROUP_AUTHORIZATION_FAILED, 30)                                          \
  XX(CLUSTER_AUTHORIZATION_FAILED, 31)                                        \
  XX(UNSUPPORTED_SASL_MECHANISM, 33)                                          \
  XX(UNSUPPORTED_VERSION, 35)                                                 \
  XX(TOPIC_ALREADY_EXISTS, 36)                                                \
  XX(INVALID_PARTITIONS, 37)                                                  \
  XX(INVALID_CONFIG, 40)                                                      \
  XX(INVALID_REQUEST, 42)                                                     \
  XX(STORAGE_ERROR, 56)                                                       \
  XX(AUTHENTICATION_FAILED, 58)                                               \
  XX(GROUP_ID_NOT_FOUND, 69)                                                  \
  XX(UNSUPPORTED_COMPRESSION_TYPE, 76)                                        \
  XX(INVALID_RECORD, 87)                                                      \
  XX(LIMIT_EXCEEDED, 1000)                                                    \
  XX(PLUGIN_ERROR, 1001)

enum {
#define FLYQ_WIRE_ENUM(name, val) FLYQ_WIRE_##name = (val),
  FLYQ_WIRE_ERRNO_MAP(FLYQ_WIRE_ENUM)
#undef FLYQ_WIRE_ENUM
};

/* "NONE", "OFFSET_OUT_OF_RANGE", ...; "UNKNOWN" for a code not in the table.
 * Static. */
const char *flyq_wire_errname(int16_t code);

/* Wire code for a FlyQ return code (0, FLYQ_ERR_* or -errno), for the
 * server. CORRUPT/TRUNCATED map to CORRUPT_MESSAGE because the broker only
 * returns them for record batches: a request that fails to decode is
 * INVALID_REQUEST, which the server chooses itself. PROTOCOL and INVALID_ARG
 * map to INVALID_REQUEST; -ENOSPC, -EIO, -EDQUOT, -EROFS to STORAGE_ERROR;
 * anything unknown to UNKNOWN_SERVER_ERROR. */
int16_t flyq_wire_error_from(int err);

/* The reverse, for the client: 0 for NONE, else the closest FLYQ_ERR_* or
 * -errno (STORAGE_ERROR -> -EIO; unknown or UNKNOWN_SERVER_ERROR ->
 * FLYQ_ERR_PROTOCOL). Lossy: use the wire code itself when it matters. */
int flyq_wire_error_to_err(int16_t code);

/* ---- Headers ---------------------------------------------------------- */

typedef struct flyq_proto_req_header {
  int16_t api_key;
  int16_t api_version;
  int32_t correlation_id;
  flyq_str_t client_id; /* may be null; at most 255 bytes */
} flyq_proto_req_header_t;

typedef struct flyq_proto_resp_header {
  int32_t correlation_id;
  int16_t error_code;       /* FLYQ_WIRE_*; when not 0 the body is absent */
  flyq_str_t error_message; /* may be null; encoders cut it at 32767 bytes */
} flyq_proto_resp_header_t;

/* Writes the request header (no frame size). Used by the request encoders;
 * exposed for tests and tools. */
int flyq_proto_encode_req_header(flyq_buf_t *b,
                                 const flyq_proto_req_header_t *h);

/* Reads a request header from r. Even on failure, api_key, api_version and
 * correlation_id are filled when the first 8 bytes were present (always so
 * for a frame that passed flyq_proto_frame_size()); otherwise
 * correlation_id is -1. Does not check the API key or version. */
int flyq_proto_decode_req_header(flyq_reader_t *r, flyq_proto_req_header_t *h);

/* Reads the common response prefix from r. */
int flyq_proto_decode_resp_header(flyq_reader_t *r,
                                  flyq_proto_resp_header_t *h);

/* The correlation id at the start of a response payload, so a client can
 * find the pending request before decoding the rest. FLYQ_ERR_TRUNCATED if
 * len < 4. */
int flyq_proto_peek_correlation_id(const uint8_t *payload, size_t len,
                                   int32_t *id);

/* A complete error-only response frame: correlation id, code, message (may
 * be NULL) and no body. Valid as the answer to any API; also the
 * connection-level error frame (correlation_id -1). */
int flyq_proto_encode_error_response(flyq_buf_t *b, int32_t correlation_id,
                                     int16_t code, const char *msg);

/* ---- Shared element types --------------------------------------------- */

/* A topic config entry (CreateTopics request, Metadata response). */
typedef struct flyq_proto_config {
  flyq_str_t key;
  flyq_str_t value;
} flyq_proto_config_t;

/* A per-topic outcome (CreateTopics and DeleteTopics responses). */
typedef struct flyq_proto_topic_result {
  flyq_str_t name;
  int16_t error_code;
  flyq_str_t error_message; /* may be null */
} flyq_proto_topic_result_t;

/* ---- ApiVersions (18) ------------------------------------------------- */

/* The request body is empty: no struct. The decoder only checks that
 * nothing follows the header. */
typedef struct flyq_proto_api_versions_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_api_version_t *apis;
  int32_t napis;
  flyq_str_t broker_version;
} flyq_proto_api_versions_resp_t;

int flyq_proto_encode_api_versions_req(flyq_buf_t *b,
                                       const flyq_proto_req_header_t *h);
int flyq_proto_decode_api_versions_req(flyq_reader_t *r);
int flyq_proto_encode_api_versions_resp(
    flyq_buf_t *b, const flyq_proto_api_versions_resp_t *resp);
int flyq_proto_decode_api_versions_resp(const uint8_t *p, size_t len,
                                        flyq_arena_t *a,
                                        flyq_proto_api_versions_resp_t *resp);

/* ---- Produce (0) ------------------------------------------------------ */

typedef struct flyq_proto_produce_req_part {
  int32_t partition;    /* -1 = the topic's partitioner chooses per record */
  flyq_bytes_t records; /* RecordBatch v2 batches back to back */
} flyq_proto_produce_req_part_t;

typedef struct flyq_proto_produce_req_topic {
  flyq_str_t name;
  const flyq_proto_produce_req_part_t *parts;
  int32_t nparts;
} flyq_proto_produce_req_topic_t;

typedef struct flyq_proto_produce_req {
  int8_t acks; /* 0, 1 or -1 (not checked by the codec) */
  int32_t timeout_ms;
  const flyq_proto_produce_req_topic_t *topics;
  int32_t ntopics;
} flyq_proto_produce_req_t;

typedef struct flyq_proto_produce_resp_part {
  int32_t partition;
  int16_t error_code;
  flyq_str_t error_message; /* may be null */
  int64_t base_offset;      /* -1 on error */
  int64_t last_offset;      /* -1 on error */
  int64_t log_start_offset;
} flyq_proto_produce_resp_part_t;

typedef struct flyq_proto_produce_resp_topic {
  flyq_str_t name;
  const flyq_proto_produce_resp_part_t *parts;
  int32_t nparts;
} flyq_proto_produce_resp_topic_t;

typedef struct flyq_proto_produce_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_produce_resp_topic_t *topics;
  int32_t ntopics;
} flyq_proto_produce_resp_t;

int flyq_proto_encode_produce_req(flyq_buf_t *b,
                                  const flyq_proto_req_header_t *h,
                                  const flyq_proto_produce_req_t *req);
int flyq_proto_decode_produce_req(flyq_reader_t *r, flyq_arena_t *a,
                                  flyq_proto_produce_req_t *req);
int flyq_proto_encode_produce_resp(flyq_buf_t *b,
                                   const flyq_proto_produce_resp_t *resp);
int flyq_proto_decode_produce_resp(const uint8_t *p, size_t len,
                                   flyq_arena_t *a,
                                   flyq_proto_produce_resp_t *resp);

/* ---- Fetch (1) -------------------------------------------------------- */

typedef struct flyq_proto_fetch_req_part {
  int32_t partition;
  int64_t fetch_offset;
  int32_t partition_max_bytes;
} flyq_proto_fetch_req_part_t;

typedef struct flyq_proto_fetch_req_topic {
  flyq_str_t name;
  const flyq_proto_fetch_req_part_t *parts;
  int32_t nparts;
} flyq_proto_fetch_req_topic_t;

typedef struct flyq_proto_fetch_req {
  int32_t max_wait_ms;
  int32_t min_bytes;
  int32_t max_bytes;
  const flyq_proto_fetch_req_topic_t *topics;
  int32_t ntopics;
} flyq_proto_fetch_req_t;

/* Version 1 adds, after the topics, the consumer's filter: a plugin on the
 * broker's plugin_path (name null: none) and its params (string values;
 * ignored without a name). */
typedef struct flyq_proto_fetch_filter {
  flyq_str_t name;
  const flyq_proto_config_t *params;
  int32_t nparams;
} flyq_proto_fetch_filter_t;

typedef struct flyq_proto_fetch_resp_part {
  int32_t partition;
  int16_t error_code;
  flyq_str_t error_message; /* may be null */
  int64_t high_watermark;
  int64_t log_start_offset;
  int64_t flushed_offset;
  /* Encoding: ptr != NULL (or len <= 0): the len bytes are copied into the
   * frame (-1 = null). ptr == NULL with len > 0: deferred; only the length
   * prefix is written and the caller sends the len bytes itself at the
   * splice point the encoder reports (see flyq_proto_encode_fetch_resp).
   * Decoding: points into the payload; may be null. */
  flyq_bytes_t records;
} flyq_proto_fetch_resp_part_t;

typedef struct flyq_proto_fetch_resp_topic {
  flyq_str_t name;
  const flyq_proto_fetch_resp_part_t *parts;
  int32_t nparts;
} flyq_proto_fetch_resp_topic_t;

typedef struct flyq_proto_fetch_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_fetch_resp_topic_t *topics;
  int32_t ntopics;
} flyq_proto_fetch_resp_t;

int flyq_proto_encode_fetch_req(flyq_buf_t *b, const flyq_proto_req_header_t *h,
                                const flyq_proto_fetch_req_t *req);
int flyq_proto_decode_fetch_req(flyq_reader_t *r, flyq_arena_t *a,
                                flyq_proto_fetch_req_t *req);
/* Version 1 (h->api_version must be 1). filter may be NULL: none. */
int flyq_proto_encode_fetch_req_v1(flyq_buf_t *b,
                                   const flyq_proto_req_header_t *h,
                                   const flyq_proto_fetch_req_t *req,
                                   const flyq_proto_fetch_filter_t *filter);
int flyq_proto_decode_fetch_req_v1(flyq_reader_t *r, flyq_arena_t *a,
                                   flyq_proto_fetch_req_t *req,
                                   flyq_proto_fetch_filter_t *filter);

/* Encodes a Fetch response frame, letting the server send stored batches
 * unchanged without copying them into buf. For the i-th deferred partition
 * (records.ptr == NULL, records.len > 0, counted in topic-then-partition
 * order) splice_at[i] receives the offset in b->data where its records.len
 * bytes belong (just after its length prefix). The frame size already
 * counts the deferred bytes, so the caller sends
 *   data[start .. splice_at[0]), bytes of deferred 0,
 *   data[splice_at[0] .. splice_at[1]), bytes of deferred 1, ...,
 *   data[splice_at[n-1] .. b->len)
 * where start is b->len before the call. nsplice is the room in splice_at
 * (may be 0 with splice_at NULL when nothing is deferred); more deferred
 * partitions than that is FLYQ_ERR_INVALID_ARG. With nothing deferred the
 * frame in buf is complete. */
int flyq_proto_encode_fetch_resp(flyq_buf_t *b,
                                 const flyq_proto_fetch_resp_t *resp,
                                 size_t *splice_at, size_t nsplice);
int flyq_proto_decode_fetch_resp(const uint8_t *p, size_t len, flyq_arena_t *a,
                                 flyq_proto_fetch_resp_t *resp);
/* Version 1 adds next_offset to each partition, after flushed_offset:
 * where the consumer goes on (past the records a filter dropped), or -1
 * for "after the last record sent". next[] has one entry per partition,
 * in topic-then-partition order; next may be NULL (all -1). The decoder
 * puts the array in the arena (*next NULL when there are no partitions). */
int flyq_proto_encode_fetch_resp_v1(flyq_buf_t *b,
                                    const flyq_proto_fetch_resp_t *resp,
                                    const int64_t *next, size_t *splice_at,
                                    size_t nsplice);
int flyq_proto_decode_fetch_resp_v1(const uint8_t *p, size_t len,
                                    flyq_arena_t *a,
                                    flyq_proto_fetch_resp_t *resp,
                                    int64_t **next);

/* ---- ListOffsets (2) -------------------------------------------------- */

#define FLYQ_PROTO_TIMESTAMP_EARLIEST (-2)
#define FLYQ_PROTO_TIMESTAMP_LATEST (-1)

typedef struct flyq_proto_list_offsets_req_part {
  int32_t partition;
  int64_t timestamp; /* -2 earliest, -1 latest, else Unix ms */
} flyq_proto_list_offsets_req_part_t;

typedef struct flyq_proto_list_offsets_req_topic {
  flyq_str_t name;
  const flyq_proto_list_offsets_req_part_t *parts;
  int32_t nparts;
} flyq_proto_list_offsets_req_topic_t;

typedef struct flyq_proto_list_offsets_req {
  const flyq_proto_list_offsets_req_topic_t *topics;
  int32_t ntopics;
} flyq_proto_list_offsets_req_t;

typedef struct flyq_proto_list_offsets_resp_part {
  int32_t partition;
  int16_t error_code;
  int64_t offset;
} flyq_proto_list_offsets_resp_part_t;

typedef struct flyq_proto_list_offsets_resp_topic {
  flyq_str_t name;
  const flyq_proto_list_offsets_resp_part_t *parts;
  int32_t nparts;
} flyq_proto_list_offsets_resp_topic_t;

typedef struct flyq_proto_list_offsets_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_list_offsets_resp_topic_t *topics;
  int32_t ntopics;
} flyq_proto_list_offsets_resp_t;

int flyq_proto_encode_list_offsets_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_list_offsets_req_t *req);
int flyq_proto_decode_list_offsets_req(flyq_reader_t *r, flyq_arena_t *a,
                                       flyq_proto_list_offsets_req_t *req);
int flyq_proto_encode_list_offsets_resp(
    flyq_buf_t *b, const flyq_proto_list_offsets_resp_t *resp);
int flyq_proto_decode_list_offsets_resp(const uint8_t *p, size_t len,
                                        flyq_arena_t *a,
                                        flyq_proto_list_offsets_resp_t *resp);

/* ---- Metadata (3) ----------------------------------------------------- */

typedef struct flyq_proto_metadata_req {
  const flyq_str_t *topics;
  int32_t ntopics; /* -1 = null = all topics */
} flyq_proto_metadata_req_t;

typedef struct flyq_proto_metadata_part {
  int32_t partition;
  int64_t log_start_offset;
  int64_t high_watermark;
  int64_t flushed_offset;
  int32_t segment_count;
  int64_t size_bytes;
  int64_t last_append_ms; /* -1 if nothing appended since the broker started */
} flyq_proto_metadata_part_t;

typedef struct flyq_proto_metadata_topic {
  flyq_str_t name;
  int16_t error_code;
  const flyq_proto_metadata_part_t *parts;
  int32_t nparts;
  const flyq_proto_config_t *configs;
  int32_t nconfigs;
} flyq_proto_metadata_topic_t;

typedef struct flyq_proto_metadata_resp {
  flyq_proto_resp_header_t hdr;
  flyq_str_t host;
  int32_t port;
  const flyq_proto_metadata_topic_t *topics;
  int32_t ntopics;
} flyq_proto_metadata_resp_t;

int flyq_proto_encode_metadata_req(flyq_buf_t *b,
                                   const flyq_proto_req_header_t *h,
                                   const flyq_proto_metadata_req_t *req);
int flyq_proto_decode_metadata_req(flyq_reader_t *r, flyq_arena_t *a,
                                   flyq_proto_metadata_req_t *req);
int flyq_proto_encode_metadata_resp(flyq_buf_t *b,
                                    const flyq_proto_metadata_resp_t *resp);
int flyq_proto_decode_metadata_resp(const uint8_t *p, size_t len,
                                    flyq_arena_t *a,
                                    flyq_proto_metadata_resp_t *resp);

/* ---- OffsetCommit (8) ------------------------------------------------- */

typedef struct flyq_proto_offset_commit_req_part {
  int32_t partition;
  int64_t offset; /* the next offset the group will consume */
} flyq_proto_offset_commit_req_part_t;

typedef struct flyq_proto_offset_commit_req_topic {
  flyq_str_t name;
  const flyq_proto_offset_commit_req_part_t *parts;
  int32_t nparts;
} flyq_proto_offset_commit_req_topic_t;

typedef struct flyq_proto_offset_commit_req {
  flyq_str_t group;
  const flyq_proto_offset_commit_req_topic_t *topics;
  int32_t ntopics;
} flyq_proto_offset_commit_req_t;

typedef struct flyq_proto_offset_commit_resp_part {
  int32_t partition;
  int16_t error_code;
} flyq_proto_offset_commit_resp_part_t;

typedef struct flyq_proto_offset_commit_resp_topic {
  flyq_str_t name;
  const flyq_proto_offset_commit_resp_part_t *parts;
  int32_t nparts;
} flyq_proto_offset_commit_resp_topic_t;

typedef struct flyq_proto_offset_commit_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_offset_commit_resp_topic_t *topics;
  int32_t ntopics;
} flyq_proto_offset_commit_resp_t;

int flyq_proto_encode_offset_commit_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_offset_commit_req_t *req);
int flyq_proto_decode_offset_commit_req(flyq_reader_t *r, flyq_arena_t *a,
                                        flyq_proto_offset_commit_req_t *req);
int flyq_proto_encode_offset_commit_resp(
    flyq_buf_t *b, const flyq_proto_offset_commit_resp_t *resp);
int flyq_proto_decode_offset_commit_resp(
    const uint8_t *p, size_t len, flyq_arena_t *a,
    flyq_proto_offset_commit_resp_t *resp);

/* ---- OffsetFetch (9) -------------------------------------------------- */

typedef struct flyq_proto_offset_fetch_req_topic {
  flyq_str_t name;
  const int32_t *partitions;
  int32_t npartitions;
} flyq_proto_offset_fetch_req_topic_t;

typedef struct flyq_proto_offset_fetch_req {
  flyq_str_t group;
  const flyq_proto_offset_fetch_req_topic_t *topics;
  int32_t ntopics; /* -1 = null = every partition the group committed */
} flyq_proto_offset_fetch_req_t;

typedef struct flyq_proto_offset_fetch_resp_part {
  int32_t partition;
  int64_t offset; /* -1 if the group has no commit for it */
  int16_t error_code;
} flyq_proto_offset_fetch_resp_part_t;

typedef struct flyq_proto_offset_fetch_resp_topic {
  flyq_str_t name;
  const flyq_proto_offset_fetch_resp_part_t *parts;
  int32_t nparts;
} flyq_proto_offset_fetch_resp_topic_t;

typedef struct flyq_proto_offset_fetch_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_offset_fetch_resp_topic_t *topics;
  int32_t ntopics;
} flyq_proto_offset_fetch_resp_t;

int flyq_proto_encode_offset_fetch_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_offset_fetch_req_t *req);
int flyq_proto_decode_offset_fetch_req(flyq_reader_t *r, flyq_arena_t *a,
                                       flyq_proto_offset_fetch_req_t *req);
int flyq_proto_encode_offset_fetch_resp(
    flyq_buf_t *b, const flyq_proto_offset_fetch_resp_t *resp);
int flyq_proto_decode_offset_fetch_resp(const uint8_t *p, size_t len,
                                        flyq_arena_t *a,
                                        flyq_proto_offset_fetch_resp_t *resp);

/* ---- ListGroups (16) -------------------------------------------------- */

/* The request body is empty: no struct. */
typedef struct flyq_proto_list_groups_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_str_t *groups;
  int32_t ngroups;
} flyq_proto_list_groups_resp_t;

int flyq_proto_encode_list_groups_req(flyq_buf_t *b,
                                      const flyq_proto_req_header_t *h);
int flyq_proto_decode_list_groups_req(flyq_reader_t *r);
int flyq_proto_encode_list_groups_resp(
    flyq_buf_t *b, const flyq_proto_list_groups_resp_t *resp);
int flyq_proto_decode_list_groups_resp(const uint8_t *p, size_t len,
                                       flyq_arena_t *a,
                                       flyq_proto_list_groups_resp_t *resp);

/* ---- CreateTopics (19) ------------------------------------------------ */

typedef struct flyq_proto_create_topic {
  flyq_str_t name;
  int32_t partitions;
  const flyq_proto_config_t *configs; /* values are decimal strings */
  int32_t nconfigs;
} flyq_proto_create_topic_t;

typedef struct flyq_proto_create_topics_req {
  const flyq_proto_create_topic_t *topics;
  int32_t ntopics;
} flyq_proto_create_topics_req_t;

typedef struct flyq_proto_create_topics_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_topic_result_t *topics;
  int32_t ntopics;
} flyq_proto_create_topics_resp_t;

int flyq_proto_encode_create_topics_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_create_topics_req_t *req);
int flyq_proto_decode_create_topics_req(flyq_reader_t *r, flyq_arena_t *a,
                                        flyq_proto_create_topics_req_t *req);
int flyq_proto_encode_create_topics_resp(
    flyq_buf_t *b, const flyq_proto_create_topics_resp_t *resp);
int flyq_proto_decode_create_topics_resp(
    const uint8_t *p, size_t len, flyq_arena_t *a,
    flyq_proto_create_topics_resp_t *resp);

/* ---- DeleteTopics (20) ------------------------------------------------ */

typedef struct flyq_proto_delete_topics_req {
  const flyq_str_t *names;
  int32_t nnames;
} flyq_proto_delete_topics_req_t;

typedef struct flyq_proto_delete_topics_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_topic_result_t *topics;
  int32_t ntopics;
} flyq_proto_delete_topics_resp_t;

int flyq_proto_encode_delete_topics_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_delete_topics_req_t *req);
int flyq_proto_decode_delete_topics_req(flyq_reader_t *r, flyq_arena_t *a,
                                        flyq_proto_delete_topics_req_t *req);
int flyq_proto_encode_delete_topics_resp(
    flyq_buf_t *b, const flyq_proto_delete_topics_resp_t *resp);
int flyq_proto_decode_delete_topics_resp(
    const uint8_t *p, size_t len, flyq_arena_t *a,
    flyq_proto_delete_topics_resp_t *resp);

/* ---- Authenticate (36) ------------------------------------------------ */

typedef struct flyq_proto_authenticate_req {
  flyq_str_t mechanism; /* e.g. "token" */
  flyq_bytes_t credentials; /* may be null */
} flyq_proto_authenticate_req_t;

typedef struct flyq_proto_authenticate_resp {
  flyq_proto_resp_header_t hdr;
  flyq_str_t principal; /* may be null */
} flyq_proto_authenticate_resp_t;

int flyq_proto_encode_authenticate_req(
    flyq_buf_t *b, const flyq_proto_req_header_t *h,
    const flyq_proto_authenticate_req_t *req);
int flyq_proto_decode_authenticate_req(flyq_reader_t *r, flyq_arena_t *a,
                                       flyq_proto_authenticate_req_t *req);
int flyq_proto_encode_authenticate_resp(
    flyq_buf_t *b, const flyq_proto_authenticate_resp_t *resp);
int flyq_proto_decode_authenticate_resp(
    const uint8_t *p, size_t len, flyq_arena_t *a,
    flyq_proto_authenticate_resp_t *resp);

/* ---- ConfigPlan (50) and ConfigApply (51) ----------------------------- */

/* Both APIs have the same request and response layouts and share these
 * functions; the request encoder takes the API from h->api_key (either
 * key, else FLYQ_ERR_INVALID_ARG). */
typedef struct flyq_proto_config_req {
  flyq_bytes_t text; /* the config file's Lua source; null = the file the
                        broker was started with */
  flyq_str_t name;   /* names the text in error messages, e.g. its path */
} flyq_proto_config_req_t;

typedef struct flyq_proto_config_change {
  flyq_str_t kind;   /* "create_topic", "add_partitions", "set", "plugins",
                        "drift", "delete_topic", "restart", "error" */
  flyq_str_t topic;  /* "" for a broker-wide change */
  flyq_str_t detail; /* "partitions 2 -> 4" */
} flyq_proto_config_change_t;

typedef struct flyq_proto_config_resp {
  flyq_proto_resp_header_t hdr;
  const flyq_proto_config_change_t *changes;
  int32_t nchanges;
} flyq_proto_config_resp_t;

int flyq_proto_encode_config_req(flyq_buf_t *b,
                                 const flyq_proto_req_header_t *h,
                                 const flyq_proto_config_req_t *req);
int flyq_proto_decode_config_req(flyq_reader_t *r, flyq_arena_t *a,
                                 flyq_proto_config_req_t *req);
int flyq_proto_encode_config_resp(flyq_buf_t *b,
                                  const flyq_proto_config_resp_t *resp);
int flyq_proto_decode_config_resp(const uint8_t *p, size_t len,
                                  flyq_arena_t *a,
                                  flyq_proto_config_resp_t *resp);

/* ---- Stats (52) ------------------------------------------------------- */

/* An admin API: the request has no body; the response carries one JSON
 * object (docs/protocol.md, "Stats"). */
typedef struct flyq_proto_stats_resp {
  flyq_proto_resp_header_t hdr;
  flyq_bytes_t json;
} flyq_proto_stats_resp_t;

int flyq_proto_encode_stats_req(flyq_buf_t *b, const flyq_proto_req_header_t *h);
int flyq_proto_decode_stats_req(flyq_reader_t *r);
int flyq_proto_encode_stats_resp(flyq_buf_t *b,
                                 const flyq_proto_stats_resp_t *resp);
int flyq_proto_decode_stats_resp(const uint8_t *p, size_t len,
                                 flyq_proto_stats_resp_t *resp);

/* ---- Any request (server dispatch, fuzzing) --------------------------- */

typedef struct flyq_proto_request {
  flyq_proto_req_header_t hdr;
  union {
    flyq_proto_produce_req_t produce;
    flyq_proto_fetch_req_t fetch;
    flyq_proto_list_offsets_req_t list_offsets;
    flyq_proto_metadata_req_t metadata;
    flyq_proto_offset_commit_req_t offset_commit;
    flyq_proto_offset_fetch_req_t offset_fetch;
    flyq_proto_create_topics_req_t create_topics;
    flyq_proto_delete_topics_req_t delete_topics;
    flyq_proto_authenticate_req_t authenticate;
    flyq_proto_config_req_t config; /* ConfigPlan and ConfigApply */
  } body; /* the member named after hdr.api_key; nothing for empty bodies */
  flyq_proto_fetch_filter_t fetch_filter; /* Fetch v1; name null in v0 */
} flyq_proto_request_t;

/* Decodes a whole request payload (the frame without its size prefix):
 * header, then the body of whatever API it names. Returns 0;
 * FLYQ_ERR_UNSUPPORTED for an unknown api_key or unsupported version (the
 * header is filled, the body not decoded: answer UNSUPPORTED_VERSION);
 * FLYQ_ERR_TRUNCATED or FLYQ_ERR_PROTOCOL for a malformed request (answer
 * INVALID_REQUEST; req->hdr.correlation_id is valid if len >= 8, else -1);
 * or -ENOMEM. Pointers in *req point into payload and the arena. */
int flyq_proto_decode_any_request(const uint8_t *payload, size_t len,
                                  flyq_arena_t *a, flyq_proto_request_t *req);

#endif /* FLYQ_PROTO_H */
