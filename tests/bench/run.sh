#!/usr/bin/env bash
# run.sh — imgtagfs's benchmark (`make bench` runs it): every
# contender on the same simulated registries with the same latency, in one
# invocation, then a table of medians and ratios (stdout and results.md)
# and a plot of cold listing time against tag count (cold-listing.png).
#
#   tests/bench/run.sh [--latency MS] [--cap N] [--reps N] [--quick] ...
#   (run.sh --help lists every option)
#
# Contenders: imgtagfs (over the API), tmpfs holding the same tree (built
# from the simulator's data: tests/bench/mktree.pl), httpdirfs and rclone's
# http backend (over the simulator's /tree/ view: plain index pages), and
# tests/bench/naive.sh (curl + jq paging serially through the API).
# Two simulators: "L" serves one repository "bench" with one image per
# listing size (tN holds N tags); "R" the whole registry of REPOS x IMAGES
# x TAGS (uhub-sim --gen). Both apply the latency to every API and /tree/
# request and count them; each measurement zeroes the counters first.
#
# Cold means: a fresh mount for each repetition, once its start-up
# requests are over (lib.sh's settle; they are not counted: for imgtagfs
# the mount-time check and the warm-up of / and its listings), then `echo 3 > /proc/sys/vm/drop_caches`
# where permitted (results.md says whether it was). tmpfs can only drop
# what is not pinned, so its cold run is a warm one; naive.sh has no cache,
# so its warm runs are cold ones. Warm means: the same mount again, right
# after a cold run, well within the TTL (--ttl; rclone's --dir-cache-time
# is set to the same; httpdirfs never expires).
# W4 first is the first grep -rl after a cold find on each fresh mount (the
# tag files' bytes are in the daemon, none in the kernel's page cache);
# W4 warm, the ones after it. --baseline BIN adds the contender
# "baseline", imgtagfs built from another commit, run the same way in the
# same invocation, for before/after ratios on this shared machine.
# Repetitions: --reps each, except that a run that failed or timed out
# ends its series, and so does, for the peers and the naive script, a run
# slower than --slow seconds (its median is of what ran; results.md marks it). A run longer than --timeout is stopped and
# reported as a timeout with how far it got.
set -uo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
BUILD=$(cd "$top" && realpath -m "${B:-build}")
SIM_BIN=${SIM_BIN:-$BUILD/uhub-sim}
FS_BIN=${FS_BIN:-$BUILD/imgtagfs}
BASE_BIN=
BASE_LABEL="another build"
FLEET=1

LATENCY=20
CAP=100
REPS=3
PAGE_SIZE=100
MAXREQ=8
TTL=600
TIMEOUT=60
SLOW=3
SIZES="100 800 2000 5000 10000"
W1SIZES="800 10000"
REGISTRY=8,100,200
CONTENDERS="imgtagfs tmpfs httpdirfs rclone naive"
QUICK=0
OUT=
reps_given=0

usage() {
	cat <<EOF
usage: tests/bench/run.sh [OPTIONS]
  --latency MS        simulated latency of every request (default $LATENCY)
  --cap N             the server's cap on Limit, 0 = none (default $CAP)
  --reps N            repetitions per measurement (default $REPS; --quick: 1)
  --page-size N       imgtagfs page_size (default $PAGE_SIZE)
  --max-requests N    imgtagfs max_requests (default $MAXREQ)
  --ttl S             imgtagfs ttl and rclone --dir-cache-time (default $TTL)
  --timeout S         stop a run after S seconds (default $TIMEOUT)
  --slow S            no more repetitions after a run slower than S (default $SLOW)
  --sizes "N..."      tag counts of the cold-listing plot (default "$SIZES")
  --w1 "N..."         the sizes of W1/W2 (default "$W1SIZES"; the largest is W5's)
  --registry R,I,T    W3/W4/W6: repos, images per repo, tags per image (default $REGISTRY)
  --contenders "..."  a subset of: $CONTENDERS
  --baseline BIN      also run BIN (another build of imgtagfs) as "baseline"
  --baseline-label S  what the report calls it (default "$BASE_LABEL")
  --no-fleet          leave W7 (eight mounts and one Redis) out
  --out DIR           where results.md and cold-listing.png go
                      (default tests/bench; --quick: /tmp/imgtagfs-bench-quick)
  --quick             a smoke run on small sizes (well under a minute)
EOF
}

while (($#)); do
	case $1 in
	--latency) LATENCY=$2 && shift ;;
	--cap) CAP=$2 && shift ;;
	--reps) REPS=$2 && reps_given=1 && shift ;;
	--page-size) PAGE_SIZE=$2 && shift ;;
	--max-requests) MAXREQ=$2 && shift ;;
	--ttl) TTL=$2 && shift ;;
	--timeout) TIMEOUT=$2 && shift ;;
	--slow) SLOW=$2 && shift ;;
	--sizes) SIZES=$2 && shift ;;
	--w1) W1SIZES=$2 && shift ;;
	--registry) REGISTRY=$2 && shift ;;
	--contenders) CONTENDERS=$2 && shift ;;
	--baseline) BASE_BIN=$(realpath "$2") && shift ;;
	--baseline-label) BASE_LABEL=$2 && shift ;;
	--no-fleet) FLEET=0 ;;
	--out) OUT=$2 && shift ;;
	--quick) QUICK=1 ;;
	-h | --help) usage && exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2 && usage >&2 && exit 2 ;;
	esac
	shift || { echo "run.sh: $1 needs a value" >&2 && exit 2; }
done
if ((QUICK)); then
	SIZES="100 300"
	W1SIZES="100 300"
	REGISTRY=2,5,40
	TIMEOUT=5
	((reps_given)) || REPS=1
	OUT=${OUT:-/tmp/imgtagfs-bench-quick}
fi
OUT=$(realpath -m "${OUT:-$here}")
if [[ -n $BASE_BIN ]]; then
	[[ -x $BASE_BIN ]] || { echo "run.sh: --baseline $BASE_BIN: not an executable" >&2 && exit 2; }
	[[ " $CONTENDERS " == *" baseline "* ]] || CONTENDERS="$CONTENDERS baseline"
fi
export BASE_BIN
IFS=, read -r NREPOS NIMAGES NTAGS <<<"$REGISTRY"
for v in LATENCY CAP REPS PAGE_SIZE MAXREQ TTL TIMEOUT NREPOS NIMAGES NTAGS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: $v must be a number: ${!v}" >&2 && exit 2; }
done
# Every size of W1 is also a point of the plot.
SIZES=$(printf '%s\n' $SIZES $W1SIZES | sort -n -u | tr '\n' ' ')
BIG=$(printf '%s\n' $W1SIZES | sort -n | tail -1)

source "$here/lib.sh"

has() { [[ " $CONTENDERS " == *" $1 "* ]]; }

# ---- what can run here ----

check_tools() {
	local t
	[[ -x $SIM_BIN && -x $FS_BIN ]] || { log "bench: build first (make all): $SIM_BIN, $FS_BIN" && exit 1; }
	for t in curl jq perl awk timeout mountpoint; do
		command -v "$t" >/dev/null || { log "bench: $t is missing" && exit 1; }
	done
	if [[ ! -c /dev/fuse ]]; then
		log "bench: /dev/fuse is missing: no FUSE contender can run here"
		CONTENDERS=$(tr ' ' '\n' <<<"$CONTENDERS" | grep -vxE 'imgtagfs|baseline|httpdirfs|rclone' | tr '\n' ' ')
	fi
	for t in httpdirfs rclone; do
		if has "$t" && ! command -v "$t" >/dev/null; then
			log "bench: $t is not installed (make bench installs it): left out"
			CONTENDERS=${CONTENDERS/$t/}
		fi
	done
	if has tmpfs && ! mount -t tmpfs -o size=2g,mode=0755 bench-tmpfs "$WORK/tmpfs" 2>/dev/null; then
		log "bench: cannot mount a tmpfs (not root?): tmpfs left out"
		CONTENDERS=${CONTENDERS/tmpfs/}
	elif has tmpfs; then
		MOUNTS+=("$WORK/tmpfs")
	fi
}

# ---- the data ----

# The listing registry: repository "bench", image tN with N tags
# tag-00001.. one minute apart.
listing_data() {
	local n sep=
	printf '{"repos": [{"name": "bench", "images": ['
	for n in $SIZES; do
		printf '%s{"name": "t%s", "update_time": 1793491200, "generate": {"tags": %s, "prefix": "tag-", "width": 5, "step": 60, "seed": 7}}' \
			"$sep" "$n" "$n"
		sep=", "
	done
	printf ']}]}\n'
}

# start_sims: L and R, and the tmpfs copies of both (mktree.pl over the
# simulators' /tree/?dump).
start_sims() {
	local t0=$EPOCHREALTIME
	listing_data >"$WORK/listing.json"
	sim_start L --data "$WORK/listing.json" --latency-ms "$LATENCY" --max-limit "$CAP" || exit 1
	sim_start R --gen "repos=$NREPOS,images=$NIMAGES,tags=$NTAGS,seed=1" --latency-ms "$LATENCY" \
		--max-limit "$CAP" || exit 1
	curl -fsS "$L/tree/?dump" >"$WORK/L.dump" && curl -fsS "$R/tree/?dump" >"$WORK/R.dump" ||
		{ log "bench: cannot fetch the simulators' dumps" && exit 1; }
	TOTAL=$(wc -l <"$WORK/R.dump")
	# W4 looks for the digest of the middle tag of the registry.
	DIGEST=$(sed -n "$(((TOTAL + 1) / 2))p" "$WORK/R.dump" | cut -f5)
	DIGEST_HITS=$(awk -F'\t' -v d="$DIGEST" '$5 == d' "$WORK/R.dump" | wc -l)
	W5TAG=$(printf 'tag-%05d' $(((BIG + 1) / 2)))
	awk -F'\t' -v i="t$BIG" -v t="$W5TAG" '$2 == i && $3 == t {
		if ($5 != "") print "digest: " $5
		print "updated: " $6
	}' "$WORK/L.dump" >"$WORK/w5.want"
	if has tmpfs; then
		mkdir -p "$WORK/tmpfs/L" "$WORK/tmpfs/R"
		perl "$here/mktree.pl" "$WORK/tmpfs/L" <"$WORK/L.dump" >/dev/null &&
			perl "$here/mktree.pl" "$WORK/tmpfs/R" <"$WORK/R.dump" >/dev/null ||
			{ log "bench: cannot build the tmpfs trees" && exit 1; }
	fi
	log "bench: registries ready: $TOTAL tags in R, sizes $SIZES in L ($(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s)"
}

# ---- the workloads ----

# W1 (cold ls -l by size, every size of the plot) and W2 (warm, the W1
# sizes, on the first cold mount) for a FUSE contender.
listing_fuse() {
	local c=$1 n rep wrep mnt="$WORK/mnt-$1"
	for n in $SIZES; do
		for ((rep = 1; rep <= REPS; rep++)); do
			fs_up "$c" "$L" "$mnt" || break
			drop_caches
			measure "W1:$n" "$c" "$rep" "$L" $((n + 1)) ls -l "$mnt/bench/t$n"
			if ((rep == 1)) && [[ $ST == ok && " $W1SIZES " == *" $n "* ]]; then
				local cold=$ST cold_t=$T
				for ((wrep = 1; wrep <= REPS; wrep++)); do
					measure "W2:$n" "$c" "$wrep" "$L" $((n + 1)) ls -l "$mnt/bench/t$n"
					again "$c" || break
				done
				ST=$cold T=$cold_t
			fi
			fs_down "$mnt"
			again "$c" || break
		done
	done
	for ((rep = 1; rep <= REPS; rep++)); do
		fs_up "$c" "$L" "$mnt" || break
		drop_caches
		CMP_WITH=$WORK/w5.want measure W5 "$c" "$rep" "$L" 2 cat "$mnt/bench/t$BIG/$W5TAG"
		fs_down "$mnt"
		again "$c" || break
	done
}

# The same for tmpfs (cold = after drop_caches) and the naive script
# (which has no cache: its "warm" is another cold run).
listing_plain() {
	local c=$1 n rep root="$WORK/tmpfs/L" w
	for n in $SIZES; do
		for w in W1 W2; do
			[[ $w == W1 || " $W1SIZES " == *" $n "* ]] || continue
			for ((rep = 1; rep <= REPS; rep++)); do
				[[ $w == W1 ]] && drop_caches
				if [[ $c == tmpfs ]]; then
					measure "$w:$n" "$c" "$rep" "$L" $((n + 1)) ls -l "$root/bench/t$n"
				else
					naive_env "$L"
					measure "$w:$n" "$c" "$rep" "$L" "$n" "$here/naive.sh" ls bench "t$n"
				fi
				again "$c" || break
			done
		done
	done
	for ((rep = 1; rep <= REPS; rep++)); do
		drop_caches
		if [[ $c == tmpfs ]]; then
			CMP_WITH=$WORK/w5.want measure W5 "$c" "$rep" "$L" 2 cat "$root/bench/t$BIG/$W5TAG"
		else
			# The script prints the API's own time: only the digest line compares.
			naive_env "$L"
			CMP_WITH=$WORK/w5.want CMP_LINES=1 measure W5 "$c" "$rep" "$L" 2 \
				"$here/naive.sh" cat bench "t$BIG" "$W5TAG"
		fi
		again "$c" || break
	done
}

naive_env() {
	export NAIVE_URL=$1 NAIVE_PUB=$BENCH_PUB NAIVE_PRIV=$BENCH_PRIV NAIVE_SIGN=$SIM_BIN NAIVE_LIMIT=$PAGE_SIZE
}

# W3 cold (find over a fresh mount) and W4 first (the first grep -rl for one
# digest right after it), then on the first mount W3 warm, W4 warm and, for
# imgtagfs, W6 (its RSS once the whole registry is cached, against its RSS
# right after mounting). The first mount also records what W4 first cost
# in page cache (Cached of /proc/meminfo before and after it), READs and
# stores (the daemon's stats).
registry_fuse() {
	local c=$1 rep wrep mnt="$WORK/mnt-$1" rss0 rss1 bytes cached0
	for ((rep = 1; rep <= REPS; rep++)); do
		fs_up "$c" "$R" "$mnt" || break
		rss0=$(rss_bytes "$FS_PID")
		drop_caches
		measure W3c "$c" "$rep" "$R" "$TOTAL" find "$mnt" -type f
		local cold=$ST cold_t=$T
		if [[ $cold == ok ]]; then
			cached0=$(meminfo Cached)
			measure W4c "$c" "$rep" "$R" "$DIGEST_HITS" grep -rl "$DIGEST" "$mnt"
			((rep == 1)) && [[ $c != httpdirfs && $c != rclone ]] && w4c_costs "$c" "$mnt" "$cached0"
		fi
		if ((rep == 1)) && [[ $cold == ok ]]; then
			for ((wrep = 1; wrep <= REPS; wrep++)); do
				measure W3w "$c" "$wrep" "$R" "$TOTAL" find "$mnt" -type f
				again "$c" || break
			done
			for ((wrep = 1; wrep <= REPS; wrep++)); do
				measure W4 "$c" "$wrep" "$R" "$DIGEST_HITS" grep -rl "$DIGEST" "$mnt"
				again "$c" || break
			done
			if [[ $c == imgtagfs || $c == baseline ]]; then
				rss1=$(rss_bytes "$FS_PID")
				bytes=$(getfattr --only-values -n user.imgtagfs.stats "$mnt" 2>/dev/null |
					awk -F': ' '$1 == "cache_bytes" { print $2 }')
				printf '%s_rss_mounted=%s\n%s_rss_cached=%s\n%s_cache_bytes=%s\n' "$c" "$rss0" "$c" "$rss1" \
					"$c" "${bytes:-}" >>"$WORK/w6"
			fi
		fi
		ST=$cold T=$cold_t
		fs_down "$mnt"
		again "$c" || break
	done
}

# w4c_costs CONTENDER MNT CACHED_BEFORE: what the first grep cost.
w4c_costs() {
	local stats
	stats=$(getfattr --only-values -n user.imgtagfs.stats "$2" 2>/dev/null)
	{
		printf '%s_w4c_cached=%s\n' "$1" "$(($(meminfo Cached) - $3))"
		awk -F': ' -v c="$1" '$1 ~ /^(fuse_reads|store_files|store_batches)$/ { print c "_w4c_" $1 "=" $2 }' <<<"$stats"
	} >>"$WORK/w6"
}

registry_plain() {
	local c=$1 rep w root="$WORK/tmpfs/R"
	if [[ $c == naive ]]; then
		# One walk; W3 warm and W4 would walk the same pages again.
		naive_env "$R"
		measure W3c naive 1 "$R" "$TOTAL" "$here/naive.sh" find
		return
	fi
	for w in W3c W4c W3w W4; do
		for ((rep = 1; rep <= REPS; rep++)); do
			[[ $w == W3c || $w == W4c ]] && drop_caches
			if [[ $w == W4 || $w == W4c ]]; then
				measure "$w" "$c" "$rep" "$R" "$DIGEST_HITS" grep -rl "$DIGEST" "$root"
			else
				measure "$w" "$c" "$rep" "$R" "$TOTAL" find "$root" -type f
			fi
			again "$c" || break
		done
	done
}

# W7 (the shared tier): eight mounts and one Redis, a cold walk (W3's find) on
# each in turn, every mount started just before its walk. Counted: every
# API call of it all, start-up checks and warm-ups included, against one
# cold walk of a mount without the tier (the baseline, same invocation);
# timed: each walk, the later ones against the first.
api_calls() { sim_stats "$1" | jq '(.GetRepo // 0) + (.GetRepoImage // 0) + (.GetImageTag // 0)'; }

fleet_walk() { # fleet_walk I OPTS: mount I with OPTS, count its start-up, walk it cold
	local mnt=$WORK/w7-$1
	sim_reset "$R"
	FS_EXTRA=$2 fs_up imgtagfs "$R" "$mnt" || return 1
	W7_START=$(api_calls "$R")
	drop_caches
	measure W7 imgtagfs "$1" "$R" "$TOTAL" find "$mnt" -type f
	W7_WALK=$(api_calls "$R")
	[[ $ST == ok ]]
}

fleet() {
	local sock=$WORK/redis.sock i all=0 times=() rpid
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		log "bench: redis-server is not installed (make bench installs it): W7 left out"
		return
	fi
	redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no --dir "$WORK" \
		>"$WORK/redis.log" 2>&1 &
	rpid=$!
	PIDS+=("$rpid")
	for i in $(seq 100); do
		[[ $(redis-cli -s "$sock" ping 2>/dev/null) == PONG ]] && break
		sleep 0.05
	done
	log "bench: imgtagfs: eight mounts, one Redis (W7)"
	fleet_walk 0 "" || return
	printf 'w7_base_calls=%s\nw7_base_t=%s\n' "$((W7_START + W7_WALK))" "$T" >>"$WORK/w7"
	fs_down "$WORK/w7-0"
	for i in 1 2 3 4 5 6 7 8; do
		fleet_walk "$i" "shared_cache=unix:$sock" || { log "bench: W7 walk $i: $ST" && break; }
		all=$((all + W7_START + W7_WALK))
		times+=("$T")
	done
	for i in 1 2 3 4 5 6 7 8; do fs_down "$WORK/w7-$i"; done
	kill "$rpid" 2>/dev/null
	printf 'w7_calls=%s\nw7_times=%s\nw7_walks=%s\n' "$all" "${times[*]}" "${#times[@]}" >>"$WORK/w7"
}

# ---- main ----

machine() {
	cat <<EOF
nproc=$(nproc)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
kernel=$(uname -sr)
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null)$(git -C "$top" diff --quiet HEAD -- src include 2>/dev/null || echo +changes)
baseline=${BASE_BIN:+$BASE_LABEL ($("$BASE_BIN" --version 2>/dev/null | head -1))}
httpdirfs=$(httpdirfs --version 2>&1 | sed -n 's/^HTTPDirFS version //p' | head -1)
rclone=$(rclone version 2>/dev/null | sed -n '1s/^rclone //p')
EOF
}

main() {
	local t0=$EPOCHREALTIME c
	mkdir -p "$WORK/tmpfs" "$OUT"
	: >"$WORK/rclone.conf"
	(umask 077 && printf 'public_key=%s\nprivate_key=%s\n' "$BENCH_PUB" "$BENCH_PRIV" >"$WORK/creds")
	check_tools
	machine >"$WORK/params"
	RESULTS="$WORK/results.tsv"
	: >"$RESULTS"
	start_sims
	log "bench: contenders: $CONTENDERS"
	for c in $CONTENDERS; do
		log "bench: $c: listings (W1, W2, W5)"
		case $c in
		imgtagfs | baseline | httpdirfs | rclone) listing_fuse "$c" ;;
		*) listing_plain "$c" ;;
		esac
	done
	for c in $CONTENDERS; do
		log "bench: $c: the registry (W3, W4, W6)"
		case $c in
		imgtagfs | baseline | httpdirfs | rclone) registry_fuse "$c" ;;
		*) registry_plain "$c" ;;
		esac
	done
	has imgtagfs && ((FLEET)) && fleet
	cat >>"$WORK/params" <<EOF
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
latency_ms=$LATENCY
cap=$CAP
page_size=$PAGE_SIZE
max_requests=$MAXREQ
ttl=$TTL
reps=$REPS
timeout=$TIMEOUT
slow=$SLOW
sizes=$SIZES
w1=$W1SIZES
big=$BIG
repos=$NREPOS
images=$NIMAGES
tags=$NTAGS
total=$TOTAL
w5tag=$W5TAG
dropped=${DROPPED:-no}
contenders=$CONTENDERS
quick=$QUICK
tmpfs_r_bytes=$(du -s -B1 "$WORK/tmpfs/R" 2>/dev/null | cut -f1)
EOF
	[[ -f $WORK/w6 ]] && cat "$WORK/w6" >>"$WORK/params"
	[[ -f $WORK/w7 ]] && cat "$WORK/w7" >>"$WORK/params"
	perl "$here/report.pl" "$WORK/params" "$RESULTS" "$OUT" || return 1
	log "bench: done in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; $OUT/results.md"
}

main
