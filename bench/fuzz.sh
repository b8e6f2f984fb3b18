#!/usr/bin/env bash
# Runs each cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 60) and
# reports which ones crashed; see bench/README.md. Needs the nightly toolchain
# and cargo-fuzz (installed from crates.io when missing).
#
#   bash bench/fuzz.sh                     # every target, 60 s each
#   FUZZ_SECONDS=600 bash bench/fuzz.sh range index
#
# Crashing inputs land in fuzz/artifacts/<target>/; turn each into a regular
# test in tests/suite (input inline) before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
python3 fuzz/seeds.py

# Release speed, but with debug assertions and overflow checks: an overflow
# is a finding, not something to wrap silently.
flags=(--release --debug-assertions)
cargo +nightly fuzz build "${flags[@]}"
# Run the built binaries themselves: `cargo fuzz run` would build again, and
# the main crate's build script (the git commit) can make that a full rebuild.
bin="fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

failed=()
for target in "${targets[@]}"; do
  case "$target" in
    range) dict=fuzz/dicts/range.dict ;;
    bundle) dict="" ;;
    *) dict=fuzz/dicts/json.dict ;;
  esac
  mkdir -p "fuzz/corpus/$target"
  echo "== $target: ${seconds}s" >&2
  args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1)
  [ -n "$dict" ] && args+=(-dict="$dict")
  mkdir -p "fuzz/artifacts/$target"
  if ! "$bin/$target" -artifact_prefix="fuzz/artifacts/$target/" "${args[@]}" \
      "fuzz/corpus/$target" "fuzz/seeds/$target"; then
    failed+=("$target")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "no crash in ${targets[*]} (${seconds}s each)" >&2
