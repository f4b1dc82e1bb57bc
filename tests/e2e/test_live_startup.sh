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
log "PASS"
