/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Frame builders for tests: an inner (mirrored) Ethernet frame from a short
 * description, and its VXLAN encapsulation as AWS sends it.  Checksums are
 * computed (IPv4 header, TCP/UDP/ICMP) so tshark shows the frames as valid.
 * Addresses are text; the builders abort the test on a bad one.
 */
#ifndef MT_TEST_FIXTURES_H
#define MT_TEST_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

struct mt_fx_pkt {
	int family;	       /* AF_INET or AF_INET6 */
	const char *src, *dst; /* "192.0.2.1", "2001:db8::1" */
	uint8_t proto;	       /* IPPROTO_TCP/UDP/ICMP/ICMPV6 or any other */
	uint16_t sport, dport; /* TCP/UDP; ICMP: sport = type, dport = code */
	uint16_t payload_len;  /* bytes after the L4 header (pattern filled) */
	uint16_t vlan;	       /* inner 802.1Q VID, 0 = untagged */
	uint8_t tcp_flags;     /* 0 = SYN|ACK for TCP */
};

struct mt_fx_outer {
	int family;	       /* AF_INET or AF_INET6 */
	const char *src, *dst; /* "198.18.0.1" ... */
	uint16_t sport;	       /* 0 = 49152 */
	uint16_t dport;	       /* 0 = 4789 */
	uint32_t vni;
	uint8_t vxlan_flags;   /* 0 = 0x08 (I flag) */
	uint16_t vlan[2];      /* outer VIDs, 0 = absent; vlan[0] outermost */
	uint8_t ip_options;    /* IPv4: bytes of options (multiple of 4) */
};

/* Builds an inner frame into buf; returns its length (0 if cap too small). */
size_t mt_fx_inner(uint8_t *buf, size_t cap, const struct mt_fx_pkt *p);

/* Wraps inner in Ethernet/[VLAN]/IP/UDP/VXLAN; returns the frame length. */
size_t mt_fx_vxlan(uint8_t *buf, size_t cap, const struct mt_fx_outer *o,
		   const uint8_t *inner, size_t inner_len);

/* Both at once. */
size_t mt_fx_frame(uint8_t *buf, size_t cap, const struct mt_fx_outer *o,
		   const struct mt_fx_pkt *p);

/* mkdtemp("/tmp/mt-test-XXXXXX") into buf; rm -rf of such a directory. */
char *mt_fx_tmpdir(char *buf, size_t size);
void mt_fx_rmtree(const char *dir);

#endif /* MT_TEST_FIXTURES_H */
