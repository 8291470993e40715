/* The auth chain (authenticate, authorize: allow, deny, abstain, fail
 * closed) and the partitioners (key_hash against flyq_partition_for_key,
 * round_robin, sticky, a Lua partition hook, an inline config function,
 * out-of-range answers) of the plugin runtime.
 */
#include "flyq/common.h"
#include "flyq/partition.h"
#include "test-host-plugin.h"

static const char tokens_lua[] =
    "return { name = 'tokens',\n"
    "  schema = { tokens = { type = 'map', values = 'string', required = true } },\n"
    "  authenticate = function(creds, conn, ctx)\n"
    "    if creds.mechanism == 'plain' then\n"
    "      return creds.username .. '/' .. creds.password .. '@' .. conn.remote\n"
    "    end\n"
    "    for token, who in pairs(ctx.params.tokens) do\n"
    "      if flyq.constant_time_eq(token, creds.token or '') then return who end\n"
    "    end\n"
    "    return nil, 'unknown token'\n"
    "  end,\n"
    "  authorize = function(principal, action, resource)\n"
    "    if principal ~= 'alice' then return nil end\n"
    "    if action == 'delete_topic' then return false end\n"
    "    if action == 'produce' and resource == 'topic:orders' then return true end\n"
    "    return nil\n"
    "  end }\n";

static const char admins_lua[] =
    "return { name = 'admins',\n"
    "  authorize = function(principal, action, resource, ctx)\n"
    "    if principal == 'admin' then return true end\n"
    "  end }\n";

static const char broken_lua[] =
    "return { name = 'broken',\n"
    "  authenticate = function() error('auth backend down') end,\n"
    "  authorize = function(principal)\n"
    "    if principal == 'admin' then return 'yes' end\n"
    "    error('authz backend down')\n"
    "  end }\n";

static flyq_plugins_t *auth_runtime(const char *auth) {
  char config[512];
  pt_write("tokens.lua", tokens_lua);
  pt_write("admins.lua", admins_lua);
  pt_write("broken.lua", broken_lua);
  snprintf(config, sizeof config,
           "return { plugin_path = {DIR}, auth = %s }\n", auth);
  return pt_open(config);
}

#define TOKENS "{ plugin = 'tokens', params = { tokens = { s3cret = 'alice' } } }"

static int authenticate(flyq_plugins_t *rt, const char *mech, const char *cred,
                        char **principal, char *reason, size_t n) {
  flyq_plugins_conn_t conn = {"10.0.0.7:5555", "10.0.0.1:7500"};
  return flyq_plugins_authenticate(rt, mech, (const uint8_t *)cred,
                                   strlen(cred), &conn,
                                   principal, reason, n);
}

TEST(authenticate_finds_the_principal) {
  flyq_plugins_t *rt = auth_runtime("{ " TOKENS ", 'admins' }");
  char *principal = (char *)"x", reason[128];
  CHECK_EQ(flyq_plugins_has_auth(rt), 1);
  CHECK_OK(authenticate(rt, "token", "s3cret", &principal, reason, sizeof reason));
  CHECK_STR(principal, "alice");
  free(principal);
  CHECK_EQ(authenticate(rt, "token", "guess", &principal, reason, sizeof reason),
           FLYQ_ERR_AUTH);
  CHECK(principal == NULL);
  CHECK_STR(reason, "unknown token");
  {
    /* "plain" is split as RFC 4616 says */
    flyq_plugins_conn_t conn = {"10.0.0.7:5555", NULL};
    const uint8_t plain[] = "\0bob\0pw";
    CHECK_OK(flyq_plugins_authenticate(rt, "plain", plain, 7, &conn,
                                       &principal, reason, sizeof reason));
    CHECK_STR(principal, "bob/pw@10.0.0.7:5555");
    free(principal);
    /* without conn, conn.remote is nil and the hook fails: denied */
    CHECK_EQ(flyq_plugins_authenticate(rt, "plain", plain, 7, NULL, &principal,
                                       reason, sizeof reason), FLYQ_ERR_AUTH);
    CHECK(principal == NULL);
  }
  pt_done(rt);
}

/* A reason that quotes the credentials is hidden to fit the caller's
 * buffer, however small: a 1-byte secret empties a 2-byte reason rather
 * than writing "***" past it. */
TEST(hidden_credentials_fit_the_reason_buffer) {
  flyq_plugins_t *rt;
  char *principal = NULL, buf[8];
  pt_write("echo.lua", "return { name = 'echo', authenticate = function(c)\n"
                       "  return nil, c.data end }\n");
  rt = pt_open("return { plugin_path = {DIR}, auth = 'echo' }\n");
  memcpy(buf, "ABCDEFG", 8);
  CHECK_EQ(authenticate(rt, "token", "x", &principal, buf, 2), FLYQ_ERR_AUTH);
  CHECK_STR(buf, "");
  CHECK(memcmp(buf + 2, "CDEFG", 6) == 0);
  CHECK_EQ(authenticate(rt, "token", "x", &principal, buf, sizeof buf),
           FLYQ_ERR_AUTH);
  CHECK_STR(buf, "***");
  CHECK_EQ(authenticate(rt, "token", "s3cr3t-token", &principal, buf,
                        sizeof buf), FLYQ_ERR_AUTH);
  CHECK_STR(buf, "***"); /* "s3cr3t-", cut, then hidden */
  pt_done(rt);
}

TEST(authorize_allows_denies_and_abstains) {
  flyq_plugins_t *rt = auth_runtime("{ " TOKENS ", 'admins' }");
  CHECK_OK(flyq_plugins_authorize(rt, "alice", FLYQ_ACTION_PRODUCE, "topic:orders"));
  CHECK_EQ(flyq_plugins_authorize(rt, "alice", FLYQ_ACTION_DELETE_TOPIC,
                                  "topic:orders"), FLYQ_ERR_DENIED);
  /* tokens abstains, admins abstains: nobody allows */
  CHECK_EQ(flyq_plugins_authorize(rt, "alice", FLYQ_ACTION_FETCH, "topic:orders"),
           FLYQ_ERR_DENIED);
  CHECK_EQ(flyq_plugins_authorize(rt, NULL, FLYQ_ACTION_DESCRIBE, "cluster"),
           FLYQ_ERR_DENIED);
  /* tokens abstains, admins allows */
  CHECK_OK(flyq_plugins_authorize(rt, "admin", FLYQ_ACTION_ADMIN, "cluster"));
  /* one call per hook asked: tokens each time, admins after it abstained */
  CHECK_EQ(pt_stats(rt, "tokens")->calls, 5);
  CHECK_EQ(pt_stats(rt, "admins")->calls, 3);
  pt_done(rt);
}

TEST(failing_auth_hooks_deny) {
  flyq_plugins_t *rt = auth_runtime("{ 'broken', " TOKENS ", 'admins' }");
  char *principal = NULL, reason[128];
  const flyq_plugin_stats_t *st;
  /* a later hook would allow: the failure still denies */
  CHECK_EQ(flyq_plugins_authorize(rt, "alice", FLYQ_ACTION_PRODUCE,
                                  "topic:orders"), FLYQ_ERR_DENIED);
  CHECK_EQ(flyq_plugins_authorize(rt, "admin", FLYQ_ACTION_ADMIN, "cluster"),
           FLYQ_ERR_DENIED); /* answered "yes", which is no answer */
  CHECK_EQ(authenticate(rt, "token", "s3cret", &principal, reason, sizeof reason),
           FLYQ_ERR_AUTH);
  CHECK(principal == NULL);
  CHECK_HAS(reason, "plugin broken failed");
  st = pt_stats(rt, "broken");
  CHECK_EQ(st->errors, 3);
  CHECK_EQ(st->calls, 3); /* a failed call is a call */
  CHECK_HAS(st->last_error, "broken.lua:2: auth backend down (authenticate)");
  pt_done(rt);
  rt = auth_runtime("{ " TOKENS ", 'admins' }");
  CHECK_OK(flyq_plugins_authorize(rt, "alice", FLYQ_ACTION_PRODUCE, "topic:orders"));
  pt_done(rt);
}

TEST(without_auth_hooks) {
  flyq_plugins_t *rt = auth_runtime("{ 'admins' }");
  char *principal = NULL, reason[128];
  CHECK_EQ(flyq_plugins_has_auth(rt), 0);
  CHECK_EQ(authenticate(rt, "token", "x", &principal, reason, sizeof reason),
           FLYQ_ERR_UNSUPPORTED);
  pt_done(rt);
  rt = pt_open("return {}");
  CHECK_OK(flyq_plugins_authorize(rt, "anyone", FLYQ_ACTION_ADMIN, "cluster"));
  pt_done(rt);
}

/* ---- Partitioners --------------------------------------------------------- */

static const char *const keyed[] = {"alpha", "1", "beta", "2", "gamma", "3",
                                    "delta", "4", NULL, "5", "epsilon", "6"};
static const char *const unkeyed[] = {NULL, "1", NULL, "2", NULL, "3", NULL, "4"};

/* Partitions n records of kv on topic over np partitions into parts. */
static int place(flyq_plugins_t *rt, const char *topic, const char *const *kv,
                 size_t n, int32_t np, int32_t *parts, char *err, size_t errlen) {
  size_t len, got = 0;
  uint8_t *buf = pt_batch(kv, n, &len);
  int rc = flyq_plugins_partition(rt, topic, NULL, buf, len, np, parts, 16,
                                  &got, err, errlen);
  free(buf);
  if (rc == 0) CHECK_EQ(got, n);
  return rc;
}

static flyq_plugins_t *partitioners(void) {
  pt_write("bylen.lua",
           "return { name = 'bylen', partition = function(r, n, ctx)\n"
           "  if r.key == 'bad' then return n end\n"
           "  if r.key == 'float' then return 0.5 end\n"
           "  if r.key == 'int' then return 1.0 end\n"
           "  if r.key == 'loop' then while true do end end\n"
           "  return #r.key % n\n"
           "end }\n");
  return pt_open(
      "return { plugin_path = {DIR}, topics = {\n"
      "  hashed = { partitioner = 'key_hash' },\n"
      "  rr = { partitioner = 'round_robin' },\n"
      "  sticky = { partitioner = 'sticky' },\n"
      "  lua = { partitioner = 'bylen' },\n"
      "  lenient = { partitioner = 'bylen', on_error = 'pass' },\n"
      "  inline = { partitioner = function(record, n) return n - 1 end },\n"
      "} }\n");
}

TEST(key_hash_is_kafkas) {
  flyq_plugins_t *rt = partitioners();
  int32_t parts[16];
  char err[256];
  CHECK_EQ(flyq_plugins_partitioner(rt, "hashed"), FLYQ_PARTITIONER_KEY_HASH);
  CHECK_EQ(flyq_plugins_partitioner(rt, "undeclared"), FLYQ_PARTITIONER_DEFAULT);
  for (int t = 0; t < 2; t++) {
    CHECK_OK(place(rt, t ? "undeclared" : "hashed", keyed, 6, 7, parts, err,
                   sizeof err));
    for (size_t i = 0; i < 6; i++) {
      if (keyed[2 * i] == NULL) continue;
      CHECK_EQ(parts[i], flyq_partition_for_key(keyed[2 * i],
                                                strlen(keyed[2 * i]), 7));
    }
    CHECK(parts[4] >= 0 && parts[4] < 7);
  }
  pt_done(rt);
}

TEST(round_robin_cycles) {
  flyq_plugins_t *rt = partitioners();
  int32_t parts[16];
  char err[256];
  CHECK_OK(place(rt, "rr", keyed, 6, 4, parts, err, sizeof err));
  for (size_t i = 0; i < 6; i++) CHECK_EQ(parts[i], (int32_t)(i % 4));
  CHECK_OK(place(rt, "rr", keyed, 2, 4, parts, err, sizeof err));
  CHECK_EQ(parts[0], 2); /* it goes on where the last call stopped */
  CHECK_EQ(parts[1], 3);
  pt_done(rt);
}

TEST(sticky_keeps_a_batch_on_one_partition) {
  flyq_plugins_t *rt = partitioners();
  int32_t parts[16], first;
  char err[256];
  CHECK_OK(place(rt, "sticky", unkeyed, 4, 5, parts, err, sizeof err));
  first = parts[0];
  for (size_t i = 1; i < 4; i++) CHECK_EQ(parts[i], first);
  CHECK_OK(place(rt, "sticky", unkeyed, 4, 5, parts, err, sizeof err));
  CHECK(parts[0] != first); /* the next batch moves on */
  for (size_t i = 1; i < 4; i++) CHECK_EQ(parts[i], parts[0]);
  CHECK_OK(place(rt, "sticky", keyed, 1, 5, parts, err, sizeof err));
  CHECK_EQ(parts[0], flyq_partition_for_key("alpha", 5, 5));
  pt_done(rt);
}

TEST(lua_partitioners) {
  flyq_plugins_t *rt = partitioners();
  int32_t parts[16];
  char err[256];
  const char *bad[] = {"ok", "v", "bad", "v"};
  const char *flt[] = {"float", "v"};
  const char *one[] = {"int", "v"};
  CHECK_EQ(flyq_plugins_partitioner(rt, "lua"), FLYQ_PARTITIONER_PLUGIN);
  CHECK_OK(place(rt, "lua", keyed, 4, 3, parts, err, sizeof err));
  CHECK_EQ(parts[0], 2); /* #"alpha" % 3 */
  CHECK_EQ(parts[1], 1);
  CHECK_EQ(parts[3], 2);
  CHECK_OK(place(rt, "lua", one, 1, 3, parts, err, sizeof err));
  CHECK_EQ(parts[0], 1);
  CHECK_EQ(place(rt, "lua", bad, 2, 3, parts, err, sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "plugin bylen: returned 3 (expected an integer from 0 to 2) "
                 "(partition, record 2)");
  CHECK_EQ(place(rt, "lua", flt, 1, 3, parts, err, sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "returned 0.5 (expected an integer from 0 to 2)");
  /* on_error pass: the failed record gets the key_hash placement */
  CHECK_OK(place(rt, "lenient", bad, 2, 3, parts, err, sizeof err));
  CHECK_EQ(parts[0], 2);
  CHECK_EQ(parts[1], flyq_partition_for_key("bad", 3, 3));
  CHECK_EQ(pt_stats(rt, "bylen")->errors, 3);
  pt_done(rt);
}

/* The limit breaker (FLYQ__LIMIT_TRIP) for partitioners: after three
 * records of a request hit the time limit, the rest are not run and get
 * the key_hash placement, the one that would have worked included. */
TEST(a_partitioner_that_keeps_hitting_limits_is_cut_short) {
  flyq_plugins_t *rt = partitioners();
  int32_t parts[16];
  char err[256];
  const char *kv[] = {"loop", "v", "loop", "v", "loop", "v",
                      "loop", "v", "loop", "v", "abcd", "v"};
  CHECK_OK(place(rt, "lenient", kv, 6, 3, parts, err, sizeof err));
  for (size_t i = 0; i < 6; i++)
    CHECK_EQ(parts[i], flyq_partition_for_key(kv[2 * i], 4, 3));
  CHECK(flyq_partition_for_key("abcd", 4, 3) != 4 % 3); /* not bylen's */
  CHECK_EQ(pt_stats(rt, "bylen")->errors, 6);
  CHECK_EQ(pt_stats(rt, "bylen")->calls, 3); /* the hook ran on 3 records */
  CHECK_HAS(pt_stats(rt, "bylen")->last_error,
            "not run: partition hit a plugin limit 3 times in this request "
            "(partition, record 6)");
  CHECK_OK(place(rt, "lenient", kv + 10, 1, 3, parts, err, sizeof err));
  CHECK_EQ(parts[0], 1); /* the next request runs the hook: #"abcd" % 3 */
  pt_done(rt);
}

TEST(inline_partitioner_functions) {
  flyq_plugins_t *rt = partitioners();
  int32_t parts[16];
  char err[256];
  CHECK_EQ(flyq_plugins_partitioner(rt, "inline"), FLYQ_PARTITIONER_PLUGIN);
  CHECK_OK(place(rt, "inline", keyed, 6, 9, parts, err, sizeof err));
  for (size_t i = 0; i < 6; i++) CHECK_EQ(parts[i], 8);
  CHECK_HAS(pt_stats(rt, "inline")->file, "flyq.lua");
  pt_done(rt);
}

TEST_LIST(TEST_ENTRY(authenticate_finds_the_principal)
          TEST_ENTRY(hidden_credentials_fit_the_reason_buffer)
          TEST_ENTRY(authorize_allows_denies_and_abstains)
          TEST_ENTRY(failing_auth_hooks_deny)
          TEST_ENTRY(without_auth_hooks)
          TEST_ENTRY(key_hash_is_kafkas)
          TEST_ENTRY(round_robin_cycles)
          TEST_ENTRY(sticky_keeps_a_batch_on_one_partition)
          TEST_ENTRY(lua_partitioners)
          TEST_ENTRY(a_partitioner_that_keeps_hitting_limits_is_cut_short)
          TEST_ENTRY(inline_partitioner_functions));
