-- The shipped plugins (plugins/*.lua) inside a real broker: each
-- configured on a topic with the params its header documents, records
-- produced over TCP, and what was stored fetched back. The same plugins
-- offline (`flyq plugin test`) are in spec/unit/shipped_plugins_spec.lua.

local server = require("support.server")
local client = require("flyq.client")
local system = require("system") -- luasystem (busted's)

local ROOT = os.getenv("FLYQ_SOURCE_DIR") or "."
local TOKEN = "alice-token" -- alice's token (auth_token)

-- field of every record of recs, in order.
local function pluck(recs, field)
  local out = {}
  for i, r in ipairs(recs) do out[i] = r[field] end
  return out
end

-- The records of topic's partition 0 from offset 0.
local function stored(c, topic)
  return assert(c:fetch(topic, 0, 0)).records
end

-- The value of the counter name in plugin's stats.
local function counter(c, plugin, name)
  for _, p in ipairs(assert(c:stats()).plugins) do
    if p.name == plugin then return p.counters[name] end
  end
end

local TOPICS = {
  redacted = {on_produce = {{plugin = "redact",
                             params = {fields = {"card.number", "email"}}}}},
  json = {on_produce = {"drop_invalid_json"}},
  routed = {on_produce = {{plugin = "route_by_field",
                           params = {field = "region", prefix = "orders-",
                                     fallback = "orders-other"}}}},
  placed = {partitions = 4,
            partitioner = {plugin = "partition_by_field",
                           params = {field = "customer_id"}}},
  hashed = {partitions = 4, partitioner = "key_hash"},
  sampled = {on_produce = {{plugin = "sample", params = {n = 3}}}},
  tagged = {on_produce = {{plugin = "add_headers", params = {
    headers = {env = "prod", source = "flyq"}, principal_header = "x-producer",
    timestamp_header = "x-received", overwrite = false}}}},
}

describe("shipped plugins in the broker", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {ROOT .. "/plugins"},
      auth = {{plugin = "auth_token", params = {tokens = {alice = TOKEN}}}},
      topics = TOPICS,
    }})
    c = assert(client.connect(srv.addr, {token = TOKEN}))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  it("redact masks the fields and keeps the rest of the text", function()
    assert(c:produce("redacted", {
      '{"id": 7, "card": {"number": "4111 1111", "exp": "12/30"},' ..
      '  "email":"a@b.c", "amount": 1.50}',
      '{"card": "no number here"}',
      "not json",
    }))
    assert.are.same({
      '{"id": 7, "card": {"number": "***", "exp": "12/30"},' ..
      '  "email":"***", "amount": 1.50}',
      '{"card": "no number here"}',
      "not json",
    }, pluck(stored(c, "redacted"), "value"))
  end)

  it("drop_invalid_json stores only JSON and counts the rest", function()
    assert(c:produce("json", {'{"a": 1}', "not json", "[1, 2]", "NaN",
                              "", {key = "null value"}, '"text"'}))
    local recs = stored(c, "json")
    assert.are.same({'{"a": 1}', "[1, 2]", '"text"'}, pluck(recs, "value"))
    assert.are.same({0, 1, 2}, pluck(recs, "offset"))
    assert.are.equal(4, counter(c, "drop_invalid_json", "dropped_invalid_json"))
  end)

  it("route_by_field routes by the field, sanitized, with a fallback",
     function()
    assert.are.equal(-1, assert(c:produce("routed", {
      '{"region": "eu", "n": 1}', '{"region": "u s", "n": 2}',
      '{"n": 3}', "junk", '{"region": "eu", "n": 5}',
    })))
    assert.are.same({'{"region": "eu", "n": 1}', '{"region": "eu", "n": 5}'},
                    pluck(stored(c, "orders-eu"), "value"))
    assert.are.same({'{"region": "u s", "n": 2}'},
                    pluck(stored(c, "orders-u_s"), "value"))
    assert.are.same({'{"n": 3}', "junk"},
                    pluck(stored(c, "orders-other"), "value"))
    assert.are.same({}, stored(c, "routed"))
    assert.are.equal(2, counter(c, "route_by_field", "unroutable"))
  end)

  -- The partition of each record of one produce with partition -1, by
  -- value.
  local function placed(topic, records)
    local _, res = assert(c:produce(topic, records, {partition = -1}))
    local where = {}
    for _, p in ipairs(res.parts) do
      for _, r in ipairs(assert(c:fetch(topic, p.partition, p.base_offset)).records) do
        where[r.value] = p.partition
      end
    end
    return where
  end

  it("partition_by_field places by the field as key_hash places keys",
     function()
    local ids = {"c-1", "c-2", "c-3", "c-4", "c-5", "c-6", "42"}
    local by_field, by_key = {}, {}
    for i, id in ipairs(ids) do
      -- The key differs from the field: only the field may decide.
      local doc = id == "42" and '{"customer_id": 42}'
                  or string.format('{"customer_id": "%s"}', id)
      by_field[i] = {key = "other-" .. i, value = doc}
      by_key[i] = {key = id, value = doc}
    end
    local got, want = placed("placed", by_field), placed("hashed", by_key)
    assert.are.same(want, got)
    local seen = {}
    for _, p in pairs(got) do seen[p] = true end
    assert.is_not_nil(next(seen, next(seen))) -- more than one partition
  end)

  it("sample keeps the 1st record in n, counting across batches", function()
    assert(c:produce("sampled", {"1", "2", "3", "4", "5", "6", "7"}))
    assert(c:produce("sampled", {"8", "9", "10"}))
    assert.are.same({"1", "4", "7", "10"}, pluck(stored(c, "sampled"), "value"))
    assert.are.equal(6, counter(c, "sample", "sampled_out"))
  end)

  it("add_headers adds fixed headers, the principal and a receive time",
     function()
    -- The broker's clock (CLOCK_REALTIME), read the same way: os.time()
    -- reads the kernel's coarse clock, a tick behind across a second.
    local before = math.floor(system.gettime() * 1000)
    assert(c:produce("tagged", {{value = "a", headers = {{"env", "mine"}}},
                                {value = "b"}}))
    local after = math.floor(system.gettime() * 1000)
    local recs = stored(c, "tagged")
    assert.are.equal(2, #recs)
    for i, rec in ipairs(recs) do
      local names, values = pluck(rec.headers, 1), pluck(rec.headers, 2)
      assert.are.same({"env", "source", "x-producer", "x-received"}, names)
      -- overwrite = false: the record's own "env" wins.
      assert.are.same({i == 1 and "mine" or "prod", "flyq", "alice"},
                      {values[1], values[2], values[3]})
      local ms = assert(tonumber(values[4]))
      assert.is_true(ms >= before and ms <= after, values[4])
    end
  end)
end)

describe("add_headers for an anonymous client", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {plugin_path = {ROOT .. "/plugins"},
                                  topics = TOPICS}})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  -- Hooks get ctx.principal = nil for an anonymous client, so add_headers
  -- writes no principal header.
  it("sets no principal header (docs/plugins.md: ctx.principal nil)",
          function()
    assert(c:produce("tagged", {"a"}))
    assert.are.same({"env", "source", "x-received"},
                    pluck(stored(c, "tagged")[1].headers, 1))
  end)
end)
