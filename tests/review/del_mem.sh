#!/usr/bin/env bash
# del_mem.sh — memory of what the kernel was shown, with N tags (default
# 100,000 in 10 images): the daemon's RSS after a listing of everything
# and after drop_caches (records kept), with and without allow_delete.
# Expected: about 40 bytes a record plus the table's slack (man: 262,144
# kept records, about 10 MiB).
source "$(dirname "$0")/dcommon.sh"
N=${N:-100000}
sim_start --gen "repos=1,images=10,tags=$((N / 10)),nested=0" || exit 1
rss() { awk '/VmRSS/ {print $2}' /proc/"$(pgrep -n -f "imgtagfs uhub $1 ")"/status; }
for opt in allow_delete ro; do
	M=$WORK/m-$opt
	o=page_size=1000
	[[ $opt == allow_delete ]] && o+=,allow_delete
	FS_LOG=$WORK/$opt.log fs_mount "$M" -o "$o" || exit 1
	echo "$opt: $(find "$M" -type f | wc -l) files; RSS $(rss "$M") kB;" \
		"shown=$(stat_of "$M" deletes_shown) kept=$(stat_of "$M" deletes_kept)"
	sync; echo 3 >/proc/sys/vm/drop_caches; sleep 2
	echo "$opt after drop_caches: RSS $(rss "$M") kB;" \
		"shown=$(stat_of "$M" deletes_shown) kept=$(stat_of "$M" deletes_kept)"
	fusermount3 -u "$M"
done
summary
