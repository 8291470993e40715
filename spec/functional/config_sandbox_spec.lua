-- The config file's own sandbox (docs/config.md, "The sandbox"), seen from
-- outside: a file that reaches for io, os, require, dofile, loadfile,
-- string.dump or a binary chunk through load is refused with its file,
-- line and error
--   - by `flyq serve`, which exits 1 and listens on nothing;
--   - by `flyq config plan` and `flyq config apply` on a running broker,
--     which reports it, logs it and keeps serving on its old config;
--   - by a SIGHUP reload, the same.
-- Files that try to write a marker file also prove the attempt did nothing.
-- env(), the one way out the sandbox offers, is covered by
-- config_plan_spec.lua ("env() in the config file").

local server = require("support.server")
local client = require("flyq.client")

-- Lua source for s as a one-line string literal (every byte that is not a
-- letter, digit or space written as \ddd), so that a binary chunk keeps
-- the file's line numbers.
local function literal(s)
  return '"' .. s:gsub("[^%w ]", function(c)
    return ("\\%03d"):format(c:byte())
  end) .. '"'
end

-- A real Lua 5.4 binary chunk (dumped here, outside the sandbox) that
-- would return a config.
local BYTECODE = literal(string.dump(function() return {topics = {X = {}}} end))

-- Each escape: what it tries, the line of Lua that tries it (line 2 of the
-- file), and the error the sandbox gives there. In the line, $marker is a
-- file that the line would create if it escaped and $four a Lua file that
-- returns 4; without the sandbox, every line runs without an error.
local ESCAPES = {
  {"io.open", 'local f = io.open($marker, "w")',
   "attempt to index a nil value (global 'io')"},
  {"os.execute", 'os.execute("touch " .. $marker)',
   "attempt to index a nil value (global 'os')"},
  {'require("os")', 'require("os").execute("touch " .. $marker)',
   "attempt to call a nil value (global 'require')"},
  {'require("io")', 'local f = require("io").open($marker, "w")',
   "attempt to call a nil value (global 'require')"},
  {"dofile", "local n = dofile($four)",
   "attempt to call a nil value (global 'dofile')"},
  {"loadfile", "local f = loadfile($four)",
   "attempt to call a nil value (global 'loadfile')"},
  {"string.dump", "local s = string.dump(function() end)",
   "attempt to call a nil value (field 'dump')"},
  {"a string's dump method", 'local s = ("").dump(function() end)',
   "attempt to call a nil value (field 'dump')"},
  {"load of a binary chunk", "local f = assert(load(" .. BYTECODE .. "))",
   "attempt to load a binary chunk (mode is 't')"},
  {'load of a binary chunk with mode "b"',
   "local f = assert(load(" .. BYTECODE .. ', "=c", "b"))',
   "attempt to load a binary chunk (mode is 't')"},
  {"io through a chunk made by load",
   'local f = load("return io")().open($marker, "w")',
   "attempt to index a nil value"},
}

-- Writes, into dir, a config file that tries escape e on line 2 and would
-- otherwise grow topic A to 4 partitions and create topic B, and the file
-- $four names. Returns the config's path and the marker's.
local function escape_config(dir, name, e, data_dir)
  local marker, four = dir .. "/escaped", dir .. "/four.lua"
  server.write_file(four, "return 4\n")
  local line = e[2]:gsub("%$(%w+)", function(k)
    return ("%q"):format(({marker = marker, four = four})[k])
  end)
  local path = dir .. "/" .. name
  server.write_file(path, string.format("-- tries %s\n%s\nreturn {\n"
    .. '  listen = "127.0.0.1:0", data_dir = %q,\n'
    .. "  topics = { A = { partitions = 4 }, B = {} },\n}\n",
    e[1], line, data_dir))
  return path, marker
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

describe("the config file's sandbox at startup", function()
  local dir

  before_each(function() dir = server.tmpdir() end)
  after_each(function() server.rmdir(dir) end)

  for _, e in ipairs(ESCAPES) do
    it(e[1] .. ": flyq serve exits 1 with the file, line 2 and the error, "
       .. "and listens on nothing", function()
      local config, marker = escape_config(dir, "flyq.lua", e, dir .. "/data")
      local code, out, err = server.run({"serve", "-c", config,
                                         "--port-file", dir .. "/port"},
                                        {timeout = 20})
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.are.equal("flyq serve: " .. config .. ":2: " .. e[3] .. "\n", err)
      assert.is_false(exists(dir .. "/port"))
      assert.is_false(exists(marker))
    end)
  end
end)

describe("the config file's sandbox on a running broker", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {topics = {A = {partitions = 2}}}})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  local function flyq(...)
    return server.run({...}, {env = {FLYQ_BROKER = srv.addr}})
  end

  -- The broker still runs its first config: topic A alone, with its 2
  -- partitions, and it stores and serves records.
  local function assert_old_config()
    assert.is_true(srv:running())
    local code, out = flyq("topic", "list")
    assert.are.equal(0, code)
    assert.are.same({"A"}, lines(out))
    code, out = flyq("topic", "describe", "A")
    assert.are.equal(0, code)
    assert.matches("^topic A: 2 partitions", out)
    local base = assert(c:produce("A", {"still here"}, {partition = 1}))
    assert.are.equal("still here", assert(c:fetch("A", 1, base)).records[1].value)
  end

  for _, e in ipairs(ESCAPES) do
    it(e[1] .. ": plan, apply and SIGHUP refuse the file and report it; the "
       .. "broker keeps serving its old config", function()
      local config, marker = escape_config(srv.dir, "escape.lua", e,
                                           srv.data_dir)
      local want = config .. ":2: " .. e[3]
      local code, out, err = flyq("config", "plan", "-c", config)
      assert.are.equal(1, code, out)
      assert.are.equal("", out)
      assert.are.equal("flyq config plan: ConfigPlan: INVALID_CONFIG: "
                       .. want .. "\n", err)
      code, out, err = flyq("config", "apply", "-c", config)
      assert.are.equal(1, code, out)
      assert.are.equal("", out)
      assert.are.equal("flyq config apply: ConfigApply: INVALID_CONFIG: "
                       .. want .. "\n", err)
      srv:wait_log("config apply request: not applied, the broker keeps its "
               .. "running config: " .. want .. "\n")
      -- The same file as the broker's own, on SIGHUP.
      server.write_file(srv.config_path, server.read_file(config))
      os.execute("kill -HUP " .. srv.pid)
      srv:wait_log("SIGHUP: not applied, the broker keeps its running config: "
               .. srv.config_path .. ":2: " .. e[3] .. "\n")
      assert.is_false(exists(marker))
      assert_old_config()
    end)
  end
end)
