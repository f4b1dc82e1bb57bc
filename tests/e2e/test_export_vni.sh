#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end, `mirrorctl export --vni`: two mirror sessions from one
# source, as two kernel vxlan devices in namespace "src" (vx0 with VNI 42,
# vx1 with VNI 43, both to the target), send numbered UDP datagrams
# interleaved one by one while `mirror-targetd -i veth-tgt` captures with
# two queues.  Checked, as a user would, with tshark on what export writes:
#   1. --vni 42 holds exactly the VNI-42 datagrams, in order and in time
#      order, and no frame that left through vx1; --vni 43 the other way;
#   2. --vni 42,43 holds both;
#   3. every sealed segment has its NAME.vni index beside it, and
#      `mirrorctl segments` (text and --json) shows the VNIs it holds;
#   4. a segment whose index was removed is skipped with a warning naming
#      it, the export exits 1 (partial), and the other segments' packets
#      are still exported.
#
# Needs root, netns/veth/vxlan, native XDP on veth and AF_XDP, tshark and
# /usr/bin/python3; otherwise exits 77.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=${MT_E2E_COUNT:-20} # datagrams per session and daemon run
VNI2=43
VX1_SRC=192.0.2.129 # vx1 has 192.0.2.128/25, more specific than vx0's /24
VX1_DST=192.0.2.130
PORT=9999

mt_require_root
mt_require_cmd tshark ip bridge xxd
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)
CTL=$(mt_bin mirrorctl)

mt_topology_create 2
ip -n "$NS_SRC" link add vx1 type vxlan id "$VNI2" \
	remote "$MT_OUTER_TGT" local "$MT_OUTER_SRC" dstport 4789 dev veth-src
ip -n "$NS_SRC" link set vx1 addrgenmode none
ip -n "$NS_SRC" addr add "$VX1_SRC/25" dev vx1
ip -n "$NS_SRC" link set vx1 up
ip -n "$NS_SRC" neigh replace "$VX1_DST" lladdr "$MT_INNER_PEER_MAC" \
	dev vx1 nud permanent
VX1_MAC=$(ip -n "$NS_SRC" -j link show vx1 |
	"$MT_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')

OUT=$MT_TMP/seg

# send RUN: N datagrams "vni42 RUN SEQ" through vx0 and "vni43 RUN SEQ"
# through vx1, interleaved one by one.
send() {
	ip netns exec "$NS_SRC" "$MT_PYTHON" - "$1" "$N" "$MT_INNER4_DST" \
		"$VX1_DST" "$PORT" <<'PY'
import socket, sys, time
run, n, dst42, dst43, port = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"vni42 %s %03d" % (run.encode(), i), (dst42, port))
    s.sendto(b"vni43 %s %03d" % (run.encode(), i), (dst43, port))
    time.sleep(0.002)
PY
}

# One daemon run: start, send, let the frames land, run CHECK (if any),
# stop (seals).
capture_run() {
	local name=$1 check=$2
	shift 2
	mt_daemon_start "$name" "$@"
	send "$name" || fail "sending through vx0/vx1 failed"
	sleep 1
	$check
	mt_daemon_stop
	[ "$DRC" = 0 ] || fail "mirror-targetd exited with $DRC"
}

# `mirrorctl segments` shows the VNIs of the segment sealed by run r1.
segments_show_vnis() {
	"$CTL" --socket "$SOCK" segments >"$MT_TMP/segs.txt" ||
		fail "mirrorctl segments failed"
	mt_assert_grep "$MT_TMP/segs.txt" '^mirror-.*\.pcap .* 42,43$' \
		"the VNIS column of mirrorctl segments"
	"$CTL" --socket "$SOCK" segments --json >"$MT_TMP/segs.json" ||
		fail "mirrorctl segments --json failed"
	"$MT_PYTHON" -c '
import json, sys
segs = json.load(open(sys.argv[1]))["segments"]
assert segs and all(s["vnis"] == [42, 43] for s in segs), segs' \
		"$MT_TMP/segs.json" || fail "vnis in mirrorctl segments --json"
	log "mirrorctl segments lists VNIs 42,43 for the sealed segment"
}

SOCK=$MT_TMP/control.sock
CONF=$MT_TMP/mt.conf
cat >"$CONF" <<CONF_EOF
[output]
directory = $OUT

[control]
control_socket = $SOCK
CONF_EOF

capture_run r1 : "$DAEMON" -i veth-tgt --output-dir "$OUT"
capture_run r2 segments_show_vnis --socket "$SOCK" "$DAEMON" -c "$CONF" \
	-i veth-tgt
mapfile -t SEGS < <(mt_segments "$OUT")
[ "${#SEGS[@]}" -ge 2 ] || fail "expected a segment per run, got ${#SEGS[@]}"
for s in "${SEGS[@]}"; do
	[ -f "${s%.pcap}.vni" ] || fail "$s has no VNI index beside it"
done
log "${#SEGS[@]} segments, each with its .vni index"

# export NAME ARGS...: mirrorctl export of everything into NAME.pcap,
# stderr in NAME.err, exit status in RC.
export_to() {
	local name=$1
	shift
	RC=0
	"$CTL" export --from 1 --to 4000000000 --dir "$OUT" "$@" \
		>"$MT_TMP/$name.pcap" 2>"$MT_TMP/$name.err" || RC=$?
}

# payloads FILE: "vni42 r1 000" lines of our datagrams, in file order.
payloads() {
	mt_tshark -r "$1" -T fields -e data.data "udp.dstport == $PORT" |
		while read -r hex; do printf '%s\n' "$hex" | xxd -r -p; echo; done
}

# expected VNI RUN...: the datagrams one session sent, in order.
expected() {
	local vni=$1 run i
	shift
	for run in "$@"; do
		for ((i = 0; i < N; i++)); do
			printf 'vni%s %s %03d\n' "$vni" "$run" "$i"
		done
	done
}

# time_ordered FILE: frame times never go back.
time_ordered() {
	mt_tshark -r "$1" -T fields -e frame.time_epoch |
		awk 'NR > 1 && $1 < prev { bad = 1 } { prev = $1 } END { exit bad }'
}

# ---- 1. one session ------------------------------------------------------------

export_to v42 --vni 42
[ "$RC" = 0 ] || { cat "$MT_TMP/v42.err" >&2; fail "export --vni 42 exited $RC"; }
mt_assert_eq "$(payloads "$MT_TMP/v42.pcap")" "$(expected 42 r1 r2)" \
	"VNI-42 datagrams in export --vni 42"
time_ordered "$MT_TMP/v42.pcap" || fail "export --vni 42 is not in time order"
n=$(mt_tshark -r "$MT_TMP/v42.pcap" -T fields -e eth.src |
	grep -ci "^$VX1_MAC$" || true)
mt_assert_eq "$n" 0 "frames from vx1 (VNI 43) in export --vni 42"
log "--vni 42: the $((2 * N)) VNI-42 datagrams in order, nothing of VNI 43"

export_to v43 --vni 43
[ "$RC" = 0 ] || fail "export --vni 43 exited $RC"
mt_assert_eq "$(payloads "$MT_TMP/v43.pcap")" "$(expected 43 r1 r2)" \
	"VNI-43 datagrams in export --vni 43"
n=$(mt_tshark -r "$MT_TMP/v43.pcap" -T fields -e eth.src |
	grep -civ "^$VX1_MAC$" || true)
mt_assert_eq "$n" 0 "frames not from vx1 in export --vni 43"

# ---- 2. both sessions ---------------------------------------------------------

export_to both --vni 42,43
[ "$RC" = 0 ] || fail "export --vni 42,43 exited $RC"
mt_assert_eq "$(payloads "$MT_TMP/both.pcap" | LC_ALL=C sort)" \
	"$(expected 42 r1 r2; expected 43 r1 r2)" \
	"datagrams in export --vni 42,43"
time_ordered "$MT_TMP/both.pcap" || fail "export --vni 42,43 is not in time order"
export_to all
mt_assert_eq "$(mt_pcap_count "$MT_TMP/both.pcap")" \
	"$(mt_pcap_count "$MT_TMP/all.pcap")" \
	"packets of --vni 42,43 and of no --vni (only two sessions)"
log "--vni 42,43: both sessions, time order; the same as no --vni"

# ---- 3. a segment without index -------------------------------------------------

rm -f "${SEGS[0]%.pcap}.vni"
export_to partial --vni 42
mt_assert_eq "$RC" 1 "exit status of a partial export"
mt_assert_grep "$MT_TMP/partial.err" "skipping .*$(basename "${SEGS[0]}").*no VNI index" \
	"warning naming the segment without index"
mt_assert_grep "$MT_TMP/partial.err" "partial" "partial export said so"
mt_assert_eq "$(payloads "$MT_TMP/partial.pcap")" "$(expected 42 r2)" \
	"VNI-42 datagrams of the segments that still have their index"
log "a segment without index: warned, skipped, exit 1, the rest exported"

"$CTL" export --help | grep -q -- '--vni' || fail "export --help has no --vni"
log "PASS"
