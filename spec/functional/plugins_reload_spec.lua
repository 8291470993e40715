-- Hot reload of the plugin runtime: SIGHUP and `flyq config apply` build a
-- new runtime and swap it in between requests; a broken plugin keeps the
-- old runtime and the error is logged. The plugin lives in the server's
-- own directory so that the spec can edit it.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

describe("plugin reload", function()
  local srv, c, plugin

  before_each(function()
    local dir = server.tmpdir()
    plugin = dir .. "/case.lua"
    write(plugin, (read(PLUGINS .. "/upper.lua"):gsub('"upper"', '"case"')))
    srv = server.start({config = {plugin_path = {dir},
                                  topics = {c = {on_produce = {"case"}}}}})
    srv.plugin_dir = dir
    c = assert(client.connect(srv.addr))
  end)

  after_each(function()
    c:close()
    srv:finish()
    server.rmdir(srv.plugin_dir)
  end)

  local function sighup_and_wait(needle, count)
    os.execute("kill -HUP " .. srv.pid)
    srv:wait_log(needle, count)
  end

  local function produce_and_read(value)
    local base = assert(c:produce("c", {value}))
    return assert(c:fetch("c", 0, base)).records[1].value
  end

  it("swaps in an edited plugin on SIGHUP", function()
    assert.are.equal("MIXED", produce_and_read("Mixed"))
    write(plugin, read(plugin):gsub("string.upper", "string.lower"))
    sighup_and_wait("runtime rebuilt and swapped in", 1)
    assert.are.equal("mixed", produce_and_read("Mixed"))
  end)

  it("keeps the old runtime when a plugin is broken", function()
    write(plugin, "return {")
    sighup_and_wait("SIGHUP: not applied", 1)
    assert.matches("plugins: topics.c.on_produce%[1%]: plugin case: .-case.lua:1:",
                   srv:log_text())
    assert.are.equal("MIXED", produce_and_read("Mixed"))
  end)

  it("refuses a whole apply whose config has a plugin whose init raises, "
     .. "and keeps the old topics and hooks", function()
    write(srv.plugin_dir .. "/badinit.lua", 'return { name = "badinit",\n'
          .. '  on_produce = function(r) return r end,\n'
          .. '  init = function() error("cannot start") end }\n')
    local file = srv.dir .. "/next.lua"
    server.write_config(file, {
      listen = "127.0.0.1:0", data_dir = srv.data_dir,
      plugin_path = {srv.plugin_dir, PLUGINS},
      topics = {c = {on_produce = {"case", "who"}},
                d = {on_produce = {"badinit"}}},
    })
    local code, out, err = server.run({"config", "apply", "-c", file,
                                       "-b", srv.addr})
    local want = "plugins: topics.d.on_produce[1]: plugin badinit: "
                 .. srv.plugin_dir .. "/badinit.lua:3: cannot start"
    assert.are.equal(1, code, out)
    assert.are.equal("", out)
    assert.are.equal("flyq config apply: ConfigApply: PLUGIN_ERROR: " .. want
                     .. "\n", err)
    srv:wait_log("config apply request: not applied, the broker keeps its "
             .. "running config: " .. want, 1)
    -- Nothing of the new file took effect: no topic d, and topic c runs
    -- case alone (who would add a header).
    local topics
    code, topics = server.run({"topic", "list", "-b", srv.addr})
    assert.are.equal(0, code)
    assert.are.equal("c\n", topics)
    local base = assert(c:produce("c", {"Mixed"}))
    local rec = assert(c:fetch("c", 0, base)).records[1]
    assert.are.equal("MIXED", rec.value)
    assert.are.same({}, rec.headers)
  end)

  it("keeps the old runtime when an edited plugin's init raises on SIGHUP",
     function()
    write(plugin, 'return { name = "case",\n'
          .. '  on_produce = function(r) r.value = string.lower(r.value) '
          .. 'return r end,\n'
          .. '  init = function() error("cannot start") end }\n')
    sighup_and_wait("SIGHUP: not applied, the broker keeps its running "
                    .. "config: plugins: topics.c.on_produce[1]: plugin case: "
                    .. plugin .. ":3: cannot start", 1)
    assert.are.equal("MIXED", produce_and_read("Mixed"))
  end)

  it("applies new hooks with config apply", function()
    local file = srv.dir .. "/next.lua"
    server.write_config(file, {
      listen = "127.0.0.1:0", data_dir = srv.data_dir,
      plugin_path = {srv.plugin_dir, PLUGINS},
      topics = {c = {on_produce = {"case", "who"}}},
    })
    local code, _, err = server.run({"config", "apply", "-c", file,
                                     "-b", srv.addr})
    assert.are.equal(0, code, err)
    local base = assert(c:produce("c", {"x"}))
    local rec = assert(c:fetch("c", 0, base)).records[1]
    assert.are.equal("X", rec.value)
    -- who.lua writes "nil": an anonymous client's ctx.principal is nil.
    assert.are.same({{"who", "nil"}}, rec.headers)
  end)
end)
