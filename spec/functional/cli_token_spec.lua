-- Every `flyq` command that talks to a broker (produce, consume, also
-- with a group and with a filter, topic create/list/describe/delete, group
-- list/describe/reset, bench produce/consume, config plan/apply, stats),
-- against a broker that requires authentication (the shipped auth_token,
-- no authorize hook): it works with --token and with FLYQ_TOKEN, and
-- without a token (or with a wrong one) it exits 1 with one line on stderr
-- saying why, and changes nothing. `config check` and `plugin test` do
-- not connect to a broker. Effects are checked with the Lua client
-- (flyq.client).

local server = require("support.server")
local client = require("flyq.client")
local cjson = require("cjson")

local SHIPPED = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/plugins"
local TOKEN, WRONG = "ci-token-5b8e1f", "wrong-token-000000"

-- The broker's config, with topics (default: t and bp).
local function config(topics)
  return {
    plugin_path = {SHIPPED},
    auth = {plugin = "auth_token", params = {tokens = {ci = TOKEN}}},
    topics = topics or {t = {}, bp = {}},
  }
end

describe("flyq with a broker that requires a token", function()
  local srv, c

  before_each(function()
    srv = server.start({config = config()})
    c = assert(client.connect(srv.addr, {token = TOKEN}))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  -- Runs `flyq args...` with the token given as how says: "flag"
  -- (--token), "env" (FLYQ_TOKEN), "wrong" (--token with a wrong one) or
  -- "none" (FLYQ_TOKEN is set empty, which means no token, so that the
  -- caller's environment cannot give one).
  local function run(args, how, stdin)
    local argv, env = {}, {FLYQ_BROKER = srv.addr, FLYQ_TOKEN = ""}
    for i, a in ipairs(args) do argv[i] = a end
    if how == "flag" or how == "wrong" then
      argv[#argv + 1] = "--token"
      argv[#argv + 1] = how == "flag" and TOKEN or WRONG
    elseif how == "env" then
      env.FLYQ_TOKEN = TOKEN
    end
    return server.run(argv, {env = env, stdin = stdin or ""})
  end

  -- Runs a command that must succeed and returns its stdout.
  local function ok(args, how, stdin)
    local code, out, err = run(args, how, stdin)
    assert.are.equal("", err)
    assert.are.equal(0, code)
    return out
  end

  -- The command's name in its messages: "produce", "topic create"...
  local function name_of(args)
    local multi = {topic = true, group = true, bench = true, config = true}
    return multi[args[1]] and args[1] .. " " .. args[2] or args[1]
  end

  -- Runs a command without a token and with a wrong one: both must fail
  -- with exit 1, nothing on stdout and one line on stderr.
  local function refused(args, stdin)
    local name = name_of(args)
    local code, out, err = run(args, "none", stdin)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("^flyq " .. name .. ": [^\n]*CLUSTER_AUTHORIZATION_FAILED: " ..
                   "authentication required: send Authenticate first\n$", err)
    code, out, err = run(args, "wrong", stdin)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("flyq " .. name .. ": authenticating to " .. srv.addr ..
                     ": Authenticate: AUTHENTICATION_FAILED: invalid token\n",
                     err)
  end

  local function values(topic)
    local res = assert(c:fetch(topic, 0, 0))
    local t = {}
    for i, r in ipairs(res.records) do t[i] = r.value end
    return t
  end

  local function exists(topic)
    return assert(c:metadata(topic)).topics[1].error == nil
  end

  -- The instances that serve as consumer filters, from the broker's stats.
  local function filters()
    local names = {}
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.used_as[1] == "consumer filter" then names[#names + 1] = p.name end
    end
    return names
  end

  it("produce", function()
    refused({"produce", "t"}, "lost\n")
    assert.are.same({}, values("t"))
    ok({"produce", "t"}, "flag", "m1\n")
    ok({"produce", "t"}, "env", "m2\n")
    assert.are.same({"m1", "m2"}, values("t"))
  end)

  it("consume", function()
    assert(c:produce("t", {"a", "b"}))
    refused({"consume", "t"})
    assert.are.equal("a\nb\n", ok({"consume", "t"}, "flag"))
    assert.are.equal("a\nb\n", ok({"consume", "t"}, "env"))
  end)

  it("consume with a group", function()
    assert(c:produce("t", {"a", "b"}))
    refused({"consume", "t", "-g", "g0"})
    assert.are.equal("a\nb\n", ok({"consume", "t", "-g", "g1"}, "flag"))
    assert.are.equal("a\nb\n", ok({"consume", "t", "-g", "g2"}, "env"))
    assert.are.equal(-1, (assert(c:committed("g0", "t", 0))))
    assert.are.equal(2, (assert(c:committed("g1", "t", 0))))
    assert.are.equal(2, (assert(c:committed("g2", "t", 0))))
  end)

  it("consume with a filter", function()
    assert(c:produce("t", {'{"n":1}', "not json", '{"n":2}'}))
    local args = {"consume", "t", "--filter", "drop_invalid_json"}
    refused(args)
    assert.are.same({}, filters()) -- the broker loaded no filter for them
    assert.are.equal('{"n":1}\n{"n":2}\n', ok(args, "flag"))
    assert.are.equal('{"n":1}\n{"n":2}\n', ok(args, "env"))
    assert.are.same({"drop_invalid_json"}, filters())
  end)

  it("topic create", function()
    refused({"topic", "create", "c0"})
    ok({"topic", "create", "c1"}, "flag")
    ok({"topic", "create", "c2", "--partitions", "2"}, "env")
    assert.is_false(exists("c0"))
    assert.is_true(exists("c1"))
    assert.are.equal(2, #assert(c:metadata("c2")).topics[1].partitions)
  end)

  it("topic list", function()
    refused({"topic", "list"})
    assert.are.equal("bp\nt\n", ok({"topic", "list"}, "flag"))
    assert.are.equal("bp\nt\n", ok({"topic", "list"}, "env"))
  end)

  it("topic describe", function()
    assert(c:produce("t", {"a"}))
    refused({"topic", "describe", "t"})
    for _, how in ipairs({"flag", "env"}) do
      local out = ok({"topic", "describe", "t"}, how)
      assert.matches("^topic t: 1 partition\n", out)
      assert.matches("\n +0 +0 +1 ", out) -- partition 0: log start 0, hw 1
    end
  end)

  it("topic delete", function()
    for _, name in ipairs({"d0", "d1", "d2"}) do assert(c:create_topic(name)) end
    refused({"topic", "delete", "d0"})
    ok({"topic", "delete", "d1"}, "flag")
    ok({"topic", "delete", "d2"}, "env")
    assert.is_true(exists("d0"))
    assert.is_false(exists("d1"))
    assert.is_false(exists("d2"))
  end)

  it("group list and describe", function()
    assert(c:produce("t", {"a", "b"}))
    assert(c:commit("g", "t", 0, 1))
    refused({"group", "list"})
    refused({"group", "describe", "g"})
    for _, how in ipairs({"flag", "env"}) do
      assert.are.equal("g\n", ok({"group", "list"}, how))
      local out = ok({"group", "describe", "g"}, how)
      -- topic, partition, committed, high watermark, lag
      assert.matches("\nt +0 +1 +2 +1\n$", out)
    end
  end)

  it("group reset", function()
    assert(c:produce("t", {"a", "b"}))
    assert(c:commit("g", "t", 0, 1))
    refused({"group", "reset", "g", "t", "--to", "latest"})
    assert.are.equal(1, (assert(c:committed("g", "t", 0))))
    local out = ok({"group", "reset", "g", "t", "--to", "earliest"}, "flag")
    assert.matches("\nt +0 +0\n$", out)
    assert.are.equal(0, (assert(c:committed("g", "t", 0))))
    out = ok({"group", "reset", "g", "t", "--to", "latest"}, "env")
    assert.matches("\nt +0 +2\n$", out)
    assert.are.equal(2, (assert(c:committed("g", "t", 0))))
  end)

  it("bench produce", function()
    local args = {"bench", "produce", "bp", "--count", "10", "--connections",
                  "2", "--json"}
    refused(args)
    assert.are.equal(0, assert(c:fetch("bp", 0, 0)).high_watermark)
    for i, how in ipairs({"flag", "env"}) do
      local r = cjson.decode(ok(args, how))
      assert.are.equal(10, r.messages)
      assert.are.equal(0, r.errors)
      assert.are.equal(10 * i, assert(c:fetch("bp", 0, 0)).high_watermark)
    end
  end)

  it("bench consume", function()
    assert(c:produce("t", {"a", "b", "c"}))
    local args = {"bench", "consume", "t", "--count", "3", "--json"}
    refused(args)
    for _, how in ipairs({"flag", "env"}) do
      local r = cjson.decode(ok(args, how))
      assert.are.equal(3, r.messages)
      assert.are.equal(0, r.errors)
    end
  end)

  -- Writes a config file declaring topics into the server's directory
  -- (listen and data_dir as the harness set them) and returns its path.
  local function config_file(name, topics)
    local path, file = srv.dir .. "/" .. name, config(topics)
    file.listen, file.data_dir = "127.0.0.1:0", srv.data_dir
    server.write_config(path, file)
    return path
  end

  it("config plan", function()
    local path = config_file("plan.lua", {t = {}, bp = {}, planned = {}})
    refused({"config", "plan", "-c", path})
    for _, how in ipairs({"flag", "env"}) do
      assert.are.equal("create_topic planned: partitions 1\n1 change\n",
                       ok({"config", "plan", "-c", path}, how))
    end
    assert.are.equal("no changes\n", ok({"config", "plan"}, "flag"))
    assert.is_false(exists("planned"))
  end)

  it("config apply", function()
    local base = {t = {}, bp = {}}
    local function with(name)
      local topics = {[name] = {}}
      for k, v in pairs(base) do topics[k] = v end
      return config_file(name .. ".lua", topics)
    end
    refused({"config", "apply", "-c", with("a0")})
    refused({"config", "apply"})
    assert.is_false(exists("a0"))
    assert.are.equal("create_topic a1: partitions 1\n1 change applied\n",
                     ok({"config", "apply", "-c", with("a1")}, "flag"))
    base.a1 = {}
    assert.are.equal("create_topic a2: partitions 1\n1 change applied\n",
                     ok({"config", "apply", "-c", with("a2")}, "env"))
    assert.is_true(exists("a1"))
    assert.is_true(exists("a2"))
    -- Without -c: the broker's own file, which declares neither.
    local drift = ": on the broker but not in the config (kept; prune = " ..
                  "true would delete it)\n"
    assert.are.equal("drift a1" .. drift .. "drift a2" .. drift ..
                     "no changes, 2 topics not in the config (kept)\n",
                     ok({"config", "apply"}, "flag"))
  end)

  it("stats", function()
    assert(c:produce("t", {"a", "b"}))
    refused({"stats"})
    -- auth_token's calls: c's Authenticate, the wrong token's, then one
    -- for each run that printed (its own, before the Stats request).
    for i, how in ipairs({"flag", "env"}) do
      local out = ok({"stats"}, how)
      assert.matches("^broker: produce_requests 1 produced_records 2 ", out)
      assert.matches("\nplugin auth_token %(.-/auth_token%.lua%) as auth " ..
                     "#%x+: batches " .. 2 + i .. ", calls " .. 2 + i ..
                     ", errors 0\n", out)
    end
  end)

  it("prefers --token to FLYQ_TOKEN", function()
    local code, out, err = server.run(
      {"topic", "list", "--token", TOKEN},
      {env = {FLYQ_BROKER = srv.addr, FLYQ_TOKEN = WRONG}})
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal("bp\nt\n", out)
  end)
end)
