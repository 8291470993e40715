-- `flyq serve` listens on a non-loopback address only with auth plugins
-- (or allow_anonymous); a reload must not take that authentication away
-- while the listener stays where it is.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"

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
end)
