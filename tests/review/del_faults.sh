#!/usr/bin/env bash
# del_faults.sh — faults on DeleteRepoImage (and on the point query): the
# outcome of rm, the calls made, the registry after. Expected: an unsure
# failure is checked (GetImageTag) before each resend; never more than
# (retries+1) deletions; the rm's answer agrees with the registry
# (success only when gone, the tag listed when it stayed).
source "$(dirname "$0")/dcommon.sh"
T0=1790000000
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "ci", "images": [
   {"name": "app", "generate": {"tags": 40, "prefix": "b-", "start": $T0, "step": 60, "seed": 3}}]}]}
JSON
sim_start --data "$WORK/reg.json" || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=600,allow_delete,timeout=1,retries=2,deadline=20 || exit 1
ls -l "$M/ci/app" >/dev/null
wait_quiet
n=0
try() { # try FAULTSPEC: one rm under it
	local tag
	n=$((n + 1)); tag=$(printf 'b-%04d' "$n")
	sim_ctl reset
	sim_ctl "fault?$1"
	local t0=$SECONDS e
	e=$(errno_of rm "$M/ci/app/$tag")
	sim_ctl "fault?kind=clear"
	sleep 0.3
	local gone=no; in_registry "\"$tag\"" || gone=yes
	local listed=no; ls "$M/ci/app" | grep -qx "$tag" && listed=yes
	echo "$1: rm=$e in $((SECONDS - t0)) s; DeleteRepoImage=$(dels ci app "$tag") GetImageTag=$(sim_count GetImageTag ci app "$tag"); gone from registry=$gone, still listed=$listed"
	if [[ $e == ok ]]; then ok "$1: success means gone" test $gone = yes
	else ok "$1: failure ($e) means not gone, or listed agrees" test "$gone" != "$listed"; fi
	ok "$1: deletions <= retries+1 rounds" test "$(dels ci app "$tag")" -le 3
}
try "kind=drop&action=DeleteRepoImage&count=1"
try "kind=drop&action=DeleteRepoImage&count=100"
try "kind=hang&ms=2500&action=DeleteRepoImage&count=1"
try "kind=hang&ms=2500&action=DeleteRepoImage&count=100"
try "kind=truncate&action=DeleteRepoImage&count=100"
try "kind=notjson&action=DeleteRepoImage&count=100"
try "kind=http429&action=DeleteRepoImage&count=100"
try "kind=ret153&action=DeleteRepoImage&count=100"
try "kind=ret2000&action=DeleteRepoImage&count=100"
try "kind=http500&action=GetImageTag&count=100"
try "kind=hang&ms=2500&action=GetImageTag&count=100"
try "kind=shuffle&action=GetImageTag&count=1"
sleep 3
echo "after all hangs ended:"; curl -fsS "$SIM_URL/_sim/state" | grep -o '"b-00[01][0-9]"' | sort -u | tr '\n' ' '; echo
getfattr --only-values -n user.imgtagfs.stats "$M" | grep -E '^(api_calls|deletes_|api_retries|api_errors)' | tr '\n' ' '; echo
grep -E "deleted|refused|failed|unsure" "$WORK/m.log" | sed 's/digest sha256:[0-9a-f]*/digest …/' | head -40
fusermount3 -u "$M"
summary
