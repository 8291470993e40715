# Reliability: crash consistency under SIGKILL (docs/reliability.md,
# "Crash consistency"). spec/tools/crashtest.c drives a real `flyq serve`
# child; the short forms below are ctest tests, the long form is the
# `crashtest-long` target (`make crashtest`).
#
# The damage and disk-full specs (spec/functional/damage_spec.lua,
# disk_full_spec.lua) are ordinary busted specs picked up by tests.cmake;
# the ENOSPC shim that disk_full_spec.lua falls back to when it cannot mount
# a tmpfs is built at the end of this file.

if(NOT TARGET flyq)
  return()
endif()

add_executable(crashtest ${PROJECT_SOURCE_DIR}/spec/tools/crashtest.c)
target_link_libraries(crashtest PRIVATE flyq_client)
add_dependencies(crashtest flyq)

set(FLYQ_CRASH_KILLS_LONG 1000 CACHE STRING
    "SIGKILLs of each run (acks=all, acks=1) of make crashtest")

add_test(NAME reliability/crash-acks-all
  COMMAND crashtest --flyq $<TARGET_FILE:flyq> --acks all --kills 50)
add_test(NAME reliability/crash-acks-1
  COMMAND crashtest --flyq $<TARGET_FILE:flyq> --acks 1 --kills 25)
set_tests_properties(reliability/crash-acks-all reliability/crash-acks-1
  PROPERTIES TIMEOUT 300 LABELS reliability)

add_custom_target(crashtest-long
  COMMAND crashtest --flyq $<TARGET_FILE:flyq> --acks all
          --kills ${FLYQ_CRASH_KILLS_LONG}
  COMMAND crashtest --flyq $<TARGET_FILE:flyq> --acks 1
          --kills ${FLYQ_CRASH_KILLS_LONG}
  DEPENDS crashtest flyq
  USES_TERMINAL)

# The ENOSPC shim of disk_full_spec.lua (used when it cannot mount a tmpfs):
# build/lib/flyq_enospc.so, next to flyq.core.
add_library(flyq_enospc MODULE ${PROJECT_SOURCE_DIR}/spec/tools/enospc.c)
target_link_libraries(flyq_enospc PRIVATE ${CMAKE_DL_LIBS})
set_target_properties(flyq_enospc PROPERTIES PREFIX "" OUTPUT_NAME flyq_enospc
  LIBRARY_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/lib)
