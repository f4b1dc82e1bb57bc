#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Minimal reproduction (crash scenario, moment "gz-renamed"): the
# compressor renames .NAME.pcap.gz.part to NAME.pcap.gz and only then
# removes NAME.pcap (daemon/core/segment_bg.c).  A kill -9 between the two
# leaves both; crash recovery (recover() in daemon/core/segment.c) only
# looks at .part files, so both stay for good and every packet of that
# segment is there twice for anyone who fetches *.pcap*.  This script makes
# the state by hand (a sealed segment and its finished .gz) and runs the
# daemon over it once (offline mode runs the same recovery).  Exits 1
# while both files survive the start, 0 once recovery removes the raw one.
# Needs no root.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DAEMON=$(mt_bin mirror-targetd)
mt_require_python
"$MT_PYTHON" -c 'import scapy' 2>/dev/null || skip "scapy is missing"
OUT=$MT_TMP/seg
"$MT_PYTHON" - "$MT_TMP/one.pcap" "$MT_TMP/empty.pcap" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
from scapy.layers.vxlan import VXLAN
inner = Ether(dst="02:00:5e:00:53:02") / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(dport=9999) / b"x"
wrpcap(sys.argv[1], [Ether() / IP(src="198.18.0.1", dst="198.18.0.2") / UDP(dport=4789) / VXLAN(vni=42) / inner])
wrpcap(sys.argv[2], [], linktype=1)
PY
"$DAEMON" --read "$MT_TMP/one.pcap" --output-dir "$OUT" -q >/dev/null
SEG=$(mt_segments "$OUT")
[ -n "$SEG" ] || fail "no segment made"
gzip -k "$SEG" # what the compressor leaves when killed before its unlink
printf '[output]\ncompress = yes\n' >"$MT_TMP/c.conf"
"$DAEMON" --read "$MT_TMP/empty.pcap" --output-dir "$OUT" --config "$MT_TMP/c.conf" -q >/dev/null
ls -l "$OUT" >&2
if [ -e "$SEG" ] && [ -e "$SEG.gz" ]; then
	fail "after a start both $(basename "$SEG") and its .gz exist: its packets are there twice"
fi
log PASS
