#!/usr/bin/env bash
# store_churn.sh — grep -r over images while the registry re-pushes their
# tags within the same second (new digest: same size, same mtime), ttl=2.
# After the pushes stop and the ttl has passed (plus margin), every file
# read (cat / grep -r .) must show the simulator's bytes.
# Expected: no difference. Env: ROUNDS (default 6), TAGS (default 400).
source "$(dirname "$0")/dcommon.sh"
T=1793491200
TAGS=${TAGS:-400}
ROUNDS=${ROUNDS:-6}
gen() { printf '{"name": "%s", "generate": {"tags": %s, "prefix": "t", "width": 4, "start": %s, "step": 0, "seed": %s}}' "$1" "$2" "$T" "$3"; }
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "web", "images": [$(gen a "$TAGS" 1), $(gen b "$TAGS" 2)]}]}
JSON
sim_start --data "$WORK/reg.json" || exit 1
expected() {
	curl -fsS "$SIM_URL/tree/?dump" | awk -F'\t' -v m="$1" '{
		if ($5 != "") print m "/web/" $2 "/" $3 ":digest: " $5
		print m "/web/" $2 "/" $3 ":updated: " $6 }' | sort
}
M=$WORK/m
fs_mount "$M" -o ttl=${TTL:-2} ${EXTRA:-} || exit 1
find "$M" -type f >/dev/null
hexd() { printf '%064x' "$1" | sed 's/^0*/&/' | cut -c1-64; }
i=0
for r in $(seq "$ROUNDS"); do
	# pushes in the background, same second, new digest every time
	(for k in $(seq 1 60); do
		n=$(( (RANDOM % TAGS) + 1 ))
		img=$([[ $((RANDOM % 2)) == 0 ]] && echo a || echo b)
		d=$(printf '%064x' $(( (r * 100000 + k) * 7919 )))
		curl -fsS -X POST "$SIM_URL/_sim/push?repo=web&image=$img&tag=$(printf 't%04d' "$n")&digest=sha256:$d&time=$T" >/dev/null
		sleep 0.02
	done) &
	pp=$!
	for g in 1 2 3; do grep -r . "$M/web" >/dev/null; done
	wait "$pp"
	# occasionally a refresh in the middle
	[[ $((r % 2)) == 0 ]] && getfattr -n user.imgtagfs.refresh "$M/web/a" >/dev/null 2>&1
done
sleep $(( ${TTL:-2} + 2 ))
expected "$M" >"$WORK/want"
# read twice: the first may refill, the second must agree too
grep -r . "$M/web" | sort >"$WORK/got1"
sleep 0.5
grep -r . "$M/web" | sort >"$WORK/got2"
for f in got1 got2; do
	nd=$(diff "$WORK/want" "$WORK/$f" | grep -c '^>')
	expect_eq "$f: lines differing from the registry after the ttl" 0 "$nd"
	diff "$WORK/want" "$WORK/$f" | head -6
done
getfattr --only-values -n user.imgtagfs.stats "$M" | grep -E '^(store_|fuse_reads|api_calls)'
fs_umount "$M"
summary
