#!/bin/bash
# tests/readme-snippet.sh NAME [FROM TO]...
#
# Print the fenced block that follows the line `<!-- tested: NAME ...-->` in
# the README (README=FILE to read another), with each literal FROM replaced
# by its TO (e.g. /usr/local/sbin/husk by the binary under test). The client
# tests take their configuration from here, so README and tests cannot
# drift. Exits 1, saying why, if NAME has no such block or a FROM does not
# occur in it (a stale test).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
README=${README:-$HERE/../README.md}
NAME=${1:?usage: readme-snippet.sh NAME [FROM TO]...}
shift
[ $(($# % 2)) -eq 0 ] || {
	echo "readme-snippet.sh: FROM without TO" >&2
	exit 2
}
block=$(awk -v name="$NAME" '
	state == 0 && index($0, "<!-- tested: " name " ") == 1 { state = 1; next }
	state == 1 { if ($0 ~ /^```/) { state = 2; next } exit 3 }
	state == 2 && /^```/ { found = 1; exit }
	state == 2 { print }
	END { if (!found) exit 3 }' "$README") || {
	echo "readme-snippet.sh: no block '<!-- tested: $NAME ...-->' followed by a fence in $README" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case $block in
	*"$1"*) block=${block//"$1"/"$2"} ;;
	*)
		echo "readme-snippet.sh: '$1' does not occur in the block $NAME of $README" >&2
		exit 1
		;;
	esac
	shift 2
done
printf '%s\n' "$block"
