/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Live mode: `mirror-targetd -i IFACE` captures from a NIC with XDP and
 * AF_XDP until SIGTERM/SIGINT, reloads the rules on SIGHUP, and prints the
 * counters when it stops.
 */
#ifndef MT_LIVE_H
#define MT_LIVE_H

#include "mirror-target/config.h"

/*
 * Returns the process exit status: 0 after a clean stop (segments sealed,
 * XDP detached), 1 when start-up or writing failed.
 */
int mt_live_run(const struct mt_config *cfg);

#endif /* MT_LIVE_H */
