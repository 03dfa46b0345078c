#!/usr/bin/env bash
# del_names.sh — deletion and the tree's names: a tag x of image app that
# shares its name with a nested image app/x (shown as x@tag), rm -r of a
# directory that only groups nested images (tools/ over tools/cli), hostile
# tag names (leading '-', spaces, '*', unicode, '..x'). Expected: each rm
# deletes exactly the tag it names; rm -r of a prefix directory deletes
# its images and succeeds (or says why); nothing else is deleted.
source "$(dirname "$0")/dcommon.sh"
T0=1790000000
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "ci", "images": [
   {"name": "app", "tags": [{"name": "x", "digest": "$(digest a)", "update_time": $T0},
                            {"name": "y", "digest": "$(digest b)", "update_time": $T0}]},
   {"name": "app/x", "tags": [{"name": "v1", "digest": "$(digest c)", "update_time": $T0}]},
   {"name": "tools/cli", "tags": [{"name": "v1", "update_time": $T0}]},
   {"name": "tools/srv", "tags": [{"name": "v1", "update_time": $T0}]},
   {"name": "odd", "tags": [{"name": "-rf", "update_time": $T0}, {"name": "a b", "update_time": $T0},
                            {"name": "*", "update_time": $T0}, {"name": "..x", "update_time": $T0},
                            {"name": "é", "update_time": $T0}, {"name": "keep", "update_time": $T0}]}]}]}
JSON
sim_start --data "$WORK/reg.json" || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=600,allow_delete || exit 1
ls -la "$M/ci/app" "$M/ci/odd" "$M/ci/tools"
sim_ctl reset
echo "rm x@tag: $(errno_of rm "$M/ci/app/x@tag")"
expect_eq "x@tag deletes tag x of app" 1 "$(dels ci app x)"
expect_eq "and nothing of app/x" 0 "$(dels ci app/x)"
ls -la "$M/ci/app"
echo "rm -r app/x: $(errno_of rm -r "$M/ci/app/x")"
expect_eq "app/x: tag v1 then the image" "1 1" "$(dels ci app/x v1) $(curl -fsS "$SIM_URL/_sim/count?action=DeleteRepoImage&repo=ci&image=app/x&has_tag=0")"
ls -la "$M/ci/app"
sim_ctl reset
echo "rm -r tools: $(errno_of rm -r "$M/ci/tools")"
echo "deletions: $(curl -fsS "$SIM_URL/_sim/stats")"
expect_eq "rm -r tools: both images' tags deleted" "1 1" "$(dels ci tools/cli v1) $(dels ci tools/srv v1)"
ok "rm -r tools: tools gone from ls" bash -c "! ls '$M/ci' | grep -qx tools"
ls -la "$M/ci"
sim_ctl reset
for n in -rf "a b" "*" "..x" "é"; do
	echo "rm -- '$n': $(errno_of rm -- "$M/ci/odd/$n")"
done
expect_eq "five odd names, five deletions" 5 "$(dels ci odd)"
expect_eq "keep stays" 0 "$(dels ci odd keep)"
ls -la "$M/ci/odd"
grep -E "deleted|refused|failed" "$WORK/m.log" | sed 's/digest sha256:[0-9a-f]*/digest …/'
fusermount3 -u "$M"
summary
