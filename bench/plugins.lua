-- bench/plugins.lua: what a trivial on_produce hook costs over TCP.
--
--   lua5.4 bench/plugins.lua [RUNS] [COUNT] [TOPICS...]
--
-- Starts the real broker (FLYQ_BIN, default build/flyq) on a free port with
-- a temporary data directory and these topics, one partition each:
--
--   plain      no hooks
--   hooked     on_produce = {"identity"} (spec/fixtures/plugins/identity.lua:
--              returns each record as it came)
--   hooked_ctx on_produce = {"identity_ctx"} (the same hook declaring ctx as
--              its second parameter: the fast loop that passes ctx)
--   keyed      on_produce = {"key_reader"} (reads record.key, keeps the
--              record)
--   passed     hooked with on_error = "pass" (the fast loop under
--              protection)
--
-- then runs `flyq bench produce TOPIC --count COUNT --json` (100-byte
-- values, batches of 1000, acks 1, one connection, 5 in flight) in RUNS
-- rounds (default 21, COUNT default 1000000); each round runs every topic
-- once, in an order that rotates from round to round. It prints each run,
-- each topic's median, and, since the machine is shared and its speed
-- drifts, each topic's throughput as a share of plain's in the same round:
-- the median of those per-round ratios is the figure to quote. Then each
-- topic's broker CPU time a message (exact, from the threads' schedstat;
-- by clock ticks where there is none), and plain's as a share of it, round
-- by round: what the hook costs the broker, steadier than throughput on a
-- shared machine. Exits 1 when a run fails. `make bench` runs it after the
-- storage benchmark. FLYQ_INFLIGHT=N runs with --inflight N instead,
-- FLYQ_SIZE=BYTES with --size BYTES, FLYQ_BATCH=N with --batch N (messages
-- a request). FLYQ_PIN=B:C pins the broker (all its
-- threads) to CPU list B and each `flyq bench` client to C (taskset), e.g.
-- FLYQ_PIN=0:1: the two then never share a core, nor migrate between them.

local root = arg[0]:match("^(.*)/bench/[^/]*$") or "."
root = io.popen("realpath '" .. root:gsub("'", "") .. "'"):read("l")
package.path = root .. "/spec/?.lua;" .. root .. "/lua/?.lua;" .. package.path

local server = require("support.server")
local cjson = require("cjson")

local runs = tonumber(arg[1]) or 21
local inflight = os.getenv("FLYQ_INFLIGHT") -- nil: flyq bench's default
local size = os.getenv("FLYQ_SIZE") -- nil: flyq bench's default (100)
local batch = os.getenv("FLYQ_BATCH") -- nil: flyq bench's default (1000)
local pin = os.getenv("FLYQ_PIN") -- nil: let the scheduler place both
local pin_broker, pin_client
if pin then
  pin_broker, pin_client = pin:match("^([%d,-]+):([%d,-]+)$")
  if not pin_broker then
    io.stderr:write("FLYQ_PIN: expected BROKER_CPUS:CLIENT_CPUS, e.g. 0:1\n")
    os.exit(2)
  end
end
local count = tonumber(arg[2]) or 1000000
local topics = {table.unpack(arg, 3)}
if #topics == 0 then topics = {"plain", "hooked", "hooked_ctx", "keyed", "passed"} end

local srv = server.start({
  config = {
    plugin_path = {root .. "/spec/fixtures/plugins"},
    topics = {
      plain = {partitions = 1},
      hooked = {partitions = 1, on_produce = {"identity"}},
      hooked_ctx = {partitions = 1, on_produce = {"identity_ctx"}},
      keyed = {partitions = 1, on_produce = {"key_reader"}},
      passed = {partitions = 1, on_produce = {"identity"}, on_error = "pass"},
    },
  },
})

if pin_broker then
  assert(os.execute(string.format("taskset -a -p -c %s %d >/dev/null",
                                  pin_broker, srv.pid)))
end

-- Runs `flyq ARGS -b ADDR` (on the client's CPUs with `pinned`); exits
-- on a failure.
local function flyq_on(pinned, ...)
  local args = {...}
  args[#args + 1] = "-b"
  args[#args + 1] = srv.addr
  local prefix = pinned and pin_client and {"taskset", "-c", pin_client} or nil
  local code, out, err = server.run(args, {timeout = 300, prefix = prefix})
  if code ~= 0 then
    srv:close()
    io.stderr:write("flyq ", table.concat({...}, " "), " failed (", code,
                    "): ", err, "\n")
    os.exit(1)
  end
  return out
end

local function flyq(...) return flyq_on(false, ...) end

-- Each run starts from an empty topic: the gigabytes a dozen runs write
-- would otherwise fill the page cache, and every write() slows down when
-- the kernel starts throttling them, whatever the topic. The topic is
-- deleted between runs (outside the measurement) and recreated with the
-- config's hooks.
-- The broker's CPU time so far: user and system in clock ticks (fields 14
-- and 15 of /proc/PID/stat; 100 a second on Linux), and in all, exactly,
-- in ns (the first field of each of its threads' /proc/PID/task/*/schedstat,
-- summed; nil where the kernel keeps no schedstat).
local function broker_cpu()
  local f = assert(io.open("/proc/" .. srv.pid .. "/stat"))
  local stat = f:read("a")
  f:close()
  local fields = {}
  for w in stat:match("^.*%)%s+(.*)$"):gmatch("%S+") do fields[#fields + 1] = w end
  local ns = 0
  local tasks = io.popen("ls /proc/" .. srv.pid .. "/task")
  for tid in tasks:lines() do
    local t = io.open("/proc/" .. srv.pid .. "/task/" .. tid .. "/schedstat")
    local v = t and tonumber(t:read("a"):match("^(%d+)"))
    if t then t:close() end
    if v == nil then ns = nil break end
    ns = ns + v
  end
  tasks:close()
  return tonumber(fields[12]), tonumber(fields[13]), ns -- after pid and comm
end

-- Runs `flyq bench produce` on topic; returns its messages a second, the
-- broker's user and system ticks during the run and its CPU time in ns
-- (nil without schedstat).
local function run(topic)
  flyq("topic", "delete", topic)
  flyq("topic", "create", topic, "--partitions", "1")
  local args = {"bench", "produce", topic, "--count", tostring(count), "--json"}
  if inflight then
    args[#args + 1] = "--inflight"
    args[#args + 1] = inflight
  end
  if size then
    args[#args + 1] = "--size"
    args[#args + 1] = size
  end
  if batch then
    args[#args + 1] = "--batch"
    args[#args + 1] = batch
  end
  local u0, s0, n0 = broker_cpu()
  local rate = cjson.decode(flyq_on(true, table.unpack(args))).msgs_per_s
  local u1, s1, n1 = broker_cpu()
  return rate, u1 - u0, s1 - s0, n0 and n1 and n1 - n0
end

local function median(v)
  local s = {table.unpack(v)}
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

local results, cpu = {}, {}
for _, t in ipairs(topics) do
  results[t] = {}
  cpu[t] = {user = 0, sys = 0, ns = {}}
end
print(string.format("== plugins over TCP: %s, %s CPUs, %d rounds of %d "
                    .. "messages of %s bytes, %s a request, %s in flight%s",
                    os.date("!%Y-%m-%d %H:%M UTC"),
                    io.popen("nproc"):read("l"), runs, count, size or "100",
                    batch or "1000", inflight or "flyq bench's default",
                    pin and (", broker on CPUs " .. pin_broker ..
                             ", client on " .. pin_client) or ""))
for i = 1, runs do
  for k = 0, #topics - 1 do
    local t = topics[(i + k - 1) % #topics + 1]
    local r, user, sys, ns = run(t)
    results[t][i] = r
    cpu[t].user, cpu[t].sys = cpu[t].user + user, cpu[t].sys + sys
    cpu[t].ns[i] = ns
    print(string.format("round %d  %-7s %6.2f M msgs/s", i, t, r / 1e6))
  end
end
srv:stop()
srv:close()

for _, t in ipairs(topics) do
  local line = string.format("median  %-7s %6.2f M msgs/s", t,
                             median(results[t]) / 1e6)
  if results.plain and t ~= "plain" then
    local ratios = {}
    for i = 1, runs do ratios[i] = results[t][i] / results.plain[i] end
    table.sort(ratios)
    line = line .. string.format("  %.0f%% of plain (median of the rounds' "
                                 .. "ratios; range %.0f-%.0f%%)",
                                 100 * median(ratios), 100 * ratios[1],
                                 100 * ratios[#ratios])
  end
  print(line)
end

-- The broker's CPU time a message. Less sensitive to a shared machine
-- than throughput: it leaves out the time the broker waited, and while the
-- broker is the bottleneck (one core busy) plain's share of a topic's CPU
-- time is what throughput's ratio would be on a quiet machine. Exact where
-- the kernel keeps schedstat: the median of the rounds, and of the rounds'
-- ratios to plain. The user/system split is by clock ticks (10 ms), over
-- all the rounds: a single run is too short to split alone.
local ticks_ns = 1e9 / 100
for _, t in ipairs(topics) do
  local c, n = cpu[t], runs * count
  local line
  if #c.ns == runs then
    local per = {}
    for i = 1, runs do per[i] = c.ns[i] / count end
    line = string.format("cpu     %-7s %6.1f ns a message in the broker "
                         .. "(median of the rounds; %.0f%% user by ticks)",
                         t, median(per),
                         100 * c.user / math.max(1, c.user + c.sys))
    if cpu.plain and t ~= "plain" and #cpu.plain.ns == runs then
      local ratios = {}
      for i = 1, runs do ratios[i] = cpu.plain.ns[i] / c.ns[i] end
      table.sort(ratios)
      line = line .. string.format("  plain/%s %.0f%% (median of the "
                                   .. "rounds' ratios; range %.0f-%.0f%%)",
                                   t, 100 * median(ratios), 100 * ratios[1],
                                   100 * ratios[#ratios])
    end
  else
    local total = (c.user + c.sys) * ticks_ns / n
    line = string.format("cpu     %-7s %6.1f ns a message in the broker "
                         .. "(by ticks: user %.1f, system %.1f)", t, total,
                         c.user * ticks_ns / n, c.sys * ticks_ns / n)
    if cpu.plain and t ~= "plain" and total > 0 then
      local plain = (cpu.plain.user + cpu.plain.sys) * ticks_ns / n
      line = line .. string.format("  plain/%s %.0f%%", t, 100 * plain / total)
    end
  end
  print(line)
end
