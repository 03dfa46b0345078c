#!/usr/bin/env bash
# Runs every tests/integration/test_*.sh; each mounts for real against
# uhub-sim and cleans up after itself. Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 failed=()
for t in tests/integration/test_*.sh; do
	echo "== $t"
	if bash "$t"; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		failed+=("$(basename "$t")")
	fi
done
echo
echo "integration suites: ${pass} passed, ${fail} failed${failed:+ (${failed[*]})}"
((fail == 0))
