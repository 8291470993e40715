local topics = {}
for _, region in ipairs({"eu", "us", "ap"}) do
  topics["orders-" .. region] = { partitions = #region + 1 }
end
local ok, err = pcall(error, "caught")
return {
  data_dir = env("FLYQ_FUZZ_DATA_DIR", "/tmp/" .. string.rep("d", 3)),
  limits = { max_frame_bytes = 1024, max_inflight = math.tointeger(2.0),
             max_output_bytes = "1TiB", request_timeout_ms = "250ms" },
  groups = { flush_interval_ms = "10s" },
  auto_create_topics = not ok and err == "caught",
  topics = topics,
}
