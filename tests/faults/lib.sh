# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# Shared helpers of the fault suite (tests/faults/sc_*.sh).  Source it:
#
#   . "$(dirname "$0")/lib.sh"
#
# It sources tests/e2e/lib.sh (namespaces, the lab topology, the daemon
# in the target namespace, cleanup on exit, exit 77 = skipped) and adds:
#
#   - a numbered sender: UDP datagrams "mt-seq NNNNNNNNNN" to the inner
#     peer 192.0.2.2:9999 from 8 sockets (8 flows, spread over the rx
#     queues) at a moderate steady rate, with a send-time log so a number
#     can be placed in time (the crash scenario needs that);
#   - the accounting: every number sent is found in a sealed segment (read
#     with tshark, never with our own reader), or is covered by a named drop
#     counter of the daemon, or it is lost; segments tshark cannot read are
#     corrupt;
#   - `mirrorctl status --json` snapshots and JSON field reads;
#   - one result row per scenario, appended to $FT_RESULTS (run.sh prints
#     them as the table).
#
# Addresses: underlay 198.18.0.0/15, inner 192.0.2.0/24 and 2001:db8::/32
# only (those of tests/e2e/lib.sh).

# Variables set here are read by the scenarios that source this file.
# shellcheck disable=SC2034
# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

FT_PORT=9999
FT_QUICK=${FT_QUICK:-0}
FT_RESULTS=${FT_RESULTS:-$MT_TMP/results.tsv}
FT_SCENARIO=${MT_E2E_NAME#sc_}
FT_CHECKS_FAILED=0
FT_NOTES=()

# The daemon, mirrorctl and tshark must be there; the lab must work.
ft_require_lab() {
	mt_require_root
	mt_require_cmd tshark capinfos mergecap ip bridge curl
	mt_require_python
	"$MT_PYTHON" -c 'import scapy' 2>/dev/null ||
		skip "scapy is missing for $MT_PYTHON (apt-get install python3-scapy)"
	mt_require_netns_vxlan
	FT_DAEMON=$(mt_bin mirror-targetd)
	FT_CTL=$(mt_bin mirrorctl)
}

# ft_check COND_STATUS MESSAGE: records a failed scenario check (the
# scenario goes on, so the table still shows its figures).
ft_check() {
	if [ "$1" != 0 ]; then
		log "CHECK FAILED: $2"
		FT_CHECKS_FAILED=$((FT_CHECKS_FAILED + 1))
		FT_NOTES+=("FAILED: $2")
	fi
}

ft_note() {
	log "$*"
	FT_NOTES+=("$*")
}

# ---- configuration -----------------------------------------------------------

# ft_config FILE OUTDIR [SECTION.KEY=VALUE]...: writes a daemon config for
# the lab: veth-tgt, generic-or-native XDP as the e2e tests use it, the
# allow-lists of the topology, a control socket and a metrics listener in
# $MT_TMP, only the numbered stream accepted (so every record written is a
# numbered datagram and the writer's drop counters count only those).
FT_SOCK=
FT_METRICS=127.0.0.1:9464
ft_config() {
	local file=$1 out=$2 kv sec key val
	shift 2
	FT_SOCK=$MT_TMP/control.sock
	declare -A cfg=(
		[capture.interface]=veth-tgt
		[capture.allow_sources]=$MT_OUTER_SRC/32
		[capture.allow_vnis]=$MT_VNI
		[output.directory]=$out
		[output.rotate_size]=1M
		[output.rotate_interval]=0
		[output.rotate_idle]=2s
		[output.min_free]=0
		[filter.rules]=$MT_TMP/stream.rules
		[control.control_socket]=$FT_SOCK
		[control.metrics_listen]=$FT_METRICS
	)
	for kv in "$@"; do
		cfg[${kv%%=*}]=${kv#*=}
	done
	[ -e "$MT_TMP/stream.rules" ] || ft_stream_rules "$MT_TMP/stream.rules"
	: >"$file"
	for sec in capture output filter control; do
		printf '[%s]\n' "$sec" >>"$file"
		for kv in "${!cfg[@]}"; do
			[ "${kv%%.*}" = "$sec" ] || continue
			key=${kv#*.}
			val=${cfg[$kv]}
			printf '%s = %s\n' "$key" "$val" >>"$file"
		done
		printf '\n' >>"$file"
	done
}

# ft_stream_rules FILE: a rule set that captures exactly the numbered stream.
ft_stream_rules() {
	cat >"$1" <<EOF
# the fault suite's numbered stream, nothing else
100 accept any udp 0.0.0.0/0 0.0.0.0/0 dport=$FT_PORT desc="numbered stream"
EOF
}

# ft_daemon_start NAME CONFIG [ARGS...]: starts mirror-targetd with CONFIG in
# NS_TGT and waits until it captures and its control socket is up.
ft_daemon_start() {
	local name=$1 conf=$2
	shift 2
	rm -f "$FT_SOCK"
	mt_daemon_start "$name" --socket "$FT_SOCK" "$FT_DAEMON" --config "$conf" "$@"
}

# ---- the numbered sender -----------------------------------------------------

# ft_sender_start NAME RATE [START]: sends numbered datagrams at about RATE
# a second (bursts of 10) from NS_SRC until ft_sender_stop NAME, numbers
# from START (default 0).  $MT_TMP/NAME.times gets "first_seq unix_time"
# per burst; $MT_TMP/NAME.sent the next number when it stopped.  With
# FT_PAD=N each datagram carries N random bytes after its number (data
# that gzip cannot shrink).
FT_SENDER_PID=
ft_sender_start() {
	local name=$1 rate=$2 start=${3:-0}
	rm -f "$MT_TMP/$name.stop" "$MT_TMP/$name.sent"
	ip netns exec "$NS_SRC" "$MT_PYTHON" - "$MT_INNER4_DST" "$FT_PORT" \
		"$MT_TMP/$name.stop" "$rate" "$start" "$MT_TMP/$name.times" \
		"${FT_PAD:-0}" >"$MT_TMP/$name.sent" <<'PY' &
import os, socket, sys, time
dst, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rate, seq, times = float(sys.argv[4]), int(sys.argv[5]), open(sys.argv[6], "w")
pad = int(sys.argv[7])
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
burst = 10
t0 = time.monotonic()
n = 0
while not os.path.exists(stop):
    times.write("%d %.6f\n" % (seq, time.time()))
    for _ in range(burst):
        while True:
            try:
                # fresh random bytes each: nothing for gzip to match
                socks[seq % 8].sendto(b"mt-seq %010d" % seq + os.urandom(pad),
                                      (dst, port))
                break
            except (BlockingIOError, ConnectionRefusedError):
                # a full socket buffer: try again, the number is not sent yet
                time.sleep(0.001)
        seq += 1
    n += burst
    # steady rate, catching up after a stall instead of bursting far ahead
    ahead = t0 + n / rate - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
    elif ahead < -1:
        t0 = time.monotonic() - n / rate
times.close()
print(seq)
PY
	FT_SENDER_PID=$!
	MT_PIDS+=("$FT_SENDER_PID")
}

# ft_sender_stop NAME: stops it; FT_SENT = the next number (= how many
# were sent when it started at 0).  (Not in $(...): a subshell cannot wait.)
FT_SENT=0
ft_sender_stop() {
	touch "$MT_TMP/$1.stop"
	wait "$FT_SENDER_PID" || fail "the numbered sender failed"
	FT_SENT=$(cat "$MT_TMP/$1.sent")
}

# ---- reading segments ----------------------------------------------------------

# ft_sealed DIR: sealed segments (.pcap and .pcap.gz), sorted.
ft_sealed() {
	find "$1" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcap.gz' \) \
		! -name '.*' | sort
}

# ft_read_segments OUTFILE DIR...: reads every sealed segment of each DIR
# with Wireshark's own reader: each file is checked with capinfos (a file
# it cannot read to the end cleanly is corrupt; its name goes to
# OUTFILE.corrupt), then all of them are concatenated by mergecap and
# dissected by one tshark (one tshark per file costs half a second each).
# The sequence numbers found go to OUTFILE, one a line, with repeats.
# Sets FT_SEGS (segments read) and FT_CORRUPT.
FT_SEGS=0
FT_CORRUPT=0
ft_read_segments() {
	local outf=$1 d f err=$MT_TMP/capinfos.err files=()
	shift
	: >"$outf"
	: >"$outf.corrupt"
	for d in "$@"; do
		while read -r f; do
			files+=("$f")
			if ! capinfos -c "$f" >/dev/null 2>"$err" || [ -s "$err" ]; then
				printf '%s: %s\n' "$f" "$(head -n1 "$err")" >>"$outf.corrupt"
			fi
		done < <(ft_sealed "$d")
	done
	FT_SEGS=${#files[@]}
	FT_CORRUPT=$(wc -l <"$outf.corrupt")
	if [ "$FT_CORRUPT" != 0 ]; then
		log "segments Wireshark's reader did not read cleanly:"
		sed 's/^/    /' "$outf.corrupt" >&2
	fi
	[ "$FT_SEGS" != 0 ] || return 0
	{ mergecap -a -w - "${files[@]}" 2>/dev/null || true; } |
		{ tshark -r - -Y "udp.dstport == $FT_PORT" -T fields -e udp.payload \
			2>/dev/null || true; } |
		"$MT_PYTHON" -c '
import sys
for line in sys.stdin:
    p = bytes.fromhex(line.strip().replace(":", "")[:34])
    if p.startswith(b"mt-seq "):
        print(int(p[7:17]))
' >>"$outf"
}

# ---- status ------------------------------------------------------------------

# ft_status FILE: `mirrorctl status --json` of the running daemon to FILE.
ft_status() {
	"$FT_CTL" --socket "$FT_SOCK" status --json >"$1" 2>"$1.err"
}

# ft_json FILE PATH...: the value at each dotted PATH (a missing one: 0),
# one a line; sums over a list when a path part is "*".
ft_json() {
	"$MT_PYTHON" - "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
def get(node, parts):
    if not parts:
        return node
    p, rest = parts[0], parts[1:]
    if p == "*":
        vals = [get(x, rest) for x in (node if isinstance(node, list) else node.values())]
        return sum(v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool))
    if isinstance(node, dict) and p in node:
        return get(node[p], rest)
    if isinstance(node, list) and p.isdigit() and int(p) < len(node):
        return get(node[int(p)], rest)
    return 0
for path in sys.argv[2:]:
    v = get(doc, path.split("."))
    if isinstance(v, bool):
        v = int(v)
    print(v if not isinstance(v, (dict, list)) else json.dumps(v))
PY
}

# ft_writer_drops FILE: the writer's named drop counters, summed.
ft_writer_drops() {
	ft_json "$1" writer.dropped_disk_full writer.dropped_stopped \
		writer.dropped_io_error | awk '{ s += $1 } END { print s + 0 }'
}

# ft_healthz: "CODE BODY" of GET /healthz in the target namespace.
ft_healthz() {
	ip netns exec "$NS_TGT" curl -s -m 3 -w '\n%{http_code}' \
		"http://$FT_METRICS/healthz" 2>/dev/null |
		awk 'NR == 1 { body = $0 } { code = $0 } END { print code, body }'
}

# ---- ordinary traffic ----------------------------------------------------------

# ft_wind_down: stops sender s (SENT = what it sent), waits 3 s for the idle
# flush and the idle rotation to seal, saves the daemon's last counters in
# $MT_TMP/final.json and stops it (DRC = its exit status).
ft_wind_down() {
	ft_sender_stop s
	SENT=$FT_SENT
	sleep 3
	ft_status "$MT_TMP/final.json"
	mt_daemon_stop
}

# ---- accounting ------------------------------------------------------------------

# ft_account SENT GOTFILE DROPS [EXCUSED]: numbers 0..SENT-1 against the
# numbers in GOTFILE.  Sets FT_CAPTURED (distinct numbers found), FT_DUPS
# (numbers found more than once), FT_MISSING (numbers not found) and
# FT_LOST = FT_MISSING - DROPS - EXCUSED (never below 0; DROPS larger than
# FT_MISSING is reported as a check failure: a counter that counts packets
# that were in fact written is no accounting).  Missing numbers go to
# GOTFILE.missing.
FT_CAPTURED=0
FT_DUPS=0
FT_MISSING=0
FT_LOST=0
ft_account() {
	local sent=$1 got=$2 drops=$3 excused=${4:-0}
	read -r FT_CAPTURED FT_DUPS FT_MISSING < <("$MT_PYTHON" - "$sent" "$got" <<'PY'
import collections, sys
sent = int(sys.argv[1])
got = collections.Counter(int(l) for l in open(sys.argv[2]) if l.strip())
missing = [i for i in range(sent) if i not in got]
with open(sys.argv[2] + ".missing", "w") as f:
    f.writelines("%d\n" % i for i in missing)
print(sum(1 for i in got if i < sent), sum(1 for n in got.values() if n > 1), len(missing))
PY
)
	FT_LOST=$((FT_MISSING - drops - excused))
	if [ "$FT_LOST" -lt 0 ]; then
		ft_check 1 "drop counters ($drops) + excused ($excused) exceed the missing numbers ($FT_MISSING)"
		FT_LOST=0
	fi
}

# ft_result SENT CAPTURED DROPS LOST DUPS CORRUPT [EXCUSED]: appends this
# scenario's row to $FT_RESULTS (tab separated; notes last).
ft_result() {
	local notes
	notes=$(printf '%s; ' "${FT_NOTES[@]}")
	notes=${notes%; }
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$FT_SCENARIO" "$1" "$2" \
		"$3" "${7:-0}" "$4" "$5" "$6" \
		"$([ "$FT_CHECKS_FAILED" = 0 ] && echo pass || echo FAIL)" \
		"$notes" >>"$FT_RESULTS"
	log "sent $1, captured $2, counted drops $3, excused ${7:-0}, lost $4, duplicated $5, corrupt segments $6; $FT_CHECKS_FAILED check(s) failed"
}

# ft_finish: the scenario's exit status (1 when something failed).
ft_finish() {
	if [ "$FT_CHECKS_FAILED" != 0 ] || [ "$FT_LOST" != 0 ] ||
		[ "$FT_DUPS" != 0 ] || [ "$FT_CORRUPT" != 0 ]; then
		exit 1
	fi
	log PASS
	exit 0
}

# ---- filesystems -------------------------------------------------------------------

# ft_mount_tmpfs DIR SIZE: a tmpfs of SIZE at DIR (created), unmounted on
# exit before tests/e2e/lib.sh removes $MT_TMP.
FT_MOUNTS=()
ft_mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" || skip "cannot mount a tmpfs"
	FT_MOUNTS+=("$1")
	# shellcheck disable=SC2154 # ft_rc and m are the trap's own
	trap 'ft_rc=$?; for m in "${FT_MOUNTS[@]}"; do umount -l "$m" 2>/dev/null; done; (exit $ft_rc); mt_cleanup' EXIT
}

# ft_copy_hook FILE SAFE: writes an on-seal hook script that copies each
# sealed segment to SAFE (another filesystem), as an upload would: what
# retention deletes later is still there to count.
ft_copy_hook() {
	mkdir -p "$2"
	printf '%s\n' '#!/bin/sh' "exec cp \"\$1\" '$2/'" >"$1"
	chmod +x "$1"
}

# ft_read_union OUTFILE DIR SAFE: like ft_read_segments over the sealed
# segments of DIR plus the copies in SAFE whose name DIR no longer has
# (a segment and its compressed copy count once: the .gz when both).
ft_read_union() {
	local outf=$1 dir=$2 safe=$3 f b u=$MT_TMP/union
	rm -rf "$u"
	mkdir -p "$u"
	for f in $(ft_sealed "$safe") $(ft_sealed "$dir"); do
		b=$(basename "$f")
		ln -f "$f" "$u/$b" 2>/dev/null || cp -f "$f" "$u/$b"
	done
	for f in "$u"/*.pcap.gz; do
		if [ -e "$f" ]; then rm -f "${f%.gz}"; fi
	done
	ft_read_segments "$outf" "$u"
}
