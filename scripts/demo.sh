#!/usr/bin/env bash
# make demo: start uhub-sim with the demo registry, mount it with imgtagfs,
# show the ls/cat/grep/find session from the README, and unmount cleanly.
set -euo pipefail
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
first=$(ls web/api | head -1)
show "cat web/api/$first"
digest=$(sed -n 's/^digest: //p' "web/api/$first")
show "grep -rl ${digest:0:19} . | head"
show "find . -type f -newermt '2026-11-20' | wc -l"
show "getfattr -n user.imgtagfs.digest --only-values web/api/$first; echo"
cd /
echo
echo "API calls made: GetRepo $(sim_count GetRepo), GetRepoImage $(sim_count GetRepoImage)," \
	"GetImageTag $(sim_count GetImageTag)"
fs_umount "$MNT"
echo "unmounted; demo done"
