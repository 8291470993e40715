# Tests: plain C tests (spec/c/test-*.c, one executable each) and busted
# specs (spec/unit, spec/functional), all run by ctest.
file(GLOB c_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/spec/c/test-*.c)
foreach(src ${c_tests})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src} ${PROJECT_SOURCE_DIR}/spec/c/runner.c)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/spec/c)
  # Link only the layer a test is about, so a test never waits on layers
  # above it: test-proto* -> proto, test-client* -> client, and so on.
  set(lib flyq_storage)
  foreach(layer proto broker net server client host)
    if(name MATCHES "^test-${layer}")
      set(lib flyq_${layer})
    endif()
  endforeach()
  target_link_libraries(${name} PRIVATE ${lib} Threads::Threads m)
  add_test(NAME c/${name} COMMAND ${name})
  set_tests_properties(c/${name} PROPERTIES TIMEOUT 300)
endforeach()

# Environment shared by every busted run: where flyq.core and the Lua
# sources are, and where the flyq binary is.
# The ';' of Lua search paths are escaped so that the list keeps them.
set(FLYQ_SPEC_ENV
  "LUA_PATH=${PROJECT_SOURCE_DIR}/lua/?.lua\;${PROJECT_SOURCE_DIR}/lua/?/init.lua\;${PROJECT_SOURCE_DIR}/spec/?.lua\;\;"
  "LUA_CPATH=${PROJECT_BINARY_DIR}/lib/?.so\;\;"
  "FLYQ_BIN=${PROJECT_BINARY_DIR}/flyq"
  "FLYQ_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
if(FLYQ_SANITIZE)
  # The Lua interpreter is not instrumented: preload the runtime, without
  # leak checks for the interpreter itself (spec/support/server.lua turns
  # them back on for the brokers it starts). FLYQ_SANITIZE=1 tells specs
  # with time or memory bounds that they run under the sanitizers.
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE ASAN_LIB OUTPUT_STRIP_TRAILING_WHITESPACE)
  list(APPEND FLYQ_SPEC_ENV "LD_PRELOAD=${ASAN_LIB}"
       "ASAN_OPTIONS=detect_leaks=0" "FLYQ_SANITIZE=1")
endif()

foreach(suite unit functional)
  file(GLOB specs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/spec/${suite}/*_spec.lua)
  foreach(spec ${specs})
    get_filename_component(name ${spec} NAME_WE)
    add_test(NAME ${suite}/${name}
      COMMAND ${LUA_EXE} ${BUSTED_EXE} --output=utfTerminal ${spec}
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
    set_tests_properties(${suite}/${name} PROPERTIES
      ENVIRONMENT "${FLYQ_SPEC_ENV}" TIMEOUT 600)
  endforeach()
endforeach()

# Specs that bound latencies (a steady client's p99, each faulty request's
# time) run alone: on 2 cores, the other specs ctest -j runs beside them
# would be what they measure.
foreach(name plugins_load_spec hostile_spec)
  set_tests_properties(functional/${name} PROPERTIES RUN_SERIAL TRUE)
endforeach()
