#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end, live mode: the kernel's own vxlan device in namespace "src"
# (the simulated mirror source) sends TCP, UDP and ICMP over IPv4 and IPv6
# through a 4-queue veth pair to namespace "tgt", where
# `mirror-targetd -i veth-tgt` captures with native XDP and one AF_XDP
# socket + worker per queue.  Checked, as a user would:
#   1. every inner frame sent through vx0 (recorded by tcpdump on vx0) is
#      in the sealed segments byte for byte, and the counts match;
#   2. ordinary traffic to the target (ICMP echo, TCP) works while attached;
#   3. SIGTERM: exit 0, last segment sealed, no .part, XDP detached, the
#      summary shows XDP, socket and pipeline counters;
#   4. allow-lists: a spoofed outer source and a non-allowed VNI are dropped
#      in XDP and counted; SIGHUP reloads the rules under traffic;
#   5. kill -9 leaves ordinary traffic working, and the next start replaces
#      the stale XDP program and recovers the .part file.
#
# Needs root, netns/veth/vxlan, native XDP on veth and AF_XDP, tcpdump,
# tshark and /usr/bin/python3 (scapy for step 4); otherwise exits 77.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=${MT_E2E_COUNT:-20} # packets of each kind
QUEUES=4

mt_require_root
mt_require_cmd tcpdump tshark ip bridge
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)

# daemon_start NAME ARGS...: mirror-targetd -i veth-tgt ARGS... in NS_TGT;
# returns once it says it is capturing.
daemon_start() {
	local name=$1
	shift
	mt_daemon_start "$name" "$DAEMON" -i veth-tgt "$@"
}

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

# pcap_hex FILE...: one line per unicast record, the hex of the frame, sorted.
pcap_hex() {
	"$MT_PYTHON" - "$@" <<'PY' | sort
import struct, sys
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    end = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        # Only what we sent (to the inner peer's unicast MAC), not the
        # kernel's own multicast MLD reports that vx0 sends now and then.
        if frame and not frame[0] & 1:
            print(frame.hex())
        off += 16 + incl
PY
}

segments() { mt_segments "$1"; }

check_sealed() {
	local dir=$1
	[ -z "$(find "$dir" -name '*.part')" ] ||
		fail "unsealed segment left in $dir: $(find "$dir" -name '*.part')"
	[ -n "$(segments "$dir")" ] || fail "no sealed segment in $dir"
}

xdp_attached() { ip -n "$NS_TGT" link show veth-tgt | grep -q 'prog/xdp'; }

mt_topology_create $QUEUES

# ---- 1-3. capture, ordinary traffic, SIGTERM --------------------------------

# Twice: with write-behind (the default: workers copy, a thread writes) and
# without (output.write_queue = 0: workers write, records of 256 bytes and
# more straight from the UMEM).
printf '[output]\nwrite_queue = 0\n' >"$MT_TMP/direct.conf"
: >"$MT_TMP/write-behind.conf"
for mode in write-behind direct; do
	OUT=$MT_TMP/seg-$mode
	daemon_start "run1-$mode" --output-dir "$OUT" --xdp-mode native \
		--config "$MT_TMP/$mode.conf"
	xdp_attached || fail "no XDP program on veth-tgt while running"
	if [ "$mode" = direct ]; then want='no write-behind'; else want='write-behind 128M'; fi
	[ "$(grep -c "queue [0-9]*: AF_XDP .*, $want\$" "$MT_TMP/run1-$mode.err")" = "$QUEUES" ] ||
		fail "$mode: the daemon's log does not say '$want' for each of $QUEUES queues"

	mt_capture_start "$MT_TMP/vx0-$mode.pcap" "$NS_SRC" vx0 ''
	mt_send_inner "$N" 2 >"$MT_TMP/sent.txt"
	SENT=$((6 * N))
	mt_ordinary_ok || fail "ICMP echo / TCP to $MT_OUTER_TGT failed while XDP is attached"
	log "ordinary traffic (ICMP echo, TCP) to $MT_OUTER_TGT works while attached"
	sleep 0.5
	kill -INT "$MT_TCPDUMP_PID"
	wait "$MT_TCPDUMP_PID" || true
	pcap_hex "$MT_TMP/vx0-$mode.pcap" >"$MT_TMP/sent.hex"
	INNER=$(wc -l <"$MT_TMP/sent.hex")
	mt_assert_eq "$INNER" "$SENT" "unicast frames tcpdump saw on vx0"

	mt_daemon_stop TERM
	mt_assert_eq "$DRC" 0 "exit status after SIGTERM"
	xdp_attached && fail "XDP program still attached after SIGTERM"
	check_sealed "$OUT"
	mapfile -t SEGS < <(segments "$OUT")
	pcap_hex "${SEGS[@]}" >"$MT_TMP/got.hex"
	GOT=$(wc -l <"$MT_TMP/got.hex")
	ALL=0
	for f in "${SEGS[@]}"; do ALL=$((ALL + $(mt_pcap_count "$f"))); done
	log "$mode: sent $SENT inner packets through vx0; $GOT of them in ${#SEGS[@]} sealed segment(s) ($((ALL - GOT)) kernel MLD reports besides)"
	mt_assert_eq "$GOT" "$SENT" "packets in the segments vs packets sent"
	cmp -s "$MT_TMP/sent.hex" "$MT_TMP/got.hex" ||
		fail "inner frames in the segments differ from those sent (diff $MT_TMP/sent.hex $MT_TMP/got.hex)"
	log "$mode: every inner frame is in the segments byte for byte"

	# tshark's view of the same: each kind N times, right addresses and ports.
	mt_pcap_fields "${SEGS[@]}" >"$MT_TMP/got.fields"
	while read -r kind proto src dst port count; do
		n=$(mt_kind_count "$MT_TMP/got.fields" "$proto" "$src" "$dst" "$port")
		mt_assert_eq "$n" "$count" "$kind packets in the segments (tshark)"
	done <"$MT_TMP/sent.txt"

	S=$MT_TMP/run1-$mode.out
	mt_assert_eq "$(counter "$S" redirected)" "$ALL" "XDP redirected"
	mt_assert_eq "$(counter "$S" redirect_failed)" 0 "XDP redirect_failed"
	mt_assert_eq "$(counter "$S" written)" "$ALL" "records written"
	mt_assert_grep "$S" "^segments sealed +${#SEGS[@]} " "summary: segments sealed"
	grep -q '^socket queue' "$S" || fail "no per-socket XDP_STATISTICS in the summary"
	BUSY=$(grep '^socket queue' "$S" | grep -cv 'frames 0$' || true)
	log "summary: $(grep -c '^socket queue' "$S") sockets, $BUSY of them received frames"
	[ "$(grep -c '^socket queue' "$S")" = "$QUEUES" ] || fail "expected $QUEUES sockets"
done

# ---- 4. allow-lists and reload -------------------------------------------------

OUT2=$MT_TMP/seg2
RULES=$MT_TMP/rules.conf
echo "100 accept any all 0.0.0.0/0 0.0.0.0/0" >"$RULES"
echo "110 accept any all ::/0 ::/0" >>"$RULES"
daemon_start run2 --output-dir "$OUT2" --allow-source "$MT_OUTER_SRC/32" \
	--vni "$MT_VNI" --rules "$RULES"
TGT_MAC=$MT_TGT_MAC
if "$MT_PYTHON" -c 'import scapy' 2>/dev/null; then
	ip netns exec "$NS_SRC" "$MT_PYTHON" - "$TGT_MAC" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, sendp
from scapy.layers.vxlan import VXLAN
inner = Ether(dst="02:00:5e:00:53:02") / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(dport=9) / b"x"
out = lambda src, vni: Ether(dst=sys.argv[1]) / IP(src=src, dst="198.18.0.2") / UDP(sport=4242, dport=4789) / VXLAN(vni=vni) / inner
# 5 with a spoofed outer source, 7 on a VNI nobody allowed, 3 good ones.
sendp([out("198.18.0.77", 42)] * 5 + [out("198.18.0.1", 43)] * 7 + [out("198.18.0.1", 42)] * 3,
      iface="veth-src", verbose=False)
PY
	SCAPY=1
else
	log "scapy missing: spoofed-source / VNI checks skipped"
	SCAPY=0
fi
# Reload to "reject udp" under traffic; UDP sent after it is not captured.
mt_send_inner 3 1 >/dev/null &
SENDER=$!
sleep 0.3
printf '50 reject any udp 0.0.0.0/0 0.0.0.0/0\n60 reject any udp ::/0 ::/0\n' \
	>"$RULES.new"
cat "$RULES" >>"$RULES.new"
mv "$RULES.new" "$RULES"
kill -HUP "$DPID"
wait "$SENDER"
sleep 0.3
mt_send_inner 2 >/dev/null
sleep 0.5
mt_daemon_stop TERM
mt_assert_eq "$DRC" 0 "exit status after SIGTERM (run 2)"
S=$MT_TMP/run2.out
grep -q 'reloaded' "$MT_TMP/run2.err" || fail "SIGHUP did not reload the rules"
mt_assert_grep "$S" '1 reload, 0 failed' "summary after SIGHUP"
if [ "$SCAPY" = 1 ]; then
	mt_assert_eq "$(counter "$S" source_not_allowed)" 5 "XDP source_not_allowed"
	mt_assert_eq "$(counter "$S" vni_not_allowed)" 7 "XDP vni_not_allowed"
fi
REJ=$(counter "$S" rejected)
[ "$REJ" -ge 4 ] || fail "after the reload UDP must be rejected (rejected=$REJ)"
# Nothing lost over the reload: everything decapsulated got a verdict.
DEC=$(counter "$S" 'VXLAN decapsulated')
ACC=$(counter "$S" accepted)
UNM=$(counter "$S" unmatched)
mt_assert_eq "$((ACC + REJ + UNM))" "$DEC" "verdicts vs decapsulated frames"
mt_assert_eq "$(counter "$S" written)" "$ACC" "records written vs accepted"
log "allow-lists: $(counter "$S" source_not_allowed) spoofed, $(counter "$S" vni_not_allowed) wrong VNI dropped in XDP; reload: $REJ UDP rejected, $ACC captured"

# ---- 5. kill -9 and recovery ----------------------------------------------------

OUT3=$MT_TMP/seg3
daemon_start run3 --output-dir "$OUT3"
mt_send_inner 2 >/dev/null
sleep 0.5 # idle flush: the records reach the .part file
mt_daemon_stop KILL
[ -n "$(find "$OUT3" -name '.*.part')" ] || fail "kill -9 left no .part file"
xdp_attached || log "note: the kernel took the XDP program off with the process"
mt_ordinary_ok || fail "ordinary traffic broken after kill -9"
log "after kill -9: ordinary traffic still works"
daemon_start run4 --output-dir "$OUT3"
mt_daemon_stop TERM
mt_assert_eq "$DRC" 0 "exit status of the run after kill -9"
grep -Eq 'replacing XDP program|removing XDP program' "$MT_TMP/run4.err" ||
	! xdp_attached || fail "the stale XDP program was not replaced"
mt_assert_grep "$MT_TMP/run4.out" '1 .part file recovered at start' "summary after kill -9"
check_sealed "$OUT3"
mapfile -t SEGS3 < <(segments "$OUT3")
GOT3=0
for f in "${SEGS3[@]}"; do GOT3=$((GOT3 + $(mt_pcap_count "$f"))); done
[ "$GOT3" -ge 12 ] || fail "recovered segment holds $GOT3 records, expected at least 12"
xdp_attached && fail "XDP still attached after the last SIGTERM"
log "next start replaced the stale program and recovered the .part ($GOT3 records)"
log "PASS"
