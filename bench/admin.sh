#!/bin/sh
# Times `depcache admin` stats and gc on a synthetic store of 1,000,000 blobs
# and 10,000 keys (see bench/README.md). Usage: bench/admin.sh [DIR]
set -eu
dir=${1:-${TMPDIR:-/tmp}/depcache-admin-bench}
cd "$(dirname "$0")/.."
cargo build --release --example admin_bench --bin depcache
target=${CARGO_TARGET_DIR:-target}/release
rm -rf "$dir"
"$target/examples/admin_bench" build "$dir" 1000000 10000
sync
"$target/examples/admin_bench" stats "$dir"
"$target/examples/admin_bench" stats "$dir"   # warm cache
/usr/bin/time -f "admin stats (CLI): %es wall, peak RSS %M KiB" \
  "$target/depcache" admin stats --cache-dir "$dir" >/dev/null
"$target/examples/admin_bench" gc-dry "$dir"
"$target/examples/admin_bench" gc "$dir"
/usr/bin/time -f "admin gc (CLI, nothing to evict): %es wall, peak RSS %M KiB" \
  "$target/depcache" admin gc --cache-dir "$dir" --grace 0s >/dev/null
rm -rf "$dir"
