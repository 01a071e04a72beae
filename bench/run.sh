#!/usr/bin/env bash
# bench/run.sh [V...]   (default: 200 2000 20000)
#
# For each V: generates the synthetic pipeline (bench/gen.sh), builds it once, then times as
# whole processes, median of 5 runs each:
#   status   no-op `parity status`
#   build    no-op `parity build`
#   incr     `parity build` after changing wrapper.json (V reports + the index rerun)
# and the peak resident memory of the no-op status and build, and `parity --version` (process
# startup). If `ninja` is on PATH, the same graph's no-op `ninja` is timed too, interleaved
# with the parity runs. Uses the release binary (built here). With BENCH_DIR=DIR, a workspace
# already built there by an earlier run is reused (the initial build at V=20000 is long).
# The incremental build is timed up to V=BENCH_INCR_MAX_V (default 2000; "-" above).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$here")"
sizes=("$@"); [[ ${#sizes[@]} -eq 0 ]] && sizes=(200 2000 20000)
( cd "$project" && cargo build --release --quiet )
parity="$project/target/release/parity"
work="${BENCH_DIR:-$(mktemp -d)}"
runs=5

# medians_ms LABEL=CMD...: runs the commands in turn, $runs rounds (interleaved, so a noisy
# neighbour hurts them alike), prints "LABEL median_ms" per command. Commands are split on
# spaces (no quoting needed here).
medians_ms() {
  python3 - "$runs" "$@" <<'PY'
import subprocess, sys, time, statistics
n = int(sys.argv[1]); cmds = [a.split("=", 1) for a in sys.argv[2:]]
times = {label: [] for label, _ in cmds}
for _ in range(n):
    for label, cmd in cmds:
        t = time.perf_counter()
        subprocess.run(cmd.split(" "), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[label].append((time.perf_counter() - t) * 1000)
for label, _ in cmds:
    print(label, f"{statistics.median(times[label]):.1f}")
PY
}

# peak_mb CMD...: peak RSS of one run, in MB
peak_mb() {
  python3 - "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.1f}")
PY
}

# incr_ms DIR: median of $runs incremental builds, each after a new wrapper.json
incr_ms() {
  local dir="$1" i
  local times=()
  for i in $(seq 1 "$runs"); do
    echo "{\"wrapper\": $i$RANDOM}" > "$dir/wrapper.json"
    local t0 t1
    t0=$(date +%s%N); "$parity" -C "$dir" build -j "$(nproc)" >/dev/null 2>&1; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p"
}

printf '%-7s %-7s %10s %10s %10s %10s %10s %12s %10s\n' V nodes "status ms" "build ms" "incr ms" "status MB" "build MB" "ninja no-op" "--version"
for v in "${sizes[@]}"; do
  dir="$work/v$v"
  if [[ ! -f "$dir/pipeline.lock" ]]; then
    rm -rf "$dir"
    bash "$here/gen.sh" "$v" "$dir" >/dev/null
    "$parity" -C "$dir" build -j "$(nproc)" >/dev/null 2>&1
  fi
  cmds=("status=$parity -C $dir status" "build=$parity -C $dir build" "version=$parity --version")
  if command -v ninja >/dev/null; then
    # First, as ninja rewrites every output it has no log of: parity then rehashes them once.
    ( cd "$dir" && ninja >/dev/null )
    cmds+=("ninja=ninja -C $dir")
  fi
  "$parity" -C "$dir" build >/dev/null 2>&1   # settle the stat cache (files written just now are "racy")
  sleep 1.1
  "$parity" -C "$dir" status >/dev/null
  declare -A med=([ninja]="-")
  while read -r label ms; do med[$label]="$ms"; done < <(medians_ms "${cmds[@]}")
  stm=$(peak_mb "$parity" -C "$dir" status)
  bum=$(peak_mb "$parity" -C "$dir" build)
  inc="-"
  (( v <= ${BENCH_INCR_MAX_V:-2000} )) && inc=$(incr_ms "$dir")
  printf '%-7s %-7s %10s %10s %10s %10s %10s %12s %10s\n' "$v" "$((5 * v + 1))" "${med[status]}" "${med[build]}" "$inc" "$stm" "$bum" "${med[ninja]}" "${med[version]}"
done
