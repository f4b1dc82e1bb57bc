// SPDX-License-Identifier: GPL-2.0-only
/*
 * The memory the daemon may still take: MemAvailable, or less where a
 * memory cgroup above it (v2 or v1's controller, found through mountinfo
 * as the kernel lays them out) has less room.  Each test lays out a fake
 * /proc and /sys/fs/cgroup under mt_fx_tmp.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fixtures.h"
#include "mirror-target/memroom.h"

TestSuite(memroom, .init = mt_fx_tmp_setup, .fini = mt_fx_tmp_teardown,
	  .timeout = 30);

#define MIB (1024ull * 1024)

/* Writes text to mt_fx_tmp/rel, making the directories on the way. */
static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, rel);
	for (char *p = path + strlen(mt_fx_tmp) + 1; (p = strchr(p, '/'));
	     p++) {
		*p = '\0';
		cr_assert(!mkdir(path, 0755) || errno == EEXIST, "%s", path);
		*p = '/';
	}
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* dir/limit_name and dir/usage_name: a cgroup's limit and usage. */
static void limit_files(const char *dir, const char *limit_name,
			const char *limit, const char *usage_name,
			const char *usage)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, limit_name);
	put(path, limit);
	snprintf(path, sizeof(path), "%s/%s", dir, usage_name);
	put(path, usage);
}

/* A v2 cgroup's memory.max and memory.current. */
static void limit(const char *dir, const char *max, const char *current)
{
	limit_files(dir, "memory.max", max, "memory.current", current);
}

/* A v1 memory cgroup's limit_in_bytes and usage_in_bytes. */
static void limit_v1(const char *dir, const char *max, const char *usage)
{
	limit_files(dir, "memory.limit_in_bytes", max, "memory.usage_in_bytes",
		    usage);
}

static void meminfo(unsigned long long kib)
{
	char text[256];

	snprintf(text, sizeof(text),
		 "MemTotal:       24683620 kB\nMemFree:        1000 kB\n"
		 "MemAvailable:   %llu kB\nBuffers:        0 kB\n",
		 kib);
	put("proc/meminfo", text);
}

/* A mountinfo line for a cgroup mount: type "cgroup2" or "cgroup". */
static const char *mount_line(char *buf, size_t size, const char *root,
			      const char *dir, const char *type,
			      const char *super)
{
	snprintf(buf, size,
		 "40 30 0:37 %s %s rw,nosuid,nodev,noexec,relatime shared:9 "
		 "- %s %s %s\n",
		 root, dir, type, type, super);
	return buf;
}

/*
 * 20,000 MiB available and one cgroup2 mount at dir showing the
 * hierarchy's mroot; this process in cgroup (a /proc/self/cgroup line).
 */
static void v2_layout(const char *mroot, const char *dir, const char *cgroup)
{
	char m[512];

	meminfo(20000 * 1024);
	put("proc/self/mountinfo",
	    mount_line(m, sizeof(m), mroot, dir, "cgroup2", "rw"));
	put("proc/self/cgroup", cgroup);
}

static struct mt_memroom read_room(void)
{
	struct mt_memroom room;

	mt_memroom_read(mt_fx_tmp, &room);
	return room;
}

Test(memroom, without_cgroups_it_is_mem_available)
{
	struct mt_memroom room;

	meminfo(2048 * 1024);
	put("proc/self/mountinfo",
	    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/root rw\n");
	put("proc/self/cgroup", "0::/\n");
	room = read_room();
	cr_assert_eq(room.bytes, 2048 * MIB);
	cr_assert_eq(room.mem_available, 2048 * MIB);
	cr_assert_eq(room.cg_limit, 0);
}

Test(memroom, nothing_readable_is_unknown)
{
	struct mt_memroom room = read_room();

	cr_assert_eq(room.bytes, UINT64_MAX);
	cr_assert_eq(room.mem_available, 0);
	cr_assert_eq(room.cg_limit, 0);
}

Test(memroom, a_v2_unit_with_memory_max)
{
	struct mt_memroom room;

	v2_layout("/", "/sys/fs/cgroup",
		  "0::/system.slice/mirror-targetd.service\n");
	limit("sys/fs/cgroup/system.slice/mirror-targetd.service",
	      "1073741824\n", "104857600\n");
	limit("sys/fs/cgroup/system.slice", "max\n", "4000000000\n");
	room = read_room();
	cr_assert_eq(room.bytes, 1024 * MIB - 100 * MIB);
	cr_assert_eq(room.cg_limit, 1024 * MIB);
	cr_assert_eq(room.cg_usage, 100 * MIB);
	cr_assert_str_eq(room.cg_path, "/system.slice/mirror-targetd.service");
	cr_assert_eq(room.mem_available, 20000 * MIB);
}

Test(memroom, the_tightest_ancestor_is_the_one_named)
{
	struct mt_memroom room;

	v2_layout("/", "/sys/fs/cgroup", "0::/a/b/c\n");
	limit("sys/fs/cgroup/a/b/c", "4294967296\n", "0\n");
	limit("sys/fs/cgroup/a/b", "max\n", "0\n");
	/* 3 GiB limit, 2.5 GiB used by siblings: 512 MiB left. */
	limit("sys/fs/cgroup/a", "3221225472\n", "2684354560\n");
	room = read_room();
	cr_assert_eq(room.bytes, 512 * MIB);
	cr_assert_str_eq(room.cg_path, "/a");
}

Test(memroom, mem_available_below_the_cgroup_names_no_cgroup)
{
	struct mt_memroom room;

	v2_layout("/", "/sys/fs/cgroup", "0::/x\n");
	meminfo(300 * 1024);
	limit("sys/fs/cgroup/x", "1073741824\n", "0\n");
	room = read_room();
	cr_assert_eq(room.bytes, 300 * MIB);
	cr_assert_eq(room.cg_limit, 0);
	cr_assert_str_eq(room.cg_path, "");
}

/* This VM's layout: v2 mounted without controllers, v1's memory beside. */
Test(memroom, v1_memory_controller_of_a_hybrid_layout)
{
	char m1[512], m2[512], m3[512], all[2048];
	struct mt_memroom room;

	meminfo(20000 * 1024);
	snprintf(all, sizeof(all), "%s%s%s",
		 mount_line(m1, sizeof(m1), "/", "/sys/fs/cgroup/cpu", "cgroup",
			    "rw,cpu"),
		 mount_line(m2, sizeof(m2), "/", "/sys/fs/cgroup/memory",
			    "cgroup", "rw,memory"),
		 mount_line(m3, sizeof(m3), "/", "/sys/fs/cgroup/unified",
			    "cgroup2", "rw"));
	put("proc/self/mountinfo", all);
	put("proc/self/cgroup", "9:name=systemd:/\n4:memory:/mt-test\n"
				"1:cpu:/\n0::/\n");
	limit_v1("sys/fs/cgroup/memory/mt-test", "536870912\n", "765952\n");
	limit("sys/fs/cgroup/memory", "9223372036854771712\n", "467087360\n");
	room = read_room();
	cr_assert_eq(room.bytes, 536870912ull - 765952);
	cr_assert_eq(room.cg_limit, 512 * MIB);
	cr_assert_str_eq(room.cg_path, "/mt-test");
}

/* A container sees its own cgroup as the top of the mount it has. */
Test(memroom, a_mount_of_a_subtree)
{
	char m[512];
	struct mt_memroom room;

	meminfo(20000 * 1024);
	put("proc/self/mountinfo",
	    mount_line(m, sizeof(m), "/docker/abc", "/sys/fs/cgroup", "cgroup2",
		       "rw"));
	put("proc/self/cgroup", "0::/docker/abc\n");
	limit("sys/fs/cgroup", "2147483648\n", "1073741824\n");
	room = read_room();
	cr_assert_eq(room.bytes, 1024 * MIB);
	cr_assert_str_eq(room.cg_path, "/docker/abc");
}

Test(memroom, an_escaped_mount_point_and_usage_over_the_limit)
{
	struct mt_memroom room;

	v2_layout("/", "/cg\\040two", "0::/s\n");
	limit("cg two/s", "1048576\n", "2097152\n");
	room = read_room();
	cr_assert_eq(room.bytes, 0);
	cr_assert_eq(room.cg_limit, MIB);
	cr_assert_str_eq(room.cg_path, "/s");
}

/* A cgroup namespace: the process sees its cgroup as "/", the mount top. */
Test(memroom, a_cgroup_namespace_reads_the_mount_top)
{
	struct mt_memroom room;

	v2_layout("/", "/sys/fs/cgroup", "0::/\n");
	limit("sys/fs/cgroup", "805306368\n", "268435456\n");
	room = read_room();
	cr_assert_eq(room.bytes, 512 * MIB);
	cr_assert_str_eq(room.cg_path, "/");
}

/* Below a container's subtree mount; "/docker/abcd" is not under it. */
Test(memroom, below_a_subtree_mount_and_not_beside_it)
{
	struct mt_memroom room;

	v2_layout("/docker/abc", "/sys/fs/cgroup", "0::/docker/abc/sub\n");
	limit("sys/fs/cgroup", "2147483648\n", "0\n");
	limit("sys/fs/cgroup/sub", "1073741824\n", "0\n");
	room = read_room();
	cr_assert_eq(room.bytes, 1024 * MIB);
	cr_assert_str_eq(room.cg_path, "/docker/abc/sub");

	put("proc/self/cgroup", "0::/docker/abcd\n");
	room = read_room();
	cr_assert_eq(room.bytes, 20000 * MIB,
		     "a mount of /docker/abc does "
		     "not show /docker/abcd");
	cr_assert_str_eq(room.cg_path, "");
}

/* Two mounts of the hierarchy: the one that shows the cgroup is used. */
Test(memroom, the_mount_that_shows_the_cgroup)
{
	char m1[512], m2[512], all[1024];
	struct mt_memroom room;

	meminfo(20000 * 1024);
	snprintf(all, sizeof(all), "%s%s",
		 mount_line(m1, sizeof(m1), "/other", "/mnt/other", "cgroup2",
			    "rw"),
		 mount_line(m2, sizeof(m2), "/", "/sys/fs/cgroup", "cgroup2",
			    "rw"));
	put("proc/self/mountinfo", all);
	put("proc/self/cgroup", "0::/svc\n");
	limit("sys/fs/cgroup/svc", "1073741824\n", "0\n");
	room = read_room();
	cr_assert_eq(room.bytes, 1024 * MIB);
	cr_assert_str_eq(room.cg_path, "/svc");
}

/* v1 co-mounted with cpu ("rw,cpu,memory"); cache it can drop is room. */
Test(memroom, v1_co_mounted_and_its_reclaimable_cache)
{
	char m[512];
	struct mt_memroom room;

	meminfo(20000 * 1024);
	put("proc/self/mountinfo",
	    mount_line(m, sizeof(m), "/", "/sys/fs/cgroup/cpu,memory", "cgroup",
		       "rw,cpu,memory"));
	put("proc/self/cgroup", "3:cpu,memory:/capture\n0::/\n");
	/* 900 MiB used, 600 MiB of it inactive file cache. */
	limit_v1("sys/fs/cgroup/cpu,memory/capture", "1073741824\n",
		 "943718400\n");
	put("sys/fs/cgroup/cpu,memory/capture/memory.stat",
	    "cache 700000000\nrss 1000\ninactive_file 1\n"
	    "total_inactive_file 629145600\n");
	room = read_room();
	cr_assert_eq(room.bytes, 1024 * MIB - 300 * MIB);
	cr_assert_eq(room.cg_usage, 300 * MIB);
	cr_assert_str_eq(room.cg_path, "/capture");
}

/* A cgroup name with a space: /proc/self/cgroup writes it as it is. */
Test(memroom, a_cgroup_name_with_a_space)
{
	struct mt_memroom room;

	v2_layout("/", "/sys/fs/cgroup", "0::/my unit.service\n");
	limit("sys/fs/cgroup/my unit.service", "1073741824\n", "0\n");
	put("sys/fs/cgroup/my unit.service/memory.stat",
	    "anon 0\nfile 0\ninactive_file 0\n");
	room = read_room();
	cr_assert_eq(room.bytes, 1024 * MIB);
	cr_assert_str_eq(room.cg_path, "/my unit.service");
}
