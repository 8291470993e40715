-- What on_produce and on_consume hooks do to records on the real broker
-- (docs/plugins.md, "Hooks" and "The record"): the key, timestamp and
-- headers a hook sets are what is stored; ctx.topic and ctx.partition as
-- the hooks see them; what init's ctx holds; on_consume fan-out and drop,
-- with the offsets the consumer gets and the stored log left as it was;
-- records exposed lazily, so that a hook copies into Lua only the fields
-- it reads (the plugin's keys_pushed, values_pushed and headers_pushed in
-- Stats). Uses the test plugins of spec/fixtures/plugins.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"
local STAMP = 1234567890123 -- the timestamp rekey sets

-- The fetched records of topic's partition from offset 0.
local function fetch(c, topic, partition, opts)
  return assert(c:fetch(topic, partition or 0, 0, opts))
end

-- field of every record of recs, in order.
local function pluck(recs, field)
  local out = {}
  for i, r in ipairs(recs) do out[i] = r[field] end
  return out
end

local header = server.header

describe("hooks and records", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {
        rekeyed = {on_produce = {{plugin = "rekey",
                                  params = {timestamp = STAMP}}}},
        probed = {partitions = 3, on_produce = {"ctx_probe"},
                  on_consume = {"ctx_probe"}},
        fanned = {on_consume = {"fanout_consume"}},
        inited = {on_produce = {{plugin = "init_ctx", params = {n = 3}}}},
      },
    }})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  it("stores the key, timestamp and null header value a hook set", function()
    assert(c:produce("rekeyed", {
      {key = "orig", value = "a", timestamp = 1000,
       headers = {{"keep", "yes"}, {"gone", "here"}}},
      {key = "k2", value = "nokey", timestamp = 2000},
    }))
    local recs = fetch(c, "rekeyed").records
    assert.are.equal(2, #recs)
    assert.are.equal("k:a", recs[1].key)
    assert.is_nil(recs[2].key)
    assert.are.same({"a", "nokey"}, pluck(recs, "value"))
    assert.are.same({STAMP, STAMP}, pluck(recs, "timestamp"))
    -- Sorted by name; "gone" is present with a null value.
    assert.are.same({{"gone"}, {"keep", "yes"}}, recs[1].headers)
    assert.are.same({{"gone"}}, recs[2].headers)
  end)

  it("tells hooks the request's topic and partition", function()
    -- An explicit partition: on_produce sees it in ctx and on the record.
    assert.are.equal(0, assert(c:produce("probed", {"p"}, {partition = 2})))
    local rec = fetch(c, "probed", 2).records[1]
    assert.are.equal("probed/2/2", header(rec, "ctx"))
    assert.are.equal("probed/2/0", header(rec, "ctx-consume"))
    -- Partition -1: nil (the partitioner chooses after the hooks), and
    -- on_consume sees the partition it was fetched from.
    local _, res = assert(c:produce("probed", {{key = "k", value = "q"}},
                                    {partition = -1}))
    assert.are.equal(1, #res.parts)
    local p = res.parts[1]
    rec = assert(c:fetch("probed", p.partition, p.base_offset)).records[1]
    assert.are.equal("q", rec.value)
    assert.are.equal("probed/nil/nil", header(rec, "ctx"))
    assert.are.equal(string.format("probed/%d/%d", p.partition, p.base_offset),
                     header(rec, "ctx-consume"))
  end)

  it("gives init a ctx with params and state only, and the hooks that "
     .. "state", function()
    -- init serves no request: no topic, partition or principal
    -- (docs/plugins.md, "Hooks").
    assert(c:produce("inited", {"x"}))
    local rec = fetch(c, "inited").records[1]
    assert.are.equal("params,state same empty", header(rec, "init-ctx"))
    assert.are.equal("n=3", header(rec, "state"))
  end)

  -- Produced to topic: one, two, drop, four (offsets 0 to 3).
  local INPUT = {"one", "two", "drop", "four"}
  -- What fanout_consume makes of them: "two" fanned out keeps its offset
  -- for both records, "drop" leaves a gap.
  local VALUES = {"one", "two", "two again", "four"}
  local OFFSETS = {0, 1, 1, 3}

  it("fans out and drops with the topic's on_consume, not in the log",
     function()
    assert(c:produce("fanned", INPUT))
    local res = fetch(c, "fanned")
    assert.are.same(VALUES, pluck(res.records, "value"))
    assert.are.same(OFFSETS, pluck(res.records, "offset"))
    assert.are.equal(4, res.next_offset)
    assert.are.equal(4, res.high_watermark)
    -- From offset 2: the dropped record is skipped, nothing is repeated.
    res = assert(c:fetch("fanned", 0, 2))
    assert.are.same({"four"}, pluck(res.records, "value"))
    assert.are.same({3}, pluck(res.records, "offset"))
    -- The segment file holds the records as produced.
    local log = server.read_file(srv.data_dir ..
                                 "/fanned/0/00000000000000000000.log")
    local stored = client.decode_batches(assert(log))
    assert.are.same(INPUT, pluck(stored, "value"))
    assert.are.same({0, 1, 2, 3}, pluck(stored, "offset"))
  end)

  it("fans out and drops the same as a consumer's filter", function()
    assert(c:produce("plain", INPUT))
    local res = fetch(c, "plain", 0, {filter = "fanout_consume"})
    assert.are.same(VALUES, pluck(res.records, "value"))
    assert.are.same(OFFSETS, pluck(res.records, "offset"))
    assert.are.equal(4, res.next_offset)
    res = fetch(c, "plain")
    assert.are.same(INPUT, pluck(res.records, "value"))
    assert.are.same({0, 1, 2, 3}, pluck(res.records, "offset"))
  end)
end)

describe("lazy records", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {keys = {on_produce = {"key_reader"}},
                vals = {on_produce = {"value_reader"}}},
    }})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  -- What Stats says of plugin name: its calls (of those, in chunks) and
  -- how many keys, values and headers it copied into Lua.
  local function pushed(name)
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.name == name then
        return {calls = p.calls, chunked = p.chunked_calls,
                keys = p.keys_pushed, values = p.values_pushed,
                headers = p.headers_pushed}
      end
    end
    error("no stats for plugin " .. name)
  end

  -- 203 records: 200 of them in chunks of 128, 64 and 8, 3 one by one
  -- (docs/plugins.md, "Speed"); both ways count the same.
  local N = 203

  it("copy into Lua only the field a hook reads, and store records intact",
     function()
    local batch = {}
    for i = 1, N do
      batch[i] = {key = "k" .. i, value = ("v"):rep(i),
                  headers = {{"h", "x" .. i}}}
    end
    for _, topic in ipairs({"keys", "vals"}) do
      assert.are.equal(0, assert(c:produce(topic, batch)))
      local recs = fetch(c, topic).records
      assert.are.equal(N, #recs, topic)
      for i, r in ipairs(recs) do
        assert.are.same({i - 1, "k" .. i, ("v"):rep(i), {{"h", "x" .. i}}},
                        {r.offset, r.key, r.value, r.headers}, topic)
      end
    end
    assert.are.same({calls = N, chunked = 200, keys = N, values = 0,
                     headers = 0}, pushed("key_reader"))
    assert.are.same({calls = N, chunked = 200, keys = 0, values = N,
                     headers = 0}, pushed("value_reader"))
  end)
end)
