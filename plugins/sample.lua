--- sample: keeps one record in n and drops the rest, to thin out a
-- high-volume stream (on_produce) or what a consumer reads (on_consume).
--
-- params:
--   n       (integer >= 1, default 10) keep 1 record in n
--   by_key  (boolean, default false) decide per key instead of per record:
--           every record of a kept key is kept and every record of a
--           dropped key dropped, so a sampled key's history is complete.
--           A key is kept when the first 8 hex digits of its SHA-256, as a
--           number, are a multiple of n (stable across restarts and
--           brokers). Records without a key are counted like the rest.
--
-- Counting: the 1st, (n+1)th, (2n+1)th... record an instance sees is
-- kept. The count lives in ctx.state: it is per plugin instance (per
-- params) and starts again at a reload. Dropped records are counted in
-- "sampled_out".

local plugin = {name = "sample"}

plugin.schema = {
  n = {type = "integer", min = 1, default = 10},
  by_key = {type = "boolean", default = false},
}

local function keep(record, ctx)
  local n, key = ctx.params.n, nil
  if ctx.params.by_key then key = record.key end
  if key then
    return tonumber(flyq.sha256(key):sub(1, 8), 16) % n == 0
  end
  local seen = ctx.state.seen or 0
  ctx.state.seen = (seen + 1) % n
  return seen == 0
end

local function filter(record, ctx)
  if keep(record, ctx) then return record end
  flyq.counter("sampled_out")
  return nil
end

plugin.on_produce = filter
plugin.on_consume = filter

return plugin
