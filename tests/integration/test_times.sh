#!/usr/bin/env bash
# test_times.sh — times and kinds that ordinary tools can trust: a tag's
# mtime is its update time to the second; its ctime moves when its bytes
# change within one update time (git sees a same-second re-push); the
# kernel never keeps a changed tag's old pages, whichever path brought
# the new listing; a path that flips between tag and directory never
# turns into EIO or `d?????????`, for the mounting user or anyone else;
# a refresh reaches every depth; the root's time is stable; updatedb.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

DIRTOOL=$BUILD/tests/helpers/dirtool
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
stat_of() { getfattr --only-values -n user.imgtagfs.stats "$1" 2>/dev/null | sed -n "s/^$2: //p"; }
digest() { printf 'sha256:%s' "$(printf "$1%.0s" {1..64})"; }
refresh() { getfattr -n user.imgtagfs.refresh "$1" >/dev/null 2>&1; }
# wait_for CMD...: until CMD succeeds, at most 15 s; its status.
wait_for() {
	local i
	for i in $(seq 150); do
		"$@" && return 0
		sleep 0.1
	done
	"$@"
}
ctime_moved() { [[ $(stat -c %Z "$1") != "$2" ]]; } # ctime_moved FILE CTIME
cwd_is() { [[ $(readlink "/proc/$1/cwd") == "$2" ]]; } # cwd_is PID DIR
OTHER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
as_other() { "${OTHER[@]}" "$@"; }
# sane DESCRIPTION CMD...: CMD's output and errors hold no EIO and no
# unknown attributes (`ls -l` prints `?` for those).
sane() {
	local d=$1 out
	shift
	out=$("$@" 2>&1)
	if grep -q -e 'Input/output error' -e '??????' <<<"$out"; then
		FAIL=$((FAIL + 1))
		echo "FAIL: $d: $out" >&2
	else
		PASS=$((PASS + 1))
	fi
}

sim_start --data "$top/tests/data/test-registry.json" || exit 1
if ! command -v setpriv >/dev/null; then
	echo "SKIP: setpriv missing (util-linux): the other user's view"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
chmod 755 "$WORK"

# --- updatedb: --check warns when the daily run would walk the mount ----------------
# With an /etc/updatedb.conf of our own when there is none (removed on exit).
check() { "$FS_BIN" --check uhub "$@" -o "credentials=$WORK/creds,endpoint=$SIM_URL" 2>&1; }
write_creds "$WORK/creds"
mkdir -p "$WORK/mnt"
if [[ ! -e /etc/updatedb.conf && -w /etc ]]; then
	trap 'rm -f /etc/updatedb.conf; cleanup' EXIT
	printf '%s\n' 'PRUNEPATHS="/tmp /var/spool /media"' 'PRUNEFS="NFS fuse.rclone fuse.sshfs tmpfs"' >/etc/updatedb.conf
	out=$(check)
	ok "--check: updatedb would walk imgtagfs mounts: a warning ($out)" grep -q "^updatedb: *warning: .*fuse.imgtagfs" <<<"$out"
	expect_eq "--check: the warning does not fail the check" 0 "$(check >/dev/null; echo $?)"
	expect_eq "--check: a mount point PRUNEPATHS holds: no warning" "" "$(check "$WORK/mnt" | grep '^updatedb')"
	fix=$(sed -n 's/^  *\(sed -i .*\)$/\1/p' <<<"$out")
	ok "--check gives the one command that prunes the type ($fix)" test -n "$fix"
	eval "$fix"
	expect_eq "the PRUNEFS line, extended" 'PRUNEFS="fuse.imgtagfs NFS fuse.rclone fuse.sshfs tmpfs"' \
		"$(grep '^PRUNEFS' /etc/updatedb.conf)"
	expect_eq "--check: once pruned, no warning" "" "$(check | grep '^updatedb')"
	rm -f /etc/updatedb.conf
	trap cleanup EXIT
else
	echo "SKIP: /etc/updatedb.conf exists (or /etc is not writable): the updatedb warning"
fi

# --- times: whole seconds, ties by name, find -newermt ----------------------------
M=$WORK/times
fs_mount "$M" -o ttl=600,prefetch=0 || exit 1
T=1795800000 # 2026-11-27T17:20:00Z
for tag in zeta alpha mid beta omega gamma; do
	sim_ctl "push?repo=web&image=same&tag=$tag&digest=$(digest 1)&time=$T"
done
sim_ctl "push?repo=web&image=same&tag=older&digest=$(digest 2)&time=$((T - 1))"
find "$M" -type f >"$WORK/files"
ok "a walk finds the tags ($(grep -c . "$WORK/files"))" test "$(grep -c . "$WORK/files")" -ge 10
expect_eq "stat of every tag: mtime and ctime whole seconds" "" \
	"$(xargs -d '\n' stat -c '%y %z %n' <"$WORK/files" | grep -v '^[^ ]* [^ ]*\.000000000 [^ ]* [^ ]* [^ ]*\.000000000 ' | head -3)"
expect_eq "the tag's mtime is its update time" "$T" "$(stat -c %Y "$M/web/same/mid")"
expect_eq "ls -t: tags of the same second in name order" "alpha beta gamma mid omega zeta older" \
	"$(ls -t "$M/web/same" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "find -newermt at a tag's exact time: not it, nor its second" "" \
	"$(find "$M/web/same" -type f -newermt "@$T")"
expect_eq "find -newermt a second before: the tags of that second" "alpha beta gamma mid omega zeta" \
	"$(find "$M/web/same" -type f -newermt "@$((T - 1))" -printf '%f\n' | sort | tr '\n' ' ' | sed 's/ $//')"
ok "no tag is newer than its directory" test -z "$(find "$M/web/same" -type f -newer "$M/web/same")"
expect_eq "ctime is the mtime while the bytes are the first seen" "$T" "$(stat -c %Z "$M/web/same/mid")"
ls "$M" >/dev/null
root_time=$(stat -c %Y "$M")
expect_eq "the root's time is its newest repository's" "$(stat -c %Y "$M"/* | sort -n | tail -1)" "$root_time"
fs_umount "$M"
fs_mount "$M" -o ttl=600,prefetch=0 || exit 1
ls "$M" >/dev/null
expect_eq "the root's time is the same after a remount" "$root_time" "$(stat -c %Y "$M")"

# --- ctime: git sees a same-second re-push ------------------------------------------
G=$WORK/git
git init -q --bare "$G"
gitm() { git --git-dir="$G" --work-tree="$M/web/same" -c user.name=t -c user.email=t@t "$@"; }
gitm add -A && gitm commit -qm first
expect_eq "git status: clean after the commit" "" "$(gitm status --porcelain)"
before=$(stat -c '%s %Y %Z' "$M/web/same/mid")
sim_ctl "push?repo=web&image=same&tag=mid&digest=$(digest 3)&time=$T"
refresh "$M/web/same"
after=$(stat -c '%s %Y %Z' "$M/web/same/mid")
expect_eq "a same-second re-push: same size and mtime" "${before% *}" "${after% *}"
ok "a same-second re-push: the ctime moves ($before -> $after)" test "${after##* }" -gt "${before##* }"
expect_eq "git status sees the same-second re-push" " M mid" "$(gitm status --porcelain)"
ok "and the new bytes" grep -q "$(digest 3)" "$M/web/same/mid"
refresh "$M/web/same"
expect_eq "a refresh without a change keeps the ctime" "$after" "$(stat -c '%s %Y %Z' "$M/web/same/mid")"
gitm add -A && gitm commit -qm second
sim_ctl "push?repo=web&image=same&tag=mid&digest=$(digest 4)&time=$((T + 5))"
refresh "$M/web/same"
expect_eq "a push with a new time: ctime is the new mtime" "$((T + 5)) $((T + 5))" "$(stat -c '%Y %Z' "$M/web/same/mid")"
expect_eq "git status sees it" " M mid" "$(gitm status --porcelain)"
fs_umount "$M"

# --- the kernel never keeps a changed tag's old pages, whichever fill brings it -------
# Each time: the pages of a tag are cached (cat), the tag is re-pushed within
# its second (same size and mtime, so the kernel's own check cannot see it),
# and a fill brings the new listing; cat must show the new bytes.
M=$WORK/pages
fs_mount "$M" -o ttl=2,prefetch=0 || exit 1
D=$M/web/api
sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest a)&time=$T"
ok "the tag as first pushed" wait_for grep -qs "$(digest a)" "$D/p"
# a listing refilled after the ttl (ls -l brings it)
sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest b)&time=$T"
ok "a listing refilled after the ttl: new bytes" wait_for bash -c "ls -l '$D' >/dev/null; grep -q '$(digest b)' '$D/p'"
# the tag alone, asked for after the listing's ttl (cat asks for its attributes)
cat "$D/p" >/dev/null
sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest c)&time=$T"
ok "the tag looked up alone after the ttl: new bytes" wait_for grep -q "$(digest c)" "$D/p"
# the stat that brings the change: the read right after it shows the new
# bytes (the reply waited for the kernel to drop the old pages)
cat "$D/p" >/dev/null
c0=$(stat -c %Z "$D/p")
sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest g)&time=$T"
ok "a stat after the ttl shows the change (ctime $c0 moves)" wait_for ctime_moved "$D/p" "$c0"
expect_eq "and the read right after it, the new bytes" "digest: $(digest g)" "$(head -1 "$D/p")"
fs_umount "$M"
M=$WORK/pages2
fs_mount "$M" -o ttl=600,prefetch=0 || exit 1
D=$M/web/api
ok "a tag looked up alone, cold" grep -q "$(digest g)" "$D/p"
sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest d)&time=$T"
ls -l "$D" >/dev/null # the image's listing: p with other bytes
ok "then its image listed with other bytes: new bytes" wait_for grep -q "$(digest d)" "$D/p"
sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest e)&time=$T"
refresh "$D"
ok "a refreshed directory: new bytes" grep -q "$(digest e)" "$D/p"
sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest f)&time=$T"
refresh "$D/p"
ok "a refreshed tag: new bytes" grep -q "$(digest f)" "$D/p"
fs_umount "$M"
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	redis_start || exit 1
	SC="shared_cache=unix:$REDIS_SOCK"
	FS_LOG=$WORK/a.log fs_mount "$WORK/a" -o "$SC,ttl=600,prefetch=0" || exit 1
	FS_LOG=$WORK/b.log fs_mount "$WORK/b" -o "$SC,ttl=2,prefetch=0" || exit 1
	ok "host b reads the tag" grep -q "$(digest f)" "$WORK/b/web/api/p"
	sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest 5)&time=$T"
	refresh "$WORK/a/web/api" # a's listing goes to Redis; b is told
	ok "another host's refresh: new bytes at once" wait_for grep -q "$(digest 5)" "$WORK/b/web/api/p"
	sim_ctl "push?repo=web&image=api&tag=p&digest=$(digest 6)&time=$T"
	refresh "$WORK/a/web/api/p"
	ok "and of the tag alone" wait_for grep -q "$(digest 6)" "$WORK/b/web/api/p"
	fs_umount "$WORK/b"
	fs_umount "$WORK/a"
	redis_stop
else
	echo "SKIP: redis-server missing: the listing from the fleet"
fi

# --- a refresh reaches every depth ------------------------------------------------
# A shell sits in web/base2/z, two levels below the repository; the image is
# pushed again (its time moves) and the repository refreshed: the kernel
# must not keep z's attributes until the ttl (600 s here).
M=$WORK/depth
fs_mount "$M" -o ttl=600,prefetch=0 || exit 1
sim_ctl "push?repo=web&image=base2/z&tag=v1&digest=$(digest 7)&time=$T"
bash -c "cd '$M/web/base2/z' && exec sleep 300" &
cw=$!
PIDS+=("$cw")
ok "a shell sits in web/base2/z" wait_for cwd_is "$cw" "$M/web/base2/z"
expect_eq "the nested image's time, seen from inside it" "$T" "$(stat -L -c %Y "/proc/$cw/cwd")"
sim_ctl "push?repo=web&image=base2/z&tag=v2&digest=$(digest 8)&time=$((T + 60))"
refresh "$M/web"
expect_eq "a refresh of its repository: the new time at once, two levels down" "$((T + 60))" \
	"$(stat -L -c %Y "/proc/$cw/cwd")"
sim_ctl "delete?repo=web&image=base2/z"
refresh "$M/web"
ok "deleted and refreshed: gone for the shell in it too" test ! -e "/proc/$cw/cwd/."
kill "$cw" 2>/dev/null
wait "$cw" 2>/dev/null
fs_umount "$M"

# --- an inode never changes kind: tag <-> directory flips ---------------------------
# Image app3 has tag v2 and image app3/v2 exists, so v2 is a directory
# (the tag is v2@tag). Another user's shell sits in it, this shell holds it
# open, and both have looked it up. Image app3/v2 is deleted (v2 is the
# tag again), then pushed again (a directory again), each seen after the
# ttl. Then the other way: a tag x with a descriptor open on it becomes a
# directory, and a tag again.
M=$WORK/flip
fs_mount "$M" -o ttl=2,prefetch=0,allow_other || exit 1
A=$M/web/app3
sim_ctl "push?repo=web&image=app3&tag=v2&digest=$(digest a)"
sim_ctl "push?repo=web&image=app3/v2&tag=t1&digest=$(digest b)"
ls -l "$A" "$A/v2" >/dev/null
as_other ls -l "$A" "$A/v2" >/dev/null
"${OTHER[@]}" bash -c "cd '$A/v2' && exec sleep 300" &
cw=$!
PIDS+=("$cw")
exec 8<"$A/v2"
ok "another user's shell sits in app3/v2" wait_for cwd_is "$cw" "$A/v2"
sim_ctl "delete?repo=web&image=app3/v2"
ok "directory -> tag: the path is a tag file after the ttl" wait_for test -f "$A/v2"
for who in "" as_other; do
	sane "directory -> tag: ls -l of its directory ${who:-(owner)}" $who ls -l "$A"
	sane "directory -> tag: stat ${who:-(owner)}" $who stat "$A/v2"
	ok "directory -> tag: the tag reads ${who:-(owner)}" $who grep -q "$(digest a)" "$A/v2"
done
sane "directory -> tag: the cwd of a shell in it (no EIO)" stat -L "/proc/$cw/cwd"
sane "directory -> tag: ls in that cwd" ls "/proc/$cw/cwd/"
sane "directory -> tag: a descriptor open on it" stat -L /dev/fd/8
sim_ctl "push?repo=web&image=app3/v2&tag=t1&digest=$(digest b)"
ok "tag -> directory: the path is a directory again after the ttl" wait_for test -d "$A/v2"
for who in "" as_other; do
	sane "tag -> directory: ls -l of its parent ${who:-(owner)}" $who ls -l "$A"
	sane "tag -> directory: ls -l of it ${who:-(owner)}" $who ls -l "$A/v2"
	ok "tag -> directory: it lists its tag ${who:-(owner)}" grep -qx t1 <($who ls "$A/v2")
done
ok "tag -> directory: the shell's cwd is the directory again" test -d "/proc/$cw/cwd/"
ok "tag -> directory: ls in that cwd lists the tag" grep -qx t1 <(ls "/proc/$cw/cwd/")
sane "tag -> directory: the descriptor open on it" stat -L /dev/fd/8
exec 8<&-
kill "$cw" 2>/dev/null
wait "$cw" 2>/dev/null

sim_ctl "push?repo=web&image=app3&tag=x&digest=$(digest c)"
ok "a tag x" wait_for grep -qs "$(digest c)" "$A/x"
as_other cat "$A/x" >/dev/null
exec 7<"$A/x"
sim_ctl "delete?repo=web&image=app3&tag=x"
sim_ctl "push?repo=web&image=app3/x&tag=t2&digest=$(digest d)"
ok "tag -> directory: x is a directory after the ttl" wait_for test -d "$A/x"
for who in "" as_other; do
	sane "tag -> directory: ls -l of its parent ${who:-(owner)}" $who ls -l "$A"
	sane "tag -> directory: ls -l of it ${who:-(owner)}" $who ls -l "$A/x"
done
sane "tag -> directory: the descriptor open on the tag" stat -L /dev/fd/7
sane "tag -> directory: reading that descriptor" cat /dev/fd/7
sim_ctl "delete?repo=web&image=app3/x"
sim_ctl "push?repo=web&image=app3&tag=x&digest=$(digest e)"
ok "directory -> tag: x is a tag again after the ttl" wait_for test -f "$A/x"
for who in "" as_other; do
	sane "directory -> tag: ls -l of its parent ${who:-(owner)}" $who ls -l "$A"
	ok "directory -> tag: it reads ${who:-(owner)}" $who grep -q "$(digest e)" "$A/x"
done
ok "directory -> tag: the descriptor open on the tag reads the new tag" grep -q "$(digest e)" /dev/fd/7
exec 7<&-
expect_eq "no request was answered with EIO" "" "$(grep -i 'input/output' "$WORK/fs.log")"
fs_umount "$M"

# --- file handles: a number another path has is refused; a stale one is cheap --------
# A forged handle, tag B's number with tag A's generation, stands for a
# handle of A whose number B took since (a collision, by chance or crafted
# by whoever can push tags): it must never open B. A stale handle (a number
# nothing has) costs a bounded search of the cached listings, not a walk of
# all of them (20,000 tags here, above the bound).
sim_stop
sim_start --gen "repos=1,images=1,tags=20000,nested=0" || exit 1
M=$WORK/handles
fs_mount "$M" -o ttl=600,cache_size=1G,prefetch=0 || exit 1
img="$M/$(ls "$M")/$(ls "$M/$(ls "$M")")"
ls -l "$img" >/dev/null
a=$img/$(ls "$img" | sed -n 1p)
b=$img/$(ls "$img" | sed -n 2p)
ha=$("$DIRTOOL" handle "$a")
hb=$("$DIRTOOL" handle "$b")
forged=${hb:0:20}${ha:20}
stale=${hb:0:4}1122334455667788${hb:20}
expect_eq "B's own handle opens B" "$(cat "$b")" "$("$DIRTOOL" byhandle "$M" "$hb")"
ok "B's number with A's generation: refused, B held by the kernel ($forged)" \
	grep -q "Stale file handle" <("$DIRTOOL" byhandle "$M" "$forged" 2>&1)
drop_caches
ok "and once the kernel forgot B" grep -q "Stale file handle" <("$DIRTOOL" byhandle "$M" "$forged" 2>&1)
expect_eq "A's own handle, after drop_caches" "$(cat "$a")" "$("$DIRTOOL" byhandle "$M" "$ha")"
before=$(stat_of "$M" fuse_handle_names)
ok "a stale handle: ESTALE" grep -q "Stale file handle" <("$DIRTOOL" byhandle "$M" "$stale" 2>&1)
after=$(stat_of "$M" fuse_handle_names)
ok "a stale handle looks at 16,384 names at most, of 20,000 cached ($before -> $after)" \
	test -n "$after" -a "$((after - before))" -gt 0 -a "$((after - before))" -le 16384
fs_umount "$M"

summary
