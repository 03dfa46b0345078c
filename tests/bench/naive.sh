#!/usr/bin/env bash
# naive.sh — the benchmark's "what users write today": a shell script that
# pages serially through the UHub API with curl and jq, one signed request
# at a time, no cache, no parallelism.
#
#   naive.sh ls REPO IMAGE        every tag of an image: NAME TAB DIGEST TAB TIME
#   naive.sh find                 every tag of the registry: REPO/IMAGE/TAG
#   naive.sh grep DIGEST          the tags whose digest is DIGEST: REPO/IMAGE/TAG
#   naive.sh cat REPO IMAGE TAG   one tag (GetImageTag with TagName): the
#                                 "digest:" and "updated:" lines, time as the API gives it
#
# Environment: NAIVE_URL (the API endpoint), NAIVE_PUB and NAIVE_PRIV (the
# keys), NAIVE_SIGN (a signer: uhub-sim, used as `NAIVE_SIGN --sign PRIV --
# NAME=VALUE...`), NAIVE_LIMIT (the Limit asked per page, default 100).
set -euo pipefail

: "${NAIVE_URL:?}" "${NAIVE_PUB:?}" "${NAIVE_PRIV:?}" "${NAIVE_SIGN:?}"
LIMIT=${NAIVE_LIMIT:-100}

# api ACTION NAME=VALUE...: the JSON reply.
api() {
	curl -fsS --data "$("$NAIVE_SIGN" --sign "$NAIVE_PRIV" -- Action="$1" PublicKey="$NAIVE_PUB" "${@:2}")" \
		"$NAIVE_URL/"
}

# The reply's items through FILTER, after its TotalCount; jq fails on a
# RetCode other than 0. One jq per page, as a careful script would.
reply() {
	jq -r "if .RetCode != 0 then error(\"RetCode \\(.RetCode): \\(.Message)\") else .TotalCount, (.$1[] | $2) end"
}

# pages ACTION SET FILTER NAME=VALUE...: every item of a paged list, one
# page after the other.
pages() {
	local action=$1 set=$2 filter=$3 off=0 total=1 out
	shift 3
	while ((off < total)); do
		out=$(api "$action" "$@" Offset="$off" Limit="$LIMIT" | reply "$set" "$filter")
		total=${out%%$'\n'*}
		[[ $out != *$'\n'* ]] || printf '%s\n' "${out#*$'\n'}"
		off=$((off + LIMIT))
	done
}

repos() { pages GetRepo RepoSet .RepoName Type=private; }
images() { pages GetRepoImage ImageSet .ImageName RepoName="$1"; }
tags() { pages GetImageTag TagSet '[.TagName, (.Digest // ""), .UpdateTime] | @tsv' RepoName="$1" ImageName="$2"; }

# walk: REPO TAB IMAGE TAB TAG TAB DIGEST for every tag.
walk() {
	local repo image
	repos | while IFS= read -r repo; do
		images "$repo" | while IFS= read -r image; do
			tags "$repo" "$image" | awk -F'\t' -v r="$repo" -v i="$image" '{ print r "\t" i "\t" $1 "\t" $2 }'
		done
	done
}

case ${1:-} in
ls)
	tags "$2" "$3"
	;;
find)
	walk | awk -F'\t' '{ print $1 "/" $2 "/" $3 }'
	;;
grep)
	walk | awk -F'\t' -v d="$2" '$4 == d { print $1 "/" $2 "/" $3 }'
	;;
cat)
	api GetImageTag RepoName="$2" ImageName="$3" TagName="$4" Offset=0 Limit=1 |
		reply TagSet '(if .Digest then "digest: " + .Digest + "\n" else "" end) + "updated: " + (.UpdateTime | tostring)' |
		tail -n +2
	;;
*)
	echo "usage: naive.sh ls REPO IMAGE | find | grep DIGEST | cat REPO IMAGE TAG" >&2
	exit 2
	;;
esac
