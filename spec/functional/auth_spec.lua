-- Authentication and authorization through auth plugins: Authenticate
-- sets the connection's principal, every other API (ApiVersions and
-- Authenticate aside) needs one and is authorized per topic, group or
-- cluster; auth hooks that fail deny; tokens never reach the log. Starts
-- the real broker with spec/fixtures/plugins/tokens.lua.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"
local TOKEN, ADMIN_TOKEN = "s3cret-alice-token", "s3cret-root-token"

local function auth_config(extra)
  local config = {
    plugin_path = {PLUGINS},
    auth = {plugin = "tokens", params = {
      tokens = {[TOKEN] = "alice", [ADMIN_TOKEN] = "root"},
      deny = {alice = "topic:secret", bob = "group:g1"},
      admins = {"root"},
    }},
    topics = {t = {on_produce = {"who"}}, secret = {}},
  }
  for k, v in pairs(extra or {}) do config[k] = v end
  return config
end

describe("auth", function()
  local srv

  before_each(function() srv = server.start({config = auth_config()}) end)

  after_each(function()
    srv:finish()
  end)

  local function flyq(args, env)
    env = env or {}
    env.FLYQ_BROKER = srv.addr
    return server.run(args, {env = env, stdin = "m1\n"})
  end

  it("refuses every API but ApiVersions and Authenticate before it",
     function()
    local c = assert(client.connect(srv.addr)) -- ApiVersions
    local _, err, code = c:produce("t", {"x"})
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", code, err)
    _, _, code = c:metadata()
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", code)
    _, _, code = c:fetch("t", 0, 0)
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", code)
    c:close()
  end)

  it("fails a wrong token without echoing it", function()
    local c, err, code = client.connect(srv.addr, {token = "wrong-token-xyz"})
    assert.is_nil(c)
    assert.are.equal("AUTHENTICATION_FAILED", code)
    assert.matches("unknown token", err, 1, true)
    assert.is_nil(err:find("wrong-token-xyz", 1, true))
  end)

  it("authenticates, passes the principal to hooks and authorizes",
     function()
    local c = assert(client.connect(srv.addr, {token = TOKEN}))
    assert(c:produce("t", {"x"}))
    local rec = assert(c:fetch("t", 0, 0)).records[1]
    assert.are.same({{"who", "alice"}}, rec.headers)
    local _, err, code = c:produce("secret", {"x"})
    assert.are.equal("TOPIC_AUTHORIZATION_FAILED", code, err)
    c:close()
    local root = assert(client.connect(srv.addr, {token = ADMIN_TOKEN}))
    assert.are.equal(0, assert(root:fetch("secret", 0, 0)).high_watermark)
    root:close()
  end)

  it("authorizes topics on fetch, metadata and create", function()
    local c = assert(client.connect(srv.addr, {token = TOKEN}))
    local _, _, code = c:fetch("secret", 0, 0)
    assert.are.equal("TOPIC_AUTHORIZATION_FAILED", code)
    local md = assert(c:metadata())
    local names = {}
    for _, t in ipairs(md.topics) do names[#names + 1] = t.name end
    assert.are.same({"t"}, names) -- secret is hidden
    md = assert(c:metadata("secret"))
    assert.are.equal("TOPIC_AUTHORIZATION_FAILED", md.topics[1].error)
    _, _, code = c:create_topic("secret")
    assert.are.equal("TOPIC_AUTHORIZATION_FAILED", code)
    c:close()
  end)

  it("authorizes groups and admin operations", function()
    local c = assert(client.connect(srv.addr, {token = TOKEN}))
    assert(c:commit("g1", "t", 0, 0))
    local _, err, code = c:stats()
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", code, err)
    c:close()
    local root = assert(client.connect(srv.addr, {token = ADMIN_TOKEN}))
    local stats = assert(root:stats())
    local runs = {}
    for _, p in ipairs(stats.plugins) do runs[p.name] = p.batches end
    assert.is_true(runs.tokens >= 2) -- at least the two authentications
    assert.is_true(stats.broker.topics >= 2)
    assert.is_nil(require("cjson").encode(stats):find(TOKEN, 1, true))
    root:close()
    local code2, _, serr = flyq({"config", "plan", "-c", srv.config_path,
                                 "--token", TOKEN})
    assert.are.equal(1, code2)
    assert.matches("CLUSTER_AUTHORIZATION_FAILED", serr, 1, true)
    code2 = flyq({"config", "plan", "-c", srv.config_path}, {FLYQ_TOKEN = ADMIN_TOKEN})
    assert.are.equal(0, code2)
  end)

  it("works from the CLI with --token and FLYQ_TOKEN", function()
    local code, _, err = flyq({"produce", "t"})
    assert.are.equal(1, code)
    assert.matches("CLUSTER_AUTHORIZATION_FAILED", err, 1, true)
    code, _, err = flyq({"produce", "t", "--token", TOKEN})
    assert.are.equal(0, code, err)
    local out
    code, out, err = flyq({"consume", "t"}, {FLYQ_TOKEN = TOKEN})
    assert.are.equal(0, code, err)
    assert.are.equal("M1\n", out:upper())
    code, _, err = flyq({"topic", "list", "--token", "nope-token"})
    assert.are.equal(1, code)
    assert.matches("AUTHENTICATION_FAILED", err, 1, true)
  end)

  it("never writes a token to the log", function()
    assert.is_nil(client.connect(srv.addr, {token = "bad-" .. TOKEN}))
    local c = assert(client.connect(srv.addr, {token = TOKEN}))
    c:close()
    flyq({"topic", "list", "--token", ADMIN_TOKEN})
    local log = srv:log_text()
    assert.matches("authentication failed", log, 1, true)
    assert.matches("authenticated as alice", log, 1, true)
    assert.is_nil(log:find(TOKEN, 1, true))
    assert.is_nil(log:find(ADMIN_TOKEN, 1, true))
  end)
end)

describe("auth hooks that fail", function()
  it("deny (fail closed)", function()
    local srv = server.start({config = {
      plugin_path = {PLUGINS},
      auth = {"broken_auth"},
    }})
    local c, _, code = client.connect(srv.addr, {token = "t"})
    assert.is_nil(c)
    assert.are.equal("AUTHENTICATION_FAILED", code)
    srv:finish()
  end)
end)

describe("listening beyond loopback", function()
  it("is refused without auth and allowed with it", function()
    local code, _, err = server.run({"serve", "--listen", "0.0.0.0:0"})
    assert.are.equal(1, code)
    assert.matches("no auth plugin is configured", err, 1, true)
    local srv = server.start({config = auth_config({listen = "0.0.0.0:0"})})
    assert.is_true(srv:running())
    assert.are.equal(0, srv:stop())
    srv:close()
  end)
end)
