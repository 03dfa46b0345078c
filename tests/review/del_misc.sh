#!/usr/bin/env bash
# del_misc.sh — smaller questions: (1) a tag re-pushed with the identical
# digest but a later time, rm within the ttl (expected EBUSY: the time the
# user saw is not the registry's); (2) rm of a name nothing ever listed or
# stat'ed (the kernel's own LOOKUP is all the "showing": expected per the
# man page's "nothing the user did not see"? — recorded, not asserted);
# (3) nobody on an allow_other mount: rm and rmdir refused, no call.
source "$(dirname "$0")/dcommon.sh"
T0=1790000000
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "ci", "images": [
   {"name": "lib", "tags": [{"name": "v1", "digest": "$(digest a)", "update_time": $T0},
                            {"name": "v2", "digest": "$(digest b)", "update_time": $T0}]},
   {"name": "empty", "tags": [{"name": "z", "update_time": $T0}]}]}]}
JSON
chmod 755 "$WORK"
sim_start --data "$WORK/reg.json" || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=600,allow_delete,allow_other || exit 1
ls -l "$M/ci/lib" >/dev/null
sim_ctl "push?repo=ci&image=lib&tag=v1&digest=$(digest a)&time=$((T0 + 1))"
sim_ctl reset
expect_eq "(1) same digest, later time: EBUSY" "Device or resource busy" "$(errno_of rm "$M/ci/lib/v1")"
expect_eq "(1) no call to delete" 0 "$(dels)"
FS_LOG=$WORK/n.log fs_mount "$WORK/n" -o ttl=600,allow_delete || exit 1
sim_ctl reset
echo "(2) rm of a name never listed on a fresh mount: $(errno_of rm "$WORK/n/ci/lib/v2"), DeleteRepoImage=$(dels)"
sim_ctl reset
for c in "rm -f $M/ci/empty/z" "rmdir $M/ci/empty" "rm -rf $M/ci/empty" "rmdir $M/ci"; do
	echo "(3) nobody: $c: $(errno_of setpriv --reuid=65534 --regid=65534 --clear-groups $c)"
done
echo "(3) calls: $(curl -fsS "$SIM_URL/_sim/stats"), with TagName: $(curl -fsS "$SIM_URL/_sim/count?action=*&has_tag=1")"
# The kernel's lookup of a name no cached listing has may cost one point
# query, for any user (imgtagfs(1), DELETION); no deletion call is made.
expect_eq "(3) nobody: no deletion" 0 "$(dels)"
fusermount3 -u "$M"; fusermount3 -u "$WORK/n"
summary
