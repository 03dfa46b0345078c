#!/usr/bin/env bash
# Every value replaced by 60 MiB of garbage (under the 64 MiB cap): 20
# concurrent cold listings. A GET of a whole value held hiredis's reader
# buffer, its reply string and shared_get's copy: three times the value,
# on each of the 4 pool connections (684 MB peak with cache_size=256M).
# Expected now: each value refused by its head (the first 64 KiB read), the
# peak barely above what the listings need. Observed: VmHWM.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=20,tags=3,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/w.log fs_mount "$WORK/w" -o "$SC,ttl=600" || exit 1
find "$WORK/w" >/dev/null; sleep 0.5; fusermount3 -u "$WORK/w"
head -c $((60 << 20)) /dev/urandom >"$WORK/big"
for k in $(rcli --scan --pattern 'imgtagfs:1:*:T*'); do rcli -x set "$k" <"$WORK/big" >/dev/null; done
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,lazy,shared_cache_timeout=${TO:-2000}" || exit 1
ls "$WORK/a" >/dev/null; ls "$WORK/a/repo-00" >/dev/null
echo "before: $(awk '/VmHWM/ {print $2}' /proc/$FS_PID/status) kB"
t0=$(ms); lp=()
for i in $(seq -w 0 19); do ls "$WORK/a/repo-00/img-$i" >/dev/null & lp+=($!); done
wait "${lp[@]}"
echo "20 listings in $(($(ms) - t0)) ms; VmHWM $(awk '/VmHWM/ {print $2}' /proc/$FS_PID/status) kB; rejected=$(stat_of "$WORK/a" shared_rejected) errors=$(stat_of "$WORK/a" shared_errors)"
fusermount3 -u "$WORK/a"
