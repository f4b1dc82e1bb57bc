#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end, mirror-loadgen against mirror-targetd: the load generator in
# namespace "src" sends generated mirror traffic (100 inner flows, 64- and
# 512-byte inner frames, VNI 42) with BPF_PROG_RUN live frames out of one
# end of a 2-queue veth pair; `mirror-targetd -i veth-tgt` captures on the
# other.  Checked, as a user would:
#   1. usage errors exit 2 with a message naming the option;
#   2. paced (--rate): the generator reports the count and a rate near the
#      one asked for, and every frame is in the sealed segments: 100
#      distinct inner 5-tuples, half of them 64 bytes, half 512; the
#      frames arrive evenly spaced (no millisecond holds more than 3x its
#      share and two trains of 32, by the XDP receive stamps), and --pace
#      burst sends the exact count too;
#   3. unpaced: the daemon's XDP counters account for every frame sent
#      (redirected + counted drops == sent), its sockets' counters for
#      every frame redirected, and the segments hold every frame received.
#
# Needs root, netns/veth, native XDP + AF_XDP on veth, tshark and a kernel
# with BPF_F_TEST_XDP_LIVE_FRAMES (5.18+); otherwise exits 77.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

FLOWS=100
COUNT=${MT_E2E_LOADGEN_COUNT:-20000}
PACED=10000
RATE=20000

mt_require_root
mt_require_cmd tshark ip
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)
LOADGEN=$MT_BUILD_DIR/tools/mirror-loadgen
[ -x "$LOADGEN" ] ||
	skip "$LOADGEN not built (needs clang, bpftool and libbpf at configure time)"

# counter FILE NAME: the number after NAME at the start of a summary line.
counter() {
	local v
	v=$(grep -E "^ *$2 " "$1" | head -n1 | grep -Eo '[0-9]+' | head -n1) ||
		{
			sed 's/^/    /' "$1" >&2
			fail "no '$2' counter in the daemon's summary"
		}
	printf '%s\n' "$v"
}

# socket_drops FILE: frames the AF_XDP sockets dropped (all queues).
socket_drops() {
	grep '^socket queue' "$1" |
		grep -Eo '(rx_dropped|rx_invalid_descs|rx_ring_full) [0-9]+' |
		awk '{ s += $2 } END { print s + 0 }'
}

seg_count() {
	local f n=0
	for f in $(mt_segments "$1"); do
		n=$((n + $(mt_pcap_count "$f")))
	done
	printf '%s\n' "$n"
}

# ---- 1. usage errors ------------------------------------------------------------

mt_expect_rc 2 usage-none "$LOADGEN"
mt_assert_grep "$MT_TMP/usage-none.err" '-i IFACE is required' "no -i"
mt_expect_rc 2 usage-both "$LOADGEN" -i lo --flows 3 --pcap /nonexistent
mt_assert_grep "$MT_TMP/usage-both.err" 'either --pcap FILE or --flows N'
mt_expect_rc 2 usage-dst "$LOADGEN" -i lo --flows 3
mt_assert_grep "$MT_TMP/usage-dst.err" '--outer-dst IP is required'
mt_expect_rc 2 usage-size "$LOADGEN" -i lo --flows 3 --sizes 64,20 \
	--outer-dst 198.18.0.2
mt_assert_grep "$MT_TMP/usage-size.err" '--sizes 20: .*60\.\.'
mt_expect_rc 2 usage-rate "$LOADGEN" -i lo --flows 3 --outer-dst 198.18.0.2 \
	--rate fast
mt_assert_grep "$MT_TMP/usage-rate.err" '--rate fast'
mt_expect_rc 2 usage-pace "$LOADGEN" -i lo --flows 3 --outer-dst 198.18.0.2 \
	--rate 10 --pace even
mt_assert_grep "$MT_TMP/usage-pace.err" '--pace even: give smooth or burst'
mt_expect_rc 0 help "$LOADGEN" --help
mt_assert_grep "$MT_TMP/help.out" 'only at a mirror target you own' "--help"

# ---- the topology --------------------------------------------------------------

mt_topology_create 2
# Only the generator may send VXLAN: the kernel's vxlan device of the lab
# would add its own (MLD reports) to what is counted.
ip -n "$NS_SRC" link del vx0
TGT_MAC=$MT_TGT_MAC

loadgen() {
	ip netns exec "$NS_SRC" "$LOADGEN" -i veth-src --flows "$FLOWS" \
		--sizes 64,512 --vni "$MT_VNI" --outer-dst "$MT_OUTER_TGT" \
		--outer-dst-mac "$TGT_MAC" "$@"
}

# loadgen_run NAME ARGS...: a run that must succeed (77 if the kernel
# cannot send live frames).
loadgen_run() {
	local name=$1
	shift
	mt_run "$name" loadgen "$@"
	if [ "$MT_RC" = 3 ]; then
		sed 's/^/    /' "$MT_TMP/$name.err" >&2
		skip "this kernel cannot send BPF_PROG_RUN live frames"
	fi
	[ "$MT_RC" = 0 ] || {
		sed 's/^/    /' "$MT_TMP/$name.err" >&2
		fail "mirror-loadgen $* exited $MT_RC"
	}
}

daemon_start() {
	local name=$1 out=$2
	mt_daemon_start "$name" "$DAEMON" -i veth-tgt --output-dir "$out" \
		--xdp-mode native --allow-source "$MT_OUTER_SRC/32" \
		--vni "$MT_VNI"
}

# ---- 2. paced: every frame captured ---------------------------------------------

OUT1=$MT_TMP/seg1
daemon_start paced-d "$OUT1"
loadgen_run paced --count "$PACED" --rate "$RATE" --json
J=$MT_TMP/paced.out
read -r SENT SECS PPS < <("$MT_PYTHON" -c '
import json, sys
j = json.load(open(sys.argv[1]))
print(j["frames_sent"], j["seconds"], j["pps"])' "$J")
mt_assert_eq "$SENT" "$PACED" "frames sent at --rate $RATE"
# Paced to an absolute schedule: never faster than asked, and a loaded
# machine may make it only a little slower.
"$MT_PYTHON" -c "import sys; sys.exit(not ($PPS <= $RATE * 1.05 and $PPS >= $RATE * 0.5))" ||
	fail "asked for $RATE pps, got $PPS pps ($SENT frames in $SECS s)"
log "paced: $SENT frames in $SECS s ($PPS pps)"
sleep 0.5
mt_daemon_stop TERM
mt_assert_eq "$DRC" 0 "daemon exit status after SIGTERM"
S=$MT_TMP/paced-d.out
mt_assert_eq "$(counter "$S" redirected)" "$SENT" "XDP redirected (paced)"
GOT=$(seg_count "$OUT1")
mt_assert_eq "$GOT" "$SENT" "frames in the sealed segments (paced)"

mapfile -t SEGS < <(mt_segments "$OUT1")
for f in "${SEGS[@]}"; do
	mt_tshark -r "$f" -T fields -E separator='|' -e frame.len -e ip.src \
		-e ip.dst -e ip.proto -e tcp.srcport -e tcp.dstport \
		-e udp.srcport -e udp.dstport -e frame.time_epoch
done >"$MT_TMP/paced.fields"
# Smooth pacing: RATE/1000 frames a millisecond, in trains of 32 (two may
# meet in one millisecond); a burst (the old 5 ms of frames at full speed)
# puts hundreds into one.
BUSIEST=$("$MT_PYTHON" -c '
import collections, sys
ms = collections.Counter()
for line in open(sys.argv[1]):
    ms[int(float(line.rsplit("|", 1)[1]) * 1000)] += 1
print(max(ms.values()))' "$MT_TMP/paced.fields")
[ "$BUSIEST" -le $((RATE / 1000 * 3 + 64)) ] ||
	fail "paced at $RATE/s, yet $BUSIEST frames arrived within one millisecond"
log "paced: at most $BUSIEST frames in any millisecond ($((RATE / 1000)) expected)"
N64=$(awk -F'|' '$1 == 64' "$MT_TMP/paced.fields" | wc -l)
N512=$(awk -F'|' '$1 == 512' "$MT_TMP/paced.fields" | wc -l)
mt_assert_eq "$N64" "$((PACED / 2))" "64-byte inner frames"
mt_assert_eq "$N512" "$((PACED / 2))" "512-byte inner frames"
TUPLES=$(cut -d'|' -f2-8 "$MT_TMP/paced.fields" | sort -u | wc -l)
mt_assert_eq "$TUPLES" "$FLOWS" "distinct inner 5-tuples"
awk -F'|' '$2 !~ /^192\.0\.2\./ || $3 !~ /^192\.0\.2\./' "$MT_TMP/paced.fields" |
	grep -q . && fail "inner addresses outside 192.0.2.0/24"
log "paced: all $SENT frames in the segments, $TUPLES flows, 64 and 512 bytes"
loadgen_run burst --count 2000 --rate "$RATE" --pace burst
mt_assert_grep "$MT_TMP/burst.out" "^sent 2000 frames" "--pace burst report"

# ---- 3. unpaced: every frame accounted for --------------------------------------

OUT2=$MT_TMP/seg2
daemon_start fast-d "$OUT2"
loadgen_run fast --count "$COUNT"
mt_assert_grep "$MT_TMP/fast.out" "^sent $COUNT frames .* Mpps" "loadgen report"
log "unpaced: $(cat "$MT_TMP/fast.out")"
sleep 0.5
mt_daemon_stop TERM
mt_assert_eq "$DRC" 0 "daemon exit status after SIGTERM"
S=$MT_TMP/fast-d.out
RED=$(counter "$S" redirected)
XDP_DROPS=0
for c in invalid_vxlan source_not_allowed vni_not_allowed redirect_failed \
	not_ready; do
	XDP_DROPS=$((XDP_DROPS + $(counter "$S" "$c")))
done
mt_assert_eq "$((RED + XDP_DROPS))" "$COUNT" \
	"XDP redirected ($RED) + dropped ($XDP_DROPS) vs frames sent"
RECV=$(counter "$S" 'frames received')
SOCK_DROPS=$(socket_drops "$S")
mt_assert_eq "$((RECV + SOCK_DROPS))" "$RED" \
	"frames received ($RECV) + socket drops ($SOCK_DROPS) vs redirected"
WRITTEN=$(counter "$S" written)
mt_assert_eq "$WRITTEN" "$RECV" "records written vs frames received"
GOT=$(seg_count "$OUT2")
mt_assert_eq "$GOT" "$WRITTEN" "frames in the sealed segments vs written"
log "unpaced: sent $COUNT, redirected $RED, XDP drops $XDP_DROPS, socket drops $SOCK_DROPS, in segments $GOT"
