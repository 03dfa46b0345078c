#!/usr/bin/env bash
# Installs the Debian packages imgtagfs needs to build and test, only those
# missing, so `make check` and `make demo` work on a fresh Debian 12 as root.
# Extra package names given as arguments are installed the same way (CI's
# analysers, the benchmark's peers).
set -euo pipefail
pkgs=(build-essential pkg-config libfuse3-dev fuse3 libcurl4-openssl-dev
      libcjson-dev libssl-dev libcmocka-dev libmicrohttpd-dev curl attr
      mandoc valgrind libhiredis-dev redis-server python3 "$@")
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: missing Debian packages: ${missing[*]}" >&2
	echo "install-deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
