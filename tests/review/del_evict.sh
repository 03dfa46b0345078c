#!/usr/bin/env bash
# del_evict.sh — the kernel was shown tag v2 with digest b (ls -l,
# getfattr); v2 is re-pushed within the same second with digest c; the
# mount's listing of the image is then evicted (cache_size=1M, other
# images listed). rm v2 — the kernel's dentry is still valid (ttl=600),
# so no LOOKUP: the UNLINK refetches the listing, which has nothing to
# compare with, so c gets ctime = mtime, the very times the kernel was
# shown for b. Expected: EBUSY (the user saw b, the registry has c), no
# DeleteRepoImage. Also: the same without eviction but after
# `getfattr -n user.imgtagfs.refresh` of the directory.
source "$(dirname "$0")/dcommon.sh"
big() { printf '{"name": "big%s", "generate": {"tags": 3000, "prefix": "t", "start": %s, "step": 1, "seed": %s}}' "$1" "$T0" "$1"; }
lib_registry "$(big 1)" "$(big 2)" "$(big 3)" "$(big 4)" "$(big 5)" "$(big 6)" || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=600,cache_size=1M,prefetch=0,allow_delete || exit 1
ls -l --time-style=+%s "$M/ci/lib"
getfattr -n user.imgtagfs.digest "$M/ci/lib/v2"
sim_ctl "push?repo=ci&image=lib&tag=v2&digest=$(digest c)&time=$T0"
for i in 1 2 3 4 5 6; do ls "$M/ci/big$i" >/dev/null; done
getfattr --only-values -n user.imgtagfs.stats "$M" | grep -E '^(cache_|evict)' | tr '\n' ' '; echo
stat -c 'kernel still shows v2: mtime %Y ctime %Z' "$M/ci/lib/v2"
sim_ctl reset
l0=$(stat_of "$M" fuse_lookups)
echo "rm v2 after eviction: $(errno_of rm "$M/ci/lib/v2")"
echo "LOOKUPs during the rm: $(($(stat_of "$M" fuse_lookups) - l0 - 0))"
expect_eq "evicted listing: no DeleteRepoImage of the re-pushed v2" 0 "$(dels)"
ok "digest c still in the registry" in_registry "$(digest c)"
grep -E "deleted|refused" "$WORK/m.log"
fusermount3 -u "$M"
summary
