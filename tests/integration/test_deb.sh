#!/usr/bin/env bash
# test_deb.sh — the Debian packages, installed like sshfs: make
# deb builds imgtagfs and uhub-sim (unit tests included); each promised
# file is in the .deb; lintian finds no error; apt-get installs them; the
# man pages are found and --version says VERSION; an fstab line (the
# packaged example's) in a temporary fstab mounts through mount(8) and the
# installed /sbin/mount.imgtagfs against the installed uhub-sim; umount
# ends the daemon; apt-get purge leaves no file of theirs. The machine is
# restored even on failure (trap), and a make install copy in /usr/local is
# left as it was.
#
# Needs root and /dev/fuse; skipped in sanitized builds (CI's ASan and TSan
# passes: the packages are built from scratch, the same each time), and
# when the packages, or unpackaged files at their paths, are there already.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

skip() {
	echo "SKIP: $*"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}
((EUID == 0)) || skip "not root: installing packages and mount(8) need root"
need_fuse
if [[ -x $FS_BIN ]] && grep -qaE "__(a|t)san_init|__ubsan_handle" "$FS_BIN"; then
	skip "$FS_BIN is built with a sanitizer: the package build is the same in every pass, tested in the plain one"
fi

V=$(<"$top/VERSION")
PKGS=(imgtagfs uhub-sim)
OURS=(/usr/bin/imgtagfs /usr/sbin/mount.imgtagfs /sbin/mount.imgtagfs /usr/bin/uhub-sim)
DEB_DIR=$BUILD/deb
T0=$SECONDS

# One package test, and /sbin/mount.imgtagfs, at a time on this machine
# (test_ops.sh takes the same lock for its temporary helper).
exec 9>/run/lock/imgtagfs-sbin.lock
flock -w 600 9 || skip "another test holds /run/lock/imgtagfs-sbin.lock"
for p in "${PKGS[@]}"; do
	if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.i'; then
		skip "package $p is installed: this test would purge it (apt-get purge ${PKGS[*]} first)"
	fi
done
for f in "${OURS[@]}"; do
	if [[ -e $f || -L $f ]]; then
		skip "$f exists and no package owns it (make install PREFIX=/usr?): the package would overwrite it"
	fi
done

# Restore the machine on every exit: unmount, purge what we installed
# (the packages, and whatever apt pulled in for them), then lib.sh's
# cleanup (processes, $WORK).
INSTALLED=0
NEW_DEPS=()
deb_cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; }
	done
	if ((INSTALLED)); then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq -o DPkg::Lock::Timeout=300 \
			"${PKGS[@]}" "${NEW_DEPS[@]}" >/dev/null 2>&1 || true
	fi
	cleanup
}
trap deb_cleanup EXIT

# What a source install in /usr/local holds now (it must not change).
local_state() {
	find /usr/local \( -name 'imgtagfs*' -o -name 'mount.imgtagfs*' -o -name 'uhub-sim*' \) \
		-printf '%p %y %l %s %T@\n' 2>/dev/null | sort
}
LOCAL_BEFORE=$(local_state)

# --- build -------------------------------------------------------------------
git_state() { git -C "$top" status --porcelain --untracked-files=all 2>/dev/null; }
GIT_BEFORE=$(git_state)
t=$SECONDS
if ! make -s -C "$top" --no-print-directory B="$BUILD" deb >"$WORK/deb.log" 2>&1; then
	echo "FAIL: make deb" >&2
	tail -30 "$WORK/deb.log" >&2
	FAIL=$((FAIL + 1))
	summary
	exit 1
fi
echo "make deb: $((SECONDS - t)) s"
expect_eq "make deb leaves no file in the tree outside build/ (git status)" "$GIT_BEFORE" "$(git_state)"
ok "make deb ran the unit tests (dh_auto_test)" grep -q 'unit test binaries: [0-9]* passed, 0 failed' "$DEB_DIR/build.log"

DEB_FS=$(ls "$DEB_DIR"/imgtagfs_"$V"_*.deb 2>/dev/null)
DEB_SIM=$(ls "$DEB_DIR"/uhub-sim_"$V"_*.deb 2>/dev/null)
ok "build/deb/imgtagfs_${V}_ARCH.deb" test -f "$DEB_FS"
ok "build/deb/uhub-sim_${V}_ARCH.deb" test -f "$DEB_SIM"
[[ -f $DEB_FS && -f $DEB_SIM ]] || { summary; exit 1; }
echo "sizes: $(stat -c '%n %s B' "$DEB_FS" "$DEB_SIM" | sed "s|$DEB_DIR/||" | paste -sd, | sed 's/,/, /g')"

# --- contents ------------------------------------------------------------------
contents() { dpkg-deb -c "$1" | awk '{ p = $6; sub(/^\./, "", p); sub(/\/$/, "", p); print p ($7 == "->" ? " -> " $8 : "") }'; }
FS_LIST=$(contents "$DEB_FS")
SIM_LIST=$(contents "$DEB_SIM")
doc=/usr/share/doc/imgtagfs
for f in /usr/bin/imgtagfs "/usr/sbin/mount.imgtagfs -> ../bin/imgtagfs" \
	/usr/share/man/man1/imgtagfs.1.gz /usr/share/man/man8/mount.imgtagfs.8.gz \
	$doc/README.md.gz $doc/NEWS.md.gz $doc/copyright $doc/README.Debian \
	$doc/examples/fstab $doc/examples/credentials $doc/examples/mnt-registry.mount \
	$doc/examples/fstab-shared $doc/examples/redis-shared-cache.conf; do
	ok "imgtagfs.deb has $f" grep -qxF "$f" <<<"$FS_LIST"
done
for f in /usr/bin/uhub-sim /usr/share/man/man1/uhub-sim.1.gz /usr/share/doc/uhub-sim/copyright \
	/usr/share/doc/uhub-sim/examples/demo-registry.json; do
	ok "uhub-sim.deb has $f" grep -qxF "$f" <<<"$SIM_LIST"
done
readme_debian=$(dpkg-deb --fsys-tarfile "$DEB_FS" | tar -xO ".$doc/README.Debian")
ok "README.Debian gives the line that prunes imgtagfs mounts from updatedb" \
	grep -qF "sed -i 's/^PRUNEFS *= *\"/&fuse.imgtagfs /' /etc/updatedb.conf" <<<"$readme_debian"
ok "uhub-sim.deb holds no test suite" bash -c "! grep -qE '/tests?/|test_|cmocka' <<<'$SIM_LIST'"
ok "imgtagfs depends on fuse3 (fusermount3)" bash -c "dpkg-deb -f '$DEB_FS' Depends | grep -qE '(^|, )fuse3(,|$)'"
ok "imgtagfs depends on libfuse3 (shlibs)" bash -c "dpkg-deb -f '$DEB_FS' Depends | grep -q libfuse3-3"
ok "uhub-sim needs neither libfuse nor libcurl" bash -c "! dpkg-deb -f '$DEB_SIM' Depends | grep -qE 'libfuse|libcurl'"
expect_eq "debian/copyright is DEP-5" "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" \
	"$(head -1 "$top/debian/copyright")"

# --- lintian (make deb ran it) --------------------------------------------------
ok "lintian ran" test -f "$DEB_DIR/lintian.txt"
expect_eq "lintian: no error" 0 "$(grep -c '^E:' "$DEB_DIR/lintian.txt")"
echo "lintian: $(grep -c '^E:' "$DEB_DIR/lintian.txt") errors, $(grep -c '^W:' "$DEB_DIR/lintian.txt") warnings, $(grep -c '^[IPX]:' "$DEB_DIR/lintian.txt") other tags"
grep -E '^[EW]:' "$DEB_DIR/lintian.txt" >&2

# --- install --------------------------------------------------------------------
pre_exist() { # PATHS on stdin: those that exist now
	local p
	while read -r p; do
		p=${p%% -> *}
		[[ -e $p || -L $p ]] && echo "$p"
	done
}
PATHS=$(printf '%s\n%s\n' "$FS_LIST" "$SIM_LIST" | sed 's/ -> .*//' | grep . | sort -u)
EXIST_BEFORE=$(pre_exist <<<"$PATHS")
INSTALLED=1
t=$SECONDS
DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=300 --no-install-recommends \
	"$DEB_DIR"/imgtagfs_"$V"_*.deb "$DEB_DIR"/uhub-sim_"$V"_*.deb >"$WORK/apt.log" 2>&1
expect_eq "apt-get install ./build/deb/imgtagfs_*.deb ./build/deb/uhub-sim_*.deb" 0 "$?"
echo "apt-get install: $((SECONDS - t)) s"
mapfile -t NEW_DEPS < <(sed -n '/^The following NEW packages will be installed:/,/^[^ ]/{/^  /p}' "$WORK/apt.log" |
	tr ' ' '\n' | grep . | grep -vxE 'imgtagfs|uhub-sim')
((${#NEW_DEPS[@]})) && echo "apt pulled in: ${NEW_DEPS[*]} (purged at the end)"
for p in "${PKGS[@]}"; do
	expect_eq "$p installed" "ii" "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | cut -c1-2)"
done
ok "mount(8)'s /sbin/mount.imgtagfs is the package's" test "$(readlink -f /sbin/mount.imgtagfs)" = /usr/bin/imgtagfs
expect_eq "man -w imgtagfs mount.imgtagfs uhub-sim" \
	"/usr/share/man/man1/imgtagfs.1.gz /usr/share/man/man8/mount.imgtagfs.8.gz /usr/share/man/man1/uhub-sim.1.gz" \
	"$(man -w imgtagfs mount.imgtagfs uhub-sim 2>&1 | xargs)"
expect_eq "imgtagfs --version" "imgtagfs $V" "$(/usr/bin/imgtagfs --version | cut -d' ' -f1,2)"
expect_eq "uhub-sim --version" "uhub-sim $V" "$(/usr/bin/uhub-sim --version | cut -d' ' -f1,2)"

# The packaged systemd unit is mount.imgtagfs(8)'s, and systemd accepts it.
man_unit=$(sed -n '/^\[Unit\]/,/^WantedBy=/{s/\\-/-/g;p}' "$top/man/mount.imgtagfs.8")
expect_eq "examples/mnt-registry.mount is mount.imgtagfs(8)'s unit" "$man_unit" "$(cat $doc/examples/mnt-registry.mount)"
mkdir -p "$WORK/unit"
cp $doc/examples/mnt-registry.mount "$WORK/unit/"
out=$(systemd-analyze verify "$WORK/unit/mnt-registry.mount" 2>&1)
expect_eq "systemd-analyze verify mnt-registry.mount: clean" "0:" "$?:$out"

# --- mount from fstab, through mount(8) and the installed helper -----------------------
SIM_BIN=/usr/bin/uhub-sim
sim_start --data /usr/share/doc/uhub-sim/examples/demo-registry.json || { summary; exit 1; }
write_creds "$WORK/creds"
M=$WORK/mnt
mkdir -p "$M"
MOUNTS+=("$M")
# The packaged example line, pointed at the simulator.
line=$(grep -v '^#' $doc/examples/fstab | grep .)
read -r src _ type opts rest <<<"$line"
opts=${opts/credentials=\/etc\/imgtagfs\/credentials/credentials=$WORK/creds}
printf '%s %s %s %s %s\n' "$src" "$M" "$type" "$opts,endpoint=$SIM_URL" "$rest" >"$WORK/fstab"
out=$(mount -T "$WORK/fstab" "$M" 2>&1)
expect_eq "mount -T FSTAB $M: exit 0" "0:" "$?:$out"
expect_eq "findmnt: fuse.imgtagfs from uhub:web" "fuse.imgtagfs imgtagfs:uhub:web" \
	"$(findmnt -n -o FSTYPE,SOURCE "$M" | xargs)"
expect_eq "ls lists the images of web (demo-registry.json)" "api frontend worker" "$(ls "$M" | xargs)"
tag=$(find "$M" -type f | head -1)
ok "cat of a tag file: its digest and update time" grep -qE '^updated: [0-9]{4}-' "${tag:-/nonexistent}"
pid=$(pgrep -f "mount.imgtagfs uhub:web $M" | head -1)
ok "the daemon runs the installed /usr/bin/imgtagfs" test "$(readlink "/proc/${pid:-0}/exe")" = /usr/bin/imgtagfs
umount "$M"
expect_eq "umount: nothing mounted" "" "$(findmnt -n "$M")"
daemon_gone() { ! kill -0 "${pid:-0}" 2>/dev/null; }
ok "umount ends the daemon" wait_until 30 daemon_gone
sim_stop

# --- purge ----------------------------------------------------------------------
LISTED=$(dpkg -L "${PKGS[@]}" 2>/dev/null | grep -vxE '/\.|' | sort -u)
expect_eq "dpkg -L lists what dpkg-deb -c showed" "$PATHS" "$LISTED"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -o DPkg::Lock::Timeout=300 \
	"${PKGS[@]}" "${NEW_DEPS[@]}" >"$WORK/purge.log" 2>&1
expect_eq "apt-get purge ${PKGS[*]}" 0 "$?"
INSTALLED=0
for p in "${PKGS[@]}"; do
	ok "$p: no trace in dpkg" bash -c "! dpkg-query -W -f='\${db:Status-Abbrev}' $p 2>/dev/null | grep -q '^[^u]'"
done
left=$(comm -13 <(echo "$EXIST_BEFORE") <(pre_exist <<<"$LISTED" | sort))
expect_eq "purge leaves none of their files (dpkg -L before against the file system after)" "" "$left"
for f in "${OURS[@]}"; do
	ok "$f gone" bash -c "[[ ! -e $f && ! -L $f ]]"
done
expect_eq "/usr/local untouched" "$LOCAL_BEFORE" "$(local_state)"
echo "test_deb: $((SECONDS - T0)) s"
summary
