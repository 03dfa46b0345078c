#!/usr/bin/env bash
# A garbage "Redis" answers GET with an array of 100,000,000 integers,
# sent as fast as the client reads. The reply-size cap counts bytes
# buffered, but hiredis turns each 4-byte ":1\r\n" into a 48-byte reply
# object at once, so the buffer stays small while the heap grows.
# Expected: memory bounded by the reply cap. Observed: VmHWM below.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=2,tags=5,seed=3,nested=0" || exit 1
redis_start || exit 1
python3 "$(dirname "$0")/rproxy.py" "$WORK/proxy.sock" "$REDIS_SOCK" "$WORK/ctl" >"$WORK/proxy.out" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do [[ -S $WORK/proxy.sock ]] && break; sleep 0.1; done
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "shared_cache=unix:$WORK/proxy.sock,ttl=600,lazy,shared_cache_timeout=${TO:-200},cache_size=1M" || exit 1
ls "$WORK/a" >/dev/null
echo "before: $(grep -E 'VmHWM|VmRSS' /proc/$FS_PID/status | tr -s ' \n' ' ')"
echo "get=bigarray" >"$WORK/ctl"
t0=$(ms); ls "$WORK/a/repo-00/img-00" >/dev/null; echo "ls rc=$? in $(($(ms) - t0)) ms"
echo "after:  $(grep -E 'VmHWM|VmRSS' /proc/$FS_PID/status | tr -s ' \n' ' ')"
echo "errors=$(stat_of "$WORK/a" shared_errors) up=$(stat_of "$WORK/a" shared_up)"
fusermount3 -u "$WORK/a"
