return {
  listen = "[::1]:0",
  log_level = "debug",
  flush = { messages = 1, interval_ms = -1 },
  defaults = { partitions = 3, retention = { ms = -1, bytes = "64 MiB" },
               segment = { bytes = 1048576, ms = "1h30m" },
               index_interval_bytes = "4KiB" },
  topics = {
    orders = { partitions = 6, retention = { bytes = "10GB" } },
    ["audit-log"] = { flush = { messages = 1 }, segment = { ms = 0 } },
    ["a.b_c-1"] = {},
  },
}
