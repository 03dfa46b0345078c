#!/usr/bin/env bash
# A name the decoder refuses (a control byte: it cannot become a file
# name) sits where two pages overlap, so the overlap compares nothing and
# the pages are joined by their TotalCount agreeing. Two deletes ahead of
# the boundary and two pushes behind it, between the two page requests,
# keep TotalCount and shift the list by two: the untouched t0025 is in
# neither page.
# Expected: t0025 listed and found. Observed: missing from ls, stat
# ENOENT, the listing taken as verified (no "could not be verified").
source "$(dirname "$0")/pcommon.sh"
python3 - "$WORK/reg.json" <<'PY'
import json, sys
tags = [{"name": "t%04d" % i, "update_time": 1790000000 + i} for i in range(1, 51)]
tags.append({"name": "t0024z\n", "update_time": 1790000000})
json.dump({"repos": [{"name": "r", "images": [{"name": "img", "tags": tags}]}]}, open(sys.argv[1], "w"))
PY
sim_start --data "$WORK/reg.json" --max-limit 25 --latency-ms 300 || exit 1
fs_mount "$WORK/m" -o ttl=60,lazy,prefetch=0,max_requests=1 || exit 1
ls "$WORK/m/r/img" >"$WORK/ls.out" 2>&1 &
lspid=$!
wait_count GetImageTag 2 || exit 1 # the second page waits its latency
sim_ctl "delete?repo=r&image=img&tag=t0001"
sim_ctl "delete?repo=r&image=img&tag=t0002"
sim_ctl "push?repo=r&image=img&tag=zz1&time=1790009999"
sim_ctl "push?repo=r&image=img&tag=zz2&time=1790009999"
wait "$lspid"
ok "t0025 (untouched) listed" grep -qx t0025 "$WORK/ls.out"
ok "stat t0025 (untouched)" stat -c '' "$WORK/m/r/img/t0025"
echo "ls: $(wc -l <"$WORK/ls.out") names; GetImageTag calls $(sim_count GetImageTag)"
echo "unsure warnings: $(grep -c 'could not be verified' "$WORK/fs.log")"
summary
