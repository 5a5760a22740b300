#!/bin/bash
# Prints the bad-input table (tests/badinput.rs) as markdown: each row's
# input, husk's exit status and error line, and runc's, side by side.
# Runs the test twice, as root: against husk, then against runc.
#
#   tests/badinput-table.sh > /tmp/table.md
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
HUSK_BADINPUT_TABLE=$tmp/husk cargo test -q --test badinput >&2
HUSK_TEST_RUNTIME=${ORACLE:-runc} HUSK_BADINPUT_TABLE=$tmp/runc cargo test -q --test badinput >&2
echo "| Bad input | husk | ${ORACLE:-runc} |"
echo "|---|---|---|"
awk -F'\t' 'NR == FNR { runc[$1] = $3; next } { printf "| %s | %s | %s |\n", $2, $3, runc[$1] }' \
    "$tmp/runc" "$tmp/husk"
