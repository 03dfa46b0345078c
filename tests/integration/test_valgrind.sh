#!/usr/bin/env bash
# test_valgrind.sh — a mount/unmount cycle with listings, reads and a
# SIGHUP flush under valgrind: no leak, no invalid access. Skipped (with a
# message) where valgrind is missing or the build is sanitized.
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

sim_start --data "$top/tests/data/test-registry.json"
M=$WORK/m
FS_WRAP="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$WORK/vg.log" \
	MOUNT_WAIT=600 fs_mount "$M" -o ttl=60 || { echo "FAIL: mount under valgrind"; exit 1; }
ok "listing under valgrind" test "$(ls -l "$M/web/mid" | grep -c '^-')" -eq 350
ok "reads under valgrind" grep -q '^digest' "$M/web/api/v1.4.2"
ok "cold single tag under valgrind" grep -q '^digest' "$M/web/big/build-0042"
ok "nested names under valgrind" test -d "$M/ucloudai/vllm/vllm-openai"
find "$M" >/dev/null
sync
echo 3 >/proc/sys/vm/drop_caches # the kernel forgets: FORGET and BATCH_FORGET
kill -HUP "$FS_PID"
sleep 0.5
ok "listing after a walk, drop_caches and SIGHUP" test "$(ls "$M/web/api" | wc -l)" -eq 4
fusermount3 -u "$M"
for i in $(seq 200); do kill -0 "$FS_PID" 2>/dev/null || break; sleep 0.05; done
wait "$FS_PID"
rc=$?
expect_eq "valgrind: exit 0 (no leak, no error)" 0 "$rc"
if [[ $rc -ne 0 ]]; then head -60 "$WORK/vg.log" >&2; fi

# The shared tier (issue 12): two mounts and one Redis, the second under
# valgrind reading what the first wrote, then a refresh sent from the
# first received by the second, and Redis killed while it is mounted.
if command -v redis-server >/dev/null; then
	redis_start || exit 1
	fs_mount "$WORK/a" -o "ttl=60,shared_cache=unix:$REDIS_SOCK" || echo "FAIL: mount a"
	find "$WORK/a" -type f >/dev/null
	wait_quiet
	FS_WRAP="valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$WORK/vg2.log" \
		MOUNT_WAIT=600 fs_mount "$WORK/b" -o "ttl=60,shared_cache=unix:$REDIS_SOCK" || echo "FAIL: mount b under valgrind"
	ok "shared tier under valgrind: a walk" test "$(find "$WORK/b" -type f | wc -l)" -eq "$(find "$WORK/a" -type f | wc -l)"
	getfattr -n user.imgtagfs.refresh "$WORK/a/web/api" >/dev/null 2>&1
	sleep 1
	ls "$WORK/b/web/api" >/dev/null
	ok "shared tier under valgrind: an invalidation received" \
		test "$(getfattr --absolute-names --only-values -n user.imgtagfs.stats "$WORK/b" | sed -n 's/^shared_invalidations_received: //p')" -ge 1
	redis_stop
	ls -R "$WORK/b" >/dev/null
	fusermount3 -u "$WORK/b"
	for i in $(seq 200); do kill -0 "$FS_PID" 2>/dev/null || break; sleep 0.05; done
	wait "$FS_PID"
	rc=$?
	expect_eq "valgrind with the shared tier: exit 0 (no leak, no error)" 0 "$rc"
	if [[ $rc -ne 0 ]]; then head -60 "$WORK/vg2.log" >&2; fi
	fusermount3 -u "$WORK/a"
fi
summary
