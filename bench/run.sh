#!/usr/bin/env bash
# bench/run.sh [V...]   (default: 200 2000 20000)
#
# For each V: generates the synthetic pipeline (bench/gen.sh), builds it once, then times as
# whole processes, median of 5 runs each:
#   status   no-op `parity status`
#   build    no-op `parity build`
#   incr     `parity build` after changing wrapper.json (V reports + the index rerun)
# and the peak resident memory of the no-op status and build. If `ninja` is on PATH, the same
# graph's no-op `ninja` is timed too. Uses the release binary (built here).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$here")"
sizes=("$@"); [[ ${#sizes[@]} -eq 0 ]] && sizes=(200 2000 20000)
( cd "$project" && cargo build --release --quiet )
parity="$project/target/release/parity"
work="${BENCH_DIR:-$(mktemp -d)}"
runs=5

# median_ms CMD...: runs CMD $runs times, prints the median wall time in ms
median_ms() {
  python3 - "$runs" "$@" <<'PY'
import subprocess, sys, time, statistics
n = int(sys.argv[1]); cmd = sys.argv[2:]
times = []
for _ in range(n):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(times):.1f}")
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

printf '%-7s %-7s %10s %10s %10s %10s %10s %12s\n' V nodes "status ms" "build ms" "incr ms" "status MB" "build MB" "ninja no-op"
for v in "${sizes[@]}"; do
  dir="$work/v$v"
  rm -rf "$dir"
  bash "$here/gen.sh" "$v" "$dir" >/dev/null
  "$parity" -C "$dir" build -j "$(nproc)" >/dev/null 2>&1
  "$parity" -C "$dir" status >/dev/null   # settle the stat cache (files written just now are "racy")
  sleep 1.1
  "$parity" -C "$dir" status >/dev/null
  st=$(median_ms "$parity" -C "$dir" status)
  bu=$(median_ms "$parity" -C "$dir" build)
  stm=$(peak_mb "$parity" -C "$dir" status)
  bum=$(peak_mb "$parity" -C "$dir" build)
  inc=$(incr_ms "$dir")
  nj="-"
  if command -v ninja >/dev/null; then
    ( cd "$dir" && ninja >/dev/null )
    nj="$(median_ms ninja -C "$dir") ms"
  fi
  printf '%-7s %-7s %10s %10s %10s %10s %10s %12s\n' "$v" "$((5 * v + 1))" "$st" "$bu" "$inc" "$stm" "$bum" "$nj"
done
