--- route_by_field: sends each record to the topic named by a field of its
-- JSON value: record.topic = prefix .. value. {"region": "eu"} with
-- field = "region" and prefix = "orders-" goes to the topic "orders-eu".
--
-- params:
--   field         (string, required) the field's path ("region",
--                 "customer.country"); its value must be a string or an
--                 integer number (up to 2^53: JSON numbers are read as
--                 doubles; send larger ids as strings)
--   prefix        (string, default "") put in front of the value
--   sanitize      (boolean, default true) replace characters a topic name
--                 cannot have (anything but A-Z a-z 0-9 . _ -) by "_";
--                 when false such a value counts as missing
--   fallback      (string) the topic for records whose field is missing,
--                 empty, not usable, or whose value is not JSON
--   drop_missing  (boolean, default false) without a fallback, drop such
--                 records; otherwise they stay in the topic they were
--                 produced to
--
-- Records that cannot be routed are counted in "unroutable". Routed topics
-- are created as any produced-to topic is (auto_create_topics), and the
-- client must be allowed to produce to them.

local json = cjson.new()

local plugin = {name = "route_by_field"}

plugin.schema = {
  field = {type = "string", required = true},
  prefix = {type = "string", default = ""},
  sanitize = {type = "boolean", default = true},
  fallback = "string",
  drop_missing = {type = "boolean", default = false},
}

-- A topic name's rules (docs/config.md).
local function valid_topic(name)
  return #name >= 1 and #name <= 249 and not name:find("[^%w._-]")
    and name ~= "." and name ~= ".." and name:sub(1, 2) ~= "__"
end

function plugin.init(params)
  if params.prefix:find("[^%w._-]") then
    error("params.prefix: only A-Z a-z 0-9 . _ - may be part of a topic name", 0)
  end
  if params.fallback and not valid_topic(params.fallback) then
    error("params.fallback: invalid topic name \"" .. params.fallback .. "\"", 0)
  end
end

-- The field at path ("a.b") of the decoded document, or nil.
local function field(doc, path)
  for part in path:gmatch("[^.]+") do
    if type(doc) ~= "table" then return nil end
    doc = doc[part]
  end
  return doc
end

-- The topic for value, or nil.
local function topic_for(value, params)
  local ok, doc = pcall(json.decode, value or "")
  local v = ok and field(doc, params.field)
  if math.type(v) then v = math.tointeger(v) and string.format("%d", v) end
  if type(v) ~= "string" or v == "" then return nil end -- "" names no topic
  if params.sanitize then v = v:gsub("[^%w._-]", "_") end
  local name = params.prefix .. v
  return valid_topic(name) and name or nil
end

function plugin.on_produce(record, ctx)
  local p = ctx.params
  local topic = topic_for(record.value, p)
  if topic == nil then
    flyq.counter("unroutable")
    if p.fallback == nil and p.drop_missing then return nil end
    topic = p.fallback
  end
  if topic then record.topic = topic end
  return record
end

return plugin
