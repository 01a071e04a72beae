#!/usr/bin/env bash
# End-to-end test of the remote cache against a real nginx (WebDAV PUT) on a loopback port.
#
#   tests/e2e/nginx-remote-cache.sh [PARITY_BINARY]
#
# Clone A builds and populates the cache; clone B (empty local cache) builds with zero rules
# run; a corrupted object on the server is detected and rebuilt, not used; a read-only run
# uploads nothing; nginx killed mid-build degrades to local work with one warning. Prints the
# clone-A vs clone-B times and the bytes transferred. nginx is started and stopped here.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
parity="${1:-${PARITY:-$repo/target/debug/parity}}"
[[ -x "$parity" ]] || { echo "e2e: no parity binary at $parity (cargo build first)" >&2; exit 1; }
parity="$(cd "$(dirname "$parity")" && pwd)/$(basename "$parity")"
nginx_bin="$(command -v nginx || true)"
[[ -z "$nginx_bin" && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
if [[ -z "$nginx_bin" ]]; then
  echo "e2e: SKIPPED: nginx is not installed and could not be installed (see .ci/run)"
  exit 0
fi
command -v jq >/dev/null || { echo "e2e: jq is required" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/parity-e2e-XXXXXX")"
nginx_pid=""
stop_nginx() {
  if [[ -n "$nginx_pid" ]] && kill -0 "$nginx_pid" 2>/dev/null; then
    kill "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
  fi
  nginx_pid=""
}
cleanup() { stop_nginx; [[ -n "${KEEP:-}" ]] && echo "e2e: kept $work" || rm -rf "$work"; }
trap cleanup EXIT

fail() { echo "e2e: FAIL: $*" >&2; exit 1; }
pass() { echo "e2e: ok: $*"; }

mkdir -p "$work/store" "$work/tmp"
start_nginx() {
  local try
  for try in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
user $(id -un) $(id -gn);
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 256; }
http {
  log_format cache '\$request_method \$uri \$status \$body_bytes_sent \$request_length';
  access_log $work/access.log cache;
  client_body_temp_path $work/tmp;
  client_max_body_size 1g;
  server {
    listen 127.0.0.1:$port;
    root $work/store;
    location / {
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw;
    }
  }
}
CONF
    "$nginx_bin" -c "$work/nginx.conf" -p "$work" -e "$work/error.log" &
    nginx_pid=$!
    local i
    for i in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        url="http://127.0.0.1:$port/cache"
        return 0
      fi
      kill -0 "$nginx_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop_nginx
  done
  fail "nginx did not start"
}

# A pipeline of command nodes that cost time (sleep) and write ~256 KiB each.
make_clone() {
  local dir="$1" n
  mkdir -p "$dir"
  : > "$dir/pipeline.toml"
  for n in 1 2 3 4 5 6 7 8; do
    cat >> "$dir/pipeline.toml" <<TOML
[artifact.gen$n]
rule = "command"
inputs = ["src.txt"]
outputs = ["out/gen$n.txt"]
config = { command = 'sleep 0.3; yes "$n \$(cat src.txt)" | head -c 262144 > \$out' }

TOML
  done
  cat >> "$dir/pipeline.toml" <<'TOML'
[artifact.all]
rule = "command"
inputs = ["gen1", "gen2", "gen3", "gen4", "gen5", "gen6", "gen7", "gen8"]
outputs = ["out/all.txt"]
config = { command = 'cat $in | sha256sum > $out' }
TOML
  printf 'source line\n' > "$dir/src.txt"
}

build() { # DIR ARGS... -> JSON lines in DIR/build.json, stderr in DIR/build.err
  local dir="$1"; shift
  (cd "$dir" && CI=1 NO_COLOR=1 PARITY_RUN_LOG="$dir/runs.log" "$parity" build --json -j 2 "$@" \
     > "$dir/build.json" 2> "$dir/build.err")
}
summary() { tail -1 "$1/build.json"; }
runs() { [[ -f "$1/runs.log" ]] && wc -l < "$1/runs.log" | tr -d ' ' || echo 0; }
now_ms() { date +%s%3N; }
puts() { grep -c '^PUT ' "$work/access.log" || true; }

start_nginx
echo "e2e: nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///') on $url"

# 1. Clone A builds and populates the cache.
make_clone "$work/a"
t0=$(now_ms); build "$work/a" --remote-cache "$url" || fail "clone A build: $(cat "$work/a/build.err")"; t_a=$(( $(now_ms) - t0 ))
[[ "$(summary "$work/a" | jq .ran)" == 9 ]] || fail "clone A: expected 9 rules run: $(summary "$work/a")"
[[ "$(summary "$work/a" | jq .remote_cache.uploads)" == 9 ]] || fail "clone A: expected 9 uploads: $(summary "$work/a")"
up_a=$(summary "$work/a" | jq .remote_cache.bytes_uploaded)
pass "clone A ran 9 rules and uploaded 9 actions"

# 2. Clone B, empty local cache: zero rules run, everything from the remote.
make_clone "$work/b"
: > "$work/access.log"
t0=$(now_ms); build "$work/b" --remote-cache "$url" || fail "clone B build"; t_b=$(( $(now_ms) - t0 ))
[[ "$(runs "$work/b")" == 0 && "$(summary "$work/b" | jq .remote)" == 9 ]] \
  || fail "clone B: expected 0 rules run, 9 remote: $(summary "$work/b")"
cmp -s "$work/a/out/all.txt" "$work/b/out/all.txt" || fail "clone B: outputs differ from clone A"
down_b=$(summary "$work/b" | jq .remote_cache.bytes_downloaded)
served_b=$(awk '$1=="GET" && $3==200 {s+=$4} END {print s+0}' "$work/access.log")
requests_b=$(wc -l < "$work/access.log" | tr -d ' ')
pass "clone B ran 0 rules: 9 nodes restored from the remote cache"

# 3. A corrupted object on the server is detected, rebuilt, not used, and repaired.
sha=$(sha256sum "$work/a/out/gen3.txt" | cut -d' ' -f1)
[[ -f "$work/store/cache/cas/$sha" ]] || fail "object of out/gen3.txt not on the server"
printf 'garbage' | dd of="$work/store/cache/cas/$sha" bs=1 seek=100 conv=notrunc status=none
make_clone "$work/c"
build "$work/c" --remote-cache "$url" || fail "clone C build"
[[ "$(jq -r 'select(.event=="finished" and .node=="gen3") | .outcome' "$work/c/build.json")" == ran ]] || fail "corrupt object was used"
[[ "$(summary "$work/c" | jq .remote)" == 8 ]] || fail "clone C: expected 8 remote: $(summary "$work/c")"
cmp -s "$work/a/out/gen3.txt" "$work/c/out/gen3.txt" || fail "clone C: gen3 differs"
[[ "$(grep -c '^warning:' "$work/c/build.err")" == 1 ]] || fail "clone C: expected one warning: $(cat "$work/c/build.err")"
[[ "$(sha256sum < "$work/store/cache/cas/$sha" | cut -d' ' -f1)" == "$sha" ]] || fail "corrupt object not repaired"
pass "corrupted object detected, gen3 rebuilt locally, object repaired on the server"

# 4. Read-only: new keys (edited source), nothing uploaded.
make_clone "$work/d"; printf 'read only\n' > "$work/d/src.txt"
before=$(puts)
build "$work/d" --remote-cache "$url" --remote-read-only || fail "read-only build"
[[ "$(puts)" == "$before" ]] || fail "read-only run uploaded"
[[ "$(summary "$work/d" | jq .ran)" == 9 ]] || fail "read-only: expected 9 rules run"
pass "read-only run: 9 rules ran, 0 PUT requests"

# 5. nginx killed mid-build: local work, one warning, exit 0.
make_clone "$work/e"; printf 'killed mid-build\n' > "$work/e/src.txt"
(cd "$work/e" && CI=1 NO_COLOR=1 PARITY_RUN_LOG="$work/e/runs.log" "$parity" build --json -j 1 \
   --remote-cache "$url" > "$work/e/build.json" 2> "$work/e/build.err") &
build_pid=$!
for i in $(seq 1 100); do [[ "$(puts)" -gt "$before" ]] && break; sleep 0.05; done
stop_nginx
wait "$build_pid" || fail "build with nginx killed mid-build failed: $(cat "$work/e/build.err")"
[[ "$(summary "$work/e" | jq .ran)" == 9 ]] || fail "killed: expected 9 rules run: $(summary "$work/e")"
[[ "$(grep -c '^warning:' "$work/e/build.err")" == 1 ]] || fail "killed: expected one warning: $(cat "$work/e/build.err")"
[[ -s "$work/e/out/all.txt" ]] || fail "killed: outputs missing"
pass "nginx killed mid-build: 9 rules ran locally, one warning, exit 0"

echo
echo "e2e figures (9 nodes, 8 x 256 KiB outputs, 0.3 s per rule, -j 2):"
echo "  clone A (runs and uploads):     ${t_a} ms, ${up_a} bytes uploaded"
echo "  clone B (remote cache only):    ${t_b} ms, ${down_b} bytes downloaded (nginx served ${served_b} in ${requests_b} requests)"
echo "e2e: 5 passed, 0 failed"
