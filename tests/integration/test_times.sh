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
wait_for test -d "/proc/$cw/cwd/"
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

summary
