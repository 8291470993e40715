--- support.steady: the well-behaved client that load and hostile specs run
-- beside their attacks, and the small file and process helpers they share.
--
--   local steady = require("support.steady")
--   local s = steady.start(srv)     -- flyq-steady on topic "steady", waits for
--                                   -- its first round trip
--   local report = steady.stop(s)   -- its JSON report (p50_ms, p99_ms,
--                                   -- max_ms, requests, errors, connects...)
--
-- flyq-steady (spec/tools/steady.c) runs in its own process, produces and
-- fetches every 5 ms, and writes its files into srv.dir. Like the broker it
-- runs without the preload meant for the Lua interpreter and with leak checks
-- on, so a sanitizer report makes it exit non-zero and stop() fail.
local server = require("support.server")
local cjson = require("cjson")

local M = {}

local tool_dir = server.bin():match("^(.*)/[^/]*$") or "."

-- The file and shell helpers live in support.server; kept here for the
-- specs that take them from this module.
M.q, M.read_file, M.write_file = server.q, server.read_file, server.write_file

function M.rss_kb(pid)
  local status = assert(M.read_file("/proc/" .. pid .. "/status"))
  return tonumber(status:match("VmRSS:%s*(%d+)"))
end

--- The path of a tool built next to the flyq binary; fails if it is missing.
function M.tool(name)
  local path = tool_dir .. "/" .. name
  assert(M.read_file(path), path .. " is missing: build the target " .. name)
  return path
end

--- A shell command line running list[1] with arguments list[2..], without
-- the interpreter's preload and with leak checks on.
function M.argv(list)
  local parts = {"LD_PRELOAD=", "ASAN_OPTIONS=detect_leaks=1"}
  for _, a in ipairs(list) do parts[#parts + 1] = M.q(a) end
  return table.concat(parts, " ")
end

--- Starts flyq-steady against srv on topic "steady" and waits until it has
-- been served once. steady.rc appears in srv.dir when it has exited.
function M.start(srv)
  local s = {
    stop = srv.dir .. "/steady.stop", ready = srv.dir .. "/steady.ready",
    out = srv.dir .. "/steady.json", log = srv.dir .. "/steady.log",
    rc = srv.dir .. "/steady.rc",
  }
  local q = M.q
  os.execute(string.format(
    "(%s >%s 2>&1 </dev/null; echo $? >%s.tmp; mv %s.tmp %s) >/dev/null 2>&1 &",
    M.argv({M.tool("flyq-steady"), "--addr", srv.addr, "--topic", "steady",
            "--interval-ms", "5", "--ready-file", s.ready, "--stop-file",
            s.stop, "--out", s.out, "--max-seconds", "300"}),
    q(s.log), q(s.rc), q(s.rc), q(s.rc)))
  local ok, err = pcall(server.wait_for, function()
    return M.read_file(s.ready) or M.read_file(s.rc)
  end, 20, "the steady client's first round trip")
  if not ok or M.read_file(s.rc) then
    M.write_file(s.stop, "")
    error((err or "flyq-steady ended early") .. ": " ..
          (M.read_file(s.log) or ""), 2)
  end
  return s
end

--- Stops it and returns its report. A non-zero exit or anything on its
-- stderr (a sanitizer report, say) fails the spec.
function M.stop(s)
  M.write_file(s.stop, "")
  local rc = server.wait_for(function() return M.read_file(s.rc) end, 30,
                             "flyq-steady to exit")
  local log = M.read_file(s.log) or ""
  assert(tonumber(rc) == 0 and log == "",
         "flyq-steady exited with " .. rc .. ":\n" .. log)
  local report = assert(M.read_file(s.out), "flyq-steady wrote no report")
  return cjson.decode(report)
end

return M
