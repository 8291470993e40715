-- Consumer-chosen filters (Fetch version 1) and topic-level on_consume
-- hooks: the broker runs them and only what they keep crosses the network.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"

describe("consume filters", function()
  local srv, c

  before_each(function()
    -- `lower` copies 1 MiB values below: under the sanitizers that can
    -- take more than the default 10 ms of CPU; the limit is not what
    -- these tests are about.
    srv = server.start({config = {plugin_path = {PLUGINS},
                                  plugins = {limits = {time_ms = 2000}},
                                  topics = {lo = {on_consume = {"lower"}}}}})
    c = assert(client.connect(srv.addr))
    assert(c:produce("t", {"apple", "banana", "cherry", "apricot", "zz"}))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  local function flyq(...)
    return server.run({...}, {env = {FLYQ_BROKER = srv.addr}})
  end

  it("filters on the broker with flyq consume --filter --param", function()
    local code, out, err = flyq("consume", "t", "--filter", "contains",
                                "--param", "text=ap", "--format", "%o %v\\n")
    assert.are.equal(0, code, err)
    assert.are.equal("0 apple\n3 apricot\n", out)
  end)

  it("sends only the kept records and where to go on", function()
    local res = assert(c:fetch("t", 0, 0, {filter = "contains",
                                           params = {text = "an"}}))
    assert.are.equal(1, #res.records)
    assert.are.equal("banana", res.records[1].value)
    assert.is_true(#res.bytes < 200) -- one small batch, not all five
    assert.are.equal(5, res.next_offset)
    res = assert(c:fetch("t", 0, 0, {filter = "contains",
                                     params = {text = "nothing"}}))
    assert.are.same({}, res.records)
    assert.are.equal(5, res.next_offset)
    local code, out = flyq("consume", "t", "--filter", "contains",
                           "--param", "text=nothing")
    assert.are.equal(0, code)
    assert.are.equal("", out)
  end)

  it("reports unknown filters and bad params per partition", function()
    local _, err, code = c:fetch("t", 0, 0, {filter = "nosuch"})
    assert.are.equal("INVALID_CONFIG", code)
    assert.matches("nosuch", err, 1, true)
    _, err, code = c:fetch("t", 0, 0, {filter = "contains"})
    assert.are.equal("INVALID_CONFIG", code)
    assert.matches("params.text", err, 1, true)
    _, _, code = c:fetch("t", 0, 0, {filter = "../etc/passwd"})
    assert.are.equal("INVALID_REQUEST", code)
  end)

  it("bounds what a filtered fetch reads into memory", function()
    -- 12 batches of 1 MiB; a fetch asking for 64 MiB through the topic's
    -- on_consume hook gets at most 8 MiB (plus one batch), and goes on.
    local big = ("X"):rep(1024 * 1024)
    for _ = 1, 12 do assert(c:produce("lo", {big})) end
    local res = assert(c:fetch("lo", 0, 0, {max_bytes = 64 * 1024 * 1024}))
    assert.is_true(#res.records >= 1 and #res.records <= 9, #res.records)
    assert.are.equal(("x"):rep(1024 * 1024), res.records[1].value)
    local seen = #res.records
    while seen < 12 do
      res = assert(c:fetch("lo", 0, seen, {max_bytes = 64 * 1024 * 1024}))
      assert.is_true(#res.records >= 1)
      seen = seen + #res.records
    end
    assert.are.equal(12, seen)
  end)

  it("applies the topic's on_consume to every fetch", function()
    assert(c:produce("lo", {"HeLLo"}))
    assert.are.equal("hello", assert(c:fetch("lo", 0, 0)).records[1].value)
    local code, out = flyq("consume", "lo")
    assert.are.equal(0, code)
    assert.are.equal("hello\n", out)
  end)
end)
