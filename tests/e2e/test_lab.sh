#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The README's first command works: `tools/lab.sh --no-build --packets 20`
# (against this build, MT_BUILD_DIR) exits 0, its last line reports as many
# packets in the sealed segments as it sent, it shows the daemon's counters
# with both directions, and it leaves no namespace and no temporary
# directory behind.  `--offline` is checked the same way.
#
# Needs root, netns/veth/vxlan, native XDP on veth and AF_XDP, tcpdump,
# tshark and /usr/bin/python3; otherwise exits 77.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PACKETS=20
KINDS=8 # tools/lab.sh sends 8 kinds of packets

mt_require_root
mt_require_cmd tcpdump tshark ip bridge
mt_require_python
mt_require_netns_vxlan
mt_bin mirror-targetd >/dev/null
LAB=$MT_SOURCE_DIR/tools/lab.sh

# run_lab NAME ARGS...: runs the lab, checks its exit status, final line,
# summary and clean-up.
run_lab() {
	local name=$1 out last ns dir
	shift
	out=$MT_TMP/$name.out
	mt_run "$name" env MT_BUILD_DIR="$MT_BUILD_DIR" bash "$LAB" --no-build \
		--packets $PACKETS --duration 1 "$@"
	if [ "$MT_RC" != 0 ]; then
		sed 's/^/    /' "$out" "$MT_TMP/$name.err" >&2
		# The lab fails (it is not a test) where the kernel lacks XDP on veth.
		grep -q 'cannot run XDP + AF_XDP on veth' "$MT_TMP/$name.err" &&
			skip "this kernel cannot run XDP + AF_XDP on veth (see above)"
		fail "tools/lab.sh $* exited $MT_RC"
	fi
	last=$(tail -n 1 "$out")
	[[ $last =~ ^sent\ ([0-9]+)\ mirrored\ packets,\ ([0-9]+)\ in\ sealed\ segments$ ]] ||
		fail "unexpected last line of tools/lab.sh $*: '$last'"
	mt_assert_eq "${BASH_REMATCH[1]}" $((KINDS * PACKETS)) "packets the lab sent ($*)"
	mt_assert_eq "${BASH_REMATCH[2]}" "${BASH_REMATCH[1]}" "packets captured vs sent ($*)"
	mt_assert_grep "$out" "^ +egress +$((6 * PACKETS)) packets" "egress packets in the summary ($*)"
	mt_assert_grep "$out" "^ +ingress +$((2 * PACKETS)) packets" "ingress packets in the summary ($*)"
	mt_assert_grep "$out" '^ +rejected +0$' "rejected in the summary ($*)"
	mt_assert_grep "$out" '^==== 7\. The sealed segments' "segments section ($*)"
	mt_assert_grep "$out" '-[0-9]+\.pcap$' "ls -l of the segments ($*)"
	# tshark decoded inner packets (the first 12 records: which kinds come
	# first depends on the senders' and queues' timing; the per-kind table
	# checks every kind).
	mt_assert_grep "$out" '(192\.0\.2\.[12]|2001:db8::[12]) → (192\.0\.2\.[12]|2001:db8::[12]) +(TCP|DNS|ICMP|ICMPv6) ' "tshark lines ($*)"
	# lib.sh's trap in the lab removed its namespaces and directory.
	ns=$(grep -Eo 'mt-e2e-[0-9]+-src' "$out" | head -n1)
	[ -n "$ns" ] || fail "tools/lab.sh $* did not name its namespaces"
	if ip netns list | grep -Eq "^(${ns%-src}-src|${ns%-src}-tgt)( |$)"; then
		fail "tools/lab.sh $* left namespace ${ns%-src}-src/-tgt behind"
	fi
	dir=$(grep -Eo '/tmp/mt-e2e-lab-[A-Za-z0-9]+' "$out" | head -n1)
	[ -n "$dir" ] || fail "tools/lab.sh $* did not name its directory"
	[ ! -e "$dir" ] || fail "tools/lab.sh $* left $dir behind"
	log "lab $*: $last"
}

run_lab live
mt_assert_grep "$MT_TMP/live.out" 'reply from 198\.18\.0\.2: icmp_seq=3' "pings to the target (live)"
mt_assert_grep "$MT_TMP/live.out" '^ +redirected +[1-9]' "XDP counters (live)"
mt_assert_grep "$MT_TMP/live.out" '^ +socket queue 3 ' "per-socket statistics of 4 queues (live)"
run_lab offline --offline
log "PASS"
