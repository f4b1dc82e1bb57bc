/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * VXLAN decapsulation of mirrored frames (DESIGN §3).
 *
 * mt_decap_eth() takes an outer frame as it sits in the UMEM (or in a
 * tcpdump capture of the mirror port): Ethernet, up to two 802.1Q/802.1ad
 * tags, IPv4 (any IHL) or IPv6, UDP to the VXLAN port, an 8-byte VXLAN
 * header with the I flag, then the mirrored Ethernet frame.  mt_decap_ip()
 * starts at the outer IP header (Linux cooked and raw-IP captures).
 *
 * Outer problems make the frame unusable: the status says why and the
 * caller counts it.  Inner problems do not: the inner frame is still
 * captured, d->inner_status says what could not be parsed and d->flow holds
 * what could (the filter treats missing fields as "does not match").
 *
 * Nothing is read outside [frame, frame + len).
 */
#ifndef MT_DECAP_H
#define MT_DECAP_H

#include <stdint.h>

#include "mirror-target/ip.h"

#define MT_VXLAN_PORT 4789
#define MT_VXLAN_HLEN 8
#define MT_VXLAN_FLAG_I 0x08
/* Bound on the IPv6 extension header walk, inner and outer. */
#define MT_IPV6_EXT_MAX 8
#define MT_VLAN_MAX 2

enum mt_decap_status {
	MT_DECAP_OK = 0,
	MT_DECAP_NOT_IP, /* outer ethertype is not IPv4/IPv6 */
	MT_DECAP_NOT_UDP, /* outer L4 is not UDP */
	MT_DECAP_NOT_VXLAN_PORT, /* UDP, but not to the VXLAN port */
	MT_DECAP_OUTER_FRAGMENT, /* outer IPv4/IPv6 fragment: not usable */
	MT_DECAP_TRUNC_ETH, /* cut inside the outer Ethernet header */
	MT_DECAP_TRUNC_VLAN, /* cut inside an outer VLAN tag */
	MT_DECAP_TOO_MANY_VLANS, /* more than MT_VLAN_MAX outer tags */
	MT_DECAP_TRUNC_IP, /* cut inside the outer IP header */
	MT_DECAP_BAD_IP, /* bad version, IHL < 5, total length < IHL */
	MT_DECAP_IPV6_EXT_LIMIT, /* outer extension header chain too long */
	MT_DECAP_TRUNC_UDP, /* cut inside the outer UDP header */
	MT_DECAP_TRUNC_VXLAN, /* fewer than 8 bytes of VXLAN header */
	MT_DECAP_BAD_VXLAN_FLAGS, /* I flag clear */
	MT_DECAP_TRUNC_INNER_ETH, /* fewer than 14 bytes of inner frame */
	MT_DECAP__MAX
};

enum mt_inner_status {
	MT_INNER_OK = 0,
	MT_INNER_NOT_IP, /* ARP, LLDP, ...: captured, no flow */
	MT_INNER_TRUNC_VLAN, /* cut inside an inner VLAN tag */
	MT_INNER_TOO_MANY_VLANS, /* more than MT_VLAN_MAX inner tags */
	MT_INNER_TRUNC_IP, /* cut inside the inner IP header */
	MT_INNER_BAD_IP, /* bad version or IHL */
	MT_INNER_TRUNC_EXTHDR, /* cut inside an IPv6 extension header */
	MT_INNER_EXTHDR_LIMIT, /* more than MT_IPV6_EXT_MAX ext headers */
	MT_INNER_TRUNC_L4, /* cut before the ports / ICMP type */
	MT_INNER__MAX
};

/* struct mt_flow.flags */
#define MT_FLOW_IP (1u << 0) /* src, dst and proto are valid */
#define MT_FLOW_PORTS (1u << 1) /* sport and dport are valid (TCP/UDP) */
#define MT_FLOW_FRAGMENT (1u << 2) /* part of a fragmented datagram */
#define MT_FLOW_LATER_FRAG (1u << 3) /* not the first fragment: no ports */
#define MT_FLOW_ICMP (1u << 4) /* icmp_type/icmp_code are valid */

/* What the direction inference and the filter look at. */
struct mt_flow {
	struct mt_ip src, dst;
	uint16_t sport, dport; /* host order */
	uint8_t proto; /* upper-layer protocol after ext headers */
	uint8_t flags;
	uint8_t icmp_type, icmp_code;
};

struct mt_decap {
	const uint8_t *inner; /* mirrored Ethernet frame, inside frame */
	uint32_t inner_len; /* bytes of it that arrived */
	/*
	 * Length the mirrored frame had on the wire: inner L2 header plus the
	 * length the inner IP header claims, when that is more than arrived
	 * (AWS truncation); inner_len otherwise.  Goes into pcap orig_len.
	 */
	uint32_t orig_len;
	uint32_t vni;
	struct mt_ip outer_src, outer_dst;
	uint16_t outer_sport; /* host order; AWS hashes the inner flow into it */
	enum mt_inner_status inner_status;
	struct mt_flow flow;
};

/* Outer frame starting with Ethernet.  Returns an enum mt_decap_status. */
enum mt_decap_status mt_decap_eth(const uint8_t *frame, uint32_t len,
				  uint16_t vxlan_port, struct mt_decap *d);

/*
 * Outer frame starting with the IP header; ethertype (host order) says
 * which (0x0800 or 0x86dd); 0 = take it from the version nibble.
 */
enum mt_decap_status mt_decap_ip(const uint8_t *l3, uint32_t len,
				 uint16_t ethertype, uint16_t vxlan_port,
				 struct mt_decap *d);

/*
 * Parses a mirrored (inner) Ethernet frame into *flow and *orig_len.
 * Used by mt_decap_*(); exposed for tests and the benchmarks.
 */
enum mt_inner_status mt_parse_inner(const uint8_t *eth, uint32_t len,
				    struct mt_flow *flow, uint32_t *orig_len);

/* Stable snake_case names, used in counters ("trunc_udp", ...). */
const char *mt_decap_status_name(enum mt_decap_status s);
const char *mt_inner_status_name(enum mt_inner_status s);

#endif /* MT_DECAP_H */
