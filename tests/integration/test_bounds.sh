#!/usr/bin/env bash
# test_bounds.sh — "never lie, never hang": what a hostile
# server can no longer do to the daemon. Each case asserts the outcome
# (errno, or the true listing), the API requests the simulator saw, and the
# daemon's peak memory (VmHWM, reset before each case), with margins:
#   late TotalCount  a later page says 10^10 or 10^12: the listing is true,
#                    memory flat (was 1.5 GiB for 10^10)
#   trickle          one item per page after a full first page: EIO after
#                    2 x ceil(TotalCount / first page) + 10 requests, one
#                    log line (was a call per item)
#   listing bytes    a listing bigger than cache_size: EFBIG after the page
#                    that crossed it, one log line
#   parse memory     a reply of [0,0,...]: refused before parsing (over the
#                    page-size cap: EFBIG; under it, too many values: EIO)
#   escmsg           a Message with escape sequences reaches --check and a
#                    failed mount as \xNN text
#   localhost.       is not a loopback endpoint (plain http refused)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

TAGS=2000
PAGE=100
BUDGET=$((2 * ((TAGS + PAGE - 1) / PAGE) + 10))
sim_start --gen "repos=1,images=12,tags=$TAGS,nested=0" --seed 13 || exit 1

# The peak memory a daemon may reach in any case here: a 2,000-tag listing
# and one page in flight need a few MB; the old code needed 1.5 GiB (late
# TotalCount) and 330 MB (one 8 MB dense reply). ASan's and TSan's shadow and
# quarantine need more.
HWM_LIMIT_KB=$((64 * 1024))
grep -qaE "__(a|t)san_init" "$FS_BIN" && HWM_LIMIT_KB=$((512 * 1024)) # ASan and TSan shadow memory

note() { echo "  $*"; } # a measured figure, for the issue notes
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Resets the peak to the current RSS (Linux >= 4.0), so each case measures
# its own.
hwm_reset() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || true; }
fault() { sim_ctl "fault?$1"; }
clear_faults() { sim_ctl "fault?kind=clear"; }
config() { sim_ctl "config?$1"; }

# run CMD...: sets RC, MS, OUT (stdout file) and ERR (stderr text); a hang
# is a failure, not a stuck suite.
run() {
	local t0
	OUT=$WORK/o
	t0=$(now_ms)
	timeout 60 "$@" >"$OUT" 2>"$WORK/run.err"
	RC=$?
	MS=$(($(now_ms) - t0))
	ERR=$(<"$WORK/run.err")
}

mount_as() { # mount_as VAR MNT OPTS
	fs_mount "$2" -o "$3" || {
		echo "FAIL: mount $2 -o $3" >&2
		exit 1
	}
	printf -v "$1" %s "$FS_PID"
}

# expect_hwm DESC PID: the daemon's peak since hwm_reset is under the limit.
expect_hwm() {
	local kb
	kb=$(hwm_kb "$2")
	ok "$1: peak RSS under $((HWM_LIMIT_KB / 1024)) MB (${kb} kB)" test "$kb" -gt 0 -a "$kb" -lt "$HWM_LIMIT_KB"
	note "$1: peak RSS $kb kB"
}

log_lines() { grep -c -- "$1" "$WORK/fs.log"; }

M=$WORK/m
mount_as P "$M" "ttl=60,prefetch=0,page_size=$PAGE,max_requests=8,retries=1,timeout=5"
ls "$M/repo-00" >/dev/null

# ---- a later page's TotalCount ------------------------------------------------

test_late_total() {
	local total img=$1 n
	total=$2
	clear_faults
	sim_ctl reset
	config "late_total=$total"
	hwm_reset "$P"
	run ls "$M/repo-00/$img"
	config "late_total=0"
	expect_eq "late TotalCount $total: the listing is true" "0 $TAGS" "$RC $(wc -l <"$OUT")"
	n=$(sim_count GetImageTag repo-00 "$img")
	ok "late TotalCount $total: $n requests, within the budget of $BUDGET" test "$n" -le "$BUDGET"
	expect_hwm "late TotalCount $total" "$P"
	note "late TotalCount $total: $n requests in $MS ms"
}

# ---- one item per page after the first -----------------------------------------

test_trickle() {
	local n before
	clear_faults
	sim_ctl reset
	before=$(log_lines 'listing repo-00/img-02 failed')
	config "trickle=1"
	hwm_reset "$P"
	run ls "$M/repo-00/img-02"
	config "trickle=0"
	n=$(sim_count GetImageTag repo-00 img-02)
	ok "trickle: fails (rc $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
	ok "trickle: Input/output error (got: $ERR)" grep -qF "Input/output error" <<<"$ERR"
	expect_eq "trickle: exactly the budget, 2 x ceil($TAGS / $PAGE) + 10 requests" "$BUDGET" "$n"
	expect_eq "trickle: one log line" 1 $(($(log_lines 'listing repo-00/img-02 failed') - before))
	note "trickle: $n requests (was $((TAGS - PAGE + 1))), $MS ms; $(grep 'listing repo-00/img-02 failed' "$WORK/fs.log" | tail -1)"
	run ls "$M/repo-00/img-02"
	expect_eq "trickle: the next ls, honest pages, works" "0 $TAGS" "$RC $(wc -l <"$OUT")"
}

# ---- the bytes one listing may hold: cache_size ----------------------------------

test_listing_bytes() {
	local MB_=$WORK/mb PB n before
	mount_as PB "$MB_" "ttl=60,prefetch=0,page_size=1000,cache_size=1M,retries=1,timeout=5"
	ls "$MB_/repo-00" >/dev/null
	clear_faults
	sim_ctl reset
	config "pad_bytes=4096"
	before=$(log_lines 'listing repo-00/img-03 failed')
	hwm_reset "$PB"
	run ls "$MB_/repo-00/img-03"
	config "pad_bytes=0"
	n=$(sim_count GetImageTag repo-00 img-03)
	ok "listing over cache_size=1M (2,000 tags of 4 KiB): fails (rc $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
	ok "listing over cache_size: File too large (got: $ERR)" grep -qF "File too large" <<<"$ERR"
	expect_eq "listing over cache_size: stops at the first page over it" 1 "$n"
	expect_eq "listing over cache_size: one log line" 1 $(($(log_lines 'listing repo-00/img-03 failed') - before))
	expect_hwm "listing over cache_size" "$PB"
	note "listing over cache_size: $n request, $MS ms; $(grep 'listing repo-00/img-03 failed' "$WORK/fs.log" | tail -1)"
	run ls "$MB_/repo-00/img-03"
	expect_eq "listing over cache_size: small tags fit" "0 $TAGS" "$RC $(wc -l <"$OUT")"
	fs_umount "$MB_"
}

# ---- parse memory per request -----------------------------------------------------

# dense BYTES IMAGE WANT_ERRNO_TEXT: the first page is BYTES of [0,0,...].
dense_case() {
	local n
	clear_faults
	sim_ctl reset
	fault "kind=dense&bytes=$1&action=GetImageTag"
	hwm_reset "$P"
	run ls "$M/repo-00/$2"
	clear_faults
	n=$(sim_count GetImageTag repo-00 "$2")
	ok "dense reply of $1 bytes: fails (rc $RC)" test "$RC" -ne 0 -a "$RC" -ne 124
	ok "dense reply of $1 bytes: $3 (got: $ERR)" grep -qF "$3" <<<"$ERR"
	expect_eq "dense reply of $1 bytes: not retried" 1 "$n"
	expect_hwm "dense reply of $1 bytes" "$P"
}

test_parse_memory() {
	local i pids=() n
	# Over page_size 100's reply cap (64 KiB + 100 x 16 KiB), under 8 MiB.
	dense_case 8000000 img-04 "File too large"
	# Under the reply cap, over its 6,656 values.
	dense_case 1500000 img-05 "Input/output error"
	# Eight listings at once, every page dense: each refused alone.
	clear_faults
	sim_ctl reset
	fault "kind=dense&bytes=1500000&action=GetImageTag"
	hwm_reset "$P"
	for i in 06 07 08 09 10 11; do
		timeout 60 ls "$M/repo-00/img-$i" >/dev/null 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	clear_faults
	expect_hwm "six dense listings at once" "$P"
	run ls "$M/repo-00/img-06"
	expect_eq "dense: the next ls works" "0 $TAGS" "$RC $(wc -l <"$OUT")"
}

# ---- the server's Message reaches terminals as text --------------------------------

test_escmsg() {
	local out
	clear_faults
	fault "kind=escmsg&action=GetRepo"
	out=$("$FS_BIN" --check uhub -o "credentials=$WORK/creds,endpoint=$SIM_URL" 2>&1)
	expect_eq "escmsg: --check fails" 1 "$?"
	ok "escmsg: --check sends no control byte but newlines" \
		test -z "$(tr -d '\n' <<<"$out" | LC_ALL=C tr -d '\040-\176')"
	ok "escmsg: --check shows the escape as text" grep -qF 'Error\x1b[2J\x1b]0;owned\x07\x0d\x0aimgtagfs: mounted' <<<"$out"
	ok "escmsg: no forged line" test -z "$(grep '^imgtagfs: mounted' <<<"$out")"
	out=$("$FS_BIN" uhub "$WORK/e" -o "credentials=$WORK/creds,endpoint=$SIM_URL" 2>&1)
	ok "escmsg: the mount fails" test $? -ne 0
	ok "escmsg: its reason sends no control byte" test -z "$(tr -d '\n' <<<"$out" | LC_ALL=C tr -d '\040-\176')"
	ok "escmsg: its reason shows the escape as text" grep -qF 'cannot mount uhub: RetCode 171: Signature VerifyAC Error\x1b[2J' <<<"$out"
	clear_faults
	note "escmsg: $(grep 'signed call' <<<"$out" || head -1 <<<"$out")"
}

# ---- localhost. is not loopback ------------------------------------------------------

test_localhost_dot() {
	local port=${SIM_URL##*:} out
	port=${port%/}
	out=$("$FS_BIN" --check uhub -o "credentials=$WORK/creds,endpoint=http://localhost.:$port/" 2>&1)
	ok "endpoint http://localhost.:PORT: refused" test $? -ne 0
	ok "endpoint http://localhost.: plain http only to a loopback address (got: $out)" \
		grep -qF "must be https://, or http:// to a loopback address" <<<"$out"
	out=$("$FS_BIN" --check uhub -o "credentials=$WORK/creds,endpoint=http://localhost:$port/" 2>&1)
	expect_eq "endpoint http://localhost:PORT: works" 0 "$?"
}

test_late_total img-00 10000000000
test_late_total img-01 1000000000000
test_trickle
test_listing_bytes
test_parse_memory
test_escmsg
test_localhost_dot

fusermount3 -u "$M" 2>/dev/null
timeout 10 tail --pid="$P" -f /dev/null
wait "$P"
expect_eq "the daemon exits 0 at unmount" 0 "$?"
summary
