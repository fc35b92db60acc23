#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang into build-fuzz/ and runs each for a
# bounded time, starting from a fresh copy of its seed corpus (tests/fuzz/corpus/<target>/), so a
# run never writes into the repository. Prints each target's executions, coverage and findings,
# and exits non-zero if any target found a crash, a leak, a timeout or an out-of-memory input.
#
#   scripts/fuzz.sh [SECONDS]                  each target for SECONDS (default 60)
#   FUZZ_TARGETS="npy frame" scripts/fuzz.sh   only these targets
#   FUZZ_JOBS=1 scripts/fuzz.sh                targets at a time (default: one per core)
#
# A finding's input is kept in build-fuzz/fuzz-run/<target>/findings/; replay it with
# build-fuzz/bin/<target>_fuzzer FILE. Run after scripts/setup.sh, which installs the libraries the
# build needs; this script adds clang and libFuzzer.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
build_dir=${BUILD_DIR:-$root/build-fuzz}
# shellcheck disable=SC2206  # word splitting is the point: a list of names in one variable
targets=(${FUZZ_TARGETS:-kserve_request frame ring npy config tcp_peer_owner})
jobs=${FUZZ_JOBS:-$(nproc)}
run_dir=$build_dir/fuzz-run
corpus_dir=$root/tests/fuzz/corpus

log() { printf '\033[1m[fuzz]\033[0m %s\n' "$*" >&2; }

# libFuzzer ships with Debian's clang (libclang-rt-14-dev); a probe that links a fuzzer says both
# are there.
fuzzer_links() {
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++-14 -x c++ -fsanitize=fuzzer,address,undefined - -o /dev/null 2>/dev/null
}
if ! command -v clang++-14 >/dev/null 2>&1 || ! fuzzer_links; then
  if ! command -v apt-get >/dev/null 2>&1 || { [[ $(id -u) -ne 0 ]] && ! command -v sudo >/dev/null 2>&1; }; then
    log "clang-14 with libFuzzer is missing and there is no apt-get to install it"
    exit 1
  fi
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo=sudo
  log "installing clang-14 libclang-rt-14-dev"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    clang-14 libclang-rt-14-dev >/dev/null
  fuzzer_links || { log "clang++-14 still cannot link a fuzzer"; exit 1; }
fi

log "configuring $build_dir (clang-14, libFuzzer + ASan/UBSan)"
cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DINFERVISOR_BUILD_FUZZERS=ON -DINFERVISOR_WITH_TORCH=OFF \
  -DINFERVISOR_BUILD_TESTS=OFF -DINFERVISOR_BUILD_BENCH=OFF >/dev/null
log "building the fuzz targets"
cmake --build "$build_dir" --target infervisor_fuzzers --parallel "$(nproc)"

rm -rf "$run_dir"
mkdir -p "$run_dir"
"$root/scripts/check-fuzz-seeds.sh" "$build_dir/bin/fuzz_seeds" "$run_dir/seeds" >/dev/null

# One target: a writable corpus copy, findings beside it, the log for the summary.
fuzz_one() {
  local target=$1 work=$run_dir/$1
  # TMPDIR: what a target makes for itself (config's model folder) stays in $work, even when a
  # finding kills it before it cleans up.
  mkdir -p "$work/findings" "$work/tmp"
  cp -r "$corpus_dir/$target" "$work/corpus"
  local options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
                 -artifact_prefix="$work/findings/")
  [[ -f $root/tests/fuzz/$target.dict ]] && options+=(-dict="$root/tests/fuzz/$target.dict")
  local rc=0
  TMPDIR=$work/tmp ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build_dir/bin/${target}_fuzzer" "${options[@]}" "$work/corpus" >"$work/log" 2>&1 || rc=$?
  echo "$rc" >"$work/rc"
}

log "running ${targets[*]} for ${seconds}s each, $jobs at a time"
for target in "${targets[@]}"; do
  [[ -d $corpus_dir/$target ]] || { log "no corpus for target '$target'"; exit 1; }
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
  fuzz_one "$target" &
done
wait

# Per target: the final stats libFuzzer prints, and what it left in findings/.
failed=0
summary=()
for target in "${targets[@]}"; do
  work=$run_dir/$target
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$work/log" | tail -1 || true)
  findings=$(find "$work/findings" -type f | wc -l)
  rc=$(cat "$work/rc")
  verdict="no findings"
  if (( rc != 0 || findings > 0 )); then
    failed=1
    verdict="FINDINGS: exit $rc, $findings input(s) in ${work#"$root/"}/findings"
    log "$target: the end of its log:"
    tail -40 "$work/log" >&2
  fi
  summary+=("[fuzz] $target: ${runs:-0} runs in ${seconds}s, ${coverage:-no coverage}, corpus $(
    find "$corpus_dir/$target" -type f | wc -l) -> $(find "$work/corpus" -type f | wc -l) inputs, $verdict")
done
printf '%s\n' "${summary[@]}"
exit "$failed"
