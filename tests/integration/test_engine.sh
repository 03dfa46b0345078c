#!/usr/bin/env bash
# test_engine.sh — the performance machinery, by request counts (never by
# wall-clock): prefetching below a listed directory costs exactly the
# listings it fetches and makes the walk that follows free; refresh-ahead
# refreshes a listing in use in the background; max_rps bounds the rate.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

sim_start --data "$top/tests/data/test-registry.json"
M=$WORK/m
fs_mount "$M" -o ttl=60 || { echo "FAIL: mount"; exit 1; }

# --- prefetch ----------------------------------------------------------------
ls "$M" >/dev/null
wait_quiet
expect_eq "listing / prefetches each repository's images, once" 2 "$(sim_count GetRepoImage)"
sim_ctl reset
ls "$M/web" >/dev/null
wait_quiet
# web: api 4 tags, team 2, team/app 1, mid 350, big 5000; page 100.
expect_eq "listing a repository prefetches every image's tags: exactly their pages" \
	$((3 + $(pages 350 100) + $(pages 5000 100))) "$(sim_count GetImageTag)"
expect_eq "  api: one page" 1 "$(sim_count GetImageTag web api)"
expect_eq "  big: $(pages 5000 100) pages, not one more" "$(pages 5000 100)" "$(sim_count GetImageTag web big)"
expect_eq "  no single-tag lookups" 0 "$(curl -fsS "$SIM_URL/_sim/count?action=GetImageTag&has_tag=1")"
sim_ctl reset
n=$(find "$M/web" -type f | wc -l)
expect_eq "find sees every tag file" $((4 + 2 + 1 + 350 + 5000)) "$n"
grep -rl "sha256:3f1c" "$M/web" >/dev/null
expect_eq "the walk after the prefetch costs no call" 0 "$(sim_count '*')"
# No-open: after the first open, the kernel opens files without asking us.
cat "$M"/web/mid/* >/dev/null
opens=$(getfattr --only-values -n user.imgtagfs.stats "$M" 2>/dev/null | sed -n 's/^fuse_opens: //p')
ok "350 cats cost at most one open upcall (no_open) [$opens]" test "${opens:-999}" -le 1

# Readdirplus: `ls -l` gets every attribute with the listing, so the
# kernel sends no lookup or getattr per file (fuse_getattrs counts both).
stat_of() { getfattr --only-values -n user.imgtagfs.stats "$M" 2>/dev/null | sed -n "s/^$1: //p"; }
g0=$(stat_of fuse_getattrs)
n=$(ls -l "$M/web/mid" | grep -c '^-')
g1=$(stat_of fuse_getattrs)
expect_eq "ls -l lists every tag" 350 "$n"
ok "ls -l of 350 tags: no lookup per file [$((g1 - g0)) getattrs]" test $((g1 - g0)) -le 5
# ls asks every file for its SELinux label and ACL; ENOTSUP makes it stop
# after the first (it remembers the filesystem), ENODATA would not.
out=$(getfattr -n security.selinux "$M/web/mid/t0001" 2>&1)
ok "security.* xattrs: Operation not supported [$out]" grep -q 'Operation not supported' <<<"$out"
out=$(getfattr -n user.other "$M/web/mid/t0001" 2>&1)
ok "an unknown user.* xattr: No such attribute [$out]" grep -q 'No such attribute' <<<"$out"
fs_umount "$M"

# Warm-up: once mounted, the root's listing and each repository's image
# list are fetched in the background, so a cold cat of a tag costs one call.
sim_ctl reset
fs_mount "$M" -o ttl=60,prefetch=0 || echo "FAIL: mount without warm-up listings"
wait_quiet
expect_eq "prefetch=0: the warm-up fetches nothing below the root" 0 "$(sim_count GetRepoImage)"
fs_umount "$M"
sim_ctl reset
fs_mount "$M" -o ttl=60 || echo "FAIL: mount"
wait_quiet
expect_eq "warm-up: the root's listing once (and the mount-time check)" 2 "$(sim_count GetRepo)"
expect_eq "warm-up: each repository's images once" 2 "$(sim_count GetRepoImage)"
sim_ctl reset
cat "$M/web/big/build-2500" >/dev/null
expect_eq "then a cold cat: one GetImageTag" 1 "$(sim_count GetImageTag)"
expect_eq "  and no other call" 1 "$(sim_count '*')"
fs_umount "$M"
sim_ctl reset
fs_mount "$M" -o ttl=60,lazy || echo "FAIL: lazy mount"
sleep 1
expect_eq "lazy: no call at all until used" 0 "$(sim_count '*')"
fs_umount "$M"

# Prefetch off: listing a repository fetches nothing more.
M2=$WORK/m2
fs_mount "$M2" -o ttl=60,prefetch=0 || echo "FAIL: mount prefetch=0"
sim_ctl reset
ls "$M2/web" >/dev/null
wait_quiet
expect_eq "prefetch=0: no prefetching" 0 "$(sim_count GetImageTag)"
fs_umount "$M2"

# --- refresh-ahead --------------------------------------------------------------
M3=$WORK/m3
# ttl=8: a listing is served for 8 s and refreshed ahead in its last
# quarter; the kernel keeps what it was told until that quarter begins
# (6 s), so that the directory in use is asked for then.
fs_mount "$M3" -o ttl=8,prefetch=0 || echo "FAIL: mount ttl=8"
ls "$M3/web/api" >/dev/null
sim_ctl reset
sleep 6.3 # the last quarter of the listing's 8 s
ls "$M3/web/api" >/dev/null
wait_quiet
expect_eq "a listing used late in its ttl is refreshed in the background" 1 "$(sim_count GetImageTag web api)"
sleep 0.9 # past the first snapshot's 8 s (wait_quiet took 1 s), within the refreshed one's
sim_ctl reset
ls "$M3/web/api" >/dev/null
expect_eq "then nobody waits for a refresh" 0 "$(sim_count GetImageTag web api)"
stats=$(getfattr --only-values -n user.imgtagfs.stats "$M3" 2>/dev/null)
ok "stats count the early refreshes" grep -q '^cache_refreshes_ahead: [1-9]' <<<"$stats"
fs_umount "$M3"

# --- max_rps --------------------------------------------------------------------
M4=$WORK/m4
fs_mount "$M4" -o ttl=60,prefetch=0,max_rps=5 || echo "FAIL: mount max_rps"
ls "$M4/web" >/dev/null
sim_ctl reset
t0=$(date +%s.%N)
pids=()
for i in $(seq -w 1 20); do
	stat "$M4/web/big/build-00$i" >/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
t1=$(date +%s.%N)
expect_eq "max_rps: every lookup answered" 20 "$(sim_count GetImageTag web big)"
# A rate limit is about time: 20 calls at 5/s after a burst of 5 cannot
# take less than 3 s. Only a lower bound is asserted, which a slow or busy
# machine can never break.
ok "max_rps: 20 calls at 5/s take >= 2.5 s" awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 2.5) }'
fs_umount "$M4"

summary
