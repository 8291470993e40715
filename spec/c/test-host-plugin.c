/* The plugin runtime's on_produce and on_consume (include/flyq/plugins.h):
 * unchanged batches kept as they are, changed records rebuilt, drops,
 * fan-out, routing, lazy field access, hook chains, on_error, params
 * schemas, consumer filters, and building a new runtime after a broken one
 * (hot reload). Limits and the sandbox: test-host-plugin-sandbox.c; auth
 * and partitioners: test-host-plugin-auth.c.
 */
#include "test-host-plugin.h"

static const char *const abc[] = {"a", "x", "b", "y", "c", "z"};

static const char same_lua[] =
    "return {\n"
    "  name = 'same',\n"
    "  on_produce = function(record, ctx)\n"
    "    local _ = record.key, record.value, record.headers, record.timestamp\n"
    "    return record\n"
    "  end,\n"
    "}\n";

static const char upper_lua[] =
    "return {\n"
    "  name = 'upper',\n"
    "  on_produce = function(record)\n"
    "    record.value = record.value:upper()\n"
    "    return record\n"
    "  end,\n"
    "}\n";

/* A runtime whose topic "orders" runs the on_produce plugins hooks (a Lua
 * list) with on_error. */
static flyq_plugins_t *with_hooks(const char *hooks, const char *on_error) {
  char config[1024];
  snprintf(config, sizeof config,
           "return { plugin_path = { DIR }, topics = { orders = {\n"
           "  partitions = 3, on_produce = %s, on_error = '%s' } } }\n",
           hooks, on_error);
  return pt_open(config);
}

/* Runs on_produce over abc on orders (request partition part). */
static int produce(flyq_plugins_t *rt, int32_t part, flyq_plugins_output_t *out,
                   char *err, size_t errlen) {
  size_t len;
  uint8_t *buf = pt_batch(abc, 3, &len);
  int rc = flyq_plugins_on_produce(rt, "orders", part, "alice", buf, len, out,
                                   err, errlen);
  free(buf);
  return rc;
}

TEST(returning_the_record_keeps_the_batch) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[256];
  size_t len;
  uint8_t *buf = pt_batch(abc, 3, &len), *copy = malloc(len);
  pt_write("same.lua", same_lua);
  rt = with_hooks("{'same'}", "reject");
  memcpy(copy, buf, len);
  CHECK_OK(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out, err,
                                   sizeof err));
  CHECK_EQ(out.unchanged, 1);
  CHECK_EQ(out.nbatches, 0);
  CHECK(out.batches == NULL);
  CHECK_EQ(out.records_in, 3);
  CHECK_EQ(out.records_out, 3);
  CHECK_EQ(out.dropped, 0);
  CHECK_MEM(buf, copy, len); /* the input was only read */
  CHECK_EQ(pt_stats(rt, "same")->calls, 3);
  CHECK_EQ(pt_stats(rt, "same")->batches, 1); /* one Lua call per batch */
  flyq_plugins_output_free(&out);
  free(buf);
  free(copy);
  pt_done(rt);
}

TEST(topic_without_hooks_is_unchanged_without_a_call) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  size_t len;
  uint8_t *buf = pt_batch(abc, 3, &len);
  pt_write("same.lua", same_lua);
  rt = with_hooks("{'same'}", "reject");
  CHECK_EQ(flyq_plugins_has_on_produce(rt, "orders"), 1);
  CHECK_EQ(flyq_plugins_has_on_produce(rt, "other"), 0);
  CHECK_OK(flyq_plugins_on_produce(rt, "other", -1, NULL, buf, len, &out, NULL, 0));
  CHECK_EQ(out.unchanged, 1);
  CHECK_EQ(pt_stats(rt, "same")->batches, 0);
  free(buf);
  pt_done(rt);
}

TEST(changing_the_value_rebuilds) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[256], h[32];
  pt_write("upper.lua", upper_lua);
  rt = with_hooks("'upper'", "reject");
  CHECK_OK(produce(rt, 2, &out, err, sizeof err));
  CHECK_EQ(out.unchanged, 0);
  CHECK_EQ(out.nbatches, 1);
  CHECK(strcmp(out.batches[0].topic, "orders") == 0);
  CHECK_EQ(out.batches[0].partition, 2); /* the request's partition */
  CHECK_EQ(out.batches[0].records, 3);
  CHECK_EQ(pt_count(out.batches[0].data, out.batches[0].len), 3);
  for (size_t i = 0; i < 3; i++) {
    char want[2] = {(char)('X' + i), '\0'};
    pt_record(out.batches[0].data, out.batches[0].len, i, &rec);
    CHECK(pt_is(rec.key, rec.key_len, abc[2 * i]));
    CHECK(pt_is(rec.value, rec.value_len, want));
    CHECK_EQ(rec.timestamp, 1000 + (int64_t)i);
    snprintf(want, sizeof want, "%zu", i);
    CHECK(strcmp(pt_header(&rec, "h", h, sizeof h) + 1, want) == 0);
  }
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST(nil_drops_the_record) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[256];
  pt_write("dropper.lua",
           "return { name = 'dropper', on_produce = function(r)\n"
           "  if r.key == 'b' then return nil end\n"
           "  return r\n"
           "end }\n");
  rt = with_hooks("{'dropper'}", "reject");
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  CHECK_EQ(out.unchanged, 0);
  CHECK_EQ(out.dropped, 1);
  CHECK_EQ(out.records_out, 2);
  CHECK_EQ(out.nbatches, 1);
  CHECK_EQ(out.batches[0].partition, -1);
  pt_record(out.batches[0].data, out.batches[0].len, 1, &rec);
  CHECK(pt_is(rec.key, rec.key_len, "c"));
  CHECK_EQ(pt_count(out.batches[0].data, out.batches[0].len), 2);
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST(a_list_fans_out) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[256];
  pt_write("fan.lua",
           "return { name = 'fan', on_produce = function(r)\n"
           "  return { r, { key = r.key, value = 'copy of ' .. r.value,\n"
           "                headers = { kind = 'copy', none = false } } }\n"
           "end }\n");
  rt = with_hooks("{'fan'}", "reject");
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  CHECK_EQ(out.records_out, 6);
  CHECK_EQ(out.nbatches, 1);
  CHECK_EQ(pt_count(out.batches[0].data, out.batches[0].len), 6);
  pt_record(out.batches[0].data, out.batches[0].len, 2, &rec);
  CHECK(pt_is(rec.key, rec.key_len, "b"));
  CHECK(pt_is(rec.value, rec.value_len, "y"));
  pt_record(out.batches[0].data, out.batches[0].len, 3, &rec);
  CHECK(pt_is(rec.value, rec.value_len, "copy of y"));
  CHECK_EQ(rec.timestamp, 1001); /* a new record takes its source's time */
  CHECK_EQ(rec.header_count, 2);
  {
    char h[32];
    CHECK(strcmp(pt_header(&rec, "kind", h, sizeof h), "copy") == 0);
    CHECK(strcmp(pt_header(&rec, "none", h, sizeof h), "(null)") == 0);
  }
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST(record_topic_routes) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[256];
  pt_write("router.lua",
           "return { name = 'router', on_produce = function(r, ctx)\n"
           "  if r.key == 'b' then r.topic = 'audit' end\n"
           "  if r.key == 'c' then r.topic = 'audit'; r.partition = 4 end\n"
           "  if r.key == 'x' then r.topic = 'bad/name' end\n"
           "  return r\n"
           "end }\n");
  rt = with_hooks("{'router'}", "reject");
  CHECK_OK(produce(rt, 1, &out, err, sizeof err));
  CHECK_EQ(out.nbatches, 3);
  CHECK(strcmp(out.batches[0].topic, "orders") == 0);
  CHECK_EQ(out.batches[0].partition, 1);
  CHECK_EQ(out.batches[0].records, 1);
  CHECK(strcmp(out.batches[1].topic, "audit") == 0);
  CHECK_EQ(out.batches[1].partition, -1); /* the audit topic's partitioner */
  pt_record(out.batches[1].data, out.batches[1].len, 0, &rec);
  CHECK(pt_is(rec.key, rec.key_len, "b"));
  CHECK(pt_is(rec.value, rec.value_len, "y")); /* otherwise unchanged */
  CHECK(strcmp(out.batches[2].topic, "audit") == 0);
  CHECK_EQ(out.batches[2].partition, 4);
  flyq_plugins_output_free(&out);
  {
    const char *kv[] = {"x", "1"};
    size_t len;
    uint8_t *buf = pt_batch(kv, 1, &len);
    CHECK_EQ(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out,
                                     err, sizeof err), FLYQ_ERR_PLUGIN);
    CHECK_HAS(err, "invalid topic name \"bad/name\"");
    free(buf);
  }
  pt_done(rt);
}

TEST(fields_are_pushed_only_when_read) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[256];
  pt_write("keys.lua",
           "return { name = 'keys', on_produce = function(r, ctx)\n"
           "  ctx.state.seen = (ctx.state.seen or 0) + #r.key + #r.key\n"
           "  return r\n"
           "end }\n");
  pt_write("values.lua",
           "return { name = 'values', on_produce = function(r, ctx)\n"
           "  if r.value == 'nothing' then return nil end\n"
           "  return r\n"
           "end }\n");
  rt = with_hooks("{'keys', 'values'}", "reject");
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  CHECK_EQ(out.unchanged, 1);
  CHECK_EQ(pt_stats(rt, "keys")->keys_pushed, 6); /* each read: 2 x 3 */
  CHECK_EQ(pt_stats(rt, "keys")->values_pushed, 0);
  CHECK_EQ(pt_stats(rt, "keys")->headers_pushed, 0);
  CHECK_EQ(pt_stats(rt, "values")->values_pushed, 3);
  CHECK_EQ(pt_stats(rt, "values")->keys_pushed, 0);
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST(reading_headers_keeps_the_batch) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[256];
  pt_write("hdr.lua",
           "return { name = 'hdr', on_produce = function(r)\n"
           "  if r.headers.h == 'v1' and r.key == 'b' then return r end\n"
           "  if r.key ~= 'b' then return r end\n"
           "  error('headers not seen')\n"
           "end }\n");
  pt_write("hdrset.lua",
           "return { name = 'hdrset', on_produce = function(r)\n"
           "  r.headers.added = 'yes'\n"
           "  return r\n"
           "end }\n");
  rt = with_hooks("{'hdr'}", "reject");
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  CHECK_EQ(out.unchanged, 1);
  CHECK_EQ(pt_stats(rt, "hdr")->headers_pushed, 3);
  pt_done(rt);
  rt = with_hooks("{'hdrset'}", "reject"); /* changed in place: rebuilt */
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  CHECK_EQ(out.unchanged, 0);
  {
    flyq_record_t rec;
    char h[32];
    pt_record(out.batches[0].data, out.batches[0].len, 2, &rec);
    CHECK(strcmp(pt_header(&rec, "added", h, sizeof h), "yes") == 0);
    CHECK(strcmp(pt_header(&rec, "h", h, sizeof h), "v2") == 0);
  }
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST(repeated_header_names_survive_a_read) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_batch_builder_t b;
  flyq_record_header_t h[3] = {{(const uint8_t *)"h", 1, (const uint8_t *)"1", 1},
                               {(const uint8_t *)"n", 1, NULL, -1},
                               {(const uint8_t *)"h", 1, (const uint8_t *)"2", 1}};
  const uint8_t *data;
  size_t len;
  char err[256];
  pt_write("dup.lua",
           "return { name = 'dup', on_produce = function(r)\n"
           "  if r.headers.h ~= '2' or r.headers.n ~= false then error('no') end\n"
           "  if r.key == 'change' then r.headers.h = '3' end\n"
           "  return r\n"
           "end }\n");
  rt = with_hooks("{'dup'}", "reject");
  flyq_batch_builder_init(&b);
  CHECK_OK(flyq_batch_builder_add(&b, 1, "same", 4, "v", 1, h, 3));
  CHECK_OK(flyq_batch_builder_finish(&b, &data, &len));
  CHECK_OK(flyq_plugins_on_produce(rt, "orders", -1, NULL, data, len, &out, err,
                                   sizeof err));
  CHECK_EQ(out.unchanged, 1); /* both h headers stay */
  flyq_batch_builder_reset(&b);
  CHECK_OK(flyq_batch_builder_add(&b, 1, "change", 6, "v", 1, h, 3));
  CHECK_OK(flyq_batch_builder_finish(&b, &data, &len));
  CHECK_OK(flyq_plugins_on_produce(rt, "orders", -1, NULL, data, len, &out, err,
                                   sizeof err));
  CHECK_EQ(out.unchanged, 0);
  {
    flyq_record_t rec;
    char v[32];
    pt_record(out.batches[0].data, out.batches[0].len, 0, &rec);
    CHECK_EQ(rec.header_count, 2); /* as the table says, sorted by name */
    CHECK_STR(pt_header(&rec, "h", v, sizeof v), "3");
    CHECK_STR(pt_header(&rec, "n", v, sizeof v), "(null)");
  }
  flyq_plugins_output_free(&out);
  flyq_batch_builder_free(&b);
  pt_done(rt);
}

TEST(hooks_chain_in_order) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[256];
  pt_write("upper.lua", upper_lua);
  pt_write("onlyupper.lua",
           "return { name = 'onlyupper', on_produce = function(r)\n"
           "  if r.value ~= r.value:upper() then error('not upper yet') end\n"
           "  if r.value == 'Y' then return nil end\n"
           "  r.key = r.key .. '!'\n"
           "  return r\n"
           "end }\n");
  rt = with_hooks("{'upper', 'onlyupper'}", "reject");
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  CHECK_EQ(out.records_out, 2);
  CHECK_EQ(out.dropped, 1);
  pt_record(out.batches[0].data, out.batches[0].len, 1, &rec);
  CHECK(pt_is(rec.key, rec.key_len, "c!"));
  CHECK(pt_is(rec.value, rec.value_len, "Z"));
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST(records_do_not_outlive_their_call) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[512];
  pt_write("keeper.lua",
           "return { name = 'keeper', on_produce = function(r, ctx)\n"
           "  if r.key == 'a' then\n"
           "    if ctx.state.old then local _ = ctx.state.old.value end\n"
           "    ctx.state.old = r\n"
           "  end\n"
           "  return r\n"
           "end }\n");
  rt = with_hooks("{'keeper'}", "reject");
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  flyq_plugins_output_free(&out);
  CHECK_EQ(produce(rt, -1, &out, err, sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "keeper.lua:3: record used after the call that received it ended");
  pt_done(rt);
}

static const char failing_lua[] =
    "return { name = 'failing', on_produce = function(r)\n"
    "  r.value = r.value .. '!'\n"
    "  if r.key == 'b' then\n"
    "    error('cannot handle ' .. r.key)\n"
    "  end\n"
    "  return r\n"
    "end }\n";

TEST(on_error_reject_fails_the_batch) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[512];
  const flyq_plugin_stats_t *st;
  pt_write("failing.lua", failing_lua);
  rt = with_hooks("{'failing'}", "reject");
  CHECK_EQ(produce(rt, -1, &out, err, sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "plugin failing: ");
  CHECK_HAS(err, "failing.lua:4: cannot handle b (on_produce, record 2)");
  CHECK_EQ(out.nbatches, 0);
  CHECK_EQ(out.unchanged, 0);
  st = pt_stats(rt, "failing");
  CHECK_EQ(st->errors, 1);
  CHECK_EQ(st->calls, 2); /* the batch stopped at b: c's hook never ran */
  CHECK(st->last_error != NULL);
  CHECK_HAS(st->last_error, "cannot handle b");
  pt_done(rt);
}

TEST(on_error_pass_stores_the_record_unchanged) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[512];
  pt_write("failing.lua", failing_lua);
  rt = with_hooks("{'failing'}", "pass");
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  CHECK_EQ(out.failed, 1);
  CHECK_EQ(out.records_out, 3);
  CHECK_EQ(out.dead_letters, 0);
  CHECK_EQ(out.nbatches, 1);
  pt_record(out.batches[0].data, out.batches[0].len, 0, &rec);
  CHECK(pt_is(rec.value, rec.value_len, "x!"));
  pt_record(out.batches[0].data, out.batches[0].len, 1, &rec);
  CHECK(pt_is(rec.value, rec.value_len, "y")); /* as it came */
  CHECK_EQ(pt_stats(rt, "failing")->errors, 1);
  CHECK_EQ(pt_stats(rt, "failing")->calls, 3); /* the loop went on after b */
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST(on_error_dead_letter_sends_the_original) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[512], h[512];
  pt_write("upper.lua", upper_lua);
  pt_write("failing.lua", failing_lua);
  rt = with_hooks("{'upper', 'failing'}", "dead_letter");
  CHECK_OK(produce(rt, -1, &out, err, sizeof err));
  CHECK_EQ(out.failed, 1);
  CHECK_EQ(out.dead_letters, 1);
  CHECK_EQ(out.nbatches, 2);
  CHECK_EQ(out.batches[0].records, 2);
  CHECK(strcmp(out.batches[1].topic, "orders.dlq") == 0);
  CHECK_EQ(out.batches[1].partition, -1);
  CHECK_EQ(out.batches[1].records, 1);
  pt_record(out.batches[1].data, out.batches[1].len, 0, &rec);
  CHECK(pt_is(rec.key, rec.key_len, "b"));
  CHECK(pt_is(rec.value, rec.value_len, "y")); /* the original, not "Y" */
  CHECK(strcmp(pt_header(&rec, "h", h, sizeof h), "v1") == 0);
  CHECK_HAS(pt_header(&rec, "flyq.error", h, sizeof h),
            "failing.lua:4: cannot handle b");
  flyq_plugins_output_free(&out);
  pt_done(rt);
}

TEST(params_are_checked_against_the_schema) {
  flyq_plugins_t *rt = NULL;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[256];
  pt_write("tag.lua",
           "return { name = 'tag',\n"
           "  schema = {\n"
           "    token = { type = 'string', required = true },\n"
           "    header = { type = 'string', default = 'x-tag' },\n"
           "    limits = { type = 'table', fields = {\n"
           "      rate = { type = 'number', required = true } } },\n"
           "    count = { type = 'integer', min = 1 },\n"
           "  },\n"
           "  init = function(params, ctx) ctx.state.n = params.count end,\n"
           "  on_produce = function(r, ctx)\n"
           "    r.headers = { [ctx.params.header] = ctx.params.token ..\n"
           "                  math.type(ctx.state.n) }\n"
           "    return r\n"
           "  end }\n");
  CHECK_EQ(pt_runtime("return { plugin_path = {DIR}, topics = { t = {\n"
                      "  on_produce = { plugin = 'tag', params = {\n"
                      "    token = 's', limits = { rate = 'fast' } } } } } }",
                      &rt), FLYQ_ERR_CONFIG);
  CHECK_HAS(pt_err, "plugin tag: params.limits.rate: expected number, got \"fast\"");
  CHECK(rt == NULL);
  CHECK_EQ(pt_runtime("return { plugin_path = {DIR}, topics = { t = {\n"
                      "  on_produce = { plugin = 'tag', params = {} } } } }",
                      &rt), FLYQ_ERR_CONFIG);
  CHECK_HAS(pt_err, "params.token: required");
  CHECK_EQ(pt_runtime("return { plugin_path = {DIR}, topics = { t = {\n"
                      "  on_produce = { plugin = 'tag', params = {\n"
                      "    token = 's', tokn = 1 } } } } }", &rt),
           FLYQ_ERR_CONFIG);
  CHECK_HAS(pt_err, "params.tokn: unknown key (did you mean \"token\"?)");
  rt = pt_open("return { plugin_path = {DIR}, topics = { t = {\n"
               "  on_produce = { plugin = 'tag', params = {\n"
               "    token = 's', count = 3.0 } } } } }");
  {
    size_t len;
    uint8_t *buf = pt_batch(abc, 1, &len);
    char h[32];
    CHECK_OK(flyq_plugins_on_produce(rt, "t", -1, NULL, buf, len, &out, err,
                                     sizeof err));
    pt_record(out.batches[0].data, out.batches[0].len, 0, &rec);
    CHECK(strcmp(pt_header(&rec, "x-tag", h, sizeof h), "sinteger") == 0);
    CHECK_EQ(rec.header_count, 1);
    flyq_plugins_output_free(&out);
    free(buf);
  }
  pt_done(rt);
}

TEST(bad_plugins_are_config_errors) {
  flyq_plugins_t *rt = NULL;
  pt_write("same.lua", same_lua);
  pt_write("noname.lua", "return { on_produce = function(r) return r end }");
  CHECK_EQ(pt_runtime("return { plugin_path = {DIR}, topics = { t = {\n"
                      "  on_consume = 'same' } } }", &rt), FLYQ_ERR_CONFIG);
  /* A single plugin is named by the key the file wrote, not as a list. */
  CHECK_HAS(pt_err, "topics.t.on_consume: plugin same has no on_consume hook");
  CHECK_EQ(pt_runtime("return { plugin_path = {DIR}, topics = {\n"
                      "  ['a-b'] = { on_consume = { 'same' } } } }", &rt),
           FLYQ_ERR_CONFIG);
  CHECK_HAS(pt_err,
            "topics[\"a-b\"].on_consume[1]: plugin same has no on_consume");
  CHECK_EQ(pt_runtime("return { plugin_path = {DIR}, auth = {\n"
                      "  plugin = 'same' } }", &rt), FLYQ_ERR_CONFIG);
  CHECK_HAS(pt_err, "auth: plugin same has no authenticate or authorize hook");
  CHECK_EQ(pt_runtime("return { plugin_path = {DIR, DIR .. '/x'}, topics = {\n"
                      "  t = { on_produce = 'nope' } } }", &rt),
           FLYQ_ERR_NOT_FOUND);
  CHECK_HAS(pt_err, "plugin nope: no nope.lua on plugin_path (");
  CHECK_EQ(pt_runtime("return { plugin_path = {DIR}, topics = { t = {\n"
                      "  on_produce = 'noname' } } }", &rt), FLYQ_ERR_CONFIG);
  CHECK_HAS(pt_err, "plugin noname: name: expected 1 to 128 letters, digits, "
            "\"_\" and \"-\", got nil");
  CHECK(rt == NULL);
}

TEST(a_broken_plugin_leaves_the_old_runtime_working) {
  flyq_plugins_t *old, *fresh = NULL;
  flyq_plugins_output_t out;
  char err[256];
  const char *config = "return { plugin_path = {DIR}, topics = {\n"
                       "  orders = { on_produce = 'upper' } } }";
  pt_write("upper.lua", upper_lua);
  old = pt_open(config);
  pt_write("upper.lua", "return { name = 'upper',\n  on_produce = function(r)\n"
                        "    return r +\n  end }\n");
  CHECK_EQ(pt_runtime(config, &fresh), FLYQ_ERR_PLUGIN);
  CHECK_HAS(pt_err, "plugin upper: ");
  CHECK_HAS(pt_err, "upper.lua:4: unexpected symbol near 'end'");
  CHECK(fresh == NULL);
  pt_write("upper.lua", "return { name = 'upper', init = function()\n"
                        "  error('init says no') end,\n"
                        "  on_produce = function(r) return r end }\n");
  CHECK_EQ(pt_runtime(config, &fresh), FLYQ_ERR_PLUGIN);
  CHECK_HAS(pt_err, "upper.lua:2: init says no");
  CHECK_OK(produce(old, -1, &out, err, sizeof err)); /* still in place */
  CHECK_EQ(out.unchanged, 0);
  flyq_plugins_output_free(&out);
  pt_write("upper.lua", "return { name = 'upper', on_produce = function(r)\n"
                        "  return nil end }\n");
  CHECK_OK(pt_runtime(config, &fresh)); /* the fixed file */
  flyq_plugins_free(old);
  CHECK_OK(produce(fresh, -1, &out, err, sizeof err));
  CHECK_EQ(out.dropped, 3);
  CHECK_EQ(out.nbatches, 0);
  pt_done(fresh);
}

/* ---- on_consume --------------------------------------------------------- */

static const char grep_lua[] =
    "return { name = 'grep',\n"
    "  schema = { pattern = { type = 'string', required = true } },\n"
    "  on_consume = function(r, ctx)\n"
    "    if not r.value:find(ctx.params.pattern) then return nil end\n"
    "    if r.offset == 102 then r.value = r.value .. '@' .. ctx.topic end\n"
    "    return r\n"
    "  end }\n";

TEST(consumer_filters_keep_offsets) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[256];
  const char *kv[] = {"k0", "apple", "k1", "pear", "k2", "apricot", "k3", "fig"};
  size_t len;
  uint8_t *buf = pt_batch(kv, 4, &len);
  flyq_batch_set_base_offset(buf, 100);
  pt_write("grep.lua", grep_lua);
  rt = pt_open("return { plugin_path = {DIR} }");
  CHECK_OK(flyq_plugins_on_consume(rt, "grep", "{\"pattern\": \"^ap\"}", "fruit",
                                   0, 0, NULL, buf, len, &out, err,
                                   sizeof err));
  CHECK_EQ(out.records_out, 2);
  CHECK_EQ(out.dropped, 2);
  CHECK_EQ(out.next_offset, 104);
  CHECK_EQ(out.nbatches, 1);
  CHECK(strcmp(out.batches[0].topic, "fruit") == 0);
  CHECK_EQ(out.batches[0].partition, 0);
  pt_record(out.batches[0].data, out.batches[0].len, 0, &rec);
  CHECK_EQ(rec.offset, 100);
  CHECK(pt_is(rec.value, rec.value_len, "apple"));
  pt_record(out.batches[0].data, out.batches[0].len, 1, &rec);
  CHECK_EQ(rec.offset, 102); /* a batch of its own: the offsets have a gap */
  CHECK(pt_is(rec.value, rec.value_len, "apricot@fruit"));
  flyq_plugins_output_free(&out);
  /* The same name and params: the cached instance. */
  CHECK_OK(flyq_plugins_on_consume(rt, "grep", "{\"pattern\": \"^ap\"}", "fruit",
                                   0, 0, NULL, buf, len, &out, err,
                                   sizeof err));
  CHECK_EQ(pt_stats(rt, "grep")->batches, 2);
  flyq_plugins_output_free(&out);
  free(buf);
  pt_done(rt);
}

/* The stored batches of a fetch may start before the fetch offset: the
 * records below it go neither through the hooks nor out. */
TEST(consumer_filters_start_at_the_fetch_offset) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_record_t rec;
  char err[256];
  const char *kv[] = {"k0", "apple", "k1", "pear", "k2", "apricot", "k3", "fig"};
  const char *kv2[] = {"k4", "avocado"};
  size_t len1, len2;
  uint8_t *b1 = pt_batch(kv, 4, &len1), *b2 = pt_batch(kv2, 1, &len2);
  uint8_t *buf = malloc(len1 + len2);
  CHECK(buf != NULL);
  flyq_batch_set_base_offset(b1, 100);
  flyq_batch_set_base_offset(b2, 104);
  memcpy(buf, b1, len1);
  memcpy(buf + len1, b2, len2);
  pt_write("grep.lua", grep_lua);
  pt_write("boom.lua", "return { name = 'boom', on_consume = function(r)\n"
                       "  if r.value == 'pear' then error('no pears') end\n"
                       "  return r end }\n");
  rt = pt_open("return { plugin_path = {DIR} }");
  CHECK_OK(flyq_plugins_on_consume(rt, "grep", "{\"pattern\": \".\"}", "t",
                                   0, 101, NULL, buf, len1 + len2, &out, err,
                                   sizeof err));
  CHECK_EQ(out.unchanged, 0);
  CHECK_EQ(out.records_in, 4);
  CHECK_EQ(pt_count(out.batches[0].data, out.batches[0].len), 4);
  pt_record(out.batches[0].data, out.batches[0].len, 0, &rec);
  CHECK_EQ(rec.offset, 101);
  CHECK(pt_is(rec.value, rec.value_len, "pear"));
  CHECK_EQ(out.next_offset, 105);
  flyq_plugins_output_free(&out);
  /* Past every record: nothing, and where to go on. */
  CHECK_OK(flyq_plugins_on_consume(rt, "grep", "{\"pattern\": \".\"}", "t",
                                   0, 105, NULL, buf, len1 + len2, &out, err,
                                   sizeof err));
  CHECK_EQ(out.records_in, 0);
  CHECK_EQ(out.nbatches, 0);
  CHECK_EQ(out.next_offset, 105);
  flyq_plugins_output_free(&out);
  /* A failing record is named by its offset, and a fetch after it gets
   * the records after it. */
  CHECK_EQ(flyq_plugins_on_consume(rt, "boom", NULL, "t", 0, 100, NULL, buf,
                                   len1 + len2, &out, err, sizeof err),
           FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "no pears (on_consume, offset 101)");
  CHECK_OK(flyq_plugins_on_consume(rt, "boom", NULL, "t", 0, 102, NULL, buf,
                                   len1 + len2, &out, err, sizeof err));
  CHECK_EQ(pt_count(out.batches[0].data, out.batches[0].len), 3);
  CHECK_EQ(pt_stats(rt, "boom")->errors, 1);
  flyq_plugins_output_free(&out);
  free(buf);
  free(b1);
  free(b2);
  pt_done(rt);
}

/* More distinct filters than the cache holds: each loads, the least
 * recently used one is closed, and comes back fresh when asked again. */
TEST(consumer_filters_beyond_the_cache) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  flyq_plugin_stats_t *stats;
  char err[256], params[64];
  size_t len, n, filters = 0, x0 = 0;
  uint8_t *buf = pt_batch(abc, 3, &len);
  pt_write("grep.lua", grep_lua);
  rt = pt_open("return { plugin_path = {DIR} }");
  for (int i = 0; i < 70; i++) {
    snprintf(params, sizeof params, "{\"pattern\": \"x%d\"}", i);
    CHECK_OK(flyq_plugins_on_consume(rt, "grep", params, "t", 0, 0, NULL, buf,
                                     len, &out, err, sizeof err));
    flyq_plugins_output_free(&out);
    if (i == 40) { /* the first used again: the 2nd to 7th go first */
      CHECK_OK(flyq_plugins_on_consume(rt, "grep", "{\"pattern\": \"x0\"}",
                                       "t", 0, 0, NULL, buf, len, &out, err,
                                       sizeof err));
      flyq_plugins_output_free(&out);
    }
  }
  CHECK_OK(flyq_plugins_stats(rt, &stats, &n));
  for (size_t i = 0; i < n; i++) {
    filters += strcmp(stats[i].name, "grep") == 0;
    if (strcmp(stats[i].params, "{\"pattern\": \"x0\"}") == 0) {
      CHECK_EQ(stats[i].batches, 2); /* kept: recently used */
      x0++;
    }
    CHECK(strcmp(stats[i].params, "{\"pattern\": \"x1\"}") != 0);
  }
  CHECK_EQ(filters, 64);
  CHECK_EQ(x0, 1);
  flyq_plugins_stats_free(stats, n);
  CHECK_OK(flyq_plugins_on_consume(rt, "grep", "{\"pattern\": \"x1\"}", "t",
                                   0, 0, NULL, buf, len, &out, err,
                                   sizeof err));
  flyq_plugins_output_free(&out);
  free(buf);
  pt_done(rt);
}

TEST(consumer_filter_errors) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[256];
  size_t len;
  uint8_t *buf = pt_batch(abc, 3, &len);
  pt_write("grep.lua", grep_lua);
  pt_write("same.lua", same_lua);
  pt_write("route.lua", "return { name = 'route', on_consume = function(r)\n"
                        "  r.topic = 'elsewhere'\n  return r end }\n");
  rt = pt_open("return { plugin_path = {DIR} }");
  CHECK_EQ(flyq_plugins_on_consume(rt, "../grep", NULL, "t", 0, 0, NULL, buf,
                                   len, &out, err, sizeof err),
           FLYQ_ERR_INVALID_NAME);
  CHECK_EQ(flyq_plugins_on_consume(rt, "nope", NULL, "t", 0, 0, NULL, buf, len,
                                   &out, err, sizeof err), FLYQ_ERR_NOT_FOUND);
  CHECK_EQ(flyq_plugins_on_consume(rt, "same", NULL, "t", 0, 0, NULL, buf, len,
                                   &out, err, sizeof err), FLYQ_ERR_CONFIG);
  CHECK_HAS(err, "plugin same has no on_consume hook");
  CHECK_EQ(flyq_plugins_on_consume(rt, "grep", "{}", "t", 0, 0, NULL, buf, len,
                                   &out, err, sizeof err), FLYQ_ERR_CONFIG);
  CHECK_HAS(err, "params.pattern: required");
  CHECK_EQ(flyq_plugins_on_consume(rt, "grep", "{\"pattern\": ", "t", 0, 0,
                                   NULL, buf, len, &out, err, sizeof err),
           FLYQ_ERR_CONFIG);
  CHECK_HAS(err, "plugin grep: params: ");
  CHECK_EQ(flyq_plugins_on_consume(rt, "route", NULL, "t", 0, 0, NULL, buf, len,
                                   &out, err, sizeof err), FLYQ_ERR_PLUGIN);
  CHECK_HAS(err, "route.lua:2: record.topic is read-only in on_consume");
  free(buf);
  pt_done(rt);
}

TEST(bad_input_is_refused) {
  flyq_plugins_t *rt;
  flyq_plugins_output_t out;
  char err[256];
  size_t len;
  uint8_t *buf = pt_batch(abc, 3, &len);
  pt_write("same.lua", same_lua);
  rt = with_hooks("'same'", "reject");
  buf[len - 1] ^= 1; /* CRC mismatch */
  CHECK_EQ(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len, &out, err,
                                   sizeof err), FLYQ_ERR_CORRUPT);
  CHECK_EQ(flyq_plugins_on_produce(rt, "orders", -1, NULL, buf, len - 5, &out,
                                   err, sizeof err), FLYQ_ERR_TRUNCATED);
  CHECK_EQ(pt_stats(rt, "same")->batches, 0);
  free(buf);
  pt_done(rt);
}

TEST_LIST(TEST_ENTRY(returning_the_record_keeps_the_batch)
          TEST_ENTRY(topic_without_hooks_is_unchanged_without_a_call)
          TEST_ENTRY(changing_the_value_rebuilds)
          TEST_ENTRY(nil_drops_the_record)
          TEST_ENTRY(a_list_fans_out)
          TEST_ENTRY(record_topic_routes)
          TEST_ENTRY(fields_are_pushed_only_when_read)
          TEST_ENTRY(reading_headers_keeps_the_batch)
          TEST_ENTRY(repeated_header_names_survive_a_read)
          TEST_ENTRY(hooks_chain_in_order)
          TEST_ENTRY(records_do_not_outlive_their_call)
          TEST_ENTRY(on_error_reject_fails_the_batch)
          TEST_ENTRY(on_error_pass_stores_the_record_unchanged)
          TEST_ENTRY(on_error_dead_letter_sends_the_original)
          TEST_ENTRY(params_are_checked_against_the_schema)
          TEST_ENTRY(bad_plugins_are_config_errors)
          TEST_ENTRY(a_broken_plugin_leaves_the_old_runtime_working)
          TEST_ENTRY(consumer_filters_keep_offsets)
          TEST_ENTRY(consumer_filters_start_at_the_fetch_offset)
          TEST_ENTRY(consumer_filters_beyond_the_cache)
          TEST_ENTRY(consumer_filter_errors)
          TEST_ENTRY(bad_input_is_refused));
