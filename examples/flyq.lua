-- An example FlyQ broker config: copy it, then edit what you need.
--
--   flyq config check -c flyq.lua    validate it without starting a broker
--   flyq serve -c flyq.lua           start the broker with it (`make run`)
--
-- The file is Lua and returns a table. It runs in a sandbox: no io, os or
-- require; env("NAME", default) reads an environment variable. Sizes are
-- bytes or strings like "512KiB", "256MiB", "10GB"; durations are
-- milliseconds or strings like "250ms", "10s", "30m", "1h", "7d".
-- Every key is optional; docs/config.md lists them all with their defaults.

return {
  -- Where the native protocol listens ("host:port"). Keep it on loopback
  -- unless authentication (`auth` below) is on: a non-loopback address is
  -- refused unless allow_anonymous = true.
  listen = env("FLYQ_LISTEN", "127.0.0.1:7500"),
  http = "127.0.0.1:7501",           -- HTTP API (reserved for later use)
  allow_anonymous = false,

  -- Topics, partitions and consumer-group offsets live here.
  data_dir = env("FLYQ_DATA_DIR", "./data"),

  log_level = "info",                -- error, warn, info or debug

  -- When appended messages are forced to disk (fsync), whichever comes
  -- first. Without flush settings FlyQ leaves it to the OS page cache.
  flush = {
    messages = 10000,                -- after this many messages (0: off)
    interval_ms = "1s",              -- when unflushed data is this old (-1: off)
  },

  -- Per-connection and broker-wide limits.
  limits = {
    max_frame_bytes = "16MiB",       -- largest request accepted
    max_connections = 10000,
    max_inflight = 256,              -- requests in flight per connection
    max_output_bytes = "64MiB",      -- queued response bytes per connection
    request_timeout_ms = "30s",      -- for a request that arrives incompletely
    max_topics = 10000,
  },

  -- Settings of topics that do not set their own (including topics created
  -- automatically by a produce when auto_create_topics is on).
  defaults = {
    partitions = 1,
    retention = {
      ms = "7d",                     -- delete segments older (-1: forever)
      bytes = -1,                    -- keep each partition under (-1: no limit)
    },
    segment = {
      bytes = "1GiB",                -- start a new segment at this size
      ms = "7d",                     -- or when the active one is this old
    },
    index_interval_bytes = 4096,     -- bytes between two offset index entries
  },
  auto_create_topics = true,

  groups = {
    flush_interval_ms = "1s",        -- how often committed offsets are saved
  },

  -- Topics created at startup if missing; their settings are applied if
  -- they exist. Anything not set here comes from `defaults` above.
  topics = {
    orders = {
      partitions = 6,
      retention = { ms = "30d", bytes = "10GiB" },
      segment = { bytes = "256MiB" },
    },
    ["audit-log"] = {
      partitions = 1,
      retention = { ms = -1 },       -- keep forever
      flush = { messages = 1 },      -- fsync every message
    },

    -- Plugins (docs/plugins.md) shape what topics take in. Each names a
    -- file <name>.lua on plugin_path (below) and its params.
    payments = {
      partitions = 3,
      -- Records of one customer share a partition, whatever their key.
      partitioner = { plugin = "partition_by_field",
                      params = { field = "customer_id" } },
      -- Hooks run in this order, each on what the previous one returned.
      on_produce = {
        "drop_invalid_json",         -- no junk in the topic
        { plugin = "redact",         -- never store card numbers
          params = { fields = { "card.number", "customer.email" } } },
        { plugin = "add_headers",    -- who produced it, and a fixed tag
          params = { headers = { source = "flyq-example" },
                     principal_header = "x-producer" } },
      },
      -- A hook that fails sends the original record to "payments.dlq"
      -- (on_error: "reject" fails the entry, nothing of its batch stored,
      -- the default; "pass" stores the record unchanged; "dead_letter" as
      -- here).
      on_error = "dead_letter",
    },
    -- Events are routed by their "type" field: {"type": "click"} goes to
    -- the topic "events-click", events without a usable type to
    -- "events-other" (both created on first use, auto_create_topics).
    events = {
      on_produce = { plugin = "route_by_field",
                     params = { field = "type", prefix = "events-",
                                fallback = "events-other" } },
      on_error = "pass",
    },
    -- Keep one metric sample in ten.
    metrics = {
      on_produce = { plugin = "sample", params = { n = 10 } },
      on_error = "pass",
    },
  },

  -- Where plugin files are looked up, in order (relative to the broker's
  -- working directory; `make run` runs from the repository's top).
  plugin_path = { "./plugins" },
  plugins = {
    limits = {
      time_ms = 10,                  -- CPU time per record and hook call
      memory = "64MiB",              -- per plugin instance (Lua state)
    },
  },

  -- Authentication and authorization, off unless FLYQ_AUTH_DEMO=1:
  -- with auth on, every client must send a token, so the README's commands
  -- would need --token. Try it with
  --   FLYQ_AUTH_DEMO=1 make run
  --   echo hi | build/flyq produce demo --token demo-alice-token
  --   build/flyq consume demo --token demo-bob-token
  -- alice may produce to and read every topic, bob (his token given as its
  -- SHA-256, `printf %s demo-bob-token | sha256sum`) may only read, and
  -- anything else is denied. Use real secrets (from env()) in production.
  auth = env("FLYQ_AUTH_DEMO") == "1" and {
    { plugin = "auth_token", params = { tokens = {
        alice = "demo-alice-token",
        bob = "sha256:f53ac7c0c2bf5dd4a7d551a3d4cdadf03b3f2c0923e394749100ecae6e4523f1",
    } } },
    { plugin = "acl", params = { rules = {
        { allow = true, principal = "alice" },
        { allow = true, principal = "bob",
          actions = { "fetch", "list_offsets", "describe", "offset_fetch",
                      "commit", "list_groups" } },
        { allow = false, principal = "*" },
    } } },
  } or nil,
}
