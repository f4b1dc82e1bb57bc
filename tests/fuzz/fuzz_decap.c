// SPDX-License-Identifier: GPL-2.0-only
/*
 * VXLAN decapsulation on arbitrary bytes, read both as an Ethernet frame
 * and as a raw outer IP packet.  Besides the sanitizers catching any read
 * outside the input, the result must describe a slice of the input and a
 * consistent flow: the writer copies d.inner_len bytes from d.inner and
 * puts d.orig_len into the pcap record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/decap.h"

static void check_flow(const struct mt_flow *f, enum mt_inner_status st)
{
	if ((f->flags & (MT_FLOW_PORTS | MT_FLOW_ICMP)) &&
	    !(f->flags & MT_FLOW_IP))
		abort();
	if ((f->flags & MT_FLOW_PORTS) && (f->flags & MT_FLOW_ICMP))
		abort();
	if ((f->flags & MT_FLOW_LATER_FRAG) &&
	    (!(f->flags & MT_FLOW_FRAGMENT) || (f->flags & MT_FLOW_PORTS)))
		abort();
	if ((f->flags & MT_FLOW_IP) &&
	    (f->src.family == 0 || f->src.family != f->dst.family))
		abort();
	if (st == MT_INNER_NOT_IP && f->flags)
		abort();
	if ((unsigned int)st >= MT_INNER__MAX)
		abort();
}

static void check(const uint8_t *data, size_t size, enum mt_decap_status st,
		  const struct mt_decap *d)
{
	if ((unsigned int)st >= MT_DECAP__MAX ||
	    !strcmp(mt_decap_status_name(st), "unknown"))
		abort();
	if (st != MT_DECAP_OK) {
		if (d->inner || d->inner_len)
			abort();
		return;
	}
	if (d->inner < data || d->inner_len > size ||
	    (size_t)(d->inner - data) > size - d->inner_len)
		abort();
	if (d->inner_len < 14 || d->orig_len < d->inner_len ||
	    d->vni > 0xffffff)
		abort();
	check_flow(&d->flow, d->inner_status);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_decap d;
	struct mt_flow f;
	uint32_t orig;
	enum mt_inner_status ist;
	uint32_t len = size > UINT32_MAX ? UINT32_MAX : (uint32_t)size;

	check(data, len, mt_decap_eth(data, len, MT_VXLAN_PORT, &d), &d);
	check(data, len, mt_decap_ip(data, len, 0, MT_VXLAN_PORT, &d), &d);

	/* The same bytes as a mirrored frame on their own. */
	ist = mt_parse_inner(data, len, &f, &orig);
	if (orig < len)
		abort();
	check_flow(&f, ist);
	return 0;
}
