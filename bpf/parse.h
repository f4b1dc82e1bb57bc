/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Header parsers of the XDP program, one per layer of the outer packet.
 * Each takes a cursor, checks that its header lies inside the frame right
 * after deriving the pointer (the verifier insists, and a truncated frame
 * must never be read past its end), and moves the cursor past it.
 *
 * Two ends are checked: the frame's (c->end, what arrived) and the
 * datagram's (c->left, what the IPv4 total length, the IPv6 payload length
 * and then the UDP length claim).  The daemon's decap (daemon/core/decap.c)
 * cuts the frame to the shorter of the two, so that Ethernet padding never
 * becomes VXLAN, and a frame it would refuse must not be redirected: both
 * sides draw the same line, which tests/fuzz/fuzz_xdp_verdict.c checks.
 *
 * The verdict policy lives in mirror_target.bpf.c; here the parsers only
 * say whether the frame can still be ours:
 *   MT_PARSE_OK        header present and it leads towards VXLAN
 *   MT_PARSE_NOT_OURS  anything else, truncated headers included
 *   MT_PARSE_FRAGMENT  an outer IP fragment (we cannot reassemble)
 */
#ifndef MT_BPF_PARSE_H
#define MT_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "mt_xdp.h"

/* 802.1Q inside 802.1ad (QinQ) is the most an underlay puts in front. */
#define MT_MAX_VLAN_TAGS 2
/*
 * IPv6 extension headers walked before giving up: hop-by-hop, routing,
 * destination options and AH (authenticated, not encrypted: the UDP header
 * behind it is readable), as many as the daemon's decap walks
 * (MT_IPV6_EXT_MAX in include/mirror-target/decap.h).  A sane packet has
 * at most four; the bound only has to agree with the decap.  ESP, mobility
 * or an unknown header before UDP is not VXLAN we can read: not ours.
 */
#define MT_IPV6_MAX_EXT 8
#define MT_IPPROTO_AH 51

/* Not in the uapi headers: they live in include/net/ip.h. */
#define MT_IP_MF 0x2000
#define MT_IP_OFFSET 0x1fff

#define MT_VXLAN_FLAG_I 0x08

enum mt_parse {
	MT_PARSE_OK = 0,
	MT_PARSE_NOT_OURS,
	MT_PARSE_FRAGMENT,
};

struct mt_cursor {
	void *pos;
	void *end; /* end of the frame (first buffer) */
	__u32 left; /* bytes of the datagram from pos on, as its headers say */
};

struct mt_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* RFC 7348 section 5; the reserved fields are ignored on receipt. */
struct mt_vxlan_hdr {
	__u8 flags;
	__u8 reserved1[3];
	__u8 vni[3];
	__u8 reserved2;
};

/* What the parse learnt about a frame addressed to our UDP port. */
struct mt_outer {
	__u8 family; /* 4 or 6 */
	struct mt_xdp_src4_key src4; /* filled for IPv4, ready for the LPM */
	struct mt_xdp_src6_key src6; /* filled for IPv6 */
	__u32 vni;
	__u16 inner_off;
};

/* Ethernet and up to MT_MAX_VLAN_TAGS tags; *proto is network order. */
static __always_inline int mt_parse_eth(struct mt_cursor *c, __be16 *proto)
{
	struct ethhdr *eth = c->pos;
	int i;

	if ((void *)(eth + 1) > c->end)
		return MT_PARSE_NOT_OURS;
	c->pos = eth + 1;
	*proto = eth->h_proto;

#pragma unroll
	for (i = 0; i < MT_MAX_VLAN_TAGS; i++) {
		struct mt_vlan_hdr *vlan = c->pos;

		if (*proto != bpf_htons(ETH_P_8021Q) &&
		    *proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vlan + 1) > c->end)
			return MT_PARSE_NOT_OURS;
		c->pos = vlan + 1;
		*proto = vlan->encap_proto;
	}
	return MT_PARSE_OK;
}

/*
 * IPv4 with any IHL; stops on the UDP header.  A total length shorter than
 * the header is a broken header, not ours; one longer than what arrived is
 * left to the frame's end, as the decap does.
 */
static __always_inline int mt_parse_ipv4(struct mt_cursor *c,
					 struct mt_outer *o)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot;

	if ((void *)(iph + 1) > c->end)
		return MT_PARSE_NOT_OURS;
	if (iph->version != 4 || iph->ihl < 5)
		return MT_PARSE_NOT_OURS;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen || c->pos + hlen > c->end)
		return MT_PARSE_NOT_OURS;
	/*
	 * Every fragment, VXLAN or not: only the first one carries the UDP
	 * header, so the later ones cannot be told apart.  The stack
	 * reassembles them and, with nobody listening on the port, drops.
	 */
	if (iph->frag_off & bpf_htons(MT_IP_MF | MT_IP_OFFSET))
		return MT_PARSE_FRAGMENT;
	if (iph->protocol != IPPROTO_UDP)
		return MT_PARSE_NOT_OURS;

	o->family = 4;
	o->src4.prefixlen = 32;
	__builtin_memcpy(o->src4.addr, &iph->saddr, sizeof(o->src4.addr));
	c->pos += hlen;
	c->left = tot - hlen;
	return MT_PARSE_OK;
}

/*
 * IPv6 and a bounded walk over extension headers to UDP.  Payload length 0
 * (a jumbogram) says nothing: the frame's end is the datagram's.
 */
static __always_inline int mt_parse_ipv6(struct mt_cursor *c,
					 struct mt_outer *o)
{
	struct ipv6hdr *ip6 = c->pos;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6 + 1) > c->end)
		return MT_PARSE_NOT_OURS;
	if (ip6->version != 6)
		return MT_PARSE_NOT_OURS;
	c->pos = ip6 + 1;
	c->left = bpf_ntohs(ip6->payload_len);
	if (!c->left)
		c->left = 0xffffffff;
	nexthdr = ip6->nexthdr;

#pragma unroll
	for (i = 0; i < MT_IPV6_MAX_EXT; i++) {
		struct ipv6_opt_hdr *ext = c->pos;
		__u32 len;

		if (nexthdr == IPPROTO_FRAGMENT)
			return MT_PARSE_FRAGMENT;
		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS && nexthdr != MT_IPPROTO_AH)
			break;
		if ((void *)(ext + 1) > c->end)
			return MT_PARSE_NOT_OURS;
		/* AH counts 4-byte words minus 2 (RFC 4302), the rest 8-byte. */
		if (nexthdr == MT_IPPROTO_AH)
			len = ((__u32)ext->hdrlen + 2) * 4;
		else
			len = ((__u32)ext->hdrlen + 1) * 8;
		if (len > c->left || c->pos + len > c->end)
			return MT_PARSE_NOT_OURS;
		nexthdr = ext->nexthdr;
		c->pos += len;
		c->left -= len;
	}
	if (nexthdr == IPPROTO_FRAGMENT)
		return MT_PARSE_FRAGMENT;
	if (nexthdr != IPPROTO_UDP)
		return MT_PARSE_NOT_OURS;

	o->family = 6;
	o->src6.prefixlen = 128;
	__builtin_memcpy(o->src6.addr, &ip6->saddr, sizeof(o->src6.addr));
	return MT_PARSE_OK;
}

/*
 * UDP to port (host order); the UDP checksum is the decap's business.  A
 * UDP length shorter than the datagram ends it early; one below the header
 * size is bogus and, like one beyond the datagram, ignored (as the decap
 * does).
 */
static __always_inline int mt_parse_udp(struct mt_cursor *c, __u16 port)
{
	struct udphdr *udp = c->pos;
	__u32 ulen;

	if ((void *)(udp + 1) > c->end || c->left < sizeof(*udp))
		return MT_PARSE_NOT_OURS;
	if (udp->dest != bpf_htons(port))
		return MT_PARSE_NOT_OURS;
	ulen = bpf_ntohs(udp->len);
	if (ulen >= sizeof(*udp) && ulen < c->left)
		c->left = ulen;
	c->pos = udp + 1;
	c->left -= sizeof(*udp);
	return MT_PARSE_OK;
}

/*
 * VXLAN header with the I flag, followed by at least an inner Ethernet
 * header: without one there is nothing to capture.  Returns 0 or -1.
 */
static __always_inline int mt_parse_vxlan(struct mt_cursor *c, void *data,
					  struct mt_outer *o)
{
	struct mt_vxlan_hdr *vx = c->pos;
	struct ethhdr *inner;

	if ((void *)(vx + 1) > c->end || c->left < sizeof(*vx))
		return -1;
	if (!(vx->flags & MT_VXLAN_FLAG_I))
		return -1;
	inner = (void *)(vx + 1);
	if ((void *)(inner + 1) > c->end ||
	    c->left < sizeof(*vx) + sizeof(*inner))
		return -1;

	o->vni = (__u32)vx->vni[0] << 16 | (__u32)vx->vni[1] << 8 | vx->vni[2];
	o->inner_off = (__u16)((void *)inner - data);
	c->pos = inner;
	return 0;
}

#endif /* MT_BPF_PARSE_H */
