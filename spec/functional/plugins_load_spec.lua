-- Plugin faults under load (docs/reliability.md, "Auth and plugin
-- faults"). While flyq-steady (spec/tools/steady.c) produces and fetches
-- on the plain topic "steady" every 5 ms, hundreds of produce requests go
-- through plugins that fail on other topics: ones that raise, loop, hog
-- memory, abuse coroutines (spec/fixtures/plugins/coro_bomb.lua) or try to
-- leave the sandbox (escape.lua, with peek_globals.lua checking that the
-- globals escape sets stay in its own state). Each failing request gets
-- PLUGIN_ERROR and stores nothing; each escape probe finds every way out
-- closed. Meanwhile the steady client gets every answer with a bounded
-- p99, the broker's RSS stops growing, every record the steady client was
-- acknowledged reads back intact, and the log has no ERROR line.
--
-- Under the sanitizers (FLYQ_SANITIZE=1) the bounds are looser, and ASan's
-- quarantine of freed memory (256 MiB by default, which would read as
-- growth) is cut to 16 MiB.

local server = require("support.server")
local client = require("flyq.client")
local steady = require("support.steady")
local system = require("system")

local sanitized = os.getenv("FLYQ_SANITIZE") == "1"
-- The steady client waits behind whichever faulty request is running: its
-- p99 is about the slowest of those (see REQUEST_BOUND_MS). Alone it is
-- 50-110 ms; 486 ms was seen once in CI, a plugin's Lua stack overflow
-- that ran into the memory cap. A broker that stalls takes seconds.
local P99_BOUND_MS = sanitized and 2000 or 1000
-- One faulty request: a hook call's CPU limit is 10 ms, plus what the
-- failure costs after it (freeing the state's garbage, the traceback), in
-- wall time on a machine that runs other tests alongside: "recurse" (a
-- Lua stack of a million slots to free) takes 60-80 ms alone and was seen
-- at 300-370 ms under ctest -j2. A hang would take seconds.
local REQUEST_BOUND_MS = sanitized and 2000 or 1000
local MiB = 1024 * 1024
local ROUNDS = 40 -- rounds over CASES: 40 * 15 = 600 produce requests

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"

-- Each case: topic, value produced, the text PLUGIN_ERROR's message must
-- hold, or a list of texts one of which it must hold (nil: the request
-- succeeds). A stack that overflows may hit a limit first.
local CASES = {
  {"fail", "bad", "failing.lua:5: bad record"},
  {"spin", "spin", "limit exceeded"},
  {"hog", "hog", {"hog.lua:7: memory limit exceeded (16 MiB)",
                  "time limit exceeded"}}, -- whichever comes first
  {"coro", "spawn", "plugin coro_bomb"},
  {"coro", "yield", "attempt to yield from outside a coroutine"},
  {"coro", "dead", "resume refused: cannot resume dead coroutine"},
  {"coro", "recurse", {"stack overflow", "limit exceeded"}},
  {"coro", "nest", {"stack overflow", "limit exceeded"}},
  {"escape", "io", "global 'io'"},
  {"escape", "exec", "(field 'execute')"},
  {"escape", "probe", nil},
  {"peek", "x", nil},
  {"coro", "fine", nil},
  {"fail", "fine", nil},
  {"spin", "fine", nil},
}

local read_file, write_file, rss_kb =
  steady.read_file, steady.write_file, steady.rss_kb
local start_steady, stop_steady = steady.start, steady.stop

-- Checks ------------------------------------------------------------------------

local header = server.header

-- Produces case's value once and checks the answer; returns true when a
-- record was stored.
local function produce_case(c, case)
  local topic, value, message = case[1], case[2], case[3]
  local t0 = system.monotime()
  local base, err, code = c:produce(topic, {value})
  local what = topic .. "/" .. value
  local ms = (system.monotime() - t0) * 1000
  assert.is_true(ms < REQUEST_BOUND_MS,
                 string.format("%s took %.0f ms", what, ms))
  if message == nil then
    assert(base, what .. ": " .. tostring(err))
    return true
  end
  assert.is_nil(base, what .. " was stored")
  assert.are.equal("PLUGIN_ERROR", code, what .. ": " .. tostring(err))
  for _, text in ipairs(type(message) == "table" and message or {message}) do
    if err:find(text, 1, true) then return false end
  end
  error(what .. ": unexpected message: " .. err)
end

-- Every record of topic (partition 0) from offset 0.
local function read_all(c, topic)
  local out, offset = {}, 0
  local hw = assert(c:fetch(topic, 0, 0)).high_watermark
  while offset < hw do
    local res = assert(c:fetch(topic, 0, offset))
    for _, rec in ipairs(res.records) do out[#out + 1] = rec end
    offset = res.next_offset
  end
  return out, hw
end

describe("plugin faults under load", function()
  local srv, steady, c

  lazy_setup(function()
    local env = sanitized and
      {ASAN_OPTIONS = "detect_leaks=1:quarantine_size_mb=16"} or nil
    srv = server.start({env = env, config = {
      plugin_path = {PLUGINS},
      plugins = {limits = {memory = "16MiB"}},
      topics = {
        steady = {},
        fail = {on_produce = {"failing"}}, spin = {on_produce = {"spin"}},
        hog = {on_produce = {"hog"}}, coro = {on_produce = {"coro_bomb"}},
        escape = {on_produce = {{plugin = "escape",
                                 params = {marker = "MARKER"}}}},
        peek = {on_produce = {"peek_globals"}},
      },
    }})
    c = assert(client.connect(srv.addr))
    steady = start_steady(srv)
  end)

  lazy_teardown(function()
    if c then c:close() end
    if steady and not read_file(steady.rc) then pcall(stop_steady, steady) end
    if not srv then return end
    local stopped, code = pcall(srv.stop, srv)
    local clean, err = pcall(srv.assert_clean_log, srv)
    srv:close()
    assert(stopped, code)
    assert.are.equal(0, code)
    assert(clean, err)
  end)

  it("fails every faulty request alone, with a bounded RSS", function()
    local stored, rss = {}, {}
    for round = 1, ROUNDS do
      for _, case in ipairs(CASES) do
        if produce_case(c, case) then
          stored[case[1]] = (stored[case[1]] or 0) + 1
        end
      end
      -- warm: the most after rounds 5 to 10, when every state has had
      -- its chance to reach its cap (the hog's 16 MiB comes in steps, as
      -- its collector runs, so one early sample can be low)
      if round >= 5 and round <= 10 then
        rss.warm = math.max(rss.warm or 0, rss_kb(srv.pid))
      end
    end
    rss.done = rss_kb(srv.pid)
    print(string.format("  %d faulty produce requests: broker RSS %d KiB " ..
                        "after 5-10 rounds (most), %d KiB after %d", ROUNDS * #CASES,
                        rss.warm, rss.done, ROUNDS))
    -- Every plugin state is capped at 16 MiB: after the first rounds
    -- nothing grows with the number of requests.
    assert.is_true(rss.done - rss.warm < (sanitized and 64 or 16) * 1024,
                   string.format("RSS grew from %d to %d KiB", rss.warm, rss.done))
    for _, topic in ipairs({"fail", "spin", "hog", "coro", "escape", "peek"}) do
      local hw = assert(c:fetch(topic, 0, 0)).high_watermark
      assert.are.equal(stored[topic] or 0, hw, topic)
    end
    assert.is_nil(read_file(srv.dir .. "/MARKER"), "os.execute ran")
  end)

  it("keeps the sandbox closed and each plugin's globals its own", function()
    local escaped = read_all(c, "escape")
    assert.are.equal(ROUNDS, #escaped)
    for _, rec in ipairs(escaped) do
      assert.are.equal("probe", rec.value)
      assert.are.equal("blocked", header(rec, "escape"))
    end
    local peeked = read_all(c, "peek")
    assert.are.equal(ROUNDS, #peeked)
    for _, rec in ipairs(peeked) do
      assert.are.equal("none", header(rec, "leak"))
    end
  end)

  it("counts the errors in Stats and logs them as warnings", function()
    local errors = {}
    for _, p in ipairs(assert(c:stats()).plugins) do errors[p.name] = p.errors end
    assert.are.same({failing = ROUNDS, spin = ROUNDS, hog = ROUNDS,
                     coro_bomb = 5 * ROUNDS, escape = 2 * ROUNDS,
                     peek_globals = 0}, errors)
    local log = srv:log_text()
    assert.matches(" WARN .*plugin coro_bomb", log)
    assert.is_nil(log:find(" ERROR ", 1, true))
  end)

  it("serves the steady client throughout, and keeps its data intact",
     function()
    local r = stop_steady(steady)
    print(string.format("  steady client under plugin faults: p50 %.2f ms, " ..
                        "p99 %.2f ms, max %.1f ms over %d requests, %d errors",
                        r.p50_ms, r.p99_ms, r.max_ms, r.requests, r.errors))
    assert.are.equal(0, r.errors, r.first_error)
    assert.are.equal(1, r.connects)
    assert.is_true(r.p99_ms < P99_BOUND_MS,
                   string.format("steady p99 %.1f ms >= %d ms", r.p99_ms,
                                 P99_BOUND_MS))
    -- Each round stored one record, acknowledged and read back.
    local acked = r.requests // 2
    assert.is_true(acked >= 50, "too few steady rounds: " .. acked)
    local records, hw = read_all(c, "steady")
    assert.are.equal(acked, hw)
    for i, rec in ipairs(records) do
      assert.are.equal(i - 1, rec.offset)
      assert.are.equal("steady-" .. (i - 1), rec.value)
    end
    assert.are.equal(acked, #records)
  end)
end)
