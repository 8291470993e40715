-- The config schema module (lua/flyq/config.lua) on its own: unit parsing,
-- value rendering, key paths, and the shape check() hands to C. The sandbox
-- and the C side are covered by spec/c/test-host-config.c.

local config = require("flyq.config")

-- A stand-in for flyq_name_validate: enough to see that check() uses it.
local function valid_name(name)
  return name:match("^[%w._-]+$") ~= nil and name:sub(1, 2) ~= "__"
end

local ctx = {file = "flyq.lua", valid_name = valid_name, max_partitions = 10000}

local function check(cfg)
  return config.check(cfg, ctx)
end

local function check_error(cfg)
  local ok, err = pcall(config.check, cfg, ctx)
  assert.is_false(ok, "check() accepted the config")
  return err
end

describe("flyq.config", function()
  describe("parse_size", function()
    local cases = {
      {0, 0}, {4096, 4096}, {4096.0, 4096}, {-1, -1},
      {"1024", 1024}, {"1024B", 1024}, {" 8 KiB ", 8192},
      {"512KiB", 512 * 1024}, {"256MiB", 256 * 1024 ^ 2},
      {"3GiB", 3 * 1024 ^ 3}, {"2TiB", 2 * 1024 ^ 4},
      {"7KB", 7000}, {"7MB", 7 * 1000 ^ 2}, {"10GB", 10 * 1000 ^ 3},
      {"1TB", 1000 ^ 4},
    }
    for _, c in ipairs(cases) do
      it("reads " .. config.show(c[1]), function()
        local n = config.parse_size(c[1])
        assert.are.equal("integer", math.type(n))
        assert.are.equal(math.tointeger(c[2]), n)
      end)
    end

    it("rejects what is not a size", function()
      for _, v in ipairs({"12XB", "1.5GiB", "mib", "", "-1", "10 gb", "1KiBKiB",
                          "99999999999999999999", "9000000TiB", 1.5, true, {}}) do
        assert.is_nil(config.parse_size(v), config.show(v))
      end
    end)
  end)

  describe("parse_duration", function()
    local cases = {
      {1500, 1500}, {-1, -1}, {"250ms", 250}, {"10s", 10000},
      {"30m", 1800000}, {"1h", 3600000}, {"7d", 604800000},
      {"1h30m", 5400000}, {"1d12h", 129600000}, {"0s", 0},
      {"10", 10}, {"0", 0}, {"9223372036854775807", math.maxinteger},
      {" 1h", 3600000}, {"1h ", 3600000}, {"1h 30m", 5400000},
      {" 10 s ", 10000}, {" 1500 ", 1500},
    }
    for _, c in ipairs(cases) do
      it("reads " .. config.show(c[1]), function()
        assert.are.equal(c[2], config.parse_duration(c[1]))
      end)
    end

    it("rejects what is not a duration", function()
      for _, v in ipairs({"7y", "1.5h", "h", "", "  ", "-1", "-10", "10 00",
                          "1h30", "9223372036854775808", "99999999999999999999",
                          "99999999999999999999d", "100000000000000d", 2.5, {}}) do
        assert.is_nil(config.parse_duration(v), config.show(v))
      end
    end)
  end)

  describe("show", function()
    it("renders values without calling metamethods", function()
      assert.are.equal('"six"', config.show("six"))
      assert.are.equal('"a\\"b\\\\c\\n\\0"', config.show('a"b\\c\n\0'))
      assert.are.equal("6", config.show(6))
      assert.are.equal("1.5", config.show(1.5))
      assert.are.equal("nan", config.show(0/0))
      assert.are.equal("nan", config.show(-(0/0)))
      assert.are.equal("inf", config.show(math.huge))
      assert.are.equal("nil", config.show(nil))
      assert.are.equal("a table", config.show(setmetatable({}, {
        __tostring = function() error("called") end})))
      assert.are.equal('"' .. ("x"):rep(60) .. '..."', config.show(("x"):rep(100)))
    end)
  end)

  describe("join", function()
    it("writes identifiers with dots and other keys in brackets", function()
      assert.are.equal("topics", config.join("", "topics"))
      assert.are.equal("topics.orders", config.join("topics", "orders"))
      assert.are.equal('topics["a-b"]', config.join("topics", "a-b"))
      assert.are.equal("topics[1]", config.join("topics", 1))
    end)
  end)

  describe("check", function()
    it("returns the flat shape config.c reads", function()
      local out = check({
        listen = "127.0.0.1:0",
        flush = {messages = 10, interval_ms = "2s"},
        limits = {max_frame_bytes = "1MiB"},
        defaults = {partitions = 2, retention = {ms = "1h"}},
        topics = {b = {partitions = 4, flush = {messages = 1}}, a = {}},
      })
      assert.are.same({
        listen = "127.0.0.1:0",
        ["limits.max_frame_bytes"] = 1048576,
        defaults = {partitions = 2, ["retention.ms"] = 3600000,
                    ["flush.messages"] = 10, ["flush.interval_ms"] = 2000},
        topics = {{name = "a"},
                  {name = "b", partitions = 4, ["flush.messages"] = 1}},
      }, out)
    end)

    it("names the file and the key path", function()
      assert.are.equal(
        'flyq.lua: topics.orders.partitions: expected integer >= 1, got "six"',
        check_error({topics = {orders = {partitions = "six"}}}))
      assert.are.equal(
        'flyq.lua: topics["a/b"]: invalid topic name (1 to 249 characters of '
        .. 'A-Z a-z 0-9 . _ -, not "." or "..", not starting with "__")',
        check_error({topics = {["a/b"] = {}}}))
    end)

    it("suggests the closest key", function()
      assert.are.equal(
        'flyq.lua: defaults.retention.msec: unknown key (did you mean "ms"?)',
        check_error({defaults = {retention = {msec = 1}}}))
      assert.are.equal('flyq.lua: zzzzzz: unknown key',
                       check_error({zzzzzz = 1}))
    end)

    it("reports the first problem in key order", function()
      assert.are.equal('flyq.lua: a: unknown key',
                       check_error({b = 1, a = 1, listen = 5}))
      assert.are.equal('flyq.lua: [1]: unknown key',
                       check_error({[1] = 1, listen = 5}))
    end)

    it("reports a table's unknown keys before its bad values", function()
      assert.are.equal('flyq.lua: zzz: unknown key',
                       check_error({zzz = 1, auto_create_topics = "yes"}))
      assert.are.equal('flyq.lua: topics.t.zzz: unknown key',
                       check_error({topics = {t = {partitions = 0, zzz = 1}}}))
      -- Tables are checked outside in: a bad value of the outer table comes
      -- before an unknown key of an inner table that sorts after it.
      assert.are.equal('flyq.lua: allow_anonymous: expected boolean, got 1',
                       check_error({allow_anonymous = 1,
                                    defaults = {zzz = 1}}))
    end)

    it("refuses strings with NUL bytes where C needs a string", function()
      assert.are.equal(
        'flyq.lua: data_dir: expected non-empty string without NUL bytes, '
        .. 'got "/tmp\\0x"',
        check_error({data_dir = "/tmp\0x"}))
    end)

    it("shows NaN as nan", function()
      assert.are.equal("flyq.lua: defaults.partitions: expected integer >= 1, "
                       .. "got nan", check_error({defaults = {partitions = 0/0}}))
    end)

    it("checks the host of an address by its characters", function()
      for _, addr in ipairs({"127.0.0.1:0", "localhost:7500", "[::1]:7500",
                             "[fe80::1%eth0]:80", "broker-1.example.com:80"}) do
        assert.are.equal(addr, check({listen = addr}).listen)
      end
      for _, addr in ipairs({"a b:80", "256.1.1.1:80", "1.2.3:80",
                             "[localhost]:80", "x\0y:80"}) do
        assert.are.equal("flyq.lua: http: expected address whose host is a "
                         .. "name, an IPv4 address or an [IPv6] address in "
                         .. "brackets, got " .. config.show(addr),
                         check_error({http = addr}))
      end
    end)

    it("refuses params for a built-in partitioner", function()
      for _, name in ipairs({"key_hash", "round_robin", "sticky"}) do
        assert.are.equal(
          "flyq.lua: topics.t.partitioner.params: " .. name .. " is a "
          .. "built-in partitioner, which takes no params",
          check_error({topics = {t = {partitioner = {plugin = name,
                                                     params = {a = 1}}}}}))
        local out = check({topics = {t = {partitioner = {plugin = name,
                                                         params = {}}}}})
        assert.are.same({name = name, params = "{}", path = "topics.t.partitioner"},
                        out.topics[1].partitioner)
      end
      -- A plugin partitioner takes them.
      local out = check({topics = {t = {partitioner = {plugin = "by_region",
                                                       params = {a = 1}}}}})
      assert.are.same({name = "by_region", params = '{"a":1}',
                       path = "topics.t.partitioner"}, out.topics[1].partitioner)
    end)

    it("needs a table", function()
      assert.are.equal("flyq.lua: the config file must return a table, got nil",
                       check_error(nil))
    end)
  end)
end)
