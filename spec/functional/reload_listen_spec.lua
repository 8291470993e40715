-- `flyq serve` listens on a non-loopback address only with an auth plugin
-- that has an authenticate hook (or allow_anonymous); a reload must not
-- take that authentication away while the listener stays where it is, and
-- must not accept a file that the next start would refuse (docs/config.md,
-- "Reloading": validate first).

local server = require("support.server")
local client = require("flyq.client")

local SOURCE = os.getenv("FLYQ_SOURCE_DIR") or "."
local PLUGINS = SOURCE .. "/spec/fixtures/plugins"

local function config(with_auth)
  local c = {listen = "0.0.0.0:0", plugin_path = {PLUGINS}}
  if with_auth then
    c.auth = {plugin = "tokens", params = {tokens = {tok = "alice"}}}
  end
  return c
end

describe("reload on a non-loopback listener", function()
  it("refuses a config without auth plugins", function()
    local srv = server.start({config = config(true)})
    server.write_config(srv.config_path, config(false))
    os.execute("kill -HUP " .. srv.pid)
    server.wait_for(function() return srv:log_text():find("SIGHUP: ", 1, true) end,
                    20, "the reload's outcome")
    assert.is_truthy(srv:log_text():find("SIGHUP: not applied", 1, true))
    local c = assert(client.connect(srv.addr))
    local _, err, code = c:metadata()
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", code, err)
    c:close()
    srv:finish()
  end)

  it("refuses to drop auth for a loopback address that waits for a restart",
     function()
    local srv = server.start({config = config(true)})
    local moved = config(false)
    moved.listen = "127.0.0.1:0"
    server.write_config(srv.config_path, moved)
    os.execute("kill -HUP " .. srv.pid)
    local refused = "SIGHUP: not applied, the broker keeps its running "
      .. "config: refused for the listener in use (its address and "
      .. "allow_anonymous change only at a restart): refusing to listen on "
      .. "0.0.0.0:0"
    server.wait_for(function() return srv:log_text():find("SIGHUP: ", 1, true) end,
                    20, "the reload's outcome")
    assert.matches(refused, srv:log_text(), 1, true)
    local c = assert(client.connect(srv.addr))
    local _, merr, mcode = c:metadata()
    assert.are.equal("CLUSTER_AUTHORIZATION_FAILED", mcode, merr)
    c:close()
    srv:finish()
  end)
end)

-- Whatever a reload accepts, `flyq config check` (and so the next start)
-- accepts too, and the other way round: each file below is refused by
-- check, by plan and apply with the same reason, and changes nothing.
describe("the listen rule at the next start", function()
  local srv

  after_each(function()
    srv:finish()
  end)

  local function flyq(...)
    return server.run({...}, {env = {FLYQ_BROKER = srv.addr}})
  end

  -- Writes config (with srv's data_dir) to srv's directory; returns the path.
  local function config_file(name, config)
    local copy = {data_dir = srv.data_dir}
    for k, v in pairs(config) do copy[k] = v end
    local path = srv.dir .. "/" .. name
    server.write_config(path, copy)
    return path
  end

  -- check, plan and apply all refuse file with want in the message; the
  -- broker's own file still plans as "no changes".
  local function refused_everywhere(file, want)
    local code, out, err = server.run({"config", "check", "-c", file})
    assert.are.equal(1, code, "check: " .. out)
    assert.matches(want, err, 1, true)
    for _, cmd in ipairs({"plan", "apply"}) do
      code, out, err = flyq("config", cmd, "-c", file)
      assert.are.equal(1, code, cmd .. ": " .. out)
      assert.matches("INVALID_CONFIG", err, 1, true)
      assert.matches(want, err, 1, true)
    end
    code, out = flyq("config", "plan")
    assert.are.equal(0, code, out)
    assert.are.equal("no changes\n", out)
  end

  it("refuses allow_anonymous = false on a non-loopback address in use",
     function()
    srv = server.start({config = {listen = "0.0.0.0:0",
                                  allow_anonymous = true}})
    local file = config_file("closed.lua", {listen = "0.0.0.0:0",
                                            allow_anonymous = false})
    refused_everywhere(file, "refusing to listen on 0.0.0.0:0: it is not a "
                       .. "loopback address and no auth plugin with an "
                       .. "authenticate hook is configured")
    -- The broker's own file, so edited: SIGHUP refuses it and logs why.
    config_file("flyq.lua", {listen = "0.0.0.0:0", allow_anonymous = false})
    os.execute("kill -HUP " .. srv.pid)
    server.wait_for(function()
      return srv:log_text():find("SIGHUP: not applied, the broker keeps its "
                                 .. "running config: ", 1, true)
    end, 20, "the refused SIGHUP in the log")
    assert.matches("refusing to listen on 0.0.0.0:0", srv:log_text(), 1, true)
    assert.is_nil(srv:log_text():find("SIGHUP: applied", 1, true))
    assert.is_true(srv:running())
  end)

  it("refuses a new non-loopback address whose auth cannot authenticate",
     function()
    srv = server.start({config = {plugin_path = {SOURCE .. "/plugins"}}})
    local file = config_file("acl.lua", {
      listen = "0.0.0.0:7123", plugin_path = {SOURCE .. "/plugins"},
      auth = {plugin = "acl", params = {rules = {{allow = true}}}}})
    refused_everywhere(file, "refusing to listen on 0.0.0.0:7123: it is not "
                       .. "a loopback address and no auth plugin with an "
                       .. "authenticate hook is configured")
  end)

  it("refuses a listen address that does not parse, with or without "
     .. "allow_anonymous, naming the file and the key", function()
    srv = server.start({config = {}})
    for _, anonymous in ipairs({true, false}) do
      for _, addr in ipairs({"256.1.1.1:80", "a b:80"}) do
        local file = config_file("bad.lua", {listen = addr,
                                             allow_anonymous = anonymous})
        refused_everywhere(file, file .. ": listen: expected address whose "
                           .. "host is a name, an IPv4 address or an [IPv6] "
                           .. 'address in brackets, got "' .. addr .. '"')
      end
    end
  end)

  it("refuses a listen address that does not resolve, naming the file and "
     .. "the key", function()
    srv = server.start({config = {}})
    local file = config_file("bad.lua", {listen = "nosuch.invalid:80"})
    refused_everywhere(file, file .. ': listen: bad address '
                       .. '"nosuch.invalid:80": ')
  end)
end)
