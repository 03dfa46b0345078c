#!/usr/bin/env bash
# delete.sh — how fast deletion through the mount prunes (-o allow_delete),
# against the bound the latency and the rate options set.
#
#   B=build bash tests/bench/delete.sh [--latency MS] [--tags N] [--rps N]
#
# Each unlink costs two requests in sequence (the point query, then
# DeleteRepoImage), so one `find -delete` (one unlink at a time) can reach
# at most 1000 / (2 x latency) deletions a second; `xargs -P8 rm` at most
# min(P, max_requests) times that, and never more than max_rps / 2. For
# each way the script prints the deletions a second, the bound and their
# ratio, and the requests made per deletion (2.00 is the design); a run
# that made more requests, or went past max_rps, is marked.
set -uo pipefail
source "$(dirname "$0")/../integration/lib.sh"
need_fuse

LATENCY=20
TAGS=200
RPS=40
while (($#)); do
	case $1 in
	--latency) LATENCY=$2; shift 2 ;;
	--tags) TAGS=$2; shift 2 ;;
	--rps) RPS=$2; shift 2 ;;
	*) echo "usage: $0 [--latency MS] [--tags N] [--rps N]" >&2; exit 2 ;;
	esac
done

cat >"$WORK/reg.json" <<EOF
{"repos": [{"name": "ci", "images": [
   {"name": "serial", "generate": {"tags": $TAGS, "prefix": "build-", "start": 1790000000, "step": 60}},
   {"name": "para", "generate": {"tags": $TAGS, "prefix": "build-", "start": 1790000000, "step": 60}}$(
	for k in 0 1 2 3 4 5 6 7; do
		printf ',\n   {"name": "d8/%s", "generate": {"tags": %d, "prefix": "build-", "start": 1790000000, "step": 60}}' \
			"$k" $((TAGS / 8))
		printf ',\n   {"name": "r8/%s", "generate": {"tags": %d, "prefix": "build-", "start": 1790000000, "step": 60}}' \
			"$k" $((TAGS / 8))
		printf ',\n   {"name": "q8/%s", "generate": {"tags": %d, "prefix": "build-", "start": 1790000000, "step": 60}}' \
			"$k" $((TAGS / 8))
	done)]}]}
EOF
sim_start --data "$WORK/reg.json" || exit 1
ms() { date +%s%3N; }
all_calls() { echo $(($(sim_count GetImageTag) + $(sim_count DeleteRepoImage) + $(sim_count GetRepoImage))); }

# run NAME IMAGE BOUND COMMAND...: deletes every tag of IMAGE with
# COMMAND (given the directory), then prints one line of the table.
run() {
	local name=$1 image=$2 bound=$3 t0 t1 calls dels left rate
	shift 3
	ls -lR "$M/ci/$image" >/dev/null # listed, as find would list it
	wait_quiet
	sim_ctl reset
	t0=$(ms)
	"$@" "$M/ci/$image"
	t1=$(ms)
	calls=$(all_calls)
	dels=$(sim_count DeleteRepoImage)
	left=$(find "$M/ci/$image" -type f | wc -l) # images with no tags stay
	rate=$(perl -e "printf '%.1f', $dels * 1000 / ($t1 - $t0 || 1)")
	printf '%-26s %6d %6d %10s %8s %7s %9s %s\n' "$name" "$dels" "$left" "$rate" "$bound" \
		"$(perl -e "printf '%.2f', $rate / $bound")" "$(perl -e "printf '%.2f', $calls / ($dels || 1)")" \
		"$( ((left == 0 && calls <= 2 * dels)) || echo '<- check')"
}
serial() { find "$1" -name 'build-*' -delete; }
parallel() { find "$1" -name 'build-*' -print0 | xargs -0 -n 4 -P 8 rm; }
# One find -delete per directory, 8 at once.
per_dir() {
	local d p=()
	for d in "$1"/*; do
		find "$d" -name 'build-*' -delete &
		p+=($!)
	done
	wait "${p[@]}" # not a bare wait: the daemon is a job of this shell too
}

M=$WORK/m
sim_ctl "config?latency_ms=$LATENCY"
fs_mount "$M" -o ttl=600,allow_delete,max_requests=8 || exit 1
B1=$(perl -e "printf '%.1f', 1000 / (2 * $LATENCY)")
B8=$(perl -e "printf '%.1f', 8 * 1000 / (2 * $LATENCY)")
echo "latency ${LATENCY} ms a request, $TAGS tags an image"
printf '%-26s %6s %6s %10s %8s %7s %9s\n' way deleted left "deletes/s" bound ratio "req/del"
run "find -delete" serial "$B1" serial
run "xargs -P8 rm, one dir" para "$B1" parallel
run "8 x find -delete, 8 dirs" d8 "$B8" per_dir
fusermount3 -u "$M"
wait "$FS_PID" 2>/dev/null

fs_mount "$M" -o ttl=600,allow_delete,max_requests=8,max_rps=$RPS || exit 1
# The bucket starts full: RPS requests at once, then RPS a second.
N8=$((TAGS / 8 * 8))
BR=$(perl -e "\$t = (2 * $N8 - $RPS) / $RPS; \$r = \$t > 0 ? $N8 / \$t : $B8; printf '%.1f', \$r < $B8 ? \$r : $B8")
run "8 dirs, max_rps=$RPS" r8 "$BR" per_dir
fusermount3 -u "$M"
wait "$FS_PID" 2>/dev/null

fs_mount "$M" -o ttl=600,allow_delete,max_requests=2 || exit 1
run "8 dirs, max_requests=2" q8 "$(perl -e "printf '%.1f', 2 * 1000 / (2 * $LATENCY)")" per_dir
