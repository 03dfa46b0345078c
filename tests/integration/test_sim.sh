#!/usr/bin/env bash
# test_sim.sh — drives a running uhub-sim with curl: every action, every
# error code, paging with a server cap, GET / form / JSON requests, the
# control endpoint and its counters, every fault kind, the options, and a
# clean SIGTERM. Needs bash, curl, sha1sum; talks to 127.0.0.1 only.
# Ends with "N passed, M failed"; exits non-zero on any failure.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SIM=${SIM_BIN:-$(cd "$top" && realpath -m "${B:-build}")/uhub-sim}
PUB="ucloudsomeone@example.com1296235120854146120"
PRIV="46f09bb9fab4f12dfc160dae12273d5332b5debe"
WORK=$(mktemp -d /tmp/uhub-sim-test.XXXXXX)
PASS=0
FAIL=0
SIM_PID=""
BG_PIDS=()

cleanup() {
	local p
	for p in "${BG_PIDS[@]}" $SIM_PID; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${BG_PIDS[@]}" $SIM_PID; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- checks ----

check() { # check NAME WANT GOT
	if [[ "$2" == "$3" ]]; then
		PASS=$((PASS + 1))
	else
		FAIL=$((FAIL + 1))
		echo "FAIL: $1: want [$2], got [$3]" >&2
	fi
}

check_true() { # check_true NAME COMMAND...
	local name=$1
	shift
	if "$@"; then
		PASS=$((PASS + 1))
	else
		FAIL=$((FAIL + 1))
		echo "FAIL: $name" >&2
	fi
}

# ---- the simulator ----

# start_sim [options...]: sets URL and SIM_PID.
start_sim() {
	local i
	: >"$WORK/sim.out" # now: the job's own redirection may come after the loop's first read
	"$SIM" --port 0 "$@" >"$WORK/sim.out" 2>"$WORK/sim.err" &
	SIM_PID=$!
	for i in $(seq 600); do # 30 s: a loaded machine
		URL=$(sed -n 's/^listening on \(http:[^ ]*\)$/\1/p' "$WORK/sim.out")
		[[ -n $URL ]] && return 0
		kill -0 "$SIM_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "uhub-sim did not start:" >&2
	cat "$WORK/sim.err" >&2
	exit 1
}

# stop_sim [SIGNAL]: SIGTERM by default; sets STOP_RC to the exit status
# (not in a subshell: only this shell can wait for the simulator).
stop_sim() {
	STOP_RC=0
	kill "-${1:-TERM}" "$SIM_PID"
	wait "$SIM_PID" || STOP_RC=$?
	SIM_PID=""
}

sign() { "$SIM" --sign "${KEY:-$PRIV}" -- PublicKey="${KEYPUB:-$PUB}" "$@"; }
api_get() { curl -s "$URL/?$(sign "$@")"; }
api_form() { curl -s -X POST --data "$(sign "$@")" "$URL/"; }
# api_json NAME=VALUE...: a JSON POST; values that are all digits go as
# JSON numbers, true/false as booleans (signed as their decimal text).
api_json() {
	local sig body="{" kv n v
	sig=$(sign "$@" | sed 's/.*&Signature=//')
	for kv in PublicKey="${KEYPUB:-$PUB}" "$@" Signature="$sig"; do
		n=${kv%%=*} v=${kv#*=}
		if [[ $v =~ ^[0-9]+$ || $v == true || $v == false ]]; then
			body+="\"$n\":$v,"
		else
			body+="\"$n\":\"$v\","
		fi
	done
	curl -s -X POST -H 'Content-Type: application/json' --data "${body%,}}" "$URL/"
}
ctl() { curl -s -X POST "$URL/_sim/$1"; }            # ctl PATH?QUERY
ctl_status() { curl -s -o /dev/null -w '%{http_code}' -X "$1" "$URL/_sim/$2"; }
count() { curl -s "$URL/_sim/count?$1"; }

# ---- reading replies ----

retcode() { sed -n 's/^{"RetCode":"\{0,1\}\([0-9]*\)"\{0,1\},.*/\1/p' <<<"$1"; }
message() { sed -n 's/.*"Message":"\([^"]*\)".*/\1/p' <<<"$1"; }
total() { sed -n 's/.*"TotalCount":\([0-9]*\).*/\1/p' <<<"$1"; }
names() { grep -o "\"$2\":\"[^\"]*\"" <<<"$1" | sed 's/^[^:]*:"//; s/"$//' || true; }
nitems() { names "$1" "$2" | grep -c . || true; }
now() { echo "${EPOCHREALTIME/./}"; } # microseconds

# ================================================================ main sim

start_sim --gen repos=3,images=6,tags=45,seed=7 --max-limit 25 --seed 42 --access-log "$WORK/access.log"
check "health" "ok" "$(curl -s "$URL/_sim/health")"
check "listening line is the only stdout line" "1" "$(wc -l <"$WORK/sim.out")"
ctl "log?on=0" >/dev/null

# ---- the signature: a vector of UHUB-API.md, computed independently ----
s="ActionGetRepoLimit100Offset0PublicKey${PUB}Typeprivate${PRIV}"
check "sha1sum reproduces the GetRepo vector" "a8d2d4e3c1805f3bc5984d331423b44ac1d67364" \
	"$(printf '%s' "$s" | sha1sum | cut -d' ' -f1)"
check "--sign agrees with sha1sum" "a8d2d4e3c1805f3bc5984d331423b44ac1d67364" \
	"$(sign Action=GetRepo Type=private Offset=0 Limit=100 | sed 's/.*Signature=//')"
check "--sign: GetImageTag vector (encoded /)" \
	"Action=GetImageTag&ProjectId=org-abc123&RepoName=myrepo&ImageName=team%2Fapp&Offset=0&Limit=20&Signature=c6d120be89d613d0cd3d275ba5b44f16529d48eb" \
	"$(sign Action=GetImageTag ProjectId=org-abc123 RepoName=myrepo ImageName=team/app Offset=0 Limit=20 | sed 's/^PublicKey=[^&]*&//')"

# ---- GetRepo ----
r=$(api_get Action=GetRepo Type=private)
check "GetRepo RetCode" 0 "$(retcode "$r")"
check "GetRepo Action" "GetRepoResponse" "$(sed -n 's/.*"Action":"\([^"]*\)".*/\1/p' <<<"$r")"
check "GetRepo TotalCount" 3 "$(total "$r")"
check "GetRepo names, sorted" "repo-00 repo-01 repo-02" "$(names "$r" RepoName | tr '\n' ' ' | sed 's/ $//')"
check "GetRepo fields" 1 "$(grep -c '"IsShared":"false","IsOutSide":"false"' <<<"$r")"
check "GetRepo plain time" 1 "$(grep -cE '"UpdateTime":"20[0-9]{2}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}"' <<<"$r")"
check "GetRepo default Type is public (none)" 0 "$(total "$(api_get Action=GetRepo)")"
check "GetRepo Type=bogus" 230 "$(retcode "$(api_get Action=GetRepo Type=bogus)")"
hdr=$(curl -s -D - -o /dev/null "$URL/?$(sign Action=GetRepo)")
check_true "X-UCLOUD-REQUEST-UUID header" grep -qiE '^X-UCLOUD-REQUEST-UUID: [0-9a-f]{8}-[0-9a-f]{4}-' <<<"$hdr"
check_true "JSON content type" grep -qi '^Content-Type: application/json' <<<"$hdr"
check "HTTP 200 on an API error" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/?Action=GetRepo")"

# ---- GetRepoImage (form POST) ----
r=$(api_form Action=GetRepoImage RepoName=repo-01)
check "GetRepoImage RetCode" 0 "$(retcode "$r")"
check "GetRepoImage TotalCount" 6 "$(total "$r")"
check_true "GetRepoImage has a nested name" grep -q '"ImageName":"team/img-04"' <<<"$r"
check_true "GetRepoImage fields" grep -qE '"RepoName":"repo-01","ImageName":"img-00","LatestTag":"tag-[0-9]{4}","PullCount":[0-9]+,"CreateTime":"[^"]+","UpdateTime":"[^"]+"' <<<"$r"
r=$(curl -s -X POST --data "$(sign Action=GetRepoImage RepoName=repo-01)" "$URL/?Action=GetRepoImage")
check "Action in query and body (Go SDK style)" 0 "$(retcode "$r")"

# ---- GetImageTag (JSON POST), paging ----
r=$(api_json Action=GetImageTag RepoName=repo-00 ImageName=team/img-04)
check "GetImageTag JSON RetCode" 0 "$(retcode "$r")"
check "GetImageTag TotalCount" 45 "$(total "$r")"
check "GetImageTag default Limit 20" 20 "$(nitems "$r" TagName)"
check_true "GetImageTag digest" grep -qE '"Digest":"sha256:[0-9a-f]{64}"' <<<"$r"
r=$(api_json Action=GetImageTag RepoName=repo-00 ImageName=img-00 Limit=5 Offset=3)
check "JSON numbers signed as decimal" "0 5" "$(retcode "$r") $(nitems "$r" TagName)"
check "paging: Offset 3 starts at tag-0003" "tag-0003" "$(names "$r" TagName | head -1)"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 Limit=10 Offset=40)
check "last page" "5 45" "$(nitems "$r" TagName) $(total "$r")"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 Offset=100)
check "past the end" "0 45" "$(nitems "$r" TagName) $(total "$r")"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 Limit=100)
check "--max-limit 25 caps Limit=100" "25 45" "$(nitems "$r" TagName) $(total "$r")"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 Limit=0)
check "Limit=0: no items, TotalCount" "0 45" "$(nitems "$r" TagName) $(total "$r")"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 TagName=tag-0017)
check "TagName filter" "1 tag-0017" "$(total "$r") $(names "$r" TagName)"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 TagName=nope)
check "TagName filter, no such tag" "0 0" "$(retcode "$r") $(total "$r")"
seen=""
for off in 0 20 40; do
	seen+=$(names "$(api_form Action=GetImageTag RepoName=repo-02 ImageName=img-05 Offset=$off Limit=20)" TagName)$'\n'
done
check "paging covers every tag once" "45 45" "$(grep -c . <<<"$seen") $(grep . <<<"$seen" | sort -u | wc -l)"

# ---- error codes, in the gateway's order ----
r=$(api_get RepoName=x)
check "160 Missing Action" "160 Missing Action" "$(retcode "$r") $(message "$r")"
r=$(api_get Action=Nope)
check "161 unknown Action" "161 Action [Nope] not found" "$(retcode "$r") $(message "$r")"
check "161 reply Action" 1 "$(grep -c '"Action":"NopeResponse"' <<<"$r")"
r=$(curl -s "$URL/?Action=GetRepo&PublicKey=$PUB")
check "170 Missing Signature" "170 Missing Signature" "$(retcode "$r") $(message "$r")"
r=$(KEYPUB=nobody@example.com api_get Action=GetRepo)
check "172 unknown PublicKey" "172 User Not Exists" "$(retcode "$r") $(message "$r")"
good=$(sign Action=GetRepo Type=private)
bad=${good%?}0
[[ ${good: -1} == 0 ]] && bad=${good%?}1
r=$(curl -s "$URL/?$bad")
check "171 one wrong byte" "171 Signature VerifyAC Error" "$(retcode "$r") $(message "$r")"
r=$(curl -s "$URL/?${good}&Extra=1")
check "171 an unsigned extra parameter" 171 "$(retcode "$r")"
r=$(api_get Action=GetImageTag RepoName=repo-00)
check "230 missing ImageName" "230 Params [ImageName] not available" "$(retcode "$r") $(message "$r")"
r=$(api_get Action=GetRepoImage)
check "230 missing RepoName" "230 Params [RepoName] not available" "$(retcode "$r") $(message "$r")"
check "230 Offset=-1" "Params [Offset] not available" "$(message "$(api_get Action=GetRepo Offset=-1)")"
check "230 Limit=abc" "Params [Limit] not available" "$(message "$(api_get Action=GetRepo Limit=abc)")"
r=$(api_get Action=GetRepo ProjectId=org-nope)
check "292 unknown project" "292 Project [org-nope] not exists" "$(retcode "$r") $(message "$r")"
check "known project" 0 "$(retcode "$(api_get Action=GetRepo ProjectId=org-demo)")"
check "230 before 292" 230 "$(retcode "$(api_get Action=GetRepoImage ProjectId=org-nope)")"
r=$(api_get Action=GetRepoImage RepoName=nope)
check "230 unknown repo" "230 Params [RepoName] not available" "$(retcode "$r") $(message "$r")"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=nope)
check "230 unknown image" "230 Params [ImageName] not available" "$(retcode "$r") $(message "$r")"
check "bad percent-encoding is HTTP 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/?Action=%zz")"
check "other paths are 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api")"

# ---- write actions ----
check "CreateRepo" 0 "$(retcode "$(api_form Action=CreateRepo RepoName=fresh IsShared=true)")"
check "CreateRepo twice" 230 "$(retcode "$(api_form Action=CreateRepo RepoName=fresh)")"
check "CreateRepo bad name" "Params [RepoName] not available" "$(message "$(api_form Action=CreateRepo RepoName=Bad%Name)")"
r=$(api_get Action=GetRepo Type=private)
check "CreateRepo shows in GetRepo" "4 1" "$(total "$r") $(grep -c '"RepoName":"fresh","Description":"","CreateTime":"[^"]*","UpdateTime":"[^"]*","IsShared":"true"' <<<"$r")"
check "DeleteRepoImage one tag" 0 "$(retcode "$(api_form Action=DeleteRepoImage RepoName=repo-01 ImageName=img-01 TagName=tag-0000)")"
check "... tag gone" 44 "$(total "$(api_get Action=GetImageTag RepoName=repo-01 ImageName=img-01)")"
check "DeleteRepoImage unknown tag" "Params [TagName] not available" "$(message "$(api_form Action=DeleteRepoImage RepoName=repo-01 ImageName=img-01 TagName=tag-0000)")"
check "DeleteRepoImage image" 0 "$(retcode "$(api_form Action=DeleteRepoImage RepoName=repo-01 ImageName=img-01)")"
check "... image gone" "Params [ImageName] not available" "$(message "$(api_get Action=GetImageTag RepoName=repo-01 ImageName=img-01)")"
check "DeleteRepo" 0 "$(retcode "$(api_form Action=DeleteRepo RepoName=fresh)")"
check "... repo gone" "Params [RepoName] not available" "$(message "$(api_get Action=GetRepoImage RepoName=fresh)")"

# ---- control: push and delete ----
check "push" "ok" "$(ctl "push?repo=repo-00&image=img-00&tag=v9&digest=sha256:$(printf 'ab%.0s' $(seq 32))&time=1795745700")"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 TagName=v9)
check "pushed tag, time in UTC+8" 1 "$(grep -c '"TagName":"v9","UpdateTime":"2026-11-27 10:15:00","Digest":"sha256:abab' <<<"$r")"
check "push replaces" "ok" "$(ctl "push?repo=repo-00&image=img-00&tag=v9&time=1795745760")"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 TagName=v9)
check "replaced: new time, no digest" "1 0" "$(grep -c '10:16:00' <<<"$r") $(grep -c Digest <<<"$r")"
check "LatestTag follows the push" "v9" "$(names "$(api_get Action=GetRepoImage RepoName=repo-00)" LatestTag | head -1)"
ctl "push?repo=new&image=a/b/c&tag=t%201&type=public" >/dev/null
check "push creates repo and image" "1 a/b/c" \
	"$(total "$(api_get Action=GetRepo Type=public)") $(names "$(api_get Action=GetRepoImage RepoName=new)" ImageName)"
check "delete tag" "ok" "$(ctl "delete?repo=new&image=a/b/c&tag=t%201")"
check "delete repo" "ok" "$(ctl "delete?repo=new")"
check "delete unknown: 400" 400 "$(ctl_status POST "delete?repo=new")"
check "push needs repo/image/tag: 400" 400 "$(ctl_status POST "push?repo=x")"
check "unknown parameter: 400" 400 "$(ctl_status POST "push?repo=x&image=y&tag=z&colour=red")"
check "GET on a change: 405" 405 "$(ctl_status GET "push?repo=x&image=y&tag=z")"
check "unknown control: 404" 404 "$(ctl_status GET "nope")"

# ---- control: counters ----
ctl reset >/dev/null
check "reset" 0 "$(count "action=*")"
api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 >/dev/null
api_form Action=GetImageTag RepoName=repo-00 ImageName=img-00 Offset=20 >/dev/null
api_json Action=GetImageTag RepoName=repo-00 ImageName=img-00 TagName=tag-0003 >/dev/null
api_get Action=GetImageTag RepoName=repo-00 ImageName=img-02 >/dev/null
api_get Action=GetRepo >/dev/null
curl -s "$URL/?Action=GetRepo" >/dev/null # unsigned: counted all the same
check "count per repo+image" 3 "$(count "action=GetImageTag&repo=repo-00&image=img-00")"
check "count has_tag=1" 1 "$(count "action=GetImageTag&repo=repo-00&image=img-00&has_tag=1")"
check "count has_tag=0" 2 "$(count "action=GetImageTag&repo=repo-00&image=img-00&has_tag=0")"
check "count tag=" 1 "$(count "action=GetImageTag&tag=tag-0003")"
check "count per action" 4 "$(count "action=GetImageTag")"
check "count all" 6 "$(count "action=*")"
check "count, no action" 6 "$(count "")"
check "count repo only" 4 "$(count "repo=repo-00")"
check "stats" '{"GetImageTag":4,"GetRepo":2}' "$(curl -s "$URL/_sim/stats")"
check "count has_tag=2: 400" 400 "$(ctl_status GET "count?has_tag=2")"

# ---- control: config ----
ctl "config?max_limit=7" >/dev/null
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 Limit=100)
check "config max_limit" "7 46" "$(nitems "$r" TagName) $(total "$r")"
ctl "config?max_limit=0" >/dev/null
check "config max_limit=0: none" 46 "$(nitems "$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00 Limit=100)" TagName)"
ctl "config?time_style=unix" >/dev/null
check_true "time_style unix" grep -qE '"UpdateTime":"[0-9]{10}"' <<<"$(api_get Action=GetRepo Type=private)"
ctl "config?time_style=number" >/dev/null
check_true "time_style number" grep -qE '"UpdateTime":[0-9]{10}[,}]' <<<"$(api_get Action=GetRepo Type=private)"
ctl "config?time_style=rfc3339" >/dev/null
check_true "time_style rfc3339" grep -qE '"UpdateTime":"20[0-9-]{8}T[0-9:]{8}Z"' <<<"$(api_get Action=GetRepo Type=private)"
ctl "config?time_style=plain&retcode_string=1" >/dev/null
check_true "RetCode as a string" grep -q '^{"RetCode":"0",' <<<"$(api_get Action=GetRepo)"
ctl "config?retcode_string=0" >/dev/null
check "config shows the knobs" "max_limit=0 latency_ms=0 jitter_ms=0 rps=0 time_style=plain retcode_string=0 trickle=0 late_total=0 pad_bytes=0" \
	"$(curl -s "$URL/_sim/config" | tr '\n' ' ' | sed 's/ $//')"
check "config bad value: 400" 400 "$(ctl_status POST "config?rps=fast")"

# ---- rate limit ----
ctl "config?rps=3" >/dev/null
codes="" msg153=""
for i in 1 2 3 4 5 6 7 8; do
	reply=$(api_get Action=GetRepo)
	codes+="$(retcode "$reply") "
	# The message of the first refusal (a later request may find the
	# bucket refilled on a slow machine).
	[[ -z $msg153 && $(retcode "$reply") == 153 ]] && msg153=$(message "$reply")
done
check_true "rps=3: excess gets 153 ($codes)" grep -q 153 <<<"$codes"
check "rps=3: the first ones pass" "0" "${codes%% *}"
check "153 message" "Request too frequent" "$msg153"
ctl "config?rps=0" >/dev/null
sleep 0.4
check "rps=0: off" 0 "$(retcode "$(api_get Action=GetRepo)")"

# ---- latency, and real parallelism ----
ctl "config?latency_ms=300" >/dev/null
t0=$(now)
api_get Action=GetRepo >/dev/null
dt=$((($(now) - t0) / 1000))
check_true "latency 300 ms (took $dt ms)" test "$dt" -ge 290
ctl "config?latency_ms=200&jitter_ms=20" >/dev/null
q=$(sign Action=GetRepo)
t0=$(now)
pids=()
for i in $(seq 64); do
	curl -s -o /dev/null "$URL/?$q" &
	pids+=($!)
done
wait "${pids[@]}"
dt=$((($(now) - t0) / 1000))
check_true "64 concurrent requests at 200 ms run in parallel (took $dt ms)" test "$dt" -lt 2000
ctl "config?latency_ms=0&jitter_ms=0" >/dev/null
n=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects}\n' "$URL/?$q" "$URL/?$q" | tr '\n' ' ')
check "keep-alive: one connection for two requests" "1 0 " "$n"

# ---- faults ----
fault() { ctl "fault?$1"; }
http_code() { curl -s -o /dev/null -w '%{http_code}' "$URL/?$(sign "$@")"; }
for k in 500 502 503 429; do
	fault "kind=http$k&count=1" >/dev/null
	check "fault http$k" "$k" "$(http_code Action=GetRepo)"
	check "fault http$k gone after count=1" 200 "$(http_code Action=GetRepo)"
done
fault "kind=http429&count=1" >/dev/null
check_true "http429 has Retry-After" grep -qi '^Retry-After: 1' <<<"$(curl -s -D - -o /dev/null "$URL/?$(sign Action=GetRepo)")"
for k in 110 130 150 153 2000; do
	fault "kind=ret$k&count=1" >/dev/null
	check "fault ret$k" "$k" "$(retcode "$(api_get Action=GetRepo)")"
done
check "ret faults gone" 0 "$(retcode "$(api_get Action=GetRepo)")"
fault "kind=notjson&count=1" >/dev/null
check "fault notjson" "<html>oops</html> 200" "$(curl -s -w ' %{http_code}' "$URL/?$(sign Action=GetRepo)")"
fault "kind=drop&count=1" >/dev/null
rc=0; curl -s "$URL/?$(sign Action=GetRepo)" >/dev/null || rc=$?
check "fault drop: empty reply (curl 52)" 52 "$rc"
fault "kind=truncate&count=1" >/dev/null
rc=0; curl -s -o "$WORK/trunc" "$URL/?$(sign Action=GetRepo Type=private)" || rc=$?
check "fault truncate: partial body (curl 18)" 18 "$rc"
full=$(api_get Action=GetRepo Type=private)
check "fault truncate: exactly half sent" "$((${#full} / 2))" "$(wc -c <"$WORK/trunc")"
fault "kind=oversized&count=1&bytes=200000" >/dev/null
curl -s -o "$WORK/big" "$URL/?$(sign Action=GetRepo Type=private)"
check "fault oversized bytes=200000" 200000 "$(wc -c <"$WORK/big")"
check_true "fault oversized is the reply plus padding" grep -q '^{"RetCode":0,"Action":"GetRepoResponse","TotalCount":3,.*,"Padding":"xxxx*"}$' "$WORK/big"
fault "kind=oversized&count=1" >/dev/null
check "fault oversized default 64 MiB" 67108864 "$(curl -s -o /dev/null -w '%{size_download}' "$URL/?$(sign Action=GetRepo)")"
fault "kind=liecount&count=1" >/dev/null
check "fault liecount" "460 20" "$(total "$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00)") \
$(nitems "$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00)" TagName)"
check "liecount gone" 46 "$(total "$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-00)")"
fault "kind=shuffle&count=2" >/dev/null
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-02 Limit=2)
check "fault shuffle 1: pushed a tag that sorts first" "46 0shuffle-000001" "$(total "$r") $(names "$r" TagName | head -1)"
r=$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-02 Limit=50)
check "fault shuffle 2: deleted the last tag" "45 tag-0043" "$(total "$r") $(names "$r" TagName | tail -1)"
fault "kind=shuffle&count=1" >/dev/null
check "shuffle ignores other actions" 0 "$(retcode "$(api_get Action=GetRepo)")"
check "shuffle still armed for GetImageTag" 46 "$(total "$(api_get Action=GetImageTag RepoName=repo-00 ImageName=img-02)")"
fault "kind=http503&action=GetRepoImage&count=1" >/dev/null
check "action filter: other actions pass" 200 "$(http_code Action=GetRepo)"
check "action filter: that action fails" 503 "$(http_code Action=GetRepoImage RepoName=repo-00)"
fault "kind=http500&rate=0.5" >/dev/null
codes=""
for i in $(seq 40); do codes+="$(http_code Action=GetRepo) "; done
check_true "rate=0.5: some fail" grep -q 500 <<<"$codes"
check_true "rate=0.5: some pass" grep -q 200 <<<"$codes"
check_true "GET /_sim/fault lists it" grep -q '^http500 rate=0.5 count=-1 action=\*' <<<"$(curl -s "$URL/_sim/fault")"
fault "kind=clear" >/dev/null
check "clear" "" "$(curl -s "$URL/_sim/fault")"
check "unknown fault kind: 400" 400 "$(ctl_status POST "fault?kind=explode")"
check "rate out of range: 400" 400 "$(ctl_status POST "fault?kind=drop&rate=2")"
fault "kind=hang&ms=1500&count=1" >/dev/null
rc=0; curl -s --max-time 0.5 "$URL/?$(sign Action=GetRepo)" >/dev/null || rc=$?
check "fault hang: the client times out (curl 28)" 28 "$rc"
check "a hang blocks nobody else" 0 "$(retcode "$(api_get Action=GetRepo)")"

# ---- access log ----
ctl "log?on=1" >/dev/null
api_form Action=GetImageTag RepoName=repo-00 ImageName=team/img-04 Limit=3 >/dev/null
ctl "log?on=0" >/dev/null
api_get Action=GetRepo >/dev/null
check "access log: one line while on" 1 "$(grep -c . "$WORK/access.log")"
check_true "access log line" grep -q 'POST GetImageTag RepoName=repo-00 ImageName=team%2Fimg-04 Limit=3 -> http=200 ret=0 fault=-' "$WORK/access.log"
check "access log: no keys or signatures" 0 "$(grep -c -e "$PRIV" -e "$PUB" -e Signature "$WORK/access.log" || true)"

# ---- shutdown with a request hanging ----
fault "kind=hang&count=1" >/dev/null
curl -s --max-time 30 "$URL/?$(sign Action=GetRepo)" >/dev/null 2>&1 &
BG_PIDS+=($!)
sleep 0.3
t0=$(now)
stop_sim
dt=$((($(now) - t0) / 1000))
check "SIGTERM with a hung request: exit 0" 0 "$STOP_RC"
check_true "... and promptly, not after the hung request's 30 s (took $dt ms)" test "$dt" -lt 10000

# ============================================= options, keys, data file

cat >"$WORK/keys" <<'EOF'
# test keys
other-key@example.com:other-private

second@example.com:second-private
EOF
start_sim --data "$top/tests/data/demo-registry.json" --keys-file "$WORK/keys" --key "k:v:w" \
	--project org-first --project org-second --max-limit 8 --time-style unix --fault "ret150#1"
KEY=other-private KEYPUB=other-key@example.com
check "--fault ret150#1 from the command line" 150 "$(retcode "$(api_get Action=GetRepo)")"
check "... only once" 0 "$(retcode "$(api_get Action=GetRepo)")"
check "the documented test key is not accepted here" 172 "$(retcode "$(KEY=$PRIV KEYPUB=$PUB api_get Action=GetRepo)")"
check "second key from the file" 0 "$(retcode "$(KEY=second-private KEYPUB=second@example.com api_get Action=GetRepo)")"
check "--key splits at the first colon" 0 "$(retcode "$(KEY=v:w KEYPUB=k api_get Action=GetRepo)")"
check "second project" 0 "$(retcode "$(api_get Action=GetRepo ProjectId=org-second)")"
check "the default project is not org-demo here" 292 "$(retcode "$(api_get Action=GetRepo ProjectId=org-demo)")"
r=$(api_get Action=GetRepoImage RepoName=ucloudai)
check_true "demo data: ucloudai has vllm/vllm-openai" grep -q '"ImageName":"vllm/vllm-openai"' <<<"$r"
check_true "--time-style unix" grep -qE '"UpdateTime":"[0-9]{10}"' <<<"$r"
check "demo data: public repos" "library" "$(names "$(api_get Action=GetRepo Type=public)" RepoName)"
check "demo data: a tag without a digest" 0 "$(grep -c Digest <<<"$(api_get Action=GetImageTag RepoName=tools ImageName=team TagName=legacy)")"
seen=""
n=0
off=0
while :; do
	r=$(api_get Action=GetImageTag RepoName=web ImageName=api Offset=$off Limit=100)
	got=$(nitems "$r" TagName)
	((got > 0)) || break
	check "--max-limit 8 caps every page (offset $off)" true "$([[ $got -le 8 ]] && echo true || echo "$got")"
	seen+=$(names "$r" TagName)$'\n'
	off=$((off + got))
	n=$((n + 1))
done
check "--max-limit 8: paging sees all 304 tags once" "304 304 38" \
	"$(grep -c . <<<"$seen") $(grep . <<<"$seen" | sort -u | wc -l) $n"
check "--max-limit 8: TotalCount is the whole list" 304 "$(total "$r")"
stop_sim INT
check "second sim: SIGINT exit 0" 0 "$STOP_RC"
unset KEY KEYPUB

# ---- the command line ----
help=$("$SIM" --help)
for opt in --port --bind --key --keys-file --project --data --gen --time-style --max-limit --latency-ms \
	--jitter-ms --rps --fault --access-log --sign --help --version; do
	check_true "--help documents $opt" grep -q -- "$opt" <<<"$help"
done
check_true "--help documents the data file" grep -q '"generate"' <<<"$help"
check "--help never prints the private key" 0 "$(grep -c "$PRIV" <<<"$help" || true)"
check_true "--version" grep -q '^uhub-sim [0-9]' <<<"$("$SIM" --version)"
for bad in "--port 70000" "--gen repos=x" "--fault boom" "--time-style weird" "--key nocolon" "--latency-ms -1" \
	"--data /nonexistent --gen repos=1" "stray"; do
	rc=0
	# shellcheck disable=SC2086
	"$SIM" $bad >/dev/null 2>&1 || rc=$?
	check "bad option refused: $bad" 2 "$rc"
done
echo '{"repos":[{"name":"r","imagez":[]}]}' >"$WORK/bad.json"
rc=0
"$SIM" --port 0 --data "$WORK/bad.json" >/dev/null 2>"$WORK/bad.err" || rc=$?
check "bad data file refused" 1 "$rc"
check_true "bad data file: says where" grep -q 'repos\[0\]: unknown key imagez' "$WORK/bad.err"
check "--key PRIV never echoed on error" 0 "$("$SIM" --key "pub:" 2>&1 | grep -c 'pub:' || true)"

echo "$PASS passed, $FAIL failed"
((FAIL == 0))
