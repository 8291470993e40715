-- Authorization over every API, table-driven: with auth_token (alice and
-- mallory) and acl (alice may do everything, mallory nothing), each API the
-- broker advertises in ApiVersions is sent as a hand-built raw frame
-- (docs/protocol.md) by an unauthenticated connection, by mallory and by
-- alice. Before Authenticate everything but ApiVersions and Authenticate
-- is refused with CLUSTER_AUTHORIZATION_FAILED; mallory gets the matching
-- *_AUTHORIZATION_FAILED (or no topics from Metadata); alice succeeds. A
-- refused request changes nothing (checked by alice afterwards), and no
-- token appears in any answer or in the broker's log. The table must name
-- every advertised API key, so a new API cannot be left out.

local server = require("support.server")
local client = require("flyq.client")

local ALICE, MALLORY = "alice-tok-7f3a9c1e55", "mallory-tok-0b2d8e4f77"
local CORR = 4242
local SHIPPED = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/plugins"

-- The broker's config; with extra_topic, the one ConfigApply sends: victim
-- (deleted by alice's DeleteTopics just before) replaced by extra_topic.
local function config(extra_topic)
  local topics = {t = {}, [extra_topic or "victim"] = {}}
  return {
    plugin_path = {SHIPPED},
    auth = {
      {plugin = "auth_token", params = {tokens = {alice = ALICE,
                                                  mallory = MALLORY}}},
      {plugin = "acl", params = {rules = {
        {allow = true, principal = "alice"},
        {allow = false, principal = "mallory"},
      }}},
    },
    topics = topics,
  }
end

-- Encoding ------------------------------------------------------------------------

local function str(s) return string.pack(">s2", s) end
local function i32(n) return string.pack(">i4", n) end
local NULL_ARRAY = i32(-1)

-- The frame of request (key, version 0) with body.
local function frame(key, body)
  local payload = string.pack(">i2i2i4", key, 0, CORR) .. str("auth-table") ..
                  body
  return string.pack(">s4", payload)
end

-- Decoding: a cursor over a payload -------------------------------------------

local Reader = {}
Reader.__index = Reader

local function reader(payload) return setmetatable({p = payload, pos = 1}, Reader) end

function Reader:num(fmt)
  local v
  v, self.pos = string.unpack(fmt, self.p, self.pos)
  return v
end

-- Skips the fields of fmt.
function Reader:skip(fmt)
  self.pos = select(-1, string.unpack(fmt, self.p, self.pos))
end

function Reader:str(fmt)
  local n = self:num(fmt or ">i2")
  if n < 0 then return nil end
  assert(self.pos + n - 1 <= #self.p, "truncated string")
  local s = self.p:sub(self.pos, self.pos + n - 1)
  self.pos = self.pos + n
  return s
end

function Reader:array(fn)
  local out = {}
  for i = 1, self:num(">i4") do out[i] = fn(self) end
  return out
end

-- The answer to one request: {top = code, msg = text, nested = {codes},
-- texts = {every message}, body = API-specific}.
local function decode(api, payload)
  local r = reader(payload)
  assert.are.equal(CORR, r:num(">i4"))
  local res = {nested = {}, texts = {}}
  res.top, res.msg = r:num(">i2"), r:str()
  res.texts[1] = res.msg
  if res.top == 0 then
    local ok, body = pcall(api.decode, r, res)
    assert(ok, api.name .. ": bad answer: " .. tostring(body))
    res.body = body
    assert.are.equal(#payload + 1, r.pos, api.name .. ": trailing bytes")
  end
  return res
end

-- Adds a nested error code (and its message) to res.
local function nested(res, code, msg)
  res.nested[#res.nested + 1] = code
  if msg then res.texts[#res.texts + 1] = msg end
end

-- Per-topic entries with per-partition results read by part(r, res).
local function topics_of(part)
  return function(r, res)
    return r:array(function()
      return {name = r:str(), parts = r:array(function() return part(r, res) end)}
    end)
  end
end

local function topic_results(r, res)
  return r:array(function()
    local name, code, msg = r:str(), r:num(">i2"), r:str()
    nested(res, code, msg)
    return {name = name, code = code}
  end)
end

-- The table ---------------------------------------------------------------------
--
-- Each API: key, name, body(who) (who is "anonymous", "mallory" or
-- "alice"), decode(reader, res), denied (mallory's expected answer:
-- {top = code}, {nested = code} or a function(res)), and unchanged(c),
-- checked with alice's client c after a refused request.

local function produce_body()
  local batch = client.encode_batch({{value = "from-raw"}})
  local function entry(name)
    return str(name) .. i32(1) .. i32(0) .. string.pack(">s4", batch)
  end
  return string.pack(">i1i4", 1, 5000) .. i32(2) .. entry("t") .. entry("ghost")
end

-- ConfigPlan and ConfigApply send the broker's config with the topic
-- "applied" instead of "victim".
local function config_body()
  local dir = server.tmpdir()
  server.write_config(dir .. "/apply.lua", config("applied"))
  local f = assert(io.open(dir .. "/apply.lua", "rb"))
  local text = f:read("a")
  f:close()
  server.rmdir(dir)
  return string.pack(">s4", text) .. str("apply.lua")
end

local function config_changes(r, res)
  return r:array(function()
    local change = {kind = r:str(), topic = r:str(), detail = r:str()}
    res.texts[#res.texts + 1] = change.detail
    return change
  end)
end

local function topic_exists(c, name)
  local md = assert(c:metadata(name))
  return md.topics[1].error == nil
end

local APIS = {
  {key = 0, name = "Produce", body = produce_body,
   decode = topics_of(function(r, res)
     local p, code, msg = r:num(">i4"), r:num(">i2"), r:str()
     nested(res, code, msg)
     r:skip(">i8i8i8")
     return p
   end),
   denied = {nested = 29},
   unchanged = function(c)
     assert.are.equal(0, assert(c:fetch("t", 0, 0)).high_watermark)
     assert.is_false(topic_exists(c, "ghost"))
   end},
  {key = 1, name = "Fetch",
   body = function()
     return string.pack(">i4i4i4", 0, 1, 65536) .. i32(1) .. str("t") ..
            i32(1) .. string.pack(">i4i8i4", 0, 0, 65536)
   end,
   decode = topics_of(function(r, res)
     local p, code, msg = r:num(">i4"), r:num(">i2"), r:str()
     nested(res, code, msg)
     r:skip(">i8i8i8")
     r:str(">i4")
     return p
   end),
   denied = {nested = 29}},
  {key = 2, name = "ListOffsets",
   body = function()
     return i32(1) .. str("t") .. i32(1) .. string.pack(">i4i8", 0, -1)
   end,
   decode = topics_of(function(r, res)
     local p, code = r:num(">i4"), r:num(">i2")
     nested(res, code)
     r:num(">i8")
     return p
   end),
   denied = {nested = 29}},
  {key = 3, name = "Metadata", body = function() return NULL_ARRAY end,
   decode = function(r, res)
     r:str(); r:num(">i4")
     return r:array(function()
       local name, code = r:str(), r:num(">i2")
       nested(res, code)
       r:array(function() r:skip(">i4i8i8i8i4i8i8") end)
       r:array(function() r:str(); r:str() end)
       return name
     end)
   end,
   denied = function(res)
     assert.are.equal(0, res.top, res.msg)
     assert.are.same({}, res.body) -- every topic is hidden from mallory
   end},
  {key = 8, name = "OffsetCommit",
   body = function()
     return str("g1") .. i32(1) .. str("t") .. i32(1) ..
            string.pack(">i4i8", 0, 0)
   end,
   decode = topics_of(function(r, res)
     local p, code = r:num(">i4"), r:num(">i2")
     nested(res, code)
     return p
   end),
   denied = {top = 30},
   unchanged = function(c)
     assert.are.equal(-1, assert(c:committed("g1", "t", 0)))
     assert.are.same({}, assert(c:groups()))
   end},
  {key = 9, name = "OffsetFetch",
   body = function() return str("g1") .. NULL_ARRAY end,
   decode = topics_of(function(r, res)
     local p = r:num(">i4")
     r:num(">i8")
     nested(res, r:num(">i2"))
     return p
   end),
   denied = {top = 30}},
  {key = 16, name = "ListGroups", body = function() return "" end,
   decode = function(r) return r:array(function() return r:str() end) end,
   denied = {top = 31}},
  {key = 18, name = "ApiVersions", open = true, body = function() return "" end,
   decode = function(r)
     local apis = r:array(function()
       return {key = r:num(">i2"), min = r:num(">i2"), max = r:num(">i2")}
     end)
     r:str()
     return apis
   end},
  {key = 19, name = "CreateTopics",
   body = function() return i32(1) .. str("created") .. i32(1) .. i32(0) end,
   decode = topic_results, denied = {nested = 29},
   unchanged = function(c) assert.is_false(topic_exists(c, "created")) end},
  {key = 20, name = "DeleteTopics",
   body = function() return i32(1) .. str("victim") end,
   decode = topic_results, denied = {nested = 29},
   unchanged = function(c) assert.is_true(topic_exists(c, "victim")) end},
  {key = 36, name = "Authenticate", open = true,
   body = function(who)
     local token = ({alice = ALICE, mallory = MALLORY})[who]
     return str("token") .. string.pack(">s4", token or ("wrong-" .. ALICE))
   end,
   decode = function(r) return r:str() end},
  {key = 50, name = "ConfigPlan", body = config_body, decode = config_changes,
   denied = {top = 31}},
  {key = 51, name = "ConfigApply", body = config_body, decode = config_changes,
   denied = {top = 31},
   unchanged = function(c) assert.is_false(topic_exists(c, "applied")) end},
  {key = 52, name = "Stats", body = function() return "" end,
   decode = function(r, res)
     local json = r:str(">i4")
     res.texts[#res.texts + 1] = json
     return json
   end,
   denied = {top = 31}},
}

local by_key = {}
for _, api in ipairs(APIS) do by_key[api.key] = api end

-- Running the table -------------------------------------------------------------

local function contains_token(text)
  return text ~= nil and (text:find(ALICE, 1, true) or
                          text:find(MALLORY, 1, true)) ~= nil
end

-- Sends api's request for who on c and returns the decoded answer.
local function call(c, api, who)
  assert(c:send_raw(frame(api.key, api.body(who))))
  local payload, err = c:recv_frame(10000)
  assert(payload, api.name .. ": " .. tostring(err))
  local res = decode(api, payload)
  for _, text in pairs(res.texts) do
    assert.is_false(contains_token(text), api.name .. " answered a token")
  end
  return res
end

local function connect(srv, token)
  return assert(client.connect(srv.addr, {token = token}))
end

local function assert_unchanged(srv)
  local c = connect(srv, ALICE)
  for _, api in ipairs(APIS) do
    if api.unchanged then api.unchanged(c) end
  end
  c:close()
end

describe("authorization of every API", function()
  local srv

  before_each(function() srv = server.start({config = config()}) end)

  after_each(function()
    if not srv then return end
    local code = srv:stop()
    local log = srv:log_text()
    local clean, err = pcall(srv.assert_clean_log, srv)
    srv:close()
    srv = nil
    assert.are.equal(0, code)
    assert(clean, err)
    assert.is_false(contains_token(log), "a token is in the broker's log")
  end)

  it("has a row for every API the broker advertises", function()
    local c = connect(srv)
    local res = call(c, by_key[18], "anonymous")
    c:close()
    assert.are.equal(0, res.top)
    for _, v in ipairs(res.body) do
      assert.is_truthy(by_key[v.key], "API " .. v.key .. " has no row")
      assert.are.equal(0, v.min, "API " .. v.key .. ": version 0 gone")
    end
    assert.are.equal(#APIS, #res.body, "the table has an API not advertised")
  end)

  it("refuses everything but ApiVersions and Authenticate before Authenticate",
     function()
    local c = connect(srv)
    for _, api in ipairs(APIS) do
      local res = call(c, api, "anonymous")
      if api.key == 18 then
        assert.are.equal(0, res.top, res.msg)
      elseif api.key == 36 then
        assert.are.equal(58, res.top, res.msg) -- a wrong token
      else
        assert.are.equal(31, res.top, api.name .. ": " .. tostring(res.msg))
        assert.matches("authentication required", res.msg, 1, true)
      end
    end
    c:close()
    assert_unchanged(srv)
  end)

  it("refuses mallory with the matching authorization error", function()
    local c = connect(srv, MALLORY)
    for _, api in ipairs(APIS) do
      local res = call(c, api, "mallory")
      local want = api.denied
      if want == nil then
        assert.are.equal(0, res.top, api.name .. ": " .. tostring(res.msg))
      elseif type(want) == "function" then
        want(res)
      elseif want.top then
        assert.are.equal(want.top, res.top, api.name .. ": " .. tostring(res.msg))
      else
        assert.are.equal(0, res.top, api.name .. ": " .. tostring(res.msg))
        assert.is_true(#res.nested > 0, api.name .. ": no entries")
        for _, code in ipairs(res.nested) do
          assert.are.equal(want.nested, code, api.name)
        end
      end
    end
    c:close()
    assert_unchanged(srv)
  end)

  it("serves alice every API", function()
    local c = connect(srv, ALICE)
    for _, api in ipairs(APIS) do
      local res = call(c, api, "alice")
      assert.are.equal(0, res.top, api.name .. ": " .. tostring(res.msg))
      for _, code in ipairs(res.nested) do
        assert.are.equal(0, code, api.name)
      end
      if api.key == 36 then assert.are.equal("alice", res.body) end
    end
    c:close()
    -- What alice did happened.
    c = connect(srv, ALICE)
    local res = assert(c:fetch("t", 0, 0))
    assert.are.equal("from-raw", res.records[1].value)
    assert.are.equal(0, (assert(c:committed("g1", "t", 0))))
    assert.is_true(topic_exists(c, "created"))
    assert.is_true(topic_exists(c, "applied"))
    assert.is_false(topic_exists(c, "victim"))
    c:close()
  end)
end)
