# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Shared helpers for the end-to-end tests and tools/lab.sh.  Source it:
#
#   . "$(dirname "$0")/lib.sh"
#
# It sets `set -euo pipefail`, creates a private temporary directory
# ($MT_TMP), and installs a trap that on EXIT, INT and TERM stops every
# process it started, deletes every network namespace it created (names
# mt-e2e-PID-*, unique per run) and removes $MT_TMP -- also when the test
# fails half-way.  Exit status 77 means "skipped" (ctest SKIP_RETURN_CODE):
# not root, or the kernel lacks netns, veth or vxlan, or a tool is missing.
#
# Addresses: underlay (outer) 198.18.0.0/15 only; inner hosts 192.0.2.0/24
# and 2001:db8::/32 only.  Nothing here sends to any other address.

set -euo pipefail

MT_E2E_NAME=$(basename "${0%.sh}")
MT_SOURCE_DIR=${MT_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MT_BUILD_DIR=${MT_BUILD_DIR:-$MT_SOURCE_DIR/build}
# shellcheck disable=SC2034 # for the scripts that source this file
MT_E2E_DATA=$MT_SOURCE_DIR/tests/e2e/data
MT_NS_PREFIX="mt-e2e-$$"
# Debian's scapy lives with the system interpreter, not a pyenv one.
MT_PYTHON=${MT_PYTHON:-/usr/bin/python3}

# Topology of mt_topology_create (fixed so rules and checks can name them).
MT_OUTER_SRC=198.18.0.1
MT_OUTER_TGT=198.18.0.2
MT_VNI=42
MT_INNER4_SRC=192.0.2.1
MT_INNER4_DST=192.0.2.2
MT_INNER6_SRC=2001:db8::1
MT_INNER6_DST=2001:db8::2
# The inner peer never answers (nothing decapsulates on the target side),
# so its MAC is a static neighbour entry: no ARP / ND is ever needed.
MT_INNER_PEER_MAC=02:00:5e:00:53:02

MT_NAMESPACES=()
MT_PIDS=()
# Commands mt_cleanup runs last (eval), e.g. to put back a setting.
MT_ON_EXIT=()
MT_SHM_WORK=
MT_TGT_MAC=
MT_TMP=
MT_KEEP_TMP=${MT_KEEP_TMP:-0}

log() { printf '%s: %s\n' "$MT_E2E_NAME" "$*" >&2; }
skip() {
	printf '%s: SKIP: %s\n' "$MT_E2E_NAME" "$*" >&2
	exit 77
}
fail() {
	printf '%s: FAIL: %s\n' "$MT_E2E_NAME" "$*" >&2
	exit 1
}

mt_cleanup() {
	local rc=$? pid ns cmd
	trap - EXIT INT TERM
	set +e
	for pid in "${MT_PIDS[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	for ns in "${MT_NAMESPACES[@]}"; do
		# Anything still running inside keeps the namespace alive.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	[ -z "$MT_SHM_WORK" ] || rm -rf "$MT_SHM_WORK"
	for cmd in "${MT_ON_EXIT[@]}"; do
		eval "$cmd"
	done
	if [ -n "$MT_TMP" ] && [ -d "$MT_TMP" ]; then
		if [ "$MT_KEEP_TMP" = 1 ]; then
			log "kept $MT_TMP"
		else
			rm -rf "$MT_TMP"
		fi
	fi
	exit "$rc"
}
trap mt_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

MT_TMP=$(mktemp -d "/tmp/mt-e2e-${MT_E2E_NAME}-XXXXXX")

# A run killed with SIGKILL (a ctest timeout) cannot clean up: remove the
# namespaces of earlier runs whose shell is gone.
mt_reap_stale_netns() {
	local ns pid
	[ "$(id -u)" = 0 ] || return 0
	command -v ip >/dev/null 2>&1 || return 0
	for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^mt-e2e-[0-9]+-/ { print $1 }'); do
		pid=${ns#mt-e2e-}
		pid=${pid%%-*}
		if [ "$pid" != "$$" ] && ! kill -0 "$pid" 2>/dev/null; then
			log "removing stale namespace $ns"
			mt_netns_delete "$ns"
		fi
	done
}

# ---- requirements -----------------------------------------------------------

mt_require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 ||
			skip "$c is not installed (tools/setup.sh installs it)"
	done
}

mt_require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
}

mt_require_python() {
	[ -x "$MT_PYTHON" ] || skip "$MT_PYTHON is missing (apt-get install python3)"
}

# Probes netns, veth and vxlan by building a throw-away pair of namespaces.
mt_require_netns_vxlan() {
	local a b
	mt_require_root
	mt_require_cmd ip
	mt_reap_stale_netns
	mt_netns_create a probe-a || skip "cannot create a network namespace"
	mt_netns_create b probe-b || skip "cannot create a network namespace"
	ip link add mtp0 netns "$a" type veth peer name mtp1 netns "$b" 2>/dev/null ||
		skip "the kernel has no veth support"
	ip -n "$a" link add mtvx0 type vxlan id 1 remote 198.18.0.2 \
		dstport 4789 dev mtp0 2>/dev/null ||
		skip "the kernel has no vxlan support"
	mt_netns_delete "$a"
	mt_netns_delete "$b"
}

# ---- binaries ---------------------------------------------------------------

# Path of a built program; a missing one is a build problem, not a skip.
# mt_shm_workdir NAME: WORK = a fresh directory on tmpfs (/dev/shm), removed
# at exit like the rest; for the benchmarks, which do not measure the disk.
mt_shm_workdir() {
	WORK=$(mktemp -d "/dev/shm/mt-$1-XXXXXX")
	MT_SHM_WORK=$WORK
}

mt_bin() {
	local p
	case $1 in
	mirror-targetd) p=$MT_BUILD_DIR/daemon/mirror-targetd ;;
	mirrorctl) p=$MT_BUILD_DIR/tools/mirrorctl ;;
	mirror-loadgen) p=$MT_BUILD_DIR/tools/mirror-loadgen ;;
	*) p=$MT_BUILD_DIR/$1 ;;
	esac
	[ -x "$p" ] || fail "$p not found: build first (cmake --build $MT_BUILD_DIR) or set MT_BUILD_DIR"
	printf '%s\n' "$p"
}

# ---- assertions -------------------------------------------------------------

# mt_run NAME CMD...: runs CMD with stdout/stderr in $MT_TMP/NAME.{out,err};
# the exit status lands in MT_RC (never aborts the script).
MT_RC=0
mt_run() {
	local name=$1
	shift
	if "$@" >"$MT_TMP/$name.out" 2>"$MT_TMP/$name.err"; then
		MT_RC=0
	else
		MT_RC=$?
	fi
}

# mt_expect_rc WANT NAME CMD...: mt_run, then fail (showing the output)
# unless the exit status is WANT.
mt_expect_rc() {
	local want=$1 name=$2
	shift 2
	mt_run "$name" "$@"
	if [ "$MT_RC" != "$want" ]; then
		log "stdout of '$*':"
		sed 's/^/    /' "$MT_TMP/$name.out" >&2
		log "stderr:"
		sed 's/^/    /' "$MT_TMP/$name.err" >&2
		fail "'$*' exited $MT_RC, expected $want"
	fi
}

# mt_assert_grep FILE ERE [WHAT]: FILE must contain a line matching ERE.
mt_assert_grep() {
	local file=$1 re=$2 what=${3:-}
	grep -Eq -- "$re" "$file" && return 0
	log "$file:"
	sed 's/^/    /' "$file" >&2
	fail "${what:-$file} does not match /$re/"
}

mt_assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: got '$1', expected '$2'"
}

# ---- namespaces and the lab topology ----------------------------------------

# mt_netns_create VAR NAME: creates namespace mt-e2e-PID-NAME, registers it
# for cleanup and stores its name in VAR.
mt_netns_create() {
	local ns="$MT_NS_PREFIX-$2"
	ip netns add "$ns" 2>/dev/null || return 1
	MT_NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	printf -v "$1" '%s' "$ns"
}

mt_netns_delete() {
	local pid
	for pid in $(ip netns pids "$1" 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null || true
	done
	ip netns del "$1" 2>/dev/null || true
}

# The mirror source and the mirror target:
#
#   NS_SRC: vx0 (vxlan VNI 42, 192.0.2.1/24, 2001:db8::1/64)
#           veth-src 198.18.0.1/24  ----  veth-tgt 198.18.0.2/24 :NS_TGT
#
# The kernel's own vxlan device on the source side encapsulates whatever is
# sent to the inner peer 192.0.2.2 / 2001:db8::2 (static neighbours) into
# UDP 198.18.0.1 -> 198.18.0.2:4789, exactly the shape AWS mirrors in.
#
# mt_topology_create [QUEUES [MTU]]: QUEUES rx/tx queues on each end of the
# veth pair (the kernel's default when empty), so that several AF_XDP
# sockets and workers have something to do; MTU on the veth pair, with vx0
# 50 bytes less (the VXLAN overhead over an IPv4 underlay).
# shellcheck disable=SC2120 # both arguments are optional
mt_topology_create() {
	local queues=${1:-} mtu=${2:-} qargs=() vxmtu=()
	mt_netns_create NS_SRC src || fail "cannot create namespace $MT_NS_PREFIX-src"
	mt_netns_create NS_TGT tgt || fail "cannot create namespace $MT_NS_PREFIX-tgt"

	[ -z "$queues" ] || qargs=(numtxqueues "$queues" numrxqueues "$queues")
	ip link add veth-src netns "$NS_SRC" "${qargs[@]}" type veth \
		peer name veth-tgt netns "$NS_TGT" "${qargs[@]}"
	if [ -n "$mtu" ]; then
		ip -n "$NS_SRC" link set veth-src mtu "$mtu"
		ip -n "$NS_TGT" link set veth-tgt mtu "$mtu"
		vxmtu=(mtu "$((mtu - 50))")
	fi
	ip -n "$NS_SRC" addr add "$MT_OUTER_SRC/24" dev veth-src
	ip -n "$NS_TGT" addr add "$MT_OUTER_TGT/24" dev veth-tgt
	ip -n "$NS_SRC" link set veth-src up
	ip -n "$NS_TGT" link set veth-tgt up

	ip -n "$NS_SRC" link add vx0 type vxlan id "$MT_VNI" \
		remote "$MT_OUTER_TGT" local "$MT_OUTER_SRC" dstport 4789 dev veth-src
	# No link-local address: fewer router solicitations and MLD reports
	# of the kernel's own among the packets under test.
	ip -n "$NS_SRC" link set vx0 "${vxmtu[@]}" addrgenmode none
	ip -n "$NS_SRC" addr add "$MT_INNER4_SRC/24" dev vx0
	ip -n "$NS_SRC" addr add "$MT_INNER6_SRC/64" dev vx0 nodad
	ip -n "$NS_SRC" link set vx0 up
	ip -n "$NS_SRC" neigh replace "$MT_INNER4_DST" lladdr "$MT_INNER_PEER_MAC" \
		dev vx0 nud permanent
	ip -n "$NS_SRC" -6 neigh replace "$MT_INNER6_DST" lladdr "$MT_INNER_PEER_MAC" \
		dev vx0 nud permanent
	# `remote` already installs the all-zeros default fdb entry; appending
	# another one to the same destination would send every frame twice.
	bridge -n "$NS_SRC" fdb show dev vx0 | grep -q "00:00:00:00:00:00 dst $MT_OUTER_TGT" ||
		fail "vx0 has no default fdb entry to $MT_OUTER_TGT"
	# For frames built by hand (mirror-loadgen, scapy) aimed at the target.
	MT_TGT_MAC=$(ip -n "$NS_TGT" -br link show veth-tgt | awk '{ print $3 }')
}

# mt_topology_generator_only: after mt_topology_create, for mirror-loadgen
# as the only source of VXLAN: no kernel vxlan device, no IPv6 chatter.
mt_topology_generator_only() {
	local ns
	ip -n "$NS_SRC" link del vx0
	for ns in "$NS_SRC" "$NS_TGT"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
}

# mt_link_tx_dropped NS IFACE: frames the interface's transmit dropped.  A
# veth drops there what does not fit its peer's receive queue, before any
# XDP program or socket on the peer sees it: a NIC's rx_missed.
mt_link_tx_dropped() {
	ip -n "$1" -s -j link show "$2" |
		"$MT_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])'
}

# ---- the daemon in the target namespace ---------------------------------------

# mt_daemon_spawn OUT ERR CMD...: starts CMD (mirror-targetd and its
# arguments) in NS_TGT in the background, stdout to OUT and stderr to ERR,
# registers it for cleanup and sets DPID.  bpffs is mounted in the
# command's own mount namespace: `ip netns exec` remounts /sys, hiding the
# host's /sys/fs/bpf.
DPID=
mt_daemon_spawn() {
	local out=$1 err=$2
	shift 2
	ip netns exec "$NS_TGT" sh -c 'mount -t bpf bpf /sys/fs/bpf 2>/dev/null; exec "$@"' \
		sh "$@" >"$out" 2>"$err" &
	DPID=$!
	MT_PIDS+=("$DPID")
}

# mt_daemon_wait ERR [SOCK]: waits up to 10 s until the log ERR says it is
# capturing (and the control socket SOCK, if given, exists).  Returns 0
# then, 1 when the daemon exited first, 2 when the time ran out.
mt_daemon_wait() {
	local err=$1 sock=${2:-} i
	for ((i = 0; i < 100; i++)); do
		{ [ -z "$sock" ] || [ -S "$sock" ]; } &&
			grep -q 'capturing VXLAN' "$err" && return 0
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 2
}

# mt_daemon_start NAME [--socket SOCK] CMD...: mt_daemon_spawn with output
# in $MT_TMP/NAME.out and $MT_TMP/NAME.err, then mt_daemon_wait.  A daemon
# that exits because the kernel cannot run XDP + AF_XDP on veth is a skip,
# any other exit a failure (its log shown).  With SOCK, the control socket
# is what the test needs, so only a missing socket fails after 10 s.
mt_daemon_start() {
	local name=$1 sock='' rc=0
	shift
	if [ "${1:-}" = --socket ]; then
		sock=$2
		shift 2
	fi
	mt_daemon_spawn "$MT_TMP/$name.out" "$MT_TMP/$name.err" "$@"
	mt_daemon_wait "$MT_TMP/$name.err" "$sock" || rc=$?
	case $rc in
	0) ;;
	1)
		sed 's/^/    /' "$MT_TMP/$name.err" >&2
		if grep -Eq 'cannot attach the XDP program|cannot bind an AF_XDP socket' \
			"$MT_TMP/$name.err"; then
			skip "this kernel cannot run XDP + AF_XDP on veth (see above)"
		fi
		fail "mirror-targetd did not start"
		;;
	*)
		[ -n "$sock" ] || fail "mirror-targetd did not report capturing within 10 s"
		[ -S "$sock" ] || fail "no control socket at $sock"
		;;
	esac
}

# mt_daemon_stop [SIGNAL]: signals the daemon (TERM by default) and waits
# for it; its exit status lands in DRC.
# shellcheck disable=SC2034 # read by the scripts that source this file
DRC=0
# shellcheck disable=SC2120 # the signal is optional
mt_daemon_stop() {
	kill -"${1:-TERM}" "$DPID"
	# (braces: no "Killed" job notice from bash)
	# shellcheck disable=SC2034 # read by the scripts that source this file
	if { wait "$DPID"; } 2>/dev/null; then DRC=0; else DRC=$?; fi
}

# ---- capture on the target side ---------------------------------------------

# mt_capture_start FILE [NS IFACE [FILTER]]: tcpdump into FILE, by default
# of the raw VXLAN arriving in NS_TGT on veth-tgt; FILTER empty: all.
# Returns once tcpdump has its filter installed (it said "listening on").
MT_TCPDUMP_PID=
mt_capture_start() {
	local file=$1 ns=${2:-$NS_TGT} ifc=${3:-veth-tgt} i
	local filter=('udp dst port 4789')
	[ $# -ge 4 ] && filter=(${4:+"$4"})
	ip netns exec "$ns" tcpdump -i "$ifc" -n -U --immediate-mode \
		-w "$file" "${filter[@]}" 2>"$MT_TMP/tcpdump.err" &
	MT_TCPDUMP_PID=$!
	MT_PIDS+=("$MT_TCPDUMP_PID")
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$MT_TMP/tcpdump.err" 2>/dev/null && return 0
		kill -0 "$MT_TCPDUMP_PID" 2>/dev/null ||
			fail "tcpdump died: $(cat "$MT_TMP/tcpdump.err")"
		sleep 0.1
	done
	fail "tcpdump did not start listening within 10 s"
}

# Number of packets in a pcap file (tolerates a last record being written).
mt_pcap_count() {
	{ tshark -r "$1" -T fields -e frame.number 2>/dev/null || true; } | wc -l
}

# mt_capture_stop FILE MIN: waits (up to 10 s) until FILE holds at least MIN
# packets, then stops tcpdump with SIGINT and waits for it to exit.
mt_capture_stop() {
	local file=$1 min=$2 i n=0
	for ((i = 0; i < 100; i++)); do
		n=$(mt_pcap_count "$file")
		[ "$n" -ge "$min" ] && break
		sleep 0.1
	done
	# Let stragglers (kernel ND/MLD) land before the cut.
	sleep 0.2
	kill -INT "$MT_TCPDUMP_PID" 2>/dev/null || true
	wait "$MT_TCPDUMP_PID" 2>/dev/null || true
	[ "$n" -ge "$min" ] ||
		fail "tcpdump captured $n VXLAN packets, expected at least $min"
}

# ---- traffic from the source side -------------------------------------------

# mt_send_inner COUNT [DURATION [REPLIES]]: from NS_SRC, sends COUNT packets of each
# kind through vx0 with ordinary kernel sockets, and prints what it sent
# as "kind proto src dst dport-or-icmp-type count" lines.  Kinds:
# tcp4/tcp6 (one SYN to port 443 each: the connect is abandoned before the
# 1 s retransmission), udp4/udp6 (DNS queries to port 53), icmp4/icmp6
# (echo requests).  With DURATION seconds the packets are spread over it.
# With REPLIES = 1 also pong4/pong6: echo replies from the peer to the
# source, written onto vx0 with a packet socket as if they had arrived
# there (the ingress direction of the mirrored host).
mt_send_inner() {
	ip netns exec "$NS_SRC" "$MT_PYTHON" - "$1" "${2:-0}" \
		"$MT_INNER4_SRC" "$MT_INNER4_DST" "$MT_INNER6_SRC" "$MT_INNER6_DST" \
		"$MT_INNER_PEER_MAC" "${3:-0}" <<'PY'
import errno, socket, struct, sys, time

count, duration = int(sys.argv[1]), float(sys.argv[2])
src4, dst4, src6, dst6, peer_mac = sys.argv[3:8]
replies = sys.argv[8] == "1"
TCP_PORT, UDP_PORT, ICMP_ID = 443, 53, 0x4d54

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF

def syn(family, dst):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((dst, TCP_PORT))
    except BlockingIOError:
        pass
    # Closing in SYN-SENT sends nothing more: exactly one SYN on the wire.
    s.close()

def udp(family, dst, i):
    # A well-formed DNS query (A example.com), so Wireshark shows sense.
    query = struct.pack("!HHHHHH", i & 0xFFFF, 0x0100, 1, 0, 0, 0)
    query += b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.sendto(query, (dst, UDP_PORT))

def icmp4(i):
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        hdr = struct.pack("!BBHHH", 8, 0, 0, ICMP_ID, i)
        body = b"mt-e2e icmp"
        hdr = struct.pack("!BBHHH", 8, 0, csum(hdr + body), ICMP_ID, i)
        s.sendto(hdr + body, (dst4, 0))

def icmp6(i):
    # The kernel fills in the ICMPv6 checksum of raw ICMPv6 sockets.
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6) as s:
        s.sendto(struct.pack("!BBHHH", 128, 0, 0, ICMP_ID, i) + b"mt-e2e icmp",
                 (dst6, 0))

a4 = lambda a: socket.inet_pton(socket.AF_INET, a)
a6 = lambda a: socket.inet_pton(socket.AF_INET6, a)

def reply4(i):
    body = b"mt-e2e icmp"
    icmp = struct.pack("!BBHHH", 0, 0, 0, ICMP_ID, i & 0xFFFF)
    icmp = struct.pack("!BBHHH", 0, 0, csum(icmp + body), ICMP_ID, i & 0xFFFF) + body
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), i & 0xFFFF, 0,
                     64, 1, 0, a4(dst4), a4(src4))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    pkt.send(vx0_mac + peer + b"\x08\x00" + ip + icmp)

def reply6(i):
    icmp = struct.pack("!BBHHH", 129, 0, 0, ICMP_ID, i & 0xFFFF) + b"mt-e2e icmp"
    pseudo = a6(dst6) + a6(src6) + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", csum(pseudo + icmp)) + icmp[4:]
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(icmp), 58, 64, a6(dst6), a6(src6))
    pkt.send(vx0_mac + peer + b"\x86\xdd" + ip + icmp)

kinds = [
    ("tcp4", "tcp", src4, dst4, TCP_PORT, lambda i: syn(socket.AF_INET, dst4)),
    ("tcp6", "tcp", src6, dst6, TCP_PORT, lambda i: syn(socket.AF_INET6, dst6)),
    ("udp4", "udp", src4, dst4, UDP_PORT, lambda i: udp(socket.AF_INET, dst4, i)),
    ("udp6", "udp", src6, dst6, UDP_PORT, lambda i: udp(socket.AF_INET6, dst6, i)),
    ("icmp4", "icmp", src4, dst4, 8, icmp4),
    ("icmp6", "icmpv6", src6, dst6, 128, icmp6),
]
if replies:
    vx0_mac = bytes.fromhex(open("/sys/class/net/vx0/address").read().strip().replace(":", ""))
    peer = bytes.fromhex(peer_mac.replace(":", ""))
    pkt = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    pkt.bind(("vx0", 0))
    kinds += [
        ("pong4", "icmp", dst4, src4, 0, reply4),
        ("pong6", "icmpv6", dst6, src6, 129, reply6),
    ]
gap = duration / (count * len(kinds)) if duration > 0 and count else 0
for i in range(count):
    for k in kinds:
        k[5](i)
        if gap:
            time.sleep(gap)
for k in kinds:
    print(k[0], k[1], k[2], k[3], k[4], count)
PY
}

# mt_ping_target [COUNT]: COUNT (3) ICMP echo requests from NS_SRC to the
# target's own address, a line per reply or timeout; 0 when all answered.
mt_ping_target() {
	ip netns exec "$NS_SRC" "$MT_PYTHON" - "$MT_OUTER_TGT" "${1:-3}" <<'PY'
import socket, struct, sys, time
dst, count = sys.argv[1], int(sys.argv[2])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r.settimeout(2)
ok = 0
for seq in range(1, count + 1):
    h = struct.pack("!BBHHH", 8, 0, 0, 0x7067, seq) + b"ping"
    t0 = time.monotonic()
    r.sendto(struct.pack("!BBHHH", 8, 0, csum(h), 0x7067, seq) + b"ping", (dst, 0))
    try:
        while True:
            d, _ = r.recvfrom(200)
            if d[20] == 0 and d[24:26] == b"\x70\x67" and d[26:28] == struct.pack("!H", seq):
                break
        print("reply from %s: icmp_seq=%d time=%.3f ms" % (dst, seq, (time.monotonic() - t0) * 1e3))
        ok += 1
    except socket.timeout:
        print("no reply from %s: icmp_seq=%d" % (dst, seq))
    if seq < count:
        time.sleep(0.2)
sys.exit(0 if ok == count else 1)
PY
}

# mt_ordinary_ok: ICMP echo and a TCP exchange from NS_SRC to the target's
# own address (the kernel's traffic, which XDP must pass untouched): 0 when
# both work.
mt_ordinary_ok() {
	local srv port=$((8000 + RANDOM % 1000))
	ip netns exec "$NS_TGT" "$MT_PYTHON" - "$MT_OUTER_TGT" "$port" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(10)
c, _ = s.accept()
c.sendall(c.recv(100).upper())
c.close()
PY
	srv=$!
	sleep 0.3
	if ! mt_ping_target 1 >/dev/null ||
		! ip netns exec "$NS_SRC" "$MT_PYTHON" - "$MT_OUTER_TGT" "$port" <<'PY'; then
import socket, sys
t = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
t.sendall(b"hello")
assert t.recv(100) == b"HELLO"
PY
		kill "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
		return 1
	fi
	wait "$srv"
}

mt_tshark() {
	tshark "$@" 2> >(grep -v 'could be dangerous' >&2 || true)
}

# mt_pcap_fields FILE...: one line per packet of every FILE:
# "ip.src ip.dst ipv6.src ipv6.dst tcp.dstport udp.dstport icmp.type
# icmpv6.type udp.port" separated by '|' (empty fields stay empty).
mt_pcap_fields() {
	local f
	for f in "$@"; do
		mt_tshark -r "$f" -T fields -E separator='|' \
			-e ip.src -e ip.dst -e ipv6.src -e ipv6.dst \
			-e tcp.dstport -e udp.dstport -e icmp.type -e icmpv6.type \
			-e udp.port
	done
}

# mt_kind_count FIELDS PROTO SRC DST PORT: packets of mt_pcap_fields output
# FIELDS between SRC and DST (either way) whose PROTO (tcp, udp, icmp,
# icmpv6) destination port or ICMP type is PORT.
mt_kind_count() {
	local col
	case $2 in
	tcp) col=5 ;;
	udp) col=6 ;;
	icmp) col=7 ;;
	icmpv6) col=8 ;;
	*) fail "mt_kind_count: unknown protocol '$2'" ;;
	esac
	awk -F'|' -v s="$3" -v d="$4" -v c="$col" -v p="$5" \
		'(($1 == s && $2 == d) || ($3 == s && $4 == d)) && $c == p' "$1" |
		wc -l
}

# Sealed segment files of a directory, sorted (= chronological).
mt_segments() {
	find "$1" -maxdepth 1 -type f -name '*.pcap' ! -name '.*' | sort
}
