#!/usr/bin/env bash
# GET hangs (never answered), every other command answers: could each
# fill's GET time out (down) and its SET or unlock succeed (up again)?
# README: "down" and "up again" are logged once each; 40 cold listings
# must not cost 40 timeouts.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=40,tags=2,seed=3,nested=0" || exit 1
redis_start || exit 1
python3 "$(dirname "$0")/rproxy.py" "$WORK/proxy.sock" "$REDIS_SOCK" "$WORK/ctl" >"$WORK/proxy.out" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do [[ -S $WORK/proxy.sock ]] && break; sleep 0.1; done
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "shared_cache=unix:$WORK/proxy.sock,ttl=600,lazy,prefetch=0" || exit 1
ls "$WORK/a" "$WORK/a/repo-00" >/dev/null
echo "get=mute-get" >"$WORK/ctl"
t0=$(ms)
for i in $(seq -w 0 39); do ls "$WORK/a/repo-00/img-$i" >/dev/null; sleep 0.25; done
echo "40 cold listings in $(($(ms) - t0)) ms; log: $(grep -c ': down' "$WORK/a.log") 'down', $(grep -c 'up again' "$WORK/a.log") 'up again'"
fusermount3 -u "$WORK/a"
