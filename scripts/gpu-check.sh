#!/usr/bin/env bash
# The GPU machine's check: build against the machine's pip torch (CUDA), run the whole suite with
# the GPU tests (which skip elsewhere), then the GPU benchmark, printing one table. Each stage fits
# in 10 minutes, so a session can run them as separate calls on a machine it keeps warm.
#
#   scripts/gpu-check.sh build   configure and build into $BUILD_DIR (default build-gpu)
#   scripts/gpu-check.sh test    the whole CTest suite, GPU tests included
#   scripts/gpu-check.sh bench   ResNet-50 scripted now with the machine's torchvision, then
#                                infervisor-bench-gpu (BENCH_ARGS, e.g. --quick, go to it)
#   scripts/gpu-check.sh batching  the same ResNet-50 through infervisor-bench-batching: batch-1
#                                traffic with dynamic batching off and on (BATCHING_ARGS go to it)
#   scripts/gpu-check.sh all     build, test and bench (the default)
#
# Needs no network: Boost, spdlog, yaml-cpp, GTest, Google Benchmark, CMake, ninja, a CUDA toolkit
# and python3 with torch and torchvision must be there already.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build-gpu}
stage=${1:-all}
log() { printf '\033[1m[gpu-check]\033[0m %s\n' "$*" >&2; }

build() {
  local prefix
  prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  log "torch $(python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)') from $prefix"
  command -v nvidia-smi >/dev/null && nvidia-smi -L >&2 || log "no nvidia-smi"
  # The Python client's tests run with the python that has torch, so the CUDA-region tests run.
  BUILD_DIR=$build_dir TORCH_PREFIX=$prefix \
    CMAKE_ARGS="${CMAKE_ARGS:-} -DINFERVISOR_TEST_PYTHON=$(command -v python3)" "$root/scripts/setup.sh"
  grep -q '^INFERVISOR_WITH_CUDA:INTERNAL=ON' "$build_dir/CMakeCache.txt" \
    && log "built with CUDA workers" || log "WARNING: built WITHOUT CUDA workers"
}

run_tests() {
  log "the whole suite, GPU tests included"
  ctest --test-dir "$build_dir" --output-on-failure --timeout 300 -j "$(nproc)"
}

bench() {
  local model=$build_dir/models/resnet50.pt
  [[ -f $model ]] || python3 "$root/bench/gpu/make_resnet50.py" "$model"
  # shellcheck disable=SC2086  # BENCH_ARGS is a list of options
  "$build_dir/bin/infervisor-bench-gpu" --model "$model" ${BENCH_ARGS:-}
}

batching() {
  local model=$build_dir/models/resnet50.pt
  [[ -f $model ]] || python3 "$root/bench/gpu/make_resnet50.py" "$model"
  # shellcheck disable=SC2086  # BATCHING_ARGS is a list of options
  "$build_dir/bin/infervisor-bench-batching" --gpu "$model" ${BATCHING_ARGS:-}
}

case $stage in
  build) build ;;
  test) run_tests ;;
  bench) bench ;;
  batching) batching ;;
  all) build && run_tests && bench ;;
  *) echo "usage: $0 [build|test|bench|batching|all]" >&2; exit 2 ;;
esac
