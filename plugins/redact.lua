--- redact: masks JSON fields of record values, e.g. card numbers or
-- e-mail addresses, before they are stored (on_produce) or sent to a
-- consumer (on_consume).
--
-- params:
--   fields    (array of strings, required) field paths: "password" (a
--             top-level field), "card.number" (nested objects). A path goes
--             through arrays: "items.sku" masks the sku of every element of
--             items. Fields that are absent are left absent.
--   mask      (string, default "***") the JSON string that replaces each
--             masked value, whatever its type
--   non_json  ("pass" or "drop", default "pass") what to do with a value
--             that is not JSON (null values included)
--
-- The value is rewritten only where a field is masked; everything else
-- (key order, spacing, number digits) stays byte for byte as it came.
-- Records without any of the fields are passed on untouched. A value
-- nested deeper than the JSON decoder goes (1000 levels) cannot be checked
-- and fails the record, whatever non_json says: it is never passed on
-- unmasked by default (the topic's on_error decides).

local json = cjson.new()
json.decode_invalid_numbers(false)

local plugin = {name = "redact"}

plugin.schema = {
  fields = {type = "array", items = "string", required = true},
  mask = {type = "string", default = "***"},
  non_json = {type = "string", enum = {"pass", "drop"}, default = "pass"},
}

-- The paths as a trie: {card = {number = true}, password = true}.
local function trie_of(fields)
  local trie = {}
  for i, path in ipairs(fields) do
    if path == "" or path:find("%.%.") or path:find("^%.") or path:find("%.$") then
      error("params.fields[" .. i .. "]: expected a path like \"a.b\", got \"" .. path .. "\"", 0)
    end
    local node, parts = trie, {}
    for part in path:gmatch("[^.]+") do parts[#parts + 1] = part end
    for j, part in ipairs(parts) do
      if node[part] == true then break end -- a shorter path masks it all
      if j == #parts then node[part] = true
      else node[part] = node[part] or {}; node = node[part] end
    end
  end
  return trie
end

function plugin.init(params, ctx)
  ctx.state.trie = trie_of(params.fields)
  ctx.state.mask = json.encode(params.mask)
end

-- A scanner over JSON text already known to be valid: each function takes
-- the index of a value and returns the index after it, collecting the
-- spans {first, after} of values the trie selects.

local function ws(s, i) return s:find("[^ \t\r\n]", i) or #s + 1 end

local function string_end(s, i)
  local j = i + 1
  while true do
    local q = s:find('["\\]', j)
    if s:byte(q) == 34 then return q + 1 end
    j = q + 2 -- skip the escaped character
  end
end

local scan

local function key_at(s, i, after)
  local raw = s:sub(i + 1, after - 2)
  if raw:find("\\", 1, true) then return json.decode(s:sub(i, after - 1)) end
  return raw
end

local function scan_object(s, i, trie, spans)
  i = ws(s, i + 1)
  if s:byte(i) == 125 then return i + 1 end -- }
  while true do
    local after = string_end(s, i)
    local sub = trie and trie[key_at(s, i, after)]
    local v = ws(s, ws(s, after) + 1) -- past the ':'
    local vend = scan(s, v, type(sub) == "table" and sub or nil, spans)
    if sub == true then spans[#spans + 1] = {v, vend} end
    i = ws(s, vend)
    if s:byte(i) == 125 then return i + 1 end
    i = ws(s, i + 1) -- past the ','
  end
end

local function scan_array(s, i, trie, spans)
  i = ws(s, i + 1)
  if s:byte(i) == 93 then return i + 1 end -- ]
  while true do
    i = ws(s, scan(s, i, trie, spans))
    if s:byte(i) == 93 then return i + 1 end
    i = ws(s, i + 1)
  end
end

function scan(s, i, trie, spans)
  local c = s:byte(i)
  if c == 123 then return scan_object(s, i, trie, spans) end
  if c == 91 then return scan_array(s, i, trie, spans) end
  if c == 34 then return string_end(s, i) end
  local _, last = s:find("^[%w.+-]+", i) -- number, true, false, null
  return last + 1
end

-- value with the spans replaced by mask.
local function splice(value, spans, mask)
  local parts, pos = {}, 1
  for _, span in ipairs(spans) do
    parts[#parts + 1] = value:sub(pos, span[1] - 1)
    parts[#parts + 1] = mask
    pos = span[2]
  end
  parts[#parts + 1] = value:sub(pos)
  return table.concat(parts)
end

-- 1 if value is JSON, nil if not; raises when it is too deep to tell.
local function is_json(value)
  local ok, err = pcall(json.decode, value)
  if ok then return 1 end
  if tostring(err):find("too many nested", 1, true) then
    error("value nested too deeply to check for fields to mask", 0)
  end
end

local function redact(record, ctx)
  local value = record.value
  if value == nil or not is_json(value) then
    if ctx.params.non_json == "drop" then return nil end
    return record
  end
  local spans = {}
  scan(value, ws(value, 1), ctx.state.trie, spans)
  if #spans == 0 then return record end
  record.value = splice(value, spans, ctx.state.mask)
  return record
end

plugin.on_produce = redact
plugin.on_consume = redact

return plugin
