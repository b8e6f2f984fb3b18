#!/usr/bin/env bash
# Installs depcache: the binary (built with cargo), shell completions and man
# pages, under a prefix. Idempotent; says what it did.
#
#   ./install.sh                     # into ~/.local (no root needed)
#   sudo ./install.sh --prefix /usr/local
#   ./install.sh --prefix DIR --binary target/release/depcache   # skip the build
set -euo pipefail

prefix="${HOME}/.local"
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --binary=*) binary="${1#--binary=}"; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$prefix/bin"
prefix="$(cd "$prefix" && pwd)"

if [ -z "$binary" ]; then
  if ! command -v cargo >/dev/null 2>&1; then
    echo "install.sh: cargo is not on PATH; install Rust from https://rustup.rs (or pass --binary PATH to a built depcache)" >&2
    exit 1
  fi
  # cargo runs with --quiet; without this line the build looks hung.
  echo "building depcache from source with cargo (a release build: a few minutes, about 5 on 2 cores); the binary goes to $prefix/bin/depcache"
  cargo install --locked --path "$here" --root "$prefix" --force --quiet
  echo "installed $prefix/bin/depcache (cargo install --locked)"
else
  install -m 0755 "$binary" "$prefix/bin/depcache"
  echo "installed $prefix/bin/depcache (from $binary)"
fi

put() { # put SRC DEST: copy with mode 0644, creating folders
  install -D -m 0644 "$1" "$2"
  echo "installed $2"
}
put "$here/completions/depcache.bash" "$prefix/share/bash-completion/completions/depcache"
put "$here/completions/_depcache" "$prefix/share/zsh/site-functions/_depcache"
put "$here/completions/depcache.fish" "$prefix/share/fish/vendor_completions.d/depcache.fish"
for page in "$here"/man/*.1; do
  put "$page" "$prefix/share/man/man1/$(basename "$page")"
done

case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; add it to use depcache" ;;
esac
case "$prefix" in
  "$HOME/.local" | /usr/local | /usr) ;;
  *)
    # Shells look for completions only in their own folders.
    echo "note: completions under a custom prefix need enabling: bash: source $prefix/share/bash-completion/completions/depcache in ~/.bashrc; zsh: fpath+=($prefix/share/zsh/site-functions) before compinit; fish: add $prefix/share/fish/vendor_completions.d to \$fish_complete_path; man: MANPATH=$prefix/share/man:"
    ;;
esac
echo "done: $("$prefix/bin/depcache" --version)"
