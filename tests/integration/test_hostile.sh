#!/usr/bin/env bash
# test_hostile.sh — names with control bytes from the server (newline, tab,
# ESC, DEL), C1 controls (U+009B, CSI), bidirectional controls (U+202E,
# U+2066) and bytes that are not UTF-8, in repository, image (first and
# last component) and tag names: never shown, so `find` prints only paths
# under the mount, one warning per listing that held any (the name
# escaped), and --check lists only what the mount shows. Digests holding
# such bytes are shown escaped in tag files. Every line the daemon logs
# (with -o debug and libfuse's -d trace) holds no raw byte >= 0x80 outside
# printable UTF-8, and no C0 control. The trap in lib.sh unmounts and
# stops the simulator whatever happens.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse

D="sha256:$(printf 'a%.0s' {1..64})"
sim_start --data "$top/tests/data/test-registry.json"
push() { sim_ctl "push?repo=$1&image=$2&tag=$3&digest=$D"; }

# The report's case: image "a\n/etc" with tag "passwd" printed /etc/passwd.
push web 'a%0A/etc' passwd
push web 'tab%09img' v1
push web 'esc%1B%5B31m' v1
push web 'fine/del%7F' v1
push web hostile 'pass%0Awd'
push web hostile 't%09ab'
push web hostile 'e%1Bsc'
push web hostile 'd%7Fel'
push web hostile fine
push 'bad%0Arepo' img v1
push 'del%7Frepo' img v1
# C1 and bidirectional controls, stray bytes: U+009B, U+0085, U+202E,
# U+2066, 0xff, an overlong '/'.
push web 'x%C2%9B31mRED' v1
push web 'team/a%E2%80%AEexe.jpg' v1
push web hostile 'csi%C2%9B2J'
push web hostile 'rlo%E2%80%AEgpj.exe'
push web hostile 'lri%E2%81%A6x'
push web hostile 'nel%C2%85x'
push web hostile 'ff%FF'
push web hostile 'slash%C0%AF'
push 'c1%C2%9Brepo' img v1
# Printable UTF-8 is a name like any other.
push web hostile 'caf%C3%A9'
# Digests that would act on a terminal: shown only escaped.
sim_ctl "push?repo=web&image=hostile&tag=dig-csi&digest=x%C2%9B31mRED"
sim_ctl "push?repo=web&image=hostile&tag=dig-rlo&digest=sha256:%E2%80%AEevil"
sim_ctl "push?repo=web&image=hostile&tag=dig-ff&digest=d%FF%0Adigest:%20forged"

# raw_lines: how many lines of stdin hold a C0 control (tab aside) or a
# byte >= 0x80 that is not part of printable UTF-8 (a C1 control, a
# bidirectional control, a separator, a stray byte).
raw_lines() {
	perl -ne '
		my $n = 0;
		s/\n\z//;
		$n = 1 if /[\x00-\x08\x0a-\x1f\x7f]/;
		s/[\x20-\x7e\t]+//g;
		s/\xc2[\xa0-\xbf]|[\xc3-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}//g
			unless /\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]/;
		$n = 1 if /[\x80-\xff]/;
		$c += $n;
		END { print $c + 0, "\n" }'
}

write_creds "$WORK/creds"
out=$("$FS_BIN" --check uhub -o "credentials=$WORK/creds,endpoint=$SIM_URL" 2>&1)
# The decoder drops such names before anything stores them (one warning,
# the name escaped, and a count), so --check lists what the mount shows.
expect_eq "--check: the 2 repositories with file names" 1 "$(grep -c '^repositories: 2 ' <<<"$out")"
expect_eq "--check: no raw byte outside printable UTF-8" 0 "$(raw_lines <<<"$out")"
expect_eq "--check: one line per repository after the count" 2 "$(sed -n '/^repositories:/,$p' <<<"$out" | grep -c '^  ')"
expect_eq "--check: nothing else after the count" 3 "$(sed -n '/^repositories:/,$p' <<<"$out" | wc -l)"
expect_eq "--check: the skipped name is shown escaped" 1 "$(grep -cF 'skipping a name that cannot be a file name: "bad\x0arepo"' <<<"$out")"
expect_eq "--check: and the count" 1 "$(grep -c 'skipped 3 names that cannot be file names in /$' <<<"$out")"
expect_eq "--check: no control byte in its output" 0 "$(LC_ALL=C grep -c '[[:cntrl:]]' <<<"$out")"

M=$WORK/m
# -d (libfuse's trace of every request) and debug (every API call with its
# parameters): every line the daemon can write.
fs_mount "$M" -d -o ttl=60,debug || { echo "FAIL: mount"; exit 1; }

files=$(find "$M" -type f)
nfiles=$(find "$M" -type f -print0 | tr -dc '\0' | wc -c)
expect_eq "find: as many lines as files (no name holds a newline)" "$nfiles" "$(wc -l <<<"$files")"
expect_eq "find: every line is a path under the mount" 0 "$(grep -vc "^$M/" <<<"$files")"
expect_eq "find: /etc/passwd is not among them" 0 "$(grep -c '^/etc/passwd$' <<<"$files")"
expect_eq "find: no name with a control byte anywhere" 0 "$(LC_ALL=C find "$M" -name '*[[:cntrl:]]*' | wc -l)"
expect_eq "find: no raw C1 or bidirectional control, no stray byte" 0 "$(find "$M" | raw_lines)"
expect_eq "find: the name in printable UTF-8 is there" 1 "$(find "$M" -name 'caf*' | grep -c "/web/hostile/caf"$'\xc3\xa9'"$")"
expect_eq "root: the hostile repositories are not shown" "ucloudai web" "$(ls "$M" | xargs)"
expect_eq "web: no hostile image, nor the prefix directory of one" "api big hostile mid team" "$(ls "$M/web" | xargs)"
expect_eq "tags: only the clean ones" "caf"$'\xc3\xa9'" dig-csi dig-ff dig-rlo fine" "$(LC_ALL=C ls "$M/web/hostile" | xargs)"
ok "a clean tag beside hostile ones reads" grep -q "^digest: $D" "$M/web/hostile/fine"
# Digests that would act on a terminal are shown escaped, one line each.
expect_eq "a digest with CSI (U+009B): escaped" 'digest: x\xc2\x9b31mRED' "$(head -1 "$M/web/hostile/dig-csi")"
expect_eq "a digest with U+202E: escaped" 'digest: sha256:\xe2\x80\xaeevil' "$(head -1 "$M/web/hostile/dig-rlo")"
expect_eq "a digest with a stray byte and a newline: one escaped line" 'digest: d\xff\x0adigest: forged' \
	"$(head -1 "$M/web/hostile/dig-ff")"
expect_eq "no raw byte outside printable UTF-8 in any tag file" 0 "$(cat "$M"/web/hostile/* | raw_lines)"
expect_eq "nor in the digest attribute" 0 "$(getfattr --only-values -n user.imgtagfs.digest "$M/web/hostile/dig-csi" | raw_lines)"
# Asked by name, a hostile name is not there either (and costs no call).
sim_ctl reset
ok "lookup of a name with a tab: ENOENT" test ! -e "$M/web/tab"$'\t'"img"
ok "lookup of a tag with ESC: ENOENT" test ! -e "$M/web/hostile/e"$'\x1b'"sc"
ok "lookup of a tag with CSI (U+009B): ENOENT" test ! -e "$M/web/hostile/csi"$'\xc2\x9b'"2J"
ok "lookup of an image with U+202E: ENOENT" test ! -e "$M/web/x"$'\xe2\x80\xae'"y"
expect_eq "such lookups ask the API nothing" 0 "$(sim_count '*')"

# One warning per listing that held such names (/, /web, /web/hostile),
# each with the name escaped, and the count for the rest.
wait_quiet
expect_eq "one 'skipping' line per listing" 3 "$(grep -c 'skipping a name that cannot be a file name' "$WORK/fs.log")"
expect_eq "the names in it are escaped" 3 "$(grep 'skipping a name' "$WORK/fs.log" | grep -c '\\x[0-9a-f][0-9a-f]')"
expect_eq "and a count per listing" 3 "$(grep -cE 'skipped (3|6|10) names that cannot be file names in (/|web|web/hostile)$' "$WORK/fs.log")"
ok "the log has debug lines and libfuse's trace" bash -c 'grep -q "debug: api GetImageTag" "$1" && grep -q "opcode: LOOKUP" "$1"' _ "$WORK/fs.log"
expect_eq "the digests' bytes reach the debug log escaped only" 0 "$(grep -c $'\xc2\x9b' "$WORK/fs.log")"
expect_eq "no control byte reached the log" 0 "$(LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$WORK/fs.log")"
expect_eq "no log line holds a raw byte outside printable UTF-8" 0 "$(raw_lines <"$WORK/fs.log")"
ok "the daemon is still serving" test -f "$M/web/api/v1.4.2"

fs_umount "$M"
summary
