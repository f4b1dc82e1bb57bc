// SPDX-License-Identifier: GPL-2.0-only
/*
 * VXLAN decapsulation and inner flow parse (DESIGN §3).
 *
 * This runs once per mirrored packet, so it is written as a straight walk
 * down the headers with offsets kept as unsigned integers relative to the
 * start of the buffer: each check is "are there n more bytes before end",
 * done as (end - off < n) with off <= end held as an invariant, which cannot
 * overflow whatever a header claims.  Fields are read byte by byte or with
 * memcpy, never through a cast struct pointer: UMEM frames and VLAN tags
 * give no alignment guarantee.
 */
#include <string.h>

#include "mirror-target/decap.h"

#define ETH_HLEN 14
#define VLAN_HLEN 4
#define IP4_HLEN 20
#define IP6_HLEN 40
#define UDP_HLEN 8

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_8021Q 0x8100
#define ETHERTYPE_8021AD 0x88a8

#define PROTO_HOPOPTS 0
#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ROUTING 43
#define PROTO_FRAGMENT 44
#define PROTO_AH 51
#define PROTO_ICMPV6 58
#define PROTO_DSTOPTS 60

/* IPv4 flags+offset: MF and the 13-bit offset; DF does not matter. */
#define IP4_FRAG_MASK 0x3fff
#define IP4_OFFSET_MASK 0x1fff
#define IP6_FRAG_OFFSET_MASK 0xfff8

/* IPv6 extension headers we walk, as a bit set over next-header values. */
#define IP6_EXT_MASK                                     \
	(1ull << PROTO_HOPOPTS | 1ull << PROTO_ROUTING | \
	 1ull << PROTO_FRAGMENT | 1ull << PROTO_AH | 1ull << PROTO_DSTOPTS)

static inline uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap32(v);
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

static inline int is_vlan(uint16_t et)
{
	return et == ETHERTYPE_8021Q || et == ETHERTYPE_8021AD;
}

static inline int is_ip6_ext(uint8_t nh)
{
	return nh < 64 && (IP6_EXT_MASK >> nh & 1);
}

/* Length of a non-fragment extension header from its second byte. */
static inline uint32_t ip6_ext_len(uint8_t nh, const uint8_t *h)
{
	/* AH counts 4-byte words minus 2 (RFC 4302); the rest 8-byte words. */
	if (nh == PROTO_AH)
		return ((uint32_t)h[1] + 2) * 4;
	return ((uint32_t)h[1] + 1) * 8;
}

/*
 * Field by field on purpose: a compound literal here makes gcc emit
 * "rep stos", which doubled the cost of a whole decap.  hi/lo are cleared
 * because the union shares them with v4 and the matcher may compare them.
 */
static inline void ip_set4(struct mt_ip *ip, const uint8_t *b)
{
	ip->family = AF_INET;
	ip->hi = 0;
	ip->lo = 0;
	ip->v4 = ld32(b);
}

static inline void ip_set6(struct mt_ip *ip, const uint8_t *b)
{
	ip->family = AF_INET6;
	ip->hi = ld64(b);
	ip->lo = ld64(b + 8);
}

/*
 * Ports or ICMP type/code.  Only the first bytes of the L4 header are
 * needed: a truncated copy that still holds them is fully classifiable.
 */
static inline enum mt_inner_status parse_l4(const uint8_t *l4, uint32_t rem,
					    struct mt_flow *f)
{
	switch (f->proto) {
	case PROTO_TCP:
	case PROTO_UDP:
		if (rem < 4)
			return MT_INNER_TRUNC_L4;
		f->sport = ld16(l4);
		f->dport = ld16(l4 + 2);
		f->flags |= MT_FLOW_PORTS;
		return MT_INNER_OK;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		if (rem < 2)
			return MT_INNER_TRUNC_L4;
		f->icmp_type = l4[0];
		f->icmp_code = l4[1];
		f->flags |= MT_FLOW_ICMP;
		return MT_INNER_OK;
	default:
		return MT_INNER_OK;
	}
}

/*
 * off = inner L2 header length, so off + (what the IP header claims) is the
 * length the frame had before AWS cut it to fit the session packet length.
 */
static inline enum mt_inner_status parse_ip4(const uint8_t *ip, uint32_t rem,
					     uint32_t off, struct mt_flow *f,
					     uint32_t *orig_len)
{
	uint32_t ihl, tot, end;
	uint16_t frag;

	if (rem < IP4_HLEN) {
		if (rem >= 4 && ip[0] >> 4 == 4 &&
		    off + ld16(ip + 2) > *orig_len)
			*orig_len = off + ld16(ip + 2);
		return MT_INNER_TRUNC_IP;
	}
	ihl = (ip[0] & 0x0f) * 4u;
	tot = ld16(ip + 2);
	if (ip[0] >> 4 != 4 || ihl < IP4_HLEN || tot < ihl)
		return MT_INNER_BAD_IP;
	if (off + tot > *orig_len)
		*orig_len = off + tot;
	if (rem < ihl)
		return MT_INNER_TRUNC_IP;

	ip_set4(&f->src, ip + 12);
	ip_set4(&f->dst, ip + 16);
	f->proto = ip[9];
	f->flags = MT_FLOW_IP;
	frag = ld16(ip + 6);
	if (frag & IP4_FRAG_MASK) {
		f->flags |= MT_FLOW_FRAGMENT;
		/* Only the first fragment carries the L4 header. */
		if (frag & IP4_OFFSET_MASK) {
			f->flags |= MT_FLOW_LATER_FRAG;
			return MT_INNER_OK;
		}
	}
	/* Ethernet padding after a short packet is not L4 header. */
	end = tot < rem ? tot : rem;
	return parse_l4(ip + ihl, end - ihl, f);
}

static inline enum mt_inner_status parse_ip6(const uint8_t *ip, uint32_t rem,
					     uint32_t off, struct mt_flow *f,
					     uint32_t *orig_len)
{
	uint32_t plen, end, l4;
	uint8_t nh;

	if (rem < IP6_HLEN) {
		if (rem >= 6 && ip[0] >> 4 == 6 &&
		    off + IP6_HLEN + ld16(ip + 4) > *orig_len)
			*orig_len = off + IP6_HLEN + ld16(ip + 4);
		return MT_INNER_TRUNC_IP;
	}
	if (ip[0] >> 4 != 6)
		return MT_INNER_BAD_IP;
	plen = ld16(ip + 4);
	/* Payload length 0 is a jumbogram: only what arrived is known. */
	end = rem;
	if (plen) {
		if (off + IP6_HLEN + plen > *orig_len)
			*orig_len = off + IP6_HLEN + plen;
		if (IP6_HLEN + plen < rem)
			end = IP6_HLEN + plen;
	}

	ip_set6(&f->src, ip + 8);
	ip_set6(&f->dst, ip + 24);
	/*
	 * The addresses stay usable for direction inference even if the
	 * chain below cannot be walked; MT_FLOW_IP waits for the protocol.
	 */
	nh = ip[6];
	l4 = IP6_HLEN;
	for (unsigned int n = 0; is_ip6_ext(nh); n++) {
		const uint8_t *h = ip + l4;
		uint32_t hl;

		if (n == MT_IPV6_EXT_MAX)
			return MT_INNER_EXTHDR_LIMIT;
		/* Every extension header is at least 8 bytes long. */
		if (end - l4 < 8)
			return MT_INNER_TRUNC_EXTHDR;
		if (nh == PROTO_FRAGMENT) {
			f->flags |= MT_FLOW_FRAGMENT;
			if (ld16(h + 2) & IP6_FRAG_OFFSET_MASK) {
				f->proto = h[0];
				f->flags |= MT_FLOW_IP | MT_FLOW_LATER_FRAG;
				return MT_INNER_OK;
			}
			nh = h[0];
			l4 += 8;
			continue;
		}
		hl = ip6_ext_len(nh, h);
		if (end - l4 < hl)
			return MT_INNER_TRUNC_EXTHDR;
		nh = h[0];
		l4 += hl;
	}
	f->proto = nh;
	f->flags |= MT_FLOW_IP;
	return parse_l4(ip + l4, end - l4, f);
}

/*
 * Always inlined: gcc otherwise keeps one out-of-line copy for its two
 * callers, and the call plus the flow written through a pointer cost the
 * per-packet path several ns.
 */
static inline __attribute__((always_inline)) enum mt_inner_status
parse_inner(const uint8_t *eth, uint32_t len, struct mt_flow *f,
	    uint32_t *orig_len)
{
	uint32_t off = ETH_HLEN;
	uint16_t et;

	*f = (struct mt_flow){ 0 };
	*orig_len = len;
	/* mt_decap_*() never gets here with less; a direct caller might. */
	if (len < ETH_HLEN)
		return MT_INNER_NOT_IP;
	et = ld16(eth + 12);
	for (unsigned int n = 0; is_vlan(et); n++) {
		if (n == MT_VLAN_MAX)
			return MT_INNER_TOO_MANY_VLANS;
		if (len - off < VLAN_HLEN)
			return MT_INNER_TRUNC_VLAN;
		et = ld16(eth + off + 2);
		off += VLAN_HLEN;
	}
	if (et == ETHERTYPE_IPV4)
		return parse_ip4(eth + off, len - off, off, f, orig_len);
	if (et == ETHERTYPE_IPV6)
		return parse_ip6(eth + off, len - off, off, f, orig_len);
	return MT_INNER_NOT_IP;
}

enum mt_inner_status mt_parse_inner(const uint8_t *eth, uint32_t len,
				    struct mt_flow *flow, uint32_t *orig_len)
{
	return parse_inner(eth, len, flow, orig_len);
}

/*
 * From the outer IP header on.  end is where the datagram ends: what
 * arrived, cut down to what the IP and then the UDP header claim, so that
 * Ethernet padding of a short frame never becomes part of the inner frame.
 */
static inline enum mt_decap_status decap_l3(const uint8_t *l3, uint32_t len,
					    uint16_t et, uint16_t vxlan_port,
					    struct mt_decap *d)
{
	uint32_t end, l4, ulen, vx;
	const uint8_t *udp;

	if (et == ETHERTYPE_IPV4) {
		uint32_t ihl, tot;

		if (len < IP4_HLEN)
			return MT_DECAP_TRUNC_IP;
		ihl = (l3[0] & 0x0f) * 4u;
		tot = ld16(l3 + 2);
		if (l3[0] >> 4 != 4 || ihl < IP4_HLEN || tot < ihl)
			return MT_DECAP_BAD_IP;
		if (len < ihl)
			return MT_DECAP_TRUNC_IP;
		ip_set4(&d->outer_src, l3 + 12);
		ip_set4(&d->outer_dst, l3 + 16);
		/*
		 * Only the first fragment has the UDP header and nobody
		 * reassembles for us: the fix is the underlay MTU.
		 */
		if (ld16(l3 + 6) & IP4_FRAG_MASK)
			return MT_DECAP_OUTER_FRAGMENT;
		if (l3[9] != PROTO_UDP)
			return MT_DECAP_NOT_UDP;
		end = tot < len ? tot : len;
		l4 = ihl;
	} else if (et == ETHERTYPE_IPV6) {
		uint32_t plen;
		uint8_t nh;

		if (len < IP6_HLEN)
			return MT_DECAP_TRUNC_IP;
		if (l3[0] >> 4 != 6)
			return MT_DECAP_BAD_IP;
		plen = ld16(l3 + 4);
		end = plen && IP6_HLEN + plen < len ? IP6_HLEN + plen : len;
		ip_set6(&d->outer_src, l3 + 8);
		ip_set6(&d->outer_dst, l3 + 24);
		nh = l3[6];
		l4 = IP6_HLEN;
		for (unsigned int n = 0; is_ip6_ext(nh); n++) {
			uint32_t hl;

			if (nh == PROTO_FRAGMENT)
				return MT_DECAP_OUTER_FRAGMENT;
			if (n == MT_IPV6_EXT_MAX)
				return MT_DECAP_IPV6_EXT_LIMIT;
			if (end - l4 < 8)
				return MT_DECAP_TRUNC_IP;
			hl = ip6_ext_len(nh, l3 + l4);
			if (end - l4 < hl)
				return MT_DECAP_TRUNC_IP;
			nh = l3[l4];
			l4 += hl;
		}
		if (nh != PROTO_UDP)
			return MT_DECAP_NOT_UDP;
	} else {
		return MT_DECAP_NOT_IP;
	}

	if (end - l4 < UDP_HLEN)
		return MT_DECAP_TRUNC_UDP;
	udp = l3 + l4;
	if (ld16(udp + 2) != vxlan_port)
		return MT_DECAP_NOT_VXLAN_PORT;
	d->outer_sport = ld16(udp);
	/* A UDP length below the header size is bogus: trust IP's instead. */
	ulen = ld16(udp + 4);
	if (ulen >= UDP_HLEN && ulen < end - l4)
		end = l4 + ulen;
	vx = l4 + UDP_HLEN;
	if (end - vx < MT_VXLAN_HLEN)
		return MT_DECAP_TRUNC_VXLAN;
	/* RFC 7348: only I is defined; other bits are ignored on receipt. */
	if (!(l3[vx] & MT_VXLAN_FLAG_I))
		return MT_DECAP_BAD_VXLAN_FLAGS;
	d->vni = (uint32_t)l3[vx + 4] << 16 | (uint32_t)l3[vx + 5] << 8 |
		 l3[vx + 6];
	vx += MT_VXLAN_HLEN;
	if (end - vx < ETH_HLEN)
		return MT_DECAP_TRUNC_INNER_ETH;
	d->inner = l3 + vx;
	d->inner_len = end - vx;
	d->inner_status =
		parse_inner(d->inner, d->inner_len, &d->flow, &d->orig_len);
	return MT_DECAP_OK;
}

/* What a failed decap leaves behind: no inner frame, no flow. */
static inline void decap_reset(struct mt_decap *d)
{
	d->inner = NULL;
	d->inner_len = 0;
	d->orig_len = 0;
	d->vni = 0;
	d->outer_src.family = 0;
	d->outer_dst.family = 0;
	d->outer_sport = 0;
	d->inner_status = MT_INNER_OK;
	d->flow.flags = 0;
}

enum mt_decap_status mt_decap_eth(const uint8_t *frame, uint32_t len,
				  uint16_t vxlan_port, struct mt_decap *d)
{
	uint32_t off = ETH_HLEN;
	uint16_t et;

	decap_reset(d);
	if (len < ETH_HLEN)
		return MT_DECAP_TRUNC_ETH;
	et = ld16(frame + 12);
	for (unsigned int n = 0; is_vlan(et); n++) {
		if (n == MT_VLAN_MAX)
			return MT_DECAP_TOO_MANY_VLANS;
		if (len - off < VLAN_HLEN)
			return MT_DECAP_TRUNC_VLAN;
		et = ld16(frame + off + 2);
		off += VLAN_HLEN;
	}
	return decap_l3(frame + off, len - off, et, vxlan_port, d);
}

enum mt_decap_status mt_decap_ip(const uint8_t *l3, uint32_t len,
				 uint16_t ethertype, uint16_t vxlan_port,
				 struct mt_decap *d)
{
	decap_reset(d);
	if (!ethertype) {
		if (len < 1)
			return MT_DECAP_TRUNC_IP;
		switch (l3[0] >> 4) {
		case 4:
			ethertype = ETHERTYPE_IPV4;
			break;
		case 6:
			ethertype = ETHERTYPE_IPV6;
			break;
		default:
			return MT_DECAP_BAD_IP;
		}
	}
	return decap_l3(l3, len, ethertype, vxlan_port, d);
}

static const char *const decap_names[MT_DECAP__MAX] = {
	[MT_DECAP_OK] = "ok",
	[MT_DECAP_NOT_IP] = "not_ip",
	[MT_DECAP_NOT_UDP] = "not_udp",
	[MT_DECAP_NOT_VXLAN_PORT] = "not_vxlan_port",
	[MT_DECAP_OUTER_FRAGMENT] = "outer_fragment",
	[MT_DECAP_TRUNC_ETH] = "trunc_eth",
	[MT_DECAP_TRUNC_VLAN] = "trunc_vlan",
	[MT_DECAP_TOO_MANY_VLANS] = "too_many_vlans",
	[MT_DECAP_TRUNC_IP] = "trunc_ip",
	[MT_DECAP_BAD_IP] = "bad_ip",
	[MT_DECAP_IPV6_EXT_LIMIT] = "ipv6_ext_limit",
	[MT_DECAP_TRUNC_UDP] = "trunc_udp",
	[MT_DECAP_TRUNC_VXLAN] = "trunc_vxlan",
	[MT_DECAP_BAD_VXLAN_FLAGS] = "bad_vxlan_flags",
	[MT_DECAP_TRUNC_INNER_ETH] = "trunc_inner_eth",
};

static const char *const inner_names[MT_INNER__MAX] = {
	[MT_INNER_OK] = "ok",
	[MT_INNER_NOT_IP] = "not_ip",
	[MT_INNER_TRUNC_VLAN] = "trunc_vlan",
	[MT_INNER_TOO_MANY_VLANS] = "too_many_vlans",
	[MT_INNER_TRUNC_IP] = "trunc_ip",
	[MT_INNER_BAD_IP] = "bad_ip",
	[MT_INNER_TRUNC_EXTHDR] = "trunc_exthdr",
	[MT_INNER_EXTHDR_LIMIT] = "exthdr_limit",
	[MT_INNER_TRUNC_L4] = "trunc_l4",
};

const char *mt_decap_status_name(enum mt_decap_status s)
{
	if ((unsigned int)s >= MT_DECAP__MAX)
		return "unknown";
	return decap_names[s];
}

const char *mt_inner_status_name(enum mt_inner_status s)
{
	if ((unsigned int)s >= MT_INNER__MAX)
		return "unknown";
	return inner_names[s];
}
