-- Hot reload of plugin files on a real broker (issue 4, "Sandbox and
-- failure" and "Operator experience"; docs/plugins.md, "Hot reload"): a
-- plugin that fails every record recovers once its file is fixed and the
-- broker reloads (SIGHUP, or `flyq config apply`), and a reload under
-- load swaps the plugin between two batches, never inside one. The plugin
-- files are written by the spec into a temporary directory.

local server = require("support.server")
local client = require("flyq.client")

local function count(text, needle)
  return select(2, text:gsub(needle:gsub("%p", "%%%0"), ""))
end

describe("a fixed plugin file", function()
  local srv, c, dir, file

  local BROKEN = [[
return {
  name = "flaky",
  on_produce = function(record) error("broken on purpose") end,
}
]]
  local FIXED = [[
return {
  name = "flaky",
  on_produce = function(record)
    record.value = "fixed:" .. (record.value or "")
    return record
  end,
}
]]

  before_each(function()
    dir = server.tmpdir()
    file = dir .. "/flaky.lua"
    server.write_file(file, BROKEN)
    srv = server.start({config = {plugin_path = {dir},
                                  topics = {f = {on_produce = {"flaky"}}}}})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
    server.rmdir(dir)
  end)

  -- The Stats entry of the plugin (the only plugin instance).
  local function flaky_stats()
    local stats = assert(c:stats())
    assert.are.equal(1, #stats.plugins)
    assert.are.equal("flaky", stats.plugins[1].name)
    return stats.plugins[1]
  end

  local function fails_every_produce()
    for n = 1, 3 do
      local base, err, code = c:produce("f", {"a", "b"})
      assert.is_nil(base)
      assert.are.equal("PLUGIN_ERROR", code)
      assert.matches("plugin flaky: " .. file .. ":3: broken on purpose "
                     .. "(on_produce, record 1)", err, 1, true)
      assert.are.equal(n, flaky_stats().errors)
    end
    assert.are.equal(0, assert(c:fetch("f", 0, 0)).high_watermark)
  end

  -- After the reload: produce works, and the new instance counts batches
  -- but no errors.
  local function recovered()
    for n = 1, 2 do
      local base = assert(c:produce("f", {"a", "b"}))
      assert.are.equal(2 * (n - 1), base)
      local res = assert(c:fetch("f", 0, base))
      assert.are.same({"fixed:a", "fixed:b"},
                      {res.records[1].value, res.records[2].value})
      local st = flaky_stats()
      assert.are.equal(0, st.errors)
      assert.are.equal(n, st.batches)
    end
  end

  it("recovers on SIGHUP", function()
    fails_every_produce()
    server.write_file(file, FIXED)
    os.execute("kill -HUP " .. srv.pid)
    server.wait_for(function()
      return srv:log_text():find("SIGHUP: applied " .. srv.config_path
                                 .. ": 1 change", 1, true)
    end, 20, "the SIGHUP reload")
    -- The reload names the plugin file it loads afresh.
    assert.matches("plugins: file flaky.lua changed (" .. file .. ")",
                   srv:log_text(), 1, true)
    recovered()
  end)

  it("recovers on flyq config apply", function()
    fails_every_produce()
    server.write_file(file, FIXED)
    local code, out, err = server.run({"config", "apply", "-b", srv.addr})
    assert.are.equal(0, code, err)
    assert.are.equal("plugins: file flaky.lua changed (" .. file .. ")\n"
                     .. "1 change applied\n", out)
    recovered()
  end)
end)

describe("a reload under load", function()
  local PRODUCERS = 2     -- background processes, one connection each
  local MIN_BATCHES = 100 -- per producer
  local BATCH = 50        -- records per batch
  local RELOADS = 6

  local srv, dir, plugin, spawned

  -- A background producer: batches of BATCH records "p<k>b<i>r<j>" to
  -- topic a, one line "<i> <base offset>" per acknowledged batch in its
  -- acks file, until it has sent MIN_BATCHES and the stop file exists;
  -- then "done". On an error it writes "error <message>" and stops.
  local PRODUCER = [[
local client = require("flyq.client")
local addr, k, acks_path, stop_path, min, size = ...
min, size = tonumber(min), tonumber(size)
local acks = assert(io.open(acks_path, "w"))
local function stopped()
  local f = io.open(stop_path)
  if f then f:close() end
  return f ~= nil
end
local c, err = client.connect(addr)
local i = 0
while c and (i < min or not stopped()) do
  i = i + 1
  local records = {}
  for j = 1, size do records[j] = string.format("p%sb%dr%d", k, i, j) end
  local base, perr = c:produce("a", records)
  if not base then
    err = perr
    break
  end
  acks:write(i, " ", base, "\n")
  acks:flush()
end
acks:write(err and "error " .. tostring(err) .. "\n" or "done\n")
acks:close()
if c then c:close() end
]]

  local function stamp(version)
    server.write_file(plugin, string.format([[
local VERSION = %q
return {
  name = "stamp",
  on_produce = function(record)
    record.value = VERSION .. ":" .. (record.value or "")
    return record
  end,
}
]], version))
  end

  local function acks_path(k) return dir .. "/acks" .. k end

  local function spawn(k)
    local cmd = string.format(
      "LUA_PATH=%s LUA_CPATH=%s lua5.4 %s %s %d %s %s %d %d >%s 2>&1 &",
      server.q(package.path), server.q(package.cpath),
      server.q(dir .. "/producer.lua"), server.q(srv.addr), k,
      server.q(acks_path(k)), server.q(dir .. "/stop"), MIN_BATCHES, BATCH,
      server.q(dir .. "/producer" .. k .. ".out"))
    assert(os.execute(cmd))
    spawned = spawned + 1
  end

  -- The acknowledged batches of every producer, {k, i, base} each, and
  -- the number of producers that have finished. Raises on a producer's
  -- error or output (a Lua error goes to its .out file).
  local function acked()
    local batches, finished = {}, 0
    for k = 1, spawned do
      local out = server.read_file(dir .. "/producer" .. k .. ".out") or ""
      if out ~= "" then error("producer " .. k .. ": " .. out) end
      local text = server.read_file(acks_path(k)) or ""
      for line in text:gmatch("([^\n]*)\n") do
        local i, base = line:match("^(%d+) (%d+)$")
        if i then
          batches[#batches + 1] = {k = k, i = tonumber(i),
                                   base = tonumber(base)}
        elseif line == "done" then
          finished = finished + 1
        else
          error("producer " .. k .. ": " .. line)
        end
      end
    end
    return batches, finished
  end

  local function wait_acked(n, what)
    server.wait_for(function() return #acked() >= n end, 30, what)
  end

  local function finish_producers()
    server.write_file(dir .. "/stop", "")
    server.wait_for(function() return select(2, acked()) == spawned end,
                    60, "the producers to finish")
  end

  before_each(function()
    dir = server.tmpdir()
    spawned = 0
    plugin = dir .. "/stamp.lua"
    stamp("v1")
    server.write_file(dir .. "/producer.lua", PRODUCER)
    srv = server.start({config = {plugin_path = {dir},
                                  topics = {a = {on_produce = {"stamp"}}}}})
  end)

  after_each(function()
    pcall(finish_producers) -- they stop on their own if the broker goes
    srv:finish()
    server.rmdir(dir)
  end)

  -- Every record of topic a in offset order.
  local function fetch_all(c)
    local records, offset = {}, 0
    repeat
      local res = assert(c:fetch("a", 0, offset, {max_bytes = 4 << 20}))
      for _, r in ipairs(res.records) do records[#records + 1] = r end
      offset = res.next_offset
    until offset >= res.high_watermark
    return records
  end

  -- The version that stamped batch b, or nil and what is wrong: each
  -- record must be the one produced there and carry the batch's version.
  -- Plain comparisons, not one assertion per record: there are many.
  local function batch_version(records, b)
    local version
    for j = 1, BATCH do
      local rec = records[b.base + j]
      local v, payload = (rec and rec.value or ""):match("^(v%d):(.*)$")
      local where = string.format("batch at offset %d, record %d", b.base, j)
      if rec == nil or rec.offset ~= b.base + j - 1
          or payload ~= string.format("p%db%dr%d", b.k, b.i, j) then
        return nil, where .. ": unexpected record "
                    .. (rec and rec.offset .. " " .. rec.value or "(none)")
      end
      if version and v ~= version then
        return nil, where .. ": mixes versions " .. version .. " and " .. v
      end
      version = v
    end
    return version
  end

  it("swaps the plugin between batches", function()
    for k = 1, PRODUCERS do spawn(k) end
    wait_acked(10, "the first batches")
    for n = 1, RELOADS do
      stamp(n % 2 == 1 and "v2" or "v1")
      os.execute("kill -HUP " .. srv.pid)
      server.wait_for(function()
        return count(srv:log_text(), "SIGHUP: applied ") == n
      end, 20, "reload " .. n)
      -- A batch acknowledged after the reload was logged may still have
      -- been stamped before it (one in flight per producer): two more
      -- make sure the new version has batches of its own.
      wait_acked(#acked() + PRODUCERS + 2, "batches after reload " .. n)
    end
    finish_producers()

    local batches = acked()
    assert.is_true(#batches >= PRODUCERS * MIN_BATCHES)
    table.sort(batches, function(x, y) return x.base < y.base end)
    local c = assert(client.connect(srv.addr))
    local records = fetch_all(c)
    c:close()
    -- Nothing lost, nothing extra: the acknowledged batches tile the log.
    assert.are.equal(#batches * BATCH, #records)
    for n, b in ipairs(batches) do
      assert.are.equal((n - 1) * BATCH, b.base)
    end
    -- In offset order the versions form one run per plugin file: v1, v2,
    -- v1, ... with every batch whole.
    local runs = {}
    for _, b in ipairs(batches) do
      local v, problem = batch_version(records, b)
      assert.is_nil(problem)
      if runs[#runs] ~= v then runs[#runs + 1] = v end
    end
    assert.are.same({"v1", "v2", "v1", "v2", "v1", "v2", "v1"}, runs)
  end)
end)
