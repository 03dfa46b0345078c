#!/usr/bin/env bash
# The fleet's ACL user as examples/redis-shared-cache.conf makes it, but
# without its channel (resetchannels, no &imgtagfs:1:NS:inval): values are
# shared, invalidations never arrive. What does the mount say, and how
# often? (The namespace and the line come from --check.)
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=2,tags=3,seed=3,nested=0" || exit 1
PW="pw-$RANDOM"
(umask 077 && printf 'imgtagfs-ci %s\n' "$PW" >"$WORK/auth")
write_creds "$WORK/creds"
acl=$("$FS_BIN" --check uhub -o "endpoint=$SIM_URL,credentials=$WORK/creds,shared_cache=unix:$WORK/redis.sock,shared_cache_auth=$WORK/auth" |
	sed -n 's/^redis ACL: *//p' | sed -e "s/>PASSWORD/>$PW/" -e 's/ &[^ ]*:inval//')
printf 'user default off\n%s\n' "$acl" >"$WORK/redis.conf"
REDIS_CONF=$WORK/redis.conf redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK,shared_cache_auth=$WORK/auth"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600" || exit 1
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600" || exit 1
find "$WORK/a" "$WORK/b" >/dev/null
sim_ctl "push?repo=repo-00&image=img-00&tag=pushed&digest=$(digest e)"
getfattr -n user.imgtagfs.refresh "$WORK/a/repo-00/img-00" >/dev/null 2>&1
for i in $(seq 20); do ls "$WORK/b/repo-00/img-00" >/dev/null; sleep 0.5; done
echo "b shows the push 10 s after a's refresh: $(ls "$WORK/b/repo-00/img-00" | grep -c pushed); b: up=$(stat_of "$WORK/b" shared_up) hits=$(stat_of "$WORK/b" shared_hits) received=$(stat_of "$WORK/b" shared_invalidations_received)"
echo "b's log:"; sed 's/^/  /' "$WORK/b.log" | sort | uniq -c | sort -rn | head
fusermount3 -u "$WORK/a"; fusermount3 -u "$WORK/b"
