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
	int family; /* AF_INET or AF_INET6 */
	const char *src, *dst; /* "192.0.2.1", "2001:db8::1" */
	uint8_t proto; /* IPPROTO_TCP/UDP/ICMP/ICMPV6 or any other */
	uint16_t sport, dport; /* TCP/UDP; ICMP: sport = type, dport = code */
	uint16_t payload_len; /* bytes after the L4 header (pattern filled) */
	uint16_t vlan; /* inner 802.1Q VID, 0 = untagged */
	uint8_t tcp_flags; /* 0 = SYN|ACK for TCP */
};

struct mt_fx_outer {
	int family; /* AF_INET or AF_INET6 */
	const char *src, *dst; /* "198.18.0.1" ... */
	uint16_t sport; /* 0 = 49152 */
	uint16_t dport; /* 0 = 4789 */
	uint32_t vni;
	uint8_t vxlan_flags; /* 0 = 0x08 (I flag) */
	uint16_t vlan[2]; /* outer VIDs, 0 = absent; vlan[0] outermost */
	uint8_t ip_options; /* IPv4: bytes of options (multiple of 4) */
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

/* Where mt_fx_tmp_setup puts each test's fresh temp directory. */
extern char mt_fx_tmp[64];

/*
 * The helpers below assert with Criterion and drive the segmenter, but
 * fixtures.c is also built into tests/bpf/test_xdp_prog (no libmtcore, no
 * mirror-target/ headers) and included by tests/bench/bench_core.c (no
 * Criterion library).  As static inline functions in this header they
 * cost those programs nothing: an unused one is never emitted.
 */
#if __has_include(<criterion/criterion.h>)
#include <criterion/criterion.h>

/*
 * TestSuite(name, .init = mt_fx_tmp_setup, .fini = mt_fx_tmp_teardown):
 * each test gets a fresh mt_fx_tmp, removed with all it holds afterwards.
 */
static inline void mt_fx_tmp_setup(void)
{
	cr_assert_not_null(mt_fx_tmpdir(mt_fx_tmp, sizeof(mt_fx_tmp)));
}

static inline void mt_fx_tmp_teardown(void)
{
	mt_fx_rmtree(mt_fx_tmp);
}

#if __has_include("mirror-target/segment.h")
#include <stdio.h>

#include "mirror-target/segment.h"

/*
 * The segmenter's defaults, writing into dir, with every rotation trigger
 * and the free-space floor off: a test turns on what it tests.
 */
static inline void mt_fx_seg_config(struct mt_segment_config *cfg,
				    const char *dir)
{
	mt_segment_config_default(cfg);
	snprintf(cfg->dir, sizeof(cfg->dir), "%s", dir);
	cfg->rotate_bytes = 0;
	cfg->rotate_interval = 0;
	cfg->rotate_idle = 0;
	cfg->min_free_bytes = 0;
}

/* mt_segmenter__create that fails the test, with the reason, on error. */
static inline struct mt_segmenter *
mt_fx_seg_create(const struct mt_segment_config *cfg)
{
	struct mt_err err = { { 0 } };
	struct mt_segmenter *sg = mt_segmenter__create(cfg, &err);

	cr_assert_not_null(sg, "create: %s", err.msg);
	return sg;
}
#endif /* mirror-target/segment.h */
#endif /* criterion */

#endif /* MT_TEST_FIXTURES_H */
