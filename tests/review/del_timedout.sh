#!/usr/bin/env bash
# del_timedout.sh — a listing answered ETIMEDOUT at the deadline still
# counts as shown. The user looks (ls -l: v2 is digest b); v2 is re-pushed
# (digest c, same second); the ttl passes; a program that opened the
# directory earlier reads it while the API is slower than the deadline:
# the watchdog answers ETIMEDOUT, the handler goes on fetching and, after
# the reply is no longer its to give, builds the READDIRPLUS buffer,
# recording every entry as shown (prune_shown in add_one) though the
# kernel never received it. Then rm v2.
# Expected (imgtagfs(1) DELETION, "Nothing the user did not see is
# deleted"): EBUSY, no DeleteRepoImage; digest c still in the registry.
source "$(dirname "$0")/dcommon.sh"
lib_registry || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=2,allow_delete,deadline=1,max_stale=0 || exit 1
ls -l --time-style=+%s "$M/ci/lib"
# A reader with the directory open (a file manager, a long find): it
# reads the directory again after the ttl.
python3 - "$M/ci/lib" "$WORK/go" "$WORK/done" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
try:
    print("reader:", sorted(e.name for e in os.scandir(fd)))
except OSError as e:
    print("reader:", e)
open(sys.argv[3], "w").close()
# Keep the directory open until the end: closing it while the handler
# still runs frees its handle under it (see readdir_uaf.sh).
while not os.path.exists(sys.argv[2] + ".end"):
    time.sleep(0.05)
PY
READER=$!
PIDS+=("$READER")
sim_ctl "push?repo=ci&image=lib&tag=v2&digest=$(digest c)&time=$T0"
sleep 3 # the ttl passes
sim_ctl "fault?kind=hang&ms=2500&action=GetImageTag"
touch "$WORK/go"
ok "the reader finished" wait_until 30 test -e "$WORK/done"
sleep 12 # the handler finishes its fetch after the timeout
curl -fsS "$SIM_URL/_sim/stats"; echo
sim_ctl "fault?kind=clear"
sim_ctl reset
echo "rm v2: $(errno_of rm "$M/ci/lib/v2")"
expect_eq "rm of a re-pushed tag shown only in a timed-out listing: refused" 0 "$(dels)"
ok "the re-pushed digest c is still in the registry" in_registry "$(digest c)"
grep -E "deleted|refused" "$WORK/m.log"
touch "$WORK/go.end"
wait "$READER"
getfattr --only-values -n user.imgtagfs.stats "$M" | grep -E "deadline_timeouts|readdirs|deletes"
fusermount3 -u "$M"
summary
