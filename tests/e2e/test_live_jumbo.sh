#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end, live mode with jumbo frames: MTU 9000 on the veth pair (the
# largest AWS mirrors is 8947 + 54), so the daemon must attach the
# multi-buffer XDP program and bind its AF_XDP sockets with XDP_USE_SG.
# 8000-byte UDP datagrams over IPv4 and IPv6 sent through the kernel vxlan
# device must come out of the sealed segments whole, byte for byte.
#
# Skips (77) when the kernel lacks XDP multi-buffer on veth or AF_XDP
# multi-buffer (Linux 6.6+), or the usual tools are missing.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=${MT_E2E_COUNT:-5} # datagrams per address family
SIZE=8000
QUEUES=2

mt_require_root
mt_require_cmd tcpdump tshark ip bridge
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)

# lib.sh's topology with a multi-queue, jumbo veth pair.
mt_topology_create $QUEUES 9000

mt_daemon_spawn "$MT_TMP/d.out" "$MT_TMP/d.err" "$DAEMON" -i veth-tgt --output-dir "$MT_TMP/seg"
RC=0
mt_daemon_wait "$MT_TMP/d.err" || RC=$?
if [ "$RC" = 1 ]; then
	sed 's/^/    /' "$MT_TMP/d.err" >&2
	grep -q 'needs XDP multi-buffer' "$MT_TMP/d.err" &&
		skip "no XDP multi-buffer on veth in this kernel"
	fail "mirror-targetd did not start"
fi
grep -q 'using the multi-buffer program' "$MT_TMP/d.err" ||
	fail "MTU 9000 did not select the multi-buffer XDP program"
if grep -q 'no AF_XDP multi-buffer' "$MT_TMP/d.err"; then
	kill "$DPID"
	skip "no AF_XDP multi-buffer (XDP_USE_SG) in this kernel"
fi

mt_capture_start "$MT_TMP/vx0.pcap" "$NS_SRC" vx0 ''

ip netns exec "$NS_SRC" "$MT_PYTHON" - "$N" "$SIZE" "$MT_INNER4_DST" "$MT_INNER6_DST" <<'PY'
import socket, sys, time
n, size, dst4, dst6 = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
for i in range(n):
    for fam, dst in ((socket.AF_INET, dst4), (socket.AF_INET6, dst6)):
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            # Distinct, position-dependent bytes: a lost or reordered
            # buffer of a multi-buffer frame shows in the comparison.
            s.sendto(bytes((i * 7 + j) & 0xFF for j in range(size)), (dst, 9))
        time.sleep(0.02)
PY
sleep 0.5
kill -INT "$MT_TCPDUMP_PID"
wait "$MT_TCPDUMP_PID" || true
mt_daemon_stop
mt_assert_eq "$DRC" 0 "exit status after SIGTERM"

# Unicast frames only: vx0 also sends the kernel's multicast MLD reports.
pcap_big() {
	"$MT_PYTHON" - "$@" <<'PY' | sort
import struct, sys
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    end = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, orig = struct.unpack(end + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        if frame and not frame[0] & 1 and orig > 4000:
            print(incl, orig, frame.hex())
        off += 16 + incl
PY
}
pcap_big "$MT_TMP/vx0.pcap" >"$MT_TMP/sent.big"
mapfile -t SEGS < <(mt_segments "$MT_TMP/seg")
[ "${#SEGS[@]}" -ge 1 ] || fail "no sealed segment"
pcap_big "${SEGS[@]}" >"$MT_TMP/got.big"
SENT=$(wc -l <"$MT_TMP/sent.big")
GOT=$(wc -l <"$MT_TMP/got.big")
mt_assert_eq "$SENT" "$((2 * N))" "jumbo frames tcpdump saw on vx0"
log "sent $SENT jumbo frames ($(cut -d' ' -f2 "$MT_TMP/sent.big" | sort -u | tr '\n' ' ')bytes); $GOT in the segments"
mt_assert_eq "$GOT" "$SENT" "jumbo frames in the segments"
cmp -s "$MT_TMP/sent.big" "$MT_TMP/got.big" ||
	fail "jumbo frames in the segments are not whole or differ from those sent"
MB=$(grep -E '^ +multi-buffer' "$MT_TMP/d.out" | grep -Eo '[0-9]+' | head -n1)
[ "${MB:-0}" -ge "$SENT" ] || fail "summary shows ${MB:-0} multi-buffer frames, expected >= $SENT"
log "PASS: every jumbo frame captured whole ($MB reassembled from several buffers)"
