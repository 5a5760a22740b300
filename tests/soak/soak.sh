#!/bin/bash
# Soak test: N create/start/wait/delete cycles of a busybox container with
# husk, checking after every hundred (and at the end) that the host is
# unchanged: open fds of this shell's process tree, mount count, husk
# cgroups, entries of the state root, and MemAvailable within a margin.
#
#   tests/soak/soak.sh [N]        (default 1000; CI runs a smaller N)
#
# HUSK=path selects the binary (default target/release/husk, else debug).
set -euo pipefail
N=${1:-1000}
top=$(cd "$(dirname "$0")/../.." && pwd)
HUSK=${HUSK:-}
if [ -z "$HUSK" ]; then
    if [ -x "$top/target/release/husk" ]; then HUSK=$top/target/release/husk; else HUSK=$top/target/debug/husk; fi
fi
[ "$(id -u)" -eq 0 ] || { echo "soak: run as root" >&2; exit 1; }
[ -x "$HUSK" ] || { echo "soak: $HUSK not found" >&2; exit 1; }

tmp=$(mktemp -d /tmp/husk-soak.XXXXXX)
root=$tmp/root
cg=/husk-soak-$$
cleanup() {
    for id in $("$HUSK" --root "$root" list -q 2>/dev/null); do
        "$HUSK" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    for d in /sys/fs/cgroup/*"$cg" /sys/fs/cgroup/*/"${cg#/}"; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/bundle"
"$top/test-bundles/make-rootfs.sh" "$tmp/bundle/rootfs" >/dev/null
jq --arg cg "$cg" '.process.args = ["/bin/true"] | .linux.cgroupsPath = $cg
    | .linux.resources.pids = {"limit": 100} | .linux.resources.memory = {"limit": 67108864}' \
    "$top/test-bundles/base/config.json" >"$tmp/bundle/config.json"

snapshot() {
    local fds mounts cgs ents
    fds=$(ls /proc/$$/fd | wc -l)
    mounts=$(wc -l </proc/self/mountinfo)
    cgs=$(find /sys/fs/cgroup -maxdepth 3 -type d -name "${cg#/}" 2>/dev/null | wc -l)
    ents=$(ls -A "$root" 2>/dev/null | wc -l)
    echo "$fds $mounts $cgs $ents"
}
mem_avail() { awk '/MemAvailable/ {print $2}' /proc/meminfo; }
# Unreclaimable kernel slab: where leaked namespaces, mounts, cgroups and
# tasks would stay. Much less disturbed by other work than MemAvailable.
sunreclaim() { awk '/SUnreclaim/ {print $2}' /proc/meminfo; }

base=$(snapshot)
mem0=$(mem_avail)
slab0=$(sunreclaim)
fail=0
t0=$(date +%s.%N)
for i in $(seq 1 "$N"); do
    id=soak-$i
    "$HUSK" --root "$root" create --bundle "$tmp/bundle" "$id" >/dev/null
    "$HUSK" --root "$root" start "$id"
    # /bin/true exits at once; delete waits for nothing but must succeed.
    for _ in $(seq 200); do
        st=$("$HUSK" --root "$root" state "$id")
        case $st in *'"stopped"'*) break ;; esac
        sleep 0.005
    done
    "$HUSK" --root "$root" delete "$id"
    if [ $((i % 100)) -eq 0 ] || [ "$i" -eq "$N" ]; then
        now=$(snapshot)
        mem=$(mem_avail)
        drift=$(( (mem0 - mem) / 1024 ))
        slab=$(( ($(sunreclaim) - slab0) / 1024 ))
        echo "soak: $i cycles: fds/mounts/cgroups/state-entries $now (start $base), MemAvailable drift ${drift} MiB, SUnreclaim drift ${slab} MiB"
        if [ "$now" != "$base" ]; then
            echo "soak: FAIL: host state changed after $i cycles" >&2
            fail=1
            break
        fi
        if [ "$slab" -gt 64 ]; then
            echo "soak: FAIL: unreclaimable kernel memory grew by ${slab} MiB" >&2
            fail=1
            break
        fi
        if [ "$drift" -gt 256 ]; then
            # Other work on the host (a build) moves MemAvailable by
            # hundreds of MiB at once; a leak stays. Look again.
            sleep 5
            drift=$(( (mem0 - $(mem_avail)) / 1024 ))
            if [ "$drift" -gt 256 ]; then
                echo "soak: FAIL: MemAvailable dropped by ${drift} MiB (and stayed down 5 s later)" >&2
                fail=1
                break
            fi
            echo "soak: MemAvailable back within 256 MiB 5 s later (drift ${drift} MiB): other work on the host"
        fi
    fi
done
t1=$(date +%s.%N)
echo "soak: $N cycles in $(echo "$t1 - $t0" | bc) s; $( [ $fail -eq 0 ] && echo PASS || echo FAIL)"
exit $fail
