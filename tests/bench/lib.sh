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

# bench_build: what a benchmark needs from a clean clone, so that it is one
# command: the Debian packages (tools/setup.sh, idempotent) and the build
# tree $MT_BUILD_DIR (configured if new, then brought up to date; a
# no-op when it is).  MT_BENCH_BUILD=0 uses the tree as it is.  Root.
bench_build() {
	[ "${MT_BENCH_BUILD:-1}" = 1 ] || return 0
	"$MT_SOURCE_DIR/tools/setup.sh" >/dev/null ||
		fail "tools/setup.sh could not install the packages (see above)"
	if [ ! -f "$MT_BUILD_DIR/CMakeCache.txt" ]; then
		log "configuring $MT_BUILD_DIR (cmake -S $MT_SOURCE_DIR -B $MT_BUILD_DIR)"
		cmake -S "$MT_SOURCE_DIR" -B "$MT_BUILD_DIR" >/dev/null ||
			fail "cmake could not configure $MT_BUILD_DIR"
	fi
	log "building $MT_BUILD_DIR (cmake --build)"
	cmake --build "$MT_BUILD_DIR" -j"$(nproc)" >"$MT_TMP/build.log" 2>&1 ||
		fail "the build failed: $(tail -n 20 "$MT_TMP/build.log")"
}
