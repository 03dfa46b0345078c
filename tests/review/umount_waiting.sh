#!/usr/bin/env bash
# Fills waiting on foreign locks (deadline=30), then the session ends
# (SIGTERM, as umount of a busy mount does not): the daemon must exit
# promptly. Expected: gone within ~1 s.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=8,tags=5,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,deadline=30,lazy" || exit 1
pid=$FS_PID
ls "$WORK/a" >/dev/null
ns=$(rcli --scan --pattern 'imgtagfs:1:*' | head -1 | cut -d: -f3)
for i in 0 1 2 3 4 5 6 7; do rcli set "imgtagfs:1:$ns:lock:T7:repo-00img-0$i" foreign >/dev/null; done
lp=()
for i in 0 1 2 3 4 5 6 7; do ls "$WORK/a/repo-00/img-0$i" >/dev/null 2>&1 & lp+=($!); done
sleep 1
t0=$(ms)
kill -TERM "$pid"
for i in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
echo "daemon exited $(($(ms) - t0)) ms after SIGTERM (alive: $(kill -0 $pid 2>/dev/null && echo yes || echo no))"
wait "${lp[@]}"
grep -v '^$' "$WORK/a.log" | tail -5
