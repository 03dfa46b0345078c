# lib.sh — shared by the integration tests and the demo: start uhub-sim,
# mount imgtagfs against it, query the simulator's counters, assert, and
# always clean up (trap), even when a test fails half-way.
#
# Use: source it, then sim_start [sim options]; fs_mount MNT [-o opts];
# checks with ok/expect_eq; finish with summary.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# B is the build directory (make passes it; SANITIZE builds may use another).
BUILD=$(cd "$top" && realpath -m "${B:-build}")
SIM_BIN=${SIM_BIN:-$BUILD/uhub-sim}
FS_BIN=${FS_BIN:-$BUILD/imgtagfs}
TEST_PUB="ucloudsomeone@example.com1296235120854146120"
TEST_PRIV="46f09bb9fab4f12dfc160dae12273d5332b5debe"
WORK=$(mktemp -d /tmp/imgtagfs-test.XXXXXX)
PASS=0
FAIL=0
MOUNTS=()
PIDS=()

# Runs on every exit; it must not fail itself (callers may use set -e).
cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do
		if mountpoint -q "$m" 2>/dev/null; then
			fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		fi
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_fuse() {
	if [[ ! -c /dev/fuse ]]; then
		echo "SKIP: /dev/fuse is missing: no FUSE mount possible here"
		echo "0 passed, 0 failed, 1 skipped"
		exit 0
	fi
}

# sim_start [options...]: starts uhub-sim on a free loopback port; sets
# SIM_URL and SIM_PID.
sim_start() {
	local out="$WORK/sim.out" i
	# Emptied here, not by the background job's redirection: that runs in
	# the child, maybe after the loop below read the last simulator's line.
	: >"$out"
	"$SIM_BIN" --port 0 "$@" >"$out" 2>"$WORK/sim.err" &
	SIM_PID=$!
	PIDS+=("$SIM_PID")
	for i in $(seq 600); do # 30 s: a loaded machine
		SIM_URL=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$out")
		[[ -n $SIM_URL ]] && return 0
		kill -0 "$SIM_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "uhub-sim did not start:" >&2
	cat "$WORK/sim.err" >&2
	return 1
}

sim_stop() {
	kill "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	return 0
}

# sim_count ACTION [repo [image [tag]]]: API requests the sim received.
sim_count() {
	local q="action=$1"
	[[ -n ${2:-} ]] && q+="&repo=$2"
	[[ -n ${3:-} ]] && q+="&image=$3"
	[[ -n ${4:-} ]] && q+="&tag=$4"
	curl -fsS "$SIM_URL/_sim/count?$q"
}

# wait_quiet: until the simulator has seen no request for half a second
# (background prefetching has finished); bounded to 30 s.
wait_quiet() {
	local a b i
	for i in $(seq 60); do
		a=$(sim_count '*')
		sleep 0.5
		b=$(sim_count '*')
		[[ $a == "$b" ]] && return 0
	done
}

# pages N SIZE: the page requests a listing of N items costs when the
# server answers SIZE a page: pages after the first overlap the page
# before by one item, so that a list that moves while it is paged is seen
# to (src/pages.c).
pages() {
	local n=$1 size=$2
	if ((size <= 1 || n <= size)); then
		echo $((size <= 1 ? n : 1))
	else
		echo $((1 + (n - size + size - 2) / (size - 1)))
	fi
}

# wait_until SECONDS COMMAND...: polls COMMAND (every 50 ms) until it
# succeeds; fails when SECONDS pass first. For an event (a counter, a log
# line, a file), with a generous bound, instead of a fixed sleep.
wait_until() {
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
}

# stat_of MNT NAME: the daemon's counter NAME (user.imgtagfs.stats).
stat_of() { getfattr --only-values -n user.imgtagfs.stats "$1" 2>/dev/null | sed -n "s/^$2: //p"; }
# stat_is MNT NAME VALUE: whether it is VALUE now (for wait_until).
stat_is() { [[ $(stat_of "$1" "$2") == "$3" ]]; }

# fs_hup: SIGHUP to the daemon ($FS_PID), then waits (60 s at most) until
# it logs the flush done. Fails when it does not.
hup_count() { grep -c "SIGHUP: dropped every cached listing" "${FS_LOG:-$WORK/fs.log}" 2>/dev/null || true; }
hup_logged() { (($(hup_count) > $1)); }
fs_hup() {
	local n
	n=$(hup_count)
	kill -HUP "$FS_PID"
	wait_until 60 hup_logged "${n:-0}"
}

sim_ctl() { # sim_ctl PATH?QUERY  (POST)
	curl -fsS -X POST "$SIM_URL/_sim/$1" >/dev/null
}

# write_creds FILE [pub priv]: a 0600 credentials file in the simple format.
write_creds() {
	(umask 077 && printf 'public_key=%s\nprivate_key=%s\n' "${2:-$TEST_PUB}" "${3:-$TEST_PRIV}" >"$1")
}

# fs_mount MNT [imgtagfs options...]: mounts in the foreground, in the
# background, and waits until the mount is there. SOURCE is $FS_SOURCE
# (default uhub). With FS_KEYS=env no credentials= is given (the keys come
# from the environment the caller exported). Returns imgtagfs's status if
# it exits instead.
fs_mount() {
	local mnt=$1 i keys=",credentials=$WORK/creds"
	shift
	mkdir -p "$mnt"
	if [[ ${FS_KEYS:-} == env ]]; then
		keys=
	else
		[[ -f $WORK/creds ]] || write_creds "$WORK/creds"
	fi
	# A background job of a script starts with SIGINT ignored, and libfuse
	# leaves an ignored signal alone: restore it, as a terminal would have.
	perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die' -- ${FS_WRAP:-} \
		"$FS_BIN" "${FS_SOURCE:-uhub}" "$mnt" -f -o "endpoint=$SIM_URL$keys" "$@" \
		2>>"${FS_LOG:-$WORK/fs.log}" &
	FS_PID=$!
	PIDS+=("$FS_PID")
	MOUNTS+=("$mnt")
	for i in $(seq "${MOUNT_WAIT:-600}"); do # 30 s by default: a loaded machine
		mountpoint -q "$mnt" && return 0
		if ! kill -0 "$FS_PID" 2>/dev/null; then
			wait "$FS_PID"
			return $?
		fi
		sleep 0.05
	done
	echo "imgtagfs did not mount $mnt" >&2
	return 1
}

fs_umount() {
	fusermount3 -u "$1"
	wait "$FS_PID" 2>/dev/null
	return 0
}

ok() { # ok DESCRIPTION COMMAND...: the command must succeed
	local d=$1
	shift
	if "$@"; then
		PASS=$((PASS + 1))
	else
		FAIL=$((FAIL + 1))
		echo "FAIL: $d" >&2
	fi
}

expect_eq() { # expect_eq DESCRIPTION WANT GOT
	if [[ "$2" == "$3" ]]; then
		PASS=$((PASS + 1))
	else
		FAIL=$((FAIL + 1))
		echo "FAIL: $1: want [$2], got [$3]" >&2
	fi
}

# Sanitizer reports from the daemon or the simulator fail the suite:
# AddressSanitizer, LeakSanitizer, UBSan and ThreadSanitizer (whose reports
# are warnings, and whose exit status 66 would otherwise go unexplained).
SAN_REPORT='ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|ThreadSanitizer: |runtime error:'
sanitizer_check() {
	local f
	for f in "$WORK"/*.log "$WORK/sim.err"; do
		[[ -f $f ]] || continue
		if grep -qE "$SAN_REPORT" "$f"; then
			FAIL=$((FAIL + 1))
			echo "FAIL: sanitizer report in $(basename "$f"):" >&2
			grep -E -A12 "$SAN_REPORT" "$f" | head -60 >&2
		fi
	done
}

# No key and no signature may reach any log of any suite.
secrets_check() {
	local f
	for f in "$WORK"/*.log "$WORK/sim.err" "$WORK/sim.out"; do
		[[ -f $f ]] || continue
		if grep -qE -e "$TEST_PRIV" -e 'Signature=' "$f"; then
			FAIL=$((FAIL + 1))
			echo "FAIL: a private key or a signature in $(basename "$f")" >&2
		fi
	done
}

# redis_start [redis-server options...]: a redis-server of our own on a
# unix socket in $WORK (no TCP unless the options ask), no persistence,
# with the config file $REDIS_CONF first if set;
# sets REDIS_SOCK and REDIS_PID. rcli runs redis-cli against it.
redis_start() {
	REDIS_SOCK=${REDIS_SOCK:-$WORK/redis.sock}
	redis-server ${REDIS_CONF:-} --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 --save '' --appendonly no \
		--dir "$WORK" "$@" >>"$WORK/redis.out" 2>&1 &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	local i
	for i in $(seq 600); do # 30 s: a loaded machine
		[[ $(rcli ping 2>/dev/null) == PONG || $(rcli ping 2>&1) == *NOAUTH* ]] && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "redis-server did not start:" >&2
	cat "$WORK/redis.out" >&2
	return 1
}
rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
# free_port: a loopback TCP port free now, from the kernel.
free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'; }
redis_stop() {
	kill -CONT "$REDIS_PID" 2>/dev/null
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	return 0
}
need_redis() {
	if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
		echo "SKIP: redis-server or redis-cli missing (make deps installs redis-server)"
		echo "0 passed, 0 failed, 1 skipped"
		exit 0
	fi
}

summary() {
	sanitizer_check
	secrets_check
	echo "$(basename "$0" .sh): $PASS passed, $FAIL failed"
	((FAIL == 0))
}
