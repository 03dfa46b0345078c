#!/usr/bin/env bash
# test_hostile.sh — names with control bytes from the server (newline, tab,
# ESC, DEL) in repository, image (first and last component) and tag names:
# never shown, so `find` prints only paths under the mount, one warning per
# listing that held any (the name escaped), and --check lists only what
# the mount shows. The trap in lib.sh unmounts and stops the simulator whatever happens.
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

write_creds "$WORK/creds"
out=$("$FS_BIN" --check uhub -o "credentials=$WORK/creds,endpoint=$SIM_URL" 2>&1)
# The decoder drops such names before anything stores them (one warning,
# the name escaped, and a count), so --check lists what the mount shows.
expect_eq "--check: the 2 repositories with file names" 1 "$(grep -c '^repositories: 2 ' <<<"$out")"
expect_eq "--check: one line per repository after the count" 2 "$(sed -n '/^repositories:/,$p' <<<"$out" | grep -c '^  ')"
expect_eq "--check: nothing else after the count" 3 "$(sed -n '/^repositories:/,$p' <<<"$out" | wc -l)"
expect_eq "--check: the skipped name is shown escaped" 1 "$(grep -cF 'skipping a name that cannot be a file name: "bad\x0arepo"' <<<"$out")"
expect_eq "--check: and the count" 1 "$(grep -c 'skipped 2 names that cannot be file names in /$' <<<"$out")"
expect_eq "--check: no control byte in its output" 0 "$(LC_ALL=C grep -c '[[:cntrl:]]' <<<"$out")"

M=$WORK/m
fs_mount "$M" -o ttl=60 || { echo "FAIL: mount"; exit 1; }

files=$(find "$M" -type f)
nfiles=$(find "$M" -type f -print0 | tr -dc '\0' | wc -c)
expect_eq "find: as many lines as files (no name holds a newline)" "$nfiles" "$(wc -l <<<"$files")"
expect_eq "find: every line is a path under the mount" 0 "$(grep -vc "^$M/" <<<"$files")"
expect_eq "find: /etc/passwd is not among them" 0 "$(grep -c '^/etc/passwd$' <<<"$files")"
expect_eq "find: no name with a control byte anywhere" 0 "$(LC_ALL=C find "$M" -name '*[[:cntrl:]]*' | wc -l)"
expect_eq "root: the hostile repositories are not shown" "ucloudai web" "$(ls "$M" | xargs)"
expect_eq "web: no hostile image, nor the prefix directory of one" "api big hostile mid team" "$(ls "$M/web" | xargs)"
expect_eq "tags: only the clean one" "fine" "$(ls "$M/web/hostile" | xargs)"
ok "a clean tag beside hostile ones reads" grep -q "^digest: $D" "$M/web/hostile/fine"
# Asked by name, a hostile name is not there either (and costs no call).
sim_ctl reset
ok "lookup of a name with a tab: ENOENT" test ! -e "$M/web/tab"$'\t'"img"
ok "lookup of a tag with ESC: ENOENT" test ! -e "$M/web/hostile/e"$'\x1b'"sc"
expect_eq "such lookups ask the API nothing" 0 "$(sim_count '*')"

# One warning per listing that held such names (/, /web, /web/hostile),
# each with the name escaped, and the count for the rest.
wait_quiet
expect_eq "one 'skipping' line per listing" 3 "$(grep -c 'skipping a name that cannot be a file name' "$WORK/fs.log")"
expect_eq "the names in it are escaped" 3 "$(grep 'skipping a name' "$WORK/fs.log" | grep -c '\\x[01][0-9a-f]\|\\x7f')"
expect_eq "and a count per listing" 3 "$(grep -cE 'skipped (2|4) names that cannot be file names in (/|web|web/hostile)$' "$WORK/fs.log")"
expect_eq "no control byte reached the log" 0 "$(LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$WORK/fs.log")"
ok "the daemon is still serving" test -f "$M/web/api/v1.4.2"

fs_umount "$M"
summary
