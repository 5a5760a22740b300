#!/bin/bash
# Make a broken copy of an OCI layout built by make-oci.sh.
#
#   test-bundles/images/make-bad.sh LAYOUT KIND OUT [HOSTDIR]
#
# OUT is a copy of LAYOUT whose tag "app" is broken in one way, KIND:
#   digest          a byte of the top (uncompressed) layer changed, size kept
#   digest-gzip     a byte in the middle of the bottom (gzip) layer changed
#   truncated       the top layer cut to half its size
#   mediatype       the top layer's media type made unknown
#   escape          a new top layer with a member named ../escaped
#   symlink-escape  not broken, but hostile: a new top layer with symlinks
#                   to / (esc -> ../../../../../../.., abs -> /) and the
#                   files esc/HOSTDIR/pwned-rel, abs/HOSTDIR/pwned-abs and
#                   abs/etc/hl-target, and a hard link hl to the latter; an
#                   unpacker that followed them on the host would write
#                   into HOSTDIR and the host's /etc
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -ge 3 ] || die "usage: $0 LAYOUT KIND OUT [HOSTDIR]"
src=$1 kind=$2 out=$3 hostdir=${4:-}
[ ! -e "$out" ] || die "$out exists"
need jq:jq
cp -a "$src" "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# flip FILE OFFSET: changes the byte at OFFSET.
flip() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $(( (b + 1) % 256 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

case $kind in
digest)
    f=$(blob "$out" "$(layer_digest "$out" app -1)")
    # Inside the first member's data (after its 512-byte header), so the
    # tar still parses and only the digest tells.
    flip "$f" 600
    ;;
digest-gzip)
    f=$(blob "$out" "$(layer_digest "$out" app 0)")
    flip "$f" $(( $(stat -c %s "$f") / 2 ))
    ;;
truncated)
    f=$(blob "$out" "$(layer_digest "$out" app -1)")
    truncate -s $(( $(stat -c %s "$f") / 2 )) "$f"
    ;;
mediatype)
    m=$(manifest_of "$out" app)
    set_manifest "$out" app "$(jq -c '.layers[-1].mediaType = "application/vnd.example.layer.v1.tar+lz4"' "$(blob "$out" "$m")")"
    ;;
escape)
    echo x >"$work/f"
    tar --numeric-owner -P --transform 's,^.*/f$,../escaped,' -cf "$work/l.tar" "$work/f"
    add_layer "$out" app "$work/l.tar" gzip
    ;;
symlink-escape)
    [ -n "$hostdir" ] || die "symlink-escape needs HOSTDIR"
    rel=${hostdir#/}
    l=$work/l; mkdir -p "$l/x/$rel"; chmod -R 0755 "$l"
    ln -s ../../../../../../.. "$l/esc"
    ln -s / "$l/abs"
    echo rel >"$l/x/$rel/pwned-rel"
    echo abs >"$l/x/$rel/pwned-abs"
    echo hl >"$l/hl-target"; ln "$l/hl-target" "$l/hl"
    # Member names through the symlinks (S: not the symlinks' own targets);
    # hl-target becomes abs/etc/hl-target, and so does hl's link target.
    tar --numeric-owner -C "$l" --no-recursion -cf "$work/l.tar" \
        --transform "s,^x/\\(.*pwned-rel\\)$,esc/\\1,S" --transform "s,^x/\\(.*pwned-abs\\)$,abs/\\1,S" \
        --transform "s,^hl-target$,abs/etc/hl-target,S" \
        esc abs "x/$rel/pwned-rel" "x/$rel/pwned-abs" hl-target hl
    add_layer "$out" app "$work/l.tar" none
    ;;
*) die "unknown kind $kind" ;;
esac
