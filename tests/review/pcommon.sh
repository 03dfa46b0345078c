# pcommon.sh — for the paging/consistency review's reproductions: lib.sh
# and small helpers (no Redis).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
need_fuse
export TZ=UTC
stat_of() { getfattr --only-values -n user.imgtagfs.stats "$1" 2>/dev/null | sed -n "s/^$2: //p"; }
ms() { date +%s%3N; }
# wait_count ACTION N: until the sim has received N requests of ACTION (10 s).
wait_count() {
	local i
	for i in $(seq 2000); do
		(($(sim_count "$1") >= $2)) && return 0
		sleep 0.005
	done
	return 1
}
# reg_file FILE IMAGE TAGS: a one-repository registry "r" whose image
# IMAGE holds TAGS tags t001.. (update times a minute apart).
reg_file() {
	printf '{"repos":[{"name":"r","images":[{"name":"%s","generate":{"tags":%d,"prefix":"t","width":3,"start":1790000000,"step":60}}]}]}\n' "$2" "$3" >"$1"
}
