#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fault scenario "reload storm": FT_RELOADS (100; 30 with --quick) reloads
# under a steady numbered stream, cycling through four kinds:
#   good rules    rules set A or B (both accept the stream), by mirrorctl
#   broken rules  an unknown protocol at line 3, column 16
#   good config   the config with another rotate_idle and the other set,
#                 by SIGHUP
#   broken config compress_level "12Q" on its last line
# Checked after each reload: `mirrorctl reload` exits 0 for a good one and
# 1 for a broken one with FILE:LINE:COL of the fault; the rules in force
# (`mirrorctl rules --json`) are always the last good set; at the end the
# status counts the reloads and failures; every number sent is in the
# sealed segments exactly once (zero lost, zero double-counted).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

RELOADS=${FT_RELOADS:-100}
RATE=${FT_RATE:-1000}

ft_require_lab
mt_topology_create 2

OUT=$MT_TMP/seg
RULES=$MT_TMP/rules.conf
CONF=$MT_TMP/d.conf
cat >"$MT_TMP/A.rules" <<EOF
# set A: the stream only
100 accept any udp 0.0.0.0/0 0.0.0.0/0 dport=$FT_PORT desc="set A"
EOF
cat >"$MT_TMP/B.rules" <<EOF
# set B: all UDP
100 accept any udp 0.0.0.0/0 0.0.0.0/0 desc="set B"
110 accept any udp ::/0 ::/0 desc="set B"
EOF
cat >"$MT_TMP/bad.rules" <<'EOF'
# broken: an unknown protocol on line 3, column 16
100 accept any udp 0.0.0.0/0 0.0.0.0/0 desc="broken"
200 accept any udpp 0.0.0.0/0 0.0.0.0/0 desc="broken"
EOF
cp "$MT_TMP/A.rules" "$RULES"
ft_config "$CONF" "$OUT" "filter.rules=$RULES" output.rotate_size=256K
cp "$CONF" "$MT_TMP/good.conf"

# put SRC DST: as an operator does: write beside, rename over.
put() {
	cp "$1" "$2.new"
	mv "$2.new" "$2"
}

# in_force: the description of the rules in force ("set A", ...).
in_force() {
	"$FT_CTL" --socket "$FT_SOCK" rules --json >"$MT_TMP/rules.json" 2>&1 &&
		ft_json "$MT_TMP/rules.json" rules.0.description
}

ft_daemon_start d "$CONF"
ft_sender_start s "$RATE"
sleep 1

LAST="set A"
GOOD=0
BAD=0
WRONG=0
for ((r = 1; r <= RELOADS; r++)); do
	sleep 0.1
	kind=$(((r - 1) % 4))
	case $kind in
	0 | 2)
		[ "$LAST" = "set A" ] && set=B || set=A
		put "$MT_TMP/$set.rules" "$RULES"
		if [ "$kind" = 2 ]; then
			sed "s/^rotate_idle = .*/rotate_idle = $((1 + r % 3))s/" \
				"$MT_TMP/good.conf" >"$MT_TMP/g.conf"
			put "$MT_TMP/g.conf" "$CONF"
		fi
		want=0
		LAST="set $set"
		GOOD=$((GOOD + 1))
		;;
	1)
		put "$MT_TMP/bad.rules" "$RULES"
		want=1
		where="$RULES:3:16:"
		BAD=$((BAD + 1))
		;;
	3)
		# the rules file is good again (the last good set); the config not
		put "$MT_TMP/${LAST#set }.rules" "$RULES"
		cp "$MT_TMP/good.conf" "$MT_TMP/b.conf"
		echo "[output]" >>"$MT_TMP/b.conf"
		echo "compress_level = 12Q" >>"$MT_TMP/b.conf"
		put "$MT_TMP/b.conf" "$CONF"
		want=1
		where="$CONF:$(wc -l <"$CONF"):"
		BAD=$((BAD + 1))
		;;
	esac
	if [ "$kind" = 2 ]; then
		# SIGHUP, as systemctl reload does: done when the count moves
		ft_status "$MT_TMP/st.json"
		n0=$(ft_json "$MT_TMP/st.json" filter.reloads)
		kill -HUP "$DPID"
		MT_RC=1
		for ((i = 0; i < 50; i++)); do
			sleep 0.1
			ft_status "$MT_TMP/st.json"
			if [ "$(ft_json "$MT_TMP/st.json" filter.reloads)" -gt "$n0" ]; then
				MT_RC=0
				break
			fi
		done
		echo "SIGHUP: not reloaded within 5 s" >"$MT_TMP/reload.err"
	else
		mt_run reload "$FT_CTL" --socket "$FT_SOCK" reload
	fi
	if [ "$MT_RC" != "$want" ]; then
		ft_check 1 "reload $r (kind $kind): exit $MT_RC, expected $want: $(cat "$MT_TMP/reload.err")"
	elif [ "$want" = 1 ] && ! grep -qF "$where" "$MT_TMP/reload.err"; then
		ft_check 1 "reload $r: the rejection does not name $where: $(cat "$MT_TMP/reload.err")"
	fi
	got=$(in_force)
	if [ "$got" != "$LAST" ]; then
		WRONG=$((WRONG + 1))
		ft_check 1 "after reload $r the rules in force are '$got', expected '$LAST'"
	fi
	# a good config after a broken one: restore it for the next rounds
	[ "$kind" = 3 ] && put "$MT_TMP/good.conf" "$CONF"
done
sleep 1
ft_wind_down
ft_check "$DRC" "exit status after SIGTERM: $DRC"
read -r NREL NFAIL < <(ft_json "$MT_TMP/final.json" filter.reloads filter.reload_failures | xargs)
[ "$NFAIL" = "$BAD" ] || ft_check 1 "status says $NFAIL failed reloads, $BAD were broken"
[ "$NREL" = "$GOOD" ] || [ "$NREL" = "$RELOADS" ] ||
	ft_check 1 "status says $NREL reloads, $GOOD good of $RELOADS were made"
DROPS=$(ft_writer_drops "$MT_TMP/final.json")
ft_read_segments "$MT_TMP/got" "$OUT"
ft_account "$SENT" "$MT_TMP/got" "$DROPS"
ft_note "$RELOADS reloads: $GOOD good, $BAD broken (rejected with FILE:LINE:COL); status: $NREL reloads, $NFAIL failed; wrong rules in force $WRONG times"
ft_result "$SENT" "$FT_CAPTURED" "$DROPS" "$FT_LOST" "$FT_DUPS" "$FT_CORRUPT"
ft_finish
