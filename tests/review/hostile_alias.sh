#!/usr/bin/env bash
# A tag of image "app" shares its name with a nested image directory
# ("app/x"), so the tag is shown as "x@tag"; an image "app/x@tag" takes
# that name too. '@' is in neither Docker grammar, but names from the
# server are otherwise untrusted (only empty, ".", "..", '/', NUL and
# control bytes are refused), and uhub-sim takes them.
# Expected (README: "Neither is lost"): every tag listed and readable
# under some name. Observed: tags x, x@tag and x@tag@tag are all missing
# from ls; x and x@tag@tag cannot be reached at all (x@tag@tag opens the
# tag "x@tag").
source "$(dirname "$0")/pcommon.sh"
d() { printf 'sha256:%s' "$(printf "$1%.0s" {1..64})"; }
cat >"$WORK/reg.json" <<JSON
{"repos":[{"name":"r","images":[
 {"name":"app","tags":[{"name":"x","digest":"$(d 1)"},{"name":"x@tag","digest":"$(d 2)"},{"name":"x@tag@tag","digest":"$(d 3)"}]},
 {"name":"app/x","tags":[{"name":"y"}]},{"name":"app/x@tag","tags":[{"name":"z"}]}]}]}
JSON
sim_start --data "$WORK/reg.json" || exit 1
fs_mount "$WORK/m" -o ttl=60,lazy,prefetch=0 || exit 1
A=$WORK/m/r/app
echo "ls r/app: $(ls "$A" | tr '\n' ' ')"
files=$(find "$A" -maxdepth 1 -type f | wc -l)
expect_eq "tag files listed in r/app" 3 "$files"
seen=$(for f in "$A"/*; do [[ -f $f ]] && grep -o 'sha256:.' "$f"; done | sort | tr '\n' ' ')
for n in x@tag x@tag@tag x@tag@tag@tag; do
	echo "$n: $(stat -c %F "$A/$n" 2>&1) $(grep -o 'sha256:.' "$A/$n" 2>/dev/null)"
done
expect_eq "digests readable through the listing" "sha256:1 sha256:2 sha256:3 " "$seen"
summary
