/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Offline mode: `mirror-targetd --read FILE` feeds a capture of the raw
 * mirrored traffic (tcpdump -w of UDP 4789, pcap or pcapng) through the
 * same pipeline the live workers use, writes segments into the configured
 * directory, and prints what happened.  Packet time drives rotation.
 */
#ifndef MT_OFFLINE_H
#define MT_OFFLINE_H

#include <stdbool.h>

#include "mirror-target/config.h"

struct mt_offline_opts {
	const char *input; /* path, or "-" for stdin */
	bool quiet; /* no progress on stderr */
};

/* Returns the process exit status: 0 done, 1 read/write failure, 2 usage. */
int mt_offline_run(const struct mt_config *cfg,
		   const struct mt_offline_opts *opts);

#endif /* MT_OFFLINE_H */
