#!/bin/bash
# Benchmark: unpack a larger OCI image (tens of MB) with `husk bundle`, in
# both rootfs modes, against `umoci unpack`.
#
#   bench/unpack.sh [RUNS]        (root; default 5 runs, the median is kept)
#
# The image, built with umoci in a temporary directory: a busybox rootfs
# plus 48 MiB of semi-compressible files (base64 of random bytes) in 24
# files, 4,000 small files in 40 directories and 1,000 symlinks, in three
# gzip layers (the third deletes and rewrites part of the first two).
# Each run unpacks into a fresh directory (and, for --overlay, an empty
# layer store), with warm page caches for both tools.
#
# Environment: HUSK=path of the husk binary (default: target/release/husk,
# built if missing); BENCH_DIR=directory to work in (default /var/tmp, a
# disk; /dev/shm takes file-system costs mostly out of the figures).
set -euo pipefail
cd "$(dirname "$0")/.."
. test-bundles/images/lib.sh

runs=${1:-5}
[ "$(id -u)" -eq 0 ] || die "needs root"
need umoci:umoci
husk=${HUSK:-target/release/husk}
if [ ! -x "$husk" ]; then
    . .ci/cargo-env
    cargo build --release --bin husk >&2
fi

work=$(mktemp -d "${BENCH_DIR:-/var/tmp}/husk-bench.XXXXXX")
cleanup() {
    local m
    for m in $(grep -o " $work/[^ ]*" /proc/self/mountinfo || true); do umount -l "$m" || true; done
    rm -rf "$work"
}
trap cleanup EXIT
L=$work/layout
b=$work/b

echo "building the image in $work ..." >&2
umoci init --layout "$L"
umoci new --image "$L:bench"
umoci unpack --image "$L:bench" "$b" >/dev/null
r=$b/rootfs
test-bundles/make-rootfs.sh "$r"
mkdir -p "$r/big"
for i in $(seq 1 24); do head -c 1572864 /dev/urandom | base64 -w 76 >"$r/big/blob$i"; done
umoci repack --image "$L:bench" "$b" >/dev/null
rm -rf "$b"; umoci unpack --image "$L:bench" "$b" >/dev/null
for d in $(seq 1 40); do
    mkdir -p "$r/small/d$d"
    for f in $(seq 1 100); do head -c 2048 /dev/urandom | base64 >"$r/small/d$d/f$f"; done
    for f in $(seq 1 25); do ln -s "f$f" "$r/small/d$d/l$f"; done
done
umoci repack --image "$L:bench" "$b" >/dev/null
rm -rf "$b"; umoci unpack --image "$L:bench" "$b" >/dev/null
rm -rf "$r/small/d1" "$r/big/blob1" "$r/big/blob2"
head -c 1048576 /dev/urandom | base64 >"$r/big/blob3"
umoci repack --image "$L:bench" "$b" >/dev/null
rm -rf "$b"
umoci config --image "$L:bench" --config.cmd /bin/sh

compressed=$(jq '[.layers[].size] | add' "$(blob "$L" "$(manifest_of "$L" bench)")")

# time_of CMD...: wall seconds of one run.
time_of() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
}

median() { sort -g | awk '{a[NR] = $1} END {printf "%.3f", a[int((NR + 1) / 2)]}'; }

umoci_t=() copy_t=() ovl_t=()
for i in $(seq 1 "$runs"); do
    rm -rf "$work/u"
    umoci_t+=("$(time_of umoci unpack --image "$L:bench" "$work/u")")
    rm -rf "$work/c"
    copy_t+=("$(time_of "$husk" bundle --tag bench "$L" "$work/c")")
    [ "$i" -eq 1 ] && { files=$(find "$work/c/rootfs" | wc -l); size=$(du -sm "$work/c/rootfs" | cut -f1); }
    [ -d "$work/o" ] && "$husk" bundle rm "$work/o"
    rm -rf "$work/s"
    ovl_t+=("$(time_of "$husk" bundle --overlay --layer-store "$work/s" --tag bench "$L" "$work/o")")
done
[ -d "$work/o" ] && "$husk" bundle rm "$work/o"

u=$(printf '%s\n' "${umoci_t[@]}" | median)
c=$(printf '%s\n' "${copy_t[@]}" | median)
o=$(printf '%s\n' "${ovl_t[@]}" | median)
div() { awk -v a="$1" -v b="$2" 'BEGIN {print a / b}'; }
printf 'image: 3 gzip layers, %.1f MiB compressed; unpacked %s MiB, %s files\n' \
    "$(div "$compressed" 1048576)" "$size" "$files"
printf 'median of %s runs (wall seconds):\n' "$runs"
printf '  umoci unpack                %6.3f s\n' "$u"
printf '  husk bundle (copy)          %6.3f s   %5.1fx faster than umoci\n' "$c" "$(div "$u" "$c")"
printf '  husk bundle --overlay       %6.3f s   %5.1fx faster than umoci\n' "$o" "$(div "$u" "$o")"
