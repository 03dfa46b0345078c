#!/usr/bin/env bash
# Checks that every copy of the version agrees with the file VERSION, the
# one place it is written: the man pages' .TH headers, the newest entry of
# debian/changelog and of NEWS.md. (--version and the tarball's name take it
# from VERSION through the Makefile.) Prints one line per mismatch, naming
# the file and what to write there; exits 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."
v=$(<VERSION)
bad=0
mismatch() { # mismatch FILE WANT GOT
	echo "check-version: $1 says [$3], VERSION says $2: update $1" >&2
	bad=1
}
[[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+([~+.][0-9A-Za-z.]+)?$ ]] || {
	echo "check-version: VERSION [$v] is not a version like 1.2.3" >&2
	exit 1
}
for m in man/*.[18]; do
	got=$(sed -n '1s/^\.TH [^ ]* [0-9] [^ ]* "imgtagfs \([^"]*\)".*/\1/p' "$m")
	[[ $got == "$v" ]] || mismatch "$m" "$v" "$got"
done
# A native package: its version is the upstream version itself.
got=$(sed -n '1s/^imgtagfs (\([^)]*\)).*/\1/p' debian/changelog)
[[ $got == "$v" ]] || mismatch debian/changelog "$v" "$got"
got=$(sed -n 's/^## \([^ ]*\).*/\1/p' NEWS.md | head -1)
[[ $got == "$v" ]] || mismatch NEWS.md "$v" "$got"
((bad == 0)) && echo "version $v: man pages, debian/changelog and NEWS.md agree"
exit "$bad"
