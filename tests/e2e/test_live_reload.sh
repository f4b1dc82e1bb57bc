#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end, live mode: reloading the rules under traffic loses nothing.
#
# The kernel's vxlan device in namespace "src" sends a steady stream of
# numbered UDP datagrams (the payload carries a sequence number, 8 flows so
# that all 4 veth queues and workers are busy) to `mirror-targetd -i
# veth-tgt` in namespace "tgt".  Meanwhile the test sends SIGHUP $RELOADS
# times, each time after atomically replacing the rules file, alternating
# between two rule sets that both accept that UDP traffic (A: "IPv4 udp to
# port 9999", B: "everything"); twice the replacement is a broken file, which
# must be rejected with FILE:LINE:COL in the log while the previous rules
# stay in force.  Checked after SIGTERM:
#   - every sequence number sent is in the sealed segments exactly once
#     (tshark's udp.payload);
#   - the log shows each reload and each rejection with its position, and
#     after the last (broken) one set A is still in force: IPv6 datagrams
#     sent then are not captured;
#   - the exit summary adds up: redirected = received = decapsulated =
#     accepted + rejected + unmatched, written = accepted, nothing rejected,
#     no drops anywhere, and "N reloads, 2 failed".
#
# Needs root, netns/veth/vxlan, native XDP on veth and AF_XDP, tshark and
# /usr/bin/python3; otherwise exits 77.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

QUEUES=4
RELOADS=${MT_E2E_RELOADS:-20}
# Reloads that install a broken file; the last one follows set A, which
# must then stay in force to the end.
BAD_AT=(7 "$RELOADS")
PORT=9999

mt_require_root
mt_require_cmd tshark ip bridge
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)

# counter NAME: the first number after NAME at the start of a summary line.
counter() {
	local v
	v=$(grep -E "^ *$1 " "$SUMMARY" | head -n1 | grep -Eo '[0-9]+' | head -n1) ||
		{
			sed 's/^/    /' "$SUMMARY" >&2
			fail "no '$1' counter in the daemon's summary"
		}
	printf '%s\n' "$v"
}

# reload_count: reloads the daemon has finished, good or bad.
reload_count() {
	grep -cE 'reloaded |reload failed' "$LOG" || true
}

mt_topology_create $QUEUES

RULES=$MT_TMP/rules.conf
cat >"$MT_TMP/udp.rules" <<EOF
# set A: only the test's UDP stream
100 accept any udp 0.0.0.0/0 0.0.0.0/0 dport=$PORT desc="the stream"
EOF
cat >"$MT_TMP/all.rules" <<'EOF'
# set B: everything
100 accept any all 0.0.0.0/0 0.0.0.0/0 desc="all IPv4"
110 accept any all ::/0 ::/0 desc="all IPv6"
EOF
# Line 3, column 16: the protocol.
cat >"$MT_TMP/bad.rules" <<'EOF'
# broken: an unknown protocol
100 accept any udp 0.0.0.0/0 0.0.0.0/0
200 accept any udpp 0.0.0.0/0 0.0.0.0/0
EOF
cp "$MT_TMP/udp.rules" "$RULES"

OUT=$MT_TMP/seg
LOG=$MT_TMP/daemon.err
SUMMARY=$MT_TMP/daemon.out
mt_daemon_start daemon "$DAEMON" -i veth-tgt --rules "$RULES" --output-dir "$OUT" \
	--allow-source "$MT_OUTER_SRC/32" --vni "$MT_VNI"

# The stream: "mt-seq NNNNNNNNNN" datagrams to 192.0.2.2:9999 from 8
# sockets (8 flows, so the vxlan source port and with it the rx queue
# varies), about 2000 a second in small bursts, until $STOP exists.  The
# sender prints how many it sent.
STOP=$MT_TMP/stop
ip netns exec "$NS_SRC" "$MT_PYTHON" - "$MT_INNER4_DST" "$PORT" "$STOP" \
	>"$MT_TMP/sent.txt" <<'PY' &
import os, socket, sys, time
dst, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
seq = 0
while not os.path.exists(stop):
    for _ in range(20):
        socks[seq % 8].sendto(b"mt-seq %010d" % seq, (dst, port))
        seq += 1
    time.sleep(0.01)
print(seq)
PY
SENDER=$!
MT_PIDS+=("$SENDER")

BAD=0
for ((r = 1; r <= RELOADS; r++)); do
	sleep 0.15
	src=$MT_TMP/udp.rules
	((r % 2 == 0)) && src=$MT_TMP/all.rules
	for b in "${BAD_AT[@]}"; do
		if [ "$r" = "$b" ]; then
			src=$MT_TMP/bad.rules
			BAD=$((BAD + 1))
		fi
	done
	# As an operator would: write beside, rename over, then SIGHUP.
	cp "$src" "$RULES.new"
	mv "$RULES.new" "$RULES"
	kill -HUP "$DPID"
	# Wait for this reload to finish: signals of one kind do not queue,
	# a second SIGHUP sent before the first is handled would be merged.
	for ((i = 0; i < 100; i++)); do
		[ "$(reload_count)" -ge "$r" ] && break
		sleep 0.05
	done
	[ "$(reload_count)" -ge "$r" ] || fail "reload $r was not reported within 5 s"
done
sleep 0.3
touch "$STOP"
wait "$SENDER" || fail "the sender failed"
SENT=$(cat "$MT_TMP/sent.txt")
[ "$SENT" -gt 1000 ] || fail "the sender sent only $SENT datagrams"
# The last reload was broken and set A (IPv4 UDP only) stayed: IPv6 to the
# same port must not be captured (the filter did not fall back to "off").
V6=5
ip netns exec "$NS_SRC" "$MT_PYTHON" - "$MT_INNER6_DST" "$PORT" "$V6" <<'PY'
import socket, sys
with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
    for i in range(int(sys.argv[3])):
        s.sendto(b"mt-v6 probe", (sys.argv[1], int(sys.argv[2])))
PY
sleep 1 # let the workers write what is still in the rings

mt_daemon_stop
mt_assert_eq "$DRC" 0 "exit status after SIGTERM"
GOOD=$((RELOADS - BAD))

# ---- the log: each reload, each rejection with its position -------------------

N=$(grep -c "reloaded $RULES" "$LOG" || true)
mt_assert_eq "$N" "$GOOD" "successful reloads in the log"
N=$(grep -cE "$RULES:3:16: .*udpp" "$LOG" || true)
mt_assert_eq "$N" "$BAD" "rejections naming $RULES:3:16 in the log"
N=$(grep -c 'reload failed; the previous rules stay' "$LOG" || true)
mt_assert_eq "$N" "$BAD" "'previous rules stay' messages in the log"

# ---- every sequence number exactly once ------------------------------------------

mapfile -t SEGS < <(mt_segments "$OUT")
[ "${#SEGS[@]}" -gt 0 ] || fail "no sealed segment in $OUT"
[ -z "$(find "$OUT" -name '*.part')" ] || fail "unsealed .part file left in $OUT"
for f in "${SEGS[@]}"; do
	mt_tshark -r "$f" -Y "udp.dstport == $PORT" -T fields -e udp.payload
done | "$MT_PYTHON" -c '
import sys
for line in sys.stdin:
    p = bytes.fromhex(line.strip().replace(":", ""))
    if p.startswith(b"mt-seq "):
        print(int(p[7:]))
' >"$MT_TMP/got.txt"
GOT=$(wc -l <"$MT_TMP/got.txt")
read -r MISSING DUPS EXTRA < <("$MT_PYTHON" - "$SENT" "$MT_TMP/got.txt" <<'PY'
import collections, sys
sent = int(sys.argv[1])
got = collections.Counter(int(l) for l in open(sys.argv[2]))
missing = sum(1 for i in range(sent) if i not in got)
dups = sum(1 for n in got.values() if n > 1)
extra = sum(1 for i in got if i >= sent)
print(missing, dups, extra)
PY
)
log "sent $SENT numbered datagrams over $RELOADS reloads ($BAD broken); $GOT in ${#SEGS[@]} segment(s): $MISSING missing, $DUPS duplicated"
if [ "$MISSING" != 0 ] || [ "$DUPS" != 0 ] || [ "$EXTRA" != 0 ]; then
	sed 's/^/    /' "$SUMMARY" >&2
	[ "$(counter seen)" -ge "$SENT" ] ||
		log "note: XDP saw only $(counter seen) frames: the loss is before XDP (veth)"
	fail "sequence numbers: $MISSING missing, $DUPS duplicated, $EXTRA never sent"
fi

# ---- the exit summary adds up ------------------------------------------------------

RED=$(counter redirected)
REC=$(counter 'frames received')
DEC=$(counter 'VXLAN decapsulated')
ACC=$(counter accepted)
REJ=$(counter rejected)
UNM=$(counter unmatched)
mt_assert_eq "$REC" "$RED" "frames received vs XDP redirected"
mt_assert_eq "$DEC" "$REC" "decapsulated vs received"
mt_assert_eq "$((ACC + REJ + UNM))" "$DEC" "accepted + rejected + unmatched vs decapsulated"
mt_assert_eq "$REJ" 0 "rejected (both rule sets accept the stream)"
[ "$ACC" -ge "$SENT" ] || fail "accepted $ACC < sent $SENT"
mt_assert_eq "$(counter written)" "$ACC" "records written vs accepted"
mt_assert_eq "$(counter 'dropped by writer')" 0 "dropped by writer"
mt_assert_eq "$(counter redirect_failed)" 0 "XDP redirect_failed"
FRAMES=$(grep '^socket queue' "$SUMMARY" | grep -Eo 'frames [0-9]+' |
	awk '{ s += $2 } END { print s + 0 }')
mt_assert_eq "$FRAMES" "$REC" "sum of the sockets' frames vs received"
BUSY=$(grep '^socket queue' "$SUMMARY" | grep -cv 'frames 0$' || true)
[ "$BUSY" -ge 2 ] || fail "only $BUSY socket(s) received frames: the stream did not spread over the queues"
if grep '^socket queue' "$SUMMARY" | grep -Eq 'rx_dropped [1-9]|rx_ring_full [1-9]'; then
	fail "a socket dropped frames: $(grep '^socket queue' "$SUMMARY")"
fi
mt_assert_grep "$SUMMARY" "\($GOOD reloads, $BAD failed\)" "summary: reloads"
[ "$UNM" -ge "$V6" ] || fail "unmatched $UNM: the $V6 IPv6 datagrams sent after the last (broken) reload were not left out"
N=$(for f in "${SEGS[@]}"; do mt_tshark -r "$f" -Y "ipv6.dst == $MT_INNER6_DST"; done | wc -l)
mt_assert_eq "$N" 0 "IPv6 datagrams captured under set A (kept after the broken reload)"
mt_assert_grep "$SUMMARY" '^ +100 accept any .*the stream$' "rule hits: set A in force at the end"
mt_assert_grep "$SUMMARY" "^segments sealed +${#SEGS[@]} " "summary: segments sealed"
log "summary consistent: $RED redirected = $DEC decapsulated = $ACC accepted + $UNM unmatched; $GOOD reloads, $BAD failed, over $BUSY busy queues"
log "PASS"
