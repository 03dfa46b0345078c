#!/usr/bin/env bash
# 20 concurrent cold listings while Redis is hung (SIGSTOP); TO= sets
# shared_cache_timeout. Expected: each answered within a few timeouts.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=20,tags=5,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,lazy,shared_cache_timeout=${TO:-200}" || exit 1
ls "$WORK/a" >/dev/null
kill -STOP "$REDIS_PID"
t0=$(ms)
lp=()
for i in $(seq -w 0 19); do (s=$(ms); ls "$WORK/a/repo-00/img-$i" >/dev/null; echo "img-$i rc=$? $(($(ms)-s)) ms") >"$WORK/o.$i" 2>&1 & lp+=($!); done
wait "${lp[@]}"
echo "all 20 done in $(($(ms) - t0)) ms; slowest: $(cat "$WORK"/o.* | sort -k3 -n | tail -1)"
grep -h -v 'rc=0' "$WORK"/o.* || echo "all rc=0"
kill -CONT "$REDIS_PID"
echo "errors: $(stat_of "$WORK/a" shared_errors)"
fusermount3 -u "$WORK/a"
