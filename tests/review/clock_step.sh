#!/usr/bin/env bash
# Redis's clock steps back (an NTP correction on the cache host: it was
# STEP s ahead). Values written before the step are dated on the fast clock,
# and Redis's own expiries (absolute, on its clock) move STEP s later too.
# A host that connects after the step reads its offset from the corrected
# TIME: such a value looks STEP s younger than it is.
# Expected (README): nothing shown is older than ttl since it came from the
# API, on any host. Observed: below.
source "$(dirname "$0")/common.sh"
STEP=${STEP:-20}
sim_start --gen "repos=1,images=2,tags=5,seed=3,nested=0" || exit 1
redis_start || exit 1
python3 "$(dirname "$0")/rproxy.py" "$WORK/proxy.sock" "$REDIS_SOCK" "$WORK/ctl" >"$WORK/proxy.out" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do [[ -S $WORK/proxy.sock ]] && break; sleep 0.1; done
echo "shift=$((STEP * 1000))" >"$WORK/ctl"   # Redis's clock STEP s ahead
SC="shared_cache=unix:$WORK/proxy.sock"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=5,lazy" || exit 1
t_fetch=$(ms)
ls "$WORK/a/repo-00/img-00" >"$WORK/seen.a"
sleep 0.3
fusermount3 -u "$WORK/a"
key=$(rcli --scan --pattern 'imgtagfs:1:*:T*' | head -1)
echo "value written: $key, PTTL $(rcli pttl "$key") ms"
# Redis's expiry was on the fast clock: after the step it ends STEP s later.
rcli pexpire "$key" $(( $(rcli pttl "$key") + STEP * 1000 )) >/dev/null
sim_ctl "push?repo=repo-00&image=img-00&tag=pushed&digest=$(digest e)"
echo "shift=0" >"$WORK/ctl"                    # the step: Redis's clock corrected
sleep $((STEP - 1))
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=5,lazy" || exit 1
for i in 1 2 3; do
	age=$(( ($(ms) - t_fetch) / 1000 ))
	if ls "$WORK/b/repo-00/img-00" | grep -qx pushed; then s="shows the push"; else s="does NOT show the push (listing fetched ${age} s ago, ttl=5)"; fi
	echo "b at +${age}s: $s; shared_hits=$(stat_of "$WORK/b" shared_hits)"
	sleep 2
done
fusermount3 -u "$WORK/b"
