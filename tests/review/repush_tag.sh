#!/usr/bin/env bash
# As repush.sh, the refresh taken on the tag file itself (once it exists).
# push refreshed on a at once; b (ttl=600) reads the tag file after each.
# Expected: b shows each digest within a second of its refresh.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=2,tags=3,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "${AOPTS:-$SC,ttl=600}" || exit 1
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600" || exit 1
D=repo-00/img-00
now=$(date +%s)
for d in a b c d; do
	sim_ctl "push?repo=repo-00&image=img-00&tag=re&digest=$(digest $d)&time=$now"
	getfattr -n user.imgtagfs.refresh "$WORK/a/$D/re" >/dev/null 2>&1
	cat "$WORK/a/$D/re" >/dev/null 2>&1
	t0=$(ms) got=
	while (($(ms) - t0 < 2000)); do
		got=$(cat "$WORK/b/$D/re" 2>/dev/null | grep -o 'sha256:.' | head -1)
		[[ $got == "sha256:$d" ]] && break
		sleep 0.05
	done
	echo "push $d: b shows ${got:-nothing} after $(($(ms) - t0)) ms; a shows $(grep -o 'sha256:.' "$WORK/a/$D/re" | head -1)"
done
fusermount3 -u "$WORK/a"; fusermount3 -u "$WORK/b"
