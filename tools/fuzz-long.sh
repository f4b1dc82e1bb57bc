#!/usr/bin/env bash
# Long fuzzing: builds the libFuzzer targets (clang, ASan + UBSan) in
# build-fuzz-long/ and runs each for N executions, J targets at a time,
# niced so that other work on the machine keeps its CPU.  Afterwards each
# target's corpus in tests/fuzz/corpus/<target>/ is re-minimized with
# -merge=1: the hand-named seeds stay, the files named by their SHA-1 are
# replaced by a minimal set covering the seeds, the old corpus and what this
# run found.  A crash leaves its reproducer in build-fuzz-long/artifacts/
# and fails the run; build-fuzz-long/summary.txt has executions, time,
# coverage and corpus size of every target.
#
#   tools/fuzz-long.sh [--runs N] [--jobs J] [--max-time S] [TARGET...]
#
# --runs defaults to 10000000; --max-time (seconds, default unlimited) caps
# each target, for the syscall-bound fuzz_xdp_verdict.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=10000000
jobs=1
max_time=0
targets=()
while (($#)); do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--max-time) max_time=$2; shift 2 ;;
	-h | --help)
		sed -n '2,15s/^# \{0,1\}//p' "$0"
		exit 0 ;;
	-*) echo "fuzz-long.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done
if ! [[ $runs =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ &&
	$max_time =~ ^[0-9]+$ ]]; then
	echo "fuzz-long.sh: --runs, --jobs and --max-time take numbers" >&2
	exit 2
fi
if ((${#targets[@]} == 0)); then
	for src in tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$src" .c)")
	done
fi

out=build-fuzz-long
cmake -S . -B $out -DMT_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
# fuzz_xdp_verdict is only defined where the XDP program builds (bpf/).
built=()
for t in "${targets[@]}"; do
	if [[ -d $out/tests/CMakeFiles/$t.dir ]]; then
		built+=("$t")
	else
		echo "== $t: not built, skipped (see the cmake warnings)"
	fi
done
targets=("${built[@]}")
((${#targets[@]})) || exit 0
cmake --build $out -j2 --target "${targets[@]}" >/dev/null
mkdir -p $out/artifacts

# Corpus files libFuzzer writes are named by the SHA-1 of their bytes.
is_generated() { [[ $(basename "$1") =~ ^[0-9a-f]{40}$ ]]; }

fuzz_one() {
	local t=$1 bin=$out/tests/$1 repo=tests/fuzz/corpus/$1
	local scratch=$out/corpus/$t min=$out/min/$t log=$out/$t.log
	local f status=0

	rm -rf "$scratch" "$min"
	mkdir -p "$scratch" "$min" "$repo"
	# New inputs land in the scratch dir (first); the repo corpus seeds.
	nice -n 10 "$bin" -runs="$runs" -max_total_time="$max_time" \
		-print_final_stats=1 -artifact_prefix=$out/artifacts/"$t"- \
		"$scratch" "$repo" >"$log" 2>&1 || status=$?

	# The named seeds always stay; everything else is re-minimized.
	for f in "$repo"/*; do
		[[ -f $f ]] && ! is_generated "$f" && cp "$f" "$min/"
	done
	nice -n 10 "$bin" -merge=1 "$min" "$repo" "$scratch" \
		>"$out/$t.merge.log" 2>&1 || {
		echo "fuzz-long.sh: $t: merge failed; see $out/$t.merge.log" >&2
		return 1
	}
	find "$min" -type f -size +64k -delete
	for f in "$repo"/*; do
		[[ -f $f ]] && is_generated "$f" && rm -f "$f"
	done
	for f in "$min"/*; do
		[[ -f $f ]] && is_generated "$f" && cp "$f" "$repo/"
	done
	return $status
}

summary() {
	local t=$1 log=$out/$1.log execs secs cov ft files
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	files=$(find "tests/fuzz/corpus/$t" -type f | wc -l)
	printf '%-18s %12s %8s %6s %7s %6s  %s\n' "$t" "${execs:-?}" \
		"${secs:-?}" "${cov:-?}" "${ft:-?}" "$files" "$2"
}

status=0
for t in "${targets[@]}"; do
	while (($(jobs -rp | wc -l) >= jobs)); do
		wait -n || true
	done
	echo "== $t: $runs runs (log $out/$t.log)"
	rm -f "$out/$t.rc"
	(
		rc=0
		fuzz_one "$t" || rc=$?
		echo $rc >"$out/$t.rc"
	) &
done
wait
printf '%-18s %12s %8s %6s %7s %6s  %s\n' target executions seconds cov ft \
	files result >$out/summary.txt
for t in "${targets[@]}"; do
	if [[ $(cat "$out/$t.rc" 2>/dev/null) == 0 ]]; then
		summary "$t" ok >>$out/summary.txt
	else
		status=1
		summary "$t" "FAILED (see $out/$t.log, $out/artifacts/)" \
			>>$out/summary.txt
	fi
done
cat $out/summary.txt
exit $status
