#!/usr/bin/env bash
# readdir_uaf.sh — a READDIR(PLUS) answered ETIMEDOUT by the watchdog
# while its handler still fetches the listing: the reader (plain `ls`)
# gets ETIMEDOUT and closes the directory; RELEASEDIR frees the directory
# handle (fs_releasedir) that the still-running do_readdir then uses
# (fs_refresh_handle -> handle_take): heap use-after-free, and the daemon
# aborts ("double free or corruption"): the mount is gone (ENOTCONN).
# No allow_delete needed. The directory is opened while its listing is
# fresh and read after the ttl (a file manager, a program that rewinds;
# find on an image whose listing expires mid-walk reads on at off>0 and
# refreshes the same way), with max_stale=0 so that the refresh is waited
# for. A plain `ls` after the ttl times out in OPENDIR instead: no crash.
# Expected: ls fails with ETIMEDOUT, the mount lives, a later ls works.
# Run with an ASan build (B=build-asan) to see the report in the log.
source "$(dirname "$0")/dcommon.sh"
lib_registry || exit 1
M=$WORK/m
LOG=${KEEP_LOG:-$WORK/m.log}
FS_LOG=$LOG fs_mount "$M" -o ttl=2,deadline=1,max_stale=0 || exit 1
ls -l "$M/ci/lib" >/dev/null
exec 9<"$M/ci/lib" # opened while fresh
sleep 3            # the ttl passes
sim_ctl "fault?kind=hang&ms=2500&action=GetImageTag"
echo "reading the open directory during the hang: $(python3 -c '
import os
try:
    print(len(list(os.scandir(9))))
except OSError as e:
    print(e.strerror)')"
exec 9<&- # RELEASEDIR while the handler still fetches
sleep 4 # the handler's fetch ends
sim_ctl "fault?kind=clear"
sleep 1
echo "ls afterwards: $(errno_of ls -l "$M/ci/lib")"
ok "the mount lives" mountpoint -q "$M"
ok "ls works afterwards" ls "$M/ci/lib"
grep -E -m3 "AddressSanitizer|double free|corruption" "$LOG"
fusermount3 -u "$M" 2>/dev/null
summary
