#!/usr/bin/env bash
# test_ops.sh — operating imgtagfs like a system filesystem: the mount(8)
# helper form and the words it drops, a real `mount -t imgtagfs`, --check
# for success and each failure kind, clean shutdown by signal and by
# unmount, SIGKILL recovery, and make install into a DESTDIR.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

sim_start --data "$top/tests/data/test-registry.json"
write_creds "$WORK/creds"
HELPER=$BUILD/mount.imgtagfs

# wait_gone PID: waits (30 s at most: a loaded machine) for a child to
# end; its status in GONE_RC.
wait_gone() {
	local i
	GONE_RC=timeout
	for i in $(seq 600); do
		if ! kill -0 "$1" 2>/dev/null; then
			wait "$1" 2>/dev/null
			GONE_RC=$?
			return
		fi
		sleep 0.05
	done
}

# gone PID: true once a process (not our child) has ended, within 30 s.
gone() {
	local i
	for i in $(seq 600); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# --- mount(8)'s form, every dropped word ------------------------------------
M=$WORK/helper
mkdir -p "$M"
out=$("$HELPER" uhub:web "$M" -n -o "_netdev,nofail,noauto,auto,user,nouser,users,defaults,rw,ro,x-systemd.automount,comment=foo,credentials=$WORK/creds,endpoint=$SIM_URL,ttl=120" 2>&1)
rc=$?
MOUNTS+=("$M")
expect_eq "mount.imgtagfs: exit 0" 0 "$rc"
ok "mount.imgtagfs: mounted (detached)" mountpoint -q "$M"
expect_eq "mount.imgtagfs: fsname and subtype" "imgtagfs:uhub:web fuse.imgtagfs" \
	"$(findmnt -n -o SOURCE,FSTYPE "$M" | xargs)"
ok "mount.imgtagfs: read-only" bash -c "findmnt -n -o OPTIONS '$M' | grep -q '^ro'"
expect_eq "mount.imgtagfs: serves the repository" "api big mid team" "$(ls "$M" | xargs)"
pid=$(pgrep -f "imgtagfs uhub:web $M" | head -1)
umount "$M"
ok "umount ends the daemon" bash -c "! mountpoint -q '$M'"
ok "the daemon ends after umount" gone "$pid"

out=$("$HELPER" uhub:web "$M" -f -o "credentials=$WORK/creds,endpoint=$SIM_URL" 2>&1)
expect_eq "mount(8) -f (fake): exit 0" 0 "$?"
ok "mount(8) -f (fake): nothing mounted" bash -c "! mountpoint -q '$M'"

write_creds "$WORK/bad" "$TEST_PUB" "0000000000000000000000000000000000000000"
out=$("$HELPER" uhub:web "$M" -o "credentials=$WORK/bad,endpoint=$SIM_URL" 2>&1)
rc=$?
expect_eq "mount(8) helper, bad key: mount's failure status 32" 32 "$rc"
expect_eq "mount(8) helper, bad key: a one-line reason" 1 "$(wc -l <<<"$out")"
ok "mount(8) helper, bad key: names RetCode 171" grep -q 171 <<<"$out"
out=$("$HELPER" uhub:web "$M" -o "ttl=forever,credentials=$WORK/creds" 2>&1)
expect_eq "mount(8) helper, bad option: usage status 1" 1 "$?"

# --- a real mount -t imgtagfs, where /sbin can take the helper ---------------
# test_deb.sh installs the package's /sbin/mount.imgtagfs under the same lock.
exec 9>/run/lock/imgtagfs-sbin.lock
flock -w 300 9 || echo "note: /run/lock/imgtagfs-sbin.lock is held; going on"
if [[ ! -e /sbin/mount.imgtagfs ]] && touch /sbin/.imgtagfs-probe 2>/dev/null; then
	rm -f /sbin/.imgtagfs-probe
	ln -s "$BUILD/imgtagfs" /sbin/mount.imgtagfs
	out=$(mount -t imgtagfs -o "credentials=$WORK/creds,endpoint=$SIM_URL,_netdev" uhub:ucloudai "$M" 2>&1)
	expect_eq "mount -t imgtagfs: exit 0" 0 "$?"
	expect_eq "mount -t imgtagfs: serves" "vllm" "$(ls "$M" 2>/dev/null | xargs)"
	umount "$M" 2>/dev/null
	rm -f /sbin/mount.imgtagfs
	ok "mount -t imgtagfs: unmounted" bash -c "! mountpoint -q '$M'"
else
	echo "skip: /sbin is not writable (or mount.imgtagfs is installed): no real mount -t test"
fi
exec 9>&-

# --- --check ------------------------------------------------------------------
out=$("$FS_BIN" --check uhub -o "credentials=$WORK/creds,endpoint=$SIM_URL" 2>&1)
expect_eq "--check: success exits 0" 0 "$?"
ok "--check: lists what it found" grep -q '^repositories: 2' <<<"$out"
ok "--check: times each step" grep -q 'ms)' <<<"$out"
out=$("$FS_BIN" --check uhub -o "credentials=$WORK/bad,endpoint=$SIM_URL" 2>&1)
expect_eq "--check: bad key exits 1" 1 "$?"
ok "--check: bad key names RetCode 171" grep -q 171 <<<"$out"
out=$("$FS_BIN" --check org-nosuch -o "credentials=$WORK/creds,endpoint=$SIM_URL" 2>&1)
ok "--check: unknown project names RetCode 292" grep -q 292 <<<"$out"
out=$("$FS_BIN" --check uhub -o "credentials=$WORK/creds,endpoint=http://127.0.0.1:1,retries=0" 2>&1)
ok "--check: unreachable endpoint" grep -qi refused <<<"$out"
out=$("$FS_BIN" --check uhub -o "credentials=$WORK/nonexistent" 2>&1)
ok "--check: missing credentials file" grep -q 'nonexistent' <<<"$out"

# --- clean shutdown -------------------------------------------------------------
fs_mount "$WORK/t1" || echo "FAIL: mount"
kill -TERM "$FS_PID"
wait_gone "$FS_PID"
expect_eq "SIGTERM: exit 0" 0 "$GONE_RC"
ok "SIGTERM: no stale mount" bash -c "! mountpoint -q '$WORK/t1'"
fs_mount "$WORK/t2" || echo "FAIL: mount"
kill -INT "$FS_PID"
wait_gone "$FS_PID"
expect_eq "SIGINT: exit 0" 0 "$GONE_RC"
fs_mount "$WORK/t3" || echo "FAIL: mount"
ls "$WORK/t3" >/dev/null
fusermount3 -u "$WORK/t3"
wait_gone "$FS_PID"
expect_eq "fusermount3 -u: exit 0" 0 "$GONE_RC"
fs_mount "$WORK/t4" || echo "FAIL: mount"
kill -KILL "$FS_PID"
wait_gone "$FS_PID"
ok "SIGKILL leaves a dead mount" bash -c "ls '$WORK/t4' 2>&1 | grep -q 'not connected'"
umount -l "$WORK/t4"
ok "umount -l clears it" bash -c "! mountpoint -q '$WORK/t4'"

# --- make install / uninstall into a DESTDIR ------------------------------------
dest=$WORK/root
make -s -C "$top" install DESTDIR="$dest" PREFIX=/usr >/dev/null
ok "install: imgtagfs in bin" test -x "$dest/usr/bin/imgtagfs"
ok "install: mount.imgtagfs in sbin" test -L "$dest/usr/sbin/mount.imgtagfs"
ok "install: imgtagfs(1)" test -f "$dest/usr/share/man/man1/imgtagfs.1"
ok "install: mount.imgtagfs(8)" test -f "$dest/usr/share/man/man8/mount.imgtagfs.8"
make -s -C "$top" uninstall DESTDIR="$dest" PREFIX=/usr >/dev/null
expect_eq "uninstall removes every file" "" "$(find "$dest" -type f -o -type l)"

summary
