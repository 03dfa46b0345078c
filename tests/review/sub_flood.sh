#!/usr/bin/env bash
# Without the key, one PUBLISH of a message bigger than the reply cap on
# the namespace's channel (or a flood that fills Redis's pubsub output
# buffer) ends every host's subscription; each resubscribes and, since it
# may have missed messages, drops all its listings and its kernel's
# caches. Expected (README): such a writer can slow you down; this shows by
# how much: every local cache of the fleet emptied per PUBLISH.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=6,tags=5,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,cache_size=1M" || exit 1
find "$WORK/a" >/dev/null; sleep 0.5
ns=$(rcli --scan --pattern 'imgtagfs:1:*' | head -1 | cut -d: -f3)
echo "before: cache_snapshots=$(stat_of "$WORK/a" cache_snapshots)"
head -c 1100000 /dev/zero | rcli -x publish "imgtagfs:1:$ns:inval" >/dev/null
sleep 1.5
echo "after one 1.1 MB PUBLISH (cap 1M): cache_snapshots=$(stat_of "$WORK/a" cache_snapshots); log: $(grep -c resubscribed "$WORK/a.log") resubscribed"
# Small garbage, flooded: does the fleet keep its caches?
find "$WORK/a" >/dev/null; sleep 0.5
python3 - "$REDIS_SOCK" "imgtagfs:1:$ns:inval" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
ch = sys.argv[2].encode(); msg = b"x" * 4000
cmd = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(ch), ch, len(msg), msg)
t = time.time(); n = 0
s.setblocking(False)
while time.time() - t < 3:
    try: s.send(cmd * 64); n += 64
    except BlockingIOError:
        try: s.recv(1 << 20)
        except BlockingIOError: pass
print("published about", n, "4 KB garbage messages in 3 s")
PY
sleep 1
echo "after the flood: cache_snapshots=$(stat_of "$WORK/a" cache_snapshots); $(grep -c resubscribed "$WORK/a.log") resubscribed; rejected=$(stat_of "$WORK/a" shared_rejected)"
fusermount3 -u "$WORK/a"
