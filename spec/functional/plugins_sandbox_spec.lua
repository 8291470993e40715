-- The plugin sandbox and its limits on the real broker (issue 4,
-- "Sandbox and failure"; docs/plugins.md, "The environment" and
-- "Limits"): pcall, xpcall and coroutine.resume cannot swallow the time
-- limit or the instruction limit, plugins.limits.time_ms sets the limit
-- of each hook call, plugins.limits.instructions fails a hook call past
-- that many Lua instructions while the broker serves everyone else, a
-- plugin sees exactly the documented environment, and binary chunks are
-- refused, with a real chunk. The memory cap is proved by
-- plugins_faults_spec.lua, the escape probes under load by
-- plugins_load_spec.lua.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") ..
  "/spec/fixtures/plugins"
local BINARY_REFUSED = "attempt to load a binary chunk (mode is 't')"

-- s as a Lua pattern that matches it literally.
local function lit(s)
  return (s:gsub("%p", "%%%0"))
end

-- Produces records to topic (partition 0) and asserts that the whole
-- batch is refused with PLUGIN_ERROR and exactly the message
-- "plugin NAME: <dir>/TAIL", where TAIL is "FILE:LINE: ... (HOOK, record
-- N)" and <dir> is the plugin's directory, which Lua may shorten.
local function assert_rejected(c, topic, records, plugin, tail)
  local base, err, code = c:produce(topic, records)
  assert.is_nil(base, topic .. ": the batch was stored")
  assert.are.equal("PLUGIN_ERROR", code, err)
  local head = "Produce " .. topic .. "[0]: PLUGIN_ERROR: plugin " ..
               plugin .. ": "
  assert.matches("^" .. lit(head) .. "%S*/" .. lit(tail) .. "$", err)
end

-- The values of topic's partition 0, from offset 0.
local function values(c, topic)
  local out = {}
  for i, r in ipairs(assert(c:fetch(topic, 0, 0)).records) do
    out[i] = r.value
  end
  return out
end

local function plugin_stats(c, name)
  for _, p in ipairs(assert(c:stats()).plugins) do
    if p.name == name then return p end
  end
  error("no stats for plugin " .. name)
end

local function stop(srv)
  srv:finish()
end

describe("the time limit", function()
  local srv, c, other

  -- The default limit: 10 ms of CPU time per hook call.
  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {sp = {on_produce = {"spin_pcall"}}},
    }})
    c = assert(client.connect(srv.addr))
    other = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    other:close()
    stop(srv)
  end)

  -- Each case: the value spin_pcall.lua spins on, and the line where the
  -- abort finally leaves the plugin: after pcall returned, in xpcall's
  -- handler, after coroutine.resume returned.
  local cases = {{"pcall", 19}, {"xpcall", 15}, {"coroutine", 22}}

  for _, case in ipairs(cases) do
    local how, line = case[1], case[2]
    it("cannot be swallowed with " .. how, function()
      for round = 1, 3 do
        assert_rejected(c, "sp", {"ok", how}, "spin_pcall",
                        "spin_pcall.lua:" .. line .. ": time limit exceeded " ..
                        "(10 ms of CPU time per call) (on_produce, record 2)")
        -- Meanwhile another client is served.
        assert.are.equal(round - 1, assert(other:produce("elsewhere", {"x"})))
      end
      assert.are.same({}, values(c, "sp"))
      assert.are.equal(3, plugin_stats(c, "spin_pcall").errors)
      -- The next call has a fresh budget.
      assert.are.equal(0, assert(c:produce("sp", {"fine"})))
      assert.are.same({"fine"}, values(c, "sp"))
    end)
  end
end)

describe("plugins.limits.time_ms", function()
  -- CPU time burn.lua spends on each record (process CPU, os.clock): with
  -- the 10 ms limit the watchdog fails it after 10 to 15 ms of the loop
  -- thread's CPU, ticks late by up to a scheduler tick; 20 ms left too
  -- little margin beside other tests.
  local BURN_MS = 30
  local srv, c

  after_each(function()
    if c then c:close() end
    if srv then stop(srv) end
    srv, c = nil, nil
  end)

  -- Each limit in ms: spin.lua fails with it in the message, and burn.lua
  -- passes when the limit is above BURN_MS. The batch burns more than the
  -- limit in all: the limit is per record.
  for _, limit in ipairs({10, 50, 200}) do
    it("is " .. limit .. " ms of CPU time per hook call when set to " .. limit,
       function()
      srv = server.start({config = {
        plugin_path = {PLUGINS},
        plugins = {limits = {time_ms = limit}},
        topics = {spin = {on_produce = {"spin"}},
                  burn = {on_produce = {{plugin = "burn",
                                         params = {ms = BURN_MS}}}}},
      }})
      c = assert(client.connect(srv.addr))
      assert_rejected(c, "spin", {"spin"}, "spin",
                      "spin.lua:7: time limit exceeded (" .. limit ..
                      " ms of CPU time per call) (on_produce, record 1)")
      if limit > BURN_MS then
        local n = limit * 3 // (2 * BURN_MS) + 1 -- over 1.5 limits
        local batch, burned = {}, {}
        for i = 1, n do batch[i], burned[i] = "r" .. i, "burned" end
        assert.are.equal(0, assert(c:produce("burn", batch)))
        assert.are.same(burned, values(c, "burn"))
      else
        assert_rejected(c, "burn", {"r1"}, "burn",
                        "burn.lua:9: time limit exceeded (" .. limit ..
                        " ms of CPU time per call) (on_produce, record 1)")
        assert.are.same({}, values(c, "burn"))
      end
    end)
  end
end)

describe("plugins.limits.instructions", function()
  local LIMIT = 100000
  local EXCEEDED = "instruction limit exceeded (" .. LIMIT .. " instructions)"
  local srv, c, other

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      plugins = {limits = {instructions = LIMIT}},
      topics = {
        spin = {on_produce = {"spin"}},
        sp = {on_produce = {"spin_pcall"}},
        up = {on_produce = {"upper"}},
        short = {on_produce = {{plugin = "loop",
                                params = {n = LIMIT * 2 // 5}}}},
        long = {on_produce = {{plugin = "loop", params = {n = LIMIT}}}},
      },
    }})
    c = assert(client.connect(srv.addr))
    other = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    other:close()
    stop(srv)
  end)

  it("fails an endless loop with the plugin's file and line, " ..
     "and serves everyone else", function()
    for round = 1, 3 do
      assert_rejected(c, "spin", {"ok", "spin"}, "spin",
                      "spin.lua:7: " .. EXCEEDED .. " (on_produce, record 2)")
      -- Meanwhile another client is served, by another plugin.
      assert.are.equal(round - 1, assert(other:produce("up", {"x"})))
    end
    assert.are.same({}, values(c, "spin"))
    assert.are.same({"X", "X", "X"}, values(other, "up"))
    assert.are.equal(3, plugin_stats(c, "spin").errors)
    -- The same plugin still keeps records that do not spin.
    assert.are.equal(0, assert(c:produce("spin", {"fine", "also fine"})))
    assert.are.same({"fine", "also fine"}, values(c, "spin"))
    assert.is_true(srv:running())
  end)

  -- As for the time limit: the line where the abort finally leaves
  -- spin_pcall.lua, after pcall returned, in xpcall's handler, after
  -- coroutine.resume returned.
  for _, case in ipairs({{"pcall", 19}, {"xpcall", 15}, {"coroutine", 22}}) do
    local how, line = case[1], case[2]
    it("cannot be swallowed with " .. how, function()
      assert_rejected(c, "sp", {"ok", how}, "spin_pcall",
                      "spin_pcall.lua:" .. line .. ": " .. EXCEEDED ..
                      " (on_produce, record 2)")
      assert.are.same({}, values(c, "sp"))
      assert.are.equal(0, assert(c:produce("sp", {"fine"})))
      assert.are.same({"fine"}, values(c, "sp"))
    end)
  end

  it("counts each hook call on its own, not the batch", function()
    -- 5 records of 2/5 of the limit each: twice the limit in all.
    local batch = {"a", "b", "c", "d", "e"}
    assert.are.equal(0, assert(c:produce("short", batch)))
    assert.are.same(batch, values(c, "short"))
    -- One record of the limit's worth of turns is over it.
    assert_rejected(c, "long", {"a"}, "loop",
                    "loop.lua:7: " .. EXCEEDED .. " (on_produce, record 1)")
    assert.are.same({}, values(c, "long"))
  end)
end)

describe("the environment of a plugin", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {probe = {on_produce = {"sandbox_probe"}}},
    }})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    stop(srv)
  end)

  it("has os.clock and os.time, utf8 and cjson, and nothing that reaches out",
     function()
    assert(c:produce("probe", {"a", "b"}))
    local seen = values(c, "probe")
    local expected = {
      "os.clock=function", "os.time=function", "os.clock()=float",
      "os.time()=integer", "os.getenv=nil", "os.execute=nil", "os=clock,time",
      "io=nil", "debug=nil", "package=nil", "dofile=nil", "loadfile=nil",
      "string.dump=nil", "(''):rep(3)=ababab", "utf8.len=5",
      "utf8.char=h\u{E9}\u{20AC}",
      "require os=false|module 'os' is not available to plugins (only cjson)",
      "require io=false|module 'io' is not available to plugins (only cjson)",
      "require cjson=true|table", "load text=true|42",
      "globals=_G,_VERSION,assert,cjson,coroutine,env,error,flyq,ipairs," ..
        "load,math,next,os,pairs,pcall,print,rawequal,rawget,rawlen,rawset," ..
        "require,select,string,table,tonumber,tostring,type,utf8,xpcall",
    }
    assert.are.equal(2, #seen)
    for _, value in ipairs(seen) do
      local lines = {}
      for line in (value .. "\n"):gmatch("(.-)\n") do
        lines[#lines + 1] = line
      end
      assert.are.same(expected, lines)
    end
  end)
end)

describe("binary chunks", function()
  local dir, srv, c
  -- A real chunk: this Lua's, which is the broker's (Lua 5.4).
  local chunk = string.dump(function() return 42 end)

  -- A plugin that loads chunk in each mode and reports, one line per mode,
  -- "type|what": "function|<what it returned>" or "nil|<load's message>".
  local function binary_plugin()
    return table.concat({
      "-- Generated by plugins_sandbox_spec.lua.",
      "local CHUNK = " .. string.format("%q", chunk),
      "local function try(mode)",
      "  local f, err = load(CHUNK, 'chunk', mode)",
      "  if f then return 'function|' .. tostring(f()) end",
      "  return type(f) .. '|' .. tostring(err)",
      "end",
      "return {",
      "  name = 'sandbox_probe_binary',",
      "  on_produce = function(record)",
      "    record.value = try(nil) .. '\\n' .. try('b') .. '\\n' .. try('bt')",
      "    return record",
      "  end,",
      "}",
    }, "\n") .. "\n"
  end

  before_each(function()
    dir = server.tmpdir()
    server.write_file(dir .. "/sandbox_probe_binary.lua", binary_plugin())
  end)

  after_each(function()
    if c then c:close() end
    if srv then stop(srv) end
    srv, c = nil, nil
    server.rmdir(dir)
  end)

  it("are refused by load in every mode, with a real chunk", function()
    -- Outside the sandbox the same plugin runs the chunk: it is valid.
    local plugin = assert(loadfile(dir .. "/sandbox_probe_binary.lua"))()
    assert.are.equal("function|42\nfunction|42\nfunction|42",
                     plugin.on_produce({value = "x"}).value)
    srv = server.start({config = {
      plugin_path = {dir},
      topics = {bin = {on_produce = {"sandbox_probe_binary"}}},
    }})
    c = assert(client.connect(srv.addr))
    assert(c:produce("bin", {"x"}))
    local refused = "nil|" .. BINARY_REFUSED
    assert.are.same({refused .. "\n" .. refused .. "\n" .. refused},
                    values(c, "bin"))
  end)

  it("are refused as a plugin file", function()
    local path = dir .. "/sandbox_probe_binfile.lua"
    server.write_file(path, string.dump(assert(load(
      "return {name = 'sandbox_probe_binfile'," ..
      " on_produce = function(r) return r end}"))))
    local code, out, err = server.run({"plugin", "test", path},
                                      {stdin = '{"value":"x"}\n'})
    assert.are.equal(1, code, out)
    assert.are.equal("", out)
    assert.are.equal("flyq plugin test: plugin sandbox_probe_binfile: " ..
                     BINARY_REFUSED .. "\n", err)
  end)

  it("are real in escape.lua's probe", function()
    -- plugins_load_spec.lua's escape probe must be refused a chunk that
    -- plain Lua would run.
    local source = assert(server.read_file(PLUGINS .. "/escape.lua"))
    local expr = assert(source:match("\nlocal BINARY =(.-)\n\n"),
                        "no BINARY in escape.lua")
    local bytes = assert(load("return " .. expr))()
    assert.are.equal(42, assert(load(bytes, "escape", "b"))())
  end)
end)
