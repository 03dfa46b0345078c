# lib.sh — the benchmark's plumbing, sourced by run.sh: simulators, the
# contenders' mounts, timed runs under a timeout, the simulator's counters,
# and a cleanup (trap) that unmounts every mount and stops every process
# the benchmark started, by its id, even after a failure or Ctrl-C.

BENCH_PUB="ucloudsomeone@example.com1296235120854146120"
BENCH_PRIV="46f09bb9fab4f12dfc160dae12273d5332b5debe"
WORK=$(mktemp -d /tmp/imgtagfs-bench.XXXXXX)
MOUNTS=() # every mount point the benchmark made, tmpfs included
PIDS=()   # every process it started and has not reaped yet

log() { printf '%s\n' "$*" >&2; }

forget_pid() {
	local keep=() p
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || keep+=("$p")
	done
	PIDS=("${keep[@]}")
}

# unmount MNT: politely, then lazily; quiet when it is not mounted.
unmount() {
	mountpoint -q "$1" 2>/dev/null || return 0
	fusermount3 -u "$1" 2>/dev/null || umount "$1" 2>/dev/null ||
		fusermount3 -uz "$1" 2>/dev/null || umount -l "$1" 2>/dev/null
}

# stop PID: waits up to 5 s for it to end by itself (after an unmount),
# then SIGTERM, then SIGKILL; reaps it.
stop() {
	local pid=$1 i
	for i in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		sleep 0.5
		kill -9 "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	forget_pid "$pid"
}

cleanup() {
	local i p
	trap - EXIT INT TERM
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		unmount "${MOUNTS[i]}"
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log "bench: interrupted"; exit 130' INT TERM

# sim_start VAR [uhub-sim options...]: a simulator on a free loopback port;
# its URL in $VAR, its pid in ${VAR}_PID.
sim_start() {
	local var=$1 out="$WORK/$1.out" i url pid
	shift
	: >"$out" # else the loop below may read a previous simulator's port
	"$SIM_BIN" --port 0 "$@" >"$out" 2>"$WORK/$var.err" &
	pid=$!
	PIDS+=("$pid")
	for i in $(seq 600); do
		url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$out")
		[[ -n $url ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if [[ -z $url ]]; then
		log "bench: uhub-sim did not start:"
		cat "$WORK/$var.err" >&2
		return 1
	fi
	printf -v "$var" '%s' "$url"
	printf -v "${var}_PID" '%s' "$pid"
}

sim_reset() { curl -fsS -X POST "$1/_sim/reset" >/dev/null; }
# The per-action counters as one JSON object: {"GetImageTag":12,"tree":3}.
sim_stats() { curl -fsS "$1/_sim/stats" | tr -d '\n'; }

# fs_up KIND URL MNT: mounts a FUSE contender in the foreground, in the
# background; FS_PID is its daemon. 1 if it did not come up.
fs_up() {
	local kind=$1 url=$2 mnt=$3 i
	mkdir -p "$mnt"
	case $kind in
	imgtagfs | baseline)
		"$([[ $kind == baseline ]] && echo "$BASE_BIN" || echo "$FS_BIN")" uhub "$mnt" -f \
			-o "endpoint=$url,credentials=$WORK/creds" \
			-o "page_size=$PAGE_SIZE,max_requests=$MAXREQ,ttl=$TTL${FS_EXTRA:+,$FS_EXTRA}" 2>>"$WORK/imgtagfs.log" &
		;;
	httpdirfs)
		httpdirfs -f "$url/tree/" "$mnt" >>"$WORK/httpdirfs.log" 2>&1 &
		;;
	rclone)
		rclone mount :http: "$mnt" --config "$WORK/rclone.conf" --http-url "$url/tree/" --read-only \
			--vfs-cache-mode off --dir-cache-time "${TTL}s" --log-level ERROR >>"$WORK/rclone.log" 2>&1 &
		;;
	esac
	FS_PID=$!
	PIDS+=("$FS_PID")
	MOUNTS+=("$mnt")
	for i in $(seq 600); do
		if mountpoint -q "$mnt"; then
			settle "$url"
			return 0
		fi
		kill -0 "$FS_PID" 2>/dev/null || break
		sleep 0.05
	done
	log "bench: $kind did not mount (log in $WORK/$kind.log):"
	tail -5 "$WORK/$kind.log" >&2
	fs_down "$mnt"
	return 1
}

# settle URL: waits (up to 10 s) until URL has had no request for 0.2 s:
# a contender's start-up work (imgtagfs's warm-up listings) is part of
# mounting, not of the first measurement.
settle() {
	local before after i
	after=$(sim_stats "$1")
	for i in $(seq 50); do
		before=$after
		sleep 0.2
		after=$(sim_stats "$1")
		[[ $after == "$before" ]] && return 0
	done
}

fs_down() {
	unmount "$1"
	stop "$FS_PID"
}

# Cold caches: the page, dentry and inode caches, where this is permitted.
drop_caches() {
	if echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
		DROPPED=yes
	else
		DROPPED=no
	fi
}

# timed OUT CMD...: runs CMD, stdout to OUT, under the per-run timeout.
# T: seconds taken; ST: ok, timeout or fail.
timed() {
	local out=$1 t0 t1 rc
	shift
	t0=$EPOCHREALTIME
	timeout -k 5 "$TIMEOUT" "$@" >"$out" 2>>"$WORK/cmd.err"
	rc=$?
	t1=$EPOCHREALTIME
	T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
	case $rc in
	0) ST=ok ;;
	124 | 137) ST=timeout ;;
	*) ST=fail ;;
	esac
}

# measure W CONTENDER REP URL WANT CMD...: zeroes URL's counters, times
# CMD, checks its output has WANT lines (empty: anything) and, when
# CMP_WITH names a file, that its first CMP_LINES lines are that file's;
# appends a row to $RESULTS: W CONTENDER REP SECONDS STATUS LINES COUNTERS.
measure() {
	local w=$1 c=$2 rep=$3 url=$4 want=$5 lines n=${CMP_LINES:-1000000}
	shift 5
	sim_reset "$url"
	timed "$WORK/out" "$@"
	lines=$(wc -l <"$WORK/out")
	if [[ $ST == ok && -n $want && $lines != "$want" ]]; then
		ST=wrong
		log "bench: $w $c: $lines lines of output, expected $want"
	fi
	if [[ $ST == ok && -n ${CMP_WITH:-} ]] && ! cmp -s <(head -n "$n" "$WORK/out") <(head -n "$n" "$CMP_WITH"); then
		ST=wrong
		log "bench: $w $c: the output differs from $CMP_WITH"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$c" "$rep" "$T" "$ST" "$lines" "$(sim_stats "$url")" >>"$RESULTS"
	log "  $w $c #$rep: $T s $ST ($lines lines) $(sim_stats "$url")"
}

# again CONTENDER: whether to run another repetition after the one just
# measured: not after a failure, nor, for the peers and the naive script,
# after a run slower than $SLOW seconds (their medians would cost minutes
# and say nothing more); imgtagfs and tmpfs always get their medians.
again() {
	[[ $ST == ok ]] || return 1
	[[ $1 == imgtagfs || $1 == baseline || $1 == tmpfs ]] && return 0
	awk -v t="$T" -v s="$SLOW" 'BEGIN { exit !(t <= s) }'
}

# meminfo FIELD: /proc/meminfo's FIELD in bytes.
meminfo() { awk -v f="$1:" '$1 == f { print $2 * 1024 }' /proc/meminfo; }

# The daemon's resident set in bytes.
rss_bytes() {
	awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status" 2>/dev/null
}
