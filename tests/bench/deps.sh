#!/usr/bin/env bash
# Makes sure `make bench` can run: the project's own packages
# (scripts/install-deps.sh), then the benchmark's: the peers (httpdirfs,
# rclone), gnuplot for the plot, jq for the naive script. Only the missing
# Debian packages are installed, with apt-get, when run as root; otherwise
# they are named and the benchmark leaves out what it cannot run.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! scripts/install-deps.sh httpdirfs rclone gnuplot-nox jq perl redis-server; then
	echo "bench-deps: continuing; the benchmark leaves out what it cannot run" >&2
fi
