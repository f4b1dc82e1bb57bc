#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Minimal reproduction (found by sc_outdir.sh): when the segment directory
# is removed under load and created again, mirror-targetd never writes into
# the new directory.  The segmenter keeps the directory fd it opened at
# start (daemon/core/segment.c, sg->dirfd); every later openat() of a new
# segment in the removed directory fails with ENOENT, so every packet until
# a restart is dropped (counted as writer.dropped_io_error), and the
# records already written into the open segment are lost with it (counted
# as written, in no drop counter).  Exits 1 while the defect is there, 0
# once the daemon writes into the recreated directory.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

ft_require_lab
mt_topology_create 1
OUT=$MT_TMP/seg
ft_config "$MT_TMP/d.conf" "$OUT" output.rotate_size=64K
ft_daemon_start d "$MT_TMP/d.conf"
ft_sender_start s 500
sleep 2
rm -rf "$OUT"
sleep 1
mkdir "$OUT"
sleep 5
ft_status "$MT_TMP/st.json"
ft_sender_stop s
mt_daemon_stop
log "after rm -rf + mkdir: $(find "$OUT" -mindepth 1 | wc -l) file(s) in the new directory; writer.dropped_io_error $(ft_json "$MT_TMP/st.json" writer.dropped_io_error)"
grep -E 'creating the next segment|rename' "$MT_TMP/d.err" | sort | uniq -c | sed 's/^/    /' >&2
[ -n "$(ls -A "$OUT")" ] || fail "nothing was written into the recreated $OUT"
log PASS
