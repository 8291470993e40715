-- The `flyq` client commands (produce, consume, topic, group, bench) against
-- a real broker started with spec/support/server.lua. Commands run through
-- server.run (exit code, stdout, stderr) with FLYQ_BROKER pointing at the
-- broker; -f runs in the background through spawn() below.
local server = require("support.server")
local cjson = require("cjson")
local system = require("system")

local srv

local q, read_file = server.q, server.read_file

-- Runs `flyq args...` against srv; stdin is a string or a list of lines.
local function flyq(args, stdin, env)
  if type(stdin) == "table" then
    stdin = #stdin > 0 and table.concat(stdin, "\n") .. "\n" or ""
  end
  env = env or {}
  env.FLYQ_BROKER = env.FLYQ_BROKER or srv.addr
  return server.run(args, {stdin = stdin, env = env, timeout = 60})
end

-- Runs a command that must succeed and returns its stdout.
local function ok(args, stdin)
  local code, out, err = flyq(args, stdin)
  assert.are.equal("", err)
  assert.are.equal(0, code)
  return out
end

local function produce(topic, lines, ...)
  ok({"produce", topic, ...}, lines)
end

local function now_ms()
  return math.floor(system.gettime() * 1000)
end

-- Starts `flyq args...` in the background. The handle's dir holds out, err,
-- pid (flyq's own) and, once it exited, rc.
local function spawn(args)
  local dir = server.tmpdir()
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  os.execute(string.format(
    "cd %s && (FLYQ_BROKER=%s sh -c 'echo $$ >pid; exec \"$0\" \"$@\"' %s %s" ..
    " >out 2>err </dev/null; echo $? >rc.tmp; mv rc.tmp rc) &",
    q(dir), q(srv.addr), q(server.bin()), table.concat(parts, " ")))
  local h = {dir = dir}
  function h.out() return read_file(dir .. "/out") or "" end
  function h.wait()
    local rc = server.wait_for(function() return read_file(dir .. "/rc") end,
                               30, "the background flyq to exit")
    return tonumber(rc)
  end
  function h.signal(sig)
    local pid = server.wait_for(function()
      local p = read_file(dir .. "/pid")
      return p and p:match("%d+")
    end, 10, "the background flyq's pid")
    os.execute("kill -" .. sig .. " " .. pid)
  end
  function h.close()
    if not read_file(dir .. "/rc") then h.signal("KILL") h.wait() end
    server.rmdir(dir)
  end
  return h
end

local function lines_of(s)
  local t = {}
  for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
  return t
end

before_each(function()
  srv = server.start({config = {}})
end)

after_each(function()
  srv:finish()
end)

describe("flyq produce and consume", function()
  it("round-trips values, empty lines and a long line", function()
    local long = string.rep("x", 300000)
    local input = {"first", "", "third line with spaces", long, "last"}
    produce("rt", input)
    assert.are.equal(table.concat(input, "\n") .. "\n", ok({"consume", "rt"}))
  end)

  it("keeps the last line without a newline and leaves stdin empty alone", function()
    ok({"produce", "nonl"}, "a\nb")
    ok({"produce", "nonl"}, "")
    assert.are.equal("a\nb\n", ok({"consume", "nonl"}))
  end)

  it("sends what it has while stdin is slow", function()
    local dir = server.tmpdir()
    -- stdin gives one line, then stays open until the file "done" exists
    os.execute(string.format(
      "cd %s && ((echo one; while [ ! -e done ]; do sleep 0.02; done) | " ..
      "FLYQ_BROKER=%s %s produce slow; echo $? >rc.tmp; mv rc.tmp rc) " ..
      ">/dev/null 2>&1 &", q(dir), q(srv.addr), q(server.bin())))
    server.wait_for(function()
      local code, out = flyq({"consume", "slow"})
      return code == 0 and out == "one\n"
    end, 20, "the first line to arrive while stdin is open")
    assert.is_nil(read_file(dir .. "/rc"))
    io.open(dir .. "/done", "w"):close()
    server.wait_for(function() return read_file(dir .. "/rc") end, 20, "exit")
    assert.are.equal("0\n", read_file(dir .. "/rc"))
    server.rmdir(dir)
  end)

  it("splits keys with --key-sep and sets one key with -k", function()
    produce("keys", {"k1:v1", "k2:v2:more", "nosep"}, "--key-sep", ":", "-p", "0")
    produce("keys", {"plain"}, "-k", "fixed", "-p", "0")
    assert.are.equal("k1=v1\nk2=v2:more\n=nosep\nfixed=plain\n",
                     ok({"consume", "keys", "--format", "%k=%v\\n"}))
  end)

  it("adds -H headers to every message", function()
    produce("hdr", {"v1", "v2"}, "-H", "a=1", "-H", "b=x=y", "-H", "empty=")
    assert.are.equal("a=1,b=x=y,empty=|v1\na=1,b=x=y,empty=|v2\n",
                     ok({"consume", "hdr", "--format", "%h|%v\\n"}))
  end)

  it("prints every --format field", function()
    local before = now_ms()
    produce("fmt", {"k\tv"}, "--key-sep", "\t")
    local after = now_ms()
    local out = ok({"consume", "fmt", "--format", "%t|%p|%o|%k|%v|%T|%%|\\t|\\\\\\n"})
    local t, p, o, k, v, ts, rest = out:match(
      "^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$")
    assert.are.same({"fmt", "0", "0", "k", "v"}, {t, p, o, k, v})
    assert.is_true(tonumber(ts) >= before and tonumber(ts) <= after)
    assert.are.equal("%|\t|\\\n", rest)
  end)

  it("prints exact --json lines, escaping what JSON needs", function()
    local value = 'q"b\\s\tc\1 \xc3\xa9 end'
    produce("js", {"key1|" .. value}, "--key-sep", "|", "-H", "h=1")
    produce("js", {"novalue-key"}, "-k", "k2")
    local out = ok({"consume", "js", "--json"})
    local got = lines_of(out)
    assert.are.equal(2, #got)
    local first = cjson.decode(got[1])
    assert.are.equal(string.format(
      '{"topic":"js","partition":0,"offset":0,"timestamp":%d,"key":"key1",' ..
      '"value":"q\\"b\\\\s\\tc\\u0001 \xc3\xa9 end",' ..
      '"headers":{"h":"1"}}', first.timestamp), got[1])
    local second = cjson.decode(got[2])
    assert.are.same({"js", 0, 1, "k2", "novalue-key"},
      {second.topic, second.partition, second.offset, second.key, second.value})
    assert.are.same({}, second.headers)
  end)

  it("prints bytes that are not UTF-8 as base64, which plugin test reads back",
     function()
    local c = assert(require("flyq.client").connect(srv.addr))
    local key, value = "k\xff", "\0\xfe\xc3(bin\0"
    assert(c:produce("bin", {{key = key, value = value,
                              headers = {{"t", "text"}, {"b", "\x80\0"}}}}))
    c:close()
    local line = ok({"consume", "bin", "--json"})
    local rec = cjson.decode(line)
    assert.is_nil(rec.key)
    assert.is_nil(rec.value)
    assert.are.same({"a/8=", "AP7DKGJpbgA=", {t = "text"}, {b = "gAA="}},
                    {rec.key_b64, rec.value_b64, rec.headers, rec.headers_b64})
    -- `flyq plugin test` turns the base64 back into the same bytes: the
    -- identity plugin keeps the record, which prints as it came.
    local dir = server.tmpdir()
    local input = dir .. "/in.jsonl"
    local f = assert(io.open(input, "wb"))
    f:write(line)
    f:close()
    local plugin = (os.getenv("FLYQ_SOURCE_DIR") or ".") ..
                   "/spec/fixtures/plugins/identity.lua"
    local out = ok({"plugin", "test", plugin, "--input", input})
    local kept = assert(out:match("^1 kept (%b{})\n"), out)
    local back = cjson.decode(kept)
    assert.are.same({rec.key_b64, rec.value_b64, rec.headers, rec.headers_b64},
                    {back.key_b64, back.value_b64, back.headers, back.headers_b64})
  end)

  it("rejects plugin test input with a field both as text and as base64, " ..
     "or with bad base64", function()
    local plugin = (os.getenv("FLYQ_SOURCE_DIR") or ".") ..
                   "/spec/fixtures/plugins/identity.lua"
    local cases = {
      {'{"value": "v", "value_b64": "dg=="}', 'both "value" and "value_b64"'},
      {'{"value_b64": "%%%"}', '"value_b64" must be a base64 string'},
      {'{"headers": {"h": "x"}, "headers_b64": {"h": "dg=="}}',
       'a header in both "headers" and "headers_b64"'},
    }
    for _, case in ipairs(cases) do
      local input = server.tmpdir() .. "/in.jsonl"
      local f = assert(io.open(input, "wb"))
      f:write(case[1], "\n")
      f:close()
      local code, out, err = flyq({"plugin", "test", plugin, "--input", input})
      assert.are_not.equal(0, code, out)
      assert.matches(case[2], out .. err, 1, true)
    end
  end)

  it("stops after -n messages", function()
    produce("cnt", {"a", "b", "c", "d"})
    assert.are.equal("a\nb\n", ok({"consume", "cnt", "-n", "2"}))
  end)

  it("starts --from latest, an offset, or a time", function()
    produce("from", {"a", "b", "c"})
    assert.are.equal("", ok({"consume", "from", "--from", "latest"}))
    assert.are.equal("b\nc\n", ok({"consume", "from", "--from", "1"}))
    local last = tonumber(ok({"consume", "from", "--from", "2", "--format", "%T"}))
    server.wait_for(function() return now_ms() > last end, 5, "the next ms")
    produce("from", {"d", "e"})
    assert.are.equal("d\ne\n",
                     ok({"consume", "from", "--from", "@" .. (last + 1)}))
    assert.are.equal("", ok({"consume", "from", "--from", "@" .. (now_ms() + 60000)}))
    assert.are.equal("a\nb\nc\nd\ne\n", ok({"consume", "from", "--from", "@0"}))
  end)

  it("reads every partition of a topic and only -p N with -p", function()
    ok({"topic", "create", "multi", "--partitions", "3"})
    local input = {}
    for i = 1, 60 do input[i] = "key" .. i .. "=value" .. i end
    produce("multi", input, "--key-sep", "=")
    local all = lines_of(ok({"consume", "multi", "--format", "%p %k=%v\\n"}))
    assert.are.equal(60, #all)
    local seen, per = {}, {}
    for _, l in ipairs(all) do
      local p, kv = l:match("^(%d) (.*)$")
      seen[kv] = true
      per[p] = (per[p] or 0) + 1
    end
    for _, l in ipairs(input) do assert.is_true(seen[l], l) end
    assert.are.equal(60, (per["0"] or 0) + (per["1"] or 0) + (per["2"] or 0))
    local one = lines_of(ok({"consume", "multi", "-p", "1", "--format", "%p\\n"}))
    assert.are.equal(per["1"], #one)
    for _, p in ipairs(one) do assert.are.equal("1", p) end
  end)

  it("follows with -f until -n is reached", function()
    produce("follow", {"a", "b"})
    local h = spawn({"consume", "follow", "-f", "-n", "3"})
    server.wait_for(function() return h.out() == "a\nb\n" end, 20,
                    "the first two messages")
    produce("follow", {"c"})
    assert.are.equal(0, h.wait())
    assert.are.equal("a\nb\nc\n", h.out())
    h.close()
  end)

  it("follows until SIGTERM and commits what it printed", function()
    produce("sig", {"a", "b"})
    local h = spawn({"consume", "sig", "-f", "-g", "g1"})
    server.wait_for(function() return h.out() == "a\nb\n" end, 20,
                    "the messages")
    h.signal("TERM")
    assert.are.equal(0, h.wait())
    h.close()
    produce("sig", {"c"})
    assert.are.equal("c\n", ok({"consume", "sig", "-g", "g1"}))
  end)

  it("commits with -g and a second consumer resumes there", function()
    produce("grp", {"a", "b", "c", "d", "e"})
    assert.are.equal("a\nb\n", ok({"consume", "grp", "-g", "g", "-n", "2"}))
    assert.are.equal("c\nd\n", ok({"consume", "grp", "-g", "g", "-n", "2"}))
    assert.are.equal("e\n", ok({"consume", "grp", "-g", "g"}))
    assert.are.equal("", ok({"consume", "grp", "-g", "g"}))
    -- a group without a commit starts at --from
    assert.are.equal("d\ne\n", ok({"consume", "grp", "-g", "new", "--from", "3"}))
    assert.are.equal("", ok({"consume", "grp", "-g", "new"}))
  end)

  it("fails clearly on an unknown topic", function()
    local code, out, err = flyq({"consume", "nosuchtopic"})
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("flyq consume: topic 'nosuchtopic': unknown topic", err, 1, true)
  end)

  it("fails on a partition the topic does not have", function()
    produce("onep", {"a"})
    local code, _, err = flyq({"consume", "onep", "-p", "7"})
    assert.are.equal(1, code)
    assert.matches("has no partition 7", err, 1, true)
  end)

  it("reports a broker error with its name and message", function()
    local code, _, err = flyq({"produce", "bad/topic"}, {"x"})
    assert.are.equal(1, code)
    assert.matches("^flyq produce: producing 1 message to bad/topic%[%-?%d+%]: " ..
                   "INVALID_TOPIC: ", err)
  end)
end)

describe("flyq topic", function()
  it("creates, lists, describes and deletes topics", function()
    ok({"topic", "create", "tt", "--partitions", "2",
        "--config", "retention.ms=123456", "--config", "segment.bytes=1048576"})
    ok({"topic", "create", "aa"})
    produce("tt", {"x", "y", "z"}, "-p", "1")
    assert.are.same({"aa", "tt"}, lines_of(ok({"topic", "list"})))
    local d = ok({"topic", "describe", "tt"})
    assert.matches("topic tt: 2 partitions", d, 1, true)
    assert.matches("PARTITION%s+LOG_START%s+HIGH_WATERMARK%s+FLUSHED%s+" ..
                   "SEGMENTS%s+BYTES%s+LAST_APPEND", d)
    assert.matches("\n%s+0%s+0%s+0%s+%d+%s+%d+%s+%d+%s+%-\n", d)
    assert.matches("\n%s+1%s+0%s+3%s+%d+%s+1%s+%d+%s+%d%d%d%d%-%d%d%-%d%dT", d)
    assert.matches("retention.ms = 123456", d, 1, true)
    assert.matches("segment.bytes = 1048576", d, 1, true)
    -- Settings are named as in the config file; Kafka's flush.ms is taken.
    assert.matches("\n  flush.interval_ms = -1\n", d, 1, true)
    ok({"topic", "create", "f1", "--config", "flush.interval_ms=250"})
    ok({"topic", "create", "f2", "--config", "flush.ms=500"})
    assert.matches("\n  flush.interval_ms = 250\n",
                   ok({"topic", "describe", "f1"}), 1, true)
    assert.matches("\n  flush.interval_ms = 500\n",
                   ok({"topic", "describe", "f2"}), 1, true)
    ok({"topic", "delete", "f1"})
    ok({"topic", "delete", "f2"})
    -- Values are read as in the config file: sizes and durations with units.
    ok({"topic", "create", "u", "--config", "retention.ms=1h", "--config",
        "segment.bytes=256MiB", "--config", "flush.ms=2s", "--config",
        "retention.bytes=-1"})
    d = ok({"topic", "describe", "u"})
    assert.matches("\n  retention.ms = 3600000\n", d, 1, true)
    assert.matches("\n  segment.bytes = 268435456\n", d, 1, true)
    assert.matches("\n  flush.interval_ms = 2000\n", d, 1, true)
    assert.matches("\n  retention.bytes = -1\n", d, 1, true)
    ok({"topic", "delete", "u"})
    local code, out, err = flyq({"topic", "create", "u", "--config",
                                 "retention.ms=1y"})
    assert.are.equal(2, code, out)
    assert.matches('bad --config: retention.ms: expected duration '
                   .. '(milliseconds or a string like "7d"', err, 1, true)
    code, _, err = flyq({"topic", "create", "tt"})
    assert.are.equal(1, code)
    assert.matches("TOPIC_ALREADY_EXISTS", err, 1, true)
    ok({"topic", "delete", "tt"})
    assert.are.same({"aa"}, lines_of(ok({"topic", "list"})))
    code, _, err = flyq({"topic", "describe", "tt"})
    assert.are.equal(1, code)
    assert.matches("unknown topic", err, 1, true)
    code, _, err = flyq({"topic", "delete", "tt"})
    assert.are.equal(1, code)
    assert.matches("UNKNOWN_TOPIC_OR_PARTITION", err, 1, true)
  end)
end)

describe("flyq group", function()
  it("lists, describes and resets groups", function()
    ok({"topic", "create", "gt", "--partitions", "2"})
    produce("gt", {"a", "b", "c"}, "-p", "0")
    produce("gt", {"d"}, "-p", "1")
    assert.are.equal("a\nb\n", ok({"consume", "gt", "-p", "0", "-g", "g2", "-n", "2"}))
    ok({"consume", "gt", "-p", "1", "-g", "g1"})
    assert.are.same({"g1", "g2"}, lines_of(ok({"group", "list"})))
    local rows = lines_of(ok({"group", "describe", "g2"}))
    assert.matches("^TOPIC%s+PARTITION%s+COMMITTED%s+HIGH_WATERMARK%s+LAG$", rows[1])
    assert.matches("^gt%s+0%s+2%s+3%s+1$", rows[2])
    assert.are.equal(2, #rows)

    ok({"group", "reset", "g2", "gt", "--to", "earliest"})
    rows = lines_of(ok({"group", "describe", "g2"}))
    assert.matches("^gt%s+0%s+0%s+3%s+3$", rows[2])
    assert.matches("^gt%s+1%s+0%s+1%s+1$", rows[3])
    -- partitions are read in turn: all of 0 fits one fetch, then 1
    assert.are.equal("a\nb\nc\nd\n", ok({"consume", "gt", "-g", "g2"}))

    ok({"group", "reset", "g2", "gt", "--to", "1", "-p", "0"})
    assert.are.equal("b\nc\n", ok({"consume", "gt", "-g", "g2"}))
    ok({"group", "reset", "g2", "gt", "--to", "latest"})
    produce("gt", {"e"}, "-p", "0")
    assert.are.equal("e\n", ok({"consume", "gt", "-g", "g2"}))

    local code, _, err = flyq({"group", "reset", "g2", "gt", "--to", "99"})
    assert.are.equal(1, code)
    assert.matches("outside gt", err, 1, true)
    code, _, err = flyq({"group", "describe", "nobody"})
    assert.are.equal(1, code)
    assert.is_true(#err > 0)
  end)
end)

describe("flyq command line", function()
  local helps = {
    {{"produce"}, {"-k", "--key", "--key-sep", "-p", "--partition", "--acks",
                   "-H", "--header"}},
    {{"consume"}, {"-p", "--partition", "--from", "-g", "--group", "-n",
                   "--count", "-f", "--follow", "--format", "--json"}},
    {{"topic"}, {"create", "list", "describe", "delete", "--partitions",
                 "--config"}},
    {{"topic", "create"}, {"--partitions", "--config"}},
    {{"topic", "list"}, {}},
    {{"topic", "describe"}, {}},
    {{"topic", "delete"}, {}},
    {{"group"}, {"list", "describe", "reset", "--to", "-p", "--partition"}},
    {{"group", "list"}, {}},
    {{"group", "describe"}, {}},
    {{"group", "reset"}, {"--to", "-p", "--partition"}},
    {{"bench"}, {"produce", "consume", "--count", "--size", "--batch",
                 "--acks", "--connections", "--inflight", "--rate", "--json"}},
    {{"bench", "produce"}, {"--count", "--size", "--batch", "--acks",
                            "--connections", "--inflight", "--rate", "--json"}},
    {{"bench", "consume"}, {"--count", "--connections", "--json"}},
    {{"config"}, {"check", "plan", "apply", "-c", "--config"}},
    {{"config", "check"}, {"-c", "--config"}},
    {{"config", "plan"}, {"-c", "--config"}},
    {{"config", "apply"}, {"-c", "--config"}},
    {{"stats"}, {"--json"}},
  }

  it("names the broker flags in the usage line of a broker admin command",
     function()
    for _, cmd in ipairs({{"stats"}, {"config", "plan"}}) do
      local args = {table.unpack(cmd)}
      args[#args + 1] = "--help"
      local code, out = flyq(args)
      assert.are.equal(0, code)
      local usage = out:match("^(usage: [^\n]*)\n")
      assert.is_truthy(usage, out)
      assert.matches("[-b HOST:PORT] [--token TOKEN]", usage, 1, true)
    end
  end)

  it("documents every flag in --help", function()
    for _, h in ipairs(helps) do
      local args = {table.unpack(h[1])}
      args[#args + 1] = "--help"
      local code, out, err = flyq(args)
      local name = table.concat(h[1], " ")
      assert.are.equal(0, code, name)
      assert.are.equal("", err, name)
      assert.matches("usage: flyq " .. h[1][1], out, 1, true)
      for _, f in ipairs(h[2]) do assert.matches(f, out, 1, true) end
      for _, f in ipairs({"-b", "--broker", "--token", "-h", "--help"}) do
        assert.matches(f, out, 1, true)
      end
    end
    local code, out = flyq({"help"})
    assert.are.equal(0, code)
    for _, c in ipairs({"produce", "consume", "topic", "group", "bench"}) do
      assert.matches("\n  " .. c .. " ", out, 1, true)
    end
    code, out = flyq({"--version"})
    assert.are.equal(0, code)
    assert.matches("^flyq %d+%.%d+%.%d+\n$", out)
  end)

  it("exits 2 on unknown flags and commands", function()
    local cases = {
      {"produce", "t", "--bogus"}, {"consume", "t", "-Z"},
      {"topic", "list", "--nope"}, {"topic", "create", "x", "--partitions"},
      {"group", "reset", "g", "t"}, {"bench", "produce", "t", "--speed", "1"},
      {"bench", "consume", "t", "--size", "3"}, {"nosuchcommand"},
      {"topic", "frobnicate"}, {"consume", "t", "--json", "--format", "%v"},
      {"consume", "t", "--format", "%q"}, {"produce"},
    }
    for _, args in ipairs(cases) do
      local code, out, err = flyq(args, "")
      local name = table.concat(args, " ")
      assert.are.equal(2, code, name)
      assert.are.equal("", out, name)
      assert.matches("^flyq[^\n]*: [^\n]+\ntry 'flyq[^']*'\n$", err)
    end
  end)

  it("authenticates with --token or FLYQ_TOKEN", function()
    -- This broker has no auth plugin: it refuses the Authenticate that a
    -- token makes the CLI send, which shows that it was sent. With an auth
    -- plugin the call succeeds: spec/functional/cli_token_spec.lua.
    local refusal = "flyq topic list: authenticating to " .. srv.addr ..
      ": Authenticate: UNSUPPORTED_SASL_MECHANISM: no authentication is " ..
      "configured on this broker (connections are anonymous)\n"
    for _, run in ipairs({
      {{"topic", "list", "--token", "secret"}, {FLYQ_TOKEN = ""}},
      {{"topic", "list"}, {FLYQ_TOKEN = "secret"}},
    }) do
      local code, out, err = flyq(run[1], "", run[2])
      assert.are.equal(refusal, err)
      assert.are.equal("", out)
      assert.are.equal(1, code)
    end
    -- Without a token (an empty FLYQ_TOKEN is none) the same command works.
    local code, _, err = flyq({"topic", "list"}, "", {FLYQ_TOKEN = ""})
    assert.are.equal("", err)
    assert.are.equal(0, code)
  end)

  it("fails with an error on stderr when the broker is down", function()
    local addr = srv.addr
    assert.are.equal(0, srv:stop())
    local code, out, err = flyq({"produce", "down"}, {"a"}, {FLYQ_BROKER = addr})
    assert.are_not.equal(0, code)
    assert.are.equal("", out)
    assert.matches("^flyq produce: connecting to " .. addr:gsub("%p", "%%%0"), err)
    srv:restart()
  end)
end)

describe("flyq bench", function()
  it("prints JSON results for produce and consume", function()
    local out = ok({"bench", "produce", "bt", "--count", "20000", "--json"})
    local r = cjson.decode(out)
    assert.are.equal("produce", r.mode)
    assert.are.equal(20000, r.messages)
    assert.is_true(r.msgs_per_s > 0)
    assert.is_true(r.latency_p99_ms >= r.latency_p50_ms)
    assert.are.equal(0, r.errors)
    out = ok({"bench", "consume", "bt", "--count", "20000", "--connections",
              "2", "--json"})
    r = cjson.decode(out)
    assert.are.equal("consume", r.mode)
    assert.are.equal(20000, r.messages)
    assert.are.equal(2000000, r.bytes)
    assert.is_true(r.msgs_per_s > 0)
    assert.are.equal("19999\n", ok({"consume", "bt", "--from", "19999",
                                     "--format", "%o\\n"}))
  end)

  it("keeps --inflight requests in flight (default 5, as Kafka's)", function()
    local r = cjson.decode(ok({"bench", "produce", "fl", "--count", "3000",
                               "--batch", "100", "--json"}))
    assert.are.equal(5, r.inflight)
    r = cjson.decode(ok({"bench", "produce", "fl", "--count", "3000",
                         "--batch", "100", "--inflight", "1", "--json"}))
    assert.are.same({1, 3000, 30, 0},
                    {r.inflight, r.messages, r.latency_samples, r.errors})
    -- One at a time, the requests' latencies are disjoint spans of the run:
    -- the 15 at or above the median add up to no more than its length.
    -- (Pipelined, they overlap and their sum is many times the run.)
    assert.is_true(r.latency_p50_ms / 1000 * 15 <= r.elapsed_s,
                   string.format("p50 %.3f ms, elapsed %.4f s",
                                 r.latency_p50_ms, r.elapsed_s))
    for _, bad in ipairs({{"produce", "fl", "--inflight", "0"},
                          {"produce", "fl", "--inflight", "1025"},
                          {"consume", "fl", "--inflight", "2"}}) do
      local args = {"bench", table.unpack(bad)}
      local code, _, err = flyq(args)
      assert.are.equal(2, code, table.concat(args, " "))
      assert.matches("%-%-inflight", err)
    end
  end)

  it("paces with --rate and spreads over connections", function()
    local r = cjson.decode(ok({"bench", "produce", "paced", "--count", "2000",
      "--batch", "100", "--rate", "20000", "--connections", "2", "--json"}))
    assert.are.equal(2000, r.messages)
    assert.are.equal(20, r.latency_samples)
    assert.is_true(r.elapsed_s >= 0.09, "paced run too fast: " .. r.elapsed_s)
  end)
end)
