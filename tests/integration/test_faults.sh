#!/usr/bin/env bash
# test_faults.sh — imgtagfs on a bad day: every fault uhub-sim can inject,
# at the start of a listing, in the middle of paging and during a refresh.
# Each case asserts the outcome (success after retries for a transient
# fault, else the documented errno), the time it took against its bound,
# the API requests the simulator saw (the retries), and recovery: the
# daemon is alive and the next healthy request works.
#
# Mounts, all against one simulator whose server caps Limit at 10 (so a
# 30-tag image is a 3-page listing), prefetch off so the call counts are
# exact:
#   A  retries=2, timeout=2, ttl=60   transient faults are survived
#   B  retries=1, timeout=1, ttl=60   persistent faults fail, in bounded time
#   C  retries=1, timeout=1, ttl=1, max_stale=0   faults during a refresh
#   S  ttl=1, max_stale=3             stale-if-error (test_stale_*)
#   R  max_rps=5                      the request rate limit (test_rps_*)
#   T  retries=10                     RetCode 153 on half the requests
# The checks of stale-if-error (-o max_stale) are in test_stale_*, those of
# -o max_rps in test_rps_*. A persistent fault ends in EIO, except RetCode
# 110 and a hung request (ETIMEDOUT), a dropped or truncated reply
# (ECONNRESET) and a reply over the 64 MiB cap (EFBIG, not retried).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

TAGS=30
IMAGES=40
CAP=10 # the server's cap on Limit: listings are pages of 10
PAGES=$(pages "$TAGS" "$CAP")
TRANSIENT=(http500 http502 http503 http429 ret110 ret130 ret150 ret153 ret2000 drop truncate notjson)
# The errno (as strerror text) a persistent fault ends in.
declare -A EMSG=(
	[http500]="Input/output error" [http502]="Input/output error" [http503]="Input/output error"
	[http429]="Input/output error" [ret110]="Connection timed out" [ret130]="Input/output error"
	[ret150]="Input/output error" [ret153]="Input/output error" [ret2000]="Input/output error"
	[drop]="Connection reset by peer" [truncate]="Connection reset by peer" [notjson]="Input/output error"
	[hang]="Connection timed out" [oversized]="File too large"
)
# Longest single backoff of a first retry (throttled: 4 x 200 ms) and the
# sum of the first two (200 + 400 ms, throttled 800 + 1600 ms).
BACKOFF1_MS=800
BACKOFF2_MS=2400

sim_start --gen "repos=2,images=$IMAGES,tags=$TAGS,nested=0" --max-limit "$CAP" --seed 7 || exit 1

# ---- helpers ---------------------------------------------------------------

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# run OUTFILE CMD...: runs CMD (bounded by `timeout 30`, so a hang is a
# failure, not a stuck suite); sets RC, MS (elapsed), OUT (stdout file) and
# ERR (stderr text).
run() {
	local t0
	OUT=$1
	shift
	t0=$(now_ms)
	timeout 30 "$@" >"$OUT" 2>"$WORK/run.err"
	RC=$?
	MS=$(($(now_ms) - t0))
	ERR=$(<"$WORK/run.err")
}

alive() { kill -0 "$1" 2>/dev/null; }

note() { echo "  $*"; } # a measured figure, for the issue notes

fault() { sim_ctl "fault?$1"; }
clear_faults() { sim_ctl "fault?kind=clear"; }

# expect_ok_listing DESC N: the last run listed N names and succeeded.
expect_ok_listing() {
	expect_eq "$1: succeeds" "0 " "$RC $ERR"
	expect_eq "$1: lists every tag" "$2" "$(wc -l <"$OUT")"
}

# expect_fail DESC KIND BOUND_MS: the last run failed with KIND's errno
# within BOUND_MS.
expect_fail() {
	ok "$1: fails" test "$RC" -ne 0 -a "$RC" -ne 124
	ok "$1: errno is '${EMSG[$2]}' (got: $ERR)" grep -qF "${EMSG[$2]}" <<<"$ERR"
	ok "$1: ends within ${3} ms (took $MS ms)" test "$MS" -lt "$3"
}

# expect_count DESC WANT GOT KIND: the simulator's request count. A dropped
# connection may cost one more request per attempt: libcurl resends once
# by itself when a reused connection closes without a reply.
expect_count() {
	if [[ $4 == drop ]]; then
		ok "$1: requests ($3) >= $2" test "$3" -ge "$2" -a "$3" -le $((2 * $2))
	else
		expect_eq "$1: requests" "$2" "$3"
	fi
}

tag_names() { seq -f 'tag-%04g' 0 $((TAGS - 1)); }

# sim_tags REPO IMAGE: the tag names the simulator holds now, asked of its
# API directly (signed with the test key; server cap lifted meanwhile).
sim_tags() {
	local q
	q=$("$SIM_BIN" --sign "$TEST_PRIV" -- Action=GetImageTag "PublicKey=$TEST_PUB" \
		"RepoName=$1" "ImageName=$2" Limit=100000)
	sim_ctl "config?max_limit=0"
	curl -fsS -d "$q" "$SIM_URL/" | jq -r '.TagSet[].TagName' | sort
	sim_ctl "config?max_limit=$CAP"
}

# FAULTS_SHARED=1 (test_faults_shared.sh): every mount goes through the
# shared tier, each with a redis-server of its own so that the
# mounts' call counts stay their own: every fault must end exactly as
# without the tier (no error is shared, no retry is saved or added).
mount_as() { # mount_as VAR MNT OPTS: mounts, sets VAR to the daemon's pid
	local opts=$3
	if [[ ${FAULTS_SHARED:-0} == 1 ]]; then
		REDIS_SOCK=$WORK/redis-$1.sock redis_start || exit 1
		opts+=",shared_cache=unix:$WORK/redis-$1.sock"
	fi
	fs_mount "$2" -o "$opts" || {
		echo "FAIL: mount $2 -o $opts" >&2
		exit 1
	}
	printf -v "$1" %s "$FS_PID"
}

# The daemon's memory ceiling: 200 MB; ASan's shadow and quarantine need
# more, so a sanitized build gets 1 GB.
RSS_LIMIT_KB=204800
grep -qaE "__(a|t)san_init" "$FS_BIN" && RSS_LIMIT_KB=1048576
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

MA=$WORK/a MB=$WORK/b MC=$WORK/c
mount_as PA "$MA" ttl=60,retries=2,timeout=2,prefetch=0
mount_as PB "$MB" ttl=60,retries=1,timeout=1,prefetch=0
mount_as PC "$MC" ttl=1,max_stale=0,retries=1,timeout=1,prefetch=0
BOUND_B=$((2 * 1000 + BACKOFF1_MS + 1000)) # (retries+1) x timeout + backoff + slack

# ---- the root and a repository: faults on GetRepo and GetRepoImage --------

test_faults_parents() {
	clear_faults
	sim_ctl reset
	fault "kind=http502&count=1&action=GetRepo"
	run "$WORK/o" ls "$MA"
	expect_eq "GetRepo http502 x1: root lists" "repo-00 repo-01" "$(xargs <"$OUT")"
	expect_eq "GetRepo http502 x1: one retry" 2 "$(sim_count GetRepo)"

	sim_ctl reset
	fault "kind=ret150&count=2&action=GetRepoImage"
	run "$WORK/o" ls "$MA/repo-00"
	expect_eq "GetRepoImage ret150 x2: repository lists" "0 $IMAGES" "$RC $(wc -l <"$OUT")"
	expect_eq "GetRepoImage ret150 x2: its pages plus two retries" $(($(pages "$IMAGES" "$CAP") + 2)) \
		"$(sim_count GetRepoImage repo-00)"

	fault "kind=liecount&action=GetRepo"
	run "$WORK/o" ls "$MB"
	clear_faults
	expect_eq "GetRepo liecount: exactly the true repositories" "repo-00 repo-01" "$(xargs <"$OUT")"

	sim_ctl reset
	fault "kind=truncate&action=GetRepoImage"
	run "$WORK/o" ls "$MB/repo-00"
	clear_faults
	expect_fail "GetRepoImage truncate (persistent)" truncate "$BOUND_B"
	expect_count "GetRepoImage truncate (persistent)" 2 "$(sim_count GetRepoImage repo-00)" truncate
	ok "GetRepoImage truncate: daemon alive" alive "$PB"
	run "$WORK/o" ls "$MB/repo-00"
	expect_eq "GetRepoImage truncate: next ls works" "0 $IMAGES" "$RC $(wc -l <"$OUT")"
	ls "$MB/repo-01" >/dev/null
}

# ---- faults at the start of a tag listing ----------------------------------

# start_case KIND IMAGE: K=2 of KIND on mount A (retries=2) is survived;
# persistent KIND on mount B (retries=1) fails with its errno in bound, and
# B recovers once the fault is gone.
start_case() {
	local k=$1 d=repo-00/$2 min=200

	# Two backoffs of at least 100 ms each; a dropped connection may be
	# resent by libcurl itself, so two drops may cost only one backoff.
	[[ $k == drop ]] && min=100

	clear_faults
	sim_ctl reset
	fault "kind=$k&count=2&action=GetImageTag"
	run "$WORK/o" ls "$MA/$d"
	expect_ok_listing "start $k x2 (retries=2)" "$TAGS"
	expect_count "start $k x2 (retries=2): the pages plus two retries" $((PAGES + 2)) \
		"$(sim_count GetImageTag repo-00 "$2")" "$k"
	ok "start $k x2: backoff spaces the retries (>= $min ms, took $MS)" test "$MS" -ge "$min"
	ok "start $k x2: within 2 backoffs (took $MS ms)" test "$MS" -lt $((BACKOFF2_MS + 1000))
	ok "start $k x2: fault used up" test -z "$(curl -fsS "$SIM_URL/_sim/fault")"

	clear_faults
	sim_ctl reset
	fault "kind=$k&action=GetImageTag"
	run "$WORK/o" ls "$MB/$d"
	clear_faults
	expect_fail "start $k (persistent, retries=1)" "$k" "$BOUND_B"
	expect_count "start $k (persistent, retries=1)" 2 "$(sim_count GetImageTag repo-00 "$2")" "$k"
	ok "start $k: daemon alive" alive "$PB"
	run "$WORK/o" ls "$MB/$d"
	expect_ok_listing "start $k: next ls after the fault" "$TAGS"
}

test_faults_start() {
	local i=0 k

	for k in "${TRANSIENT[@]}"; do
		start_case "$k" "$(printf 'img-%02d' $i)"
		i=$((i + 1))
	done
}

# A hung request (5 s) against timeout=1,retries=1: ETIMEDOUT in bound.
test_faults_hang() {
	local d=repo-00/img-12

	clear_faults
	sim_ctl reset
	fault "kind=hang&ms=5000&action=GetImageTag"
	run "$WORK/o" ls "$MB/$d"
	clear_faults
	expect_fail "hang 5 s (timeout=1, retries=1)" hang "$BOUND_B"
	note "hang 5 s, timeout=1, retries=1: failed in $MS ms ($ERR)"
	expect_count "hang: each attempt" 2 "$(sim_count GetImageTag repo-00 img-12)" hang
	ok "hang: daemon alive" alive "$PB"
	run "$WORK/o" ls "$MB/$d"
	expect_ok_listing "hang: next ls works" "$TAGS"
}

# A 70 MiB reply against the 64 MiB cap: refused (no retry: it would be as
# big again), memory stays bounded, the daemon stays up.
test_faults_oversized() {
	local d=repo-00/img-13 rss

	clear_faults
	sim_ctl reset
	fault "kind=oversized&bytes=$((70 << 20))&action=GetImageTag"
	run "$WORK/o" ls "$MB/$d"
	rss=$(rss_kb "$PB")
	clear_faults
	expect_fail "oversized 70 MiB" oversized "$BOUND_B"
	note "oversized 70 MiB: failed in $MS ms, daemon RSS $rss kB ($ERR)"
	expect_eq "oversized: not retried" 1 "$(sim_count GetImageTag repo-00 img-13)"
	ok "oversized: daemon RSS under $((RSS_LIMIT_KB / 1024)) MB (${rss} kB)" test "$rss" -lt "$RSS_LIMIT_KB"
	ok "oversized: daemon alive" alive "$PB"
	run "$WORK/o" ls "$MB/$d"
	expect_ok_listing "oversized: next ls works" "$TAGS"
}

# TotalCount x10: the listing still shows exactly the true tags.
test_faults_liecount() {
	clear_faults
	fault "kind=liecount&action=GetImageTag"
	run "$WORK/o" ls "$MA/repo-00/img-14"
	clear_faults
	expect_eq "liecount: exactly the true tags" "$(tag_names | xargs)" "$(xargs <"$OUT")"
}

# The list changes between pages: the listing completes, no name twice, and
# every name shown is either still in the simulator or one it deleted.
test_faults_shuffle() {
	local now extra

	clear_faults
	fault "kind=shuffle&action=GetImageTag"
	run "$WORK/o" ls "$MA/repo-00/img-15"
	clear_faults
	expect_eq "shuffle: listing completes" "0 " "$RC $ERR"
	expect_eq "shuffle: no duplicate names" "" "$(sort "$OUT" | uniq -d | xargs)"
	now=$(sim_tags repo-00 img-15)
	extra=$(sort "$OUT" | comm -23 - <(sort -u <(echo "$now") <(tag_names)))
	expect_eq "shuffle: every name shown was real" "" "$(xargs <<<"$extra")"
	ok "shuffle: a pushed name (0shuffle-) is shown only if the sim has it" \
		test -z "$(grep '^0shuffle-' "$OUT" | comm -23 - <(echo "$now"))"
	ok "shuffle: most of the listing is there ($(wc -l <"$OUT") names)" test "$(wc -l <"$OUT")" -ge $((TAGS - 5))
}

# ---- faults in the middle of paging ------------------------------------------

# later_pages FAULT MNT REPO IMAGE: lists REPO/IMAGE on MNT with FAULT on
# the pages after the first only (the simulator's later=1: a listing's first
# page is never met, however the requests are timed).
later_pages() {
	local f=$1 mnt=$2 repo=$3 img=$4 t0

	fault "$f&later=1"
	t0=$(now_ms)
	timeout 30 ls "$mnt/$repo/$img" >"$WORK/o" 2>"$WORK/run.err"
	RC=$?
	MS=$(($(now_ms) - t0))
	ERR=$(<"$WORK/run.err")
	OUT=$WORK/o
}

mid_case() {
	local k=$1 img=$2

	clear_faults
	sim_ctl reset
	later_pages "kind=$k&count=2&action=GetImageTag" "$MA" repo-01 "$img"
	clear_faults
	expect_ok_listing "mid-paging $k x2 (retries=2)" "$TAGS"
	expect_eq "mid-paging $k x2: no name twice" "" "$(sort "$OUT" | uniq -d | xargs)"
	local n
	n=$(sim_count GetImageTag repo-01 "$img")
	ok "mid-paging $k x2: $PAGES pages + 2 retries ($n requests)" test "$n" -ge $((PAGES + 2)) -a "$n" -le $((PAGES + 4))

	sim_ctl reset
	later_pages "kind=$k&action=GetImageTag" "$MB" repo-01 "$img"
	clear_faults
	expect_fail "mid-paging $k (persistent, retries=1)" "$k" "$BOUND_B"
	ok "mid-paging $k: daemon alive" alive "$PB"
	run "$WORK/o" ls "$MB/repo-01/$img"
	expect_ok_listing "mid-paging $k: next ls works" "$TAGS"
}

test_faults_mid_paging() {
	local i=0 k

	for k in "${TRANSIENT[@]}"; do
		mid_case "$k" "$(printf 'img-%02d' $i)"
		i=$((i + 1))
	done
	clear_faults
	sim_ctl reset
	later_pages "kind=liecount&action=GetImageTag" "$MA" repo-01 img-12
	clear_faults
	expect_eq "mid-paging liecount: exactly the true tags" "$(tag_names | xargs)" "$(xargs <"$OUT")"
}

# ---- faults during a refresh (ttl=1 expired, max_stale=0) ----------------------

test_faults_refresh() {
	local kinds=(http503 ret110 drop notjson ret2000) i d

	clear_faults
	for i in 20 21 22 23 24 25; do
		ls "$MC/repo-00/img-$i" >/dev/null
	done
	sim_ctl "push?repo=repo-00&image=img-20&tag=fresh&digest=sha256:$(printf 'a%.0s' {1..64})&time=1796000000"
	sleep 1.3 # past ttl and the kernel's 1 s
	sim_ctl reset
	fault "kind=http502&count=1&action=GetImageTag"
	run "$WORK/o" ls "$MC/repo-00/img-20"
	expect_ok_listing "refresh http502 x1 (retries=1)" $((TAGS + 1))
	ok "refresh http502 x1: the refresh shows the pushed tag" grep -qx fresh "$OUT"
	expect_eq "refresh http502 x1: 4 pages plus one retry" 5 "$(sim_count GetImageTag repo-00 img-20)"
	for i in "${!kinds[@]}"; do
		d=repo-00/img-$((21 + i))
		clear_faults
		sim_ctl reset
		fault "kind=${kinds[i]}&action=GetImageTag"
		run "$WORK/o" ls "$MC/$d"
		clear_faults
		expect_fail "refresh ${kinds[i]} (persistent, max_stale=0)" "${kinds[i]}" "$BOUND_B"
		ok "refresh ${kinds[i]}: daemon alive" alive "$PC"
		run "$WORK/o" ls "$MC/$d"
		expect_ok_listing "refresh ${kinds[i]}: next ls works" "$TAGS"
	done
}

# ---- stale-if-error (-o max_stale) ---------------------------------------------

test_stale_if_error() {
	local MS_=$WORK/s d=repo-00/img-30 t0 before want left

	mount_as PS "$MS_" ttl=1,max_stale=3,retries=0,timeout=1,prefetch=0
	clear_faults
	run "$WORK/o" ls "$MS_/$d"
	t0=$(now_ms)
	want=$(xargs <"$OUT")
	before=$(grep -c stale "$WORK/fs.log")
	fault "kind=http503&action=GetImageTag"
	sleep 1.5
	run "$WORK/o" ls "$MS_/$d"
	expect_eq "stale: a failed refresh serves the last listing" "0 $want" "$RC $(xargs <"$OUT")"
	run "$WORK/o" cat "$MS_/$d/tag-0003"
	expect_eq "stale: its files read" "0 2" "$RC $(wc -l <"$OUT")"
	ok "stale: a warning in the log" test "$(grep -c stale "$WORK/fs.log")" -gt "$before"
	note "stale-if-error: $(grep stale "$WORK/fs.log" | tail -1)"
	left=$((t0 + 5000 - $(now_ms)))
	((left > 0)) && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	run "$WORK/o" ls "$MS_/$d"
	expect_fail "stale: past ttl + max_stale" http503 3000
	clear_faults
	run "$WORK/o" ls "$MS_/$d"
	expect_ok_listing "stale: after the fault clears" "$TAGS"
	ok "stale: daemon alive" alive "$PS"
}

# ---- throttling --------------------------------------------------------------

# max_rps=5: 16 parallel cold stats of distinct tags (16 GetImageTag with
# TagName) take >= (16 - 5) / 5 s and the simulator never sees more than
# 5/s plus a burst of 5 in any second.
test_rps_max_rps() {
	local MR=$WORK/r t0 ms i pids=() fails=0 peak

	mount_as PR "$MR" ttl=60,max_rps=5,retries=3,timeout=2,prefetch=0
	clear_faults
	ls "$MR/repo-01" >/dev/null
	sleep 1.2 # let the limiter refill after the parents' listings
	sim_ctl reset
	sim_ctl "log?on=1"
	t0=$(now_ms)
	for i in $(seq 0 15); do
		timeout 30 stat "$MR/repo-01/img-31/$(printf 'tag-%04d' "$i")" >/dev/null 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || fails=$((fails + 1))
	done
	ms=$(($(now_ms) - t0))
	sim_ctl "log?on=0"
	expect_eq "max_rps=5: 16 parallel cold stats succeed" 0 "$fails"
	expect_eq "max_rps=5: one GetImageTag each" 16 "$(sim_count GetImageTag repo-01 img-31)"
	ok "max_rps=5: 16 requests take >= 1.8 s (took $ms ms)" test "$ms" -ge 1800
	note "max_rps=5: 16 parallel cold stats in $ms ms"
	peak=$(grep -E '^[0-9T:-]+Z [A-Z]+ GetImageTag .*ImageName=img-31' "$WORK/sim.err" |
		awk '{print $1}' | uniq -c | sort -rn | awk 'NR == 1 {print $1}')
	ok "max_rps=5: at most 10 requests in any second (peak ${peak:-0})" test "${peak:-0}" -le 10
}

# RetCode 153 on half the requests: every operation still succeeds, by
# retrying with backoff (retries=10: a 1-in-2048 chance per operation).
test_throttle_ret153() {
	local MT=$WORK/t i pids=() fails=0 n

	mount_as PT "$MT" ttl=60,retries=10,timeout=2,prefetch=0
	ls "$MT/repo-01" >/dev/null
	sim_ctl reset
	fault "kind=ret153&rate=0.5&action=GetImageTag"
	for i in $(seq 0 7); do
		timeout 60 stat "$MT/repo-01/img-33/$(printf 'tag-%04d' "$i")" >/dev/null 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || fails=$((fails + 1))
	done
	clear_faults
	n=$(sim_count GetImageTag repo-01 img-33)
	expect_eq "ret153 at 50%: every stat succeeds" 0 "$fails"
	ok "ret153 at 50%: retried ($n requests for 8 stats)" test "$n" -gt 8
	note "ret153 at 50%: 8 stats succeeded with $n requests"
	ok "ret153: daemon alive" alive "$PT"
}

# ---- an unreachable endpoint -------------------------------------------------

test_faults_unreachable() {
	clear_faults
	run "$WORK/o" ls "$MB/repo-00/img-38"
	cat "$MB/repo-00/img-38/tag-0001" >/dev/null
	sim_stop
	run "$WORK/o" ls "$MB/repo-00/img-39"
	ok "unreachable: uncached ls fails" test "$RC" -ne 0 -a "$RC" -ne 124
	ok "unreachable: 'Connection refused' (got: $ERR)" grep -qF "Connection refused" <<<"$ERR"
	ok "unreachable: within bound ($MS ms)" test "$MS" -lt "$BOUND_B"
	note "unreachable endpoint: failed in $MS ms ($ERR)"
	run "$WORK/o" ls "$MB/repo-00/img-38"
	expect_ok_listing "unreachable: a cached directory still lists" "$TAGS"
	run "$WORK/o" cat "$MB/repo-00/img-38/tag-0002"
	expect_eq "unreachable: a cached tag still reads" "0 2" "$RC $(wc -l <"$OUT")"
	ok "unreachable: daemon alive" alive "$PB"
}

# ---- run -------------------------------------------------------------------

test_faults_parents
test_faults_start
test_faults_hang
test_faults_oversized
test_faults_liecount
test_faults_shuffle
test_faults_mid_paging
test_faults_refresh
test_stale_if_error
test_rps_max_rps
test_throttle_ret153
test_faults_unreachable

# Every daemon survived and unmounts cleanly (a sanitized build reports
# its leaks at exit, which summary then finds in the log).
for m in "${MOUNTS[@]}"; do
	fusermount3 -u "$m" 2>/dev/null
done
for p in "$PA" "$PB" "$PC" "${PS:-}" "${PR:-}" "${PT:-}"; do
	[[ -n $p ]] || continue
	timeout 10 tail --pid="$p" -f /dev/null
	wait "$p"
	expect_eq "daemon $p exits 0 at unmount after the faults" 0 "$?"
done
summary
