# common.sh — for the review's reproductions: lib.sh, the sim, one Redis.
set -uo pipefail
source "$(dirname "$0")/../integration/lib.sh"
need_fuse
need_redis
stat_of() { getfattr --only-values -n user.imgtagfs.stats "$1" 2>/dev/null | sed -n "s/^$2: //p"; }
digest() { printf 'sha256:%s' "$(printf "$1%.0s" {1..64})"; }
ms() { date +%s%3N; }
