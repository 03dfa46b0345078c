#!/usr/bin/env bash
# Runs each cmocka unit-test binary given, optionally under valgrind
# (VALGRIND=1), and ends with one summary line: "N passed, N failed".
set -u
pass=0 fail=0 failed=()
for t in "$@"; do
	name=$(basename "$t")
	if [[ ${VALGRIND:-0} == 1 ]]; then
		cmd=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect "$t")
	else
		cmd=("$t")
	fi
	if "${cmd[@]}"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed+=("$name")
	fi
done
echo
echo "unit test binaries: ${pass} passed, ${fail} failed${failed:+ (${failed[*]})}"
((fail == 0))
