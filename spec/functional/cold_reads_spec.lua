-- Reads that would wait for the disk do not run on the loop thread: a
-- fetch through on_consume hooks whose stored bytes are not in the page
-- cache reads them in the thread pool (src/server/fetch.c, filter.c), and
-- the answer is the same as from the cache. The segment files are evicted
-- with `dd iflag=nocache` after `sync`; Stats counts the reads that went
-- to the pool (server.cold_filter_reads).

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"
local BATCHES, PER_BATCH, SIZE = 16, 64, 8192 -- 8 MiB of values

local function sh(cmd)
  local ok = os.execute(cmd)
  assert(ok, cmd .. " failed")
end

-- The pages of file in the page cache (util-linux fincore).
local function cached_pages(file)
  local p = assert(io.popen("fincore -n -o PAGES " .. server.q(file)))
  local n = tonumber(p:read("l"))
  p:close()
  return assert(n, "fincore gave no page count")
end

-- Drops the topic's segment files from the page cache. Returns true when
-- none is left there: false on tmpfs (no disk behind it) or a file system
-- that keeps its own cache (ZFS), where nothing can be made cold and only
-- the answers are checked.
local function evict(srv, topic)
  local left = 0
  sh("sync")
  local p = assert(io.popen("find " .. server.q(srv.data_dir .. "/" .. topic)
                            .. " -name '*.log'"))
  for file in p:lines() do
    sh("dd if=" .. server.q(file) .. " iflag=nocache count=0 status=none")
    left = left + cached_pages(file)
  end
  p:close()
  return left == 0
end

describe("cold reads", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {plugin_path = {PLUGINS},
                                  plugins = {limits = {time_ms = 2000}},
                                  topics = {lo = {on_consume = {"lower"}}}}})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  -- Every record of lo from offset 0, through its on_consume hook.
  local function read_all()
    local values, offset = {}, 0
    while #values < BATCHES * PER_BATCH do
      local res = assert(c:fetch("lo", 0, offset,
                                 {max_bytes = 64 * 1024 * 1024}))
      assert.is_true(#res.records > 0)
      for _, r in ipairs(res.records) do values[#values + 1] = r.value end
      offset = res.next_offset
    end
    return values
  end

  it("reads filtered partitions in the thread pool", function()
    for b = 1, BATCHES do
      local recs = {}
      for i = 1, PER_BATCH do
        recs[i] = string.format("B%03dR%03d", b, i) .. ("X"):rep(SIZE - 8)
      end
      assert(c:produce("lo", recs))
    end
    local cold, evicted
    -- A RWF_NOWAIT read may start readahead that a fast disk finishes at
    -- once: then the bytes were cached after all; evict and read again.
    for _ = 1, 5 do
      evicted = evict(srv, "lo")
      local before = assert(c:stats()).server.cold_filter_reads
      local values = read_all()
      assert.are.equal(BATCHES * PER_BATCH, #values)
      for k, v in ipairs(values) do
        local b, i = (k - 1) // PER_BATCH + 1, (k - 1) % PER_BATCH + 1
        assert.are.equal(string.format("b%03dr%03d", b, i)
                         .. ("x"):rep(SIZE - 8), v)
      end
      local after = assert(c:stats()).server.cold_filter_reads
      if not evicted then break end -- nothing can be cold here
      if after > before then
        cold = after - before
        break
      end
    end
    if evicted then
      assert.is_not_nil(cold, "no filtered fetch was read in the pool")
    end
  end)

  -- A Fetch v0 of lo from offset 0 (the on_consume path), as bytes.
  local function fetch_frame()
    local body = string.pack(">i4i4i4", 0, 1, 64 * 1024 * 1024)
                 .. string.pack(">i4", 1) .. string.pack(">s2", "lo")
                 .. string.pack(">i4", 1)
                 .. string.pack(">i4i8i4", 0, 0, 64 * 1024 * 1024)
    return string.pack(">s4", string.pack(">i2i2i4i2", 1, 0, 7, -1) .. body)
  end

  it("frees a fetch whose connection closed while it read", function()
    for b = 1, BATCHES do
      assert(c:produce("lo", {("Y"):rep(SIZE * PER_BATCH)}))
    end
    local before = assert(c:stats()).server.cold_filter_reads
    local evicted = false
    for _ = 1, 5 do
      evicted = evict(srv, "lo") or evicted
      local d = assert(client.connect(srv.addr))
      assert(d.raw:send_raw(fetch_frame()))
      d:close()
    end
    -- The broker goes on; each of those fetches ended (srv:finish checks
    -- the log, and under the sanitizers that nothing leaked).
    server.wait_for(function()
      return assert(c:stats()).server.connections == 1
    end, 20, "the closed connections to go")
    local res = assert(c:fetch("lo", 0, 0))
    assert.are.equal(("y"):rep(SIZE * PER_BATCH), res.records[1].value)
    if evicted then
      assert.is_true(assert(c:stats()).server.cold_filter_reads > before)
    end
  end)
end)
