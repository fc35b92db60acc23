#!/usr/bin/env bash
# The main job, end to end: set up and build, start infervisord on the bundled example model,
# send one job with infervisorctl and one with curl over the Unix socket, then stop the daemon
# with SIGTERM and check that it cleaned up after itself.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
"$root/scripts/setup.sh"

bin=$build/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/infervisor-demo.XXXXXX")
export INFERVISOR_SOCKET=$work/infervisor.sock
daemon_pid=""
cleanup() {
  if [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null; then kill -KILL "$daemon_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The example config points at build/models; a build elsewhere gets a copy pointing at its models.
config=$root/scripts/example.yaml
if [[ $build != "$root/build" ]]; then
  config=$work/example.yaml
  sed "s|../build/models/mlp.pt|$build/models/mlp.pt|" "$root/scripts/example.yaml" >"$config"
fi

step "starting infervisord (socket $INFERVISOR_SOCKET, log $work/daemon.log)"
"$bin/infervisord" --config "$config" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 1 600); do
  if "$bin/infervisorctl" health >/dev/null 2>&1; then break; fi
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "infervisord exited during start-up:" >&2
    cat "$work/daemon.log" >&2
    exit 1
  fi
  sleep 0.1
done
"$bin/infervisorctl" health
"$bin/infervisorctl" models

step "job 1: infervisorctl infer mlp --input x=scripts/example_input.npy (binary tensors)"
"$bin/infervisorctl" infer mlp --input x="$root/scripts/example_input.npy" --out "$work/out"
ls -l "$work/out"

step "job 2: curl --unix-socket ... POST /v2/models/mlp/infer (JSON tensors)"
data=$(awk 'BEGIN { for (i = 0; i < 256; i++) printf "%s%.4f", (i ? "," : ""), sin(0.05 * i) }')
printf '{"id":"demo-curl","inputs":[{"name":"x","datatype":"FP32","shape":[1,256],"data":[%s]}]}' \
  "$data" >"$work/request.json"
curl --silent --show-error --fail-with-body --unix-socket "$INFERVISOR_SOCKET" \
  -H 'Content-Type: application/json' --data-binary @"$work/request.json" \
  http://localhost/v2/models/mlp/infer >"$work/response.json"
cut -c1-240 "$work/response.json"
echo " ... ($(wc -c <"$work/response.json") bytes)"

step "stopping infervisord with SIGTERM"
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
stopped_pid=$daemon_pid
daemon_pid=""
echo "infervisord exited with status $status"
echo "--- daemon log ---"
cat "$work/daemon.log"
leftovers=$(ls /dev/shm | grep "^infervisor\.$stopped_pid\." || true)
[[ -e $INFERVISOR_SOCKET ]] && { echo "socket file left behind" >&2; exit 1; }
[[ -n $leftovers ]] && { echo "segments left in /dev/shm: $leftovers" >&2; exit 1; }
[[ $status -eq 0 ]] || exit "$status"
echo "clean: no socket file, no segment left in /dev/shm"
