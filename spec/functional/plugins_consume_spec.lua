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

-- The stored batches of a fetch start at the batch holding the fetch
-- offset: the records of that batch below it go neither through the
-- topic's on_consume hooks nor out, so a consumer gets past a record the
-- hook fails on by starting after it, and errors are counted only for
-- records a fetch would return.
describe("on_consume from inside a stored batch", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {plugin_path = {PLUGINS}, topics = {
      cons = {on_consume = {"failing_consume"}},
      cpass = {on_consume = {"failing_consume"}, on_error = "pass"},
    }}})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  local function flyq(...)
    return server.run({...}, {env = {FLYQ_BROKER = srv.addr}})
  end

  -- The failing_consume instances' errors, from Stats.
  local function errors()
    local n = 0
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.name == "failing_consume" then n = n + p.errors end
    end
    return n
  end

  it("gets the records after a failing one of the same batch", function()
    assert.are.equal(0, assert(c:produce("cons", {"a1", "bad", "b2", "cfan",
                                                  "zz"})))
    local _, err, code = c:fetch("cons", 0, 0)
    assert.are.equal("PLUGIN_ERROR", code)
    assert.matches("bad record (on_consume, offset 1)", err, 1, true)
    local status, _, cerr = flyq("consume", "cons", "--from", "0")
    assert.are.equal(1, status)
    assert.matches("(on_consume, offset 1)", cerr, 1, true)
    local out
    status, out, cerr = flyq("consume", "cons", "--from", "2", "--format",
                             "%o %v\\n")
    assert.are.equal(0, status, cerr)
    assert.are.equal("2 b2\n3 cfan\n4 zz\n", out)
    -- Only those records cross the network.
    local res = assert(c:fetch("cons", 0, 3))
    local sent = client.decode_batches(res.bytes)
    assert.are.equal(2, #sent)
    assert.are.equal(3, sent[1].offset)
    assert.are.equal(5, res.next_offset)
    -- The same through a consumer's filter.
    assert(c:produce("plain", {"a1", "bad", "b2"}))
    status, out, cerr = flyq("consume", "plain", "--filter", "failing_consume",
                             "--from", "2", "--format", "%o %v\\n")
    assert.are.equal(0, status, cerr)
    assert.are.equal("2 b2\n", out)
  end)

  -- failing_consume returns its record or nothing: it runs 128 records
  -- at a time (docs/plugins.md, "Speed"). A failure deep in a large
  -- stored batch still names its offset, fetched from the batch's start
  -- or from inside it, and a consumer gets past it.
  it("names the offset of a failure deep in a large batch", function()
    local batch = {}
    for i = 1, 600 do batch[i] = i == 451 and "bad" or "v" .. (i - 1) end
    assert.are.equal(0, assert(c:produce("cons", batch)))
    for _, from in ipairs({0, 300}) do
      local _, err, code = c:fetch("cons", 0, from)
      assert.are.equal("PLUGIN_ERROR", code)
      assert.matches("bad record (on_consume, offset 450)", err, 1, true)
    end
    local status, out, cerr = flyq("consume", "cons", "--from", "451", "-n",
                                   "3", "--format", "%o %v\\n")
    assert.are.equal(0, status, cerr)
    assert.are.equal("451 v451\n452 v452\n453 v453\n", out)
    -- Chunks that ran: from 0, three slices before the failing one; from
    -- 300, one; from 451 (149 records), a slice, 16 records, then 5 one by
    -- one.
    local chunked = 0
    for _, p in ipairs(assert(c:stats()).plugins) do
      if p.name == "failing_consume" then chunked = chunked + p.chunked_calls end
    end
    assert.are.equal(3 * 128 + 128 + 128 + 16, chunked)
  end)

  it("counts no errors for records before the fetch offset", function()
    assert(c:produce("cpass", {"a1", "bad", "b2", "cfan", "zz"}))
    local res = assert(c:fetch("cpass", 0, 2))
    assert.are.equal(3, #res.records)
    assert.are.equal("b2", res.records[1].value)
    assert.are.equal(0, errors())
    -- From the start the hook fails on "bad", which passes unchanged.
    res = assert(c:fetch("cpass", 0, 0))
    assert.are.equal(5, #res.records)
    assert.are.equal("bad", res.records[2].value)
    assert.are.equal(1, errors())
    assert.matches("bad record (on_consume, offset 1)", srv:log_text(), 1, true)
  end)
end)

-- A filter that fails on a record (on_error reject) fails the fetch of
-- that partition only: `flyq consume` across the topic reports it once,
-- with how to get past it, and goes on printing (and committing) the
-- other partitions; its exit status says a partition failed.
describe("a consumer filter failing on one partition of many", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {plugin_path = {PLUGINS},
                                  topics = {four = {partitions = 4}}}})
    c = assert(client.connect(srv.addr))
    assert(c:produce("four", {"a0"}, {partition = 0}))
    for p = 1, 3 do
      assert(c:produce("four", {"x" .. p, "y" .. p}, {partition = p}))
    end
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  local function consume(...)
    return server.run({"consume", "four", "--filter", "failing_consume",
                       "--format", "%p %v\\n", ...},
                      {env = {FLYQ_BROKER = srv.addr}, timeout = 20})
  end

  local function sorted_lines(s)
    local t = {}
    for l in s:gmatch("([^\n]*)\n") do t[#t + 1] = l end
    table.sort(t)
    return table.concat(t, ",")
  end

  it("prints the healthy partitions and reports the failing one once", function()
    assert(c:produce("four", {"bad", "c0"}, {partition = 0}))
    local status, out, err = consume()
    assert.are.equal(1, status)
    -- Nothing of partition 0 is sent (not even a0, before the record).
    assert.are.equal("1 x1,1 y1,2 x2,2 y2,3 x3,3 y3", sorted_lines(out))
    local _, n = err:gsub("PLUGIN_ERROR", "")
    assert.are.equal(1, n, err)
    assert.matches("Fetch four[0]: PLUGIN_ERROR: plugin failing_consume: ",
                   err, 1, true)
    assert.matches("bad record (on_consume, offset 1)", err, 1, true)
    assert.matches("four[0]: stopped at offset 0; to skip the record: " ..
                   "-p 0 --from 2, or the topic's on_error = \"pass\"", err,
                   1, true)
    -- The hint gets past it.
    status, out, err = consume("-p", "0", "--from", "2")
    assert.are.equal(0, status, err)
    assert.are.equal("0 c0\n", out)
  end)

  it("counts -n over the healthy partitions", function()
    assert(c:produce("four", {"bad"}, {partition = 0}))
    local status, out = consume("-n", "3")
    assert.are.equal(1, status)
    assert.are.equal("1 x1,1 y1,2 x2", sorted_lines(out))
  end)

  it("follows the healthy partitions with -f", function()
    assert(c:produce("four", {"bad"}, {partition = 0}))
    local status, out = consume("-f", "-n", "6")
    assert.are.equal(1, status)
    assert.are.equal("1 x1,1 y1,2 x2,2 y2,3 x3,3 y3", sorted_lines(out))
    -- With no healthy partition left there is nothing to follow.
    status, out = consume("-f", "-p", "0")
    assert.are.equal(1, status)
    assert.are.equal("", out)
  end)

  it("never commits a group's position past the failing record", function()
    local status, out, err = consume("-g", "g")
    assert.are.equal(0, status, err)
    assert.are.equal("0 a0,1 x1,1 y1,2 x2,2 y2,3 x3,3 y3", sorted_lines(out))
    assert(c:produce("four", {"bad", "c0"}, {partition = 0}))
    assert(c:produce("four", {"z1"}, {partition = 1}))
    status, out = consume("-g", "g")
    assert.are.equal(1, status)
    assert.are.equal("1 z1", sorted_lines(out))
    assert.are.equal(1, assert(c:committed("g", "four", 0)))
    for p = 1, 3 do
      assert.are.equal(p == 1 and 3 or 2, assert(c:committed("g", "four", p)))
    end
  end)
end)

-- A large fetch through a trivial hook: hundreds of thousands of records in
-- one call make the runtime's tables grow and the garbage collector run in
-- long single pieces of C; none of that is a record's to pay for, so the
-- hook never hits its (default, 10 ms) time limit.
describe("a large fetch through a trivial on_consume hook", function()
  local srv, c

  before_each(function()
    srv = server.start({config = {plugin_path = {PLUGINS},
                                  topics = {big = {on_consume = {"tag_consume"}}}}})
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
  end)

  it("never fails on the time limit", function()
    local values = {}
    for i = 1, 50000 do values[i] = tostring(i) end
    for _ = 1, 6 do assert(c:produce("big", values)) end
    for _ = 1, 5 do
      local res = assert(c:fetch("big", 0, 0, {max_bytes = 8 << 20}))
      assert.is_true(#res.records > 250000)
      assert.are.equal("A", server.header(res.records[#res.records], "c"))
    end
  end)
end)
