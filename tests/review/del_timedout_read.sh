#!/usr/bin/env bash
# del_timedout_read.sh — the READ variant of del_timedout.sh: a READ
# answered ETIMEDOUT at the deadline still records the tag as shown
# (fs_read calls prune_shown before replying, whether or not the reply is
# still its to give). The user looks (ls -l: v2 is digest b); a program
# holds v2 open; v2 is re-pushed (digest c, same second); the ttl passes;
# the program reads while the tag listing is slower than the deadline:
# ETIMEDOUT. Then rm v2.
# Expected: EBUSY, no DeleteRepoImage; digest c still in the registry.
# Observed (held): refused; the READ never comes: the kernel first asks
# GETATTR (the attributes expired with the listing), which times out, and
# a timed-out GETATTR does not overwrite the record.
source "$(dirname "$0")/dcommon.sh"
lib_registry || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=2,allow_delete,deadline=1,max_stale=0 || exit 1
ls -l --time-style=+%s "$M/ci/lib"
exec 9<"$M/ci/lib/v2" # held open (no bytes read yet)
sim_ctl "push?repo=ci&image=lib&tag=v2&digest=$(digest c)&time=$T0"
sleep 3 # the ttl passes
sim_ctl "fault?kind=hang&ms=2500&action=GetImageTag"
echo "read during the hang: $(python3 -c '
import os
try:
    print(os.read(9, 4096)[:20])
except OSError as e:
    print(e.strerror)')"
sleep 4 # the handler's fetch ends
sim_ctl "fault?kind=clear"
sim_ctl reset
echo "rm v2: $(errno_of rm "$M/ci/lib/v2")"
exec 9<&-
expect_eq "rm of a re-pushed tag shown only in a timed-out read: refused" 0 "$(dels)"
ok "the re-pushed digest c is still in the registry" in_registry "$(digest c)"
grep -E "deleted|refused" "$WORK/m.log"
getfattr --only-values -n user.imgtagfs.stats "$M" | grep -E "deadline_timeouts|fuse_reads|deletes_(done|refused)"
fusermount3 -u "$M"
summary
