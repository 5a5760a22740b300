#!/bin/bash
# Build a minimal busybox root filesystem in DIR.
#
#   test-bundles/make-rootfs.sh DIR
#
# DIR/bin holds a static busybox and one symlink per applet; DIR also gets
# the usual empty mount points (proc sys dev tmp), /root, and an /etc/passwd
# and /etc/group with root, nobody, a user "test" (1000:1000) and a group
# "extra" (2000) that "test" is a member of.
#
# Idempotent: running it again on the same DIR only fills in what is missing
# (busybox is copied only if absent or different).
#
# Environment:
#   BUSYBOX=PATH   the busybox binary to install (default: /bin/busybox, or
#                  the busybox on PATH). It must be statically linked
#                  (Debian: apt-get install busybox-static).
#   LINK=1         hard-link BUSYBOX into DIR instead of copying it, when both
#                  are on the same file system (the test harness uses this
#                  with a private copy, never with the host's /bin/busybox).
set -euo pipefail

die() { echo "make-rootfs: $*" >&2; exit 1; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 DIR"
dir=$1

busybox=${BUSYBOX:-}
if [ -z "$busybox" ]; then
    if [ -x /bin/busybox ]; then
        busybox=/bin/busybox
    else
        busybox=$(command -v busybox) || die "busybox not found (apt-get install busybox-static)"
    fi
fi
[ -x "$busybox" ] || die "$busybox is not executable"
if command -v ldd >/dev/null && ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked; a static busybox is needed (apt-get install busybox-static)"
fi

mkdir -p "$dir"/{bin,proc,sys,dev,tmp,etc,root}
chmod 1777 "$dir/tmp"
chmod 0700 "$dir/root"

# Install busybox once: skip when it is already there (same inode, or same
# contents).
target=$dir/bin/busybox
if ! { [ -f "$target" ] && { [ "$target" -ef "$busybox" ] || cmp -s "$busybox" "$target"; }; }; then
    rm -f "$target"
    if [ "${LINK:-0}" = 1 ] && ln "$busybox" "$target" 2>/dev/null; then
        :
    else
        cp "$busybox" "$target.tmp.$$"
        chmod 0755 "$target.tmp.$$"
        mv -f "$target.tmp.$$" "$target"
    fi
fi

# One symlink per applet, all made by a single process when perl is there
# (hundreds of 'ln' processes would take a noticeable fraction of a second).
applets=$("$busybox" --list | grep -vx busybox || true)
if command -v perl >/dev/null; then
    printf '%s\n' "$applets" | perl -e '
        my $bin = shift;
        while (my $a = <STDIN>) {
            chomp $a;
            next if $a eq "" || -l "$bin/$a" || -e "$bin/$a";
            symlink("busybox", "$bin/$a") or die "symlink $bin/$a: $!\n";
        }' "$dir/bin"
else
    for a in $applets; do
        [ -L "$dir/bin/$a" ] || [ -e "$dir/bin/$a" ] || ln -s busybox "$dir/bin/$a"
    done
fi

write() { # write FILE CONTENT: only if different, so reruns touch nothing
    if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
        printf '%s\n' "$2" >"$1"
    fi
}
write "$dir/etc/passwd" "root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
test:x:1000:1000:test:/tmp:/bin/sh"
write "$dir/etc/group" "root:x:0:
nobody:x:65534:
test:x:1000:
extra:x:2000:test"
