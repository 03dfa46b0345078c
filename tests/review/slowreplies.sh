#!/usr/bin/env bash
# GET answered with a 1 GB bulk (as fast as read), trickled a byte every
# 20 ms, or never (GET/SET only: PING, TIME, SUBSCRIBE fine). Expected: each
# cold listing answered within a few timeouts; memory bounded by the cap.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=12,tags=5,seed=3,nested=0" || exit 1
redis_start || exit 1
python3 "$(dirname "$0")/rproxy.py" "$WORK/proxy.sock" "$REDIS_SOCK" "$WORK/ctl" >"$WORK/proxy.out" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do [[ -S $WORK/proxy.sock ]] && break; sleep 0.1; done
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "shared_cache=unix:$WORK/proxy.sock,ttl=600,lazy,cache_size=8M" || exit 1
ls "$WORK/a" >/dev/null
i=0
for mode in hugebulk trickle mute; do
	echo "get=$mode" >"$WORK/ctl"
	for j in 1 2 3 4; do
		t0=$(ms); ls "$WORK/a/repo-00/img-$(printf %02d $i)" >/dev/null; rc=$?
		echo "$mode: ls img-$(printf %02d $i) rc=$rc in $(($(ms) - t0)) ms; HWM $(awk '/VmHWM/ {print $2}' /proc/$FS_PID/status) kB"
		i=$((i + 1)); sleep 0.3
	done
done
echo "errors=$(stat_of "$WORK/a" shared_errors)"
fusermount3 -u "$WORK/a"
