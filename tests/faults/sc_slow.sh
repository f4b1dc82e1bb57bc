#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fault scenario "slow consumers": 512 KiB segments of incompressible
# datagrams (about two a second) gzipped at level 9, while the on-seal hook is first one that
# hangs (killed after hook_timeout = 2 s; one at a time, at most 4 waiting),
# then, after a reload, one that fails -- while CPU hogs starve the nice-19
# compressor, so compression falls behind capture.  Checked:
#   - capture keeps going: every number is in a sealed segment;
#   - the hook backlog is bounded: hook processes never exceed
#     hook_parallel, hooks beyond the queue are skipped and counted
#     (segments.hooks_skipped), hangs and failures are counted
#     (segments.hook_failures) -- visible in `mirrorctl status --json`;
#   - the gzip backlog (status: segments.sealed - compressed) is sampled; at the
#     end every sealed segment is compressed and none was deleted: nothing
#     is deleted before it is sealed (and compressed).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

RATE=${FT_RATE:-1000}
HANG=${FT_HANG:-12}
FAILS=${FT_FAILS:-6}

ft_require_lab
mt_topology_create 2

OUT=$MT_TMP/seg
CONF=$MT_TMP/d.conf
printf '%s\n' '#!/bin/sh' "echo \"\$1\" >>'$MT_TMP/hang.log'" 'exec sleep 600' >"$MT_TMP/hang.sh"
printf '%s\n' '#!/bin/sh' "echo \"\$1\" >>'$MT_TMP/fail.log'" 'exit 3' >"$MT_TMP/fail.sh"
chmod +x "$MT_TMP/hang.sh" "$MT_TMP/fail.sh"
ft_config "$CONF" "$OUT" output.rotate_size=512K output.compress=yes \
	output.compress_level=9 "output.hook=$MT_TMP/hang.sh \"\$1\"" \
	output.hook_parallel=1 output.hook_queue=4 output.hook_timeout=2s
ft_daemon_start d "$CONF"
# 1200 random bytes a datagram (about 1.2 MB/s): more than a starved
# nice-19 gzip -9 gets through.
FT_PAD=1200 ft_sender_start s "$RATE"

# sample SECONDS: every 0.5 s the hook processes (children of the daemon
# running a hook script) and the gzip backlog; sets MAXHOOKS, MAXGZ.
MAXHOOKS=0
MAXGZ=0
sample() {
	local i h g
	for ((i = 0; i < $1 * 2; i++)); do
		sleep 0.5
		# shellcheck disable=SC2009 # pgrep -f would match this shell's own line
		h=$(ps -e -o args= | grep -c "^/bin/sh -c $MT_TMP/[a-z]*.sh" || true)
		g=$(find "$OUT" -maxdepth 1 -name '*.pcap' ! -name '.*' | wc -l)
		if [ "$h" -gt "$MAXHOOKS" ]; then MAXHOOKS=$h; fi
		if [ "$g" -gt "$MAXGZ" ]; then MAXGZ=$g; fi
		# the same backlog as the status shows it: sealed - compressed
		ft_status "$MT_TMP/sample.json" || continue
		g=$(ft_json "$MT_TMP/sample.json" segments.sealed segments.compressed \
			segments.compress_failures | xargs | awk '{ print $1 - $2 - $3 }')
		if [ "$g" -gt "$MAXST" ]; then MAXST=$g; fi
	done
}
MAXST=0

sample "$HANG"
ft_status "$MT_TMP/hang.json"
read -r SKIP1 FAIL1 RUN1 < <(ft_json "$MT_TMP/hang.json" segments.hooks_skipped \
	segments.hook_failures segments.hooks_run | xargs)
log "hanging hook, $HANG s: hooks run $RUN1, failed (timed out) $FAIL1, skipped $SKIP1; at most $MAXHOOKS hook process(es), gzip backlog at most $MAXGZ"
[ "$SKIP1" -gt 0 ] || ft_check 1 "a hanging hook with hook_queue = 4: no hook skipped (hooks_skipped = 0)"
[ "$FAIL1" -gt 0 ] || ft_check 1 "a hook hanging past hook_timeout was not counted as failed"
[ "$MAXHOOKS" -le 1 ] || ft_check 1 "$MAXHOOKS hook processes at once with hook_parallel = 1"

sed -i "s|^hook = .*|hook = $MT_TMP/fail.sh \"\$1\"|" "$CONF"
mt_expect_rc 0 reload "$FT_CTL" --socket "$FT_SOCK" reload
# Meanwhile compression slower than capture: the compressor runs at nice
# 19, so two busy loops at nice 0 (one per vCPU here) leave it a sliver of
# CPU while the workers keep capturing.
HOGS=()
for ((i = 0; i < $(nproc); i++)); do
	timeout "$FAILS" "$MT_PYTHON" -c 'while True: pass' &
	HOGS+=($!)
	MT_PIDS+=($!)
done
sample "$FAILS"
wait "${HOGS[@]}" 2>/dev/null || true
ft_status "$MT_TMP/fail.json"
FAIL2=$(ft_json "$MT_TMP/fail.json" segments.hook_failures)
NFAIL=$(wc -l <"$MT_TMP/fail.log" 2>/dev/null || echo 0)
log "failing hook, $FAILS s: ran $NFAIL times, hook_failures $FAIL1 -> $FAIL2"
[ "$NFAIL" -gt 0 ] || ft_check 1 "the failing hook never ran after the reload"
[ "$((FAIL2 - FAIL1))" -ge "$NFAIL" ] ||
	ft_check 1 "the failing hook ran $NFAIL times, hook_failures grew by $((FAIL2 - FAIL1))"

ft_sender_stop s
SENT=$FT_SENT
sleep 2.5
mt_daemon_stop
ft_check "$DRC" "exit status after SIGTERM: $DRC"
ft_status "$MT_TMP/final.json" 2>/dev/null || true
RAW=$(find "$OUT" -maxdepth 1 -name '*.pcap' ! -name '.*' | wc -l)
GZ=$(find "$OUT" -maxdepth 1 -name '*.pcap.gz' | wc -l)
[ "$RAW" = 0 ] || ft_check 1 "$RAW sealed segment(s) not compressed after the stop"
SUMMARY=$MT_TMP/d.out
DEL=$(grep -Eo 'deleted[^0-9]*[0-9]+' "$SUMMARY" | grep -Eo '[0-9]+$' | head -n1 || true)
ft_read_segments "$MT_TMP/got" "$OUT"
DROPS=$(ft_json "$MT_TMP/fail.json" writer.dropped_disk_full writer.dropped_stopped writer.dropped_io_error | awk '{ s += $1 } END { print s + 0 }')
ft_account "$SENT" "$MT_TMP/got" "$DROPS"
ft_note "hang: $FAIL1 timed out, $SKIP1 skipped (queue 4), <= $MAXHOOKS hook process; fail: $((FAIL2 - FAIL1)) failures counted; gzip backlog (status sealed - compressed) <= $MAXST, raw files <= $MAXGZ, $GZ compressed, $RAW left raw${DEL:+, deleted $DEL}"
ft_result "$SENT" "$FT_CAPTURED" "$DROPS" "$FT_LOST" "$FT_DUPS" "$FT_CORRUPT"
ft_finish
