#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The built-in lab: mirror-target's main job on a simulated mirror source,
# on one machine, no AWS account needed.  As root on Debian 12:
#
#   tools/lab.sh [--packets N] [--duration S] [--keep] [--no-build] [--offline]
#
# It installs the packages (tools/setup.sh), builds (build/), and creates
# two network namespaces joined by a veth pair with 4 queues: "src" plays
# the mirrored ENI -- the kernel's own vxlan device wraps its traffic in
# VXLAN (VNI 42) to UDP 4789 just as AWS Traffic Mirroring does, its outer
# address 198.18.0.1 being the ENI's primary address -- and "tgt" plays the
# mirror target, where `mirror-targetd -i veth-tgt` captures with XDP and
# one AF_XDP socket + worker per queue, applies the example filter
# tests/e2e/data/lab-rules.conf and writes rotating pcap segments.  While
# it runs, src sends TCP, UDP and ICMP over IPv4 and IPv6 and a few
# ordinary pings to the target's own address; then SIGTERM stops the
# daemon, and its counters, the segments and tshark's view of them are
# shown.  The last line compares what was sent with what was captured.
#
# --offline records the raw VXLAN with tcpdump instead and feeds the file
# to `mirror-targetd --read` (no XDP needed).  The namespaces are removed
# on exit, whatever happens (Ctrl-C included).

cd "$(dirname "$0")/.." || exit 2
# Where to build; lib.sh would default to the same.
MT_BUILD_DIR=${MT_BUILD_DIR:-$PWD/build}
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
. tests/e2e/lib.sh

# Not a test: a missing feature is an error to explain, not a skip.
skip() { fail "$*"; }

usage() {
	cat <<'EOF'
Usage: tools/lab.sh [OPTIONS]

Runs mirror-target live on a simulated mirror source: two network namespaces,
the kernel's own vxlan device sending mirrored traffic (VNI 42) over a 4-queue
veth pair to `mirror-targetd -i veth-tgt` (XDP + AF_XDP), which filters it with
the example rules tests/e2e/data/lab-rules.conf and writes pcap segments.
Needs root (network namespaces); installs packages and builds first.

Options:
  --packets N    packets of each kind to send (default 20); kinds are TCP
                 SYN to 443, DNS query, ping and ping reply, each over IPv4
                 and IPv6 (8 kinds)
  --duration S   spread them over S seconds (default 3)
  --keep         keep the config, daemon log and segments (path printed)
  --no-build     skip tools/setup.sh and the build; use the build as it is
  --offline      no XDP: record the raw VXLAN with tcpdump, then run
                 `mirror-targetd --read` on the recording
  -h, --help     show this help

Environment:
  MT_BUILD_DIR   build directory (default build/)

Exit status: 0 when every packet sent is in the sealed segments.
EOF
}

PACKETS=20
DURATION=3
BUILD=1
OFFLINE=0
while [ $# -gt 0 ]; do
	case $1 in
	--packets)
		if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]{0,4}$ ]]; then
			echo "lab: --packets needs a number from 1 to 99999" >&2
			exit 2
		fi
		PACKETS=$2
		shift
		;;
	--duration)
		if [ $# -lt 2 ] || ! [[ $2 =~ ^[0-9]{1,3}$ ]]; then
			echo "lab: --duration needs whole seconds (0-999)" >&2
			exit 2
		fi
		DURATION=$2
		shift
		;;
	--keep) MT_KEEP_TMP=1 ;;
	--no-build) BUILD=0 ;;
	--offline) OFFLINE=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "lab: unknown option '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

[ "$(id -u)" = 0 ] || {
	echo "lab: run as root (it creates network namespaces and attaches XDP)" >&2
	exit 2
}

QUEUES=4
KINDS=8

section() {
	printf '\n==== %s\n' "$1"
	shift
	[ $# -eq 0 ] || printf '%s\n' "$@" | fold -s -w 78 | sed 's/^/  /'
}
indent() { sed 's/^/    /'; }

if [ "$OFFLINE" = 1 ]; then
	echo "mirror-target lab (offline: tcpdump -> mirror-targetd --read)"
else
	echo "mirror-target lab (live: XDP + AF_XDP on a veth pair)"
fi

if [ "$BUILD" = 1 ]; then
	section "1. Installing packages (tools/setup.sh)"
	tools/setup.sh
	section "   Building: cmake -S . -B $MT_BUILD_DIR && cmake --build $MT_BUILD_DIR" \
		"(a minute or two the first time)"
	if ! { cmake -S . -B "$MT_BUILD_DIR" && cmake --build "$MT_BUILD_DIR" -j"$(nproc)"; } \
		>"$MT_TMP/build.log" 2>&1; then
		tail -n 40 "$MT_TMP/build.log" | indent >&2
		fail "the build failed (last lines above)"
	fi
	echo "  built $MT_BUILD_DIR/daemon/mirror-targetd"
fi
DAEMON=$(mt_bin mirror-targetd)
mt_require_cmd tshark ip bridge
[ "$OFFLINE" = 0 ] || mt_require_cmd tcpdump
mt_require_python
mt_require_netns_vxlan

# send_traffic COUNT DURATION: from NS_SRC, COUNT packets of each of the 8
# kinds through vx0, spread over DURATION seconds: TCP SYNs, DNS queries
# and pings from the source (egress), and ping replies to it (ingress).
# Prints "kind proto src dst port/type count" (mt_send_inner, lib.sh).
send_traffic() {
	mt_send_inner "$1" "$2" 1
}

# The daemon's log without libbpf's chatter (all in $MT_TMP/daemon.log).
show_log() { grep -v 'info: libbpf:' "$1" | indent || true; }

# ---- the network --------------------------------------------------------------

section "2. The network: a mirror source and a mirror target" \
	"Namespace $MT_NS_PREFIX-src plays the mirrored ENI: its vxlan device vx0 wraps every frame it sends in VXLAN (VNI $MT_VNI) to $MT_OUTER_TGT:4789, like AWS Traffic Mirroring; the outer source $MT_OUTER_SRC is the ENI's primary address.  Namespace $MT_NS_PREFIX-tgt plays the mirror target, joined by a veth pair with $QUEUES queues."
# A multi-queue veth pair, so that several AF_XDP sockets and workers have
# something to do.
mt_topology_create $QUEUES
{
	echo "src: $(ip -n "$NS_SRC" -br addr show dev vx0)"
	echo "src: $(ip -n "$NS_SRC" -br addr show dev veth-src)"
	echo "tgt: $(ip -n "$NS_TGT" -br addr show dev veth-tgt)"
} | tr -s ' ' | indent

RULES=$MT_SOURCE_DIR/tests/e2e/data/lab-rules.conf
CONF=$MT_TMP/lab.conf
OUT=$MT_TMP/segments
# The session lists the source's inner addresses: its packets are egress,
# packets to it ingress (on AWS the outer source is the ENI's own address;
# a session's addresses cover secondary IPs and IPv6).
cat >"$CONF" <<EOF
# mirror-target lab configuration
[output]
rotate_size = 8K

[session lab-source]
vni = $MT_VNI
addresses = $MT_INNER4_SRC, $MT_INNER6_SRC
EOF

section "3. The configuration ($CONF) and the filter ($RULES)"
indent <"$CONF"
echo
grep -Ev '^ *(#|$)' "$RULES" | indent

SENT_TXT=$MT_TMP/sent.txt
if [ "$OFFLINE" = 0 ]; then
	CMD=("$DAEMON" -i veth-tgt --config "$CONF" --rules "$RULES"
		--allow-source "$MT_OUTER_SRC/32" --vni "$MT_VNI" --output-dir "$OUT")
	section "4. Starting the daemon in $MT_NS_PREFIX-tgt" \
		"It attaches an XDP program to veth-tgt that sends VXLAN from $MT_OUTER_SRC with VNI $MT_VNI to one AF_XDP socket per queue (anything else VXLAN is dropped and counted; all other traffic goes on to the kernel)."
	echo "  \$ mirror-targetd ${CMD[*]:1}"
	mt_daemon_spawn "$MT_TMP/summary.txt" "$MT_TMP/daemon.log" "${CMD[@]}"
	RC=0
	mt_daemon_wait "$MT_TMP/daemon.log" || RC=$?
	if [ "$RC" = 1 ]; then
		indent <"$MT_TMP/daemon.log" >&2
		grep -Eq 'cannot attach the XDP program|cannot bind an AF_XDP socket' \
			"$MT_TMP/daemon.log" &&
			fail "this kernel cannot run XDP + AF_XDP on veth (see above); try tools/lab.sh --offline"
		fail "mirror-targetd did not start (see above)"
	fi
	[ "$RC" = 0 ] || fail "mirror-targetd did not report capturing within 10 s"
	show_log "$MT_TMP/daemon.log"
	LOG_LINES=$(wc -l <"$MT_TMP/daemon.log")

	section "5. Sending mirrored traffic through vx0" \
		"$PACKETS packets of each kind over ${DURATION}s: TCP SYN to 443, DNS query and ping from the source (egress), ping replies to it (ingress), over IPv4 and IPv6."
	send_traffic "$PACKETS" "$DURATION" >"$SENT_TXT"

	section "   Ordinary traffic to the target's own address still works" \
		"ping $MT_OUTER_TGT from the source (not VXLAN: XDP passes it to the kernel)"
	# The kernel's own traffic: the XDP program passes it on untouched.
	mt_ping_target 3 | indent || fail "pings to $MT_OUTER_TGT failed while the XDP program is attached"
	# Let the workers write what is still in the rings.
	sleep 1

	section "6. Stopping the daemon (SIGTERM): it seals the open segment, detaches XDP and prints its counters"
	mt_daemon_stop
	show_log <(tail -n +"$((LOG_LINES + 1))" "$MT_TMP/daemon.log")
	echo
	indent <"$MT_TMP/summary.txt"
	[ "$DRC" = 0 ] || fail "mirror-targetd exited $DRC after SIGTERM (log: $MT_TMP/daemon.log)"
	ip -n "$NS_TGT" link show veth-tgt | grep -q 'prog/xdp' &&
		fail "the XDP program is still attached to veth-tgt after SIGTERM"
else
	RAW=$MT_TMP/raw-vxlan.pcap
	section "4. Recording the raw VXLAN in $MT_NS_PREFIX-tgt"
	echo "  \$ tcpdump -i veth-tgt -w $RAW 'udp dst port 4789'"
	mt_capture_start "$RAW"

	section "5. Sending mirrored traffic through vx0" \
		"$PACKETS packets of each kind over ${DURATION}s: TCP SYN to 443, DNS query and ping from the source (egress), ping replies to it (ingress), over IPv4 and IPv6."
	send_traffic "$PACKETS" "$DURATION" >"$SENT_TXT"
	mt_capture_stop "$RAW" "$((KINDS * PACKETS))"
	echo "  raw recording: $(mt_pcap_count "$RAW") VXLAN frames"

	CMD=("$DAEMON" --read "$RAW" --config "$CONF" --rules "$RULES" --output-dir "$OUT")
	section "6. Processing the recording"
	echo "  \$ mirror-targetd ${CMD[*]:1}"
	if "${CMD[@]}" >"$MT_TMP/summary.txt" 2>"$MT_TMP/daemon.log"; then DRC=0; else DRC=$?; fi
	show_log "$MT_TMP/daemon.log"
	indent <"$MT_TMP/summary.txt"
	[ "$DRC" = 0 ] || fail "mirror-targetd --read exited $DRC (log: $MT_TMP/daemon.log)"
fi

# ---- what is in the segments --------------------------------------------------

section "7. The sealed segments ($OUT)" \
	"A segment is written as a hidden .NAME.part file and renamed when sealed (here at 8 KiB, [output] rotate_size)."
mapfile -t SEGS < <(mt_segments "$OUT")
[ "${#SEGS[@]}" -gt 0 ] || fail "no sealed segment in $OUT"
# shellcheck disable=SC2012 # shown to the user as ls shows it
ls -l "$OUT" | indent
[ -z "$(find "$OUT" -name '*.part')" ] || fail "an unsealed .part file is left in $OUT"

section "   tshark -r $(basename "${SEGS[0]}") (first lines)" \
	"Each record carries its packet's arrival time; with several queues the workers append side by side, so neighbouring records can be slightly out of time order."
mt_tshark -r "${SEGS[0]}" -c 12 | indent

# Per kind, what was sent against what tshark finds in the segments.
mt_pcap_fields "${SEGS[@]}" >"$MT_TMP/fields.txt"
section "   Sent vs captured, per kind (tshark)"
printf '%-6s %-7s %-12s    %-12s %-5s %-8s %6s %9s\n' kind proto source destination port direction sent captured | indent
SENT=0
GOT=0
while read -r kind proto src dst port n; do
	case $kind in
	pong*) dir=ingress ;;
	*) dir=egress ;;
	esac
	c=$(mt_kind_count "$MT_TMP/fields.txt" "$proto" "$src" "$dst" "$port")
	printf '%-6s %-7s %-12s -> %-12s %-5s %-8s %6s %9s\n' \
		"$kind" "$proto" "$src" "$dst" "$port" "$dir" "$n" "$c" | indent
	SENT=$((SENT + n))
	GOT=$((GOT + c))
done <"$SENT_TXT"
ALL=0
for f in "${SEGS[@]}"; do ALL=$((ALL + $(mt_pcap_count "$f"))); done
[ "$ALL" = "$GOT" ] ||
	echo "  (besides: $((ALL - GOT)) packets the source's kernel sent on its own, e.g. IPv6 MLD reports)"

if [ "$MT_KEEP_TMP" = 1 ]; then
	section "Kept: $MT_TMP" "lab.conf, daemon.log, summary.txt, sent.txt and segments/; remove it when done."
fi
echo
echo "sent $SENT mirrored packets, $GOT in sealed segments"
[ "$SENT" = "$GOT" ] || exit 1
