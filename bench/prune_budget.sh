#!/usr/bin/env bash
# What `fetch --local-store-max-size` costs on the 594-package webapp fixture
# (../shared/bench/webapp): warm local-store restores (a) without a budget,
# (b) with a budget the store fits in (the listing only), (c) with a budget
# 5,000 unused contents (~5 MiB) over it, re-planted before every run (listing
# plus 5,000 removals); the three take turns. Prints medians of the restore as the summary line
# reports it (up to the swap; the budget's prune starts after it) and of the
# whole process (what a CI step waits for). Needs the npm registry once, and
# python3, bc, curl.
#
#   bash bench/prune_budget.sh [RUNS]     # default 5 runs each
#   DEPCACHE_BIN=target/debug/depcache bash bench/prune_budget.sh   # no release build
set -euo pipefail
runs="${1:-5}"
here="$(cd "$(dirname "$0")/.." && pwd)"
fixture="${BENCH_FIXTURE:-$here/../shared/bench/webapp}"
work="$(mktemp -d /tmp/depcache-prune-bench.XXXXXX)"
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

depcache="${DEPCACHE_BIN:-}"
if [ -z "$depcache" ]; then
  echo "building release binary..." >&2
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
  depcache="${CARGO_TARGET_DIR:-$here/target}/release/depcache"
fi

project="$work/project"
store="$work/local-store"
mkdir -p "$project"
cp "$fixture/package.json" "$fixture/package-lock.json" "$project/"
export npm_config_cache="$work/npm-cache"

port=$((20000 + RANDOM % 20000))
"$depcache" serve "$port" --bind 127.0.0.1 --is-public --cache-dir "$work/store" \
  2> "$work/server.log" &
server_pid=$!
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  sleep 0.1
done
server="http://127.0.0.1:$port"
fetch() { "$depcache" fetch npm --server "$server" --no-fallback --local-store "$store" "$@"; }

echo "first fetch (the server installs the tree), then one filling the local store..." >&2
(cd "$project" && fetch -q && rm -rf node_modules && fetch -q)
size=$("$depcache" store status --local-store "$store" --json |
  sed -n 's/^  "bytes": \([0-9]*\),$/\1/p')

# 5,000 unused objects of 1 KiB under random names: what a budget prune
# removes (the store does not rehash on removal, so any bytes do).
plant_junk() {
  python3 - "$store/objects" <<'EOF'
import os, sys
root = sys.argv[1]
for _ in range(5000):
    sha = os.urandom(32).hex()
    os.makedirs(os.path.join(root, sha[:2]), exist_ok=True)
    with open(os.path.join(root, sha[:2], sha + ".644"), "wb") as f:
        f.write(os.urandom(1024))
    os.utime(os.path.join(root, sha[:2], sha + ".644"), (946684800, 946684800))
EOF
}

now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
names=("no budget" "budget, store fits" "budget, 5,000 over")
declare -A walls restores
# one NAME: one timed run of case NAME. The cases take turns, run after run,
# so load from elsewhere on the machine spreads over all three.
one() {
  local name="$1" args=()
  rm -rf "$project/node_modules"
  case "$name" in
    "budget, store fits") args=(--local-store-max-size "$((size * 10))") ;;
    "budget, 5,000 over") plant_junk; args=(--local-store-max-size "$size") ;;
  esac
  sync
  local t0 t1
  t0=$(now)
  (cd "$project" && fetch "${args[@]}") 2> "$work/last.err" || {
    echo "$name failed:" >&2; cat "$work/last.err" >&2; exit 1; }
  t1=$(now)
  walls[$name]+=" $(echo "$t1 - $t0" | bc -l)"
  # `restored node_modules: ..., 0.4 s`: seconds up to the swap.
  restores[$name]+=" $(sed -n 's/^restored .*, \([0-9.]*\) s$/\1/p' "$work/last.err" | tail -1)"
}
for _ in $(seq "$runs"); do
  for name in "${names[@]}"; do one "$name"; done
done
left=$("$depcache" store status --local-store "$store" --json |
  sed -n 's/^  "bytes": \([0-9]*\),$/\1/p')

printf '\nwebapp fixture, warm --local-store of %.1f MiB; %d runs, median seconds\n' \
  "$(echo "$size / 1048576" | bc -l)" "$runs"
printf '%-24s %10s %10s\n' "fetch" "restore" "process"
for name in "${names[@]}"; do
  # shellcheck disable=SC2086 # the lists are space-separated on purpose
  printf '%-24s %10.2f %10.2f\n' "$name" "$(median ${restores[$name]})" "$(median ${walls[$name]})"
done
printf 'store after the last budgeted run: %d bytes (budget %d)\n' "$left" "$size"
