--- flyq.config: the schema of the broker's config file, and its checker.
--
-- The host (src/host/config.c) runs the operator's config file in a sandbox
-- and hands the table it returned to check(), which validates every key
-- against the schema below and returns a copy in the shape config.c reads:
-- sizes in bytes, durations in milliseconds. Defaults are not applied here;
-- they live in flyq_config_init (C), so an absent key stays absent.
--
-- A failure raises a string "FILE: key.path: reason" (error level 0).
--
-- Adding a key: one line in the schema below, one entry in the field table
-- of src/host/config.c if C needs the value, and a line in docs/config.md.

local common = require("flyq.common")

local M = {}

local U32 = 0xffffffff

-- Values in messages (flyq.common, re-exported) ------------------------------

M.show, M.kind, M.join = common.show, common.kind, common.join
M.suggestion, M.sorted_keys = common.suggestion, common.sorted_keys
M.valid_plugin_name = common.valid_plugin_name
local suggestion, sorted_keys = common.suggestion, common.sorted_keys

local function fail(ctx, path, fmt, ...)
  local where = ctx.file and ctx.file .. ": " or ""
  if path ~= "" then where = where .. path .. ": " end
  error(where .. string.format(fmt, ...), 0)
end

local function expected(ctx, path, what, v)
  fail(ctx, path, "expected %s, got %s", what, M.show(v))
end

-- Units ----------------------------------------------------------------------

local size_units = {
  B = 1, KB = 1000, MB = 1000000, GB = 1000000000, TB = 1000000000000,
  KiB = 1024, MiB = 1048576, GiB = 1073741824, TiB = 1099511627776,
}

local duration_units = {ms = 1, s = 1000, m = 60000, h = 3600000, d = 86400000}

-- An integer value of v if v is a number with no fractional part.
local function integer(v)
  return math.type(v) and math.tointeger(v) or nil
end

--- Bytes for a size: an integer, or a string of digits with an optional
-- unit ("1024", "1024B", "512KiB", "10GB"). nil if v is not a size.
function M.parse_size(v)
  local n = integer(v)
  if n or type(v) ~= "string" then return n end
  local digits, unit = v:match("^%s*(%d+)%s*(%a*)%s*$")
  local mult = size_units[unit == "" and "B" or unit]
  n = digits and math.tointeger(tonumber(digits))
  if not (n and mult) or n > math.maxinteger // mult then return nil end
  return n * mult
end

--- Milliseconds for a duration: an integer, a string of digits ("1500",
-- milliseconds, as a size's digits are bytes), or a string of one or more
-- <digits><unit> parts ("250ms", "10s", "30m", "1h", "7d", "1h30m"); spaces
-- around the whole and its parts are allowed, as in sizes ("1h 30m"). nil
-- if v is not a duration (or does not fit in an integer).
function M.parse_duration(v)
  local n = integer(v)
  if n or type(v) ~= "string" then return n end
  v = v:match("^%s*(.-)%s*$")
  if v == "" then return nil end
  if v:match("^%d+$") then return math.tointeger(tonumber(v)) end
  local total, pos = 0, 1
  while pos <= #v do
    local digits, unit, nxt = v:match("^(%d+)%s*(%a+)%s*()", pos)
    local mult = duration_units[unit]
    n = digits and math.tointeger(tonumber(digits))
    if not (n and mult) or n > (math.maxinteger - total) // mult then
      return nil
    end
    total, pos = total + n * mult, nxt
  end
  return total
end

-- Types ------------------------------------------------------------------------
--
-- A type is a table with check(v, path, ctx), which returns the normalized
-- value or raises through fail(). ctx is the table given to M.check.

local T = {}
M.types = T

-- A bound may name a field of ctx instead ("max_partitions"), for limits
-- that the host knows.
local function bound(b, ctx)
  if type(b) == "string" then return ctx[b] end
  return b
end

--- integer{min=, max=}: a whole number (an integral float is accepted).
function T.integer(o)
  local what = o.min and "integer >= " .. o.min or "integer"
  return {check = function(v, path, ctx)
    local n, max = integer(v), bound(o.max, ctx)
    if not n or (o.min and n < o.min) then expected(ctx, path, what, v) end
    if max and n > max then expected(ctx, path, "integer <= " .. max, v) end
    return n
  end}
end

-- Shared by size and duration: off is the meaning of -1 when allowed.
local function measure(parse, what, unit, o)
  local min = o.min or 0
  local hint = o.off and string.format(" or -1 (%s)", o.off) or ""
  return {check = function(v, path, ctx)
    local n = parse(v)
    if o.off and n == -1 then return n end
    if not n then expected(ctx, path, what .. hint, v) end
    if n < min then
      expected(ctx, path, string.format("%s >= %d%s%s", what:match("^%a+"),
                                        min, unit, hint), v)
    end
    if o.max and n > o.max then
      expected(ctx, path, string.format("%s <= %d%s", what:match("^%a+"),
                                        o.max, unit), v)
    end
    return n
  end}
end

--- size{min=, max=, off=}: bytes, as a number or a string with a unit.
function T.size(o)
  return measure(M.parse_size, 'size (bytes or a string like "256MiB")',
                 " bytes", o)
end

--- duration{min=, off=}: milliseconds, as a number or a string with units.
function T.duration(o)
  return measure(M.parse_duration,
    'duration (milliseconds or a string like "7d", "1h", "30m", "10s", "250ms")',
    "ms", o)
end

function T.boolean()
  return {check = function(v, path, ctx)
    if type(v) ~= "boolean" then expected(ctx, path, "boolean", v) end
    return v
  end}
end

--- string{nonempty=}
function T.string(o)
  local what = o and o.nonempty and "non-empty string" or "string"
  return {check = function(v, path, ctx)
    if type(v) ~= "string" or (what ~= "string" and v == "") then
      expected(ctx, path, what, v)
    end
    if v:find("\0", 1, true) then
      expected(ctx, path, what .. " without NUL bytes", v)
    end
    return v
  end}
end

--- enum{"a", "b", ...}: one of the listed strings.
function T.enum(names)
  local set, shown = {}, {}
  for i, name in ipairs(names) do set[name], shown[i] = true, M.show(name) end
  local what = "one of " .. table.concat(shown, ", ")
  return {check = function(v, path, ctx)
    if not set[v] then expected(ctx, path, what, v) end
    return v
  end}
end

-- 1 if host is, by its characters alone, a host name, a dotted IPv4
-- address (four numbers up to 255) or a bracketed IPv6 address. Whether a
-- name resolves is left to the listener (no DNS lookup here).
local function valid_host(host)
  if host:match("^%[[%x:.]*:[%x:.]*%]$") or
     host:match("^%[[%x:.]*:[%x:.]*%%[%w._-]+%]$") then -- a zone: fe80::1%eth0
    return true
  end
  if host:match("^[%d.]+$") then
    local a, b, c, d = host:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    for _, n in ipairs({a, b, c, d}) do
      if #n > 3 or tonumber(n) > 255 then return false end
    end
    return a ~= nil
  end
  return host:match("^[%w_][%w._-]*$") ~= nil and #host <= 253
end

--- address(): "host:port" or "[ipv6]:port", port 0..65535 (0: any free port).
function T.address()
  local what = 'address "host:port" with a port from 0 to 65535'
  local what_host = 'address whose host is a name, an IPv4 address or an '
                    .. '[IPv6] address in brackets'
  return {check = function(v, path, ctx)
    local host, port = (type(v) == "string" and v or ""):match("^(.+):(%d+)$")
    if not (host and #port <= 5 and tonumber(port) <= 65535) or
       (host:find(":", 1, true) and not host:match("^%[.*%]$")) then
      expected(ctx, path, what, v) -- "::1:80": where does the port start?
    end
    if not valid_host(host) then expected(ctx, path, what_host, v) end
    return v
  end}
end

--- record{key = type, ...}: a table with only these keys, all optional.
function T.record(fields)
  return {fields = fields, check = function(v, path, ctx)
    if type(v) ~= "table" then expected(ctx, path, "table", v) end
    for _, k in ipairs(sorted_keys(v)) do
      if type(k) ~= "string" or not fields[k] then
        fail(ctx, M.join(path, k), "unknown key%s", suggestion(k, fields))
      end
    end
    local out = {}
    for _, k in ipairs(sorted_keys(fields)) do
      local x = rawget(v, k)
      if x ~= nil then out[k] = fields[k].check(x, M.join(path, k), ctx) end
    end
    return out
  end}
end

--- map(key_check, type): a table of string keys, each checked by
-- key_check(k, path, ctx), to values of one type.
function T.map(key_check, value)
  return {check = function(v, path, ctx)
    if type(v) ~= "table" then expected(ctx, path, "table", v) end
    local out = {}
    for _, k in ipairs(sorted_keys(v)) do
      local p = M.join(path, k)
      key_check(k, p, ctx)
      out[k] = value.check(rawget(v, k), p, ctx)
    end
    return out
  end}
end

local function topic_name(k, path, ctx)
  if type(k) ~= "string" then
    expected(ctx, path, 'topic name as key (topics = { name = {...} })', k)
  end
  if ctx.valid_name and not ctx.valid_name(k) then
    fail(ctx, path, 'invalid topic name (1 to 249 characters of A-Z a-z 0-9 . _ -,'
         .. ' not "." or "..", not starting with "__")')
  end
end

-- Plugins --------------------------------------------------------------------
--
-- Plugins are named in the config and loaded later by the plugin runtime
-- (src/host/runtime.c), in their own Lua states: what crosses over is the
-- name and the params as JSON text.

local json_escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function json_char(c)
  return json_escapes[c] or string.format("\\u%04x", c:byte())
end

local to_json

-- JSON of a table: an array when its keys are exactly 1..n, an object when
-- they are all strings (an empty table is an object).
local function table_json(v, path, ctx, depth)
  if depth > 32 then fail(ctx, path, "params nested more than 32 deep") end
  local keys, parts = sorted_keys(v), {}
  local array = #keys > 0 and keys[#keys] == #keys and math.type(keys[1]) == "integer"
  for i, k in ipairs(keys) do
    local p = M.join(path, k)
    if array and k ~= i then array = false end
    if not array and type(k) ~= "string" then
      fail(ctx, p, "params tables must be arrays (keys 1..n) or have string keys")
    end
    local x = to_json(rawget(v, k), p, ctx, depth + 1)
    parts[i] = array and x or to_json(k, p, ctx, depth) .. ":" .. x
  end
  if array then return "[" .. table.concat(parts, ",") .. "]" end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- The JSON text of params value v (strings, finite numbers, booleans and
-- tables of them); raises with the key path for anything else.
function to_json(v, path, ctx, depth)
  local t = type(v)
  if t == "string" then
    if not utf8.len(v) then fail(ctx, path, "params strings must be UTF-8") end
    return '"' .. v:gsub('[%c"\\]', json_char) .. '"'
  elseif math.type(v) == "integer" then
    return string.format("%d", v)
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      expected(ctx, path, "finite number", v)
    end
    local s = string.format("%.17g", v)
    return s:find("[.e]") and s or s .. ".0" -- stays a float
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    return table_json(v, path, ctx, depth)
  end
  expected(ctx, path, "string, number, boolean or table (params are data)", v)
end
M.to_json = to_json

local function plugin_name(v, path, ctx)
  if not M.valid_plugin_name(v) then
    expected(ctx, path, 'plugin name (letters, digits, "_" and "-")', v)
  end
  return v
end

--- plugin(): "name" or { plugin = "name", params = {...} }, normalized to
-- { name = "name", params = "<JSON object>", path = "<key path>" }, where
-- path is where the file wrote it (for the plugin runtime's messages).
function T.plugin()
  local fields = {plugin = true, params = true}
  return {check = function(v, path, ctx)
    if type(v) == "string" then
      return {name = plugin_name(v, path, ctx), params = "{}", path = path}
    end
    if type(v) ~= "table" then
      expected(ctx, path, 'plugin name or { plugin = "name", params = {...} }', v)
    end
    if rawget(v, "plugin") == nil then -- { "redact", { fields = ... } }?
      fail(ctx, path, 'a table without "plugin" (a plugin with params is '
           .. 'written { plugin = "name", params = { ... } })')
    end
    for _, k in ipairs(sorted_keys(v)) do
      if not fields[k] then
        fail(ctx, M.join(path, k), "unknown key%s", suggestion(k, fields))
      end
    end
    local params, ppath = rawget(v, "params"), M.join(path, "params")
    if params ~= nil and type(params) ~= "table" then -- may be a secret:
      fail(ctx, ppath, "expected table, got %s", M.kind(params)) -- not shown
    end
    return {name = plugin_name(rawget(v, "plugin"), M.join(path, "plugin"), ctx),
            params = to_json(params or {}, ppath, ctx, 0), path = path}
  end}
end

-- The array table v checked item by item (what: the list, for messages).
local function check_list(v, path, ctx, item, what)
  local n, out = rawlen(v), {}
  for _, k in ipairs(sorted_keys(v)) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      fail(ctx, M.join(path, k), "unknown key (expected " .. what .. ")")
    end
  end
  for i = 1, n do out[i] = item.check(rawget(v, i), M.join(path, i), ctx) end
  return out
end

--- plugins(): one plugin (as for plugin()) or a list of them, normalized to
-- a list (a single plugin keeps its own path: "auth", not "auth[1]").
function T.plugins()
  local one = T.plugin()
  return {check = function(v, path, ctx)
    if type(v) == "string" or (type(v) == "table" and
        (rawget(v, "plugin") ~= nil or rawget(v, "params") ~= nil)) then
      return {one.check(v, path, ctx)}
    end
    if type(v) ~= "table" then
      expected(ctx, path, "plugin name, { plugin = ..., params = ... } or a list of them", v)
    end
    return check_list(v, path, ctx, one, "a list of plugins")
  end}
end

local builtin_partitioners = {key_hash = true, round_robin = true, sticky = true}

--- partitioner(): "key_hash", "round_robin", "sticky" (built-ins, which take
-- no params), a plugin (as for plugin()), or an inline function(record, n,
-- ctx), normalized to { inline = true, fn = v, path = "<key path>" } (the
-- runtime runs the file again to get it back; C reads fn's debug info).
function T.partitioner()
  local one = T.plugin()
  return {check = function(v, path, ctx)
    if type(v) == "function" then return {inline = true, fn = v, path = path} end
    local p = one.check(v, path, ctx)
    if builtin_partitioners[p.name] and p.params ~= "{}" then
      fail(ctx, M.join(path, "params"),
           "%s is a built-in partitioner, which takes no params", p.name)
    end
    return p
  end}
end

--- list(type): an array of values of one type; a single value stands for a
-- list of one.
function T.list(item)
  return {check = function(v, path, ctx)
    if type(v) ~= "table" then return {item.check(v, path, ctx)} end
    return check_list(v, path, ctx, item, "a list")
  end}
end

-- The schema -------------------------------------------------------------------

local function with(fields, extra)
  local t = {}
  for k, v in pairs(fields) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return t
end

-- Settings of a partition log: the defaults for every topic, and per topic.
local log_fields = {
  partitions = T.integer{min = 1, max = "max_partitions"},
  retention = T.record{
    ms = T.duration{off = "forever"},
    bytes = T.size{off = "no limit"},
  },
  segment = T.record{ -- bytes: as topic create and Kafka's segment.bytes
    bytes = T.size{min = 1024, max = 2147483647},
    ms = T.duration{off = "never roll by age"},
  },
  index_interval_bytes = T.size{min = 1, max = U32},
}

local flush = T.record{
  messages = T.integer{min = 0},
  interval_ms = T.duration{off = "off"},
}

M.schema = T.record{
  listen = T.address(),
  http = T.address(),
  data_dir = T.string{nonempty = true},
  log_level = T.enum{"error", "warn", "info", "debug"},
  flush = flush,
  limits = T.record{
    max_frame_bytes = T.size{min = 1024, max = U32},
    max_connections = T.integer{min = 1, max = U32},
    max_inflight = T.integer{min = 1, max = U32},
    max_output_bytes = T.size{min = 1},
    request_timeout_ms = T.duration{min = 1},
    max_topics = T.integer{min = 1, max = U32},
  },
  defaults = T.record(log_fields),
  auto_create_topics = T.boolean(),
  allow_anonymous = T.boolean(),
  groups = T.record{flush_interval_ms = T.duration{min = 1}},
  retention_check_interval_ms = T.duration{min = 1},
  shutdown_timeout_ms = T.duration{min = 0},
  topics = T.map(topic_name, T.record(with(log_fields, {
    flush = flush,
    partitioner = T.partitioner(),
    on_produce = T.plugins(),
    on_consume = T.plugins(),
    on_error = T.enum{"reject", "pass", "dead_letter"},
  }))),
  prune = T.boolean(),
  plugin_path = T.list(T.string{nonempty = true}),
  plugins = T.record{
    limits = T.record{
      instructions = T.integer{min = 1000},
      time_ms = T.duration{min = 1},
      memory = T.size{min = 1048576},
    },
  },
  auth = T.plugins(),
}

-- A topic's settings as `flyq topic create --config KEY=VALUE` names them:
-- the log keys of a topic in the file, dotted ("retention.ms"), with the
-- flush keys, and Kafka's "flush.ms" for "flush.interval_ms".
local topic_settings = {["flush.ms"] = flush.fields.interval_ms}
for name, t in pairs(with(log_fields, {flush = flush})) do
  for k, sub in pairs(t.fields or {[""] = t}) do
    topic_settings[k == "" and name or name .. "." .. k] = sub
  end
end

--- The integer value of topic setting key written as text (a `flyq topic
-- create --config` value), read as the config file reads it: digits (with
-- "-1" where the key allows it), or a size or a duration with units
-- ("256MiB", "1h"). nil for a key that is not a topic setting (the broker
-- names it); raises "key: reason" (error level 0) for a bad value.
function M.topic_setting(key, text)
  local t = topic_settings[key]
  if t == nil then return nil end
  local n = text:match("^%-?%d+$") and math.tointeger(tonumber(text))
  return t.check(n or text, key, {})
end

-- The shape handed to C ------------------------------------------------------

-- Keys whose values C reads as they are (lists, plugins), not flattened.
local whole = {
  plugin_path = true, auth = true,
  partitioner = true, on_produce = true, on_consume = true,
}

-- Nested records as one table of dotted keys: {a = {b = 1}} -> {["a.b"] = 1}.
local function flatten(t, prefix, out)
  for k, v in pairs(t) do
    if prefix == "" and whole[k] then
      out[k] = v
    elseif type(v) == "table" then
      flatten(v, prefix .. k .. ".", out)
    else
      out[prefix .. k] = v
    end
  end
  return out
end

--- The normalized config as src/host/config.c reads it:
--   { ["listen"] = ..., ["limits.max_frame_bytes"] = ..., ...,
--     plugin_path = { "dir", ... }, auth = { <plugin>, ... },
--     defaults = { partitions = ..., ["retention.ms"] = ...,
--                  ["flush.messages"] = ..., ... },
--     topics = { { name = "orders", partitions = 6, ...,
--                  partitioner = <plugin> or { inline = true, fn =, path = },
--                  on_produce = { <plugin>, ... }, on_error = "pass" },
--                ... } }
-- where <plugin> is { name = "redact", params = "<JSON object>",
-- path = 'topics.orders.on_produce[2]' } (path: where the file wrote it).
-- The top-level flush settings are part of the defaults of every log;
-- topics are sorted by name.
function M.export(n)
  local out, defaults, topics = {}, n.defaults or {}, n.topics or {}
  for k, v in pairs(n) do
    if k ~= "defaults" and k ~= "flush" and k ~= "topics" then
      if type(v) == "table" and not whole[k] then
        flatten(v, k .. ".", out)
      else
        out[k] = v
      end
    end
  end
  defaults.flush = n.flush
  out.defaults = flatten(defaults, "", {})
  out.topics = {}
  for i, name in ipairs(sorted_keys(topics)) do
    out.topics[i] = flatten(topics[name], "", {name = name})
  end
  return out
end

-- A topic with on_error = "dead_letter" needs "<name>.dlq" to be a valid
-- topic name too (4 characters more than its own).
local function check_dead_letters(cfg, ctx)
  for _, name in ipairs(sorted_keys(cfg.topics or {})) do
    if cfg.topics[name].on_error == "dead_letter" and ctx.valid_name and
        not ctx.valid_name(name .. ".dlq") then
      fail(ctx, M.join(M.join("topics", name), "on_error"),
           'dead_letter needs "%s.dlq" as a topic name, which is too long '
           .. "(a topic with dead letters has at most 245 characters)",
           #name > 40 and name:sub(1, 20) .. "..." or name)
    end
  end
end

-- The broker holds at most limits.max_topics topics (ctx.max_topics when
-- the file does not set it), so the file cannot declare more. Topics
-- already in the data directory count too: `flyq serve` checks them.
local function check_topic_count(cfg, ctx)
  local max = cfg.limits and cfg.limits.max_topics or ctx.max_topics
  local n = #sorted_keys(cfg.topics or {})
  if max and n > max then
    fail(ctx, "limits.max_topics", "%d%s, but the file declares %d topics",
         max, cfg.limits and cfg.limits.max_topics and "" or " (the default)",
         n)
  end
end

--- Validates cfg (the value a config file returned) and returns it in the
-- shape of M.export. ctx (may be nil) holds: file, the name used in
-- messages; valid_name(name) -> boolean, the topic name rule;
-- max_partitions; and max_topics, the default of limits.max_topics.
-- Raises "FILE: key.path: reason" on the first error.
function M.check(cfg, ctx)
  ctx = ctx or {}
  if type(cfg) ~= "table" then
    fail(ctx, "", "the config file must return a table, got %s", M.show(cfg))
  end
  local checked = M.schema.check(cfg, "", ctx)
  check_dead_letters(checked, ctx)
  check_topic_count(checked, ctx)
  return M.export(checked)
end

return M
