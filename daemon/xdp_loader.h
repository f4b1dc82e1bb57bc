/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The XDP side of live capture: open the embedded program (skeleton), set
 * its knobs and allow-lists, attach it to the interface through libxdp and
 * take it off again.  AF_XDP sockets are added to its XSKMAP by xsk.c.
 */
#ifndef MT_XDP_LOADER_H
#define MT_XDP_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "mirror-target/ip.h"
#include "mirror-target/log.h"
#include "mt_xdp.h"

struct mt_xdp_loader_opts {
	const char *ifname;
	int ifindex;
	uint16_t vxlan_port;
	bool generic; /* xdp_mode = generic: skip native */
	bool frags; /* load mt_xdp_frags (frames larger than a page) */
	const struct mt_cidr *allow_sources;
	unsigned nallow_sources;
	const uint32_t *allow_vnis;
	unsigned nallow_vnis;
};

struct mt_xdp_loader;

/*
 * Loads and attaches (native, else generic with a warning).  A program of
 * ours left on the interface by a crashed instance is detached first.
 * Returns NULL with err set.
 */
struct mt_xdp_loader *mt_xdp_loader__create(const struct mt_xdp_loader_opts *o,
					    struct mt_err *err);
/* Detaches the program (the interface is the kernel's again) and frees. */
void mt_xdp_loader__destroy(struct mt_xdp_loader *l);

int mt_xdp_loader_xsks_map_fd(const struct mt_xdp_loader *l);
/*
 * Lets valid VXLAN through to the XSKMAP.  Until then (the sockets are
 * bound after the program is attached: libxdp loads it only at attach) such
 * frames are dropped and counted as not_ready.
 */
int mt_xdp_loader_arm(struct mt_xdp_loader *l, struct mt_err *err);
/*
 * Makes the allow-lists exactly these (empty = that list is off), without
 * detaching: used at start and by reload.  Returns 0 or -errno with err
 * set; on failure the lists may hold old and new entries together.
 */
int mt_xdp_loader_set_allow_lists(struct mt_xdp_loader *l,
				  const struct mt_cidr *src, unsigned nsrc,
				  const uint32_t *vnis, unsigned nvni,
				  struct mt_err *err);
/* "native" or "generic" */
const char *mt_xdp_loader_mode_name(const struct mt_xdp_loader *l);
bool mt_xdp_loader_frags(const struct mt_xdp_loader *l);
/* Sums the per-CPU counters into out; 0 or -errno. */
int mt_xdp_loader_counters(const struct mt_xdp_loader *l,
			   uint64_t out[MT_XDP_CNT__MAX]);

/* true when a program named like ours is attached to ifindex. */
bool mt_xdp_loader_attached(int ifindex);

#endif /* MT_XDP_LOADER_H */
