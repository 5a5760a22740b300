#!/bin/bash
# Run the cgroup integration tests (tests/cgroups.rs) on pure cgroup v2, in
# the throw-away qemu guest of ../shared/cgv2/ (this host is cgroup v1),
# then, in the same guest, the rootless tests that need a cgroup v2 subtree
# delegated to an unprivileged user (tests/rootless.rs, rootless_cgv2_*:
# limits, update, pause/resume, exec, ps as that user).
#
#   tests/cgv2.sh [--runc] [TEST-BINARY ARGS...]
#
# Builds husk and the test binary on the host (the guest runs 10-50x
# slower), then boots one guest and runs the whole test binary in it. The
# guest sees the host's / read-only, so the binary finds husk, busybox and
# test-bundles/ at their host paths. Prints the test output and exits with
# the test binary's status (125: the guest failed; 124: timeout).
#
#   --runc   run the tests against runc in the guest (HUSK_TEST_RUNTIME=runc),
#            the oracle: every test must pass there too (husk-only ones skip)
#
# Environment: CARGO_TARGET_DIR as for cargo; CGV2_* as for cgv2-run.sh
# (e.g. CGV2_TIMEOUT, CGV2_VERBOSE=1).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$(pwd -P)
cgv2=${CGV2_DIR:-$repo/../shared/cgv2}
[ -x "$cgv2/cgv2-run.sh" ] || { echo "cgv2.sh: $cgv2/cgv2-run.sh not found" >&2; exit 2; }

runtime=
if [ "${1:-}" = --runc ]; then
    runtime=runc
    shift
fi

if [ -f .ci/cargo-env ]; then
    # shellcheck source=/dev/null
    . .ci/cargo-env
fi

# --- build on the host ------------------------------------------------------
cargo build --bin husk >&2
# The test binary's path is in cargo's JSON messages.
# Pick the test target's artifact, not the husk binary's.
testbin_of() {
    cargo test --no-run --test "$1" --message-format=json 2>/dev/null |
        jq -r --arg t "$1" 'select(.reason == "compiler-artifact" and .target.name == $t
                  and .executable != null) | .executable' | tail -n 1
}
testbin=$(testbin_of cgroups)
rlbin=$(testbin_of rootless)
for b in "$testbin" "$rlbin"; do
    [ -n "$b" ] && [ -x "$b" ] || {
        echo "cgv2.sh: could not build the cgroups and rootless test binaries" >&2
        cargo test --no-run --test cgroups --test rootless >&2 || true
        exit 1
    }
done

# --- run in the guest ---------------------------------------------------------
payload=$(mktemp -d "${TMPDIR:-/tmp}/husk-cgv2.XXXXXX")
trap 'rm -rf "$payload"' EXIT
cat >"$payload/run.sh" <<EOF
#!/bin/sh
echo "cgroup: \$(stat -f -c %T /sys/fs/cgroup) (\$(cat /sys/fs/cgroup/cgroup.subtree_control))"
"$testbin" --test-threads=2 "\$@"
st=\$?
echo "== rootless, cgroup v2 delegated to a user"
HUSK_TEST_CGV2_DELEGATE=1 "$rlbin" --test-threads=1 rootless_cgv2_
rl=\$?
[ "\$st" -ne 0 ] && exit "\$st"
exit "\$rl"
EOF
chmod +x "$payload/run.sh"

export HUSK_TEST_RUNTIME=$runtime RUST_BACKTRACE=${RUST_BACKTRACE:-1}
export CGV2_PASSENV="${CGV2_PASSENV:-} HUSK_TEST_RUNTIME RUST_BACKTRACE"
echo "== cgroup tests on cgroup v2 (${runtime:-husk}): $testbin" >&2
set +e
"$cgv2/cgv2-run.sh" "$payload" /bin/sh run.sh "$@"
status=$?
set -e
if [ "$status" -eq 0 ]; then
    echo "== cgroup v2 (${runtime:-husk}): tests passed" >&2
else
    echo "== cgroup v2 (${runtime:-husk}): FAILED (status $status)" >&2
fi
exit "$status"
