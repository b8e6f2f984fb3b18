#!/usr/bin/env bash
# S3 backend benchmark on the webapp fixture (../shared/bench/webapp): one
# miss through each store (the server installs from the npm registry), then
# the hit download (curl of the whole bundle, medians of RUNS) from a
# directory store and from S3 (moto on 127.0.0.1), and the S3 requests a hit
# and a miss cost, counted from moto's request log.
#
#   bash bench/s3.sh [RUNS]      # default 5; DEPCACHE_BIN=... to skip the build
set -euo pipefail
runs="${1:-5}"
here="$(cd "$(dirname "$0")/.." && pwd)"
fixture="${BENCH_FIXTURE:-$here/../shared/bench/webapp}"
work="$(mktemp -d /tmp/depcache-s3-bench.XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

if [ -z "${DEPCACHE_BIN:-}" ]; then
  echo "building release binary..." >&2
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
depcache="${DEPCACHE_BIN:-${CARGO_TARGET_DIR:-$here/target}/release/depcache}"
export npm_config_cache="$work/npm-cache"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }

moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" 2> "$work/moto.log" & pids+=($!)
wait_http "http://127.0.0.1:$moto_port/"
endpoint="http://127.0.0.1:$moto_port"
curl -sf -X PUT "$endpoint/bench" >/dev/null
export AWS_ENDPOINT_URL="$endpoint" AWS_ALLOW_HTTP=true AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench

start_server() { # NAME CACHE-DIR -> sets url_NAME
  local port; port=$(free_port)
  "$depcache" serve "$port" --bind 127.0.0.1 --is-public --cache-dir "$2" \
    --work-dir "$work/work-$1" 2> "$work/server-$1.log" & pids+=($!)
  wait_http "http://127.0.0.1:$port/health"
  printf -v "url_$1" '%s' "http://127.0.0.1:$port"
}
start_server dir "$work/store"
start_server s3 "s3://bench/depcache"

project="$work/project"
mkdir -p "$project"
cp "$fixture/package.json" "$fixture/package-lock.json" "$project/"

requests() { grep -c '" [0-9][0-9][0-9] ' "$work/moto.log" || true; }
now() { date +%s.%N; }

for store in dir s3; do
  url_var="url_$store"
  before=$(requests)
  t0=$(now)
  (cd "$project" && rm -rf node_modules &&
    "$depcache" fetch npm --server "${!url_var}" --no-fallback -q)
  echo "$store miss (install + ingest + fetch): $(echo "$(now) - $t0" | bc -l | cut -c1-6) s"
  [ "$store" = s3 ] && echo "s3 requests for the miss and its first download: $(( $(requests) - before ))"
done
key=$(cd "$project" && "$depcache" hash npm)
files=$(find "$project/node_modules" -type f | wc -l)
echo "tree: $files files, key $key"

for store in dir s3; do
  url_var="url_$store"
  times=()
  for _ in $(seq "$runs"); do
    before=$(requests)
    t0=$(now)
    curl -sf -o "$work/bundle-$store.zip" "${!url_var}/download/$key.zip"
    times+=("$(echo "$(now) - $t0" | bc -l)")
    after=$(requests)
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  echo "$store hit download (curl, median of $runs): ${median:0:6} s, $(stat -c %s "$work/bundle-$store.zip") bytes"
  [ "$store" = s3 ] && echo "s3 requests per hit download: $(( after - before ))"
done
# A whole hit as CI sees it: POST /v1/cache, then the download.
(cd "$project" && rm -rf node_modules)
before=$(requests)
(cd "$project" && "$depcache" fetch npm --server "$url_s3" --no-fallback -q)
echo "s3 requests per hit (depcache fetch: POST + download): $(( $(requests) - before ))"
cmp "$work/bundle-dir.zip" "$work/bundle-s3.zip" && echo "bundles identical"
