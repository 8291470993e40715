-- The storage engine seen from Lua, through the flyq.core binding
-- (src/lua/lcore.c): topics, appends and reads, segments, time lookups,
-- restarts (clean and crashed), retention, group offsets and bad input.
-- Each test gets its own temporary data directory, removed afterwards.

local core = require("flyq.core")
local system = require("system") -- luasystem (busted's)

local function mktemp()
  local p = assert(io.popen("mktemp -d /tmp/flyq-core-spec.XXXXXX"))
  local dir = p:read("l")
  p:close()
  assert(dir and dir:match("^/tmp/flyq%-core%-spec%.[%w]+$"), "mktemp failed")
  return dir
end

local function sh(cmd)
  assert(os.execute(cmd), cmd)
end

-- Entries of a directory, sorted; {} if it does not exist.
local function ls(dir)
  local p = assert(io.popen("ls -1A '" .. dir .. "' 2>/dev/null"))
  local names = {}
  for name in p:lines() do names[#names + 1] = name end
  p:close()
  table.sort(names)
  return names
end

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

-- Overwrites one byte of a file (pos is 0-based).
local function poke(path, pos, byte)
  local f = assert(io.open(path, "r+b"))
  f:seek("set", pos)
  f:write(string.char(byte))
  f:close()
end

local function peek(path, pos)
  local f = assert(io.open(path, "rb"))
  f:seek("set", pos)
  local b = f:read(1):byte()
  f:close()
  return b
end

-- The .log files of a partition directory, oldest first.
local function segment_logs(pdir)
  local logs = {}
  for _, name in ipairs(ls(pdir)) do
    if name:match("^%d+%.log$") then logs[#logs + 1] = pdir .. "/" .. name end
  end
  return logs
end

-- Reads every record from offset `from` to the high watermark, one read at
-- a time with max_bytes, and checks that each read makes progress.
local function read_all(store, topic, p, from, max_bytes)
  local out, reads = {}, 0
  local high = store:watermarks(topic, p).high
  local off = from
  while off < high do
    local recs, nxt = assert(store:read(topic, p, off, max_bytes))
    assert.is_true(nxt > off)
    assert.is_true(#recs > 0)
    for _, r in ipairs(recs) do out[#out + 1] = r end
    off, reads = nxt, reads + 1
  end
  return out, reads
end

local function sorted_pairs(headers)
  local copy = {}
  for i, h in ipairs(headers) do copy[i] = { h[1], h[2] } end
  table.sort(copy, function(a, b) return a[1] < b[1] end)
  return copy
end

-- Appends n single-record batches to partition 0, with values "v0001"...
-- and timestamps ts(i) (now when ts is nil).
local function append_singles(store, topic, n, ts)
  for i = 1, n do
    local rec = { value = ("v%04d"):format(i), timestamp = ts and ts(i) }
    assert(store:append(topic, 0, { rec }))
  end
end

describe("flyq.core", function()
  local dir, data, store

  local function reopen(defaults)
    store = assert(core.open(data, defaults))
    return store
  end

  before_each(function()
    dir = mktemp()
    data = dir .. "/data"
    store = assert(core.open(data))
  end)

  after_each(function()
    if store then pcall(store.close, store) end
    store = nil
    sh("rm -rf '" .. dir .. "'")
  end)

  describe("module", function()
    it("has a version and the CRC-32C of Kafka batches", function()
      assert.is_string(core.version)
      assert.matches("^%d+%.%d+%.%d+", core.version)
      assert.equals(0xE3069283, core.crc32c("123456789"))
      assert.equals(core.crc32c("123456789"), core.crc32c("6789", core.crc32c("12345")))
      assert.equals(0, core.crc32c(""))
    end)

    it("names errors and describes them", function()
      assert.is_true(core.errors.UNKNOWN_TOPIC < 0)
      assert.equals(core.strerror(core.errors.UNKNOWN_TOPIC), core.strerror("UNKNOWN_TOPIC"))
      assert.equals(core.strerror("UNKNOWN_TOPIC"), core.strerror("UNKNOWN_TOPIC", "extra"))
      assert.are_not.equals(core.strerror("UNKNOWN_TOPIC"), core.strerror("CORRUPT"))
      assert.is_number(core.errors.ENOENT)
      assert.has_error(function() core.strerror("NO_SUCH_ERROR") end)
      assert.has_error(function() core.strerror(5) end)
    end)

    it("sets the level of diagnostic messages", function()
      local old = core.log_level("debug")
      assert.equals("debug", core.log_level("warn"))
      assert.equals("warn", core.log_level())
      assert.equals("warn", core.log_level(old))
      assert.equals(old, core.log_level())
      assert.has_error(function() core.log_level("loud") end)
      assert.equals(old, core.log_level())
    end)

    it("tells the wall-clock time in milliseconds", function()
      -- Bounds from the same precise clock (gettimeofday): os.time() reads
      -- the kernel's coarse clock, which lags by up to a tick and so fell
      -- a second behind across a second boundary (about 1 run in 250).
      local before = math.floor(system.gettime() * 1000)
      local now = core.now_ms()
      local after = math.floor(system.gettime() * 1000)
      assert.is_true(math.type(now) == "integer")
      assert.is_true(now >= before and now <= after,
                     string.format("%d not in [%d, %d]", now, before, after))
    end)

    it("reports a data directory that cannot be opened", function()
      sh("touch '" .. dir .. "/file'")
      local s, msg, code = core.open(dir .. "/file")
      assert.is_nil(s)
      assert.is_string(msg)
      assert.is_string(code)
    end)

    it("rejects bad defaults", function()
      assert.has_error(function() core.open(data .. "2", { segment_bytes = 0 }) end)
      assert.has_error(function() core.open(data .. "2", { no_such_option = 1 }) end)
      assert.has_error(function() core.open(data .. "2", { flush_ms = "1" }) end)
      assert.has_error(function() core.open(data .. "2", { retention_ms = 1.5 }) end)
    end)
  end)

  describe("topics", function()
    it("are created with partitions and settings, listed in name order", function()
      assert.is_true(store:create_topic("orders", { partitions = 3, segment_bytes = 65536 }))
      assert.is_true(store:create_topic("audit"))
      assert.are.same({ "audit", "orders" }, store:topics())
      local t = store:topic("orders")
      assert.equals("orders", t.name)
      assert.equals(3, t.partitions)
      assert.equals(65536, t.config.segment_bytes)
      assert.equals(1, store:topic("audit").partitions)
      for p = 0, 2 do
        assert.equals(0, store:watermarks("orders", p).high)
      end
      assert.are.same({ "0", "1", "2", "topic.json" }, ls(data .. "/orders"))
    end)

    it("take the store defaults unless given their own settings", function()
      store:close()
      reopen({ segment_bytes = 4096, retention_ms = 60000 })
      assert(store:create_topic("a"))
      assert(store:create_topic("b", { retention_ms = 5 }))
      assert.equals(4096, store:topic("a").config.segment_bytes)
      assert.equals(60000, store:topic("a").config.retention_ms)
      assert.equals(4096, store:topic("b").config.segment_bytes)
      assert.equals(5, store:topic("b").config.retention_ms)
    end)

    it("cannot be created twice", function()
      assert(store:create_topic("orders"))
      local ok, msg, code = store:create_topic("orders", { partitions = 2 })
      assert.is_nil(ok)
      assert.matches("orders", msg)
      assert.equals("TOPIC_EXISTS", code)
      assert.equals(1, store:topic("orders").partitions)
    end)

    it("refuse invalid names and leave nothing on disk", function()
      local bad = { "", ".", "..", "a/b", "/", "__x", "sp ace", "é", "a\0b",
                    ("x"):rep(250) }
      local before = ls(data)
      for _, name in ipairs(bad) do
        local ok, _, code = store:create_topic(name)
        assert.is_nil(ok, name)
        assert.equals("INVALID_NAME", code, name)
      end
      assert.are.same(before, ls(data))
      assert.are.same({}, store:topics())
      assert.is_true(store:create_topic(("x"):rep(249)))
      assert.is_true(store:create_topic("A-z_0.9"))
    end)

    it("refuse bad options", function()
      assert.has_error(function() store:create_topic("t", { partitions = 0 }) end)
      assert.has_error(function() store:create_topic("t", { partitions = 10001 }) end)
      assert.has_error(function() store:create_topic("t", { partitions = "2" }) end)
      assert.has_error(function() store:create_topic("t", { segment_byte = 10 }) end)
      assert.has_error(function() store:create_topic("t", { index_interval_bytes = -1 }) end)
      assert.has_error(function() store:create_topic("t", 3) end)
      assert.has_error(function() store:create_topic(nil) end)
      assert.is_nil(store:topic("t"))
    end)

    it("are deleted with their files and their committed offsets", function()
      assert(store:create_topic("orders", { partitions = 2 }))
      assert(store:create_topic("keep"))
      assert(store:append("orders", 1, { { value = "x" } }))
      assert(store:commit("g", "orders", 1, 1))
      assert(store:commit("g", "keep", 0, 0))
      assert.is_true(store:delete_topic("orders"))
      assert.are.same({ "keep" }, store:topics())
      assert.is_nil(file_size(data .. "/orders/topic.json"))
      assert.are.same({}, ls(data .. "/orders"))
      local t, _, code = store:topic("orders")
      assert.is_nil(t)
      assert.equals("UNKNOWN_TOPIC", code)
      assert.are.same({ keep = { [0] = 0 } }, store:group_offsets("g"))
      -- A new topic of the same name starts empty.
      assert(store:create_topic("orders"))
      assert.equals(0, store:watermarks("orders", 0).high)
      assert.is_nil(store:committed("g", "orders", 0))
      local _, _, code2 = store:delete_topic("nope")
      assert.equals("UNKNOWN_TOPIC", code2)
    end)
  end)

  describe("append and read", function()
    before_each(function()
      assert(store:create_topic("t", { partitions = 2 }))
    end)

    it("round-trip keys, values, null vs empty, headers and timestamps", function()
      local bin = "\0\1\2\255 binary\0"
      local recs = {
        { key = "k1", value = "v1", timestamp = 1700000000000 },
        { key = nil, value = nil, timestamp = 1700000000001 },
        { key = "", value = "", timestamp = 1700000000002 },
        { key = bin, value = bin:rep(1000), timestamp = 1699999999999 },
        { value = "h", timestamp = 5,
          headers = { { "a", "1" }, { "a", "2" }, { "nul", nil }, { "", "" } } },
        { value = "m", timestamp = 6, headers = { x = "1", y = "" } },
      }
      local base, last = store:append("t", 1, recs)
      assert.equals(0, base)
      assert.equals(#recs - 1, last)
      local got, nxt = assert(store:read("t", 1, 0))
      assert.equals(#recs, nxt)
      assert.equals(#recs, #got)
      for i, r in ipairs(recs) do
        local g = got[i]
        assert.equals(i - 1, g.offset)
        assert.equals(r.timestamp, g.timestamp)
        assert.equals(r.key, g.key)
        assert.equals(r.value, g.value)
      end
      assert.is_nil(got[2].key)
      assert.is_nil(got[2].value)
      assert.equals("", got[3].key)
      assert.equals("", got[3].value)
      assert.are.same({}, got[1].headers)
      assert.are.same({ { "a", "1" }, { "a", "2" }, { "nul", nil }, { "", "" } }, got[5].headers)
      assert.is_nil(got[5].headers[3][2])
      assert.are.same({ { "x", "1" }, { "y", "" } }, sorted_pairs(got[6].headers))
      -- Nothing went to the other partition.
      assert.equals(0, store:watermarks("t", 0).high)
    end)

    it("assigns consecutive offsets across appends and stamps the time", function()
      local before = core.now_ms()
      assert.are.same({ 0, 2 }, { store:append("t", 0, { {}, {}, {} }) })
      assert.are.same({ 3, 3 }, { store:append("t", 0, { { value = "x" } }) })
      local after = core.now_ms()
      local got = store:read("t", 0, 0)
      assert.equals(4, #got)
      for i, r in ipairs(got) do
        assert.equals(i - 1, r.offset)
        assert.is_true(r.timestamp >= before and r.timestamp <= after)
      end
    end)

    it("reads from the middle of a batch", function()
      local recs = {}
      for i = 1, 10 do recs[i] = { value = tostring(i - 1) } end
      assert(store:append("t", 0, recs))
      local got, nxt = store:read("t", 0, 7)
      assert.equals(10, nxt)
      assert.equals(3, #got)
      for i, r in ipairs(got) do
        assert.equals(6 + i, r.offset)
        assert.equals(tostring(6 + i), r.value)
      end
    end)

    it("reads nothing at the high watermark and fails past it", function()
      assert(store:append("t", 0, { { value = "a" }, { value = "b" } }))
      local got, nxt = store:read("t", 0, 2)
      assert.are.same({}, got)
      assert.equals(2, nxt)
      assert.equals("", store:read_raw("t", 0, 2))
      for _, off in ipairs({ 3, -1, math.maxinteger }) do
        local r, msg, code = store:read("t", 0, off)
        assert.is_nil(r)
        assert.is_string(msg)
        assert.equals("OFFSET_OUT_OF_RANGE", code)
        local _, _, code2 = store:read_raw("t", 0, off)
        assert.equals("OFFSET_OUT_OF_RANGE", code2)
      end
    end)

    it("reports unknown topics and partitions", function()
      local calls = {
        function(t, p) return store:append(t, p, { { value = "x" } }) end,
        function(t, p) return store:read(t, p, 0) end,
        function(t, p) return store:read_raw(t, p, 0) end,
        function(t, p) return store:watermarks(t, p) end,
        function(t, p) return store:offset_for_time(t, p, 0) end,
        function(t, p) return store:append_batch(t, p, ("\0"):rep(70)) end,
      }
      for _, call in ipairs(calls) do
        local r, msg, code = call("nope", 0)
        assert.is_nil(r)
        assert.matches("nope", msg)
        assert.equals("UNKNOWN_TOPIC", code)
        for _, p in ipairs({ 2, -1, 2 ^ 40 // 1 }) do
          local r2, _, code2 = call("t", p)
          assert.is_nil(r2)
          assert.equals("UNKNOWN_PARTITION", code2)
        end
      end
      assert.equals(0, store:watermarks("t", 0).high)
    end)

    it("refuses malformed records and stores nothing", function()
      local bad = {
        "records",
        {},
        { key = "k", value = "v" },           -- a record, not an array
        { "x" },
        { { value = 1 } },
        { { key = true } },
        { { timestamp = "1" } },
        { { timestamp = 1.5 } },
        { { values = "typo" } },
        { { headers = "h" } },
        { { headers = { { 1, "v" } } } },
        { { headers = { { nil, "v" } } } },
        { { headers = { "flat" } } },
        { { headers = { { "k", "v" }, x = "mixed" } } },
        { { headers = { [1] = { "k", "v" }, [3] = { "k", "v" } } } },
        { { headers = { x = 1 } } },
        { { value = "ok" }, { value = 2 } }, -- the second spoils the batch
      }
      for i, records in ipairs(bad) do
        assert.has_error(function() store:append("t", 0, records) end, nil, tostring(i))
      end
      assert.has_error(function() store:append("t", 1.5, { { value = "x" } }) end)
      assert.has_error(function() store:append("t", "0", { { value = "x" } }) end)
      assert.has_error(function() store:read("t", 0, 0.5) end)
      assert.has_error(function() store:read("t", 0, 0, -1) end)
      assert.has_error(function() store:append(1, 0, {}) end)
      -- Arguments are checked before the topic is looked up.
      assert.has_error(function() store:append("nope", 0, "records") end)
      assert.has_error(function() store:append_batch("nope", 0, {}) end)
      assert.has_error(function() store:read("nope", 0, "0") end)
      assert.has_error(function() store:read_raw("nope", 0, 0, 2 ^ 32 // 1) end)
      assert.has_error(function() store:offset_for_time("nope", 0) end)
      local marks = store:watermarks("t", 0)
      assert.equals(0, marks.high)
      assert.equals(0, marks.bytes)
    end)

    it("honours max_bytes but always returns a whole batch", function()
      for b = 1, 5 do
        local recs = {}
        for i = 1, 3 do recs[i] = { value = ("%d.%d"):format(b, i) } end
        assert(store:append("t", 0, recs))
      end
      local got, nxt = store:read("t", 0, 0, 1)
      assert.equals(3, #got)
      assert.equals(3, nxt)
      local all = read_all(store, "t", 0, 4, 1)
      assert.equals(11, #all)
      assert.equals(4, all[1].offset)
      assert.equals("2.2", all[1].value)
      assert.equals(14, all[#all].offset)
      assert.equals("5.3", all[#all].value)
    end)
  end)

  describe("segments", function()
    it("roll at segment_bytes and reads cross them", function()
      assert(store:create_topic("s", { segment_bytes = 1024 }))
      local n = 60
      for i = 1, n do
        local base = store:append("s", 0, { { key = "k" .. i, value = ("%03d"):format(i):rep(20) } })
        assert.equals(i - 1, base)
      end
      local marks = store:watermarks("s", 0)
      assert.equals(n, marks.high)
      assert.is_true(marks.segments > 3)
      assert.equals(marks.segments, #segment_logs(data .. "/s/0"))
      for _, max in ipairs({ 1, 500, 1024 * 1024 }) do
        local all, reads = read_all(store, "s", 0, 0, max)
        assert.equals(n, #all)
        for i, r in ipairs(all) do
          assert.equals(i - 1, r.offset)
          assert.equals("k" .. i, r.key)
          assert.equals(("%03d"):format(i):rep(20), r.value)
        end
        -- A read never crosses a segment end.
        if max == 1 then assert.equals(n, reads) end
        if max == 1024 * 1024 then assert.equals(marks.segments, reads) end
        assert.is_true(reads >= marks.segments)
      end
    end)

    it("store batches in the documented format", function()
      assert(store:create_topic("s"))
      assert(store:append("s", 0, { { value = "a" } }))
      assert(store:append("s", 0, { { value = "b", timestamp = 7 }, { key = "k", timestamp = 9 } }))
      local raw = store:read_raw("s", 0, 1)
      local base, len, _, magic, crc, attrs, last_delta, base_ts, max_ts, _, _, _, count =
        string.unpack(">i8 i4 i4 i1 I4 i2 i4 i8 i8 i8 i2 i4 i4", raw)
      assert.equals(1, base)
      assert.equals(#raw, len + 12)
      assert.equals(2, magic)
      assert.equals(0, attrs)
      assert.equals(1, last_delta)
      assert.equals(7, base_ts)
      assert.equals(9, max_ts)
      assert.equals(2, count)
      assert.equals(crc, core.crc32c(raw:sub(22)))
      -- The whole log is both batches back to back.
      local all = store:read_raw("s", 0, 0)
      assert.equals(file_size(segment_logs(data .. "/s/0")[1]), #all)
      assert.equals(raw, all:sub(#all - #raw + 1))
      assert.equals(#all, store:watermarks("s", 0).bytes)
    end)
  end)

  describe("offset_for_time", function()
    it("finds the first batch at or after a time, across segments", function()
      assert(store:create_topic("t", { segment_bytes = 300 }))
      append_singles(store, "t", 30, function(i) return i * 1000 end)
      assert.is_true(store:watermarks("t", 0).segments > 2)
      assert.equals(0, store:offset_for_time("t", 0, 0))
      assert.equals(0, store:offset_for_time("t", 0, 1000))
      for i = 2, 30 do
        assert.equals(i - 1, store:offset_for_time("t", 0, i * 1000))
        assert.equals(i - 1, store:offset_for_time("t", 0, i * 1000 - 999))
      end
      assert.equals(30, store:offset_for_time("t", 0, 30001))
      assert.has_error(function() store:offset_for_time("t", 0, "x") end)
    end)
  end)

  describe("watermarks", function()
    it("follow appends and flushes", function()
      assert(store:create_topic("t"))
      local m = store:watermarks("t", 0)
      assert.are.same({ log_start = 0, high = 0, flushed = 0, segments = 1, bytes = 0 }, m)
      local before = core.now_ms()
      assert(store:append("t", 0, { { value = "a" }, { value = "b" } }))
      m = store:watermarks("t", 0)
      assert.equals(2, m.high)
      assert.equals(0, m.flushed)
      assert.equals(#store:read_raw("t", 0, 0), m.bytes)
      assert.is_true(m.last_append_ms >= before and m.last_append_ms <= core.now_ms())
      assert.is_true(store:flush())
      assert.equals(2, store:watermarks("t", 0).flushed)
    end)

    it("flush by policy: flush_messages", function()
      assert(store:create_topic("t", { flush_messages = 3 }))
      assert(store:append("t", 0, { {}, {} }))
      assert.equals(0, store:watermarks("t", 0).flushed)
      assert(store:append("t", 0, { {} }))
      assert.equals(3, store:watermarks("t", 0).flushed)
    end)
  end)

  describe("restarts", function()
    local function fill()
      assert(store:create_topic("t", { partitions = 2, segment_bytes = 512 }))
      for i = 1, 20 do
        assert(store:append("t", i % 2, { { key = tostring(i), value = ("x"):rep(i) } }))
      end
    end

    local function check(topic_high)
      assert.are.same({ "t" }, store:topics())
      assert.equals(2, store:topic("t").partitions)
      assert.equals(512, store:topic("t").config.segment_bytes)
      for p = 0, 1 do
        local m = store:watermarks("t", p)
        assert.equals(topic_high, m.high)
        assert.equals(m.high, m.flushed)
        local all = read_all(store, "t", p, 0, 100)
        assert.equals(topic_high, #all)
        for j, r in ipairs(all) do
          local i = 2 * j - (p == 1 and 1 or 0)
          assert.equals(tostring(i), r.key)
          assert.equals(("x"):rep(i), r.value)
        end
      end
    end

    it("keep everything after a clean close", function()
      fill()
      assert.is_true(store:close())
      reopen()
      check(10)
      assert.are.same({ 10, 10 }, { store:append("t", 0, { { value = "more" } }) })
    end)

    it("keep everything written after a crash (abandon)", function()
      fill()
      store:abandon()
      reopen()
      check(10)
      assert.are.same({ 10, 10 }, { store:append("t", 1, { { value = "more" } }) })
    end)

    it("cut a torn last batch after a crash", function()
      fill()
      local raw = store:read_raw("t", 0, 9)
      store:abandon()
      local logs = segment_logs(data .. "/t/0")
      local last = logs[#logs]
      local size = file_size(last)
      sh(("truncate -s %d '%s'"):format(size - 3, last))
      reopen()
      local m = store:watermarks("t", 0)
      assert.equals(9, m.high)
      assert.equals(size - #raw, file_size(last))
      assert.equals(9, #read_all(store, "t", 0, 0))
      assert.are.same({ 9, 9 }, { store:append("t", 0, { { value = "again" } }) })
      assert.equals("again", store:read("t", 0, 9)[1].value)
      assert.equals(10, store:watermarks("t", 1).high)
    end)

    it("cut a damaged last batch after a crash", function()
      fill()
      local raw = store:read_raw("t", 1, 9)
      store:abandon()
      local logs = segment_logs(data .. "/t/1")
      local last = logs[#logs]
      local size = file_size(last)
      local pos = size - 2 -- inside the value, covered by the CRC
      poke(last, pos, (peek(last, pos) + 1) % 256)
      reopen()
      assert.equals(9, store:watermarks("t", 1).high)
      assert.equals(size - #raw, file_size(last))
      assert.equals(9, #read_all(store, "t", 1, 0))
    end)
  end)

  describe("retention", function()
    it("deletes the oldest closed segments beyond retention_bytes", function()
      assert(store:create_topic("t", { segment_bytes = 1000, retention_bytes = 2500 }))
      local n = 100
      append_singles(store, "t", n)
      local batch = #store:read_raw("t", 0, 0, 1)
      local per_seg = 1000 // batch
      local segments = (n + per_seg - 1) // per_seg
      local m = store:watermarks("t", 0)
      assert.equals(segments, m.segments)
      assert.equals(n * batch, m.bytes)
      -- Expected: drop whole closed segments, oldest first, while too big.
      local total, dropped = n * batch, 0
      while total > 2500 and dropped < segments - 1 do
        total, dropped = total - per_seg * batch, dropped + 1
      end
      assert.is_true(dropped > 0)
      assert.is_true(store:retention(core.now_ms()))
      m = store:watermarks("t", 0)
      assert.equals(dropped * per_seg, m.log_start)
      assert.equals(total, m.bytes)
      assert.equals(segments - dropped, m.segments)
      assert.equals(segments - dropped, #segment_logs(data .. "/t/0"))
      local _, _, code = store:read("t", 0, 0)
      assert.equals("OFFSET_OUT_OF_RANGE", code)
      local all = read_all(store, "t", 0, m.log_start)
      assert.equals(n - m.log_start, #all)
      assert.equals(("v%04d"):format(m.log_start + 1), all[1].value)
      -- The start survives a restart.
      store:close()
      reopen()
      assert.equals(dropped * per_seg, store:watermarks("t", 0).log_start)
    end)

    it("deletes closed segments older than retention_ms, never the active one", function()
      assert(store:create_topic("t", { segment_bytes = 300, retention_ms = 10000 }))
      append_singles(store, "t", 30, function(i) return i * 1000 end)
      local batch = #store:read_raw("t", 0, 0, 1)
      local per_seg = 300 // batch
      local segments = store:watermarks("t", 0).segments
      assert.is_true(segments > 3)
      -- The first segment ends at timestamp per_seg*1000: not older yet.
      assert(store:retention(per_seg * 1000 + 10000))
      assert.equals(0, store:watermarks("t", 0).log_start)
      -- The first two segments end at record per_seg*2, timestamp per_seg*2*1000.
      assert(store:retention(2 * per_seg * 1000 + 10000 + 1))
      local m = store:watermarks("t", 0)
      assert.equals(2 * per_seg, m.log_start)
      assert.equals(segments - 2, m.segments)
      -- Far in the future: every closed segment goes, the active one stays.
      assert(store:retention(10 ^ 12 // 1))
      m = store:watermarks("t", 0)
      assert.equals(1, m.segments)
      assert.equals(30, m.high)
      assert.is_true(m.log_start > 2 * per_seg)
      assert.equals(30 - m.log_start, #read_all(store, "t", 0, m.log_start))
    end)

    it("keeps everything when turned off", function()
      assert(store:create_topic("t", { segment_bytes = 300, retention_ms = -1, retention_bytes = -1 }))
      append_singles(store, "t", 20, function(i) return i end)
      assert(store:retention(10 ^ 12 // 1))
      assert.equals(0, store:watermarks("t", 0).log_start)
    end)
  end)

  describe("group offsets", function()
    before_each(function()
      assert(store:create_topic("orders", { partitions = 2 }))
      assert(store:create_topic("audit"))
    end)

    it("are committed and fetched", function()
      assert.is_nil(store:committed("g", "orders", 0))
      assert.equals(1, select("#", store:committed("g", "orders", 0)))
      assert.is_true(store:commit("g", "orders", 0, 5))
      assert.is_true(store:commit("g", "orders", 1, 7))
      assert.is_true(store:commit("g", "orders", 1, 8))
      assert.is_true(store:commit("b", "audit", 0, 0))
      assert.equals(5, store:committed("g", "orders", 0))
      assert.equals(8, store:committed("g", "orders", 1))
      assert.are.same({ orders = { [0] = 5, [1] = 8 } }, store:group_offsets("g"))
      assert.are.same({ audit = { [0] = 0 } }, store:group_offsets("b"))
      assert.are.same({}, store:group_offsets("nobody"))
      assert.are.same({ "b", "g" }, store:groups())
    end)

    it("refuse unknown topics, partitions, bad offsets and names", function()
      local cases = {
        { { "g", "nope", 0, 1 }, "UNKNOWN_TOPIC" },
        { { "g", "orders", 2, 1 }, "UNKNOWN_PARTITION" },
        { { "g", "orders", -1, 1 }, "UNKNOWN_PARTITION" },
        { { "g", "orders", 0, -1 }, "INVALID_ARG" },
        { { "a/b", "orders", 0, 1 }, "INVALID_NAME" },
        { { "", "orders", 0, 1 }, "INVALID_NAME" },
        { { "g\0x", "orders", 0, 1 }, "INVALID_NAME" },
      }
      for _, c in ipairs(cases) do
        local ok, msg, code = store:commit(table.unpack(c[1]))
        assert.is_nil(ok)
        assert.is_string(msg)
        assert.equals(c[2], code)
      end
      assert.has_error(function() store:commit("g", "orders", 0, "1") end)
      assert.has_error(function() store:commit("g", "orders", 0.5, 1) end)
      assert.are.same({}, store:groups())
    end)

    it("survive a restart once flushed; unflushed commits die in a crash", function()
      assert(store:commit("g", "orders", 0, 5))
      assert(store:commit("h", "audit", 0, 1))
      assert.is_true(store:flush_groups())
      assert(store:commit("g", "orders", 1, 9))
      assert(store:commit("g", "orders", 0, 6))
      store:abandon()
      reopen()
      assert.are.same({ orders = { [0] = 5 } }, store:group_offsets("g"))
      assert.equals(1, store:committed("h", "audit", 0))
      -- A clean close writes what is pending.
      assert(store:commit("g", "orders", 1, 3))
      assert.is_true(store:close())
      reopen()
      assert.are.same({ orders = { [0] = 5, [1] = 3 } }, store:group_offsets("g"))
      assert.are.same({ "g", "h" }, store:groups())
    end)
  end)

  describe("raw batches", function()
    local raw

    before_each(function()
      assert(store:create_topic("src"))
      assert(store:create_topic("dst"))
      assert(store:append("src", 0, { { key = "a", value = "1" }, { value = "2", headers = { h = "v" } } }))
      raw = store:read_raw("src", 0, 0)
      assert(store:append("dst", 0, { { value = "first" } }))
    end)

    local function check_nothing_stored()
      local m = store:watermarks("dst", 0)
      assert.equals(1, m.high)
      assert.equals(file_size(segment_logs(data .. "/dst/0")[1]), m.bytes)
      assert.equals(#store:read_raw("dst", 0, 0), m.bytes)
    end

    it("are appended with new offsets", function()
      assert.are.same({ 1, 2 }, { store:append_batch("dst", 0, raw) })
      assert.are.same({ 3, 6 }, { store:append_batch("dst", 0, raw .. raw) })
      local got = store:read("dst", 0, 1)
      assert.equals(6, #got)
      assert.equals("a", got[1].key)
      assert.equals("2", got[2].value)
      assert.are.same({ { "h", "v" } }, got[2].headers)
      assert.equals(6, got[6].offset)
    end)

    it("are rejected whole when any checked byte is damaged", function()
      -- Bytes 1-8 (base offset) and 13-16 (leader epoch) are not checked.
      for pos = 9, #raw do
        if pos < 13 or pos > 16 then
          local b = raw:byte(pos)
          local bad = raw:sub(1, pos - 1) .. string.char((b + 1) % 256) .. raw:sub(pos + 1)
          local ok, msg, code = store:append_batch("dst", 0, bad)
          assert.is_nil(ok, pos)
          assert.is_string(msg)
          if pos == 23 then -- the compression bits of the attributes
            assert.is_true(code == "CORRUPT" or code == "UNSUPPORTED", code)
          elseif pos < 13 then -- the batch length
            assert.is_true(code == "CORRUPT" or code == "TRUNCATED", code)
          else
            assert.equals("CORRUPT", code, pos)
          end
        end
      end
      check_nothing_stored()
    end)

    it("are rejected when truncated, empty or followed by garbage", function()
      for len = 0, #raw - 1 do
        local ok, _, code = store:append_batch("dst", 0, raw:sub(1, len))
        assert.is_nil(ok, len)
        assert.is_true(code == "TRUNCATED" or code == "CORRUPT", code)
      end
      local ok, _, code = store:append_batch("dst", 0, raw .. raw:sub(1, 20))
      assert.is_nil(ok)
      assert.is_true(code == "TRUNCATED" or code == "CORRUPT", code)
      ok, _, code = store:append_batch("dst", 0, ("\255"):rep(100))
      assert.is_nil(ok)
      assert.is_true(code == "TRUNCATED" or code == "CORRUPT", code)
      check_nothing_stored()
    end)

    it("are rejected when compressed, even with a good CRC", function()
      local body = raw:sub(22)
      body = string.pack(">i2", 1) .. body:sub(3)
      local bad = raw:sub(1, 17) .. string.pack(">I4", core.crc32c(body)) .. body
      local ok, _, code = store:append_batch("dst", 0, bad)
      assert.is_nil(ok)
      assert.equals("UNSUPPORTED", code)
      check_nothing_stored()
    end)

    it("are all or nothing when several are given", function()
      local bad = raw:sub(1, #raw - 1) .. string.char((raw:byte(#raw) + 1) % 256)
      local ok, _, code = store:append_batch("dst", 0, raw .. bad)
      assert.is_nil(ok)
      assert.equals("CORRUPT", code)
      check_nothing_stored()
    end)
  end)

  describe("store handles", function()
    it("cannot be used after close or abandon", function()
      assert.is_true(store:close())
      assert.matches("closed", tostring(store))
      assert.has_error(function() store:topics() end)
      assert.has_error(function() store:close() end)
      assert.has_error(function() store:append("t", 0, { {} }) end)
      assert.has_error(function() store:abandon() end)
      store = reopen()
      store:abandon()
      assert.has_error(function() store:read("t", 0, 0) end)
      assert.has_error(function() store:flush() end)
      store = nil
    end)

    it("close at the end of a scope and when collected", function()
      assert(store:create_topic("t"))
      assert(store:append("t", 0, { { value = "x" } }))
      store:close()
      local marker = data .. "/t/0/.clean"
      assert.equals(0, file_size(marker))
      do
        local s <close> = assert(core.open(data))
        assert.is_nil(file_size(marker)) -- an open store has no marker
        assert(s:append("t", 0, { { value = "y" } }))
      end
      -- Leaving the scope closed the store cleanly: the marker is back.
      assert.equals(0, file_size(marker))
      local s2 = assert(core.open(data))
      assert.equals(2, s2:watermarks("t", 0).high)
      assert(s2:append("t", 0, { { value = "z" } }))
      assert.is_nil(file_size(marker))
      s2 = nil
      collectgarbage()
      collectgarbage()
      assert.equals(0, file_size(marker))
      store = reopen()
      assert.equals(3, store:watermarks("t", 0).high)
      assert.equals(3, store:watermarks("t", 0).flushed)
    end)

    it("refuse methods called on something else", function()
      assert.has_error(function() store.topics({}) end)
      assert.has_error(function() store.topics(nil) end)
    end)
  end)
end)
