// SPDX-License-Identifier: GPL-2.0-only
/*
 * Capability sets of the calling thread, through capget(2)/capset(2)
 * directly: two 32-bit words (_LINUX_CAPABILITY_VERSION_3), nothing a
 * library would add.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mirror-target/caps.h"

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return syscall(SYS_capget, &h, d) ? -errno : 0;
}

int mt_caps_limit(uint64_t keep)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];
	int ret = caps_get(d);

	if (ret)
		return ret;
	for (int i = 0; i < 2; i++) {
		uint32_t k = (uint32_t)(keep >> (32 * i));

		d[i].effective &= k;
		d[i].permitted &= k;
		d[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &h, d))
		return -errno;
	/* Empty already (inheritable is), but say so for older kernels. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

uint64_t mt_caps_effective(void)
{
	struct __user_cap_data_struct d[2];

	if (caps_get(d))
		return 0;
	return (uint64_t)d[1].effective << 32 | d[0].effective;
}

void mt_caps_format(uint64_t set, char *buf, size_t size)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} names[] = {
		{ MT_CAP_CHOWN, "CAP_CHOWN" },
		{ MT_CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE" },
		{ MT_CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH" },
		{ MT_CAP_FOWNER, "CAP_FOWNER" },
		{ MT_CAP_NET_ADMIN, "CAP_NET_ADMIN" },
		{ MT_CAP_NET_RAW, "CAP_NET_RAW" },
		{ MT_CAP_IPC_LOCK, "CAP_IPC_LOCK" },
		{ MT_CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
		{ MT_CAP_BPF, "CAP_BPF" },
	};
	size_t n = 0;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int w;

		if (!(set & names[i].bit) || n >= size)
			continue;
		w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
			     names[i].name);
		if (w > 0)
			n += (size_t)w;
	}
	if (!n && size)
		snprintf(buf, size, "none");
}
