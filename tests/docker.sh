#!/bin/bash
# shellcheck disable=SC2016 # $VARs in single quotes are for the container's shell
# tests/docker.sh RUNTIME
#
# Docker (Debian's docker.io, dockerd 20.10) running its containers with
# RUNTIME, configured by the README's daemon.json (block docker-daemon.json,
# read by tests/readme-snippet.sh with /usr/local/sbin/husk replaced by a
# logging wrapper of RUNTIME): RUNTIME is both a named runtime and the
# default one.
#
# Everything is private: a containerd of our own, whose socket dockerd gets
# with --containerd (without it, dockerd 20.10 uses the system's
# /run/containerd/containerd.sock whenever that socket exists, and starts a
# containerd of its own under --exec-root otherwise), dockerd with its own
# --data-root, --exec-root, --pidfile, socket, containerd namespaces and
# cgroup parent, all under one mktemp directory; no bridge, no iptables
# rules (--bridge=none --iptables=false --ip6tables=false) and containers
# with --network none; the image is a busybox archive built here
# (../shared/clients/make-image.sh) and `docker load`ed, named busybox.
# dockerd 20.10 writes /etc/docker/key.json: removed again when it was not
# there before. Everything is removed on exit, also after a failure.
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

REAL=${1:?usage: docker.sh RUNTIME}
need_root
REAL=$(readlink -f "$(command -v "$REAL" || echo "$REAL")")
[ -x "$REAL" ] || die "runtime $1 is not an executable"
for p in docker.io containerd; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || {
		# installing docker.io may start the system's daemon: .ci/run does it
		# with invoke-rc.d disabled
		echo "skip: Debian package $p is not installed (.ci/run installs it)" >&2
		exit 3
	}
done

make_tmp husk-docker # TMP, NAME (containerd namespace, cgroup parent)
# Until the daemons and their cleanup exist, only the directory to remove.
trap 'tmp_ok && rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
RT_LOG=$TMP/runtime.log
WRAP=$(make_wrapper "$REAL" "$TMP/bin" "$RT_LOG")
CSOCK=$TMP/containerd.sock
DSOCK=$TMP/docker.sock
CTRD_PID=""
DOCKERD_PID=""
DOCKER=(/usr/bin/docker -H "unix://$DSOCK")
CLI=("${DOCKER[@]}") # for client-checks.sh
export DOCKER_CONFIG=$TMP/client-config
# Docker hands every runtime this state root: <exec-root>/runtime-runc/<namespace>
RT_ROOT=$TMP/exec/runtime-runc/$NAME
KEY=/etc/docker/key.json
KEY_EXISTED=0
[ -e "$KEY" ] && KEY_EXISTED=1
LINKS_BEFORE=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)

cleanup() {
	local id
	if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
		for id in $(timeout 20 "${DOCKER[@]}" ps -aq 2>/dev/null); do
			timeout 30 "${DOCKER[@]}" rm -f "$id" >/dev/null 2>&1
		done
		stop_daemon "$DOCKERD_PID" 75
	fi
	DOCKERD_PID=""
	stop_daemon "$CTRD_PID" 50
	CTRD_PID=""
	# shims, container processes: their command lines name our directory
	kill_procs_mentioning "$TMP"
	umount_under "$TMP"
	rm_cgroups "$NAME"
	[ "$KEY_EXISTED" = 1 ] || rm -f "$KEY"
	return 0
}
remember_dirs /run/containerd /run/containerd/s /run/docker /run/docker/plugins
trap 'cleanup; tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
trap 'exit 130' INT TERM

log "runtime: $REAL ($("$REAL" --version 2>&1 | head -n1)), through $WRAP"
log "dockerd: $(dockerd --version)"
log "work dir: $TMP"

# --- the README's daemon.json ---------------------------------------------------
if tests_snippet=$("$HERE/readme-snippet.sh" docker-daemon.json /usr/local/sbin/husk "$WRAP" 2>&1); then
	printf '%s\n' "$tests_snippet" >"$TMP/daemon.json"
	pass "config: README's daemon.json read"
else
	fail "config: README's daemon.json read" "readme-snippet.sh failed" "$tests_snippet"
	finish
	exit 1
fi

# --- private containerd and dockerd ------------------------------------------------
containerd config default |
	sed -e 's|^disabled_plugins = .*|disabled_plugins = ["io.containerd.grpc.v1.cri"]|' \
		-e "s|^root = .*|root = \"$TMP/containerd-root\"|" \
		-e "s|^state = .*|state = \"$TMP/containerd-state\"|" \
		-e "s|^  address = \"/run/containerd/containerd.sock\"|  address = \"$CSOCK\"|" \
		-e "s|path = \"/opt/containerd\"|path = \"$TMP/opt\"|" >"$TMP/containerd.toml"
setsid containerd --config "$TMP/containerd.toml" >"$TMP/containerd.log" 2>&1 &
CTRD_PID=$!
if ! wait_for 30 ctr --address "$CSOCK" version; then
	fail "containerd answers" "daemon did not come up" "$(tail -n 20 "$TMP/containerd.log")"
	finish
	exit 1
fi
setsid dockerd --config-file "$TMP/daemon.json" \
	--data-root "$TMP/data" --exec-root "$TMP/exec" --pidfile "$TMP/docker.pid" \
	-H "unix://$DSOCK" --containerd "$CSOCK" \
	--containerd-namespace "$NAME" --containerd-plugins-namespace "$NAME-plugins" \
	--cgroup-parent "/$NAME" --bridge=none --iptables=false --ip6tables=false \
	>"$TMP/dockerd.log" 2>&1 &
DOCKERD_PID=$!
if wait_for 60 "${DOCKER[@]}" version; then
	pass "dockerd: private daemon answers"
else
	fail "dockerd: private daemon answers" "daemon did not come up" "$(tail -n 20 "$TMP/dockerd.log")"
	finish
	exit 1
fi
cap "${DOCKER[@]}" info --format '{{.DefaultRuntime}} {{range $k, $v := .Runtimes}}{{$k}}={{$v.Path}} {{end}}'
expect "dockerd: husk is the default runtime and a named one, with the README's path" 0 "husk .*husk=$WRAP .*"

# --- image ------------------------------------------------------------------------
if "$SHARED/make-image.sh" "$TMP/image" docker.io/library/busybox:latest >"$TMP/make-image.out" 2>&1; then
	cap "${DOCKER[@]}" load -i "$TMP/image/image.tar"
	expect "image: docker load of the locally built busybox" 0 'Loaded image: busybox:latest'
else
	fail "image: make-image.sh" "failed" "$(cat "$TMP/make-image.out")"
	finish
	exit 1
fi

RUN=("${DOCKER[@]}" run --network none)
state_of() { "${DOCKER[@]}" inspect -f '{{.State.Status}}' "$1" 2>/dev/null; }
status_is() { [ "$(state_of "$1")" = "$2" ]; }

# --- run to completion -------------------------------------------------------------
cap "${RUN[@]}" --rm busybox sh -c 'echo hello; exit 3'
expect "run: default runtime, stdout and exit status (echo hello; exit 3)" 3 'hello'
cap "${RUN[@]}" --rm --runtime husk busybox sh -c 'echo hello; exit 4'
expect "run: --runtime husk, stdout and exit status" 4 'hello'
cap "${RUN[@]}" --rm -e FOO=bar-baz -u 1000:1000 -w /tmp busybox sh -c 'echo "$FOO $(id -u):$(id -g) $(pwd)"'
expect "run: -e, -u 1000:1000, -w /tmp" 0 'bar-baz 1000:1000 /tmp'
cap "${RUN[@]}" --rm --read-only busybox sh -c 'touch /probe && echo writable'
expect "run: --read-only rootfs refuses writes" nz '.*Read-only file system.*'
cap "${RUN[@]}" --rm busybox /nonexistent
expect "run: a missing command exits 127 (Docker reads the runtime's error)" 127 '.*/nonexistent.*'
cap_tty "${RUN[@]}" --rm -t busybox tty
expect "run: -t gives a terminal" 0 '/dev/pts/[0-9]+'
cap "${RUN[@]}" --rm -m 64m busybox cat /sys/fs/cgroup/memory/memory.limit_in_bytes
expect "run: -m 64m visible in the container's cgroup" 0 '67108864'

# --- detached: the runtime's state, cgroup, exec, logs, pause, stop, start, kill ----
cap "${RUN[@]}" -d --name c-det -m 64m busybox sh -c 'trap "exit 7" TERM; echo started; while true; do sleep 1; done'
ID=$(tail -n 1 <<<"$OUT")
if [ "$RC" = 0 ] && wait_for 10 status_is c-det running; then
	pass "detach: run -d, container running"
else
	fail "detach: run -d, container running" "exit status $RC, status '$(state_of c-det)'" "$OUT"
fi
cap "$REAL" --root "$RT_ROOT" state "$ID"
expect "detach: the runtime under test has it in Docker's state root, running" 0 '.*"status": ?"running".*'
if [ -n "$ID" ] && grep -q "create .*$ID" "$RT_LOG" && grep -q "start $ID" "$RT_LOG"; then
	pass "detach: the runtime under test (the README's path) got create and start"
else
	fail "detach: the runtime under test (the README's path) got create and start" "not in its log" "$(cat "$RT_LOG")"
fi
PID=$("${DOCKER[@]}" inspect -f '{{.State.Pid}}' c-det 2>/dev/null)
MEMCG=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$PID/cgroup" 2>/dev/null)
if [ "$MEMCG" = "/$NAME/$ID" ] && [ "$(cat "/sys/fs/cgroup/memory$MEMCG/memory.limit_in_bytes" 2>/dev/null)" = 67108864 ]; then
	pass "detach: -m 64m on the host cgroup /<cgroup-parent>/<id>"
else
	fail "detach: -m 64m on the host cgroup /<cgroup-parent>/<id>" "pid '$PID', memory cgroup '$MEMCG'" \
		"$(cat "/sys/fs/cgroup/memory$MEMCG/memory.limit_in_bytes" 2>&1)"
fi
cap "${DOCKER[@]}" exec -u 1000 -w /tmp -e BAR=qux c-det sh -c 'echo "$(id -u) $(pwd) $BAR"; exit 5'
expect "exec: -u -w -e, stdout and exit status" 5 '1000 /tmp qux'
cap_tty "${DOCKER[@]}" exec -t c-det tty
expect "exec: -t gives a terminal" 0 '/dev/pts/[0-9]+'
cap "${DOCKER[@]}" exec c-det /nonexistent
expect "exec: a missing command exits 126 (docker exec, as with runc), error names it" 126 '.*/nonexistent.*'
cap "${DOCKER[@]}" logs c-det
expect "logs: the container's stdout" 0 'started'
cap "${DOCKER[@]}" top c-det
expect "top: lists the container's processes" 0 '.*sleep 1.*'
lifecycle_checks c-det "$PID"

# --- restart policy -------------------------------------------------------------------
restarted() { [ "$("${DOCKER[@]}" inspect -f '{{.RestartCount}} {{.State.Status}}' c-rs 2>/dev/null)" = "2 exited" ]; }
cap "${RUN[@]}" -d --name c-rs --restart on-failure:2 busybox sh -c 'exit 1'
if [ "$RC" = 0 ] && wait_for 20 restarted; then
	pass "restart: --restart on-failure:2 runs it three times"
else
	fail "restart: --restart on-failure:2 runs it three times" "exit status $RC" \
		"$("${DOCKER[@]}" inspect -f '{{.RestartCount}} {{.State.Status}}' c-rs 2>&1)"
fi
cap "${DOCKER[@]}" rm -f c-rs
cap "${RUN[@]}" -d --name c-rmf busybox sleep 1000
cap "${DOCKER[@]}" rm -f c-rmf
expect "rm -f: a running container" 0 'c-rmf'

# --- what ran, what is left -------------------------------------------------------------
expect_runtime_calls "create start exec pause resume kill delete"
sleep 0.5
left=$(find /sys/fs/cgroup/*/"$NAME" -mindepth 1 -type d 2>/dev/null; ls -A "$RT_ROOT" 2>/dev/null)
if [ -z "$left" ]; then
	pass "cleanup: no container cgroups or runtime state left after rm"
else
	fail "cleanup: no container cgroups or runtime state left after rm" "left behind" "$left"
fi

cleanup
trap 'tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
links_after=$(ip -o link show | awk -F': ' '{ print $2 }' | sort)
if [ -n "$LINKS_BEFORE" ] && [ "$links_after" = "$LINKS_BEFORE" ] && ! iptables -S 2>/dev/null | grep -qi docker; then
	pass "host network: no link added or removed, no iptables rule of Docker's"
else
	fail "host network: no link added or removed, no iptables rule of Docker's" "changed" \
		"$(diff <(echo "$LINKS_BEFORE") <(echo "$links_after"); iptables -S 2>&1 | grep -i docker)"
fi
finish
