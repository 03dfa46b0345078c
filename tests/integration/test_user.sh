#!/usr/bin/env bash
# test_user.sh — an fstab "user" mount by a user who is not root, the way
# mount(8) does it: a throwaway local user runs `mount MNT` for a line
# with "noauto,user" in /etc/fstab; mount(8) runs /sbin/mount.imgtagfs as
# that user with "user" among the options (Debian 12's util-linux; other
# versions pass "user=NAME", the form mtab records), and libfuse mounts
# through fusermount3, which refuses options it does not know. The user
# lists the mount and unmounts it with umount(8); the helper and imgtagfs
# itself are also run by that user with user=NAME, which fusermount3
# refused before opts.c dropped it. Needs root (to make the
# user, a line in /etc/fstab and /sbin/mount.imgtagfs), and leaves none of
# them behind: the user, the fstab line (marked, and noauto in case a
# kill -9 skips the cleanup), the helper link and /dev/fuse's mode are
# restored on any exit.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

if ((EUID != 0)) || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
	echo "SKIP: needs root, useradd and setpriv"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
MARK="# imgtagfs test_user $$"
U="itfs-t$$"
UDIR=
FUSE_MODE=
HELPER_OURS=

# Root cannot stat a user's FUSE mount (no allow_other): mountpoint(1)
# says "not a mountpoint", the mount table does not.
mounted() { findmnt -n "$1" >/dev/null; }

user_cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do
		mounted "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
	done
	[[ -w /etc/fstab ]] && grep -qF -- "$MARK" /etc/fstab && sed -i "\|$MARK\$|d" /etc/fstab
	[[ -n $HELPER_OURS ]] && rm -f /sbin/mount.imgtagfs
	[[ -n $FUSE_MODE ]] && chmod "$FUSE_MODE" /dev/fuse
	id "$U" >/dev/null 2>&1 && userdel "$U" 2>/dev/null
	[[ -n $UDIR ]] && rm -rf "$UDIR"
	cleanup
}
trap user_cleanup EXIT

# /sbin/mount.imgtagfs and /etc/fstab are the machine's: taken under the
# lock test_ops.sh and test_deb.sh hold for /sbin, and only when free.
exec 9>/run/lock/imgtagfs-sbin.lock
flock -w 300 9 || echo "note: /run/lock/imgtagfs-sbin.lock is held; going on"
if [[ -e /sbin/mount.imgtagfs ]] || ! touch /sbin/.imgtagfs-probe 2>/dev/null || [[ ! -w /etc/fstab ]]; then
	echo "SKIP: /sbin/mount.imgtagfs is installed, or /sbin or /etc/fstab is not writable"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
rm -f /sbin/.imgtagfs-probe

sim_start --data "$top/tests/data/test-registry.json" || exit 1
useradd --system -M -d /nonexistent -s /usr/sbin/nologin "$U" || { echo "FAIL: useradd"; exit 1; }
uid=$(id -u "$U")
as_user() { setpriv --reuid "$U" --regid "$U" --init-groups "$@"; }
# The user's own directory: the keys (theirs, 0600) and the mount points.
UDIR=$(mktemp -d /tmp/imgtagfs-user.XXXXXX)
chmod 755 "$UDIR"
install -d -o "$U" -g "$U" -m 700 "$UDIR/home"
H=$UDIR/home
write_creds "$H/creds"
chown "$U:$U" "$H/creds"
as_user mkdir "$H/m" "$H/h" "$H/d"
# The binary where the user can reach it, whatever the modes of the
# checkout above it (a clone under a 0700 directory).
install -m 755 "$FS_BIN" "$UDIR/imgtagfs"
ln -s imgtagfs "$UDIR/mount.imgtagfs"
FS_BIN=$UDIR/imgtagfs
ok "the user can run the binary" as_user "$FS_BIN" --version >/dev/null

# FUSE for users: /dev/fuse is 0666 on a Debian system; a container may
# have it 0600.
if ! as_user test -r /dev/fuse -a -w /dev/fuse; then
	FUSE_MODE=$(stat -c %a /dev/fuse)
	chmod 666 /dev/fuse
fi
ln -s "$UDIR/imgtagfs" /sbin/mount.imgtagfs && HELPER_OURS=1

# --- mount(8) as the user, from an fstab line with "user" -----------------------
echo "uhub $H/m imgtagfs noauto,user,credentials=$H/creds,endpoint=$SIM_URL,ttl=60 0 0 $MARK" >>/etc/fstab
MOUNTS+=("$H/m" "$H/h" "$H/d")
out=$(as_user mount "$H/m" 2>&1)
expect_eq "mount MNT as the user: exit 0 ($out)" 0 "$?"
ok "mounted" mounted "$H/m"
expect_eq "the mount is the user's (fusermount3's user_id)" "$uid" \
	"$(findmnt -no OPTIONS "$H/m" | tr , '\n' | sed -n 's/^user_id=//p')"
expect_eq "the user lists it" "ucloudai web" "$(as_user ls "$H/m" | xargs)"
ok "and reads a tag" as_user grep -q '^digest: sha256:' "$H/m/web/api/v1.4.2"
expect_eq "root does not (a user's FUSE mount)" 1 "$(ls "$H/m" >/dev/null 2>&1 && echo 0 || echo 1)"
out=$(as_user umount "$H/m" 2>&1)
expect_eq "umount MNT as the user: exit 0 ($out)" 0 "$?"
ok "unmounted" bash -c '! findmnt -n "$1"' _ "$H/m"

# --- what mount(8) runs, by hand: the helper with user=NAME ---------------------
out=$(as_user "$UDIR/mount.imgtagfs" uhub "$H/h" -o "user=$U,credentials=$H/creds,endpoint=$SIM_URL" 2>&1)
expect_eq "mount.imgtagfs ... -o user=NAME as the user: exit 0 ($out)" 0 "$?"
expect_eq "it serves" "ucloudai web" "$(as_user ls "$H/h" 2>/dev/null | xargs)"
as_user fusermount3 -u "$H/h"
ok "fusermount3 -u as the user ends it" bash -c '! findmnt -n "$1"' _ "$H/h"
# imgtagfs's own form, in the foreground, through fusermount3.
as_user "$FS_BIN" uhub "$H/d" -f -o "user=$U,credentials=$H/creds,endpoint=$SIM_URL" 2>>"$WORK/d.log" &
PIDS+=($!)
for i in $(seq 100); do mounted "$H/d" && break; sleep 0.05; done
ok "imgtagfs -o user=NAME as the user mounts" mounted "$H/d"
as_user fusermount3 -u "$H/d"
ok "and unmounts" bash -c '! findmnt -n "$1"' _ "$H/d"

# A user's mount may not take another user's keys: root's file is refused.
write_creds "$WORK/rootcreds"
cp "$WORK/rootcreds" "$UDIR/rootcreds"
chmod 600 "$UDIR/rootcreds"
out=$(as_user "$UDIR/mount.imgtagfs" uhub "$H/h" -o "user=$U,credentials=$UDIR/rootcreds,endpoint=$SIM_URL" 2>&1)
ok "a keys file the user cannot read: refused with one line ($out)" test "$(wc -l <<<"$out")" -eq 1 -a -n "$out"
exec 9>&-
summary
