# Fuzzing (docs/reliability.md, "Fuzzing"). Included at the end of
# CMakeLists.txt, once every library target exists.
#
# With FLYQ_FUZZ=ON, in a build configured with CC=clang-14 (fuzz/run.sh and
# `make fuzz` make one in build-fuzz/): every target is compiled with
# libFuzzer's coverage instrumentation plus ASan and UBSan, and each
# fuzz/fuzz_<name>.c becomes a libFuzzer executable fuzz_<name>; fuzz_seeds
# writes the binary seed corpora.
#
# In any other build: the same target files are linked with fuzz/replay.c
# into fuzz-replay-<name>, and ctest replays the regression inputs and the
# seeds through them (tests fuzz/replay/<name>, plain gcc, ASan build
# included). The test "fuzz" (label fuzz) runs fuzz/run.sh: it builds the
# clang fuzzers next to this build and fuzzes each target for
# FLYQ_FUZZ_SECONDS; it is skipped when clang-14 is not installed.

option(FLYQ_FUZZ "Build the libFuzzer targets of fuzz/ (needs clang)" OFF)
set(FLYQ_FUZZ_SECONDS 15 CACHE STRING
    "Seconds of fuzzing per target in the ctest test 'fuzz'")
set(FLYQ_FUZZ_BUILD_DIR ${PROJECT_BINARY_DIR}/fuzz-clang CACHE PATH
    "The clang build the ctest test 'fuzz' configures or reuses")

# Fuzz targets and the library each one exercises.
set(flyq_fuzz_targets request response batch config)
set(flyq_fuzz_lib_request flyq_proto)
set(flyq_fuzz_lib_response flyq_client)
set(flyq_fuzz_lib_batch flyq_codec)
set(flyq_fuzz_lib_config flyq_host)

add_library(flyq_fuzz_common STATIC ${PROJECT_SOURCE_DIR}/fuzz/common.c)
target_link_libraries(flyq_fuzz_common PUBLIC flyq_codec)

if(FLYQ_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FLYQ_FUZZ needs clang: configure with CC=clang-14")
  endif()
  set(flyq_fuzz_flags -fsanitize=fuzzer-no-link,address,undefined
      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  get_property(all_targets DIRECTORY PROPERTY BUILDSYSTEM_TARGETS)
  foreach(t ${all_targets})
    get_target_property(type ${t} TYPE)
    if(type MATCHES "STATIC_LIBRARY|EXECUTABLE|MODULE_LIBRARY")
      target_compile_options(${t} PRIVATE ${flyq_fuzz_flags})
    endif()
    if(type MATCHES "EXECUTABLE|MODULE_LIBRARY")
      target_link_options(${t} PRIVATE ${flyq_fuzz_flags})
    endif()
  endforeach()
  foreach(name ${flyq_fuzz_targets})
    add_executable(fuzz_${name} ${PROJECT_SOURCE_DIR}/fuzz/fuzz_${name}.c)
    target_compile_options(fuzz_${name} PRIVATE ${flyq_fuzz_flags})
    target_link_options(fuzz_${name} PRIVATE
      -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${name} PRIVATE flyq_fuzz_common
      ${flyq_fuzz_lib_${name}})
  endforeach()
  add_executable(fuzz_seeds ${PROJECT_SOURCE_DIR}/fuzz/seeds.c)
  target_compile_options(fuzz_seeds PRIVATE ${flyq_fuzz_flags})
  target_link_options(fuzz_seeds PRIVATE ${flyq_fuzz_flags})
  target_link_libraries(fuzz_seeds PRIVATE flyq_proto)
  return()
endif()

foreach(name ${flyq_fuzz_targets})
  add_executable(fuzz-replay-${name} ${PROJECT_SOURCE_DIR}/fuzz/fuzz_${name}.c
    ${PROJECT_SOURCE_DIR}/fuzz/replay.c)
  target_link_libraries(fuzz-replay-${name} PRIVATE flyq_fuzz_common
    ${flyq_fuzz_lib_${name}})
  add_test(NAME fuzz/replay/${name} COMMAND fuzz-replay-${name}
    ${PROJECT_SOURCE_DIR}/fuzz/regressions/${name}
    ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  set_tests_properties(fuzz/replay/${name} PROPERTIES TIMEOUT 120)
endforeach()

add_test(NAME fuzz COMMAND sh ${PROJECT_SOURCE_DIR}/fuzz/run.sh
  ${FLYQ_FUZZ_BUILD_DIR} ${FLYQ_FUZZ_SECONDS})
set_tests_properties(fuzz PROPERTIES LABELS fuzz TIMEOUT 600
  SKIP_RETURN_CODE 77)
