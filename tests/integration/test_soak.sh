#!/usr/bin/env bash
# test_soak.sh — imgtagfs under load while the registry misbehaves and
# changes: SOAK_READERS (32) concurrent readers run ls/stat/cat/find/grep
# over a generated registry (2 repos x 10 images x 100 tags, nested image
# names included) mounted with ttl=1,retries=1, while the simulator injects faults on
# 10% of the requests (the kind rotating every second) and a pusher pushes,
# re-pushes and deletes tags. SOAK_OPS operations in all (default 3000, a
# short run for make check; `make soak` runs 200000).
#
# Pass: the daemon never dies; no operation hangs (each is bounded by
# `timeout 30`); every file read is exactly "digest: sha256:<64 hex>\n
# updated: <RFC 3339>\n" with a (digest, time) pair the simulator held for
# that tag at some moment (never torn or mixed); errors only EIO,
# ETIMEDOUT, ECONNRESET (faults) or ENOENT (for tags the pusher deletes;
# never for a tag that always existed); no listing shows a name twice; the
# mount is healthy once the faults stop; it unmounts cleanly; no sanitizer
# report (summary greps the logs).
#
# With redis-server installed (SOAK_SHARED=1, the default), the readers
# are split over two mounts sharing one Redis (the shared tier), and Redis
# itself misbehaves meanwhile: stopped for a second, flushed, killed and
# restarted, in turn. The same checks hold for both mounts.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse
export TZ=UTC

SOAK_OPS=${SOAK_OPS:-3000}
SOAK_READERS=${SOAK_READERS:-32}
FAULT_RATE=${SOAK_FAULT_RATE:-0.1}
# retries=1, not the default 3, so that faults at 10% still get through
# now and then and the error paths run concurrently too.
MOUNT_OPTS=${SOAK_MOUNT_OPTS:-ttl=1,timeout=2,retries=1}
FAULT_KINDS=(http500 http502 http503 http429 ret110 ret130 ret150 ret153 ret2000 drop truncate notjson hang liecount)
# Tags the pusher owns, in two images: pushed, re-pushed, deleted.
PUSH_IMAGES=(repo-00/img-01 repo-01/img-02)
PUSH_TAGS=16

sim_start --gen repos=2,images=10,tags=100,seed=11 --time-style unix --seed 11 || exit 1

# ---- what the simulator holds at the start --------------------------------

api() { # api NAME=VALUE...: one signed API call, the JSON reply on stdout
	local q
	q=$("$SIM_BIN" --sign "$TEST_PRIV" -- "PublicKey=$TEST_PUB" "$@") &&
		curl -fsS -d "$q" "$SIM_URL/"
}

# allowed: "path digest updated" for every content a tag file may show.
# tags: every tag path that always exists. dirs: every directory.
ALLOWED=$WORK/allowed
: >"$ALLOWED"
echo . >"$WORK/dirs"
for repo in $(api Action=GetRepo Type=private Limit=1000 | jq -r '.RepoSet[].RepoName'); do
	echo "$repo" >>"$WORK/dirs"
	for img in $(api Action=GetRepoImage "RepoName=$repo" Limit=1000 | jq -r '.ImageSet[].ImageName'); do
		echo "$repo/$img" >>"$WORK/dirs"
		[[ $img == */* ]] && echo "$repo/${img%/*}" >>"$WORK/dirs"
		api Action=GetImageTag "RepoName=$repo" "ImageName=$img" Limit=100000 |
			jq -r --arg p "$repo/$img/" '.TagSet[] | "\($p)\(.TagName) \(.Digest) \(.UpdateTime | tonumber | todate)"' \
				>>"$ALLOWED"
	done
done
sort -u -o "$WORK/dirs" "$WORK/dirs"
cut -d' ' -f1 "$ALLOWED" >"$WORK/tags"
expect_eq "the registry as generated" 2000 "$(wc -l <"$WORK/tags")"

SOAK_SHARED=${SOAK_SHARED:-1}
command -v redis-server >/dev/null || SOAK_SHARED=0
if ((SOAK_SHARED)); then
	redis_start || exit 1
	MOUNT_OPTS+=",shared_cache=unix:$REDIS_SOCK"
fi
M=$WORK/m
fs_mount "$M" -o "$MOUNT_OPTS" || {
	echo "FAIL: mount"
	exit 1
}
FS=$FS_PID
M2=$M FS2=$FS
if ((SOAK_SHARED)); then
	M2=$WORK/m2
	FS_LOG=$WORK/fs2.log fs_mount "$M2" -o "$MOUNT_OPTS" || {
		echo "FAIL: mount 2"
		exit 1
	}
	FS2=$FS_PID
fi
STOP=$WORK/stop
# The daemon's memory ceiling: 200 MB; ASan's shadow and quarantine need
# more, so a sanitized build gets 1 GB.
RSS_LIMIT_KB=204800
grep -qaE "__(a|t)san_init" "$FS_BIN" && RSS_LIMIT_KB=1048576

# ---- the background: faults, pushes, a watchdog ------------------------------

rotate_faults() {
	local k
	while [[ ! -e $STOP ]]; do
		for k in "${FAULT_KINDS[@]}"; do
			[[ -e $STOP ]] && break
			curl -fsS -X POST "$SIM_URL/_sim/fault?kind=clear" >/dev/null
			curl -fsS -X POST "$SIM_URL/_sim/fault?kind=$k&rate=$FAULT_RATE&ms=2500" >/dev/null
			sleep 1
		done
	done
	curl -fsS -X POST "$SIM_URL/_sim/fault?kind=clear" >/dev/null
}

# Pushes soak-K (digest from a counter, time 1796000000 + counter), every
# third round deletes one. Each (digest, time) is added to ALLOWED before
# the simulator has it, so a reader can never see one not yet listed.
push_loop() {
	local n=0 img repo tag digest t when
	while [[ ! -e $STOP ]]; do
		n=$((n + 1))
		img=${PUSH_IMAGES[n % ${#PUSH_IMAGES[@]}]}
		repo=${img%%/*}
		tag=soak-$(((n / 2) % PUSH_TAGS))
		printf -v digest 'sha256:5eed%060x' "$n"
		t=$((1796000000 + n))
		printf -v when '%(%Y-%m-%dT%H:%M:%SZ)T' "$t"
		echo "$img/$tag $digest $when" >>"$ALLOWED"
		curl -fsS -X POST "$SIM_URL/_sim/push?repo=$repo&image=${img#*/}&tag=$tag&digest=$digest&time=$t" >/dev/null
		if ((n % 3 == 0)); then
			curl -sS -X POST "$SIM_URL/_sim/delete?repo=$repo&image=${img#*/}&tag=soak-$((RANDOM % PUSH_TAGS))" \
				>/dev/null
		fi
		echo "$n" >"$WORK/pushes"
		sleep 0.05
	done
}

# Redis stopped for a second, flushed, killed and restarted, in turn.
redis_faults() {
	local n=0
	while [[ ! -e $STOP ]]; do
		sleep 1.5
		case $((n++ % 3)) in
		0) kill -STOP "$REDIS_PID" && sleep 1 && kill -CONT "$REDIS_PID" ;;
		1) rcli flushall >/dev/null 2>&1 ;;
		2) redis_stop && sleep 0.5 && redis_start >/dev/null && echo "$REDIS_PID" >"$WORK/redis.pid" ;;
		esac
		echo "$n" >"$WORK/redis_faults"
	done
}

# The daemons must stay alive; records the first one's peak RSS.
watch_daemon() {
	local rss peak=0
	while [[ ! -e $STOP ]]; do
		if ! kill -0 "$FS" 2>/dev/null || ! kill -0 "$FS2" 2>/dev/null; then
			echo dead >"$WORK/crash"
			break
		fi
		rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$FS/status" 2>/dev/null)
		((${rss:-0} > peak)) && peak=$rss && echo "$peak" >"$WORK/peak_rss"
		sleep 0.2
	done
}

# ---- the readers ---------------------------------------------------------------

# classify STDERR: the errno kind of a failed operation.
classify() {
	case $1 in
	*"Input/output error"*) echo EIO ;;
	*"Connection timed out"*) echo ETIMEDOUT ;;
	*"Connection reset by peer"*) echo ECONNRESET ;;
	*"No such file or directory"*) echo ENOENT ;;
	*) echo OTHER ;;
	esac
}

# reader ID OPS: OPS random operations; one result line per operation in
# $WORK/r.ID: "ok OP PATH", "read PATH DIGEST UPDATED", "err KIND OP PATH",
# "hang OP PATH", "torn PATH HEX", "dup PATH NAME".
reader() {
	local id=$1 ops=$2 out=$WORK/r.$1 tmp=$WORK/t.$1 i op p rc c d re M=$M
	local -a tags dirs
	((id % 2)) || M=$M2 # half the readers on the second mount
	mapfile -t tags <"$WORK/tags"
	mapfile -t dirs <"$WORK/dirs"
	re=$'^digest: (sha256:[0-9a-f]{64})\nupdated: ([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)\n$'
	RANDOM=$((id * 7919 + $$))
	for ((i = 0; i < ops; i++)); do
		op=$((RANDOM % 10))
		case $op in
		0 | 1) p=${dirs[RANDOM % ${#dirs[@]}]} ;;
		7 | 8) p=${dirs[RANDOM % ${#dirs[@]}]} ;;
		9) p=${PUSH_IMAGES[RANDOM % ${#PUSH_IMAGES[@]}]}/soak-$((RANDOM % PUSH_TAGS)) ;;
		*) p=${tags[RANDOM % ${#tags[@]}]} ;;
		esac
		case $op in
		0 | 1)
			op='ls'
			timeout 30 ls -- "$M/$p" >"$tmp" 2>"$tmp.err"
			;;
		2 | 3)
			op=stat
			timeout 30 stat -- "$M/$p" >/dev/null 2>"$tmp.err"
			;;
		7)
			op='find'
			timeout 30 find "$M/$p" -type f -newermt 2026-10-15 >/dev/null 2>"$tmp.err"
			;;
		8)
			op='grep'
			timeout 30 grep -rl "sha256:$(printf '%02x' $((RANDOM % 256)))" -- "$M/$p" >/dev/null 2>"$tmp.err"
			;;
		*)
			op='cat'
			timeout 30 cat -- "$M/$p" >"$tmp" 2>"$tmp.err"
			;;
		esac
		rc=$?
		# grep says 1 for "no match".
		[[ $op == grep && $rc == 1 && ! -s $tmp.err ]] && rc=0
		if ((rc == 124 || rc == 137)); then
			echo "hang $op $p"
		elif ((rc != 0)); then
			echo "err $(classify "$(<"$tmp.err")") $op $p"
			[[ $(classify "$(<"$tmp.err")") == OTHER ]] && sed 's/^/  /' "$tmp.err" >>"$WORK/other.$id"
		elif [[ $op == cat ]]; then
			c=$(
				cat "$tmp"
				echo x
			)
			c=${c%x}
			if [[ $c =~ $re ]]; then
				echo "read $p ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"
			else
				echo "torn $p $(od -An -tx1 "$tmp" | tr -d ' \n')"
			fi
		elif [[ $op == ls ]]; then
			d=$(sort "$tmp" | uniq -d | head -1)
			if [[ -n $d ]]; then echo "dup $p $d"; else echo "ok ls $p"; fi
		else
			echo "ok $op $p"
		fi
	done >"$out"
}

# ---- run ---------------------------------------------------------------------------

t0=${EPOCHREALTIME%.*}
rotate_faults &
ROT=$!
push_loop &
PUSH=$!
watch_daemon &
WATCH=$!
PIDS+=("$ROT" "$PUSH" "$WATCH")
RF=
if ((SOAK_SHARED)); then
	redis_faults &
	RF=$!
	PIDS+=("$RF")
fi
per=$(((SOAK_OPS + SOAK_READERS - 1) / SOAK_READERS))
readers=()
for i in $(seq "$SOAK_READERS"); do
	reader "$i" "$per" &
	readers+=($!)
done
wait "${readers[@]}"
touch "$STOP"
wait "$ROT" "$PUSH" "$WATCH" $RF
if ((SOAK_SHARED)); then
	# The faults ran in a subshell: the server it restarted last is ours
	# to stop (cleanup kills PIDS).
	[[ -f $WORK/redis.pid ]] && REDIS_PID=$(<"$WORK/redis.pid") && PIDS+=("$REDIS_PID")
	kill -CONT "$REDIS_PID" 2>/dev/null
	kill -0 "$REDIS_PID" 2>/dev/null || redis_start >/dev/null
fi
secs=$((${EPOCHREALTIME%.*} - t0))
curl -fsS -X POST "$SIM_URL/_sim/fault?kind=clear" >/dev/null

cat "$WORK"/r.* >"$WORK/results"
nops=$(wc -l <"$WORK/results")
count() { grep -c "$1" "$WORK/results"; }
nerr=$(count '^err ')
by_kind=$(awk '$1 == "err" {n[$2]++} END {for (k in n) printf "%s%s=%d", s++ ? " " : "", k, n[k]}' "$WORK/results")
crashes=0
[[ -e $WORK/crash ]] && crashes=1
kill -0 "$FS" 2>/dev/null || crashes=1
kill -0 "$FS2" 2>/dev/null || crashes=1

expect_eq "every operation ran and reported" "$((per * SOAK_READERS))" "$nops"
expect_eq "no crash" 0 "$crashes"
expect_eq "no operation hung (timeout 30)" "" "$(grep '^hang ' "$WORK/results" | head -5)"
expect_eq "errors only EIO/ETIMEDOUT/ECONNRESET/ENOENT" "" "$(grep '^err OTHER ' "$WORK/results" | head -5)"
if [[ -n $(grep -h . "$WORK"/other.* 2>/dev/null | head -1) ]]; then
	echo "unexpected error texts:" >&2
	sort "$WORK"/other.* | uniq -c | sort -rn | head -10 >&2
fi
# A tag that always existed is never "No such file": only the pusher's
# tags come and go (find and grep may also walk into one of those).
expect_eq "no ENOENT for a tag that always existed" "" \
	"$(awk '$1 == "err" && $2 == "ENOENT" && $3 != "find" && $3 != "grep" && $4 !~ /\/soak-[0-9]+$/' \
		"$WORK/results" | head -5)"
expect_eq "no torn or malformed file content" "" "$(grep '^torn ' "$WORK/results" | head -5)"
expect_eq "no listing shows a name twice" "" "$(grep '^dup ' "$WORK/results" | head -5)"
sort -u "$ALLOWED" >"$WORK/allowed.sorted"
awk '$1 == "read" {print $2, $3, $4}' "$WORK/results" | sort -u >"$WORK/reads"
expect_eq "every content read is one the simulator held for that tag" "" \
	"$(comm -23 "$WORK/reads" "$WORK/allowed.sorted" | head -5)"
nreads=$(count '^read ')
ok "the soak read files ($nreads reads)" test "$nreads" -gt 0
ok "the soak read pushed tags" grep -q '^read [^ ]*/soak-' "$WORK/results"

# ---- the mount is healthy once the faults stop ------------------------------------

sleep 1.2 # past ttl: the next accesses ask the API again, fault-free
ok "healthy: ls of the root" bash -c "ls '$M' >/dev/null"
ok "healthy: ls -R of the whole tree" bash -c "ls -R '$M' >'$WORK/lsR'"
nsoak=0
for img in "${PUSH_IMAGES[@]}"; do
	n=$(api Action=GetImageTag "RepoName=${img%%/*}" "ImageName=${img#*/}" Limit=1000 | jq '[.TagSet[] | select(.TagName | startswith("soak-"))] | length')
	nsoak=$((nsoak + n))
done
expect_eq "healthy: find sees every tag the simulator holds" $(($(wc -l <"$WORK/tags") + nsoak)) \
	"$(find "$M" -type f | wc -l)"
bad=0
for p in $(shuf -n 50 --random-source=<(yes) "$WORK/tags"); do
	want=$(grep -m1 "^$p " "$ALLOWED" | awk '{printf "digest: %s\nupdated: %s", $2, $3}')
	[[ $(cat "$M/$p") == "$want" ]] || bad=$((bad + 1))
done
expect_eq "healthy: 50 tags read exactly as the simulator holds them" 0 "$bad"
ok "healthy: daemon alive" kill -0 "$FS"
if ((SOAK_SHARED)); then
	expect_eq "healthy: the second mount sees every tag too" $(($(wc -l <"$WORK/tags") + nsoak)) \
		"$(find "$M2" -type f | wc -l)"
	ok "healthy: the second daemon alive" kill -0 "$FS2"
	up=0
	for i in $(seq 60); do
		[[ $(getfattr --only-values -n user.imgtagfs.stats "$M2" 2>/dev/null | sed -n 's/^shared_up: //p') == 1 ]] &&
			up=1 && break
		ls "$M2" >/dev/null
		sleep 0.1
	done
	expect_eq "healthy: the shared tier is back up ($(cat "$WORK/redis_faults" 2>/dev/null) Redis faults)" 1 "$up"
	fusermount3 -u "$M2"
	wait "$FS2" 2>/dev/null
	expect_eq "the second mount unmounts cleanly (exit 0)" 0 "$?"
fi
peak=$(cat "$WORK/peak_rss" 2>/dev/null || echo 0)
ok "daemon RSS peak under $((RSS_LIMIT_KB / 1024)) MB ($peak kB)" test "$peak" -lt "$RSS_LIMIT_KB"

pushes=$(cat "$WORK/pushes" 2>/dev/null || echo 0)
stats=$(getfattr --only-values -n user.imgtagfs.stats "$M" 2>/dev/null)
stat_of() { awk -v k="$1:" '$1 == k {print $2}' <<<"$stats"; }
api_calls=$(curl -fsS "$SIM_URL/_sim/stats" | jq '[.[]] | add')
fusermount3 -u "$M"
wait "$FS" 2>/dev/null
rc=$?
expect_eq "unmounts cleanly (exit 0)" 0 "$rc"

echo "soak: $nops operations in ${secs} s by $SOAK_READERS readers, $nerr errors (${by_kind:-none}), $crashes crashes;" \
	"$nreads file reads checked, $pushes pushes, $api_calls API requests with faults at $FAULT_RATE:" \
	"$(stat_of api_retries) retried, $(stat_of cache_stale_served) stale listings served"
summary
