--- drop_invalid_json: drops records whose value is not valid JSON (strict
-- RFC 8259: no NaN, Infinity or hex numbers), counting them in the counter
-- "dropped_invalid_json". Works as on_produce (keep bad data out of a
-- topic) and as on_consume (a consumer filter).
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

local function filter(record, ctx)
  local value = record.value
  if value == nil and ctx.params.keep_null then return record end
  if value ~= nil and pcall(json.decode, value) then return record end
  flyq.counter("dropped_invalid_json")
  return nil
end

plugin.on_produce = filter
plugin.on_consume = filter

return plugin
