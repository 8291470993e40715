/* The native protocol server (src/server) with a real store and broker on
 * a loop thread, driven over TCP by blocking sockets that speak the wire
 * protocol through the proto codec: produce and fetch round trips, acks,
 * pipelining and response order, long-poll fetches, the topic and group
 * APIs, the connection-level errors of docs/protocol.md, hostile input,
 * and the graceful close.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "flyq/batch.h"
#include "flyq/broker.h"
#include "flyq/logmsg.h"
#include "flyq/proto.h"
#include "nettest.h"
#include "server/server.h"

#define WAIT_MS 10000

static struct {
  nt_loop_t l;
  flyq_config_t cfg;
  flyq_broker_t *b;
  flyq_server_t *srv;
  int port;
  size_t conns; /* filled by count_conns */
} S;

static flyq_buf_t out; /* requests to send */
static int32_t corr = 1;

/* ---- The server (loop thread) ----------------------------------------- */

static void config_default(void) {
  memset(&S, 0, sizeof S);
  flyq_config_t *c = &S.cfg;
  flyq_log_config_default(&c->log);
  c->listen = "127.0.0.1:0";
  c->auto_create_topics = 1;
  c->default_partitions = 1;
  c->groups_flush_interval_ms = 1000;
  c->retention_check_interval_ms = 60000;
  c->max_frame_bytes = 1u << 20;
  c->max_connections = 64;
  c->max_inflight = 256;
  c->max_output_bytes = 64u << 20;
  c->request_timeout_ms = 30000;
  c->max_topics = 1000;
  c->shutdown_timeout_ms = 2000;
}

static void start_on_loop(void *arg) {
  int *rc = arg;
  char err[256], host[64];
  flyq_store_t *store;
  *rc =
      flyq_store_open(flyq_test_tmpdir(), &S.cfg.log, &store, err, sizeof err);
  if (*rc == 0) *rc = flyq_broker_new(&S.l.loop, &S.cfg, store, &S.b);
  if (*rc == 0) *rc = flyq_server_start(&S.l.loop, S.b, &S.cfg, &S.srv);
  if (*rc == 0) *rc = flyq_server_address(S.srv, host, sizeof host, &S.port);
}

static void start(void) {
  int rc;
  signal(SIGPIPE, SIG_IGN); /* as flyq serve does: see net.h */
  flyq_buf_init(&out);
  nt_loop_start(&S.l);
  nt_loop_call(&S.l, start_on_loop, &rc);
  CHECK_OK(rc);
  CHECK(S.port > 0);
}

static void stop_on_loop(void *arg) {
  (void)arg;
  flyq_server_close(S.srv, S.cfg.shutdown_timeout_ms, NULL, NULL);
  CHECK_OK(flyq_broker_close(S.b, NULL, NULL));
}

static void stop(void) {
  nt_loop_stop(&S.l, stop_on_loop, NULL);
  flyq_buf_free(&out);
}

static void count_conns(void *arg) {
  (void)arg;
  S.conns = flyq_server_connections(S.srv);
}

static size_t connections(void) {
  nt_loop_call(&S.l, count_conns, NULL);
  return S.conns;
}

/* ---- Requests and responses (test thread) ----------------------------- */

static flyq_proto_req_header_t hdr(int16_t api) {
  return (flyq_proto_req_header_t){api, 0, corr++, flyq_str("test")};
}

static void flush_out(int fd) {
  nt_send(fd, out.data, out.len);
  flyq_buf_reset(&out);
}

typedef struct resp {
  uint8_t *p;
  size_t len;
  int32_t corr;
  flyq_arena_t a;
} resp_t;

static void resp_read(int fd, resp_t *r) {
  r->p = nt_read_frame(fd, &r->len, WAIT_MS);
  CHECK(r->p != NULL);
  CHECK_OK(flyq_proto_peek_correlation_id(r->p, r->len, &r->corr));
  flyq_arena_init(&r->a);
}

static void resp_free(resp_t *r) {
  free(r->p);
  flyq_arena_free(&r->a);
}

/* Reads an error-only response and checks its id and code. */
static void expect_error(int fd, int32_t id, int16_t code) {
  resp_t r;
  resp_read(fd, &r);
  flyq_reader_t rd;
  flyq_proto_resp_header_t h;
  flyq_reader_init(&rd, r.p, r.len);
  CHECK_OK(flyq_proto_decode_resp_header(&rd, &h));
  CHECK_EQ(h.correlation_id, id);
  CHECK_EQ(h.error_code, code);
  CHECK(h.error_message.len > 0);
  CHECK_EQ(flyq_reader_remaining(&rd), 0);
  resp_free(&r);
}

static int32_t put_api_versions(void) {
  flyq_proto_req_header_t h = hdr(FLYQ_API_API_VERSIONS);
  CHECK_OK(flyq_proto_encode_api_versions_req(&out, &h));
  return h.correlation_id;
}

static int32_t api_versions(int fd) {
  int32_t id = put_api_versions();
  flush_out(fd);
  return id;
}

static void expect_api_versions(int fd, int32_t id) {
  resp_t r;
  flyq_proto_api_versions_resp_t v;
  resp_read(fd, &r);
  CHECK_EQ(r.corr, id);
  CHECK_OK(flyq_proto_decode_api_versions_resp(r.p, r.len, &r.a, &v));
  CHECK_EQ(v.hdr.error_code, 0);
  CHECK_EQ(v.napis, FLYQ_PROTO_API_COUNT);
  CHECK(flyq_str_eq(v.broker_version, FLYQ_VERSION));
  resp_free(&r);
}

static void ping(int fd) { expect_api_versions(fd, api_versions(fd)); }

/* A batch of n records "v<first + i>" (key "k<i>"), malloc'd. */
static uint8_t *make_batch(int first, int n, size_t *len) {
  flyq_batch_builder_t b;
  flyq_batch_builder_init(&b);
  for (int i = 0; i < n; i++) {
    char k[16], v[32];
    int kl = snprintf(k, sizeof k, "k%d", i);
    int vl = snprintf(v, sizeof v, "v%d", first + i);
    CHECK_OK(flyq_batch_builder_add(&b, 1000 + i, k, kl, v, vl, NULL, 0));
  }
  const uint8_t *p;
  CHECK_OK(flyq_batch_builder_finish(&b, &p, len));
  uint8_t *copy = malloc(*len);
  CHECK(copy != NULL);
  memcpy(copy, p, *len);
  flyq_batch_builder_free(&b);
  return copy;
}

/* Encodes a produce of the given records to topic/partition into out. */
static int32_t put_produce(const char *topic, int32_t partition, int acks,
                           const uint8_t *rec, size_t len) {
  flyq_proto_req_header_t h = hdr(FLYQ_API_PRODUCE);
  flyq_proto_produce_req_part_t part = {partition, {rec, (int32_t)len}};
  flyq_proto_produce_req_topic_t t = {flyq_str(topic), &part, 1};
  flyq_proto_produce_req_t req = {(int8_t)acks, 5000, &t, 1};
  CHECK_OK(flyq_proto_encode_produce_req(&out, &h, &req));
  return h.correlation_id;
}

/* Reads a one-partition produce response; returns the base offset. */
static int64_t expect_produced(int fd, int32_t id, int16_t code,
                               int64_t *last) {
  resp_t r;
  flyq_proto_produce_resp_t p;
  resp_read(fd, &r);
  CHECK_EQ(r.corr, id);
  CHECK_OK(flyq_proto_decode_produce_resp(r.p, r.len, &r.a, &p));
  CHECK_EQ(p.hdr.error_code, 0);
  CHECK_EQ(p.ntopics, 1);
  CHECK_EQ(p.topics[0].nparts, 1);
  const flyq_proto_produce_resp_part_t *part = &p.topics[0].parts[0];
  CHECK_EQ(part->error_code, code);
  int64_t base = part->base_offset;
  if (last) *last = part->last_offset;
  resp_free(&r);
  return base;
}

/* Produces n records with acks=1 and checks the offsets they got. */
static void produce_n(int fd, const char *topic, int first, int n) {
  size_t len;
  uint8_t *b = make_batch(first, n, &len);
  int32_t id = put_produce(topic, 0, 1, b, len);
  flush_out(fd);
  free(b);
  int64_t last;
  CHECK_EQ(expect_produced(fd, id, 0, &last), first);
  CHECK_EQ(last, first + n - 1);
}

static int32_t put_fetch(const char *topic, int64_t offset, int32_t max_wait,
                         int32_t min_bytes) {
  flyq_proto_req_header_t h = hdr(FLYQ_API_FETCH);
  flyq_proto_fetch_req_part_t part = {0, offset, 1 << 20};
  flyq_proto_fetch_req_topic_t t = {flyq_str(topic), &part, 1};
  flyq_proto_fetch_req_t req = {max_wait, min_bytes, 1 << 20, &t, 1};
  CHECK_OK(flyq_proto_encode_fetch_req(&out, &h, &req));
  return h.correlation_id;
}

/* Reads a one-partition fetch response and checks that its records are
 * "v<offset>" from (at most) offset from up to the high watermark, which
 * is returned. */
static int64_t expect_fetched(int fd, int32_t id, int64_t from,
                              int64_t *count) {
  resp_t r;
  flyq_proto_fetch_resp_t f;
  resp_read(fd, &r);
  CHECK_EQ(r.corr, id);
  CHECK_OK(flyq_proto_decode_fetch_resp(r.p, r.len, &r.a, &f));
  CHECK_EQ(f.hdr.error_code, 0);
  CHECK_EQ(f.ntopics, 1);
  CHECK_EQ(f.topics[0].nparts, 1);
  const flyq_proto_fetch_resp_part_t *p = &f.topics[0].parts[0];
  CHECK_EQ(p->error_code, 0);
  int64_t n = 0, next = -1;
  for (size_t pos = 0; p->records.len > 0 && pos < (size_t)p->records.len;) {
    const uint8_t *batch = p->records.ptr + pos;
    int64_t size = flyq_batch_size(batch, (size_t)p->records.len - pos);
    CHECK(size > 0);
    CHECK_OK(flyq_batch_validate(batch, (size_t)size, NULL));
    flyq_record_iter_t it;
    flyq_record_t rec;
    CHECK_OK(flyq_record_iter_init(&it, batch, (size_t)size));
    while (flyq_record_iter_next(&it, &rec) == 1) {
      char v[32];
      int vl = snprintf(v, sizeof v, "v%lld", (long long)rec.offset);
      CHECK(next < 0 ? rec.offset <= from : rec.offset == next);
      CHECK_EQ(rec.value_len, vl);
      CHECK_MEM(rec.value, v, (size_t)vl);
      next = rec.offset + 1;
      n += rec.offset >= from;
    }
    pos += (size_t)size;
  }
  int64_t hw = p->high_watermark;
  if (n > 0) CHECK_EQ(next, hw);
  if (count) *count = n;
  resp_free(&r);
  return hw;
}

static int32_t put_list_offsets(const char *topic) {
  flyq_proto_req_header_t h = hdr(FLYQ_API_LIST_OFFSETS);
  flyq_proto_list_offsets_req_part_t part = {0, FLYQ_PROTO_TIMESTAMP_LATEST};
  flyq_proto_list_offsets_req_topic_t t = {flyq_str(topic), &part, 1};
  flyq_proto_list_offsets_req_t req = {&t, 1};
  CHECK_OK(flyq_proto_encode_list_offsets_req(&out, &h, &req));
  return h.correlation_id;
}

static int64_t latest_offset(int fd, const char *topic, int16_t *code) {
  int32_t id = put_list_offsets(topic);
  flush_out(fd);
  resp_t r;
  flyq_proto_list_offsets_resp_t lo;
  resp_read(fd, &r);
  CHECK_EQ(r.corr, id);
  CHECK_OK(flyq_proto_decode_list_offsets_resp(r.p, r.len, &r.a, &lo));
  CHECK_EQ(lo.ntopics, 1);
  CHECK_EQ(lo.topics[0].nparts, 1);
  *code = lo.topics[0].parts[0].error_code;
  int64_t off = lo.topics[0].parts[0].offset;
  resp_free(&r);
  return off;
}

/* Sends a raw frame: the size prefix, then payload. */
static void send_raw(int fd, const void *payload, size_t len) {
  uint8_t hdr4[4];
  nt_put_be32(hdr4, (uint32_t)len);
  nt_send(fd, hdr4, 4);
  nt_send(fd, payload, len);
}

/* ---- Round trips ------------------------------------------------------ */

TEST(produce_then_fetch) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  produce_n(fd, "t", 0, 100);
  produce_n(fd, "t", 100, 50);
  int64_t n;
  put_fetch("t", 0, 0, 0);
  flush_out(fd);
  CHECK_EQ(expect_fetched(fd, corr - 1, 0, &n), 150);
  CHECK_EQ(n, 150);
  put_fetch("t", 120, 0, 0);
  flush_out(fd);
  CHECK_EQ(expect_fetched(fd, corr - 1, 120, &n), 150);
  CHECK_EQ(n, 30);
  put_fetch("t", 150, 0, 0); /* at the end: empty */
  flush_out(fd);
  CHECK_EQ(expect_fetched(fd, corr - 1, 150, &n), 150);
  CHECK_EQ(n, 0);
  close(fd);
  stop();
}

/* acks=0 gets no response but is stored; acks=-1 answers once flushed. */
TEST(acks_variants) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  size_t len;
  uint8_t *b = make_batch(0, 10, &len);
  put_produce("a", 0, 0, b, len);
  free(b);
  int32_t v = api_versions(fd);
  flush_out(fd);
  expect_api_versions(fd, v); /* the produce was not answered */
  int16_t code;
  CHECK_EQ(latest_offset(fd, "a", &code), 10);
  CHECK_EQ(code, 0);
  b = make_batch(10, 5, &len);
  int32_t id = put_produce("a", 0, -1, b, len);
  free(b);
  flush_out(fd);
  CHECK_EQ(expect_produced(fd, id, 0, NULL), 10);
  resp_t r;
  flyq_proto_fetch_resp_t f;
  put_fetch("a", 0, 0, 0);
  flush_out(fd);
  resp_read(fd, &r);
  CHECK_OK(flyq_proto_decode_fetch_resp(r.p, r.len, &r.a, &f));
  CHECK(f.topics[0].parts[0].flushed_offset >= 15);
  resp_free(&r);
  b = make_batch(0, 1, &len);
  id = put_produce("a", 0, 7, b, len); /* bad acks: refused, not stored */
  free(b);
  flush_out(fd);
  expect_error(fd, id, FLYQ_WIRE_INVALID_REQUEST);
  CHECK_EQ(latest_offset(fd, "a", &code), 15);
  close(fd);
  stop();
}

/* Many requests sent at once are answered in order. */
TEST(pipelined_in_order) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  int32_t first = corr;
  size_t len;
  uint8_t *b = make_batch(0, 3, &len);
  for (int i = 0; i < 30; i++) {
    switch (i % 3) {
    case 0: put_api_versions(); break;
    case 1: put_produce("p", 0, 1, b, len); break;
    default: put_fetch("p", 0, 0, 0); break;
    }
  }
  free(b);
  flush_out(fd);
  for (int i = 0; i < 30; i++) {
    resp_t r;
    resp_read(fd, &r);
    CHECK_EQ(r.corr, first + i);
    resp_free(&r);
  }
  close(fd);
  stop();
}

/* A parked fetch holds back only its own connection's later responses. */
TEST(parked_fetch_blocks_only_its_connection) {
  config_default();
  start();
  int a = nt_connect(S.port), b = nt_connect(S.port);
  produce_n(b, "w", 0, 1);
  int32_t f = put_fetch("w", 1, WAIT_MS, 1);
  int32_t v = api_versions(a); /* flushes both */
  ping(b);
  CHECK(nt_quiet(a, 100));
  produce_n(b, "w", 1, 2);
  int64_t n;
  CHECK_EQ(expect_fetched(a, f, 1, &n), 3);
  CHECK_EQ(n, 2);
  expect_api_versions(a, v);
  close(a);
  close(b);
  stop();
}

TEST(parked_fetch_times_out) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  produce_n(fd, "e", 0, 1);
  int64_t t0 = nt_now_ms();
  put_fetch("e", 1, 150, 1);
  flush_out(fd);
  int64_t n;
  CHECK_EQ(expect_fetched(fd, corr - 1, 1, &n), 1);
  CHECK_EQ(n, 0);
  CHECK(nt_now_ms() - t0 >= 140);
  close(fd);
  stop();
}

/* Closing a connection cancels its parked fetch; the server goes on. */
TEST(close_with_parked_fetch) {
  config_default();
  start();
  int a = nt_connect(S.port), b = nt_connect(S.port);
  produce_n(b, "c", 0, 1);
  put_fetch("c", 1, WAIT_MS, 1);
  put_fetch("c", 1, WAIT_MS, 1);
  flush_out(a);
  CHECK(nt_quiet(a, 50));
  close(a);
  NT_WAIT(connections() == 1, WAIT_MS);
  produce_n(b, "c", 1, 1);
  ping(b);
  close(b);
  stop();
}

/* At shutdown a parked fetch is answered, then the connection closes. */
TEST(close_answers_parked_fetch) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  produce_n(fd, "s", 0, 1);
  put_fetch("s", 1, WAIT_MS, 1);
  flush_out(fd);
  CHECK(nt_quiet(fd, 50));
  int64_t t0 = nt_now_ms();
  stop();
  CHECK(nt_now_ms() - t0 < 5000);
  int64_t n;
  CHECK_EQ(expect_fetched(fd, corr - 1, 1, &n), 1);
  CHECK(nt_wait_eof(fd, WAIT_MS));
  close(fd);
}

/* ---- Topic and group APIs --------------------------------------------- */

static void create_topic(int fd, const char *name, int32_t parts,
                         const char *key, const char *value, int16_t code) {
  flyq_proto_req_header_t h = hdr(FLYQ_API_CREATE_TOPICS);
  flyq_proto_config_t c = {flyq_str(key), flyq_str(value)};
  flyq_proto_create_topic_t t = {flyq_str(name), parts, &c, key ? 1 : 0};
  flyq_proto_create_topics_req_t req = {&t, 1};
  CHECK_OK(flyq_proto_encode_create_topics_req(&out, &h, &req));
  flush_out(fd);
  resp_t r;
  flyq_proto_create_topics_resp_t cr;
  resp_read(fd, &r);
  CHECK_EQ(r.corr, h.correlation_id);
  CHECK_OK(flyq_proto_decode_create_topics_resp(r.p, r.len, &r.a, &cr));
  CHECK_EQ(cr.ntopics, 1);
  CHECK(flyq_str_eq(cr.topics[0].name, name));
  CHECK_EQ(cr.topics[0].error_code, code);
  CHECK_EQ(cr.topics[0].error_message.len > 0, code != 0);
  resp_free(&r);
}

TEST(topic_apis) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  create_topic(fd, "orders", 3, "retention.ms", "60000", 0);
  create_topic(fd, "orders", 3, NULL, NULL, FLYQ_WIRE_TOPIC_ALREADY_EXISTS);
  create_topic(fd, "bad name", 1, NULL, NULL, FLYQ_WIRE_INVALID_TOPIC);
  create_topic(fd, "zero", 0, NULL, NULL, FLYQ_WIRE_INVALID_PARTITIONS);
  create_topic(fd, "conf", 1, "retention.bogus", "1",
               FLYQ_WIRE_INVALID_REQUEST);
  flyq_str_t names[3] = {flyq_str("orders"), flyq_str("missing"),
                         flyq_str("bad/name")};
  flyq_proto_req_header_t h = hdr(FLYQ_API_METADATA);
  flyq_proto_metadata_req_t mreq = {names, 3};
  CHECK_OK(flyq_proto_encode_metadata_req(&out, &h, &mreq));
  flush_out(fd);
  resp_t r;
  flyq_proto_metadata_resp_t md;
  resp_read(fd, &r);
  CHECK_OK(flyq_proto_decode_metadata_resp(r.p, r.len, &r.a, &md));
  CHECK_EQ(md.port, S.port);
  CHECK(flyq_str_eq(md.host, "127.0.0.1"));
  CHECK_EQ(md.ntopics, 3);
  CHECK_EQ(md.topics[0].error_code, 0);
  CHECK_EQ(md.topics[0].nparts, 3);
  CHECK_EQ(md.topics[0].parts[2].partition, 2);
  int found = 0;
  for (int32_t i = 0; i < md.topics[0].nconfigs; i++)
    found += flyq_str_eq(md.topics[0].configs[i].key, "retention.ms") &&
             flyq_str_eq(md.topics[0].configs[i].value, "60000");
  CHECK_EQ(found, 1);
  CHECK_EQ(md.topics[1].error_code, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  CHECK_EQ(md.topics[2].error_code, FLYQ_WIRE_INVALID_TOPIC);
  resp_free(&r);
  flyq_proto_delete_topics_req_t dreq = {names, 2};
  h = hdr(FLYQ_API_DELETE_TOPICS);
  CHECK_OK(flyq_proto_encode_delete_topics_req(&out, &h, &dreq));
  flush_out(fd);
  flyq_proto_delete_topics_resp_t dr;
  resp_read(fd, &r);
  CHECK_OK(flyq_proto_decode_delete_topics_resp(r.p, r.len, &r.a, &dr));
  CHECK_EQ(dr.ntopics, 2);
  CHECK_EQ(dr.topics[0].error_code, 0);
  CHECK_EQ(dr.topics[1].error_code, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  resp_free(&r);
  int16_t code;
  CHECK_EQ(latest_offset(fd, "orders", &code), -1);
  CHECK_EQ(code, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  close(fd);
  stop();
}

static void commit(int fd, const char *group, int32_t partition, int64_t offset,
                   int16_t code) {
  flyq_proto_req_header_t h = hdr(FLYQ_API_OFFSET_COMMIT);
  flyq_proto_offset_commit_req_part_t p = {partition, offset};
  flyq_proto_offset_commit_req_topic_t t = {flyq_str("g"), &p, 1};
  flyq_proto_offset_commit_req_t req = {flyq_str(group), &t, 1};
  CHECK_OK(flyq_proto_encode_offset_commit_req(&out, &h, &req));
  flush_out(fd);
  resp_t r;
  flyq_proto_offset_commit_resp_t cr;
  resp_read(fd, &r);
  CHECK_OK(flyq_proto_decode_offset_commit_resp(r.p, r.len, &r.a, &cr));
  CHECK_EQ(cr.topics[0].parts[0].error_code, code);
  resp_free(&r);
}

TEST(group_apis) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  produce_n(fd, "g", 0, 10);
  commit(fd, "readers", 0, 7, 0);
  commit(fd, "readers", 5, 1, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  int32_t parts[2] = {0, 1};
  flyq_proto_offset_fetch_req_topic_t t = {flyq_str("g"), parts, 2};
  flyq_proto_offset_fetch_req_t named = {flyq_str("readers"), &t, 1};
  flyq_proto_offset_fetch_req_t all = {flyq_str("readers"), NULL, -1};
  flyq_proto_req_header_t h = hdr(FLYQ_API_OFFSET_FETCH);
  CHECK_OK(flyq_proto_encode_offset_fetch_req(&out, &h, &named));
  h = hdr(FLYQ_API_OFFSET_FETCH);
  CHECK_OK(flyq_proto_encode_offset_fetch_req(&out, &h, &all));
  h = hdr(FLYQ_API_LIST_GROUPS);
  CHECK_OK(flyq_proto_encode_list_groups_req(&out, &h));
  flush_out(fd);
  resp_t r;
  flyq_proto_offset_fetch_resp_t of;
  resp_read(fd, &r);
  CHECK_OK(flyq_proto_decode_offset_fetch_resp(r.p, r.len, &r.a, &of));
  CHECK_EQ(of.topics[0].nparts, 2);
  CHECK_EQ(of.topics[0].parts[0].offset, 7);
  CHECK_EQ(of.topics[0].parts[1].error_code,
           FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  resp_free(&r);
  resp_read(fd, &r);
  CHECK_OK(flyq_proto_decode_offset_fetch_resp(r.p, r.len, &r.a, &of));
  CHECK_EQ(of.ntopics, 1);
  CHECK(flyq_str_eq(of.topics[0].name, "g"));
  CHECK_EQ(of.topics[0].nparts, 1);
  CHECK_EQ(of.topics[0].parts[0].offset, 7);
  resp_free(&r);
  flyq_proto_list_groups_resp_t lg;
  resp_read(fd, &r);
  CHECK_OK(flyq_proto_decode_list_groups_resp(r.p, r.len, &r.a, &lg));
  CHECK_EQ(lg.ngroups, 1);
  CHECK(flyq_str_eq(lg.groups[0], "readers"));
  resp_free(&r);
  flyq_proto_offset_commit_req_t bad = {flyq_str("no/slash"), NULL, 0};
  h = hdr(FLYQ_API_OFFSET_COMMIT);
  CHECK_OK(flyq_proto_encode_offset_commit_req(&out, &h, &bad));
  flush_out(fd);
  expect_error(fd, h.correlation_id, FLYQ_WIRE_INVALID_REQUEST);
  close(fd);
  stop();
}

/* ---- Bad requests ----------------------------------------------------- */

/* Unknown API keys and versions, malformed bodies, Authenticate: answered
 * with the request's id, and the connection stays usable. */
TEST(bad_requests_answered) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  uint8_t unknown[10] = {0, 99, 0, 0, 0, 0, 0, 42, 0xff, 0xff};
  send_raw(fd, unknown, sizeof unknown);
  expect_error(fd, 42, FLYQ_WIRE_UNSUPPORTED_VERSION);
  uint8_t version[10] = {0,   FLYQ_API_API_VERSIONS, 0, 7, 0, 0, 0, 43, 0xff,
                         0xff};
  send_raw(fd, version, sizeof version);
  expect_error(fd, 43, FLYQ_WIRE_UNSUPPORTED_VERSION);
  /* A produce cut short by 3 bytes: INVALID_REQUEST, nothing stored. */
  size_t len;
  uint8_t *b = make_batch(0, 5, &len);
  int32_t id = put_produce("m", 0, 1, b, len);
  free(b);
  send_raw(fd, out.data + 4, out.len - 4 - 3);
  flyq_buf_reset(&out);
  expect_error(fd, id, FLYQ_WIRE_INVALID_REQUEST);
  /* Trailing bytes after a valid ApiVersions request. */
  uint8_t trailing[11] = {
      0, FLYQ_API_API_VERSIONS, 0, 0, 0, 0, 0, 44, 0xff, 0xff, 1};
  send_raw(fd, trailing, sizeof trailing);
  expect_error(fd, 44, FLYQ_WIRE_INVALID_REQUEST);
  flyq_proto_req_header_t h = hdr(FLYQ_API_AUTHENTICATE);
  flyq_proto_authenticate_req_t auth = {flyq_str("token"),
                                        {(const uint8_t *)"x", 1}};
  CHECK_OK(flyq_proto_encode_authenticate_req(&out, &h, &auth));
  flush_out(fd);
  expect_error(fd, h.correlation_id, FLYQ_WIRE_UNSUPPORTED_SASL_MECHANISM);
  int16_t code;
  latest_offset(fd, "m", &code);
  CHECK_EQ(code, FLYQ_WIRE_UNKNOWN_TOPIC_OR_PARTITION);
  ping(fd);
  close(fd);
  stop();
}

/* A batch with a bad CRC fails its partition and none of the batches sent
 * with it is stored. */
TEST(corrupt_batch_not_stored) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  produce_n(fd, "k", 0, 2);
  size_t l1, l2;
  uint8_t *b1 = make_batch(2, 3, &l1), *b2 = make_batch(5, 3, &l2);
  uint8_t *both = malloc(l1 + l2);
  CHECK(both != NULL);
  memcpy(both, b1, l1);
  memcpy(both + l1, b2, l2);
  both[l1 + l2 - 1] ^= 0x55; /* the second batch's last byte */
  int32_t id = put_produce("k", 0, 1, both, l1 + l2);
  flush_out(fd);
  CHECK_EQ(expect_produced(fd, id, FLYQ_WIRE_CORRUPT_MESSAGE, NULL), -1);
  int16_t code;
  CHECK_EQ(latest_offset(fd, "k", &code), 2);
  free(b1);
  free(b2);
  free(both);
  close(fd);
  stop();
}

/* ---- Connection-level errors ------------------------------------------ */

TEST(frame_too_large) {
  config_default();
  start();
  int fd = nt_connect(S.port);
  uint8_t hdr4[4];
  nt_put_be32(hdr4, S.cfg.max_frame_bytes + 1);
  nt_send(fd, hdr4, 4);
  expect_error(fd, -1, FLYQ_WIRE_MESSAGE_TOO_LARGE);
  CHECK(nt_wait_eof(fd, WAIT_MS));
  close(fd);
  fd = nt_connect(S.port);
  ping(fd);
  close(fd);
  stop();
}

TEST(too_many_connections) {
  config_default();
  S.cfg.max_connections = 2;
  start();
  int a = nt_connect(S.port), b = nt_connect(S.port);
  ping(a);
  ping(b);
  int c = nt_connect(S.port);
  expect_error(c, -1, FLYQ_WIRE_LIMIT_EXCEEDED);
  CHECK(nt_wait_eof(c, WAIT_MS));
  close(c);
  ping(a);
  close(a);
  close(b);
  stop();
}

TEST(partial_frame_times_out) {
  config_default();
  S.cfg.request_timeout_ms = 150;
  start();
  int fd = nt_connect(S.port);
  uint8_t part[7] = {0, 0, 0, 30, 0, FLYQ_API_API_VERSIONS, 0};
  nt_send(fd, part, sizeof part);
  expect_error(fd, -1, FLYQ_WIRE_REQUEST_TIMED_OUT);
  CHECK(nt_wait_eof(fd, WAIT_MS));
  close(fd);
  stop();
}

/* A client that sends fetches and never reads stalls only itself. */
TEST(reader_that_never_reads) {
  config_default();
  S.cfg.max_output_bytes = 256 * 1024;
  start();
  int a = nt_connect(S.port), b = nt_connect(S.port);
  for (int i = 0; i < 20; i++) produce_n(b, "big", i * 1000, 1000);
  for (int i = 0; i < 500; i++) put_fetch("big", 0, 0, 0);
  flush_out(a); /* ~500 responses of ~20 KiB: more than the buffers hold */
  ping(b);
  produce_n(b, "big", 20000, 10);
  ping(b);
  close(a);
  NT_WAIT(connections() == 1, WAIT_MS);
  close(b);
  stop();
}

/* ---- Hostile input ---------------------------------------------------- */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void) {
  rnd_state = rnd_state * 1103515245u + 12345u;
  return rnd_state >> 8;
}

/* Encodes a valid request of a random API into out. */
static void put_any_request(void) {
  size_t len;
  uint8_t *b = make_batch(0, 2, &len);
  flyq_proto_req_header_t h;
  switch (rnd() % 6) {
  case 0: put_produce("fz", (int32_t)(rnd() % 3) - 1, 1, b, len); break;
  case 1: put_fetch("fz", 0, 50, 1); break;
  case 2: put_list_offsets("fz"); break;
  case 3: put_api_versions(); break;
  case 4:
    h = hdr(FLYQ_API_METADATA);
    CHECK_OK(flyq_proto_encode_metadata_req(
        &out, &h, &(flyq_proto_metadata_req_t){NULL, -1}));
    break;
  default:
    h = hdr(FLYQ_API_LIST_GROUPS);
    CHECK_OK(flyq_proto_encode_list_groups_req(&out, &h));
    break;
  }
  free(b);
}

/* Sends one hostile message on fd: random bytes, a well-sized frame of
 * random bytes, or a valid request with a few bytes flipped. */
static void send_hostile(int fd, int kind) {
  uint8_t junk[256];
  size_t n = 8 + rnd() % 200;
  for (size_t i = 0; i < n; i++) junk[i] = (uint8_t)rnd();
  if (kind == 0) {
    nt_send(fd, junk, n);
  } else if (kind == 1) {
    send_raw(fd, junk, n);
  } else {
    put_any_request();
    for (int flips = 1 + rnd() % 4; flips > 0; flips--)
      out.data[4 + rnd() % (out.len - 4)] ^= (uint8_t)(1 + rnd() % 255);
    flush_out(fd);
  }
}

/* Garbage of every kind never brings the server down; a fresh client is
 * served normally afterwards. */
TEST(hostile_input) {
  config_default();
  start();
  flyq_logmsg_set_level(FLYQ_LOG_WARN); /* a line per refused frame */
  for (int i = 0; i < 300; i++) {
    int fd = nt_connect(S.port);
    send_hostile(fd, i % 3);
    size_t len;
    free(nt_read_frame(fd, &len, 100)); /* whatever comes, if anything */
    close(fd);
  }
  NT_WAIT(connections() == 0, WAIT_MS);
  int fd = nt_connect(S.port);
  produce_n(fd, "fresh", 0, 5);
  put_fetch("fresh", 0, 0, 0);
  flush_out(fd);
  int64_t n;
  CHECK_EQ(expect_fetched(fd, corr - 1, 0, &n), 5);
  CHECK_EQ(n, 5);
  close(fd);
  stop();
  flyq_logmsg_set_level(FLYQ_LOG_INFO);
}

TEST_LIST(
    TEST_ENTRY(produce_then_fetch) TEST_ENTRY(acks_variants) TEST_ENTRY(
        pipelined_in_order) TEST_ENTRY(parked_fetch_blocks_only_its_connection)
        TEST_ENTRY(parked_fetch_times_out) TEST_ENTRY(close_with_parked_fetch)
            TEST_ENTRY(close_answers_parked_fetch) TEST_ENTRY(topic_apis)
                TEST_ENTRY(group_apis) TEST_ENTRY(bad_requests_answered)
                    TEST_ENTRY(corrupt_batch_not_stored)
                        TEST_ENTRY(frame_too_large)
                            TEST_ENTRY(too_many_connections)
                                TEST_ENTRY(partial_frame_times_out)
                                    TEST_ENTRY(reader_that_never_reads)
                                        TEST_ENTRY(hostile_input));
