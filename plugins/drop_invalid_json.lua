--- drop_invalid_json: drops records whose value is not valid JSON (strict
-- RFC 8259: UTF-8 text, no NaN, Infinity or hex numbers, no "1." or ".5",
-- no raw control characters in strings), counting them in the counter
-- "dropped_invalid_json". Works as on_produce (keep bad data out of a
-- topic) and as on_consume (a consumer filter). lua-cjson parses the
-- value; what it lets through that RFC 8259 does not is checked here.
--
-- params:
--   keep_null  (boolean, default false) keep records with a null value
--              (tombstones) instead of dropping them

local json = cjson.new() -- an instance of our own: its settings stay here
json.decode_invalid_numbers(false)

local plugin = {name = "drop_invalid_json"}

plugin.schema = {
  keep_null = {type = "boolean", default = false},
}

-- 1 if the text outside strings has no number with a bare "." ("1.",
-- ".5", "1.e5", "-.5").
local function numbers_ok(text)
  return not (text:find("%.[^%d]") or text:find("%.$") or
              text:find("[^%d]%.") or text:find("^%."))
end

-- 1 if value (which lua-cjson parsed) is also strict RFC 8259: valid
-- UTF-8, numbers as the grammar has them, no raw control characters in
-- strings. Walks the strings once.
local function strict(value)
  if not utf8.len(value) then return nil end
  local i = 1
  while true do
    local q = value:find('"', i, true)
    if not numbers_ok(value:sub(i, (q or #value + 1) - 1)) then return nil end
    if not q then return 1 end
    local j = q + 1
    while true do -- to the closing quote, past escapes
      local k = value:find('["\\]', j)
      if not k then return nil end
      if value:sub(j, k - 1):find("[%z\1-\31]") then return nil end
      if value:byte(k) == 34 then j = k + 1 break end
      j = k + 2
    end
    i = j
  end
end

local function filter(record, ctx)
  local value = record.value
  if value == nil and ctx.params.keep_null then return record end
  if value ~= nil and pcall(json.decode, value) and strict(value) then
    return record
  end
  flyq.counter("dropped_invalid_json")
  return nil
end

plugin.on_produce = filter
plugin.on_consume = filter

return plugin
