#!/usr/bin/env bash
# del_usable.sh — the cost of the deletion rules on a quiet registry:
# rm TAG right after ls, find -name -delete, rm -r IMAGE must succeed,
# also after the ttl passed and after drop_caches (the kernel forgot
# every inode). Expected: every deletion done, nothing refused.
source "$(dirname "$0")/dcommon.sh"
T0=1790000000
tags() { local i s=""; for i in $(seq -w 1 $2); do s+="{\"name\": \"$1$i\", \"digest\": \"$(digest a)\", \"update_time\": $T0},"; done; echo "${s%,}"; }
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "ci", "images": [
   {"name": "a", "tags": [$(tags x 6), $(tags y 3)]},
   {"name": "b", "tags": [$(tags x 300)]},
   {"name": "c", "tags": [$(tags z 5)]},
   {"name": "d", "tags": [$(tags z 5)]}]}]}
JSON
sim_start --data "$WORK/reg.json" || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=2,allow_delete || exit 1
ls "$M/ci/a" >/dev/null
expect_eq "rm right after ls" ok "$(errno_of rm "$M/ci/a/x1")"
ls "$M/ci/a" >/dev/null
sleep 3
expect_eq "rm after ls and the ttl" ok "$(errno_of rm "$M/ci/a/x2")"
ls -l "$M/ci/a" >/dev/null
sync; echo 3 >/proc/sys/vm/drop_caches
expect_eq "rm after ls and drop_caches" ok "$(errno_of rm "$M/ci/a/x3")"
sleep 3
expect_eq "rm after drop_caches and the ttl, never listed since" ok "$(errno_of rm "$M/ci/a/x4")"
expect_eq "find -name -delete" ok "$(errno_of find "$M/ci/a" -name 'y*' -delete)"
expect_eq "find -name -delete, 300 tags" ok "$(errno_of find "$M/ci/b" -name 'x*' -delete)"
ls "$M/ci/b" | wc -l
sync; echo 3 >/proc/sys/vm/drop_caches
sleep 3
expect_eq "rm -r IMAGE after drop_caches and the ttl" ok "$(errno_of rm -r "$M/ci/c")"
ls -l "$M/ci/d" >/dev/null
sleep 3
expect_eq "rm -r IMAGE after ls and the ttl" ok "$(errno_of rm -r "$M/ci/d")"
getfattr --only-values -n user.imgtagfs.stats "$M" | grep -E "deletes_"
grep -E "refused|failed" "$WORK/m.log"
fusermount3 -u "$M"
summary
