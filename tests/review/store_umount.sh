#!/usr/bin/env bash
# store_umount.sh — unmount (fusermount3 -u, then -uz if busy) while grep -r
# scans with stores in flight, in the default and -s modes, with API
# latency so that listings are being fetched too. Expected: the daemon
# exits within a few seconds of the unmount each time.
source "$(dirname "$0")/dcommon.sh"
T=1793491200
gen() { printf '{"name": "%s", "generate": {"tags": %s, "prefix": "t", "width": 5, "start": %s, "step": 0, "seed": %s}}' "$1" "$2" "$T" "$3"; }
cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "web", "images": [$(gen a 20000 1), $(gen b 20000 2), $(gen c 3000 3), $(gen d 3000 4)]}]}
JSON
sim_start --data "$WORK/reg.json" || exit 1
for mode in "" "-s"; do
	for round in 1 2 3; do
		M=$WORK/m$round${mode:+s}
		fs_mount "$M" $mode -o ttl=2,page_size=1000 || exit 1
		pid=$FS_PID
		find "$M/web/a" "$M/web/b" -type f >/dev/null
		sim_ctl "config?latency_ms=$((round * 200))"
		(grep -r nothing-like-this "$M/web" >/dev/null 2>&1) &
		gp=$!
		sleep $((round))
		echo "mode '${mode}' round $round: store_files $(stat_of "$M" store_files) store_batches $(stat_of "$M" store_batches)"
		t0=$(date +%s%N)
		how=plain
		fusermount3 -u "$M" 2>/dev/null || { how=lazy; fusermount3 -uz "$M"; }
		# a lazy unmount lives on while grep holds it: end grep then
		[[ $how == lazy ]] && { kill "$gp" 2>/dev/null; wait "$gp" 2>/dev/null; }
		for i in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
		ms=$((($(date +%s%N) - t0) / 1000000))
		alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)
		echo "  unmount ($how) to exit: ${ms} ms, still alive after 15 s: $alive; grep alive: $(kill -0 "$gp" 2>/dev/null && echo yes || echo no)"
		ok "mode '$mode' round $round: daemon exits within 15 s" test "$alive" = no
		[[ $alive == yes ]] && { for t in /proc/"$pid"/task/*; do echo "$(cat $t/comm) $(cat $t/wchan)"; done; kill -9 "$pid"; }
		kill "$gp" 2>/dev/null; wait "$gp" 2>/dev/null
		sim_ctl "config?latency_ms=0"
	done
done
summary
