// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test frame builders.  The frames are what AWS Traffic Mirroring puts on
 * the wire: the mirrored Ethernet frame, then VXLAN over UDP 4789 with one
 * VNI per session.  Every checksum is right, so a pcap written from these
 * frames opens in tshark without complaints, and a test that compares bytes
 * compares what a real capture would hold.
 */
#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "mirror-target/ip.h"

#define FX_ETH_HLEN 14
#define FX_VLAN_HLEN 4
#define FX_IP4_HLEN 20
#define FX_IP6_HLEN 40
#define FX_UDP_HLEN 8
#define FX_TCP_HLEN 20
#define FX_ICMP_HLEN 8
#define FX_VXLAN_HLEN 8

/* Locally administered MACs: inner frame and underlay. */
static const uint8_t fx_inner_dmac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
static const uint8_t fx_inner_smac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t fx_outer_dmac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x02 };
static const uint8_t fx_outer_smac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };

static void fx_die(const char *what, const char *value)
{
	fprintf(stderr, "fixtures: bad %s '%s'\n", what, value ? value : "");
	abort();
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* Pseudo-header sum for TCP/UDP/ICMPv6 over IPv4 or IPv6. */
static uint32_t csum_pseudo(int family, const uint8_t *src, const uint8_t *dst,
			    uint8_t proto, uint32_t l4_len)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint32_t sum = 0;

	sum = mt_csum_add(sum, src, alen);
	sum = mt_csum_add(sum, dst, alen);
	sum += proto;
	sum += l4_len >> 16;
	sum += l4_len & 0xffff;
	return sum;
}

static void fx_addr(int family, const char *text, uint8_t *out)
{
	if (family != AF_INET && family != AF_INET6)
		fx_die("address family for", text);
	if (!text || inet_pton(family, text, out) != 1)
		fx_die(family == AF_INET ? "IPv4 address" : "IPv6 address",
		       text);
}

static size_t put_eth(uint8_t *p, const uint8_t *dmac, const uint8_t *smac)
{
	memcpy(p, dmac, 6);
	memcpy(p + 6, smac, 6);
	return 12; /* the ethertype follows the tags */
}

/*
 * Writes the IP header for an l4_len-byte payload at p; returns its length.
 * IPv4 options are NOPs closed by an end-of-list so the header parses.
 */
static size_t put_ip(uint8_t *p, int family, const uint8_t *src,
		     const uint8_t *dst, uint8_t proto, size_t l4_len,
		     uint8_t options)
{
	if (family == AF_INET) {
		size_t hlen = FX_IP4_HLEN + options;

		memset(p, 0, hlen);
		p[0] = 0x40 | (uint8_t)(hlen / 4);
		put16(p + 2, (uint16_t)(hlen + l4_len));
		put16(p + 4, 0x1234);
		put16(p + 6, 0x4000); /* DF, as most TCP stacks send */
		p[8] = 64;
		p[9] = proto;
		memcpy(p + 12, src, 4);
		memcpy(p + 16, dst, 4);
		if (options) {
			memset(p + FX_IP4_HLEN, 0x01, options);
			p[hlen - 1] = 0x00;
		}
		put16(p + 10, mt_csum_fold(mt_csum_add(0, p, hlen)));
		return hlen;
	}
	memset(p, 0, FX_IP6_HLEN);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)l4_len);
	p[6] = proto;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	return FX_IP6_HLEN;
}

static size_t l4_hlen(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return FX_TCP_HLEN;
	case IPPROTO_UDP:
		return FX_UDP_HLEN;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return FX_ICMP_HLEN;
	default:
		return 0;
	}
}

size_t mt_fx_inner(uint8_t *buf, size_t cap, const struct mt_fx_pkt *p)
{
	uint8_t src[16], dst[16];
	size_t l2 = FX_ETH_HLEN + (p->vlan ? FX_VLAN_HLEN : 0);
	size_t l3 = p->family == AF_INET ? FX_IP4_HLEN : FX_IP6_HLEN;
	size_t l4 = l4_hlen(p->proto);
	size_t l4_len = l4 + p->payload_len;
	size_t total = l2 + l3 + l4_len;
	uint8_t *ip, *th, *pl;
	uint32_t sum;
	size_t off, i;

	fx_addr(p->family, p->src, src);
	fx_addr(p->family, p->dst, dst);
	if (total > cap || l3 + l4_len > 0xffff)
		return 0;

	off = put_eth(buf, fx_inner_dmac, fx_inner_smac);
	if (p->vlan) {
		put16(buf + off, 0x8100);
		put16(buf + off + 2, p->vlan & 0x0fff);
		off += FX_VLAN_HLEN;
	}
	put16(buf + off, p->family == AF_INET ? 0x0800 : 0x86dd);
	off += 2;
	ip = buf + off;
	off += put_ip(ip, p->family, src, dst, p->proto, l4_len, 0);
	th = buf + off;
	pl = th + l4;
	/* A recognisable pattern: byte i of the payload is i mod 251. */
	for (i = 0; i < p->payload_len; i++)
		pl[i] = (uint8_t)(i % 251);

	memset(th, 0, l4);
	switch (p->proto) {
	case IPPROTO_TCP:
		put16(th, p->sport);
		put16(th + 2, p->dport);
		put32(th + 4, 1000);
		put32(th + 8, 2000);
		th[12] = (FX_TCP_HLEN / 4) << 4;
		th[13] = p->tcp_flags ? p->tcp_flags : 0x12;
		put16(th + 14, 65535);
		break;
	case IPPROTO_UDP:
		put16(th, p->sport);
		put16(th + 2, p->dport);
		put16(th + 4, (uint16_t)l4_len);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		th[0] = (uint8_t)p->sport;
		th[1] = (uint8_t)p->dport;
		put16(th + 4, 0x4d54); /* identifier "MT" */
		put16(th + 6, 1);
		break;
	default:
		break;
	}

	sum = 0;
	switch (p->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_ICMPV6:
		sum = csum_pseudo(p->family, src, dst, p->proto,
				  (uint32_t)l4_len);
		/* fall through */
	case IPPROTO_ICMP: {
		uint16_t c = mt_csum_fold(mt_csum_add(sum, th, l4_len));
		size_t at = p->proto == IPPROTO_TCP ? 16 :
			    p->proto == IPPROTO_UDP ? 6 :
						      2;

		if (p->proto == IPPROTO_UDP && c == 0)
			c = 0xffff; /* 0 means "no checksum" for UDP */
		put16(th + at, c);
		break;
	}
	default:
		break;
	}
	return total;
}

size_t mt_fx_vxlan(uint8_t *buf, size_t cap, const struct mt_fx_outer *o,
		   const uint8_t *inner, size_t inner_len)
{
	uint8_t src[16], dst[16];
	size_t tags = (o->vlan[0] ? 1 : 0) + (o->vlan[1] ? 1 : 0);
	size_t l3 = o->family == AF_INET ? FX_IP4_HLEN + o->ip_options :
					   FX_IP6_HLEN;
	size_t udp_len = FX_UDP_HLEN + FX_VXLAN_HLEN + inner_len;
	size_t total = FX_ETH_HLEN + tags * FX_VLAN_HLEN + l3 + udp_len;
	uint8_t *ip, *udp, *vx;
	size_t off;
	int t;

	fx_addr(o->family, o->src, src);
	fx_addr(o->family, o->dst, dst);
	if (o->ip_options % 4 || o->ip_options > 40 ||
	    (o->ip_options && o->family != AF_INET)) {
		fprintf(stderr, "fixtures: bad ip_options %u\n", o->ip_options);
		abort();
	}
	if (total > cap || l3 + udp_len > 0xffff)
		return 0;

	off = put_eth(buf, fx_outer_dmac, fx_outer_smac);
	/* Two tags are QinQ: 802.1ad outside, 802.1Q inside. */
	for (t = 0; t < 2; t++) {
		if (!o->vlan[t])
			continue;
		put16(buf + off, tags == 2 && t == 0 ? 0x88a8 : 0x8100);
		put16(buf + off + 2, o->vlan[t] & 0x0fff);
		off += FX_VLAN_HLEN;
	}
	put16(buf + off, o->family == AF_INET ? 0x0800 : 0x86dd);
	off += 2;
	ip = buf + off;
	off += put_ip(ip, o->family, src, dst, IPPROTO_UDP, udp_len,
		      o->ip_options);

	udp = buf + off;
	put16(udp, o->sport ? o->sport : 49152);
	put16(udp + 2, o->dport ? o->dport : 4789);
	put16(udp + 4, (uint16_t)udp_len);
	put16(udp + 6, 0);
	vx = udp + FX_UDP_HLEN;
	memset(vx, 0, FX_VXLAN_HLEN);
	vx[0] = o->vxlan_flags ? o->vxlan_flags : 0x08;
	vx[4] = (o->vni >> 16) & 0xff;
	vx[5] = (o->vni >> 8) & 0xff;
	vx[6] = o->vni & 0xff;
	memmove(vx + FX_VXLAN_HLEN, inner, inner_len);

	/*
	 * AWS leaves the IPv4 UDP checksum at zero; IPv6 forbids zero
	 * outside tunnels that opt in (RFC 6935), so it is computed there.
	 */
	if (o->family == AF_INET6) {
		uint32_t sum = csum_pseudo(AF_INET6, src, dst, IPPROTO_UDP,
					   (uint32_t)udp_len);
		uint16_t c = mt_csum_fold(mt_csum_add(sum, udp, udp_len));

		put16(udp + 6, c ? c : 0xffff);
	}
	return total;
}

size_t mt_fx_frame(uint8_t *buf, size_t cap, const struct mt_fx_outer *o,
		   const struct mt_fx_pkt *p)
{
	uint8_t inner[65536];
	size_t n = mt_fx_inner(inner, sizeof(inner), p);

	if (!n)
		return 0;
	return mt_fx_vxlan(buf, cap, o, inner, n);
}

char *mt_fx_tmpdir(char *buf, size_t size)
{
	static const char tmpl[] = "/tmp/mt-test-XXXXXX";

	if (size < sizeof(tmpl))
		return NULL;
	memcpy(buf, tmpl, sizeof(tmpl));
	return mkdtemp(buf);
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

void mt_fx_rmtree(const char *dir)
{
	/* Only ever our own temp directories: a wrong path must not rm -rf. */
	if (!dir || strncmp(dir, "/tmp/mt-test-", 13) != 0 || strstr(dir, ".."))
		return;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The test's own temp directory: see mt_fx_tmp_setup in fixtures.h. */
char mt_fx_tmp[64];
