#!/usr/bin/env bash
# test_delete_races.sh — deletion against a registry that changes under
# the user, each a scenario an outside review found deleting what the user
# never saw (tests/review has them, each mounting and cleaning up itself):
#   del_relookup  a tag re-pushed in the same second after `ls -l`, then
#                 `rm` after the ttl (rm's own lookup and lstat are no look)
#                 and `find -delete` reading its listing long before
#   del_evict     the same with the image's listing evicted meanwhile (no
#                 ctime can tell: the fingerprint of the bytes shown does)
#   del_blind     a DeleteRepoImage whose reply is lost: never sent again
#                 by libcurl itself, looked at first
#   del_timedout  a listing answered ETIMEDOUT (the deadline) shows nothing:
#                 it must not count as a look at the re-pushed tag
#   readdir_uaf   a directory closed while its timed-out READDIR still runs
#                 (the handle outlives it; ASan's report fails it)
# Each must refuse (EBUSY, no DeleteRepoImage) or count exactly.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pass=0
fail=0
for s in del_relookup del_evict del_blind del_timedout readdir_uaf; do
	out=$(bash "$here/../review/$s.sh" 2>&1)
	if grep -q "^SKIP:" <<<"$out"; then
		grep "^SKIP:" <<<"$out"
		echo "0 passed, 0 failed, 1 skipped"
		exit 0
	fi
	line=$(grep -E "^$s: [0-9]+ passed, [0-9]+ failed" <<<"$out" | tail -1)
	if [[ -z $line ]]; then
		echo "FAIL: $s printed no summary:" >&2
		tail -20 <<<"$out" >&2
		fail=$((fail + 1))
		continue
	fi
	grep "^FAIL" <<<"$out" >&2
	p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
	pass=$((pass + p))
	fail=$((fail + f))
done
echo "test_delete_races: $pass passed, $fail failed"
((fail == 0))
