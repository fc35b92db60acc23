#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (unit and integration tests, through CTest).
#   scripts/test.sh                      Release build in ./build
#   SANITIZE=address scripts/test.sh     ASan+UBSan build in ./build-address
#   SANITIZE=thread scripts/test.sh      TSan build in ./build-thread
# Extra arguments go to ctest, e.g. scripts/test.sh -R shm
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sanitize=${SANITIZE:-}
build_dir=${BUILD_DIR:-$root/build${sanitize:+-$sanitize}}
"$root/scripts/setup.sh"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
ctest --test-dir "$build_dir" --output-on-failure --timeout 300 "$@"
