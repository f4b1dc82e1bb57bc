#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Reloading the XDP allow-lists without detaching: the daemon starts with
# [capture] allow_sources = the mirror source; `mirrorctl reload` after
# changing the file to another subnet makes XDP drop the source's VXLAN as
# source_not_allowed (nothing more is redirected), and emptying the list
# lets it through again (nothing more is dropped); the same for
# allow_vnis; and a [session]'s addresses, which change the direction the
# workers infer.  Counters are read with `mirrorctl status --json`.
#
# Needs root, netns/veth/vxlan, XDP + AF_XDP on veth; otherwise exits 77.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=5 # packets of each kind per phase

mt_require_root
mt_require_cmd ip bridge
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)
CTL=$(mt_bin mirrorctl)

mt_topology_create 2
CONF=$MT_TMP/mt.conf
SOCK=$MT_TMP/control.sock

write_conf() { # ALLOW_SOURCES ALLOW_VNIS [SESSION_ADDRESSES]
	local session=''
	# With a third argument (even empty), VNI $MT_VNI is [session web].
	[ -z "${3+x}" ] || session="[session web]
vni = $MT_VNI
addresses = $3"
	cat >"$CONF" <<CONF_EOF
[capture]
allow_sources = $1
allow_vnis = $2

[output]
directory = $MT_TMP/segments
rotate_idle = 0

[control]
control_socket = $SOCK

$session
CONF_EOF
}

# direction DIR: packets counted in that direction for VNI $MT_VNI.
direction() {
	"$CTL" --socket "$SOCK" status --json >"$MT_TMP/st.json" ||
		fail "mirrorctl status failed"
	"$MT_PYTHON" -c 'import json,sys; v=[e for e in json.load(open(sys.argv[1]))["vnis"] if e["vni"] == int(sys.argv[2])]; print(v[0][sys.argv[3]]["packets"] if v else 0)' \
		"$MT_TMP/st.json" "$MT_VNI" "$1"
}

# xdp NAME: that XDP counter from mirrorctl status --json.
xdp() {
	"$CTL" --socket "$SOCK" status --json >"$MT_TMP/st.json" ||
		fail "mirrorctl status failed"
	"$MT_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["xdp"][sys.argv[2]])' \
		"$MT_TMP/st.json" "$1"
}

reload() { # NAME: mirrorctl reload must succeed and name what it applied
	mt_expect_rc 0 "$1" "$CTL" --socket "$SOCK" reload
	mt_assert_grep "$MT_TMP/$1.out" "^applied from $CONF: .*capture\.allow_" \
		"reload applies the allow-lists"
}

# phase NAME: sends N of each kind, waits for them to be counted, then
# prints the deltas of redirected and of the drop counter given.
phase() {
	local drop=$1 r0 d0 r1 d1 i
	r0=$(xdp redirected)
	d0=$(xdp "$drop")
	mt_send_inner "$N" >/dev/null
	for ((i = 0; i < 20; i++)); do
		r1=$(xdp redirected)
		d1=$(xdp "$drop")
		[ $((r1 - r0 + d1 - d0)) -ge $((6 * N)) ] && break
		sleep 0.1
	done
	echo "$((r1 - r0)) $((d1 - d0))"
}

write_conf "$MT_OUTER_SRC/32" "$MT_VNI"
mt_daemon_start d --socket "$SOCK" "$DAEMON" -i veth-tgt --config "$CONF"

read -r red drop <<<"$(phase source_not_allowed)"
log "allowed source: $red redirected, $drop dropped"
[ "$red" -ge $((6 * N)) ] && [ "$drop" = 0 ] ||
	fail "with the source allowed: $red redirected, $drop source_not_allowed"

write_conf 198.18.200.0/24 "$MT_VNI"
reload r1
read -r red drop <<<"$(phase source_not_allowed)"
log "source outside the new list: $red redirected, $drop dropped"
[ "$red" = 0 ] && [ "$drop" -ge $((6 * N)) ] ||
	fail "after narrowing allow_sources: $red redirected, $drop source_not_allowed"

write_conf "" "$MT_VNI"
reload r2
read -r red drop <<<"$(phase source_not_allowed)"
log "empty list (any source): $red redirected, $drop dropped"
[ "$red" -ge $((6 * N)) ] && [ "$drop" = 0 ] ||
	fail "after emptying allow_sources: $red redirected, $drop source_not_allowed"

write_conf "" "$((MT_VNI + 1))"
reload r3
read -r red drop <<<"$(phase vni_not_allowed)"
log "VNI outside the new list: $red redirected, $drop dropped"
[ "$red" = 0 ] && [ "$drop" -ge $((6 * N)) ] ||
	fail "after changing allow_vnis: $red redirected, $drop vni_not_allowed"

# A broken list is refused with FILE:LINE:COL and changes nothing.
write_conf "198.18.0.1/40" ""
mt_run r4 "$CTL" --socket "$SOCK" reload
[ "$MT_RC" = 1 ] || fail "reload of an invalid allow_sources exited $MT_RC"
mt_assert_grep "$MT_TMP/r4.err" "$CONF:2:[0-9]+: " "error with FILE:LINE:COL"
read -r red drop <<<"$(phase vni_not_allowed)"
[ "$red" = 0 ] && [ "$drop" -ge $((6 * N)) ] ||
	fail "a refused reload changed the VNI list: $red redirected, $drop dropped"

# [session] addresses: with none, the source's inner addresses are not in
# S = {outer source} and its packets are of unknown direction; once the
# reload adds them, the same packets are egress.
write_conf "" "" ""
reload r5
u0=$(direction unknown)
e0=$(direction egress)
phase vni_not_allowed >/dev/null
u1=$(direction unknown)
e1=$(direction egress)
[ $((u1 - u0)) -ge $((6 * N)) ] && [ "$e1" = "$e0" ] ||
	fail "no session addresses: unknown +$((u1 - u0)), egress +$((e1 - e0))"
write_conf "" "" "$MT_INNER4_SRC, $MT_INNER6_SRC"
mt_expect_rc 0 r6 "$CTL" --socket "$SOCK" reload
mt_assert_grep "$MT_TMP/r6.out" "^applied from $CONF: .*session web" \
	"reload applies the changed [session]"
phase vni_not_allowed >/dev/null
u2=$(direction unknown)
e2=$(direction egress)
log "session addresses reloaded: egress +$((e2 - e1)), unknown +$((u2 - u1))"
[ $((e2 - e1)) -ge $((6 * N)) ] && [ "$u2" = "$u1" ] ||
	fail "after adding the session's addresses: egress +$((e2 - e1)), unknown +$((u2 - u1))"

mt_daemon_stop
[ "$DRC" = 0 ] || fail "mirror-targetd exited $DRC"
log "PASS"
