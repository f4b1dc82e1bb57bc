#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Live mode start-up checks explain themselves and touch nothing: an
# unknown interface, missing privileges (each capability named), -i
# together with --read, a queue the interface does not have.  Every failing
# start leaves no XDP program behind.
#
# Needs root (to drop privileges with setpriv and to build a namespace).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

mt_require_root
mt_require_cmd ip setpriv
DAEMON=$(mt_bin mirror-targetd)
OUT=$MT_TMP/seg

# An interface that does not exist.
mt_expect_rc 1 noif "$DAEMON" -i mt-no-such0 --output-dir "$OUT"
mt_assert_grep "$MT_TMP/noif.err" 'interface "mt-no-such0" not found' "unknown interface"

# Live and offline at once.
mt_expect_rc 2 both "$DAEMON" -i lo --read /dev/null --output-dir "$OUT"
mt_assert_grep "$MT_TMP/both.err" 'exclude each other' "-i with --read"

# Without privileges: every missing capability is named.
chmod 755 "$MT_TMP"
mt_expect_rc 1 nopriv setpriv --reuid=65534 --regid=65534 --clear-groups \
	--inh-caps=-all "$DAEMON" -i lo --output-dir "$OUT"
for cap in CAP_NET_ADMIN CAP_NET_RAW CAP_BPF CAP_SYS_ADMIN; do
	mt_assert_grep "$MT_TMP/nopriv.err" "$cap" "message without privileges"
done

# A queue the interface does not have (a fresh veth has one rx queue).
mt_require_netns_vxlan
mt_netns_create NS a || fail "cannot create a namespace"
ip -n "$NS" link add mtq0 type veth peer name mtq1
ip -n "$NS" link set mtq0 up
mt_expect_rc 1 queue ip netns exec "$NS" "$DAEMON" -i mtq0 --queues 3 \
	--output-dir "$OUT"
mt_assert_grep "$MT_TMP/queue.err" 'there is no queue 3' "queue out of range"
ip -n "$NS" link show mtq0 | grep -q 'prog/xdp' &&
	fail "a failed start left an XDP program attached"

# Two queues with 16 GiB of write-behind each: more than this machine
# has (checked), so the daemon refuses before it attaches or allocates.
avail_kib=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
[ "$avail_kib" -lt $((32 * 1024 * 1024)) ] ||
	fail "this test needs less than 32 GiB available (has $avail_kib KiB)"
ip -n "$NS" link add mtm0 numrxqueues 2 numtxqueues 2 type veth peer name mtm1
ip -n "$NS" link set mtm0 up

# refused_for_memory NAME WRITE_QUEUE ERE [WRAPPER...]: the daemon on mtm0
# with that write_queue, started by ip netns exec through WRAPPER, exits 1
# with a line matching ERE and leaves no XDP program behind.
refused_for_memory() {
	local name=$1 wq=$2 re=$3
	shift 3
	printf '[output]\nwrite_queue = %s\n' "$wq" >"$MT_TMP/$name.conf"
	mt_expect_rc 1 "$name" ip netns exec "$NS" "$@" "$DAEMON" -i mtm0 \
		--config "$MT_TMP/$name.conf" --output-dir "$OUT"
	mt_assert_grep "$MT_TMP/$name.err" "$re" "$name: refused for memory"
	if ip -n "$NS" link show mtm0 | grep -q 'prog/xdp'; then
		fail "$name: a start refused for memory left an XDP program attached"
	fi
}
refused_for_memory memory 16G \
	'2 queues would take 32896 MiB at start [(]per queue: UMEM 64M, write-behind 16G[)], more than the [0-9]+ MiB available; lower output.write_queue or capture.ring_size, or capture fewer queues'

# The same refusal inside a memory cgroup with less room than the machine
# (a unit's MemoryMax=): 2 x (64M + 256M) against a 512 MiB limit, the
# cgroup named.  ip netns exec mounts a sysfs of its own, without the
# cgroup mounts, so the daemon's shell mounts the hierarchy there again.
CGNAME=mt-startup-$$
if [ "$avail_kib" -lt $((2 * 1024 * 1024)) ]; then
	CG= # with less than 2 GiB available the machine is the tighter limit
elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
	CG=/sys/fs/cgroup/$CGNAME CGTYPE=cgroup2 CGOPT='' CGMAX=memory.max
elif [ -d /sys/fs/cgroup/memory ]; then
	CG=/sys/fs/cgroup/memory/$CGNAME CGTYPE=cgroup CGOPT=memory
	CGMAX=memory.limit_in_bytes
else
	CG=
fi
if [ -n "$CG" ] && mkdir "$CG"; then
	MT_ON_EXIT+=("rmdir $CG")
	echo $((512 * 1024 * 1024)) >"$CG/$CGMAX"
	# shellcheck disable=SC2016 # $1.. are the inner shell's
	refused_for_memory cgroup 256M \
		"2 queues would take 640 MiB at start [(]per queue: UMEM 64M, write-behind 256M[)], more than the 5[01][0-9] MiB available to memory cgroup /$CGNAME [(]limit 512 MiB, [0-9]+ MiB in use[)]; .*capture fewer queues [(]capture.queues[)], or raise the cgroup's memory limit [(]the unit's MemoryMax=, the container's limit[)]" \
		sh -c 'mount -t "$2" ${3:+-o "$3"} mtcg /sys/fs/cgroup &&
			echo $$ >"/sys/fs/cgroup/$1/cgroup.procs" && shift 3 &&
			exec "$@"' sh "$CGNAME" "$CGTYPE" "$CGOPT"
else
	log "no memory cgroup to create here (or under 2 GiB available): the cgroup refusal is not tested"
fi
log "PASS"
