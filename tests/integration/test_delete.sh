#!/usr/bin/env bash
# test_delete.sh — deletion through the mount (-o allow_delete, prune.c),
# against uhub-sim: without the option every unlink and rmdir is EROFS
# with no call; with it `rm TAG` is exactly one DeleteRepoImage and the tag
# leaves `ls` at once, `find -delete` deletes exactly what it matched, a
# tag re-pushed after it was listed survives (EBUSY), another user is
# refused with no call, a missing tag is ENOENT with no call, an injected
# failure leaves the tag (and each deletion sent again was checked first),
# rmdir of an image with tags is ENOTEMPTY with no call and `rm -r IMAGE`
# works, a repository is EPERM; a second mount sharing Redis stops showing
# a deleted tag within its bound; every deletion is logged with its digest.
# Assertions are the simulator's request counts and the daemon's counters.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

DAY=86400
T0=1790000000
cat >"$WORK/reg.json" <<EOF
{"repos": [{"name": "ci", "images": [
   {"name": "app", "generate": {"tags": 40, "prefix": "build-", "start": $T0, "step": $DAY, "seed": 3}},
   {"name": "lib", "tags": [{"name": "v1", "digest": "sha256:$(printf 'a%.0s' {1..64})", "update_time": $T0},
                            {"name": "v2", "digest": "sha256:$(printf 'b%.0s' {1..64})", "update_time": $T0}]},
   {"name": "tools/cli", "tags": [{"name": "v1", "update_time": $T0}]},
   {"name": "gone", "tags": [{"name": "x", "update_time": $T0}]}]}]}
EOF
# Another user must reach the mounts: mktemp -d made WORK 0700.
chmod 755 "$WORK"
sim_start --data "$WORK/reg.json" || exit 1

dels() { sim_count DeleteRepoImage "$@"; }
errno_of() { # errno_of COMMAND...: the strerror text the command printed
	"$@" 2>&1 >/dev/null | sed -n 's/.*: \([A-Z][^:]*\)$/\1/p' | head -1
}
in_sim() { curl -fsS "$SIM_URL/_sim/state" | grep -q "\"name\": *\"$1\""; }

# --- without the option: EROFS, no call ---------------------------------------
R=$WORK/ro
FS_LOG=$WORK/ro.log fs_mount "$R" -o ttl=600 || { echo "FAIL: mount ro"; exit 1; }
ls -l "$R/ci/app" >/dev/null
expect_eq "read-only: rm is EROFS" "Read-only file system" "$(errno_of rm -f "$R/ci/app/build-0001")"
expect_eq "read-only: rmdir is EROFS" "Read-only file system" "$(errno_of rmdir "$R/ci/gone")"
expect_eq "read-only: find -delete fails" "1" "$(find "$R/ci/app" -name 'build-000*' -delete 2>/dev/null; echo $?)"
expect_eq "read-only: directories 0555" "555" "$(stat -c %a "$R/ci/app")"
ok "read-only: mounted ro" bash -c "findmnt -no OPTIONS '$R' | grep -q '^ro,'"
expect_eq "read-only: no DeleteRepoImage" 0 "$(dels)"
expect_eq "read-only: the counter shows none" 0 "$(stat_of "$R" api_calls.DeleteRepoImage)"
expect_eq "read-only: no deletes_* counters" "" "$(stat_of "$R" deletes_done)"
fusermount3 -u "$R"

# --- with it ---------------------------------------------------------------------
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=600,allow_delete,allow_other || { echo "FAIL: mount"; exit 1; }
ok "allow_delete: mounted rw" bash -c "findmnt -no OPTIONS '$M' | grep -q '^rw,'"
ls -l "$M/ci/app" "$M/ci/lib" >/dev/null
expect_eq "image directories 0755" "755" "$(stat -c %a "$M/ci/app")"
expect_eq "tag files stay 0444" "444" "$(stat -c %a "$M/ci/app/build-0001")"
expect_eq "writing a tag is still EROFS" "Read-only file system" \
	"$(errno_of bash -c "echo x >'$M/ci/app/build-0001'")"
wait_quiet
sim_ctl reset

# rm TAG: one call, gone from ls at once (the ttl is 600 s: no relisting).
ok "rm TAG succeeds" rm "$M/ci/app/build-0001"
expect_eq "rm TAG: one DeleteRepoImage" 1 "$(dels ci app build-0001)"
expect_eq "rm TAG: one point query before it" 1 "$(sim_count GetImageTag ci app build-0001)"
ok "rm TAG: gone from ls at once" bash -c "! ls '$M/ci/app' | grep -qx build-0001"
ok "rm TAG: gone from the registry" bash -c "! curl -fsS '$SIM_URL/_sim/state' | grep -q '\"build-0001\"'"
expect_eq "rm TAG: ls asked nothing" 0 "$(curl -fsS "$SIM_URL/_sim/count?action=GetImageTag&repo=ci&image=app&has_tag=0")"
expect_eq "rm TAG: stat is ENOENT" "No such file or directory" "$(errno_of stat "$M/ci/app/build-0001")"
ok "rm TAG: its log line names the digest" \
	grep -qE "deleted tag ci/app:build-0001 digest sha256:[0-9a-f]{64} updated .* for uid 0 pid [0-9]+" "$WORK/m.log"
expect_eq "rm TAG: deletes_done" 1 "$(stat_of "$M" deletes_done)"

# find -delete: exactly the matched set, one call each.
CUT=$((T0 + 12 * DAY + DAY / 2))
find "$M/ci/app" -name 'build-*' ! -newermt "@$CUT" -print | sort >"$WORK/matched"
n=$(wc -l <"$WORK/matched")
ok "find matches some tags" test "$n" -ge 10
sim_ctl reset
find "$M/ci/app" -name 'build-*' ! -newermt "@$CUT" -delete
expect_eq "find -delete: DeleteRepoImage = matched" "$n" "$(dels)"
expect_eq "find -delete: none of them left" "" \
	"$(while read -r f; do [[ -e $f ]] && echo "$f"; done <"$WORK/matched")"
expect_eq "find -delete: the others stay" "$((39 - n))" "$(ls "$M/ci/app" | wc -l)"
expect_eq "find -delete: the registry agrees" "$((39 - n))" \
	"$(curl -fsS "$SIM_URL/_sim/state" | grep -o '"build-[0-9]*"' | sort -u | wc -l)"
expect_eq "find -delete: deletes_done" "$((n + 1))" "$(stat_of "$M" deletes_done)"

# A tag re-pushed after it was listed is not deleted: new bytes with a new
# time, and new bytes within the same second.
ls -l "$M/ci/lib" >/dev/null
sim_ctl "push?repo=ci&image=lib&tag=v1&digest=sha256:$(printf 'c%.0s' {1..64})&time=$((T0 + 5))"
sim_ctl "push?repo=ci&image=lib&tag=v2&digest=sha256:$(printf 'd%.0s' {1..64})&time=$T0"
sim_ctl reset
expect_eq "re-pushed (new time): EBUSY" "Device or resource busy" "$(errno_of rm "$M/ci/lib/v1")"
expect_eq "re-pushed (same second): EBUSY" "Device or resource busy" "$(errno_of rm "$M/ci/lib/v2")"
expect_eq "re-pushed: no DeleteRepoImage" 0 "$(dels)"
ok "re-pushed: still in the registry" bash -c "curl -fsS '$SIM_URL/_sim/state' | grep -q '$(printf 'c%.0s' {1..64})'"
ok "re-pushed: the refusal is logged" grep -q "refused to delete tag ci/lib:v2 digest sha256:bbbb" "$WORK/m.log"
expect_eq "re-pushed: deletes_refused" 2 "$(stat_of "$M" deletes_refused)"

# Another user on the allow_other mount: refused, no call (the kernel
# refuses on the directory's mode; with uid= below, imgtagfs does).
sim_ctl reset
expect_eq "another user: EACCES" "Permission denied" \
	"$(errno_of setpriv --reuid=65534 --regid=65534 --clear-groups rm -f "$M/ci/app/build-0039")"
expect_eq "another user: no call" 0 "$(dels)"

# A missing tag: ENOENT, no call.
expect_eq "missing tag: ENOENT" "No such file or directory" "$(errno_of rm "$M/ci/app/build-9999")"
expect_eq "missing tag: no call" 0 "$(dels)"

# An injected failure leaves the tag; each deletion sent again (after an
# unsure 500) was checked first.
sim_ctl "fault?kind=http500&action=DeleteRepoImage&count=100"
expect_eq "failure: EIO" "Input/output error" "$(errno_of rm "$M/ci/app/build-0039")"
sim_ctl "fault?kind=clear"
tries=$(dels ci app build-0039)
ok "failure: sent more than once (unsure)" test "$tries" -ge 2
expect_eq "failure: each try checked first" "$tries" "$(sim_count GetImageTag ci app build-0039)"
ok "failure: the tag stays listed" test -e "$M/ci/app/build-0039"
ok "failure: the tag stays in the registry" bash -c "curl -fsS '$SIM_URL/_sim/state' | grep -q '\"build-0039\"'"
expect_eq "failure: deletes_failed" 1 "$(stat_of "$M" deletes_failed)"
ok "failure: logged" grep -q "failed to delete tag ci/app:build-0039" "$WORK/m.log"

# rmdir: an image with tags is ENOTEMPTY with no call; rm -r works; a
# repository is EPERM.
sim_ctl reset
expect_eq "rmdir image with tags: ENOTEMPTY" "Directory not empty" "$(errno_of rmdir "$M/ci/app")"
expect_eq "rmdir prefix directory: ENOTEMPTY" "Directory not empty" "$(errno_of rmdir "$M/ci/tools")"
expect_eq "rmdir repository: EPERM" "Operation not permitted" "$(errno_of rmdir "$M/ci")"
expect_eq "rmdir: no call" 0 "$(dels)"
ls -l "$M/ci/gone" >/dev/null
ok "rm -r IMAGE succeeds" rm -r "$M/ci/gone"
expect_eq "rm -r IMAGE: one tag deleted, then the image" "1 1" \
	"$(sim_count DeleteRepoImage ci gone x) $(curl -fsS "$SIM_URL/_sim/count?action=DeleteRepoImage&repo=ci&image=gone&has_tag=0")"
ok "rm -r IMAGE: gone from ls" bash -c "! ls '$M/ci' | grep -qx gone"
ok "rm -r IMAGE: gone from the registry" bash -c "! curl -fsS '$SIM_URL/_sim/state' | grep -q '\"gone\"'"
fusermount3 -u "$M"

# imgtagfs's own check, where the modes let the other user in: the files
# shown as that user's (uid=), the mount still root's.
U=$WORK/u
FS_LOG=$WORK/u.log fs_mount "$U" -o ttl=600,allow_delete,allow_other,uid=65534 || echo "FAIL: mount uid="
ls -l "$U/ci/app" >/dev/null
wait_quiet
sim_ctl reset
expect_eq "another user owning the files: EACCES" "Permission denied" \
	"$(errno_of setpriv --reuid=65534 --regid=65534 --clear-groups rm -f "$U/ci/app/build-0039")"
expect_eq "another user owning the files: no call at all" 0 "$(sim_count '*')"
ok "another user: logged" grep -q "refused to delete /ci/app/build-0039 for uid 65534" "$WORK/u.log"
fusermount3 -u "$U"

# --- two mounts, one Redis -------------------------------------------------------
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	redis_start || echo "FAIL: redis"
	SC="shared_cache=unix:$REDIS_SOCK,shared_cache_timeout=2000,ttl=600,allow_delete"
	FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC" || echo "FAIL: mount a"
	FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC" || echo "FAIL: mount b"
	ls "$WORK/a/ci/app" >/dev/null
	ok "fleet: the other mount shows the tag" test -e "$WORK/b/ci/app/build-0030"
	ok "fleet: rm on one mount" rm "$WORK/a/ci/app/build-0030"
	# The bound: an invalidation reaches the other host in well under a
	# second; 30 s only for a loaded machine.
	ok "fleet: the other stops showing it" wait_until 30 bash -c "! ls '$WORK/b/ci/app' | grep -qx build-0030"
	ok "fleet: an invalidation was received" wait_until 30 bash -c \
		"(( \$(getfattr --only-values -n user.imgtagfs.stats '$WORK/b' | sed -n 's/^shared_invalidations_received: //p') > 0 ))"
else
	echo "note: redis-server missing: the fleet part is skipped"
fi

summary
