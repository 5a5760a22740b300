#!/bin/bash
# Build husk, make a busybox bundle in a temporary directory and run one
# container from it in the foreground, then clean up:
#
#   test-bundles/demo.sh
#
# Runs as root (re-runs itself through sudo when that exists). Installs what
# it needs from Debian's archive when missing: libseccomp-dev and pkg-config
# (to build), busybox-static (the container's userland) and jq.
# HUSK=/usr/sbin/runc test-bundles/demo.sh runs the same demo with runc.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
MAKE_ROOTFS=${MAKE_ROOTFS:-$here/make-rootfs.sh}

die() { echo "demo: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "run me as root"
    exec sudo --preserve-env=HUSK,PATH,HOME "$0" "$@"
fi

# The rootfs needs a static busybox (the dynamic one of the 'busybox'
# package would need the host's libraries inside the container).
missing=()
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    missing+=(busybox-static)
fi
command -v jq >/dev/null || missing+=(jq)
if [ -z "${HUSK:-}" ]; then
    for p in libseccomp-dev pkg-config; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "demo: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ -z "${HUSK:-}" ]; then
    # shellcheck source=../.ci/cargo-env
    . "$top/.ci/cargo-env"
    "$top/.ci/build-release" >/dev/null
    HUSK=$top/target/release/husk
fi
[ -x "$HUSK" ] || die "$HUSK not found"
[ -x "$MAKE_ROOTFS" ] || die "$MAKE_ROOTFS not found"

id=demo-$$
# An absolute cgroupsPath: runc would otherwise nest the container under the
# caller's own cgroup.
cgroup=/husk-demo-$$
tmp=$(mktemp -d /tmp/husk-demo.XXXXXX)
bundle=$tmp/bundle
root=$tmp/root

cleanup() {
    "$HUSK" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    # Left only if the runtime failed half-way.
    for d in /sys/fs/cgroup/*"$cgroup" /sys/fs/cgroup"$cgroup"; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$bundle"
"$MAKE_ROOTFS" "$bundle/rootfs"
"$HUSK" spec --bundle "$bundle"
jq --arg cg "$cgroup" '
    .process.args = ["sh", "-c", "echo hello from husk; uname -a; id"]
  | .process.terminal = false
  | .hostname = "husk-demo"
  | .linux.cgroupsPath = $cg
' "$bundle/config.json" >"$bundle/config.json.new"
mv "$bundle/config.json.new" "$bundle/config.json"

echo "demo: $HUSK --root $root run -b $bundle $id" >&2
status=0
"$HUSK" --root "$root" run -b "$bundle" "$id" </dev/null || status=$?
echo "demo: the container exited with status $status" >&2
exit "$status"
