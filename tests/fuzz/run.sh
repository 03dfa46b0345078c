#!/usr/bin/env bash
# Runs the libFuzzer harnesses (called by mk/fuzz.mk).
#
#   run.sh fuzz SECONDS OUTDIR BIN...   fuzz each harness for SECONDS from a
#                                       scratch copy of its seed corpus and
#                                       kept reproducers; print executions
#   run.sh regress 0 OUTDIR BIN...      run each harness once over
#                                       tests/fuzz/corpus/NAME and
#                                       tests/fuzz/regress/NAME, no fuzzing
#
# Fails when any harness crashes, leaks, times out or breaks an invariant.
# Crash inputs land in OUTDIR/artifacts/NAME/; keep them as regression tests
# in tests/fuzz/regress/NAME/ once the bug is fixed.
set -uo pipefail
cd "$(dirname "$0")/../.."
mode=$1 secs=$2 out=$3
shift 3
here=tests/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()

# Per-harness libFuzzer options: a dictionary when there is one; longer
# inputs for the names harness (image names near PATH_MAX).
options() {
	local name=$1
	[[ -f $here/$name.dict ]] && echo "-dict=$here/$name.dict"
	[[ $name == fuzz_names ]] && echo "-max_len=12288"
	echo "-timeout=20 -rss_limit_mb=2560"
}

inputs() {
	find "$here/corpus/$1" "$here/regress/$1" -type f ! -name 'README*' 2>/dev/null | sort
}

report_failure() {
	local name=$1 log=$2
	failed+=("$name")
	echo "  $name: FAILED (log: $log)"
	# The input, the verdict and the frames in our own code.
	grep 'Running: ' "$log" | tail -1 | sed 's/^ */    /'
	grep -E 'ERROR: |invariant broken|runtime error|SUMMARY|Test unit written|in [a-z_0-9]+ .*/(src|tests)/' "$log" |
		grep -v 'tests/fuzz/run.sh' | head -16 | cut -c1-160 | sed 's/^ */    /'
}

fuzz_one() {
	local bin=$1 name work art log rc execs ncorp
	name=$(basename "$bin")
	work=$out/run/$name
	art=$out/artifacts/$name
	log=$work/log
	rm -rf "$work"
	mkdir -p "$work/corpus" "$art"
	# A scratch copy: libFuzzer writes new inputs into its first corpus dir.
	while IFS= read -r f; do cp "$f" "$work/corpus/"; done < <(inputs "$name")
	"$bin" $(options "$name") -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$art/" "$work/corpus" >"$log" 2>&1
	rc=$?
	execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
	ncorp=$(find "$work/corpus" -type f | wc -l)
	if ((rc != 0)); then
		report_failure "$name" "$log"
		return
	fi
	printf '  %-14s %10s executions in %ss (%s/s), corpus %s inputs\n' "$name" "${execs:-?}" "$secs" \
		"$(( ${execs:-0} / (secs > 0 ? secs : 1) ))" "$ncorp"
}

regress_one() {
	local bin=$1 name log n
	name=$(basename "$bin")
	log=$out/run/$name.regress.log
	mkdir -p "$out/run"
	mapfile -t files < <(inputs "$name")
	n=${#files[@]}
	if ((n == 0)); then
		echo "  $name: no inputs"
		return
	fi
	# Given files (not directories), libFuzzer runs each once and stops.
	if ! "$bin" $(options "$name") "${files[@]}" >"$log" 2>&1; then
		report_failure "$name" "$log"
		return
	fi
	printf '  %-14s %4d inputs ok\n' "$name" "$n"
}

case $mode in
fuzz) echo "fuzz: ${secs}s per harness" ;;
regress) echo "fuzz-regress: seed corpus and reproducers" ;;
*) echo "usage: $0 fuzz|regress SECONDS OUTDIR BIN..." >&2; exit 2 ;;
esac
for bin in "$@"; do
	if [[ $mode == fuzz ]]; then fuzz_one "$bin"; else regress_one "$bin"; fi
done
if ((${#failed[@]})); then
	echo "fuzz: FAILED: ${failed[*]}" >&2
	exit 1
fi
