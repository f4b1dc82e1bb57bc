#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The fault suite (issue 6): runs the scenarios tests/faults/sc_*.sh in the
# netns/veth lab of tests/e2e/lib.sh and prints one table:
#
#   scenario | sent | captured | counted drops | excused | lost |
#   duplicated | corrupt segments | checks
#
# Every scenario sends numbered datagrams and accounts for each number:
# in a sealed segment (read with capinfos + tshark: Wireshark's reader, never
# ours), or in a named drop counter of the
# daemon (`mirrorctl status --json`), or it is lost.  "excused" is used by
# two scenarios only and says what it holds in the notes: numbers sent
# while no daemon ran (crash) and numbers in an open segment the operator
# deleted (outdir).  A run of the whole suite also writes the table to
# tests/faults/RESULTS.md.
#
# Usage: tests/faults/run.sh [--soak SECONDS] [--only NAME] [--quick]
#   --quick        the bounded CI form: 8 crashes, 30 reloads, soak 300 s
#   --soak S       soak duration (default 300; 3600 for the long form)
#   --only NAME    run one scenario: crash, diskfull, outdir, reload,
#                  hostile, slow or soak (repeatable)
# Environment: MT_BUILD_DIR (default build/), MT_KEEP_TMP=1 keeps each
# scenario's files.  Exit status: 0 all passed, 1 a scenario failed (lost,
# duplicated or corrupt non-zero, or a check), 77 every scenario skipped
# (not root, no XDP on veth, tshark/scapy/tcpreplay missing).

set -uo pipefail

FT_DIR=$(cd "$(dirname "$0")" && pwd)
ALL=(crash diskfull outdir reload hostile slow soak)
ONLY=()
QUICK=0
SOAK=300
usage() {
	sed -n '/^# Usage:/,/^# (not root/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit "${1:-2}"
}
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--soak)
		[ $# -ge 2 ] || usage
		SOAK=$2
		shift
		;;
	--only)
		[ $# -ge 2 ] || usage
		[[ " ${ALL[*]} " == *" $2 "* ]] || {
			echo "run.sh: unknown scenario '$2'; one of: ${ALL[*]}" >&2
			exit 2
		}
		ONLY+=("$2")
		shift
		;;
	-h | --help) usage 0 ;;
	*)
		echo "run.sh: unknown argument '$1'" >&2
		usage
		;;
	esac
	shift
done
# RESULTS.md is the table of the whole suite: --only does not write it.
FULL=0
if [ ${#ONLY[@]} = 0 ]; then
	ONLY=("${ALL[@]}")
	FULL=1
fi
[[ "$SOAK" =~ ^[0-9]+$ ]] || {
	echo "run.sh: --soak needs seconds, got '$SOAK'" >&2
	exit 2
}

export FT_QUICK=$QUICK FT_SOAK=$SOAK
if [ "$QUICK" = 1 ]; then
	export FT_CRASHES=${FT_CRASHES:-8} FT_RELOADS=${FT_RELOADS:-30}
else
	export FT_CRASHES=${FT_CRASHES:-20} FT_RELOADS=${FT_RELOADS:-100}
fi
RESULTS=$(mktemp /tmp/mt-faults-results-XXXXXX)
trap 'rm -f "$RESULTS"' EXIT
export FT_RESULTS=$RESULTS

FAILED=0
RAN=0
for sc in "${ONLY[@]}"; do
	echo "== $sc" >&2
	start=$SECONDS
	bash "$FT_DIR/sc_$sc.sh" 2>&1 | tee "/tmp/mt-faults-$sc.log" >&2
	rc=${PIPESTATUS[0]}
	echo "== $sc: exit $rc after $((SECONDS - start)) s (log /tmp/mt-faults-$sc.log)" >&2
	if [ "$rc" = 77 ]; then
		printf '%s\t-\t-\t-\t-\t-\t-\t-\tskipped\t%s\n' "$sc" \
			"$(grep -m1 'SKIP' "/tmp/mt-faults-$sc.log" | sed 's/.*SKIP: //')" >>"$RESULTS"
		continue
	fi
	RAN=$((RAN + 1))
	if ! grep -q "^$sc	" "$RESULTS"; then
		# died before its accounting: show why
		printf '%s\t-\t-\t-\t-\t-\t-\t-\tERROR\texit %s: %s\n' "$sc" "$rc" \
			"$(grep -m1 'FAIL' "/tmp/mt-faults-$sc.log" | sed 's/.*FAIL: //')" >>"$RESULTS"
	fi
	[ "$rc" = 0 ] || FAILED=$((FAILED + 1))
done

table() {
	echo "| scenario | sent | captured | counted drops | excused | lost | duplicated | corrupt segments | checks |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
	awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$RESULTS"
	echo
	awk -F'\t' '$10 != "" { printf "- **%s**: %s\n", $1, $10 }' "$RESULTS"
}
echo >&2
table
[ "$FULL" = 1 ] && {
	echo "# Fault suite results"
	echo
	echo "\`tests/faults/run.sh$([ "$QUICK" = 1 ] && echo ' --quick') --soak $SOAK\`" \
		"on $(uname -r), $(nproc) vCPU, $(date -u +%Y-%m-%dT%H:%MZ)."
	echo "Counted drops are the daemon's named counters (\`mirrorctl status --json\`);"
	echo "\"excused\" is explained in the scenario's note; lost = sent - captured - counted - excused."
	echo "\"checks\" are the scenario's own assertions; a scenario also fails when lost, duplicated or corrupt is not 0."
	echo
	table
} >"$FT_DIR/RESULTS.md"

if [ "$RAN" = 0 ]; then
	exit 77
fi
[ "$FAILED" = 0 ]
