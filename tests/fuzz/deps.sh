#!/usr/bin/env bash
# Makes sure `make fuzz` can build: the project's own packages
# (scripts/install-deps.sh), clang, and clang's libFuzzer/sanitizer runtime
# (Debian's libclang-rt-N-dev, only recommended by clang, so often missing).
# Missing Debian packages are installed with apt-get when run as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
cc=${FUZZ_CC:-clang}

scripts/install-deps.sh

install() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "fuzz-deps: missing Debian packages: $*" >&2
		echo "fuzz-deps: run as root, or: sudo apt-get install $*" >&2
		exit 1
	fi
	echo "fuzz-deps: installing $*"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Links a do-nothing fuzz target: the compiler and every runtime we use.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
probe() {
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\n%s\n' \
		'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
		>"$tmp/p.c"
	"$cc" -fsanitize=fuzzer,address,undefined "$tmp/p.c" -o "$tmp/p" >/dev/null 2>&1
}

probe && exit 0
command -v "$cc" >/dev/null || install clang
probe && exit 0
ver=$("$cc" -dumpversion | cut -d. -f1)
install "libclang-rt-$ver-dev"
probe || { echo "fuzz-deps: $cc cannot link -fsanitize=fuzzer,address,undefined" >&2; exit 1; }
