#!/usr/bin/env bash
# make demo: start uhub-sim with the demo registry, mount it with imgtagfs,
# show the ls/cat/grep/find session from the README, and unmount cleanly.
# No pipefail: `ls | head` ends ls with SIGPIPE, which is how it should go.
set -eu
cd "$(dirname "$0")/.."
source tests/integration/lib.sh
need_fuse

show() {
	printf '\n\033[1m$ %s\033[0m\n' "$*"
	eval "$@"
}

sim_start --data tests/data/demo-registry.json --latency-ms 5
MNT=$WORK/registry
fs_mount "$MNT" -o ttl=60
echo "uhub-sim serves the demo registry at $SIM_URL; imgtagfs mounted it at $MNT"
cd "$MNT"
show "ls"
show "ls -lt web"
show "ls -l web/api | head -8"
show "ls web/api | wc -l"
show "ls ucloudai/vllm"
show "cat web/api/v1.4.2"
show "grep -rl sha256:3f1c . | head"
show "find . -type f -newermt '2026-11-20' | wc -l"
show "getfattr -n user.imgtagfs.digest --only-values web/api/v1.4.2; echo"
show "getfattr --only-values -n user.imgtagfs.stats . | head -4"
cd /
echo
echo "API calls made: GetRepo $(sim_count GetRepo), GetRepoImage $(sim_count GetRepoImage)," \
	"GetImageTag $(sim_count GetImageTag)"
fs_umount "$MNT"
echo "unmounted; demo done"
