/* Fuzz target: what a client reads from a (possibly hostile) broker.
 *
 * The first input byte is the API key of the request the client is waiting
 * for; the rest is the response payload (the frame without its size
 * prefix), given to that API's response decoder. Any other first byte
 * tests the common prefix alone (flyq_proto_decode_resp_header and
 * flyq_proto_peek_correlation_id). Fetch records then go through the
 * client's iterator (flyq_fetch_iter_*), which must agree with the batch
 * walk of fuzz.h. Checked: return codes, the correlation id, every decoded
 * pointer inside the payload, nullability, and the arena bound.
 */
#include <errno.h>

#include "flyq/batch.h"
#include "flyq/client.h"
#include "flyq/proto.h"
#include "fuzz.h"

/* Decodes p[0..len) with one API's decoder, checks what it decoded, and
 * copies the response header to *hdr. Returns the decoder's result. */
typedef int (*decode_fn)(flyq_fuzz_span_t in, flyq_arena_t *a,
                         flyq_proto_resp_header_t *hdr);

/* Checks the common prefix; returns 1 when a body follows. */
static int body_follows(flyq_fuzz_span_t in,
                        const flyq_proto_resp_header_t *h) {
  flyq_fuzz_check_str(in, h->error_message, 1);
  return h->error_code == 0;
}

static size_t in_len(flyq_fuzz_span_t in) { return (size_t)(in.hi - in.lo); }

static int api_versions(flyq_fuzz_span_t in, flyq_arena_t *a,
                        flyq_proto_resp_header_t *hdr) {
  flyq_proto_api_versions_resp_t resp;
  int r = flyq_proto_decode_api_versions_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r != 0 || !body_follows(in, &resp.hdr)) return r;
  flyq_fuzz_check_array(resp.apis, resp.napis, 0);
  flyq_fuzz_check_str(in, resp.broker_version, 0);
  return r;
}

static int produce(flyq_fuzz_span_t in, flyq_arena_t *a,
                   flyq_proto_resp_header_t *hdr) {
  flyq_proto_produce_resp_t resp;
  int r = flyq_proto_decode_produce_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r != 0 || !body_follows(in, &resp.hdr)) return r;
  flyq_fuzz_check_array(resp.topics, resp.ntopics, 0);
  for (int32_t i = 0; i < resp.ntopics; i++) {
    const flyq_proto_produce_resp_topic_t *t = &resp.topics[i];
    flyq_fuzz_check_str(in, t->name, 0);
    flyq_fuzz_check_array(t->parts, t->nparts, 0);
    for (int32_t j = 0; j < t->nparts; j++)
      flyq_fuzz_check_str(in, t->parts[j].error_message, 1);
  }
  return r;
}

/* Counts what the client's fetch iterator returns from min_offset on,
 * checking each record; *end receives its final result. */
static int64_t fetch_iter_count(flyq_bytes_t records, int64_t min_offset,
                                int *end) {
  flyq_fuzz_span_t in = {records.ptr, records.ptr + records.len};
  flyq_fetch_iter_t it;
  flyq_record_t rec;
  int64_t n = 0;
  flyq_fetch_iter_init(&it, records.ptr, (size_t)records.len, min_offset);
  while ((*end = flyq_fetch_iter_next(&it, &rec)) == 1) {
    FUZZ_CHECK(rec.offset >= min_offset && it.next_offset > rec.offset);
    flyq_fuzz_check_mem(in, rec.key, rec.key_len, 1);
    flyq_fuzz_check_mem(in, rec.value, rec.value_len, 1);
    n++;
  }
  FUZZ_CHECK(*end == 0 || *end == FLYQ_ERR_CORRUPT ||
             *end == FLYQ_ERR_TRUNCATED || *end == FLYQ_ERR_UNSUPPORTED);
  return n;
}

/* The records of a fetched partition: the client's iterator returns every
 * record of the batches the walk accepts and fails where the walk stops. */
static void fetch_records(flyq_fuzz_span_t in,
                          const flyq_proto_fetch_resp_part_t *p) {
  int clean, end;
  flyq_fuzz_check_bytes(in, p->records, 1);
  if (p->records.len <= 0) return;
  int64_t n = flyq_fuzz_walk_batches(p->records.ptr, (size_t)p->records.len,
                                     &clean);
  FUZZ_CHECK(fetch_iter_count(p->records, INT64_MIN, &end) == n);
  FUZZ_CHECK((end == 0) == clean);
  fetch_iter_count(p->records, p->log_start_offset, &end);
}

static int fetch(flyq_fuzz_span_t in, flyq_arena_t *a,
                 flyq_proto_resp_header_t *hdr) {
  flyq_proto_fetch_resp_t resp;
  int r = flyq_proto_decode_fetch_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r != 0 || !body_follows(in, &resp.hdr)) return r;
  flyq_fuzz_check_array(resp.topics, resp.ntopics, 0);
  for (int32_t i = 0; i < resp.ntopics; i++) {
    const flyq_proto_fetch_resp_topic_t *t = &resp.topics[i];
    flyq_fuzz_check_str(in, t->name, 0);
    flyq_fuzz_check_array(t->parts, t->nparts, 0);
    for (int32_t j = 0; j < t->nparts; j++) {
      flyq_fuzz_check_str(in, t->parts[j].error_message, 1);
      fetch_records(in, &t->parts[j]);
    }
  }
  return r;
}

static int list_offsets(flyq_fuzz_span_t in, flyq_arena_t *a,
                        flyq_proto_resp_header_t *hdr) {
  flyq_proto_list_offsets_resp_t resp;
  int r = flyq_proto_decode_list_offsets_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r != 0 || !body_follows(in, &resp.hdr)) return r;
  flyq_fuzz_check_array(resp.topics, resp.ntopics, 0);
  for (int32_t i = 0; i < resp.ntopics; i++) {
    flyq_fuzz_check_str(in, resp.topics[i].name, 0);
    flyq_fuzz_check_array(resp.topics[i].parts, resp.topics[i].nparts, 0);
  }
  return r;
}

static void metadata_topic(flyq_fuzz_span_t in,
                           const flyq_proto_metadata_topic_t *t) {
  flyq_fuzz_check_str(in, t->name, 0);
  flyq_fuzz_check_array(t->parts, t->nparts, 0);
  flyq_fuzz_check_array(t->configs, t->nconfigs, 0);
  for (int32_t i = 0; i < t->nconfigs; i++) {
    flyq_fuzz_check_str(in, t->configs[i].key, 0);
    flyq_fuzz_check_str(in, t->configs[i].value, 0);
  }
}

static int metadata(flyq_fuzz_span_t in, flyq_arena_t *a,
                    flyq_proto_resp_header_t *hdr) {
  flyq_proto_metadata_resp_t resp;
  int r = flyq_proto_decode_metadata_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r != 0 || !body_follows(in, &resp.hdr)) return r;
  flyq_fuzz_check_str(in, resp.host, 0);
  flyq_fuzz_check_array(resp.topics, resp.ntopics, 0);
  for (int32_t i = 0; i < resp.ntopics; i++)
    metadata_topic(in, &resp.topics[i]);
  return r;
}

static int offset_commit(flyq_fuzz_span_t in, flyq_arena_t *a,
                         flyq_proto_resp_header_t *hdr) {
  flyq_proto_offset_commit_resp_t resp;
  int r = flyq_proto_decode_offset_commit_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r != 0 || !body_follows(in, &resp.hdr)) return r;
  flyq_fuzz_check_array(resp.topics, resp.ntopics, 0);
  for (int32_t i = 0; i < resp.ntopics; i++) {
    flyq_fuzz_check_str(in, resp.topics[i].name, 0);
    flyq_fuzz_check_array(resp.topics[i].parts, resp.topics[i].nparts, 0);
  }
  return r;
}

static int offset_fetch(flyq_fuzz_span_t in, flyq_arena_t *a,
                        flyq_proto_resp_header_t *hdr) {
  flyq_proto_offset_fetch_resp_t resp;
  int r = flyq_proto_decode_offset_fetch_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r != 0 || !body_follows(in, &resp.hdr)) return r;
  flyq_fuzz_check_array(resp.topics, resp.ntopics, 0);
  for (int32_t i = 0; i < resp.ntopics; i++) {
    flyq_fuzz_check_str(in, resp.topics[i].name, 0);
    flyq_fuzz_check_array(resp.topics[i].parts, resp.topics[i].nparts, 0);
  }
  return r;
}

static int list_groups(flyq_fuzz_span_t in, flyq_arena_t *a,
                       flyq_proto_resp_header_t *hdr) {
  flyq_proto_list_groups_resp_t resp;
  int r = flyq_proto_decode_list_groups_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r != 0 || !body_follows(in, &resp.hdr)) return r;
  flyq_fuzz_check_array(resp.groups, resp.ngroups, 0);
  for (int32_t i = 0; i < resp.ngroups; i++)
    flyq_fuzz_check_str(in, resp.groups[i], 0);
  return r;
}

static void topic_results(flyq_fuzz_span_t in,
                          const flyq_proto_topic_result_t *t, int32_t n) {
  flyq_fuzz_check_array(t, n, 0);
  for (int32_t i = 0; i < n; i++) {
    flyq_fuzz_check_str(in, t[i].name, 0);
    flyq_fuzz_check_str(in, t[i].error_message, 1);
  }
}

static int create_topics(flyq_fuzz_span_t in, flyq_arena_t *a,
                         flyq_proto_resp_header_t *hdr) {
  flyq_proto_create_topics_resp_t resp;
  int r = flyq_proto_decode_create_topics_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r == 0 && body_follows(in, &resp.hdr))
    topic_results(in, resp.topics, resp.ntopics);
  return r;
}

static int delete_topics(flyq_fuzz_span_t in, flyq_arena_t *a,
                         flyq_proto_resp_header_t *hdr) {
  flyq_proto_delete_topics_resp_t resp;
  int r = flyq_proto_decode_delete_topics_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r == 0 && body_follows(in, &resp.hdr))
    topic_results(in, resp.topics, resp.ntopics);
  return r;
}

static int authenticate(flyq_fuzz_span_t in, flyq_arena_t *a,
                        flyq_proto_resp_header_t *hdr) {
  flyq_proto_authenticate_resp_t resp;
  int r = flyq_proto_decode_authenticate_resp(in.lo, in_len(in), a, &resp);
  *hdr = resp.hdr;
  if (r == 0 && body_follows(in, &resp.hdr))
    flyq_fuzz_check_str(in, resp.principal, 1);
  return r;
}

/* The common prefix alone, as the client reads it before dispatching. */
static int prefix_only(flyq_fuzz_span_t in, flyq_arena_t *a,
                       flyq_proto_resp_header_t *hdr) {
  flyq_reader_t rd;
  int32_t id;
  (void)a;
  flyq_reader_init(&rd, in.lo, in_len(in));
  int r = flyq_proto_decode_resp_header(&rd, hdr);
  if (r == 0) body_follows(in, hdr);
  int peek = flyq_proto_peek_correlation_id(in.lo, in_len(in), &id);
  FUZZ_CHECK(peek == (in_len(in) >= 4 ? 0 : FLYQ_ERR_TRUNCATED));
  FUZZ_CHECK(peek != 0 || r != 0 || id == hdr->correlation_id);
  return r;
}

static decode_fn decoder_for(uint8_t api_key) {
  switch (api_key) {
  case FLYQ_API_API_VERSIONS: return api_versions;
  case FLYQ_API_PRODUCE: return produce;
  case FLYQ_API_FETCH: return fetch;
  case FLYQ_API_LIST_OFFSETS: return list_offsets;
  case FLYQ_API_METADATA: return metadata;
  case FLYQ_API_OFFSET_COMMIT: return offset_commit;
  case FLYQ_API_OFFSET_FETCH: return offset_fetch;
  case FLYQ_API_LIST_GROUPS: return list_groups;
  case FLYQ_API_CREATE_TOPICS: return create_topics;
  case FLYQ_API_DELETE_TOPICS: return delete_topics;
  case FLYQ_API_AUTHENTICATE: return authenticate;
  }
  return prefix_only;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  flyq_fuzz_span_t in = {data + 1, data + size};
  flyq_proto_resp_header_t hdr;
  flyq_arena_t a;
  flyq_arena_init(&a);
  int r = decoder_for(data[0])(in, &a, &hdr);
  FUZZ_CHECK(r == 0 || r == FLYQ_ERR_TRUNCATED || r == FLYQ_ERR_PROTOCOL ||
             r == -ENOMEM);
  if (r == 0)
    FUZZ_CHECK(hdr.correlation_id ==
               (int32_t)((uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
                         (uint32_t)data[3] << 8 | data[4]));
  flyq_fuzz_check_arena(&a, size - 1);
  flyq_arena_free(&a);
  return 0;
}
