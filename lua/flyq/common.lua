--- flyq.common: what flyq.config, flyq.schema and flyq.runtime share, kept
-- apart so that a plugin's state (which loads the schema and the runtime)
-- does not load the whole config checker: values as error messages show
-- them, key paths, "did you mean" hints, and the plugin name rule.

local M = {}

local escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\t'] = '\\t'}

local function escape(c)
  return escapes[c] or string.format("\\%d", c:byte())
end

--- A short, printable rendering of v for error messages. Never calls
-- metamethods.
function M.show(v)
  local t = type(v)
  if t == "string" then
    local s = #v > 60 and v:sub(1, 60) .. "..." or v
    return '"' .. s:gsub('[%c"\\]', escape) .. '"'
  elseif math.type(v) == "integer" then
    return string.format("%d", v)
  elseif v ~= v then
    return "nan" -- %g writes "-nan" or "nan" by the sign bit
  elseif t == "number" then
    return string.format("%.14g", v)
  elseif t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return "a " .. t
end

--- What v is, without its value: "a string", "an integer", "a table"...
-- (for errors about values that may be secrets).
function M.kind(v)
  local t = math.type(v) or type(v)
  return (t == "integer" and "an " or "a ") .. t
end

--- path extended by key: "a.b" for identifier keys, 'a["x/y"]' or "a[1]"
-- for the others.
function M.join(path, key)
  if type(key) == "string" and key:match("^[%a_][%w_]*$") then
    return path == "" and key or path .. "." .. key
  end
  return path .. "[" .. M.show(key) .. "]"
end

-- Keys of t in a stable order (numbers, then strings, then the rest), so
-- that the first error reported does not depend on table layout.
local rank = {number = 1, string = 2}

local function before(a, b)
  local ra, rb = rank[type(a)] or 3, rank[type(b)] or 3
  if ra ~= rb or ra == 3 then return ra < rb end
  return a < b
end

local function sorted_keys(t)
  local keys = {}
  for k in next, t do keys[#keys + 1] = k end
  table.sort(keys, before)
  return keys
end

-- Levenshtein distance, for "did you mean" hints.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = {[0] = i}
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggestion(key, fields)
  if type(key) ~= "string" or #key > 64 then return "" end
  local best, bestd = nil, 3
  for _, name in ipairs(sorted_keys(fields)) do
    local d = distance(key, name)
    if d < bestd then best, bestd = name, d end
  end
  return best and string.format(' (did you mean "%s"?)', best) or ""
end

--- ' (did you mean "x"?)' for the key of fields closest to key, or "".
M.suggestion = suggestion
--- The keys of t in a stable order (numbers, strings, the rest).
M.sorted_keys = sorted_keys

--- true if v is a valid plugin name: 1 to 128 ASCII letters, digits, "_"
-- and "-" (the name of the file, and the name the file gives itself).
function M.valid_plugin_name(v)
  return type(v) == "string" and #v <= 128 and v:match("^[%w_%-]+$") ~= nil
end

return M

