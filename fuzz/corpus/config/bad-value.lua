return {
  topics = { orders = { partitons = "six" }, ["__x"] = {} },
  limits = { max_frame_bytes = "8GiB" },
  listen = "localhost",
}
