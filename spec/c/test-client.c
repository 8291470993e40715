/* Tests of the C client (include/flyq/client.h) without a real broker.
 *
 * Two kinds of peer: a socketpair whose other end the test drives by hand
 * (canned response frames written before the call, request bytes read and
 * decoded after it) for parsing and error paths, and a tiny in-memory fake
 * broker on a loopback TCP port, run in a thread, for connect, pipelined
 * produce, the batching sender and the consume loop.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/client_int.h"
#include "codec/endian.h"
#include "flyq/client.h"
#include "flyq/proto.h"
#include "test.h"

/* ---- socketpair peer ---------------------------------------------------- */

static flyq_client_t *pair_client(int *peer, const flyq_client_options_t *o) {
  int sv[2];
  flyq_client_t *c;
  flyq_client_options_t def;
  if (o == NULL) {
    flyq_client_options_init(&def);
    def.client_id = "test-client";
    o = &def;
  }
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  CHECK_OK(flyq_client_new(o, &c));
  CHECK_OK(flyq__client_attach(c, sv[0]));
  *peer = sv[1];
  return c;
}

/* Writes buf (whole frames) to the peer end and resets it. */
static void peer_send(int fd, flyq_buf_t *b) {
  size_t off = 0;
  CHECK_OK(b->err);
  while (off < b->len) {
    ssize_t n = write(fd, b->data + off, b->len - off);
    CHECK(n > 0);
    off += (size_t)n;
  }
  flyq_buf_reset(b);
}

static void read_full(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    ssize_t k;
    CHECK(poll(&pfd, 1, 5000) == 1);
    k = read(fd, p, n);
    CHECK(k > 0);
    p += k;
    n -= (size_t)k;
  }
}

/* Reads one frame from the peer end and decodes it as a request. */
static void peer_request(int fd, uint8_t *frame, size_t cap, flyq_arena_t *a,
                         flyq_proto_request_t *req) {
  uint32_t size;
  read_full(fd, frame, 4);
  size = flyq__be32_get(frame);
  CHECK(size <= cap);
  read_full(fd, frame, size);
  CHECK_OK(flyq_proto_decode_any_request(frame, size, a, req));
}

/* A batch of n records "<prefix>-<i>" with keys "k<i>", built into b. */
static void build_batch(flyq_batch_builder_t *b, int n, const char *prefix,
                        const uint8_t **out, size_t *len) {
  char v[64], k[16];
  flyq_batch_builder_reset(b);
  for (int i = 0; i < n; i++) {
    int vl = snprintf(v, sizeof(v), "%s-%d", prefix, i);
    int kl = snprintf(k, sizeof(k), "k%d", i);
    CHECK_OK(flyq_batch_builder_add(b, 1000 + i, k, kl, v, vl, NULL, 0));
  }
  CHECK_OK(flyq_batch_builder_finish(b, out, len));
}

static void put_produce_resp(flyq_buf_t *b, int32_t id, const char *topic,
                             int32_t partition, int16_t code, const char *msg,
                             int64_t base, int64_t last) {
  flyq_proto_produce_resp_part_t p = {partition, code, flyq_str(msg),
                                      base, last, 0};
  flyq_proto_produce_resp_topic_t t = {flyq_str(topic), &p, 1};
  flyq_proto_produce_resp_t r = {{id, 0, {NULL, -1}}, &t, 1};
  CHECK_OK(flyq_proto_encode_produce_resp(b, &r));
}

static void put_list_offsets_resp(flyq_buf_t *b, int32_t id,
                                  const char *topic, int32_t partition,
                                  int64_t offset) {
  flyq_proto_list_offsets_resp_part_t p = {partition, 0, offset};
  flyq_proto_list_offsets_resp_topic_t t = {flyq_str(topic), &p, 1};
  flyq_proto_list_offsets_resp_t r = {{id, 0, {NULL, -1}}, &t, 1};
  CHECK_OK(flyq_proto_encode_list_offsets_resp(b, &r));
}

static int contains(const char *s, const char *needle) {
  return strstr(s, needle) != NULL;
}

TEST(produce_request_matches_decoder) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_batch_builder_t bb;
  flyq_buf_t out;
  flyq_arena_t a;
  flyq_proto_request_t req;
  flyq_produce_result_t res;
  const flyq_proto_produce_req_topic_t *t;
  static uint8_t frame[1 << 16];
  const uint8_t *batch;
  size_t len;
  flyq_batch_builder_init(&bb);
  flyq_buf_init(&out);
  flyq_arena_init(&a);
  build_batch(&bb, 3, "v", &batch, &len);
  put_produce_resp(&out, 0, "orders", 2, 0, NULL, 42, 44);
  peer_send(peer, &out);
  CHECK_OK(flyq_client_produce(c, "orders", 2, 1, batch, len, &res));
  CHECK_EQ(res.err, 0);
  CHECK_EQ(res.base_offset, 42);
  CHECK_EQ(res.last_offset, 44);
  CHECK_EQ(res.nparts, 1);
  CHECK(strcmp(res.topic, "orders") == 0);
  peer_request(peer, frame, sizeof(frame), &a, &req);
  CHECK_EQ(req.hdr.api_key, FLYQ_API_PRODUCE);
  CHECK_EQ(req.hdr.correlation_id, 0);
  CHECK(flyq_str_eq(req.hdr.client_id, "test-client"));
  CHECK_EQ(req.body.produce.acks, 1);
  CHECK_EQ(req.body.produce.ntopics, 1);
  t = &req.body.produce.topics[0];
  CHECK(flyq_str_eq(t->name, "orders"));
  CHECK_EQ(t->nparts, 1);
  CHECK_EQ(t->parts[0].partition, 2);
  CHECK_EQ(t->parts[0].records.len, len);
  CHECK_MEM(t->parts[0].records.ptr, batch, len);
  CHECK_OK(flyq_batch_validate(t->parts[0].records.ptr, len, NULL));
  flyq_client_close(c);
  close(peer);
  flyq_batch_builder_free(&bb);
  flyq_buf_free(&out);
  flyq_arena_free(&a);
}

TEST(produce_partition_error_carries_message) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  flyq_produce_result_t res;
  uint8_t batch[] = {0};
  flyq_buf_init(&out);
  put_produce_resp(&out, 0, "t", 0, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION,
                   "no such topic", -1, -1);
  peer_send(peer, &out);
  CHECK_EQ(flyq_client_produce(c, "t", 0, 1, batch, 1, &res),
           FLYQ_ERR_UNKNOWN_TOPIC);
  CHECK_EQ(res.err, FLYQ_ERR_UNKNOWN_TOPIC);
  CHECK_EQ(res.error_code, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  CHECK(strcmp(res.error_message, "no such topic") == 0);
  CHECK_EQ(flyq_client_error_code(c), FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  CHECK(contains(flyq_client_errmsg(c), "no such topic"));
  CHECK(contains(flyq_client_errmsg(c), "UNKNOWN_TOPIC_OR_PARTITION"));
  CHECK_EQ(flyq_client_connected(c), 1);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(top_level_error_keeps_connection) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  int64_t off = -5;
  flyq_buf_init(&out);
  CHECK_OK(flyq_proto_encode_error_response(&out, 0, FLYQ_WIRE_INVALID_REQUEST,
                                            "bad things"));
  put_list_offsets_resp(&out, 1, "t", 0, 7);
  peer_send(peer, &out);
  CHECK_EQ(flyq_client_list_offset(c, "t", 0, -1, &off),
           flyq_wire_error_to_err(FLYQ_WIRE_INVALID_REQUEST));
  CHECK_EQ(off, -5);
  CHECK_EQ(flyq_client_error_code(c), FLYQ_WIRE_INVALID_REQUEST);
  CHECK(contains(flyq_client_errmsg(c), "bad things"));
  CHECK_OK(flyq_client_list_offset(c, "t", 0, -1, &off));
  CHECK_EQ(off, 7);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(correlation_mismatch_loses_connection) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  int64_t off;
  flyq_buf_init(&out);
  put_list_offsets_resp(&out, 5, "t", 0, 7);
  peer_send(peer, &out);
  CHECK_EQ(flyq_client_list_offset(c, "t", 0, -1, &off), FLYQ_ERR_PROTOCOL);
  CHECK(contains(flyq_client_errmsg(c), "correlation id 5"));
  CHECK_EQ(flyq_client_connected(c), 0);
  CHECK_EQ(flyq_client_list_offset(c, "t", 0, -1, &off), FLYQ_ERR_CLOSED);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(unsolicited_response_loses_connection) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  flyq_buf_init(&out);
  put_list_offsets_resp(&out, 0, "t", 0, 7);
  peer_send(peer, &out);
  CHECK_EQ(flyq_client_poll(c, 1000), FLYQ_ERR_PROTOCOL);
  CHECK(contains(flyq_client_errmsg(c), "no request"));
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(answer_for_other_partition_is_rejected) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  int64_t off;
  flyq_buf_init(&out);
  put_list_offsets_resp(&out, 0, "t", 3, 7);
  peer_send(peer, &out);
  CHECK_EQ(flyq_client_list_offset(c, "t", 0, -1, &off), FLYQ_ERR_PROTOCOL);
  CHECK(contains(flyq_client_errmsg(c), "malformed"));
  CHECK_EQ(flyq_client_connected(c), 0);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(connection_level_error_frame) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  flyq_metadata_t *md = (void *)1;
  flyq_buf_init(&out);
  CHECK_OK(flyq_proto_encode_error_response(
      &out, -1, FLYQ_WIRE_LIMIT_EXCEEDED, "too many connections"));
  peer_send(peer, &out);
  close(peer);
  CHECK_EQ(flyq_client_metadata(c, NULL, &md), FLYQ_ERR_LIMIT);
  CHECK(md == NULL);
  CHECK_EQ(flyq_client_error_code(c), FLYQ_WIRE_LIMIT_EXCEEDED);
  CHECK(contains(flyq_client_errmsg(c), "too many connections"));
  CHECK_EQ(flyq_client_connected(c), 0);
  flyq_client_close(c);
  flyq_buf_free(&out);
}

TEST(bad_frame_sizes) {
  static const uint32_t sizes[] = {0x7fffffffu, 3, 0xffffffffu};
  static const int errs[] = {FLYQ_ERR_TOO_LARGE, FLYQ_ERR_PROTOCOL,
                             FLYQ_ERR_PROTOCOL};
  for (int i = 0; i < 3; i++) {
    int peer;
    flyq_client_t *c = pair_client(&peer, NULL);
    uint8_t hdr[4];
    int64_t off;
    flyq__be32_put(hdr, sizes[i]);
    CHECK_EQ(write(peer, hdr, 4), 4);
    CHECK_EQ(flyq_client_list_offset(c, "t", 0, -1, &off), errs[i]);
    CHECK(contains(flyq_client_errmsg(c), "frame size"));
    CHECK_EQ(flyq_client_connected(c), 0);
    flyq_client_close(c);
    close(peer);
  }
}

TEST(truncated_response_body) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  int64_t off;
  flyq_buf_init(&out);
  put_list_offsets_resp(&out, 0, "t", 0, 7);
  /* Cut the last 3 bytes of the body but keep the frame consistent. */
  flyq__be32_put(out.data, flyq__be32_get(out.data) - 3);
  out.len -= 3;
  peer_send(peer, &out);
  CHECK_EQ(flyq_client_list_offset(c, "t", 0, -1, &off), FLYQ_ERR_PROTOCOL);
  CHECK_EQ(flyq_client_connected(c), 0);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(request_timeout_closes_connection) {
  int peer;
  flyq_client_options_t o;
  flyq_client_t *c;
  int64_t off, t0;
  flyq_client_options_init(&o);
  o.request_timeout_ms = 100;
  c = pair_client(&peer, &o);
  t0 = flyq__mono_ms();
  CHECK_EQ(flyq_client_list_offset(c, "t", 0, -1, &off), FLYQ_ERR_TIMEOUT);
  CHECK(flyq__mono_ms() - t0 >= 100);
  CHECK(flyq__mono_ms() - t0 < 3000);
  CHECK(contains(flyq_client_errmsg(c), "no response"));
  CHECK_EQ(flyq_client_connected(c), 0);
  flyq_client_close(c);
  close(peer);
}

TEST(peer_close_is_reported) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  int64_t off;
  close(peer);
  CHECK_EQ(flyq_client_list_offset(c, "t", 0, -1, &off), FLYQ_ERR_CLOSED);
  CHECK(contains(flyq_client_errmsg(c), "closed"));
  flyq_client_close(c);
}

/* Records what produce callbacks saw. */
typedef struct seen {
  int n;
  int err[16];
  int64_t base[16];
  size_t inflight_max;
} seen_t;

static void on_produce(flyq_client_t *c, const flyq_produce_result_t *res,
                       void *arg) {
  seen_t *s = arg;
  (void)c;
  if (s->n < 16) {
    s->err[s->n] = res->err;
    s->base[s->n] = res->base_offset;
  }
  s->n++;
}

TEST(async_callbacks_fire_in_order) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  seen_t s = {0};
  static const int acks[] = {1, 0, 1, 0, 1};
  uint8_t batch[] = {0};
  flyq_buf_init(&out);
  put_produce_resp(&out, 0, "t", 0, 0, NULL, 10, 10);
  put_produce_resp(&out, 2, "t", 0, 0, NULL, 20, 20);
  put_produce_resp(&out, 4, "t", 0, 0, NULL, 30, 30);
  peer_send(peer, &out);
  for (int i = 0; i < 5; i++)
    CHECK_OK(flyq_client_produce_async(c, "t", 0, acks[i], batch, 1,
                                       on_produce, &s));
  CHECK_EQ(s.n, 0); /* callbacks only fire from poll/flush */
  CHECK_EQ(flyq_client_inflight(c), 5);
  CHECK_OK(flyq_client_flush(c, 5000));
  CHECK_EQ(s.n, 5);
  CHECK_EQ(s.base[0], 10);
  CHECK_EQ(s.base[1], -1);
  CHECK_EQ(s.base[2], 20);
  CHECK_EQ(s.base[3], -1);
  CHECK_EQ(s.base[4], 30);
  for (int i = 0; i < 5; i++) CHECK_EQ(s.err[i], 0);
  CHECK_EQ(flyq_client_inflight(c), 0);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(lost_connection_fails_every_callback_once) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  seen_t s = {0};
  uint8_t batch[] = {0};
  flyq_buf_init(&out);
  put_produce_resp(&out, 0, "t", 0, 0, NULL, 10, 10);
  peer_send(peer, &out);
  for (int i = 0; i < 3; i++)
    CHECK_OK(flyq_client_produce_async(c, "t", 0, 1, batch, 1, on_produce,
                                       &s));
  close(peer);
  CHECK_EQ(flyq_client_flush(c, 5000), FLYQ_ERR_CLOSED);
  CHECK_EQ(s.n, 3);
  CHECK_EQ(s.err[0], 0);
  CHECK_EQ(s.err[1], FLYQ_ERR_CLOSED);
  CHECK_EQ(s.err[2], FLYQ_ERR_CLOSED);
  CHECK_EQ(flyq_client_produce_async(c, "t", 0, 1, batch, 1, on_produce, &s),
           FLYQ_ERR_CLOSED);
  CHECK_EQ(s.n, 3);
  flyq_client_close(c);
  flyq_buf_free(&out);
}

TEST(close_fails_pending_callbacks) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  seen_t s = {0};
  uint8_t batch[] = {0};
  CHECK_OK(flyq_client_produce_async(c, "t", 0, 1, batch, 1, on_produce, &s));
  flyq_client_close(c);
  CHECK_EQ(s.n, 1);
  CHECK_EQ(s.err[0], FLYQ_ERR_CLOSED);
  close(peer);
}

TEST(inflight_is_bounded) {
  int peer;
  flyq_client_options_t o;
  flyq_client_t *c;
  flyq_buf_t out;
  seen_t s = {0};
  uint8_t batch[] = {0};
  flyq_client_options_init(&o);
  o.max_inflight = 2;
  c = pair_client(&peer, &o);
  flyq_buf_init(&out);
  for (int i = 0; i < 6; i++) put_produce_resp(&out, i, "t", 0, 0, NULL, i, i);
  peer_send(peer, &out);
  for (int i = 0; i < 6; i++) {
    CHECK_OK(flyq_client_produce_async(c, "t", 0, 1, batch, 1, on_produce,
                                       &s));
    CHECK(flyq_client_inflight(c) <= 2);
  }
  CHECK_EQ(s.n, 4); /* the last four calls each waited for one */
  CHECK_OK(flyq_client_flush(c, 5000));
  CHECK_EQ(s.n, 6);
  for (int i = 0; i < 6; i++) CHECK_EQ(s.base[i], i);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

/* A produce callback that tries a blocking call on its client. */
static void blocking_in_callback(flyq_client_t *c,
                                 const flyq_produce_result_t *res, void *arg) {
  int64_t off;
  (void)res;
  *(int *)arg = flyq_client_list_offset(c, "t", 0, -1, &off);
}

TEST(callback_cannot_block) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  uint8_t batch[] = {0};
  int r = 1;
  flyq_buf_init(&out);
  put_produce_resp(&out, 0, "t", 0, 0, NULL, 1, 1);
  peer_send(peer, &out);
  CHECK_OK(flyq_client_produce_async(c, "t", 0, 1, batch, 1,
                                     blocking_in_callback, &r));
  CHECK_OK(flyq_client_flush(c, 5000));
  CHECK_EQ(r, FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_client_connected(c), 1);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(produce_acks0_returns_once_written) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_produce_result_t res;
  flyq_arena_t a;
  flyq_proto_request_t req;
  static uint8_t frame[4096];
  uint8_t batch[] = {1, 2, 3};
  flyq_arena_init(&a);
  CHECK_OK(flyq_client_produce(c, "t", 0, FLYQ_ACKS_NONE, batch, 3, &res));
  CHECK_EQ(res.base_offset, -1);
  CHECK_EQ(res.nparts, 1);
  CHECK_EQ(flyq_client_inflight(c), 0);
  peer_request(peer, frame, sizeof(frame), &a, &req);
  CHECK_EQ(req.body.produce.acks, 0);
  CHECK_EQ(req.body.produce.topics[0].parts[0].records.len, 3);
  flyq_client_close(c);
  close(peer);
  flyq_arena_free(&a);
}

/* Two 3-record batches at offsets 0 and 3, back to back, into *out. */
static void two_batches(flyq_buf_t *out) {
  flyq_batch_builder_t bb;
  const uint8_t *batch;
  size_t len, first;
  flyq_batch_builder_init(&bb);
  build_batch(&bb, 3, "a", &batch, &len);
  flyq_buf_put_raw(out, batch, len);
  first = out->len;
  build_batch(&bb, 3, "b", &batch, &len);
  flyq_buf_put_raw(out, batch, len);
  flyq_batch_set_base_offset(out->data + first, 3);
  flyq_batch_builder_free(&bb);
}

TEST(fetch_skips_records_below_offset) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out, recs;
  flyq_fetch_result_t res;
  flyq_fetch_iter_t it;
  flyq_record_t rec;
  flyq_arena_t a;
  flyq_proto_request_t req;
  static uint8_t frame[1 << 16];
  flyq_buf_init(&out);
  flyq_buf_init(&recs);
  flyq_arena_init(&a);
  two_batches(&recs);
  {
    flyq_proto_fetch_resp_part_t p = {
        1, 0, {NULL, -1}, 6, 0, 5, {recs.data, (int32_t)recs.len}};
    flyq_proto_fetch_resp_topic_t t = {flyq_str("t"), &p, 1};
    flyq_proto_fetch_resp_t r = {{0, 0, {NULL, -1}}, &t, 1};
    CHECK_OK(flyq_proto_encode_fetch_resp(&out, &r, NULL, 0));
  }
  peer_send(peer, &out);
  CHECK_OK(flyq_client_fetch(c, "t", 1, 4, 1000, 0, 1, &res));
  CHECK_EQ(res.high_watermark, 6);
  CHECK_EQ(res.flushed_offset, 5);
  CHECK_EQ(res.records_len, recs.len);
  flyq_fetch_iter_init(&it, res.records, res.records_len, 4);
  CHECK_EQ(flyq_fetch_iter_next(&it, &rec), 1);
  CHECK_EQ(rec.offset, 4);
  CHECK_EQ(rec.value_len, 3);
  CHECK_MEM(rec.value, "b-1", 3);
  CHECK_EQ(flyq_fetch_iter_next(&it, &rec), 1);
  CHECK_EQ(rec.offset, 5);
  CHECK_EQ(flyq_fetch_iter_next(&it, &rec), 0);
  CHECK_EQ(it.next_offset, 6);
  peer_request(peer, frame, sizeof(frame), &a, &req);
  CHECK_EQ(req.hdr.api_key, FLYQ_API_FETCH);
  CHECK_EQ(req.body.fetch.topics[0].parts[0].fetch_offset, 4);
  CHECK_EQ(req.body.fetch.topics[0].parts[0].partition, 1);
  CHECK_EQ(req.body.fetch.max_bytes, 1000);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
  flyq_buf_free(&recs);
  flyq_arena_free(&a);
}

TEST(fetch_partition_error_fills_result) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  flyq_fetch_result_t res;
  flyq_proto_fetch_resp_part_t p = {0, FLYQ_WIRE_OFFSET_OUT_OF_RANGE,
                                    flyq_str("below log start 10"), 20, 10, 20,
                                    {NULL, -1}};
  flyq_proto_fetch_resp_topic_t t = {flyq_str("t"), &p, 1};
  flyq_proto_fetch_resp_t r = {{0, 0, {NULL, -1}}, &t, 1};
  flyq_buf_init(&out);
  CHECK_OK(flyq_proto_encode_fetch_resp(&out, &r, NULL, 0));
  peer_send(peer, &out);
  CHECK_EQ(flyq_client_fetch(c, "t", 0, 3, 1000, 0, 1, &res),
           FLYQ_ERR_OFFSET_OUT_OF_RANGE);
  CHECK_EQ(res.error_code, FLYQ_WIRE_OFFSET_OUT_OF_RANGE);
  CHECK_EQ(res.log_start_offset, 10);
  CHECK(strcmp(res.error_message, "below log start 10") == 0);
  CHECK(contains(flyq_client_errmsg(c), "below log start 10"));
  CHECK(res.records == NULL);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(fetch_iter_rejects_damage) {
  flyq_buf_t recs;
  flyq_fetch_iter_t it;
  flyq_record_t rec;
  int r;
  flyq_buf_init(&recs);
  two_batches(&recs);
  recs.data[recs.len - 1] ^= 0x40; /* inside the second batch's CRC area */
  flyq_fetch_iter_init(&it, recs.data, recs.len, 0);
  for (int i = 0; i < 3; i++) CHECK_EQ(flyq_fetch_iter_next(&it, &rec), 1);
  CHECK_EQ(flyq_fetch_iter_next(&it, &rec), FLYQ_ERR_CORRUPT);
  recs.data[recs.len - 1] ^= 0x40;
  flyq_fetch_iter_init(&it, recs.data, recs.len - 5, 0);
  while ((r = flyq_fetch_iter_next(&it, &rec)) == 1) continue;
  CHECK_EQ(r, FLYQ_ERR_TRUNCATED);
  flyq_fetch_iter_init(&it, NULL, 0, 0);
  CHECK_EQ(flyq_fetch_iter_next(&it, &rec), 0);
  flyq_buf_free(&recs);
}

TEST(metadata_result) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  flyq_metadata_t *md;
  flyq_proto_metadata_part_t parts[2] = {{0, 1, 5, 4, 1, 100, 77},
                                         {1, 0, 9, 9, 2, 300, -1}};
  flyq_proto_config_t cfg = {flyq_str("retention.ms"), flyq_str("1000")};
  flyq_proto_metadata_topic_t t = {flyq_str("orders"), 0, parts, 2, &cfg, 1};
  flyq_proto_metadata_resp_t r = {{0, 0, {NULL, -1}}, flyq_str("127.0.0.1"),
                                  7500, &t, 1};
  flyq_buf_init(&out);
  CHECK_OK(flyq_proto_encode_metadata_resp(&out, &r));
  peer_send(peer, &out);
  CHECK_OK(flyq_client_metadata(c, "orders", &md));
  CHECK(strcmp(md->host, "127.0.0.1") == 0);
  CHECK_EQ(md->port, 7500);
  CHECK_EQ(md->ntopics, 1);
  CHECK(strcmp(md->topics[0].name, "orders") == 0);
  CHECK_EQ(md->topics[0].npartitions, 2);
  CHECK_EQ(md->topics[0].partitions[1].high_watermark, 9);
  CHECK_EQ(md->topics[0].partitions[1].size_bytes, 300);
  CHECK_EQ(md->topics[0].partitions[0].last_append_ms, 77);
  CHECK_EQ(md->topics[0].nconfigs, 1);
  CHECK(strcmp(md->topics[0].configs[0].value, "1000") == 0);
  flyq_client_close(c); /* the result outlives the client */
  CHECK(strcmp(md->topics[0].configs[0].key, "retention.ms") == 0);
  flyq_metadata_free(md);
  close(peer);
  flyq_buf_free(&out);
}

TEST(groups_results) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  flyq_string_list_t groups;
  flyq_group_offsets_t *g;
  flyq_str_t names[2] = {flyq_str("g1"), flyq_str("g2")};
  flyq_proto_list_groups_resp_t lg = {{0, 0, {NULL, -1}}, names, 2};
  flyq_proto_offset_fetch_resp_part_t parts[2] = {{0, 12, 0}, {3, -1, 0}};
  flyq_proto_offset_fetch_resp_topic_t t = {flyq_str("orders"), parts, 2};
  flyq_proto_offset_fetch_resp_t of = {{1, 0, {NULL, -1}}, &t, 1};
  flyq_buf_init(&out);
  CHECK_OK(flyq_proto_encode_list_groups_resp(&out, &lg));
  CHECK_OK(flyq_proto_encode_offset_fetch_resp(&out, &of));
  peer_send(peer, &out);
  CHECK_OK(flyq_client_list_groups(c, &groups));
  CHECK_EQ(groups.n, 2);
  CHECK(strcmp(groups.items[1], "g2") == 0);
  flyq_string_list_free(&groups);
  CHECK_EQ(groups.n, 0);
  CHECK_OK(flyq_client_group_offsets(c, "g1", &g));
  CHECK_EQ(g->n, 2);
  CHECK(strcmp(g->items[1].topic, "orders") == 0);
  CHECK_EQ(g->items[0].offset, 12);
  CHECK_EQ(g->items[1].partition, 3);
  CHECK_EQ(g->items[1].offset, -1);
  flyq_group_offsets_free(g);
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(create_topic_error_and_request) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  flyq_arena_t a;
  flyq_proto_request_t req;
  static uint8_t frame[4096];
  flyq_client_config_pair_t cfg[2] = {{"retention.ms", "60000"},
                                      {"segment.bytes", "1048576"}};
  flyq_proto_topic_result_t tr = {flyq_str("orders"),
                                  FLYQ_WIRE_TOPIC_ALREADY_EXISTS,
                                  flyq_str("topic orders exists")};
  flyq_proto_create_topics_resp_t r = {{0, 0, {NULL, -1}}, &tr, 1};
  flyq_buf_init(&out);
  flyq_arena_init(&a);
  CHECK_OK(flyq_proto_encode_create_topics_resp(&out, &r));
  peer_send(peer, &out);
  CHECK_EQ(flyq_client_create_topic(c, "orders", 6, cfg, 2),
           FLYQ_ERR_TOPIC_EXISTS);
  CHECK(contains(flyq_client_errmsg(c), "topic orders exists"));
  peer_request(peer, frame, sizeof(frame), &a, &req);
  CHECK_EQ(req.hdr.api_key, FLYQ_API_CREATE_TOPICS);
  CHECK_EQ(req.body.create_topics.topics[0].partitions, 6);
  CHECK_EQ(req.body.create_topics.topics[0].nconfigs, 2);
  CHECK(flyq_str_eq(req.body.create_topics.topics[0].configs[1].value,
                    "1048576"));
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
  flyq_arena_free(&a);
}

TEST(authenticate) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  flyq_buf_t out;
  const char *principal = NULL;
  flyq_proto_authenticate_resp_t ok = {{0, 0, {NULL, -1}}, flyq_str("alice")};
  flyq_buf_init(&out);
  CHECK_OK(flyq_proto_encode_authenticate_resp(&out, &ok));
  CHECK_OK(flyq_proto_encode_error_response(
      &out, 1, FLYQ_WIRE_AUTHENTICATION_FAILED, "bad token"));
  peer_send(peer, &out);
  CHECK_OK(flyq_client_authenticate(c, "token", "secret", 6, &principal));
  CHECK(principal != NULL && strcmp(principal, "alice") == 0);
  CHECK_EQ(flyq_client_authenticate(c, "token", "nope", 4, &principal),
           FLYQ_ERR_AUTH);
  CHECK(contains(flyq_client_errmsg(c), "bad token"));
  flyq_client_close(c);
  close(peer);
  flyq_buf_free(&out);
}

TEST(raw_frames) {
  int peer;
  flyq_client_t *c = pair_client(&peer, NULL);
  static const uint8_t junk[] = {0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  uint8_t got[sizeof(junk)];
  const uint8_t *payload;
  size_t len;
  flyq_buf_t out;
  flyq_buf_init(&out);
  CHECK_OK(flyq_client_send_raw(c, junk, sizeof(junk)));
  read_full(peer, got, sizeof(got));
  CHECK_MEM(got, junk, sizeof(junk));
  CHECK_EQ(flyq_client_recv_frame(c, 50, &payload, &len), FLYQ_ERR_TIMEOUT);
  CHECK_OK(flyq_proto_encode_error_response(&out, 77, 42, "nope"));
  peer_send(peer, &out);
  CHECK_OK(flyq_client_recv_frame(c, 5000, &payload, &len));
  CHECK_EQ(len, 4 + 2 + 2 + 4);
  CHECK_EQ(flyq__be32_get(payload), 77);
  close(peer);
  CHECK_EQ(flyq_client_recv_frame(c, 5000, &payload, &len), FLYQ_ERR_CLOSED);
  flyq_client_close(c);
  flyq_buf_free(&out);
}

/* ---- fake broker ------------------------------------------------------ */

/* One partition kept in memory: batches back to back with offsets set. */
typedef struct fake {
  int lfd;
  int port;
  int omit_fetch; /* advertise no Fetch API */
  pthread_t th;
  flyq_buf_t log;
  int64_t next_offset;
  int64_t produce_requests;
} fake_t;

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static int read_all(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = read(fd, p, n);
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

static void fake_versions(fake_t *f, flyq_buf_t *b, int32_t id) {
  flyq_proto_api_version_t apis[FLYQ_PROTO_API_COUNT];
  int32_t n = 0;
  for (int i = 0; i < FLYQ_PROTO_API_COUNT; i++)
    if (!(f->omit_fetch && flyq_proto_api_versions[i].api_key == 1))
      apis[n++] = flyq_proto_api_versions[i];
  flyq_proto_api_versions_resp_t r = {{id, 0, {NULL, -1}}, apis, n,
                                      flyq_str("fake-1")};
  flyq_proto_encode_api_versions_resp(b, &r);
}

/* Appends the batches of a produce to the log; returns its offsets. */
static void fake_produce(fake_t *f, flyq_buf_t *b,
                         const flyq_proto_request_t *q) {
  const flyq_proto_produce_req_part_t *p = &q->body.produce.topics[0].parts[0];
  const uint8_t *in = p->records.ptr;
  size_t left = (size_t)p->records.len;
  int64_t base = f->next_offset;
  f->produce_requests++;
  while (left > 0) {
    flyq_batch_header_t h;
    int64_t size = flyq_batch_size(in, left);
    if (size < 0 || flyq_batch_validate(in, (size_t)size, &h) < 0) break;
    flyq_buf_put_raw(&f->log, in, (size_t)size);
    flyq_batch_set_base_offset(f->log.data + f->log.len - size, f->next_offset);
    f->next_offset += h.record_count;
    in += size;
    left -= (size_t)size;
  }
  if (q->body.produce.acks != 0)
    put_produce_resp(b, q->hdr.correlation_id, "t", p->partition, 0, NULL,
                     base, f->next_offset - 1);
}

/* Answers with the batches from the one holding the offset on, up to
 * max_bytes (at least one). */
static void fake_fetch(fake_t *f, flyq_buf_t *b,
                       const flyq_proto_request_t *q) {
  const flyq_proto_fetch_req_part_t *rp = &q->body.fetch.topics[0].parts[0];
  size_t pos = 0, end;
  while (pos < f->log.len) {
    flyq_batch_header_t h;
    flyq_batch_parse_header(f->log.data + pos, f->log.len - pos, &h);
    if (h.base_offset + h.last_offset_delta >= rp->fetch_offset) break;
    pos += (size_t)h.batch_length + 12;
  }
  end = pos;
  while (end < f->log.len) {
    int64_t size = flyq_batch_size(f->log.data + end, f->log.len - end);
    if (end > pos && end + (size_t)size - pos > (size_t)rp->partition_max_bytes)
      break;
    end += (size_t)size;
  }
  flyq_proto_fetch_resp_part_t p = {rp->partition, 0, {NULL, -1},
                                    f->next_offset, 0, f->next_offset,
                                    {f->log.data + pos, (int32_t)(end - pos)}};
  flyq_proto_fetch_resp_topic_t t = {flyq_str("t"), &p, 1};
  flyq_proto_fetch_resp_t r = {{q->hdr.correlation_id, 0, {NULL, -1}}, &t, 1};
  if (q->hdr.api_version >= 1)
    flyq_proto_encode_fetch_resp_v1(b, &r, NULL, NULL, 0);
  else
    flyq_proto_encode_fetch_resp(b, &r, NULL, 0);
}

static void fake_answer(fake_t *f, flyq_buf_t *b,
                        const flyq_proto_request_t *q) {
  const flyq_proto_list_offsets_req_part_t *lp;
  switch (q->hdr.api_key) {
  case FLYQ_API_API_VERSIONS:
    fake_versions(f, b, q->hdr.correlation_id);
    break;
  case FLYQ_API_PRODUCE:
    fake_produce(f, b, q);
    break;
  case FLYQ_API_FETCH:
    fake_fetch(f, b, q);
    break;
  case FLYQ_API_LIST_OFFSETS:
    lp = &q->body.list_offsets.topics[0].parts[0];
    put_list_offsets_resp(b, q->hdr.correlation_id, "t", lp->partition,
                          lp->timestamp == -2 ? 0 : f->next_offset);
    break;
  default:
    flyq_proto_encode_error_response(b, q->hdr.correlation_id, 35, "no");
  }
}

static void *fake_main(void *arg) {
  fake_t *f = arg;
  int fd = accept(f->lfd, NULL, NULL);
  uint8_t hdr[4], *frame = malloc(FLYQ_PROTO_FRAME_MAX_DEFAULT);
  flyq_buf_t b;
  flyq_arena_t a;
  flyq_buf_init(&b);
  flyq_arena_init(&a);
  while (fd >= 0 && read_all(fd, hdr, 4) == 0) {
    uint32_t size = flyq__be32_get(hdr);
    flyq_proto_request_t q;
    if (size > FLYQ_PROTO_FRAME_MAX_DEFAULT || read_all(fd, frame, size) < 0 ||
        flyq_proto_decode_any_request(frame, size, &a, &q) < 0)
      break;
    fake_answer(f, &b, &q);
    if (write_all(fd, b.data, b.len) < 0) break;
    flyq_buf_reset(&b);
    flyq_arena_reset(&a);
  }
  if (fd >= 0) close(fd);
  free(frame);
  flyq_buf_free(&b);
  flyq_arena_free(&a);
  return NULL;
}

static void fake_start(fake_t *f) {
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t sl = sizeof(sa);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  f->lfd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(f->lfd >= 0);
  CHECK_OK(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)));
  CHECK_OK(listen(f->lfd, 4));
  CHECK_OK(getsockname(f->lfd, (struct sockaddr *)&sa, &sl));
  f->port = ntohs(sa.sin_port);
  flyq_buf_init(&f->log);
  CHECK_OK(pthread_create(&f->th, NULL, fake_main, f));
}

/* Call after the client closed its connection. */
static void fake_stop(fake_t *f) {
  pthread_join(f->th, NULL);
  close(f->lfd);
  flyq_buf_free(&f->log);
}

static flyq_client_t *fake_client(fake_t *f, size_t batch_bytes) {
  flyq_client_options_t o;
  flyq_client_t *c;
  char addr[64];
  flyq_client_options_init(&o);
  o.send_batch_bytes = batch_bytes;
  o.max_inflight = 8;
  CHECK_OK(flyq_client_new(&o, &c));
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
  if (flyq_client_connect(c, addr, 5000) != 0)
    flyq_test_fail(__FILE__, __LINE__, "connect: %s", flyq_client_errmsg(c));
  return c;
}

typedef struct consumed {
  int64_t n;
  int bad;
} consumed_t;

static int on_record(flyq_client_t *c, const flyq_record_t *rec, void *arg) {
  consumed_t *s = arg;
  char want[32];
  int len = snprintf(want, sizeof(want), "value-%lld", (long long)rec->offset);
  (void)c;
  if (rec->value_len != len || memcmp(rec->value, want, (size_t)len) != 0)
    s->bad++;
  s->n++;
  return 0;
}

TEST(send_then_consume_through_fake_broker) {
  fake_t f = {0};
  flyq_client_t *c;
  consumed_t got = {0};
  flyq_consume_options_t co;
  int64_t next = -1;
  char v[32];
  fake_start(&f);
  c = fake_client(&f, 16 * 1024);
  CHECK(strcmp(flyq_client_broker_version(c), "fake-1") == 0);
  for (int i = 0; i < 20000; i++) {
    int len = snprintf(v, sizeof(v), "value-%d", i);
    CHECK_OK(flyq_client_send(c, "t", 0, NULL, 0, v, len, NULL, 0));
  }
  CHECK_OK(flyq_client_send_flush(c, 10000));
  CHECK_EQ(f.next_offset, 20000);
  CHECK(f.produce_requests > 8); /* batched, and more than max_inflight */
  flyq_consume_options_init(&co);
  co.stop_at_end = 1;
  co.max_bytes = 64 * 1024;
  CHECK_OK(flyq_client_consume(c, "t", 0, FLYQ_OFFSET_EARLIEST, &co,
                               on_record, &got, &next));
  CHECK_EQ(got.n, 20000);
  CHECK_EQ(got.bad, 0);
  CHECK_EQ(next, 20000);
  got.n = 0;
  co.max_records = 10;
  CHECK_OK(flyq_client_consume(c, "t", 0, 19995, &co, on_record, &got, &next));
  CHECK_EQ(got.n, 5);
  CHECK_EQ(next, 20000);
  flyq_client_close(c);
  fake_stop(&f);
}

typedef struct reports {
  int batches;
  int64_t records;
  int64_t next_base;
  int bad;
} reports_t;

static void on_report(flyq_client_t *c, const flyq_produce_result_t *res,
                      void *arg) {
  reports_t *r = arg;
  (void)c;
  if (res->err != 0 || res->base_offset != r->next_base ||
      res->last_offset != res->base_offset + res->records - 1)
    r->bad++;
  r->batches++;
  r->records += res->records;
  r->next_base = res->last_offset + 1;
}

TEST(send_reports_each_batch) {
  fake_t f = {0};
  flyq_client_options_t o;
  flyq_client_t *c;
  reports_t rep = {0};
  char addr[64];
  fake_start(&f);
  flyq_client_options_init(&o);
  o.send_batch_bytes = 4096;
  o.send_cb = on_report;
  o.send_cb_arg = &rep;
  CHECK_OK(flyq_client_new(&o, &c));
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
  CHECK_OK(flyq_client_connect(c, addr, 5000));
  for (int i = 0; i < 1000; i++)
    CHECK_OK(flyq_client_send(c, "t", 0, "k", 1, "0123456789", 10, NULL, 0));
  CHECK_OK(flyq_client_send_flush(c, 10000));
  CHECK(rep.batches > 1);
  CHECK_EQ(rep.batches, f.produce_requests);
  CHECK_EQ(rep.records, 1000);
  CHECK_EQ(rep.bad, 0);
  flyq_client_close(c);
  fake_stop(&f);
}

TEST(connect_rejects_broker_without_fetch) {
  fake_t f = {.omit_fetch = 1};
  flyq_client_t *c;
  char addr[64];
  fake_start(&f);
  CHECK_OK(flyq_client_new(NULL, &c));
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", f.port);
  CHECK_EQ(flyq_client_connect(c, addr, 5000), FLYQ_ERR_UNSUPPORTED);
  CHECK(contains(flyq_client_errmsg(c), "Fetch"));
  CHECK_EQ(flyq_client_connected(c), 0);
  flyq_client_close(c);
  fake_stop(&f);
}

TEST(connect_errors) {
  flyq_client_t *c;
  struct sockaddr_in sa = {.sin_family = AF_INET};
  socklen_t sl = sizeof(sa);
  char addr[64];
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CHECK_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
  CHECK_OK(getsockname(fd, (struct sockaddr *)&sa, &sl));
  close(fd); /* nothing listens there now */
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(sa.sin_port));
  CHECK_OK(flyq_client_new(NULL, &c));
  CHECK_EQ(flyq_client_connect(c, "no-port", 1000), FLYQ_ERR_INVALID_ARG);
  CHECK(contains(flyq_client_errmsg(c), "host:port"));
  CHECK_EQ(flyq_client_connect(c, "127.0.0.1:x1", 1000), FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(flyq_client_connect(c, addr, 1000), -ECONNREFUSED);
  CHECK(contains(flyq_client_errmsg(c), "cannot connect"));
  CHECK_EQ(flyq_client_fetch(c, "t", 0, 0, 1, 0, 1,
                             &(flyq_fetch_result_t){0}), FLYQ_ERR_CLOSED);
  flyq_client_close(c);
}

TEST(options_are_checked) {
  flyq_client_options_t o;
  flyq_client_t *c = (void *)1;
  flyq_client_options_init(&o);
  o.max_inflight = 0;
  CHECK_EQ(flyq_client_new(&o, &c), FLYQ_ERR_INVALID_ARG);
  CHECK(c == NULL);
  flyq_client_options_init(&o);
  o.send_acks = 2;
  CHECK_EQ(flyq_client_new(&o, &c), FLYQ_ERR_INVALID_ARG);
}

TEST_LIST(TEST_ENTRY(produce_request_matches_decoder)
          TEST_ENTRY(produce_partition_error_carries_message)
          TEST_ENTRY(top_level_error_keeps_connection)
          TEST_ENTRY(correlation_mismatch_loses_connection)
          TEST_ENTRY(unsolicited_response_loses_connection)
          TEST_ENTRY(answer_for_other_partition_is_rejected)
          TEST_ENTRY(connection_level_error_frame)
          TEST_ENTRY(bad_frame_sizes)
          TEST_ENTRY(truncated_response_body)
          TEST_ENTRY(request_timeout_closes_connection)
          TEST_ENTRY(peer_close_is_reported)
          TEST_ENTRY(async_callbacks_fire_in_order)
          TEST_ENTRY(lost_connection_fails_every_callback_once)
          TEST_ENTRY(close_fails_pending_callbacks)
          TEST_ENTRY(inflight_is_bounded)
          TEST_ENTRY(callback_cannot_block)
          TEST_ENTRY(produce_acks0_returns_once_written)
          TEST_ENTRY(fetch_skips_records_below_offset)
          TEST_ENTRY(fetch_partition_error_fills_result)
          TEST_ENTRY(fetch_iter_rejects_damage)
          TEST_ENTRY(metadata_result)
          TEST_ENTRY(groups_results)
          TEST_ENTRY(create_topic_error_and_request)
          TEST_ENTRY(authenticate)
          TEST_ENTRY(raw_frames)
          TEST_ENTRY(send_then_consume_through_fake_broker)
          TEST_ENTRY(send_reports_each_batch)
          TEST_ENTRY(connect_rejects_broker_without_fetch)
          TEST_ENTRY(connect_errors)
          TEST_ENTRY(options_are_checked));
