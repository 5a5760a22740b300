#!/bin/bash
# shellcheck disable=SC2016 # $VARs in single quotes are for the container's shell
# tests/clients-default-runtime.sh RUNTIME
#
# The README's blocks containerd-default.sh and ctr-run.sh (read by
# tests/readme-snippet.sh), with a logging wrapper of RUNTIME for
# /usr/local/sbin/husk.
#
# containerd with RUNTIME as its *default* runtime binary: no --runc-binary,
# no --runc-root. containerd 1.6's runc v2 shim runs the binary named `runc`
# found on its PATH (the shim inherits containerd's environment) when the
# task has no BinaryName option, and `ctr run` sets none. So a logging
# wrapper named `runc`, which execs RUNTIME, goes first on the PATH of a
# private containerd. The wrapper's log proves RUNTIME got the calls; the
# state directory the shim used is read back with RUNTIME itself.
#
# Uses ../shared/clients/lib.sh (SHARED=DIR to override) and make-image.sh.
# Prints "N passed, M failed" last; exits non-zero if anything failed.
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

REAL=${1:?usage: clients-default-runtime.sh RUNTIME}
need_root
REAL=$(readlink -f "$(command -v "$REAL" || echo "$REAL")")
[ -x "$REAL" ] || die "runtime $1 is not an executable"
ensure_pkgs containerd || exit 1

make_tmp husk-default-rt # TMP, NAME (our containerd namespace)
NS=$NAME
SOCK=$TMP/containerd.sock
RT_LOG=$TMP/runtime.log
CTRD_PID=""
CTR=(ctr --address "$SOCK" --namespace "$NS")
IMAGE=localhost/rt-busybox:latest
# The shim's default --root for the runc v2 runtime.
RUNC_ROOT=/run/containerd/runc/$NS

# The wrapper: logs, execs the runtime under test. It stands for the README's
# /usr/local/sbin/husk; the README's block containerd-default.sh (a `runc`
# symlink to it in /usr/local/sbin) makes it the default, here with $TMP/bin
# for /usr/local/sbin.
mkdir "$TMP/wrap" "$TMP/bin" || die "mkdir $TMP/wrap $TMP/bin"
(set -C && cat >"$TMP/wrap/husk") <<EOF || die "cannot write the wrapper"
#!/bin/sh
printf '%s: %s\n' "\$(cat /proc/\$PPID/comm 2>/dev/null || echo '?')" "\$*" >>'$RT_LOG'
exec '$REAL' "\$@"
EOF
chmod 755 "$TMP/wrap/husk"
snippet=$("$HERE/readme-snippet.sh" containerd-default.sh /usr/local/sbin/husk "$TMP/wrap/husk" \
	/usr/local/sbin "$TMP/bin") || die "README block containerd-default.sh: $snippet"
bash -ec "$snippet" || die "README block containerd-default.sh failed: $snippet"
[ -L "$TMP/bin/runc" ] && [ -x "$TMP/bin/runc" ] || die "README block containerd-default.sh made no runc in $TMP/bin"

cleanup() {
	if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
		ctr_cleanup "${CTR[@]}"
		stop_daemon "$CTRD_PID" 50
	fi
	CTRD_PID=""
	kill_procs_mentioning "$TMP"
	umount_under "$TMP"
	rm_cgroups "$NAME"
	# The runtime's state root the shim chose (ours: named after NS).
	[ -d "$RUNC_ROOT" ] && rmdir "$RUNC_ROOT" 2>/dev/null
	return 0
}
remember_dirs /run/containerd /run/containerd/s /run/containerd/runc /run/containerd/fifo
trap 'cleanup; tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
trap 'exit 130' INT TERM

log "runtime: $REAL ($("$REAL" --version 2>&1 | head -n1)), as the default 'runc' on containerd's PATH"

containerd config default |
	sed -e 's|^disabled_plugins = .*|disabled_plugins = ["io.containerd.grpc.v1.cri"]|' \
		-e "s|^root = .*|root = \"$TMP/root\"|" \
		-e "s|^state = .*|state = \"$TMP/state\"|" \
		-e "s|^  address = \"/run/containerd/containerd.sock\"|  address = \"$SOCK\"|" \
		-e "s|path = \"/opt/containerd\"|path = \"$TMP/opt\"|" >"$TMP/config.toml"
PATH="$TMP/bin:$PATH" containerd --config "$TMP/config.toml" --root "$TMP/root" \
	--state "$TMP/state" --address "$SOCK" >"$TMP/containerd.log" 2>&1 &
CTRD_PID=$!
if ! wait_for 30 "${CTR[@]}" version; then
	fail "containerd answers" "daemon did not come up" "$(tail -n 20 "$TMP/containerd.log")"
	finish
	exit 1
fi
if ! "$SHARED/make-image.sh" "$TMP/image" >"$TMP/make-image.out" 2>&1; then
	fail "image" "make-image.sh failed" "$(cat "$TMP/make-image.out")"
	finish
	exit 1
fi
cap "${CTR[@]}" images import "$TMP/image/image.tar"
[ "$RC" = 0 ] || fail "image import" "exit status $RC" "$OUT"

task_status() { "${CTR[@]}" task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
task_pid() { "${CTR[@]}" task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
status_is() { [ "$(task_status "$1")" = "$2" ]; }

# Detached container with no runtime options at all.
cap "${CTR[@]}" run -d --null-io --fifo-dir "$TMP/fifo" "$IMAGE" c-def sh -c 'trap "exit 7" TERM; while true; do sleep 1; done'
if [ "$RC" = 0 ] && wait_for 10 status_is c-def RUNNING; then
	pass "run -d with the default runtime: RUNNING"
else
	fail "run -d with the default runtime: RUNNING" "exit status $RC, status '$(task_status c-def)'" "$OUT"
fi
PID=$(task_pid c-def)
if grep -q "create .*c-def" "$RT_LOG" 2>/dev/null && grep -q "start c-def" "$RT_LOG"; then
	pass "the wrapper (the runtime under test) got create and start"
else
	fail "the wrapper (the runtime under test) got create and start" "not in the log" "$(cat "$RT_LOG" 2>&1)"
fi
cap "$REAL" --root "$RUNC_ROOT" state c-def
expect "the runtime under test reads the container's state in the shim's root" 0 '.*"status": ?"running".*'

cap "${CTR[@]}" task exec --fifo-dir "$TMP/fifo" --exec-id e1 c-def sh -c 'echo "execout $(id -u)"; exit 5'
expect "ctr task exec: output and exit code" 5 'execout 0'
cap "${CTR[@]}" task ps c-def
expect "ctr task ps lists the init pid" 0 "[[:space:]]*${PID}[[:space:]].*"
cap "${CTR[@]}" task pause c-def
if [ "$RC" = 0 ] && wait_for 5 status_is c-def PAUSED; then
	pass "ctr task pause: PAUSED"
else
	fail "ctr task pause: PAUSED" "exit status $RC, status '$(task_status c-def)'" "$OUT"
fi
cap "${CTR[@]}" task resume c-def
if [ "$RC" = 0 ] && wait_for 5 status_is c-def RUNNING; then
	pass "ctr task resume: RUNNING"
else
	fail "ctr task resume: RUNNING" "exit status $RC, status '$(task_status c-def)'" "$OUT"
fi
cap "${CTR[@]}" task kill c-def
if [ "$RC" = 0 ] && wait_for 10 status_is c-def STOPPED; then
	pass "ctr task kill: STOPPED"
else
	fail "ctr task kill: STOPPED" "exit status $RC, status '$(task_status c-def)'" "$OUT"
fi
cap "${CTR[@]}" task delete c-def
expect "ctr task delete reports exit code 7" 0 '.*exit code 7.*'
cap "${CTR[@]}" container delete c-def
expect "ctr container delete" 0 ''

# The README's ctr line: --runc-binary names the binary per container.
"${CTR[@]}" images tag "$IMAGE" docker.io/library/busybox:latest >/dev/null 2>&1
if snippet=$("$HERE/readme-snippet.sh" ctr-run.sh /usr/local/sbin/husk "$TMP/wrap/husk" \
	"ctr run" "ctr --address '$SOCK' --namespace '$NS' run" 2>&1); then
	OUT=$(timeout -k 5 "$CMD_TIMEOUT" bash -ec "$snippet" 2>&1 </dev/null)
	RC=$?
	expect "the README's ctr run --runc-binary: output" 0 'hello'
	if grep -q "create .* demo$" "$RT_LOG"; then
		pass "the README's ctr run --runc-binary: the binary it names ran the container"
	else
		fail "the README's ctr run --runc-binary: the binary it names ran the container" "not in its log" "$(cat "$RT_LOG")"
	fi
else
	fail "the README's ctr run --runc-binary" "readme-snippet.sh failed" "$snippet"
fi

expect_runtime_calls "create start exec ps pause resume kill delete"
if grep -q -- "--root $RUNC_ROOT" "$RT_LOG" && ! grep -q -- "--runc-binary" "$RT_LOG"; then
	pass "called with the shim's default root (no per-task runtime options)"
else
	fail "called with the shim's default root (no per-task runtime options)" "unexpected arguments" "$(cat "$RT_LOG" 2>&1)"
fi
sleep 0.5
left=$(find /sys/fs/cgroup/*/"$NS" -mindepth 1 -type d 2>/dev/null; ls -A "$RUNC_ROOT" 2>/dev/null)
if [ -z "$left" ]; then
	pass "nothing left after delete"
else
	fail "nothing left after delete" "left behind" "$left"
fi

cleanup
trap 'tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
finish
