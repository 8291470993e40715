-- The plugins FlyQ ships (plugins/*.lua) and the cookbook of
-- docs/plugins.md (spec/fixtures/cookbook/*.lua), each run through
-- `flyq plugin test` on sample records with the outputs checked line by
-- line; the cookbook's code in the guide checked against the files; and
-- examples/flyq.lua checked with `flyq config check`, its plugins loaded
-- with the params it gives them.

local server = require("support.server")
local cjson = require("cjson")
local schema = require("flyq.schema")
local system = require("system") -- luasystem (busted's)

local ROOT = os.getenv("FLYQ_SOURCE_DIR") or "."

local function plugin_file(name) return ROOT .. "/plugins/" .. name .. ".lua" end
local function recipe_file(name) return ROOT .. "/spec/fixtures/cookbook/" .. name .. ".lua" end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("a")
  f:close()
  return text
end

-- Runs `flyq plugin test FILE` with opts.params (a table), opts.input (a
-- list of records, each given timestamp 1 unless it has one) and
-- opts.args; returns the exit code, the outcomes, stdout and stderr. An
-- outcome is {n, what, record} ("kept", "stored", "partition P") or
-- {n, text} ("dropped", "error ...").
local function run(file, opts)
  local args = {"plugin", "test", file, "--params", cjson.encode(opts.params or {})}
  for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
  local lines = {}
  for i, r in ipairs(opts.input or {}) do
    if r.timestamp == nil then r.timestamp = 1 end
    lines[i] = cjson.encode(r)
  end
  local code, out, err = server.run(args, {stdin = table.concat(lines, "\n") .. "\n"})
  local outcomes = {}
  for line in out:gmatch("[^\n]+") do
    local n, what, rec = line:match("^(%d+) (%a[%a ]-%d*) ({.*)$")
    if n then
      outcomes[#outcomes + 1] = {tonumber(n), what, cjson.decode(rec)}
    elseif line:match("^%d+ ") then
      outcomes[#outcomes + 1] = {tonumber(line:match("^%d+")), line:match("^%d+ (.*)$")}
    end
  end
  return code, outcomes, out, err
end

-- The record as `flyq plugin test` prints it.
local function rec(fields)
  return {topic = fields.topic or "test", partition = fields.partition or -1,
          offset = fields.offset or 0, timestamp = fields.timestamp or 1,
          key = fields.key or cjson.null, value = fields.value or cjson.null,
          headers = fields.headers or {}}
end

local function sha256_hex(s)
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write(s)
  f:close()
  local p = assert(io.popen("sha256sum " .. tmp))
  local hex = p:read("a"):match("^(%x+)")
  p:close()
  os.remove(tmp)
  return hex
end

-- Loads a plugin file in plain Lua (for what the CLI cannot show), with
-- a stand-in flyq table (env.flyq) that a test may change.
local function load_plugin(path, params)
  local flyq = {sha256 = sha256_hex, counter = function() end,
                constant_time_eq = function(a, b) return a == b end}
  local env = setmetatable({cjson = cjson, flyq = flyq}, {__index = _G})
  local plugin = assert(loadfile(path, "t", env))()
  local ctx = {params = schema.check(plugin.schema or {}, params), state = {}}
  if plugin.init then plugin.init(ctx.params, ctx) end
  return plugin, ctx, env
end

local function param_error(name, params)
  local code, _, _, err = run(plugin_file(name), {params = params})
  assert.are.equal(1, code)
  return err:match("plugin " .. name .. ": ([^\n]*)")
end

describe("drop_invalid_json", function()
  local input = {{value = '{"a":1}'}, {value = "nope"}, {key = "tombstone"},
                 {value = "NaN"}, {value = "[1,2]"}, {value = '"text"'}}

  it("drops values that are not JSON and counts them", function()
    local code, o, out = run(plugin_file("drop_invalid_json"), {input = input})
    assert.are.equal(0, code)
    assert.are.same({
      {1, "kept", rec{value = '{"a":1}'}}, {2, "dropped"}, {3, "dropped"},
      {4, "dropped"}, {5, "kept", rec{value = "[1,2]"}},
      {6, "kept", rec{value = '"text"'}},
    }, o)
    assert.matches("counter dropped_invalid_json = 3", out)
  end)

  it("keeps tombstones with keep_null, also as a consumer filter", function()
    local code, o = run(plugin_file("drop_invalid_json"),
                        {params = {keep_null = true}, input = input,
                         args = {"--hook", "on_consume"}})
    assert.are.equal(0, code)
    assert.are.same({"kept", "dropped", "kept", "dropped", "kept", "kept"},
                    {o[1][2], o[2][2], o[3][2], o[4][2], o[5][2], o[6][2]})
    assert.are.same(rec{key = "tombstone", offset = 2, partition = 0}, o[3][3])
  end)

  it("is strict where lua-cjson is lax (RFC 8259)", function()
    local plugin, ctx = load_plugin(plugin_file("drop_invalid_json"), {})
    local function kept(value)
      return plugin.on_produce({value = value}, ctx) ~= nil
    end
    for _, good in ipairs({'[1.5, -0.5, 1e5, 1.0E-3, 0]', '{"a": "x.y", "b": ".5"}',
                           '{"k": "v\\"q."}', '{"k": "\\\\"}', '"\195\188"',
                           '{"t": "a\\tb"}', ' [1,\n 2]\t'}) do
      assert.is_true(kept(good), good)
    end
    for _, bad in ipairs({"1.", "[1.]", "-.5", "1.e5", "[.5]", '"a\tb"', '"a\1"',
                          '"\255\254"', '{"k": "\237\160\128"}'}) do
      assert.is_false(kept(bad), bad)
    end
  end)
end)

describe("redact", function()
  local value = '{"user": "bob", "card": {"number": 4111111111111111, "exp": "12/30"},' ..
                ' "items": [{"sku": "A", "n": 1}, {"sku": "B"}], "id": 1700000000123456}'

  it("masks nested fields and keeps the rest byte for byte", function()
    local code, o = run(plugin_file("redact"), {
      params = {fields = {"card.number", "items.sku", "user", "nothere.x"}},
      input = {{value = value}, {value = '{"other": 1}'}, {value = "plain"}}})
    assert.are.equal(0, code)
    assert.are.same({
      {1, "stored", rec{value = '{"user": "***", "card": {"number": "***", "exp": "12/30"},' ..
                                ' "items": [{"sku": "***", "n": 1}, {"sku": "***"}],' ..
                                ' "id": 1700000000123456}'}},
      {2, "kept", rec{value = '{"other": 1}'}},
      {3, "kept", rec{value = "plain"}},
    }, o)
  end)

  it("takes a mask, a shorter path over a longer one, and drops non-JSON", function()
    local code, o = run(plugin_file("redact"), {
      params = {fields = {"card.number", "card"}, mask = "[gone]", non_json = "drop"},
      input = {{value = value}, {value = "plain"}, {key = "k"}}})
    assert.are.equal(0, code)
    assert.are.same({1, "stored"}, {o[1][1], o[1][2]})
    assert.are.same({user = "bob", card = "[gone]", items = {{sku = "A", n = 1}, {sku = "B"}},
                     id = 1700000000123456}, cjson.decode(o[1][3].value))
    assert.are.same({{2, "dropped"}, {3, "dropped"}}, {o[2], o[3]})
  end)

  it("fails a value too deep to check instead of passing it on unmasked", function()
    local deep = '{"card": "4111", "x": ' .. ("["):rep(1001) .. ("]"):rep(1001) .. "}"
    local ok = '{"card": "4111", "x": ' .. ("["):rep(999) .. ("]"):rep(999) .. "}"
    local code, o = run(plugin_file("redact"), {
      params = {fields = {"card"}},
      input = {{value = deep}, {value = ok}}})
    assert.are.equal(1, code) -- a record failed
    assert.are.equal(1, o[1][1])
    assert.matches("^error plugin redact: value nested too deeply", o[1][2])
    assert.are.same({2, "stored"}, {o[2][1], o[2][2]})
    assert.are.equal('{"card": "***"', o[2][3].value:sub(1, 14))
  end)

  it("names the bad param", function()
    -- --params that is not a JSON object is a usage error (exit 2)
    local code, _, err = server.run({"plugin", "test", plugin_file("redact"),
                                     "--params", "{fields:1}"}, {stdin = ""})
    assert.are.equal(2, code)
    assert.matches("^flyq plugin test: %-%-params: expected a JSON object", err)
    assert.are.equal("params.fields: required", param_error("redact", {}))
    assert.are.equal('params.fields[2]: expected a path like "a.b", got "a..b"',
                     param_error("redact", {fields = {"a", "a..b"}}))
    assert.are.equal('params.non_json: expected one of "pass", "drop", got "keep"',
                     param_error("redact", {fields = {"a"}, non_json = "keep"}))
  end)
end)

describe("route_by_field", function()
  local input = {{value = '{"region": "eu"}'}, {value = '{"region": "US West"}'},
                 {value = '{"region": 7}'}, {value = '{"other": 1}'}, {value = "plain"},
                 {value = '{"region": "__x"}'}, {value = '{"region": ""}'}}

  it("routes to prefix .. value, sanitized, with a fallback", function()
    local code, o, out = run(plugin_file("route_by_field"), {
      params = {field = "region", prefix = "orders-", fallback = "orders-unknown"},
      input = input})
    assert.are.equal(0, code)
    local topics = {}
    for i, x in ipairs(o) do
      assert.are.same({i, "stored"}, {x[1], x[2]})
      assert.are.equal(input[i].value, x[3].value)
      topics[i] = x[3].topic
    end
    assert.are.same({"orders-eu", "orders-US_West", "orders-7", "orders-unknown",
                     "orders-unknown", "orders-__x", "orders-unknown"}, topics)
    assert.matches("counter unroutable = 3", out)
  end)

  it("keeps or drops what it cannot route", function()
    local params = {field = "region", sanitize = false}
    local code, o = run(plugin_file("route_by_field"), {params = params, input = input})
    assert.are.equal(0, code)
    assert.are.same({"stored", "kept", "stored", "kept", "kept", "kept", "kept"},
                    {o[1][2], o[2][2], o[3][2], o[4][2], o[5][2], o[6][2], o[7][2]})
    assert.are.same({"eu", "7"}, {o[1][3].topic, o[3][3].topic})
    params.drop_missing = true
    code, o = run(plugin_file("route_by_field"), {params = params, input = input})
    assert.are.equal(0, code)
    assert.are.same({"stored", "dropped", "stored", "dropped", "dropped", "dropped",
                     "dropped"}, {o[1][2], o[2][2], o[3][2], o[4][2], o[5][2], o[6][2],
                                  o[7][2]})
  end)

  it("names the bad param", function()
    assert.are.equal("params.field: required", param_error("route_by_field", {}))
    assert.are.equal('params.fallback: invalid topic name "a/b"',
                     param_error("route_by_field", {field = "x", fallback = "a/b"}))
    assert.matches("^params.prefix: ", param_error("route_by_field", {field = "x", prefix = "a b"}))
  end)
end)

describe("partition_by_field", function()
  -- Kafka's own murmur2 vectors (UtilsTest.testMurmur2).
  local vectors = {{"21", -973932308}, {"foobar", -790332482},
                   {"a-little-bit-long-string", -985981536},
                   {"a-little-bit-longer-string", -1486304829}, {"abc", 479470107},
                   {"1", -1993445489}, {"12", 126087238}, {"123", -267702483},
                   {"1234", -1614185708}, {"12345", -1188365604}}

  it("places by the field's murmur2 as key_hash places keys", function()
    local input, want = {}, {}
    for _, v in ipairs(vectors) do
      input[#input + 1] = {value = cjson.encode({customer = {id = v[1]}})}
      input[#input + 1] = {key = v[1], value = "not json"} -- by key: the same
      local p = (v[2] & 0x7fffffff) % 7
      want[#want + 1], want[#want + 2] = p, p
    end
    input[#input + 1] = {value = '{"customer": {"id": 21}}'} -- a number: "21"
    want[#want + 1] = want[1]
    for _ = 1, 3 do input[#input + 1] = {value = "{}"} end -- no key: round robin
    want[#want + 1], want[#want + 2], want[#want + 3] = 0, 1, 2
    local code, o = run(plugin_file("partition_by_field"), {
      params = {field = "customer.id"}, input = input,
      args = {"--hook", "partition", "--partitions", "7"}})
    assert.are.equal(0, code)
    local got = {}
    for i, x in ipairs(o) do
      assert.are.equal(i, x[1])
      got[i] = tonumber(x[2]:match("^partition (%d+)$"))
    end
    assert.are.same(want, got)
  end)
end)

describe("sample", function()
  it("keeps the 1st, (n+1)th, ... record", function()
    local input = {}
    for i = 1, 7 do input[i] = {value = tostring(i)} end
    local code, o, out = run(plugin_file("sample"), {params = {n = 3}, input = input})
    assert.are.equal(0, code)
    assert.are.same({"kept", "dropped", "dropped", "kept", "dropped", "dropped", "kept"},
                    {o[1][2], o[2][2], o[3][2], o[4][2], o[5][2], o[6][2], o[7][2]})
    assert.are.equal("4", o[4][3].value)
    assert.matches("counter sampled_out = 4", out)
  end)

  it("decides by key with by_key", function()
    local input, want = {}, {}
    for round = 1, 2 do
      for k = 1, 6 do
        local key = "k" .. k
        input[#input + 1] = {key = key, value = tostring(round)}
        local kept = tonumber(sha256_hex(key):sub(1, 8), 16) % 2 == 0
        want[#want + 1] = kept and "kept" or "dropped"
      end
    end
    local code, o = run(plugin_file("sample"), {params = {n = 2, by_key = true}, input = input})
    assert.are.equal(0, code)
    local got = {}
    for i, x in ipairs(o) do got[i] = x[2] end
    assert.are.same(want, got)
  end)

  it("names the bad param", function()
    assert.are.equal("params.n: expected integer >= 1, got 0", param_error("sample", {n = 0}))
  end)
end)

describe("add_headers", function()
  it("adds static, principal and timestamp headers", function()
    -- The broker's clock (CLOCK_REALTIME), read the same way: os.time()
    -- reads the kernel's coarse clock, a tick behind across a second.
    local before = math.floor(system.gettime() * 1000)
    local code, o = run(plugin_file("add_headers"), {
      params = {headers = {env = "prod", team = "pay"}, principal_header = "x-producer",
                timestamp_header = "x-received"},
      input = {{value = "v", headers = {env = "dev", own = "1"}}},
      args = {"--principal", "alice"}})
    local after = math.floor(system.gettime() * 1000)
    assert.are.equal(0, code)
    local h = o[1][3].headers
    local ts = tonumber(h["x-received"])
    assert.is_true(ts >= before and ts <= after)
    h["x-received"] = nil
    assert.are.same({env = "prod", team = "pay", own = "1", ["x-producer"] = "alice"}, h)
  end)

  it("keeps the record's own headers without overwrite; none for anonymous", function()
    local code, o = run(plugin_file("add_headers"), {
      params = {headers = {env = "prod"}, principal_header = "x-producer", overwrite = false},
      input = {{value = "v", headers = {env = "dev"}}, {value = "w"}}})
    assert.are.equal(0, code)
    assert.are.same({1, "stored", rec{value = "v", headers = {env = "dev"}}}, o[1])
    assert.are.same({2, "stored", rec{value = "w", headers = {env = "prod"}}}, o[2])
  end)

  it("names the bad param", function()
    assert.are.equal("params.headers.x: expected string, got 1",
                     param_error("add_headers", {headers = {x = 1}}))
  end)
end)

-- `flyq plugin test --hook authenticate|authorize`: the answer line.
local function ask(file, params, args)
  local all = {"--hook", args[1]}
  for i = 2, #args do all[#all + 1] = args[i] end
  local code, _, out, err = run(file, {params = params, args = all})
  return code, out:match("^[^\n]*"), out, err
end

describe("auth_token", function()
  local params = {tokens = {alice = "alice-secret-1",
                            bob = "sha256:" .. sha256_hex("bob-secret-2"):upper()}}
  local file = plugin_file("auth_token")

  it("accepts tokens and hashed tokens, and nothing else", function()
    local function who(token)
      return select(2, ask(file, params, {"authenticate", "--credentials", token}))
    end
    assert.are.equal("authenticated alice", who("alice-secret-1"))
    assert.are.equal("authenticated bob", who("bob-secret-2"))
    assert.are.equal("rejected invalid token", who("alice-secret-2"))
    assert.are.equal("rejected invalid token", who(params.tokens.bob))
    assert.are.equal("rejected invalid token", who(""))
    local code, line = ask(file, params, {"authenticate", "--mechanism", "plain",
                                          "--credentials", "alice-secret-1"})
    assert.are.equal(1, code)
    assert.are.equal("rejected auth_token: mechanism plain not supported", line)
  end)

  it("refuses an empty principal name, and has no authorize hook", function()
    assert.are.equal('params.tokens[""]: empty principal name',
                     param_error("auth_token", {tokens = {[""] = "x"}}))
    local code, line = ask(file, params, {"authorize", "--principal", "alice"})
    assert.are.equal(1, code)
    assert.are.equal("error plugin auth_token has no authorize hook", line)
  end)

  it("never shows the token", function()
    local code, _, out, err = ask(file, params, {"authenticate", "--credentials", "hunter2-guess"})
    assert.are.equal(1, code)
    assert.is_nil((out .. err):find("hunter2", 1, true))
  end)

  it("compares every entry, in constant time", function()
    local calls, found = 0, {}
    local plugin, ctx, env = load_plugin(file, params)
    env.flyq.constant_time_eq = function(a, b)
      calls = calls + 1
      assert.are.equal(#a, #b) -- digests: the same length every time
      return a == b
    end
    for _, token in ipairs({"alice-secret-1", "nobody"}) do
      calls = 0
      found[#found + 1] = plugin.authenticate({mechanism = "token", token = token}, {}, ctx)
          or "-"
      assert.are.equal(2, calls)
    end
    assert.are.same({"alice", "-"}, found)
  end)

  it("names the bad param", function()
    assert.are.equal("params.tokens: required", param_error("auth_token", {}))
    assert.are.equal('params.tokens.bob: expected "sha256:" and 64 hex digits',
                     param_error("auth_token", {tokens = {bob = "sha256:abc"}}))
    assert.are.equal("params.tokens.b: same token as a",
                     param_error("auth_token", {tokens = {a = "x", b = "x"}}))
  end)
end)

describe("acl", function()
  local params = {rules = {
    {allow = false, principal = "mallory"},
    {allow = true, principal = "alice", actions = {"produce", "fetch"},
     topics = {"orders-*", "logs.??"}},
    {allow = true, actions = {"fetch", "commit"}, groups = "team-*"},
    {allow = true, principal = "admin", cluster = true},
  }}

  it("lets the first matching rule decide", function()
    local function answer(principal, action, resource)
      local args = {"authorize", "--action", action, "--resource", resource}
      if principal then args[#args + 1], args[#args + 2] = "--principal", principal end
      local code, line = ask(plugin_file("acl"), params, args)
      assert.are.equal(line == "allowed" and 0 or 1, code)
      return line
    end
    assert.are.equal("allowed", answer("alice", "produce", "topic:orders-eu"))
    assert.are.equal("allowed", answer("alice", "fetch", "topic:logs.ab"))
    assert.are.equal("denied", answer("alice", "fetch", "topic:logs.abc"))
    assert.are.equal("denied", answer("alice", "delete_topic", "topic:orders-eu"))
    assert.are.equal("denied", answer("mallory", "fetch", "group:team-a"))
    assert.are.equal("allowed", answer(nil, "commit", "group:team-a"))
    assert.are.equal("allowed", answer("admin", "admin", "cluster"))
    assert.are.equal("denied", answer("admin", "produce", "topic:orders-eu"))
  end)

  it("abstains when no rule matches", function()
    local plugin, ctx = load_plugin(plugin_file("acl"), params)
    assert.is_nil(plugin.authorize("bob", "produce", "topic:orders-eu", ctx))
    assert.is_nil(plugin.authorize("alice", "produce", "topic:orders.eu", ctx))
    assert.is_false(plugin.authorize("mallory", "produce", "cluster", ctx))
    assert.is_true(plugin.authorize("alice", "produce", "topic:orders-", ctx))
  end)

  it("reads cluster = false as no cluster key: the rule covers every resource", function()
    local plugin, ctx = load_plugin(plugin_file("acl"), {rules = {
      {allow = false, principal = "mallory", cluster = false},
      {allow = true, principal = "eve", topics = "logs", cluster = false},
      {allow = true},
    }})
    assert.is_false(plugin.authorize("mallory", "produce", "topic:x", ctx))
    assert.is_false(plugin.authorize("mallory", "admin", "cluster", ctx))
    assert.is_true(plugin.authorize("eve", "fetch", "topic:logs", ctx))
    -- eve's rule names a topic only: the cluster falls to the last rule
    assert.is_true(plugin.authorize("eve", "admin", "cluster", ctx))
    assert.is_true(plugin.authorize("bob", "produce", "topic:x", ctx))
  end)

  it("names the bad param", function()
    assert.are.equal("params.rules[1].allow: required", param_error("acl", {rules = {{}}}))
    assert.are.equal("params.rules[1].actions[1]: expected string",
                     param_error("acl", {rules = {{allow = true, actions = {1}}}}))
    -- a Kafka-style "read" would never match: refused at load
    assert.are.equal('params.rules[2].actions[2]: unknown action "read" (actions: ' ..
                     "produce, fetch, list_offsets, offset_fetch, create_topic, " ..
                     "delete_topic, describe, commit, list_groups, admin, *)",
                     param_error("acl", {rules = {{allow = true},
                                                  {allow = true, actions = {"fetch", "read"}}}}))
  end)
end)

describe("the cookbook", function()
  local cook = function(name, opts) return run(recipe_file(name), opts) end

  it("drops", function()
    local code, o, out = cook("drop_debug", {input = {{value = '{"level":"debug"}'},
                                                      {value = '{"level":"info"}'}}})
    assert.are.equal(0, code)
    assert.are.same({{1, "dropped"}, {2, "kept", rec{value = '{"level":"info"}'}}}, o)
    assert.matches("counter debug_dropped = 1", out)
  end)

  it("transforms JSON", function()
    local code, o = cook("to_cents", {input = {{value = '{"amount":12.34,"id":"a"}'},
                                               {value = '{"id":"b"}'}}})
    assert.are.equal(0, code)
    assert.are.same({amount_cents = 1234, id = "a"}, cjson.decode(o[1][3].value))
    assert.are.same({2, "kept", rec{value = '{"id":"b"}'}}, o[2])
  end)

  it("fans out", function()
    local code, o = cook("split_array", {input = {{key = "k", value = '[{"a":1},"x"]'},
                                                  {value = "{}"}}})
    assert.are.equal(0, code)
    assert.are.same({
      {1, "stored", rec{key = "k", value = '{"a":1}', headers = {["x-part"] = "1"}}},
      {1, "stored", rec{key = "k", value = '"x"', headers = {["x-part"] = "2"},
                        offset = 1}}, -- offsets within the output batch
      {2, "kept", rec{value = "{}"}},
    }, o)
  end)

  it("routes", function()
    local code, o = cook("route_region", {input = {{value = '{"region":"eu"}'},
                                                   {value = '{"region":"mars"}'}}})
    assert.are.equal(0, code)
    assert.are.same({{1, "stored", rec{topic = "orders-eu", value = '{"region":"eu"}'}},
                     {2, "kept", rec{value = '{"region":"mars"}'}}}, o)
  end)

  it("partitions", function()
    local code, o = cook("priority_partition", {
      args = {"--hook", "partition", "--partitions", "4"},
      input = {{key = "abcd", headers = {priority = "high"}}, {key = "abcd"},
               {key = "ab"}, {}}})
    assert.are.equal(0, code)
    assert.are.same({"partition 0", "partition 2", "partition 3", "partition 1"},
                    {o[1][2], o[2][2], o[3][2], o[4][2]})
  end)

  it("authenticates and authorizes tenants", function()
    local file, params = recipe_file("tenant_auth"), {secret = "s3cret"}
    -- HMAC-SHA-256("s3cret", "acme"), by `openssl dgst -sha256 -hmac s3cret`.
    local sig = "5559b01469a0a9390f4a595c2f0dc139f7ac0dd1e4ff7e7437385ce4f3e6e83e"
    assert.are.equal("authenticated acme",
                     select(2, ask(file, params, {"authenticate", "--credentials", "acme:" .. sig})))
    assert.are.equal("rejected bad signature",
                     select(2, ask(file, params, {"authenticate", "--credentials", "evil:" .. sig})))
    assert.are.equal("rejected malformed token",
                     select(2, ask(file, params, {"authenticate", "--credentials", "acme"})))
    local function may(resource, principal)
      return select(2, ask(file, params, {"authorize", "--principal", principal or "acme",
                                          "--action", "fetch", "--resource", resource}))
    end
    assert.are.equal("allowed", may("topic:acme.orders"))
    assert.are.equal("allowed", may("group:acme.billing"))
    assert.are.equal("denied", may("topic:other.orders"))
    assert.are.equal("denied", may("topic:acmeorders"))
  end)

  it("samples", function()
    local input = {}
    for i = 1, 5 do input[i] = {value = '{"level":"info","i":' .. i .. '}'} end
    input[6] = {value = '{"level":"error"}'}
    local code, o = cook("keep_errors_sample_rest", {params = {n = 2}, input = input})
    assert.are.equal(0, code)
    assert.are.same({"kept", "dropped", "kept", "dropped", "kept", "kept"},
                    {o[1][2], o[2][2], o[3][2], o[4][2], o[5][2], o[6][2]})
  end)

  it("enriches with headers", function()
    local code, o = cook("content_type", {input = {{value = '{"trace_id":"t-1"}'},
                                                   {value = "bytes"}}})
    assert.are.equal(0, code)
    assert.are.same({["content-type"] = "application/json", ["trace-id"] = "t-1"},
                    o[1][3].headers)
    assert.are.same({["content-type"] = "application/octet-stream"}, o[2][3].headers)
  end)

  it("is shown in docs/plugins.md exactly as tested", function()
    local doc = read(ROOT .. "/docs/plugins.md")
    local p = assert(io.popen("ls " .. ROOT .. "/spec/fixtures/cookbook/*.lua"))
    local n = 0
    for path in p:lines() do
      n = n + 1
      assert(doc:find("```lua\n" .. read(path) .. "```", 1, true),
             path .. " is not in docs/plugins.md as it is")
    end
    p:close()
    assert.is_true(n >= 6)
  end)
end)

describe("examples/flyq.lua", function()
  local config = ROOT .. "/examples/flyq.lua"

  it("passes flyq config check, with and without the auth demo", function()
    local code, out, err = server.run({"config", "check", "-c", config})
    assert.are.equal(0, code, err)
    assert.matches("^ok: ", out)
    code, out, err = server.run({"config", "check", "-c", config},
                                {env = {FLYQ_AUTH_DEMO = "1"}})
    assert.are.equal(0, code, err)
    assert.matches("^ok: ", out)
  end)

  -- Every plugin entry of the file: {name, params, hook}.
  local function plugins_of(cfg)
    local out = {}
    local function add(v, hook)
      if type(v) == "string" then v = {plugin = v} end
      if type(v) ~= "table" then return end
      if v.plugin then out[#out + 1] = {v.plugin, v.params or {}, hook} return end
      for _, x in ipairs(v) do add(x, hook) end
    end
    for _, t in pairs(cfg.topics or {}) do
      add(t.partitioner, "partition")
      add(t.on_produce, "on_produce")
      add(t.on_consume, "on_consume")
    end
    add(cfg.auth, "authenticate")
    return out
  end

  it("uses shipped plugins that load with the params it gives", function()
    local env = setmetatable({env = function(name, default)
      return name == "FLYQ_AUTH_DEMO" and "1" or default
    end}, {__index = _G})
    local cfg = assert(loadfile(config, "t", env))()
    local list = plugins_of(cfg)
    assert.is_true(#list >= 6)
    for _, x in ipairs(list) do -- loaded: no error, a summary
      local _, _, out, err = run(plugin_file(x[1]), {params = x[2],
        args = {"--hook", x[3], "--credentials", "x"}})
      assert.are.equal("", err, x[1])
      assert.is_truthy(out:find("summary: ", 1, true), x[1])
    end
  end)
end)
