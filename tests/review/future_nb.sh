#!/usr/bin/env bash
# An invalidation dated in the future. A host whose fleet clock is wrong
# (it connected while Redis's clock was a day ahead, or through a proxy
# that lied about TIME) sends one when its user refreshes; it is
# authentic, so every host applies it. Anyone who can PUBLISH can replay
# it later, at any time, to any new mount.
# Expected: a not-before in the future is refused (values are: "dated in
# the future"); the tier keeps working. Observed: below.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=4,tags=5,seed=3,nested=0" || exit 1
redis_start || exit 1
python3 "$(dirname "$0")/rproxy.py" "$WORK/proxy.sock" "$REDIS_SOCK" "$WORK/ctl" >"$WORK/proxy.out" 2>&1 &
PIDS+=($!)
for i in $(seq 50); do [[ -S $WORK/proxy.sock ]] && break; sleep 0.1; done
echo "shift=86400000" >"$WORK/ctl"
# Record what is published on the channel (hex, one message a line).
python3 - "$REDIS_SOCK" >"$WORK/msgs" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$10\r\nimgtagfs:*\r\n")
buf = b""
while True:
    d = s.recv(65536)
    if not d: break
    buf += d
    while True:
        # *4 pmessage pattern channel payload
        i = buf.find(b"$")
        try:
            parts = []; p = 0
            if not buf.startswith(b"*"): buf = buf[buf.index(b"*"):] if b"*" in buf else b""; 
            j = buf.index(b"\r\n"); n = int(buf[1:j]); p = j + 2
            for _ in range(n):
                if buf[p:p+1] == b":":
                    j = buf.index(b"\r\n", p); parts.append(buf[p+1:j]); p = j + 2; continue
                j = buf.index(b"\r\n", p); ln = int(buf[p+1:j]); p = j + 2
                if len(buf) < p + ln + 2: raise ValueError
                parts.append(buf[p:p+ln]); p += ln + 2
        except ValueError:
            break
        buf = buf[p:]
        if parts and parts[0] == b"pmessage":
            print(parts[2].decode(), parts[3].hex(), flush=True)
PY
PIDS+=($!)
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600,lazy" || exit 1
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "shared_cache=unix:$WORK/proxy.sock,ttl=600,lazy" || exit 1
ls "$WORK/a/repo-00/img-00" >/dev/null
getfattr -n user.imgtagfs.refresh "$WORK/a/repo-00/img-00" >/dev/null
sleep 1
fusermount3 -u "$WORK/a"
echo "recorded: $(wc -l <"$WORK/msgs") message(s)"
sim_ctl reset
# b walks img-00 twice with its local copy dropped in between (refresh on b
# itself would set its own not-before; use another host's value instead).
FS_LOG=$WORK/c.log fs_mount "$WORK/c" -o "$SC,ttl=600,lazy" || exit 1
ls "$WORK/c/repo-00/img-00" >/dev/null; sleep 0.3     # c writes a good value
before=$(stat_of "$WORK/b" shared_rejected)
ls "$WORK/b/repo-00/img-00" >/dev/null
echo "b: img-00 from Redis? hits=$(stat_of "$WORK/b" shared_hits) misses=$(stat_of "$WORK/b" shared_misses); API GetImageTag calls: $(sim_count GetImageTag)"
fusermount3 -u "$WORK/b"; fusermount3 -u "$WORK/c"
# Replay, a while later, to a new mount d: the tier is off for that key for a day.
FS_LOG=$WORK/c.log fs_mount "$WORK/c" -o "$SC,ttl=600,lazy" || exit 1
FS_LOG=$WORK/d.log fs_mount "$WORK/d" -o "$SC,ttl=600,lazy" || exit 1
ls "$WORK/c/repo-00/img-00" >/dev/null; sleep 0.3
cp "$WORK/msgs" "$WORK/msgs.rec"
while read -r ch hex; do printf '%s' "$hex" | xxd -r -p | rcli -x publish "$ch" >/dev/null; done <"$WORK/msgs.rec"
sleep 0.5
sim_ctl reset
ls "$WORK/d/repo-00/img-00" >/dev/null
echo "d after the replay: hits=$(stat_of "$WORK/d" shared_hits) misses=$(stat_of "$WORK/d" shared_misses) received=$(stat_of "$WORK/d" shared_invalidations_received); API GetImageTag calls for img-00: $(sim_count GetImageTag repo-00 img-00) (c wrote a good value: want 0)"
fusermount3 -u "$WORK/c"; fusermount3 -u "$WORK/d"
