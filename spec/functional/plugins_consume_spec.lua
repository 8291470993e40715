-- Consumer-chosen filters (Fetch version 1) and topic-level on_consume
-- hooks: the broker runs them and only what they keep crosses the network.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"
local SHIPPED = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/plugins"

describe("consume filters", function()
  local srv, c

  before_each(function()
    -- `lower` copies 1 MiB values below: under the sanitizers that can
    -- take more than the default 10 ms of CPU; the limit is not what
    -- these tests are about.
    srv = server.start({config = {plugin_path = {PLUGINS, SHIPPED},
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

  it("reads --param values by the filter's schema types", function()
    -- apple 0, banana 1, cherry 2, apricot 3, zz 4
    local code, out, err = flyq("consume", "t", "--filter", "typed_filter",
                                "--param", "words=apple,cherry,zz",
                                "--param", "every=2", "--format", "%o %v\\n")
    assert.are.equal(0, code, err)
    assert.are.equal("0 apple\n2 cherry\n4 zz\n", out)
    code, out, err = flyq("consume", "t", "--filter", "typed_filter",
                          "--param", 'words=["banana","zz"]', "--param",
                          "invert=true", "--param", "every=3",
                          "--format", "%o %v\\n")
    assert.are.equal(0, code, err)
    assert.are.equal("0 apple\n3 apricot\n", out)
    -- the shipped sample, as docs/plugins.md shows it: 1 in 2
    code, out, err = flyq("consume", "t", "--filter", "sample", "--param",
                          "n=2", "--format", "%v\\n")
    assert.are.equal(0, code, err)
    assert.are.equal("apple\ncherry\nzz\n", out)
    -- the Lua client sends text too
    local res = assert(c:fetch("t", 0, 0, {filter = "typed_filter",
                                           params = {words = "zz", every = "4"}}))
    assert.are.equal(1, #res.records)
    assert.are.equal("zz", res.records[1].value)
  end)

  it("says which --param does not read as its type", function()
    local code, _, err = flyq("consume", "t", "--filter", "typed_filter",
                              "--param", "words=a", "--param", "every=two")
    assert.are.equal(1, code)
    assert.matches('params.every: expected integer, got "two"', err, 1, true)
    code, _, err = flyq("consume", "t", "--filter", "typed_filter",
                        "--param", "words=a", "--param", "invert=yes")
    assert.are.equal(1, code)
    assert.matches('params.invert: expected boolean, got "yes"', err, 1, true)
    code, _, err = flyq("consume", "t", "--filter", "typed_filter",
                        "--param", "words=a", "--param", "every=0")
    assert.are.equal(1, code)
    assert.matches("params.every: expected integer >= 1, got 0", err, 1, true)
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
    -- named for the client without the broker's directories, with a
    -- suggestion when a plugin is a near miss
    assert.are.equal("INVALID_CONFIG: filter nosuch: no such plugin on the broker", err)
    _, err, code = c:fetch("t", 0, 0, {filter = "contain"})
    assert.are.equal("INVALID_CONFIG", code)
    assert.are.equal('INVALID_CONFIG: filter contain: no such plugin on the broker '
                     .. '(did you mean "contains"?)', err)
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
