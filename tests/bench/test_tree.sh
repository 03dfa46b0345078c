#!/usr/bin/env bash
# test_tree.sh — checks uhub-sim's /tree/ view (tests/sim/sim_tree.c), which
# the benchmark's peers browse: the index pages (nested image names,
# escaping, a directory asked for without its slash), the tag files against
# the API's own data (GET, HEAD, Content-Length, Last-Modified, ranges),
# 404 and 405, the counters, the latency and the dump. curl only, 127.0.0.1
# only. Ends with "N passed, M failed"; exits non-zero on any failure.
#   SIM_BIN=/path/to/uhub-sim tests/bench/test_tree.sh   (e.g. an ASan build)
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$top/tests/integration/lib.sh"

cat >"$WORK/data.json" <<'EOF'
{"repos": [
 {"name": "web", "update_time": 1795745700, "images": [
  {"name": "api", "tags": [
   {"name": "v1", "digest": "sha256:aaaa000000000000000000000000000000000000000000000000000000000001", "update_time": 1795745700},
   {"name": "a&b<c>", "digest": "sha256:bbbb000000000000000000000000000000000000000000000000000000000002", "update_time": 1795000000},
   {"name": "nodigest", "update_time": 1795000000}]},
  {"name": "team/app", "tags": [{"name": "t1", "digest": "sha256:cccc000000000000000000000000000000000000000000000000000000000003", "update_time": 1795000000}]},
  {"name": "team/db", "tags": [{"name": "t2", "update_time": 1795000000}]},
  {"name": "team", "tags": [{"name": "solo", "update_time": 1795000000}]}]},
 {"name": "pub", "type": "public", "images": [{"name": "x", "tags": [{"name": "y"}]}]}]}
EOF

sim_start --data "$WORK/data.json" || exit 1
get() { curl -sS "$SIM_URL$1"; }
links() { get "$1" | grep -o '<a href="[^"]*">' | sed 's/<a href="\(.*\)">/\1/' | tr '\n' ' ' | sed 's/ $//'; }
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
status() { curl -sS -o /dev/null -w '%{http_code}' "${@:2}" "$SIM_URL$1"; }
header() { curl -sS -D - -o /dev/null "${@:3}" "$SIM_URL$1" | tr -d '\r' | sed -n "s/^$2: //Ip"; }

# ---- index pages ----
root=$(get /tree/)
expect_eq "root lists the private repository" 1 "$(grep -c '<a href="web/">web/</a>' <<<"$root")"
expect_eq "root leaves out public repositories" 0 "$(grep -c 'pub/' <<<"$root")"
expect_eq "root is text/html" "text/html; charset=utf-8" "$(header /tree/ Content-Type)"
expect_eq "/tree without its slash is the root" "$(links /tree/)" "$(links /tree)"
expect_eq "repo page: the images as directories, nested ones once" 'api/ team/' "$(links /tree/web/)"
expect_eq "a directory without its slash gives its page" "$(links /tree/web/)" "$(links /tree/web)"
expect_eq "team/: nested images as directories, then team's own tags" 'app/ db/ solo' "$(links /tree/web/team/)"
api=$(get /tree/web/api/)
expect_eq "tag names are percent-encoded in hrefs and escaped in text" 1 \
	"$(grep -c '<a href="a%26b%3Cc%3E">a&amp;b&lt;c&gt;</a>' <<<"$api")"
expect_eq "tags are files (no slash)" 1 "$(grep -c '<a href="v1">v1</a>' <<<"$api")"

# ---- tag files ----
want="digest: sha256:aaaa000000000000000000000000000000000000000000000000000000000001
updated: $(rfc3339 1795745700)"
expect_eq "a tag file holds what imgtagfs shows" "$want" "$(get /tree/web/api/v1)"
expect_eq "no digest line without a digest" "updated: $(rfc3339 1795000000)" "$(get /tree/web/api/nodigest)"
expect_eq "a nested image's tag" 1 "$(get /tree/web/team/app/t1 | grep -c '^digest: sha256:cccc')"
expect_eq "an escaped name resolves" 1 "$(get '/tree/web/api/a%26b%3Cc%3E' | grep -c '^digest: sha256:bbbb')"
expect_eq "Content-Length" "$(get /tree/web/api/v1 | wc -c)" "$(header /tree/web/api/v1 Content-Length)"
expect_eq "HEAD: Content-Length" "$(get /tree/web/api/v1 | wc -c)" "$(header /tree/web/api/v1 Content-Length -I)"
expect_eq "HEAD: Last-Modified" "$(date -u -d @1795745700 '+%a, %d %b %Y %H:%M:%S GMT')" "$(header /tree/web/api/v1 Last-Modified -I)"
expect_eq "HEAD: no body" 0 "$(curl -sS -I -o /dev/null -w '%{size_download}' "$SIM_URL/tree/web/api/v1")"
expect_eq "range: 206" 206 "$(status /tree/web/api/v1 -H 'Range: bytes=0-5')"
expect_eq "range: the bytes" "digest" "$(curl -sS -H 'Range: bytes=0-5' "$SIM_URL/tree/web/api/v1")"
expect_eq "range: Content-Range" "bytes 0-5/110" "$(header /tree/web/api/v1 Content-Range -H 'Range: bytes=0-5')"
expect_eq "suffix range" "00Z" "$(curl -sS -H 'Range: bytes=-4' "$SIM_URL/tree/web/api/v1" | head -c 3)"
expect_eq "range past the end: 416" 416 "$(status /tree/web/api/v1 -H 'Range: bytes=500-')"
expect_eq "an unparsable range: the whole file" 200 "$(status /tree/web/api/v1 -H 'Range: lines=1-2')"

# ---- errors ----
expect_eq "no such repo" 404 "$(status /tree/nope/)"
expect_eq "no such directory" 404 "$(status /tree/web/nope/)"
expect_eq "no such tag" 404 "$(status /tree/web/api/nope)"
expect_eq "an empty name" 404 "$(status '/tree/web//api/')"
expect_eq "POST is refused" 405 "$(status /tree/ -X POST)"
expect_eq "the API still answers at /" 1 "$(curl -sS "$SIM_URL/?Action=GetRepo" | grep -c '"RetCode"')"

# ---- counters, latency, dump ----
sim_ctl reset
get /tree/ >/dev/null
get /tree/web/api/ >/dev/null
curl -sS -I "$SIM_URL/tree/web/api/v1" >/dev/null
expect_eq "tree requests are counted" 3 "$(sim_count tree)"
expect_eq "per image" 2 "$(sim_count tree web api)"
expect_eq "per tag" 1 "$(sim_count tree web api v1)"
sim_ctl 'config?latency_ms=200'
t=$(curl -sS -o /dev/null -w '%{time_total}' "$SIM_URL/tree/web/api/v1")
ok "the latency applies to the tree view" awk -v t="$t" 'BEGIN { exit !(t >= 0.2) }'
sim_ctl 'config?latency_ms=0'
dump=$(get '/tree/?dump')
expect_eq "the dump has every tag of the private repos" 6 "$(wc -l <<<"$dump")"
expect_eq "a dump line" $'web\tteam/app\tt1\t1795000000\tsha256:cccc000000000000000000000000000000000000000000000000000000000003\t'"$(rfc3339 1795000000)" \
	"$(grep $'\tt1\t' <<<"$dump")"

summary
