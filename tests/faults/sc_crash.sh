#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Fault scenario "crash": kill -9 under load, FT_CRASHES times (20; 8 with
# --quick), each at another kind of moment, cycling through
#   batch        a random moment of steady capture (mid-batch),
#   rotation     right after `mirrorctl rotate` (mid-rotation / sealing),
#   compression  while a .NAME.pcap.gz.part exists (mid-gzip),
#   gz-renamed   after NAME.pcap.gz is renamed into place, before the raw
#                NAME.pcap is removed (the end of a compression),
#   hook         while the on-seal hook runs (mid-hook),
# and restarts the daemon each time.  Checked:
#   - ordinary traffic (ping + TCP to the target) works while it is down;
#   - every .part left by a kill is gone after the next start (recovered
#     into a sealed segment, or removed when it held no whole record);
#   - a sealed segment is never changed afterwards (sha256 over the kills;
#     once compressed, its gunzipped bytes);
#   - every segment Wireshark reads cleanly (capinfos, tshark), every
#     number sent is in a
#     segment exactly once -- except the numbers sent while no daemon could
#     count them: from 2 s before a kill (a worker's private buffer, flushed
#     at least once a second, dies with the process) until the restarted
#     daemon reports capturing.  Those are the "crash window" column; any
#     other missing number is lost.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

CRASHES=${FT_CRASHES:-20}
RATE=${FT_RATE:-1000}
WINDOW=2.0 # seconds before a kill whose numbers may die in a buffer

ft_require_lab
mt_topology_create 2

OUT=$MT_TMP/seg
HOOK=$MT_TMP/hook.sh
printf '%s\n' '#!/bin/sh' \
	'# on-seal hook: slow enough that a kill lands in it now and then' \
	"touch '$MT_TMP/hook.running'" 'sleep 0.4' \
	"echo \"\$1\" >>'$MT_TMP/hooks.log'" "rm -f '$MT_TMP/hook.running'" >"$HOOK"
chmod +x "$HOOK"
CONF=$MT_TMP/d.conf
ft_config "$CONF" "$OUT" output.rotate_size=64K output.compress=yes \
	output.compress_level=9 "output.hook=$HOOK \"\$1\"" output.rotate_idle=1s

# kill_at MOMENT: waits for the moment (at most 3 s), then SIGKILL; prints
# the moment actually hit ("batch" when the wait timed out) and the time.
kill_at() {
	"$MT_PYTHON" - "$1" "$DPID" "$OUT" "$MT_TMP/hook.running" \
		"$FT_CTL" "$FT_SOCK" <<'PY'
import os, random, signal, subprocess, sys, time
moment, pid, out, hookmark, ctl, sock = sys.argv[1:7]
pid = int(pid)
def renamed_gz():
    # gzip done and renamed, the raw segment not yet removed
    try:
        names = set(os.listdir(out))
    except OSError:
        return False
    return any(n.endswith(".pcap.gz") and n[:-3] in names for n in names)
def parts_gz():
    try:
        return any(n.endswith(".pcap.gz.part") for n in os.listdir(out))
    except OSError:
        return False
hit = "batch"
# a few seconds of steady capture first, so that most numbers are sent
# while a daemon runs and the .part has records to recover
time.sleep(random.uniform(2.0, 4.0))
if moment == "batch":
    time.sleep(random.uniform(0, 1.0))
elif moment == "rotation":
    time.sleep(random.uniform(0.3, 1.0))
    subprocess.Popen([ctl, "--socket", sock, "rotate"], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    time.sleep(random.uniform(0, 0.02))
    hit = "rotation"
else:
    cond = {"compression": parts_gz, "gz-renamed": renamed_gz,
            "hook": lambda: os.path.exists(hookmark)}[moment]
    end = time.time() + 3
    while time.time() < end:
        if cond():
            hit = moment
            break
        time.sleep(0.0005)
os.kill(pid, signal.SIGKILL)
print(hit, "%.6f" % time.time())
PY
}

hash_sealed() {
	local f
	for f in $(ft_sealed "$OUT"); do
		case $f in
		*.gz) printf '%s %s\n' "$(basename "${f%.gz}")" "$(gzip -dc "$f" | sha256sum | cut -d' ' -f1)" ;;
		*) printf '%s %s\n' "$(basename "$f")" "$(sha256sum <"$f" | cut -d' ' -f1)" ;;
		esac
	done
}

MOMENTS=(batch rotation compression hook batch rotation gz-renamed hook)
: >"$MT_TMP/windows"
: >"$MT_TMP/hashes"
ft_daemon_start run0 "$CONF"
ft_sender_start s "$RATE"
declare -A HITS=()
PARTS_LEFT=0
DOWN_FAIL=0
for ((k = 1; k <= CRASHES; k++)); do
	m=${MOMENTS[$(((k - 1) % ${#MOMENTS[@]}))]}
	read -r hit t_kill < <(kill_at "$m")
	{ wait "$DPID"; } 2>/dev/null || true
	HITS[$hit]=$((${HITS[$hit]:-0} + 1))
	# Down: the instance's own traffic must not care.
	mt_ordinary_ok || DOWN_FAIL=$((DOWN_FAIL + 1))
	hash_sealed >>"$MT_TMP/hashes"
	mapfile -t parts < <(find "$OUT" -maxdepth 1 -name '.*.part' -printf '%f\n')
	ft_daemon_start "run$k" "$CONF"
	t_up=$(date +%s.%N)
	printf '%s %s\n' "$t_kill" "$t_up" >>"$MT_TMP/windows"
	cur=
	ft_status "$MT_TMP/st.json" && cur=$(ft_json "$MT_TMP/st.json" segments.current)
	for p in "${parts[@]}"; do
		# Gone, or the restarted daemon's own open segment (names of
		# open segments restart at 1), or a gzip being redone.
		[ -e "$OUT/$p" ] || continue
		[ "$p" = "$cur" ] && continue
		case $p in *.gz.part) continue ;; esac
		PARTS_LEFT=$((PARTS_LEFT + 1))
		log "kill $k: $p still there after the restart"
	done
	log "kill $k ($hit): down $(awk -v a="$t_kill" -v b="$t_up" 'BEGIN { printf "%.2f", b - a }') s, ${#parts[@]} .part file(s) before the restart"
done
sleep 2
ft_sender_stop s
SENT=$FT_SENT
sleep 2.5 # idle flush, rotate_idle seal
mt_daemon_stop
ft_check "$DRC" "exit status after SIGTERM: $DRC"
ft_check "$DOWN_FAIL" "ordinary traffic failed $DOWN_FAIL time(s) while the daemon was down"
ft_check "$PARTS_LEFT" "$PARTS_LEFT .part file(s) not recovered by the next start"
LEFT=$(find "$OUT" -maxdepth 1 -name '.*.part' | wc -l)
ft_check "$LEFT" "$LEFT .part file(s) left after the final SIGTERM"

# Sealed segments never change: the last hash recorded for a name must be
# the one it has now (raw or gunzipped), and a name never disappears.
hash_sealed >"$MT_TMP/hashes.now"
CHANGED=$("$MT_PYTHON" - "$MT_TMP/hashes" "$MT_TMP/hashes.now" <<'PY'
import sys
seen = {}
bad = 0
for line in open(sys.argv[1]):
    n, h = line.split()
    if n in seen and seen[n] != h:
        print("changed between kills:", n, file=sys.stderr); bad += 1
    seen[n] = h
now = dict(l.split() for l in open(sys.argv[2]))
for n, h in seen.items():
    if n not in now:
        print("disappeared:", n, file=sys.stderr); bad += 1
    elif now[n] != h:
        print("changed:", n, file=sys.stderr); bad += 1
print(bad)
PY
)
ft_check "$CHANGED" "$CHANGED sealed segment(s) changed or disappeared after sealing"

ft_read_segments "$MT_TMP/got" "$OUT"
# The crash window: numbers sent from WINDOW s before a kill until the
# restarted daemon captured again (burst send times in s.times).
EXCUSED=$("$MT_PYTHON" - "$MT_TMP/got" "$MT_TMP/s.times" "$MT_TMP/windows" "$SENT" "$WINDOW" <<'PY'
import bisect, sys
got = set(int(l) for l in open(sys.argv[1]) if l.strip())
bursts = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
wins = [tuple(map(float, l.split())) for l in open(sys.argv[3]) if l.strip()]
sent, before = int(sys.argv[4]), float(sys.argv[5])
starts = [int(b[0]) for b in bursts]
n = 0
for i in range(sent):
    if i in got:
        continue
    t = bursts[bisect.bisect_right(starts, i) - 1][1]
    if any(k - before <= t <= u for k, u in wins):
        n += 1
print(n)
PY
)
ft_account "$SENT" "$MT_TMP/got" 0 "$EXCUSED"
hits=""
for m in batch rotation compression gz-renamed hook; do hits+="$m ${HITS[$m]:-0}, "; done
REC=$(cat "$MT_TMP"/run*.err | grep -c 'recovery: sealing' || true)
ft_note "$CRASHES kills (${hits%, }); $REC .part recovered into sealed segments; $FT_SEGS segments; 'crash window' = sent from 2 s before a kill until the restart captured"
ft_result "$SENT" "$FT_CAPTURED" 0 "$FT_LOST" "$FT_DUPS" "$FT_CORRUPT" "$EXCUSED"
ft_finish
