/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Direction inference (DESIGN §4).  The VXLAN packet does not say whether
 * the mirrored packet left or entered the source ENI; the outer source IP is
 * the ENI's primary address, and a session (VNI) may list more addresses
 * (secondary IPs, IPv6).  With S = {outer source} ∪ addresses(VNI):
 * inner src in S -> egress, else inner dst in S -> ingress, else unknown.
 */
#ifndef MT_DIRECTION_H
#define MT_DIRECTION_H

#include <stddef.h>
#include <stdint.h>

#include "mirror-target/decap.h"
#include "mirror-target/ip.h"

enum mt_direction {
	MT_DIR_UNKNOWN = 0,
	MT_DIR_INGRESS,
	MT_DIR_EGRESS,
	MT_DIR__MAX
};

#define MT_SESSION_NAME_MAX 64

struct mt_session {
	uint32_t vni;
	char name[MT_SESSION_NAME_MAX];
	struct mt_ip *addrs; /* extra addresses of the source ENI */
	size_t naddrs;
	/*
	 * Built by mt_sessions_finish() when the session has more IPv4
	 * addresses than a scan handles well: them sorted and unique, for a
	 * binary search.  NULL otherwise (and before finish).
	 */
	uint32_t *v4_sorted;
	size_t nv4_sorted;
};

/* Sessions sorted by VNI for lookup; built from the config. */
struct mt_sessions {
	struct mt_session *v;
	size_t n;
};

/* Sorts by VNI; returns -EEXIST if a VNI appears twice. */
int mt_sessions_finish(struct mt_sessions *s);
const struct mt_session *mt_sessions_find(const struct mt_sessions *s,
					  uint32_t vni);
void mt_sessions_free(struct mt_sessions *s);

enum mt_direction mt_direction_infer(const struct mt_sessions *s,
				     const struct mt_decap *d);

/* "unknown", "ingress", "egress" */
const char *mt_direction_name(enum mt_direction dir);

#endif /* MT_DIRECTION_H */
