#!/usr/bin/env bash
# test_repo_ttl.sh — a repository's own ttl (-o ttl.REPO=), on a real
# mount against uhub-sim: with ttl=600 and ttl.repo-00=2, a push to each
# repository (a new tag, and a re-push of a tag the kernel has seen, with
# a new time) shows in repo-00 once its 2 s are up, through the daemon's
# listings and the kernel's caches alike (entry and attribute timeouts
# follow the repository's ttl), while repo-01 goes on showing what it
# listed and costs no GetImageTag call, nor even a request to the daemon.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

M=$WORK/m
SHORT=repo-00
LONG=repo-01
digest() { printf 'sha256:%s' "$(printf "$1%.0s" {1..64})"; }
# fuse_calls: requests that reached the daemon for names and attributes.
fuse_calls() { echo $(($(stat_of "$M" fuse_lookups) + $(stat_of "$M" fuse_getattrs))); }
mtime() { stat -c %Y "$M/$1/img-00/tag-0000"; }
shows_time() { [[ $(mtime "$1") == "$2" ]]; }
# (Listings are read into a variable, not through <(...): a process
# substitution may still be asking when the counters are read.)

sim_start --gen "repos=2,images=1,tags=1,nested=0" --seed 1 || exit 1
fs_mount "$M" -o ttl=600,ttl.$SHORT=2,prefetch=0,lazy || exit 1

# Warm: each image's tags listed, its tag stat'ed, a name it lacks looked up.
for r in $SHORT $LONG; do
	ok "$r: the tag is listed" grep -qx tag-0000 <<<"$(ls "$M/$r/img-00")"
	ok "$r: the tag reads" grep -q sha256: "$M/$r/img-00/tag-0000"
	ok "$r: no tag new yet" test ! -e "$M/$r/img-00/new"
done
wait_quiet
long_calls=$(sim_count GetImageTag $LONG)
short_calls=$(sim_count GetImageTag $SHORT)
long_daemon=$(stat_of "$M" api_calls.GetImageTag)
long_time=$(mtime $LONG)
T=$(($(mtime $SHORT) + 100))

for r in $SHORT $LONG; do
	sim_ctl "push?repo=$r&image=img-00&tag=new&digest=$(digest 1)&time=$T"
	sim_ctl "push?repo=$r&image=img-00&tag=tag-0000&digest=$(digest 2)&time=$T"
done

# The short one: within a generous bound (its ttl is 2 s), by every path.
ok "$SHORT: the re-pushed tag's new time shows (kernel attributes expire)" wait_until 30 shows_time $SHORT $T
ok "$SHORT: the new tag is found" wait_until 30 test -e "$M/$SHORT/img-00/new"
ok "$SHORT: the new tag is listed" grep -qx new <<<"$(ls "$M/$SHORT/img-00")"
ok "$SHORT: asked the API again" test "$(sim_count GetImageTag $SHORT)" -gt "$short_calls"

# The long one, now past the short ttl: what it listed, at no cost.
before=$(fuse_calls)
expect_eq "$LONG: the re-pushed tag keeps its old time" "$long_time" "$(mtime $LONG)"
expect_eq "$LONG: the kernel answered the stat itself" "$before" "$(fuse_calls)"
listed=$(ls "$M/$LONG/img-00")
ok "$LONG: the new tag is not listed" test "$listed" = tag-0000
ok "$LONG: the new tag is not found" test ! -e "$M/$LONG/img-00/new"
ok "$LONG: its tag still reads" grep -q sha256: "$M/$LONG/img-00/tag-0000"
expect_eq "$LONG: no GetImageTag call since warming (simulator)" "$long_calls" "$(sim_count GetImageTag $LONG)"
short_now=$(($(sim_count GetImageTag $SHORT) - short_calls))
expect_eq "$LONG: no GetImageTag call since warming (daemon: only $SHORT's)" \
	"$((long_daemon + short_now))" "$(stat_of "$M" api_calls.GetImageTag)"

# A refresh asked for still reaches it: the option changes the ttl only.
getfattr -n user.imgtagfs.refresh "$M/$LONG/img-00" >/dev/null 2>&1
ok "$LONG: after a refresh, the new tag is found" wait_until 30 test -e "$M/$LONG/img-00/new"
fs_umount "$M"
summary
