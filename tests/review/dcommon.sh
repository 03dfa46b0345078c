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
