--- flyq.client: a FlyQ client for Lua, on top of the C client library
-- (include/flyq/client.h) exposed by flyq.core. One client is one TCP
-- connection; every call blocks until the broker answered.
--
--   local client = require("flyq.client")
--   local c = assert(client.connect("127.0.0.1:7500", {timeout_ms = 2000}))
--   local base = assert(c:produce("orders", {{key = "k", value = "v"}}))
--   local res = assert(c:fetch("orders", 0, base))
--   for _, r in ipairs(res.records) do print(r.offset, r.value) end
--   c:close()
--
-- Errors: expected failures return nil, message, code. code is the wire
-- error name when the broker answered with an error
-- ("UNKNOWN_TOPIC_OR_PARTITION", "OFFSET_OUT_OF_RANGE", "LIMIT_EXCEEDED",
-- ...) and otherwise the client's own error name ("CLOSED", "TIMEOUT",
-- "PROTOCOL", "ECONNREFUSED", ...). message includes the broker's
-- error_message. Wrong argument types raise a Lua error.
--
-- API
--   client.connect(addr, opts) -> c
--       addr "host:port"; opts (all optional): timeout_ms (connect, 10000),
--       request_timeout_ms (30000; a call that waits longer closes the
--       connection), max_frame_bytes, client_id, token (authenticates with
--       mechanism opts.mechanism or "token" right after connecting).
--   c:produce(topic, records, opts) -> base_offset, result
--       records: array of {key=, value=, headers=, timestamp=} (or plain
--       strings, taken as values); key/value nil means null; headers an
--       array of {key, value} pairs or a map; timestamp in Unix ms (default
--       now). All records go in one batch. opts: partition (default 0; -1
--       lets the broker's partitioner choose per record), acks (1 by
--       default; 0 = no response, offsets are -1; -1 = after fsync).
--       result = {base_offset=, last_offset=, log_start_offset=,
--                 parts = {{partition=, base_offset=, last_offset=,
--                           log_start_offset=}, ...}}
--   c:produce_raw(topic, partition, bytes, acks) -> base_offset, result
--       bytes are sent as the request's records field, unchecked (for
--       corrupt-batch specs).
--   c:fetch(topic, partition, offset, opts) -> result
--       opts: max_bytes (1 MiB), max_wait_ms (0), min_bytes (1),
--       filter (a plugin name on the broker's plugin_path: only the records
--       it keeps are sent; Fetch version 1), params (the filter's params, a
--       table of strings).
--       result = {records = {{offset=, timestamp=, key=, value=,
--                 headers = {{k, v}, ...}}, ...}, high_watermark=,
--                 log_start_offset=, flushed_offset=, next_offset=,
--                 bytes = the raw record batches}
--       Records below offset (in the first batch) are skipped; next_offset
--       is where the next fetch should start. On a partition error the
--       4th return value holds the watermarks:
--       nil, err, "OFFSET_OUT_OF_RANGE", {log_start_offset=, ...}.
--   c:list_offsets(topic, partition, ts) -> offset
--       ts "earliest", "latest" (default) or Unix ms.
--   c:metadata([topic]) -> {host=, port=, topics = {{name=, error=,
--       partitions = {{partition=, log_start_offset=, high_watermark=,
--       flushed_offset=, segment_count=, size_bytes=, last_append_ms=}},
--       config = {["retention.ms"] = "..."}}}}
--       A named topic that does not exist comes back with
--       error = "UNKNOWN_TOPIC_OR_PARTITION" (the call itself succeeds).
--   c:create_topic(name, opts) -> true
--       opts: partitions (1), config = {["retention.ms"] = 60000, ...}.
--   c:delete_topic(name) -> true
--   c:commit(group, topic, partition, offset) -> true
--   c:committed(group, topic, partition) -> offset (-1 if none)
--   c:group_offsets(group) -> {{topic=, partition=, offset=}, ...}
--   c:groups() -> {name, ...}
--   c:authenticate(mechanism, credentials) -> principal (or true)
--   c:stats() -> table
--       The broker's counters and its plugins' stats (the Stats API, an
--       admin operation; docs/protocol.md).
--   c:send_raw(bytes) -> true
--       Writes bytes as they are (include the int32 frame size). Only when
--       no request is outstanding; after it, use recv_frame, not the
--       normal calls, until the answers are read.
--   c:recv_frame(timeout_ms) -> payload
--       One response frame's payload (without the size prefix), or
--       nil, "closed" when the broker closed the connection, or
--       nil, "timeout".
--   c:connected() -> boolean; c:broker_version() -> string; c:close()
--
--   client.encode_batch(records) -> bytes   one RecordBatch v2
--   client.decode_batches(bytes [, from]) -> records, next_offset
local core = require("flyq.core")
local cjson = require("cjson")

local M = {}
local Client = {}
Client.__index = Client

function M.connect(addr, opts)
  opts = opts or {}
  local raw, err, code = core.connect(addr, {
    timeout_ms = opts.timeout_ms,
    request_timeout_ms = opts.request_timeout_ms,
    max_frame_bytes = opts.max_frame_bytes,
    client_id = opts.client_id,
  })
  if not raw then return nil, err, code end
  if opts.token then
    local ok, aerr, acode = raw:authenticate(opts.mechanism or "token",
                                             opts.token)
    if not ok then
      raw:close()
      return nil, aerr, acode
    end
  end
  return setmetatable({raw = raw}, Client)
end

-- Strings stand for {value = s}.
local function normalize(records)
  if type(records) ~= "table" then
    error("records must be an array of records", 3)
  end
  local out = {}
  for i, r in ipairs(records) do
    out[i] = type(r) == "string" and {value = r} or r
  end
  return out
end

local function produced(res, err, code)
  if not res then return nil, err, code end
  return res.base_offset, res
end

function Client:produce(topic, records, opts)
  opts = opts or {}
  local bytes, err, code = core.batch_encode(normalize(records))
  if not bytes then return nil, err, code end
  return produced(self.raw:produce(topic, opts.partition or 0,
                                   opts.acks or 1, bytes))
end

function Client:produce_raw(topic, partition, bytes, acks)
  return produced(self.raw:produce(topic, partition, acks or 1, bytes))
end

-- Raw frames for what flyq.core does not speak: Fetch version 1 (consumer
-- filters) and Stats. One request at a time, like every call here.

local RAW_CORRELATION = 0x7f000000

-- Wire error names (include/flyq/proto.h, FLYQ_WIRE_ERRNO_MAP).
local wire_names = {
  [-1] = "UNKNOWN_SERVER_ERROR", [1] = "OFFSET_OUT_OF_RANGE",
  [2] = "CORRUPT_MESSAGE", [3] = "UNKNOWN_TOPIC_OR_PARTITION",
  [7] = "REQUEST_TIMED_OUT", [10] = "MESSAGE_TOO_LARGE",
  [17] = "INVALID_TOPIC", [29] = "TOPIC_AUTHORIZATION_FAILED",
  [30] = "GROUP_AUTHORIZATION_FAILED", [31] = "CLUSTER_AUTHORIZATION_FAILED",
  [33] = "UNSUPPORTED_SASL_MECHANISM", [35] = "UNSUPPORTED_VERSION",
  [40] = "INVALID_CONFIG", [42] = "INVALID_REQUEST", [56] = "STORAGE_ERROR",
  [58] = "AUTHENTICATION_FAILED", [76] = "UNSUPPORTED_COMPRESSION_TYPE",
  [87] = "INVALID_RECORD", [1000] = "LIMIT_EXCEEDED", [1001] = "PLUGIN_ERROR",
}

local function wire_error(code, msg)
  local name = wire_names[code] or ("ERROR_" .. code)
  return nil, name .. (msg and (": " .. msg) or ""), name
end

local function str(s) return string.pack(">s2", s) end

-- Sends one request (api, version, body) and returns the response payload
-- after the correlation id.
local function raw_call(self, api, version, body, wait_ms)
  local frame = string.pack(">i2i2i4", api, version, RAW_CORRELATION) ..
                string.pack(">i2", -1) .. body
  local ok, err, code = self.raw:send_raw(string.pack(">s4", frame))
  if not ok then return nil, err, code end
  local payload, rerr = self.raw:recv_frame((wait_ms or 0) + 30000)
  if not payload then return nil, rerr, string.upper(rerr or "closed") end
  if string.unpack(">i4", payload) ~= RAW_CORRELATION then
    return nil, "unexpected correlation id", "PROTOCOL"
  end
  return payload, 5
end

-- A nullable string or bytes field at pos: value (nil for null), next pos.
local function get_len(payload, pos, fmt)
  local n
  n, pos = string.unpack(fmt, payload, pos)
  if n < 0 then return nil, pos end
  return payload:sub(pos, pos + n - 1), pos + n
end

local function fetch_v1_body(topic, partition, offset, opts)
  local params = {}
  for k, v in pairs(opts.params or {}) do params[#params + 1] = {k, v} end
  table.sort(params, function(a, b) return a[1] < b[1] end)
  local body = {string.pack(">i4i4i4", opts.max_wait_ms or 0,
                            opts.min_bytes or 1, opts.max_bytes or 1048576),
                string.pack(">i4", 1), str(topic), string.pack(">i4", 1),
                string.pack(">i4i8i4", partition, offset,
                            opts.max_bytes or 1048576),
                str(opts.filter), string.pack(">i4", #params)}
  for _, kv in ipairs(params) do
    body[#body + 1] = str(tostring(kv[1])) .. str(tostring(kv[2]))
  end
  return table.concat(body)
end

-- The one partition of a Fetch v1 response (string.unpack raises on a
-- truncated payload: the caller catches it).
local function fetch_v1_decode(payload, pos)
  local code, msg, ntopics, nparts, res
  code, pos = string.unpack(">i2", payload, pos)
  msg, pos = get_len(payload, pos, ">i2")
  if code ~= 0 then return wire_error(code, msg) end
  ntopics, pos = string.unpack(">i4", payload, pos)
  pos = select(2, get_len(payload, pos, ">i2"))
  nparts, pos = string.unpack(">i4", payload, pos)
  if ntopics ~= 1 or nparts ~= 1 then
    return nil, "Fetch: unexpected response shape", "PROTOCOL"
  end
  res = {}
  res.partition, code, pos = string.unpack(">i4i2", payload, pos)
  msg, pos = get_len(payload, pos, ">i2")
  res.high_watermark, res.log_start_offset, res.flushed_offset,
    res.broker_next_offset, pos = string.unpack(">i8i8i8i8", payload, pos)
  res.records = get_len(payload, pos, ">i4") or ""
  if code ~= 0 then
    local _, err, name = wire_error(code, msg)
    return nil, err, name, res
  end
  return res
end

function Client:fetch_filtered(topic, partition, offset, opts)
  local payload, pos, code = raw_call(self, 1, 1,
                                      fetch_v1_body(topic, partition, offset,
                                                    opts),
                                      opts.max_wait_ms)
  if not payload then return nil, pos, code end
  local ok, res, err, name, info = pcall(fetch_v1_decode, payload, pos)
  if not ok then return nil, "Fetch: malformed response", "PROTOCOL" end
  if not res then return nil, err, name, info end
  local records, next_or_err, dcode = core.batch_decode(res.records, offset)
  if not records then return nil, next_or_err, dcode end
  res.bytes, res.records = res.records, records
  res.next_offset = math.max(next_or_err, res.broker_next_offset)
  res.broker_next_offset = nil
  return res
end

function Client:stats()
  local payload, pos, code = raw_call(self, 52, 0, "")
  if not payload then return nil, pos, code end
  local ok, ecode, msg, json = pcall(function()
    local c, m, p
    c, p = string.unpack(">i2", payload, pos)
    m, p = get_len(payload, p, ">i2")
    if c ~= 0 then return c, m end
    return c, m, get_len(payload, p, ">i4")
  end)
  if not ok then return nil, "Stats: malformed response", "PROTOCOL" end
  if ecode ~= 0 then return wire_error(ecode, msg) end
  local dok, t = pcall(cjson.decode, json or "")
  if not dok then return nil, "Stats: bad JSON", "PROTOCOL" end
  return t
end

function Client:fetch(topic, partition, offset, opts)
  opts = opts or {}
  if opts.filter then
    return self:fetch_filtered(topic, partition, offset, opts)
  end
  local res, err, code, info = self.raw:fetch(topic, partition, offset,
                                              opts.max_bytes,
                                              opts.max_wait_ms,
                                              opts.min_bytes)
  if not res then return nil, err, code, info end
  local records, next_or_err, dcode = core.batch_decode(res.records, offset)
  if not records then return nil, next_or_err, dcode end
  res.bytes = res.records
  res.records = records
  res.next_offset = next_or_err
  return res
end

local special_times = {earliest = -2, latest = -1}

function Client:list_offsets(topic, partition, ts)
  ts = ts or "latest"
  if type(ts) == "string" then
    ts = special_times[ts] or error("timestamp: earliest, latest or ms", 2)
  end
  return self.raw:list_offset(topic, partition, ts)
end

function Client:metadata(topic)
  return self.raw:metadata(topic)
end

function Client:create_topic(name, opts)
  opts = opts or {}
  return self.raw:create_topic(name, opts.partitions or 1, opts.config)
end

function Client:delete_topic(name)
  return self.raw:delete_topic(name)
end

function Client:commit(group, topic, partition, offset)
  return self.raw:offset_commit(group, topic, partition, offset)
end

function Client:committed(group, topic, partition)
  return self.raw:offset_fetch(group, topic, partition)
end

function Client:group_offsets(group)
  return self.raw:group_offsets(group)
end

function Client:groups()
  return self.raw:list_groups()
end

function Client:authenticate(mechanism, credentials)
  return self.raw:authenticate(mechanism, credentials)
end

function Client:send_raw(bytes)
  return self.raw:send_raw(bytes)
end

function Client:recv_frame(timeout_ms)
  return self.raw:recv_frame(timeout_ms)
end

function Client:connected()
  return self.raw:connected()
end

function Client:broker_version()
  return self.raw:broker_version()
end

function Client:close()
  self.raw:close()
end

Client.__close = Client.close

M.encode_batch = core.batch_encode
M.decode_batches = core.batch_decode

return M
