# What the client scripts (tests/docker.sh, podman.sh, containerd-config.sh,
# clients-default-runtime.sh) share: sourced after ../shared/clients/lib.sh.
# lifecycle_checks needs CLI set to the client's command (an array) and
# state_of/status_is defined.

# stop_daemon PID TICKS: SIGTERM to our daemon PID, up to TICKS × 0.2 s for
# it to go, then SIGKILL; reaped. Nothing when it is not running.
stop_daemon() {
	local pid=$1 ticks=$2
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq "$ticks"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# ctr_cleanup CTR...: through a running containerd, kill and delete every
# task, then delete every container.
ctr_cleanup() {
	local id
	for id in $("$@" task ls -q 2>/dev/null); do
		timeout 20 "$@" task kill -s SIGKILL "$id" >/dev/null 2>&1
		timeout 20 "$@" task delete -f "$id" >/dev/null 2>&1
	done
	for id in $("$@" container ls -q 2>/dev/null); do
		timeout 20 "$@" container delete "$id" >/dev/null 2>&1
	done
}

# expect_runtime_calls "SUB...": the runtime's log (RT_LOG) shows each
# subcommand called.
expect_runtime_calls() {
	local sub missing=""
	for sub in $1; do
		grep -Eq "(^| )$sub( |$)" "$RT_LOG" 2>/dev/null || missing="$missing $sub"
	done
	if [ -z "$missing" ]; then
		pass "the runtime under test handled $1"
	else
		fail "the runtime under test handled $1" "missing:$missing" "$(cat "$RT_LOG" 2>&1)"
	fi
}

# lifecycle_checks ID PID: pause (and the host freezer cgroup of PID),
# unpause, stop (the container's SIGTERM trap exits 7), start, kill (137)
# and rm of the running detached container ID.
lifecycle_checks() {
	local id=$1 PID=$2
	cap "${CLI[@]}" pause "$id"
	if [ "$RC" = 0 ] && wait_for 5 status_is "$id" paused; then
		pass "pause: container paused"
	else
		fail "pause: container paused" "exit status $RC, status '$(state_of "$id")'" "$OUT"
	fi
	FRZ=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$PID/cgroup" 2>/dev/null)
	if [ "$(cat "/sys/fs/cgroup/freezer$FRZ/freezer.state" 2>/dev/null)" = FROZEN ]; then
		pass "pause: host freezer cgroup FROZEN"
	else
		fail "pause: host freezer cgroup FROZEN" "freezer cgroup '$FRZ'" "$(cat "/sys/fs/cgroup/freezer$FRZ/freezer.state" 2>&1)"
	fi
	cap "${CLI[@]}" unpause "$id"
	if [ "$RC" = 0 ] && wait_for 5 status_is "$id" running; then
		pass "unpause: container running again"
	else
		fail "unpause: container running again" "exit status $RC, status '$(state_of "$id")'" "$OUT"
	fi
	cap "${CLI[@]}" stop -t 20 "$id"
	cap "${CLI[@]}" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id"
	expect "stop: SIGTERM, the container's trap exits 7" 0 'exited 7'
	cap "${CLI[@]}" start "$id"
	if [ "$RC" = 0 ] && wait_for 10 status_is "$id" running; then
		pass "start: a stopped container runs again"
	else
		fail "start: a stopped container runs again" "exit status $RC, status '$(state_of "$id")'" "$OUT"
	fi
	cap "${CLI[@]}" kill "$id"
	if [ "$RC" = 0 ] && wait_for 10 status_is "$id" exited; then
		cap "${CLI[@]}" inspect -f '{{.State.ExitCode}}' "$id"
		expect "kill: SIGKILL, exit status 137" 0 '137'
	else
		fail "kill: SIGKILL, exit status 137" "exit status $RC, status '$(state_of "$id")'" "$OUT"
	fi
	cap "${CLI[@]}" rm "$id"
	expect "rm: the stopped container" 0 ''
}
