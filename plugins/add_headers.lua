--- add_headers: adds headers to every record: fixed ones from params, and
-- optionally who produced it and when the broker received it.
--
-- params:
--   headers           (map of strings, default {}) name -> value
--   principal_header  (string) a header set to the producing client's
--                     principal (not set for anonymous clients)
--   timestamp_header  (string) a header set to the broker's clock when the
--                     record passed, in milliseconds since the epoch
--   overwrite         (boolean, default true) replace headers the record
--                     already has; when false, the record's own win
--
-- Example: { plugin = "add_headers", params = { headers = { env = "prod" },
--            principal_header = "x-producer" } }

local plugin = {name = "add_headers"}

plugin.schema = {
  headers = {type = "map", values = "string", default = {}},
  principal_header = "string",
  timestamp_header = "string",
  overwrite = {type = "boolean", default = true},
}

local function put(headers, name, value, overwrite)
  if overwrite or headers[name] == nil then headers[name] = value end
end

function plugin.on_produce(record, ctx)
  local p, headers = ctx.params, record.headers
  for name, value in pairs(p.headers) do put(headers, name, value, p.overwrite) end
  if p.principal_header and ctx.principal then
    put(headers, p.principal_header, ctx.principal, p.overwrite)
  end
  if p.timestamp_header then
    put(headers, p.timestamp_header, string.format("%d", flyq.now_ms()), p.overwrite)
  end
  record.headers = headers
  return record
end

return plugin
