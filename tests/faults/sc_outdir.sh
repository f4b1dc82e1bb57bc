#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fault scenario "output directory": under a steady numbered stream the
# segment directory is first made read-only (chattr +i: root cannot create,
# rename or delete in it either) for FT_RO seconds, then removed with
# everything in it (rm -rf); the daemon makes it again by itself (an
# operator's `mkdir -p` FT_RM seconds later finds it there).  Checked:
#   - the daemon keeps running; /healthz says the directory is not
#     writable while it is so;
#   - after each fault capture resumes by itself (writer.records grows),
#     after the removal into the directory at the same path;
#   - the records of the open segment the rm -rf took are counted as
#     segments.records_lost, not silently gone;
#   - after a last restart (which recovers any .part left over), every
#     number sent is in a sealed segment, in the copy the on-seal hook made
#     (the rm -rf deletes the sealed ones), or in a writer drop counter.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

RATE=${FT_RATE:-1000}
RO=${FT_RO:-5}
RM=${FT_RM:-3}

ft_require_lab
mt_require_cmd chattr
mt_topology_create 2

OUT=$MT_TMP/seg
mkdir -p "$OUT"
if ! chattr +i "$OUT" 2>/dev/null; then
	skip "chattr +i does not work on $MT_TMP's filesystem"
fi
chattr -i "$OUT"
SAFE=$MT_TMP/safe
ft_copy_hook "$MT_TMP/hook.sh" "$SAFE"
CONF=$MT_TMP/d.conf
ft_config "$CONF" "$OUT" output.rotate_size=128K output.rotate_idle=1s \
	"output.hook=$MT_TMP/hook.sh \"\$1\"" output.hook_queue=1024

# probe_while SECONDS: /healthz every 0.5 s; sets BAD (503 answers) and WHY.
probe_while() {
	local i code body
	BAD=0
	WHY=
	for ((i = 0; i < $1 * 2; i++)); do
		sleep 0.5
		read -r code body < <(ft_healthz)
		if [ "$code" = 503 ]; then
			BAD=$((BAD + 1))
			WHY=$body
		fi
	done
}

# resumed WHAT: writer.records must grow within 10 s.
resumed() {
	local a b i
	ft_status "$MT_TMP/r.json"
	a=$(ft_json "$MT_TMP/r.json" writer.records)
	for ((i = 0; i < 20; i++)); do
		sleep 0.5
		ft_status "$MT_TMP/r.json"
		b=$(ft_json "$MT_TMP/r.json" writer.records)
		[ "$b" -gt "$a" ] && return 0
	done
	ft_check 1 "capture did not resume after $1 (writer.records stays $a)"
}

ft_daemon_start d "$CONF"
ft_sender_start s "$RATE"
sleep 4

chattr +i "$OUT"
probe_while "$RO"
chattr -i "$OUT"
log "read-only for $RO s: /healthz 503 in $BAD probes ('$WHY')"
[ "$BAD" -gt 0 ] || ft_check 1 "/healthz never said 503 while $OUT was read-only"
RO_WHY=$WHY
resumed "the directory became writable again"
sleep 3

# The open segment dies with the directory: keep a link to it, so the
# numbers the daemon wrote into it (and counted as written) can be told
# from lost ones -- "removed unsealed" below.
mkdir -p "$MT_TMP/open"
find "$OUT" -maxdepth 1 -name '.*.part' -exec ln {} "$MT_TMP/open/" \;
rm -rf "$OUT"
probe_while "$RM"
log "removed for $RM s: /healthz 503 in $BAD probes ('$WHY')"
[ "$BAD" -gt 0 ] || ft_check 1 "/healthz never said 503 after $OUT was removed"
RM_WHY=$WHY
mkdir -p "$OUT"
resumed "the directory was removed"
sleep 3
# Is the recreated directory the one written to?  A segment must appear.
for ((i = 0; i < 20; i++)); do
	[ -n "$(ls -A "$OUT")" ] && break
	sleep 0.5
done
[ -n "$(ls -A "$OUT")" ] ||
	ft_check 1 "nothing was written into the recreated $OUT within 10 s (still writing into the removed one?)"

ft_wind_down
[ "$DRC" -le 1 ] || ft_check 1 "exit status after SIGTERM: $DRC (a crash?)"
# The next start recovers what a failed rename left as .part.
ft_daemon_start d2 "$CONF"
mt_daemon_stop
read -r DF DS DIO WE RL RC < <(ft_json "$MT_TMP/final.json" writer.dropped_disk_full \
	writer.dropped_stopped writer.dropped_io_error segments.write_errors \
	segments.records_lost segments.dir_recreated | xargs)
[ "$RC" -ge 1 ] || ft_check 1 "segments.dir_recreated is $RC after the directory was removed"
DROPS=$((DF + DS + DIO))
sleep 1
ft_read_union "$MT_TMP/got" "$OUT" "$SAFE"
# Numbers only in the open segment the rm -rf took (read with tshark too).
for f in "$MT_TMP"/open/.*.part; do
	[ -e "$f" ] || continue
	# (a .part ends in preallocated zeros: tshark complains at the end)
	tshark -r "$f" -Y "udp.dstport == $FT_PORT" -T fields -e udp.payload 2>/dev/null || true
done | "$MT_PYTHON" -c '
import sys
for line in sys.stdin:
    p = bytes.fromhex(line.strip().replace(":", ""))
    if p.startswith(b"mt-seq "):
        print(int(p[7:17]))
' | sort -u >"$MT_TMP/removed"
REMOVED=$(sort -u "$MT_TMP/got" | comm -13 - "$MT_TMP/removed" | wc -l)
# The daemon counts them (records_lost also holds the lab's other frames).
[ "$RL" -ge "$REMOVED" ] ||
	ft_check 1 "segments.records_lost $RL < $REMOVED numbers only in the removed open segment"
DROPS=$((DROPS + REMOVED))
EXCUSED=0
ft_account "$SENT" "$MT_TMP/got" "$DROPS" "$EXCUSED"
ft_note "$REMOVED numbers were only in the open segment that rm -rf removed unsealed: counted, segments.records_lost $RL; directory made again $RC time(s)"
ft_note "writer drops: io_error $DIO, disk_full $DF, stopped $DS (write_errors $WE); /healthz read-only: '$RO_WHY'; removed: '$RM_WHY'"
ft_result "$SENT" "$FT_CAPTURED" "$DROPS" "$FT_LOST" "$FT_DUPS" "$FT_CORRUPT" "$EXCUSED"
ft_finish
