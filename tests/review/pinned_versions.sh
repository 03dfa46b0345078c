#!/usr/bin/env bash
# Descriptors held open on a directory keep the listing they read; that
# memory is capped (a quarter of cache_size) only once the listing has
# expired. Within the ttl, a reader who evicts the listing (by listing
# other directories: cache_size=4M here) and opens the directory again
# gets a new copy each time, and every held descriptor pins one.
# Expected (README "Memory": the cache holds listings within
# cache_size; kept listings at most a quarter of it): RSS bounded near
# cache_size. Observed: about 1.35 MB more RSS per descriptor (a 20,000-
# tag listing), 30 descriptors = +40 MB with cache_size=4M; only after
# the ttl does it come back. Any user of an allow_other mount can do it,
# at the cost of refetching the listings (the owner's API calls).
source "$(dirname "$0")/pcommon.sh"
python3 - "$WORK/reg.json" <<'PY'
import json, sys
imgs = [{"name": "big%d" % i, "generate": {"tags": 20000, "prefix": "build-", "width": 6}} for i in range(4)]
json.dump({"repos": [{"name": "r", "images": imgs}]}, open(sys.argv[1], "w"))
PY
sim_start --data "$WORK/reg.json" || exit 1
fs_mount "$WORK/m" -o ttl=600,lazy,prefetch=0,cache_size=4M,page_size=1000 || exit 1
rss() { awk '/VmRSS/ { print $2 }' "/proc/$FS_PID/status"; }
python3 - "$WORK/m" "$FS_PID" <<'PY'
import os, sys
mnt, pid = sys.argv[1], sys.argv[2]
def rss():
    return int([l for l in open('/proc/%s/status' % pid) if l.startswith('VmRSS')][0].split()[1])
held = []
start = None
for c in range(30):
    fd = os.open(mnt + '/r/big0', os.O_RDONLY | os.O_DIRECTORY)
    it = os.scandir(fd)
    next(it)
    held.append((fd, it))
    for i in (1, 2, 3):  # evicts big0 (cache_size=4M)
        for e in os.scandir(mnt + '/r/big%d' % i):
            pass
    if c == 0:
        start = rss()
end = rss()
print('RSS with 1 descriptor: %d kB, with 30: %d kB (+%d kB)' % (start, end, end - start))
for fd, it in held:
    it.close()
    os.close(fd)
sys.exit(1 if end - start > 8192 else 0)
PY
expect_eq "RSS growth from 29 more held descriptors under 8 MB" 0 $?
echo "cache_bytes: $(stat_of "$WORK/m" cache_bytes), open_dirs_expired_bytes: $(stat_of "$WORK/m" open_dirs_expired_bytes)"
summary
