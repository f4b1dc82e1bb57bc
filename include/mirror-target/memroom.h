/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * How much memory the daemon can still take: the machine's MemAvailable,
 * or less when a memory cgroup it runs in (a systemd unit's MemoryMax=,
 * a container's limit) would stop it first.  The OOM killer acts on the
 * tighter of the two, so the workers' memory, all taken at start, is
 * checked against it.
 */
#ifndef MT_MEMROOM_H
#define MT_MEMROOM_H

#include <stdint.h>

struct mt_memroom {
	/*
	 * min(MemAvailable, each cgroup's limit - usage); UINT64_MAX when
	 * neither is known.  Usage leaves out the file cache the kernel can
	 * reclaim (inactive_file), which MemAvailable counts as free.
	 */
	uint64_t bytes;
	uint64_t mem_available; /* of /proc/meminfo; 0 when unknown */
	/* The cgroup that sets bytes, if one does (else cg_path is ""). */
	uint64_t cg_limit;
	uint64_t cg_usage; /* less reclaimable cache */
	char cg_path[256]; /* as /proc/self/cgroup: "/system.slice/x" */
};

/*
 * Fills room from root's /proc/meminfo, /proc/self/mountinfo and
 * /proc/self/cgroup and the cgroup files they lead to: cgroup v2
 * (memory.max, memory.current) and v1's memory controller
 * (memory.limit_in_bytes, memory.usage_in_bytes), each ancestor up to the
 * hierarchy's root, as the kernel charges them.  root is "" for this
 * process; tests pass a directory laid out like it.  What cannot be read
 * counts as no limit.
 */
void mt_memroom_read(const char *root, struct mt_memroom *room);

#endif /* MT_MEMROOM_H */
