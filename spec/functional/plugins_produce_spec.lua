-- Plugins in the produce path (docs/architecture.md, "Plugins in the
-- request path"): on_produce hooks with every on_error mode, routing and
-- dead letters, partitioners, and the principal hooks see. Starts the real
-- broker (spec/support/server.lua) with the test plugins of
-- spec/fixtures/plugins and drives it with flyq.client.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"

-- The records of every partition of topic, as "value" strings in
-- partition then offset order (and the record tables).
local function values(c, topic, partition)
  local res = assert(c:fetch(topic, partition or 0, 0))
  local out = {}
  for i, r in ipairs(res.records) do out[i] = r.value end
  return out, res.records
end

local header = server.header

describe("on_produce hooks", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {
        up = {on_produce = {"upper"}},
        plain = {},
        rej = {on_produce = {"router"}},
        pass = {on_produce = {"failing"}, on_error = "pass"},
        dl = {on_produce = {"failing"}, on_error = "dead_letter"},
        chain = {on_produce = {"append1", "append2", "who"}},
        chunks = {on_produce = {"keep_some"}},
        chunkspass = {on_produce = {{plugin = "keep_some", params = {tag = "pass"}}},
                      on_error = "pass"},
        rechain = {on_produce = {"append2", "append1"}},
      },
    }})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  it("changes every record before it is stored", function()
    assert(c:produce("up", {"a", "b"}))
    assert(c:produce("plain", {"a", "b"}))
    assert.are.same({"A", "B"}, values(c, "up"))
    assert.are.same({"a", "b"}, values(c, "plain"))
  end)

  -- A hook that returns its record or nothing runs 128 records at a time
  -- (docs/plugins.md, "Speed"): the same records come out as one by one.
  it("stores what a filter keeps, 128 records at a time", function()
    local batch, want = {}, {}
    for i = 1, 1003 do
      batch[i] = "x" .. i
      if i % 3 ~= 0 then want[#want + 1] = i % 5 == 0 and "X" .. i or "x" .. i end
    end
    for _, topic in ipairs({"chunks", "chunkspass"}) do
      assert(c:produce(topic, batch))
      assert.are.same(want, values(c, topic))
    end
    local chunked = {}
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.name == "keep_some" then
        assert.are.equal(1003, p.calls)
        chunked[p.used_as[1]] = p.chunked_calls
      end
    end
    -- 7 whole slices of 128, then chunks of 64, 32 and 8, then 3 records
    -- one by one; none under pass
    assert.are.same({["topics.chunks.on_produce[1]"] = 1000,
                     ["topics.chunkspass.on_produce[1]"] = 0}, chunked)
    local code, out, err = server.run({"stats", "-b", srv.addr})
    assert.are.equal(0, code, err)
    assert.matches("topics.chunks.on_produce%[1%]: batches 1, calls 1003 " ..
                   "%(1000 in chunks%), errors 0\n", out)
  end)

  it("runs the chain in order and gives hooks the principal", function()
    -- append1 and append2 do not commute: the order shows in the value.
    assert(c:produce("chain", {"v"}))
    assert(c:produce("rechain", {"v"}))
    local vals, recs = values(c, "chain")
    assert.are.same({"v12"}, vals)
    assert.are.same({"v21"}, values(c, "rechain"))
    -- An anonymous client: ctx.principal is nil (who.lua writes "nil").
    assert.are.equal("nil", header(recs[1], "who"))
  end)

  it("routes and fans out records, auto-creating the target topic", function()
    assert(c:produce("rej", {{key = "audit", value = "a1"},
                             {key = "k", value = "twice"}}))
    assert.are.same({"twice", "twice again"}, values(c, "rej"))
    assert.are.same({"a1"}, values(c, "audit"))
  end)

  it("acknowledges a batch whose records all went elsewhere", function()
    -- Through the Lua client and through the CLI: no partition entry for
    -- the requested topic is a success, not a malformed response.
    local base = c:produce("rej", {{key = "audit", value = "a1"}})
    assert.are.equal(-1, base)
    local code, _, err = server.run({"produce", "rej", "-k", "audit"},
                                    {env = {FLYQ_BROKER = srv.addr},
                                     stdin = "a2\na3\n"})
    assert.are.equal(0, code, err)
    assert.are.same({"a1", "a2", "a3"}, values(c, "audit"))
    assert.are.same({}, values(c, "rej"))
  end)

  it("rejects the whole batch, routed parts included", function()
    local base, err, code = c:produce("rej", {{key = "audit", value = "a1"},
                                              {key = "k", value = "ok"},
                                              {key = "k", value = "bad"}})
    assert.is_nil(base)
    assert.are.equal("PLUGIN_ERROR", code)
    assert.matches("plugin router", err, 1, true)
    assert.matches("router.lua:6: bad record", err, 1, true)
    assert.are.same({}, values(c, "rej"))
    local md = assert(c:metadata("audit"))
    assert.are.equal("UNKNOWN_TOPIC_OR_PARTITION", md.topics[1].error)
  end)

  it("passes failed records on unchanged with on_error = pass", function()
    assert(c:produce("pass", {"ok", "bad"}))
    assert.are.same({"ok", "bad"}, values(c, "pass"))
    assert.matches("plugin failing: .-failing.lua:5: bad record .-%[1 error so far%]",
                   srv:log_text())
  end)

  it("sends failed records to <topic>.dlq with on_error = dead_letter",
     function()
    assert(c:produce("dl", {"ok", "bad"}))
    assert.are.same({"ok"}, values(c, "dl"))
    local vals, recs = values(c, "dl.dlq")
    assert.are.same({"bad"}, vals)
    assert.matches("failing.lua:5: bad record", header(recs[1], "flyq.error"))
  end)

  it("puts only its own flyq.error header on a dead letter", function()
    assert(c:produce("dl", {{value = "bad", headers = {{"flyq.error", "forged"},
                                                      {"other", "1"}}}}))
    local _, recs = values(c, "dl.dlq")
    local errors = {}
    for _, h in ipairs(recs[1].headers) do
      if h[1] == "flyq.error" then errors[#errors + 1] = h[2] end
    end
    assert.are.equal(1, #errors)
    assert.matches("failing.lua:5: bad record", errors[1])
    assert.are.equal("1", header(recs[1], "other"))
  end)
end)

describe("partitioners", function()
  local srv, c, dir

  -- The config has an inline function: written as Lua source and passed
  -- with -c (the harness writes tables only).
  before_each(function()
    dir = server.tmpdir()
    server.write_config(dir .. "/flyq.lua", table.concat({
      "return {",
      "  data_dir = 'data',",
      "  plugin_path = {'" .. PLUGINS .. "'},",
      "  topics = {",
      "    default = {partitions = 4},",
      "    hashed = {partitions = 4, partitioner = 'key_hash'},",
      "    rr = {partitions = 3, partitioner = 'round_robin'},",
      "    sticky = {partitions = 4, partitioner = 'sticky'},",
      "    len = {partitions = 4, partitioner = 'bylen'},",
      "    inline = {partitions = 4,",
      "              partitioner = function(record, n) return n - 1 end},",
      "  },",
      "}",
    }, "\n"))
    srv = server.start({config = false, args = {"-c", dir .. "/flyq.lua"}})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
    server.rmdir(dir)
  end)

  -- Where each record of one produce with partition -1 went.
  local function placed(topic, records)
    local _, res = assert(c:produce(topic, records, {partition = -1}))
    local where = {}
    for _, p in ipairs(res.parts) do
      for o = p.base_offset, p.last_offset do
        local r = assert(c:fetch(topic, p.partition, o)).records[1]
        where[r.value] = p.partition
      end
    end
    return where
  end

  local keyed = {{key = "a", value = "1"}, {key = "bb", value = "2"},
                 {key = "ccc", value = "3"}, {key = "dddd", value = "4"}}

  it("keeps the broker's key hash when none is configured", function()
    assert.are.same(placed("default", keyed), placed("hashed", keyed))
  end)

  it("uses round_robin, a plugin and an inline function", function()
    local rr = placed("rr", {"1", "2", "3"})
    local seen = {}
    for _, p in pairs(rr) do seen[p] = true end
    assert.are.same({[0] = true, [1] = true, [2] = true}, seen)
    assert.are.same({["1"] = 1, ["2"] = 2, ["3"] = 3, ["4"] = 0},
                    placed("len", keyed))
    assert.are.same({["1"] = 3, ["2"] = 3, ["3"] = 3, ["4"] = 3},
                    placed("inline", keyed))
  end)

  -- sticky (docs/config.md, "Built-in partitioners"): the null-key records
  -- of one request go to one partition, the next request's to the next
  -- one (5 requests on 4 partitions: round and back to the first).
  it("sends each request's keyless records to one partition with sticky, " ..
     "the next request's to the next", function()
    local prev
    for req = 1, 5 do
      local batch, want = {}, {}
      for i = 1, 3 do batch[i] = req .. "." .. i end
      local where = placed("sticky", batch)
      local p = where[batch[1]]
      for i = 1, 3 do want[batch[i]] = p end
      assert.are.same(want, where, "request " .. req)
      if prev then assert.are.equal((prev + 1) % 4, p, "request " .. req) end
      prev = p
    end
  end)

  it("places keyed records with sticky as key_hash does", function()
    local hashed = placed("hashed", keyed)
    -- Kafka's murmur2 spreads these keys over partitions 0 and 3.
    assert.are.same({["1"] = 0, ["2"] = 0, ["3"] = 0, ["4"] = 3}, hashed)
    assert.are.same(hashed, placed("sticky", keyed))
    -- In one request with null keys: the keyed records still by their key,
    -- the keyless ones together.
    local mixed = {{value = "n1"}}
    for _, r in ipairs(keyed) do mixed[#mixed + 1] = r end
    mixed[#mixed + 1] = {value = "n2"}
    mixed[#mixed + 1] = {value = "n3"}
    local where = placed("sticky", mixed)
    local p = where.n1
    hashed.n1, hashed.n2, hashed.n3 = p, p, p
    assert.are.same(hashed, where)
  end)

  it("is bypassed by an explicit partition", function()
    local base = assert(c:produce("inline", {"x"}, {partition = 1}))
    assert.are.equal(0, base)
    assert.are.same({"x"}, values(c, "inline", 1))
  end)
end)

describe("dead letters without auto_create_topics", function()
  it("creates <topic>.dlq anyway, and refuses a name too long for it", function()
    local srv = server.start({config = {
      plugin_path = {PLUGINS}, auto_create_topics = false,
      topics = {dl = {on_produce = {"failing"}, on_error = "dead_letter"}},
    }})
    local c = assert(client.connect(srv.addr))
    assert(c:produce("dl", {"ok", "bad", "ok2"}))
    assert.are.same({"ok", "ok2"}, values(c, "dl"))
    assert.are.same({"bad"}, values(c, "dl.dlq"))
    -- other topics are still not created on produce
    local _, _, code = c:produce("elsewhere", {"x"})
    assert.are.equal("UNKNOWN_TOPIC_OR_PARTITION", code)
    c:close()
    srv:finish()
    local long = ("n"):rep(246)
    local file = server.tmpdir() .. "/long.lua"
    server.write_config(file, {topics = {[long] = {on_error = "dead_letter"}}})
    local rc, _, err = server.run({"config", "check", "-c", file})
    assert.are.equal(1, rc)
    assert.matches("topics." .. long .. ".on_error: dead_letter needs "
                   .. '"nnnnnnnnnnnnnnnnnnnn....dlq" as a topic name, which is '
                   .. "too long", err, 1, true)
  end)
end)
