#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fault scenario "disk full": the segments live on an 8 MiB tmpfs.  Under a
# steady numbered stream, something else (a runaway "log") fills the
# filesystem and keeps filling whatever gets freed for FT_FULL seconds;
# then the operator removes it.  Checked:
#   - the daemon does not crash (SIGTERM exit 0 at the end);
#   - while the disk is full, /healthz answers 503 and says why, and
#     `mirrorctl status` shows the disk-full drops;
#   - retention deleted sealed segments to make room (min_free);
#   - after the filler is gone, capture resumes by itself and /healthz is
#     200 again;
#   - no segment is corrupt (capinfos, tshark), and every number sent is in a sealed
#     segment (or in the copy the on-seal hook made before retention
#     deleted it) or counted in the writer's drop counters
#     (dropped_disk_full / dropped_stopped / dropped_io_error).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

RATE=${FT_RATE:-1000}
FULL=${FT_FULL:-8}

ft_require_lab
mt_topology_create 2

SMALL=$MT_TMP/small
ft_mount_tmpfs "$SMALL" 8M
OUT=$SMALL/seg
SAFE=$MT_TMP/safe
ft_copy_hook "$MT_TMP/hook.sh" "$SAFE"
CONF=$MT_TMP/d.conf
ft_config "$CONF" "$OUT" output.rotate_size=256K output.min_free=1M \
	output.rotate_idle=1s "output.hook=$MT_TMP/hook.sh \"\$1\"" \
	output.hook_queue=1024
ft_daemon_start d "$CONF"
ft_sender_start s "$RATE"
sleep 6

# The runaway writer: fills the filesystem, and refills what retention
# frees, until $MT_TMP/filler.stop exists.
"$MT_PYTHON" - "$SMALL/filler" "$MT_TMP/filler.stop" <<'PY' &
import errno, os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
block = b"\0" * 4096
while not os.path.exists(sys.argv[2]):
    try:
        while True:
            os.write(fd, block)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    time.sleep(0.02)
PY
FILLER=$!
MT_PIDS+=("$FILLER")

# While it lasts: what /healthz and mirrorctl say.
H503=0
HWHY=
STWHY=0
PROBES=0
end=$((SECONDS + FULL))
while [ "$SECONDS" -lt "$end" ]; do
	PROBES=$((PROBES + 1))
	sleep 0.25
	read -r code body < <(ft_healthz)
	if [ "$code" = 503 ]; then
		H503=$((H503 + 1))
		HWHY=$body
	fi
	if "$FT_CTL" --socket "$FT_SOCK" status >"$MT_TMP/status.txt" 2>&1 &&
		grep -Eq '[1-9][0-9]* disk full|WRITING STOPPED' "$MT_TMP/status.txt"; then
		STWHY=$((STWHY + 1))
	fi
done
ft_status "$MT_TMP/full.json"
touch "$MT_TMP/filler.stop"
wait "$FILLER"
rm -f "$SMALL/filler"
log "disk full for ${FULL} s: /healthz 503 in $H503 of $PROBES probes ('$HWHY'); mirrorctl status named disk-full drops in $STWHY"
[ "$H503" -gt 0 ] || ft_check 1 "/healthz never answered 503 while the disk was full"
echo "$HWHY" | grep -Eqi 'disk full|writing|failed|stopped' ||
	ft_check 1 "/healthz did not say why: '$HWHY'"
[ "$STWHY" -gt 0 ] || ft_check 1 "mirrorctl status never showed disk-full drops while the disk was full"
sed 's/^/    /' "$MT_TMP/status.txt" | grep -E 'disk|writer|dropped' >&2 || true

# Capture resumes by itself, /healthz recovers.
OKAT=
# (/healthz stays 503 for MT_HEALTH_ERROR_WINDOW_S = 30 s after the last
# failed write, by design.)
for ((i = 0; i < 90; i++)); do
	sleep 0.5
	read -r code body < <(ft_healthz)
	if [ "$code" = 200 ]; then
		OKAT=$i
		break
	fi
done
[ -n "$OKAT" ] || ft_check 1 "/healthz did not answer 200 within 45 s after the disk was freed ($code $body)"
ft_status "$MT_TMP/a.json"
sleep 4
ft_status "$MT_TMP/b.json"
W0=$(ft_json "$MT_TMP/a.json" writer.records)
W1=$(ft_json "$MT_TMP/b.json" writer.records)
[ "$W1" -gt "$W0" ] || ft_check 1 "capture did not resume: writer.records $W0 -> $W1 after the disk was freed"

ft_wind_down
# Documented: 1 after a stop when writing failed during the run; no crash.
[ "$DRC" -le 1 ] || ft_check 1 "exit status after SIGTERM: $DRC (a crash?)"
DEL=$(ft_json "$MT_TMP/final.json" segments.deleted_by_retention)
[ "$DEL" -gt 0 ] || ft_check 1 "retention deleted no segment (deleted_by_retention = 0)"
read -r DF DS DIO WE < <(ft_json "$MT_TMP/final.json" writer.dropped_disk_full \
	writer.dropped_stopped writer.dropped_io_error segments.write_errors | xargs)
[ "$DF" -gt 0 ] || ft_check 1 "no drop counted as disk full (dropped_disk_full = 0)"
DROPS=$((DF + DS + DIO))
# Everything the hook had to copy was copied before retention deleted it.
sleep 1
ft_read_union "$MT_TMP/got" "$OUT" "$SAFE"
ft_account "$SENT" "$MT_TMP/got" "$DROPS"
ft_note "writer drops: disk_full $DF, stopped $DS, io_error $DIO (write_errors $WE); retention deleted $DEL segments; /healthz 503 '$HWHY'; 200 again $((OKAT / 2)) s after the space came back"
if [ "$FT_LOST" != 0 ]; then
	grep -E 'lost|failed|error' "$MT_TMP/d.err" | sort | uniq -c | sort -rn | head -n 8 >&2 || true
fi
ft_result "$SENT" "$FT_CAPTURED" "$DROPS" "$FT_LOST" "$FT_DUPS" "$FT_CORRUPT"
ft_finish
