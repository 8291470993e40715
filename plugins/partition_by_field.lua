--- partition_by_field: a partitioner that places each record by a field of
-- its JSON value instead of its key, so that records with the same value
-- (a customer, a device) share a partition and stay in order.
--
-- params:
--   field  (string, required) the field's path ("customer_id",
--          "device.id"); its value must be a string or an integer number
--          (used as its decimal digits; JSON numbers are read as doubles,
--          so an integer above 2^53 may lose its last digits: send such
--          ids as strings)
--
-- The partition is murmur2(value) mod partitions, exactly as the built-in
-- key_hash partitioner (and Kafka's default partitioner) places a key: a
-- record whose field equals its key lands where key_hash would put it.
-- Records without a usable field (or whose value is not JSON) are placed by
-- their key with the same hash, and records without a key either round
-- robin. Use it as a topic's `partitioner`.

local json = cjson.new()

local plugin = {name = "partition_by_field"}

plugin.schema = {
  field = {type = "string", required = true},
}

local M = 0x5bd1e995

local function mul32(a, b) return (a * b) & 0xffffffff end

--- Kafka's murmur2 (seed 0x9747b28c) as an unsigned 32-bit integer;
-- Lua's 64-bit integers wrap, and the mask keeps the low 32 bits.
local function murmur2(s)
  local len = #s
  local h = 0x9747b28c ~ len
  local tail = len - len % 4
  for i = 1, tail, 4 do
    local k = mul32(string.unpack("<I4", s, i), M)
    k = mul32(k ~ (k >> 24), M)
    h = mul32(h, M) ~ k
  end
  local rest = len % 4
  if rest == 3 then h = h ~ (s:byte(tail + 3) << 16) end
  if rest >= 2 then h = h ~ (s:byte(tail + 2) << 8) end
  if rest >= 1 then h = mul32(h ~ s:byte(tail + 1), M) end
  h = mul32(h ~ (h >> 13), M)
  return h ~ (h >> 15)
end

local function field(doc, path)
  for part in path:gmatch("[^.]+") do
    if type(doc) ~= "table" then return nil end
    doc = doc[part]
  end
  return doc
end

-- The text to hash: the field's value, else the key, else nil.
local function text_of(record, path)
  local ok, doc = pcall(json.decode, record.value or "")
  local v = ok and field(doc, path)
  if math.type(v) then v = math.tointeger(v) and string.format("%d", v) end
  if type(v) == "string" then return v end
  return record.key
end

function plugin.partition(record, n, ctx)
  local text = text_of(record, ctx.params.field)
  if text then return (murmur2(text) & 0x7fffffff) % n end
  local next = ctx.state.next or 0
  ctx.state.next = (next + 1) % n
  return next
end

return plugin
