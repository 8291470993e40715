-- The auth chain on a real broker (docs/plugins.md, "authenticate and
-- authorize: the auth chain").
--
-- The authenticate chain: the authenticate hooks of the config's `auth`
-- are asked in order; the first principal wins and the hooks after it are
-- not asked; a hook that returns nil and a reason passes to the next one;
-- when none accepts, the client is refused (AUTHENTICATION_FAILED) with
-- the last hook's reason; a hook that raises refuses the client at once
-- (fail closed: the hooks after it are not asked), is logged and counted.
-- Fixtures: spec/fixtures/plugins/authn_*.lua and who.lua (which shows the
-- principal the hooks see).
--
-- The authorize chain: the shipped auth_token authenticates bob,
-- alice and carol, then the authorize hooks of the config's `auth` are asked
-- in order. A hook that abstains (nil) leaves the answer to the next one;
-- the first true or false decides; when every hook abstains the answer is
-- deny; a hook that raises or answers something else than true, false or
-- nil denies (fail closed), is logged, and the broker goes on serving.
-- Without any authorize hook every authenticated principal is allowed.
-- Fixtures: spec/fixtures/plugins/authz_*.lua.

local server = require("support.server")
local client = require("flyq.client")

local SOURCE = os.getenv("FLYQ_SOURCE_DIR") or "."
local FIXTURES, SHIPPED = SOURCE .. "/spec/fixtures/plugins", SOURCE .. "/plugins"
local TOKENS = {bob = "bob-tok-51c9e2", alice = "alice-tok-8a07d4",
                carol = "carol-tok-3e66b1"}

-- The shipped acl allowing everyone everything.
local ALLOW_ALL = {plugin = "acl", params = {rules = {
  {allow = true, principal = "*"}}}}

-- The broker's config: auth_token, then the authorize hooks of chain.
local function config(chain)
  local auth = {{plugin = "auth_token", params = {tokens = TOKENS}}}
  for _, hook in ipairs(chain) do auth[#auth + 1] = hook end
  return {plugin_path = {FIXTURES, SHIPPED}, auth = auth,
          topics = {t = {}, broken = {}}}
end

-- The plugins' stats entries by name, from one Stats call on client c.
local function plugin_stats(c)
  local by_name = {}
  for _, p in ipairs(assert(c:stats()).plugins) do by_name[p.name] = p end
  return by_name
end

describe("the authorize chain", function()
  local srv

  local function start(chain) srv = server.start({config = config(chain)}) end

  local function connect(who)
    return assert(client.connect(srv.addr, {token = TOKENS[who]}))
  end

  -- Asserts that a client call's results (res, err, code) are a refusal
  -- with code and "not authorized".
  local function assert_denied(code, ...)
    local res, err, got = ...
    assert.is_nil(res)
    assert.are.equal(code, got, err)
    assert.matches("not authorized", err, 1, true)
  end

  -- Asserts that client c is refused on a topic, a group and the cluster.
  local function assert_denied_everywhere(c)
    assert_denied("TOPIC_AUTHORIZATION_FAILED", c:produce("t", {"x"}))
    assert_denied("TOPIC_AUTHORIZATION_FAILED", c:fetch("t", 0, 0))
    assert_denied("GROUP_AUTHORIZATION_FAILED", c:commit("g", "t", 0, 0))
    assert_denied("CLUSTER_AUTHORIZATION_FAILED", c:stats())
  end

  after_each(function()
    if not srv then return end
    local code = srv:stop()
    local clean, err = pcall(srv.assert_clean_log, srv)
    srv:close()
    srv = nil
    assert.are.equal(0, code)
    assert(clean, err)
  end)

  it("lets the next hook allow when the first abstains", function()
    start({"authz_abstain", "authz_allow_bob"})
    local bob = connect("bob")
    assert.are.equal(0, (assert(bob:produce("t", {"x"}))))
    assert.are.equal("x", assert(bob:fetch("t", 0, 0)).records[1].value)
    assert(bob:commit("g", "t", 0, 1))
    srv:wait_log("authz_abstain: abstained on produce topic:t for bob")
    srv:wait_log("authz_abstain: abstained on commit group:g for bob")
    -- Every question went through the abstaining hook to the next one.
    local stats = plugin_stats(bob)
    local abstain, allow = stats.authz_abstain, stats.authz_allow_bob
    assert.are.equal(4, abstain.batches) -- produce, fetch, commit, stats
    assert.are.equal(abstain.batches, allow.batches)
    assert.are.equal(0, abstain.errors)
    bob:close()
  end)

  it("lets the next hook deny when the first abstains", function()
    -- The acl after it would allow alice: the deny is authz_allow_bob's.
    start({"authz_abstain", "authz_allow_bob", ALLOW_ALL})
    local alice = connect("alice")
    assert_denied_everywhere(alice)
    alice:close()
    srv:wait_log("authz_abstain: abstained on produce topic:t for alice")
    srv:wait_log("denied produce on topic:t to alice")
    local bob = connect("bob")
    assert.are.equal(0, assert(bob:fetch("t", 0, 0)).high_watermark)
    assert.are.equal(-1, (assert(bob:committed("g", "t", 0))))
    bob:close()
  end)

  it("denies when every authorize hook abstains", function()
    -- acl abstains when no rule matches: here for everyone but carol.
    start({"authz_abstain", {plugin = "acl", params = {rules = {
      {allow = true, principal = "carol"}}}}})
    for _, who in ipairs({"bob", "alice"}) do
      local c = connect(who)
      assert_denied_everywhere(c)
      c:close()
      srv:wait_log("authz_abstain: abstained on admin cluster for " .. who)
      srv:wait_log("denied admin on cluster to " .. who)
    end
    -- The chain works: a principal the acl allows is served, and nothing
    -- of the denied requests happened.
    local carol = connect("carol")
    assert.are.equal(0, assert(carol:fetch("t", 0, 0)).high_watermark)
    assert.are.equal(-1, (assert(carol:committed("g", "t", 0))))
    carol:close()
  end)

  it("decides with the first hook that answers, true or false", function()
    start({"authz_allow_bob", "authz_error"})
    local alice = connect("alice")
    assert_denied_everywhere(alice) -- false ends the chain too
    alice:close()
    local bob = connect("bob")
    assert.are.equal(0, (assert(bob:produce("t", {"x"}))))
    local broken = plugin_stats(bob).authz_error
    assert.are.equal(0, broken.batches) -- never asked
    assert.are.equal(0, broken.errors)
    bob:close()
  end)

  it("denies when a hook raises, logs it and keeps serving", function()
    start({{plugin = "authz_error", params = {resource = "topic:broken"}},
           "authz_allow_bob"})
    local bob = connect("bob")
    -- The error denies; it does not abstain (authz_allow_bob allows bob).
    assert_denied("TOPIC_AUTHORIZATION_FAILED", bob:produce("broken", {"x"}))
    assert_denied("TOPIC_AUTHORIZATION_FAILED", bob:fetch("broken", 0, 0))
    -- The same connection and another one are still served.
    assert.are.equal(0, (assert(bob:produce("t", {"x"}))))
    local other = connect("bob")
    assert.are.equal(1, (assert(other:produce("t", {"y"}))))
    assert_denied("TOPIC_AUTHORIZATION_FAILED", other:produce("broken", {"y"}))
    other:close()
    srv:wait_log("authz_error.lua:11: authz backend down (authorize) " ..
             "[1 error so far]")
    srv:wait_log("authz_error.lua:11: authz backend down (authorize) " ..
             "[2 errors so far]")
    srv:wait_log("denied fetch on topic:broken to bob")
    srv:wait_log("denied produce on topic:broken to bob")
    local stats = plugin_stats(bob).authz_error
    assert.are.equal(3, stats.errors)
    assert.matches("authz_error%.lua:11: authz backend down", stats.last_error)
    bob:close()
    assert.is_true(srv:running())
  end)

  it("denies everything when a hook raises on every resource", function()
    start({"authz_error", "authz_allow_bob"})
    local bob = connect("bob")
    assert_denied_everywhere(bob)
    bob:close()
    srv:wait_log("authz backend down (authorize) [4 errors so far]")
  end)

  for _, answer in ipairs({"yes", 1}) do
    it("denies when a hook answers " .. type(answer) .. " " .. tostring(answer),
       function()
      start({{plugin = "authz_answer", params = {answer = answer}},
             "authz_allow_bob"})
      local bob = connect("bob")
      assert_denied("TOPIC_AUTHORIZATION_FAILED", bob:produce("t", {"x"}))
      bob:close()
      local shown = type(answer) == "string" and '"' .. answer .. '"' or
                    tostring(answer)
      srv:wait_log("plugin authz_answer: authorize returned " .. shown ..
               " (expected true, false or nil) (authorize) [1 error so far]")
      srv:wait_log("denied produce on topic:t to bob")
    end)
  end

  it("allows every authenticated principal without an authorize hook",
     function()
    start({})
    local alice = connect("alice")
    assert.are.equal(0, (assert(alice:produce("t", {"x"}))))
    assert.are.equal("x", assert(alice:fetch("t", 0, 0)).records[1].value)
    assert(alice:commit("g", "t", 0, 1))
    assert.are.equal(1, (assert(alice:committed("g", "t", 0))))
    assert(alice:create_topic("made"))
    assert.is_nil(assert(alice:metadata("made")).topics[1].error)
    assert(alice:delete_topic("made"))
    assert.is_true(assert(alice:stats()).broker.topics >= 2) -- admin
    alice:close()
    -- Authentication is still required.
    local anonymous = assert(client.connect(srv.addr))
    local _, err, code = anonymous:produce("t", {"x"})
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", code, err)
    assert.matches("authentication required", err, 1, true)
    anonymous:close()
    local c
    c, err, code = client.connect(srv.addr, {token = "wrong-tok-000000"})
    assert.is_nil(c)
    assert.are.equal("AUTHENTICATION_FAILED", code, err)
  end)
end)

describe("the authenticate chain", function()
  local srv

  -- Starts a broker whose `auth` is chain; topic t records the producer's
  -- principal in the header "who".
  local function start(chain)
    srv = server.start({config = {plugin_path = {FIXTURES}, auth = chain,
                                  topics = {t = {on_produce = {"who"}}}}})
  end

  after_each(function()
    if srv then srv:finish() end
    srv = nil
  end)

  -- The principal the broker gave to c, as on_produce hooks see it: the
  -- header "who" of a record c produces to t.
  local function principal_of(c)
    local offset = assert(c:produce("t", {"x"}))
    return server.header(assert(c:fetch("t", 0, offset)).records[1], "who")
  end

  -- Asserts that the token is refused with AUTHENTICATION_FAILED and the
  -- reason (the whole error_message).
  local function assert_refused(token, reason)
    local c, err, code = client.connect(srv.addr, {token = token})
    assert.is_nil(c)
    assert.are.equal("AUTHENTICATION_FAILED", code, err)
    assert.are.equal("Authenticate: AUTHENTICATION_FAILED: " .. reason, err)
  end

  it("gives the first accepting hook's principal and asks no further hook",
     function()
    start({"authn_a", "authn_b"})
    local alice = assert(client.connect(srv.addr, {token = "a-alice"}))
    assert.are.equal("alice@a", principal_of(alice))
    -- "ab-carol" is one that both hooks accept: the first one wins.
    local carol = assert(client.connect(srv.addr, {token = "ab-carol"}))
    assert.are.equal("carol@a", principal_of(carol))
    carol:close()
    local stats = plugin_stats(alice)
    assert.are.equal(2, stats.authn_a.calls)
    assert.are.equal(0, stats.authn_b.calls) -- never asked
    alice:close()
  end)

  it("passes to the next hook when one returns nil and a reason", function()
    start({"authn_a", "authn_b"})
    local bob = assert(client.connect(srv.addr, {token = "b-bob"}))
    assert.are.equal("bob@b", principal_of(bob))
    local stats = plugin_stats(bob)
    assert.are.equal(1, stats.authn_a.calls)
    assert.are.equal(1, stats.authn_b.calls)
    assert.are.equal(0, stats.authn_a.errors) -- passing is no error
    bob:close()
  end)

  it("asks the hooks in the config's order", function()
    start({"authn_b", "authn_a"})
    local carol = assert(client.connect(srv.addr, {token = "ab-carol"}))
    assert.are.equal("carol@b", principal_of(carol))
    local alice = assert(client.connect(srv.addr, {token = "a-alice"}))
    assert.are.equal("alice@a", principal_of(alice))
    alice:close()
    local stats = plugin_stats(carol)
    assert.are.equal(2, stats.authn_b.calls)
    assert.are.equal(1, stats.authn_a.calls)
    carol:close()
  end)

  it("refuses a token no hook accepts, with the last hook's reason",
     function()
    start({"authn_a", "authn_b"})
    assert_refused("c-eve", "not b")
    srv:wait_log("authentication failed (token): not b")
    -- The same refusal on a connection that had a principal takes it away.
    local bob = assert(client.connect(srv.addr, {token = "b-bob"}))
    local ok, err, code = bob:authenticate("token", "c-eve")
    assert.is_nil(ok)
    assert.are.equal("AUTHENTICATION_FAILED", code, err)
    ok, err, code = bob:produce("t", {"x"})
    assert.is_nil(ok)
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", code, err)
    bob:close()
    -- Both hooks were asked about eve, twice.
    local admin = assert(client.connect(srv.addr, {token = "a-admin"}))
    local stats = plugin_stats(admin)
    assert.are.equal(4, stats.authn_a.calls) -- eve, bob, eve, admin
    assert.are.equal(3, stats.authn_b.calls) -- eve, bob, eve
    admin:close()
  end)

  it("reports the reason of the hook asked last, whichever it is",
     function()
    start({"authn_b", "authn_a"})
    assert_refused("c-eve", "not a")
  end)

  it("refuses when a hook raises, without asking the hooks after it",
     function()
    -- authn_a, after the failing hook, would accept "a-alice".
    start({"authn_b", "authn_error", "authn_a"})
    local failed = "authentication failed (plugin authn_error failed)"
    assert_refused("a-alice", failed)
    assert_refused("c-eve", failed)
    -- The hooks before it still decide, and the broker keeps serving.
    local bob = assert(client.connect(srv.addr, {token = "b-bob"}))
    assert.are.equal("bob@b", principal_of(bob))
    local stats = plugin_stats(bob)
    assert.are.equal(3, stats.authn_b.calls)
    assert.are.equal(2, stats.authn_error.calls)
    assert.are.equal(2, stats.authn_error.errors)
    assert.matches("authn_error%.lua:7: authn backend down %(authenticate%)",
                   stats.authn_error.last_error)
    assert.are.equal(0, stats.authn_a.calls) -- never asked
    bob:close()
    srv:wait_log("authn_error.lua:7: authn backend down (authenticate) " ..
                  "[2 errors so far]")
    srv:wait_log("authentication failed (token): authentication failed " ..
                  "(plugin authn_error failed)")
  end)

  it("refuses everyone when the first hook raises", function()
    start({"broken_auth", "authn_a"})
    assert_refused("a-alice",
                   "authentication failed (plugin broken_auth failed)")
    srv:wait_log("broken_auth.lua:4: auth backend down (authenticate) " ..
                  "[1 error so far]")
    assert.is_true(srv:running())
  end)
end)

-- One instance of a plugin serves the auth chain and a topic's hooks when
-- the config names it in both with the same params (auth_ctx.lua): its
-- auth hooks see no request's topic or partition, and authorize sees the
-- client it is asked about as ctx.principal, never what the last produce
-- left in ctx.
describe("an auth plugin that is also a topic hook", function()
  it("gets a ctx of its own client in authenticate and authorize", function()
    local srv = server.start({config = {
      plugin_path = {FIXTURES}, auth = {"auth_ctx"},
      topics = {t = {on_produce = {"auth_ctx"}}}}})
    local alice = assert(client.connect(srv.addr, {token = "alice"}))
    assert(alice:produce("t", {"a"}))
    local bob = assert(client.connect(srv.addr, {token = "bob"}))
    assert(bob:produce("t", {"b"}))
    local recs = assert(bob:fetch("t", 0, 0)).records
    assert.are.equal(2, #recs)
    for i, who in ipairs({"alice", "bob"}) do
      local h = {}
      for _, kv in ipairs(recs[i].headers) do h[kv[1]] = kv[2] end
      assert.are.same({authn = "nil/nil/nil", authz = "nil/nil/" .. who}, h)
    end
    alice:close()
    bob:close()
    srv:finish()
  end)
end)
