-- The C example programs (examples/produce.c and consume.c, built into
-- <build>/examples/) against a broker that requires a token: with
-- FLYQ_TOKEN set they authenticate and work, without it the broker
-- refuses them and they exit 1 saying why.

local server = require("support.server")
local client = require("flyq.client")

local SHIPPED = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/plugins"
local TOKEN = "example-token-7f3a"
local q = server.q

-- Runs <build>/examples/NAME args... with FLYQ_TOKEN=token (nil: unset)
-- and stdin; returns the exit code, stdout and stderr.
local function example(name, args, token, stdin)
  local dir = server.tmpdir()
  local exe = (server.bin():match("^(.*)/[^/]*$") or ".") .. "/examples/" .. name
  local parts = {}
  for i, a in ipairs(args) do parts[i] = q(a) end
  server.write_file(dir .. "/stdin", stdin or "")
  local cmd = string.format("%s timeout 30 %s %s <%s >%s 2>%s",
                            token and "FLYQ_TOKEN=" .. q(token) or "env -u FLYQ_TOKEN",
                            q(exe), table.concat(parts, " "), q(dir .. "/stdin"),
                            q(dir .. "/stdout"), q(dir .. "/stderr"))
  local _, _, code = os.execute(cmd)
  local out, err = server.read_file(dir .. "/stdout"), server.read_file(dir .. "/stderr")
  server.rmdir(dir)
  return code, out, err
end

describe("the C examples with a broker that requires a token", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {
      plugin_path = {SHIPPED},
      auth = {plugin = "auth_token", params = {tokens = {ci = TOKEN}}},
      topics = {t = {}},
    }})
    c = assert(client.connect(srv.addr, {token = TOKEN}))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  it("produce and consume with FLYQ_TOKEN", function()
    local code, _, err = example("produce", {srv.addr, "t"}, TOKEN, "one\ntwo\nthree\n")
    assert.are.equal(0, code, err)
    assert.matches("produced 3 records", err)
    assert.are.equal(3, assert(c:fetch("t", 0, 0)).high_watermark)
    local out
    code, out, err = example("consume", {srv.addr, "t"}, TOKEN)
    assert.are.equal(0, code, err)
    assert.are.equal("one\ntwo\nthree\n", out)
    assert.matches("next offset 3", err)
  end)

  it("are refused without a token or with a wrong one, and say why", function()
    for _, token in ipairs({false, "wrong-token"}) do
      local code, _, err = example("produce", {srv.addr, "t"}, token or nil, "x\n")
      assert.are.equal(1, code, err)
      assert.matches("^produce: .+\n$", err)
      local out
      code, out, err = example("consume", {srv.addr, "t"}, token or nil)
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.matches("^consume: .+\n$", err)
    end
    assert.are.equal(0, assert(c:fetch("t", 0, 0)).high_watermark)
  end)
end)
