# Benchmarks. `make bench` builds the `bench` target, which runs bench/run.sh
# with the benchmark programs defined here.

# bench_storage: in-process throughput of the partition log and the disk
# (bench/bench_storage.c; results in docs/benchmarks.md).
add_executable(bench_storage ${PROJECT_SOURCE_DIR}/bench/bench_storage.c)
target_link_libraries(bench_storage PRIVATE flyq_storage)

add_custom_target(bench
  COMMAND ${PROJECT_SOURCE_DIR}/bench/run.sh $<TARGET_FILE:bench_storage>
  DEPENDS bench_storage
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  USES_TERMINAL)
