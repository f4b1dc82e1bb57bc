#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The performance numbers of the README, in one command from the repo root:
#
#   tests/bench/run.sh
#
# Builds an optimised tree (build-bench), then on one pinned core:
#  1. bench_core: decap -> direction -> filter -> segment writer on frames
#     held in memory, for 64/512/1500-byte frames and 0/10/1,000/10,000
#     rules, against a bare copy+pwrite loop; the matcher alone;
#  2. the offline mode against tcpdump on the same capture of raw VXLAN
#     (least CPU time of 7 runs each; both read and write tmpfs).
# Prints a Markdown report and writes it to tests/bench/RESULTS.md.
#
# Knobs (environment): MT_BENCH_CPU (default 1), MT_BENCH_FRAMES (2000000),
# MT_BENCH_REPS (5), MT_BENCH_OFFLINE_REPS (7), MT_BENCH_BUILD (build-bench),
# MT_BENCH_QUICK=1 (a fast smoke run; its numbers mean little).
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$PWD
build=${MT_BENCH_BUILD:-$root/build-bench}
cpu=${MT_BENCH_CPU:-1}
frames=${MT_BENCH_FRAMES:-2000000}
reps=${MT_BENCH_REPS:-5}
offline_reps=${MT_BENCH_OFFLINE_REPS:-7}
results=$root/tests/bench/RESULTS.md
seed=0x6d697272 # the seed bench_core uses for its own rule sets

die() {
	echo "run.sh: $*" >&2
	exit 1
}

command -v tcpdump >/dev/null ||
	die "tcpdump not found (apt-get install tcpdump)"
[ -d /dev/shm ] || die "/dev/shm is missing: the benchmark writes to tmpfs"

echo "== building $build (Release)" >&2
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target bench_core mirror-targetd \
	>"$build/bench-build.log" 2>&1 ||
	{ tail -30 "$build/bench-build.log" >&2; die "build failed"; }
bench=$build/tests/bench_core
daemon=$build/daemon/mirror-targetd
[ -x "$bench" ] || die "$bench was not built"
[ -x "$daemon" ] || die "$daemon was not built"

# One core, the same for every program measured.  A single-CPU machine
# cannot spare one; then nothing is pinned.
pin=()
if [ "$(nproc)" -gt 1 ] && taskset -c "$cpu" true 2>/dev/null; then
	pin=(taskset -c "$cpu")
else
	cpu="none"
fi

work=$(mktemp -d /dev/shm/mt-bench-run-XXXXXX)
trap 'rm -rf "$work"' EXIT

# ---- 1. the packet path ---------------------------------------------------
echo "== bench_core (pinned to CPU $cpu)" >&2
core_args=(--dir "$work" --reps "$reps")
[ "${MT_BENCH_QUICK:-0}" = 1 ] && core_args=(--dir "$work" --quick)
"${pin[@]}" "$bench" "${core_args[@]}" >"$work/core.md"

# ---- 2. offline mode against tcpdump -------------------------------------
echo "== offline: writing $frames frames of raw VXLAN" >&2
in=$work/in.pcap
# It prints "frames=N inner_bytes=B": the bytes the segments must hold.
written=$("$bench" --write-pcap "$in" "$frames")
inner_bytes=${written##*inner_bytes=}
[[ $inner_bytes =~ ^[0-9]+$ ]] || die "bench_core --write-pcap said: $written"
in_bytes=$(stat -c %s "$in")
"$bench" --gen-rules 10 "$seed" "$work/rules-10.conf"
# The session bench_core's frames belong to, so direction is inferred (and
# the filter's ingress/egress rules apply) as in the daemon.
cat >"$work/bench.conf" <<'EOF_CONF'
[session bench]
vni = 42
addresses = 192.0.2.10, 192.0.2.11, 192.0.2.12, 192.0.2.13
EOF_CONF

# Runs "$@" pinned, with out/ emptied first; prints "WALL CPU USER" in ns
# (CPU = user + system time of the command: the VM is shared, so time spent
# waiting for a CPU is not the program's cost).
time_once() {
	rm -rf "$work/out"
	mkdir "$work/out"
	"${pin[@]}" "$bench" --run "$@" 2>"$work/last.err" ||
		{ cat "$work/last.err" >&2; die "failed: $*"; }
}

# The run with the least CPU time of $offline_reps: "WALL CPU USER".  Most
# of the CPU time is the kernel allocating tmpfs pages, which varies a lot
# from run to run on this VM; the least is the program's own cost.
best_of() {
	local best="" bestcpu="" wall cpu user i
	for ((i = 0; i < offline_reps; i++)); do
		read -r wall cpu user < <(time_once "$@")
		if [ -z "$best" ] || [ "$cpu" -lt "$bestcpu" ]; then
			best="$wall $cpu $user"
			bestcpu=$cpu
		fi
	done
	echo "$best"
}

# Every packet of the unfiltered run must be in the segments: pcap file
# headers (24 B each) + a 16-byte record header and the inner frame each.
check_unfiltered_output() {
	local nfiles got want
	nfiles=$(find "$work/out" -type f -name '*.pcap' | wc -l)
	got=$(find "$work/out" -type f -name '*.pcap' -printf '%s\n' |
		awk '{ s += $1 } END { print s + 0 }')
	want=$((nfiles * 24 + frames * 16 + inner_bytes))
	if [ "$nfiles" -lt 1 ] || [ "$got" -ne "$want" ]; then
		die "mirror-targetd wrote $got bytes in $nfiles segments," \
			"expected $want: it lost or changed packets"
	fi
}

echo "== offline: tcpdump" >&2
t_tcpdump=$(best_of tcpdump -Z root -r "$in" -w "$work/out/tcpdump.pcap")
echo "== offline: mirror-targetd, no filter" >&2
t_mt0=$(best_of "$daemon" --read "$in" --output-dir "$work/out" \
	--config "$work/bench.conf" --quiet)
check_unfiltered_output
echo "== offline: mirror-targetd, 10 rules" >&2
t_mt10=$(best_of "$daemon" --read "$in" --output-dir "$work/out" \
	--config "$work/bench.conf" --rules "$work/rules-10.conf" --quiet)

# ---- report ---------------------------------------------------------------
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
[ -n "$model" ] || model=$(uname -m)

# "WALL CPU USER" -> "CPU s | user s | wall s | Mpps | MB/s" (per CPU second)
awk_rate() {
	awk -v t="$1" -v n="$frames" -v b="$in_bytes" 'BEGIN {
		split(t, a, " "); c = a[2] / 1e9
		printf "%.2f | %.2f | %.2f | %.2f | %.0f", c, a[3] / 1e9,
			a[1] / 1e9, n / c / 1e6, b / c / 1e6 }'
}
ratio() { # CPU time of $1 / CPU time of $2
	awk -v a="$1" -v b="$2" 'BEGIN {
		split(a, x, " "); split(b, y, " "); printf "%.2f", x[2] / y[2] }'
}

r0=$(ratio "$t_tcpdump" "$t_mt0")
r10=$(ratio "$t_tcpdump" "$t_mt10")
offline_ok=$(awk -v r="$r10" 'BEGIN { print (r >= 1.5) ? "PASS" : "FAIL" }')
mib=$(awk -v b="$in_bytes" 'BEGIN { printf "%.0f", b / 1048576 }')

{
	echo "## Performance"
	echo
	echo "Machine: $(nproc) vCPU, $model, Linux $(uname -r);" \
		"measured $(date -u +%Y-%m-%dT%H:%MZ), pinned to CPU $cpu," \
		"CMAKE_BUILD_TYPE=Release, output on tmpfs (/dev/shm)."
	echo
	grep -v '^target|' "$work/core.md"
	echo "### Offline mode vs tcpdump (least CPU time of $offline_reps runs)"
	echo
	echo "Input: $frames raw VXLAN frames (inner 64/512/1500 B in turn)," \
		"$mib MiB, on tmpfs. tcpdump only copies records;" \
		"mirror-targetd also decapsulates, infers direction (SESSION:" \
		"one \`[session]\` with VNI 42 and its 4 addresses), filters" \
		"and writes rotating segments. Mpps and MB/s are per CPU second" \
		"(user + system time of the process)."
	echo
	echo "| command | CPU s | of which user | wall s | Mpps | MB/s read |" \
		"rate vs tcpdump |"
	echo "|---|---|---|---|---|---|---|"
	echo "| \`tcpdump -r IN -w OUT\` | $(awk_rate "$t_tcpdump") | 1.00x |"
	echo "| \`mirror-targetd --read IN --output-dir OUT" \
		"--config SESSION --quiet\` | $(awk_rate "$t_mt0") | ${r0}x |"
	echo "| the same with \`--rules\` (10 rules)" \
		"| $(awk_rate "$t_mt10") | ${r10}x |"
	echo
	echo "### Targets"
	echo
	echo "| target | measured | goal | result |"
	echo "|---|---|---|---|"
	grep '^target|' "$work/core.md" |
		awk -F'|' '{ printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }'
	echo "| offline mode (10 rules) vs tcpdump | ${r10}x | >= 1.5x" \
		"| $offline_ok |"
} >"$work/report.md"

cat "$work/report.md"
# A smoke run's numbers must not end up in the README.
if [ "${MT_BENCH_QUICK:-0}" = 1 ]; then
	echo "(quick run: ${results#"$root"/} left as it was)" >&2
else
	cp "$work/report.md" "$results"
	echo "(written to ${results#"$root"/})" >&2
fi
