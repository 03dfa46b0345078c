#!/usr/bin/env bash
# Runs each cmocka unit-test binary given, optionally under valgrind
# (VALGRIND=1), and ends with one summary line: "N passed, N failed".
# A binary that hangs (a test failing with a lock held, a thread never
# joined) is killed after UNIT_TIMEOUT seconds (600: the slowest takes
# seconds, under TSan and a busy machine a minute) and counts as failed.
set -u
pass=0 fail=0 failed=()
for t in "$@"; do
	name=$(basename "$t")
	if [[ ${VALGRIND:-0} == 1 ]]; then
		cmd=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect "$t")
	else
		cmd=("$t")
	fi
	if timeout -k 10 "${UNIT_TIMEOUT:-600}" "${cmd[@]}"; then
		pass=$((pass + 1))
	else
		rc=$?
		((rc == 124)) && echo "$name: killed after ${UNIT_TIMEOUT:-600} s (hung)"
		fail=$((fail + 1))
		failed+=("$name")
	fi
done
echo
echo "unit test binaries: ${pass} passed, ${fail} failed${failed:+ (${failed[*]})}"
((fail == 0))
