#!/usr/bin/env bash
# Installs what the build needs (Debian/Ubuntu packages, only those missing), then configures and
# builds. Safe to run again: it installs nothing that is there and rebuilds only what changed.
#
#   scripts/setup.sh                 Release build in ./build
#   BUILD_DIR=b BUILD_TYPE=Debug scripts/setup.sh
#   SANITIZE=address|thread scripts/setup.sh   (ASan+UBSan or TSan; default dir build-<sanitizer>)
#   CMAKE_ARGS="-DINFERVISOR_WITH_TORCH=OFF" scripts/setup.sh   (extra CMake options)
#
# libtorch: a pip-installed torch (python3 -c 'import torch') wins, as on a GPU host; otherwise
# Debian's libtorch-dev (CPU). TORCH_PREFIX=<dir with TorchConfig.cmake> overrides both.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sanitize=${SANITIZE:-}
build_dir=${BUILD_DIR:-$root/build${sanitize:+-$sanitize}}
build_type=${BUILD_TYPE:-Release}
if [[ -n $sanitize && -z ${BUILD_TYPE:-} ]]; then build_type=RelWithDebInfo; fi

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

python_torch_prefix() {
  command -v python3 >/dev/null 2>&1 || return 1
  python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null
}

boost_ok() {
  local header=/usr/include/boost/version.hpp version
  [[ -f $header ]] || return 1
  version=$(sed -n 's/^#define BOOST_VERSION \([0-9]*\)$/\1/p' "$header")
  [[ -n $version && $version -ge 108100 ]]
}

# Each needed piece: a probe that says it is present, and the Debian package that provides it.
missing=()
need() {  # need <package> <probe command...>
  local package=$1; shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}
need cmake command -v cmake
need g++ command -v g++
need ninja-build command -v ninja
need pkg-config command -v pkg-config

need libboost1.81-dev boost_ok
need libspdlog-dev test -f /usr/include/spdlog/spdlog.h
need libyaml-cpp-dev test -f /usr/include/yaml-cpp/yaml.h
need libgtest-dev test -f /usr/include/gtest/gtest.h
need libbenchmark-dev test -f /usr/include/benchmark/benchmark.h
torch_prefix=${TORCH_PREFIX:-$(python_torch_prefix || true)}
openblas_ok() { compgen -G '/usr/lib/*/openblas-*/libblas.so.3' >/dev/null; }
if [[ -z $torch_prefix ]]; then
  need libtorch-dev test -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake -o \
    -f /usr/lib/aarch64-linux-gnu/cmake/Torch/TorchConfig.cmake
  # Debian's libtorch does its matrix products through libblas.so.3, which is the reference
  # (netlib) BLAS unless an optimized one is installed: the example MLP ran 7x slower at batch 1
  # and 26x slower at batch 32 with it (bench/README, "CPU BLAS"). The OpenMP build of OpenBLAS
  # takes its thread count from the OpenMP setting that each worker's `threads` makes. (A pip
  # torch brings its own BLAS.)
  need libopenblas0-openmp openblas_ok
fi
# Optional: sd_notify comes from libsystemd when present, else from a small built-in fallback.
optional=()
pkg-config --exists libsystemd 2>/dev/null || optional+=(libsystemd-dev)
# prometheus-cpp-dev: GET /metrics (without it the daemon builds and answers /metrics with 501).
[[ -f /usr/include/prometheus/text_serializer.h ]] || optional+=(prometheus-cpp-dev)
# curl: the demo sends one job with it; nothing builds with it.
command -v curl >/dev/null 2>&1 || optional+=(curl)
# python3-numpy: the Python client's tests (tests/python) run with Debian's python3 and numpy;
# without it CMake warns and does not register them.
/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || optional+=(python3-numpy)

# Optional packages are only installed alongside missing required ones: a host that already has
# everything (a GPU box without network access) must not wait on apt at all.
if (( ${#missing[@]} )); then
  if command -v apt-get >/dev/null 2>&1 && { [[ $(id -u) -eq 0 ]] || command -v sudo >/dev/null 2>&1; }; then
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
    log "installing: ${missing[*]} ${optional[*]}"
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" "${optional[@]}" >/dev/null; }; then
      log "apt-get could not install: ${missing[*]} ${optional[*]}"
      exit 1
    fi
  else
    log "missing and no apt-get to install them: ${missing[*]}"
    exit 1
  fi
fi

cmake_args=(-S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type"
            -DINFERVISOR_SANITIZE="$sanitize")
[[ -n $torch_prefix ]] && cmake_args+=(-DCMAKE_PREFIX_PATH="$torch_prefix")
# shellcheck disable=SC2206  # word splitting is the point: several options in one variable
[[ -n ${CMAKE_ARGS:-} ]] && cmake_args+=(${CMAKE_ARGS})
log "configuring $build_dir ($build_type${sanitize:+, $sanitize sanitizer}${torch_prefix:+, torch from $torch_prefix})"
cmake "${cmake_args[@]}" >/dev/null
log "building"
cmake --build "$build_dir" --parallel "$(nproc)"
log "built in $build_dir"
