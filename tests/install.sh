#!/bin/bash
# husk as its users install it: the Makefile's install and uninstall, the
# .deb, and what they put in place (binaries, man pages, completions).
#
#   tests/install.sh        (as root, from anywhere; .ci/run runs it)
#
# 1. `make` (the release build and the completions), then `make install
#    DESTDIR=... PREFIX=/usr`: exactly the expected files with the expected
#    modes; `make uninstall` with the same variables removes every one.
# 2. `make install PREFIX=<temporary>`: that husk's --version names the
#    commit (`git rev-parse HEAD`, `-dirty` when the build's files differ);
#    it runs a container from a busybox bundle and finds husk-tools beside
#    it; every man page renders with `man -l` and man finds them by name;
#    the bash completion loads and completes commands and flags of both
#    programs, and so do the zsh ones (through compinit, on a pty) and the
#    fish ones (when zsh and fish are installed); `make uninstall`
#    leaves no file.
# 3. `make deb`: dpkg -i, dpkg -L lists the files, /usr/sbin/husk --version
#    and a container, man finds the page; dpkg -r then --purge remove every
#    file and the package. Skipped when a husk package or a /usr/sbin/husk
#    is already there (it is never touched).
#
# Everything goes to a temporary directory and the package is purged on
# exit, also when a check fails. Prints `ok`/`not ok` lines and `install
# test: N passed, M failed`; exits 1 if any check failed.
set -euo pipefail

cd "$(dirname "$0")/.."
top=$PWD
[ "$(id -u)" -eq 0 ] || { echo "install test: run me as root" >&2; exit 1; }

tmp=$(mktemp -d /tmp/husk-install.XXXXXX)
id=husk-install-$$
cgroup=/husk-install-$$
state=$tmp/state
deb_installed=0
passed=0
failed=0

cleanup() {
    local rc=$?
    for h in "$tmp/prefix/sbin/husk" /usr/sbin/husk "$top/target/release/husk"; do
        [ -x "$h" ] && "$h" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    done
    if [ "$deb_installed" -eq 1 ]; then
        dpkg --purge husk >/dev/null 2>&1 || echo "install test: dpkg --purge husk failed" >&2
    fi
    for d in /sys/fs/cgroup/*"$cgroup" /sys/fs/cgroup"$cgroup"; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
    done
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() {
    echo "not ok - $1"
    [ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/    /'
    failed=$((failed + 1))
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds; its output is
# shown when it fails.
check() {
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "$out"; fi
}
# same DESCRIPTION EXPECTED ACTUAL
same() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "$(diff <(echo "$2") <(echo "$3") || true)"; fi
}
# The files under DIR, with their modes, relative to DIR.
files() { (cd "$1" && find . \( -type f -o -type l \) -printf '%m %P\n' | sort -k 2); }

# What install puts under PREFIX (BINDIR=PREFIX/sbin, DATADIR=PREFIX/share)
# as `files` lists it: "MODE PATH", PATH relative to the listed directory,
# which is PREFIX less the leading P (P=usr: DESTDIR or /, P empty: PREFIX).
# GZ=.gz for the .deb's man pages.
expected() {
    local p=${1:+$1/} gz=${2:-}
    {
        echo "755 ${p}sbin/husk"
        echo "755 ${p}sbin/husk-tools"
        for c in husk husk-tools; do
            echo "644 ${p}share/bash-completion/completions/$c"
            echo "644 ${p}share/zsh/vendor-completions/_$c"
            echo "644 ${p}share/fish/vendor_completions.d/$c.fish"
        done
        for m in man/*.8; do echo "644 ${p}share/man/man8/${m#man/}$gz"; done
    } | sort -k 2
}

# The commit the binaries must name: as build.rs computes it.
commit=unknown
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    commit=$(git rev-parse HEAD)
    if [ -n "$(git --no-optional-locks status --porcelain --untracked-files=no -- \
        build.rs src vendor Cargo.toml Cargo.lock)" ]; then
        commit=$commit-dirty
    fi
fi
[ -z "${HUSK_COMMIT:-}" ] || commit=$HUSK_COMMIT

# run_container HUSK: one container in the foreground; prints its output.
run_container() {
    timeout -k 5 60 "$1" --root "$state" run -b "$bundle" "$id" </dev/null
}

# --- 1. make, make install DESTDIR= PREFIX=/usr, make uninstall ------------
check "make (release build and completions)" make --no-print-directory all
if [ ! -x target/release/husk ]; then
    echo "install test: $passed passed, $((failed + 1)) failed (no target/release/husk)"
    exit 1
fi

# A busybox bundle whose container prints a line, with an absolute
# cgroupsPath (a relative one would go under this shell's cgroup with runc's
# rules; husk puts it under /husk, but keep it explicit).
bundle=$tmp/bundle
mkdir -p "$bundle"
test-bundles/make-rootfs.sh "$bundle/rootfs" >/dev/null
target/release/husk spec --bundle "$bundle"
jq --arg cg "$cgroup" '.process.args = ["sh", "-c", "echo hello from the installed husk"]
    | .process.terminal = false | .linux.cgroupsPath = $cg' \
    "$bundle/config.json" >"$bundle/c.json"
mv "$bundle/c.json" "$bundle/config.json"

stage=$tmp/stage
check "make install DESTDIR=... PREFIX=/usr" make --no-print-directory install DESTDIR="$stage" PREFIX=/usr
same "make install DESTDIR=... PREFIX=/usr: the file list and modes" "$(expected usr)" "$(files "$stage")"
check "make uninstall DESTDIR=... PREFIX=/usr" make --no-print-directory uninstall DESTDIR="$stage" PREFIX=/usr
same "make uninstall DESTDIR=... PREFIX=/usr: no file left" "" "$(files "$stage")"

# --- 2. an install into a temporary PREFIX, used -----------------------------
prefix=$tmp/prefix
check "make install PREFIX=$prefix" make --no-print-directory install PREFIX="$prefix"
same "make install PREFIX=...: the file list and modes" "$(expected "")" "$(files "$prefix")"
version=$("$prefix/sbin/husk" --version 2>&1) || true
same "installed husk --version: the commit line" "commit: $commit" "$(sed -n 2p <<<"$version")"
same "installed husk --version: runc's first line" "husk version $(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)" \
    "$(sed -n 1p <<<"$version")"
check "installed husk-tools --version names the same commit" \
    grep -qx "commit: $commit" <("$prefix/sbin/husk-tools" --version)
out=$(run_container "$prefix/sbin/husk" 2>&1) || true
same "installed husk runs a container" "hello from the installed husk" "$out"
# `husk bundle` executes husk-tools, found beside husk (not on this PATH):
# its answer, not "husk-tools not found".
out=$(PATH=/usr/bin:/bin "$prefix/sbin/husk" bundle gc --layer-store "$tmp/no-store" 2>&1) || true
same "installed husk runs husk-tools beside it (husk bundle gc)" \
    "$tmp/no-store is not a layer store (no layers directory)" "$out"

for page in "$prefix"/share/man/man8/*.8; do
    # man -l: the page renders (groff's warnings, e.g. a table wider than
    # 80 columns, are shown, not counted).
    if out=$(MANWIDTH=80 man -l "$page" 2>"$tmp/man.err") && grep -q '^NAME' <<<"$out"; then
        ok "man -l ${page##*/}"
    else
        not_ok "man -l ${page##*/}" "$(cat "$tmp/man.err")"
    fi
    [ ! -s "$tmp/man.err" ] || sed "s/^/    # ${page##*/}: /" "$tmp/man.err"
done
same "man -M PREFIX/share/man finds husk-run(8)" "$prefix/share/man/man8/husk-run.8" \
    "$(man -M "$prefix/share/man" -w 8 husk-run 2>&1)"

# bash: the file registers the completion, and completing a command and a
# flag works (the completion function driven as readline would).
bash_complete() { # FILE WORD... : completes the last word
    bash -c 'source "$1"; shift
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        f=$(complete -p "$1" | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
        "$f" "$1" "${!#}" "${COMP_WORDS[COMP_CWORD-1]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
}
bc=$prefix/share/bash-completion/completions
check "bash: completion for husk registered" grep -q -- '-F _husk husk$' <(bash -c 'source "$1"; complete -p husk' _ "$bc/husk")
check "bash: completion for husk-tools registered" grep -q -- ' husk-tools$' <(bash -c 'source "$1"; complete -p husk-tools' _ "$bc/husk-tools")
same "bash: husk cre<TAB>" "create" "$(bash_complete "$bc/husk" husk cre 2>&1)"
same "bash: husk exec --pid<TAB>" "--pid-file" "$(bash_complete "$bc/husk" husk exec --pid 2>&1)"
same "bash: husk network att<TAB>" "attach" "$(bash_complete "$bc/husk" husk network att 2>&1)"
same "bash: husk-tools comp<TAB>" "completion" "$(bash_complete "$bc/husk-tools" husk-tools comp 2>&1)"
same "bash: husk-tools network attach --pu<TAB>" "--publish" \
    "$(bash_complete "$bc/husk-tools" husk-tools network attach --pu 2>&1)"
same "bash: husk-tools completion --for husk<TAB>" "husk husk-tools" \
    "$(bash_complete "$bc/husk-tools" husk-tools completion --for husk 2>&1 | sort | xargs)"

if command -v zsh >/dev/null; then
    zc=$prefix/share/zsh/vendor-completions
    check "zsh: _husk and _husk-tools parse" zsh -n "$zc/_husk" "$zc/_husk-tools"
    same "zsh: compinit registers both from the installed directory" "_husk _husk-tools" \
        "$(HOME=$tmp zsh -f -c 'fpath=($1 $fpath); autoload -Uz compinit; compinit -u -D
            print -r -- $_comps[husk] $_comps[husk-tools]' _ "$zc" 2>&1)"
    # Real completion: an interactive zsh on a pty (zsh/zpty) types the line
    # and TAB, then ^X, bound to a widget that writes the edited line out.
    cat >"$tmp/zc.zsh" <<'EOF_ZSH'
zmodload zsh/zpty
dir=$1 out=$2 line=$3
zpty z zsh -f -i
zpty -w z "PS1=''; fpath=($dir \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "dump() { print -r -- \$BUFFER > $out; BUFFER=; zle accept-line }; zle -N dump; bindkey '^X' dump"
zpty -w -n z "$line"$'\t\x18'
for i in {1..100}; do [[ -s $out ]] && break; sleep 0.1; done
zpty -d z
EOF_ZSH
    zsh_complete() { # LINE: the line after TAB
        rm -f "$tmp/zc.out"
        HOME=$tmp timeout 30 zsh -f "$tmp/zc.zsh" "$zc" "$tmp/zc.out" "$1" >/dev/null 2>&1 || true
        cat "$tmp/zc.out" 2>/dev/null || true
    }
    same "zsh: husk cre<TAB>" "husk create " "$(zsh_complete 'husk cre')"
    same "zsh: husk-tools network attach --pub<TAB>" "husk-tools network attach --publish=" \
        "$(zsh_complete 'husk-tools network attach --pub')"
else
    echo "ok - zsh: not installed, skipped # SKIP"
fi
if command -v fish >/dev/null; then
    # fish finds vendor completions in $XDG_DATA_DIRS/fish/vendor_completions.d
    # for commands on PATH; a private HOME keeps root's config out.
    fish_complete() {
        env HOME="$tmp/fish" XDG_CONFIG_HOME="$tmp/fish/config" XDG_DATA_HOME="$tmp/fish/data" \
            XDG_DATA_DIRS="$prefix/share:/usr/share" PATH="$prefix/sbin:$PATH" \
            fish -c "complete -C '$1'" 2>&1 | cut -f1
    }
    same "fish: husk cre<TAB>" "create" "$(fish_complete 'husk cre')"
    same "fish: husk create --no-p<TAB>" "--no-pivot" "$(fish_complete 'husk create --no-p')"
    same "fish: husk-tools completion --for husk-<TAB>" "husk-tools" \
        "$(fish_complete 'husk-tools completion --for husk-')"
else
    echo "ok - fish: not installed, skipped # SKIP"
fi

check "make uninstall PREFIX=..." make --no-print-directory uninstall PREFIX="$prefix"
same "make uninstall PREFIX=...: no file left" "" "$(files "$prefix")"

# --- 3. the .deb ----------------------------------------------------------
if dpkg-query -W -f='${Status}' husk 2>/dev/null | grep -q 'installed' ||
    [ -e /usr/sbin/husk ] || [ -e /usr/sbin/husk-tools ]; then
    echo "ok - .deb: a husk package or /usr/sbin/husk is already on this host, left alone; skipped # SKIP"
else
    rm -f target/deb/husk_*.deb
    check "make deb" make --no-print-directory deb
    deb=$(ls target/deb/husk_*.deb 2>/dev/null | head -n 1 || true)
    if [ -n "$deb" ]; then
        deb_installed=1
        check "dpkg -i ${deb##*/}" dpkg -i "$deb"
        listed=$(dpkg -L husk | while read -r f; do [ ! -f "$f" ] || stat -c '%a %n' "$f"; done |
            sed 's#^\([0-9]*\) /#\1 #' | sort -k 2)
        same "dpkg -L husk: the files" \
            "$( (expected usr .gz; echo "644 usr/share/doc/husk/copyright") | sort -k 2)" "$listed"
        version=$(/usr/sbin/husk --version 2>&1) || true
        same "/usr/sbin/husk --version: the commit line" "commit: $commit" "$(sed -n 2p <<<"$version")"
        out=$(run_container /usr/sbin/husk 2>&1) || true
        same "/usr/sbin/husk runs a container" "hello from the installed husk" "$out"
        same "man -w husk finds the package's page" /usr/share/man/man8/husk.8.gz "$(man -w 8 husk 2>&1)"
        files_of_deb=$(dpkg -L husk | while read -r f; do [ ! -f "$f" ] || echo "$f"; done)
        check "dpkg -r husk" dpkg -r husk
        left=$(for f in $files_of_deb; do [ -e "$f" ] && echo "$f"; done; true)
        same "dpkg -r husk: no file left" "" "$left"
        check "dpkg --purge husk" dpkg --purge husk
        same "dpkg --purge husk: no package record left" "" \
            "$(dpkg-query -W -f='${Status}' husk 2>/dev/null || true)"
        deb_installed=0
    else
        not_ok "make deb made no target/deb/husk_*.deb"
    fi
fi

echo "install test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
