#!/bin/bash
# Runs each cargo-fuzz target (fuzz/fuzz_targets) for SECONDS (default 20)
# from the corpus in the repository, and fails if any input crashes one.
#
#   tests/fuzz.sh [SECONDS]
#
# Needs a nightly toolchain (`cargo +nightly`); cargo-fuzz is installed if
# missing. Without nightly it says so and exits 0: the stable replay of the
# corpus and its mutations (tests/fuzz_corpus.rs) runs in `cargo test`
# anyway. New inputs go to a temporary directory, not into the repository
# (fuzz/README.md: how to run longer and merge what was found).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "tests/fuzz.sh: no nightly toolchain: libFuzzer runs skipped (tests/fuzz_corpus.rs still replays the corpus)" >&2
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "tests/fuzz.sh: installing cargo-fuzz"
    cargo install --locked cargo-fuzz >/dev/null 2>&1 || {
        echo "tests/fuzz.sh: cargo install cargo-fuzz failed" >&2
        exit 1
    }
fi

# A leak inside libseccomp 2.5.4 is suppressed (see lsan.supp); husk's own
# allocations stay checked.
export LSAN_OPTIONS="suppressions=$PWD/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
cargo +nightly fuzz build -O >/dev/null 2>&1 || cargo +nightly fuzz build -O
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for t in $(cargo +nightly fuzz list); do
    mkdir -p "$work/$t"
    log=$work/$t.log
    # -rss_limit_mb: the image targets unpack into memory-backed tmpfs.
    if cargo +nightly fuzz run -O "$t" "$work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/" >"$log" 2>&1; then
        execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
        cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
        echo "fuzz $t: ${secs}s, ${execs:-?} inputs, $cov, no crash"
    else
        echo "fuzz $t: FAILED" >&2
        grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" >&2 || tail -n 30 "$log" >&2
        mkdir -p artifacts
        cp "$work"/crash-* "$work"/oom-* "$work"/timeout-* artifacts/ 2>/dev/null || true
        status=1
    fi
done
exit $status
