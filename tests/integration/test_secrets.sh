#!/usr/bin/env bash
# test_secrets.sh — the private key does not linger: with the keys in the
# environment, the running daemon's /proc/PID/environ and that of the
# fusermount3 it keeps for auto_unmount hold no key, and the daemon is not
# dumpable (checked where proc(5) says the kernel shows it, for a daemon
# run as an ordinary user: the files in its /proc/PID are root's, not that
# user's, while a dumpable control started the same way owns its own). The trap in lib.sh unmounts and stops everything started here.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

sim_start --data "$top/tests/data/test-registry.json"
has_key() { tr '\0' '\n' <"/proc/$1/environ" | grep -c -e "$TEST_PRIV"; }

# --- keys from the environment, auto_unmount --------------------------------
export UCLOUD_PUBLIC_KEY=$TEST_PUB UCLOUD_PRIVATE_KEY=$TEST_PRIV
M=$WORK/m
FS_KEYS=env fs_mount "$M" -o auto_unmount || { echo "FAIL: mount"; exit 1; }
unset UCLOUD_PUBLIC_KEY UCLOUD_PRIVATE_KEY
ok "keys from the environment sign calls" test -f "$M/web/api/v1.4.2"
expect_eq "the pid read is the daemon's" "$(realpath "$FS_BIN")" "$(readlink "/proc/$FS_PID/exe")"
expect_eq "the daemon's environ holds no private key" 0 "$(has_key "$FS_PID")"
fm=$(pgrep -P "$FS_PID" -x fusermount3)
expect_eq "auto_unmount: one fusermount3 child" 1 "$(wc -w <<<"$fm")"
[[ -n $fm ]] && expect_eq "fusermount3's environ holds no private key" 0 "$(has_key "$fm")"
fs_umount "$M"

# --- not dumpable -----------------------------------------------------------
# As root the owner of /proc/PID/* is root either way: run as nobody, where
# a dumpable process owns its /proc/PID/* and a non-dumpable one does not.
# It keeps, as ambient capabilities, what mounting takes (/dev/fuse may be
# root's 0600), and allow_other lets root, running the checks, look in.
NB=65534
AS_NB="setpriv --reuid=$NB --regid=$NB --clear-groups"
CAPS="--inh-caps=+sys_admin,+dac_override --ambient-caps=+sys_admin,+dac_override"
$AS_NB $CAPS sleep 60 &
PIDS+=($!)
ctl=$!
chmod 711 "$WORK"
mkdir -p "$WORK/nb/m"
chown -R $NB:$NB "$WORK/nb"
export UCLOUD_PUBLIC_KEY=$TEST_PUB UCLOUD_PRIVATE_KEY=$TEST_PRIV
FS_KEYS=env FS_WRAP="$AS_NB $CAPS" fs_mount "$WORK/nb/m" -o allow_other ||
	{ echo "FAIL: mount as uid $NB"; cat "$WORK/fs.log"; exit 1; }
unset UCLOUD_PUBLIC_KEY UCLOUD_PRIVATE_KEY
ok "mounted by uid $NB" test -f "$WORK/nb/m/web/api/v1.4.2"
expect_eq "control: a dumpable process of uid $NB owns its /proc/PID/status" $NB "$(stat -c %u "/proc/$ctl/status")"
expect_eq "the daemon (uid $NB) is not dumpable: its /proc/PID/status is root's" "$NB 0" \
	"$(awk '/^Uid:/ {print $2}' "/proc/$FS_PID/status") $(stat -c %u "/proc/$FS_PID/status")"
expect_eq "nor does it hold the key" 0 "$(has_key "$FS_PID")"
fs_umount "$WORK/nb/m"
kill "$ctl"

summary
