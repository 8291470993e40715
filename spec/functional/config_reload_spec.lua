-- Declarative config on a running broker: `flyq config plan`, `flyq config
-- apply` and SIGHUP (docs/config.md, "Reloading"). Starts the real broker
-- with a config declaring topic A (2 partitions) and drives it with the
-- CLI ($FLYQ_BIN) through spec/support/server.lua.

local server = require("support.server")

describe("config reload", function()
  local srv

  before_each(function()
    srv = server.start({config = {topics = {A = {partitions = 2}}}})
  end)

  after_each(function()
    srv:finish()
  end)

  -- Writes a config into the server's directory (listen and data_dir as
  -- the harness set them, so that only the topics differ) and returns its
  -- path.
  local function config_file(name, config)
    local path = srv.dir .. "/" .. name
    if type(config) == "table" then
      local copy = {listen = "127.0.0.1:0", data_dir = srv.data_dir}
      for k, v in pairs(config) do copy[k] = v end
      config = copy
    end
    server.write_config(path, config)
    return path
  end

  -- Runs `flyq ARGS...` against the broker (chosen with FLYQ_BROKER).
  local function flyq(...)
    return server.run({...}, {env = {FLYQ_BROKER = srv.addr}})
  end

  local function lines(text)
    local t = {}
    for line in text:gmatch("[^\n]+") do t[#t + 1] = line end
    return t
  end

  -- The partition count of a topic, or nil when the broker does not have it.
  local function partitions(topic)
    local code, out = flyq("topic", "describe", topic)
    if code ~= 0 then return nil end
    return tonumber(out:match("^topic [^:]+: (%d+) partition"))
  end

  local function topics()
    local code, out, err = flyq("topic", "list")
    assert.are.equal(0, code, err)
    return lines(out)
  end

  local grow = {topics = {A = {partitions = 4, retention = {ms = "1h"}}, B = {}}}

  it("plan prints exactly the changes and changes nothing", function()
    local file = config_file("grow.lua", grow)
    local code, out, err = server.run({"config", "plan", "-c", file,
                                       "-b", srv.addr})
    assert.are.equal(0, code, err)
    assert.are.same({
      "add_partitions A: partitions 2 -> 4",
      "set A: retention.ms 604800000 -> 3600000",
      "create_topic B: partitions 1",
      "3 changes",
    }, lines(out))
    assert.are.equal(2, partitions("A"))
    assert.are.same({"A"}, topics())
  end)

  it("apply performs the plan", function()
    local file = config_file("grow.lua", grow)
    local code, out, err = flyq("config", "apply", "-c", file)
    assert.are.equal(0, code, err)
    assert.are.same({
      "add_partitions A: partitions 2 -> 4",
      "set A: retention.ms 604800000 -> 3600000",
      "create_topic B: partitions 1",
      "3 changes applied",
    }, lines(out))
    assert.are.equal(4, partitions("A"))
    assert.are.equal(1, partitions("B"))
    local _, describe = flyq("topic", "describe", "A")
    assert.truthy(describe:find("retention.ms = 3600000", 1, true))
    code, out = flyq("config", "plan", "-c", file)
    assert.are.equal(0, code)
    assert.are.same({"no changes"}, lines(out))
    srv:wait_log("config apply request: applied " .. file .. ": 3 changes")
  end)

  it("reports a topic missing from the file as drift and prunes it only "
     .. "with prune = true", function()
    local file = config_file("drift.lua", {topics = {B = {}}})
    local code, out = flyq("config", "plan", "-c", file)
    assert.are.equal(0, code)
    assert.truthy(out:find("drift A: on the broker but not in the config",
                           1, true))
    -- The summary counts a kept topic apart from the changes.
    assert.are.equal("1 change, 1 topic not in the config (kept)",
                     out:match("([^\n]*)\n$"))
    code, out = flyq("config", "apply", "-c", file)
    assert.are.equal(0, code)
    assert.are.equal("1 change applied, 1 topic not in the config (kept)",
                     out:match("([^\n]*)\n$"))
    assert.are.same({"A", "B"}, topics())

    file = config_file("prune.lua", {prune = true, topics = {B = {}}})
    code, out = flyq("config", "plan", "-c", file)
    assert.are.equal(0, code)
    assert.truthy(out:find("delete_topic A:", 1, true))
    assert.are.same({"A", "B"}, topics())
    code = flyq("config", "apply", "-c", file)
    assert.are.equal(0, code)
    assert.are.same({"B"}, topics())
  end)

  it("counts a restart-only setting apart from the changes made at once",
     function()
    local file = config_file("restart.lua", {
      limits = {max_connections = 77}, topics = {A = {partitions = 3}}})
    local changes = {
      "restart: limits.max_connections 10000 -> 77 (takes effect at the "
      .. "next start)",
      "add_partitions A: partitions 2 -> 3",
    }
    local code, out, err = flyq("config", "plan", "-c", file)
    assert.are.equal(0, code, err)
    table.insert(changes, "1 change, 1 takes effect at the next start")
    assert.are.same(changes, lines(out))
    code, out, err = flyq("config", "apply", "-c", file)
    assert.are.equal(0, code, err)
    changes[3] = "1 change applied, 1 takes effect at the next start"
    assert.are.same(changes, lines(out))
    srv:wait_log("config apply request: applied " .. file .. ": 1 change, 1 "
             .. "takes effect at the next start")
    -- Until a restart, the setting is still to come; nothing else is.
    code, out = flyq("config", "plan", "-c", file)
    assert.are.equal(0, code)
    assert.are.same({changes[1], "0 changes, 1 takes effect at the next "
                     .. "start"}, lines(out))
  end)

  it("refuses fewer partitions and then changes nothing", function()
    local file = config_file("shrink.lua",
                             {topics = {A = {partitions = 1}, B = {}}})
    local code, out = flyq("config", "plan", "-c", file)
    assert.are.equal(1, code)
    assert.truthy(out:find("error A: partitions 2 -> 1: partition counts only grow",
                           1, true))
    assert.truthy(out:find("create_topic B", 1, true))
    local err
    code, out, err = flyq("config", "apply", "-c", file)
    assert.are.equal(1, code)
    assert.truthy(err:find("INVALID_CONFIG", 1, true), err)
    assert.truthy(err:find("partition counts only grow", 1, true), err)
    assert.are.equal(2, partitions("A"))
    assert.are.same({"A"}, topics())
  end)

  it("refuses a broken file on apply; the broker keeps serving", function()
    local syntax = config_file("syntax.lua", "return { topics = { B = { }\n")
    local code, _, err = flyq("config", "apply", "-c", syntax)
    assert.are.equal(1, code)
    assert.truthy(err:find(syntax .. ":2:", 1, true), err)
    local badkey = config_file("badkey.lua",
                               {topics = {A = {partitons = 4}, B = {}}})
    code, _, err = flyq("config", "apply", "-c", badkey)
    assert.are.equal(1, code)
    assert.truthy(err:find(badkey .. ": topics.A.partitons: unknown key", 1,
                           true), err)
    code, _, err = flyq("config", "plan", "-c", badkey)
    assert.are.equal(1, code)
    assert.truthy(err:find("unknown key", 1, true), err)
    assert.are.same({"A"}, topics())
    assert.are.equal(2, partitions("A"))
    srv:wait_log("config apply request: not applied, the broker keeps its "
             .. "running config: " .. badkey)
  end)

  it("reloads its file on SIGHUP, and keeps running on a broken one",
     function()
    config_file("flyq.lua", {topics = {A = {partitions = 3}}})
    -- Without -c, plan and apply use the file the broker was started with.
    local code, out = flyq("config", "plan")
    assert.are.equal(0, code)
    assert.are.same({"add_partitions A: partitions 2 -> 3", "1 change"},
                    lines(out))
    assert.are.equal(2, partitions("A"))
    os.execute("kill -HUP " .. srv.pid)
    srv:wait_log("SIGHUP: applied " .. srv.config_path .. ": 1 change")
    assert.are.equal(3, partitions("A"))

    config_file("flyq.lua", "return { topics = { A = { partitions = 9 } ")
    os.execute("kill -HUP " .. srv.pid)
    srv:wait_log("SIGHUP: not applied, the broker keeps its running config: "
             .. srv.config_path .. ":1:")
    assert.are.equal(3, partitions("A"))
    config_file("flyq.lua", {colour = "blue", topics = {A = {partitions = 9}}})
    os.execute("kill -HUP " .. srv.pid)
    srv:wait_log(srv.config_path .. ": colour: unknown key")
    assert.are.equal(3, partitions("A"))
    assert.is_true(srv:running())
    assert.are.same({"A"}, topics())
  end)

  it("explains plan and apply with --help", function()
    for _, cmd in ipairs({"plan", "apply"}) do
      local code, out, err = server.run({"config", cmd, "--help"})
      assert.are.equal(0, code, err)
      assert.truthy(out:find("usage: flyq config plan", 1, true))
      assert.truthy(out:find("-b, --broker HOST:PORT", 1, true))
      assert.truthy(out:find("drift", 1, true))
    end
  end)
end)
