# libFuzzer builds (-DINFERVISOR_BUILD_FUZZERS=ON, clang only; scripts/fuzz.sh makes one). Every
# target is compiled with the fuzzer's coverage instrumentation and with ASan+UBSan, so that the
# parsers in common/, shm/ and supervisor/ guide the fuzzer and a bad read or undefined behaviour
# anywhere in them is a finding; only the fuzz targets in tests/fuzz link libFuzzer's main().
if(NOT INFERVISOR_BUILD_FUZZERS)
  return()
endif()
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "INFERVISOR_BUILD_FUZZERS needs clang (libFuzzer), not "
                      "${CMAKE_CXX_COMPILER_ID}: configure with -DCMAKE_CXX_COMPILER=clang++-14")
endif()
if(NOT INFERVISOR_SANITIZE STREQUAL "")
  message(FATAL_ERROR "INFERVISOR_BUILD_FUZZERS brings its own sanitizers (ASan+UBSan): leave "
                      "INFERVISOR_SANITIZE empty")
endif()
add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                    -fno-sanitize-recover=undefined)
add_link_options(-fsanitize=fuzzer-no-link,address,undefined)
