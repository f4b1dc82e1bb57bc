// SPDX-License-Identifier: GPL-2.0-only
/*
 * VXLAN decapsulation: frames built the way AWS Traffic Mirroring sends
 * them (tests/unit/fixtures.c), then bent: tags, options, extension headers,
 * fragments, cuts at every length, lying lengths.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "fixtures.h"
#include "mirror-target/decap.h"

#define BUF_SIZE 4096

static uint8_t frame[BUF_SIZE];
static uint8_t inner[BUF_SIZE];

static const struct mt_fx_outer outer4 = {
	.family = AF_INET,
	.src = "198.18.0.1",
	.dst = "198.18.0.2",
	.sport = 50123,
	.vni = 0xabcdef,
};

static const struct mt_fx_outer outer6 = {
	.family = AF_INET6,
	.src = "2001:db8:ffff::1",
	.dst = "2001:db8:ffff::2",
	.vni = 42,
};

static const struct mt_fx_pkt tcp4 = {
	.family = AF_INET,
	.src = "192.0.2.10",
	.dst = "192.0.2.20",
	.proto = IPPROTO_TCP,
	.sport = 40000,
	.dport = 443,
	.payload_len = 32,
};

static const struct mt_fx_pkt udp6 = {
	.family = AF_INET6,
	.src = "2001:db8::10",
	.dst = "2001:db8::20",
	.proto = IPPROTO_UDP,
	.sport = 5353,
	.dport = 53,
	.payload_len = 17,
};

static void assert_ip(const struct mt_ip *ip, const char *text)
{
	struct mt_ip want;
	char got[MT_IP_STRLEN];

	cr_assert_eq(mt_ip_parse(text, &want), 0);
	cr_assert(mt_ip_equal(ip, &want), "address %s, expected %s",
		  ip->family ? mt_ip_format(ip, got) : "(none)", text);
}

static size_t build(const struct mt_fx_outer *o, const struct mt_fx_pkt *p)
{
	size_t n = mt_fx_frame(frame, sizeof(frame), o, p);

	cr_assert_gt(n, 0, "fixture did not fit");
	return n;
}

static size_t outer_l3_off(const struct mt_fx_outer *o)
{
	return 14 + (o->vlan[0] ? 4 : 0) + (o->vlan[1] ? 4 : 0);
}

static size_t outer_hlen(const struct mt_fx_outer *o)
{
	size_t l3 = o->family == AF_INET ? 20 + o->ip_options : 40;

	return outer_l3_off(o) + l3 + 8 + 8;
}

static enum mt_decap_status decap(size_t len, struct mt_decap *d)
{
	return mt_decap_eth(frame, (uint32_t)len, MT_VXLAN_PORT, d);
}

static void insert(uint8_t *buf, size_t *len, size_t at, const uint8_t *b,
		   size_t n)
{
	cr_assert_leq(*len + n, BUF_SIZE);
	memmove(buf + at + n, buf + at, *len - at);
	memcpy(buf + at, b, n);
	*len += n;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Checks the whole result for tcp4/udp6-like inner packets. */
static void assert_flow(const struct mt_decap *d, const struct mt_fx_pkt *p)
{
	cr_assert_eq(d->inner_status, MT_INNER_OK, "inner status %s",
		     mt_inner_status_name(d->inner_status));
	assert_ip(&d->flow.src, p->src);
	assert_ip(&d->flow.dst, p->dst);
	cr_assert_eq(d->flow.proto, p->proto);
	if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) {
		cr_assert_eq(d->flow.flags, MT_FLOW_IP | MT_FLOW_PORTS);
		cr_assert_eq(d->flow.sport, p->sport);
		cr_assert_eq(d->flow.dport, p->dport);
	} else if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		cr_assert_eq(d->flow.flags, MT_FLOW_IP | MT_FLOW_ICMP);
		cr_assert_eq(d->flow.icmp_type, p->sport);
		cr_assert_eq(d->flow.icmp_code, p->dport);
	}
}

static void assert_ok(size_t len, const struct mt_fx_outer *o,
		      const struct mt_fx_pkt *p)
{
	struct mt_decap d;
	size_t want_inner = len - outer_hlen(o);
	enum mt_decap_status st = decap(len, &d);

	cr_assert_eq(st, MT_DECAP_OK, "status %s", mt_decap_status_name(st));
	cr_assert_eq(d.vni, o->vni);
	assert_ip(&d.outer_src, o->src);
	assert_ip(&d.outer_dst, o->dst);
	cr_assert_eq(d.outer_sport, o->sport ? o->sport : 49152);
	cr_assert_eq(d.inner, frame + outer_hlen(o));
	cr_assert_eq(d.inner_len, want_inner);
	cr_assert_eq(d.orig_len, want_inner);
	cr_assert_eq(mt_fx_inner(inner, sizeof(inner), p), want_inner);
	cr_assert_arr_eq(d.inner, inner, want_inner);
	assert_flow(&d, p);
}

Test(decap, ipv4_outer_tcp_inner)
{
	assert_ok(build(&outer4, &tcp4), &outer4, &tcp4);
}

Test(decap, ipv6_outer_udp6_inner)
{
	assert_ok(build(&outer6, &udp6), &outer6, &udp6);
	assert_ok(build(&outer6, &tcp4), &outer6, &tcp4);
	assert_ok(build(&outer4, &udp6), &outer4, &udp6);
}

Test(decap, inner_protocols)
{
#define PKT(fam, s, d, pr, sp, dp, len)                                      \
	{                                                                    \
		.family = fam, .src = s, .dst = d, .proto = pr, .sport = sp, \
		.dport = dp, .payload_len = len                              \
	}
	static const struct mt_fx_pkt pkts[] = {
		PKT(AF_INET, "192.0.2.1", "192.0.2.2", IPPROTO_TCP, 1, 65535,
		    0),
		PKT(AF_INET, "192.0.2.1", "192.0.2.2", IPPROTO_UDP, 53, 1024,
		    0),
		PKT(AF_INET, "192.0.2.1", "192.0.2.2", IPPROTO_ICMP, 8, 0, 56),
		PKT(AF_INET, "192.0.2.1", "192.0.2.2", IPPROTO_ICMP, 3, 4, 0),
		PKT(AF_INET6, "2001:db8::1", "2001:db8::2", IPPROTO_TCP, 22, 1,
		    0),
		PKT(AF_INET6, "2001:db8::1", "2001:db8::2", IPPROTO_UDP, 123,
		    123, 0),
		PKT(AF_INET6, "2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, 128,
		    0, 56),
		PKT(AF_INET6, "2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, 1,
		    4, 0),
		PKT(AF_INET, "192.0.2.1", "192.0.2.2", IPPROTO_GRE, 0, 0, 20),
	};
#undef PKT

	for (size_t i = 0; i < sizeof(pkts) / sizeof(pkts[0]); i++) {
		assert_ok(build(&outer4, &pkts[i]), &outer4, &pkts[i]);
		assert_ok(build(&outer6, &pkts[i]), &outer6, &pkts[i]);
	}
}

Test(decap, other_protocol_has_no_ports)
{
	struct mt_fx_pkt p = tcp4;
	struct mt_decap d;

	p.proto = IPPROTO_GRE;
	cr_assert_eq(decap(build(&outer4, &p), &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_OK);
	cr_assert_eq(d.flow.proto, IPPROTO_GRE);
	cr_assert_eq(d.flow.flags, MT_FLOW_IP);
}

Test(decap, outer_vlan_tags)
{
	struct mt_fx_outer o = outer4;
	struct mt_decap d;
	size_t n;

	/* One 802.1Q tag, then the same as 802.1ad. */
	o.vlan[0] = 100;
	n = build(&o, &tcp4);
	cr_assert_eq(get16(frame + 12), 0x8100);
	assert_ok(n, &o, &tcp4);
	put16(frame + 12, 0x88a8);
	assert_ok(n, &o, &tcp4);

	/* QinQ: 802.1ad outside 802.1Q, and 802.1Q twice. */
	o.vlan[1] = 200;
	n = build(&o, &tcp4);
	cr_assert_eq(get16(frame + 12), 0x88a8);
	cr_assert_eq(get16(frame + 16), 0x8100);
	assert_ok(n, &o, &tcp4);
	put16(frame + 12, 0x8100);
	assert_ok(n, &o, &tcp4);

	o.family = AF_INET6;
	o.src = outer6.src;
	o.dst = outer6.dst;
	assert_ok(build(&o, &udp6), &o, &udp6);

	/* A third tag is more than the bound. */
	n = build(&o, &udp6);
	insert(frame, &n, 12, (const uint8_t[]){ 0x81, 0x00, 0x01, 0x2c }, 4);
	cr_assert_eq(decap(n, &d), MT_DECAP_TOO_MANY_VLANS);
}

Test(decap, ipv4_options_every_ihl)
{
	struct mt_fx_outer o = outer4;

	for (unsigned int ihl = 5; ihl <= 15; ihl++) {
		size_t n;

		o.ip_options = (uint8_t)((ihl - 5) * 4);
		n = build(&o, &tcp4);
		cr_assert_eq(frame[14] & 0x0f, ihl);
		assert_ok(n, &o, &tcp4);
	}
}

Test(decap, bad_outer_ip)
{
	struct mt_decap d;
	size_t n = build(&outer4, &tcp4);

	frame[14] = 0x44; /* IHL 4 */
	cr_assert_eq(decap(n, &d), MT_DECAP_BAD_IP);
	frame[14] = 0x55; /* version 5 */
	cr_assert_eq(decap(n, &d), MT_DECAP_BAD_IP);
	frame[14] = 0x46;
	put16(frame + 16, 20); /* total length < header length */
	cr_assert_eq(decap(n, &d), MT_DECAP_BAD_IP);

	n = build(&outer6, &tcp4);
	frame[14] = 0x40; /* ethertype says IPv6, header says 4 */
	cr_assert_eq(decap(n, &d), MT_DECAP_BAD_IP);
}

Test(decap, inner_vlan)
{
	struct mt_fx_pkt p = tcp4;

	p.vlan = 10;
	assert_ok(build(&outer4, &p), &outer4, &p);
	p = udp6;
	p.vlan = 4094;
	assert_ok(build(&outer6, &p), &outer6, &p);
}

Test(decap, inner_vlan_limit)
{
	struct mt_fx_pkt p = tcp4;
	struct mt_decap d;
	size_t n;

	p.vlan = 10;
	n = mt_fx_inner(inner, sizeof(inner), &p);
	/* Two tags are fine, three are not; the frame is captured anyway. */
	insert(inner, &n, 12, (const uint8_t[]){ 0x88, 0xa8, 0x00, 0x05 }, 4);
	n = mt_fx_vxlan(frame, sizeof(frame), &outer4, inner, n);
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	assert_flow(&d, &p);

	n = d.inner_len;
	memcpy(inner, d.inner, n);
	insert(inner, &n, 12, (const uint8_t[]){ 0x81, 0x00, 0x00, 0x06 }, 4);
	n = mt_fx_vxlan(frame, sizeof(frame), &outer4, inner, n);
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_TOO_MANY_VLANS);
	cr_assert_eq(d.inner_len, n - outer_hlen(&outer4));
	cr_assert_eq(d.flow.flags, 0);
}

/*
 * Puts the given extension headers (each 8 bytes, [0] filled in here)
 * between the IPv6 header at l3 and its payload.
 */
static void add_ext6(uint8_t *buf, size_t *len, size_t l3, const uint8_t *types,
		     size_t count)
{
	uint8_t nh = buf[l3 + 6];

	for (size_t i = count; i-- > 0;) {
		uint8_t h[8] = { nh, 0 };

		if (types[i] == IPPROTO_FRAGMENT)
			h[1] = 0; /* reserved */
		else if (types[i] == IPPROTO_ROUTING)
			h[2] = 4; /* segment routing, nothing left */
		else {
			h[2] = 1; /* PadN over the rest */
			h[3] = 4;
		}
		insert(buf, len, l3 + 40, h, 8);
		nh = types[i];
	}
	buf[l3 + 6] = nh;
	put16(buf + l3 + 4, (uint16_t)(get16(buf + l3 + 4) + 8 * count));
}

static enum mt_decap_status decap_inner(size_t inner_len, struct mt_decap *d)
{
	size_t n = mt_fx_vxlan(frame, sizeof(frame), &outer4, inner, inner_len);

	return decap(n, d);
}

Test(decap, ipv6_inner_extension_headers)
{
	static const uint8_t chain[] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS,
					 IPPROTO_ROUTING };
	struct mt_fx_pkt p = udp6;
	struct mt_decap d;
	size_t n;

	p.proto = IPPROTO_TCP;
	n = mt_fx_inner(inner, sizeof(inner), &p);
	add_ext6(inner, &n, 14, chain, 3);
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	assert_flow(&d, &p);
	cr_assert_eq(d.orig_len, n);
}

Test(decap, ipv6_inner_ah)
{
	/* AH counts its length in 4-byte words minus 2: 12 bytes here. */
	uint8_t ah[12] = { IPPROTO_UDP, 1 };
	struct mt_decap d;
	size_t n = mt_fx_inner(inner, sizeof(inner), &udp6);

	insert(inner, &n, 14 + 40, ah, sizeof(ah));
	inner[14 + 6] = IPPROTO_AH;
	put16(inner + 14 + 4, (uint16_t)(get16(inner + 14 + 4) + 12));
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	assert_flow(&d, &udp6);
}

Test(decap, ipv6_inner_extension_limit)
{
	uint8_t chain[MT_IPV6_EXT_MAX + 1];
	struct mt_decap d;
	size_t n;

	memset(chain, IPPROTO_DSTOPTS, sizeof(chain));
	n = mt_fx_inner(inner, sizeof(inner), &udp6);
	add_ext6(inner, &n, 14, chain, MT_IPV6_EXT_MAX);
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	assert_flow(&d, &udp6);

	n = mt_fx_inner(inner, sizeof(inner), &udp6);
	add_ext6(inner, &n, 14, chain, MT_IPV6_EXT_MAX + 1);
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_EXTHDR_LIMIT);
	cr_assert_eq(d.flow.flags & MT_FLOW_PORTS, 0);
	/* The addresses are still there for direction inference. */
	assert_ip(&d.flow.src, udp6.src);
}

Test(decap, ipv6_inner_extension_truncated)
{
	static const uint8_t chain[] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS };
	struct mt_decap d;
	size_t n = mt_fx_inner(inner, sizeof(inner), &udp6);

	add_ext6(inner, &n, 14, chain, 2);
	/* Cut inside the second header, then make the first claim 2 KiB. */
	cr_assert_eq(decap_inner(14 + 40 + 12, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_TRUNC_EXTHDR);
	inner[14 + 40 + 1] = 255;
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_TRUNC_EXTHDR);
}

Test(decap, ipv4_inner_fragments)
{
	struct mt_decap d;
	size_t n = mt_fx_inner(inner, sizeof(inner), &tcp4);

	put16(inner + 14 + 6, 0x2000); /* MF, offset 0: has the ports */
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_OK);
	cr_assert_eq(d.flow.flags,
		     MT_FLOW_IP | MT_FLOW_PORTS | MT_FLOW_FRAGMENT);
	cr_assert_eq(d.flow.dport, tcp4.dport);

	put16(inner + 14 + 6, 0x2000 | 185); /* middle fragment */
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_OK);
	cr_assert_eq(d.flow.flags,
		     MT_FLOW_IP | MT_FLOW_FRAGMENT | MT_FLOW_LATER_FRAG);
	cr_assert_eq(d.flow.proto, IPPROTO_TCP);
	assert_ip(&d.flow.dst, tcp4.dst);

	put16(inner + 14 + 6, 185); /* last fragment */
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.flow.flags,
		     MT_FLOW_IP | MT_FLOW_FRAGMENT | MT_FLOW_LATER_FRAG);
}

Test(decap, ipv6_inner_fragments)
{
	static const uint8_t chain[] = { IPPROTO_HOPOPTS, IPPROTO_FRAGMENT };
	struct mt_decap d;
	size_t n = mt_fx_inner(inner, sizeof(inner), &udp6);
	const size_t fh = 14 + 40 + 8;

	add_ext6(inner, &n, 14, chain, 2);
	put16(inner + fh + 2, 0x0001); /* offset 0, M */
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_OK);
	cr_assert_eq(d.flow.flags,
		     MT_FLOW_IP | MT_FLOW_PORTS | MT_FLOW_FRAGMENT);
	cr_assert_eq(d.flow.sport, udp6.sport);

	put16(inner + fh + 2, 0x05a8); /* offset 181 * 8, last */
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_OK);
	cr_assert_eq(d.flow.flags,
		     MT_FLOW_IP | MT_FLOW_FRAGMENT | MT_FLOW_LATER_FRAG);
	cr_assert_eq(d.flow.proto, IPPROTO_UDP);
	assert_ip(&d.flow.src, udp6.src);
}

/* What a frame cut to c bytes must give, header by header. */
static void check_cuts(const struct mt_fx_outer *o, const struct mt_fx_pkt *p)
{
	size_t full = build(o, p);
	size_t oh = outer_hlen(o);
	size_t l3 = outer_l3_off(o);
	size_t il2 = 14 + (p->vlan ? 4 : 0);
	size_t il3 = il2 + (p->family == AF_INET ? 20 : 40);
	size_t il4 =
		il3 + (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6 ?
			       2 :
			       4);
	/* How much of the inner IP header carries its length field. */
	size_t ilen = il2 + (p->family == AF_INET ? 4 : 6);

	for (size_t c = 0; c <= full; c++) {
		enum mt_decap_status want = MT_DECAP_OK, st;
		enum mt_inner_status iwant = MT_INNER_OK;
		size_t ic = c > oh ? c - oh : 0;
		struct mt_decap d;

		/* A copy of exactly c bytes: ASan sees any read past it. */
		uint8_t *cut = malloc(c ? c : 1);

		cr_assert_not_null(cut);
		memcpy(cut, frame, c);
		if (c < 14)
			want = MT_DECAP_TRUNC_ETH;
		else if (c < l3)
			want = MT_DECAP_TRUNC_VLAN;
		else if (c < oh - 16)
			want = MT_DECAP_TRUNC_IP;
		else if (c < oh - 8)
			want = MT_DECAP_TRUNC_UDP;
		else if (c < oh)
			want = MT_DECAP_TRUNC_VXLAN;
		else if (ic < 14)
			want = MT_DECAP_TRUNC_INNER_ETH;
		else if (ic < il2)
			iwant = MT_INNER_TRUNC_VLAN;
		else if (ic < il3)
			iwant = MT_INNER_TRUNC_IP;
		else if (ic < il4)
			iwant = MT_INNER_TRUNC_L4;

		st = mt_decap_eth(cut, (uint32_t)c, MT_VXLAN_PORT, &d);
		cr_assert_eq(st, want, "cut at %zu: %s, expected %s", c,
			     mt_decap_status_name(st),
			     mt_decap_status_name(want));
		if (st == MT_DECAP_OK) {
			cr_assert_eq(d.inner_status, iwant,
				     "cut at %zu: inner %s, expected %s", c,
				     mt_inner_status_name(d.inner_status),
				     mt_inner_status_name(iwant));
			cr_assert_eq(d.inner, cut + oh);
			cr_assert_eq(d.inner_len, ic);
			cr_assert_eq(d.orig_len, ic >= ilen ? full - oh : ic,
				     "cut at %zu: orig_len %u", c, d.orig_len);
			if (iwant == MT_INNER_OK)
				assert_flow(&d, p);
		}
		if (c >= l3) {
			st = mt_decap_ip(cut + l3, (uint32_t)(c - l3), 0,
					 MT_VXLAN_PORT, &d);
			cr_assert_eq(st, want, "ip cut at %zu: %s", c,
				     mt_decap_status_name(st));
		}
		free(cut);
	}
}

Test(decap, truncated_at_every_length)
{
	struct mt_fx_outer o = outer4;
	struct mt_fx_pkt p = tcp4;

	o.vlan[0] = 7;
	p.vlan = 9;
	check_cuts(&o, &p);
	check_cuts(&outer4, &tcp4);

	o = outer6;
	o.vlan[0] = 7;
	o.vlan[1] = 8;
	check_cuts(&o, &udp6);

	p = udp6;
	p.proto = IPPROTO_ICMPV6;
	p.sport = 135;
	check_cuts(&outer6, &p);
}

Test(decap, aws_truncation_ipv4)
{
	struct mt_fx_pkt p = tcp4;
	struct mt_decap d;
	size_t n;

	p.payload_len = 1500 - 20 - 20;
	cr_assert_eq(mt_fx_inner(inner, sizeof(inner), &p), 14 + 1500);
	/* AWS sends the cut copy with outer lengths that match the cut. */
	n = mt_fx_vxlan(frame, sizeof(frame), &outer4, inner, 200);
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_len, 200);
	cr_assert_eq(d.orig_len, 14 + 1500);
	assert_flow(&d, &p);
}

Test(decap, aws_truncation_ipv6)
{
	struct mt_fx_pkt p = udp6;
	struct mt_decap d;
	size_t n;

	p.vlan = 3;
	p.payload_len = 1500 - 40 - 8;
	cr_assert_eq(mt_fx_inner(inner, sizeof(inner), &p), 18 + 1500);
	n = mt_fx_vxlan(frame, sizeof(frame), &outer6, inner, 200);
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_len, 200);
	cr_assert_eq(d.orig_len, 18 + 1500);
	assert_flow(&d, &p);
}

Test(decap, ethernet_padding_is_not_inner_data)
{
	struct mt_fx_pkt p = tcp4;
	struct mt_decap d;
	size_t n = build(&outer4, &tcp4);
	size_t want = n - outer_hlen(&outer4);

	/* Trailing bytes (padding, an FCS) after what IP and UDP claim. */
	memset(frame + n, 0xee, 6);
	cr_assert_eq(decap(n + 6, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_len, want);

	n = build(&outer6, &tcp4);
	memset(frame + n, 0xee, 6);
	cr_assert_eq(decap(n + 6, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_len, want);

	/* The UDP length alone bounds it too. */
	n = build(&outer4, &tcp4);
	put16(frame + 34 + 4, (uint16_t)(get16(frame + 34 + 4) - 4));
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_len, want - 4);

	/* So do the IPv4 total length and the IPv6 payload length. */
	n = build(&outer4, &tcp4);
	put16(frame + 14 + 2, (uint16_t)(get16(frame + 14 + 2) - 4));
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_len, want - 4);
	n = build(&outer6, &tcp4);
	put16(frame + 14 + 4, (uint16_t)(get16(frame + 14 + 4) - 4));
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_len, want - 4);

	/* A short inner frame padded to 60 bytes was never longer. */
	p.proto = IPPROTO_UDP;
	p.payload_len = 2;
	n = mt_fx_inner(inner, sizeof(inner), &p);
	cr_assert_eq(n, 44);
	memset(inner + n, 0, 60 - n);
	cr_assert_eq(decap_inner(60, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_len, 60);
	cr_assert_eq(d.orig_len, 60);
	assert_flow(&d, &p);
}

Test(decap, vxlan_flags)
{
	struct mt_fx_outer o = outer4;
	struct mt_decap d;
	size_t n;

	n = build(&o, &tcp4);
	frame[42] = 0x00;
	cr_assert_eq(decap(n, &d), MT_DECAP_BAD_VXLAN_FLAGS);

	o.vxlan_flags = 0x80;
	n = build(&o, &tcp4);
	cr_assert_eq(decap(n, &d), MT_DECAP_BAD_VXLAN_FLAGS);

	/* RFC 7348: other flags and reserved fields are ignored. */
	o.vxlan_flags = 0xff;
	n = build(&o, &tcp4);
	memset(frame + 43, 0xff, 3);
	frame[49] = 0xff;
	assert_ok(n, &o, &tcp4);
}

Test(decap, vxlan_port)
{
	struct mt_fx_outer o = outer4;
	struct mt_decap d;
	size_t n;

	o.dport = 4790;
	n = build(&o, &tcp4);
	cr_assert_eq(decap(n, &d), MT_DECAP_NOT_VXLAN_PORT);

	/* Linux's old default port, configured. */
	o.dport = 8472;
	n = build(&o, &tcp4);
	cr_assert_eq(decap(n, &d), MT_DECAP_NOT_VXLAN_PORT);
	cr_assert_eq(mt_decap_eth(frame, (uint32_t)n, 8472, &d), MT_DECAP_OK);
	cr_assert_eq(d.vni, o.vni);
	assert_flow(&d, &tcp4);
}

Test(decap, not_udp)
{
	struct mt_decap d;
	size_t n = build(&outer4, &tcp4);

	frame[14 + 9] = IPPROTO_TCP;
	cr_assert_eq(decap(n, &d), MT_DECAP_NOT_UDP);
	n = build(&outer6, &tcp4);
	frame[14 + 6] = IPPROTO_GRE;
	cr_assert_eq(decap(n, &d), MT_DECAP_NOT_UDP);
}

Test(decap, not_ip)
{
	struct mt_decap d;
	size_t n = build(&outer4, &tcp4);

	put16(frame + 12, 0x0806);
	cr_assert_eq(decap(n, &d), MT_DECAP_NOT_IP);
	cr_assert_eq(mt_decap_ip(frame + 14, (uint32_t)(n - 14), 0x0806,
				 MT_VXLAN_PORT, &d),
		     MT_DECAP_NOT_IP);
}

Test(decap, outer_fragments)
{
	struct mt_decap d;
	size_t n = build(&outer4, &tcp4);

	put16(frame + 14 + 6, 0x2000); /* MF */
	cr_assert_eq(decap(n, &d), MT_DECAP_OUTER_FRAGMENT);
	assert_ip(&d.outer_src, outer4.src);
	put16(frame + 14 + 6, 100); /* offset */
	cr_assert_eq(decap(n, &d), MT_DECAP_OUTER_FRAGMENT);

	n = build(&outer6, &tcp4);
	add_ext6(frame, &n, 14, (const uint8_t[]){ IPPROTO_FRAGMENT }, 1);
	put16(frame + 14 + 40 + 2, 0x0001);
	cr_assert_eq(decap(n, &d), MT_DECAP_OUTER_FRAGMENT);
}

Test(decap, outer_ipv6_extension_headers)
{
	uint8_t chain[MT_IPV6_EXT_MAX + 1];
	struct mt_decap d;
	size_t n;

	memset(chain, IPPROTO_DSTOPTS, sizeof(chain));
	chain[0] = IPPROTO_HOPOPTS;
	n = build(&outer6, &tcp4);
	add_ext6(frame, &n, 14, chain, MT_IPV6_EXT_MAX);
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner, frame + 14 + 40 + 8 * MT_IPV6_EXT_MAX + 16);
	assert_flow(&d, &tcp4);

	n = build(&outer6, &tcp4);
	add_ext6(frame, &n, 14, chain, MT_IPV6_EXT_MAX + 1);
	cr_assert_eq(decap(n, &d), MT_DECAP_IPV6_EXT_LIMIT);

	n = build(&outer6, &tcp4);
	add_ext6(frame, &n, 14, chain, 2);
	frame[14 + 40 + 1] = 200; /* claims more than the packet */
	cr_assert_eq(decap(n, &d), MT_DECAP_TRUNC_IP);
}

/*
 * The XDP program redirects exactly what this accepts (fuzz_xdp_verdict):
 * it walks an outer AH like the other extension headers, so the decap
 * must take the frame behind it, and refuse an AH that claims more than
 * the payload length.
 */
Test(decap, outer_ipv6_ah)
{
	/* AH counts its length in 4-byte words minus 2: 12 bytes here. */
	uint8_t ah[12] = { IPPROTO_UDP, 1 };
	struct mt_decap d;
	size_t n = build(&outer6, &tcp4);

	insert(frame, &n, 14 + 40, ah, sizeof(ah));
	frame[14 + 6] = IPPROTO_AH;
	put16(frame + 14 + 4, (uint16_t)(get16(frame + 14 + 4) + 12));
	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner, frame + 14 + 40 + 12 + 16);
	assert_flow(&d, &tcp4);

	put16(frame + 14 + 4, 8); /* payload ends inside the AH */
	cr_assert_eq(decap(n, &d), MT_DECAP_TRUNC_IP);
}

Test(decap, inner_arp_is_captured_without_flow)
{
	/* ARP request 192.0.2.1 -> who has 192.0.2.2, padded to 60. */
	uint8_t arp[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2,   0, 0, 0, 0,
			    1,	  0x08, 0x06, 0,    1,	  0x08, 0,   6, 4, 0, 1,
			    2,	  0,	0,    0,    0,	  1,	192, 0, 2, 1, 0,
			    0,	  0,	0,    0,    0,	  192,	0,   2, 2 };
	struct mt_decap d;
	size_t n = mt_fx_vxlan(frame, sizeof(frame), &outer4, arp, sizeof(arp));

	cr_assert_eq(decap(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_NOT_IP);
	cr_assert_eq(d.flow.flags, 0);
	cr_assert_eq(d.flow.src.family, 0);
	cr_assert_eq(d.inner_len, sizeof(arp));
	cr_assert_eq(d.orig_len, sizeof(arp));
	cr_assert_arr_eq(d.inner, arp, sizeof(arp));
}

Test(decap, bad_inner_ip)
{
	struct mt_decap d;
	size_t n = mt_fx_inner(inner, sizeof(inner), &tcp4);

	inner[14] = 0x43;
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_BAD_IP);
	cr_assert_eq(d.flow.flags, 0);
	inner[14] = 0x65;
	cr_assert_eq(decap_inner(n, &d), MT_DECAP_OK);
	cr_assert_eq(d.inner_status, MT_INNER_BAD_IP);
}

Test(decap, decap_ip_starts_at_outer_ip)
{
	struct mt_decap d;
	size_t n = build(&outer4, &tcp4);

	cr_assert_eq(mt_decap_ip(frame + 14, (uint32_t)(n - 14), 0,
				 MT_VXLAN_PORT, &d),
		     MT_DECAP_OK);
	cr_assert_eq(d.vni, outer4.vni);
	assert_flow(&d, &tcp4);
	cr_assert_eq(mt_decap_ip(frame + 14, (uint32_t)(n - 14), 0x0800,
				 MT_VXLAN_PORT, &d),
		     MT_DECAP_OK);
	cr_assert_eq(mt_decap_ip(frame + 14, (uint32_t)(n - 14), 0x86dd,
				 MT_VXLAN_PORT, &d),
		     MT_DECAP_BAD_IP);

	n = build(&outer6, &udp6);
	cr_assert_eq(mt_decap_ip(frame + 14, (uint32_t)(n - 14), 0,
				 MT_VXLAN_PORT, &d),
		     MT_DECAP_OK);
	assert_ip(&d.outer_dst, outer6.dst);
	assert_flow(&d, &udp6);

	frame[14] = 0x70;
	cr_assert_eq(mt_decap_ip(frame + 14, (uint32_t)(n - 14), 0,
				 MT_VXLAN_PORT, &d),
		     MT_DECAP_BAD_IP);
	cr_assert_eq(mt_decap_ip(frame, 0, 0, MT_VXLAN_PORT, &d),
		     MT_DECAP_TRUNC_IP);
}

Test(decap, parse_inner_direct)
{
	struct mt_flow f;
	uint32_t orig;
	size_t n = mt_fx_inner(inner, sizeof(inner), &tcp4);

	cr_assert_eq(mt_parse_inner(inner, (uint32_t)n, &f, &orig),
		     MT_INNER_OK);
	cr_assert_eq(orig, n);
	cr_assert_eq(f.sport, tcp4.sport);
	cr_assert_eq(mt_parse_inner(inner, 13, &f, &orig), MT_INNER_NOT_IP);
	cr_assert_eq(orig, 13);
	cr_assert_eq(f.flags, 0);
}

Test(decap, status_names)
{
	static const char *const outer[] = {
		"ok",
		"not_ip",
		"not_udp",
		"not_vxlan_port",
		"outer_fragment",
		"trunc_eth",
		"trunc_vlan",
		"too_many_vlans",
		"trunc_ip",
		"bad_ip",
		"ipv6_ext_limit",
		"trunc_udp",
		"trunc_vxlan",
		"bad_vxlan_flags",
		"trunc_inner_eth",
	};
	static const char *const in[] = {
		"ok",	    "not_ip", "trunc_vlan",   "too_many_vlans",
		"trunc_ip", "bad_ip", "trunc_exthdr", "exthdr_limit",
		"trunc_l4",
	};

	cr_assert_eq(sizeof(outer) / sizeof(outer[0]), MT_DECAP__MAX);
	cr_assert_eq(sizeof(in) / sizeof(in[0]), MT_INNER__MAX);
	for (int i = 0; i < MT_DECAP__MAX; i++)
		cr_assert_str_eq(mt_decap_status_name(i), outer[i]);
	for (int i = 0; i < MT_INNER__MAX; i++)
		cr_assert_str_eq(mt_inner_status_name(i), in[i]);
	cr_assert_str_eq(mt_decap_status_name(MT_DECAP__MAX), "unknown");
	cr_assert_str_eq(mt_inner_status_name(MT_INNER__MAX), "unknown");
}
