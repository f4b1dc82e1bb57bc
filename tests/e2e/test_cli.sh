#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What users see at the command line: exit codes and messages of
# mirror-targetd (offline mode) and mirrorctl for good and bad input.
# 0 = success, 2 = bad usage or invalid input with "FILE:LINE:COL: what".
# Needs no root and no network; fixtures are in tests/e2e/data.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

DAEMON=$(mt_bin mirror-targetd)
CTL=$(mt_bin mirrorctl)
D=$MT_E2E_DATA
mt_require_python

# A one-packet capture of VXLAN (UDP 198.18.0.1 -> 198.18.0.2:4789, VNI 42,
# inner UDP 192.0.2.1 -> 192.0.2.2:53), written without any capture tool.
RAW=$MT_TMP/one.pcap
"$MT_PYTHON" - "$RAW" <<'PY'
import struct, sys

def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    return ~(s + (s >> 16)) & 0xFFFF

def ipv4(src, dst, proto, payload):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64,
                    proto, 0, bytes(src), bytes(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload

def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload

def eth(payload):
    return b"\x02\x00\x5e\x00\x53\x02" + b"\x02\x00\x5e\x00\x53\x01" + b"\x08\x00" + payload

inner = eth(ipv4([192, 0, 2, 1], [192, 0, 2, 2], 17, udp(40000, 53, b"mt-e2e")))
vxlan = struct.pack("!II", 0x08000000, 42 << 8) + inner
frame = eth(ipv4([198, 18, 0, 1], [198, 18, 0, 2], 17, udp(49152, 4789, vxlan)))
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    f.write(struct.pack("<IIII", 1700000000, 0, len(frame), len(frame)) + frame)
PY

# ---- mirror-targetd ------------------------------------------------------

mt_expect_rc 0 d-help "$DAEMON" --help
mt_assert_grep "$MT_TMP/d-help.out" '--read' "mirror-targetd --help"
mt_assert_grep "$MT_TMP/d-help.out" '--output-dir' "mirror-targetd --help"

mt_expect_rc 2 d-badopt "$DAEMON" --no-such-option
mt_assert_grep "$MT_TMP/d-badopt.err" 'no-such-option' "stderr of a bad option"

MISSING=$MT_TMP/does-not-exist.pcap
mt_expect_rc 2 d-missing "$DAEMON" --read "$MISSING" --output-dir "$MT_TMP/out-missing"
mt_assert_grep "$MT_TMP/d-missing.err" "$MISSING" "stderr of --read of a missing file"

mt_expect_rc 2 d-reversed "$DAEMON" --read "$RAW" --output-dir "$MT_TMP/out-rev" \
	--rules "$D/reversed-port.rules"
mt_assert_grep "$MT_TMP/d-reversed.err" "reversed-port\.rules:3:[0-9]+: .*reversed" \
	"stderr of a reversed port range"
[ -z "$(find "$MT_TMP/out-rev" -name '*.pcap' 2>/dev/null)" ] ||
	fail "mirror-targetd wrote segments although its rules file is invalid"

mt_expect_rc 2 d-badconf "$DAEMON" --read "$RAW" --output-dir "$MT_TMP/out-conf" \
	--config "$D/bad-size.conf"
mt_assert_grep "$MT_TMP/d-badconf.err" "bad-size\.conf:4:[0-9]+: .*256X" \
	"stderr of a bad config value"

# The good path, so the failures above are failures for their stated cause.
# good.conf lists 192.0.2.1 for VNI 42: the packet is egress, and the
# egress DNS rule of good.rules captures it.
mt_expect_rc 0 d-ok "$DAEMON" --read "$RAW" --output-dir "$MT_TMP/out-ok" \
	--config "$D/good.conf" --rules "$D/good.rules" --quiet
mt_assert_grep "$MT_TMP/d-ok.out" '^ +egress +1 packets' "direction in the summary"
mt_assert_grep "$MT_TMP/d-ok.out" '^ +100 +accept +egress +1 ' "rule hits in the summary"
mt_assert_grep "$MT_TMP/d-ok.out" '^written +1 records?( |$)' "records in the summary"
[ -n "$(mt_segments "$MT_TMP/out-ok")" ] || fail "no segment from a good run"

# ---- mirrorctl: generic ---------------------------------------------------

mt_expect_rc 0 c-help "$CTL" --help
for cmd in check-rules import-aws-filter check-config; do
	mt_assert_grep "$MT_TMP/c-help.out" "^ +$cmd " "mirrorctl --help lists $cmd"
	mt_expect_rc 0 "c-help-$cmd" "$CTL" "$cmd" --help
	mt_assert_grep "$MT_TMP/c-help-$cmd.out" "^SYNOPSIS" "mirrorctl $cmd --help"
	mt_assert_grep "$MT_TMP/c-help-$cmd.out" "^EXIT STATUS" "mirrorctl $cmd --help"
done
mt_expect_rc 0 c-version "$CTL" --version
mt_assert_grep "$MT_TMP/c-version.out" '^mirrorctl .*[0-9]+\.[0-9]+\.[0-9]+' "mirrorctl --version"
mt_expect_rc 2 c-nocmd "$CTL"
mt_expect_rc 2 c-unknown "$CTL" frobnicate
mt_assert_grep "$MT_TMP/c-unknown.err" "frobnicate" "stderr of an unknown command"
mt_assert_grep "$MT_TMP/c-unknown.err" "--help" "stderr of an unknown command"
mt_expect_rc 2 c-badopt "$CTL" check-rules --bogus "$D/good.rules"
mt_assert_grep "$MT_TMP/c-badopt.err" "bogus" "stderr of a bad option"

# ---- mirrorctl check-rules --------------------------------------------------

mt_expect_rc 0 c-native "$CTL" check-rules "$D/good.rules"
mt_assert_grep "$MT_TMP/c-native.out" "good\.rules: 5 rules OK" "check-rules summary"
# Evaluation order: number ascending, ingress before egress before any.
awk 'NR > 2 { print $2, $4 }' "$MT_TMP/c-native.out" >"$MT_TMP/c-native.order"
printf '%s\n' "100 ingress" "100 egress" "200 ingress" "300 any" "400 any" |
	cmp -s - "$MT_TMP/c-native.order" || {
	cat "$MT_TMP/c-native.out" >&2
	fail "check-rules does not list the rules in evaluation order"
}

mt_expect_rc 0 c-aws "$CTL" check-rules "$D/aws-filter.json"
mt_assert_grep "$MT_TMP/c-aws.out" "aws-filter\.json: 4 rules OK" "check-rules on AWS JSON"
mt_expect_rc 0 c-aws-id "$CTL" check-rules "$D/aws-two-filters.json" \
	--filter-id tmf-0f9e8d7c6b5a49382
mt_assert_grep "$MT_TMP/c-aws-id.out" "1 rule OK" "check-rules --filter-id"

mt_expect_rc 2 c-two "$CTL" check-rules "$D/aws-two-filters.json"
mt_assert_grep "$MT_TMP/c-two.err" "tmf-0a1b2c3d4e5f60718" "message naming the first filter"
mt_assert_grep "$MT_TMP/c-two.err" "tmf-0f9e8d7c6b5a49382" "message naming the second filter"

mt_expect_rc 2 c-reversed "$CTL" check-rules "$D/reversed-port.rules"
mt_assert_grep "$MT_TMP/c-reversed.err" "reversed-port\.rules:3:[0-9]+: .*reversed" \
	"check-rules on a reversed port range"
mt_expect_rc 2 c-nofile "$CTL" check-rules "$MISSING"
mt_assert_grep "$MT_TMP/c-nofile.err" "$MISSING" "check-rules on a missing file"

# ---- mirrorctl import-aws-filter ----------------------------------------------

mt_expect_rc 0 c-import "$CTL" import-aws-filter "$D/aws-filter.json"
cp "$MT_TMP/c-import.out" "$MT_TMP/imported.rules"
mt_expect_rc 0 c-recheck "$CTL" check-rules "$MT_TMP/imported.rules"
mt_assert_grep "$MT_TMP/c-recheck.out" "imported\.rules: 4 rules OK" \
	"check-rules on import-aws-filter's output"
# The same rule set both ways: identical tables apart from the LINE column.
awk 'NR > 1 { $11 = ""; print }' "$MT_TMP/c-aws.out" >"$MT_TMP/t-json"
awk 'NR > 1 { $11 = ""; print }' "$MT_TMP/c-recheck.out" >"$MT_TMP/t-native"
cmp -s "$MT_TMP/t-json" "$MT_TMP/t-native" || {
	diff "$MT_TMP/t-json" "$MT_TMP/t-native" >&2 || true
	fail "the imported native rules differ from the JSON filter"
}

mt_expect_rc 0 c-import-o "$CTL" import-aws-filter - -o "$MT_TMP/out.rules" \
	--filter-id tmf-0f9e8d7c6b5a49382 <"$D/aws-two-filters.json"
mt_expect_rc 0 c-recheck-o "$CTL" check-rules "$MT_TMP/out.rules"
mt_assert_grep "$MT_TMP/c-recheck-o.out" "1 rule OK" "import-aws-filter -o of one filter"
mt_expect_rc 2 c-import-two "$CTL" import-aws-filter "$D/aws-two-filters.json" \
	-o "$MT_TMP/never.rules"
[ ! -e "$MT_TMP/never.rules" ] || fail "a failed import wrote its output file"
mt_expect_rc 2 c-import-native "$CTL" import-aws-filter "$D/good.rules"

# ---- mirrorctl check-config -------------------------------------------------

mt_expect_rc 0 c-conf "$CTL" check-config "$D/good.conf"
mt_assert_grep "$MT_TMP/c-conf.out" "good\.conf: OK" "check-config on a good file"
mt_expect_rc 2 c-conf-size "$CTL" check-config "$D/bad-size.conf"
mt_assert_grep "$MT_TMP/c-conf-size.err" "bad-size\.conf:4:[0-9]+: .*256X" \
	"check-config on a bad size"
mt_expect_rc 2 c-conf-ring "$CTL" check-config "$D/bad-ring.conf"
mt_assert_grep "$MT_TMP/c-conf-ring.err" "ring_size 1000 .*power of two" \
	"check-config on a cross-setting error"
# A config naming a bad rules file is not OK either.
printf '[filter]\nrules = %s\n' "$D/reversed-port.rules" >"$MT_TMP/with-bad-rules.conf"
mt_expect_rc 2 c-conf-rules "$CTL" check-config "$MT_TMP/with-bad-rules.conf"
mt_assert_grep "$MT_TMP/c-conf-rules.err" "reversed-port\.rules:3:[0-9]+: .*reversed" \
	"check-config on a config with a bad rules file"
mt_expect_rc 2 c-conf-missing "$CTL" check-config "$MISSING"
mt_assert_grep "$MT_TMP/c-conf-missing.err" "$MISSING" "check-config on a missing file"

log "PASS"
