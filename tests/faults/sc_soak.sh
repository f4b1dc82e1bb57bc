#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fault scenario "soak": the numbered stream at a steady FT_RATE for
# FT_SOAK seconds (300; 3600 on demand) with 1 MiB segments, gzip and an
# on-seal hook, so rotation, sealing, compression and hooks all keep
# turning; beside it mirror-loadgen (when built) loads the capture path at
# half of saturation (a 3 s unpaced probe first; FT_SOAK_PPS sets a rate
# instead, 0 none): 1,000 flows the filter does not take, so they cost
# XDP, the sockets, decapsulation and the filter, and count as unmatched,
# without filling the disk.  Every 10 s the daemon's VmRSS
# (/proc/PID/status) and open file descriptors (/proc/PID/fd) are sampled.
# Checked:
#   - flat: after a warm-up of the first fifth, RSS of the last third is
#     within 4 MiB of the first third, and the fd count within 8;
#   - counters consistent: XDP redirected = frames received + socket
#     drops, frames received = decapsulated = accepted + rejected +
#     unmatched, written + writer drops = accepted;
#   - every number sent is in a sealed segment or a named drop counter;
#   - the load: every frame the generator sent counted as unmatched,
#     dropped by the veth link (its tx_dropped; numbers of the stream the
#     link dropped count there too) or by a socket (rx_ring_full,
#     rx_dropped), and the sockets dropped at most 1 in 1,000 of them.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

SOAK=${FT_SOAK:-300}
RATE=${FT_RATE:-1000}

ft_require_lab
mt_topology_create 2

OUT=$MT_TMP/seg
CONF=$MT_TMP/d.conf
printf '%s\n' '#!/bin/sh' "echo \"\$1\" >>'$MT_TMP/hooks.log'" >"$MT_TMP/hook.sh"
chmod +x "$MT_TMP/hook.sh"
ft_config "$CONF" "$OUT" output.rotate_size=1M output.compress=yes \
	output.compress_level=6 "output.hook=$MT_TMP/hook.sh \"\$1\"" \
	capture.ring_size=8192
ft_daemon_start d "$CONF"

LOADGEN=$MT_BUILD_DIR/tools/mirror-loadgen
PPS=${FT_SOAK_PPS:-half}
[ -x "$LOADGEN" ] || PPS=0
GEN=
load() { # load SECONDS [RATE]: the generator's JSON on stdout
	ip netns exec "$NS_SRC" "$LOADGEN" -i veth-src --flows 1000 --sizes 64 \
		--vni "$MT_VNI" --outer-src "$MT_OUTER_SRC" --outer-dst "$MT_OUTER_TGT" \
		--outer-dst-mac "$MT_TGT_MAC" \
		--duration "$1" ${2:+--rate "$2" --pace burst} --json
}
if [ "$PPS" = half ]; then
	ft_status "$MT_TMP/p0.json"
	load 3 >"$MT_TMP/probe.json"
	sleep 1
	ft_status "$MT_TMP/p1.json"
	PPS=$(( ($(ft_json "$MT_TMP/p1.json" totals.frames) - $(ft_json "$MT_TMP/p0.json" totals.frames)) / 6 ))
	log "saturation probe: $((PPS * 2)) frames/s captured; soak load $PPS/s"
fi
# Frames the link itself dropped: veth's transmit drops what does not fit
# the peer's queue of 256 (the load comes in bursts of 5 ms at full speed,
# --pace burst, so that the generator sleeps between them instead of
# spinning on one of the CPUs the capture path needs: evenly paced, it
# left the sockets short of CPU now and then, 168 frames in 300 s), before
# XDP sees it -- a kernel counter, like a NIC's rx_missed.
link_drops() { mt_link_tx_dropped "$NS_SRC" veth-src; }
V0=$(link_drops)
ft_status "$MT_TMP/before.json"
if [ "$PPS" -gt 0 ]; then
	load "$SOAK" "$PPS" >"$MT_TMP/load.json" &
	GEN=$!
fi
ft_sender_start s "$RATE"

: >"$MT_TMP/samples"
end=$((SECONDS + SOAK))
while [ "$SECONDS" -lt "$end" ]; do
	sleep 10
	kill -0 "$DPID" 2>/dev/null || fail "mirror-targetd died during the soak"
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DPID/status")
	fds=$(find "/proc/$DPID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	printf '%s %s %s\n' "$SECONDS" "$rss" "$fds" >>"$MT_TMP/samples"
done
if [ -n "$GEN" ]; then
	wait "$GEN" || ft_check 1 "mirror-loadgen failed"
fi
ft_wind_down
ft_check "$DRC" "exit status after SIGTERM: $DRC"
VD=$(($(link_drops) - V0))
# Frames XDP redirected that a socket then dropped (its ring was full).
SD=$(($(ft_json "$MT_TMP/final.json" 'sockets.*.rx_ring_full') + \
	$(ft_json "$MT_TMP/final.json" 'sockets.*.rx_dropped')))
LOAD_NOTE="no generator load"
if [ -n "$GEN" ]; then
	LSENT=$(ft_json "$MT_TMP/load.json" frames_sent)
	read -r U0 U1 < <(echo "$(ft_json "$MT_TMP/before.json" filter.unmatched)" \
		"$(ft_json "$MT_TMP/final.json" filter.unmatched)")
	# Not none: on this VM a worker is now and then held up for 10-40 ms
	# (single writes into tmpfs, poll() waking late; measured with the
	# live benchmark), and at half of the ~1.5 Mpps saturation the rings
	# of 8192 hold 11 ms.  Runs dropped 0, 0.005 % and 0.008 % (with rings
	# of 16384 0.011 %); a worker that could not keep up at half of
	# saturation drops whole percents.
	[ $((SD * 1000)) -le "$LSENT" ] ||
		ft_check 1 "the sockets dropped $SD of $LSENT load frames (rx_ring_full + rx_dropped), more than 1 in 1,000"
	# Every frame the generator sent is unmatched, a link or a socket drop.
	[ $((U1 - U0 + VD + SD)) -ge "$LSENT" ] ||
		ft_check 1 "the generator sent $LSENT frames: unmatched +$((U1 - U0)), link drops $VD, socket drops $SD"
	LOAD_NOTE="load $LSENT frames at $PPS/s (half of saturation): unmatched +$((U1 - U0)), dropped by the veth link before XDP $VD, socket drops $SD"
fi

read -r FLAT RSS0 RSS1 FD0 FD1 < <("$MT_PYTHON" - "$MT_TMP/samples" <<'PY'
import sys
s = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
s = s[len(s) // 5:] or s
k = max(1, len(s) // 3)
a, b = s[:k], s[-k:]
avg = lambda v: sum(v) / len(v)
r0, r1 = avg([x[1] for x in a]), avg([x[1] for x in b])
f0, f1 = avg([x[2] for x in a]), avg([x[2] for x in b])
flat = int(r1 - r0 <= 4096 and abs(f1 - f0) <= 8 and max(x[2] for x in s) - min(x[2] for x in s) <= 16)
print(flat, int(r0), int(r1), int(f0), int(f1))
PY
)
[ "$FLAT" = 1 ] || ft_check 1 "not flat: VmRSS $RSS0 -> $RSS1 kB, fds $FD0 -> $FD1"
read -r RED FR DEC ACC REJ UNM WR DROPS < <(ft_json "$MT_TMP/final.json" \
	xdp.redirected totals.frames totals.decap_ok filter.accepted filter.rejected \
	filter.unmatched writer.records writer.dropped_disk_full | xargs)
DROPS=$(ft_writer_drops "$MT_TMP/final.json")
[ "$RED" = "$((FR + SD))" ] || ft_check 1 "XDP redirected $RED != frames received $FR + socket drops $SD"
[ "$FR" = "$DEC" ] || ft_check 1 "frames $FR != decapsulated $DEC"
[ "$DEC" = "$((ACC + REJ + UNM))" ] || ft_check 1 "decapsulated $DEC != accepted $ACC + rejected $REJ + unmatched $UNM"
[ "$ACC" = "$((WR + DROPS))" ] || ft_check 1 "accepted $ACC != written $WR + writer drops $DROPS"
# Numbers that never reached the target are among the link's or the
# sockets' drops.
MISS=$((SENT > ACC ? SENT - ACC : 0))
[ "$MISS" -le $((VD + SD)) ] ||
	ft_check 1 "accepted $ACC < sent $SENT by more than the link ($VD) and the sockets ($SD) dropped"
DROPS=$((DROPS + MISS))
ft_read_segments "$MT_TMP/got" "$OUT"
ft_account "$SENT" "$MT_TMP/got" "$DROPS"
ft_note "$LOAD_NOTE"
ft_note "$SOAK s at $RATE/s: VmRSS $RSS0 -> $RSS1 kB, fds $FD0 -> $FD1 (first vs last third after warm-up); redirected $RED = socket drops $SD + decapsulated $DEC = accepted $ACC + unmatched $UNM; written $WR"
ft_result "$SENT" "$FT_CAPTURED" "$DROPS" "$FT_LOST" "$FT_DUPS" "$FT_CORRUPT"
ft_finish
