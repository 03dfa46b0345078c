#!/usr/bin/env bash
# SIGHUP on a (flush) after a push: b (ttl=600) lists the push within 1 s,
# and b's kernel forgot the old attributes (stat by name).
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=2,tags=3,seed=3,nested=2" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600" || exit 1
apid=$FS_PID
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600" || exit 1
find "$WORK/a" "$WORK/b" >/dev/null
sim_ctl "push?repo=repo-00&image=img-00&tag=pushed&digest=$(digest e)"
sim_ctl "delete?repo=repo-00&image=team/img-01"
kill -HUP "$apid"
t0=$(ms) seen=0
while (($(ms) - t0 < 2000)); do ls "$WORK/b/repo-00/img-00" | grep -qx pushed && seen=1 && break; sleep 0.05; done
echo "b lists the push: $seen after $(($(ms) - t0)) ms"
stat "$WORK/b/repo-00/team/img-01" >/dev/null 2>&1 && echo "b: deleted team/img-01 still stats" || echo "b: deleted team/img-01 gone"
fusermount3 -u "$WORK/a"; fusermount3 -u "$WORK/b"
