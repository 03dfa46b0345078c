#!/usr/bin/env bash
# test_consistency.sh — a listing is the registry at one instant, and
# doubt never becomes "no such file", on real mounts against uhub-sim:
#
#  shift  The registry changes while a listing is being paged: a server
#         that caps Limit at 25 and answers after 300 ms; 0.45 s after the
#         first page of a listing was asked for, the entry that sorts
#         second is deleted, so every later page shifts by one across its
#         boundary. Plain offset paging lost the entry at the first
#         boundary (in neither page) for a whole ttl. Every untouched name
#         must be listed and found, for each of the three lists (an
#         image's tags, a repository's images, the repositories), within
#         the call budget.
#  neg    "No such ..." is never older than ttl: with ttl=3 and
#         negative_ttl=5, an image deleted and pushed again is there again
#         once its listing is older than ttl (it gave ENOENT up to
#         negative_ttl before).
#  hung   A hung API (ttl=3, timeout=2, deadline=6): every operation on
#         paths whose listings expired is answered from the last good
#         listing within the stale bound (a quarter of the deadline here),
#         never ETIMEDOUT, with one warning; once the API answers again
#         the listings are fresh again.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse
export TZ=UTC

M=$WORK/m

# shift_case NAME GEN WHAT DIR DELETE_QUERY GONE PROBE COUNT_ACTION
#   lists DIR (relative to the mount) while the registry moves: DELETE_QUERY
#   (for /_sim/delete) runs 0.45 s after the first COUNT_ACTION request;
#   every name of the registry's list but GONE must be in the listing,
#   and PROBE must stat.
shift_case() {
	local name=$1 gen=$2 dir=$3 del=$4 gone=$5 probe=$6 action=$7 i want got calls
	sim_start --gen "$gen" --max-limit 25 --latency-ms 300 --seed 3 || return 1
	fs_mount "$M" -o ttl=30,lazy,prefetch=0 || return 1
	want=$(curl -fsS "$SIM_URL/tree/?dump" | awk -F'\t' -v d="$dir" -v g="$gone" '
		d == "" { n[$1] = 1 } d ~ /^[^\/]+$/ { if ($1 == d) n[$2] = 1 }
		d ~ /\// { split(d, p, "/"); if ($1 == p[1] && $2 == p[2]) n[$3] = 1 }
		END { for (k in n) if (k != g) print k }' | sort)
	ls "$M/$dir" >"$WORK/ls.out" 2>"$WORK/ls.err" &
	local lspid=$!
	for i in $(seq 400); do
		[[ $(sim_count "$action") -ge 1 ]] && break
		sleep 0.01
	done
	sleep 0.45
	sim_ctl "delete?$del"
	wait "$lspid"
	expect_eq "$name: ls succeeds" "" "$(cat "$WORK/ls.err")"
	got=$(sort "$WORK/ls.out" | grep -vx "$gone")
	expect_eq "$name: every untouched name listed" "$want" "$got"
	ok "$name: $probe found" stat -c "" "$M/$dir/$probe"
	calls=$(sim_count "$action")
	# The first pass, at most one repair round, and the probe's own.
	ok "$name: $calls $action calls, within 2x the pages + 10" test "$calls" -le 20
	note "$name: $calls $action requests"
	fs_umount "$M"
	sim_stop
}

note() { echo "  $*"; }

shift_case "tags" "repos=1,images=1,tags=100,nested=0" "repo-00/img-00" \
	"repo=repo-00&image=img-00&tag=tag-0001" tag-0001 tag-0025 GetImageTag
shift_case "images" "repos=1,images=100,tags=1,nested=0" "repo-00" \
	"repo=repo-00&image=img-01" img-01 img-25 GetRepoImage
shift_case "repositories" "repos=100,images=1,tags=1,nested=0" "" \
	"repo=repo-01" repo-01 repo-25 GetRepo

# ---- neg: "no such" lives at most ttl --------------------------------------

sim_start --gen "repos=1,images=3,tags=5,nested=0" --seed 5 || exit 1
fs_mount "$M" -o ttl=3,negative_ttl=5,lazy,prefetch=0 || exit 1
# The repository's image list is fetched (and shows img-01); then the
# image goes, and its tag listing says "no such image": remembered.
ok "neg: the repository lists the image" grep -qx img-01 <(ls "$M/repo-00")
sim_ctl "delete?repo=repo-00&image=img-01"
t_no=$(date +%s%N)
ok "neg: the image's tags say no" test -z "$(ls "$M/repo-00/img-01" 2>/dev/null)"
sim_ctl "push?repo=repo-00&image=img-01&tag=again"
# 3.6 s after the "no": past ttl (3 s), well before negative_ttl (5 s).
sleep "$(awk -v t0="$t_no" -v now="$(date +%s%N)" 'BEGIN { s = (t0 + 3.6e9 - now) / 1e9; print (s > 0 ? s : 0) }')"
ok "neg: there again once the no is ttl old" test -f "$M/repo-00/img-01/again"
fs_umount "$M"
sim_stop

# ---- hung: the last good listing, not ETIMEDOUT ----------------------------

sim_start --gen "repos=2,images=4,tags=20,nested=0" --seed 9 || exit 1
fs_mount "$M" -o ttl=3,timeout=2,deadline=6,retries=1,lazy || exit 1
find "$M" >"$WORK/before" 2>&1
cat "$M/repo-00/img-00/tag-0003" >"$WORK/cat.before"
sim_ctl "fault?kind=hang&ms=60000"
sleep 3.5 # every listing expired
fails=0 slow=0
for i in $(seq 3); do
	for op in "ls -l $M/repo-00/img-00" "stat $M/repo-01/img-02/tag-0007" "cat $M/repo-00/img-00/tag-0003" \
		"find $M/repo-01" "ls $M"; do
		t0=$(date +%s%N)
		# shellcheck disable=SC2086
		timeout 5 $op >/dev/null 2>"$WORK/op.err" || { fails=$((fails + 1)); cat "$WORK/op.err" >&2; }
		(($(date +%s%N) - t0 > 4000000000)) && slow=$((slow + 1))
	done
done
expect_eq "hung: no operation failed" 0 "$fails"
expect_eq "hung: none took anywhere near the deadline" 0 "$slow"
expect_eq "hung: the cached bytes" "$(cat "$WORK/cat.before")" "$(cat "$M/repo-00/img-00/tag-0003")"
ok "hung: a warning says so" grep -q "serving a stale listing of .* the API has not answered its refresh yet" \
	"$WORK/fs.log"
served=$(getfattr --only-values -n user.imgtagfs.stats "$M" | sed -n 's/^cache_stale_served: //p')
ok "hung: stale listings served ($served)" test "${served:-0}" -gt 0
sim_ctl "fault?kind=clear"
sim_ctl "push?repo=repo-00&image=img-00&tag=after"
for i in $(seq 100); do
	[[ -f $M/repo-00/img-00/after ]] && break
	sleep 0.2
done
ok "hung: fresh again once the API answers" test -f "$M/repo-00/img-00/after"
fs_umount "$M"
sim_stop

# ---- offsets: reading on after the ttl -------------------------------------

DIRTOOL=$BUILD/tests/helpers/dirtool
sim_start --gen "repos=1,images=1,tags=60,nested=0" --seed 11 || exit 1
fs_mount "$M" -o ttl=2,lazy,prefetch=0 || exit 1
D=$M/repo-00/img-00
lists() { ls "$1" | grep -qx "$2"; } # lists DIR NAME: ls DIR shows NAME
registry_tags() {
	curl -fsS "$SIM_URL/tree/?dump" | awk -F'\t' '$1 == "repo-00" && $2 == "img-00" { print $3 }' | LC_ALL=C sort
}
for mode in resume seek; do
	rm -f "$WORK/go"
	"$DIRTOOL" "$mode" "$D" 10 "$WORK/go" >"$WORK/$mode.out" 2>&1 &
	pid=$!
	wait_until 30 grep -qx -- -- "$WORK/$mode.out"
	# The last name read before the listing moved on.
	if [[ $mode == resume ]]; then
		last=$(sed '/^--$/q' "$WORK/$mode.out" | grep -vx -- -- | tail -1)
	else
		last=$(sed -n 10p "$WORK/$mode.out")
	fi
	# A name read already goes, one before it comes, one after it goes, one
	# after it comes: the reader must see the last two changes only.
	sim_ctl "delete?repo=repo-00&image=img-00&tag=tag-0003"
	sim_ctl "push?repo=repo-00&image=img-00&tag=tag-0004$mode"
	sim_ctl "delete?repo=repo-00&image=img-00&tag=tag-0050"
	sim_ctl "push?repo=repo-00&image=img-00&tag=tag-0055$mode"
	ok "offsets ($mode): another reader sees the changes" wait_until 30 lists "$D" "tag-0055$mode"
	touch "$WORK/go"
	wait "$pid"
	want=$(registry_tags | awk -v l="$last" '$0 > l')
	got=$(sed '1,/^--$/d' "$WORK/$mode.out")
	expect_eq "offsets ($mode): after $last, the fresh listing, each name once" "$want" "$got"
	sim_ctl "push?repo=repo-00&image=img-00&tag=tag-0003"
	sim_ctl "push?repo=repo-00&image=img-00&tag=tag-0050"
done
fs_umount "$M"
sim_stop

summary
