#!/usr/bin/env bash
# store_mem.sh — a 100k-tag image, grep -r twice: the daemon's RSS and
# the store counters after each (TAGS= to change). Expected: RSS bounded
# (tens of MB), store_files bounded by the budget, no growth on the
# second pass; every byte the registry's.
source "$(dirname "$0")/dcommon.sh"
TAGS=${TAGS:-100000}
sim_start --gen "repos=1,images=1,tags=$TAGS,seed=7,nested=0" || exit 1
M=$WORK/m
fs_mount "$M" -o ttl=600,page_size=10000 ${EXTRA:-} || exit 1
rss() { awk '/VmRSS|VmHWM/ {printf "%s %s kB  ", $1, $2}' /proc/"$FS_PID"/status; echo; }
D=$(find "$M" -mindepth 2 -maxdepth 2 -type d | head -1)
echo "dir $D"; rss
t0=$SECONDS; ls -l "$D" | wc -l; echo "ls -l: $((SECONDS - t0)) s"; rss
for pass in 1 2; do
	r0=$(stat_of "$M" fuse_reads)
	t0=$SECONDS
	grep -r . "$D" | wc -l
	echo "grep pass $pass: $((SECONDS - t0)) s, READs $(($(stat_of "$M" fuse_reads) - r0))"
	rss
	getfattr --only-values -n user.imgtagfs.stats "$M" | grep -E '^(store_|api_calls|cache_bytes|inodes)' | tr '\n' ' '; echo
done
curl -fsS "$SIM_URL/tree/?dump" | awk -F'\t' -v d="$D" '{ if ($5 != "") print d "/" $3 ":digest: " $5; print d "/" $3 ":updated: " $6 }' | sort >"$WORK/want"
grep -r . "$D" | sort >"$WORK/got"
expect_eq "every byte the registry's" 0 "$(diff "$WORK/want" "$WORK/got" | grep -c '^[<>]')"
fs_umount "$M"
summary
