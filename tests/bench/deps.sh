#!/usr/bin/env bash
# Makes sure `make bench` can run: the project's own packages
# (scripts/install-deps.sh), then the benchmark's: the peers (httpdirfs,
# rclone), gnuplot for the plot, jq for the naive script. Only the missing
# Debian packages are installed, with apt-get, when run as root; otherwise
# they are named and the benchmark leaves out what it cannot run.
set -euo pipefail
cd "$(dirname "$0")/../.."

scripts/install-deps.sh
pkgs=(fuse3 httpdirfs rclone gnuplot-nox jq curl attr perl)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
	echo "bench-deps: missing Debian packages: ${missing[*]}" >&2
	echo "bench-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 0
fi
echo "bench-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
