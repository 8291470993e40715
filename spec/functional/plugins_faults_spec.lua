-- Fault isolation: a plugin in an endless loop, one allocating without
-- bound, one erroring. The request fails with the plugin's name and line,
-- nothing of it is stored, the broker keeps serving another client on
-- another topic, and the error counts show in the log and in Stats.

local server = require("support.server")
local client = require("flyq.client")
local system = require("system")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"

describe("failing plugins", function()
  local srv, c, other

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      -- hog fills 2 MiB in ~15 ms of CPU time (~40 ms under the
      -- sanitizers): well within 200 ms, so the memory cap stops it, not
      -- the time limit (with the default 10 ms the time limit would).
      plugins = {limits = {memory = "2MiB", time_ms = 200}},
      topics = {spin = {on_produce = {"spin"}}, hog = {on_produce = {"hog"}},
                fail = {on_produce = {"failing"}},
                failpass = {on_produce = {"failing"}, on_error = "pass"}},
    }})
    c = assert(client.connect(srv.addr))
    other = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    other:close()
    srv:finish()
  end)

  local cases = {
    {"spin", "spin", "spin.lua:7: time limit exceeded"},
    {"hog", "hog", "hog.lua:7: memory limit exceeded (2 MiB) (on_produce)"},
    {"fail", "bad", "failing.lua:5: bad record"},
  }

  for _, case in ipairs(cases) do
    local topic, value, message = case[1], case[2], case[3]
    it("isolates " .. topic, function()
      for round = 1, 4 do
        local base, err, code = c:produce(topic, {"ok", value})
        assert.is_nil(base)
        assert.are.equal("PLUGIN_ERROR", code)
        assert.matches(message, err, 1, true)
        assert.matches("plugin " .. (topic == "fail" and "failing" or topic),
                       err, 1, true)
        -- Meanwhile another client is served.
        assert.are.equal(round - 1, assert(other:produce("elsewhere", {"x"})))
      end
      assert.are.equal(0, assert(c:fetch(topic, 0, 0)).high_watermark)
      assert(c:produce(topic, {"fine"}))
      assert.are.equal(1, assert(c:fetch(topic, 0, 0)).high_watermark)
      -- The log has the 1st, 2nd, 4th, 8th... failure with the count.
      assert.matches("%[4 errors so far%]", srv:log_text())
      local stats = assert(c:stats())
      for _, p in ipairs(stats.plugins) do
        if p.name == (topic == "fail" and "failing" or topic) then
          assert.are.equal(4, p.errors)
          assert.is_string(p.last_error)
        end
      end
    end)
  end

  -- Stats' calls are the records a hook was called on, each once: not
  -- the ones after a rejected record, and not a record twice when the
  -- loop goes on after a failure.
  it("counts one call per record the hook ran on", function()
    assert.is_nil(c:produce("fail", {"ok", "bad", "ok"}))
    assert.are.equal(0, assert(c:produce("failpass",
                                         {"bad", "bad", "bad", "bad", "bad"})))
    assert.are.equal(5, assert(c:produce("failpass", {"ok", "bad", "ok"})))
    local calls, errors = 0, 0
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.name == "failing" then
        calls, errors = calls + p.calls, errors + p.errors
      end
    end
    assert.are.equal(1 + 5 + 1, errors)
    assert.are.equal(2 + 5 + 3, calls)
  end)

  it("shows the error counts with flyq stats", function()
    for _ = 1, 3 do assert.is_nil(c:produce("fail", {"bad"})) end
    assert(c:produce("fail", {"ok"}))
    local code, out, err = server.run({"stats", "-b", srv.addr})
    assert.are.equal(0, code, err)
    local line = out:match("\nplugin failing %(([^\n]*)")
    assert.is_truthy(line, out)
    assert.matches("failing.lua%) as topics.fail.on_produce%[1%], " ..
                   "topics.failpass.on_produce%[1%]: batches 4, calls 4, " ..
                   "errors 3$", line)
    assert.matches("\n  last error: plugin failing: [^\n]*failing.lua:5: bad record",
                   out)
    assert.matches("^broker: produce_requests %d+ produced_records", out)
    code, out, err = server.run({"stats", "--json", "-b", srv.addr})
    assert.are.equal(0, code, err)
    local json = require("cjson").decode(out)
    local failing
    for _, p in ipairs(json.plugins) do
      if p.name == "failing" then failing = p end
    end
    assert.are.equal(3, failing.errors)
  end)
end)

-- The limit breaker: with on_error = pass or dead_letter, a request whose
-- records keep running into the time limit stops running the hook after
-- three of them (each of the rest fails "not run" and on_error applies),
-- so it holds the broker for about three limits, not one per record.
describe("a request of looping records under on_error pass", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      plugins = {limits = {time_ms = 20}},
      topics = {
        lenient = {on_produce = {"spin"}, on_error = "pass"},
        dlq = {on_produce = {"spin"}, on_error = "dead_letter"},
      },
    }})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  local N = 100 -- 100 x 20 ms = 2 s of CPU time without the breaker

  -- The stats of the instance of spin on topic lenient.
  local function spin_stats()
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.name == "spin" and p.errors > 0 and p.batches > 0 then return p end
    end
    error("no stats for plugin spin with errors")
  end

  local function spins()
    local values = {}
    for i = 1, N do values[i] = "spin" end
    values[N + 1] = "fine"
    return values
  end

  it("stores them all unchanged within a few limits", function()
    local t0 = system.monotime()
    assert.are.equal(0, assert(c:produce("lenient", spins())))
    assert.is_true(system.monotime() - t0 < 1.0)
    local got = assert(c:fetch("lenient", 0, 0))
    assert.are.equal(N + 1, got.high_watermark)
    local spin = spin_stats()
    assert.are.equal(N + 1, spin.errors)
    assert.are.equal(3, spin.calls) -- the hook ran on the first 3 only
    assert.matches("not run: on_produce hit a plugin limit 3 times in this "
                   .. "request (on_produce, record " .. (N + 1) .. ")",
                   spin.last_error, 1, true)
    -- The next request runs the hook again.
    assert.are.equal(N + 1, assert(c:produce("lenient", {"spin"})))
    spin = spin_stats()
    assert.are.equal(N + 2, spin.errors)
    assert.are.equal(4, spin.calls)
    assert.matches("spin.lua:7: time limit exceeded", spin.last_error, 1, true)
  end)

  it("sends them all to the dead letters, the unrun ones saying so", function()
    local t0 = system.monotime()
    assert(c:produce("dlq", spins()))
    assert.is_true(system.monotime() - t0 < 1.0)
    local got = assert(c:fetch("dlq.dlq", 0, 0))
    assert.are.equal(N + 1, got.high_watermark)
    local recs = got.records
    assert.matches("spin.lua:7: time limit exceeded",
                   server.header(recs[1], "flyq.error"), 1, true)
    assert.matches("not run: on_produce hit a plugin limit 3 times",
                   server.header(recs[#recs], "flyq.error"), 1, true)
    assert.are.equal("fine", recs[#recs].value)
  end)
end)

-- A hook that chooses a partition its record's topic does not have fails
-- that record, under on_error like any other failure, instead of failing
-- the whole request at the append with UNKNOWN_TOPIC_OR_PARTITION.
describe("a hook that chooses a partition that does not exist", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {
        strict = {partitions = 2, on_produce = {"repartition"}},
        lenient = {partitions = 2, on_produce = {"repartition"},
                   on_error = "pass"},
        lettered = {partitions = 2, on_produce = {"repartition"},
                    on_error = "dead_letter"},
        other = {partitions = 3},
      },
    }})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  -- The values of topic's partition p, in offset order.
  local function values(topic, p)
    local out = {}
    for i, r in ipairs(assert(c:fetch(topic, p, 0)).records) do out[i] = r.value end
    return out
  end

  it("fails the request under reject, naming the plugin and the partition", function()
    for _, bad in ipairs({"p2", "new7", "route:other:3"}) do
      local base, err, code = c:produce("strict", {"p1", bad}, {partition = 0})
      assert.is_nil(base)
      assert.are.equal("PLUGIN_ERROR", code)
      assert.matches("plugin repartition", err, 1, true)
      local topic, n = bad:match("route:(%w+)") or "strict", bad:match("route") and 2 or 1
      assert.matches('record.partition: no partition ' .. bad:match("(%d+)$") ..
                     ' in topic "' .. topic .. '" (partitions 0 to ' .. n .. ')',
                     err, 1, true)
    end
    assert.are.same({}, values("strict", 0))
    assert.are.same({}, values("strict", 1))
    -- Partitions that exist are kept, routed or not.
    assert(c:produce("strict", {"p1", "route:other:2"}, {partition = 0}))
    assert.are.same({"p1"}, values("strict", 1))
    assert.are.same({"route:other:2"}, values("other", 2))
  end)

  it("stores the record as it came under pass, and counts the error", function()
    assert(c:produce("lenient", {"a", "p5", "b"}, {partition = 0}))
    assert.are.same({"a", "p5", "b"}, values("lenient", 0))
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.name == "repartition" and p.errors > 0 then
        assert.are.equal(1, p.errors)
        assert.matches("no partition 5", p.last_error, 1, true)
        return
      end
    end
    error("no errors counted for repartition")
  end)

  it("sends the record to the dead letters under dead_letter", function()
    assert(c:produce("lettered", {"a", "route:other:9"}, {partition = 1}))
    assert.are.same({"a"}, values("lettered", 1))
    local dead = assert(c:fetch("lettered.dlq", 0, 0)).records
    assert.are.equal(1, #dead)
    assert.are.equal("route:other:9", dead[1].value)
    assert.matches('no partition 9 in topic "other"',
                   server.header(dead[1], "flyq.error"), 1, true)
  end)
end)

-- Plugin text (its name, counter names, error messages, which may quote a
-- client's bytes) reaches `flyq stats` as JSON and then a terminal: an
-- instance never drops out of Stats because of it, and it never prints
-- as a line of its own or as a terminal escape.
describe("plugin text in stats and the CLI", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {long = {on_produce = {"long_error"}},
                quote = {on_produce = {"quote_value"}}},
    }})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  local function run(args, stdin)
    return server.run(args, {stdin = stdin, env = {FLYQ_BROKER = srv.addr}})
  end

  -- The instance of plugin name in the broker's Stats JSON, or nil.
  local function stats_of(name)
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.name == name then return p end
    end
  end

  local function lines_of(s)
    local t = {}
    for l in s:gmatch("[^\n]*") do t[#t + 1] = l end
    return t
  end

  it("keeps an instance whose error was cut inside a UTF-8 character", function()
    local _, err, code = c:produce("long", {"x"})
    assert.are.equal("PLUGIN_ERROR", code, err)
    local p = stats_of("long_error")
    assert.is_table(p, "long_error is missing from Stats")
    assert.are.equal(1, p.errors)
    assert.is_truthy(utf8.len(p.last_error), p.last_error)
    -- Cut to fit 512 bytes, between two characters.
    assert.matches("^plugin long_error: bad value: [é]+$", p.last_error)
    assert.is_true(#p.last_error < 512)
    local code2, out, err2 = run({"stats"})
    assert.are.equal(0, code2, err2)
    assert.matches("\nplugin long_error %([^\n]*%) as topics.long.on_produce%[1%]: " ..
                   "batches 1, calls 1, errors 1\n" ..
                   "  last error: plugin long_error: bad value: [é]+\n", out)
    code2, out, err2 = run({"stats", "--json"})
    assert.are.equal(0, code2, err2)
    assert.matches('"name":"long_error"', out, 1, true)
  end)

  it("shows bytes of an error that are not UTF-8 as U+FFFD", function()
    local _, err = c:produce("quote", {"\xff\xfeok\xc3"})
    -- the client gets it as UTF-8 text too
    assert.matches("bad value: \u{FFFD}\u{FFFD}ok\u{FFFD} (on_produce", err, 1, true)
    local p = stats_of("quote_value")
    assert.is_table(p, "quote_value is missing from Stats")
    assert.matches("bad value: \u{FFFD}\u{FFFD}ok\u{FFFD} (on_produce",
                   p.last_error, 1, true)
  end)

  it("escapes control characters of an error in flyq stats", function()
    local forged = "x\nbroker: produce_requests 999\r\27[31mred"
    assert.is_nil(c:produce("quote", {forged}))
    assert.are.equal(forged, stats_of("quote_value").last_error:match(
                       "bad value: (.*) %(on_produce, record 1%)$"),
                     "the JSON keeps the text as it is")
    local code, out, err = run({"stats"})
    assert.are.equal(0, code, err)
    assert.matches("  last error: plugin quote_value: bad value: " ..
                   "x\\nbroker: produce_requests 999\\r\\x1b[31mred " ..
                   "(on_produce, record 1)\n",
                   out, 1, true)
    for _, l in ipairs(lines_of(out)) do
      assert.is_nil(l:match("^broker: produce_requests 999"), out)
    end
    assert.is_nil(out:find("[\27\r]"), out)
  end)

  it("escapes control characters of a broker error in flyq produce", function()
    local code, out, err = run({"produce", "quote"}, "a\rbroker: 1\27[2J\n")
    assert.are.equal(1, code, out)
    assert.matches("PLUGIN_ERROR: plugin quote_value: bad value: " ..
                   "a\\rbroker: 1\\x1b[2J", err, 1, true)
    assert.is_nil(err:find("[\27\r]"), err)
  end)

  it("escapes control characters of an error in flyq plugin test", function()
    local code, out = run({"plugin", "test", PLUGINS .. "/quote_value.lua"},
                          '{"value": "a\\nsummary: forged\\u001b[2J"}\n')
    assert.are.equal(1, code, out) -- a record failed
    assert.matches("1 error plugin quote_value: bad value: " ..
                   "a\\nsummary: forged\\x1b[2J (on_produce)\n", out, 1, true)
    for _, l in ipairs(lines_of(out)) do
      assert.is_nil(l:match("^summary: forged"), out)
    end
  end)

  it("rejects a plugin name that is not letters, digits, _ and -", function()
    local code, out, err = run({"plugin", "test", PLUGINS .. "/forged_name.lua"},
                               '{"value": "v"}\n')
    assert.are.equal(1, code, out)
    assert.matches('name: expected 1 to 128 letters, digits, "_" and "-", got ' ..
                   '"forged\\nbroker: produce_requests 999"', err, 1, true)
    assert.are.equal("", out)
  end)

  it("rejects a counter name that is not letters, digits, _ - . and :", function()
    local input = '{"value": "ok.count:1"}\n{"value": "x\\ncounter forged = 1"}\n'
    local code, out = run({"plugin", "test", PLUGINS .. "/counter_by_value.lua"},
                          input)
    assert.are.equal(1, code, out) -- a record failed
    assert.matches("\n2 error plugin counter_by_value: [^\n]*bad argument #1 " ..
                   "to 'counter' %(expected 1 to 128 letters, digits, \"_\", " ..
                   "\"%-\", \"%.\" or \":\"%)", out)
    assert.matches("\ncounter ok.count:1 = 1\n", out, 1, true)
    assert.is_nil(out:find("counter forged", 1, true), out)
  end)
end)

-- Two instances of one plugin (other params, other uses) must be told
-- apart in `flyq stats`: each says where the config uses it (its key
-- paths) or that it is a consumer filter, and its params when they cannot
-- hold a secret (a consumer filter's own --param text whose schema marks
-- none secret), and a random id.
describe("plugin instances in flyq stats", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {
        t = {on_consume = {{plugin = "contains", params = {text = "p"}}}},
        orders = {on_produce = {"failing", {plugin = "failing",
                                            params = {note = "hush-hush"}}}},
        pay = {on_produce = {"failing"}},
      },
    }})
    c = assert(client.connect(srv.addr))
    assert(c:produce("t", {"apple", "pear", "p-s3cr3t"}))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  local function run(...)
    return server.run({...}, {env = {FLYQ_BROKER = srv.addr}})
  end

  it("says where each instance is used, hiding params that may be secret",
     function()
    local code, out, err = run("consume", "t", "--filter", "contains",
                               "--param", "text=ap")
    assert.are.equal(0, code, err)
    assert.are.equal("apple\n", out)
    code, out, err = run("consume", "t", "--filter", "keyed_filter",
                         "--param", "key=p-s3cr3t")
    assert.are.equal(0, code, err)
    assert.are.equal("p-s3cr3t\n", out) -- the topic's "p" keeps it too
    code, out, err = run("stats")
    assert.are.equal(0, code, err)
    local function line(pattern)
      local l = out:match("\n(plugin " .. pattern .. ": batches [^\n]*)")
      assert.is_truthy(l, pattern .. " in:\n" .. out)
      return l
    end
    line("contains %([^)]*contains.lua%) as topics.t.on_consume%[1%] " ..
         "#%x%x%x%x%x%x%x%x")
    line('contains %([^)]*contains.lua%) as consumer filter {"text":"ap"}')
    line("keyed_filter %([^)]*%) as consumer filter #%x+")
    line("failing %([^)]*%) as topics.orders.on_produce%[1%], " ..
         "topics.pay.on_produce%[1%]")
    line("failing %([^)]*%) as topics.orders.on_produce%[2%] #%x+")
    assert.is_nil(out:find("hush-hush", 1, true))
    assert.is_nil(out:find("s3cr3t", 1, true))
    -- The same in the JSON.
    code, out, err = run("stats", "--json")
    assert.are.equal(0, code, err)
    assert.is_nil(out:find("hush-hush", 1, true))
    assert.is_nil(out:find("s3cr3t", 1, true))
    local cjson = require("cjson")
    local seen = {}
    for _, p in ipairs(cjson.decode(out).plugins) do
      assert.matches("^%x%x%x%x%x%x%x%x$", p.id)
      local params = p.params ~= cjson.null and cjson.encode(p.params) or "-"
      seen[#seen + 1] = p.name .. " " .. table.concat(p.used_as, ",") ..
                        " " .. params
    end
    table.sort(seen)
    assert.are.same({
      "contains consumer filter {\"text\":\"ap\"}",
      "contains topics.t.on_consume[1] -",
      "failing topics.orders.on_produce[1],topics.pay.on_produce[1] {}",
      "failing topics.orders.on_produce[2] -",
      "keyed_filter consumer filter -",
    }, seen)
  end)

  it("gives each instance a random id, never one its params could match", function()
    local function ids()
      local code, out, err = run("stats", "--json")
      assert.are.equal(0, code, err)
      local t = {}
      for _, p in ipairs(require("cjson").decode(out).plugins) do
        t[#t + 1] = p.id
      end
      table.sort(t)
      return table.concat(t, " ")
    end
    local before = ids()
    assert.are.equal(before, ids()) -- stable while the broker runs
    -- A consumer filter with the very params of topic t's hidden ones
    -- gets an id of its own: ids cannot confirm a guess at them.
    local code, _, err = run("consume", "t", "--filter", "contains",
                             "--param", "text=p")
    assert.are.equal(0, code, err)
    code, err = run("stats", "--json")
    local by_use = {}
    for _, p in ipairs(require("cjson").decode(err).plugins) do
      by_use[table.concat(p.used_as, ",")] = by_use[table.concat(p.used_as, ",")]
                                             or {}
      table.insert(by_use[table.concat(p.used_as, ",")], p.id)
    end
    assert.are_not.equal(by_use["topics.t.on_consume[1]"][1],
                         by_use["consumer filter"][1])
    srv:restart()
    assert.are_not.equal(before, ids())
  end)
end)

-- The stats name an instance's uses by the key paths the config's errors
-- use (the schema's), so that one can be found from the other.
describe("plugin uses in flyq stats", function()
  it("are written as the config's error messages write them", function()
    local srv = server.start({config = {
      plugin_path = {PLUGINS},
      topics = {["a-b"] = {on_produce = {"failing"}}, c = {on_produce = "failing"}},
    }})
    local code, out, err = server.run({"stats", "--json", "-b", srv.addr})
    assert.are.equal(0, code, err)
    local uses = {}
    for _, p in ipairs(require("cjson").decode(out).plugins) do
      for _, u in ipairs(p.used_as) do uses[#uses + 1] = u end
    end
    table.sort(uses)
    assert.are.same({"topics.c.on_produce", 'topics["a-b"].on_produce[1]'}, uses)
    srv:finish()
  end)
end)
