/* Hostile input for the request decoders: a table of hand-made malformed
 * payloads, each rejected with the expected code, and 100k random or
 * mutated frames fed to flyq_proto_decode_any_request() (and mutated
 * responses to the response decoders) with a fixed seed. Every input is
 * copied into a buffer of its exact size so ASan catches any overread. A
 * frame that decodes must re-encode to the same bytes, and the arena must
 * stay within its documented bound.
 */
#include <stdlib.h>

#include "flyq/proto.h"
#include "test-proto-samples.h"
#include "test.h"

/* The arena bound promised by include/flyq/proto.h. */
#define ARENA_BOUND(len) (16 * (len) + 8192)

typedef struct hostile {
  const char *what;
  const uint8_t *bytes;
  size_t len;
  int expect; /* return code of flyq_proto_decode_any_request() */
} hostile_t;

#define H(what, expect, ...)                                                  \
  {what, (const uint8_t[]){__VA_ARGS__},                                      \
   sizeof((const uint8_t[]){__VA_ARGS__}), expect}

/* Produce v0, correlation id 1, null client id. */
#define PRODUCE_HDR 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff
/* acks 1, timeout 0. */
#define PRODUCE_HEAD PRODUCE_HDR, 1, 0, 0, 0, 0
#define T FLYQ_ERR_TRUNCATED
#define P FLYQ_ERR_PROTOCOL
#define U FLYQ_ERR_UNSUPPORTED

static const hostile_t hostile[] = {
    H("fewer than 8 header bytes", T, 0, 0, 0, 0, 0, 0, 0),
    H("client_id length -2", P, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xfe),
    H("client_id 32767 bytes, 3 left", T, 0, 18, 0, 0, 0, 0, 0, 1, 0x7f, 0xff,
      'a', 'b', 'c'),
    H("unknown api key", U, 0, 99, 0, 0, 0, 0, 0, 1, 0xff, 0xff),
    H("unsupported version", U, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff),
    H("negative version", U, 0, 3, 0xff, 0xff, 0, 0, 0, 1, 0xff, 0xff),
    H("topic count 2^31-1", T, PRODUCE_HEAD, 0x7f, 0xff, 0xff, 0xff, 0, 1, 't'),
    H("topic count -2", P, PRODUCE_HEAD, 0xff, 0xff, 0xff, 0xfe),
    H("topic count INT32_MIN", P, PRODUCE_HEAD, 0x80, 0, 0, 0),
    H("null topic array", P, PRODUCE_HEAD, 0xff, 0xff, 0xff, 0xff),
    H("null topic name", P, PRODUCE_HEAD, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0),
    H("topic name 32767 bytes, 3 left", T, PRODUCE_HEAD, 0, 0, 0, 1, 0x7f, 0xff,
      'a', 'b', 'c'),
    H("topic name length -3", P, PRODUCE_HEAD, 0, 0, 0, 1, 0xff, 0xfd, 0, 0, 0,
      0),
    H("records length -2", P, PRODUCE_HEAD, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1,
      0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe),
    H("records length 2^31-1", T, PRODUCE_HEAD, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0,
      1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3),
    H("partition count beyond bytes", T, PRODUCE_HEAD, 0, 0, 0, 1, 0, 1, 't', 0,
      0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0),
    H("trailing garbage", P, PRODUCE_HEAD, 0, 0, 0, 0, 0xde, 0xad),
    H("trailing byte after empty body", P, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
      0),
    H("fetch: 4 partitions in 8 bytes", T, 0, 1, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
      0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 4, 0,
      0, 0, 0, 0, 0, 0, 0),
    H("metadata: 2^31-1 topics", T, 0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0x7f,
      0xff, 0xff, 0xff, 0, 1, 'a'),
    H("metadata: null name in list", P, 0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0,
      0, 0, 1, 0xff, 0xff),
    H("offset commit: null group", P, 0, 8, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff,
      0xff, 0, 0, 0, 0),
    H("offset fetch: null partition list", P, 0, 9, 0, 0, 0, 0, 0, 1, 0xff,
      0xff, 0, 1, 'g', 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff),
    H("create topics: null config value", P, 0, 19, 0, 0, 0, 0, 0, 1, 0xff,
      0xff, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 'k', 0xff,
      0xff),
    H("delete topics: null names", P, 0, 20, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff),
    H("authenticate: null mechanism", P, 0, 36, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
      0xff, 0xff, 0, 0, 0, 0),
    H("authenticate: credentials -7", P, 0, 36, 0, 0, 0, 0, 0, 1, 0xff, 0xff,
      0, 1, 't', 0xff, 0xff, 0xff, 0xf9),
};

/* Runs one input from an exact-size heap copy; returns the decode result. */
static int decode_copy(const uint8_t *bytes, size_t len, flyq_arena_t *a,
                       flyq_proto_request_t *req) {
  uint8_t *copy = malloc(len ? len : 1);
  if (len) memcpy(copy, bytes, len);
  int rc = flyq_proto_decode_any_request(copy, len, a, req);
  free(copy);
  return rc;
}

TEST(hostile_table) {
  flyq_arena_t a;
  flyq_arena_init(&a);
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    const hostile_t *h = &hostile[i];
    flyq_proto_request_t req;
    int rc = decode_copy(h->bytes, h->len, &a, &req);
    if (rc != h->expect)
      flyq_test_fail(__FILE__, __LINE__, "%s: got %s, want %s", h->what,
                     flyq_errname(rc), flyq_errname(h->expect));
    if (h->len >= 8) CHECK_EQ(req.hdr.correlation_id, 1);
    CHECK(a.total <= ARENA_BOUND(h->len));
    flyq_arena_reset(&a);
  }
  flyq_arena_free(&a);
}

/* A client_id of 256 bytes is too long; 255 is fine. */
TEST(client_id_limit) {
  uint8_t frame[8 + 2 + 256];
  flyq_arena_t a;
  flyq_proto_request_t req;
  flyq_arena_init(&a);
  memset(frame, 'x', sizeof frame);
  memcpy(frame, (const uint8_t[]){0, 18, 0, 0, 0, 0, 0, 7, 1, 0}, 10);
  CHECK_EQ(decode_copy(frame, sizeof frame, &a, &req), FLYQ_ERR_PROTOCOL);
  CHECK_EQ(req.hdr.correlation_id, 7);
  frame[8] = 0; /* 255 bytes, then one trailing 'x' */
  frame[9] = 0xff;
  CHECK_EQ(decode_copy(frame, sizeof frame, &a, &req), FLYQ_ERR_PROTOCOL);
  CHECK_OK(decode_copy(frame, sizeof frame - 1, &a, &req));
  CHECK_EQ(req.hdr.client_id.len, 255);
  flyq_arena_free(&a);
}

/* xorshift64*: deterministic, good enough to mutate frames. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1du;
}

static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};

/* Changes 1-4 random things in p[0..*len) (cap bytes of room). */
static void mutate(uint8_t *p, size_t *len, size_t cap) {
  int n = 1 + (int)(rnd() % 4);
  for (int i = 0; i < n; i++) {
    size_t at = *len ? rnd() % *len : 0;
    switch (rnd() % 5) {
    case 0: if (*len) p[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
    case 1: if (*len) p[at] = interesting[rnd() % sizeof interesting]; break;
    case 2: if (*len) p[at] = (uint8_t)rnd(); break;
    case 3: *len = at; break; /* truncate */
    case 4:                   /* insert a byte */
      if (*len < cap) {
        memmove(p + at + 1, p + at, *len - at);
        p[at] = interesting[rnd() % sizeof interesting];
        (*len)++;
      }
    }
  }
}

/* Random bytes behind a valid header for a random known API. */
static size_t random_frame(uint8_t *p, size_t cap) {
  size_t len = 10 + rnd() % (cap - 10);
  for (size_t i = 0; i < len; i++) p[i] = (uint8_t)rnd();
  int16_t key = flyq_proto_api_versions[rnd() % FLYQ_PROTO_API_COUNT].api_key;
  memcpy(p, (const uint8_t[]){0, (uint8_t)key, 0, 0, 1, 2, 3, 4, 0xff, 0xff},
         10);
  return len;
}

/* Checks one decode: known code, bounded arena, exact re-encoding. */
static void check_one(const uint8_t *p, size_t len, flyq_arena_t *a,
                      flyq_buf_t *out, int *accepted) {
  flyq_proto_request_t req;
  int rc = decode_copy(p, len, a, &req);
  CHECK(rc == 0 || rc == FLYQ_ERR_TRUNCATED || rc == FLYQ_ERR_PROTOCOL ||
        rc == FLYQ_ERR_UNSUPPORTED);
  CHECK(a->total <= ARENA_BOUND(len));
  if (rc == 0) {
    /* req points into a freed copy: decode again from p to re-encode. */
    CHECK_OK(flyq_proto_decode_any_request(p, len, a, &req));
    flyq_buf_reset(out);
    CHECK_OK(encode_any_request(out, &req));
    CHECK_EQ(out->len, len + 4);
    CHECK_MEM(out->data + 4, p, len);
    (*accepted)++;
  }
  flyq_arena_reset(a);
}

#define FUZZ_ROUNDS 100000
#define FUZZ_CAP 512

TEST(random_requests_100k) {
  flyq_buf_t samples, out;
  flyq_arena_t a;
  flyq_buf_init(&samples);
  flyq_buf_init(&out);
  flyq_arena_init(&a);
  int nsamples = sample_requests(&samples), accepted = 0;
  const uint8_t *frames[32];
  size_t lens[32], pos = 0;
  for (int i = 0; next_frame(&samples, &pos, &frames[i], &lens[i]); i++) {}
  uint8_t buf[FUZZ_CAP];
  for (int round = 0; round < FUZZ_ROUNDS; round++) {
    size_t len;
    if (round % 4 == 3) {
      len = random_frame(buf, sizeof buf);
    } else {
      int s = (int)(rnd() % (uint64_t)nsamples);
      CHECK(lens[s] <= sizeof buf);
      memcpy(buf, frames[s], lens[s]);
      len = lens[s];
      mutate(buf, &len, sizeof buf);
    }
    check_one(buf, len, &a, &out, &accepted);
  }
  /* Some mutations keep a frame valid (e.g. a changed offset value). */
  CHECK(accepted > 1000 && accepted < FUZZ_ROUNDS);
  flyq_buf_free(&samples);
  flyq_buf_free(&out);
  flyq_arena_free(&a);
}

static const int16_t resp_apis[] = {
    FLYQ_API_PRODUCE,       FLYQ_API_FETCH,         FLYQ_API_LIST_OFFSETS,
    FLYQ_API_METADATA,      FLYQ_API_OFFSET_COMMIT, FLYQ_API_OFFSET_FETCH,
    FLYQ_API_LIST_GROUPS,   FLYQ_API_API_VERSIONS,  FLYQ_API_CREATE_TOPICS,
    FLYQ_API_DELETE_TOPICS, FLYQ_API_AUTHENTICATE};

/* The client decodes what a broker (or an impostor) sends: same rules. */
TEST(random_responses_20k) {
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  uint8_t buf[FUZZ_CAP];
  for (int round = 0; round < 20000; round++) {
    int16_t api = resp_apis[rnd() % (sizeof resp_apis / sizeof resp_apis[0])];
    any_resp_t in = sample_response(api, 0), out;
    flyq_buf_reset(&b);
    CHECK_OK(encode_any_response(&b, api, &in));
    size_t len = b.len - 4;
    CHECK(len <= sizeof buf);
    memcpy(buf, b.data + 4, len);
    mutate(buf, &len, sizeof buf);
    uint8_t *copy = malloc(len ? len : 1);
    if (len) memcpy(copy, buf, len);
    int rc = decode_any_response(api, copy, len, &a, &out);
    CHECK(rc == 0 || rc == FLYQ_ERR_TRUNCATED || rc == FLYQ_ERR_PROTOCOL);
    CHECK(a.total <= ARENA_BOUND(len));
    free(copy);
    flyq_arena_reset(&a);
  }
  flyq_buf_free(&b);
  flyq_arena_free(&a);
}

TEST_LIST(TEST_ENTRY(hostile_table) TEST_ENTRY(client_id_limit)
          TEST_ENTRY(random_requests_100k) TEST_ENTRY(random_responses_20k));
