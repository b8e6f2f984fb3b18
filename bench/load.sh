#!/usr/bin/env bash
# Load benchmark of the server's hot paths on the webapp fixture
# (../shared/bench/webapp), with wrk, each against a reference in the same run:
#
#   * hits (POST /v1/cache, and GET /v1/cache/<key>) at 1 connection, against
#     the same POST refused for a wrong key (400 key_mismatch): the floor of
#     reading, parsing and hashing the request;
#   * hits at 64 connections (req/s), against the Python original's figure
#     from issue 12 (104 req/s; the original is not runnable here);
#   * bundle downloads at 8 connections (MB/s), against a minimal Python
#     os.sendfile server (bench/sendfile_server.py) serving the same bytes.
#
#   bash bench/load.sh [SECONDS]     # default 10 s per wrk run
#
# Needs wrk (Debian: apt-get install wrk), python3, curl, and the npm registry
# for the first install; everything else is local (loopback).
set -euo pipefail
secs="${1:-10}"
here="$(cd "$(dirname "$0")/.." && pwd)"
fixture="${BENCH_FIXTURE:-$here/../shared/bench/webapp}"
# BENCH_WORK=DIR keeps the store (and its installed tree) for the next run.
if [ -n "${BENCH_WORK:-}" ]; then
  work="$BENCH_WORK"; mkdir -p "$work"
  trap 'kill ${server_pid:-} ${ref_pid:-} 2>/dev/null || true' EXIT
else
  work="$(mktemp -d /tmp/depcache-load.XXXXXX)"
  trap 'kill ${server_pid:-} ${ref_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT
fi

# BENCH_DEPCACHE=path runs that binary instead (to compare two builds).
if [ -z "${BENCH_DEPCACHE:-}" ]; then
  echo "building release binary..." >&2
  cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fi
depcache="${BENCH_DEPCACHE:-${CARGO_TARGET_DIR:-$here/target}/release/depcache}"

project="$work/project"
mkdir -p "$project"
rm -rf "$project/node_modules"
cp "$fixture/package.json" "$fixture/package-lock.json" "$project/"
export npm_config_cache="$work/npm-cache"

# Port 0: the kernel picks a free one (a random guess in the ephemeral range
# collides with outgoing connections on a busy machine); the server says which.
"$depcache" serve 0 --bind 127.0.0.1 --is-public --cache-dir "$work/store" \
  2> "$work/server.log" &
server_pid=$!
server=""
for _ in $(seq 100); do
  server=$(sed -n 's/.*serving on \(http:[^ ]*\).*/\1/p' "$work/server.log" | head -1)
  [ -n "$server" ] && break
  sleep 0.1
done
[ -n "$server" ] || { echo "the server did not start:" >&2; cat "$work/server.log" >&2; exit 1; }

echo "first fetch (the server installs the tree)..." >&2
(cd "$project" && "$depcache" fetch npm --server "$server" --no-fallback -q)
key=$(cd "$project" && "$depcache" hash npm)

# The client's POST body, rebuilt from `hash --explain`, and the same body
# with a wrong key.
(cd "$project" && "$depcache" hash npm --explain | python3 -c '
import base64, json, sys
req = {"manager": "", "hash": "", "files": {}, "versions": {}}
for line in sys.stdin:
    parts = line.split()
    if not parts:
        continue
    if parts[0] == "manager":
        req["manager"] = parts[1]
    elif parts[0] == "version":
        name, value = parts[1].split("=", 1)
        req["versions"][name] = value
    elif parts[0] == "platform":
        req["platform"] = parts[1]
    elif parts[0] == "file":
        req["files"][parts[1]] = base64.b64encode(open(parts[1], "rb").read()).decode()
    elif len(parts) == 1 and len(parts[0]) == 64:
        req["hash"] = parts[0]
json.dump(req, open(sys.argv[1], "w"))
req["hash"] = "0" * 64
json.dump(req, open(sys.argv[2], "w"))
' "$work/hit.json" "$work/refused.json")
for name in hit refused; do
  cat > "$work/$name.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$work/$name.json", "rb"); wrk.body = f:read("*a"); f:close()
LUA
done
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$work/hit.json" "$server/v1/cache")
[ "$status" = 200 ] || { echo "the rebuilt POST is not a hit ($status)" >&2; exit 1; }

# run NAME CONNECTIONS URL [SCRIPT]: wrk's summary into $work/NAME.out
run() {
  local name="$1" conns="$2" url="$3" script="${4:-}" threads=2
  [ "$conns" -lt 2 ] && threads=1
  wrk -t"$threads" -c"$conns" -d"${secs}s" --latency ${script:+-s "$script"} "$url" \
    > "$work/$name.out"
}
# p50 in ms, req/s, and MB/s from a wrk summary.
p50() { awk '$1=="50%"{v=$2; u=v; gsub(/[0-9.]/,"",u); sub(/[a-z]+$/,"",v);
  if (u=="us") v/=1000; else if (u=="s") v*=1000; print v}' "$work/$1.out"; }
rps() { awk '/^Requests\/sec/{print $2}' "$work/$1.out"; }
mbps() { awk '/^Transfer\/sec/{v=$2; u=v; gsub(/[0-9.]/,"",u); sub(/[A-Za-z]+$/,"",v);
  if (u=="GB") v*=1024; else if (u=="KB") v/=1024; printf "%.0f", v*1.048576}' "$work/$1.out"; }

echo "wrk runs, ${secs} s each..." >&2
run refused1 1 "$server/v1/cache" "$work/refused.lua"
run post1 1 "$server/v1/cache" "$work/hit.lua"
run get1 1 "$server/v1/cache/$key"
run post64 64 "$server/v1/cache" "$work/hit.lua"
run get64 64 "$server/v1/cache/$key"

curl -sf -o "$work/bundle.zip" "$server/download/$key.zip"
ref_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$here/bench/sendfile_server.py" "$ref_port" "$work/bundle.zip" &
ref_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$ref_port/" && break; sleep 0.1; done
run dl8 8 "$server/download/$key.zip"
run ref8 8 "http://127.0.0.1:$ref_port/bundle.zip"
bundle=$(stat -c %s "$work/bundle.zip")
files=$(find "$project/node_modules" -type f | wc -l)

printf '\nwebapp fixture: %d files, bundle %.1f MiB; %d s per run, loopback, %d cores\n' \
  "$files" "$(echo "$bundle / 1048576" | bc -l)" "$secs" "$(nproc)"
printf '%-36s %12s %-44s %8s\n' "path" "depcache" "reference (same run)" "ratio"
ratio() { echo "$1 / $2" | bc -l; }
printf '%-36s %9.2f ms %-44s %7.2fx\n' "hit POST /v1/cache, 1 conn, p50" "$(p50 post1)" \
  "refused POST (wrong key): $(printf '%.2f' "$(p50 refused1)") ms" "$(ratio "$(p50 post1)" "$(p50 refused1)")"
printf '%-36s %9.2f ms %-44s %7.2fx\n' "hit GET /v1/cache/<key>, 1 conn, p50" "$(p50 get1)" \
  "refused POST (wrong key): $(printf '%.2f' "$(p50 refused1)") ms" "$(ratio "$(p50 get1)" "$(p50 refused1)")"
printf '%-36s %8.0f r/s %-44s %7.1fx\n' "hit POST, 64 conns" "$(rps post64)" \
  "Python original (issue 12): 104 r/s" "$(ratio "$(rps post64)" 104)"
printf '%-36s %8.0f r/s %-44s %7.1fx\n' "hit GET, 64 conns" "$(rps get64)" \
  "Python original (issue 12): 104 r/s" "$(ratio "$(rps get64)" 104)"
printf '%-36s %7.0f MB/s %-44s %7.2fx\n' "bundle download, 8 conns" "$(mbps dl8)" \
  "python os.sendfile server: $(mbps ref8) MB/s" "$(ratio "$(mbps dl8)" "$(mbps ref8)")"
printf '(hit POST at 64 conns: p50 %.1f ms)\n' "$(p50 post64)"
