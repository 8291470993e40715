-- A full disk (docs/reliability.md, "Full disk"). The broker's data
-- directory lives on a 16 MiB tmpfs (mounted here; that needs root). Where
-- mounting is not possible, or FLYQ_DISK_FULL_SHIM=1 asks for it, the
-- broker runs with the LD_PRELOAD shim spec/tools/enospc.c instead, which
-- fails writes under the data directory with ENOSPC past a byte budget;
-- the spec prints which of the two ran.
--
-- Produce fills the disk until the broker answers STORAGE_ERROR naming
-- ENOSPC; then every acknowledged message must read back intact, the
-- broker must stay up, and once space is freed (a filler file removed, then
-- another topic deleted) appends must succeed again without a restart.
local server = require("support.server")
local client = require("flyq.client")

local DISK_BYTES = 16 * 1024 * 1024
local FILLER_BYTES = 3 * 1024 * 1024
local VALUE_BYTES = 60 * 1024

local q, write_file = server.q, server.write_file

local function sh(cmd)
  return os.execute(cmd) == true
end

-- The disk: a tmpfs, or the shim's budget file (its size is the budget).
local Disk = {}
Disk.__index = Disk

local function shim_path()
  local bin = server.bin()
  return (bin:match("^(.*)/[^/]*$") or ".") .. "/lib/flyq_enospc.so"
end

local function new_disk()
  local d = setmetatable({dir = server.tmpdir()}, Disk)
  d.root = d.dir .. "/disk"
  assert(sh("mkdir " .. q(d.root)))
  if os.getenv("FLYQ_DISK_FULL_SHIM") ~= "1" and
     sh(string.format("mount -t tmpfs -o size=%d tmpfs %s 2>/dev/null",
                      DISK_BYTES, q(d.root))) then
    d.mounted = true
  else
    d.budget = d.dir .. "/budget"
    d.budget_bytes = DISK_BYTES
    assert(sh(string.format("truncate -s %d %s", DISK_BYTES, q(d.budget))))
  end
  return d
end

function Disk:kind()
  return self.mounted and "tmpfs" or "ENOSPC shim (" .. shim_path() .. ")"
end

-- Options for server.start: the data directory on the disk, the shim when
-- there is no tmpfs.
function Disk:server_opts(config)
  config.data_dir = self.root .. "/data"
  if self.mounted then return {config = config} end
  return {config = config, env = {
    LD_PRELOAD = shim_path(), FLYQ_ENOSPC_DIR = self.root,
    FLYQ_ENOSPC_BUDGET = self.budget,
    ASAN_OPTIONS = "detect_leaks=1:verify_asan_link_order=0",
  }}
end

-- The shim's budget changes by delta bytes.
function Disk:grow(delta)
  self.budget_bytes = self.budget_bytes + delta
  assert(sh(string.format("truncate -s %d %s", self.budget_bytes,
                          q(self.budget))))
end

-- A file that takes bytes of the disk, to be removed later.
function Disk:fill(name, bytes)
  if self.mounted then
    write_file(self.root .. "/" .. name, string.rep("\0", bytes))
  else
    self:grow(-bytes)
  end
  self[name] = bytes
end

function Disk:remove(name)
  if self.mounted then
    assert(os.remove(self.root .. "/" .. name))
  else
    self:grow(self[name])
  end
end

-- Deleting a topic frees its bytes on a tmpfs; the shim needs to be told.
function Disk:freed(bytes)
  if not self.mounted then self:grow(bytes) end
end

function Disk:close()
  if self.mounted and not sh("umount " .. q(self.root)) then
    sh("umount -l " .. q(self.root))
  end
  server.rmdir(self.dir)
end

-- Producing --------------------------------------------------------------------

local acked = {} -- acked[topic][offset] = value

local function value_of(topic, n)
  local head = string.format("%s:%06d|", topic, n)
  return head .. string.rep(string.char(65 + n % 26), VALUE_BYTES - #head)
end

-- Produces one big record; returns its offset, or nil, message, code.
local function produce(c, topic, n)
  local v = value_of(topic, n)
  local off, err, code = c:produce(topic, {v}, {acks = -1})
  if off then
    acked[topic] = acked[topic] or {}
    acked[topic][off] = v
  end
  return off, err, code
end

-- Produces until the disk refuses; returns the error's message and code.
local function fill_up(c, topic)
  local limit = DISK_BYTES // VALUE_BYTES + 10
  for n = 1, limit do
    local off, err, code = produce(c, topic, n)
    if not off then return err, code end
  end
  error("the disk never filled up after " .. limit .. " records")
end

-- Reads topic from 0 and checks every acknowledged record; returns the
-- high watermark.
local function check_topic(c, topic)
  local off, high, seen = 0, nil, 0
  repeat
    local res = assert(c:fetch(topic, 0, off, {max_bytes = 4 << 20}))
    for _, r in ipairs(res.records) do
      assert.are.equal(acked[topic][r.offset], r.value,
                       topic .. " offset " .. r.offset)
      seen = seen + 1
    end
    high = res.high_watermark
    off = res.next_offset
  until off >= high
  local want = 0
  for _ in pairs(acked[topic]) do want = want + 1 end
  assert.are.equal(want, seen, topic .. ": every acknowledged record, only them")
  return high
end

local function assert_storage_error(err, code)
  assert.are.equal("STORAGE_ERROR", code, err)
  assert.is_truthy(tostring(err):find("ENOSPC", 1, true), err)
end

describe("a full disk", function()
  local disk, srv

  before_each(function()
    acked = {}
    disk = new_disk()
    print("disk_full_spec: running on " .. disk:kind())
    disk:fill("filler", FILLER_BYTES)
    srv = server.start(disk:server_opts({
      topics = {fill = {segment = {bytes = "1MiB"}}, other = {}},
    }))
  end)

  after_each(function()
    if srv then srv:close() end
    if disk then disk:close() end
    srv, disk = nil, nil
  end)

  it("refuses appends with STORAGE_ERROR (ENOSPC), keeps serving, recovers",
     function()
    local c = assert(client.connect(srv.addr))
    for n = 1, 32 do assert(produce(c, "other", n)) end
    assert_storage_error(fill_up(c, "fill"))
    -- Nothing half-stored, everything acknowledged intact, still up.
    local high = check_topic(c, "fill")
    assert.is_true(high > 100)
    check_topic(c, "other")
    assert_storage_error(select(2, produce(c, "fill", 0)))
    assert.are.equal(high, check_topic(c, "fill"))
    assert.is_true(srv:running())

    disk:remove("filler")
    assert(produce(c, "fill", 1000), "appends work again once space is freed")
    assert_storage_error(fill_up(c, "fill"))
    check_topic(c, "fill")

    assert(c:delete_topic("other"))
    disk:freed(32 * VALUE_BYTES)
    assert(produce(c, "fill", 2000), "appends work again after a delete")
    check_topic(c, "fill")
    c:close()

    assert.are.equal(0, srv:stop())
    srv:assert_clean_log()
    srv:restart()
    c = assert(client.connect(srv.addr))
    check_topic(c, "fill")
    c:close()
    assert.are.equal(0, srv:stop())
    srv:assert_clean_log()
  end)
end)
