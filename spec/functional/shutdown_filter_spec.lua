-- A fetch parked when the broker shuts down is answered with what it has
-- (docs/architecture.md, "Threading model"), and the topic's on_consume
-- hooks still apply to that answer: a shutdown must not send raw records.

local server = require("support.server")
local client = require("flyq.client")

local PLUGINS = (os.getenv("FLYQ_SOURCE_DIR") or ".") .. "/spec/fixtures/plugins"

-- A Fetch v0 frame for partition 0 of topic from offset 0 that parks: it
-- asks for far more bytes than there are and waits a minute.
local function parking_fetch(topic)
  local payload = string.pack(">i2i2i4s2", 1, 0, 7, "shutdown-spec") ..
                  string.pack(">i4i4i4", 60000, 1 << 20, 1 << 20) ..
                  string.pack(">i4s2i4i4i8i4", 1, topic, 1, 0, 0, 1 << 20)
  return string.pack(">s4", payload)
end

describe("shutdown with a parked fetch", function()
  it("answers it through the topic's on_consume hooks", function()
    local srv = server.start({config = {plugin_path = {PLUGINS},
                                        topics = {lo = {on_consume = {"lower"}}}}})
    local c = assert(client.connect(srv.addr))
    local waiter = assert(client.connect(srv.addr))
    assert(c:produce("lo", {"HeLLo"}))
    assert(waiter:send_raw(parking_fetch("lo")))
    server.wait_for(function()
      return assert(c:stats()).broker.parked_fetches == 1
    end, 10, "the fetch to park")
    c:close()
    assert(os.execute("kill -TERM " .. srv.pid))
    local payload = assert(waiter:recv_frame(10000))
    assert.is_truthy(payload:find("hello", 1, true))
    assert.is_falsy(payload:find("HeLLo", 1, true))
    waiter:close()
    -- Already stopping: wait for the exit (a second SIGTERM could arrive
    -- after the broker closed its signal handles).
    server.wait_for(function() return not srv:running() end, 20,
                    "the broker to exit")
    srv:finish()
  end)
end)
