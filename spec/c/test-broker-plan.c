/* Config plan and apply (include/flyq/broker.h, "Config plan and apply"):
 * a real broker over a store in a temporary directory, configs built by
 * hand (the Lua loader is the host's), and checks of both the plan and the
 * broker's state before and after apply.
 */
#include <stdlib.h>

#include "broker/plan.h" /* flyq__plan_add, for a fake reload handler */
#include "flyq/broker.h"
#include "test.h"

typedef struct env {
  uv_loop_t loop;
  flyq_config_t cfg; /* the startup config */
  flyq_store_t *store;
  flyq_broker_t *b;
  int closed;
} env_t;

static void cfg_default(flyq_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  flyq_log_config_default(&cfg->log);
  cfg->log_level = 2;
  cfg->auto_create_topics = 1;
  cfg->default_partitions = 1;
  cfg->groups_flush_interval_ms = 1000;
  cfg->retention_check_interval_ms = 60000;
  cfg->max_topics = 10000;
  cfg->max_frame_bytes = 1 << 20;
}

/* A declared topic with the default settings. name must stay valid. */
static flyq_config_topic_t topic(const char *name, int32_t partitions) {
  flyq_config_topic_t t;
  memset(&t, 0, sizeof t);
  t.name = (char *)name; /* never freed: these configs are not the loader's */
  t.partitions = partitions;
  flyq_log_config_default(&t.log);
  return t;
}

static void env_open(env_t *e, flyq_config_topic_t *topics, size_t n) {
  char err[256];
  memset(e, 0, sizeof *e);
  cfg_default(&e->cfg);
  e->cfg.topics = topics;
  e->cfg.ntopics = n;
  CHECK_OK(uv_loop_init(&e->loop));
  CHECK_OK(flyq_store_open(flyq_test_tmpdir(), &e->cfg.log, &e->store, err,
                           sizeof err));
  CHECK_OK(flyq_broker_new(&e->loop, &e->cfg, e->store, &e->b));
}

static void on_closed(int status, void *arg) {
  env_t *e = arg;
  CHECK_OK(status);
  e->closed = 1;
}

static void env_close(env_t *e) {
  CHECK_OK(flyq_broker_close(e->b, on_closed, e));
  uv_update_time(&e->loop);
  uint64_t end = uv_now(&e->loop) + 10000;
  while (!e->closed && uv_now(&e->loop) < end) uv_run(&e->loop, UV_RUN_ONCE);
  CHECK(e->closed);
  CHECK_OK(uv_loop_close(&e->loop));
}

static int32_t partitions(env_t *e, const char *name) {
  flyq_topic_t *t = flyq_store_topic(e->store, name);
  return t ? flyq_topic_partitions(t) : -1;
}

/* Checks change i of p. */
static void check_change(const flyq_broker_plan_t *p, size_t i,
                         flyq_change_kind_t kind, const char *topic,
                         const char *detail) {
  CHECK(i < p->n);
  const flyq_broker_change_t *c = &p->changes[i];
  if (c->kind != kind || strcmp(c->topic, topic) != 0 ||
      strcmp(c->detail, detail) != 0)
    flyq_test_fail(__FILE__, __LINE__, "change %zu: %s %s: %s", i,
                   flyq_broker_change_kind_name(c->kind), c->topic, c->detail);
}

/* ---- Topics ------------------------------------------------------------ */

TEST(plan_lists_changes_and_changes_nothing) {
  env_t e;
  flyq_config_topic_t start[] = {topic("A", 2)};
  env_open(&e, start, 1);
  flyq_config_t next = e.cfg;
  flyq_config_topic_t want[] = {topic("A", 4), topic("B", 1)};
  want[0].log.retention_ms = 3600000;
  next.topics = want;
  next.ntopics = 2;
  flyq_broker_plan_t p;
  CHECK_OK(flyq_broker_plan(e.b, &e.cfg, &next, &p));
  CHECK_EQ(p.n, 3);
  CHECK_EQ(p.nerrors, 0);
  check_change(&p, 0, FLYQ_CHANGE_ADD_PARTITIONS, "A", "partitions 2 -> 4");
  check_change(&p, 1, FLYQ_CHANGE_SET, "A",
               "retention.ms 604800000 -> 3600000");
  check_change(&p, 2, FLYQ_CHANGE_CREATE_TOPIC, "B", "partitions 1");
  CHECK_EQ(partitions(&e, "A"), 2);
  CHECK_EQ(partitions(&e, "B"), -1);
  flyq_broker_plan_free(&p);
  flyq_broker_plan_free(&p); /* twice is fine */
  env_close(&e);
}

TEST(apply_creates_grows_and_sets) {
  env_t e;
  flyq_config_topic_t start[] = {topic("A", 2)};
  env_open(&e, start, 1);
  flyq_config_t next = e.cfg;
  flyq_config_topic_t want[] = {topic("A", 4), topic("B", 3)};
  want[0].log.retention_ms = 3600000;
  want[1].log.segment_bytes = 1 << 20;
  next.topics = want;
  next.ntopics = 2;
  flyq_broker_plan_t p;
  char err[256] = "";
  CHECK_OK(flyq_broker_plan(e.b, &e.cfg, &next, &p));
  check_change(&p, 2, FLYQ_CHANGE_CREATE_TOPIC, "B",
               "partitions 3, segment.bytes 1048576");
  CHECK_OK(flyq_broker_apply(e.b, &next, &p, NULL, err, sizeof err));
  flyq_broker_plan_free(&p);
  CHECK_EQ(partitions(&e, "A"), 4);
  CHECK_EQ(partitions(&e, "B"), 3);
  flyq_topic_t *a = flyq_store_topic(e.store, "A");
  CHECK_EQ(flyq_topic_config(a)->log.retention_ms, 3600000);
  CHECK_EQ(flyq_topic_config(flyq_store_topic(e.store, "B"))->log.segment_bytes,
           1 << 20);
  /* The broker serves the new partitions. */
  int64_t off;
  CHECK_OK(flyq_broker_list_offset(e.b, "A", 3, FLYQ_OFFSET_LATEST, &off));
  CHECK_OK(flyq_broker_plan(e.b, &next, &next, &p));
  CHECK_EQ(p.n, 0);
  flyq_broker_plan_free(&p);
  env_close(&e);
}

TEST(undeclared_topic_is_drift_or_pruned) {
  env_t e;
  flyq_config_topic_t start[] = {topic("A", 1), topic("X", 1)};
  env_open(&e, start, 2);
  flyq_config_t next = e.cfg;
  next.ntopics = 1; /* only A */
  flyq_broker_plan_t p;
  char err[256] = "";
  CHECK_OK(flyq_broker_plan(e.b, &e.cfg, &next, &p));
  CHECK_EQ(p.n, 1);
  check_change(&p, 0, FLYQ_CHANGE_DRIFT, "X",
               "on the broker but not in the config (kept; prune = true "
               "would delete it)");
  CHECK_OK(flyq_broker_apply(e.b, &next, &p, NULL, err, sizeof err));
  flyq_broker_plan_free(&p);
  CHECK_EQ(partitions(&e, "X"), 1); /* drift is kept */
  next.prune = 1;
  CHECK_OK(flyq_broker_plan(e.b, &e.cfg, &next, &p));
  CHECK_EQ(p.n, 2);
  check_change(&p, 0, FLYQ_CHANGE_SET, "", "prune false -> true");
  CHECK_EQ(p.changes[1].kind, FLYQ_CHANGE_DELETE_TOPIC);
  CHECK(strcmp(p.changes[1].topic, "X") == 0);
  CHECK_EQ(partitions(&e, "X"), 1);
  CHECK_OK(flyq_broker_apply(e.b, &next, &p, NULL, err, sizeof err));
  flyq_broker_plan_free(&p);
  CHECK_EQ(partitions(&e, "X"), -1);
  CHECK_EQ(partitions(&e, "A"), 1);
  env_close(&e);
}

TEST(fewer_partitions_refuse_the_whole_plan) {
  env_t e;
  flyq_config_topic_t start[] = {topic("A", 3)};
  env_open(&e, start, 1);
  flyq_config_t next = e.cfg;
  flyq_config_topic_t want[] = {topic("A", 2), topic("B", 1)};
  next.topics = want;
  next.ntopics = 2;
  next.auto_create_topics = 0;
  flyq_broker_plan_t p;
  char err[256] = "";
  CHECK_OK(flyq_broker_plan(e.b, &e.cfg, &next, &p));
  CHECK_EQ(p.nerrors, 1);
  check_change(&p, 0, FLYQ_CHANGE_SET, "", "auto_create_topics true -> false");
  check_change(&p, 1, FLYQ_CHANGE_ERROR, "A",
               "partitions 3 -> 2: partition counts only grow");
  check_change(&p, 2, FLYQ_CHANGE_CREATE_TOPIC, "B", "partitions 1");
  size_t steps = 9;
  CHECK_EQ(flyq_broker_apply(e.b, &next, &p, &steps, err, sizeof err),
           FLYQ_ERR_CONFIG);
  CHECK_EQ(steps, 0);
  CHECK(strstr(err, "A: partitions 3 -> 2: partition counts only grow"));
  flyq_broker_plan_free(&p);
  CHECK_EQ(partitions(&e, "A"), 3);
  CHECK_EQ(partitions(&e, "B"), -1);
  /* auto_create_topics was not taken: a produce-time create still works. */
  CHECK_OK(flyq_broker_plan(e.b, NULL, &e.cfg, &p));
  CHECK_EQ(p.n, 0);
  flyq_broker_plan_free(&p);
  env_close(&e);
}

/* A step that fails (here: a plan made for another config) stops the
 * apply: the steps before it stay, the broker-wide settings are not taken. */
TEST(a_failing_step_stops_the_apply) {
  env_t e;
  env_open(&e, NULL, 0);
  flyq_config_t planned = e.cfg, next = e.cfg;
  flyq_config_topic_t want[] = {topic("B", 1), topic("C", 2)};
  planned.topics = want;
  planned.ntopics = 2;
  planned.auto_create_topics = 0;
  next = planned;
  next.ntopics = 1; /* C is missing */
  flyq_broker_plan_t p;
  char err[256] = "";
  size_t steps = 0;
  CHECK_OK(flyq_broker_plan(e.b, NULL, &planned, &p));
  CHECK_EQ(p.n, 3);
  CHECK_EQ(flyq_broker_apply(e.b, &next, &p, &steps, err, sizeof err),
           FLYQ_ERR_INVALID_ARG);
  CHECK_EQ(steps, 1); /* B; C was refused before it started */
  CHECK(strstr(err, "create_topic C: ") == err);
  CHECK(strstr(err, "(stopped at change 3 of 3: ") != NULL);
  flyq_broker_plan_free(&p);
  CHECK_EQ(partitions(&e, "B"), 1);
  CHECK_EQ(partitions(&e, "C"), -1);
  next.ntopics = 0;
  CHECK_OK(flyq_broker_plan(e.b, NULL, &next, &p));
  CHECK_EQ(p.n, 2); /* auto_create_topics was not taken; B is drift */
  check_change(&p, 0, FLYQ_CHANGE_SET, "", "auto_create_topics true -> false");
  CHECK_EQ(p.changes[1].kind, FLYQ_CHANGE_DRIFT);
  flyq_broker_plan_free(&p);
  env_close(&e);
}

TEST(dead_letter_topic_belongs_to_the_config) {
  env_t e;
  flyq_config_topic_t start[] = {topic("A", 1), topic("A.dlq", 1),
                                 topic("B.dlq", 1)};
  env_open(&e, start, 3);
  flyq_config_t next = e.cfg;
  flyq_config_topic_t want[] = {topic("A", 1), topic("B", 1)};
  want[0].on_error = FLYQ_ON_ERROR_DEAD_LETTER;
  next.topics = want;
  next.ntopics = 2;
  next.prune = 1;
  flyq_broker_plan_t p;
  CHECK_OK(flyq_broker_plan(e.b, NULL, &next, &p));
  CHECK_EQ(p.n, 3); /* B.dlq: B does not dead-letter */
  check_change(&p, 0, FLYQ_CHANGE_SET, "", "prune false -> true");
  check_change(&p, 1, FLYQ_CHANGE_CREATE_TOPIC, "B", "partitions 1");
  CHECK_EQ(p.changes[2].kind, FLYQ_CHANGE_DELETE_TOPIC);
  CHECK(strcmp(p.changes[2].topic, "B.dlq") == 0);
  flyq_broker_plan_free(&p);
  env_close(&e);
}

TEST(topic_count_within_max_topics) {
  env_t e;
  flyq_config_topic_t start[] = {topic("A", 1), topic("X", 1)};
  env_open(&e, start, 2);
  flyq_config_t next = e.cfg;
  flyq_config_topic_t want[] = {topic("A", 1), topic("B", 1)};
  next.topics = want;
  next.ntopics = 2;
  next.max_topics = 2;
  flyq_broker_plan_t p;
  CHECK_OK(flyq_broker_plan(e.b, NULL, &next, &p));
  CHECK_EQ(p.nerrors, 1); /* A, B and the kept X */
  check_change(&p, 0, FLYQ_CHANGE_SET, "", "limits.max_topics 10000 -> 2");
  check_change(&p, 1, FLYQ_CHANGE_ERROR, "",
               "limits.max_topics 2: the broker would hold 3 topics");
  flyq_broker_plan_free(&p);
  next.prune = 1; /* X goes: two topics fit */
  CHECK_OK(flyq_broker_plan(e.b, NULL, &next, &p));
  CHECK_EQ(p.nerrors, 0);
  flyq_broker_plan_free(&p);
  env_close(&e);
}

/* ---- Broker-wide settings and plugins ------------------------------------ */

TEST(broker_wide_settings) {
  env_t e;
  env_open(&e, NULL, 0);
  flyq_config_t old = e.cfg, next = e.cfg;
  old.listen = (char *)"127.0.0.1:7500";
  next.listen = (char *)"0.0.0.0:7500";
  next.log_level = 3;
  next.default_partitions = 3;
  next.log.retention_ms = 1000;
  next.log.flush_messages = 10;
  next.max_connections = 5;
  next.groups_flush_interval_ms = 250;
  flyq_broker_plan_t p;
  char err[256] = "";
  CHECK_OK(flyq_broker_plan(e.b, &old, &next, &p));
  CHECK_EQ(p.n, 7);
  check_change(&p, 0, FLYQ_CHANGE_RESTART, "",
               "listen \"127.0.0.1:7500\" -> \"0.0.0.0:7500\" (takes effect "
               "at the next start)");
  check_change(&p, 1, FLYQ_CHANGE_SET, "", "log_level info -> debug");
  check_change(&p, 2, FLYQ_CHANGE_SET, "", "defaults.partitions 1 -> 3");
  check_change(&p, 3, FLYQ_CHANGE_SET, "",
               "groups.flush_interval_ms 1000 -> 250");
  check_change(&p, 4, FLYQ_CHANGE_RESTART, "",
               "limits.max_connections 0 -> 5 (takes effect at the next "
               "start)");
  check_change(&p, 5, FLYQ_CHANGE_SET, "",
               "defaults.retention.ms 604800000 -> 1000");
  check_change(&p, 6, FLYQ_CHANGE_SET, "", "flush.messages 0 -> 10");
  CHECK_OK(flyq_broker_apply(e.b, &next, &p, NULL, err, sizeof err));
  flyq_broker_plan_free(&p);
  /* New topics get the new defaults. */
  CHECK_OK(flyq_broker_create_topic(e.b, "auto", -1, NULL, 0, err, sizeof err));
  CHECK_EQ(partitions(&e, "auto"), 3);
  flyq_topic_t *t = flyq_store_topic(e.store, "auto");
  CHECK_EQ(flyq_topic_config(t)->log.retention_ms, 1000);
  /* The broker's own copy took the live settings, not the restart ones. */
  CHECK_OK(flyq_broker_plan(e.b, NULL, &next, &p));
  CHECK_EQ(p.n, 2);
  CHECK_EQ(p.changes[0].kind, FLYQ_CHANGE_RESTART);
  CHECK(strstr(p.changes[0].detail, "limits.max_connections") != NULL);
  CHECK_EQ(p.changes[1].kind, FLYQ_CHANGE_DRIFT);
  flyq_broker_plan_free(&p);
  env_close(&e);
}

TEST(plugin_settings) {
  env_t e;
  flyq_config_topic_t start[] = {topic("A", 1)};
  env_open(&e, start, 1);
  flyq_config_t next = e.cfg;
  flyq_config_topic_t want[] = {topic("A", 1)};
  flyq_config_plugin_t hooks[] = {
      {.name = (char *)"redact", .params = (char *)"{}"},
      {.name = (char *)"enrich", .params = (char *)"{\"k\":1}"}};
  flyq_config_plugin_t auth = {.name = (char *)"token",
                               .params = (char *)"{}"};
  want[0].on_produce = hooks;
  want[0].non_produce = 2;
  want[0].partitioner.inline_fn = 1;
  next.topics = want;
  next.auth = &auth;
  next.nauth = 1;
  flyq_broker_plan_t p;
  CHECK_OK(flyq_broker_plan(e.b, &e.cfg, &next, &p));
  CHECK_EQ(p.n, 3);
  check_change(&p, 0, FLYQ_CHANGE_PLUGINS, "", "auth none -> token");
  check_change(&p, 1, FLYQ_CHANGE_PLUGINS, "A",
               "partitioner default -> inline function");
  check_change(&p, 2, FLYQ_CHANGE_PLUGINS, "A",
               "on_produce none -> redact, enrich {...}");
  flyq_broker_plan_free(&p);
  /* Without the running config, plugins cannot be compared. */
  CHECK_OK(flyq_broker_plan(e.b, NULL, &next, &p));
  CHECK_EQ(p.n, 0);
  flyq_broker_plan_free(&p);
  /* An inline function whose lines are not known (it reads locals of the
   * file) may have changed whenever the text did. */
  flyq_config_t same = next;
  flyq_config_topic_t same_topics[] = {want[0]};
  same.topics = same_topics;
  same.source = (char *)"return {v = 1}";
  next.source = (char *)"return {v = 2}";
  CHECK_OK(flyq_broker_plan(e.b, &same, &next, &p));
  CHECK_EQ(p.n, 1);
  check_change(&p, 0, FLYQ_CHANGE_PLUGINS, "A",
               "partitioner inline function may have changed (it reads "
               "values from elsewhere in the config text, which changed)");
  flyq_broker_plan_free(&p);
  /* One whose lines are known changed only when they did: lines 2-3 of
   * the old text and 3-4 of the new (CR LF counts as one line end). */
  same_topics[0].partitioner.first_line = 2;
  same_topics[0].partitioner.last_line = 3;
  want[0].partitioner.first_line = 3;
  want[0].partitioner.last_line = 4;
  same.source = (char *)"local x = 1\nf = function()\n  return 0 end\n";
  next.source =
      (char *)"local x = 2\r\n\r\nf = function()\r\n  return 0 end\r\n";
  CHECK_OK(flyq_broker_plan(e.b, &same, &next, &p));
  CHECK_EQ(p.n, 1); /* line ends differ: the text of the lines does */
  flyq_broker_plan_free(&p);
  next.source = (char *)"local x = 2\n\nf = function()\n  return 0 end\n";
  CHECK_OK(flyq_broker_plan(e.b, &same, &next, &p));
  CHECK_EQ(p.n, 0);
  flyq_broker_plan_free(&p);
  next.source = (char *)"local x = 1\n\nf = function()\n  return 1 end\n";
  CHECK_OK(flyq_broker_plan(e.b, &same, &next, &p));
  CHECK_EQ(p.n, 1);
  check_change(&p, 0, FLYQ_CHANGE_PLUGINS, "A",
               "partitioner inline function changed (lines 3-4 of the new "
               "config text)");
  flyq_broker_plan_free(&p);
  env_close(&e);
}

/* Params may hold secrets: a plan shows that they changed, never what
 * they are. */
TEST(plugin_params_are_not_shown) {
  env_t e;
  flyq_config_topic_t start[] = {topic("A", 1)};
  env_open(&e, start, 1);
  flyq_config_t cur = e.cfg, next = e.cfg;
  flyq_config_plugin_t old_auth = {
      .name = (char *)"auth_token",
      .params = (char *)"{\"tokens\":{\"ci\":\"s3cret\"}}"};
  flyq_config_plugin_t new_auth = {
      .name = (char *)"auth_token",
      .params = (char *)"{\"tokens\":{\"ci\":\"n3w\"}}"};
  flyq_broker_plan_t p;
  cur.auth = &old_auth;
  cur.nauth = 1;
  next.auth = &new_auth;
  next.nauth = 1;
  CHECK_OK(flyq_broker_plan(e.b, &cur, &next, &p));
  CHECK_EQ(p.n, 1);
  check_change(&p, 0, FLYQ_CHANGE_PLUGINS, "",
               "auth auth_token {...}: params changed");
  flyq_broker_plan_free(&p);
  next.nauth = 0; /* auth removed: the old params stay hidden too */
  CHECK_OK(flyq_broker_plan(e.b, &cur, &next, &p));
  CHECK_EQ(p.n, 1);
  check_change(&p, 0, FLYQ_CHANGE_PLUGINS, "", "auth auth_token {...} -> none");
  CHECK(strstr(p.changes[0].detail, "s3cret") == NULL);
  flyq_broker_plan_free(&p);
  CHECK_OK(flyq_broker_plan(e.b, &cur, &cur, &p)); /* same params: no change */
  CHECK_EQ(p.n, 0);
  flyq_broker_plan_free(&p);
  env_close(&e);
}

TEST(keep_restart_settings) {
  flyq_config_t running, next;
  cfg_default(&running);
  cfg_default(&next);
  running.listen = strdup("127.0.0.1:1");
  next.listen = strdup("127.0.0.1:2");
  next.data_dir = strdup("/elsewhere");
  running.max_inflight = 7;
  next.max_inflight = 9;
  next.log_level = 3;
  CHECK_OK(flyq_broker_keep_restart_settings(&next, &running));
  CHECK(strcmp(next.listen, "127.0.0.1:1") == 0);
  CHECK(next.listen != running.listen);
  CHECK(next.data_dir == NULL);
  CHECK_EQ(next.max_inflight, 7);
  CHECK_EQ(next.log_level, 3); /* live: next keeps its own */
  free(running.listen);
  free(next.listen);
}

/* ---- The reload handler -------------------------------------------------- */

typedef struct seen {
  const char *text;
  size_t len;
  char name[32];
  int apply;
  int rc;
} seen_t;

static int fake_reload(void *arg, const char *text, size_t len,
                       const char *name, int apply, flyq_broker_plan_t *out,
                       char *err, size_t errlen) {
  seen_t *s = arg;
  s->text = text;
  s->len = len;
  snprintf(s->name, sizeof s->name, "%s", name);
  s->apply = apply;
  CHECK_OK(flyq__plan_add(out, FLYQ_CHANGE_SET, NULL, "x"));
  if (s->rc < 0) snprintf(err, errlen, "x.lua:1: broken");
  return s->rc;
}

TEST(reload_handler) {
  env_t e;
  env_open(&e, NULL, 0);
  flyq_broker_plan_t p;
  char err[128] = "";
  seen_t s = {0};
  CHECK_EQ(flyq_broker_reload(e.b, "x", 1, "x.lua", 0, &p, err, sizeof err),
           FLYQ_ERR_UNSUPPORTED);
  CHECK(strstr(err, "cannot load config text") != NULL);
  flyq_broker_set_reload_handler(e.b, fake_reload, &s);
  CHECK_OK(flyq_broker_reload(e.b, "abc", 3, NULL, 1, &p, err, sizeof err));
  CHECK(s.text != NULL && s.len == 3 && s.apply == 1);
  CHECK(strcmp(s.name, "config") == 0);
  CHECK_EQ(p.n, 1);
  flyq_broker_plan_free(&p);
  s.rc = FLYQ_ERR_CONFIG; /* the plan made so far is dropped */
  CHECK_EQ(flyq_broker_reload(e.b, NULL, 0, "f", 0, &p, err, sizeof err),
           FLYQ_ERR_CONFIG);
  CHECK(s.text == NULL);
  CHECK_EQ(p.n, 0);
  CHECK(p.changes == NULL);
  CHECK(strcmp(err, "x.lua:1: broken") == 0);
  env_close(&e);
}

TEST_LIST(TEST_ENTRY(plan_lists_changes_and_changes_nothing)
              TEST_ENTRY(apply_creates_grows_and_sets)
                  TEST_ENTRY(undeclared_topic_is_drift_or_pruned)
                      TEST_ENTRY(fewer_partitions_refuse_the_whole_plan)
                          TEST_ENTRY(a_failing_step_stops_the_apply)
          TEST_ENTRY(dead_letter_topic_belongs_to_the_config)
                              TEST_ENTRY(topic_count_within_max_topics)
                                  TEST_ENTRY(broker_wide_settings)
                                      TEST_ENTRY(plugin_settings)
                                      TEST_ENTRY(plugin_params_are_not_shown)
                                          TEST_ENTRY(keep_restart_settings)
                                              TEST_ENTRY(reload_handler));
