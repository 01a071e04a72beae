#!/usr/bin/env bash
# bench/run.sh [V...]   (default: 200 2000; the 100k-node graph is V=20000)
#
# parity against ninja on bench/gen.sh's graph (5V+1 `command` nodes; the same commands in a
# build.ninja): full build, incremental build, status after an edit (vs `ninja -n`), targeted
# no-op, no-op (the memo), peak memory. Interleaved runs, medians, ratios parity/ninja; one
# Markdown table row per V. Method and figures: bench/README.md.
#
# Environment: BENCH_DIR=DIR keeps the workspaces there (vV/p, vV/n); BENCH_RUNS (default 5)
# runs of the incremental build; BENCH_QUICK_RUNS (default 21 up to V=2000, else BENCH_RUNS)
# of the status after an edit, the targeted no-op and the no-op; BENCH_FULL_RUNS (default 3,
# 1 above V=2000) full builds;
# BENCH_JOBS (default 2) for both tools. Installs nothing: needs python3 and ninja.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$(dirname "$here")"
command -v ninja >/dev/null || { echo "bench: ninja is not installed (apt-get install ninja-build)" >&2; exit 2; }
( cd "$project" && cargo build --release --quiet )
exec python3 "$here/bench.py" "$project/target/release/parity" "$@"
