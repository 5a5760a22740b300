#!/bin/bash
# Build a `docker save` archive by hand, as docker (before v25) writes it.
#
#   test-bundles/images/make-docker-save.sh OUT.tar
#
#   manifest.json   [{"Config": "<sha256>.json", "RepoTags": ["husk-test/ds:v1"],
#                     "Layers": ["<id>/layer.tar", ...]}]
#   repositories    {"husk-test/ds": {"v1": "<top layer id>"}}
#   <sha256>.json   the image config; its name is its digest
#   <id>/layer.tar  the layers, verified through the config's diff_ids
#
# Layers: 1 a busybox rootfs (test-bundles/make-rootfs.sh) with /data/a,
# /data/b, /opq/old; 2 gzip-compressed (docker save never compresses, but
# the format allows it): a whiteout of /data/a, /opq made opaque with
# /opq/new, /etc/motd; 3 /etc/l3; 4 a symlink to layer 3's layer.tar (docker
# links identical layers). Config: Cmd prints /etc/motd, Env, WorkingDir
# /data, User 1000:1000.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -eq 1 ] || die "usage: $0 OUT.tar"
out=$1
[ "$(id -u)" -eq 0 ] || die "needs root"
need jq:jq

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
a=$work/archive
mkdir -p "$a"

l=$work/l1
"$here/../make-rootfs.sh" "$l"
mkdir -p "$l/data" "$l/opq"
echo a >"$l/data/a"; echo b >"$l/data/b"; echo old >"$l/opq/old"
chmod 0755 "$l"
mktar "$work/1.tar" "$l"

l=$work/l2; mkdir -p "$l/data" "$l/opq" "$l/etc"; chmod -R 0755 "$l"
: >"$l/data/.wh.a"
: >"$l/opq/.wh..wh..opq"
echo new >"$l/opq/new"
echo "hello from docker save" >"$l/etc/motd"
mktar "$work/2.tar" "$l"

l=$work/l3; mkdir -p "$l/etc"; chmod -R 0755 "$l"
echo l3 >"$l/etc/l3"
mktar "$work/3.tar" "$l"

diff_ids=()
layers=()
for n in 1 2 3; do
    diff_ids+=("sha256:$(sha "$work/$n.tar")")
    id=$(printf 'layer %s' "$n" | sha256sum | cut -d' ' -f1)
    mkdir "$a/$id"
    if [ "$n" = 2 ]; then gzip -n -c "$work/$n.tar" >"$a/$id/layer.tar"; else cp "$work/$n.tar" "$a/$id/layer.tar"; fi
    echo 1.0 >"$a/$id/VERSION"
    layers+=("$id/layer.tar")
done
id4=$(printf 'layer 4' | sha256sum | cut -d' ' -f1)
mkdir "$a/$id4"
ln -s "../${layers[2]}" "$a/$id4/layer.tar"
layers+=("$id4/layer.tar")
diff_ids+=("${diff_ids[2]}")

jq -nc --args '{architecture: "amd64", os: "linux",
    config: {Cmd: ["/bin/sh", "-c", "echo docker-save; cat /etc/motd; id; pwd; echo FOO=$FOO"],
             Env: ["FOO=from-docker", "PATH=/bin"], WorkingDir: "/data", User: "1000:1000"},
    rootfs: {type: "layers", diff_ids: $ARGS.positional}}' "${diff_ids[@]}" >"$work/config.json"
cfg=$(sha "$work/config.json")
mv "$work/config.json" "$a/$cfg.json"
jq -nc --arg c "$cfg.json" --args '[{Config: $c, RepoTags: ["husk-test/ds:v1"], Layers: $ARGS.positional}]' \
    "${layers[@]}" >"$a/manifest.json"
jq -nc --arg id "$id4" '{"husk-test/ds": {v1: $id}}' >"$a/repositories"
tar --numeric-owner --sort=name -C "$a" -cf "$out" .
