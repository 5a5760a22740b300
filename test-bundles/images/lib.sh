# Shell functions shared by the image-building scripts of husk's tests.
# Source it: . "$(dirname "$0")/lib.sh"
#
# OCI layouts are edited with jq: every change to a blob writes a new blob
# named by its sha256 and rewrites the documents that point at it (config →
# manifest → index.json), as a registry client would.

set -euo pipefail

die() { echo "${0##*/}: $*" >&2; exit 1; }

# need CMD:PACKAGE...  installs the Debian packages of missing commands
# (when root and apt-get exist), else fails naming them.
need() {
    local missing=() spec
    for spec in "$@"; do
        command -v "${spec%%:*}" >/dev/null || missing+=("${spec#*:}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        echo "${0##*/}: installing ${missing[*]}" >&2
        { apt-get install -y -qq "${missing[@]}" ||
          { apt-get update -qq && apt-get install -y -qq "${missing[@]}"; }; } >/dev/null 2>&1 ||
            die "cannot install ${missing[*]}"
    else
        die "missing: ${missing[*]} (apt-get install ${missing[*]})"
    fi
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# put_blob LAYOUT FILE: moves FILE into LAYOUT's blobs; prints "DIGEST SIZE".
put_blob() {
    local h size
    h=$(sha "$2")
    size=$(stat -c %s "$2")
    mv -f "$2" "$1/blobs/sha256/$h"
    echo "sha256:$h $size"
}

# put_json LAYOUT JSON: stores a JSON document as a blob; prints "DIGEST SIZE".
put_json() {
    local t
    t=$(mktemp "$1/blobs/.json.XXXXXX")
    printf '%s' "$2" >"$t"
    put_blob "$1" "$t"
}

blob() { echo "$1/blobs/sha256/${2#sha256:}"; }

# manifest_of LAYOUT TAG: the digest of TAG's manifest in index.json.
manifest_of() {
    local d
    d=$(jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json")
    [ -n "$d" ] || die "no tag $2 in $1"
    echo "$d"
}

# set_manifest LAYOUT TAG JSON: stores JSON as TAG's new manifest.
set_manifest() {
    local d s
    read -r d s < <(put_json "$1" "$3")
    jq -c --arg t "$2" --arg d "$d" --argjson s "$s" \
        '.manifests |= map(if .annotations["org.opencontainers.image.ref.name"] == $t then .digest = $d | .size = $s else . end)' \
        "$1/index.json" >"$1/index.json.new"
    mv "$1/index.json.new" "$1/index.json"
}

# add_layer LAYOUT TAG TARFILE none|gzip|zstd [MEDIATYPE]: appends TARFILE
# (an uncompressed tar) as a new top layer of TAG, compressed as asked.
add_layer() {
    local layout=$1 tag=$2 tarfile=$3 comp=$4 mt=${5:-} diffid m c cd cs ld ls tmp
    diffid=sha256:$(sha "$tarfile")
    tmp=$(mktemp "$layout/blobs/.layer.XXXXXX")
    case $comp in
        none) cat "$tarfile" >"$tmp"; : "${mt:=application/vnd.oci.image.layer.v1.tar}" ;;
        gzip) gzip -n -c "$tarfile" >"$tmp"; : "${mt:=application/vnd.oci.image.layer.v1.tar+gzip}" ;;
        zstd) zstd -q -c "$tarfile" >"$tmp"; : "${mt:=application/vnd.oci.image.layer.v1.tar+zstd}" ;;
        *) die "add_layer: unknown compression $comp" ;;
    esac
    read -r ld ls < <(put_blob "$layout" "$tmp")
    m=$(manifest_of "$layout" "$tag")
    c=$(jq -r .config.digest "$(blob "$layout" "$m")")
    read -r cd cs < <(put_json "$layout" "$(jq -c --arg d "$diffid" \
        '.rootfs.diff_ids += [$d] | .history += [{"created_by": "add_layer"}]' "$(blob "$layout" "$c")")")
    set_manifest "$layout" "$tag" "$(jq -c --arg cd "$cd" --argjson cs "$cs" --arg ld "$ld" --argjson ls "$ls" --arg mt "$mt" \
        '.config.digest = $cd | .config.size = $cs | .layers += [{"mediaType": $mt, "digest": $ld, "size": $ls}]' \
        "$(blob "$layout" "$m")")"
}

# layer_digest LAYOUT TAG N: the digest of layer N (0-based; -1 for the top).
layer_digest() {
    jq -r --argjson n "$3" '.layers[$n].digest' "$(blob "$1" "$(manifest_of "$1" "$2")")"
}

# mktar OUT DIR [tar options...]: a layer tar of DIR's contents, owned by
# root unless the files say otherwise, sorted, with numeric ids.
mktar() {
    local out=$1 dir=$2
    shift 2
    tar --numeric-owner --sort=name --xattrs --xattrs-include='user.*' -C "$dir" -cf "$out" "$@" .
}
