#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end, metrics, health and config reload: mirror-targetd -i veth-tgt
# in the lab namespaces with [control] metrics_listen on the target
# namespace's loopback:
#   /metrics read by a strict Prometheus text-format (0.0.4) parser (and by
#   `promtool check metrics` when it is installed), its counters matching
#   the traffic sent and `mirrorctl status --json`; 404 and 405 answers;
#   /healthz 200, then 503 with a reason while the segment directory is
#   read-only, then 200 again; `mirrorctl --config FILE reload` (the socket
#   found through the config) applying a new rotate_interval and snaplen,
#   naming a prefix change as needing a restart, and refusing an invalid config with
#   FILE:LINE:COL while everything stays as it was.
#
# Needs root, netns/veth/vxlan, XDP + AF_XDP on veth, a build with
# libmicrohttpd, nsenter and /usr/bin/python3; otherwise exits 77.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=${MT_E2E_COUNT:-10} # packets of each kind
PORT=9687

mt_require_root
mt_require_cmd ip bridge nsenter mount umount
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)
CTL=$(mt_bin mirrorctl)
PY=$MT_PYTHON

mt_topology_create

OUT=$MT_TMP/seg
mkdir -p "$OUT"
SOCK=$MT_TMP/control.sock
RULES=$MT_TMP/rules.conf
cat >"$RULES" <<'RULES_EOF'
100 accept any tcp 0.0.0.0/0 0.0.0.0/0
110 reject any udp 0.0.0.0/0 0.0.0.0/0
120 accept any all 0.0.0.0/0 0.0.0.0/0
130 accept any all ::/0 ::/0
RULES_EOF
CONF=$MT_TMP/mt.conf
write_conf() { # ROTATE_INTERVAL SNAPLEN [EXTRA LINE IN OUTPUT]
	cat >"$CONF" <<CONF_EOF
[output]
directory = $OUT
snaplen = $2
rotate_interval = $1
rotate_idle = 0
${3:-}

[filter]
rules = $RULES

[control]
control_socket = $SOCK
metrics_listen = 127.0.0.1:$PORT

[session web]
vni = $MT_VNI
addresses = $MT_INNER4_SRC, $MT_INNER6_SRC
CONF_EOF
}
write_conf 1h 65535

# http PATH [METHOD]: prints "STATUS" on the first line, then the body;
# only ever to the target namespace's own loopback.
http() {
	ip netns exec "$NS_TGT" "$PY" - "http://127.0.0.1:$PORT$1" "${2:-GET}" <<'PY'
import sys, urllib.error, urllib.request
req = urllib.request.Request(sys.argv[1], method=sys.argv[2])
try:
    with urllib.request.urlopen(req, timeout=5) as r:
        status, body, ctype = r.status, r.read(), r.headers.get("Content-Type")
except urllib.error.HTTPError as e:
    status, body, ctype = e.code, e.read(), e.headers.get("Content-Type")
sys.stdout.write(f"{status} {ctype}\n")
sys.stdout.write(body.decode())
PY
}

# ---- start -------------------------------------------------------------------

mt_daemon_start d --socket "$SOCK" "$DAEMON" -c "$CONF" -i veth-tgt --xdp-mode native
grep -q 'built without libmicrohttpd' "$MT_TMP/d.err" &&
	skip "this mirror-targetd has no HTTP endpoint (libmicrohttpd-dev at build time)"
mt_assert_grep "$MT_TMP/d.err" "serving /metrics and /healthz on http://127.0.0.1:$PORT" \
	"daemon log"
ctl() { "$CTL" --socket "$SOCK" "$@"; }

# ---- /healthz, 404, 405 --------------------------------------------------------

for ((i = 0; i < 50; i++)); do
	http /healthz >"$MT_TMP/h0" && head -n1 "$MT_TMP/h0" | grep -q '^200 ' && break
	sleep 0.1
done
mt_assert_eq "$(head -n1 "$MT_TMP/h0" | cut -d' ' -f1)" 200 "/healthz status at start"
mt_assert_eq "$(sed -n 2p "$MT_TMP/h0")" ok "/healthz body"
http /nope >"$MT_TMP/h404"
mt_assert_eq "$(head -n1 "$MT_TMP/h404" | cut -d' ' -f1)" 404 "/nope status"
http /metrics POST >"$MT_TMP/h405"
mt_assert_eq "$(head -n1 "$MT_TMP/h405" | cut -d' ' -f1)" 405 "POST /metrics status"
log "/healthz 200 ok; /nope 404; POST 405"

# ---- /metrics: traffic, format, agreement with status --json -------------------

mt_send_inner "$N" 1 >/dev/null
sleep 1 # idle flush
mt_expect_rc 0 st1 ctl status --json
http /metrics >"$MT_TMP/m1"
mt_expect_rc 0 st2 ctl status --json
mt_expect_rc 0 ru2 ctl rules --json
mt_assert_eq "$(head -n1 "$MT_TMP/m1")" "200 text/plain; version=0.0.4; charset=utf-8" \
	"/metrics status and content type"
tail -n +2 "$MT_TMP/m1" >"$MT_TMP/metrics.txt"

"$PY" - "$MT_TMP/metrics.txt" "$MT_TMP/st1.out" "$MT_TMP/st2.out" "$MT_TMP/ru2.out" \
	"$N" "$MT_VNI" <<'PY' || fail "/metrics (above)"
import json, math, re, sys

text = open(sys.argv[1]).read()
st1, st2 = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
ru = json.load(open(sys.argv[4]))
n, vni = int(sys.argv[5]), sys.argv[6]

# A strict reader of the text exposition format 0.0.4.
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LNAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
LVAL = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LNAME}={LVAL})(?:,{LNAME}={LVAL})*)?\}})? (\S+)(?: (-?\d+))?$")
LABEL = re.compile(rf"({LNAME})=({LVAL})")
assert text.endswith("\n"), "the exposition must end with a newline"
helps, types, series, seen_sampled = {}, {}, {}, set()
last_family = None
for no, line in enumerate(text.split("\n")[:-1], 1):
    where = f"line {no}: {line!r}"
    if line.startswith("# HELP "):
        name, _, doc = line[7:].partition(" ")
        assert re.fullmatch(NAME, name), where
        assert name not in helps, "second HELP " + where
        assert name not in seen_sampled, "HELP after samples " + where
        helps[name] = doc
        continue
    if line.startswith("# TYPE "):
        name, _, typ = line[7:].partition(" ")
        assert re.fullmatch(NAME, name), where
        assert typ in ("counter", "gauge", "histogram", "summary", "untyped"), where
        assert name not in types, "second TYPE " + where
        assert name not in seen_sampled, "TYPE after samples " + where
        types[name] = typ
        continue
    assert line and not line.startswith("#"), "blank or stray comment " + where
    m = SAMPLE.match(line)
    assert m, "not a sample " + where
    name, labels, value = m.group(1), m.group(2) or "", m.group(3)
    assert name in types and name in helps, "sample before its HELP/TYPE " + where
    # A family's samples stay together.
    if name != last_family:
        assert name not in seen_sampled, "family split " + where
    last_family = name
    seen_sampled.add(name)
    pairs = LABEL.findall(labels)
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), "repeated label " + where
    v = float(value)
    assert not math.isnan(v), where
    key = (name, tuple(sorted(pairs)))
    assert key not in series, "duplicate series " + where
    series[key] = v
    if types[name] == "counter":
        assert name.endswith("_total"), "counter without _total " + where
        assert v >= 0 and v == int(v), "counter not a whole number " + where
    assert name.startswith("mirror_target_"), where
for name in types:
    assert name in helps, "TYPE without HELP " + name

def get(name, **labels):
    want = tuple(sorted((k, '"%s"' % v) for k, v in labels.items()))
    return series[("mirror_target_" + name, want)]

def between(name, a, b, **labels):
    v = get(name, **labels)
    assert a <= v <= b, f"{name}{labels} = {v}, status --json said {a} then {b}"
    return v

# The same numbers as status --json (taken just before and just after).
for k in st1["xdp"]:
    between("xdp_packets_total", st1["xdp"][k], st2["xdp"][k], outcome=k)
t1, t2 = st1["totals"], st2["totals"]
between("decap_ok_total", t1["decap_ok"], t2["decap_ok"])
between("frames_total", t1["frames"], t2["frames"])
for k in ("accepted", "rejected", "unmatched"):
    between("filter_packets_total", st1["filter"][k], st2["filter"][k], verdict=k)
for d in ("ingress", "egress", "unknown"):
    for w in ("packets", "bytes"):
        v1 = [e for e in st1["vnis"] if str(e["vni"]) == vni][0][d][w]
        v2 = [e for e in st2["vnis"] if str(e["vni"]) == vni][0][d][w]
        between("vni_%s_total" % w, v1, v2, vni=vni, session="web", direction=d)
        between("direction_%s_total" % w, st1["directions"][d][w],
                st2["directions"][d][w], direction=d)
for s1, s2 in zip(st1["sockets"], st2["sockets"]):
    for k in ("rx_dropped", "rx_ring_full", "rx_fill_ring_empty_descs", "rx_invalid_descs"):
        between("socket_%s_total" % k, s1[k], s2[k], queue=s1["queue"])
for w1, w2 in zip(st1["workers"], st2["workers"]):
    between("worker_frames_total", w1["frames"], w2["frames"], queue=w1["queue"])
    assert get("worker_heartbeat_age_seconds", queue=w1["queue"]) < 5
for k in ("records", "bytes", "flushes"):
    between("writer_%s_total" % k, st1["writer"][k], st2["writer"][k])
for k in ("opened", "sealed", "write_errors", "deleted_by_retention"):
    between("segments_%s_total" % k, st1["segments"][k], st2["segments"][k])
assert get("disk_free_bytes") > 0 and get("disk_total_bytes") >= get("disk_free_bytes")
assert get("up") == 1 and get("ready") == 1 and get("queues") == len(st1["workers"])
assert get("filter_enabled") == 1 and get("filter_rules") == 4
assert get("uptime_seconds") > 0

# And the traffic sent: six kinds of N packets, UDP over IPv4 rejected.
assert get("xdp_packets_total", outcome="redirected") >= 6 * n
assert get("vni_packets_total", vni=vni, session="web", direction="egress") >= 6 * n
assert get("vni_packets_total", vni=vni, session="web", direction="ingress") == 0
assert get("filter_packets_total", verdict="rejected") == n
hits = {r["number"]: r for r in ru["rules"]}
for num, action in ((100, "accept"), (110, "reject"), (120, "accept")):
    assert get("rule_hits_packets_total", rule=num, action=action, direction="any") == n, num
    assert get("rule_hits_bytes_total", rule=num, action=action,
               direction="any") == hits[num]["bytes"], num
assert get("writer_dropped_packets_total", reason="disk_full") == 0
print(f"{len(series)} series in {len(types)} families")
PY
if command -v promtool >/dev/null 2>&1; then
	promtool check metrics <"$MT_TMP/metrics.txt" >"$MT_TMP/promtool.out" 2>&1 ||
		{ cat "$MT_TMP/promtool.out" >&2; fail "promtool check metrics"; }
	log "promtool check metrics: clean"
fi
log "/metrics: strict 0.0.4 text, counters match status --json and the traffic"

# ---- /healthz while the segment directory is read-only -----------------------------

# A read-only bind mount over the directory, in the daemon's own mount
# namespace (ip netns exec gave it one); root ignores chmod.
nsenter -t "$DPID" -m -- mount --bind "$OUT" "$OUT"
nsenter -t "$DPID" -m -- mount -o remount,bind,ro "$OUT" ||
	{ nsenter -t "$DPID" -m -- umount "$OUT"; skip "cannot remount a bind mount read-only"; }
http /healthz >"$MT_TMP/h1"
nsenter -t "$DPID" -m -- umount "$OUT"
mt_assert_eq "$(head -n1 "$MT_TMP/h1" | cut -d' ' -f1)" 503 "/healthz with a read-only directory"
mt_assert_grep "$MT_TMP/h1" "^the segment directory $OUT is not writable: Read-only file system$" \
	"/healthz reason"
[ "$(wc -l <"$MT_TMP/h1")" = 2 ] || fail "/healthz reason is not one line"
# Within a probe interval, not necessarily at once (CI saw one 503 here,
# reason not kept; it now says which).
first=
for ((i = 0; i < 50; i++)); do
	http /healthz >"$MT_TMP/h2"
	[ "$(head -n1 "$MT_TMP/h2" | cut -d' ' -f1)" = 200 ] && break
	[ -n "$first" ] || first=$(sed -n 2p "$MT_TMP/h2")
	sleep 0.1
done
[ -z "$first" ] || log "/healthz said '$first' after the remount; 200 after $i tries"
mt_assert_eq "$(head -n1 "$MT_TMP/h2" | cut -d' ' -f1)" 200 "/healthz within 5 s of writable again ($(sed -n 2p "$MT_TMP/h2"))"
http /metrics >"$MT_TMP/m2"
mt_assert_grep "$MT_TMP/m2" '^mirror_target_ready 1$' "ready gauge"
log "/healthz: 503 '$(sed -n 2p "$MT_TMP/h1")', then 200 again"

# ---- reload: config found through --config; rotate_interval and snaplen
# applied, the segment prefix named as needing a restart ----------------------

write_conf 2m 1500 "prefix = other"
mt_expect_rc 0 reload-good "$CTL" --config "$CONF" reload
mt_assert_grep "$MT_TMP/reload-good.out" "^reloaded $RULES: 4 rules in force" "mirrorctl reload"
mt_assert_grep "$MT_TMP/reload-good.out" "^applied from $CONF: .*output\.rotate_interval" \
	"reload names what it applied (rotate_interval)"
mt_assert_grep "$MT_TMP/reload-good.out" "^applied from $CONF: .*output\.snaplen" \
	"reload names what it applied (snaplen)"
mt_assert_grep "$MT_TMP/reload-good.err" "^needs a restart .*: output\.prefix$" \
	"reload names what needs a restart"
mt_assert_grep "$MT_TMP/d.err" "output\.prefix changed in $CONF but only a restart" \
	"daemon warning"
mt_expect_rc 0 st3 ctl status --json
"$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; assert c["rotate_interval"] == 120 and c["snaplen"] == 1500 and c["file"] == sys.argv[2], c' \
	"$MT_TMP/st3.out" "$CONF" || fail "status --json after reload: rotate_interval 120, snaplen 1500"
log "reload: rotate_interval 1h -> 2m and snaplen 65535 -> 1500 applied, prefix change named and kept"

# An invalid value on line 4: refused with FILE:LINE:COL, nothing changes.
write_conf 5m 65535
sed -i 's/^rotate_interval = 5m$/rotate_interval = 5 fortnights/' "$CONF"
mt_run reload-bad ctl reload
[ "$MT_RC" = 1 ] || fail "reload of an invalid config exited $MT_RC, expected 1"
mt_assert_grep "$MT_TMP/reload-bad.err" "$CONF:4:[0-9]+: " "reload error with FILE:LINE:COL"
# mirrorctl itself reads that file to find the socket: it says the same.
mt_run reload-bad2 "$CTL" --config "$CONF" reload
[ "$MT_RC" = 2 ] || fail "mirrorctl --config INVALID reload exited $MT_RC, expected 2"
mt_assert_grep "$MT_TMP/reload-bad2.err" "$CONF:4:[0-9]+: .*give --socket PATH" \
	"mirrorctl with an invalid --config"
kill -HUP "$DPID" # the same through SIGHUP: refused, logged
sleep 0.5
[ "$(grep -c "$CONF:4:[0-9]*: " "$MT_TMP/d.err")" = 2 ] ||
	fail "the daemon did not log both refusals (mirrorctl, SIGHUP) with $CONF:4"
mt_assert_grep "$MT_TMP/d.err" "reload failed; the previous rules stay in force, and so do the settings" \
	"SIGHUP refusal"
mt_expect_rc 0 st4 ctl status --json
"$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); c=s["config"]; f=s["filter"]; assert c["rotate_interval"] == 120 and f["reloads"] == 1 and f["reload_failures"] == 2 and f["rules"] == 4, (c, f)' \
	"$MT_TMP/st4.out" || fail "an invalid config changed something"
# A bad rules file with a good config is refused as a whole as well.
write_conf 10m 65535
cp "$RULES" "$MT_TMP/rules.good"
printf '100 accept sideways all 0.0.0.0/0 0.0.0.0/0\n' >"$RULES"
mt_run reload-badrules "$CTL" --config "$CONF" reload
[ "$MT_RC" = 1 ] || fail "reload with an invalid rules file exited $MT_RC"
mt_assert_grep "$MT_TMP/reload-badrules.err" "$RULES:1:[0-9]+: " "rules error with FILE:LINE:COL"
mt_expect_rc 0 st5 ctl status --json
"$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["config"]; assert c["rotate_interval"] == 120, c' \
	"$MT_TMP/st5.out" || fail "a bad rules file let the config change through"
cp "$MT_TMP/rules.good" "$RULES"
log "reload: invalid config or rules refused with FILE:LINE:COL, all kept"

# ---- stop -----------------------------------------------------------------------

mt_daemon_stop
mt_assert_eq "$DRC" 0 "exit status after SIGTERM"
log "PASS"
