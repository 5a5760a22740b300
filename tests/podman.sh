#!/bin/bash
# shellcheck disable=SC2016 # $VARs in single quotes are for the container's shell
# tests/podman.sh RUNTIME
#
# Rootful Podman (Debian's 4.3, through conmon) running its containers with
# RUNTIME, configured by the README's containers.conf (block containers.conf,
# read by tests/readme-snippet.sh with /usr/local/sbin/husk replaced by a
# logging wrapper of RUNTIME) as CONTAINERS_CONF; then with `--runtime PATH`
# and no runtime in the configuration.
#
# Everything is private: --root, --runroot, --tmpdir and --network-config-dir
# under one mktemp directory, every container in the cgroup parent
# /<that directory's name> and with --network none; the image is a busybox
# archive built here (../shared/clients/make-image.sh) and `podman load`ed,
# named busybox. Everything is removed on exit, also after a failure. Two
# things land outside whatever the flags say: root's blob-info cache
# (/var/lib/containers/cache, where `podman load` records the layer's
# digests) and rootful Podman's lock file /dev/shm/libpod_lock; each is
# removed at the end when this run made it.
#
# Uses ../shared/clients/lib.sh (SHARED=DIR to override). Prints
# "N passed, M failed" last; exits 3 with "skip:" when it cannot run here.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$HERE/../../shared/clients}
[ -f "$SHARED/lib.sh" ] || {
	echo "skip: $SHARED/lib.sh not found" >&2
	exit 3
}
# shellcheck source=/dev/null
. "$SHARED/lib.sh"
. "$HERE/client-checks.sh"

REAL=${1:?usage: podman.sh RUNTIME}
need_root
REAL=$(readlink -f "$(command -v "$REAL" || echo "$REAL")")
[ -x "$REAL" ] || die "runtime $1 is not an executable"
ensure_pkgs podman conmon util-linux bsdutils || exit 1

make_tmp husk-podman # TMP, NAME (cgroup parent)
# Until the daemons and their cleanup exist, only the directory to remove.
trap 'tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
trap 'exit 130' INT TERM
RT_LOG=$TMP/runtime.log
WRAP=$(make_wrapper "$REAL" "$TMP/bin" "$RT_LOG")
FLAG_LOG=$TMP/runtime-flag.log
FLAG_WRAP=$(make_wrapper "$REAL" "$TMP/flagbin" "$FLAG_LOG")
export CONTAINERS_CONF=$TMP/containers.conf
PODMAN=(podman --root "$TMP/root" --runroot "$TMP/runroot" --tmpdir "$TMP/tmp" --storage-driver vfs
	--network-config-dir "$TMP/networks")
CLI=("${PODMAN[@]}") # for client-checks.sh
# Podman gives root's containers RLIMIT_NOFILE 1048576 and RLIMIT_NPROC above
# the hard limits Podman's processes have here: raising them needs
# CAP_SYS_RESOURCE, which this VM's bounding set lacks (runc fails the same
# way). So the containers get low limits of their own.
ULIMITS=(--ulimit nofile=1024:4096 --ulimit nproc=4096:4096)
RUN=("${PODMAN[@]}" run --network none --cgroup-parent "/$NAME" "${ULIMITS[@]}")
LINKS_BEFORE=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)

cleanup() {
	local id
	for id in $(timeout 30 "${PODMAN[@]}" ps -aq 2>/dev/null); do
		timeout 60 "${PODMAN[@]}" rm -f -t 0 "$id" >/dev/null 2>&1
	done
	# conmon, cleanup processes: their command lines name our directory
	kill_procs_mentioning "$TMP"
	umount_under "$TMP"
	rm_cgroups "$NAME"
	return 0
}
remember_dirs /var/lib/containers /var/lib/containers/cache \
	/var/lib/containers/cache/blob-info-cache-v1.boltdb /dev/shm/libpod_lock
trap 'cleanup; tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
trap 'exit 130' INT TERM

log "runtime: $REAL ($("$REAL" --version 2>&1 | head -n1)), through $WRAP"
log "work dir: $TMP"

# --- the README's containers.conf ------------------------------------------------
if snippet=$("$HERE/readme-snippet.sh" containers.conf /usr/local/sbin/husk "$WRAP" 2>&1); then
	printf '%s\n' "$snippet" >"$CONTAINERS_CONF"
	pass "config: README's containers.conf read"
else
	fail "config: README's containers.conf read" "readme-snippet.sh failed" "$snippet"
	finish
	exit 1
fi
log "$(podman --version), $(conmon --version | head -n1)"
cap "${PODMAN[@]}" info --format '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Path}} {{.Host.CgroupManager}} {{.Host.EventLogger}}'
expect "podman info: the README's runtime, path, cgroup manager, events logger" 0 "husk $WRAP cgroupfs file"

# --- image ------------------------------------------------------------------------
if "$SHARED/make-image.sh" "$TMP/image" docker.io/library/busybox:latest >"$TMP/make-image.out" 2>&1; then
	cap "${PODMAN[@]}" load -i "$TMP/image/image.tar"
	expect "image: podman load of the locally built busybox" 0 '.*docker.io/library/busybox:latest.*'
else
	fail "image: make-image.sh" "failed" "$(cat "$TMP/make-image.out")"
	finish
	exit 1
fi

state_of() { "${PODMAN[@]}" inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
status_is() { [ "$(state_of "$1")" = "$2" ]; }

# --- run to completion -------------------------------------------------------------
cap "${RUN[@]}" --rm busybox sh -c 'echo hello; exit 3'
expect "run: the configured runtime, stdout and exit status (echo hello; exit 3)" 3 'hello'
cap "${RUN[@]}" --rm -e FOO=bar-baz -u 1000:1000 -w /tmp busybox sh -c 'echo "$FOO $(id -u):$(id -g) $(pwd)"'
expect "run: -e, -u 1000:1000, -w /tmp" 0 'bar-baz 1000:1000 /tmp'
cap "${RUN[@]}" --rm --read-only busybox sh -c 'touch /probe && echo writable'
expect "run: --read-only rootfs refuses writes" nz '.*Read-only file system.*'
cap "${RUN[@]}" --rm --read-only busybox sh -c 'touch /tmp/probe && echo tmp-writable'
expect "run: --read-only keeps a writable /tmp (tmpfs, tmpcopyup)" 0 'tmp-writable'
cap "${RUN[@]}" --rm busybox /nonexistent
expect "run: a missing command exits 127, error names it" 127 '.*/nonexistent.*'
cap_tty "${RUN[@]}" --rm -t busybox tty
expect "run: -t gives a terminal" 0 '/dev/pts/[0-9]+'
cap "${RUN[@]}" --rm -m 64m busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes
expect "run: -m 64m visible in the container's cgroup" 0 '67108864'

# --- detached: the runtime's state, cgroup, exec, logs, pause, stop, start, kill ----
cap "${RUN[@]}" -d --name p-det -m 64m busybox sh -c 'trap "exit 7" TERM; echo started; while true; do sleep 1; done'
ID=$(tail -n 1 <<<"$OUT")
if [ "$RC" = 0 ] && wait_for 10 status_is p-det running; then
	pass "detach: run -d, container running"
else
	fail "detach: run -d, container running" "exit status $RC, status '$(state_of p-det)'" "$OUT"
fi
# conmon passes no --root unless Podman was given one: the runtime's default
RT_ROOT=$(sed -n "s/.* --root \([^ ]*\) .*create .*$ID.*/\1/p" "$RT_LOG" | head -n1)
cap "$REAL" ${RT_ROOT:+--root "$RT_ROOT"} state "$ID"
expect "detach: the runtime under test has it in its state root (${RT_ROOT:-its default}), running" 0 '.*"status": ?"running".*'
if [ -n "$ID" ] && grep -q "create .*$ID" "$RT_LOG" && grep -q "start $ID" "$RT_LOG"; then
	pass "detach: the runtime under test (the README's path) got create and start"
else
	fail "detach: the runtime under test (the README's path) got create and start" "not in its log" "$(cat "$RT_LOG")"
fi
PID=$("${PODMAN[@]}" inspect -f '{{.State.Pid}}' p-det 2>/dev/null)
MEMCG=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$PID/cgroup" 2>/dev/null)
case $MEMCG in
"/$NAME/"*) cg_ok=1 ;;
*) cg_ok=0 ;;
esac
if [ "$cg_ok" = 1 ] && [ "$(cat "/sys/fs/cgroup/memory$MEMCG/memory.limit_in_bytes" 2>/dev/null)" = 67108864 ]; then
	pass "detach: -m 64m on the host cgroup under --cgroup-parent"
else
	fail "detach: -m 64m on the host cgroup under --cgroup-parent" "pid '$PID', memory cgroup '$MEMCG'" \
		"$(cat "/sys/fs/cgroup/memory$MEMCG/memory.limit_in_bytes" 2>&1)"
fi
cap "${PODMAN[@]}" exec -u 1000 -w /tmp -e BAR=qux p-det sh -c 'echo "$(id -u) $(pwd) $BAR"; exit 5'
expect "exec: -u -w -e, stdout and exit status" 5 '1000 /tmp qux'
cap_tty "${PODMAN[@]}" exec -t p-det tty
expect "exec: -t gives a terminal" 0 '/dev/pts/[0-9]+'
cap "${PODMAN[@]}" exec p-det /nonexistent
expect "exec: a missing command exits 127, error names it" 127 '.*/nonexistent.*'
cap "${PODMAN[@]}" logs p-det
expect "logs: the container's stdout" 0 'started'
cap "${PODMAN[@]}" top p-det pid args
expect "top: lists the container's processes" 0 '.*sleep 1.*'
lifecycle_checks p-det "$PID"
cap "${RUN[@]}" -d --name p-rmf busybox sleep 1000
cap "${PODMAN[@]}" rm -f -t 0 p-rmf
expect "rm -f: a running container" 0 'p-rmf'

# --- podman --runtime PATH --------------------------------------------------------
cap "${PODMAN[@]}" --runtime "$FLAG_WRAP" run --rm --network none --cgroup-parent "/$NAME" "${ULIMITS[@]}" busybox sh -c 'echo flag; exit 6'
expect "--runtime PATH: stdout and exit status" 6 'flag'
if grep -q ' create ' "$FLAG_LOG" 2>/dev/null && grep -q ' start ' "$FLAG_LOG"; then
	pass "--runtime PATH: that binary got create and start"
else
	fail "--runtime PATH: that binary got create and start" "not in its log" "$(cat "$FLAG_LOG" 2>&1)"
fi

# --- what ran, what is left -------------------------------------------------------------
expect_runtime_calls "create start exec pause resume kill delete"
sleep 0.5
# (Podman's own conmon cgroup stays until cleanup)
left=$(find /sys/fs/cgroup/*/"$NAME" -mindepth 1 -type d ! -name conmon 2>/dev/null)
if [ -z "$left" ]; then
	pass "cleanup: no container cgroups left after rm"
else
	fail "cleanup: no container cgroups left after rm" "left behind" "$left"
fi

cleanup
trap 'tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
links_after=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)
if [ -n "$LINKS_BEFORE" ] && [ "$links_after" = "$LINKS_BEFORE" ]; then
	pass "host network: no link added or removed"
else
	fail "host network: no link added or removed" "changed" "$(diff <(echo "$LINKS_BEFORE") <(echo "$links_after"))"
fi
finish
