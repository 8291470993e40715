-- Details of the declarative config on a real broker (docs/config.md,
-- "Reloading", "Units" and "The sandbox"): the exact plan lines for a
-- segment change and for an on_produce change and what they do once
-- applied, a pruned topic's one line, sizes and durations written as
-- strings (and bad ones refused with their key path), and env() reading
-- the broker's environment.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"

local function lines(text)
  local t = {}
  for line in text:gmatch("[^\n]+") do t[#t + 1] = line end
  return t
end

-- list with more lines appended (a new table).
local function plus(list, ...)
  local t = table.move(list, 1, #list, 1, {})
  for _, line in ipairs({...}) do t[#t + 1] = line end
  return t
end

-- Runs `flyq ARGS...` against srv (chosen with FLYQ_BROKER).
local function flyq(srv, ...)
  return server.run({...}, {env = {FLYQ_BROKER = srv.addr}})
end

-- Writes config into srv's directory with the harness's listen and
-- data_dir (so that only what the spec sets differs) and returns its path.
local function config_file(srv, name, config)
  local copy = {listen = "127.0.0.1:0", data_dir = srv.data_dir}
  for k, v in pairs(config) do copy[k] = v end
  local path = srv.dir .. "/" .. name
  server.write_config(path, copy)
  return path
end

-- The "config:" section of `flyq topic describe TOPIC` as a map of strings.
local function described_config(srv, topic)
  local code, out, err = flyq(srv, "topic", "describe", topic)
  assert.are.equal(0, code, err)
  local cfg = {}
  for key, value in out:match("\nconfig:\n(.*)$"):gmatch("  (%S+) = (%S+)\n") do
    cfg[key] = value
  end
  return cfg
end

local function partitions(srv, topic)
  local code, out, err = flyq(srv, "topic", "describe", topic)
  assert.are.equal(0, code, err)
  return tonumber(out:match("^topic [^:]+: (%d+) partition"))
end

local function stop(srv)
  srv:finish()
end

describe("config plan", function()
  local srv, c
  local running = {plugin_path = {PLUGINS},
                   topics = {t = {on_produce = {"upper"}}}}

  before_each(function()
    srv = server.start({config = running})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    stop(srv)
  end)

  local function segments(topic)
    return assert(c:metadata(topic)).topics[1].partitions[1].segment_count
  end

  local function produce_and_read(value)
    local base = assert(c:produce("t", {value}))
    return assert(c:fetch("t", 0, base)).records[1]
  end

  it("prints a segment change, which apply puts in force", function()
    local big = string.rep("x", 1100) -- more than 1 KiB in one batch
    for _ = 1, 2 do assert(c:produce("t", {big})) end
    assert.are.equal(1, segments("t"))
    local file = config_file(srv, "segment.lua", {
      plugin_path = {PLUGINS},
      topics = {t = {on_produce = {"upper"},
                     segment = {bytes = "1KiB", ms = "1h"}}},
    })
    local changes = {
      "set t: segment.bytes 1073741824 -> 1024",
      "set t: segment.ms 604800000 -> 3600000",
    }
    local code, out, err = flyq(srv, "config", "plan", "-c", file)
    assert.are.equal(0, code, err)
    assert.are.same(plus(changes, "2 changes"), lines(out))
    assert.are.equal("1073741824", described_config(srv, "t")["segment.bytes"])

    code, out, err = flyq(srv, "config", "apply", "-c", file)
    assert.are.equal(0, code, err)
    assert.are.same(plus(changes, "2 changes applied"), lines(out))
    local cfg = described_config(srv, "t")
    assert.are.equal("1024", cfg["segment.bytes"])
    assert.are.equal("3600000", cfg["segment.ms"])
    -- Now every batch larger than 1 KiB starts a segment of its own.
    for i = 1, 3 do
      assert(c:produce("t", {big}))
      assert.are.equal(1 + i, segments("t"))
    end
    code, out = flyq(srv, "config", "plan", "-c", file)
    assert.are.equal(0, code)
    assert.are.same({"no changes"}, lines(out))
  end)

  it("prints an on_produce change, which apply puts in force", function()
    local rec = produce_and_read("Mixed")
    assert.are.equal("MIXED", rec.value)
    assert.are.same({}, rec.headers)
    local file = config_file(srv, "hooks.lua", {
      plugin_path = {PLUGINS},
      topics = {t = {on_produce = {"who", {plugin = "upper",
                                           params = {note = "v2"}}}}},
    })
    local change = "plugins t: on_produce upper -> who, upper {...}"
    local code, out, err = flyq(srv, "config", "plan", "-c", file)
    assert.are.equal(0, code, err)
    assert.are.same({change, "1 change"}, lines(out))
    assert.are.same({}, produce_and_read("Plan").headers)

    code, out, err = flyq(srv, "config", "apply", "-c", file)
    assert.are.equal(0, code, err)
    assert.are.same({change, "1 change applied"}, lines(out))
    rec = produce_and_read("Applied")
    assert.are.equal("APPLIED", rec.value)
    -- who.lua writes "nil": an anonymous client's ctx.principal is nil.
    assert.are.same({{"who", "nil"}}, rec.headers)
  end)
end)

describe("a topic that prune = true deletes", function()
  local srv

  before_each(function()
    srv = server.start({config = {
      topics = {a = {on_error = "dead_letter", partitioner = "sticky"},
                b = {}}}})
  end)
  after_each(function() stop(srv) end)

  it("shows only its deletion, not its plugin settings", function()
    local file = config_file(srv, "prune.lua", {prune = true,
                                                topics = {b = {}}})
    local deleted = "delete_topic a: not in the config and prune = true: "
      .. "the topic and its data are deleted"
    local set = "set: prune false -> true" -- a broker-wide setting
    local code, out, err = flyq(srv, "config", "plan", "-c", file)
    assert.are.equal(0, code, err)
    assert.are.same({set, deleted, "2 changes"}, lines(out))
    code, out, err = flyq(srv, "config", "apply", "-c", file)
    assert.are.equal(0, code, err)
    assert.are.same({set, deleted, "2 changes applied"}, lines(out))
    code, out, err = flyq(srv, "config", "plan", "-c", file)
    assert.are.equal(0, code, err)
    assert.are.same({"no changes"}, lines(out))
    code, out = flyq(srv, "topic", "list")
    assert.are.equal(0, code)
    assert.are.equal("b\n", out)
  end)
end)

-- An inline partitioner is code in the config text: a plan names it when
-- the lines that hold the function change, not at every edit of the file.
describe("an inline partitioner in a plan", function()
  local srv, dir

  -- Config source with topic other's partitions and the function's body,
  -- after `blank` empty lines.
  local function source(other, body, blank)
    return ("\n"):rep(blank or 0) .. table.concat({
      "return {",
      "  data_dir = 'data',",
      "  topics = {",
      "    other = {partitions = " .. other .. "},",
      "    clicks = {partitioner = function(record, n)",
      "      return " .. body,
      "    end},",
      "  },",
      "}",
    }, "\n") .. "\n"
  end

  before_each(function()
    dir = server.tmpdir()
    server.write_config(dir .. "/flyq.lua", source(1, "0"))
    srv = server.start({config = false, args = {"-c", dir .. "/flyq.lua"}})
  end)

  after_each(function()
    stop(srv)
    server.rmdir(dir)
  end)

  local function plan(text)
    server.write_config(dir .. "/next.lua", text)
    local code, out, err = flyq(srv, "config", "plan", "-c", dir .. "/next.lua")
    assert.are.equal(0, code, err)
    return lines(out)
  end

  it("is not named when other lines change", function()
    assert.are.same({"add_partitions other: partitions 1 -> 2", "1 change"},
                    plan(source(2, "0")))
    assert.are.same({"no changes"}, plan(source(1, "0", 3))) -- moved down
  end)

  it("is named when its own lines change", function()
    assert.are.same({"plugins clicks: partitioner inline function changed "
                     .. "(lines 7-9 of the new config text)", "1 change"},
                    plan(source(1, "n - 1", 2)))
  end)
end)

describe("sizes and durations written as strings", function()
  local srv
  local declared = {
    defaults = {retention = {ms = "1h"}},
    topics = {
      s = {segment = {bytes = "1MiB"},
           retention = {ms = "7d", bytes = "10GiB"}},
      d = {},
      digits = {segment = {bytes = "2048"}, retention = {ms = "5000"}},
    },
  }

  before_each(function() srv = server.start({config = declared}) end)
  after_each(function() stop(srv) end)

  it("create a topic with those values", function()
    local want = {
      ["retention.ms"] = "604800000",
      ["retention.bytes"] = "10737418240",
      ["segment.bytes"] = "1048576",
      ["segment.ms"] = "604800000",
      ["flush.messages"] = "0",
      ["flush.interval_ms"] = "-1",
    }
    assert.are.same(want, described_config(srv, "s"))
    local c = assert(client.connect(srv.addr))
    local md = assert(c:metadata("s"))
    c:close()
    assert.are.same(want, md.topics[1].config)
    -- The topic without settings has the defaults, "1h" among them.
    local d = described_config(srv, "d")
    assert.are.equal("3600000", d["retention.ms"])
    assert.are.equal("-1", d["retention.bytes"])
    assert.are.equal("1073741824", d["segment.bytes"])
    -- Digits alone: bytes for a size, milliseconds for a duration.
    d = described_config(srv, "digits")
    assert.are.equal("2048", d["segment.bytes"])
    assert.are.equal("5000", d["retention.ms"])
  end)

  local bad = {
    {"12XB", {segment = {bytes = "12XB"}},
     'topics.s.segment.bytes: expected size (bytes or a string like '
     .. '"256MiB"), got "12XB"'},
    {"7 days", {retention = {ms = "7 days"}},
     'topics.s.retention.ms: expected duration (milliseconds or a string '
     .. 'like "7d", "1h", "30m", "10s", "250ms") or -1 (forever), '
     .. 'got "7 days"'},
  }
  for _, case in ipairs(bad) do
    local value, settings, message = case[1], case[2], case[3]
    it("refuse " .. value .. " with the key path", function()
      local file = config_file(srv, "bad.lua",
                               {topics = {s = settings, d = {}}})
      local code, out, err = flyq(srv, "config", "apply", "-c", file)
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.are.equal("flyq config apply: ConfigApply: INVALID_CONFIG: "
                       .. file .. ": " .. message .. "\n", err)
      assert.are.equal("1048576", described_config(srv, "s")["segment.bytes"])
      assert.are.equal("604800000", described_config(srv, "s")["retention.ms"])
      -- A broker does not start on it either.
      code, out, err = server.run({"serve", "-c", file}, {timeout = 10})
      assert.are.equal(1, code, out)
      assert.are.equal("flyq serve: " .. file .. ": " .. message .. "\n", err)
    end)
  end
end)

describe("env() in the config file", function()
  local srv

  after_each(function() stop(srv) end)

  -- Starts a broker, rewrites its file to take topic e's partitions from
  -- env() (Lua source: the harness writes only tables), and restarts it on
  -- that file.
  local function start(env)
    srv = server.start({config = {}, env = env})
    server.write_config(srv.config_path, string.format(
      'return {\n  listen = "127.0.0.1:0",\n  data_dir = %q,\n'
      .. '  topics = {\n'
      .. '    e = { partitions = tonumber(env("FLYQ_SPEC_PARTS", "2")) },\n'
      .. '  },\n'
      .. '}\n', srv.data_dir))
    srv:restart()
  end

  it("reads the broker's environment", function()
    start({FLYQ_SPEC_PARTS = "5"})
    assert.are.equal(5, partitions(srv, "e"))
    -- plan runs the file in the broker, so the CLI's own environment
    -- does not count.
    local code, out, err = server.run({"config", "plan"},
      {env = {FLYQ_BROKER = srv.addr, FLYQ_SPEC_PARTS = "9"}})
    assert.are.equal(0, code, err)
    assert.are.same({"no changes"}, lines(out))
  end)

  it("gives the default when the variable is not set", function()
    start(nil)
    assert.are.equal(2, partitions(srv, "e"))
  end)
end)

describe("flyq config plan and plugin files", function()
  local srv, dir_a, dir_b

  local function plugin(dir, tag)
    server.write_file(dir .. "/tag.lua", string.format(
      "return { name = 'tag', on_produce = function(r)\n"
      .. "  r.value = %q .. r.value return r end }\n", tag))
  end

  before_each(function()
    dir_a, dir_b = server.tmpdir(), server.tmpdir()
    plugin(dir_a, "a:")
    srv = server.start({config = {plugin_path = {dir_a},
                                  topics = {t = {on_produce = {"tag"}}}}})
  end)

  after_each(function()
    stop(srv)
    server.rmdir(dir_a)
    server.rmdir(dir_b)
  end)

  local function plan(...)
    local code, out, err = flyq(srv, "config", ...)
    assert.are.equal(0, code, err)
    return lines(out)
  end

  it("names a plugin file whose text changed, until it is applied", function()
    assert.are.same({"no changes"}, plan("plan"))
    plugin(dir_a, "a2:")
    local changed = "plugins: file tag.lua changed (" .. dir_a .. "/tag.lua)"
    assert.are.same({changed, "1 change"}, plan("plan"))
    assert.are.same({changed, "1 change applied"}, plan("apply"))
    assert.are.same({"no changes"}, plan("plan"))
    local c = assert(client.connect(srv.addr))
    assert(c:produce("t", {"x"}))
    assert.are.equal("a2:x", assert(c:fetch("t", 0, 0)).records[1].value)
    c:close()
  end)

  -- A file that still names a plugin whose file is gone does not load
  -- ("fails with INVALID_CONFIG for a plugin file that is gone", below):
  -- the line is for a plugin the running broker loaded and the file drops.
  it("names a plugin file that is gone when the file no longer uses it",
     function()
    os.remove(dir_a .. "/tag.lua")
    local file = config_file(srv, "dropped.lua", {plugin_path = {dir_a},
                                                  topics = {t = {}}})
    local changes = {
      "plugins: file tag.lua gone (" .. dir_a .. "/tag.lua)",
      "plugins t: on_produce tag -> none",
    }
    assert.are.same(plus(changes, "2 changes"), plan("plan", "-c", file))
    assert.are.same(plus(changes, "2 changes applied"),
                    plan("apply", "-c", file))
    assert.are.same({"no changes"}, plan("plan", "-c", file))
    local c = assert(client.connect(srv.addr))
    assert(c:produce("t", {"x"}))
    assert.are.equal("x", assert(c:fetch("t", 0, 0)).records[1].value)
    c:close()
  end)

  it("names a plugin file that another directory now comes first with",
     function()
    plugin(dir_b, "b:")
    local file = config_file(srv, "moved.lua", {
      plugin_path = {dir_b, dir_a}, topics = {t = {on_produce = {"tag"}}}})
    local out = plan("plan", "-c", file)
    assert.are.equal("plugins: file tag.lua moved (" .. dir_b .. "/tag.lua)",
                     out[#out - 1])
    assert.are.equal(#out - 1 .. " changes", out[#out])
  end)
end)

-- A plan checks what an apply would refuse before changing anything: it
-- loads the plugins (and fails as the apply would), and it keeps the
-- listen rule of `flyq serve` for the address the next start will use.
describe("flyq config plan refuses what apply would", function()
  local srv, dir

  before_each(function()
    dir = server.tmpdir()
    server.write_file(dir .. "/tag.lua", "return { name = 'tag', "
                      .. "schema = { n = 'integer' },\n"
                      .. "  on_produce = function(r) return r end }\n")
    srv = server.start({config = {plugin_path = {dir},
                                  topics = {t = {on_produce = {"tag"}}}}})
  end)

  after_each(function()
    stop(srv)
    server.rmdir(dir)
  end)

  -- Both commands fail with INVALID_CONFIG (the caller's file is wrong)
  -- and want in their message, and change nothing.
  local function refused(file, want)
    for _, cmd in ipairs({"plan", "apply"}) do
      local code, out, err = flyq(srv, "config", cmd, "-c", file)
      assert.are.equal(1, code, cmd .. ": " .. out)
      assert.matches("INVALID_CONFIG", err, 1, true)
      assert.matches(want, err, 1, true)
    end
    local code, out = flyq(srv, "config", "plan")
    assert.are.equal(0, code)
    assert.are.same({"no changes"}, lines(out))
  end

  it("fails for a plugin that is not there or whose params are wrong",
     function()
    refused(config_file(srv, "missing.lua", {
      plugin_path = {dir}, topics = {t = {on_produce = {"tag", "nosuch"}}}}),
      "plugin nosuch: no nosuch.lua on plugin_path")
    refused(config_file(srv, "params.lua", {
      plugin_path = {dir},
      topics = {t = {on_produce = {{plugin = "tag", params = {n = "x"}}}}}}),
      'params.n: expected integer, got "x"')
  end)

  it("names the plugin entry by the key path the file has", function()
    refused(config_file(srv, "dashed.lua", {
      plugin_path = {dir}, topics = {["alice-syn"] = {on_produce = {"nosuch"}}}}),
      'plugins: topics["alice-syn"].on_produce[1]: plugin nosuch: no ')
    refused(config_file(srv, "auth.lua", {
      plugin_path = {dir}, auth = {plugin = "nosuch"}}),
      "plugins: auth: plugin nosuch: no nosuch.lua")
  end)

  it("fails with INVALID_CONFIG for a plugin file that is gone", function()
    os.remove(dir .. "/tag.lua")
    for _, cmd in ipairs({"plan", "apply"}) do
      local code, out, err = flyq(srv, "config", cmd)
      assert.are.equal(1, code, out)
      assert.are.equal("", out)
      assert.matches(": INVALID_CONFIG: plugins: topics.t.on_produce[1]: "
                     .. "plugin tag: no tag.lua on plugin_path (" .. dir .. ")",
                     err, 1, true)
    end
  end)

  it("fails for a plugin file that no longer loads", function()
    server.write_file(dir .. "/tag.lua", "return { name = 'tag',\n  oops = }\n")
    for _, cmd in ipairs({"plan", "apply"}) do
      local code, _, err = flyq(srv, "config", cmd)
      assert.are.equal(1, code)
      assert.matches(": PLUGIN_ERROR: plugins: topics.t.on_produce[1]: ", err,
                     1, true)
      assert.matches("tag.lua:2:", err, 1, true)
    end
  end)

  it("fails for a listen address the broker would not start with", function()
    refused(config_file(srv, "public.lua", {
      listen = "0.0.0.0:7599", plugin_path = {dir},
      topics = {t = {on_produce = {"tag"}}}}),
      "refused: the broker would not start with this config: refusing to "
      .. "listen on 0.0.0.0:7599: it is not a loopback address")
  end)
end)
