--- flyq.schema: checks a plugin's params against the schema it declares.
--
-- A plugin may return `schema = { key = spec, ... }`; the plugin runtime
-- (lua/flyq/runtime.lua) calls check() with the params the config gave,
-- before init. A spec is a type name ("string") or a table:
--
--   { type = "string" | "integer" | "number" | "boolean"
--          | "array" | "table" | "map" | "any",
--     required = true,          -- absent is an error
--     default = value,          -- used when absent (copied)
--     enum = { v1, v2, ... },   -- the value must be one of these
--     min = n, max = n,         -- bounds of integer and number values
--     items = spec,             -- array: the type of every element
--     fields = { key = spec },  -- table: its keys (no others allowed)
--     values = spec,            -- map: string keys to values of one type
--     secret = true,            -- errors never show the value (a token,
--                               -- a key): "got a string", not "got "s3cr""
--     description = "text" }    -- for people
--
-- Errors are raised as "params.key.path: reason" (error level 0), in the
-- key order of flyq.config (which also provides the rendering of values).
--
-- Params given as text (a consumer's `--param k=v`: every value a string)
-- are read by their spec's type first: integer and number as Lua reads
-- numbers, boolean from "true" or "false", array from JSON ("[1,2]") or
-- as a comma-separated list ("a,b", each item read by `items`), table and
-- map from JSON. A string that does not read stays as it was, and the
-- check then says what was expected.

local common = require("flyq.common")

local show, join = common.show, common.join
local suggestion, sorted_keys = common.suggestion, common.sorted_keys

local M = {}

local function fail(path, fmt, ...)
  error(path .. ": " .. string.format(fmt, ...), 0)
end

-- Above 0 while checking a value whose spec (or an enclosing one) says
-- secret = true: its errors give the value's type only.
local hiding = 0

local function expected(path, what, v)
  local shown = show(v)
  if hiding > 0 and type(v) ~= "table" and type(v) ~= "nil" then
    shown = common.kind(v)
  end
  fail(path, "expected %s, got %s", what, shown)
end

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in next, v do t[k] = copy(x) end
  return t
end

-- The schema itself ---------------------------------------------------------

local types = {
  string = true, integer = true, number = true, boolean = true,
  array = true, table = true, map = true, any = true,
}
local spec_keys = {
  type = true, required = true, default = true, enum = true, min = true,
  max = true, items = true, fields = true, values = true, description = true,
  secret = true,
}

local normalize

-- The fields of a record spec, each normalized.
local function normalize_fields(fields, path)
  if type(fields) ~= "table" then expected(path, "table of specs", fields) end
  local out = {}
  for _, k in ipairs(sorted_keys(fields)) do
    if type(k) ~= "string" then expected(join(path, k), "string key", k) end
    out[k] = normalize(fields[k], join(path, k))
  end
  return out
end

--- A spec as a table with a known type; raises "schema.path: reason".
function normalize(spec, path)
  if type(spec) == "string" then spec = {type = spec} end
  if type(spec) ~= "table" then
    expected(path, 'type name or { type = "..." }', spec)
  end
  for _, k in ipairs(sorted_keys(spec)) do
    if not spec_keys[k] then
      fail(join(path, k), "unknown key%s", suggestion(k, spec_keys))
    end
  end
  if not types[spec.type] then
    expected(join(path, "type"), "a type (string, integer, number, boolean, " ..
             "array, table, map, any)", spec.type)
  end
  local out = copy(spec)
  if spec.items then out.items = normalize(spec.items, join(path, "items")) end
  if spec.values then out.values = normalize(spec.values, join(path, "values")) end
  if spec.fields then out.fields = normalize_fields(spec.fields, join(path, "fields")) end
  if spec.enum ~= nil and type(spec.enum) ~= "table" then
    expected(join(path, "enum"), "list of values", spec.enum)
  end
  return out
end

-- Values ------------------------------------------------------------------------

local check

local function check_number(v, spec, path, what, n)
  if n == nil then expected(path, what, v) end
  if spec.min and n < spec.min then expected(path, what .. " >= " .. show(spec.min), v) end
  if spec.max and n > spec.max then expected(path, what .. " <= " .. show(spec.max), v) end
  return n
end

-- The keys 1..n of an array, and nothing else.
local function check_array(v, spec, path)
  if type(v) ~= "table" then expected(path, "array", v) end
  local n, out = rawlen(v), {}
  for _, k in ipairs(sorted_keys(v)) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      fail(join(path, k), "unexpected key in an array")
    end
  end
  for i = 1, n do out[i] = check(rawget(v, i), spec.items, join(path, i)) end
  return out
end

local function check_record(v, fields, path)
  if type(v) ~= "table" then expected(path, "table", v) end
  for _, k in ipairs(sorted_keys(v)) do
    if type(k) ~= "string" or not fields[k] then
      fail(join(path, k), "unknown key%s", suggestion(k, fields))
    end
  end
  local out = {}
  for _, k in ipairs(sorted_keys(fields)) do
    local spec, x = fields[k], rawget(v, k)
    if x == nil then x = copy(spec.default) end
    if x == nil and spec.required then fail(join(path, k), "required") end
    if x ~= nil then out[k] = check(x, spec, join(path, k)) end
  end
  return out
end

local function check_map(v, spec, path)
  if type(v) ~= "table" then expected(path, "table", v) end
  local out = {}
  for _, k in ipairs(sorted_keys(v)) do
    if type(k) ~= "string" then expected(join(path, k), "string key", k) end
    out[k] = check(rawget(v, k), spec.values, join(path, k))
  end
  return out
end

-- Set while checking params given as text: the JSON decoder (json(text)
-- -> value | nil) that reads them.
local text_json

-- v read by spec's type when it is text (see the head of this file).
local function from_text(v, spec)
  local t = spec.type
  if type(v) ~= "string" or t == "string" or t == "any" then return v end
  if t == "integer" or t == "number" then return tonumber(v) or v end
  if t == "boolean" then
    if v == "true" then return true elseif v == "false" then return false end
    return v
  end
  local first = v:match("^%s*(.)")
  if first == "[" or first == "{" then
    local ok, x = pcall(text_json, v)
    return ok and x ~= nil and x or v
  end
  if t == "array" then
    local items = {}
    for item in (v .. ","):gmatch("([^,]*),") do items[#items + 1] = item end
    return v == "" and {} or items
  end
  return v
end

local checks = {
  string = function(v, _, path)
    if type(v) ~= "string" then expected(path, "string", v) end
    return v
  end,
  integer = function(v, spec, path) -- an integral float (from JSON) is fine
    return check_number(v, spec, path, "integer", math.type(v) and math.tointeger(v))
  end,
  number = function(v, spec, path)
    return check_number(v, spec, path, "number", math.type(v) and v)
  end,
  boolean = function(v, _, path)
    if type(v) ~= "boolean" then expected(path, "boolean", v) end
    return v
  end,
  array = function(v, spec, path)
    if not spec.items then return check_array(v, {items = {type = "any"}}, path) end
    return check_array(v, spec, path)
  end,
  table = function(v, spec, path)
    if spec.fields then return check_record(v, spec.fields, path) end
    if type(v) ~= "table" then expected(path, "table", v) end
    return copy(v)
  end,
  map = function(v, spec, path)
    return check_map(v, {values = spec.values or {type = "any"}}, path)
  end,
  any = function(v) return copy(v) end,
}

local function one_of(v, enum, path)
  for _, x in ipairs(enum) do
    if rawequal(x, v) then return v end
  end
  local shown = {}
  for i, x in ipairs(enum) do shown[i] = show(x) end
  expected(path, "one of " .. table.concat(shown, ", "), v)
end

--- The value v checked against the normalized spec: a copy with defaults
-- filled in, integral floats of integer fields made integers.
function check(v, spec, path)
  if text_json then v = from_text(v, spec) end
  if spec.secret then hiding = hiding + 1 end -- M.check resets it on errors
  local out = checks[spec.type](v, spec, path)
  if spec.enum then one_of(out, spec.enum, path) end
  if spec.secret then hiding = hiding - 1 end
  return out
end

-- True when the normalized spec, or a spec inside it, says secret.
local function secret_inside(spec)
  if spec.secret then return true end
  if spec.items and secret_inside(spec.items) then return true end
  if spec.values and secret_inside(spec.values) then return true end
  for _, f in pairs(spec.fields or {}) do
    if secret_inside(f) then return true end
  end
  return false
end

--- Checks params (a table, or nil for none) against schema (the plugin's
-- `schema` table) and returns the normalized copy, and whether the schema
-- marks a param, or a part of one, secret = true. Errors in the schema
-- itself are reported as "schema.key: ...", errors in params as
-- "params.key: ...". json (json(text) -> value | nil), when given, says
-- that the params are text, read with it (see the head of this file).
function M.check(schema, params, json)
  local fields = normalize_fields(schema, "schema")
  text_json, hiding = json, 0
  local ok, out = pcall(check_record, params or {}, fields, "params")
  text_json, hiding = nil, 0
  if not ok then error(out, 0) end
  return out, secret_inside({fields = fields})
end

return M
