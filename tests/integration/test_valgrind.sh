#!/usr/bin/env bash
# test_valgrind.sh — a mount/unmount cycle with listings, reads and a
# SIGHUP flush under valgrind: no leak, no invalid access; then a session
# that ends with a directory still open (its RELEASEDIR never comes: the
# connection is aborted), whose handle the daemon frees itself. Skipped
# (with a message) where valgrind is missing or the build is sanitized.
# Each step waits for what the one before started (a counter of the
# daemon's), never for a fixed time.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse
if ! command -v valgrind >/dev/null; then
	echo "SKIP: valgrind is not installed"
	exit 0
fi
if nm "$FS_BIN" 2>/dev/null | grep -E '__(asan|tsan|ubsan)_init|__(a|t|ub)san_' >/dev/null; then # no -q: SIGPIPE under pipefail
	echo "SKIP: $FS_BIN is built with a sanitizer; valgrind cannot run it"
	exit 0
fi

VALGRIND="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99"

# fs_exit NAME: waits for the daemon ($FS_PID) to exit after its unmount;
# valgrind's exit status must be 0 (no leak, no error), else its log.
fs_exit() {
	local rc
	wait "$FS_PID"
	rc=$?
	expect_eq "valgrind, $1: exit 0 (no leak, no error)" 0 "$rc"
	if [[ $rc -ne 0 ]]; then head -60 "$WORK/$1.vg.log" >&2; fi
}

sim_start --data "$top/tests/data/test-registry.json"
M=$WORK/m
FS_WRAP="$VALGRIND --log-file=$WORK/walk.vg.log" \
	MOUNT_WAIT=1200 fs_mount "$M" -o ttl=60 || { echo "FAIL: mount under valgrind"; exit 1; }
ok "listing under valgrind" test "$(ls -l "$M/web/mid" | grep -c '^-')" -eq 350
ok "reads under valgrind" grep -q '^digest' "$M/web/api/v1.4.2"
ok "cold single tag under valgrind" grep -q '^digest' "$M/web/big/build-0042"
ok "nested names under valgrind" test -d "$M/ucloudai/vllm/vllm-openai"
find "$M" >/dev/null
sync
echo 3 >/proc/sys/vm/drop_caches # the kernel forgets: FORGET and BATCH_FORGET
ok "SIGHUP done under valgrind" fs_hup
ok "listing after a walk, drop_caches and SIGHUP" test "$(ls "$M/web/api" | wc -l)" -eq 4
# The kernel releases a directory after its reader closed it, on its own
# time: the unmount waits until every RELEASEDIR has arrived.
ok "every directory released before the unmount" wait_until 120 stat_is "$M" open_dirs 0
fusermount3 -u "$M"
fs_exit walk

# The session ends with a directory open: its RELEASEDIR never comes (the
# connection is aborted through fusectl, as when the kernel drops what is
# still queued at the end of a session). The daemon closes it itself.
fusectl=/sys/fs/fuse/connections
[[ -d $fusectl ]] && ! mountpoint -q "$fusectl" && mount -t fusectl fusectl "$fusectl" 2>/dev/null
if mountpoint -q "$fusectl"; then
	FS_WRAP="$VALGRIND --log-file=$WORK/abort.vg.log" \
		MOUNT_WAIT=1200 fs_mount "$WORK/c" -o ttl=60 || echo "FAIL: mount c under valgrind"
	exec 3<"$WORK/c/web/api"
	ok "a directory held open" test "$(stat_of "$WORK/c" open_dirs)" -ge 1
	dev=$(mountpoint -d "$WORK/c")
	echo 1 >"$fusectl/${dev#*:}/abort"
	exec 3<&-
	fs_exit abort
	mountpoint -q "$WORK/c" && umount -l "$WORK/c"
else
	echo "SKIP: no fusectl at $fusectl: the session that ends with a directory open"
fi

# The shared tier (Redis): two mounts and one Redis, the second under
# valgrind reading what the first wrote, then a refresh sent from the
# first received by the second, and Redis killed while it is mounted.
received_one() { (($(stat_of "$1" shared_invalidations_received) >= 1)); }
if command -v redis-server >/dev/null; then
	redis_start || exit 1
	fs_mount "$WORK/a" -o "ttl=60,shared_cache=unix:$REDIS_SOCK" || echo "FAIL: mount a"
	find "$WORK/a" -type f >/dev/null
	wait_quiet
	FS_WRAP="$VALGRIND --log-file=$WORK/shared.vg.log" \
		MOUNT_WAIT=1200 fs_mount "$WORK/b" -o "ttl=60,shared_cache=unix:$REDIS_SOCK" || echo "FAIL: mount b under valgrind"
	ok "shared tier under valgrind: a walk" test "$(find "$WORK/b" -type f | wc -l)" -eq "$(find "$WORK/a" -type f | wc -l)"
	getfattr -n user.imgtagfs.refresh "$WORK/a/web/api" >/dev/null 2>&1
	ok "shared tier under valgrind: an invalidation received" wait_until 120 received_one "$WORK/b"
	ls "$WORK/b/web/api" >/dev/null
	redis_stop
	ls -R "$WORK/b" >/dev/null
	ok "shared tier: every directory released before the unmount" wait_until 120 stat_is "$WORK/b" open_dirs 0
	fusermount3 -u "$WORK/b"
	fs_exit shared
	fusermount3 -u "$WORK/a"
fi
summary
