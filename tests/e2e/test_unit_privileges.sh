#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The systemd unit's privilege set, proven for real (systemd need not be
# PID 1 here: the unit's user, capabilities, umask and no_new_privs are
# applied with setpriv, its sd_notify socket is played by a listener):
#   1. systemd/mirror-targetd.service installs and passes
#      `systemd-analyze verify`; `systemd-analyze security --offline=true`
#      rates it 3.5 or lower;
#   2. systemd-tmpfiles makes the segment directory 0750 mirror-target:
#      mirror-target from systemd/mirror-target.tmpfiles;
#   3. as user mirror-target with exactly the unit's capabilities (parsed
#      from the unit, so the unit and the daemon's needs cannot diverge)
#      and a 64 KiB RLIMIT_MEMLOCK, `mirror-targetd --config FILE` (the
#      unit's ExecStart) attaches XDP on a 2-queue veth, says READY=1 once
#      capturing, pets the watchdog, reloads on SIGHUP (RELOADING=1, then
#      READY=1), captures every frame the kernel vxlan device sends, stops
#      on SIGTERM (STOPPING=1, exit 0, XDP detached), and its segments are
#      not world-readable;
#   4. the set is minimal: without any one of the capabilities the daemon
#      does not start, or cannot detach its XDP program at stop.
#
# Needs root, netns/veth/vxlan, native XDP + AF_XDP on veth, setpriv,
# tshark and /usr/bin/python3; otherwise exits 77.  Creates the system
# user mirror-target (as the .deb does) when it is missing.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=${MT_E2E_COUNT:-10} # packets of each kind
QUEUES=2
UNIT=$MT_SOURCE_DIR/systemd/mirror-targetd.service
USER_NAME=mirror-target

mt_require_root
mt_require_cmd ip bridge setpriv tshark prlimit
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)
[ -f "$UNIT" ] || fail "$UNIT is missing"

# unit_value KEY: the value of KEY= in the unit (the last one wins).
unit_value() {
	sed -n "s/^$1=//p" "$UNIT" | tail -n1
}

# ---- 1. the unit file: install, verify, security rating ---------------------

if command -v systemd-analyze >/dev/null 2>&1; then
	PREFIX=$MT_TMP/prefix
	mt_expect_rc 0 install cmake --install "$MT_BUILD_DIR" --prefix "$PREFIX"
	IUNIT=$PREFIX/lib/systemd/system/mirror-targetd.service
	[ -f "$IUNIT" ] || fail "cmake --install did not install the unit"
	mt_assert_grep "$IUNIT" "^ExecStart=$PREFIX/sbin/mirror-targetd " \
		"installed unit's ExecStart"
	# verify checks ExecStart's binary and the Documentation= man pages.
	MANPATH=$PREFIX/share/man: mt_run verify systemd-analyze verify "$IUNIT"
	if [ "$MT_RC" != 0 ] || grep -q mirror-targetd "$MT_TMP/verify.err"; then
		sed 's/^/    /' "$MT_TMP/verify.err" >&2
		fail "systemd-analyze verify mirror-targetd.service failed"
	fi
	log "systemd-analyze verify: OK"
	if systemd-analyze security --help 2>&1 | grep -q -- --offline; then
		mt_run security systemd-analyze security --offline=true "$UNIT"
		EXPOSURE=$(sed -n 's/.*Overall exposure level for mirror-targetd.service: \([0-9.]*\).*/\1/p' \
			"$MT_TMP/security.out")
		[ -n "$EXPOSURE" ] || {
			sed 's/^/    /' "$MT_TMP/security.out" "$MT_TMP/security.err" >&2
			fail "no exposure level in systemd-analyze security's output"
		}
		awk -v e="$EXPOSURE" 'BEGIN { exit !(e <= 3.5) }' ||
			fail "systemd-analyze security rates the unit $EXPOSURE, above 3.5"
		log "systemd-analyze security: exposure $EXPOSURE (at most 3.5)"
	else
		log "systemd-analyze has no --offline: security rating not checked"
	fi
else
	log "systemd-analyze missing: unit verification skipped"
fi

[ "$(unit_value Type)" = notify ] || fail "the unit is not Type=notify"
[ "$(unit_value User)" = "$USER_NAME" ] || fail "the unit does not run as $USER_NAME"
[ "$(unit_value NoNewPrivileges)" = yes ] || fail "the unit lacks NoNewPrivileges=yes"

# The capabilities: ambient = bounding set, "CAP_NET_ADMIN ..." ->
# "net_admin,...", the form setpriv takes.
AMBIENT=$(unit_value AmbientCapabilities | tr ' ' '\n' | sed '/^$/d' | sort)
BOUNDING=$(unit_value CapabilityBoundingSet | tr ' ' '\n' | sed '/^$/d' | sort)
[ -n "$AMBIENT" ] || fail "no AmbientCapabilities= in the unit"
mt_assert_eq "$AMBIENT" "$BOUNDING" "AmbientCapabilities vs CapabilityBoundingSet"
mapfile -t CAPS < <(printf '%s\n' "$AMBIENT" | sed 's/^CAP_//' | tr '[:upper:]' '[:lower:]')
UMASK=$(unit_value UMask)
log "unit: user $USER_NAME, capabilities ${CAPS[*]}, umask ${UMASK:-0022}"

# ---- 2. the user and the segment directory ----------------------------------

if ! id "$USER_NAME" >/dev/null 2>&1; then
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers "$MT_SOURCE_DIR/systemd/mirror-target.sysusers"
	else
		useradd --system --home-dir /var/lib/mirror-target \
			--shell /usr/sbin/nologin --user-group "$USER_NAME"
	fi
	log "created the system user $USER_NAME"
fi
id "$USER_NAME" >/dev/null 2>&1 || fail "cannot create the user $USER_NAME"

# The daemon (not root) must reach files under $MT_TMP.
chmod 0711 "$MT_TMP"
ROOT=$MT_TMP/root
SEGDIR=$ROOT/var/lib/mirror-target/segments
if command -v systemd-tmpfiles >/dev/null 2>&1; then
	# --root resolves users in the root's own /etc.
	mkdir -p "$ROOT/etc"
	cp /etc/passwd /etc/group "$ROOT/etc/"
	mt_expect_rc 0 tmpfiles systemd-tmpfiles --create --root="$ROOT" \
		"$MT_SOURCE_DIR/systemd/mirror-target.tmpfiles"
	mt_assert_eq "$(stat -c '%a %U %G' "$SEGDIR")" "750 $USER_NAME $USER_NAME" \
		"mode and owner of the segment directory made by tmpfiles.d"
	log "tmpfiles.d: $SEGDIR is 0750 $USER_NAME:$USER_NAME"
else
	install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$SEGDIR"
fi
chmod 0755 "$ROOT" "$ROOT/var" "$ROOT/var/lib"
# RuntimeDirectory=mirror-target with RuntimeDirectoryMode=0750.
RUNDIR=$ROOT/run/mirror-target
install -d -m 0755 "$ROOT/run"
install -d -m 0750 -o "$USER_NAME" -g "$USER_NAME" "$RUNDIR"
SOCK=$RUNDIR/control.sock

# ---- the lab -------------------------------------------------------------------

xdp_attached() { ip -n "$NS_TGT" link show veth-tgt | grep -q 'prog/xdp'; }

mt_topology_create $QUEUES

# The config the unit's ExecStart reads (--config FILE), readable by the
# daemon's user like /etc/mirror-target/mirror-target.conf.
CONF=$MT_TMP/mirror-target.conf
RULES=$MT_TMP/rules.conf
cp "$MT_SOURCE_DIR/systemd/mirror-target.rules.example" "$RULES"
cat >"$CONF" <<EOF
[capture]
interface = veth-tgt
xdp_mode = native
allow_sources = $MT_OUTER_SRC/32
[output]
directory = $SEGDIR
[filter]
rules = $RULES
[control]
control_socket = $SOCK
EOF
chmod 0644 "$CONF" "$RULES"

# sd_notify's side of systemd: every datagram on one line of $NOTIFY_LOG.
NOTIFY_SOCK=$MT_TMP/notify.sock
NOTIFY_LOG=$MT_TMP/notify.log
: >"$NOTIFY_LOG"
"$MT_PYTHON" - "$NOTIFY_SOCK" "$NOTIFY_LOG" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        log.write(s.recv(4096).decode(errors="replace").replace("\n", " | ") + "\n")
PY
MT_PIDS+=($!)
for ((i = 0; i < 50; i++)); do
	[ -S "$NOTIFY_SOCK" ] && break
	sleep 0.1
done
[ -S "$NOTIFY_SOCK" ] || fail "the sd_notify listener did not start"

# daemon_start NAME CAP...: mirror-targetd --config $CONF in NS_TGT as the
# unit runs it: user mirror-target, exactly CAP... (ambient, inheritable,
# bounding), no_new_privs, the unit's umask, RLIMIT_MEMLOCK 64 KiB (the
# UMEM must not depend on it), bpffs mounted mode 0700 as systemd does.
# Returns when READY=1 arrived (0) or the daemon exited (1).
DPID=
daemon_start() {
	local name=$1 caps i
	shift
	caps=$(printf ',+%s' "$@")
	: >"$NOTIFY_LOG"
	# shellcheck disable=SC2016 # $0 and $@ are the inner shell's
	ip netns exec "$NS_TGT" sh -c 'mount -t bpf -o mode=700 bpf /sys/fs/bpf 2>/dev/null
		umask "$0"; exec "$@"' "${UMASK:-0022}" \
		prlimit --memlock=65536 \
		setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups \
		--inh-caps="-all$caps" --ambient-caps="-all$caps" \
		--bounding-set="-all$caps" --no-new-privs \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin NOTIFY_SOCKET="$NOTIFY_SOCK" \
		WATCHDOG_USEC=1000000 \
		"$DAEMON" --config "$CONF" \
		>"$MT_TMP/$name.out" 2>"$MT_TMP/$name.err" &
	DPID=$!
	MT_PIDS+=("$DPID")
	for ((i = 0; i < 150; i++)); do
		grep -q '^READY=1' "$NOTIFY_LOG" && return 0
		kill -0 "$DPID" 2>/dev/null || return 1
		sleep 0.1
	done
	fail "$name: mirror-targetd neither got ready nor exited within 15 s"
}

# The capability names set in a /proc/PID/status mask, sorted.
cap_names() {
	local mask=$((16#$1)) bit=0 name
	while read -r name; do
		((mask >> bit & 1)) && echo "$name"
		bit=$((bit + 1))
	done < <(setpriv --list-caps)
}

# ---- 3. capture as the unit would run it ----------------------------------------

if ! daemon_start run "${CAPS[@]}"; then
	sed 's/^/    /' "$MT_TMP/run.err" >&2
	if grep -Eq 'cannot attach the XDP program|cannot bind an AF_XDP socket' "$MT_TMP/run.err" &&
		! grep -Eq 'Operation not permitted|No buffer space' "$MT_TMP/run.err"; then
		skip "this kernel cannot run XDP + AF_XDP on veth (see above)"
	fi
	fail "mirror-targetd did not start as $USER_NAME with ${CAPS[*]}"
fi
mt_assert_grep "$MT_TMP/run.err" 'capturing VXLAN' "daemon log"
xdp_attached || fail "no XDP program on veth-tgt after READY=1"
mt_assert_grep "$NOTIFY_LOG" '^READY=1 \| STATUS=capturing on veth-tgt with 2 workers' \
	"sd_notify READY=1 with the workers in its status"

# The running process: the user, the unit's capabilities as its bounding
# set, and once capturing only what detaching XDP at exit needs in the
# control thread and nothing at all in any other thread (workers,
# compressor, hook runner).
mt_assert_eq "$(stat -c %U "/proc/$DPID")" "$USER_NAME" "user of the daemon"
caps_of() { # caps_of TASK SET
	cap_names "$(awk -v k="$2:" '$1 == k { print $2 }' "/proc/$DPID/task/$1/status")" |
		sort | tr '\n' ' '
}
mt_assert_eq "$(caps_of "$DPID" CapBnd)" "$(printf '%s\n' "${CAPS[@]}" | sort | tr '\n' ' ')" \
	"bounding set of the running daemon"
for set in CapEff CapPrm; do
	mt_assert_eq "$(caps_of "$DPID" "$set")" "net_admin sys_admin " \
		"$set of the control thread once capturing"
done
mt_assert_eq "$(caps_of "$DPID" CapAmb)" "" "ambient set of the control thread"
NTASK=0
for task in /proc/"$DPID"/task/*; do
	tid=${task##*/}
	[ "$tid" = "$DPID" ] && continue
	for set in CapEff CapPrm CapInh CapAmb; do
		mt_assert_eq "$(caps_of "$tid" "$set")" "" "$set of thread $tid"
	done
	NTASK=$((NTASK + 1))
done
# Two workers, the compressor and the hook runner at least.
((NTASK >= 4)) || fail "only $NTASK threads besides the control thread"
# A write-behind thread per worker, at the daemon's priority (the
# writers' comment in daemon/core/writer.c says why not below it).
NWRITE=0
NICE=$(awk '{ sub(/.*\) /, ""); print $17 }' "/proc/$DPID/stat")
for task in /proc/"$DPID"/task/*; do
	[ "$(cat "$task/comm")" = mt-write ] || continue
	mt_assert_eq "$(awk '{ sub(/.*\) /, ""); print $17 }' "$task/stat")" "$NICE" \
		"nice of write-behind thread ${task##*/}"
	NWRITE=$((NWRITE + 1))
done
mt_assert_eq "$NWRITE" 2 "write-behind threads (one per worker)"
# Named, so that top -H and per-thread accounting tell them apart.
NAMES=()
for ((q = 0; q < QUEUES; q++)); do
	NAMES+=("mt-worker-$q")
done
for name in "${NAMES[@]}" mt-gzip mt-hook; do
	grep -qx -- "$name" /proc/"$DPID"/task/*/comm ||
		fail "no thread named $name: $(cat /proc/"$DPID"/task/*/comm | paste -sd ' ')"
done
mt_assert_grep "$MT_TMP/run.err" 'dropped CAP_NET_RAW, CAP_IPC_LOCK; kept CAP_NET_ADMIN, CAP_SYS_ADMIN' "daemon log of the drop"
mt_assert_eq "$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$DPID/status")" 1 \
	"no_new_privs of the daemon"
log "running as $USER_NAME within ${CAPS[*]}; $NTASK threads with none, the control thread with CAP_NET_ADMIN, CAP_SYS_ADMIN"

mt_send_inner "$N" 1 >/dev/null
SENT=$((6 * N))

kill -HUP "$DPID"
for ((i = 0; i < 50; i++)); do
	[ "$(grep -c '^READY=1' "$NOTIFY_LOG")" -ge 2 ] && break
	sleep 0.1
done
mt_assert_grep "$NOTIFY_LOG" '^RELOADING=1 \| MONOTONIC_USEC=[0-9]+' "sd_notify on SIGHUP"
[ "$(grep -c '^READY=1' "$NOTIFY_LOG")" -ge 2 ] || fail "no READY=1 after the reload"
grep -A1000 '^RELOADING=1' "$NOTIFY_LOG" | grep -q '^READY=1' ||
	fail "READY=1 did not follow RELOADING=1"
mt_assert_grep "$MT_TMP/run.err" "reloaded" "daemon log after SIGHUP"

# mirrorctl as a member of the group, with no privileges at all.
mt_expect_rc 0 ctl-reload setpriv --reuid="$USER_NAME" --regid="$USER_NAME" \
	--init-groups --inh-caps=-all --bounding-set=-all --no-new-privs \
	"$(mt_bin mirrorctl)" --socket "$SOCK" reload
for ((i = 0; i < 20; i++)); do
	[ "$(grep -c '^RELOADING=1' "$NOTIFY_LOG")" = 2 ] && break
	sleep 0.1
done
[ "$(grep -c '^RELOADING=1' "$NOTIFY_LOG")" = 2 ] ||
	fail "mirrorctl reload did not notify RELOADING=1"
log "mirrorctl reload over $SOCK (as a group member): OK"

sleep 1
PINGS=$(grep -c '^WATCHDOG=1$' "$NOTIFY_LOG" || true)
[ "$PINGS" -ge 3 ] || fail "only $PINGS WATCHDOG=1 with WATCHDOG_USEC=1s in about 3 s"

mt_daemon_stop
mt_assert_eq "$DRC" 0 "exit status after SIGTERM"
mt_assert_grep "$NOTIFY_LOG" '^STOPPING=1' "sd_notify at stop"
xdp_attached && fail "XDP program still attached after SIGTERM (detaching needs CAP_SYS_ADMIN)"
log "sd_notify: READY=1, $PINGS watchdog pings, RELOADING=1 + READY=1 on SIGHUP, STOPPING=1"

mapfile -t SEGS < <(mt_segments "$SEGDIR")
((${#SEGS[@]})) || fail "no sealed segment in $SEGDIR"
GOT=0
for f in "${SEGS[@]}"; do
	n=$(mt_tshark -r "$f" -Y "eth.dst == $MT_INNER_PEER_MAC" -T fields -e frame.number | wc -l)
	GOT=$((GOT + n))
	mt_assert_eq "$(stat -c %U "$f")" "$USER_NAME" "owner of $f"
	(($(stat -c %a "$f") % 10 == 0)) || fail "$f is world-readable ($(stat -c %a "$f"))"
done
mt_assert_eq "$GOT" "$SENT" "frames to the inner peer in the segments vs sent"
log "captured all $SENT frames into ${#SEGS[@]} segment(s), mode $(stat -c %a "${SEGS[0]}")"

# ---- 4. every capability is needed ------------------------------------------------

for drop in "${CAPS[@]}"; do
	less=()
	for c in "${CAPS[@]}"; do
		[ "$c" = "$drop" ] || less+=("$c")
	done
	why=
	if daemon_start "without-$drop" "${less[@]}"; then
		mt_daemon_stop
		if xdp_attached; then
			why="cannot detach XDP"
			ip -n "$NS_TGT" link set dev veth-tgt xdp off 2>/dev/null || true
		elif [ "$DRC" != 0 ]; then
			why="exit status $DRC"
		fi
	else
		why=$(grep -m1 -E 'error' "$MT_TMP/without-$drop.err" || echo "did not start")
	fi
	[ -n "$why" ] || fail "mirror-targetd works without CAP_${drop^^}: drop it from the unit"
	log "without CAP_${drop^^}: ${why#mirror-target: }"
done
log "PASS"
