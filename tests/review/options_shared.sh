#!/usr/bin/env bash
# Options that change what a listing holds but not its namespace or key:
# repo_type= (GetRepo Type: the root listing "R"), api_tz= (tag mtimes)
# and endpoint= (another registry). Host a writes with one setting; host b,
# with another, reads a's listing as its own.
# Expected: b shows what its own options give. Observed: below.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=1,tags=2,seed=3,nested=0" || exit 1
sim_ctl "push?repo=pubrepo&image=pimg&tag=p1&type=public"
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
T=repo-00/img-00/tag-0000
FS_LOG=$WORK/t.log fs_mount "$WORK/t" -o "ttl=600" || exit 1      # truth, no tier
echo "truth (private, +08:00): root = $(ls "$WORK/t" | tr '\n' ' '); mtime of $T: $(stat -c %y "$WORK/t/$T")"
fusermount3 -u "$WORK/t"
# 1. repo_type
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,repo_type=public" || exit 1
echo "a (repo_type=public): root = $(ls "$WORK/a" | tr '\n' ' ')"
sleep 0.5; fusermount3 -u "$WORK/a"
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600,lazy" || exit 1
echo "b (repo_type=private): root = $(ls "$WORK/b" | tr '\n' ' ') (want repo-00)"
fusermount3 -u "$WORK/b"
# 2. api_tz
rcli flushall >/dev/null
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,api_tz=-05:00" || exit 1
ls -l "$WORK/a/repo-00/img-00" >/dev/null; echo "a (api_tz=-05:00): mtime of $T: $(stat -c %y "$WORK/a/$T")"
sleep 0.5; fusermount3 -u "$WORK/a"
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600,lazy" || exit 1
ls -l "$WORK/b/repo-00/img-00" >/dev/null; echo "b (api_tz=+08:00): mtime of $T: $(stat -c %y "$WORK/b/$T") (want the truth's)"
fusermount3 -u "$WORK/b"
# 3. endpoint: another registry (a second sim), same keys and project.
rcli flushall >/dev/null
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600" || exit 1
ls "$WORK/a/repo-00/img-00" >/dev/null; sleep 0.5; fusermount3 -u "$WORK/a"
sim_start --gen "repos=1,images=1,tags=2,seed=3,nested=0" || exit 1
sim_ctl "push?repo=repo-00&image=img-00&tag=only-on-registry-2&digest=$(digest f)"
FS_LOG=$WORK/c.log fs_mount "$WORK/c" -o "$SC,ttl=600,lazy" || exit 1
echo "c (endpoint=registry 2, which has tag only-on-registry-2): repo-00/img-00 = $(ls "$WORK/c/repo-00/img-00" | tr '\n' ' ')"
fusermount3 -u "$WORK/c"
