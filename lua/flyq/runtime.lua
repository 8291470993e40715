--- flyq.runtime: the Lua half of the plugin runtime (include/flyq/plugins.h).
--
-- Every plugin instance has its own Lua state; this module runs in that
-- state's trusted globals, the plugin in its sandbox environment. The C side
-- (src/host/runtime*.c, plugin*.c) calls into it once per batch, and the
-- loops over records are here. Records are lazy proxies (light userdata
-- made by C); nothing here copies a key or a value: the proxy does that
-- when a hook reads them.
--
-- Three ways to run a batch through on_produce or on_consume:
-- - The fast loop (on_error = reject, CPU-time budget): no C call for a
--   record whose hook returns it. host.fill(done, bare) gives the next
--   chunk of records, at most a slice: their proxies are s[k1..k2] of the
--   slice s (a table of proxy values made once and for all) and their
--   slots j0+k1 .. j0+k2. C's watchdog sees a record end when its hook
--   returns into a driver, and at an error reads the driver's j0 + k to
--   know which record it was. A result other than the record itself goes
--   through host.settle(j0 + k) (C passes on the kept records before it)
--   and keep(); host.finish() passes on the rest. A hook that declares
--   one parameter gets a copy of the loop that leaves ctx out of the call
--   (bare). When fill gives a chunk runner, run, the chunk starts the
--   slice (a whole one, or 64, 32, 16 or 8 records at the end of the
--   batch) and the hook is one that returns its record or nothing (C reads
--   its bytecode: src/host/hook_shape.c): run calls it on s[1] .. s[last]
--   (the call for s[k] on line k: its k is its current line) and hands
--   the results to host.check(), which finds the first one that is not
--   its record; settle_rest() goes on from there as the loop would have.
--   No compare and no loop step between two calls: a quarter less of the
--   interpreter's instructions a record (docs/benchmarks.md, session 9).
-- - The slow loop (the instruction budget is on): host.record(i) per
--   record, which starts the record's budget, and host.emit per result.
-- - Protected (on_error pass or dead_letter) with the CPU-time budget: the
--   fast loop inside host.protect (a C pcall that a budget failure cannot
--   be caught past); at a failure host.recover(message) fails the record
--   the loop's j0 + k names (applying on_error, undoing what it emitted) and
--   the loop goes on after it. C settles a kept record that cannot be
--   kept (a bad field) by failing it alone.
-- - Protected with the instruction budget: each record runs inside
--   host.protect; a failure undoes what the record emitted (host.truncate)
--   and is handed to host.fail, which applies on_error.
-- In every loop the first error of an unprotected run escapes the whole
-- run and C rejects the batch.
--
-- The host table (functions written in C, src/host/plugin_host.c):
--   fill(done, bare) -> s, k1, k2, j0, run    check(j0, ...) -> [k, rest]
--   settle(j)    finish()    exact
--   params(f) -> nparams, isvararg    json(text) -> value | nil, message
--   recover(message, nomem) -> done [, upto]
--   record(i) -> proxy           protect(f, ...) -> true | false, message, nomem
--   emit(record_or_table)        mark() -> n       truncate(n)
--   fail(i, message) -> tripped   set_partition(i, p)

local schema = require("flyq.schema")
local common = require("flyq.common")
local show = common.show

local M = {}

local HOOKS = {"init", "partition", "on_produce", "on_consume",
               "authenticate", "authorize"}

local record, protect, emit, mark, truncate, fail, set_partition
local fill, settle, finish, recover, params, exact, json
local check

--- Receives the host functions; called once per state, before setup.
function M.attach(host)
  record, protect, emit = host.record, host.protect, host.emit
  mark, truncate, fail = host.mark, host.truncate, host.fail
  set_partition = host.set_partition
  fill, settle, finish, recover = host.fill, host.settle, host.finish, host.recover
  params, exact, json = host.params, host.exact, host.json
  check = host.check
end

local function describe(v)
  local t = type(v)
  if t == "table" or t == "function" or t == "userdata" or t == "thread" then
    return "a " .. t
  end
  return show(v)
end

-- Setup -------------------------------------------------------------------------

-- The plugin table's shape; returns the message of the first problem.
local function bad_plugin(plugin)
  if type(plugin) ~= "table" then
    return "the plugin file must return a table, got " .. describe(plugin)
  end
  local name = rawget(plugin, "name")
  if not common.valid_plugin_name(name) then
    return 'name: expected 1 to 128 letters, digits, "_" and "-", got ' ..
           describe(name)
  end
  for _, hook in ipairs(HOOKS) do
    local f = rawget(plugin, hook)
    if f ~= nil and type(f) ~= "function" then
      return hook .. ": expected function, got " .. describe(f)
    end
  end
end

--- Checks the plugin table a plugin file returned and its params (a table
-- from the config's JSON; text: a consumer's --param values, all strings,
-- read by the schema's types) against its schema. Returns the params as
-- checked (defaults filled in) and whether they may hold a secret, so that
-- they are never shown (flyq stats): the plugin declares no schema (nothing
-- says what they are) or its schema marks one secret. Returns nil and a
-- message when the plugin or its params are wrong. FlyQ's own work: C runs
-- it outside the plugin's budget.
function M.check(plugin, params, text)
  local bad = bad_plugin(plugin)
  if bad then return nil, bad end
  local spec = rawget(plugin, "schema")
  if spec == nil then return params, true end
  local ok, checked, secret = pcall(schema.check, spec, params, text and json)
  if not ok then return nil, checked end
  return checked, secret
end

--- Calls init(params, ctx) of a plugin M.check accepted, with the params it
-- returned. Returns the instance (the hooks and the ctx every hook gets)
-- and the plugin's name. An error raised by init propagates.
function M.setup(plugin, params)
  local inst = {ctx = {params = params, state = {}}}
  for _, hook in ipairs(HOOKS) do inst[hook] = rawget(plugin, hook) end
  if inst.init then inst.init(params, inst.ctx) end
  return inst, rawget(plugin, "name")
end

local function set_ctx(ctx, topic, partition, principal)
  ctx.topic, ctx.partition, ctx.principal = topic, partition, principal
end

-- on_produce and on_consume --------------------------------------------------------

local RESULT = "(expected the record, nil, a new record or a list of records)"

-- Emits what a filter_map hook returned for one record: nil drops it, a
-- record (the proxy or a new table) keeps it, a list fans out.
local function keep(res)
  local t = type(res)
  if res == nil then return end
  if t == "userdata" then return emit(res) end
  if t ~= "table" then error("returned " .. describe(res) .. " " .. RESULT, 0) end
  if rawget(res, 1) == nil and next(res) ~= nil then return emit(res) end
  local n = rawlen(res)
  for k in next, res do -- a list is only a list: {rec, key = "x"} is a mistake
    if math.type(k) ~= "integer" or k < 1 or k > n then
      error(string.format("returned a list with the key %s besides its items " ..
                          "1 to %d %s", show(k), n, RESULT), 0)
    end
  end
  for i = 1, n do
    local r = rawget(res, i)
    local rt = type(r)
    if rt ~= "userdata" and rt ~= "table" then
      error(string.format("returned a list whose item %d is %s %s", i,
                          describe(r), RESULT), 0)
    end
    emit(r)
  end
end

local function step(hook, rec, ctx)
  return keep(hook(rec, ctx))
end

-- Runs record i protected: a failure undoes what it emitted and applies
-- on_error. Returns true when that failure tripped the limit breaker
-- (host.fail): the records after i have failed unrun, the loop is over.
local function protected_one(hook, i, ctx)
  local rec = record(i)
  local m = mark()
  local ok, err = protect(step, hook, rec, ctx)
  if not ok then
    truncate(m)
    return fail(i, err)
  end
end

local function protected_loop(hook, n, ctx)
  for i = 1, n do
    if protected_one(hook, i, ctx) then return end
  end
end

local function slow_loop(hook, n, ctx)
  for i = 1, n do
    local rec = record(i)
    local res = hook(rec, ctx)
    if res == rec then emit(rec) else keep(res) end
  end
end

-- What check() found in a chunk runner's results: from the slice's record
-- k on, rest[k] did not all come back as themselves; settled as the loop
-- would have (a driver: an error in keep() names the record j0 + k).
local function settle_rest(s, k, last, rest, j0)
  for k = k, last do
    local res = rest[k]
    if res ~= s[k] then
      settle(j0 + k)
      keep(res)
    end
  end
end

-- Runs the chunk of slice s fill gave (slots j0+1 .. j0+last) through
-- run, its chunk runner.
local function run_chunk(run, hook, s, j0, last, ctx)
  local k, rest = run(check, hook, s, j0, ctx)
  if k then settle_rest(s, k, last, rest, j0) end
end

local function fast_loop(hook, n, ctx, done)
  while done < n do
    local s, first, last, j0, run = fill(done, false)
    if run then
      run_chunk(run, hook, s, j0, last, ctx)
    else
      for k = first, last do -- the hot loop: the common answer (the record) first
        local rec = s[k]
        local res = hook(rec, ctx)
        if res ~= rec then
          settle(j0 + k)
          keep(res)
        end
      end
    end
    done = done + (last - first + 1)
  end
end

-- fast_loop for a hook that declares one parameter: the call leaves ctx
-- out (the hook would drop it anyway), one interpreter instruction less a
-- record, about a tenth of the hook's cost (bench_hooks,
-- docs/benchmarks.md). A copy on purpose: choosing the call inside one
-- loop would cost more than it saves. Keep the two in step.
local function fast_loop_bare(hook, n, ctx, done)
  while done < n do
    local s, first, last, j0, run = fill(done, true)
    if run then
      run_chunk(run, hook, s, j0, last)
    else
      for k = first, last do
        local rec = s[k]
        local res = hook(rec)
        if res ~= rec then
          settle(j0 + k)
          keep(res)
        end
      end
    end
    done = done + (last - first + 1)
  end
end

-- C's watchdog: a return into a driver ends a record; at an error, the
-- innermost driver's j0 + k is the record's slot, k being a chunk
-- runner's current line (C adds each runner, with the value "line").
M.drivers = {[fast_loop] = true, [fast_loop_bare] = true, [settle_rest] = true}

-- The fast loop for hook.
local function fast_loop_for(hook)
  local nparams, vararg = params(hook)
  return (nparams < 2 and not vararg) and fast_loop_bare or fast_loop
end

-- The fast loop for on_error pass or dead_letter: run under protect(); at
-- a failure, C's recover() fails that record alone and the loop goes on
-- after it (a failure that names no record, a memory error: the rest of
-- its chunk runs again one record at a time). After FLYQ__LIMIT_TRIP
-- records failed at a limit, C fails the rest unrun and recover() says
-- all are done.
local function resilient_loop(hook, n, ctx)
  local done, loop = 0, fast_loop_for(hook)
  while true do
    local ok, err, nomem = protect(loop, hook, n, ctx, done)
    if ok then return end
    local upto
    done, upto = recover(err, nomem)
    if upto then
      for i = done + 1, upto do
        if protected_one(hook, i, ctx) then return end
      end
      done = upto
    end
  end
end

local function filter_map(hook, n, ctx, protected)
  if exact then
    if protected then protected_loop(hook, n, ctx) else slow_loop(hook, n, ctx) end
  else
    if protected then
      resilient_loop(hook, n, ctx)
    else
      fast_loop_for(hook)(hook, n, ctx, 0)
    end
    finish()
  end
end

--- Runs inst.on_produce over the n records of the current call.
function M.produce(inst, n, topic, partition, principal, protected)
  set_ctx(inst.ctx, topic, partition, principal)
  filter_map(inst.on_produce, n, inst.ctx, protected)
end

--- Runs inst.on_consume over the n records of the current call.
function M.consume(inst, n, topic, partition, principal, protected)
  set_ctx(inst.ctx, topic, partition, principal)
  filter_map(inst.on_consume, n, inst.ctx, protected)
end

-- partition -------------------------------------------------------------------------

local function place(hook, rec, nparts, ctx, i)
  local p = hook(rec, nparts, ctx)
  local q = math.type(p) and math.tointeger(p)
  if not q or q < 0 or q >= nparts then
    error(string.format("returned %s (expected an integer from 0 to %d)",
                        describe(p), nparts - 1), 0)
  end
  set_partition(i, q)
end

--- Runs inst.partition over the n records of the current call.
function M.partition(inst, n, nparts, topic, principal, protected)
  local hook, ctx = inst.partition, inst.ctx
  set_ctx(ctx, topic, nil, principal)
  for i = 1, n do
    local rec = record(i)
    if protected then
      local ok, err = protect(place, hook, rec, nparts, ctx, i)
      if not ok and fail(i, err) then return end
    else
      place(hook, rec, nparts, ctx, i)
    end
  end
end

-- Authentication and authorization --------------------------------------------------

-- The credentials table: mechanism and data always; token for "token";
-- username and password for "plain" (RFC 4616: [authzid] NUL user NUL pass).
local function credentials(mechanism, data)
  local c = {mechanism = mechanism, data = data}
  if mechanism == "token" then c.token = data end
  if mechanism == "plain" then
    local authzid, user, pass = data:match("^([^%z]*)%z([^%z]*)%z([^%z]*)$")
    c.authzid, c.username, c.password = authzid, user, pass
  end
  return c
end

local PRINCIPAL_MAX = 255 -- bytes: it is logged, and sent in responses

--- authenticate(credentials, conn, ctx) -> principal | nil, reason.
-- Returns the principal, or nil and the reason (a string or nil).
function M.authenticate(inst, mechanism, data, remote, loc)
  local conn = {remote = remote, ["local"] = loc}
  set_ctx(inst.ctx, nil, nil, nil) -- no request's: not the last one's
  local principal, reason = inst.authenticate(credentials(mechanism, data),
                                              conn, inst.ctx)
  if principal == nil or principal == false then
    return nil, type(reason) == "string" and reason or nil
  end
  if type(principal) ~= "string" or principal == "" then
    error("authenticate returned " .. describe(principal) ..
          " (expected a principal string, or nil and a reason)", 0)
  end
  -- Not quoted: a principal may be made of what the client sent.
  if #principal > PRINCIPAL_MAX or principal:find("[%z\1-\31\127]") then
    error(string.format("authenticate returned a principal of %d bytes that is " ..
                        "not one (at most %d bytes, no control characters)",
                        #principal, PRINCIPAL_MAX), 0)
  end
  return principal
end

--- authorize(principal, action, resource, ctx) -> true | false | nil.
function M.authorize(inst, principal, action, resource)
  set_ctx(inst.ctx, nil, nil, principal) -- this client's, not the last one's
  local answer = inst.authorize(principal, action, resource, inst.ctx)
  if answer ~= nil and type(answer) ~= "boolean" then
    error("authorize returned " .. describe(answer) ..
          " (expected true, false or nil)", 0)
  end
  return answer
end

return M
