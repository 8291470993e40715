-- Hostile clients (docs/reliability.md, "Hostile clients"). Each case runs
-- one attack from flyq-hostile (spec/tools/hostile.c) against a real
-- broker while flyq-steady (spec/tools/steady.c), a well-behaved client in
-- its own process, produces and fetches every 5 ms. Each case then checks
-- what the attacker saw (docs/protocol.md, "Limits" and "Connection-level
-- errors"), that the steady client got every answer with a bounded p99
-- latency, that a fresh client is still served, and that the broker's log
-- has no error and no sanitizer report after a clean stop.
--
-- Under the sanitizers (FLYQ_SANITIZE=1, set by cmake/tests.cmake) the
-- bounds on latency and memory are looser: ASan makes every allocation
-- bigger and slower, it does not change what must happen.
local server = require("support.server")
local client = require("flyq.client")
local cjson = require("cjson")
local steady = require("support.steady")

local sanitized = os.getenv("FLYQ_SANITIZE") == "1"
local q, read_file, write_file = steady.q, steady.read_file, steady.write_file
local tool, argv = steady.tool, steady.argv
local start_steady, stop_steady = steady.start, steady.stop
local P99_BOUND_MS = sanitized and 500 or 200
local MiB = 1024 * 1024

-- The steady client got every answer, with p99 under the bound.
local function assert_steady(s, what)
  local r = stop_steady(s)
  print(string.format("  %s: steady client p50 %.2f ms, p99 %.2f ms, " ..
                      "max %.1f ms over %d requests, %d errors",
                      what, r.p50_ms, r.p99_ms, r.max_ms, r.requests, r.errors))
  assert.are.equal(0, r.errors, r.first_error)
  assert.are.equal(1, r.connects)
  assert.is_true(r.requests >= 10, "too few steady requests: " .. r.requests)
  assert.is_true(r.p99_ms < P99_BOUND_MS,
                 string.format("steady p99 %.1f ms >= %d ms", r.p99_ms,
                               P99_BOUND_MS))
  return r
end

-- The attacks -------------------------------------------------------------------

-- Runs `flyq-hostile mode --addr ... --pid ... args...` and returns its
-- report (the JSON it prints).
local function hostile(srv, mode, args)
  local out, err = srv.dir .. "/hostile.json", srv.dir .. "/hostile.err"
  local list = {tool("flyq-hostile"), mode, "--addr", srv.addr,
                "--pid", tostring(srv.pid)}
  table.move(args or {}, 1, #(args or {}), #list + 1, list)
  local cmd = argv(list)
  local ok = os.execute(string.format("%s >%s 2>%s", cmd, q(out), q(err)))
  assert(ok, "flyq-hostile " .. mode .. " failed: " .. (read_file(err) or ""))
  return cjson.decode(read_file(out))
end

-- A new client connects, produces and reads its record back.
local function assert_serves(srv)
  local c = assert(client.connect(srv.addr, {timeout_ms = 5000}))
  local value = "fresh-" .. math.random(1 << 30)
  local base = assert(c:produce("steady", {value}))
  local res = assert(c:fetch("steady", 0, base))
  assert.are.equal(value, res.records[1].value)
  c:close()
end

-- The connection-level error frame of docs/protocol.md: correlation id -1
-- and code, then the broker closed the connection.
local function assert_refused(conn, code)
  assert.is_true(conn.eof, "the broker did not close the connection")
  assert.are.equal(0, conn.bad_frames)
  local last = conn.kept[#conn.kept]
  assert.is_truthy(last, "no error frame before the close")
  assert.are.equal(-1, last.corr)
  assert.are.equal(code, last.code)
end

local function kib(n) return n * 1024 end

describe("the broker under hostile clients", function()
  local srv, steady

  -- Starts a broker with limits (merged into its config) and the steady
  -- client.
  local function start(limits)
    srv = server.start({config = {limits = limits}})
    steady = start_steady(srv)
  end

  after_each(function()
    if steady and not read_file(steady.rc) then pcall(stop_steady, steady) end
    if not srv then return end
    local stopped, code = pcall(srv.stop, srv)
    local clean, err = pcall(srv.assert_clean_log, srv)
    srv:close()
    srv, steady = nil, nil
    assert(stopped, code)
    assert.are.equal(0, code)
    assert(clean, err)
  end)

  it("holds 10,000 idle connections at a bounded cost each", function()
    start({max_connections = 10100})
    local n = 10000
    local r = hostile(srv, "idle", {"--count", n, "--hold-ms", 1000})
    assert.are.equal(0, r.failed, "connect failed with errno " .. r.errno ..
                     " (is the hard RLIMIT_NOFILE at least 10100?)")
    assert.are.equal(n, r.served)
    assert.are.equal(0, r.dropped)
    local per_conn = kib(r.rss_open_kb - r.rss_before_kb) / n
    print(string.format("  %d idle connections: broker RSS %d -> %d KiB, " ..
                        "%.0f bytes each, opened in %.0f ms", n,
                        r.rss_before_kb, r.rss_open_kb, per_conn, r.open_ms))
    assert.is_true(per_conn < kib(sanitized and 256 or 64),
                   string.format("%.0f bytes per connection", per_conn))
    assert_steady(steady, "10k idle connections")
    assert_serves(srv)
  end)

  it("refuses a connection over max_connections with LIMIT_EXCEEDED", function()
    -- The steady client holds one of the 8 slots, the tool the 7 others.
    start({max_connections = 8})
    local r = hostile(srv, "idle", {"--count", 7, "--probe"})
    assert.are.equal(7, r.served)
    assert_refused(r.probe, 1000)
    assert.are.equal(1, r.probe.frames)
    assert.is_truthy(r.probe.kept[1].msg:find("connection"), r.probe.kept[1].msg)
    -- The tool's connections are gone: there is room again.
    server.wait_for(function()
      local c = client.connect(srv.addr, {timeout_ms = 2000})
      if c then c:close() end
      return c
    end, 10, "a free connection slot")
    assert_steady(steady, "max_connections")
    assert_serves(srv)
  end)

  it("times out partial frames (slowloris) with REQUEST_TIMED_OUT", function()
    local timeout = 300
    start({request_timeout_ms = timeout})
    local r = hostile(srv, "slowloris", {"--count", 30, "--trickle-ms", 50,
                                         "--timeout-ms", 20000})
    local slowest = 0
    for _, conn in ipairs(r.conns) do
      assert_refused(conn, 7)
      -- variant 2 sent a whole request first: it was answered
      assert.are.equal(conn.variant == 2 and 2 or 1, conn.frames)
      if conn.variant == 2 then assert.are.equal(0, conn.kept[1].code) end
      assert.is_true(conn.ms >= timeout * 0.8, "closed after " .. conn.ms)
      assert.is_true(conn.ms < timeout + (sanitized and 5000 or 2000),
                     "closed after " .. conn.ms)
      slowest = math.max(slowest, conn.ms)
    end
    print(string.format("  slowloris: 30 connections closed within %.0f ms " ..
                        "(request_timeout_ms %d)", slowest, timeout))
    assert_steady(steady, "slowloris")
    assert_serves(srv)
  end)

  it("bounds the memory of clients that never read their responses", function()
    local conns = 8
    start({max_output_bytes = "1MiB"})
    -- an 8 MiB topic, so that every fetch could answer 4 MiB
    local c = assert(client.connect(srv.addr))
    local records = {}
    for i = 1, 256 do records[i] = string.rep(string.char(65 + i % 26), 4096) end
    for _ = 1, 8 do assert(c:produce("big", records)) end
    c:close()
    local r = hostile(srv, "noread", {"--count", conns, "--requests", 50000,
                                      "--topic", "big", "--max-bytes", 4 * MiB,
                                      "--hold-ms", 3000})
    local growth = kib(r.rss_peak_kb - r.rss_before_kb)
    print(string.format("  %d clients not reading %d fetches of 4 MiB each: " ..
                        "broker RSS +%.1f MiB at the peak (%.1f MiB each)",
                        conns, r.requests, growth / MiB, growth / MiB / conns))
    -- The broker stopped reading their requests (backpressure) ...
    assert.is_true(r.bytes_sent < r.bytes_queued)
    -- ... and holds a bounded amount per connection, not the responses.
    assert.is_true(growth < conns * (sanitized and 24 or 8) * MiB,
                   string.format("RSS grew by %.1f MiB", growth / MiB))
    assert_steady(steady, "clients that never read")
    assert_serves(srv)
  end)

  it("answers frames claiming 2 GiB and other absurd sizes, then closes",
     function()
    start({})
    local r = hostile(srv, "bigframe", {"--count", 14})
    for _, conn in ipairs(r.conns) do
      local negative_or_small = conn.size > 0x7fffffff or conn.size < 8
      assert_refused(conn, negative_or_small and 42 or 10)
      assert.are.equal(1, conn.frames)
    end
    -- each connection sent 1 MiB after its size: none of it was kept
    local growth = kib(r.rss_peak_kb - r.rss_before_kb)
    print(string.format("  absurd frame sizes: broker RSS +%.1f MiB at the peak",
                        growth / MiB))
    assert.is_true(growth < (sanitized and 32 or 8) * MiB,
                   string.format("RSS grew by %.1f MiB", growth / MiB))
    assert_steady(steady, "absurd frame sizes")
    assert_serves(srv)
  end)

  it("stops a client creating thousands of topics at max_topics", function()
    local max_topics = 20
    srv = server.start({config = {limits = {max_topics = max_topics}}})
    local c = assert(client.connect(srv.addr))
    -- Up to the limit: topic creation is ordinary admin work (it fsyncs
    -- on the loop thread), so it happens before the steady client starts.
    assert(c:create_topic("steady"))
    local created, ok, err, code = 1, true, nil, nil
    while ok and created <= max_topics do
      ok, err, code = c:create_topic("t" .. created)
      if ok then created = created + 1 end
    end
    assert.are.equal(max_topics, created)
    assert.are.equal("LIMIT_EXCEEDED", code, err)
    steady = start_steady(srv)
    -- Then thousands of refused creations, and auto-creation by produce.
    for i = created, created + 3000 do
      ok, err, code = c:create_topic("t" .. i)
      assert.is_nil(ok)
      assert.are.equal("LIMIT_EXCEEDED", code, err)
    end
    local base
    base, err, code = c:produce("auto-created", {"x"})
    assert.is_nil(base)
    assert.are.equal("LIMIT_EXCEEDED", code, err)
    assert.are.equal(max_topics, #assert(c:metadata()).topics)
    assert_steady(steady, "max_topics")
    -- Deleting one makes room for one.
    assert(c:delete_topic("t1"))
    assert(c:create_topic("again"))
    c:close()
    assert_serves(srv)
  end)

  it("answers a flood of unknown API keys with UNSUPPORTED_VERSION", function()
    start({})
    local n = 80000
    local r = hostile(srv, "flood", {"--count", n, "--conns", 4,
                                     "--timeout-ms", 60000})
    print(string.format("  %d pipelined unknown API keys answered in %.0f ms",
                        n, r.ms))
    assert.are.equal(n, r.answered)
    assert.are.equal(0, r.wrong)
    assert.are.equal(0, r.closed)
    assert.are.equal(35, r.first.kept[1].code)
    assert_steady(steady, "unknown API keys")
    assert_serves(srv)
  end)

  it("survives megabytes of random bytes over many connections", function()
    start({})
    local sessions, closed, frames = 0, 0, 0
    for _, seed in ipairs({1, 2, 3}) do
      local r = hostile(srv, "random", {"--seed", seed, "--bytes", 8 * MiB,
                                        "--conns", 32, "--timeout-ms", 60000})
      assert.are.equal(8 * MiB, r.bytes_sent)
      assert.are.equal(0, r.bad_frames) -- whatever came back was well framed
      assert.are.equal(0, r.connect_errors)
      sessions = sessions + r.sessions
      closed = closed + r.closed_by_broker
      frames = frames + r.frames
    end
    print(string.format("  random bytes: 24 MiB over %d connections, %d " ..
                        "closed by the broker, %d answers", sessions, closed,
                        frames))
    -- garbage framing closed connections, framed garbage was answered
    assert.is_true(closed > 0)
    assert.is_true(frames > 0)
    assert_steady(steady, "random bytes")
    assert_serves(srv)
  end)
end)
