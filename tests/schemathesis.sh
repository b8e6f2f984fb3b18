#!/usr/bin/env bash
# Fuzzes a live `depcache serve` with docs/openapi.yaml using schemathesis
# (PyPI, pinned below, installed once into a venv under ~/.cache): fails on any
# 5xx, any undocumented status or content type, and any body or header that
# breaks the spec. Run by .ci/run after `cargo test`; bounded to a few minutes.
#
#   bash tests/schemathesis.sh            # ST_MAX_EXAMPLES=100 per operation
#
# The server gets a throwaway store and API key, and an npm registry that
# answers 404 to everything so an install that needs the network fails fast
# as the project's fault (422), never hangs (a closed port would be the
# server's own reach failing: a 502 `registry_unreachable`). The one request in the spec whose key is right (an npm project
# without dependencies) is sent first, so downloads and indexes have a real
# key to hit.
set -euo pipefail
cd "$(dirname "$0")/.."

ST_VERSION=4.32.5
venv="${DEPCACHE_ST_VENV:-$HOME/.cache/depcache-ci/schemathesis-$ST_VERSION}"
st="$venv/bin/schemathesis"
if ! "$st" --version 2>/dev/null | grep -qF "$ST_VERSION"; then
  python=$(command -v python3.11 || command -v python3)
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

cargo build --locked --quiet --bin depcache
bin="${CARGO_TARGET_DIR:-target}/debug/depcache"

work=$(mktemp -d)
server=""
registry=""
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  if [ -n "$registry" ]; then kill "$registry" 2>/dev/null || true; wait "$registry" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

key="st-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$key" > "$work/keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
mkdir "$work/empty-registry"
registry_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$registry_port" --bind 127.0.0.1 --directory "$work/empty-registry" \
  >/dev/null 2>&1 &
registry=$!
"$bin" serve "$port" --bind 127.0.0.1 --cache-dir "$work/store" \
  --api-keys-file "$work/keys" --npm-registry "http://127.0.0.1:$registry_port/" \
  --install-timeout 60s >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
  curl -fsS "$url/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

# Seed the store with the spec's own example request (its answer is not
# checked here: on a host with other node/npm versions it is a 400).
python3 - "$url" "$key" <<'PY'
import json, sys, urllib.request, urllib.error
import re
spec = open("docs/openapi.yaml").read()
# The example is plain YAML scalars: pull it out without a YAML parser.
block = spec.split("npm-empty-project:", 1)[1].split("responses:", 1)[0]
def field(name):
    return re.search(r"\b" + re.escape(name) + r": (\S+)", block).group(1)
body = {
    "manager": field("manager"),
    "hash": field("hash"),
    "files": {n: field(n) for n in ("package.json", "package-lock.json")},
    "versions": {"node": field("node"), "npm": field("npm")},
    "platform": field("platform"),
}
req = urllib.request.Request(sys.argv[1] + "/v1/cache", data=json.dumps(body).encode(),
                             headers={"Authorization": "Bearer " + sys.argv[2]})
try:
    with urllib.request.urlopen(req, timeout=120) as r:
        print("seed request:", r.status)
except urllib.error.HTTPError as e:
    print("seed request:", e.code, e.read().decode()[:200])
PY

# From the scratch folder: schemathesis keeps a replay cache in its cwd.
repo=$(pwd)
report="$repo/${CARGO_TARGET_DIR:-target}/schemathesis-report"
case "${CARGO_TARGET_DIR:-}" in /*) report="$CARGO_TARGET_DIR/schemathesis-report" ;; esac
status=0
(cd "$work" && timeout 170 "$st" run "$repo/docs/openapi.yaml" --url "$url" \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${ST_MAX_EXAMPLES:-100}" \
  --request-timeout 90 \
  --report junit --report-dir "$report") || status=$?
if [ "$status" -ne 0 ]; then
  echo "schemathesis failed ($status); server log:" >&2
  tail -n 50 "$work/server.log" >&2
fi
exit "$status"
