#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# End to end, the control plane: mirror-targetd -i veth-tgt in the lab
# namespaces with a control socket, driven by every mirrorctl command:
#   --help of each command; status --json (schema_version 1, every section
#   and counter name) with counters that match the traffic sent (XDP,
#   totals, per direction, per VNI, filter verdicts); status (human) and
#   --watch; rules with per-rule hits; rotate sealing a segment; segments
#   listing it; export of a time range read back by tshark in time order;
#   reload good and bad (bad keeps the old rules, exits non-zero with
#   FILE:LINE:COL); refusals: a non-member user, no daemon, bad time, --vni.
#
# Needs root, netns/veth/vxlan, XDP + AF_XDP on veth, tshark, setpriv and
# /usr/bin/python3; otherwise exits 77.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

N=${MT_E2E_COUNT:-10} # packets of each kind

mt_require_root
mt_require_cmd tshark ip bridge setpriv
mt_require_python
mt_require_netns_vxlan
DAEMON=$(mt_bin mirror-targetd)
CTL=$(mt_bin mirrorctl)
PY=$MT_PYTHON

mt_topology_create

# The socket lives where an unprivileged user can reach the path, so that
# the socket's own mode and the daemon's peer check are what is tested.
chmod 0711 "$MT_TMP"
mkdir -m 0755 "$MT_TMP/run"
SOCK=$MT_TMP/run/control.sock
OUT=$MT_TMP/seg
RULES=$MT_TMP/rules.conf
cat >"$RULES" <<'RULES_EOF'
100 accept any tcp 0.0.0.0/0 0.0.0.0/0
110 reject any udp 0.0.0.0/0 0.0.0.0/0
120 accept any all 0.0.0.0/0 0.0.0.0/0
130 accept any all ::/0 ::/0
RULES_EOF
CONF=$MT_TMP/mt.conf
cat >"$CONF" <<CONF_EOF
[output]
directory = $OUT
rotate_interval = 0
rotate_idle = 0

[filter]
rules = $RULES

[control]
control_socket = $SOCK

[session web]
vni = $MT_VNI
addresses = $MT_INNER4_SRC, $MT_INNER6_SRC
CONF_EOF

ctl() { "$CTL" --socket "$SOCK" "$@"; }

# ---- --help, and errors before any daemon runs -------------------------------

for c in status rules segments rotate reload export; do
	mt_expect_rc 0 "help-$c" "$CTL" "$c" --help
	mt_assert_grep "$MT_TMP/help-$c.out" "^SYNOPSIS" "$c --help"
done
mt_expect_rc 1 nodaemon ctl status
mt_assert_grep "$MT_TMP/nodaemon.err" 'is mirror-targetd running\? \(systemctl status mirror-targetd' \
	"status without a daemon"
mt_expect_rc 2 badtime "$CTL" export --from yesterday --to 1714564800
mt_assert_grep "$MT_TMP/badtime.err" 'accepted: RFC 3339' "bad --from"
mt_expect_rc 2 vni "$CTL" export --from 0 --to 1 --vni 4x2 --dir "$MT_TMP"
mt_assert_grep "$MT_TMP/vni.err" '--vni 4x2: not a VNI list' "export --vni 4x2"
log "help, no-daemon, bad time and a bad --vni are refused clearly"

# ---- start -------------------------------------------------------------------

mt_daemon_start d --socket "$SOCK" "$DAEMON" -c "$CONF" -i veth-tgt --xdp-mode native

# ---- status --json: schema -----------------------------------------------------

mt_expect_rc 0 st0 ctl status --json
"$PY" - "$MT_TMP/st0.out" "$MT_VNI" <<'PY' || fail "status --json schema (above)"
import json, sys
st = json.load(open(sys.argv[1]))
def need(obj, keys, where):
    missing = [k for k in keys if k not in obj]
    assert not missing, f"{where}: missing {missing}"
assert st["schema_version"] == 1, st["schema_version"]
need(st, ["daemon", "capture", "filter", "xdp", "sockets", "workers", "totals",
          "directions", "vnis", "vni_other", "writer", "segments", "disk"], "top")
need(st["daemon"], ["version", "pid", "started", "started_unix", "now_unix",
                    "uptime_seconds"], "daemon")
need(st["capture"], ["interface", "xdp_mode", "xdp_program", "bind_mode",
                     "vxlan_port", "queues"], "capture")
assert st["capture"]["interface"] == "veth-tgt"
assert st["capture"]["xdp_mode"] == "native"
need(st["filter"], ["state", "rules_file", "rules", "reloads", "reload_failures",
                    "accepted", "rejected", "unmatched"], "filter")
assert st["filter"]["state"] == "on" and st["filter"]["rules"] == 4
assert set(st["xdp"]) == {"seen", "passed", "frag_passed", "invalid_vxlan",
    "source_not_allowed", "vni_not_allowed", "redirected", "redirect_failed",
    "meta_failed", "not_ready"}, sorted(st["xdp"])
assert len(st["sockets"]) == st["capture"]["queues"] == len(st["workers"]) >= 1
for s in st["sockets"]:
    need(s, ["queue", "bind", "multi_buffer", "rx_dropped", "rx_ring_full",
             "rx_fill_ring_empty_descs", "rx_invalid_descs"], "sockets[]")
for w in st["workers"]:
    need(w, ["queue", "cpu", "frames", "frame_bytes", "batches", "decap_ok",
             "accepted", "rejected", "unmatched", "written", "write_dropped"],
         "workers[]")
need(st["totals"], ["frames", "frame_bytes", "decap_ok", "decap", "inner"], "totals")
for d in ("ingress", "egress", "unknown"):
    need(st["directions"][d], ["packets", "bytes"], "directions." + d)
    need(st["vni_other"][d], ["packets", "bytes"], "vni_other." + d)
need(st["writer"], ["records", "bytes", "flushes", "dropped_disk_full",
                    "dropped_stopped", "dropped_io_error"], "writer")
need(st["segments"], ["dir", "prefix", "current", "opened", "sealed", "recovered",
    "compressed", "compress_failures", "deleted_by_retention", "hooks_run",
    "hook_failures", "hooks_skipped", "write_errors", "index_errors",
    "sealed_without_index", "records_lost", "dir_recreated",
    "compress_backlog", "hook_backlog", "sealed_on_disk",
    "bytes_on_disk", "stopped"], "segments")
need(st["disk"], ["total_bytes", "free_bytes", "available_bytes"], "disk")
assert st["disk"]["total_bytes"] > 0
def ints(o, where):
    if isinstance(o, dict):
        for k, v in o.items():
            ints(v, where + "." + k)
    elif isinstance(o, list):
        for i, v in enumerate(o):
            ints(v, f"{where}[{i}]")
    elif isinstance(o, bool) or o is None or isinstance(o, (str, float)):
        pass
    else:
        assert isinstance(o, int) and o >= 0, where
ints(st, "status")
PY
log "status --json: schema_version 1 with every section and counter"

# ---- traffic, counters -------------------------------------------------------------

T0=$(date +%s.%N)
mt_send_inner "$N" 1 >"$MT_TMP/sent.txt"
sleep 1 # idle flush
T1=$(date +%s.%N)
mt_expect_rc 0 st1 ctl status --json
mt_expect_rc 0 rules1 ctl rules --json
"$PY" - "$MT_TMP/st1.out" "$MT_TMP/rules1.out" "$N" "$MT_VNI" <<'PY' || fail "counters vs traffic (above)"
import json, sys
st, ru = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
n, vni = int(sys.argv[3]), int(sys.argv[4])
t, x, f = st["totals"], st["xdp"], st["filter"]
# Six kinds of N packets, plus the kernel's own MLD reports now and then.
assert t["decap_ok"] >= 6 * n, t
assert x["redirected"] == t["frames"] == t["decap_ok"], (x, t)
assert x["redirect_failed"] == 0
assert f["accepted"] + f["rejected"] + f["unmatched"] == t["decap_ok"], f
assert f["rejected"] == n, f  # rule 110: udp over IPv4 only
d = st["directions"]
assert d["egress"]["packets"] >= 6 * n and d["ingress"]["packets"] == 0, d
assert sum(d[k]["packets"] for k in d) == t["decap_ok"]
v = [e for e in st["vnis"] if e["vni"] == vni]
assert len(st["vnis"]) == 1 and v and v[0]["session"] == "web", st["vnis"]
for k in ("ingress", "egress", "unknown"):
    assert v[0][k] == d[k], (k, v[0][k], d[k])
    assert st["vni_other"][k]["packets"] == 0
assert st["writer"]["dropped_disk_full"] == st["writer"]["dropped_stopped"] == 0
hits = {r["number"]: r["packets"] for r in ru["rules"]}
assert ru["filter"] == "on" and len(ru["rules"]) == 4, ru
assert hits[100] == n and hits[110] == n and hits[120] == n, hits
assert hits[130] >= 3 * n, hits
assert sum(hits.values()) == t["decap_ok"], (hits, t)
print(f"decap {t['decap_ok']}, egress {d['egress']['packets']}, hits {hits}")
PY
log "counters match the traffic: XDP, totals, direction, VNI 42 (web), verdicts, rule hits"

# ---- human views ---------------------------------------------------------------------

mt_expect_rc 0 human ctl status
for re in '^interface +veth-tgt, native XDP' "^filter +on: $RULES, 4 rules" 	'^segment ' '^disk ' '^rates ' '^received ' '^drops ' '^segments +backlog: 0 to compress, 0 for hooks; 0 write errors' "^$MT_VNI web "; do
	mt_assert_grep "$MT_TMP/human.out" "$re" "mirrorctl status"
done
mt_run watch timeout -s INT 3.5 "$CTL" --socket "$SOCK" status --watch 1
[ "$(grep -c $'\033\[2J' "$MT_TMP/watch.out")" -ge 2 ] ||
	fail "status --watch did not redraw (ANSI clear) at least twice"
mt_assert_grep "$MT_TMP/watch.out" '^rates +received' "status --watch"
mt_expect_rc 0 rules ctl rules
mt_assert_grep "$MT_TMP/rules.out" "^ +2 +$N +[0-9]+ +110 +reject +any +udp" "mirrorctl rules"
log "status, status --watch and rules print what they should"

# ---- rotate, segments ---------------------------------------------------------------

mt_expect_rc 0 rot1 ctl rotate
mt_assert_grep "$MT_TMP/rot1.out" "^sealed $OUT/mirror-.*\.pcap$" "mirrorctl rotate"
SEG1=$(sed -n 's/^sealed //p' "$MT_TMP/rot1.out")
[ -f "$SEG1" ] || fail "rotate named $SEG1, which does not exist"
mt_expect_rc 0 segs ctl segments --json
"$PY" - "$MT_TMP/segs.out" "$SEG1" "$MT_TMP/st1.out" <<'PY' || fail "segments --json (above)"
import json, os, sys
sg, st = json.load(open(sys.argv[1])), json.load(open(sys.argv[3]))
names = [s["name"] for s in sg["segments"]]
assert os.path.basename(sys.argv[2]) in names, names
s = sg["segments"][names.index(os.path.basename(sys.argv[2]))]
assert s["packets"] >= st["writer"]["records"], (s, st["writer"])
assert s["first_ns"] <= s["last_ns"] and s["size"] > 24
PY
mt_expect_rc 0 segh ctl segments
mt_assert_grep "$MT_TMP/segh.out" "^$(basename "$SEG1") +20[0-9-]+T" "mirrorctl segments"
[ "$(mt_pcap_count "$SEG1")" = "$("$PY" -c 'import json,sys; print([s["packets"] for s in json.load(open(sys.argv[1]))["segments"]][0])' "$MT_TMP/segs.out")" ] ||
	fail "segments: packet count differs from tshark's"
log "rotate sealed $(basename "$SEG1"); segments lists it with tshark's packet count"

# ---- export ---------------------------------------------------------------------------

T2=$(date +%s.%N)
mt_send_inner "$N" 1 >/dev/null
sleep 1
T3=$(date +%s.%N)
mt_expect_rc 0 rot2 ctl rotate
mt_assert_grep "$MT_TMP/rot2.out" "^sealed " "second rotate"
ctl export --from "$T0" --to "$T3" >"$MT_TMP/all.pcap" 2>"$MT_TMP/exp.err" ||
	fail "export failed: $(cat "$MT_TMP/exp.err")"
mapfile -t SEGS < <(mt_segments "$OUT")
# What tshark finds in the segments within [T0, T3) is what export must give.
ALL=$(for f in "${SEGS[@]}"; do mt_tshark -r "$f" -T fields -e frame.time_epoch; done |
	awk -v a="$T0" -v b="$T3" '$1 >= a && $1 < b' | wc -l)
GOT=$(mt_pcap_count "$MT_TMP/all.pcap")
mt_assert_eq "$GOT" "$ALL" "exported packets vs packets of the range in ${#SEGS[@]} segments"
[ "$GOT" -ge $((10 * N)) ] || fail "export holds $GOT packets, expected the $((10 * N)) accepted"
mt_tshark -r "$MT_TMP/all.pcap" -T fields -e frame.time_epoch >"$MT_TMP/times"
sort -g -c "$MT_TMP/times" || fail "export is not in time order"
# Only the second burst, with an RFC 3339 start:
FROM2=$(date -u -d "@${T2%.*}" +%Y-%m-%dT%H:%M:%SZ)
ctl export --from "$FROM2" --to "$T3" >"$MT_TMP/second.pcap" 2>>"$MT_TMP/exp.err" ||
	fail "export (RFC 3339) failed: $(cat "$MT_TMP/exp.err")"
GOT2=$(mt_pcap_count "$MT_TMP/second.pcap")
[ "$GOT2" -ge $((5 * N)) ] && [ "$GOT2" -lt "$GOT" ] ||
	fail "export of the second burst holds $GOT2 packets (all: $GOT)"
mt_expect_rc 2 exp-rev ctl export --from "$T3" --to "$T0"
log "export: $GOT packets in time order (tshark), $GOT2 for the second burst only"

# ---- reload ---------------------------------------------------------------------------

cat >"$RULES" <<'RULES_EOF'
100 accept any all 0.0.0.0/0 0.0.0.0/0
110 accept any all ::/0 ::/0
RULES_EOF
mt_expect_rc 0 reload-good ctl reload
mt_assert_grep "$MT_TMP/reload-good.out" "^reloaded $RULES: 2 rules" "mirrorctl reload"
printf '100 accept any all 0.0.0.0/0 0.0.0.0/0
110 accept sideways all ::/0 ::/0
' >"$RULES"
mt_run reload-bad ctl reload
[ "$MT_RC" != 0 ] || fail "reload of an invalid file exited 0"
mt_assert_grep "$MT_TMP/reload-bad.err" "$RULES:2:[0-9]+: " "reload error with FILE:LINE:COL"
mt_expect_rc 0 rules2 ctl rules --json
"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert [x["number"] for x in r["rules"]] == [100, 110], r' 	"$MT_TMP/rules2.out" || fail "the old rules did not stay after a bad reload"
mt_expect_rc 0 st2 ctl status --json
"$PY" -c 'import json,sys; f=json.load(open(sys.argv[1]))["filter"]; assert f["reloads"] == 1 and f["reload_failures"] == 1, f' 	"$MT_TMP/st2.out" || fail "reload counters"
log "reload: good one applied; bad one refused with $(head -n1 "$MT_TMP/reload-bad.err" | cut -c1-60)..."

# ---- permissions ----------------------------------------------------------------------

mt_run perm setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" --socket "$SOCK" status --json
[ "$MT_RC" != 0 ] || fail "a user outside group mirror-target got the status"
mt_assert_grep "$MT_TMP/perm.err" 'permission denied .*group mirror-target' "refusal for a non-member"
if GID=$(getent group mirror-target | cut -d: -f3) && [ -n "$GID" ]; then
	mt_expect_rc 0 member setpriv --reuid=65534 --regid=65534 --groups="$GID" 		"$CTL" --socket "$SOCK" status --json
	log "socket: a non-member is refused, a member of mirror-target (gid $GID) is served"
else
	log "socket: a non-member is refused (no group mirror-target here: root only)"
fi

# ---- stop -----------------------------------------------------------------------------

mt_daemon_stop
mt_assert_eq "$DRC" 0 "exit status after SIGTERM"
[ ! -e "$SOCK" ] || fail "control socket left behind after SIGTERM"
log "PASS"
