#!/usr/bin/env bash
# test_faults_shared.sh — the fault suite (test_faults.sh) again with the
# shared tier in the path of every mount (the tier must survive every
# fault the API suite injects): each API fault must end in the same errno, within the same
# bounds and with the same API call counts as without it. Skipped where
# redis-server is missing.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
	echo "SKIP: redis-server or redis-cli missing (make deps installs redis-server)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
FAULTS_SHARED=1 exec bash "$(dirname "$0")/test_faults.sh"
