#!/usr/bin/env bash
# del_blind.sh — a DeleteRepoImage whose connection is closed without a
# reply (the sim's drop, once) on a kept-alive connection. libcurl itself
# sends the POST again on a fresh connection (its retry of a reused
# connection that died), so the deletion is sent a second time with no
# point query in between, and the daemon neither counts nor logs it.
# Expected (imgtagfs(1): "A deletion is never sent again blindly"): every
# DeleteRepoImage after the first preceded by a GetImageTag; the daemon's
# api_calls.DeleteRepoImage equal to what the registry received.
source "$(dirname "$0")/dcommon.sh"
T0=1790000000
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "ci", "images": [
   {"name": "app", "generate": {"tags": 10, "prefix": "b-", "start": $T0, "step": 60, "seed": 3}}]}]}
JSON
sim_start --data "$WORK/reg.json" --access-log "$WORK/access.log" || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=600,allow_delete || exit 1
ls -l "$M/ci/app" >/dev/null
wait_quiet
sim_ctl reset
d0=$(stat_of "$M" api_calls.DeleteRepoImage)
sim_ctl "fault?kind=drop&action=DeleteRepoImage&count=1"
echo "rm: $(errno_of rm "$M/ci/app/b-0001")"
echo "registry received: DeleteRepoImage=$(dels ci app b-0001) GetImageTag=$(sim_count GetImageTag ci app b-0001)"
echo "daemon counted:    DeleteRepoImage=$(($(stat_of "$M" api_calls.DeleteRepoImage) - d0))"
grep -E "Action=(DeleteRepoImage|GetImageTag)|DeleteRepoImage|GetImageTag" "$WORK/access.log" | tail -4 | cut -c1-160
expect_eq "no deletion resent without a check" "$(sim_count GetImageTag ci app b-0001)" "$(dels ci app b-0001)"
expect_eq "the daemon counts every deletion sent" "$(dels ci app b-0001)" "$(($(stat_of "$M" api_calls.DeleteRepoImage) - d0))"
grep -E "b-0001|unsure" "$WORK/m.log" | sed 's/digest sha256:[0-9a-f]*/digest …/'
fusermount3 -u "$M"
summary
