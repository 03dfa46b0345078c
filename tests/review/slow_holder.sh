#!/usr/bin/env bash
# A legit holder whose fetch takes 6 s (twice the lock's life without a
# heartbeat); b waits for it. Expected: one API listing for both, b answered
# after ~6 s; and when the holder dies mid-fetch (SIGKILL), b takes over
# within ~3 s.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=3,tags=3,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,lazy,timeout=20,prefetch=0" || exit 1
apid=$FS_PID
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600,lazy,timeout=20,prefetch=0" || exit 1
ls "$WORK/a" "$WORK/b" "$WORK/a/repo-00" "$WORK/b/repo-00" >/dev/null
sim_ctl "config?latency_ms=6000"; sim_ctl reset
t0=$(ms)
ls "$WORK/a/repo-00/img-00" >/dev/null & p=$!
sleep 0.5
ls "$WORK/b/repo-00/img-00" >/dev/null; echo "b answered after $(($(ms) - t0)) ms; API GetImageTag calls: $(sim_count GetImageTag)"
wait $p
sim_ctl reset
t0=$(ms)
ls "$WORK/a/repo-00/img-01" >/dev/null 2>&1 & p=$!
sleep 0.5; kill -9 "$apid"
ls "$WORK/b/repo-00/img-01" >/dev/null; echo "holder killed: b answered after $(($(ms) - t0)) ms; API calls: $(sim_count GetImageTag)"
wait $p 2>/dev/null
umount -l "$WORK/a" 2>/dev/null; fusermount3 -u "$WORK/b"
