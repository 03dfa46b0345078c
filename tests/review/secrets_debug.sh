#!/usr/bin/env bash
# The Redis password with -o debug (and -d): in no log line, no ps line,
# not in /proc/mounts, not in the daemon's environment; AUTH refused.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=2,tags=3,seed=3,nested=0" || exit 1
PW="pw-$RANDOM-$RANDOM-secret"
PORT=$((20000 + RANDOM % 20000))
TCP="shared_cache=redis://127.0.0.1:$PORT/0"
(umask 077 && printf 'imgtagfs-ci %s\n' "$PW" >"$WORK/auth")
(umask 077 && printf 'imgtagfs-ci %s-wrong\n' "$PW" >"$WORK/badauth")
write_creds "$WORK/creds"
ns=$("$FS_BIN" --check uhub -o "endpoint=$SIM_URL,credentials=$WORK/creds,$TCP,shared_cache_auth=$WORK/auth" | sed -n 's/^namespace: *//p')
sed -e "s/CHANGE-ME-CI/$PW/" -e "s/CI-NAMESPACE/$ns/g" "$top/examples/redis-shared-cache.conf" >"$WORK/redis.conf"
REDIS_CONF=$WORK/redis.conf REDIS_SOCK=$WORK/redis2.sock redis_start --port "$PORT" --bind 127.0.0.1 || exit 1
FS_LOG=$WORK/d.log fs_mount "$WORK/d" -o "$TCP,shared_cache_auth=$WORK/auth,debug" || exit 1
find "$WORK/d" >/dev/null
getfattr -d -m - "$WORK/d" >/dev/null 2>&1
for f in /proc/$FS_PID/cmdline /proc/$FS_PID/environ /proc/mounts; do tr '\0' '\n' <"$f" | grep -qF -- "$PW" && echo "LEAK in $f"; done
ps -eo args | grep -v grep | grep -qF -- "$PW" && echo "LEAK in ps"
fusermount3 -u "$WORK/d"
out=$("$FS_BIN" uhub "$WORK/x" -d -o "endpoint=$SIM_URL,credentials=$WORK/creds,$TCP,shared_cache_auth=$WORK/badauth" 2>&1)
grep -qF -- "$PW" <<<"$out" && echo "LEAK in the refusal: $out"
FS_LOG=$WORK/lz.log fs_mount "$WORK/lz" -o "$TCP,shared_cache_auth=$WORK/badauth,lazy,debug" || exit 1
ls "$WORK/lz" >/dev/null; fusermount3 -u "$WORK/lz"
grep -lF -- "$PW" "$WORK"/*.log && echo "LEAK in a log"
echo "debug log lines: $(wc -l <"$WORK/d.log"); refusal: $out"
grep -i "shared\|redis" "$WORK/d.log" "$WORK/lz.log" | head
out=$("$FS_BIN" uhub "$WORK/x" -o "credentials=$WORK/creds,shared_cache=redis://127.0.0.1/0?password=hunter2" 2>&1); echo "query: $out"
