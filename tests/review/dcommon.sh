# dcommon.sh — for the deletion and page-cache store reproductions: lib.sh
# and a few helpers (no Redis needed unless a script asks for it).
set -uo pipefail
source "$(dirname "$0")/../integration/lib.sh"
need_fuse
digest() { printf 'sha256:%s' "$(printf "$1%.0s" {1..64})"; }
dels() { sim_count DeleteRepoImage "$@"; }
errno_of() { # the strerror text the command printed, or "ok"
	local e
	e=$("$@" 2>&1 >/dev/null | sed -n 's/.*: \([A-Z][^:]*\)$/\1/p' | head -1)
	echo "${e:-ok}"
}
in_registry() { curl -fsS "$SIM_URL/_sim/state" | grep -q "$1"; }
# The registry most reproductions start from: ci/lib with v1 (digest a)
# and v2 (digest b) pushed at T0, and any more images given as JSON
# objects; starts uhub-sim on it.
T0=1790000000
lib_registry() {
	local more=""
	for i in "$@"; do more+="$i, "; done
	cat >"$WORK/reg.json" <<JSON
{"repos": [{"name": "ci", "images": [$more
   {"name": "lib", "tags": [{"name": "v1", "digest": "$(digest a)", "update_time": $T0},
                            {"name": "v2", "digest": "$(digest b)", "update_time": $T0}]}]}]}
JSON
	sim_start --data "$WORK/reg.json"
}
