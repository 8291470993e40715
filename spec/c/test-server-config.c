/* ConfigPlan and ConfigApply in the native protocol server: a real broker
 * and server on a loop thread, a stand-in for the host's reload handler
 * (the server cannot run Lua), and blocking sockets speaking the wire
 * protocol. Checks what reaches the handler and how its plan and its errors
 * come back.
 */
#include <signal.h>
#include <stdio.h>

#include "broker/plan.h" /* flyq__plan_add, for the stand-in handler */
#include "flyq/broker.h"
#include "flyq/proto.h"
#include "nettest.h"
#include "server/server.h"

#define WAIT_MS 10000

/* What the handler saw and what it answers; only touched on the loop
 * thread while the test thread waits for a response. */
typedef struct handler {
  char text[64];
  int null_text;
  char name[64];
  int apply;
  int calls;
  int fail; /* answer FLYQ_ERR_CONFIG */
} handler_t;

static struct {
  nt_loop_t l;
  flyq_config_t cfg;
  flyq_broker_t *b;
  flyq_server_t *srv;
  int port;
  handler_t h;
} S;

static int reload(void *arg, const char *text, size_t len, const char *name,
                  int apply, flyq_broker_plan_t *out, char *err,
                  size_t errlen) {
  handler_t *h = arg;
  h->calls++;
  h->null_text = text == NULL;
  snprintf(h->text, sizeof h->text, "%.*s", (int)len, text ? text : "");
  snprintf(h->name, sizeof h->name, "%s", name);
  h->apply = apply;
  if (h->fail) {
    snprintf(err, errlen, "%s:1: unexpected symbol", name);
    return FLYQ_ERR_CONFIG;
  }
  int rc = flyq__plan_add(out, FLYQ_CHANGE_CREATE_TOPIC, "B", "partitions 1");
  if (rc == 0) rc = flyq__plan_add(out, FLYQ_CHANGE_SET, NULL, "x 1 -> 2");
  return rc;
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

static void set_handler(void *arg) {
  flyq_broker_set_reload_handler(S.b, arg ? reload : NULL, &S.h);
}

static void start(int with_handler) {
  int rc;
  memset(&S, 0, sizeof S);
  flyq_config_t *c = &S.cfg;
  flyq_log_config_default(&c->log);
  c->listen = "127.0.0.1:0";
  c->default_partitions = 1;
  c->max_frame_bytes = 1u << 20;
  c->max_connections = 8;
  c->max_inflight = 16;
  c->max_output_bytes = 1u << 20;
  c->request_timeout_ms = 30000;
  c->max_topics = 100;
  signal(SIGPIPE, SIG_IGN);
  nt_loop_start(&S.l);
  nt_loop_call(&S.l, start_on_loop, &rc);
  CHECK_OK(rc);
  nt_loop_call(&S.l, set_handler, with_handler ? &S : NULL);
}

static void stop_on_loop(void *arg) {
  (void)arg;
  flyq_server_close(S.srv, 1000, NULL, NULL);
  CHECK_OK(flyq_broker_close(S.b, NULL, NULL));
}

static void stop(void) { nt_loop_stop(&S.l, stop_on_loop, NULL); }

/* Sends one config request and decodes the response into *resp (arena a;
 * the frame is returned for the caller to free). */
static uint8_t *call(int fd, int16_t api, flyq_bytes_t text, const char *name,
                     flyq_arena_t *a, flyq_proto_config_resp_t *resp) {
  static int32_t corr = 1;
  flyq_buf_t out;
  size_t len;
  flyq_proto_req_header_t h = {api, 0, corr++, flyq_str("t")};
  flyq_proto_config_req_t req = {text, flyq_str(name)};
  flyq_buf_init(&out);
  CHECK_OK(flyq_proto_encode_config_req(&out, &h, &req));
  nt_send(fd, out.data, out.len);
  flyq_buf_free(&out);
  uint8_t *p = nt_read_frame(fd, &len, WAIT_MS);
  CHECK(p != NULL);
  CHECK_OK(flyq_proto_decode_config_resp(p, len, a, resp));
  CHECK_EQ(resp->hdr.correlation_id, h.correlation_id);
  return p;
}

static flyq_bytes_t text(const char *s) {
  return (flyq_bytes_t){(const uint8_t *)s, (int32_t)strlen(s)};
}

TEST(plan_and_apply_reach_the_handler) {
  flyq_arena_t a;
  flyq_proto_config_resp_t r;
  start(1);
  int fd = nt_connect(S.port);
  flyq_arena_init(&a);
  uint8_t *p = call(fd, FLYQ_API_CONFIG_PLAN, text("return {}"), "f.lua", &a,
                    &r);
  CHECK_EQ(r.hdr.error_code, 0);
  CHECK_EQ(r.nchanges, 2);
  CHECK(flyq_str_eq(r.changes[0].kind, "create_topic"));
  CHECK(flyq_str_eq(r.changes[0].topic, "B"));
  CHECK(flyq_str_eq(r.changes[0].detail, "partitions 1"));
  CHECK(flyq_str_eq(r.changes[1].kind, "set"));
  CHECK_EQ(r.changes[1].topic.len, 0);
  CHECK_EQ(S.h.calls, 1);
  CHECK_EQ(S.h.apply, 0);
  CHECK(strcmp(S.h.text, "return {}") == 0);
  CHECK(strcmp(S.h.name, "f.lua") == 0);
  free(p);
  p = call(fd, FLYQ_API_CONFIG_APPLY, (flyq_bytes_t){NULL, -1}, "", &a, &r);
  CHECK_EQ(r.hdr.error_code, 0);
  CHECK_EQ(S.h.apply, 1);
  CHECK(S.h.null_text);
  CHECK(strcmp(S.h.name, "config") == 0); /* "" names nothing */
  free(p);
  close(fd);
  flyq_arena_free(&a);
  stop();
}

TEST(errors_come_back_as_top_level_errors) {
  flyq_arena_t a;
  flyq_proto_config_resp_t r;
  start(1);
  int fd = nt_connect(S.port);
  flyq_arena_init(&a);
  S.h.fail = 1; /* read by the loop thread only during the call below */
  uint8_t *p = call(fd, FLYQ_API_CONFIG_APPLY, text("x"), "bad.lua", &a, &r);
  CHECK_EQ(r.hdr.error_code, FLYQ_WIRE_INVALID_CONFIG);
  CHECK(flyq_str_eq(r.hdr.error_message, "bad.lua:1: unexpected symbol"));
  CHECK_EQ(r.nchanges, 0);
  free(p);
  int calls = S.h.calls;
  p = call(fd, FLYQ_API_CONFIG_PLAN, text("x"), "a\nb", &a, &r);
  CHECK_EQ(r.hdr.error_code, FLYQ_WIRE_INVALID_REQUEST);
  CHECK_EQ(S.h.calls, calls); /* refused before the handler */
  free(p);
  close(fd);
  flyq_arena_free(&a);
  stop();
}

TEST(without_a_handler) {
  flyq_arena_t a;
  flyq_proto_config_resp_t r;
  start(0);
  int fd = nt_connect(S.port);
  flyq_arena_init(&a);
  uint8_t *p = call(fd, FLYQ_API_CONFIG_PLAN, text("return {}"), "f", &a, &r);
  CHECK_EQ(r.hdr.error_code, FLYQ_WIRE_INVALID_REQUEST);
  CHECK(flyq_str_eq(r.hdr.error_message,
                    "this broker cannot load config text"));
  free(p);
  close(fd);
  flyq_arena_free(&a);
  stop();
}

TEST_LIST(TEST_ENTRY(plan_and_apply_reach_the_handler)
          TEST_ENTRY(errors_come_back_as_top_level_errors)
          TEST_ENTRY(without_a_handler));
