#!/bin/bash
# husk, runc and crun side by side (issue 8): CPU, wall time, memory, binary
# size and syscalls of every command, on the same busybox bundles.
#
#   bench/bench.sh [-n N] [-q] [--no-update] [--skip-scale]
#
#   -n N          iterations (default 20); runtimes are interleaved
#   -q            quick mode for CI: 5 iterations, one strace run, and the
#                 tracked files (bench/latest.md, README.md) are left alone
#   --update      with -q: write bench/latest.md and README.md anyway
#   --no-update   write only bench/results/
#   --skip-scale  skip list/create with 1/10/100 existing containers
#
# Environment: HUSK=PATH (default: build with .ci/build-release, static;
# HUSK_LABEL=TEXT says in the results what that binary is), BASELINE=PATH
# (another husk binary, measured as a fourth runtime "husk_base", to compare
# a change with what it replaces in one interleaved run),
# RUNC=PATH, CRUN=PATH (default: the Debian packages), SECCOMP=FILE (a
# seccomp profile, OCI or Docker format; default: the one under
# test-bundles/seccomp/, else /usr/share/containers/seccomp.json).
#
# Runs as root (re-runs itself through sudo when that exists). Installs what
# it needs from Debian when missing: runc crun jq strace busybox-static
# python3, a C compiler for bench/spawn.c (and libseccomp-dev pkg-config
# to build husk). Results go to
# bench/results/<date>.txt and .json; the table also to bench/latest.md and
# the "Performance" section of README.md. Everything it creates (containers,
# cgroups under /husk-bench, the temporary directory) is removed on exit,
# also on failure or Ctrl-C. See bench/README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

die() { echo "bench: $*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "run me as root"
    exec sudo --preserve-env=HUSK,HUSK_LABEL,BASELINE,RUNC,CRUN,SECCOMP,PATH,HOME "$0" "$@"
fi

quick=0
update=1
update_set=0
pyargs=()
while [ $# -gt 0 ]; do
    case $1 in
        -n) [ $# -ge 2 ] || die "-n needs a number"; pyargs+=(-n "$2"); shift ;;
        -n*) pyargs+=(-n "${1#-n}") ;;
        -q|--quick) quick=1; pyargs+=(-q) ;;
        --update) update=1; update_set=1 ;;
        --no-update) update=0; update_set=1 ;;
        --skip-scale) pyargs+=(--skip-scale) ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done
[ $quick = 1 ] && [ $update_set = 0 ] && update=0

# ---- packages
missing=()
need() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || missing+=("$1"); }
[ -n "${RUNC:-}" ] || need runc
[ -n "${CRUN:-}" ] || need crun
need jq
need strace
need python3
command -v cc >/dev/null || missing+=(gcc libc6-dev)
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
    missing+=(busybox-static)
fi
if [ -z "${HUSK:-}" ]; then
    need libseccomp-dev
    need pkg-config
fi
seccomp=${SECCOMP:-}
if [ -z "$seccomp" ]; then
    # The project's own Docker-style profile, when there is one.
    for f in "$top"/test-bundles/seccomp/*docker*.json "$top"/test-bundles/seccomp/*default*.json \
             "$top"/test-bundles/seccomp/*.json; do
        [ -f "$f" ] && { seccomp=$f; break; }
    done
fi
if [ -z "$seccomp" ]; then
    seccomp=/usr/share/containers/seccomp.json   # Docker's profile, as Podman ships it
    [ -f "$seccomp" ] || missing+=(golang-github-containers-common)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ -f "$seccomp" ] || die "seccomp profile $seccomp not found"

# ---- binaries
label=()
if [ -n "${HUSK:-}" ]; then
    # Say which binary it was: HUSK_LABEL, or its path, hash and date.
    label=(--husk-label "${HUSK_LABEL:-$HUSK (sha256 $(sha256sum "$HUSK" | cut -c1-12), $(date -r "$HUSK" '+%Y-%m-%d %H:%M'))}")
else
    # The release build as husk is installed: static (see .ci/build-release).
    echo "bench: .ci/build-release" >&2
    "$top/.ci/build-release" >/dev/null
    HUSK=$top/target/release/husk
fi
RUNC=${RUNC:-$(command -v runc)}
CRUN=${CRUN:-$(command -v crun)}
for b in "$HUSK" "$RUNC" "$CRUN"; do
    [ -x "$b" ] || die "$b not found"
done
HUSK=$(readlink -f "$HUSK")
extra=()
if [ -n "${BASELINE:-}" ]; then
    [ -x "$BASELINE" ] || die "BASELINE=$BASELINE is not an executable"
    extra=(--runtime "husk_base=$(readlink -f "$BASELINE")")
fi

# ---- work directory and cleanup
work=$(mktemp -d /tmp/husk-bench.XXXXXX)
pypid=
cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "$pypid" ] && kill -0 "$pypid" 2>/dev/null; then
        kill -TERM "$pypid" 2>/dev/null || true
        wait "$pypid" 2>/dev/null || true
    fi
    # Backstop, in case the Python side could not clean up: every container
    # in our own --root directories, then our cgroups.
    if [ -f "$work/runtimes.txt" ]; then
        while read -r name path root; do
            [ -d "$root" ] || continue
            for d in "$root"/*/; do
                [ -d "$d" ] || continue
                "$path" --root "$root" delete --force "$(basename "$d")" >/dev/null 2>&1 || true
            done
        done <"$work/runtimes.txt"
    fi
    for d in /sys/fs/cgroup/*/husk-bench; do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

"$top/test-bundles/make-rootfs.sh" "$work/rootfs"
# The measuring helper: static when libc.a is there, so that its own few
# hundred KiB are the floor of every maxrss figure (see spawn.c).
cc -O2 -static -o "$work/spawn" "$here/spawn.c" 2>/dev/null || cc -O2 -o "$work/spawn" "$here/spawn.c"

latest=()
[ $update = 1 ] && latest=(--latest "$here/latest.md" --readme "$top/README.md")

python3 "$here/bench.py" "${pyargs[@]}" "${latest[@]}" "${label[@]}" \
    --runtime "husk=$HUSK" "${extra[@]}" --runtime "runc=$RUNC" --runtime "crun=$CRUN" \
    --workdir "$work" --rootfs "$work/rootfs" --config "$top/test-bundles/base/config.json" \
    --seccomp "$seccomp" --results "$here/results" --spawn "$work/spawn" &
pypid=$!
status=0
wait "$pypid" || status=$?
pypid=
exit "$status"
