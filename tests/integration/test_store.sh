#!/usr/bin/env bash
# test_store.sh — tag files stored in the kernel's page cache ahead of a
# reader that scans a directory: after a walk, `grep -r` costs a few READs
# a directory instead of one a file, and every byte read is the tag's; a
# reader of two files stores one batch at most; `-s` stores nothing; and
# nothing stored outlives the bytes it came from: a same-second re-push
# (same size, same mtime) while a scan stores, then a refresh or a refill,
# and the next read shows the new digest; and files stored, never read,
# re-pushed within the second: one cat shows the new bytes after a refresh
# of the directory or the tag, or once the ttl has passed.
# Assertions are the daemon's counters (with wide bounds where the kernel
# and the scheduler decide: a READ may race the store of its file).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

digest() { printf 'sha256:%s' "$(printf "$1%.0s" {1..64})"; }
refresh() { getfattr -n user.imgtagfs.refresh "$1" >/dev/null 2>&1; }
# gen NAME TAGS SEED: an image of TAGS generated tags t0001.., all of one
# second (T), so that a re-push within it changes no size and no mtime.
T=1793491200
gen() { printf '{"name": "%s", "generate": {"tags": %s, "prefix": "t", "width": 4, "start": %s, "step": 0, "seed": %s}}' "$1" "$2" "$T" "$3"; }
cat >"$WORK/reg.json" <<EOF
{"repos": [{"name": "web", "images": [$(gen a 300 1), $(gen b 300 2), $(gen c 300 3), $(gen big 3000 4), $(gen same 1000 5)]}]}
EOF
sim_start --data "$WORK/reg.json" || exit 1
# The files as the simulator holds them: "PATH:LINE" for every line, the
# way `grep -r .` prints them.
expected() { # expected MNT IMAGE...
	local img
	for img in "${@:2}"; do
		curl -fsS "$SIM_URL/tree/?dump" | awk -F'\t' -v m="$1" -v i="$img" '$2 == i {
			if ($5 != "") print m "/web/" i "/" $3 ":digest: " $5
			print m "/web/" i "/" $3 ":updated: " $6 }'
	done | sort
}

# --- a grep -r after a walk: a few READs a directory -------------------------
M=$WORK/m
fs_mount "$M" -o ttl=600 || exit 1
expect_eq "the walk lists every file" 4900 "$(find "$M" -type f | wc -l)"
want=$(curl -fsS "$SIM_URL/tree/?dump" | awk -F'\t' '$2 == "b" && $3 == "t0150" { print $5 }')
r0=$(stat_of "$M" fuse_reads)
expect_eq "grep -rl finds the one tag" "$M/web/b/t0150" "$(grep -rl "$want" "$M/web/a" "$M/web/b" "$M/web/c")"
reads=$(($(stat_of "$M" fuse_reads) - r0))
stored=$(stat_of "$M" store_files)
ok "900 files read with $reads READs (< 450; without storing: 900)" test "$reads" -lt 450
ok "and $stored files stored ahead (>= 450)" test "$stored" -ge 450
ok "a batch per directory at least ($(stat_of "$M" store_batches))" test "$(stat_of "$M" store_batches)" -ge 3
expect_eq "nothing stored was taken back" 0 "$(stat_of "$M" store_files_dropped)"
r0=$(stat_of "$M" fuse_reads)
expected "$M" a b c >"$WORK/want"
grep -r . "$M/web/a" "$M/web/b" "$M/web/c" | sort >"$WORK/got"
ok "every byte stored is the tag's (900 files, grep -r .)" cmp -s "$WORK/want" "$WORK/got"
expect_eq "and read again from the page cache: no READ" "$r0" "$(stat_of "$M" fuse_reads)"

# A reader of two files of a large directory: one batch, PRESTORE_BATCH
# (1024) files at most, those after what it read.
s0=$(($(stat_of "$M" store_files) + $(stat_of "$M" store_files_skipped)))
b0=$(stat_of "$M" store_batches)
cat "$M/web/big/t0001" "$M/web/big/t0002" >/dev/null
ok "two reads of a 3,000-file directory: one batch" wait_until 10 stat_is "$M" store_batches $((b0 + 1))
expect_eq "of 1024 files" 1024 $(($(stat_of "$M" store_files) + $(stat_of "$M" store_files_skipped) - s0))
# The batch starts after t0002, or a few files later when the reader's
# second read came before its first chunk (the reader is left the files
# right after what it read): t1100 is past it either way.
expect_eq "a file past the batch was not stored: its read reaches the daemon" \
	"$(($(stat_of "$M" fuse_reads) + 1))" "$(cat "$M/web/big/t1100" >/dev/null; stat_of "$M" fuse_reads)"
fs_umount "$M"

# --- -s: nothing is stored ---------------------------------------------------
M=$WORK/single
fs_mount "$M" -s -o ttl=600 || exit 1
find "$M/web/a" -type f >/dev/null
grep -rl nothing-like-this "$M/web/a"
expect_eq "-s: no batch" "0 0" "$(stat_of "$M" store_batches) $(stat_of "$M" store_files)"
expect_eq "-s: one READ a file" 300 "$(stat_of "$M" fuse_reads)"
fs_umount "$M"

# --- a re-push of stored files: cat shows the new bytes ----------------------
# Files stored ahead of a reader (never read) are pages like any other: a
# re-push within the same second (same size, same mtime, so the kernel's
# own check cannot see it) drops them once imgtagfs has the new listing,
# whichever way it comes: a refresh of the directory, a refresh of the
# tag, or the listing's ttl running out. Each time, one cat must show the
# new bytes: no retry.
M=$WORK/repush
DIRTOOL=$BUILD/tests/helpers/dirtool
fs_mount "$M" -o ttl=5,lazy,prefetch=0 || exit 1
A=$M/web/a
# stored_scan: a reader of two files of a; waits for its batch.
stored_scan() {
	local b0
	b0=$(stat_of "$M" store_batches)
	cat "$A/t0001" "$A/t0002" >/dev/null
	wait_until 10 stat_is "$M" store_batches $((b0 + 1))
}
# cached FILE: the kernel holds its page (mincore: no READ).
cached() { (($(fincore -n -o PAGES "$1" 2>/dev/null || echo 0) == 1)); }
# stored_through FILE: scans until a batch has stored FILE (a batch gives
# way to the kernel's invalidations after its chunk, and a loaded
# machine may have some queued then; the reader's next read would go on).
stored_through() {
	local i
	for i in 1 2 3 4 5; do
		"$DIRTOOL" uncache "$A/t0001" "$A/t0002"
		stored_scan && cached "$1" && return 0
	done
	return 1
}
# shows_stored FILE: its bytes come from the page cache (no READ).
shows_stored() {
	local r0
	r0=$(stat_of "$M" fuse_reads)
	cat "$1" >/dev/null
	[[ $(stat_of "$M" fuse_reads) == "$r0" ]]
}
find "$A" -type f >/dev/null
ok "a scan of a stores its other files" stored_through "$A/t0250"
ok "t0100, never read, comes from the page cache" shows_stored "$A/t0100"
ok "so does t0200" shows_stored "$A/t0200"
ok "so does t0250" shows_stored "$A/t0250"
sim_ctl "push?repo=web&image=a&tag=t0100&digest=$(digest a)&time=$T"
refresh "$A"
expect_eq "re-pushed, the directory refreshed: cat shows the new digest" "digest: $(digest a)" "$(head -1 "$A/t0100")"
# The refresh made the kernel forget the directory's names: a walk looks
# them up again under the new listing, then a scan stores from it.
find "$A" -type f >/dev/null
ok "a scan stores the new listing's files" stored_through "$A/t0250"
ok "t0200 and t0250 come from the page cache again" shows_stored "$A/t0200" && shows_stored "$A/t0250"
sim_ctl "push?repo=web&image=a&tag=t0250&digest=$(digest c)&time=$T"
ok "t0250 still comes from the page cache (within the ttl)" shows_stored "$A/t0250"
sleep 5.5 # past the ttl of the listing the page was stored from
r0=$(stat_of "$M" fuse_reads)
expect_eq "re-pushed, the ttl past: cat shows the new digest" "digest: $(digest c)" "$(head -1 "$A/t0250")"
ok "read from imgtagfs, not from the stored page" test "$(stat_of "$M" fuse_reads)" -gt "$r0"
ok "a scan stores t0200 from the listing the ttl brought" stored_through "$A/t0200"
ok "t0200 comes from the page cache" shows_stored "$A/t0200"
sim_ctl "push?repo=web&image=a&tag=t0200&digest=$(digest b)&time=$T"
refresh "$A/t0200"
expect_eq "re-pushed, the tag refreshed: cat shows the new digest" "digest: $(digest b)" "$(head -1 "$A/t0200")"
expect_eq "nothing stored was taken back (no listing changed during a batch)" 0 "$(stat_of "$M" store_files_dropped)"
fs_umount "$M"

# --- nothing stored outlives its bytes ---------------------------------------
# Round after round, every tag of "same" is re-pushed within its second
# (same size, same mtime: the kernel's own check cannot see it), and a
# reader scans the directory pass after pass, its pages dropped before
# each (the inodes stay), so that its files are being stored from the old
# listing when the new one comes: by a refresh-ahead (ttl=4; the scan's
# reads bring it), a refresh of the directory or of one tag. The scan
# stops once the daemon lists the new digest, dropping no page after
# that: whichever way the last batches and the new listing crossed, every
# file must then show the new digest, and stay so. (Each interleaving of a
# batch and a change is driven one at a time in tests/unit/test_notify.c.)
M=$WORK/race
fs_mount "$M" -o ttl=4,prefetch=0 || exit 1
S=$M/web/same
DIRTOOL=$BUILD/tests/helpers/dirtool
find "$S" -type f >/dev/null
push_all() { # push_all DIGEST: all 1,000 tags, one request each, 16 at once
	local i
	for i in $(seq -w 1 1000); do
		printf 'url = "%s/_sim/push?repo=web&image=same&tag=t%04d&digest=%s&time=%s"\noutput = "/dev/null"\n' \
			"$SIM_URL" "$((10#$i))" "$1" "$T"
	done | curl -fsS -X POST --parallel --parallel-max 16 -K - 2>"$WORK/push.err"
}
listed() { [[ $(getfattr --only-values -n user.imgtagfs.digest "$S/t0999" 2>/dev/null) == "$1" ]]; }
scan_until_listed() { # scan_until_listed DIGEST: passes until the daemon lists it (60 s at most)
	local end=$((SECONDS + 60))
	until listed "$1" || ((SECONDS > end)); do
		"$DIRTOOL" uncache "$S"/*
		grep -r . "$S" >/dev/null
	done
}
# A refresh-ahead's fetch takes a few round trips, so that the new
# listing lands while the pass that asked for it is being read.
sim_ctl "config?latency_ms=30"
stale=0 ahead0=$(stat_of "$M" cache_refreshes_ahead)
for round in 1 2 3 4 5 6 7 8 9; do
	d=$(digest "$round")
	push_all "$d"
	case $round in
	3) scan_until_listed "$d" & g=$! && refresh "$S" ;;
	6) scan_until_listed "$d" & g=$! && refresh "$S/t0700" ;;
	*) scan_until_listed "$d" & g=$! ;;
	esac
	wait "$g"
	if ! wait_until 10 bash -c "! grep -rL '$d' '$S' | grep -q ."; then
		stale=$((stale + 1))
		echo "round $round: files still showing an old digest: $(grep -rL "$d" "$S" | head -3 | tr '\n' ' ')" >&2
	fi
done
expect_eq "every round: the new digest in every file, never an old one stored" 0 "$stale"
ok "refreshes ahead brought new listings ($(($(stat_of "$M" cache_refreshes_ahead) - ahead0)))" \
	test "$(($(stat_of "$M" cache_refreshes_ahead) - ahead0))" -ge 7
ok "stores ran meanwhile ($(stat_of "$M" store_files) files, $(stat_of "$M" store_files_dropped) taken back)" \
	test "$(stat_of "$M" store_files)" -gt 0
fs_umount "$M"

summary
