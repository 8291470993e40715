-- examples/flyq.lua served for real, as `make run` does: a copy of the
-- file (plugin_path pointed at the repository's plugins/, the only edit)
-- started with --listen and --data-dir overrides, then driven over TCP
-- with the demo tokens it defines (FLYQ_AUTH_DEMO=1), checking that its
-- topics and plugins do what its comments say.

local server = require("support.server")
local client = require("flyq.client")

local ROOT = os.getenv("FLYQ_SOURCE_DIR") or "."
local ALICE, BOB = "demo-alice-token", "demo-bob-token"

-- field of every record of recs, in order.
local function pluck(recs, field)
  local out = {}
  for i, r in ipairs(recs) do out[i] = r[field] end
  return out
end

-- A copy of examples/flyq.lua in dir with plugin_path made absolute.
local function copy_example(dir)
  local text = assert(server.read_file(ROOT .. "/examples/flyq.lua"))
  local patched, n = text:gsub('plugin_path = { "%./plugins" }',
                               'plugin_path = { "' .. ROOT .. '/plugins" }')
  assert.are.equal(1, n) -- the example still has the line patched here
  server.write_file(dir .. "/flyq.lua", patched)
  return dir .. "/flyq.lua"
end

-- Starts the broker on the copy in dir (env: more environment).
local function serve(dir, env)
  return server.start({config = false, env = env,
                       args = {"-c", copy_example(dir), "--data-dir", "data"}})
end

describe("examples/flyq.lua with FLYQ_AUTH_DEMO=1", function()
  local dir, srv, alice

  before_each(function()
    dir = server.tmpdir()
    srv = serve(dir, {FLYQ_AUTH_DEMO = "1"})
    alice = assert(client.connect(srv.addr, {token = ALICE}))
  end)

  -- The copy's directory goes first: it is left behind if start failed.
  after_each(function()
    server.rmdir(dir)
    alice:close()
    srv:finish()
  end)

  local function flyq(args, stdin)
    return server.run(args, {env = {FLYQ_BROKER = srv.addr}, stdin = stdin})
  end

  it("creates its topics, in the --data-dir given", function()
    local md = assert(alice:metadata())
    local parts = {}
    for _, t in ipairs(md.topics) do parts[t.name] = #t.partitions end
    assert.are.same({orders = 6, ["audit-log"] = 1, payments = 3, events = 1,
                     metrics = 1}, parts)
    assert.is_not_nil(server.read_file(srv.dir .. "/data/orders/topic.json"))
  end)

  it("refuses a client without a valid token", function()
    local _, err, code = client.connect(srv.addr, {token = "wrong"})
    assert.are.equal("AUTHENTICATION_FAILED", code)
    assert.matches("invalid token", err, 1, true)
    local stderr
    code, _, stderr = flyq({"produce", "demo"}, "hi\n")
    assert.are.equal(1, code)
    assert.matches("authentication required", stderr, 1, true)
    local md = assert(alice:metadata("demo"))
    assert.are.equal("UNKNOWN_TOPIC_OR_PARTITION", md.topics[1].error)
  end)

  it("lets alice produce, and bob fetch but not produce", function()
    local code, _, err = flyq({"produce", "demo", "--token", ALICE}, "hi\n")
    assert.are.equal(0, code, err)
    local bob = assert(client.connect(srv.addr, {token = BOB}))
    local res, ferr = bob:fetch("demo", 0, 0)
    local base, _, pcode = bob:produce("demo", {"from bob"})
    bob:close()
    assert.are.same({"hi"}, pluck(assert(res, ferr).records, "value"))
    assert.is_nil(base)
    assert.are.equal("TOPIC_AUTHORIZATION_FAILED", pcode)
    assert.are.same({"hi"}, pluck(assert(alice:fetch("demo", 0, 0)).records,
                                  "value"))
  end)

  -- bob's rule must have what `flyq consume` needs (plugins/acl.lua):
  -- fetch and list_offsets.
  it("lets bob read with the `flyq consume` command its comment gives",
          function()
    local code, _, err = flyq({"produce", "demo", "--token", ALICE}, "hi\n")
    assert.are.equal(0, code, err)
    local out
    code, out, err = flyq({"consume", "demo", "--token", BOB})
    assert.are.equal(0, code, err)
    assert.are.equal("hi\n", out)
  end)

  it("payments: drops junk, redacts, tags and partitions by customer",
     function()
    local doc = '{"customer_id": "c-1", "card": {"number": "4111111111111111"},'
                .. ' "customer": {"email": "a@b.c"}, "amount": 10}'
    local _, res = assert(alice:produce("payments", {
      -- key_hash would put the key "order-1" elsewhere than "c-1".
      {key = "order-1", value = doc}, {key = "c-1", value = "not json"},
    }, {partition = -1}))
    assert.are.equal(1, #res.parts)
    local p = res.parts[1].partition
    -- Where the built-in key_hash puts the key "c-1" on 3 partitions.
    assert(alice:create_topic("ref", {partitions = 3}))
    local _, ref = assert(alice:produce("ref", {{key = "c-1", value = "x"}},
                                        {partition = -1}))
    assert.are.equal(ref.parts[1].partition, p)
    local recs = assert(alice:fetch("payments", p, 0)).records
    assert.are.same({'{"customer_id": "c-1", "card": {"number": "***"},'
                     .. ' "customer": {"email": "***"}, "amount": 10}'},
                    pluck(recs, "value"))
    assert.are.same({{"source", "flyq-example"}, {"x-producer", "alice"}},
                    recs[1].headers)
  end)

  it("events are routed by type, with events-other as the fallback",
     function()
    assert(alice:produce("events", {'{"type": "click"}', '{"type": "page view"}',
                                    '{"kind": "click"}', '{"type": "click", "n": 2}'}))
    local function values(topic)
      return pluck(assert(alice:fetch(topic, 0, 0)).records, "value")
    end
    assert.are.same({'{"type": "click"}', '{"type": "click", "n": 2}'},
                    values("events-click"))
    assert.are.same({'{"type": "page view"}'}, values("events-page_view"))
    assert.are.same({'{"kind": "click"}'}, values("events-other"))
    assert.are.same({}, values("events"))
  end)

  it("metrics keep one sample in ten", function()
    local samples = {}
    for i = 1, 25 do samples[i] = "m" .. i end
    assert(alice:produce("metrics", samples))
    assert.are.same({"m1", "m11", "m21"},
                    pluck(assert(alice:fetch("metrics", 0, 0)).records, "value"))
  end)
end)

describe("examples/flyq.lua without FLYQ_AUTH_DEMO", function()
  local dir, srv

  before_each(function()
    dir = server.tmpdir()
    srv = serve(dir)
  end)

  after_each(function()
    server.rmdir(dir)
    srv:finish()
  end)

  it("takes anonymous clients, as `make run` and the README use it",
     function()
    local env = {env = {FLYQ_BROKER = srv.addr}, stdin = "hi\nthere\n"}
    local code, _, err = server.run({"produce", "demo"}, env)
    assert.are.equal(0, code, err)
    local out
    code, out, err = server.run({"consume", "demo"}, {env = env.env})
    assert.are.equal(0, code, err)
    assert.are.equal("hi\nthere\n", out)
  end)
end)
