#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The live benchmark of the README, in one command from the repo root of a
# clone (root; it installs the packages and builds build/ first, see
# bench_build in tests/bench/lib.sh):
#
#   tests/bench/live.sh
#
# Two namespaces joined by a veth pair (MTU 1600).  In "src",
# mirror-loadgen sends the same generated mirror traffic every time (1,000
# inner flows over 192.0.2.0/24, VNI 42, outer 198.18.0.1 -> 198.18.0.2) as
# fast as it can for a fixed time, once with 64-byte and once with
# 1500-byte inner frames.  In "tgt" one receiver at a time:
#
#   reference   xsk_ref (tests/bench/xsk_ref.c, built here with cc): its own
#               XDP program redirects UDP 4789 to one AF_XDP socket per
#               queue and every frame goes straight back to the fill ring;
#               the most any AF_XDP program can do here with the same
#               rings and UMEM as mirror-targetd (RING below: UMEM, fill
#               ring and rx ring of 2 x RING frames of 4 KiB);
#   refwrite    the reference keeping every frame (xsk_ref -w): one
#               writev() per batch of up to 1,024 frames straight from
#               the UMEM into a file on tmpfs, one copy, no record headers
#               -- the least work any AF_XDP capture program can do here,
#               same rings and UMEM;
#   refsmall    the reference with a quarter of the rings and UMEM
#               (2048 / 4096 frames, 16 MiB): how much the UMEM's size
#               costs by itself.  The kernel copies each frame into the
#               frame the fill ring names next, and the fill ring cycles
#               through every frame of the UMEM, so each packet touches a
#               page of a 64 MiB area (8192) instead of a 16 MiB one;
#   mt 10       mirror-targetd, 10 rules, segments on tmpfs;
#   mt 1000     the same with 1,000 rules;
#   tcpdump     tcpdump -B 262144 -w (tmpfs) 'udp dst port 4789' on the veth
#               (the raw VXLAN: what the seed setup does today);
#   vxlan+tcpdump  the kernel's vxlan device decapsulates, tcpdump -w on it.
#
# Every cell runs in two CPU layouts:
#
#   split   the generator pinned to the last CPU, the
#           receiver process to the first.  A veth delivers in softirq on
#           the sending CPU, so the receive path in the kernel (XDP, the
#           AF_XDP copy; GRO, the packet socket) runs beside the generator,
#           like a NIC's interrupt work on its own core, and slows it down
#           rather than dropping; the receiver process has a core of its
#           own.  This is the comparison of the receivers themselves;
#   shared  a queue per CPU, nothing pinned: generator, receive path and
#           receiver share all CPUs, as on a small instance that also
#           generates its own load.
#
# In the split layout, mirror-targetd with 10 rules runs again at the
# rate tcpdump captured there (evenly paced): completeness at a rate
# tcpdump survives.  One run there cannot tell a loss of 0.05 % from this
# machine's noise, so that rate gets MT_LIVE_PACED_RUNS rounds (default 3)
# of mirror-targetd, tcpdump running again between them.
#
# Per cell: frames sent (loadgen's report), packets in the output files
# (capinfos; for mirror-targetd summed over the sealed segments after
# SIGTERM; for the reference its own count), captured Mpps and Gbit/s of
# inner bytes over the run, completeness (captured / sent), CPU time per
# captured packet, the receiver process's own CPU time per packet, and its
# peak RSS (VmHWM).  CPU time: busy time of all CPUs (/proc/stat) minus the
# generator's utime + stime (/proc/PID/stat), plus the softirq time of the
# generator's CPU (split) or of all CPUs (shared): the receive path runs
# in softirq inside the generator's system calls and is charged to it, and
# this kernel has no IRQ time accounting, so that time is the tick-sampled
# softirq column; the busy rate of the rest of the machine just before
# each cell is measured and subtracted as well.  Prints a Markdown table
# per layout with ratios against tcpdump and against the reference, writes
# them to tests/bench/LIVE_RESULTS.md and, with gnuplot,
# tests/bench/live.png.
#
# Cells last 3 s: with GBs held in tmpfs this VM makes copies up to ten
# times slower (tests/bench/vm.sh), and in a 5-second 1500-byte cell the
# faster receivers wrote several GB before the end.  Every receiver keeps
# all of a cell in tmpfs (tcpdump one -w file, as the seed setup does;
# its -C, which would let files go early, checks the file's size with a
# system call per packet and halved its rate at 64 bytes), and the files
# go after the cell.
#
# Knobs (environment): MT_BUILD_DIR (default build), MT_LIVE_DURATION
# (seconds per cell, default 3: see above), MT_LIVE_LAYOUTS ("split
# shared"), MT_LIVE_QUEUES (veth queues, default: the number of CPUs, at
# least 2), MT_LIVE_FLOWS (1000), MT_LIVE_SIZES ("64 1500"),
# MT_LIVE_WARM_MIB (tmpfs written once before the cells, default 8192; 0 =
# none; see the warm-up below), MT_LIVE_RING (mirror-targetd's
# capture.ring_size and the reference's ring, default 8192, the daemon's
# default), MT_LIVE_WRITE_QUEUE (mirror-targetd's output.write_queue,
# default: the daemon's default), MT_LIVE_PACED_RUNS (3, see above),
# MT_LIVE_SETUPS (the receivers above, in order; default all: "ref
# refwrite refsmall mt10 mt1000 tcpdump vxlan"; the paced rows need
# tcpdump and mt10),
# MT_BENCH_BUILD (1; 0: skip the package check and the build),
# MT_BENCH_HOLD_FREED (1; 0: leave this VM's free page reporting as it
# is, see tests/bench/lib.sh).

# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

DURATION=${MT_LIVE_DURATION:-3}
FLOWS=${MT_LIVE_FLOWS:-1000}
read -r -a SIZES <<<"${MT_LIVE_SIZES:-64 1500}"
read -r -a LAYOUTS <<<"${MT_LIVE_LAYOUTS:-split shared}"
NCPU=$(nproc)
QUEUES=${MT_LIVE_QUEUES:-$((NCPU > 2 ? NCPU : 2))}
RX_CPU=0
GEN_CPU=$((NCPU - 1))
MTU=1600
RESULTS=$MT_SOURCE_DIR/tests/bench/LIVE_RESULTS.md
PLOT=$MT_SOURCE_DIR/tests/bench/live.png
SEED=0x6d697272 # bench_core's seed for its rule sets
ALL_SETUPS="ref refwrite refsmall mt10 mt1000 tcpdump vxlan"
read -r -a SETUPS <<<"${MT_LIVE_SETUPS:-$ALL_SETUPS}"
RING=${MT_LIVE_RING:-8192}
PACED_RUNS=${MT_LIVE_PACED_RUNS:-3}
SMALL_RING=2048

for layout in "${LAYOUTS[@]}"; do
	case $layout in
	split) [ "$NCPU" -ge 2 ] || fail "the split layout needs 2 CPUs or more" ;;
	shared) ;;
	*) fail "MT_LIVE_LAYOUTS: unknown layout '$layout' (split, shared)" ;;
	esac
done
for setup in "${SETUPS[@]}"; do
	[[ " $ALL_SETUPS " == *" $setup "* ]] ||
		fail "MT_LIVE_SETUPS: unknown receiver '$setup' ($ALL_SETUPS)"
done
mt_require_root
bench_build
mt_require_cmd ip tcpdump capinfos ethtool cc taskset
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)
LOADGEN=$(mt_bin mirror-loadgen)

# Segments and captures on tmpfs: the disk is not what is measured.
mt_shm_workdir live

# ---- the reference receiver -----------------------------------------------------

REF=$MT_BUILD_DIR/tests/xsk_ref
mkdir -p "$(dirname "$REF")"
cc -O2 -Wall -Wextra -o "$REF" "$MT_SOURCE_DIR/tests/bench/xsk_ref.c" \
	-lxdp -lbpf -lpthread ||
	fail "cannot build xsk_ref (apt-get install libxdp-dev libbpf-dev)"

# ---- rules and config ------------------------------------------------------------

# bench_core writes the block lists of the core benchmark (public CIDRs,
# then "accept any all"): the generated traffic passes every rule and is
# accepted by the last, so each packet pays for the whole rule set.
gen_rules() {
	local n=$1 f=$2 bench i
	for bench in "$MT_BUILD_DIR/tests/bench_core" \
		"$MT_SOURCE_DIR/build-bench/tests/bench_core"; do
		if [ -x "$bench" ]; then
			"$bench" --gen-rules "$n" "$SEED" "$f"
			return
		fi
	done
	# Without bench_core: the same shape, written here.
	{
		for ((i = 1; i < n; i++)); do
			printf '%d reject egress all 0.0.0.0/0 203.0.%d.%d/32\n' \
				"$i" $((i / 250 % 256)) $((i % 250 + 1))
		done
		echo "32766 accept any all 0.0.0.0/0 0.0.0.0/0"
	} >"$f"
}
gen_rules 10 "$WORK/rules-10.conf"
gen_rules 1000 "$WORK/rules-1000.conf"
# The generator's clients are 192.0.2.1-120: the mirrored ENI's addresses,
# so direction is known and ingress/egress rules are evaluated.
ADDRS=$(seq -s ', ' -f '192.0.2.%g' 1 120)
{
	printf '[capture]\nring_size = %s\nframe_size = 4K\n' "$RING"
	[ -z "${MT_LIVE_WRITE_QUEUE:-}" ] ||
		printf '[output]\nwrite_queue = %s\n' "$MT_LIVE_WRITE_QUEUE"
	printf '[session bench]\nvni = %s\naddresses = %s\n' "$MT_VNI" "$ADDRS"
} >"$WORK/live.conf"

# ---- topology --------------------------------------------------------------------

# One topology for both layouts: a veth hands a frame sent with XDP to the
# peer's queue of the sending CPU, so with the generator pinned (split)
# one queue receives everything.
mt_topology_create "$QUEUES" "$MTU"
mt_topology_generator_only
TGT_MAC=$MT_TGT_MAC

# pinning LAYOUT: the commands that pin the receiver and the generator.
PIN_RX=()
PIN_GEN=()
pinning() {
	PIN_RX=()
	PIN_GEN=()
	if [ "$1" = split ]; then
		PIN_RX=(/usr/bin/taskset -c "$RX_CPU")
		PIN_GEN=(/usr/bin/taskset -c "$GEN_CPU")
	fi
}

# ---- measuring -------------------------------------------------------------------

# Busy CPU ticks of all CPUs (everything but idle and iowait).
busy_ticks() {
	awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# Softirq ticks of CPU $1 ("cpu" = all CPUs).
softirq_ticks() {
	awk -v c="$1" '$1 == c { print $8; exit }' /proc/stat
}

# utime + stime (ticks) of a process.
proc_ticks() {
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null ||
		echo 0
}

# "comm ticks, ..." for each thread of a process: utime + stime since it
# started (the main thread's include the daemon's start-up).
thread_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		printf '%s %s, ' "$(cat "$t/comm")" "$(proc_ticks "$1/task/${t##*/}")"
	done 2>/dev/null | sed 's/, $//'
}

vmhwm_kib() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# Packets in pcap files (0 for none).
pcap_count() {
	local n=0 f c
	for f in "$@"; do
		[ -s "$f" ] || continue
		c=$(capinfos -c -M "$f" | awk -F': *' '/Number of packets/ { print $2 }')
		n=$((n + ${c:-0}))
	done
	echo "$n"
}

# wait_log FILE PATTERN PID: until FILE says PATTERN (10 s), 1 if PID died.
wait_log() {
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# The generator, wrapped so its CPU time can be read from /proc/PID/stat
# after it exits and before it is reaped; the wrapper's own time counts as
# the generator's too.  Prints "TICKS" on fd 3, the loadgen JSON on stdout.
run_loadgen() {
	local size=$1 rate=$2
	ip netns exec "$NS_SRC" "$MT_PYTHON" -c '
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
def ticks(p):
    f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
t = ticks(pid)
_, st = os.waitpid(pid, 0)
os.write(3, b"%d\n" % (t + ticks("self")))
sys.exit(os.waitstatus_to_exitcode(st))' \
		"${PIN_GEN[@]}" "$LOADGEN" -i veth-src --flows "$FLOWS" \
		--sizes "$size" --vni "$MT_VNI" --outer-dst "$MT_OUTER_TGT" \
		--outer-dst-mac "$TGT_MAC" --duration "$DURATION" \
		${rate:+--rate "$rate"} --json
}

# Receivers without XDP see live frames only with GRO on (see loadgen
# --help); XDP receivers do not care.
gro() {
	ip netns exec "$NS_TGT" ethtool -K veth-tgt gro "$1" >/dev/null
}

RPID=
# start_receiver SETUP: starts it in NS_TGT, RPID = its pid; returns once
# it is ready.
start_receiver() {
	local setup=$1 log=$WORK/recv.err
	rm -rf "$WORK/out"
	mkdir "$WORK/out"
	: >"$log"
	case $setup in
	ref | refwrite | refsmall)
		local ring=$RING write=()
		[ "$setup" != refsmall ] || ring=$SMALL_RING
		[ "$setup" != refwrite ] || write=(-w "$WORK/out")
		ip netns exec "$NS_TGT" "${PIN_RX[@]}" "$REF" -i veth-tgt -q "$QUEUES" \
			-r "$ring" "${write[@]}" >"$WORK/recv.out" 2>"$log" &
		RPID=$!
		wait_log "$log" 'capturing on' "$RPID" ||
			fail "xsk_ref did not start: $(cat "$log")"
		;;
	mt10 | mt1000)
		ip netns exec "$NS_TGT" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' \
			sh "${PIN_RX[@]}" "$DAEMON" -i veth-tgt --output-dir "$WORK/out" \
			--config "$WORK/live.conf" \
			--rules "$WORK/rules-${setup#mt}.conf" \
			--xdp-mode native --allow-source "$MT_OUTER_SRC/32" \
			--vni "$MT_VNI" --quiet >"$WORK/recv.out" 2>"$log" &
		RPID=$!
		wait_log "$log" 'capturing VXLAN' "$RPID" ||
			fail "mirror-targetd did not start: $(cat "$log")"
		;;
	tcpdump | vxlan)
		local ifc=veth-tgt filter=('udp dst port 4789')
		gro on
		if [ "$setup" = vxlan ]; then
			ip -n "$NS_TGT" link add vxr type vxlan id "$MT_VNI" \
				dstport 4789 local "$MT_OUTER_TGT" dev veth-tgt \
				nolearning
			ip -n "$NS_TGT" link set vxr mtu $((MTU - 50)) up
			ifc=vxr
			filter=()
		fi
		ip netns exec "$NS_TGT" "${PIN_RX[@]}" tcpdump -i "$ifc" -n -B 262144 \
			-w "$WORK/out/capture.pcap" "${filter[@]}" \
			>"$WORK/recv.out" 2>"$log" &
		RPID=$!
		wait_log "$log" 'listening on' "$RPID" ||
			fail "tcpdump did not start: $(cat "$log")"
		;;
	esac
	MT_PIDS+=("$RPID")
}

# stop_receiver SETUP: stops it (it flushes / seals); GOT = the packets in
# its output.
GOT=0
stop_receiver() {
	local setup=$1 sig=TERM rc=0 segs
	case $setup in tcpdump | vxlan) sig=INT ;; esac
	kill -"$sig" "$RPID"
	wait "$RPID" 2>/dev/null || rc=$?
	[ "$rc" = 0 ] || fail "$setup exited $rc on SIG$sig: $(cat "$WORK/recv.err")"
	case $setup in
	ref*)
		GOT=$(awk '/^received/ { print $2 }' "$WORK/recv.out")
		if [ "$setup" = refwrite ]; then
			# What it says it wrote must be in its files.
			local wrote held
			wrote=$(sed -n 's/.*, wrote \([0-9]*\) bytes$/\1/p' "$WORK/recv.out")
			held=$(stat -c %s "$WORK"/out/queue-*.raw | awk '{ n += $1 } END { print n + 0 }')
			[ "${wrote:-x}" = "$held" ] ||
				log "  WARNING: xsk_ref says it wrote ${wrote:-?} bytes, its files hold $held"
		fi
		;;
	mt*)
		mapfile -t segs < <(mt_segments "$WORK/out")
		GOT=$(pcap_count "${segs[@]}")
		# The daemon's own count of records written must agree.
		local written
		written=$(awk '/^ *written / { print $2; exit }' "$WORK/recv.out")
		[ "${written:-x}" = "$GOT" ] ||
			log "  WARNING: the daemon says it wrote ${written:-?} records, the segments hold $GOT"
		# Where frames went missing, if any did: the sockets' drop
		# counters and how often a worker waited for write-behind.
		log "  daemon: $(grep -E '^socket queue|^writer queue waits' "$WORK/recv.out" |
			sed -E 's/^socket queue +([0-9]+) [^:]*: /q\1: /; s/, rx_invalid_descs [0-9]+//; s/ +/ /g' |
			paste -sd ';' -)"
		;;
	*) GOT=$(pcap_count "$WORK/out/capture.pcap") ;;
	esac
	if [ "$setup" = vxlan ]; then
		ip -n "$NS_TGT" link del vxr
	fi
	case $setup in tcpdump | vxlan) gro off ;; esac
}

now_ns() { date +%s%N; }

# cell LAYOUT SETUP SIZE [RATE]: one run (RATE: paced, else as fast as
# the generator can); appends "layout setup size rate sent captured
# seconds busy_ticks gen_ticks rx_ticks hwm_kib bg_ticks softirq_ticks
# link_drops" to
# $WORK/cells.  bg_ticks: what the rest of the machine (other jobs) would
# have used in the window, from the busy rate of the second before the
# traffic, when the receiver is idle; it is subtracted too.
cell() {
	local layout=$1 setup=$2 size=$3 rate=${4:-} b0 b1 p0 p1 t0 t1 gen sent secs hwm rx bg
	local si0 si1 sicpu=cpu l0 l1
	[ "$layout" = shared ] || sicpu=cpu$GEN_CPU
	log "$layout: $setup, ${size}-byte inner frames, ${DURATION} s${rate:+, paced at $rate/s}"
	start_receiver "$setup"
	sleep 0.2
	p0=$(busy_ticks)
	t0=$(now_ns)
	sleep 1
	p1=$(busy_ticks)
	t1=$(now_ns)
	b0=$p1
	si0=$(softirq_ticks "$sicpu")
	l0=$(mt_link_tx_dropped "$NS_SRC" veth-src)
	run_loadgen "$size" "$rate" >"$WORK/lg.json" 3>"$WORK/lg.ticks" ||
		fail "mirror-loadgen failed (exit $?)"
	b1=$(busy_ticks)
	si1=$(softirq_ticks "$sicpu")
	l1=$(mt_link_tx_dropped "$NS_SRC" veth-src)
	bg=$(awk -v p=$((p1 - p0)) -v t=$((t1 - t0)) -v w=$(($(now_ns) - t1)) \
		'BEGIN { printf "%.0f", p * w / t }')
	# Let the receiver drain its rings before the cut.
	sleep 0.5
	hwm=$(vmhwm_kib "$RPID")
	rx=$(proc_ticks "$RPID")
	case $setup in
	mt*) log "  daemon threads (CPU ticks since start): $(thread_ticks "$RPID")" ;;
	esac
	stop_receiver "$setup"
	gen=$(cat "$WORK/lg.ticks")
	read -r sent secs < <("$MT_PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["frames_sent"], j["seconds"])' "$WORK/lg.json")
	log "  sent $sent in $secs s, link dropped $((l1 - l0)), captured $GOT, busy $((b1 - b0)) ticks, generator $gen, softirq $((si1 - si0)), background $bg, receiver $rx, VmHWM $hwm KiB"
	echo "$layout $setup $size ${rate:-0} $sent $GOT $secs $((b1 - b0)) $gen $rx $hwm $bg $((si1 - si0)) $((l1 - l0))" >>"$WORK/cells"
	rm -rf "$WORK/out"
}

# last_complete: 1 when the last cell captured >= 99.9 % of what it sent.
last_complete() {
	tail -n 1 "$WORK/cells" | awk '{ print ($6 >= 0.999 * $5) ? 1 : 0 }'
}

# survived_rate SIZE: SURVIVED = the highest rate tcpdump captured
# >= 99.9 % of in the split layout: its captured rate at saturation when it
# got that much, else bisected below it with paced cells (4 steps); 0 when
# even a sixteenth of it was too much.
SURVIVED=0
survived_rate() {
	local size=$1 hi lo=0 mid i
	SURVIVED=0
	hi=$(captured_rate split tcpdump "$size")
	[ "${hi:-0}" -gt 0 ] || return 0
	if awk -v s="$size" '$1 == "split" && $2 == "tcpdump" && $3 == s &&
		$4 == 0 { exit !($6 >= 0.999 * $5) }' "$WORK/cells"; then
		SURVIVED=$hi
		return 0
	fi
	for ((i = 0; i < 4; i++)); do
		mid=$(((lo + hi) / 2))
		cell split tcpdump "$size" "$mid"
		if [ "$(last_complete)" = 1 ]; then lo=$mid; else hi=$mid; fi
	done
	SURVIVED=$lo
}

# captured_rate LAYOUT SETUP SIZE: captured frames per second of that cell.
captured_rate() {
	awk -v l="$1" -v s="$2" -v z="$3" \
		'$1 == l && $2 == s && $3 == z && $4 == 0 { printf "%.0f", $6 / $7 }' \
		"$WORK/cells"
}

# Memory: see tests/bench/lib.sh.  Freed pages wait for the run; then
# write and delete as much tmpfs as a 1500-byte cell writes, so backed
# pages are what the cells get.
bench_hold_freed_pages
bench_warm_tmpfs "$WORK" "${MT_LIVE_WARM_MIB:-8192}"

: >"$WORK/cells"
for layout in "${LAYOUTS[@]}"; do
	pinning "$layout"
	for size in "${SIZES[@]}"; do
		for setup in "${SETUPS[@]}"; do
			cell "$layout" "$setup" "$size"
		done
		# Completeness at a rate tcpdump survives (evenly paced).
		if [ "$layout" = split ]; then
			survived_rate "$size"
			for ((run = 0; SURVIVED > 0 && run < PACED_RUNS; run++)); do
				[ "$run" = 0 ] || cell split tcpdump "$size" "$SURVIVED"
				cell split mt10 "$size" "$SURVIVED"
			done
		fi
	done
done

# ---- report ----------------------------------------------------------------------

model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
HZ=$(getconf CLK_TCK)
"$MT_PYTHON" - "$WORK/cells" "$HZ" "$WORK/plot.dat" "$NCPU" "$WORK/table" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
hz = float(sys.argv[2])
ncpu = int(sys.argv[4])
names = {"ref": "reference (xsk_ref, same UMEM as mirror-targetd)",
         "refwrite": "reference writing every frame (xsk_ref -w)",
         "refsmall": "reference, a quarter of the UMEM",
         "mt10": "mirror-targetd, 10 rules",
         "mt1000": "mirror-targetd, 1,000 rules",
         "tcpdump": "tcpdump on the veth (raw VXLAN)",
         "vxlan": "kernel vxlan + tcpdump"}
cells = {}
runs = {}  # every cell of a key: paced ones run more than once
for (layout, setup, size, rate, sent, got, secs, busy, gen, rx, hwm, bg,
     si, link) in rows:
    sent, got, size, rate = int(sent), int(got), int(size), int(rate)
    secs, busy, gen, rx = float(secs), int(busy), int(gen), int(rx)
    bg, si = int(bg), int(si)
    cpu = busy - gen + si - bg
    c = {
        "sent": sent, "got": got, "size": size, "rate": rate,
        "mpps": got / secs / 1e6, "gbps": got * size * 8 / secs / 1e9,
        "compl": got / sent if sent else 0,
        "link": int(link),
        "deliv": got / (sent - int(link)) if sent > int(link) else 0,
        "cpu": cpu / hz / got * 1e6 if got else float("nan"),
        "rxcpu": rx / hz / got * 1e6 if got else float("nan"),
        "rss": int(hwm) / 1024,
        "bg": 100 * bg / (hz * secs * ncpu)}
    runs.setdefault((layout, setup, size, rate), []).append(c)
    cells.setdefault((layout, setup, size, rate), c)
def ratio(a, b):
    return "%.2fx" % (a / b) if b else "-"
layouts = [l for l in ("split", "shared") if any(k[0] == l for k in cells)]
sizes = sorted({k[2] for k in cells})
order = [s for s in names if any(k[1] == s for k in cells)]
for layout in layouts:
    out = open("%s.%s" % (sys.argv[5], layout), "w")
    out.write("| setup | inner B | sent | captured | Mpps | Gbit/s inner"
              " | complete | link drops | of delivered"
              " | CPU µs/pkt | receiver process µs/pkt"
              " | peak RSS MiB | Mpps vs tcpdump | Mpps vs reference"
              " | Mpps vs writing reference"
              " | CPU/pkt vs tcpdump | other load |\n")
    out.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:"
              "|---:|---:|---:|---:|---:|\n")
    for size in sizes:
        t = cells.get((layout, "tcpdump", size, 0))
        r = cells.get((layout, "ref", size, 0))
        w = cells.get((layout, "refwrite", size, 0))
        keys = [(layout, s, size, 0) for s in order]
        # Paced rows: tcpdump's by rate, then mirror-targetd's.
        keys += sorted((k for k in cells
                        if k[0] == layout and k[2] == size and k[3]),
                       key=lambda k: (k[1] != "tcpdump", k[3]))
        for k in keys:
            for i, c in enumerate(runs.get(k, [])):
                # A paced row's CPU against tcpdump's at the same rate
                # (its saturation cell when that was the rate, the same
                # round when there are several); none for tcpdump's.
                tk = t
                if k[3]:
                    tr = runs.get((layout, "tcpdump", size, k[3]), [])
                    if len(tr) < len(runs[k]) and t:
                        tr = [t] + tr  # round 1's was the saturation cell
                    tk = None if k[1] == "tcpdump" else (
                        tr[min(i, len(tr) - 1)] if tr else t)
                name = names[k[1]]
                if k[3]:
                    name += ", paced at %s/s" % format(k[3], ",")
                if len(runs[k]) > 1:
                    name += ", run %d" % (i + 1)
                out.write("| %s | %d | %d | %d | %.3f | %.2f | %.1f%% | %d"
                          " | %.2f%% | %.2f | %.2f | %.1f | %s | %s | %s"
                          " | %s | %.0f%% |\n" % (
                              name, size, c["sent"], c["got"], c["mpps"],
                              c["gbps"], 100 * c["compl"], c["link"],
                              100 * c["deliv"], c["cpu"], c["rxcpu"],
                              c["rss"],
                              ratio(c["mpps"], t["mpps"]) if t and not k[3] else "-",
                              ratio(c["mpps"], r["mpps"]) if r and not k[3] else "-",
                              ratio(c["mpps"], w["mpps"]) if w and not k[3] else "-",
                              ratio(c["cpu"], tk["cpu"]) if tk else "-",
                              c["bg"]))
plot = open(sys.argv[3], "w")
cols = [(l, z) for l in layouts for z in sizes]
short = dict(names, ref="reference", refsmall="reference, 1/4 UMEM",
             refwrite="reference writing",
             tcpdump="tcpdump on the veth")
for s in order:
    plot.write('"%s" %s\n' % (short[s],
               " ".join("%.4f" % cells[(l, s, z, 0)]["mpps"]
                        if (l, s, z, 0) in cells else "0" for l, z in cols)))
open(sys.argv[3] + ".cols", "w").write(
    "\n".join("%s-byte inner, %s" % (z, l) for l, z in cols) + "\n")
PY

{
	echo "## Live capture benchmark"
	echo
	echo "Machine: $NCPU vCPU, ${model:-$(uname -m)}, Linux $(uname -r);" \
		"measured $(date -u +%Y-%m-%dT%H:%MZ) with \`tests/bench/live.sh\`" \
		"(build: ${MT_BUILD_DIR#"$MT_SOURCE_DIR"/})."
	echo
	echo "Veth pair, MTU $MTU, between two namespaces; mirror-loadgen" \
		"(BPF_PROG_RUN live frames, one core) sends $FLOWS inner flows," \
		"VNI $MT_VNI, as fast as it can for $DURATION s per cell; one" \
		"receiver at a time writes to tmpfs. Captured = packets in the" \
		"output files (capinfos; mirror-targetd: sealed segments after" \
		"SIGTERM; reference: its own count). Mpps and Gbit/s (inner frame" \
		"bytes) are captured packets over the generator's run time." \
		"Link drops: frames the veth itself dropped (the sender's" \
		"tx_dropped: the peer's 256-slot queue was full) before any XDP" \
		"program or socket saw them, a NIC's rx_missed; of delivered =" \
		"captured / (sent - link drops)."
	echo "The reference runs with mirror-targetd's rings and UMEM (UMEM," \
		"fill ring and rx ring of $((2 * RING)) frames of 4 KiB:" \
		"capture.ring_size = $RING), so \"vs reference\" is the cost of" \
		"the daemon's work alone; the second reference row has a quarter" \
		"of them ($SMALL_RING, $((2 * SMALL_RING)) frames): the kernel" \
		"copies every frame into the UMEM frame the fill ring names next," \
		"and the fill ring cycles through all of them, so the UMEM's size" \
		"alone sets how many pages (TLB entries, cache lines) the copy" \
		"touches. The writing reference is the first with every frame" \
		"kept: one writev() per batch of up to 1,024 frames straight from" \
		"the UMEM into a file on tmpfs (one copy, no record headers), the" \
		"least work any capture program can keep them with here; \"vs" \
		"writing reference\" is the cost of the daemon's work beyond" \
		"storing the bytes."
	echo "CPU µs/pkt = busy time of all CPUs (/proc/stat) minus the" \
		"generator's utime+stime (/proc/PID/stat), plus the softirq ticks" \
		"of the generator's CPU (split) or of all CPUs (shared, an upper" \
		"bound), per captured packet: the veth receive path (XDP, AF_XDP" \
		"copy; GRO, packet socket) runs in softirq inside the generator's" \
		"transmit call and is charged to it, and without IRQ time" \
		"accounting the softirq column is tick-sampled. Receiver process =" \
		"its own utime+stime only (user space and its system calls)." \
		"Other load: the busy share of all CPUs in the idle second before" \
		"the traffic (other jobs on the machine), extrapolated over the" \
		"run and subtracted; above a few % the cell is noisy."
	echo "Receivers without XDP get the live frames through GRO, which runs" \
		"inside the generator's transmit call: they slow the generator" \
		"down (fewer frames sent) instead of dropping, so compare Mpps," \
		"not completeness alone."
	for layout in "${LAYOUTS[@]}"; do
		echo
		case $layout in
		split)
			echo "### Split: generator and receive path on CPU $GEN_CPU, receiver on CPU $RX_CPU"
			echo
			echo "The generator pinned to CPU $GEN_CPU (the veth's" \
				"receive path runs there with it, in softirq), the" \
				"receiver process to CPU $RX_CPU; one veth queue" \
				"receives. Paced rows: when tcpdump lost frames at" \
				"saturation, tcpdump again at rates bisected below" \
				"what it captured, down to the highest where it" \
				"captured >= 99.9 %; then mirror-targetd, 10 rules, at" \
				"the highest rate tcpdump survived, $PACED_RUNS runs" \
				"with tcpdump run again at that rate between them (each" \
				"run's CPU/pkt against tcpdump's of the same round)."
			;;
		shared)
			echo "### Shared: $QUEUES queues, nothing pinned"
			echo
			echo "Generator, receive path and receiver share all $NCPU CPUs."
			;;
		esac
		echo
		cat "$WORK/table.$layout"
	done
} >"$WORK/report.md"
cat "$WORK/report.md"
cp "$WORK/report.md" "$RESULTS"
log "written to ${RESULTS#"$MT_SOURCE_DIR"/}"

if command -v gnuplot >/dev/null 2>&1; then
	{
		echo "set terminal pngcairo size 1000,540 noenhanced"
		echo "set output '$PLOT'"
		echo "set title 'Live capture on a veth pair: captured Mpps by setup and CPU layout ($DURATION s, $FLOWS flows)'"
		echo "set style data histograms"
		echo "set style histogram clustered gap 1"
		echo "set style fill solid 0.8 border -1"
		echo "set ylabel 'captured Mpps'"
		echo "set yrange [0:*]"
		echo "set grid ytics"
		echo "set xtics rotate by -20"
		echo "set rmargin 10"
		echo "set bmargin 6"
		echo "set key top right"
		mapfile -t cols <"$WORK/plot.dat.cols"
		printf "plot '%s' using 2:xtic(1) title '%s'" \
			"$WORK/plot.dat" "${cols[0]}"
		for ((i = 1; i < ${#cols[@]}; i++)); do
			printf ", '' using %d title '%s'" $((i + 2)) "${cols[i]}"
		done
		echo
	} >"$WORK/plot.gp"
	if gnuplot "$WORK/plot.gp" 2>"$WORK/gnuplot.err"; then
		log "plot written to ${PLOT#"$MT_SOURCE_DIR"/}"
	else
		log "gnuplot failed: $(cat "$WORK/gnuplot.err")"
	fi
fi
