#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The built-in lab: mirror-target's main job on a simulated mirror source,
# on one machine, no AWS account needed.  As root on Debian 12:
#
#   tools/lab.sh [--packets N] [--duration S] [--keep] [--no-build]
#
# It installs the packages (tools/setup.sh), builds (build/), and creates
# two network namespaces joined by a veth pair: "src" plays the mirrored
# ENI -- the kernel's own vxlan device wraps its traffic in VXLAN (VNI 42)
# to UDP 4789 just as AWS Traffic Mirroring does, its outer address
# 198.18.0.1 being the ENI's primary address -- and "tgt" plays the mirror
# target, where tcpdump records the raw VXLAN.  While src sends TCP, UDP
# and ICMP over IPv4 and IPv6 for a few seconds, the capture grows; then
# `mirror-targetd --read` decapsulates it, applies the example filter
# tests/e2e/data/lab-rules.conf and writes rotating pcap segments.  The
# namespaces are removed on exit, whatever happens.

cd "$(dirname "$0")/.."
# Where to build; lib.sh would default to the same.
MT_BUILD_DIR=${MT_BUILD_DIR:-$PWD/build}
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
. tests/e2e/lib.sh

# Not a test: a missing feature is an error to explain, not a skip.
skip() { fail "$*"; }

usage() {
	cat <<'EOF'
Usage: tools/lab.sh [OPTIONS]

Runs mirror-target on a simulated mirror source in two network namespaces:
VXLAN from the kernel's own vxlan device, captured with tcpdump, processed
by `mirror-targetd --read` with the example rules tests/e2e/data/lab-rules.conf.
Needs root (network namespaces); installs packages and builds first.

Options:
  --packets N    packets of each kind to send (default 20); kinds are TCP
                 SYN to 443, DNS query, ping -- each over IPv4 and IPv6
  --duration S   spread them over S seconds (default 3)
  --keep         keep the capture, config and segments (path printed)
  --no-build     skip tools/setup.sh and the build; use the build as it is
  -h, --help     show this help

Environment:
  MT_BUILD_DIR   build directory (default build/)
EOF
}

PACKETS=20
DURATION=3
BUILD=1
while [ $# -gt 0 ]; do
	case $1 in
	--packets)
		if [ $# -lt 2 ] || ! [[ $2 =~ ^[1-9][0-9]{0,5}$ ]]; then
			echo "lab: --packets needs a number from 1 to 999999" >&2
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

[ "$(id -u)" = 0 ] || { echo "lab: run as root (it creates network namespaces)" >&2; exit 2; }

banner() { printf '\n==== %s\n' "$*"; }

cat <<'EOF'
mirror-target lab
  The live capture path (XDP + AF_XDP on a NIC) is not part of the lab yet;
  it arrives with the live-path work.  The lab runs the offline pipeline:
  kernel VXLAN -> tcpdump -> mirror-targetd --read -> pcap segments.
EOF

if [ "$BUILD" = 1 ]; then
	banner "installing packages (tools/setup.sh)"
	tools/setup.sh
	banner "building ($MT_BUILD_DIR)"
	cmake -S . -B "$MT_BUILD_DIR" >/dev/null
	cmake --build "$MT_BUILD_DIR" -j"$(nproc)"
fi
DAEMON=$(mt_bin mirror-targetd)
mt_require_cmd tcpdump tshark ip bridge
mt_require_python
mt_require_netns_vxlan

banner "mirror source: namespace $MT_NS_PREFIX-src, VXLAN VNI $MT_VNI to $MT_OUTER_TGT:4789"
mt_topology_create
ip -n "$NS_SRC" -br addr show dev vx0
ip -n "$NS_SRC" -br addr show dev veth-src

RAW=$MT_TMP/raw-vxlan.pcap
mt_capture_start "$RAW"
echo "tcpdump -i veth-tgt 'udp dst port 4789' running in $MT_NS_PREFIX-tgt"
echo "sending $PACKETS packets of each kind over ${DURATION}s ..."
mt_send_inner "$PACKETS" "$DURATION" >"$MT_TMP/sent.txt"
mt_capture_stop "$RAW" "$((6 * PACKETS))"
printf '%-6s %-6s %-12s -> %-12s %-5s %s\n' kind proto source destination port/type sent
while read -r kind proto src dst port n; do
	printf '%-6s %-6s %-12s -> %-12s %-9s %s\n' "$kind" "$proto" "$src" "$dst" "$port" "$n"
done <"$MT_TMP/sent.txt"
echo "raw capture: $(mt_pcap_count "$RAW") VXLAN frames in $RAW"

# The session lists the source's inner addresses, so its packets count as
# egress (on AWS the outer source is the ENI's own address, and a
# session's extra addresses cover secondary IPs and IPv6).
CONF=$MT_TMP/lab.conf
cat >"$CONF" <<EOF
# mirror-target lab configuration
[output]
rotate_size = 4K

[session lab-source]
vni = $MT_VNI
addresses = $MT_INNER4_SRC, $MT_INNER6_SRC
EOF
RULES=$MT_SOURCE_DIR/tests/e2e/data/lab-rules.conf
OUT=$MT_TMP/segments

banner "the filter ($RULES)"
grep -v '^#' "$RULES" | sed '/^$/d'

banner "mirror-targetd --read $RAW --output-dir $OUT --config $CONF --rules ..."
"$DAEMON" --read "$RAW" --output-dir "$OUT" --config "$CONF" --rules "$RULES"

banner "sealed segments"
ls -l "$OUT"
mapfile -t SEGS < <(mt_segments "$OUT")
if [ "${#SEGS[@]}" -gt 0 ]; then
	banner "tshark -r ${SEGS[0]} (first lines)"
	tshark -r "${SEGS[0]}" 2>/dev/null | head -n 12
fi

if [ "$MT_KEEP_TMP" = 1 ]; then
	banner "kept: $MT_TMP (raw capture, config, segments/)"
else
	banner "done (run with --keep to keep the files)"
fi
