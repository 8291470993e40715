# The tools of the hostile-client specs (spec/functional/hostile_spec.lua,
# docs/reliability.md "Hostile clients"), built next to the flyq binary,
# where the spec finds them:
#   flyq-steady   the well-behaved client: produce + fetch in a loop, with
#                 latency percentiles and error counts as JSON
#   flyq-hostile  the attacks: idle connections, slowloris, absurd frame
#                 sizes, clients that never read, floods, random bytes
add_executable(flyq-steady ${PROJECT_SOURCE_DIR}/spec/tools/steady.c)
target_link_libraries(flyq-steady PRIVATE flyq_client)

add_executable(flyq-hostile ${PROJECT_SOURCE_DIR}/spec/tools/hostile.c
  ${PROJECT_SOURCE_DIR}/spec/tools/hostile_net.c
  ${PROJECT_SOURCE_DIR}/spec/tools/hostile_modes.c)
target_link_libraries(flyq-hostile PRIVATE flyq_proto)
