#!/usr/bin/env bash
# a (ttl=600) writes a listing; 6 s later b (ttl=5) lists it cold; a push
# in between. Expected: b refuses a's 6 s old value (older than its ttl)
# and shows the push; what b writes back expires with b's ttl.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=2,tags=3,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,lazy,prefetch=0" || exit 1
ls "$WORK/a/repo-00/img-00" >/dev/null; sleep 0.2
key=$(rcli --scan --pattern 'imgtagfs:1:*:T*' | head -1)
echo "a's value: PTTL $(rcli pttl "$key") ms"
sim_ctl "push?repo=repo-00&image=img-00&tag=pushed&digest=$(digest e)"
sleep 6
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=5,lazy,prefetch=0" || exit 1
echo "b (ttl=5): $(ls "$WORK/b/repo-00/img-00" | grep -c pushed) push shown; hits=$(stat_of "$WORK/b" shared_hits) misses=$(stat_of "$WORK/b" shared_misses)"
sleep 0.2; echo "b's write-back: PTTL $(rcli pttl "$key") ms"
fusermount3 -u "$WORK/a"; fusermount3 -u "$WORK/b"
