#!/usr/bin/env bash
# del_relookup.sh — a user looks (ls -l), the tag is re-pushed (new digest,
# same second), the ttl passes, the user runs rm. The kernel's dentry has
# expired, so rm's own path walk LOOKUPs the name again: the daemon
# answers the new attributes and records them as "shown" before the
# UNLINK arrives. Expected (imgtagfs(1) DELETION: "Nothing the user did
# not see is deleted", "a tag re-pushed after find listed it survives
# -delete"): EBUSY, no DeleteRepoImage. Also find -name -delete (no stat
# predicate) on a listing older than the ttl.
source "$(dirname "$0")/dcommon.sh"
T0=1790000000
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "ci", "images": [
   {"name": "lib", "tags": [{"name": "v1", "digest": "$(digest a)", "update_time": $T0},
                            {"name": "v2", "digest": "$(digest b)", "update_time": $T0},
                            {"name": "v3", "digest": "$(digest e)", "update_time": $T0}]}]}]}
JSON
sim_start --data "$WORK/reg.json" || exit 1
M=$WORK/m
FS_LOG=$WORK/m.log fs_mount "$M" -o ttl=2,allow_delete || exit 1
ls -l --time-style=+%s "$M/ci/lib"
getfattr -d "$M/ci/lib/v2"
# Same second, new digest.
sim_ctl "push?repo=ci&image=lib&tag=v2&digest=$(digest c)&time=$T0"
sleep 3
sim_ctl reset
echo "rm v2 after the ttl: $(errno_of rm "$M/ci/lib/v2")"
expect_eq "re-pushed same second, rm after ttl: refused" 0 "$(dels)"
ok "the re-pushed digest c is still in the registry" in_registry "$(digest c)"
grep -E "deleted|refused" "$WORK/m.log"

# find without a stat predicate: lists, then deletes; the listing is older
# than the ttl by the time the unlink comes (simulated by a pause between
# find's readdir and its unlinks: -print first, then the push, then -delete
# reads the same names — here a single find with -exec sleep).
ls -l "$M/ci/lib" >/dev/null
sim_ctl "push?repo=ci&image=lib&tag=v3&digest=$(digest f)&time=$T0"
sim_ctl reset
find "$M/ci/lib" -name 'v3' -exec sleep 3 \; -delete
echo "find -delete after a pause: DeleteRepoImage=$(dels)"
expect_eq "find -delete: the re-pushed v3 survives" 0 "$(dels)"

# The kernel forgets the inode meanwhile (memory pressure; drop_caches
# here): what it was shown is kept, and rm's lookup is no first showing.
ls -l "$M/ci/lib" >/dev/null
sim_ctl "push?repo=ci&image=lib&tag=v1&digest=$(digest g)&time=$T0"
forgot() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	[[ $(stat_of "$M" deletes_kept) -ge 1 ]]
}
ok "the kernel forgot v1 (deletes_kept)" wait_until 30 forgot
sleep 3
sim_ctl reset
echo "rm v1 after the kernel forgot it: $(errno_of rm "$M/ci/lib/v1")"
expect_eq "forgotten, re-pushed same second, rm after ttl: refused" 0 "$(dels)"
ok "the re-pushed digest g is still in the registry" in_registry "$(digest g)"
fusermount3 -u "$M"
summary
