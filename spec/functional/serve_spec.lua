-- `flyq serve` and `flyq config` as an operator meets them: starting with
-- no config, checking config files, refusing a broken one, stopping cleanly
-- on SIGTERM, restarting after a crash. Uses the real binary ($FLYQ_BIN)
-- through spec/support/server.lua.

local server = require("support.server")

local source_dir = os.getenv("FLYQ_SOURCE_DIR") or "."

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

-- A port nothing listens on right now, in the range the kernel does not
-- hand out for port 0 (below ip_local_port_range).
local function free_port()
  for _ = 1, 50 do
    local port = math.random(20000, 30000)
    if not server.can_connect("127.0.0.1", port) then return port end
  end
  error("no free port found")
end

describe("flyq serve", function()
  local srv, dir

  after_each(function()
    if srv then srv:close() end
    if dir then server.rmdir(dir) end
    srv, dir = nil, nil
  end)

  it("starts without a config file in an empty directory", function()
    srv = server.start({config = false})
    assert.is_true(srv.port > 0)
    assert.is_true(server.can_connect("127.0.0.1", srv.port))
    assert.is_truthy(srv:log_text():find("listening on 127.0.0.1:" .. srv.port,
                                         1, true))
    -- the default data directory is ./data, relative to the working directory
    assert.is_true(file_exists(srv.dir .. "/data"))
    assert.are.equal(0, srv:stop())
    srv:assert_clean_log()
  end)

  it("exits 0 on SIGTERM within a bounded time and leaves clean markers", function()
    srv = server.start({config = {topics = {orders = {partitions = 2}}}})
    local t0 = os.time()
    assert.are.equal(0, srv:stop(15))
    assert.is_true(os.time() - t0 <= 15)
    assert.is_false(server.can_connect("127.0.0.1", srv.port))
    for p = 0, 1 do
      local marker = string.format("%s/orders/%d/.clean", srv.data_dir, p)
      assert.is_true(file_exists(marker), marker)
    end
    srv:assert_clean_log()
  end)

  it("recovers after SIGKILL and is clean again after a restart", function()
    srv = server.start({config = {topics = {events = {partitions = 1}}}})
    local marker = srv.data_dir .. "/events/0/.clean"
    assert.are.equal(137, srv:kill9())
    assert.is_false(file_exists(marker))
    srv:restart()
    assert.is_true(srv:running())
    assert.is_true(server.can_connect("127.0.0.1", srv.port))
    assert.are.equal(0, srv:stop())
    assert.is_true(file_exists(marker))
    srv:assert_clean_log()
  end)

  it("refuses a broken config: exit 1, the error, nothing listening", function()
    dir = server.tmpdir()
    local port = free_port()
    local config = dir .. "/flyq.lua"
    server.write_config(config, {
      listen = "127.0.0.1:" .. port,
      data_dir = dir .. "/data",
      topics = {orders = {partitions = "six"}},
    })
    local code, _, err = server.run({"serve", "-c", config, "--port-file",
                                     dir .. "/port"}, {timeout = 20})
    assert.are.equal(1, code)
    assert.is_truthy(err:find(config .. ': topics.orders.partitions: '
                              .. 'expected integer >= 1, got "six"', 1, true), err)
    assert.is_false(file_exists(dir .. "/port"))
    assert.is_false(server.can_connect("127.0.0.1", port))
  end)

  it("refuses a plugin whose init raises: exit 1, the config key, the "
     .. "plugin, its file:line and message, nothing listening", function()
    dir = server.tmpdir()
    write(dir .. "/badinit.lua", 'return { name = "badinit",\n'
          .. '  on_produce = function(r) return r end,\n'
          .. '  authenticate = function() return "x" end,\n'
          .. '  init = function(params) error("no way: " .. params.why) end }\n')
    write(dir .. "/fine.lua", 'return { name = "fine",\n'
          .. '  on_produce = function(r) return r end,\n'
          .. '  authenticate = function() return "x" end }\n')
    -- The same plugin as a topic's hook and as an auth plugin.
    for _, case in ipairs({
      {key = "topics.t.on_produce[2]",
       config = {topics = {t = {on_produce = {
         "fine", {plugin = "badinit", params = {why = "hook"}}}}}},
       why = "hook"},
      {key = "auth[2]",
       config = {auth = {"fine", {plugin = "badinit", params = {why = "auth"}}}},
       why = "auth"},
    }) do
      local config = dir .. "/flyq.lua"
      case.config.listen = "127.0.0.1:0"
      case.config.data_dir = dir .. "/data"
      case.config.plugin_path = {dir}
      server.write_config(config, case.config)
      local code, out, err = server.run({"serve", "-c", config, "--port-file",
                                         dir .. "/port"}, {timeout = 20})
      assert.are.equal(1, code, err)
      assert.are.equal("", out)
      assert.are.equal("flyq serve: plugins: " .. case.key .. ": plugin "
                       .. "badinit: " .. dir .. "/badinit.lua:4: no way: "
                       .. case.why .. "\n", err)
      assert.is_false(file_exists(dir .. "/port"))
    end
  end)

  it("refuses fewer partitions than a topic has, and changes nothing", function()
    srv = server.start({config = {topics = {orders = {partitions = 4}}}})
    assert.are.equal(0, srv:stop())
    local config = srv.dir .. "/fewer.lua"
    server.write_config(config, {
      listen = "127.0.0.1:0", data_dir = srv.data_dir,
      topics = {orders = {partitions = 3, retention = {ms = "1h"}}},
    })
    local code, _, err = server.run({"serve", "-c", config}, {timeout = 20})
    assert.are.equal(1, code)
    assert.is_truthy(err:find(config .. ": topics.orders.partitions: 3, but "
                              .. "the topic has 4 partitions in "
                              .. srv.data_dir .. ": partition counts only "
                              .. "grow", 1, true), err)
    -- The broker comes back on its old config with the topic as it was.
    srv:restart()
    local out
    code, out = server.run({"topic", "describe", "orders", "-b", srv.addr})
    assert.are.equal(0, code)
    assert.matches("^topic orders: 4 partitions", out)
    assert.is_nil(out:find("retention.ms = 3600000", 1, true), out)
  end)

  it("refuses more topics than limits.max_topics, counting those on disk",
     function()
    srv = server.start({config = {topics = {a = {}, b = {}}}})
    assert.are.equal(0, srv:stop())
    local function serve(name, config)
      local path = srv.dir .. "/" .. name
      config.listen, config.data_dir = "127.0.0.1:0", srv.data_dir
      server.write_config(path, config)
      local code, _, err = server.run({"serve", "-c", path}, {timeout = 10})
      return code, err, path
    end
    -- The file alone declares too many: refused as it loads.
    local code, err, path = serve("three.lua", {
      limits = {max_topics = 2}, topics = {a = {}, c = {}, d = {}}})
    assert.are.equal(1, code)
    assert.is_truthy(err:find(path .. ": limits.max_topics: 2, but the file "
                              .. "declares 3 topics", 1, true), err)
    -- With the topics in the data directory, a and b plus c is too many.
    code, err, path = serve("more.lua", {limits = {max_topics = 2},
                                         topics = {a = {}, c = {}}})
    assert.are.equal(1, code)
    assert.is_truthy(err:find(path .. ": limits.max_topics: 2, but the "
                              .. "broker would hold 3 topics (2 in "
                              .. srv.data_dir .. " and 1 declared that it "
                              .. "does not have)", 1, true), err)
    -- Counted as a plan counts them: a is there already.
    server.write_config(srv.config_path, {
      listen = "127.0.0.1:0", data_dir = srv.data_dir,
      limits = {max_topics = 3}, topics = {a = {}, c = {}}})
    srv:restart()
    local out
    code, out = server.run({"topic", "list", "-b", srv.addr})
    assert.are.equal(0, code)
    assert.are.equal("a\nb\nc\n", out)
    code, out = server.run({"config", "plan", "-b", srv.addr})
    assert.are.equal(0, code, out)
  end)

  it("makes server.start fail with the log when the broker cannot start", function()
    local ok, err = pcall(server.start, {config = {bogus = true}})
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("bogus: unknown key", 1, true), err)
  end)

  it("has --help", function()
    local code, out = server.run({"serve", "--help"})
    assert.are.equal(0, code)
    for _, flag in ipairs({"--config", "--listen", "--data-dir", "--port-file"}) do
      assert.is_truthy(out:find(flag, 1, true), flag)
    end
  end)
end)

describe("flyq config check", function()
  local dir

  before_each(function() dir = server.tmpdir() end)
  after_each(function() server.rmdir(dir) end)

  -- The plugin instances a config asks for: one per use of a plugin by
  -- name (a string or {plugin = ...}) in a hook list, a partitioner other
  -- than the built-ins, or auth.
  local BUILTIN = {round_robin = true, key_hash = true, sticky = true}
  local function uses(v)
    if type(v) == "string" then return BUILTIN[v] and 0 or 1 end
    if type(v) ~= "table" then return 0 end -- an inline function
    if v.plugin then return 1 end
    local n = 0
    for _, x in ipairs(v) do n = n + uses(x) end
    return n
  end

  it("accepts examples/flyq.lua and loads its plugins", function()
    local example = source_dir .. "/examples/flyq.lua"
    for _, demo in ipairs({false, true}) do
      local env = {FLYQ_AUTH_DEMO = demo and "1" or nil}
      local code, out, err = server.run({"config", "check", "-c", example},
                                        {env = env})
      assert.are.equal(0, code, err)
      -- The counts come from the example itself, evaluated as the broker
      -- would see it (env() as the broker's).
      local chunk = assert(loadfile(example, "t", {
        env = function(name, default)
          return env[name] or os.getenv(name) or default
        end,
      }))
      local config, topics, plugins = chunk(), 0, 0
      for _, t in pairs(config.topics) do
        topics = topics + 1
        plugins = plugins + uses(t.partitioner) + uses(t.on_produce)
                  + uses(t.on_consume)
      end
      plugins = plugins + uses(config.auth or {})
      assert.is_true(topics > 1 and plugins > 1)
      assert.are.equal(("ok: %s (%d topics, %d plugins loaded)\n")
                       :format(example, topics, plugins), out)
    end
  end)

  it("loads the plugins as the broker would, and reports what fails", function()
    local config = dir .. "/flyq.lua"
    local function check(text)
      write(config, text)
      return server.run({"config", "check", "-c", config})
    end
    local code, out, err = check('return { plugin_path = {"' .. dir
                                 .. '"}, topics = { t = { on_produce = "nosuch" } } }')
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("flyq config check: plugins: topics.t.on_produce: "
                     .. "plugin nosuch: no nosuch.lua on plugin_path (" .. dir
                     .. ")\n", err)
    -- A near miss gets a suggestion: a plugin file on the path, or a
    -- built-in partitioner.
    write(dir .. "/tagger.lua", 'return { name = "tagger", on_produce = '
          .. 'function(r) return r end }\n')
    code, _, err = check('return { plugin_path = {"' .. dir
                         .. '"}, topics = { t = { on_produce = "taggr" } } }')
    assert.are.equal(1, code)
    assert.matches('topics.t.on_produce: plugin taggr: no taggr.lua on '
                   .. 'plugin_path (' .. dir .. ') (did you mean "tagger"?)\n',
                   err, 1, true)
    code, _, err = check('return { topics = { t = { partitioner = "keyhash" } } }')
    assert.are.equal(1, code)
    assert.matches('topics.t.partitioner: plugin keyhash: no keyhash.lua on '
                   .. 'plugin_path (empty) (did you mean "key_hash"?)\n',
                   err, 1, true)
    -- A plugin whose params fail its schema, named with the key path.
    code, _, err = check('return { plugin_path = {"' .. source_dir
                         .. '/plugins"}, topics = { t = { on_produce = '
                         .. '{ plugin = "sample", params = { n = "ten" } } } } }')
    assert.are.equal(1, code)
    assert.matches("^flyq config check: plugins: topics.t.on_produce: "
                   .. "plugin sample: params.n: ", err)
    -- A plugin whose init fails.
    write(dir .. "/badinit.lua", 'return { name = "badinit", on_produce = '
          .. 'function(r) return r end,\n  init = function() error("no way") end }\n')
    code, _, err = check('return { plugin_path = {"' .. dir
                         .. '"}, topics = { t = { on_produce = "badinit" } } }')
    assert.are.equal(1, code)
    assert.matches("badinit.lua:2: no way", err, 1, true)
    -- The listen rule of flyq serve.
    code, _, err = check('return { listen = "0.0.0.0:7500" }')
    assert.are.equal(1, code)
    assert.matches("^flyq config check: refusing to listen on 0.0.0.0:7500: "
                   .. "it is not a loopback address and no auth plugin", err)
    code, out = check('return { listen = "0.0.0.0:7500", allow_anonymous = true }')
    assert.are.equal(0, code)
    assert.are.equal("ok: " .. config .. " (0 topics, 0 plugins loaded)\n", out)
  end)

  it("rejects a broken file with the key path and exits 1", function()
    local config = dir .. "/flyq.lua"
    write(config, 'return {\n  defaults = { segment = { bytes = "12XB" } },\n}\n')
    local code, out, err = server.run({"config", "check", "-c", config})
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("flyq config check: " .. config
                     .. ': defaults.segment.bytes: expected size (bytes '
                     .. 'or a string like "256MiB"), got "12XB"\n', err)
  end)

  it("rejects more declared topics than limits.max_topics", function()
    local config = dir .. "/flyq.lua"
    server.write_config(config, {data_dir = dir .. "/data",
                                 limits = {max_topics = 1},
                                 topics = {a = {}, b = {}, c = {}}})
    local code, out, err = server.run({"config", "check", "-c", config})
    assert.are.equal(1, code, out)
    assert.are.equal("flyq config check: " .. config
                     .. ": limits.max_topics: 1, but the file "
                     .. "declares 3 topics\n", err)
  end)

  it("reports a syntax error with file and line", function()
    local config = dir .. "/flyq.lua"
    write(config, "return {\n  listen = ,\n}\n")
    local code, _, err = server.run({"config", "check", "-c", config})
    assert.are.equal(1, code)
    assert.are.equal("flyq config check: " .. config
                     .. ":2: unexpected symbol near ','\n", err)
  end)

  it("stops an endless loop quickly", function()
    local config = dir .. "/flyq.lua"
    write(config, "while true do end\n")
    local code, _, err = server.run({"config", "check", "-c", config},
                                    {timeout = 20})
    assert.are.equal(1, code)
    assert.are.equal("flyq config check: " .. config
                     .. ":1: instruction limit exceeded "
                     .. "(50000000 instructions)\n", err)
  end)

  it("plan and apply need a running broker (config_reload_spec.lua)", function()
    for _, cmd in ipairs({"plan", "apply"}) do
      local code, _, err = server.run({"config", cmd, "-b", "127.0.0.1:1"})
      assert.are.equal(1, code)
      assert.is_truthy(err:find("flyq config " .. cmd .. ": connecting to "
                                .. "127.0.0.1:1", 1, true), err)
    end
    local code, out = server.run({"config", "--help"})
    assert.are.equal(0, code)
    assert.is_truthy(out:find("flyq config apply", 1, true))
  end)
end)
