#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What this machine's memory does to a capture's write path, apart from
# any receiver (root, from the repo root; about a minute):
#
#   tests/bench/vm.sh [--hold-gib N]
#
# Two measurements with tests/bench/vm_memory.c (built here with cc), on
# CPU 0, into tmpfs:
#
#   first touch  1 MiB buffers the process has written are written to a
#                file: their first write against their second, and against
#                buffers the kernel has written into as well (read() from
#                /dev/zero, as mirror-targetd's write-behind pool is at
#                start); and buffers only the kernel has written, filled by
#                the process twice.  Under a hypervisor that shadows the
#                guest's page tables, the first access from each side (the
#                kernel's, the process's) to a page faults on its own.
#   held tmpfs   the daemon's write path in one thread (1516-byte records
#                copied out of a 64 MiB area into a 1 MiB buffer, written
#                out per buffer) measured with 0, 1, ... N GiB (default 8)
#                of other files held in tmpfs, and again once they are
#                deleted.
#
# Nothing is asserted: the output is the evidence the README's performance
# sections cite.  MT_BUILD_DIR as for the e2e tests (the tool is built
# into it).

# shellcheck source-path=SCRIPTDIR source=../e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"

HOLD=8
while [ $# -gt 0 ]; do
	case $1 in
	--hold-gib) HOLD=$2 && shift ;;
	-h | --help)
		sed -n '3,28p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "usage: $0 [--hold-gib N]" >&2
		exit 2
		;;
	esac
	shift
done
case $HOLD in '' | *[!0-9]*) fail "--hold-gib: '$HOLD' is not a number of GiB" ;; esac

mt_require_root
mt_require_cmd cc taskset dd
mt_shm_workdir vm
TOOL=$MT_BUILD_DIR/tests/vm_memory
mkdir -p "$(dirname "$TOOL")"
cc -O2 -Wall -Wextra -o "$TOOL" "$MT_SOURCE_DIR/tests/bench/vm_memory.c" ||
	fail "cannot build vm_memory"
avail=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo)
[ "$HOLD" -le $((avail - 2)) ] || fail "--hold-gib $HOLD: only $avail GiB available"

log "$(taskset -c 0 "$TOOL" first-touch "$WORK" 128)"
for ((gib = 0; gib <= HOLD; gib++)); do
	if [ "$gib" -gt 0 ]; then
		dd if=/dev/zero of="$WORK/hold$gib" bs=1M count=1024 status=none ||
			fail "cannot hold $gib GiB in $WORK"
	fi
	log "$gib GiB held in tmpfs: $(taskset -c 0 "$TOOL" copy "$WORK" 1024)"
done
rm -f "$WORK"/hold*
log "held files deleted: $(taskset -c 0 "$TOOL" copy "$WORK" 1024)"
