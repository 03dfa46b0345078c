#!/usr/bin/env bash
# test_memory.sh — memory per cached tag (issue 10): an image of 100,000
# tags listed with ls -l (so the kernel holds an inode for every tag)
# grows the daemon by at most 150 bytes a tag, listing and inode table
# included; after a SIGHUP flush and drop_caches the daemon gives the
# memory back (RSS within 20% of what it was before the listing).
# Skipped for sanitized builds, whose allocators make RSS meaningless.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse
if grep -qaE "__(a|t)san_init" "$FS_BIN"; then
	echo "SKIP: $FS_BIN is built with a sanitizer: RSS is not the daemon's own"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

TAGS=100000
rss() { awk '/^VmRSS/ {print $2}' "/proc/$FS_PID/status"; }
sim_start --gen "repos=1,images=1,tags=$TAGS,nested=0" || exit 1
M=$WORK/m
fs_mount "$M" -o ttl=600,cache_size=1G,prefetch=0 || { echo "FAIL: mount"; exit 1; }
img="$M/$(ls "$M")/$(ls "$M/$(ls "$M")")"
sleep 0.5
rss0=$(rss)
expect_eq "ls -l lists every tag" $((TAGS + 1)) "$(ls -l "$img" | wc -l)"
sleep 0.5
rss1=$(rss)
per=$(((rss1 - rss0) * 1024 / TAGS))
echo "RSS: $rss0 KiB before, $rss1 KiB after ls -l of $TAGS tags: $per bytes a tag"
ok "at most 150 bytes of RSS a cached tag ($per)" test "$per" -le 150
inodes=$(getfattr --only-values -n user.imgtagfs.stats "$M" 2>/dev/null | sed -n 's/^inodes: //p')
ok "the kernel holds an inode for every tag ($inodes)" test "$inodes" -ge "$TAGS"
kill -HUP "$FS_PID"
sleep 0.3
sync
echo 3 >/proc/sys/vm/drop_caches
for i in $(seq 40); do
	inodes=$(getfattr --only-values -n user.imgtagfs.stats "$M" 2>/dev/null | sed -n 's/^inodes: //p')
	[[ $inodes -lt 10 ]] && break
	sleep 0.1
done
sleep 0.5 # the FUSE layer's thread trims within a tick
rss2=$(rss)
echo "RSS after SIGHUP and drop_caches: $rss2 KiB ($inodes inodes left)"
ok "the kernel forgot the inodes ($inodes)" test "$inodes" -lt 10
ok "RSS comes back within 20% of before the listing ($rss2 vs $rss0)" test $((rss2 * 100)) -le $((rss0 * 120))
fs_umount "$M"
summary
