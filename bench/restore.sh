#!/usr/bin/env bash
# Restore benchmark on the 594-package webapp fixture (../shared/bench/webapp):
# depcache fetch (cold: no node_modules on the client, tree cached on the
# server; and with a warm --local-store, which hard-links the tree) against
# what CI does today and against `cp -al`. Needs the npm registry (reachable) for
# the first install; everything else is local.
#
#   bash bench/restore.sh [RUNS]        # default 3 runs each, median printed
set -euo pipefail
runs="${1:-3}"
here="$(cd "$(dirname "$0")/.." && pwd)"
fixture="${BENCH_FIXTURE:-$here/../shared/bench/webapp}"
work="$(mktemp -d /tmp/depcache-bench.XXXXXX)"
trap 'kill "${server_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

# BENCH_DEPCACHE=path runs that binary instead (to compare two builds).
if [ -z "${BENCH_DEPCACHE:-}" ]; then
  echo "building release binary..." >&2
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
depcache="${BENCH_DEPCACHE:-${CARGO_TARGET_DIR:-$here/target}/release/depcache}"

project="$work/project"
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

now() { date +%s.%N; }
# time_it NAME PREPARE COMMAND: median wall seconds of COMMAND over $runs runs,
# PREPARE run untimed before each.
declare -A result
time_it() {
  local name="$1" prepare="$2" command="$3" times=()
  for _ in $(seq "$runs"); do
    (cd "$project" && eval "$prepare")
    sync
    local t0 t1
    t0=$(now)
    (cd "$project" && eval "$command") >/dev/null 2>"$work/last.err" || {
      echo "$name failed:" >&2; cat "$work/last.err" >&2; exit 1; }
    t1=$(now)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  result[$name]=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
}

echo "first fetch (server installs the tree: a miss)..." >&2
t0=$(now)
(cd "$project" && "$depcache" fetch npm --server "$server" --no-fallback -q)
miss=$(echo "$(now) - $t0" | bc -l)
files=$(find "$project/node_modules" -type f | wc -l)
bytes=$(du -sb "$project/node_modules" | cut -f1)

# The alternatives' inputs, made once from the same tree.
cp -a "$project/node_modules" "$work/nm-copy"
tar -C "$project" -cf - node_modules | zstd -q -T0 -3 -o "$work/nm.tar.zst"
(cd "$project" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null 2>&1) # warms npm's cache

time_it "depcache fetch (hit, cold client)" "rm -rf node_modules" \
  "'$depcache' fetch npm --server '$server' --no-fallback -q"
# The tree the last cold fetch left holds the key: a stat check, no request.
time_it "depcache fetch (repeat: no-op)" ":" \
  "'$depcache' fetch npm --server '$server' --no-fallback -q"
# One priming fetch fills the local store; the timed ones download nothing.
(cd "$project" && rm -rf node_modules &&
  "$depcache" fetch npm --server "$server" --no-fallback -q --local-store "$work/local-store")
time_it "depcache fetch (hit, warm local store)" "rm -rf node_modules" \
  "'$depcache' fetch npm --server '$server' --no-fallback -q --local-store '$work/local-store'"
# The same with the earlier tree moved aside instead of deleted (another
# checkout on the machine still holds it): no object's ctime moved since the
# last restore, so each is linked on its seal record after one lstat, unhashed.
# (An `rm -rf` of the earlier tree unlinks, which moves every ctime: the row
# above hashes each object once.)
time_it "depcache fetch (warm store, tree kept)" \
  "mv node_modules \"\$(mktemp -d '$work/kept.XXXXXX')/\"" \
  "'$depcache' fetch npm --server '$server' --no-fallback -q --local-store '$work/local-store'"
time_it "npm ci (warm npm cache)" "rm -rf node_modules" \
  "npm ci --ignore-scripts --no-audit --no-fund --prefer-offline"
time_it "zstd -d | tar -x" "rm -rf node_modules" \
  "zstd -q -d -c '$work/nm.tar.zst' | tar -x"
time_it "cp -a" "rm -rf node_modules" "cp -a '$work/nm-copy' node_modules"
time_it "cp -al" "rm -rf node_modules" "cp -al '$work/nm-copy' node_modules"

key=$(cd "$project" && "$depcache" hash npm)
t0=$(now)
curl -sf -o /dev/null "$server/download/$key.zip"
dl=$(echo "$(now) - $t0" | bc -l)
bundle=$(curl -sfI "$server/download/$key.zip" | tr -d '\r' | awk 'tolower($1)=="content-length:"{print $2}')

base="${result[depcache fetch (hit, cold client)]}"
printf '\nwebapp fixture: %d files, %.1f MiB in node_modules; bundle %.1f MiB; %d runs, median\n' \
  "$files" "$(echo "$bytes / 1048576" | bc -l)" "$(echo "$bundle / 1048576" | bc -l)" "$runs"
printf '%-40s %9s %14s\n' "restore" "seconds" "vs depcache"
for name in "depcache fetch (hit, cold client)" "depcache fetch (repeat: no-op)" \
  "depcache fetch (hit, warm local store)" "depcache fetch (warm store, tree kept)" \
  "npm ci (warm npm cache)" "zstd -d | tar -x" "cp -a" "cp -al"; do
  printf '%-40s %9.2f %13.2fx\n' "$name" "${result[$name]}" "$(echo "${result[$name]} / $base" | bc -l)"
done
cpal="${result[cp -al]}"
printf '\nwarm local store vs cp -al: %.2fx (earlier tree deleted), %.2fx (earlier tree kept)\n' \
  "$(echo "${result[depcache fetch (hit, warm local store)]} / $cpal" | bc -l)" \
  "$(echo "${result[depcache fetch (warm store, tree kept)]} / $cpal" | bc -l)"
printf 'first fetch (miss: server runs npm ci and ingests): %.2f s\n' "$miss"
printf 'bundle download alone (curl, loopback): %.2f s = %.0f MB/s (the Python original serves ~50 MB/s)\n' \
  "$dl" "$(echo "$bundle / $dl / 1000000" | bc -l)"
