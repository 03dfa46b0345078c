#!/usr/bin/env bash
# A lock on a cold listing taken by a foreign token, without expiry (any
# writer to Redis can do it: SET imgtagfs:1:NS:lock:KEY x). How long does a
# user's cold listing wait, and does the user get an answer?
# Expected: an answer (from the API) within a lock's life (3 s), whatever
# the deadline (it waited half of it before), the lock counted in
# shared_squatted and logged once; faults never reach the user.
source "$(dirname "$0")/common.sh"
DL=${DL:-30}
sim_start --gen "repos=1,images=2,tags=5,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,deadline=$DL,lazy" || exit 1
ls "$WORK/a" >/dev/null
ns=$(rcli --scan --pattern 'imgtagfs:1:*' | head -1 | cut -d: -f3)
rcli set "imgtagfs:1:$ns:lock:T7:repo-00img-00" foreign >/dev/null
t0=$(ms)
out=$(ls "$WORK/a/repo-00/img-00" 2>&1); rc=$?
el=$(($(ms) - t0))
echo "ls rc=$rc after ${el} ms (deadline=${DL}s): $out"
echo "deadline_timeouts: $(stat_of "$WORK/a" deadline_timeouts); shared_squatted: $(stat_of "$WORK/a" shared_squatted)"
grep 'held by no live host' "$WORK/a.log"
t0=$(ms); out=$(ls "$WORK/a/repo-00/img-00" 2>&1); rc=$?
echo "again: rc=$rc after $(($(ms) - t0)) ms: $(wc -w <<<"$out") names"
fusermount3 -u "$WORK/a"
