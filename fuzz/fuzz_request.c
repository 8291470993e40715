/* Fuzz target: what a broker reads from a client socket.
 *
 * The input is a byte stream. The frame splitter (flyq_proto_frame_size)
 * cuts it into frames as the server does, and each frame's payload goes
 * through flyq_proto_decode_any_request(); produce records then go through
 * the batch walk the broker applies before appending. When the input does
 * not start with a whole frame, it is decoded as one payload instead, so
 * the decoders see arbitrary bytes either way. Checked: return codes,
 * frame sizes, the correlation id on failure, every decoded pointer inside
 * the payload, nullability, and the arena bound.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flyq/proto.h"
#include "fuzz.h"

/* The frame limit the splitter is fed: small, so that inputs can cross it. */
#define FRAME_MAX 4096

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* The contract of flyq_proto_frame_size() for the first bytes of p. */
static int check_frame_size(const uint8_t *p, size_t len, uint32_t *size) {
  int r = flyq_proto_frame_size(p, len, FRAME_MAX, size);
  if (len < 4) {
    FUZZ_CHECK(r == FLYQ_ERR_TRUNCATED);
    return r;
  }
  int32_t want = (int32_t)be32(p);
  FUZZ_CHECK(*size == (uint32_t)want);
  if (want < FLYQ_PROTO_FRAME_MIN) FUZZ_CHECK(r == FLYQ_ERR_PROTOCOL);
  else if (want > FRAME_MAX) FUZZ_CHECK(r == FLYQ_ERR_TOO_LARGE);
  else FUZZ_CHECK(r == 0);
  return r;
}

static void check_produce(flyq_fuzz_span_t in,
                          const flyq_proto_produce_req_t *req) {
  flyq_fuzz_check_array(req->topics, req->ntopics, 0);
  for (int32_t i = 0; i < req->ntopics; i++) {
    const flyq_proto_produce_req_topic_t *t = &req->topics[i];
    flyq_fuzz_check_str(in, t->name, 0);
    flyq_fuzz_check_array(t->parts, t->nparts, 0);
    for (int32_t j = 0; j < t->nparts; j++) {
      flyq_bytes_t records = t->parts[j].records;
      int clean;
      flyq_fuzz_check_bytes(in, records, 1);
      if (records.len > 0)
        flyq_fuzz_walk_batches(records.ptr, (size_t)records.len, &clean);
    }
  }
}

static void check_fetch(flyq_fuzz_span_t in,
                        const flyq_proto_fetch_req_t *req) {
  flyq_fuzz_check_array(req->topics, req->ntopics, 0);
  for (int32_t i = 0; i < req->ntopics; i++) {
    flyq_fuzz_check_str(in, req->topics[i].name, 0);
    flyq_fuzz_check_array(req->topics[i].parts, req->topics[i].nparts, 0);
  }
}

static void check_list_offsets(flyq_fuzz_span_t in,
                               const flyq_proto_list_offsets_req_t *req) {
  flyq_fuzz_check_array(req->topics, req->ntopics, 0);
  for (int32_t i = 0; i < req->ntopics; i++) {
    flyq_fuzz_check_str(in, req->topics[i].name, 0);
    flyq_fuzz_check_array(req->topics[i].parts, req->topics[i].nparts, 0);
  }
}

/* An array of non-null names (Metadata, DeleteTopics). */
static void check_names(flyq_fuzz_span_t in, const flyq_str_t *names,
                        int32_t n, int nullable) {
  flyq_fuzz_check_array(names, n, nullable);
  for (int32_t i = 0; i < n; i++) flyq_fuzz_check_str(in, names[i], 0);
}

static void check_offset_commit(flyq_fuzz_span_t in,
                                const flyq_proto_offset_commit_req_t *req) {
  flyq_fuzz_check_str(in, req->group, 0);
  flyq_fuzz_check_array(req->topics, req->ntopics, 0);
  for (int32_t i = 0; i < req->ntopics; i++) {
    flyq_fuzz_check_str(in, req->topics[i].name, 0);
    flyq_fuzz_check_array(req->topics[i].parts, req->topics[i].nparts, 0);
  }
}

static void check_offset_fetch(flyq_fuzz_span_t in,
                               const flyq_proto_offset_fetch_req_t *req) {
  flyq_fuzz_check_str(in, req->group, 0);
  flyq_fuzz_check_array(req->topics, req->ntopics, 1);
  for (int32_t i = 0; i < req->ntopics; i++) {
    const flyq_proto_offset_fetch_req_topic_t *t = &req->topics[i];
    flyq_fuzz_check_str(in, t->name, 0);
    flyq_fuzz_check_array(t->partitions, t->npartitions, 0);
  }
}

static void check_create_topics(flyq_fuzz_span_t in,
                                const flyq_proto_create_topics_req_t *req) {
  flyq_fuzz_check_array(req->topics, req->ntopics, 0);
  for (int32_t i = 0; i < req->ntopics; i++) {
    const flyq_proto_create_topic_t *t = &req->topics[i];
    flyq_fuzz_check_str(in, t->name, 0);
    flyq_fuzz_check_array(t->configs, t->nconfigs, 0);
    for (int32_t j = 0; j < t->nconfigs; j++) {
      flyq_fuzz_check_str(in, t->configs[j].key, 0);
      flyq_fuzz_check_str(in, t->configs[j].value, 0);
    }
  }
}

/* Everything a successfully decoded request points to. */
static void check_request(flyq_fuzz_span_t in,
                          const flyq_proto_request_t *req) {
  FUZZ_CHECK(req->hdr.client_id.len <= FLYQ_PROTO_CLIENT_ID_MAX);
  flyq_fuzz_check_str(in, req->hdr.client_id, 1);
  switch (req->hdr.api_key) {
  case FLYQ_API_PRODUCE: check_produce(in, &req->body.produce); break;
  case FLYQ_API_FETCH: check_fetch(in, &req->body.fetch); break;
  case FLYQ_API_LIST_OFFSETS:
    check_list_offsets(in, &req->body.list_offsets);
    break;
  case FLYQ_API_METADATA:
    check_names(in, req->body.metadata.topics, req->body.metadata.ntopics, 1);
    break;
  case FLYQ_API_OFFSET_COMMIT:
    check_offset_commit(in, &req->body.offset_commit);
    break;
  case FLYQ_API_OFFSET_FETCH:
    check_offset_fetch(in, &req->body.offset_fetch);
    break;
  case FLYQ_API_CREATE_TOPICS:
    check_create_topics(in, &req->body.create_topics);
    break;
  case FLYQ_API_DELETE_TOPICS:
    check_names(in, req->body.delete_topics.names,
                req->body.delete_topics.nnames, 0);
    break;
  case FLYQ_API_AUTHENTICATE:
    flyq_fuzz_check_str(in, req->body.authenticate.mechanism, 0);
    flyq_fuzz_check_bytes(in, req->body.authenticate.credentials, 1);
    break;
  }
}

/* Decodes one request payload and checks the result. */
static void decode_payload(const uint8_t *p, size_t len) {
  flyq_fuzz_span_t in = {p, p + len};
  flyq_proto_request_t req;
  flyq_arena_t a;
  flyq_arena_init(&a);
  int r = flyq_proto_decode_any_request(p, len, &a, &req);
  FUZZ_CHECK(r == 0 || r == FLYQ_ERR_UNSUPPORTED || r == FLYQ_ERR_TRUNCATED ||
             r == FLYQ_ERR_PROTOCOL || r == -ENOMEM);
  if (r == 0 || r == FLYQ_ERR_UNSUPPORTED) {
    FUZZ_CHECK(len >= 8);
    FUZZ_CHECK(req.hdr.api_key == (int16_t)(p[0] << 8 | p[1]));
    FUZZ_CHECK(req.hdr.api_version == (int16_t)(p[2] << 8 | p[3]));
  }
  FUZZ_CHECK(req.hdr.correlation_id == (len >= 8 ? (int32_t)be32(p + 4) : -1));
  if (r == 0) check_request(in, &req);
  flyq_fuzz_check_arena(&a, len);
  flyq_arena_free(&a);
}

/* Decodes a copy of the len bytes at p that has exactly their size, so
 * that ASan sees a decoder reading past the frame into the next one. */
static void decode_frame(const uint8_t *p, size_t len) {
  uint8_t *copy = malloc(len);
  if (copy == NULL) return;
  memcpy(copy, p, len);
  decode_payload(copy, len);
  free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off = 0;
  uint32_t frame;
  while (check_frame_size(data + off, size - off, &frame) == 0 &&
         frame <= size - off - 4) {
    decode_frame(data + off + 4, frame);
    off += 4 + (size_t)frame;
  }
  if (off == 0) decode_payload(data, size);
  return 0;
}
