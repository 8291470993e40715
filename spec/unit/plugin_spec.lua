-- The plugin runtime's Lua side and its command line tool: params schemas
-- (lua/flyq/schema.lua), the driver (lua/flyq/runtime.lua) with stand-in
-- host functions, and `flyq plugin test` (src/cli/plugin.c) on sample
-- records. The runtime itself (sandbox, limits, batches) is covered by
-- spec/c/test-host-plugin*.c.

local schema = require("flyq.schema")
local runtime = require("flyq.runtime")
local server = require("support.server")
local cjson = require("cjson")

local function check_error(s, params)
  local ok, err = pcall(schema.check, s, params)
  assert.is_false(ok, "check() accepted the params")
  return err
end

describe("flyq.schema", function()
  local s = {
    token = {type = "string", required = true},
    header = {type = "string", default = "x-token"},
    mode = {type = "string", enum = {"mask", "drop"}, default = "mask"},
    limit = {type = "integer", min = 1, max = 100},
    ratio = "number",
    tags = {type = "array", items = "string"},
    limits = {type = "table", fields = {rate = {type = "number", required = true}}},
    names = {type = "map", values = "string"},
    extra = "any",
  }

  it("fills in defaults and keeps what was given", function()
    local p = schema.check(s, {token = "t", limit = 5.0, tags = {"a", "b"}})
    assert.are.same({token = "t", header = "x-token", mode = "mask", limit = 5,
                     tags = {"a", "b"}}, p)
    assert.are.equal("integer", math.type(p.limit)) -- 5.0 from JSON
  end)

  it("does not share defaults between calls", function()
    local t = {list = {type = "array", default = {}}}
    local a, b = schema.check(t, {}), schema.check(t, {})
    a.list[1] = "x"
    assert.are.same({}, b.list)
  end)

  it("names the key path of a bad value", function()
    assert.are.equal('params.limits.rate: expected number, got "fast"',
                     check_error(s, {token = "t", limits = {rate = "fast"}}))
    assert.are.equal('params.tags[2]: expected string, got 3',
                     check_error(s, {token = "t", tags = {"a", 3}}))
    assert.are.equal('params.names.x: expected string, got true',
                     check_error(s, {token = "t", names = {x = true}}))
    assert.are.equal("params.limit: expected integer <= 100, got 101",
                     check_error(s, {token = "t", limit = 101}))
    assert.are.equal("params.limit: expected integer, got 1.5",
                     check_error(s, {token = "t", limit = 1.5}))
    assert.are.equal('params.mode: expected one of "mask", "drop", got "keep"',
                     check_error(s, {token = "t", mode = "keep"}))
  end)

  it("reports missing and unknown keys", function()
    assert.are.equal("params.token: required", check_error(s, {}))
    assert.are.equal('params.tokn: unknown key (did you mean "token"?)',
                     check_error(s, {token = "t", tokn = 1}))
    assert.are.equal("params.limits.rate: required",
                     check_error(s, {token = "t", limits = {}}))
  end)

  it("never shows a secret value, only its type", function()
    local t = {key = {type = "string", secret = true, enum = {"a"}},
               keys = {type = "map", values = "string", secret = true},
               open = "string"}
    assert.are.equal("params.key: expected string, got an integer",
                     check_error(t, {key = 42}))
    assert.are.equal('params.key: expected one of "a", got a string',
                     check_error(t, {key = "s3cret"}))
    assert.are.equal("params.keys.ci: expected string, got a boolean",
                     check_error(t, {keys = {ci = true}}))
    assert.are.equal("params.keys: expected table, got a string",
                     check_error(t, {keys = "s3cret"}))
    -- Other keys still show their values, also after a secret failed.
    assert.are.equal('params.open: expected string, got 7',
                     check_error(t, {open = 7}))
    -- The shipped auth_token marks its tokens secret.
    local ok, err = pcall(schema.check, dofile(os.getenv("FLYQ_SOURCE_DIR")
                          .. "/plugins/auth_token.lua").schema, {tokens = "s3cret"})
    assert.is_false(ok)
    assert.are.equal("params.tokens: expected table, got a string", err)
  end)

  it("checks the schema itself", function()
    assert.are.equal('schema.n.type: expected a type (string, integer, number, ' ..
                     'boolean, array, table, map, any), got "int"',
                     check_error({n = "int"}, {}))
    assert.are.equal('schema.n.requird: unknown key (did you mean "required"?)',
                     check_error({n = {type = "string", requird = true}}, {}))
  end)
end)

describe("flyq.config plugin keys", function()
  local config = require("flyq.config")
  local ctx = {file = "f.lua", max_partitions = 100}

  local function check_error(cfg)
    local ok, err = pcall(config.check, cfg, ctx)
    assert.is_false(ok, "check() accepted the config")
    return err
  end

  it("exports plugins with their params as JSON", function()
    local out = config.check({
      plugin_path = "plugins", prune = true,
      plugins = {limits = {instructions = 5000, memory = "2MiB"}},
      auth = {plugin = "tokens", params = {tokens = {a = "alice"}, n = 2, f = 0.5}},
      topics = {t = {partitioner = function() end, on_error = "pass",
                     on_produce = {"a", {plugin = "b", params = {list = {1, "x", true}}}}}},
    }, ctx)
    assert.are.same({"plugins"}, out.plugin_path)
    assert.are.equal(true, out.prune)
    assert.are.equal(5000, out["plugins.limits.instructions"])
    assert.are.equal(2097152, out["plugins.limits.memory"])
    assert.are.same({{name = "tokens", params = '{"f":0.5,"n":2,"tokens":{"a":"alice"}}',
                      path = "auth"}}, out.auth) -- one plugin: no [1]
    local t = out.topics[1]
    assert.is_true(t.partitioner.inline)
    assert.are.equal("topics.t.partitioner", t.partitioner.path)
    assert.are.equal("function", type(t.partitioner.fn))
    assert.are.equal("pass", t.on_error)
    assert.are.same({{name = "a", params = "{}", path = "topics.t.on_produce[1]"},
                     {name = "b", params = '{"list":[1,"x",true]}',
                      path = "topics.t.on_produce[2]"}}, t.on_produce)
  end)

  it("gives each plugin the key path of the schema's messages", function()
    local out = config.check({topics = {["alice-syn"] = {
      on_produce = {"a"}, on_consume = "b", partitioner = "p"}}}, ctx)
    local t = out.topics[1]
    assert.are.equal('topics["alice-syn"].on_produce[1]', t.on_produce[1].path)
    assert.are.equal('topics["alice-syn"].on_consume', t.on_consume[1].path)
    assert.are.equal('topics["alice-syn"].partitioner', t.partitioner.path)
  end)

  it("hints at the plugin form for a table without plugin", function()
    local hint = 'a table without "plugin" (a plugin with params is written '
                 .. '{ plugin = "name", params = { ... } })'
    assert.are.equal("f.lua: topics.t.on_produce[2]: " .. hint,
                     check_error({topics = {t = {on_produce = {
                       "redact", {fields = {"card"}}}}}}))
    assert.are.equal("f.lua: auth: " .. hint,
                     check_error({auth = {params = {tokens = {}}}}))
    assert.are.equal("f.lua: topics.t.partitioner: " .. hint,
                     check_error({topics = {t = {partitioner = {}}}}))
  end)

  it("names the key path of a bad plugin entry", function()
    assert.are.equal('f.lua: topics.t.on_produce[2]: expected plugin name or ' ..
                     '{ plugin = "name", params = {...} }, got 5',
                     check_error({topics = {t = {on_produce = {"a", 5}}}}))
    assert.are.equal('f.lua: auth.plugin: expected plugin name (letters, digits, ' ..
                     '"_" and "-"), got "../x"',
                     check_error({auth = {plugin = "../x"}}))
    assert.are.equal("f.lua: topics.t.partitioner.params.f: expected string, number, " ..
                     "boolean or table (params are data), got a function",
                     check_error({topics = {t = {partitioner = {plugin = "p",
                                                                params = {f = print}}}}}))
    assert.are.equal("f.lua: auth.params[1]: params tables must be arrays (keys 1..n) " ..
                     "or have string keys",
                     check_error({auth = {plugin = "p", params = {[1] = 1, x = 2}}}))
    assert.are.equal('f.lua: topics.t.on_error: expected one of "reject", "pass", ' ..
                     '"dead_letter", got "ignore"',
                     check_error({topics = {t = {on_error = "ignore"}}}))
    -- params may hold secrets: a bad one is named by its type only
    assert.are.equal("f.lua: auth.params: expected table, got a string",
                     check_error({auth = {plugin = "auth_token", params = "s3cret"}}))
  end)
end)

-- A stand-in for the C host functions: records are plain tables here.
local function fake_host(records)
  local host = {emitted = {}, failed = {}, parts = {}}
  function host.record(i) return records[i] end
  function host.emit(r) host.emitted[#host.emitted + 1] = r end
  -- As C's message handler does, protect notes the fast loop's j0 + k at
  -- an error (when the loop is on the stack), for recover.
  local failed_slot
  local function note_slot(e)
    for level = 2, 100 do
      local info = debug.getinfo(level, "f")
      if info == nil then break end
      if runtime.drivers[info.func] then
        local j0, k
        for n = 1, 100 do
          local name, v = debug.getlocal(level, n)
          if name == nil then break end
          if name == "j0" then j0 = v end
          if name == "k" then k = v end
        end
        failed_slot = j0 and k and j0 + k
        break
      end
    end
    return e
  end
  function host.protect(f, ...)
    failed_slot = nil
    return xpcall(f, note_slot, ...)
  end
  function host.mark() return #host.emitted end
  function host.truncate(n)
    for i = #host.emitted, n + 1, -1 do host.emitted[i] = nil end
  end
  function host.fail(i, err) host.failed[#host.failed + 1] = {i, err} end
  function host.set_partition(i, p) host.parts[i] = p end
  -- The fast loop's part, as src/host/plugin_host.c does it, with chunks
  -- of 2 records so that the specs cross chunk boundaries (and no chunk
  -- runner: spec/c/test-host-plugin-fast.c and plugins_produce_spec have
  -- those).
  local base, first, settled = 0, 1, 0
  function host.params(f)
    local info = debug.getinfo(f, "u")
    return info.nparams, info.isvararg
  end
  function host.fill(done)
    local m = math.min(2, #records - done)
    local s, j0 = {}, 10 + done -- slots are not record numbers
    for k = 1, m do s[k] = records[done + k] end
    first, base = j0 + 1, done
    return s, 1, m, j0, false
  end
  local function pass_on(upto)
    for i = settled + 1, upto do host.emit(records[i]) end
    settled = math.max(settled, upto)
  end
  local emitting, emit_mark = 0, 0
  function host.settle(j)
    pass_on(base + j - first)
    settled = base + j - first + 1
    emitting, emit_mark = settled, #host.emitted
  end
  function host.finish() pass_on(#records) end
  function host.recover(err)
    local rec = assert(failed_slot, "the error names no record") + base - first + 1
    if rec == emitting then host.truncate(emit_mark) else pass_on(rec - 1) end
    host.fail(rec, err)
    settled, emitting = rec, 0
    return rec
  end
  runtime.attach(host)
  return host
end

describe("flyq.runtime", function()
  it("refuses a bad plugin table with a message", function()
    assert.are.same({nil, "the plugin file must return a table, got 5"},
                    {runtime.check(5, {})})
    assert.are.same({nil, "on_produce: expected function, got a table"},
                    {runtime.check({name = "x", on_produce = {}}, {})})
    local params, msg = runtime.check({name = "x", schema = {n = "integer"}}, {n = "1"})
    assert.is_nil(params)
    assert.are.equal('params.n: expected integer, got "1"', msg)
  end)

  it("calls init with the checked params and a ctx", function()
    local seen
    local plugin = {
      name = "p", schema = {n = {type = "integer", default = 3}},
      init = function(params, ctx) seen = {params.n, ctx.params.n, type(ctx.state)} end,
    }
    local params = assert(runtime.check(plugin, {}))
    assert.are.equal(3, params.n)
    local inst, name = runtime.setup(plugin, params)
    assert.are.equal("p", name)
    assert.are.same({3, 3, "table"}, seen)
    assert.are.equal(3, inst.ctx.params.n)
  end)

  it("keeps, drops, fans out and checks what hooks return", function()
    local a, b, c = {key = "a"}, {key = "b"}, {key = "c"}
    local host = fake_host({a, b, c})
    local inst = runtime.setup({name = "p", on_produce = function(r, ctx)
      assert(ctx.topic == "t" and ctx.principal == "alice")
      if r.key == "b" then return nil end
      if r.key == "c" then return {r, {key = "c2"}} end
      return r
    end}, {})
    runtime.produce(inst, 3, "t", nil, "alice", false)
    assert.are.same({a, c, {key = "c2"}}, host.emitted)
    inst = runtime.setup({name = "p", on_produce = function() return 42 end}, {})
    local ok, err = pcall(runtime.produce, inst, 1, "t", nil, nil, false)
    assert.is_false(ok)
    assert.are.equal("returned 42 (expected the record, nil, a new record or " ..
                     "a list of records)", err)
    -- A list is only a list: a field beside its items is a mistake.
    inst = runtime.setup({name = "p", on_produce = function()
      return {{key = "x"}, key = "y"}
    end}, {})
    ok, err = pcall(runtime.produce, inst, 1, "t", nil, nil, false)
    assert.is_false(ok)
    assert.are.equal('returned a list with the key "key" besides its items 1 to 1 ' ..
                     "(expected the record, nil, a new record or a list of records)", err)
  end)

  it("undoes a failed record's output when protected", function()
    local host = fake_host({{key = "a"}, {key = "b"}})
    local inst = runtime.setup({name = "p", on_produce = function(r)
      if r.key == "b" then return {r, 7} end
      return r
    end}, {})
    runtime.produce(inst, 2, "t", nil, nil, true)
    assert.are.same({{key = "a"}}, host.emitted)
    assert.are.equal(2, host.failed[1][1])
    assert.matches("item 2 is 7", host.failed[1][2])
  end)

  it("goes on after each failed record when protected", function()
    local recs = {}
    for i = 1, 7 do recs[i] = {key = tostring(i)} end
    local host = fake_host(recs)
    local calls = 0
    local inst = runtime.setup({name = "p", on_produce = function(r)
      calls = calls + 1
      if r.key == "2" or r.key == "5" then error("bad " .. r.key, 0) end
      if r.key == "6" then return {r, {key = "6b"}, false} end
      if r.key == "4" then return nil end
      return r
    end}, {})
    runtime.produce(inst, 7, "t", nil, nil, true)
    assert.are.same({recs[1], recs[3], recs[7]}, host.emitted)
    assert.are.same({2, "bad 2"}, host.failed[1])
    assert.are.same({5, "bad 5"}, host.failed[2])
    assert.are.equal(6, host.failed[3][1])
    assert.matches("item 3 is false", host.failed[3][2])
    assert.are.equal(7, calls) -- every hook ran once
  end)

  it("checks partitions", function()
    local host = fake_host({{key = "a"}, {key = "b"}})
    local inst = runtime.setup({name = "p", partition = function(r, n)
      return r.key == "a" and n - 1 or n
    end}, {})
    runtime.partition(inst, 2, 4, "t", nil, true)
    assert.are.same({[1] = 3}, host.parts)
    assert.are.equal("returned 4 (expected an integer from 0 to 3)", host.failed[1][2])
  end)
end)

describe("flyq plugin test", function()
  local dir

  before_each(function() dir = server.tmpdir() end)
  after_each(function() server.rmdir(dir) end)

  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
    return dir .. "/" .. name
  end

  local function records(lines)
    local out = {}
    for _, r in ipairs(lines) do out[#out + 1] = cjson.encode(r) end
    return table.concat(out, "\n") .. "\n"
  end

  -- The output lines "N outcome {json}" as {n, outcome, decoded json}.
  local function outcomes(stdout)
    local out = {}
    for line in stdout:gmatch("[^\n]+") do
      local n, what, rest = line:match("^(%d+) (%a[%a ]-%d*) ?({.*)$")
      if n then
        out[#out + 1] = {tonumber(n), what, cjson.decode(rest)}
      elseif line:match("^%d+ ") then
        out[#out + 1] = {tonumber(line:match("^%d+")), line:match("^%d+ (.*)$")}
      end
    end
    return out
  end

  local plugin = [[
return {
  name = "tagger",
  schema = { tag = { type = "string", required = true } },
  on_produce = function(record, ctx)
    if record.key == "drop" then return nil end
    if record.key == "boom" then error("no " .. record.key) end
    if record.key == "keep" then return record end
    flyq.counter("tagged")
    record.value = record.value .. ctx.params.tag
    if record.key == "both" then
      return { record, { key = "audit", value = record.value, topic = "audit" } }
    end
    return record
  end,
  partition = function(record, n) return #record.key % n end,
}
]]

  it("prints what would be stored, dropped, fanned out and failed", function()
    local file = write("tagger.lua", plugin)
    local code, out, err = server.run({"plugin", "test", file, "--params", '{"tag":"!"}',
                                       "--topic", "orders"},
      {stdin = records({
        {key = "a", value = "x", timestamp = 7, headers = {h = "1"}},
        {key = "drop", value = "x"},
        {key = "both", value = "y", timestamp = 8},
        {key = "keep", value = "z", timestamp = 9},
        {key = "boom", value = "x"},
      })})
    local o = outcomes(out)
    assert.are.equal(1, code, err) -- a record failed
    assert.are.same({1, "stored", {topic = "orders", partition = -1, offset = 0,
                     timestamp = 7, key = "a", value = "x!", headers = {h = "1"}}}, o[1])
    assert.are.same({2, "dropped"}, o[2])
    assert.are.equal("orders", o[3][3].topic)
    assert.are.equal("y!", o[3][3].value)
    assert.are.same({3, "stored"}, {o[4][1], o[4][2]})
    assert.are.equal("audit", o[4][3].topic)
    assert.are.same({4, "kept"}, {o[5][1], o[5][2]})
    assert.are.equal("z", o[5][3].value)
    assert.are.equal(5, o[6][1])
    -- The line number leads; the runtime's "record 1" (each line runs as
    -- a batch of one) is left out.
    assert.matches("^error plugin tagger: .*tagger%.lua:6: no boom %(on_produce%)$",
                   o[6][2])
    assert.matches("summary: 5 records in, 4 stored: 1 kept, 2 changed, 1 dropped, " ..
                   "1 fanned out, 1 error", out)
    assert.matches("time: [%d.]+ ms total, [%d.]+ us per record", out)
    assert.matches("counter tagged = 2", out)
  end)

  it("places records with a partition hook", function()
    local file = write("tagger.lua", plugin)
    local input = write("in.jsonl", records({{key = "ab"}, {key = "abc"}, {key = "abcd"}}))
    local code, out = server.run({"plugin", "test", file, "--params", '{"tag":"!"}',
                                  "--hook", "partition", "--partitions", "3",
                                  "--input", input})
    assert.are.equal(0, code)
    local o = outcomes(out)
    assert.are.same({"partition 2", "partition 0", "partition 1"},
                    {o[1][2], o[2][2], o[3][2]})
  end)

  it("places each line alone and names the line of a failed placement", function()
    local file = write("pf.lua", [[
return { name = "pf", partition = function(record, n)
  if record.value == "neg" then return -1 end
  return #record.value % n
end }
]])
    local input = write("in.jsonl", records({{value = "ab"}, {value = "neg"}, {value = "abc"}}))
    for _, mode in ipairs({"reject", "pass"}) do
      local code, out = server.run({"plugin", "test", file, "--hook", "partition",
                                    "--partitions", "3", "--on-error", mode,
                                    "--input", input})
      assert.are.equal(1, code, mode)
      local o = outcomes(out)
      local want = {{1, "partition 2"}, {2, "error"}, {3, "partition 0"}}
      if mode == "pass" then -- the failed record, placed by key_hash (no key: 0)
        table.insert(want, 3, {2, "partition 0"})
      end
      assert.are.equal(#want, #o, mode)
      for i, w in ipairs(want) do
        local what = o[i][2]:match("^partition %d+") or o[i][2]:match("^error")
        assert.are.same(w, {o[i][1], what}, mode)
      end
      assert.matches("^error plugin pf: returned %-1 %(expected an integer from 0 to 2%) "
                     .. "%(partition%)$", o[2][2])
      assert.matches("summary: 3 records in, " .. (mode == "pass" and 3 or 2) ..
                     " placed, 1 error", out, 1, true)
    end
  end)

  it("checks a partition a hook sets against --partitions", function()
    local file = write("setp.lua", [[
return { name = "setp", on_produce = function(record)
  local p = tonumber(record.value)
  if record.key == "new" then return { value = "n", partition = p } end
  if record.key == "route" then record.topic = "elsewhere" end
  record.partition = p
  return record
end }
]])
    local code, out = server.run({"plugin", "test", file, "--topic", "orders",
                                  "--partitions", "2"},
      {stdin = records({{value = "1"}, {value = "2"}, {key = "new", value = "5"},
                        {key = "route", value = "7"}})})
    assert.are.equal(1, code)
    local o = outcomes(out)
    assert.are.same({1, "stored"}, {o[1][1], o[1][2]})
    assert.are.equal(1, o[1][3].partition)
    for i, p in pairs({[2] = 2, [3] = 5}) do
      assert.are.same({i, 'error plugin setp: record.partition: no partition ' .. p ..
                          ' in topic "orders" (partitions 0 to 1) (on_produce)'}, o[i])
    end
    -- Another topic's partitions are not known here: the broker checks them.
    assert.are.same({4, "stored"}, {o[4][1], o[4][2]})
    assert.are.same({"elsewhere", 7}, {o[4][3].topic, o[4][3].partition})
  end)

  it("needs a readable NAME.lua", function()
    local code, _, err = server.run({"plugin", "test", dir .. "/none.lua", "--input", "/dev/null"})
    assert.are.equal(1, code)
    assert.matches("cannot read .*/none%.lua: No such file or directory", err)
    local file = write("tagger", plugin)
    code, _, err = server.run({"plugin", "test", file, "--input", "/dev/null"})
    assert.are.equal(1, code)
    assert.matches("tagger: a plugin file is NAME%.lua", err)
  end)

  it("reports a plugin that does not load", function()
    local file = write("tagger.lua", plugin)
    local code, _, err = server.run({"plugin", "test", file}, {stdin = ""})
    assert.are.equal(1, code)
    assert.matches("plugin tagger: params.tag: required", err)
    code, _, err = server.run({"plugin", "test", file, "--hook", "sideways"})
    assert.are.equal(2, code)
    assert.matches("bad %-%-hook 'sideways'", err)
  end)
end)
