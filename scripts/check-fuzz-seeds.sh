#!/usr/bin/env bash
# Says whether the committed generated seeds (tests/fuzz/corpus/) are what fuzz_seeds writes today.
# A stale seed (say, a frame of an old version) still runs, but only to the first check it fails,
# and the fuzzer never learns the rest. scripts/fuzz.sh runs this before fuzzing, and CTest runs it
# in every test build, so a change to an encoder that forgets the seeds fails scripts/test.sh too.
#
#   scripts/check-fuzz-seeds.sh FUZZ_SEEDS_BINARY SCRATCH_DIR
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary=${1:?usage: check-fuzz-seeds.sh FUZZ_SEEDS_BINARY SCRATCH_DIR}
scratch=${2:?usage: check-fuzz-seeds.sh FUZZ_SEEDS_BINARY SCRATCH_DIR}
corpus_dir=$root/tests/fuzz/corpus

rm -rf "$scratch"
mkdir -p "$scratch"
"$binary" "$scratch"
stale=()
while IFS= read -r -d '' file; do
  committed=$corpus_dir/${file#"$scratch/"}
  cmp -s "$file" "$committed" || stale+=("${committed#"$root/"}")
done < <(find "$scratch" -type f -print0 | sort -z)
if (( ${#stale[@]} )); then
  echo "seeds that differ from what tests/fuzz/fuzz_seeds.cpp writes now: ${stale[*]}" >&2
  echo "refresh them with: $binary tests/fuzz/corpus (then commit)" >&2
  exit 1
fi
echo "all $(find "$scratch" -type f | wc -l) generated seeds are current"
