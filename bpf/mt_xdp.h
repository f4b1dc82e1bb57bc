/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ABI between the XDP program (mirror_target.bpf.c) and userspace: counter
 * slots, the metadata written in front of every redirected frame, and the
 * keys of the allow-list maps.  Fixed-width types only, so the same header
 * compiles for -target bpf and for the daemon.  Append, never reorder: the
 * counter indices and the metadata layout are read by a daemon that may be
 * newer or older than the object it loaded.
 */
#ifndef MT_XDP_H
#define MT_XDP_H

#include <linux/types.h>

/* Default VXLAN port (IANA); the program's vxlan_port rodata knob. */
#define MT_XDP_VXLAN_PORT 4789

/* Sizes of the maps, before userspace resizes them (bpf_map__set_max_entries). */
#define MT_XDP_MAX_QUEUES 256
#define MT_XDP_MAX_SRC_PREFIXES 1024
#define MT_XDP_MAX_VNIS 4096

/*
 * Per-CPU counter slots (map "mt_counters"), one per outcome.  Every frame
 * counts in SEEN and in exactly one of PASSED .. REDIRECT_FAILED or
 * NOT_READY; META_FAILED is extra, on top of REDIRECTED or REDIRECT_FAILED.
 */
enum mt_xdp_counter {
	MT_XDP_CNT_SEEN = 0,
	MT_XDP_CNT_PASSED, /* not UDP to the VXLAN port: the kernel's */
	MT_XDP_CNT_FRAG_PASSED, /* any outer IPv4/IPv6 fragment */
	MT_XDP_CNT_INVALID_VXLAN, /* short, I flag clear, no inner Ethernet */
	MT_XDP_CNT_SOURCE_NOT_ALLOWED,
	MT_XDP_CNT_VNI_NOT_ALLOWED,
	MT_XDP_CNT_REDIRECTED,
	MT_XDP_CNT_REDIRECT_FAILED, /* no AF_XDP socket on that rx queue */
	MT_XDP_CNT_META_FAILED, /* no headroom for struct mt_xdp_meta */
	/*
	 * Valid VXLAN that arrived after the program was attached but before
	 * the daemon had bound its sockets (mt_armed still 0), so that
	 * REDIRECT_FAILED only ever means a queue without a socket.
	 */
	MT_XDP_CNT_NOT_READY,
	MT_XDP_CNT__MAX,
};

/* Names for status output and metrics, indexed by enum mt_xdp_counter. */
#define MT_XDP_COUNTER_NAMES                                                   \
	{                                                                      \
		"seen", "passed", "frag_passed", "invalid_vxlan",              \
			"source_not_allowed", "vni_not_allowed", "redirected", \
			"redirect_failed", "meta_failed", "not_ready",         \
	}

/*
 * Written by bpf_xdp_adjust_meta() right in front of the frame: the AF_XDP
 * consumer reads it at (frame address - sizeof(struct mt_xdp_meta)).
 * magic tells a frame that got metadata from one that did not (see
 * MT_XDP_CNT_META_FAILED); since a UMEM chunk keeps the bytes of the frame
 * it held before, the consumer must clear magic before it hands the chunk
 * back to the fill ring.  The struct may be unaligned in the UMEM: copy it
 * out with memcpy.
 */
#define MT_XDP_META_MAGIC 0x4d54 /* "MT" */

struct mt_xdp_meta {
	__u64 rx_tai_ns; /* bpf_ktime_get_tai_ns() when XDP saw the frame */
	__u32 vni; /* host order, as in the VXLAN header */
	__u16 inner_off; /* offset of the inner Ethernet header in the frame */
	__u16 magic; /* MT_XDP_META_MAGIC */
};

/* bpf_xdp_adjust_meta(): a multiple of 4; older kernels allow 32 bytes. */
_Static_assert(sizeof(struct mt_xdp_meta) % 4 == 0 &&
		       sizeof(struct mt_xdp_meta) <= 32,
	       "struct mt_xdp_meta does not fit the XDP metadata area");

/* LPM trie keys of the outer-source allow-lists: prefixlen, then the address. */
struct mt_xdp_src4_key {
	__u32 prefixlen;
	__u8 addr[4]; /* network order */
};

struct mt_xdp_src6_key {
	__u32 prefixlen;
	__u8 addr[16]; /* network order */
};

/* The VNI allow-list (hash map "mt_vni_allow") maps a __u32 VNI to 1. */

#endif /* MT_XDP_H */
