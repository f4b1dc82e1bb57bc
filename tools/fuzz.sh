#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes each one for
# a bounded time, starting from its committed corpus.  New inputs go to a
# scratch copy, so the repository's corpus only grows by hand.  A crash
# leaves its reproducer in build-fuzz/artifacts/ and fails the run.
#
#   tools/fuzz.sh [--seconds N] [--runs N] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=-1
targets=()
while (($#)); do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	-h | --help)
		sed -n '2,8s/^# \{0,1\}//p' "$0"
		exit 0 ;;
	-*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) targets+=("$1"); shift ;;
	esac
done

cmake -S . -B build-fuzz -DMT_FUZZ=ON -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null
if ((${#targets[@]} == 0)); then
	for src in tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$src" .c)")
	done
fi

mkdir -p build-fuzz/artifacts
status=0
for t in "${targets[@]}"; do
	# fuzz_xdp_verdict is only built where the XDP program is (bpf/).
	if [[ ! -x build-fuzz/tests/$t ]]; then
		echo "== $t: not built, skipped (see the cmake warnings)"
		continue
	fi
	scratch=build-fuzz/corpus/$t
	rm -rf "$scratch"
	mkdir -p "$scratch"
	cp -r "tests/fuzz/corpus/$t/." "$scratch/"
	echo "== $t: ${seconds}s"
	if ! "build-fuzz/tests/$t" -max_total_time="$seconds" -runs="$runs" \
		-print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ \
		"$scratch" 2>build-fuzz/$t.log; then
		echo "fuzz.sh: $t failed; log: build-fuzz/$t.log" >&2
		tail -40 "build-fuzz/$t.log" >&2
		status=1
	fi
	grep -E 'stat::number_of_executed_units|Done [0-9]+ runs' \
		"build-fuzz/$t.log" | tail -2 || true
done
exit $status
