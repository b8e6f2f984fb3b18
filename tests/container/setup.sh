#!/usr/bin/env bash
# Prepares what the container tests (tests/suite/container_e2e.rs) need, without
# pulling anything from a container registry:
#
#   * podman (rootful, runc) from Debian;
#   * a node toolchain directory   $ROOT/node-toolchain/{bin/node,bin/npm}
#     holding the host's node binary and an npm of ANOTHER version than the
#     host's, taken from the npm registry (`npm pack npm@X`);
#   * a local image  localhost/depcache-node:<node version>  whose root
#     filesystem is that same toolchain under /usr/local plus the shared
#     libraries node needs, imported with `podman import`.
#
# The test then asks for node <host node> / npm X, a pair the host's PATH does
# not provide, once from a server that has the toolchain (native install) and
# once from a server that only has the container, and compares the two trees.
#
# Idempotent: a stamp file records what was built; rerunning only rebuilds
# when the host's node or the chosen npm changed. Run as root on Debian 12.
set -euo pipefail

ROOT=${DEPCACHE_CONTAINER_DIR:-/var/lib/depcache-test}
# The npm put in the toolchain and the image; must differ from the host's.
NPM_VERSION=${DEPCACHE_CONTAINER_NPM:-10.9.2}
ALT_NPM_VERSION=10.8.3

export DEBIAN_FRONTEND=noninteractive
packages=(podman runc uidmap slirp4netns fuse-overlayfs)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Storage: overlay when the kernel and filesystem allow it, vfs otherwise
# (nested sandboxes often refuse overlay mounts).
if ! podman info >/dev/null 2>&1 || ! podman info --format '{{.Store.GraphDriverName}}' >/dev/null 2>&1; then
  # Never destroy what this project did not create: a storage.conf of the
  # machine's own is left alone, and existing podman storage is never reset.
  marker='# written by depcache tests/container/setup.sh'
  if [ -e /etc/containers/storage.conf ] && ! grep -qF "$marker" /etc/containers/storage.conf; then
    echo "setup.sh: podman info fails and /etc/containers/storage.conf is not ours, so it stays as it is; fix podman's storage (e.g. driver = \"vfs\") and run setup.sh again" >&2
    exit 1
  fi
  echo "setup.sh: podman info failed with the default storage; switching to vfs" >&2
  mkdir -p /etc/containers
  cat > /etc/containers/storage.conf <<CONF
$marker
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
CONF
  if ! podman info >/dev/null 2>&1; then
    echo "setup.sh: podman still fails with vfs storage, probably because its storage holds another driver's data; this script never wipes it: inspect it, and run 'podman system reset' yourself only if it is disposable" >&2
    exit 1
  fi
fi

node_bin=$(readlink -f "$(command -v node)")
node_version=$(node --version | sed 's/^v//')
host_npm=$(npm --version)
if [ "$host_npm" = "$NPM_VERSION" ]; then
  NPM_VERSION=$ALT_NPM_VERSION
fi
image="localhost/depcache-node:${node_version}"
stamp="node=${node_version} npm=${NPM_VERSION} node_sha=$(sha256sum "$node_bin" | cut -c1-64)"

if [ -f "$ROOT/stamp" ] && [ "$(cat "$ROOT/stamp")" = "$stamp" ] && podman image exists "$image"; then
  echo "setup.sh: $image and $ROOT/node-toolchain are up to date ($stamp)"
  exit 0
fi

rm -rf "$ROOT"
mkdir -p "$ROOT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The toolchain: node + npm X, laid out like an official node tarball.
tc="$ROOT/node-toolchain"
mkdir -p "$tc/bin" "$tc/lib/node_modules"
cp "$node_bin" "$tc/bin/node"
(cd "$work" && npm pack --silent "npm@${NPM_VERSION}" >/dev/null)
tar -xzf "$work/npm-${NPM_VERSION}.tgz" -C "$work"
mv "$work/package" "$tc/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tc/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tc/bin/npx"
got=$(PATH="$tc/bin:$PATH" "$tc/bin/npm" --version)
[ "$got" = "$NPM_VERSION" ] || { echo "setup.sh: toolchain npm reports $got, wanted $NPM_VERSION" >&2; exit 1; }

# The image's root filesystem: the toolchain under /usr/local, node's shared
# libraries (from ldd), a shell for debugging, and the few files in /etc that
# a process running as an arbitrary --user expects.
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{usr/local,etc,tmp,work,bin}
chmod 1777 "$rootfs/tmp"
cp -a "$tc/." "$rootfs/usr/local/"
mkdir -p "$rootfs/usr/bin"
for bin in "$node_bin" /bin/sh /usr/bin/env; do
  for lib in $(ldd "$(readlink -f "$bin")" | grep -o '/[^ ]*'); do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
done
cp "$(readlink -f /bin/sh)" "$rootfs/bin/sh"
# npm's bin/npm-cli.js starts with `#!/usr/bin/env node`.
cp "$(readlink -f /usr/bin/env)" "$rootfs/usr/bin/env"
# Debian's /lib and /lib64 are symlinks into /usr; keep the loader's path valid.
[ -e "$rootfs/lib64/ld-linux-x86-64.so.2" ] || { mkdir -p "$rootfs/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/" 2>/dev/null || true; }
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"

podman rmi -f "$image" >/dev/null 2>&1 || true
tar -C "$rootfs" -c . | podman import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'WORKDIR /work' \
  - "$image" >/dev/null

# Some sandboxes (nested VMs, CI runners) refuse podman's default rlimits
# (nofile/nproc of 1048576 and more); then give containers the limits this
# shell already has, through containers.conf, and try once more.
if ! out=$(podman run --rm --network none "$image" node --version 2>&1); then
  if printf '%s' "$out" | grep -q 'error setting rlimit'; then
    nofile=$(ulimit -Hn)
    echo "setup.sh: podman's default rlimits are refused here; writing /etc/containers/containers.conf (nofile=$nofile, nproc=16384)" >&2
    mkdir -p /etc/containers
    cat > /etc/containers/containers.conf <<CONF
# Written by depcache tests/container/setup.sh: this machine refuses podman's
# default rlimits, so containers get the limits the host shell has.
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=16384:16384"]
CONF
  else
    printf '%s\n' "$out" >&2
    exit 1
  fi
fi

got=$(podman run --rm --network none "$image" npm --version)
[ "$got" = "$NPM_VERSION" ] || { echo "setup.sh: image npm reports $got, wanted $NPM_VERSION" >&2; exit 1; }
got=$(podman run --rm --network none "$image" node --version)
[ "$got" = "v$node_version" ] || { echo "setup.sh: image node reports $got" >&2; exit 1; }

printf 'node=%s\nnpm=%s\nimage=localhost/depcache-node:{version}\ntoolchain=%s\n' \
  "$node_version" "$NPM_VERSION" "$tc" > "$ROOT/versions"
echo "$stamp" > "$ROOT/stamp"
echo "setup.sh: built $image (node $node_version, npm $NPM_VERSION) and $tc"
