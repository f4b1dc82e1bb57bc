/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Giving up capabilities once they have done their work.
 *
 * Live capture needs CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF (or CAP_SYS_ADMIN)
 * and CAP_IPC_LOCK to attach XDP and open the AF_XDP sockets; after that
 * the workers, which parse what anyone who reaches UDP 4789 sends, need
 * none, and only the control thread needs any (to detach XDP at exit).
 * Linux keeps capabilities per thread, so every thread limits its own:
 * a thread created afterwards starts from its creator's set.
 */
#ifndef MT_CAPS_H
#define MT_CAPS_H

#include <stddef.h>
#include <stdint.h>

#define MT_CAP_BIT(n) (1ull << (n))
/* Numbers from linux/capability.h, which older headers lack (CAP_BPF). */
#define MT_CAP_CHOWN MT_CAP_BIT(0)
#define MT_CAP_DAC_OVERRIDE MT_CAP_BIT(1)
#define MT_CAP_DAC_READ_SEARCH MT_CAP_BIT(2)
#define MT_CAP_FOWNER MT_CAP_BIT(3)
#define MT_CAP_NET_ADMIN MT_CAP_BIT(12)
#define MT_CAP_NET_RAW MT_CAP_BIT(13)
#define MT_CAP_IPC_LOCK MT_CAP_BIT(14)
#define MT_CAP_SYS_ADMIN MT_CAP_BIT(21)
#define MT_CAP_BPF MT_CAP_BIT(39)

/*
 * What a thread that only touches files keeps, if it has them (root run
 * by hand with a segment directory owned by mirror-target); the unit's
 * user has none of them.
 */
#define MT_CAPS_FILES                                                  \
	(MT_CAP_CHOWN | MT_CAP_DAC_OVERRIDE | MT_CAP_DAC_READ_SEARCH | \
	 MT_CAP_FOWNER)

/*
 * Limits the calling thread's effective and permitted sets to keep (bits
 * it does not have stay off), and empties its inheritable and ambient
 * sets, so that nothing it executes inherits any.  0 or -errno.
 */
int mt_caps_limit(uint64_t keep);
/* The calling thread's effective set, or 0 when it cannot be read. */
uint64_t mt_caps_effective(void);
/* "CAP_NET_RAW, CAP_BPF" for the bits of set that have a name here. */
void mt_caps_format(uint64_t set, char *buf, size_t size);

#endif /* MT_CAPS_H */
