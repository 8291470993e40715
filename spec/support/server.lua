--- spec/support/server.lua: runs the real `flyq serve` for functional specs.
--
-- The binary is $FLYQ_BIN (ctest sets it; default build/flyq). Each server
-- gets its own temporary directory, which is also its working directory:
--
--   <dir>/flyq.lua   the config file written from opts.config
--   <dir>/data/      the data directory
--   <dir>/flyq.log   the broker's stdout and stderr (appended across restarts)
--
-- API:
--
--   local server = require("support.server")
--
--   local srv = server.start({
--     config = { topics = { t = { partitions = 2 } } },
--         -- a config table (docs/config.md), written to <dir>/flyq.lua and
--         -- passed as -c; listen = "127.0.0.1:0" and data_dir = "<dir>/data"
--         -- are added unless given. config = false: no config file; then
--         -- "--listen 127.0.0.1:0" is passed (unless args has --listen) and
--         -- the data directory is the default ./data, i.e. <dir>/data.
--     args = { "--log-level", "debug" },  -- more `flyq serve` arguments
--     env = { NAME = "value" },           -- more environment variables
--     timeout = 20,                       -- seconds to wait for the port
--   })
--     Starts the broker and waits (polling, with a deadline) until it has
--     written its port (--port-file) and accepts a TCP connection. Raises
--     an error with the log's tail if it exits or the deadline passes.
--     The server has:
--       srv.port, srv.host ("127.0.0.1"), srv.addr ("127.0.0.1:PORT"),
--       srv.pid, srv.dir, srv.data_dir, srv.config_path (nil if none),
--       srv.log (path of the log file)
--
--   srv:stop([timeout])  SIGTERM, then waits up to timeout seconds (default
--                        20) for the exit; returns the exit code (128+N
--                        for a signal N). Raises (after SIGKILL) if the
--                        broker does not exit in time. A no-op returning
--                        the last code when not running.
--   srv:kill9()          SIGKILL, waits for the exit; returns the code (137).
--   srv:restart([opts])  stops the broker if running (SIGTERM), then starts
--                        it again with the same directory, config and args
--                        (opts.args / opts.env replace them if given). The
--                        port usually changes: read srv.port again.
--   srv:running()        true while the process is alive.
--   srv:log_text()       the whole log.
--   srv:wait_log(text[, count[, timeout]])
--                        waits (polling, timeout seconds, default 20) until
--                        the log holds text (plain, not a pattern) at least
--                        count times (default 1); raises naming text if not.
--   srv:assert_clean_log([opts])
--                        raises if the log has a line containing " ERROR "
--                        that matches none of the Lua patterns in
--                        opts.allow, or any sanitizer report
--                        (AddressSanitizer, LeakSanitizer, ThreadSanitizer,
--                        "runtime error:"). Leak reports are written at
--                        exit: call it after srv:stop().
--   srv:close()          kills the broker if still running and removes the
--                        directory. Call it in after_each.
--   srv:finish()         the usual end: srv:stop() (raises unless the exit
--                        code is 0), srv:assert_clean_log(), srv:close().
--
--   server.bin()         the flyq binary's path.
--   server.run(args, [opts]) -> code, stdout, stderr
--                        runs `flyq <args...>` to completion (opts.timeout
--                        seconds, default 30; opts.cwd; opts.env; opts.stdin
--                        text; opts.prefix, a command and its arguments to
--                        run flyq through, e.g. {"taskset", "-c", "1"})
--                        and returns its exit code and output.
--   server.tmpdir()      a new temporary directory (remove it with
--                        server.rmdir).
--   server.rmdir(dir)    removes a directory made by server.tmpdir.
--   server.q(s)          s quoted for the shell.
--   server.read_file(path)        its contents, or nil if unreadable.
--   server.write_file(path, text) writes it (raises on failure).
--   server.write_config(path, config)
--                        writes a config table (or a string of Lua source)
--                        to path.
--   server.can_connect(host, port) -> boolean
--   server.wait_for(fn, timeout, what)
--                        calls fn until it returns a true value (returned),
--                        raising "timed out after N s waiting for <what>".
--   server.header(rec, name)      the value of a fetched record's first
--                        header called name, or nil.
--
-- A typical spec:
--
--   local srv
--   before_each(function() srv = server.start({config = {}}) end)
--   after_each(function() srv:finish() end)

local ok_system, system = pcall(require, "system") -- luasystem (busted's)

local M = {}

local POLL = 0.02 -- seconds between two checks of a condition

-- Process helpers ------------------------------------------------------------------

--- s quoted for the shell.
function M.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
local q = M.q

local function now()
  if ok_system then return system.monotime() end
  return os.time()
end

local function pause()
  if ok_system then
    system.sleep(POLL)
  else
    os.execute("sleep " .. POLL)
  end
end

local function sh(cmd)
  local ok, how, code = os.execute(cmd)
  return ok == true, how, code
end

--- The contents of path, or nil if it cannot be read.
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Writes text to path (raises on failure).
function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  assert(f:write(text))
  assert(f:close())
end
local read_file, write_file = M.read_file, M.write_file

-- The binary's path; a relative one is taken from the directory the Lua
-- process started in (servers run in their own directories).
local start_dir = os.getenv("PWD") or "."
function M.bin()
  local bin = os.getenv("FLYQ_BIN") or "build/flyq"
  if bin:sub(1, 1) ~= "/" and bin:find("/", 1, true) then
    bin = start_dir .. "/" .. bin
  end
  return bin
end

function M.tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/flyq-spec.XXXXXX"))
  local dir = p:read("l")
  p:close()
  assert(dir and dir:match("^/tmp/flyq%-spec%.%w+$"), "mktemp -d failed")
  return dir
end

function M.rmdir(dir)
  assert(dir:match("^/tmp/flyq%-spec%.%w+$"), "not a spec directory: " .. dir)
  sh("rm -rf " .. q(dir))
end

function M.wait_for(fn, timeout, what)
  local deadline = now() + (timeout or 20)
  while true do
    local v = fn()
    if v then return v end
    if now() > deadline then
      error(string.format("timed out after %s s waiting for %s", timeout or 20,
                          what or "a condition"), 2)
    end
    pause()
  end
end

function M.can_connect(host, port)
  return sh(string.format("bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null",
                          host, port))
end

-- "VAR=value ..." for the environment table env (may be nil).
local function env_prefix(env)
  local names, parts = {}, {}
  for k in pairs(env or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. q(env[k]) end
  return table.concat(parts, " ")
end

local function argv(args)
  local parts = {}
  for i, a in ipairs(args or {}) do parts[i] = q(a) end
  return table.concat(parts, " ")
end

function M.run(args, opts)
  opts = opts or {}
  local dir = M.tmpdir()
  write_file(dir .. "/stdin", opts.stdin or "")
  -- Like the broker (launch below): no preload, leak reports on.
  local cmd = string.format(
    "cd %s && LD_PRELOAD= ASAN_OPTIONS=detect_leaks=1 %s timeout -k 5 %d " ..
    "%s %s %s <%s >%s 2>%s",
    q(opts.cwd or "."), env_prefix(opts.env), opts.timeout or 30,
    argv(opts.prefix), q(M.bin()),
    argv(args), q(dir .. "/stdin"), q(dir .. "/stdout"), q(dir .. "/stderr"))
  local _, how, code = sh(cmd)
  local out, err = read_file(dir .. "/stdout"), read_file(dir .. "/stderr")
  M.rmdir(dir)
  return how == "signal" and 128 + code or code, out, err
end

-- Config files -----------------------------------------------------------------

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
end

-- v as Lua source (tables with keys in sorted order, for stable files).
local function serialize(v, indent)
  local t = type(v)
  if t == "string" then return string.format("%q", v) end
  if t == "number" then
    return math.type(v) == "integer" and string.format("%d", v)
      or string.format("%.17g", v)
  end
  if t == "boolean" then return tostring(v) end
  assert(t == "table", "cannot write a " .. t .. " into a config file")
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  local inner, lines = indent .. "  ", {}
  for _, k in ipairs(keys) do
    local key = is_identifier(k) and k or "[" .. serialize(k, inner) .. "]"
    lines[#lines + 1] = inner .. key .. " = " .. serialize(v[k], inner) .. ","
  end
  if #lines == 0 then return "{}" end
  return "{\n" .. table.concat(lines, "\n") .. "\n" .. indent .. "}"
end

function M.write_config(path, config)
  if type(config) == "string" then
    write_file(path, config)
  else
    write_file(path, "return " .. serialize(config, "") .. "\n")
  end
end

-- The server ---------------------------------------------------------------------

local Server = {}
Server.__index = Server

local function has_flag(args, flag)
  for _, a in ipairs(args) do
    if a == flag or a:sub(1, #flag + 1) == flag .. "=" then return true end
  end
  return false
end

-- The `flyq serve` command line for srv.
local function serve_args(srv)
  local args = {"serve", "--port-file", srv.dir .. "/port"}
  if srv.config_path then
    table.insert(args, 2, "-c")
    table.insert(args, 3, srv.config_path)
  elseif not has_flag(srv.args, "--listen") then
    table.move({"--listen", "127.0.0.1:0"}, 1, 2, #args + 1, args)
  end
  table.move(srv.args, 1, #srv.args, #args + 1, args)
  return args
end

-- Starts the process in the background. A subshell waits for it and
-- records its exit status in <dir>/exit; <dir>/pid receives its pid. The
-- broker gets its own sanitizer options: leak reports on, no preload (the
-- preload is for the uninstrumented Lua running the specs).
local function launch(srv)
  os.remove(srv.dir .. "/port")
  os.remove(srv.dir .. "/pid")
  os.remove(srv.dir .. "/exit")
  local cmd = string.format(
    "cd %s && (LD_PRELOAD= ASAN_OPTIONS=detect_leaks=1 "
    .. "UBSAN_OPTIONS=print_stacktrace=1 %s %s %s </dev/null >>%s 2>&1 & "
    .. "echo $! >%s.tmp && mv %s.tmp %s; wait $!; echo $? >%s.tmp && "
    .. "mv %s.tmp %s) >/dev/null 2>&1 &",
    q(srv.dir), env_prefix(srv.env), q(M.bin()), argv(serve_args(srv)),
    q(srv.log), q(srv.dir .. "/pid"), q(srv.dir .. "/pid"),
    q(srv.dir .. "/pid"), q(srv.dir .. "/exit"), q(srv.dir .. "/exit"),
    q(srv.dir .. "/exit"))
  assert(sh(cmd), "cannot start " .. M.bin())
  srv.pid = tonumber(M.wait_for(function()
    return read_file(srv.dir .. "/pid")
  end, 10, "the broker's pid"):match("%d+"))
  srv.exit_code = nil
end

-- The exit code once the process has exited, else nil.
local function exit_code(srv)
  if srv.exit_code == nil then
    local s = read_file(srv.dir .. "/exit")
    srv.exit_code = s and tonumber(s:match("%d+"))
  end
  return srv.exit_code
end

local function log_tail(srv)
  local text = srv:log_text()
  return #text > 4000 and "..." .. text:sub(-4000) or text
end

-- Waits until the port file names a port that accepts connections.
local function wait_listening(srv, timeout)
  M.wait_for(function()
    if exit_code(srv) then
      error(string.format("flyq serve exited with %d before listening; log:\n%s",
                          exit_code(srv), log_tail(srv)), 0)
    end
    local text = read_file(srv.dir .. "/port") or ""
    local port = tonumber(text:match("(%d+)%s*$"))
    if port and port > 0 and M.can_connect("127.0.0.1", port) then
      srv.port = port
      return true
    end
  end, timeout, "flyq serve to listen (log: " .. srv.log .. ")")
  srv.host = "127.0.0.1"
  srv.addr = srv.host .. ":" .. srv.port
end

function M.start(opts)
  opts = opts or {}
  local dir = M.tmpdir()
  local srv = setmetatable({
    dir = dir, data_dir = dir .. "/data", log = dir .. "/flyq.log",
    args = opts.args or {}, env = opts.env, timeout = opts.timeout or 20,
  }, Server)
  if opts.config ~= false then
    local config = {}
    for k, v in pairs(opts.config or {}) do config[k] = v end
    config.listen = config.listen or "127.0.0.1:0"
    config.data_dir = config.data_dir or srv.data_dir
    srv.data_dir = config.data_dir
    srv.config_path = dir .. "/flyq.lua"
    M.write_config(srv.config_path, config)
  end
  write_file(srv.log, "")
  local ok, err = pcall(function()
    launch(srv)
    wait_listening(srv, srv.timeout)
  end)
  if not ok then
    srv:close()
    error(err, 2)
  end
  return srv
end

function Server:running()
  return self.pid ~= nil and exit_code(self) == nil
end

-- Sends signal sig and waits up to timeout seconds for the exit.
local function signal_and_wait(srv, sig, timeout)
  sh(string.format("kill -%s %d 2>/dev/null", sig, srv.pid))
  local ok = pcall(M.wait_for, function() return exit_code(srv) end, timeout,
                   "the broker to exit")
  return ok
end

function Server:stop(timeout)
  if not self:running() then return self.exit_code end
  timeout = timeout or 20
  if not signal_and_wait(self, "TERM", timeout) then
    signal_and_wait(self, "KILL", 10)
    error(string.format("flyq serve did not exit within %s s of SIGTERM; log:\n%s",
                        timeout, log_tail(self)), 2)
  end
  return self.exit_code
end

function Server:kill9()
  if not self:running() then return self.exit_code end
  assert(signal_and_wait(self, "KILL", 10), "flyq serve survived SIGKILL")
  return self.exit_code
end

function Server:restart(opts)
  opts = opts or {}
  self:stop()
  self.args = opts.args or self.args
  self.env = opts.env or self.env
  launch(self)
  wait_listening(self, opts.timeout or self.timeout)
  return self
end

function Server:log_text()
  return read_file(self.log) or ""
end

function Server:wait_log(text, count, timeout)
  count = count or 1
  M.wait_for(function()
    local log, n, at = self:log_text(), 0, 1
    while n < count do
      local _, e = log:find(text, at, true)
      if not e then return false end
      n, at = n + 1, e + 1
    end
    return true
  end, timeout or 20, "the log line " .. text)
end

local sanitizer_reports = {
  "AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "MemorySanitizer",
  "runtime error:",
}

local function allowed(line, allow)
  for _, pattern in ipairs(allow or {}) do
    if line:find(pattern) then return true end
  end
  return false
end

function Server:assert_clean_log(opts)
  local text = self:log_text()
  for _, needle in ipairs(sanitizer_reports) do
    if text:find(needle, 1, true) then
      error("sanitizer report in " .. self.log .. ":\n" .. text, 2)
    end
  end
  for line in text:gmatch("[^\n]+") do
    if line:find(" ERROR ", 1, true) and not allowed(line, opts and opts.allow) then
      error("unexpected error in " .. self.log .. ": " .. line, 2)
    end
  end
  return true
end

function Server:close()
  if self.pid and self:running() then self:kill9() end
  if self.dir then M.rmdir(self.dir) end
  self.dir = nil
end

-- The end of a spec's broker: stops it, which must exit 0, checks its log
-- (assert_clean_log) and closes it. Raises on either failure.
function Server:finish()
  local code = self:stop()
  if code ~= 0 then
    local dir = self.dir
    self:close()
    error(string.format("flyq serve exited with %d (in %s)", code, dir), 2)
  end
  self:assert_clean_log()
  self:close()
end

-- The value of the first header called name of a fetched record (nil if
-- it has none).
function M.header(rec, name)
  for _, h in ipairs(rec.headers or {}) do
    if h[1] == name then return h[2] end
  end
end

return M
