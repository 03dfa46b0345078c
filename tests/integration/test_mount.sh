#!/usr/bin/env bash
# test_mount.sh — imgtagfs mounted for real against uhub-sim: the tree,
# contents, sizes, mtimes, the API-call cost of each kind of access (with
# server page caps 1, 7 and 100), TTL refresh, EROFS, ENOENT, EACCES, and
# refusals before mounting.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

D1="sha256:3f1c$(printf '0%.0s' {1..59})1"

sim_start --data "$top/tests/data/test-registry.json"
M=$WORK/m
fs_mount "$M" -o ttl=60 || { echo "FAIL: mount"; exit 1; }

# --- the tree -----------------------------------------------------------
expect_eq "root lists the private repositories" "ucloudai web" "$(ls "$M" | xargs)"
expect_eq "repository lists images, nested names as directories" "api big mid team" "$(ls "$M/web" | xargs)"
expect_eq "ls -a shows . and .." ". .. api big mid team" "$(ls -a "$M/web" | xargs)"
expect_eq "nested image directory" "vllm-openai" "$(ls "$M/ucloudai/vllm" | xargs)"
expect_eq "tags of a nested image" "v0.5.3" "$(ls "$M/ucloudai/vllm/vllm-openai" | xargs)"
expect_eq "tag and nested image of one name: both kept" "app app@tag v1" "$(ls "$M/web/team" | xargs)"
expect_eq "the nested image under the collision" "v2" "$(ls "$M/web/team/app" | xargs)"
ok "tag files are regular files" test -f "$M/web/api/v1.4.2"
ok "image directories are directories" test -d "$M/web/team/app"

# --- contents, sizes, times, modes --------------------------------------
want=$(printf 'digest: %s\nupdated: 2026-11-27T02:15:00Z\n' "$D1")
expect_eq "tag file contents" "$want" "$(cat "$M/web/api/v1.4.2")"
expect_eq "st_size is the content length" "$(printf '%s\n' "$want" | wc -c)" "$(stat -c %s "$M/web/api/v1.4.2")"
expect_eq "st_mtime is the tag's update time" 1795745700 "$(stat -c %Y "$M/web/api/v1.4.2")"
expect_eq "no digest: the line is left out" "updated: 2026-11-18T11:06:40Z" "$(cat "$M/web/api/nodigest")"
expect_eq "file mode" 444 "$(stat -c %a "$M/web/api/v1.4.2")"
expect_eq "directory mode" 555 "$(stat -c %a "$M/web/api")"
expect_eq "image directory mtime" 1795745700 "$(stat -c %Y "$M/web/api")"
expect_eq "owner is the mounting user" "$(id -u)" "$(stat -c %u "$M/web/api/v1.4.2")"
expect_eq "xattr digest" "$D1" "$(getfattr --only-values -n user.imgtagfs.digest "$M/web/api/v1.4.2" 2>/dev/null)"
expect_eq "head -c reads a prefix" "digest: s" "$(head -c 9 "$M/web/api/v1.4.2")"

# --- scripting: grep, find ------------------------------------------------
expect_eq "grep -rl finds every tag of a digest" "$M/web/api/latest $M/web/api/v1.4.2" \
	"$(grep -rl "${D1:0:20}" "$M/web/api" "$M/web/team" "$M/ucloudai" | sort | xargs)"
expect_eq "find -newermt finds what was pushed since" "$M/web/api/latest $M/web/api/v1.4.2" \
	"$(find "$M/web/api" "$M/web/team" "$M/ucloudai" -type f -newermt '2026-11-26' | sort | xargs)"

# --- errors -----------------------------------------------------------------
ok "ENOENT for a missing tag" bash -c "stat '$M/web/api/nope' 2>&1 | grep -q 'No such file'"
ok "ENOENT for a missing repository" bash -c "stat '$M/nope' 2>&1 | grep -q 'No such file'"
ok "EROFS: create" bash -c "touch '$M/web/api/new' 2>&1 | grep -q 'Read-only file system'"
ok "EROFS: mkdir" bash -c "mkdir '$M/web/x' 2>&1 | grep -q 'Read-only file system'"
ok "EROFS: unlink" bash -c "rm -f '$M/web/api/v1.4.2' 2>&1 | grep -q 'Read-only file system'"
ok "EROFS: write" bash -c "echo x 2>&1 >>'$M/web/api/v1.4.2' | grep -q 'Read-only file system'"
ok "statfs answers" stat -f -c %l "$M"

# --- call counts ------------------------------------------------------------
# A cold cat of one tag in a 5,000-tag image: one GetImageTag with TagName.
# (Cold: the listings above prefetched web's images, so flush them once
# the background work is done.)
wait_quiet
ok "SIGHUP done" fs_hup
sim_ctl reset
cat "$M/web/big/build-4321" >/dev/null
expect_eq "cold cat: one GetImageTag" 1 "$(sim_count GetImageTag web big)"
expect_eq "cold cat: it asked for that tag" 1 "$(sim_count GetImageTag web big build-4321)"
expect_eq "cold cat: no image listing" 0 "$(curl -fsS "$SIM_URL/_sim/count?action=GetImageTag&repo=web&image=big&has_tag=0")"

# Names that can never be registry names cost no call.
sim_ctl reset
stat "$M/.git" "$M/web/.hidden" "$M/web/api/.hidden" >/dev/null 2>&1
expect_eq "implausible names: no call" 0 "$(sim_count '*')"

# Page caps 1, 7 and 100: a cold ls -l costs its pages (lib.sh), and
# then stat, cat, find and grep of the tags cost none.
for cap in 100 7 1; do
	sim_ctl "config?max_limit=$cap"
	getfattr -n user.imgtagfs.refresh "$M/web/mid" >/dev/null 2>&1
	sleep 1.2 # the kernel's attribute cache (1 s) must not hide the refresh
	sim_ctl reset
	n=$(ls -l "$M/web/mid" | grep -c '^-')
	expect_eq "cap $cap: ls -l shows every tag" 350 "$n"
	expect_eq "cap $cap: $(pages 350 "$cap") GetImageTag calls" "$(pages 350 "$cap")" "$(sim_count GetImageTag web mid)"
	sim_ctl reset
	stat "$M"/web/mid/* >/dev/null
	cat "$M"/web/mid/* >/dev/null
	find "$M/web/mid" -type f >/dev/null
	grep -rl nothing-matches "$M/web/mid" >/dev/null
	expect_eq "cap $cap: stat/cat/find/grep after a listing cost no call" 0 "$(sim_count '*')"
done
sim_ctl "config?max_limit=0"

# 16 parallel cold listings of one image share one fetch.
getfattr -n user.imgtagfs.refresh "$M/web/big" >/dev/null 2>&1
sleep 1.2
sim_ctl reset
sim_ctl "config?latency_ms=50"
lspids=()
for i in $(seq 16); do
	ls "$M/web/big" >"$WORK/par.$i" &
	lspids+=($!)
done
wait "${lspids[@]}"
sim_ctl "config?latency_ms=0"
expect_eq "16 parallel cold ls: one listing ($(pages 5000 100) pages)" "$(pages 5000 100)" "$(sim_count GetImageTag web big)"
expect_eq "16 parallel cold ls: all complete" 16 "$(wc -l "$WORK"/par.* | grep -c " 5000 ")"

# A missing tag is remembered (negative_ttl) and a fresh listing answers.
ls "$M/web/api" >/dev/null
wait_quiet
sim_ctl reset
stat "$M/web/api/missing" >/dev/null 2>&1
stat "$M/web/api/missing" >/dev/null 2>&1
expect_eq "ENOENT from a fresh listing costs no call" 0 "$(sim_count '*')"

# --- hostile names from the server ------------------------------------------
long=$(printf 'x%.0s' {1..300})
for name in ".." "." "$long" "ok-name" "with%2Fslash" "nul%01byte"; do
	sim_ctl "push?repo=web&image=hostile&tag=$name&digest=sha256:$(printf 'a%.0s' {1..64})"
done
getfattr -n user.imgtagfs.refresh "$M/web" >/dev/null 2>&1
sleep 1.2
expect_eq "names that cannot be file names are never shown" 1 "$(ls -A "$M/web/hostile" | wc -l)"
ok "a name with a control byte is refused too (test_hostile.sh)" test ! -e "$M/web/hostile/nul"$'\x01'"byte"
ok "the daemon logs what it skipped" grep -q 'skipping a name that cannot be a file name' "$WORK/fs.log"
ok "the daemon is still serving" test -f "$M/web/hostile/ok-name"

# --- stats, SIGHUP, SIGUSR1 -------------------------------------------------
stats=$(getfattr --only-values -n user.imgtagfs.stats "$M" 2>/dev/null)
ok "stats attribute counts calls" grep -q '^api_calls.GetImageTag: [1-9]' <<<"$stats"
ok "stats attribute counts cached snapshots" grep -q '^cache_snapshots: [1-9]' <<<"$stats"
sim_ctl reset
ok "SIGHUP done" fs_hup
ls "$M/web/api" >/dev/null
ok "SIGHUP drops the cache: the next ls asks the API" test "$(sim_count GetImageTag web api)" -ge 1
ok "SIGHUP did not end the daemon" kill -0 "$FS_PID"
debug_on() { grep -q 'SIGUSR1: debug logging on' "$WORK/fs.log"; }
kill -USR1 "$FS_PID"
ok "SIGUSR1 done" wait_until 60 debug_on
ls "$M/ucloudai" >/dev/null
getfattr -n user.imgtagfs.refresh "$M/ucloudai" >/dev/null 2>&1
sleep 1.2
ls "$M/ucloudai" >/dev/null
ok "SIGUSR1 turns on debug logging of API calls" grep -q 'api GetRepoImage' "$WORK/fs.log"
ok "debug log holds no key" bash -c "! grep -q -e '$TEST_PRIV' -e 'Signature=' '$WORK/fs.log'"
kill -USR1 "$FS_PID"

fs_umount "$M"
ok "unmounted cleanly" bash -c "! mountpoint -q '$M'"

# --- TTL refresh: pushes and deletes show up ---------------------------------
M2=$WORK/m2
fs_mount "$M2" -o ttl=1 || echo "FAIL: mount ttl=1"
expect_eq "before the push" "latest nodigest v1.4.1 v1.4.2" "$(ls "$M2/web/api" | xargs)"
sim_ctl "push?repo=web&image=api&tag=v9&digest=sha256:$(printf 'f%.0s' {1..64})&time=1795800000"
sim_ctl "delete?repo=web&image=api&tag=v1.4.1"
sleep 2.5
expect_eq "after ttl + kernel timeout" "latest nodigest v1.4.2 v9" "$(ls "$M2/web/api" | xargs)"
ok "the deleted tag is gone" bash -c "! test -e '$M2/web/api/v1.4.1'"
# Re-push with a new digest: same length, new content after the TTL.
cat "$M2/web/api/v9" >/dev/null
sim_ctl "push?repo=web&image=api&tag=v9&digest=sha256:$(printf 'e%.0s' {1..64})&time=1795800001"
sleep 2.5
ok "a re-pushed tag shows its new digest" grep -q "sha256:eeee" "$M2/web/api/v9"
fs_umount "$M2"

# --- one repository as the root ------------------------------------------------
M3=$WORK/m3
FS_SOURCE=uhub:ucloudai fs_mount "$M3" || echo "FAIL: mount uhub:ucloudai"
expect_eq "SOURCE uhub:REPO mounts one repository" "vllm" "$(ls "$M3" | xargs)"
fs_umount "$M3"

# --- refusals before mounting ----------------------------------------------------
out=$("$FS_BIN" uhub "$WORK/x" -o ttl=-1 2>&1)
rc=$?
ok "bad option: non-zero exit" test "$rc" -ne 0
ok "bad option: the message names it" grep -q 'ttl' <<<"$out"
write_creds "$WORK/badkey" "$TEST_PUB" "0000000000000000000000000000000000000000"
mkdir -p "$WORK/x"
out=$("$FS_BIN" uhub "$WORK/x" -o "endpoint=$SIM_URL,credentials=$WORK/badkey" 2>&1)
rc=$?
ok "wrong key: non-zero exit" test "$rc" -ne 0
ok "wrong key: RetCode 171 in a one-line reason" grep -q '171' <<<"$out"
ok "wrong key: no mount left behind" bash -c "! mountpoint -q '$WORK/x'"
ok "wrong key: the key is not printed" bash -c "! grep -q 0000000000000000000000000000000000000000 <<<'$out'"
out=$("$FS_BIN" org-nosuch "$WORK/x" -o "endpoint=$SIM_URL,credentials=$WORK/creds" 2>&1)
ok "unknown project: refused with RetCode 292" grep -q '292' <<<"$out"
write_creds "$WORK/open"
chmod 644 "$WORK/open"
out=$("$FS_BIN" uhub "$WORK/x" -o "endpoint=$SIM_URL,credentials=$WORK/open" 2>&1)
ok "world-readable credentials refused with chmod advice" grep -q 'chmod 600' <<<"$out"
out=$("$FS_BIN" uhub "$WORK/x" -o "endpoint=http://127.0.0.1:1,credentials=$WORK/creds,timeout=2,retries=0" 2>&1)
rc=$?
ok "unreachable endpoint: non-zero exit with a reason" bash -c "test $rc -ne 0 && grep -qi 'refused' <<<'$out'"
out=$("$FS_BIN" uhub "$WORK/x" -o "endpoint=http://example.com/,credentials=$WORK/creds" 2>&1)
ok "plain http to a non-loopback host is refused" grep -q 'loopback' <<<"$out"

# EACCES for a wrong key on a lazy mount.
M4=$WORK/m4
mkdir -p "$M4"
"$FS_BIN" uhub "$M4" -f -o "endpoint=$SIM_URL,credentials=$WORK/badkey,lazy" 2>>"$WORK/fs.log" &
FS_PID=$!
PIDS+=("$FS_PID")
MOUNTS+=("$M4")
wait_until 30 mountpoint -q "$M4"
ok "wrong key on a lazy mount: EACCES" bash -c "ls '$M4' 2>&1 | grep -q 'Permission denied'"
fs_umount "$M4"

summary
