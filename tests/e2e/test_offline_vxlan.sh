#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end, offline mode, with the kernel's own VXLAN as the mirror source:
# a vxlan device in namespace "src" encapsulates known TCP, UDP and ICMP
# packets over IPv4 and IPv6 towards namespace "tgt", where tcpdump records
# the raw UDP/4789 stream the way a user would on a mirror target.  Then
# `mirror-targetd --read` must turn that capture into sealed pcap segments
# holding exactly the inner packets that were sent: right addresses, ports,
# ICMP types and counts, no VXLAN left, no .part file, proper names -- with
# and without a rules file, from a file and from a pipe.
#
# Needs root, netns/veth/vxlan, tcpdump and tshark; otherwise exits 77.
# MT_BUILD_DIR selects the build (ctest sets it); MT_KEEP_TMP=1 keeps files.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=${MT_E2E_COUNT:-5} # packets of each kind

mt_require_root
mt_require_cmd tcpdump tshark editcap mergecap ip bridge
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)

# ---- make the raw capture ---------------------------------------------------

RAW=$MT_TMP/raw.pcap
mt_topology_create
mt_capture_start "$RAW"
mt_send_inner "$N" >"$MT_TMP/sent.txt"
# Six kinds, N each; the kernel may add MLD reports of its own.
SENT_TOTAL=$((6 * N))
mt_capture_stop "$RAW" "$SENT_TOTAL"
RAW_COUNT=$(mt_pcap_count "$RAW")
log "sent $SENT_TOTAL inner packets; tcpdump recorded $RAW_COUNT VXLAN frames"
[ "$RAW_COUNT" -ge "$SENT_TOTAL" ] || fail "raw capture lost packets"

# ---- helpers ----------------------------------------------------------------

# summary_value FILE KEY: the number after KEY on the daemon's summary
# (first match), e.g. "frames read: 42" or "frames_read=42".
summary_value() {
	local v
	v=$(grep -Eo -- "$2[^0-9]{0,20}[0-9]+" "$1" | head -n1 | grep -Eo '[0-9]+$') ||
		{
			log "daemon summary:"
			sed 's/^/    /' "$1" >&2
			fail "no '$2' counter in the daemon's summary"
		}
	printf '%s\n' "$v"
}

# check_segment_dir DIR: names, no .part left, pcap magic, and prints the
# sealed segments (sorted).
check_segment_dir() {
	local dir=$1 f base leftovers magic
	leftovers=$(find "$dir" -name '*.part' | head -n3)
	[ -z "$leftovers" ] || fail "unsealed segment left behind: $leftovers"
	while IFS= read -r f; do
		base=$(basename "$f")
		[[ $base =~ ^mirror-[0-9]{8}T[0-9]{6}Z-[0-9]{6}\.pcap$ ]] ||
			fail "segment name '$base' is not PREFIX-YYYYmmddTHHMMSSZ-SEQ.pcap"
		magic=$(od -An -tx1 -N4 "$f" | tr -d ' \n')
		# Nanosecond pcap magic 0xa1b23c4d, written in either byte order.
		case $magic in
		4d3cb2a1 | a1b23c4d) ;;
		*) fail "$base: pcap magic $magic is not the nanosecond one (a1b23c4d)" ;;
		esac
	done < <(find "$dir" -maxdepth 1 -type f ! -name '.*' ! -name '*.vni')
	mt_segments "$dir"
}

# classify SENT FIELDS: compares the inner packets of the segments (FIELDS,
# from mt_pcap_fields) with what was sent.  Every TCP, UDP and ICMP echo
# packet must be one of the sent kinds and each sent kind must appear the
# expected number of times (the count column of SENT, or 0 for kinds not in
# ACCEPTED, a regex of protocols).  Other packets (the kernel's own ND/MLD)
# are only counted.  Prints "noise=K".
classify() {
	awk -F'|' -v sentf="$1" -v accepted="$3" '
	BEGIN {
		while ((getline line < sentf) > 0) {
			split(line, s, " ")
			key = s[2] " " s[3] " " s[4] " " s[5]
			want[key] = (s[2] ~ "^(" accepted ")$") ? s[6] : 0
		}
	}
	{
		if ($0 ~ /198\.18\./ || $9 ~ /(^|,)4789(,|$)/) {
			print "FAIL: VXLAN or outer header in a segment: " $0
			bad++
			next
		}
		src = $1 != "" ? $1 : $3
		dst = $2 != "" ? $2 : $4
		if ($5 != "")
			key = "tcp " src " " dst " " $5
		else if ($6 != "")
			key = "udp " src " " dst " " $6
		else if ($7 == "8" || $7 == "0")
			key = "icmp " src " " dst " " $7
		else if ($8 == "128" || $8 == "129")
			key = "icmpv6 " src " " dst " " $8
		else {
			noise++
			next
		}
		if (!(key in want)) {
			print "FAIL: a packet that was not sent: " key
			bad++
			next
		}
		got[key]++
	}
	END {
		for (k in want)
			if (got[k] + 0 != want[k]) {
				printf "FAIL: %s: %d packets in the segments, expected %d\n",
					k, got[k], want[k]
				bad++
			}
		printf "noise=%d\n", noise
		exit bad ? 1 : 0
	}' "$2"
}

# ---- 1. no rules: everything is captured ------------------------------------

OUT=$MT_TMP/out-all
mt_expect_rc 0 all "$DAEMON" --read "$RAW" --output-dir "$OUT"
cat "$MT_TMP/all.out" "$MT_TMP/all.err" >"$MT_TMP/all.summary"
check_segment_dir "$OUT" >"$MT_TMP/SEGS.list"
mapfile -t SEGS <"$MT_TMP/SEGS.list"
[ "${#SEGS[@]}" -ge 1 ] || fail "no sealed segment in $OUT"
log "no rules: ${#SEGS[@]} segment(s): $(basename -a "${SEGS[@]}" | tr '\n' ' ')"

mt_pcap_fields "${SEGS[@]}" >"$MT_TMP/all.fields"
classify "$MT_TMP/sent.txt" "$MT_TMP/all.fields" 'tcp|udp|icmp|icmpv6' \
	>"$MT_TMP/all.classify" || {
	cat "$MT_TMP/all.classify" >&2
	fail "segments (no rules) do not hold exactly what was sent"
}
log "no rules: every sent packet found; $(cat "$MT_TMP/all.classify") from the kernel"

# Filter off: every VXLAN frame of the capture becomes one record.
SEG_COUNT=0
for f in "${SEGS[@]}"; do
	SEG_COUNT=$((SEG_COUNT + $(mt_pcap_count "$f")))
done
mt_assert_eq "$SEG_COUNT" "$RAW_COUNT" "records in the segments (no rules)"
mt_assert_eq "$(summary_value "$MT_TMP/all.summary" '^frames read')" "$RAW_COUNT" \
	"frames read in the summary"

# Offline mode stamps records with capture time: the same instants as the
# raw capture, and the first segment is named after its first packet.
mt_tshark -r "$RAW" -T fields -e frame.time_epoch | sort >"$MT_TMP/raw.times"
for f in "${SEGS[@]}"; do
	mt_tshark -r "$f" -T fields -e frame.time_epoch
done | sort >"$MT_TMP/seg.times"
cmp -s "$MT_TMP/raw.times" "$MT_TMP/seg.times" ||
	fail "segment timestamps differ from the raw capture's ($MT_TMP/{raw,seg}.times)"
first=$(head -n1 "$MT_TMP/raw.times")
want_name="mirror-$(date -u -d "@${first%.*}" +%Y%m%dT%H%M%SZ)-"
case $(basename "${SEGS[0]}") in
"$want_name"*) ;;
*) fail "first segment $(basename "${SEGS[0]}") is not named after its first packet ($want_name...)" ;;
esac

# ---- 2. the same capture through a pipe -------------------------------------

OUT_PIPE=$MT_TMP/out-pipe
if tcpdump -r "$RAW" -w - 2>/dev/null |
	"$DAEMON" --read - --output-dir "$OUT_PIPE" \
		>"$MT_TMP/pipe.out" 2>"$MT_TMP/pipe.err"; then
	:
else
	cat "$MT_TMP/pipe.err" >&2
	fail "tcpdump -r RAW -w - | mirror-targetd --read - failed"
fi
check_segment_dir "$OUT_PIPE" >"$MT_TMP/PSEGS.list"
mapfile -t PSEGS <"$MT_TMP/PSEGS.list"
[ "${#PSEGS[@]}" -ge 1 ] || fail "no sealed segment from the pipe"
PIPE_COUNT=0
for f in "${PSEGS[@]}"; do
	PIPE_COUNT=$((PIPE_COUNT + $(mt_pcap_count "$f")))
done
mt_assert_eq "$PIPE_COUNT" "$RAW_COUNT" "records in the segments (--read -)"
mt_assert_eq "$(summary_value "$MT_TMP/pipe.out" '^frames read')" "$RAW_COUNT" \
	"frames read in the summary (--read -)"
log "pipe: $PIPE_COUNT records, as from the file"

# ---- 3. rotation by size -------------------------------------------------------

# Ten copies of the capture, one second apart, make a longer capture; with
# --rotate-size 2K it must come out as several segments numbered in
# sequence, each named after its first packet, together holding every
# record once.  (A small snaplen keeps the writer's buffer small: rotation
# sees a segment's size when buffers are written out.)
copies=()
for i in 0 1 2 3 4 5 6 7 8 9; do
	editcap -t "$i" "$RAW" "$MT_TMP/raw+$i.pcap"
	copies+=("$MT_TMP/raw+$i.pcap")
done
mergecap -a -w "$MT_TMP/raw10.pcap" "${copies[@]}"
OUT_ROT=$MT_TMP/out-rotate
mt_expect_rc 0 rot "$DAEMON" --read "$MT_TMP/raw10.pcap" --output-dir "$OUT_ROT" \
	--rotate-size 2K --snaplen 256
check_segment_dir "$OUT_ROT" >"$MT_TMP/RSEGS.list"
mapfile -t RSEGS <"$MT_TMP/RSEGS.list"
[ "${#RSEGS[@]}" -ge 5 ] ||
	fail "--rotate-size 2K made ${#RSEGS[@]} segment(s) of $((10 * RAW_COUNT)) records; expected several"
seq=0
ROT_COUNT=0
for f in "${RSEGS[@]}"; do
	seq=$((seq + 1))
	base=$(basename "$f")
	[[ $base == *-$(printf '%06d' "$seq").pcap ]] ||
		fail "segment $base is not number $seq of the sequence"
	first=$(mt_tshark -r "$f" -c 1 -T fields -e frame.time_epoch)
	[[ $base == mirror-$(date -u -d "@${first%.*}" +%Y%m%dT%H%M%SZ)-* ]] ||
		fail "segment $base is not named after its first packet (${first%.*})"
	ROT_COUNT=$((ROT_COUNT + $(mt_pcap_count "$f")))
done
mt_assert_eq "$ROT_COUNT" "$((10 * RAW_COUNT))" "records in the rotated segments"
log "rotation: $ROT_COUNT records in ${#RSEGS[@]} segments of about 2K"

# ---- 4. a rule set that accepts only UDP ----------------------------------------

OUT_UDP=$MT_TMP/out-udp
cat >"$MT_TMP/udp-only.rules" <<'EOF'
# Only UDP, either direction (the kernel's vxlan is no AWS ENI: direction
# is unknown here, which only `any` rules match).
100 accept any udp 0.0.0.0/0 0.0.0.0/0 desc="udp over IPv4"
101 accept any udp ::/0      ::/0      desc="udp over IPv6"
EOF
mt_expect_rc 0 udp "$DAEMON" --read "$RAW" --output-dir "$OUT_UDP" \
	--rules "$MT_TMP/udp-only.rules"
cat "$MT_TMP/udp.out" "$MT_TMP/udp.err" >"$MT_TMP/udp.summary"
check_segment_dir "$OUT_UDP" >"$MT_TMP/USEGS.list"
mapfile -t USEGS <"$MT_TMP/USEGS.list"
[ "${#USEGS[@]}" -ge 1 ] || fail "no sealed segment with the UDP rules"
mt_pcap_fields "${USEGS[@]}" >"$MT_TMP/udp.fields"
classify "$MT_TMP/sent.txt" "$MT_TMP/udp.fields" 'udp' >"$MT_TMP/udp.classify" || {
	cat "$MT_TMP/udp.classify" >&2
	fail "segments (UDP rules) do not hold exactly the UDP packets sent"
}
mt_assert_eq "$(cat "$MT_TMP/udp.classify")" "noise=0" \
	"packets other than UDP in the segments (UDP rules)"
mt_assert_eq "$(summary_value "$MT_TMP/udp.summary" '^frames read')" "$RAW_COUNT" \
	"frames read in the summary (UDP rules)"
mt_assert_eq "$(summary_value "$MT_TMP/udp.summary" '^unmatched')" \
	"$((RAW_COUNT - 2 * N))" "unmatched in the summary (UDP rules)"
log "UDP rules: $((2 * N)) UDP packets kept, $((RAW_COUNT - 2 * N)) unmatched"

log "PASS"
