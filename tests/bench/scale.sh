#!/usr/bin/env bash
# scale.sh — imgtagfs on a million tags (`make bench-scale` runs it; not
# part of `make check`): registries of 100,000 to 1,000,000 tags (10
# repositories of 1,000-tag images, uhub-sim --gen) and one image of
# 200,000 tags, against the network's bound and tmpfs holding the same
# files, with the same simulated latency. Writes scale.md (the table) and
# its raw numbers (scale.params, scale.tsv) in --out, and the plot of
# time and memory against tag count (an SVG, with gnuplot) at --plot:
# docs/scale.svg, the README's, when --out is left at tests/bench;
# DIR/scale.svg otherwise.
#
#   tests/bench/scale.sh [--points "100000 250000 500000 1000000"] [--big 200000]
#                        [--latency MS] [--reps N] [--out DIR] [--plot FILE] [--quick]
#
# For each registry, on one fresh mount (cache_size left at its default,
# which holds these listings: cache_evictions is checked to be 0): a cold
# find (kernel caches dropped), warm finds, the first grep -rl after it
# and warm ones, the daemon's RSS per cached tag and its inode table, then
# drop_caches (how long until the kernel's forgets reach the daemon, its
# RSS then, and a find right after, from the daemon's listings), then a
# SIGHUP flush (how long until it is logged, and until the kernel holds no
# name). The 200,000-tag image: a cold and a warm ls -l. tmpfs: warm find,
# grep -rl and ls -l of the same files (built with mktree.pl, removed
# after each registry).
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=$(cd "$top" && realpath -m "${B:-build}")
SIM_BIN=${SIM_BIN:-$BUILD/uhub-sim}
FS_BIN=${FS_BIN:-$BUILD/imgtagfs}

POINTS="100000 250000 500000 1000000"
BIG=200000
LATENCY=20
CAP=100
PAGE_SIZE=100
MAXREQ=8
TTL=3600
REPS=3
TIMEOUT=600
OUT=
PLOT=
QUICK=0

usage() {
	sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
}

while (($#)); do
	case $1 in
	--points) POINTS=$2 && shift ;;
	--big) BIG=$2 && shift ;;
	--latency) LATENCY=$2 && shift ;;
	--reps) REPS=$2 && shift ;;
	--out) OUT=$2 && shift ;;
	--plot) PLOT=$2 && shift ;;
	--quick) QUICK=1 ;;
	-h | --help) usage && exit 0 ;;
	*) echo "scale.sh: unknown option $1" >&2 && usage >&2 && exit 2 ;;
	esac
	shift || { echo "scale.sh: $1 needs a value" >&2 && exit 2; }
done
if ((QUICK)); then
	POINTS="10000 20000"
	BIG=5000
	REPS=1
	OUT=${OUT:-/tmp/imgtagfs-scale-quick}
fi
OUT=$(realpath -m "${OUT:-$here}")
[[ $OUT == "$here" ]] && PLOT=${PLOT:-$top/docs/scale.svg}
PLOT=$(realpath -m "${PLOT:-$OUT/scale.svg}")
for n in $POINTS; do
	[[ $n =~ ^[0-9]+$ ]] && ((n % 10000 == 0)) || { echo "scale.sh: a point is 10 x I x 1000 tags: $n" >&2 && exit 2; }
done

source "$here/lib.sh"
CONTENDERS="imgtagfs tmpfs"

RES=$WORK/scale.tsv # POINT KEY VALUE
put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$RES"; }
stats() { getfattr --only-values -n user.imgtagfs.stats "$1" 2>/dev/null; }
stat1() { stats "$1" | awk -F': ' -v k="$2" '$1 == k { print $2 }'; }
api() { sim_stats "$1" | jq '(.GetRepo // 0) + (.GetRepoImage // 0) + (.GetImageTag // 0)'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
hups() { grep -c "SIGHUP: dropped every cached listing" "$WORK/imgtagfs.log" 2>/dev/null || true; }
# fuse_ops MNT: the lookups, stats and directory reads the kernel sent.
fuse_ops() { stats "$1" | awk -F': ' '$1 ~ /^fuse_(lookups|getattrs|readdirs)$/ { n += $2 } END { print n + 0 }'; }
inodes_at_most() { local n; n=$(stat1 "$1" inodes) && [[ -n $n ]] && ((n <= $2)); }
# wait_for SECONDS CMD...: polls CMD every 20 ms; T_WAIT: seconds it took.
wait_for() {
	local t0=$EPOCHREALTIME end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || { T_WAIT=timeout && return 1; }
		sleep 0.02
	done
	T_WAIT=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
}
# reps POINT KEY CMD...: CMD --reps times (output to /dev/null), the median under KEY.
reps() {
	local p=$1 k=$2 i ts=
	shift 2
	for ((i = 0; i < REPS; i++)); do
		timed "$WORK/out" "$@"
		[[ $ST == ok ]] || { put "$p" "$k" "$ST" && return 1; }
		ts+="$T "
	done
	put "$p" "$k" "$(median <<<"$ts")"
	put "$p" "$k.runs" "${ts% }"
}

tmpfs_up() {
	mkdir -p "$WORK/tmpfs"
	mountpoint -q "$WORK/tmpfs" || mount -t tmpfs -o size=8g,nr_inodes=4m,mode=0755 bench-tmpfs "$WORK/tmpfs" ||
		{ log "scale: cannot mount a tmpfs (root is needed)" && exit 1; }
	MOUNTS+=("$WORK/tmpfs")
}

# registry POINT: one registry of POINT tags, imgtagfs and tmpfs on it.
registry() {
	local p=$1 images=$(($1 / 10000)) mnt=$WORK/mnt rss0 rss1 calls digest hits n0
	sim_start S --gen "repos=10,images=$images,tags=1000,seed=1" --latency-ms "$LATENCY" --max-limit "$CAP" || exit 1
	curl -fsS "$S/tree/?dump" >"$WORK/dump"
	put "$p" tags "$(wc -l <"$WORK/dump")"
	digest=$(sed -n "$(($(wc -l <"$WORK/dump") / 2))p" "$WORK/dump" | cut -f5)
	hits=$(awk -F'\t' -v d="$digest" '$5 == d' "$WORK/dump" | wc -l)
	put "$p" dirs "$(cut -f1,2 "$WORK/dump" | sort -u | wc -l)"

	log "scale: $p tags: imgtagfs"
	fs_up imgtagfs "$S" "$mnt" || exit 1
	rss0=$(rss_bytes "$FS_PID")
	drop_caches
	sim_reset "$S"
	timed "$WORK/out" find "$mnt" -type f
	put "$p" cold_find "$T"
	[[ $ST == ok && $(wc -l <"$WORK/out") == "$(wc -l <"$WORK/dump")" ]] || put "$p" cold_find_status "$ST/$(wc -l <"$WORK/out")"
	put "$p" cold_calls "$(api "$S")"
	sim_reset "$S"
	# What reached the daemon meanwhile: none on a quiet machine (a
	# drop_caches elsewhere on the machine makes the kernel ask again).
	n0=$(fuse_ops "$mnt")
	reps "$p" warm_find find "$mnt" -type f
	put "$p" warm_find_ops $(($(fuse_ops "$mnt") - n0))
	n0=$(stat1 "$mnt" fuse_reads)
	timed "$WORK/out" grep -rl "$digest" "$mnt"
	put "$p" first_grep "$T"
	[[ $(wc -l <"$WORK/out") == "$hits" ]] || put "$p" first_grep_status "wrong: $(wc -l <"$WORK/out") of $hits"
	put "$p" first_grep_reads $(($(stat1 "$mnt" fuse_reads) - n0))
	put "$p" first_grep_stored "$(stat1 "$mnt" store_files)"
	put "$p" first_grep_skipped "$(stat1 "$mnt" store_batches_skipped)"
	n0=$(($(fuse_ops "$mnt") + $(stat1 "$mnt" fuse_reads)))
	reps "$p" warm_grep grep -rl "$digest" "$mnt"
	put "$p" warm_grep_ops $(($(fuse_ops "$mnt") + $(stat1 "$mnt" fuse_reads) - n0))
	rss1=$(rss_bytes "$FS_PID")
	put "$p" rss_mounted "$rss0"
	put "$p" rss_cached "$rss1"
	put "$p" inodes "$(stat1 "$mnt" inodes)"
	put "$p" cache_bytes "$(stat1 "$mnt" cache_bytes)"
	put "$p" cache_evictions "$(stat1 "$mnt" cache_evictions)"
	put "$p" warm_calls "$(api "$S")"

	# drop_caches: the kernel forgets every name (the write returns once
	# it has); the daemon hears it and gives its inode table's memory back.
	n0=$(stat1 "$mnt" inodes)
	sync
	local t0=$EPOCHREALTIME
	echo 3 >/proc/sys/vm/drop_caches
	wait_for 600 inodes_at_most "$mnt" $((n0 / 100))
	put "$p" drop_forgotten "$(since "$t0")"
	rss_settled
	put "$p" rss_after_drop "$(rss_bytes "$FS_PID")"
	sim_reset "$S"
	timed "$WORK/out" find "$mnt" -type f
	put "$p" find_after_drop "$T"
	put "$p" find_after_drop_calls "$(api "$S")"

	# SIGHUP: every listing dropped, the kernel told to forget every name.
	n0=$(hups)
	t0=$EPOCHREALTIME
	kill -HUP "$FS_PID"
	wait_for 600 hup_logged "$n0"
	put "$p" hup_logged "$(since "$t0")"
	wait_for 600 inodes_at_most "$mnt" 100
	put "$p" hup_forgotten "$(since "$t0")"
	rss_settled
	put "$p" rss_after_hup "$(rss_bytes "$FS_PID")"
	fs_down "$mnt"

	log "scale: $p tags: tmpfs"
	tmpfs_up
	mkdir -p "$WORK/tmpfs/S"
	perl "$here/mktree.pl" "$WORK/tmpfs/S" <"$WORK/dump" >/dev/null || { log "scale: mktree failed" && exit 1; }
	find "$WORK/tmpfs/S" -type f >/dev/null
	reps "$p" tmpfs_find find "$WORK/tmpfs/S" -type f
	reps "$p" tmpfs_grep grep -rl "$digest" "$WORK/tmpfs/S"
	put "$p" tmpfs_bytes "$(du -s -B1 "$WORK/tmpfs/S" | cut -f1)"
	rm -rf "$WORK/tmpfs/S"
	kill "$S_PID" 2>/dev/null
	wait "$S_PID" 2>/dev/null
	forget_pid "$S_PID"
}
hup_logged() { (($(hups) > $1)); }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
# rss_settled: until the daemon's RSS has not moved for half a second
# (memory freed goes back within a tick of the FUSE layer's thread), 10 s
# at most.
rss_settled() {
	local last=-1 now same=0 i
	for i in $(seq 100); do
		now=$(rss_bytes "$FS_PID")
		if [[ $now == "$last" ]]; then
			((++same >= 5)) && return 0
		else
			same=0
		fi
		last=$now
		sleep 0.1
	done
}

# The one large image: ls -l of BIG tags, cold and warm; tmpfs's warm.
big_image() {
	local mnt=$WORK/big img
	sim_start S --gen "repos=1,images=1,tags=$BIG,seed=2,nested=0" --latency-ms "$LATENCY" --max-limit "$CAP" || exit 1
	curl -fsS "$S/tree/?dump" >"$WORK/dump"
	img=$(head -1 "$WORK/dump" | cut -f1,2 --output-delimiter=/)
	log "scale: one image of $BIG tags"
	fs_up imgtagfs "$S" "$mnt" || exit 1
	drop_caches
	sim_reset "$S"
	timed "$WORK/out" ls -l "$mnt/$img"
	put big cold_ls "$T"
	[[ $ST == ok && $(wc -l <"$WORK/out") == $((BIG + 1)) ]] || put big cold_ls_status "$ST/$(wc -l <"$WORK/out")"
	put big cold_calls "$(api "$S")"
	reps big warm_ls ls -l "$mnt/$img"
	put big rss "$(rss_bytes "$FS_PID")"
	fs_down "$mnt"
	tmpfs_up
	mkdir -p "$WORK/tmpfs/S"
	perl "$here/mktree.pl" "$WORK/tmpfs/S" <"$WORK/dump" >/dev/null
	ls -l "$WORK/tmpfs/S/$img" >/dev/null
	reps big tmpfs_ls ls -l "$WORK/tmpfs/S/$img"
	rm -rf "$WORK/tmpfs/S"
	kill "$S_PID" 2>/dev/null
	wait "$S_PID" 2>/dev/null
	forget_pid "$S_PID"
}

main() {
	local t0=$EPOCHREALTIME p
	for t in curl jq perl awk timeout mountpoint getfattr; do
		command -v "$t" >/dev/null || { log "scale: $t is missing" && exit 1; }
	done
	[[ -x $SIM_BIN && -x $FS_BIN ]] || { log "scale: build first (make all)" && exit 1; }
	[[ -c /dev/fuse ]] || { log "scale: /dev/fuse is missing" && exit 1; }
	mkdir -p "$OUT"
	(umask 077 && printf 'public_key=%s\nprivate_key=%s\n' "$BENCH_PUB" "$BENCH_PRIV" >"$WORK/creds")
	: >"$RES"
	{
		echo "nproc=$(nproc)"
		echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
		echo "kernel=$(uname -sr)"
		echo "mem=$(free -g | awk '/^Mem:/ { print $2 }')"
		echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
		echo "commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null)$(git -C "$top" diff --quiet HEAD -- src include 2>/dev/null || echo +changes)"
	} >"$WORK/params"
	for p in $POINTS; do
		registry "$p"
		put "$p" load "$(cut -d' ' -f1 /proc/loadavg)"
	done
	big_image
	{
		echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
		echo "elapsed=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"
		echo "latency_ms=$LATENCY"
		echo "cap=$CAP"
		echo "page_size=$PAGE_SIZE"
		echo "max_requests=$MAXREQ"
		echo "ttl=$TTL"
		echo "reps=$REPS"
		echo "points=$POINTS"
		echo "big=$BIG"
		echo "quick=$QUICK"
	} >>"$WORK/params"
	# The raw numbers beside the report, so that it and the plot can be
	# made again without a run: scale-report.pl scale.params scale.tsv DIR PLOT
	cp "$WORK/params" "$OUT/scale.params" && cp "$RES" "$OUT/scale.tsv"
	mkdir -p "$(dirname "$PLOT")"
	perl "$here/scale-report.pl" "$WORK/params" "$RES" "$OUT" "$PLOT" || return 1
	log "scale: done in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; $OUT/scale.md"
}

main
