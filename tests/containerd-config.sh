#!/bin/bash
# tests/containerd-config.sh RUNTIME
#
# The README's containerd and Kubernetes configuration (blocks
# containerd-config.toml and runtimeclass.yaml, read by
# tests/readme-snippet.sh with /usr/local/sbin/husk replaced by a logging
# wrapper of RUNTIME):
#   - `containerd config dump` reads the CRI runtime `husk` with its
#     runtime_type, BinaryName and SystemdCgroup (false, and true), and makes
#     it the CRI default; the RuntimeClass's handler names that runtime;
#   - a private containerd (own root, state, socket, opt and CNI directories
#     under a mktemp directory) started with that configuration loads its
#     CRI plugin;
#   - what SystemdCgroup = true makes the shim do: call the runtime with
#     --systemd-cgroup and a `slice:prefix:name` cgroupsPath shaped as the
#     kubelet's (`ctr run --runc-systemd-cgroup --cgroup`); husk must put the
#     container in the cgroupfs path systemd would give the scope (runc
#     needs a running systemd for it, so with runc this check is skipped).
# No pod is run: Debian 12 packages neither crictl nor a kubelet.
#
# Uses ../shared/clients/lib.sh and make-image.sh (SHARED=DIR to override).
# Prints "N passed, M failed" last; exits 3 with "skip:" when it cannot run.
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

REAL=${1:?usage: containerd-config.sh RUNTIME}
need_root
REAL=$(readlink -f "$(command -v "$REAL" || echo "$REAL")")
[ -x "$REAL" ] || die "runtime $1 is not an executable"
ensure_pkgs containerd || exit 1

make_tmp husk-cri-config # TMP, NAME (containerd namespace, unique names)
# Until the daemons and their cleanup exist, only the directory to remove.
trap 'tmp_ok && rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
RT_LOG=$TMP/runtime.log
WRAP=$(make_wrapper "$REAL" "$TMP/bin" "$RT_LOG")
SOCK=$TMP/containerd.sock
CTRD_PID=""
NS=$NAME
CTR=(ctr --address "$SOCK" --namespace "$NS")
IMAGE=localhost/rt-busybox:latest
# a kubelet-shaped systemd cgroup parent of our own: <a>-pod<b>.slice
SLICE_TOP=hsk$(printf '%s' "$NAME" | tr -dc 'A-Za-z0-9' | tail -c 6)
POD_SLICE=$SLICE_TOP-pod$$.slice

cleanup() {
	local c
	if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
		ctr_cleanup "${CTR[@]}"
		stop_daemon "$CTRD_PID" 50
	fi
	CTRD_PID=""
	kill_procs_mentioning "$TMP"
	umount_under "$TMP"
	rm_cgroups "$NAME"
	# the slices the runtime made for the --systemd-cgroup container (our name)
	for c in /sys/fs/cgroup/*/"$SLICE_TOP.slice"; do
		[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	return 0
}
remember_dirs /run/containerd /run/containerd/s /run/containerd/fifo
trap 'cleanup; tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
trap 'exit 130' INT TERM

log "runtime: $REAL ($("$REAL" --version 2>&1 | head -n1)), through $WRAP"
log "containerd: $(containerd --version)"

# --- the README's config.toml, read by containerd -------------------------------
if ! snippet=$("$HERE/readme-snippet.sh" containerd-config.toml /usr/local/sbin/husk "$WRAP" 2>&1); then
	fail "config: README's config.toml read" "readme-snippet.sh failed" "$snippet"
	finish
	exit 1
fi
pass "config: README's config.toml read"
# private directories around the README's block
write_config() { # write_config FILE BLOCK
	{
		printf 'root = "%s"\nstate = "%s"\n' "$TMP/root" "$TMP/state"
		printf '%s\n\n' "$2"
		printf '[grpc]\n  address = "%s"\n\n' "$SOCK"
		printf '[plugins."io.containerd.grpc.v1.cri".cni]\n  bin_dir = "%s"\n  conf_dir = "%s"\n\n' \
			"$TMP/cni/bin" "$TMP/cni/conf"
		printf '[plugins."io.containerd.internal.v1.opt"]\n  path = "%s"\n' "$TMP/opt"
	} >"$1"
}
# section FILE HEADER: the key lines of one [table] of a config dump
section() {
	awk -v h="$2" '$0 ~ /^ *\[/ { on = ($1 == h); next } on && NF { sub(/^ +/, ""); print }' "$1"
}
CRI='plugins."io.containerd.grpc.v1.cri"'
for sd in false true; do
	block=$snippet
	[ "$sd" = true ] && block=${block//SystemdCgroup = false/SystemdCgroup = true}
	write_config "$TMP/config-$sd.toml" "$block"
	if ! containerd --config "$TMP/config-$sd.toml" config dump >"$TMP/dump-$sd.toml" 2>"$TMP/dump-$sd.err"; then
		fail "config dump (SystemdCgroup = $sd): containerd reads it" "exit status $?" "$(cat "$TMP/dump-$sd.err")"
		continue
	fi
	got="$(section "$TMP/dump-$sd.toml" "[$CRI.containerd]" | grep '^default_runtime_name =')
$(section "$TMP/dump-$sd.toml" "[$CRI.containerd.runtimes.husk]" | grep '^runtime_type =')
$(section "$TMP/dump-$sd.toml" "[$CRI.containerd.runtimes.husk.options]" | grep -E '^(BinaryName|SystemdCgroup) =')"
	want="default_runtime_name = \"husk\"
runtime_type = \"io.containerd.runc.v2\"
BinaryName = \"$WRAP\"
SystemdCgroup = $sd"
	if [ "$got" = "$want" ]; then
		pass "config dump (SystemdCgroup = $sd): runtime husk, runc v2 shim, BinaryName, SystemdCgroup, the CRI default"
	else
		fail "config dump (SystemdCgroup = $sd): runtime husk, runc v2 shim, BinaryName, SystemdCgroup, the CRI default" \
			"got other values" "$got"
	fi
done
if rc=$("$HERE/readme-snippet.sh" runtimeclass.yaml 2>&1) &&
	handler=$(printf '%s\n' "$rc" | sed -n 's/^handler: *//p') &&
	[ -n "$handler" ] && [ -n "$(section "$TMP/dump-false.toml" "[$CRI.containerd.runtimes.$handler]")" ]; then
	pass "RuntimeClass: its handler ($handler) is a runtime of the README's config.toml"
else
	fail "RuntimeClass: its handler is a runtime of the README's config.toml" "handler '${handler-}'" "$rc"
fi

# --- a private containerd running with it ---------------------------------------
mkdir -p "$TMP/cni/bin" "$TMP/cni/conf"
setsid containerd --config "$TMP/config-false.toml" >"$TMP/containerd.log" 2>&1 &
CTRD_PID=$!
if ! wait_for 30 "${CTR[@]}" version; then
	fail "containerd: runs with the README's config.toml" "daemon did not come up" "$(tail -n 20 "$TMP/containerd.log")"
	finish
	exit 1
fi
cap "${CTR[@]}" plugins ls "id==cri"
expect "containerd: runs with the README's config.toml, its CRI plugin loaded" 0 'io\.containerd\.grpc\.v1[[:space:]]+cri[[:space:]]+.*[[:space:]]ok[[:space:]]*'

# --- SystemdCgroup = true: --systemd-cgroup and slice:prefix:name ----------------
case $(basename "$REAL") in
husk*)
	if "$SHARED/make-image.sh" "$TMP/image" >"$TMP/make-image.out" 2>&1 &&
		"${CTR[@]}" images import "$TMP/image/image.tar" >"$TMP/import.out" 2>&1; then
		want="/$SLICE_TOP.slice/$POD_SLICE/cri-containerd-c-sd.scope"
		cap "${CTR[@]}" run --rm --runc-binary "$WRAP" --runc-root "$TMP/runc-root" --fifo-dir "$TMP/fifo" \
			--runc-systemd-cgroup --cgroup "$POD_SLICE:cri-containerd:c-sd" "$IMAGE" c-sd \
			sh -c 'grep -E "^[0-9]+:(memory|pids):" /proc/self/cgroup'
		expect "SystemdCgroup: the shim's --systemd-cgroup $POD_SLICE:cri-containerd:<id> is the cgroupfs path $want" 0 \
			"[0-9]+:memory:$want"
		if grep -q -- "--systemd-cgroup .*create .*c-sd" "$RT_LOG"; then
			pass "SystemdCgroup: the runtime got --systemd-cgroup from the shim"
		else
			fail "SystemdCgroup: the runtime got --systemd-cgroup from the shim" "not in its log" "$(cat "$RT_LOG" 2>&1)"
		fi
		sleep 0.5
		left=$(find /sys/fs/cgroup/*/"$SLICE_TOP.slice" -name '*.scope' 2>/dev/null)
		if [ -z "$left" ]; then
			pass "SystemdCgroup: the container's scope cgroup removed with it"
		else
			fail "SystemdCgroup: the container's scope cgroup removed with it" "left behind" "$left"
		fi
	else
		fail "image for the SystemdCgroup check" "make-image.sh or import failed" \
			"$(cat "$TMP/make-image.out" "$TMP/import.out" 2>&1)"
	fi
	;;
*) log "skip: SystemdCgroup through the shim (runc's --systemd-cgroup needs a running systemd)" ;;
esac

cleanup
trap 'tmp_ok && rm -rf "$TMP"; forget_dirs' EXIT
finish
