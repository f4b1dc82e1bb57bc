# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# What live.sh and steady.sh share beyond tests/e2e/lib.sh: the memory of
# this VM.  Sourced after tests/e2e/lib.sh (uses log and MT_ON_EXIT).
#
# This VM backs guest memory on first touch and hands freed pages back to
# its host within seconds (free page reporting), so a page a run writes
# into tmpfs was usually taken back after the last run freed it: dd onto
# /dev/shm wrote 0.43-0.59 GB/s into such pages, 5.4-8.0 GB/s into pages
# freed a moment before or still allocated.  Every receiver writes its
# capture into new tmpfs pages, so the host's page faults capped all of
# them alike and hid the receivers (1500-byte cells: mirror-targetd 0.35
# Mpps with the pages given back, 0.63-0.67 Mpps without, alternated).  An
# EC2 instance backs its memory up front and reports nothing.

# bench_hold_freed_pages: where the guest kernel lets freed pages wait
# before they are reported (page_reporting.min_free_ms, and
# max_waiting_mib above which it reports at once), make them wait for the
# run and put both back at exit.  MT_BENCH_HOLD_FREED=0 leaves them
# alone; MT_BENCH_MAX_WAITING_MIB sets the second (default 16384).
bench_hold_freed_pages() {
	[ "${MT_BENCH_HOLD_FREED:-1}" = 1 ] || return 0
	bench_hold_knob min_free_ms 300000 # (its maximum)
	bench_hold_knob max_waiting_mib "${MT_BENCH_MAX_WAITING_MIB:-16384}"
}

bench_hold_knob() { # bench_hold_knob NAME VALUE
	local knob=/sys/module/page_reporting/parameters/$1 want=$2 was
	[ -w "$knob" ] || return 0
	was=$(cat "$knob")
	[ "$was" -lt "$want" ] || return 0
	echo "$want" >"$knob" 2>/dev/null || return 0
	MT_ON_EXIT+=("echo $was >$knob")
	log "page_reporting.$1: $was -> $want for this run (put back at exit)"
}

# bench_warm_tmpfs DIR MIB: write and delete MIB MiB in DIR (bounded by
# half of the free memory), so backed pages are what the runs get; the
# pass's rate is logged.  0 writes nothing.
bench_warm_tmpfs() {
	local mib=$2 avail
	avail=$(awk '/^MemAvailable:/ { print int($2 / 1024 / 2) }' /proc/meminfo)
	[ "$mib" -le "$avail" ] || mib=$avail
	[ "$mib" -gt 0 ] || return 0
	log "warming $mib MiB of tmpfs"
	dd if=/dev/zero of="$1/warm" bs=1M count="$mib" 2>&1 |
		tail -n 1 | sed "s/^/$MT_E2E_NAME: warm-up: /" >&2
	rm -f "$1/warm"
}

# Captures leave tmpfs as they are finished, as a user's upload would take
# them: past 4-6 GiB held in tmpfs every copy on this VM slows down
# tenfold (tests/bench/vm.sh), which is the VM's doing, not a receiver's,
# and a 1500-byte run writes that much in a few seconds.
#
# bench_count_hook: writes $WORK/count-hook.sh FILE, the hook both
# receivers get (mirror-targetd's output.hook, tcpdump's -z): it counts
# FILE's packets with capinfos into $WORK/counts, then deletes FILE (and a
# segment's .vni index beside it).  It runs on the CPUs in
# $WORK/hook.cpus when that file is there (bench_hook_cpus: the
# generator's, which spins, so not niced there: it would never run), else
# at nice 19.
bench_count_hook() {
	cat >"$WORK/count-hook.sh" <<HOOK
#!/bin/sh
# count-hook.sh FILE: FILE's packets (capinfos) to counts, then delete it.
if [ -s "$WORK/hook.cpus" ]; then
	taskset -pc "\$(cat "$WORK/hook.cpus")" \$\$ >/dev/null
else
	renice -n 19 \$\$ >/dev/null
fi
n=\$(capinfos -c -M "\$1" | awk -F': *' '/Number of packets/ { print \$2 }')
[ -n "\$n" ] || { echo "count-hook: capinfos cannot read \$1" >&2; exit 1; }
echo "\$n \$(basename "\$1")" >>"$WORK/counts"
rm -f "\$1" "\${1%.pcap}.vni"
HOOK
	chmod +x "$WORK/count-hook.sh"
	rm -f "$WORK/counts"
}

# bench_hook_cpus [CPUS]: where the hooks run from now on (empty: where
# the receiver that starts them runs).
bench_hook_cpus() {
	if [ -n "${1:-}" ]; then echo "$1" >"$WORK/hook.cpus"; else rm -f "$WORK/hook.cpus"; fi
}

# bench_counted FILE...: prints "PACKETS FILES": those the hooks counted
# (then forgotten, for the next run) and those of each FILE they did not.
# Waits (up to 60 s) for running hooks first.
bench_counted() {
	local f c n=0 files=0 i
	for ((i = 0; i < 600; i++)); do
		pgrep -f "$WORK/count-hook.sh" >/dev/null || break
		sleep 0.1
	done
	if [ -s "$WORK/counts" ]; then
		read -r n files < <(awk '{ n += $1 } END { print n, NR }' "$WORK/counts")
	fi
	for f in "$@"; do
		[ -s "$f" ] || continue
		[ -s "$WORK/counts" ] &&
			awk -v f="${f##*/}" '$2 == f { found = 1 } END { exit !found }' "$WORK/counts" &&
			continue
		c=$(capinfos -c -M "$f" | awk -F': *' '/Number of packets/ { print $2 }')
		[ -n "$c" ] || fail "capinfos cannot read $f"
		n=$((n + c))
		files=$((files + 1))
	done
	rm -f "$WORK/counts"
	echo "$n $files"
}
