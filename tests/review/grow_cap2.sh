#!/usr/bin/env bash
# A server that caps Limit at 2: pages overlap by one, so the first pass
# of a list of N items takes N - 1 requests, and the call budget
# 2 x ceil(N / 2) + 10 leaves ten to spare. Twelve tags pushed at the END
# of the list while it is paged (nothing ahead of any page moves) need
# twelve more pages: the budget runs out and the listing fails.
# Expected: the listing (README: "a list that moves while it is paged
# loses nothing"; at worst "kept unsure"). Observed: ls EIO, "over the
# budget of 50 requests" in the log; each retry costs the whole budget.
source "$(dirname "$0")/pcommon.sh"
reg_file "$WORK/reg.json" img 40
sim_start --data "$WORK/reg.json" --max-limit 2 --latency-ms 60 || exit 1
fs_mount "$WORK/m" -o ttl=60,lazy,prefetch=0,max_requests=1 || exit 1
ls "$WORK/m/r/img" >"$WORK/ls.out" 2>"$WORK/ls.err" &
lspid=$!
wait_count GetImageTag 10 || exit 1
for i in $(seq 12); do
	sim_ctl "push?repo=r&image=img&tag=z$i&time=1790009999"
done
wait "$lspid"
expect_eq "ls of a list that only grew at its end" "" "$(cat "$WORK/ls.err")"
expect_eq "names listed" 52 "$(wc -l <"$WORK/ls.out")"
echo "GetImageTag calls: $(sim_count GetImageTag)"
grep 'listing r/img' "$WORK/fs.log"
summary
