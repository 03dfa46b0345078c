#!/usr/bin/env bash
# An image under a prefix directory (repo-00/team/img-01) is deleted; a's
# user refreshes the repository; b (ttl=600) hears it. A refresh on b
# itself drops everything its kernel holds below the repository
# (NOTIFY_FLUSH); a remote one goes through tree_forget -> tell_changed ->
# NOTIFY_CHANGED, which only looks one level down: "team" still exists, so
# only its attributes and pages go, and the dentry of team/img-01 stays.
# Expected (README): "every other host drops its copy, tells its kernel at
# once". Observed: below.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=4,tags=3,seed=3,nested=2" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600" || exit 1
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600" || exit 1
find "$WORK/a" "$WORK/b" >/dev/null
victim=$(cd "$WORK/b" && find . -mindepth 3 -maxdepth 3 -type d | head -1); victim=${victim#./}
echo "victim: $victim"
stat "$WORK/b/$victim" >/dev/null && ls "$WORK/b/$victim" >/dev/null
repo=${victim%%/*}; image=${victim#*/}
sim_ctl "delete?repo=$repo&image=$image"
getfattr -n user.imgtagfs.refresh "$WORK/a/$repo" >/dev/null 2>&1
sleep 1
echo "b received $(stat_of "$WORK/b" shared_invalidations_received) invalidation(s)"
echo "b: ls $(dirname "$victim"): $(ls "$WORK/b/$(dirname "$victim")" | tr '\n' ' ')"
if stat "$WORK/b/$victim" >/dev/null 2>&1; then echo "b: stat $victim: STILL THERE (deleted, refreshed on a 1 s ago)"; else echo "b: stat $victim: gone"; fi
echo "b: ls $victim: $(ls "$WORK/b/$victim" 2>&1 | tr '\n' ' ')"
fusermount3 -u "$WORK/a"; fusermount3 -u "$WORK/b"
