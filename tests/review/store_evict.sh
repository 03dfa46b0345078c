#!/usr/bin/env bash
# store_evict.sh — files of image s stored ahead by a grep -r (never read
# by it: the last ones of the scan), s's listing then evicted (cache_size=1M,
# other images listed), a same-second re-push of a stored file (same size,
# same mtime). Expected: after a refresh of s, and (second file) after the
# ttl, cat shows the new digest.
source "$(dirname "$0")/dcommon.sh"
T=1793491200
gen() { printf '{"name": "%s", "generate": {"tags": %s, "prefix": "t", "width": 4, "start": %s, "step": 0, "seed": %s}}' "$1" "$2" "$T" "$3"; }
big() { printf '{"name": "big%s", "generate": {"tags": 3000, "prefix": "t", "start": %s, "step": 1, "seed": %s}}' "$1" "$T" "$1"; }
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "web", "images": [$(gen s 600 1), $(big 1), $(big 2), $(big 3), $(big 4), $(big 5), $(big 6)]}]}
JSON
sim_start --data "$WORK/reg.json" || exit 1
M=$WORK/m
TTL=5
fs_mount "$M" -o ttl=$TTL,cache_size=1M,prefetch=0 || exit 1
find "$M/web/s" -type f >/dev/null
# read the first few files only, so that the rest is stored, not read
for i in 1 2 3 4; do cat "$M/web/s/$(printf 't%04d' $i)" >/dev/null; done
wait_until 10 bash -c "(( \$(getfattr --only-values -n user.imgtagfs.stats '$M' | sed -n 's/^store_files: //p') > 100 ))"
echo "stored: $(stat_of "$M" store_files)"
command -v fincore >/dev/null && fincore "$M/web/s/t0300" "$M/web/s/t0301" 2>/dev/null
for i in 1 2 3 4 5 6; do ls "$M/web/big$i" >/dev/null; done
echo "evictions: $(stat_of "$M" cache_evictions)"
sim_ctl "push?repo=web&image=s&tag=t0300&digest=$(digest e)&time=$T"
sim_ctl "push?repo=web&image=s&tag=t0301&digest=$(digest f)&time=$T"
getfattr -n user.imgtagfs.refresh "$M/web/s" >/dev/null 2>&1
expect_eq "after eviction and a refresh: the new digest" "digest: $(digest e)" "$(head -1 "$M/web/s/t0300")"
sleep $((TTL + 1))
expect_eq "after eviction and the ttl: the new digest" "digest: $(digest f)" "$(head -1 "$M/web/s/t0301")"
fs_umount "$M"
summary
