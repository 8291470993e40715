# Benchmarks. `make bench` builds the `bench` target, which runs bench/run.sh
# with bench_storage, then bench_hooks, then bench/plugins.lua.

# bench_storage: in-process throughput of the partition log and the disk
# (bench/bench_storage.c; results in docs/benchmarks.md).
add_executable(bench_storage ${PROJECT_SOURCE_DIR}/bench/bench_storage.c)
target_link_libraries(bench_storage PRIVATE flyq_storage)

# bench_hooks: in-process CPU cost per record of the on_produce path, split
# into validation and the hook call (bench/bench_hooks.c).
add_executable(bench_hooks ${PROJECT_SOURCE_DIR}/bench/bench_hooks.c)
target_link_libraries(bench_hooks PRIVATE flyq_host)

# bench/plugins.lua: what a trivial on_produce hook costs over TCP, against
# the same broker's plain topic (`flyq bench produce`; docs/benchmarks.md,
# "Plugins"). Run with the system's lua5.4 (a Debian package `make deps`
# installs), using lua-cjson.
find_program(FLYQ_LUA lua5.4 REQUIRED)

add_custom_target(bench
  COMMAND ${PROJECT_SOURCE_DIR}/bench/run.sh $<TARGET_FILE:bench_storage>
  COMMAND $<TARGET_FILE:bench_hooks>
  COMMAND ${CMAKE_COMMAND} -E env FLYQ_BIN=$<TARGET_FILE:flyq>
          ${FLYQ_LUA} ${PROJECT_SOURCE_DIR}/bench/plugins.lua
  DEPENDS bench_storage bench_hooks flyq
  WORKING_DIRECTORY ${PROJECT_BINARY_DIR}
  USES_TERMINAL)
