#!/usr/bin/env bash
# b holds a directory open (ttl=600) across a push refreshed on a; b
# rewinds the same descriptor and reads again. Expected: the push.
source "$(dirname "$0")/common.sh"
sim_start --gen "repos=1,images=2,tags=3,seed=3,nested=0" || exit 1
redis_start || exit 1
SC="shared_cache=unix:$REDIS_SOCK"
FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600" || exit 1
FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=600" || exit 1
D=repo-00/img-00
ls "$WORK/a/$D" >/dev/null
python3 - "$WORK/b/$D" "$SIM_URL" "$WORK/a/$D" <<'PY'
import os, sys, time, subprocess, urllib.request
d, sim, a = sys.argv[1:4]
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
print("b before:", sorted(os.listdir(fd)))
urllib.request.urlopen(urllib.request.Request(sim + "/_sim/push?repo=repo-00&image=img-00&tag=pushed&digest=sha256:" + "e" * 64, method="POST")).read()
subprocess.run(["getfattr", "-n", "user.imgtagfs.refresh", a], capture_output=True)
time.sleep(1)
os.lseek(fd, 0, os.SEEK_SET)
print("b, same descriptor rewound 1 s after a's refresh:", sorted(os.listdir(fd)))
print("b, stat of the push by name:", os.path.exists(os.path.join(d, "pushed")))
PY
fusermount3 -u "$WORK/a"; fusermount3 -u "$WORK/b"
