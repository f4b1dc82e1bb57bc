#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fault scenario "hostile input": while the numbered stream runs, floods of
# frames crafted with scapy are replayed (tcpreplay) from the source
# namespace onto the underlay, one kind per phase:
#   zero_flags     VXLAN with the I flag clear            xdp.invalid_vxlan
#   short_vxlan    UDP 4789 with 4 bytes of payload       xdp.invalid_vxlan
#   wrong_port     good VXLAN to UDP 4790                 xdp.passed (kernel's)
#   bad_source     outer source 198.18.0.77 (not allowed) xdp.source_not_allowed
#   bad_vni        VNI 43 (not allowed)                   xdp.vni_not_allowed
#   inner_cuts     inner frames (VLAN + IPv4 + UDP, IPv6 + ext header + UDP)
#                  cut at every header boundary and inside every header
#                                                         inner.trunc_* etc.
#   ext_chain      IPv6 with 12 extension headers before UDP 9999
#                                                         inner.exthdr_limit
#   fragments      UDP 9999 split so the ports are only in a later fragment
#                  (IPv4 and IPv6)                        filter.unmatched
# Every frame of a phase must end in a counter that names why it was not
# captured: the sum of the outcome counters' deltas (XDP drops and passes,
# decap failures, filter unmatched/rejected) covers the phase, and the
# phase's own cause counter moved.  None of them may be captured (the rule
# set accepts only UDP to port 9999: a parser that read ports where there
# are none would let them in).  Ordinary traffic to the target works during
# the floods; the daemon survives; every number of the stream is captured.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

RATE=${FT_RATE:-500}
N=${FT_HOSTILE:-$([ "$FT_QUICK" = 1 ] && echo 1000 || echo 2000)}
PPS=${FT_PPS:-4000}

ft_require_lab
mt_require_cmd tcpreplay
mt_topology_create 2

OUT=$MT_TMP/seg
CONF=$MT_TMP/d.conf
ft_config "$CONF" "$OUT"
TGT_MAC=$MT_TGT_MAC
SRC_MAC=$(ip -n "$NS_SRC" -j link show veth-src | "$MT_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')

# One pcap per phase in $MT_TMP/hostile/PHASE.pcap; prints "PHASE COUNT".
mkdir -p "$MT_TMP/hostile"
"$MT_PYTHON" - "$MT_TMP/hostile" "$SRC_MAC" "$TGT_MAC" "$N" <<'PY' >"$MT_TMP/phases"
import sys
from scapy.all import Ether, Dot1Q, IP, IPv6, UDP, Raw, wrpcap, fragment
from scapy.layers.inet6 import IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, IPv6ExtHdrFragment
from scapy.layers.vxlan import VXLAN
d, smac, tmac, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PEER, SRC4, DST4 = "02:00:5e:00:53:02", "192.0.2.1", "192.0.2.2"

def outer(inner_bytes, src="198.18.0.1", vni=42, dport=4789, flags=0x08, sport=4242):
    return Ether(src=smac, dst=tmac) / IP(src=src, dst="198.18.0.2") / \
        UDP(sport=sport, dport=dport) / VXLAN(flags=flags, vni=vni) / Raw(inner_bytes)

payload = b"mt-hostile"
inner4 = bytes(Ether(src="02:00:5e:00:53:01", dst=PEER) / Dot1Q(vlan=7) /
               IP(src=SRC4, dst=DST4) / UDP(sport=1000, dport=9999) / payload)
inner6 = bytes(Ether(src="02:00:5e:00:53:01", dst=PEER) /
               IPv6(src="2001:db8::1", dst="2001:db8::2") /
               IPv6ExtHdrDestOpt(options=[]) / UDP(sport=1000, dport=9999) / payload)

phases = {}
phases["zero_flags"] = [outer(inner4, flags=0x00, sport=4242 + i % 8) for i in range(n)]
short = Ether(src=smac, dst=tmac) / IP(src="198.18.0.1", dst="198.18.0.2") / \
    UDP(sport=4242, dport=4789) / Raw(b"\x08\x00\x00\x00")
phases["short_vxlan"] = [short] * n
phases["wrong_port"] = [outer(inner4, dport=4790)] * n
phases["bad_source"] = [outer(inner4, src="198.18.0.77")] * n
phases["bad_vni"] = [outer(inner4, vni=43)] * n

# every header boundary and the middle of every header up to the ports
# (4 bytes of TCP/UDP are enough to classify: a cut after them is a
# legitimately truncated copy, captured with orig_len, see DESIGN 3)
cuts4 = [0, 6, 12, 14, 16, 18, 28, 38, 40]   # eth, vlan, ipv4, udp sport
cuts6 = [0, 14, 34, 54, 56, 62, 64]           # eth, ipv6, dest opts, udp sport
cut = [outer(inner4[:c]) for c in cuts4] + [outer(inner6[:c]) for c in cuts6]
phases["inner_cuts"] = (cut * (n // len(cut) + 1))[:n]

chain = IPv6(src="2001:db8::1", dst="2001:db8::2")
for i in range(12):
    chain = chain / (IPv6ExtHdrHopByHop() if i == 0 else IPv6ExtHdrDestOpt())
chain = chain / UDP(sport=1000, dport=9999) / payload
phases["ext_chain"] = [outer(bytes(Ether(src="02:00:5e:00:53:01", dst=PEER) / chain))] * n

# IPv4: an 8-byte first fragment would hold the ports; a tiny one of 8
# bytes at offset 0 with the UDP header split by a 16-byte IP option pad is
# not possible, so the ports go to the second fragment by overlap design:
# first fragment = 8 bytes of junk at offset 0, MF; second = the UDP
# datagram at offset 8 (ports only there).
udp = bytes(UDP(sport=1000, dport=9999, len=8 + len(payload)) / payload)
f1 = IP(src=SRC4, dst=DST4, id=77, flags="MF", frag=0, proto=17) / Raw(b"\0" * 8)
f2 = IP(src=SRC4, dst=DST4, id=77, flags=0, frag=1, proto=17) / Raw(udp)
# IPv6: the first fragment carries only a destination-options header, the
# UDP header is in the second.
e = bytes(IPv6ExtHdrDestOpt(nh=17, options=[]))
g1 = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(nh=60, id=78, m=1, offset=0) / Raw(e)
g2 = IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(nh=60, id=78, m=0, offset=1) / Raw(udp)
eth = lambda p: bytes(Ether(src="02:00:5e:00:53:01", dst=PEER) / p)
frag = [outer(eth(f1)), outer(eth(f2)), outer(eth(g1)), outer(eth(g2))]
phases["fragments"] = (frag * (n // 4 + 1))[:n]

for name, pkts in phases.items():
    wrpcap("%s/%s.pcap" % (d, name), pkts)
    print(name, len(pkts))
PY

# The outcome counters: where a frame that is not captured is counted.
OUTCOMES=(xdp.invalid_vxlan xdp.source_not_allowed xdp.vni_not_allowed
	xdp.passed xdp.frag_passed xdp.redirect_failed xdp.meta_failed
	xdp.not_ready filter.unmatched filter.rejected)
declare -A CAUSE=(
	[zero_flags]=xdp.invalid_vxlan [short_vxlan]=xdp.invalid_vxlan
	[wrong_port]=xdp.passed [bad_source]=xdp.source_not_allowed
	[bad_vni]=xdp.vni_not_allowed [inner_cuts]=totals.inner
	[ext_chain]=totals.inner.exthdr_limit [fragments]=filter.unmatched
)

# outcome FILE: the sum of the outcome counters plus decap failures.
outcome() {
	local a b
	a=$(ft_json "$1" "${OUTCOMES[@]}" | awk '{ s += $1 } END { print s + 0 }')
	b=$("$MT_PYTHON" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["totals"]["decap"]
print(sum(v for k, v in d.items() if k != "ok"))
PY
)
	echo $((a + b))
}
# cause FILE KEY: the cause counter (totals.inner = all inner failures).
cause() {
	if [ "$2" = totals.inner ]; then
		"$MT_PYTHON" - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t = d["totals"]["inner"]
print(sum(v for k, v in t.items() if k != "ok") + d["xdp"]["invalid_vxlan"]
      + sum(v for k, v in d["totals"]["decap"].items() if k != "ok"))
PY
	else
		ft_json "$1" "$2"
	fi
}

ft_daemon_start d "$CONF"
ft_sender_start s "$RATE"
sleep 1
HSENT=0
HCOUNTED=0
ORD_FAIL=0
DETAIL=
while read -r phase count; do
	ft_status "$MT_TMP/before.json"
	ip netns exec "$NS_SRC" tcpreplay -q -i veth-src --pps "$PPS" \
		"$MT_TMP/hostile/$phase.pcap" >"$MT_TMP/tcpreplay.out" 2>&1 &
	rp=$!
	MT_PIDS+=("$rp")
	mt_ordinary_ok || ORD_FAIL=$((ORD_FAIL + 1))
	wait "$rp" || fail "tcpreplay of $phase failed: $(cat "$MT_TMP/tcpreplay.out")"
	sleep 1
	ft_status "$MT_TMP/after.json"
	kill -0 "$DPID" 2>/dev/null || fail "mirror-targetd died during the $phase flood"
	d_out=$(($(outcome "$MT_TMP/after.json") - $(outcome "$MT_TMP/before.json")))
	d_cause=$(($(cause "$MT_TMP/after.json" "${CAUSE[$phase]}") - $(cause "$MT_TMP/before.json" "${CAUSE[$phase]}")))
	counted=$((d_out < count ? d_out : count))
	log "$phase: $count sent, outcome counters +$d_out, ${CAUSE[$phase]} +$d_cause"
	[ "$d_cause" -ge "$count" ] ||
		ft_check 1 "$phase: ${CAUSE[$phase]} grew by $d_cause for $count frames"
	HSENT=$((HSENT + count))
	HCOUNTED=$((HCOUNTED + counted))
	DETAIL+="$phase $count: ${CAUSE[$phase]##*.} +$d_cause, "
done <"$MT_TMP/phases"
ft_check "$ORD_FAIL" "ordinary traffic failed during $ORD_FAIL flood(s)"
ft_wind_down
ft_check "$DRC" "exit status after SIGTERM: $DRC"
DROPS=$(ft_writer_drops "$MT_TMP/final.json")
ft_read_segments "$MT_TMP/got" "$OUT"
ft_account "$SENT" "$MT_TMP/got" "$DROPS"
# Nothing hostile may be captured: every record written is a number.
mapfile -t SEGS < <(ft_sealed "$OUT")
ALL=$(mergecap -a -w - "${SEGS[@]}" | mt_pcap_count -)
NUMS=$(wc -l <"$MT_TMP/got")
[ "$ALL" = "$NUMS" ] || ft_check 1 "$((ALL - NUMS)) records that are not the stream's were captured"
HLOST=$((HSENT - HCOUNTED))
ft_note "hostile frames: ${DETAIL%, }"
ft_result "$((SENT + HSENT))" "$FT_CAPTURED" "$((DROPS + HCOUNTED))" \
	"$((FT_LOST + HLOST))" "$FT_DUPS" "$FT_CORRUPT"
FT_LOST=$((FT_LOST + HLOST))
ft_finish
