// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP program of mirror-target, attached to the NIC that receives AWS VPC
 * Traffic Mirroring.  The instance behind that NIC still needs its own
 * traffic (SSH, DNS, the metadata service), so the program takes only what
 * is unmistakably mirrored traffic and leaves the rest to the kernel:
 *
 *   Ethernet [802.1ad] [802.1Q] -> IPv4 (any IHL) | IPv6 (+ a few ext hdrs)
 *     not IP, not UDP, another port, truncated -> XDP_PASS   (passed)
 *     an outer fragment                          -> XDP_PASS   (frag_passed)
 *   UDP to vxlan_port: from here the frame is ours and never goes to the
 *   stack, which would answer with ICMP port unreachable:
 *     outer source outside the allow-list        -> XDP_DROP   (source_...)
 *     VXLAN short, I flag clear, no inner Ether  -> XDP_DROP   (invalid_vxlan)
 *     VNI outside the allow-list                 -> XDP_DROP   (vni_...)
 *     valid, but the daemon is still starting   -> XDP_DROP   (not_ready)
 *     valid: struct mt_xdp_meta in the metadata area (arrival time), then
 *     the AF_XDP socket of this rx queue         -> XDP_REDIRECT (redirected)
 *     no socket bound on this queue              -> XDP_DROP (redirect_failed)
 *
 * The source is checked before the VXLAN header so that junk sent by a
 * stranger counts as what it is: someone outside the allow-list.  An empty
 * allow-list cannot be detected from here, so userspace sets the *_enabled
 * flags when it fills one.
 *
 * Two programs share the code: mt_xdp for ordinary drivers and
 * mt_xdp_frags for multi-buffer (jumbo frames over several pages).  In a
 * frags program data..data_end is the first buffer only.  Drivers put at
 * least the first few hundred bytes there (usually a page), and the
 * headers we read end 80-100 bytes in; the rest of the frame reaches the
 * socket untouched.  A frame whose headers did not fit would look
 * truncated: passed before the UDP port, invalid VXLAN after it.
 *
 * Outer IPv6 extension headers: hop-by-hop, routing, destination options
 * and AH are walked (at most MT_IPV6_MAX_EXT); a fragment header anywhere
 * in that walk is a fragment; any other next header is not ours.
 *
 * What counts as the end of the packet is what the daemon's decap takes:
 * the shorter of the frame and of the lengths in the IP and UDP headers.
 * So a frame whose IPv4 total length is below its header size is passed,
 * one whose UDP or VXLAN header lies beyond the datagram's claimed end is
 * passed or invalid_vxlan, never redirected to be refused by the daemon:
 * the live path (XDP, then decap) and the offline path (decap alone)
 * accept the same frames.
 */
#include "parse.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by userspace before load (skeleton ->rodata). */
const volatile __u16 vxlan_port = MT_XDP_VXLAN_PORT;

/*
 * Whether the allow-lists are in force (an empty LPM trie cannot be told
 * from here).  Globals, not rodata: a reload switches them at run time,
 * after filling the maps when a list appears, before emptying them when
 * it goes away.
 */
volatile __u8 src_allow_enabled = 0;
volatile __u8 vni_allow_enabled = 0;

/*
 * libxdp loads the program only when it attaches it, so the XSKMAP cannot
 * be filled before the program sees traffic.  The daemon sets this (through
 * the skeleton's mmapped .bss) once every socket is in the map; until then
 * valid VXLAN is dropped as not_ready rather than as redirect_failed.
 */
volatile __u32 mt_armed = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MT_XDP_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} mt_counters SEC(".maps");

/* Key: rx queue index; value: AF_XDP socket bound to that queue. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MT_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MT_XDP_MAX_SRC_PREFIXES);
	__type(key, struct mt_xdp_src4_key);
	__type(value, __u8);
} mt_src4_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MT_XDP_MAX_SRC_PREFIXES);
	__type(key, struct mt_xdp_src6_key);
	__type(value, __u8);
} mt_src6_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MT_XDP_MAX_VNIS);
	__type(key, __u32);
	__type(value, __u8);
} mt_vni_allow SEC(".maps");

static __always_inline void mt_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&mt_counters, &idx);

	/* Per-CPU slot: no other writer, no atomic needed. */
	if (v)
		*v += 1;
}

static __always_inline int mt_verdict(int action, __u32 idx)
{
	mt_count(idx);
	return action;
}

static __always_inline int mt_source_allowed(struct mt_outer *o)
{
	if (o->family == 4)
		return bpf_map_lookup_elem(&mt_src4_allow, &o->src4) != NULL;
	return bpf_map_lookup_elem(&mt_src6_allow, &o->src6) != NULL;
}

/*
 * The worker stamps records with this time (TAI, converted to UTC in
 * userspace), so it is taken once per frame here rather than per batch
 * there.  Failing is not fatal: the worker sees no magic and reads the
 * clock itself.  adjust_meta invalidates every packet pointer, hence the
 * parse results come in through o.
 */
static __always_inline void mt_write_meta(struct xdp_md *ctx,
					  const struct mt_outer *o)
{
	struct mt_xdp_meta *meta;
	void *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*meta))) {
		mt_count(MT_XDP_CNT_META_FAILED);
		return;
	}
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > data) {
		mt_count(MT_XDP_CNT_META_FAILED);
		return;
	}
	meta->rx_tai_ns = bpf_ktime_get_tai_ns();
	meta->vni = o->vni;
	meta->inner_off = o->inner_off;
	meta->magic = MT_XDP_META_MAGIC;
}

static __always_inline int mt_xdp_process(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	struct mt_cursor c = {
		.pos = data,
		.end = (void *)(long)ctx->data_end,
	};
	struct mt_outer o = {};
	__be16 proto;
	int ret;

	mt_count(MT_XDP_CNT_SEEN);
	if (mt_parse_eth(&c, &proto) != MT_PARSE_OK)
		return mt_verdict(XDP_PASS, MT_XDP_CNT_PASSED);
	if (proto == bpf_htons(ETH_P_IP))
		ret = mt_parse_ipv4(&c, &o);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = mt_parse_ipv6(&c, &o);
	else
		ret = MT_PARSE_NOT_OURS;
	if (ret == MT_PARSE_FRAGMENT)
		return mt_verdict(XDP_PASS, MT_XDP_CNT_FRAG_PASSED);
	if (ret != MT_PARSE_OK)
		return mt_verdict(XDP_PASS, MT_XDP_CNT_PASSED);
	if (mt_parse_udp(&c, vxlan_port) != MT_PARSE_OK)
		return mt_verdict(XDP_PASS, MT_XDP_CNT_PASSED);

	/* Addressed to our port: from here on, redirect or drop. */
	if (src_allow_enabled && !mt_source_allowed(&o))
		return mt_verdict(XDP_DROP, MT_XDP_CNT_SOURCE_NOT_ALLOWED);
	if (mt_parse_vxlan(&c, data, &o))
		return mt_verdict(XDP_DROP, MT_XDP_CNT_INVALID_VXLAN);
	if (vni_allow_enabled && !bpf_map_lookup_elem(&mt_vni_allow, &o.vni))
		return mt_verdict(XDP_DROP, MT_XDP_CNT_VNI_NOT_ALLOWED);

	if (!mt_armed)
		return mt_verdict(XDP_DROP, MT_XDP_CNT_NOT_READY);
	mt_write_meta(ctx, &o);
	/* The flags' low bits are the action when the queue has no socket. */
	ret = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_DROP);
	if (ret == XDP_REDIRECT)
		return mt_verdict(ret, MT_XDP_CNT_REDIRECTED);
	return mt_verdict(XDP_DROP, MT_XDP_CNT_REDIRECT_FAILED);
}

SEC("xdp")
int mt_xdp(struct xdp_md *ctx)
{
	return mt_xdp_process(ctx);
}

SEC("xdp.frags")
int mt_xdp_frags(struct xdp_md *ctx)
{
	return mt_xdp_process(ctx);
}
