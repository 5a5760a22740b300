# Checks shared by tests/docker.sh and tests/podman.sh, whose command lines
# agree here: sourced after ../shared/clients/lib.sh, with CLI set to the
# client's command (an array) and state_of/status_is defined.

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
