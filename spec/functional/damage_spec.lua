-- Torn and damaged files (docs/reliability.md, "Damaged files"). A broker
-- writes a reference data directory once (three segments of topic t, a
-- small last batch, a committed group offset) and stops cleanly. Each test
-- copies it, damages the copy in one way, starts a real broker on it and
-- checks that the broker recovers, serves everything valid, never serves a
-- corrupt batch (every fetched batch is CRC-checked here) and logs what it
-- truncated or rebuilt.
local server = require("support.server")
local client = require("flyq.client")
local core = require("flyq.core")
local cjson = require("cjson")

local TOPIC = "t"
local SEGMENT = "00000000000000000000"

local q, read_file, write_file = server.q, server.read_file,
  server.write_file

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function sh(cmd)
  assert(os.execute(cmd), cmd)
end

-- Deterministic bytes that are never a valid index.
local function garbage(n, seed)
  local out, x = {}, seed
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    out[i] = string.char(x % 251)
  end
  return table.concat(out)
end

-- The batches of a string of stored batches: {pos (0-based), base, size,
-- crc_ok}, and how many bytes they cover.
local function batches(bytes)
  local list, pos = {}, 1
  while pos + 11 <= #bytes do
    local base, blen = string.unpack(">i8>i4", bytes, pos)
    local size = blen + 12
    if blen < 49 or pos + size - 1 > #bytes then break end
    local crc = string.unpack(">I4", bytes, pos + 17)
    list[#list + 1] = {
      pos = pos - 1, base = base, size = size,
      last = base + string.unpack(">i4", bytes, pos + 23),
      crc_ok = core.crc32c(bytes:sub(pos + 21, pos + size - 1)) == crc,
    }
    pos = pos + size
  end
  return list, pos - 1
end

-- The reference data ------------------------------------------------------------

local ref        -- the reference broker (stopped), its data in ref.data_dir
local expect = {} -- expect[offset] = value
local last_batch  -- {pos, base, size} of the last batch of the active segment
local segments    -- base offsets of the segments, as names

local function value_of(i)
  return string.format("m%06d|", i) .. string.rep(string.char(97 + i % 26),
                                                  150 + i % 50)
end

local function write_reference()
  ref = server.start({config = {
    topics = {[TOPIC] = {partitions = 1, segment = {bytes = "64KiB"}}},
  }})
  local c = assert(client.connect(ref.addr))
  local n = 0
  for _ = 1, 160 do
    local recs = {}
    for k = 1, 4 do recs[k] = value_of(n + k - 1) end
    assert.are.equal(n, assert(c:produce(TOPIC, recs)))
    for k = 1, 4 do expect[n + k - 1] = recs[k] end
    n = n + 4
  end
  expect[n] = "last"
  assert.are.equal(n, assert(c:produce(TOPIC, {"last"})))
  assert(c:commit("g", TOPIC, 0, 123))
  c:close()
  assert.are.equal(0, ref:stop())
  ref:assert_clean_log()
end

local function list_segments(data_dir)
  local p = assert(io.popen("ls " .. q(data_dir .. "/" .. TOPIC .. "/0")))
  local names = {}
  for line in p:lines() do
    local base = line:match("^(%d+)%.log$")
    if base then names[#names + 1] = base end
  end
  p:close()
  table.sort(names)
  return names
end

-- Damaged copies -------------------------------------------------------------------

local srv, copy

local function part_dir(data_dir)
  return data_dir .. "/" .. TOPIC .. "/0"
end

-- Copies the reference data, lets damage(data_dir) change it, starts a
-- broker on the copy.
local function start_damaged(damage)
  copy = server.tmpdir()
  local data = copy .. "/data"
  sh("cp -a " .. q(ref.data_dir) .. " " .. q(data))
  damage(data)
  srv = server.start({config = {data_dir = data}})
  return srv
end

local function connect()
  return assert(client.connect(srv.addr))
end

-- Fetches at offset: the records (every batch CRC-checked first) and the
-- next offset, or nil and the broker's error code.
local function fetch(c, offset, max_bytes)
  local res, err, code = c.raw:fetch(TOPIC, 0, offset, max_bytes or 1 << 20)
  if not res then return nil, code, err end
  local list, used = batches(res.records)
  assert.are.equal(#res.records, used, "partial batch served at " .. offset)
  for _, b in ipairs(list) do
    assert.is_true(b.crc_ok, "corrupt batch served at offset " .. b.base)
  end
  local recs, nxt = client.decode_batches(res.records, offset)
  assert(recs, nxt)
  return recs, nxt, res
end

local function check_records(recs)
  for _, r in ipairs(recs) do
    assert.are.equal(expect[r.offset], r.value, "value at offset " .. r.offset)
  end
end

-- Reads from offset 0 until the end or an error; returns the next offset
-- and the error code (nil at the end).
local function read_all(c, max_bytes)
  local off = 0
  while true do
    local recs, nxt, res = fetch(c, off, max_bytes)
    if not recs then return off, nxt end
    check_records(recs)
    for i, r in ipairs(recs) do
      assert.are.equal(off + i - 1, r.offset, "offsets follow each other")
    end
    if nxt >= res.high_watermark then return nxt end
    off = nxt
  end
end

-- The broker still appends, at the next offset.
local function check_appends(c, want)
  assert.are.equal(want, assert(c:produce(TOPIC, {"after"})))
  local recs = assert(fetch(c, want))
  assert.are.equal("after", recs[1].value)
end

describe("a damaged data directory", function()
  setup(function()
    write_reference()
    segments = list_segments(ref.data_dir)
    local active = read_file(part_dir(ref.data_dir) .. "/" .. segments[#segments]
                             .. ".log")
    local list = batches(active)
    last_batch = list[#list]
  end)

  teardown(function()
    if ref then ref:close() end
  end)

  after_each(function()
    if srv then
      srv:finish()
    end
    if copy then server.rmdir(copy) end
    srv, copy = nil, nil
  end)

  it("is a reference with closed segments and a small last batch", function()
    assert.is_true(#segments >= 3)
    assert.is_true(last_batch.size < 100)
    assert.are.equal(640, last_batch.base)
  end)

  it("recovers from a .log torn at every byte of its last batch", function()
    local function active_log(data)
      return part_dir(data) .. "/" .. segments[#segments] .. ".log"
    end
    local original
    start_damaged(function(data) original = read_file(active_log(data)) end)
    local path = active_log(srv.data_dir)
    for keep = 0, last_batch.size - 1 do
      assert.are.equal(0, srv:stop())
      local unclean = keep % 2 == 0 -- odd: damaged after a clean close
      write_file(path, original:sub(1, last_batch.pos + keep))
      if unclean then os.remove(part_dir(srv.data_dir) .. "/.clean") end
      local before = #srv:log_text()
      srv:restart()
      local log = srv:log_text():sub(before + 1)
      if keep > 0 then
        assert.is_truthy(log:find(string.format(
          "truncating %d bytes at position %d", keep, last_batch.pos), 1, true),
          "keep " .. keep .. ":\n" .. log)
      end
      if unclean then
        assert.is_truthy(log:find(string.format(" %d bytes truncated", keep), 1,
                                  true), log)
      end
      local c = connect()
      assert.are.equal(last_batch.base, read_all(c))
      check_appends(c, last_batch.base)
      c:close()
    end
  end)

  it("refuses to serve a zeroed page of a closed segment, serves the rest",
     function()
    local seg0 = part_dir(ref.data_dir) .. "/" .. SEGMENT
    local original = read_file(seg0 .. ".log")
    local page_start = 8 * 4096
    assert.is_true(#original > page_start + 3 * 4096, "segment 0 is big enough")
    start_damaged(function(data)
      local f = assert(io.open(part_dir(data) .. "/" .. SEGMENT .. ".log", "r+b"))
      f:seek("set", page_start)
      f:write(string.rep("\0", 4096))
      f:close()
    end)
    local page_end = page_start + 4096
    local damaged = original:sub(1, page_start) .. string.rep("\0", 4096)
                    .. original:sub(page_end + 1)
    -- Index entries of segment 0: the walk to a batch starts at the floor.
    local index, idx = read_file(seg0 .. ".index"), {}
    for i = 1, #index, 8 do idx[#idx + 1] = string.unpack(">I4", index, i + 4) end
    local function floor_pos(pos)
      local best = 0
      for _, p in ipairs(idx) do if p <= pos then best = p end end
      return best
    end
    local c = connect()
    -- A consumer reading from 0 stops with an error at the first damaged
    -- batch, having received every batch before it.
    local first_bad
    for _, b in ipairs(batches(original)) do
      local hit = b.pos + b.size > page_start and b.pos < page_end
      b.bad = hit and damaged:sub(b.pos + 1, b.pos + b.size)
                      ~= original:sub(b.pos + 1, b.pos + b.size)
      if b.bad and not first_bad then first_bad = b end
      if b.bad then
        local recs, code = fetch(c, b.base, 1)
        assert.is_nil(recs)
        assert.are.equal("CORRUPT_MESSAGE", code)
      elseif b.pos + b.size <= page_start or floor_pos(b.pos) >= page_end then
        local recs = assert(fetch(c, b.base, 1))
        check_records(recs)
        assert.are.equal(b.base, recs[1].offset)
      else -- the walk from the index entry may cross the damage
        local recs, code = fetch(c, b.base, 1)
        if recs then check_records(recs) else
          assert.are.equal("CORRUPT_MESSAGE", code)
        end
      end
    end
    local stop, code = read_all(c)
    assert.are.equal(first_bad.base, stop)
    assert.are.equal("CORRUPT_MESSAGE", code)
    -- Every later segment is whole.
    for i = 2, #segments do
      local base = tonumber(segments[i])
      local recs = assert(fetch(c, base))
      check_records(recs)
      assert.are.equal(base, recs[1].offset)
    end
    check_appends(c, last_batch.base + 1)
    c:close()
    assert.is_truthy(srv:log_text():find(string.format(
      "damaged batch at position %d", first_bad.pos), 1, true))
  end)

  it("rebuilds garbage, short and zeroed .index and .timeindex files", function()
    local closed, active = SEGMENT, segments[#segments]
    start_damaged(function(data)
      local d = part_dir(data)
      write_file(d .. "/" .. closed .. ".index", garbage(1000, 1))
      write_file(d .. "/" .. closed .. ".timeindex", garbage(996, 2))
      local ix = read_file(d .. "/" .. segments[2] .. ".index")
      write_file(d .. "/" .. segments[2] .. ".index", ix:sub(1, #ix // 2))
      write_file(d .. "/" .. active .. ".timeindex", string.rep("\0", 48))
    end)
    local log = srv:log_text()
    for _, name in ipairs({closed, segments[2], active}) do
      assert.is_truthy(log:find(name .. ": index or tail inconsistent", 1, true),
                       name)
      assert.is_truthy(log:find(name .. ": indexes rebuilt", 1, true), name)
    end
    local c = connect()
    assert.are.equal(last_batch.base + 1, read_all(c, 4096))
    c:close()
    assert.are.equal(0, srv:stop())
    -- Rebuilt indexes are byte for byte those written live.
    for _, name in ipairs({closed, segments[2], active}) do
      for _, ext in ipairs({".index", ".timeindex"}) do
        local want = read_file(part_dir(ref.data_dir) .. "/" .. name .. ext)
        assert.are.equal(want, read_file(part_dir(srv.data_dir) .. "/" .. name
                                         .. ext), name .. ext)
      end
    end
    srv:restart()
  end)

  for _, case in ipairs({
    {"truncated", function(s) return s:sub(1, #s // 2) end},
    {"garbage", function(s) return garbage(#s, 3) end},
    {"empty", function() return "" end},
  }) do
    it("ignores a " .. case[1] .. " group offsets file until the next commit",
       function()
      start_damaged(function(data)
        local path = data .. "/__groups/g.json"
        write_file(path, case[2](read_file(path)))
        write_file(path .. ".tmp", "{\"half\":")
      end)
      assert.is_truthy(srv:log_text():find("ignoring offsets file of group g",
                                           1, true))
      local c = connect()
      assert.are.equal(-1, assert(c:committed("g", TOPIC, 0)))
      assert.are.equal(last_batch.base + 1, read_all(c))
      assert(c:commit("g", TOPIC, 0, 7))
      c:close()
      assert.are.equal(0, srv:stop())
      local path = srv.data_dir .. "/__groups/g.json"
      assert.is_false(exists(path .. ".tmp"))
      assert.are.equal(7, cjson.decode(read_file(path)).offsets[TOPIC]["0"])
      srv:restart()
      c = connect()
      assert.are.equal(7, assert(c:committed("g", TOPIC, 0)))
      c:close()
    end)
  end

  it("rebuilds a missing topic.json from the partition directories", function()
    start_damaged(function(data)
      assert(os.remove(data .. "/" .. TOPIC .. "/topic.json"))
    end)
    assert.is_truthy(srv:log_text():find(
      "topic " .. TOPIC .. ": topic.json is missing; rebuilt with 1 partitions",
      1, true))
    assert.is_true(exists(srv.data_dir .. "/" .. TOPIC .. "/topic.json"))
    local c = connect()
    assert.are.equal(last_batch.base + 1, read_all(c))
    check_appends(c, last_batch.base + 1)
    c:close()
  end)
end)
