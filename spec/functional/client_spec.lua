-- The Lua client library (lua/flyq/client.lua) against the real broker,
-- started per case with spec/support/server.lua: record round trips (keys,
-- values, headers, timestamps, partitions and the broker's partitioner),
-- long-poll fetches, durability across kill -9 and clean restarts, consumer
-- group offsets, topic administration and the error codes a client sees.
-- Every case ends with a clean stop (exit 0) and a log without errors or
-- sanitizer reports.
local server = require("support.server")
local client = require("flyq.client")
local system = require("system")

local MiB = 1024 * 1024
local srv, clients

-- Topics every broker declares; auto_create_topics is off so that a
-- produce to an unknown topic is an error.
local CONFIG = {
  auto_create_topics = false,
  topics = {one = {partitions = 1}, three = {partitions = 3}},
}

local q, read_file = server.q, server.read_file

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function elapsed_ms(t0)
  return (system.monotime() - t0) * 1000
end

local function wall_ms()
  return math.floor(system.gettime() * 1000)
end

-- A client connected to srv, closed in after_each.
local function connect()
  local c = assert(client.connect(srv.addr, {timeout_ms = 5000}))
  clients[#clients + 1] = c
  return c
end

-- Asserts that a call failed with the error name want and a message.
local function assert_fails(want, ok, err, code)
  assert.is_nil(ok, "expected " .. want)
  assert.are.equal(want, code, err)
  assert.is_true(type(err) == "string" and #err > 0)
end

-- Every record of topic/partition from offset on, fetching until the high
-- watermark; returns the records and the high watermark.
local function fetch_all(c, topic, partition, from)
  local out, offset, hw = {}, from or 0, nil
  repeat
    local res = assert(c:fetch(topic, partition, offset))
    for _, r in ipairs(res.records) do out[#out + 1] = r end
    assert.is_true(res.next_offset > offset or res.next_offset >=
                   res.high_watermark, "fetch made no progress")
    offset, hw = res.next_offset, res.high_watermark
  until offset >= hw
  return out, hw
end

-- The broker's topic names, sorted.
local function topic_names(c)
  local names = {}
  for _, t in ipairs(assert(c:metadata()).topics) do
    names[#names + 1] = t.name
  end
  table.sort(names)
  return names
end

local function values_of(records)
  local t = {}
  for i, r in ipairs(records) do t[i] = r.value end
  return t
end

-- A new connection is accepted and served: it produces to "one" and reads
-- the record back.
local function assert_fresh_client_served(tag)
  local c = connect()
  local base = assert(c:produce("one", {{key = "fresh", value = tag}}))
  local res = assert(c:fetch("one", 0, base))
  assert.are.equal(tag, res.records[1].value)
  assert.are.equal(base, res.records[1].offset)
end

-- The 256 byte values in order.
local function all_bytes()
  local t = {}
  for i = 0, 255 do t[#t + 1] = string.char(i) end
  return table.concat(t)
end

-- Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), in 32-bit
-- arithmetic, for the partition a keyed record must land in.
local function murmur2(s)
  local M32, m = 0xffffffff, 0x5bd1e995
  local n = #s
  local h = (0x9747b28c ~ n) & M32
  local blocks = n - n % 4
  for i = 1, blocks, 4 do
    local k = string.unpack("<I4", s, i)
    k = (k * m) & M32
    k = k ~ (k >> 24)
    k = (k * m) & M32
    h = ((h * m) & M32) ~ k
  end
  local tail = n % 4
  if tail >= 3 then h = h ~ (s:byte(blocks + 3) << 16) end
  if tail >= 2 then h = h ~ (s:byte(blocks + 2) << 8) end
  if tail >= 1 then h = ((h ~ s:byte(blocks + 1)) * m) & M32 end
  h = h ~ (h >> 13)
  h = (h * m) & M32
  h = h ~ (h >> 15)
  return h >= 0x80000000 and h - 0x100000000 or h
end

local function partition_for_key(key, n)
  return (murmur2(key) & 0x7fffffff) % n
end

before_each(function()
  clients = {}
  srv = server.start({config = CONFIG})
end)

after_each(function()
  for _, c in ipairs(clients) do c:close() end
  local ok, err = pcall(function()
    assert.are.equal(0, srv:stop())
    srv:assert_clean_log()
  end)
  srv:close()
  if not ok then error(err, 0) end
end)

describe("flyq.client round trips", function()
  it("keeps keys, values, headers, timestamps; offsets match", function()
    local bytes = all_bytes()
    local c = connect()
    local first = {
      {key = nil, value = "null key", timestamp = 1700000000123},
      {key = "", value = "empty key", timestamp = 1700000000999},
      {key = "tombstone", value = nil, timestamp = 1600000000000},
      {key = "k", value = "", timestamp = 1},
      {key = bytes, value = bytes:reverse(), timestamp = 1700000000500},
      {key = "h", value = "headers", timestamp = 1700000001000,
       headers = {{"a", "1"}, {"nil", nil}, {"a", "2"}, {"", ""},
                  {"bin", bytes}}},
    }
    local second = {
      {key = "map", value = "map headers", headers = {only = "one"}},
      "plain string",
    }
    local before = wall_ms()
    local base1, res1 = assert(c:produce("one", first))
    local base2, res2 = assert(c:produce("one", second))
    local after = wall_ms()
    assert.are.equal(base1 + #first - 1, res1.last_offset)
    assert.are.equal(res1.last_offset + 1, base2)
    assert.are.equal(base2 + #second - 1, res2.last_offset)
    assert.are.same({{partition = 0, base_offset = base1,
                      last_offset = res1.last_offset,
                      log_start_offset = 0}}, res1.parts)

    local got, hw = fetch_all(c, "one", 0, base1)
    assert.are.equal(res2.last_offset + 1, hw)
    assert.are.equal(#first + #second, #got)
    for i, want in ipairs(first) do
      local r = got[i]
      assert.are.equal(base1 + i - 1, r.offset)
      assert.are.equal(want.key, r.key)
      assert.are.equal(want.value, r.value)
      assert.are.equal(want.timestamp, r.timestamp)
      assert.are.same(want.headers or {}, r.headers)
    end
    -- the null header value stays null, not empty
    assert.are.equal("nil", got[6].headers[2][1])
    assert.is_nil(got[6].headers[2][2])
    assert.are.equal(256, #got[5].key)
    local map, plain = got[#first + 1], got[#first + 2]
    assert.are.same({base2, "map", "map headers", {{"only", "one"}}},
                    {map.offset, map.key, map.value, map.headers})
    assert.are.same({base2 + 1, nil, "plain string", {}},
                    {plain.offset, plain.key, plain.value, plain.headers})
    for _, r in ipairs({map, plain}) do
      assert.is_true(r.timestamp >= before and r.timestamp <= after,
                     "default timestamp " .. r.timestamp)
    end
    assert.are.equal(hw, c:list_offsets("one", 0, "latest"))
    assert.are.equal(0, c:list_offsets("one", 0, "earliest"))
  end)

  it("round-trips a 1 MiB value next to small ones", function()
    local c = connect()
    local chunk = all_bytes()
    local parts = {}
    for i = 1, MiB // #chunk do -- each chunk rotated by i
      parts[i] = chunk:sub(i % 256 + 1) .. chunk:sub(1, i % 256)
    end
    local big = table.concat(parts)
    assert.are.equal(MiB, #big)
    local b0 = assert(c:produce("one", {"before"}))
    local b1 = assert(c:produce("one", {{key = "big", value = big}}))
    local b2 = assert(c:produce("one", {"after"}))
    assert.are.same({b0 + 1, b0 + 2}, {b1, b2})
    local got = fetch_all(c, "one", 0, b0)
    assert.are.equal(3, #got)
    assert.are.same({b0, b1, b2}, {got[1].offset, got[2].offset, got[3].offset})
    assert.are.equal("before", got[1].value)
    assert.are.equal("big", got[2].key)
    assert.are.equal(#big, #got[2].value)
    assert.is_true(big == got[2].value, "the 1 MiB value differs")
    assert.are.equal("after", got[3].value)
  end)

  it("keeps each explicit partition's offsets apart", function()
    local c = connect()
    local sent = {[0] = {"p0-a", "p0-b"}, [1] = {"p1-a", "p1-b", "p1-c"},
                  [2] = {"p2-a"}}
    for p = 0, 2 do
      local base, res = assert(c:produce("three", sent[p], {partition = p}))
      assert.are.equal(0, base)
      assert.are.equal(#sent[p] - 1, res.last_offset)
      assert.are.equal(p, res.parts[1].partition)
    end
    local base = assert(c:produce("three", {"p1-d"}, {partition = 1}))
    assert.are.equal(#sent[1], base)
    sent[1][#sent[1] + 1] = "p1-d"
    for p = 0, 2 do
      local got, hw = fetch_all(c, "three", p, 0)
      assert.are.same(sent[p], values_of(got))
      assert.are.equal(#sent[p], hw)
      assert.are.equal(hw, c:list_offsets("three", p))
    end
    assert_fails("UNKNOWN_TOPIC_OR_PARTITION",
                 c:produce("three", {"nowhere"}, {partition = 3}))
    assert_fails("UNKNOWN_TOPIC_OR_PARTITION", c:fetch("three", 3, 0))
  end)

  it("partition -1: a key always lands in murmur2(key) mod n", function()
    -- the reference hash agrees with Kafka's own test vectors
    assert.are.same({-973932308, -790332482, 479470107, -1993445489},
                    {murmur2("21"), murmur2("foobar"), murmur2("abc"),
                     murmur2("1")})
    local c = connect()
    local keys = {""}
    for i = 1, 12 do keys[#keys + 1] = "key-" .. i end
    local where = {} -- "partition:offset" of each record a result reports
    local total = 0
    for round = 1, 3 do
      local batch = {}
      for _, k in ipairs(keys) do
        batch[#batch + 1] = {key = k, value = k .. "#" .. round}
      end
      for i = 1, 4 do batch[#batch + 1] = {value = "nokey" .. round .. i} end
      local _, res = assert(c:produce("three", batch, {partition = -1}))
      local stored = 0
      for _, part in ipairs(res.parts) do
        assert.is_nil(part.error)
        stored = stored + part.last_offset - part.base_offset + 1
        for o = part.base_offset, part.last_offset do
          where[part.partition .. ":" .. o] = true
        end
      end
      assert.are.equal(#batch, stored)
      total = total + #batch
    end
    local key_partition, count, nokey_parts = {}, 0, {}
    for p = 0, 2 do
      for _, r in ipairs(fetch_all(c, "three", p, 0)) do
        count = count + 1
        local at = p .. ":" .. r.offset
        assert.is_true(where[at], "not in the produce result: " .. at)
        if r.key == nil then
          nokey_parts[p] = true
        else
          assert.are.equal(partition_for_key(r.key, 3), p, "key " .. r.key)
          assert.are.equal(key_partition[r.key] or p, p)
          key_partition[r.key] = p
        end
      end
    end
    assert.are.equal(total, count)
    local used = {}
    for _, p in pairs(key_partition) do used[p] = true end
    assert.is_true(used[0] and used[1] and used[2],
                   "13 keys should reach all 3 partitions")
    assert.is_true(nokey_parts[0] and nokey_parts[1] and nokey_parts[2],
                   "keyless records go round-robin")
  end)
end)

describe("flyq.client long-poll fetch", function()
  it("wakes when another process produces", function()
    local c = connect()
    local hw = assert(c:produce("one", {"first"})) + 1
    local dir = server.tmpdir()
    -- started before the blocking fetch; it produces ~300 ms later
    os.execute(string.format(
      "cd %s && ((sleep 0.3; echo x | LD_PRELOAD= ASAN_OPTIONS=detect_leaks=1 "
      .. "%s produce -b %s -p 0 one) >out 2>&1; echo $? >rc.tmp; "
      .. "mv rc.tmp rc) </dev/null >/dev/null 2>&1 &",
      q(dir), q(server.bin()), q(srv.addr)))
    local t0 = system.monotime()
    local res, err = c:fetch("one", 0, hw, {max_wait_ms = 5000, min_bytes = 1})
    local took = elapsed_ms(t0)
    local rc = server.wait_for(function() return read_file(dir .. "/rc") end,
                               20, "the background produce to exit")
    local out = read_file(dir .. "/out")
    server.rmdir(dir)
    assert.are.equal("0", rc:match("%d+"), out)
    assert(res, err)
    assert.are.equal(1, #res.records)
    assert.are.same({hw, "x"}, {res.records[1].offset, res.records[1].value})
    assert.is_true(took >= 200, string.format("answered after %.0f ms", took))
    assert.is_true(took < 3000, string.format("answered after %.0f ms", took))
  end)

  it("returns nothing after about max_wait_ms when no data comes", function()
    local c = connect()
    local hw = assert(c:produce("one", {"only"})) + 1
    local wait = 800
    local t0 = system.monotime()
    local res = assert(c:fetch("one", 0, hw,
                               {max_wait_ms = wait, min_bytes = 1}))
    local took = elapsed_ms(t0)
    local why = string.format("answered after %.0f ms", took)
    assert.are.same({}, res.records)
    assert.are.equal(hw, res.high_watermark)
    assert.is_true(took >= wait - 20, why)
    assert.is_true(took < wait + 1500, why)
  end)
end)

describe("flyq.client durability", function()
  for _, acks in ipairs({-1, 1}) do
    it("acks=" .. acks .. ": acknowledged records survive kill -9", function()
      local c = connect()
      local sent = {}
      for b = 1, 10 do
        local batch = {}
        for i = 1, 5 do
          local v = string.format("acks%d-%02d-%d", acks, b, i)
          batch[i] = {key = "k" .. i, value = v}
          sent[#sent + 1] = v
        end
        local base = assert(c:produce("one", batch, {acks = acks}))
        assert.are.equal((b - 1) * 5, base)
      end
      assert.are.equal(137, srv:kill9())
      assert.is_false(exists(srv.data_dir .. "/one/0/.clean"))
      srv:restart()
      local got, hw = fetch_all(connect(), "one", 0, 0)
      assert.are.equal(#sent, hw)
      assert.are.same(sent, values_of(got))
      for i, r in ipairs(got) do assert.are.equal(i - 1, r.offset) end
      assert.is_truthy(srv:log_text():find(
        "one/0: recovered after unclean shutdown", 1, true), srv:log_text())
    end)
  end

  it("keeps data and group offsets across a clean stop and restart", function()
    local c = connect()
    local sent = {}
    local function put(topic, p, values)
      assert(c:produce(topic, values, {partition = p}))
      local key = topic .. "/" .. p
      sent[key] = sent[key] or {}
      table.move(values, 1, #values, #sent[key] + 1, sent[key])
    end
    put("one", 0, {"o1", "o2", "o3"})
    for p = 0, 2 do put("three", p, {"t" .. p .. "a", "t" .. p .. "b"}) end
    put("three", 1, {"t1c"})
    assert(c:commit("g1", "one", 0, 2))
    assert(c:commit("g1", "three", 1, 3))
    assert(c:commit("g2", "three", 2, 1))

    assert.are.equal(0, srv:stop())
    local partitions = {"one/0", "three/0", "three/1", "three/2"}
    for _, tp in ipairs(partitions) do
      assert.is_true(exists(srv.data_dir .. "/" .. tp .. "/.clean"), tp)
    end
    srv:restart()
    for _, tp in ipairs(partitions) do
      assert.is_false(exists(srv.data_dir .. "/" .. tp .. "/.clean"),
                      tp .. ": the marker is taken at open")
    end

    local c2 = connect()
    for key, values in pairs(sent) do
      local topic, p = key:match("^(.-)/(%d+)$")
      assert.are.same(values, values_of(fetch_all(c2, topic, tonumber(p), 0)))
    end
    assert.are.equal(2, c2:committed("g1", "one", 0))
    assert.are.equal(3, c2:committed("g1", "three", 1))
    assert.are.equal(1, c2:committed("g2", "three", 2))
    assert.are.equal(-1, c2:committed("g2", "one", 0))
    local groups = assert(c2:groups())
    table.sort(groups)
    assert.are.same({"g1", "g2"}, groups)
    local log = srv:log_text()
    assert.is_nil(log:find("unclean", 1, true), log)
    assert.is_nil(log:find("recovered", 1, true), log)
  end)
end)

describe("flyq.client consumer groups", function()
  it("a second consumer resumes from the committed offset", function()
    local c = connect()
    local values = {}
    for i = 1, 10 do values[i] = "m" .. i end
    assert.are.equal(0, assert(c:produce("one", values)))
    assert.are.equal(-1, c:committed("readers", "one", 0))
    -- consumer A reads the first four and commits the next offset
    local res = assert(c:fetch("one", 0, 0))
    assert.are.same({"m1", "m2", "m3", "m4"},
                    {res.records[1].value, res.records[2].value,
                     res.records[3].value, res.records[4].value})
    assert(c:commit("readers", "one", 0, res.records[4].offset + 1))
    c:close()

    local b = connect()
    local from = b:committed("readers", "one", 0)
    assert.are.equal(4, from)
    local rest = fetch_all(b, "one", 0, from)
    assert.are.same({"m5", "m6", "m7", "m8", "m9", "m10"}, values_of(rest))
    assert.are.equal(from, rest[1].offset)
    assert(b:commit("readers", "one", 0, rest[#rest].offset + 1))

    local a2 = connect()
    assert.are.equal(10, a2:committed("readers", "one", 0))
    assert.are.same({{topic = "one", partition = 0, offset = 10}},
                    assert(a2:group_offsets("readers")))
    assert.are.same({"readers"}, assert(a2:groups()))
    assert.are.same({}, (fetch_all(a2, "one", 0, 10)))
  end)
end)

describe("flyq.client topic administration", function()
  it("creates, describes and deletes a topic", function()
    local c = connect()
    assert.is_true(c:create_topic("made", {partitions = 4, config = {
      ["retention.ms"] = 60000, ["segment.bytes"] = "1048576",
      ["flush.messages"] = 5,
    }}))
    local md = assert(c:metadata("made"))
    assert.are.equal(1, #md.topics)
    local t = md.topics[1]
    assert.are.equal("made", t.name)
    assert.is_nil(t.error)
    assert.are.equal(4, #t.partitions)
    for i, p in ipairs(t.partitions) do
      assert.are.same({i - 1, 0, 0}, {p.partition, p.log_start_offset,
                                      p.high_watermark})
    end
    assert.are.same({"60000", "1048576", "5"},
                    {t.config["retention.ms"], t.config["segment.bytes"],
                     t.config["flush.messages"]})
    assert.are.same({"made", "one", "three"}, topic_names(c))
    assert_fails("TOPIC_ALREADY_EXISTS", c:create_topic("made"))
    assert_fails("INVALID_PARTITIONS", c:create_topic("zero", {partitions = 0}))
    -- an unknown setting is refused by name (docs/protocol.md does not say
    -- which code; Kafka answers INVALID_CONFIG)
    local ok, err, code = c:create_topic("bogus", {config = {bogus = "1"}})
    assert.is_nil(ok)
    assert.is_truthy(code == "INVALID_REQUEST" or code == "INVALID_CONFIG",
                     code)
    assert.is_truthy(err:find("'bogus'", 1, true), err)
    for _, name in ipairs({"zero", "bogus"}) do
      assert.are.equal("UNKNOWN_TOPIC_OR_PARTITION",
                       assert(c:metadata(name)).topics[1].error)
    end

    assert.are.equal(0, assert(c:produce("made", {"in p3"}, {partition = 3})))
    local p3 = assert(c:metadata("made")).topics[1].partitions[4]
    assert.are.same({3, 1}, {p3.partition, p3.high_watermark})

    assert.is_true(c:delete_topic("made"))
    assert.are.equal("UNKNOWN_TOPIC_OR_PARTITION",
                     assert(c:metadata("made")).topics[1].error)
    server.wait_for(function() return not exists(srv.data_dir .. "/made/3") end,
                    10, "the deleted topic's directory to go")
    assert_fails("UNKNOWN_TOPIC_OR_PARTITION", c:produce("made", {"x"}))
    assert_fails("UNKNOWN_TOPIC_OR_PARTITION", c:fetch("made", 0, 0))
    assert_fails("UNKNOWN_TOPIC_OR_PARTITION", c:delete_topic("made"))
    assert_fresh_client_served("after delete")
  end)
end)

describe("flyq.client errors", function()
  it("OFFSET_OUT_OF_RANGE beyond the end, with the watermarks", function()
    local c = connect()
    assert(c:produce("one", {"a", "b", "c"}))
    local ok, err, code, info = c:fetch("one", 0, 4)
    assert_fails("OFFSET_OUT_OF_RANGE", ok, err, code)
    assert.are.same({3, 0}, {info.high_watermark, info.log_start_offset})
    assert_fails("OFFSET_OUT_OF_RANGE", c:fetch("one", 0, -1))
    -- the end itself is in range: an empty answer
    assert.are.same({}, assert(c:fetch("one", 0, 3)).records)
    -- the connection stays usable, and so does a new one
    assert.are.equal("c", assert(c:fetch("one", 0, 2)).records[1].value)
    assert_fresh_client_served("after out of range")
  end)

  it("INVALID_TOPIC for 'a/b' and '..', creating nothing", function()
    local c = connect()
    for _, name in ipairs({"a/b", ".."}) do
      assert_fails("INVALID_TOPIC", c:produce(name, {"x"}))
      assert_fails("INVALID_TOPIC", c:fetch(name, 0, 0))
      assert_fails("INVALID_TOPIC", c:create_topic(name))
      -- the connection stays usable
      local base = assert(c:produce("one", {"still " .. name}))
      assert.are.equal("still " .. name,
                       assert(c:fetch("one", 0, base)).records[1].value)
    end
    for _, name in ipairs({"", "__internal", string.rep("n", 250)}) do
      assert_fails("INVALID_TOPIC", c:produce(name, {"x"}))
    end
    assert.is_false(exists(srv.data_dir .. "/a"))
    assert.are.same({"one", "three"}, topic_names(c))
    assert_fresh_client_served("after invalid names")
  end)

  it("answers an oversized frame with MESSAGE_TOO_LARGE and closes", function()
    local c = connect()
    assert(c:send_raw(string.pack(">i4", 16 * MiB + 1) .. string.rep("\0", 64)))
    local payload = assert(c:recv_frame(5000))
    local corr, code, msg, pos = string.unpack(">i4i2s2", payload)
    assert.are.same({-1, 10}, {corr, code})
    assert.is_true(#msg > 0)
    assert.are.equal(#payload + 1, pos)
    local none, why = c:recv_frame(5000)
    assert.is_nil(none)
    assert.are.equal("closed", why)
    assert.is_false(c:connected())
    assert_fresh_client_served("after oversized frame")
  end)
end)
