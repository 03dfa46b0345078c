#!/usr/bin/env bash
# The model's checker (tests/model/check.py) on a made-up run: inside an
# API fault window, open(2)+read(2) of a directory (the reader's "read"
# of a directory path, expecting EISDIR) fails with ETIMEDOUT, and the
# directory's own listing was never seen fresh. open(2) of a directory is
# an OPENDIR, which needs that listing, so the error is allowed.
# servable_listing() counts only the ancestors' listings for a "read"
# (none at all for the mount's root), so it calls the error a violation.
# Seen for real: `model.py --scenario faults --seconds 300 --seed 9`
# failed with 2 error-with-listing violations, "read /" ETIMEDOUT 1 s
# after a 9 s hang ended (the root's listing was then 15 s old, past
# ttl + max_stale = 13 s: the daemon was right).
# Expected: no violation. Observed: error-with-listing for both reads.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
RUN=$(mktemp -d /tmp/imgtagfs-review.XXXXXX)
trap 'rm -rf "$RUN"' EXIT
python3 - "$RUN" <<'PY'
import json, os, sys
run = sys.argv[1]
t = 1796620000.0
state = {"_changes": 0, "repos": [{"name": "alpha", "type": "private", "update_time": 1796000000,
         "images": [{"name": "app", "update_time": 1796000000,
                     "tags": [{"name": "v1", "update_time": 1796000000}]}]}]}
json.dump({"scenario": "faults", "ttl": 3, "daemon_ttl": 3, "slack": 0.05, "copy_slack": 0.25,
           "mount_options": "ttl=3,timeout=2,deadline=6,max_stale=10", "mounts": 2, "api_faults": True,
           "deadline": 6, "max_stale": 10, "grace": 6, "seconds": 30, "seed": 1, "sim": []},
          open(os.path.join(run, "config.json"), "w"))
with open(os.path.join(run, "history.jsonl"), "w") as f:
    f.write(json.dumps({"k": "init", "t": t, "state": state}) + "\n")
    f.write(json.dumps({"k": "final", "t": t + 30, "state": state}) + "\n")
with open(os.path.join(run, "events.jsonl"), "w") as f:
    f.write(json.dumps({"k": "fault", "what": "every request hangs", "t0": t + 1, "t1": t + 1}) + "\n")
    f.write(json.dumps({"k": "clear", "what": "every request hangs", "t0": t + 10, "t1": t + 10}) + "\n")
# Mount 0 never listed anything; mount 1 listed the parents of alpha/app
# before the fault, never alpha/app itself.
obs = [
    {"op": "read", "p": "", "tb": t + 15, "ta": t + 15.001, "err": "ETIMEDOUT", "m": 0},
    {"op": "list", "p": "", "tb": t + 0.5, "ta": t + 0.6, "names": ["alpha"], "kinds": "d", "m": 1},
    {"op": "list", "p": "alpha", "tb": t + 0.5, "ta": t + 0.6, "names": ["app"], "kinds": "d", "m": 1},
    {"op": "read", "p": "alpha/app", "tb": t + 9, "ta": t + 9.001, "err": "ETIMEDOUT", "m": 1},
]
for m in (0, 1):
    with open(os.path.join(run, "obs-%d-0.jsonl" % m), "w") as f:
        for o in obs:
            if o["m"] == m:
                f.write(json.dumps(o) + "\n")
PY
python3 "$top/tests/model/check.py" "$RUN" >"$RUN/out" 2>&1
grep -E '^summary|^VIOLATION|observed' "$RUN/report.txt" 2>/dev/null || cat "$RUN/out"
if grep -q 'error-with-listing' "$RUN/report.txt" 2>/dev/null; then
	echo "model_read_dir: 0 passed, 1 failed"
	exit 1
fi
echo "model_read_dir: 1 passed, 0 failed"
