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
    assert.matches("no auth plugin with an authenticate hook is configured", err, 1, true)
    local srv = server.start({config = auth_config({listen = "0.0.0.0:0"})})
    assert.is_true(srv:running())
    assert.are.equal(0, srv:stop())
    srv:close()
  end)
end)

-- A careless authenticate hook (spec/fixtures/plugins/leaky_auth.lua)
-- quotes the credentials in its reasons and errors: no copy of them, whole
-- or cut to a buffer's size, reaches a response, the log or the stats; a
-- principal it makes from client bytes must be one; and a failed
-- Authenticate leaves the connection with no principal.
describe("credentials a plugin quotes", function()
  local srv

  before_each(function()
    srv = server.start({config = {plugin_path = {PLUGINS},
                                  auth = {plugin = "leaky_auth"},
                                  topics = {t = {}}}})
  end)

  after_each(function() srv:finish() end)

  -- A secret of n bytes that no message would contain by chance.
  local function secret(n)
    local parts = {}
    for i = 1, n do parts[i] = string.char(65 + (i * 7) % 26) end
    return table.concat(parts)
  end

  -- Raises if text holds any 8-byte piece of s.
  local function assert_hidden(text, s, what)
    for i = 1, #s - 7 do
      assert(not text:find(s:sub(i, i + 7), 1, true),
             what .. " shows part of the secret: " .. text)
    end
  end

  local function stats_text()
    local code, out, err = server.run({"stats", "--json", "-b", srv.addr,
                                       "--token", "ok:admin"})
    assert.are.equal(0, code, err)
    return out
  end

  it("hides them in reasons, errors, the log and the stats, cut or not", function()
    for _, n in ipairs({20, 300, 700}) do
      for _, token in ipairs({secret(n), "boom:" .. secret(n)}) do
        local c, err, code = client.connect(srv.addr, {token = token})
        assert.is_nil(c)
        assert.are.equal("AUTHENTICATION_FAILED", code)
        assert_hidden(err, token, "the response")
      end
    end
    local raw = assert(client.connect(srv.addr, {token = "ok:x"}))
    local _, err = raw:authenticate("plain", "\0carol\0" .. secret(40))
    assert.matches("bad user carol pw ***", err, 1, true)
    raw:close()
    srv:stop()
    for _, n in ipairs({20, 300, 700}) do
      assert_hidden(srv:log_text(), secret(n), "the log")
    end
    assert_hidden(srv:log_text(), secret(40), "the log")
  end)

  it("keeps no copy in the stats' last error", function()
    local c = client.connect(srv.addr, {token = "boom:" .. secret(300)})
    assert.is_nil(c)
    local out = stats_text()
    assert.matches("cannot parse", out, 1, true)
    assert_hidden(out, secret(300), "the stats")
  end)

  it("refuses a principal that is too long or has control characters", function()
    for _, name in ipairs({("x"):rep(256), "eve\nroot", "a\0b"}) do
      local c, err, code = client.connect(srv.addr, {token = "ok:" .. name})
      assert.is_nil(c, name)
      assert.are.equal("AUTHENTICATION_FAILED", code)
      assert.matches("plugin leaky_auth failed", err, 1, true)
    end
    assert(client.connect(srv.addr, {token = "ok:" .. ("x"):rep(255)})):close()
  end)

  it("leaves a connection whose Authenticate failed with no principal", function()
    local c = assert(client.connect(srv.addr, {token = "ok:bob"}))
    assert(c:metadata())
    local ok, _, code = c:authenticate("token", "wrong")
    assert.is_nil(ok)
    assert.are.equal("AUTHENTICATION_FAILED", code)
    local _, _, mcode = c:metadata()
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", mcode)
    c:close()
  end)
end)
