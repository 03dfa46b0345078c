#!/usr/bin/env bash
# test_model.sh — the freshness model (tests/model/), short: a registry
# changing a few times a second, read through one mount, one mount with the
# API failing and hung, and three mounts sharing a redis-server (quiet, then
# stopped and flushed); every name listed or missing, every byte read, every
# size and mtime must be the registry's state at some instant within
# [t_before - ttl - slack, t_after]. Then the self-test: a daemon whose ttl
# is secretly 6 s, checked as ttl=3, must be caught. About a minute; `make
# model` runs each scenario for minutes. Reports: $B/model/*/report.txt.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
need_fuse
if ! command -v python3 >/dev/null; then
	echo "SKIP: python3 is missing (make deps installs it)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

OUT=$BUILD/model
B=$BUILD python3 "$top/tests/model/model.py" --all --out "$OUT"
expect_eq "every model scenario without a violation, the self-test caught" 0 $?

# summary greps $WORK's logs for sanitizer reports and secrets: the model's
# daemons and simulators log into its own run directories.
for d in "$OUT"/*/; do
	for f in "$d"imgtagfs-*.log "$d"sim.err; do
		[[ -f $f ]] || continue
		n=$(basename "$f")
		ln -sf "$f" "$WORK/$(basename "$d")-${n%.*}.log"
	done
done
summary
