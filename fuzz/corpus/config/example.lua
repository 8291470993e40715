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
  -- until authentication exists: a non-loopback address is refused unless
  -- allow_anonymous = true.
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
  },
}
