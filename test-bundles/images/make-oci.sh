#!/bin/bash
# Build the OCI image layout the image tests use.
#
#   test-bundles/images/make-oci.sh LAYOUT
#
# LAYOUT (must not exist) gets three tags:
#   app    5 layers on a busybox rootfs (test-bundles/make-rootfs.sh):
#            1 gzip, umoci repack: files, dirs, modes (setuid, sticky),
#              owners, symlinks, a hard link, devices, a fifo, an xattr,
#              a fixed mtime
#            2 gzip, umoci repack: deletions (umoci writes .wh. whiteouts),
#              /work owned by 1000, the entrypoint script
#            3 gzip, umoci repack: a directory deleted and recreated
#            4 zstd, hand-made: an opaque directory (.wh..wh..opq) and a
#              hand-made whiteout
#            5 uncompressed, hand-made: an absolute member name, a file in
#              the subdirectory the opaque marker hid
#          (umoci 0.4 cannot unpack zstd layers: its own come first)
#          config: Entrypoint /bin/entry.sh, Cmd default-arg, Env,
#          WorkingDir /work, User test:extra, a label, StopSignal SIGINT
#   other  the same layers; no Entrypoint, Cmd [/bin/echo, other-tag], User 0:0
#   multi  an image index: linux/amd64 → app, linux/arm64 → other
#
# Needs root (device nodes, owners) and umoci, jq, zstd, setfattr
# (installed from Debian when missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -eq 1 ] || die "usage: $0 LAYOUT"
L=$1
[ ! -e "$L" ] || die "$L exists"
[ "$(id -u)" -eq 0 ] || die "needs root"
need umoci:umoci jq:jq zstd:zstd setfattr:attr

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
b=$work/bundle

umoci init --layout "$L"
umoci new --image "$L:app"

unpack() { rm -rf "$b"; umoci unpack --image "$L:app" "$b" >/dev/null; r=$b/rootfs; }
repack() { umoci repack --image "$L:app" "$b" >/dev/null; }

# --- layer 1 ---------------------------------------------------------------
unpack
"$here/../make-rootfs.sh" "$r"
mkdir -p "$r"/data/dir-gone/sub "$r"/opq/sub "$r"/perm "$r"/links "$r"/devs "$r"/recreate
echo keep >"$r/data/keep"
echo gone >"$r/data/gone"
echo hand-gone >"$r/data/hand-gone"
echo f >"$r/data/dir-gone/sub/f"
echo old1 >"$r/opq/old1"
echo old2 >"$r/opq/sub/old2"
echo old >"$r/recreate/old"
echo setuid >"$r/perm/setuid"; chmod 4755 "$r/perm/setuid"
echo owned >"$r/perm/owned"; chown 1000:2000 "$r/perm/owned"; chmod 0640 "$r/perm/owned"
mkdir "$r/perm/sticky"; chmod 1777 "$r/perm/sticky"
ln -s /data/keep "$r/links/abs"
ln -s ../data/keep "$r/links/rel"
ln "$r/data/keep" "$r/links/hard"
mknod "$r/devs/null" c 1 3
mknod -m 0640 "$r/devs/blk" b 7 42
mkfifo -m 0622 "$r/devs/fifo"
setfattr -n user.husk -v hello "$r/data/keep"
touch -d '2001-02-03 04:05:06 UTC' "$r/data/keep"
touch -h -d '2002-03-04 05:06:07 UTC' "$r/links/abs"
repack

# --- layer 2 ---------------------------------------------------------------
unpack
rm "$r/data/gone"
rm -r "$r/data/dir-gone"
mkdir "$r/work"; chown 1000:1000 "$r/work"
cat >"$r/bin/entry.sh" <<'SH'
#!/bin/sh
# Prints what the container was started with, then runs its arguments
# unless they are the image's default Cmd.
echo "args: $*"
echo "id: $(id)"
echo "pwd: $(pwd)"
env | sort | sed 's/^/env: /'
[ "$1" = default-arg ] || [ $# -eq 0 ] || exec "$@"
SH
chmod 0755 "$r/bin/entry.sh"
repack

# --- layer 3 (umoci: a directory deleted and recreated) --------------------
unpack
rm -r "$r/recreate"
mkdir "$r/recreate"; echo new >"$r/recreate/new"
repack

# --- layer 4 (zstd, hand-made: opaque dir, whiteout) -----------------------
l=$work/l4; mkdir -p "$l/opq" "$l/data"; chmod -R 0755 "$l"
echo new >"$l/opq/new"
: >"$l/opq/.wh..wh..opq"
: >"$l/data/.wh.hand-gone"
mktar "$work/l4.tar" "$l"
add_layer "$L" app "$work/l4.tar" zstd

# --- layer 5 (uncompressed, hand-made) -------------------------------------
l=$work/l5; mkdir -p "$l/opq/sub"; chmod -R 0755 "$l"
echo l5 >"$l/opq/sub/l5"
echo abs >"$work/abs-entry"
mktar "$work/l5.tar" "$l"
# An absolute member name: lands at /abs-entry of the rootfs.
tar --numeric-owner -P --transform 's,^.*/abs-entry$,/abs-entry,' -rf "$work/l5.tar" "$work/abs-entry"
add_layer "$L" app "$work/l5.tar" none

# --- configs ---------------------------------------------------------------
umoci config --image "$L:app" --config.entrypoint /bin/entry.sh --config.cmd default-arg \
    --config.env FOO=bar --config.env 'PATH=/usr/bin:/bin' --config.workingdir /work \
    --config.user test:extra --config.label org.example.flavour=husk \
    --config.stopsignal SIGINT
umoci config --image "$L:app" --tag other --clear config.entrypoint \
    --config.user 0:0 --config.cmd /bin/echo --config.cmd other-tag

# --- multi: an index over two platforms ------------------------------------
desc() { # desc TAG ARCH
    local d s
    d=$(manifest_of "$L" "$1")
    s=$(stat -c %s "$(blob "$L" "$d")")
    jq -nc --arg d "$d" --argjson s "$s" --arg a "$2" \
        '{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s, platform: {os: "linux", architecture: $a}}'
}
read -r d s < <(put_json "$L" "$(jq -nc --argjson a "$(desc app amd64)" --argjson o "$(desc other arm64)" \
    '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [$a, $o]}')")
jq -c --arg d "$d" --argjson s "$s" '.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json",
    digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": "multi"}}]' \
    "$L/index.json" >"$L/index.json.new"
mv "$L/index.json.new" "$L/index.json"
