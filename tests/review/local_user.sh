#!/usr/bin/env bash
# Another local user (uid 65534) on an allow_other mount: can they make
# the tier publish invalidations (refresh xattr floods) or flush others?
# Expected: refresh refused (EPERM), nothing published.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=3,tags=3,seed=3,nested=0" || exit 1
redis_start || exit 1
chmod 777 "$WORK"; chmod 777 "$REDIS_SOCK" 2>/dev/null
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,allow_other" || exit 1
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600" || exit 1
find "$WORK/a" "$WORK/b" >/dev/null
as() { setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }
as ls "$WORK/a/repo-00" >/dev/null && echo "nobody can list (allow_other)"
out=$(as getfattr -n user.imgtagfs.refresh "$WORK/a/repo-00" 2>&1); echo "nobody's refresh: $out"
for i in $(seq 200); do as getfattr -n user.imgtagfs.refresh "$WORK/a/repo-00/img-00" >/dev/null 2>&1; done
as getfattr --only-values -n user.imgtagfs.stats "$WORK/a" >/dev/null 2>&1 && echo "nobody can read the stats"
# root's own flood: rate-limited
ok=0; for i in $(seq 200); do getfattr -n user.imgtagfs.refresh "$WORK/a/repo-00/img-00" >/dev/null 2>&1 && ok=$((ok + 1)); done
sleep 1
echo "root's 200 refreshes: $ok accepted; a sent $(stat_of "$WORK/a" shared_invalidations_sent); b received $(stat_of "$WORK/b" shared_invalidations_received)"
fusermount3 -u "$WORK/a"; fusermount3 -u "$WORK/b"
