// SPDX-License-Identifier: GPL-2.0-only
/*
 * The XDP program run through BPF_PROG_TEST_RUN: a table of frames, each
 * with the verdict and the counter a user would see in `mirrorctl status`,
 * run through both programs (single-buffer and frags).  Every run also
 * checks the counter deltas (seen + exactly one outcome), that passed
 * frames leave the program byte for byte as they came, and that valid
 * frames carry struct mt_xdp_meta in front.
 *
 * The skeleton is loaded, never attached: nothing here touches a real
 * interface.  The redirect test binds one copy-mode AF_XDP socket to lo
 * in a private network namespace.  Needs root (CAP_BPF, CAP_NET_ADMIN);
 * without it the tests skip.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "fixtures.h"
#include "mirror_target.skel.h"
#include "mt_xdp.h"

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif

#define ETH_LEN 14
#define VLAN_LEN 4
#define IP4_LEN 20
#define IP6_LEN 40
#define UDP_LEN 8
#define VXLAN_LEN 8
#define FRAME_CAP 16384
#define JUMBO_LEN 9000

static const char *const counter_names[] = MT_XDP_COUNTER_NAMES;
_Static_assert(sizeof(counter_names) / sizeof(counter_names[0]) ==
		       MT_XDP_CNT__MAX,
	       "MT_XDP_COUNTER_NAMES and enum mt_xdp_counter disagree");

struct knobs {
	uint16_t vxlan_port; /* 0 = program default */
	int src_allow;
	int vni_allow;
};

struct xdp_env {
	struct mirror_target_bpf *skel;
	int prog_fd[2]; /* mt_xdp, mt_xdp_frags */
};

static const char *const prog_names[2] = { "mt_xdp", "mt_xdp_frags" };

__attribute__((format(printf, 2, 0))) static int
libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void env_load(struct xdp_env *env, const struct knobs *k)
{
	int err;

	libbpf_set_print(libbpf_quiet);
	env->skel = mirror_target_bpf__open();
	cr_assert_not_null(env->skel, "opening the skeleton: %s",
			   strerror(errno));
	if (k && k->vxlan_port)
		env->skel->rodata->vxlan_port = k->vxlan_port;
	err = mirror_target_bpf__load(env->skel);
	if (err == -EPERM || err == -EACCES) {
		mirror_target_bpf__destroy(env->skel);
		cr_skip_test("BPF_PROG_LOAD: %s: run as root (CAP_BPF and "
			     "CAP_NET_ADMIN)",
			     strerror(-err));
	}
	cr_assert_eq(err, 0, "loading the XDP object: %s", strerror(-err));
	/* As the daemon leaves it once its sockets are bound. */
	env->skel->bss->mt_armed = 1;
	if (k) {
		env->skel->bss->src_allow_enabled = !!k->src_allow;
		env->skel->bss->vni_allow_enabled = !!k->vni_allow;
	}
	env->prog_fd[0] = bpf_program__fd(env->skel->progs.mt_xdp);
	env->prog_fd[1] = bpf_program__fd(env->skel->progs.mt_xdp_frags);
}

static void env_free(struct xdp_env *env)
{
	mirror_target_bpf__destroy(env->skel);
	env->skel = NULL;
}

static void read_counters(struct xdp_env *env, uint64_t out[MT_XDP_CNT__MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(env->skel->maps.mt_counters);
	uint64_t *vals;
	uint32_t i;
	int c;

	cr_assert_gt(ncpu, 0);
	vals = calloc((size_t)ncpu, sizeof(*vals));
	cr_assert_not_null(vals);
	for (i = 0; i < MT_XDP_CNT__MAX; i++) {
		cr_assert_eq(bpf_map_lookup_elem(fd, &i, vals), 0,
			     "reading counter %s", counter_names[i]);
		out[i] = 0;
		for (c = 0; c < ncpu; c++)
			out[i] += vals[c];
	}
	free(vals);
}

struct run_result {
	int verdict;
	uint32_t meta_len; /* bytes of metadata in front of the frame */
	uint64_t delta[MT_XDP_CNT__MAX];
	uint8_t out[FRAME_CAP + 64];
	uint32_t out_len;
};

/* One BPF_PROG_TEST_RUN of frame through program p (0 or 1). */
static void run_frame(struct xdp_env *env, int p, const uint8_t *frame,
		      size_t len, uint32_t rx_queue, struct run_result *r)
{
	uint64_t before[MT_XDP_CNT__MAX], after[MT_XDP_CNT__MAX];
	struct xdp_md ctx_in = { .data_end = (uint32_t)len,
				 .rx_queue_index = rx_queue };
	struct xdp_md ctx_out = {};
	int err, i;

	if (rx_queue)
		ctx_in.ingress_ifindex = if_nametoindex("lo");
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = (uint32_t)len, .data_out = r->out,
		    .data_size_out = sizeof(r->out), .ctx_in = &ctx_in,
		    .ctx_size_in = sizeof(ctx_in), .ctx_out = &ctx_out,
		    .ctx_size_out = sizeof(ctx_out), .repeat = 1);

	read_counters(env, before);
	err = bpf_prog_test_run_opts(env->prog_fd[p], &opts);
	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN of %s on a %zu-byte frame: %s",
		     prog_names[p], len, strerror(-err));
	read_counters(env, after);
	r->verdict = (int)opts.retval;
	r->meta_len = ctx_out.data;
	r->out_len = opts.data_size_out;
	for (i = 0; i < MT_XDP_CNT__MAX; i++)
		r->delta[i] = after[i] - before[i];
}

static const char *verdict_name(int v)
{
	switch (v) {
	case XDP_ABORTED:
		return "XDP_ABORTED";
	case XDP_DROP:
		return "XDP_DROP";
	case XDP_PASS:
		return "XDP_PASS";
	case XDP_TX:
		return "XDP_TX";
	case XDP_REDIRECT:
		return "XDP_REDIRECT";
	default:
		return "?";
	}
}

static uint64_t tai_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Metadata in front of a valid frame, the frame itself unchanged. */
static void check_meta(const char *desc, const uint8_t *frame, size_t len,
		       const struct run_result *r, uint32_t vni)
{
	static const uint8_t inner_dmac[6] = { 2, 0, 0, 0, 0, 2 };
	uint64_t now = tai_now_ns();
	struct mt_xdp_meta meta;

	cr_assert_eq(r->meta_len, sizeof(meta), "%s: metadata length %u", desc,
		     r->meta_len);
	cr_assert_eq(r->out_len, len + sizeof(meta));
	cr_assert(memcmp(r->out + sizeof(meta), frame, len) == 0,
		  "%s: frame bytes changed behind the metadata", desc);
	memcpy(&meta, r->out, sizeof(meta));
	cr_assert_eq(meta.magic, MT_XDP_META_MAGIC, "%s: magic %#x", desc,
		     meta.magic);
	cr_assert_eq(meta.vni, vni, "%s: metadata VNI %u, want %u", desc,
		     meta.vni, vni);
	cr_assert(meta.rx_tai_ns <= now && now - meta.rx_tai_ns < 5000000000ull,
		  "%s: rx_tai_ns %llu is not TAI now (%llu)", desc,
		  (unsigned long long)meta.rx_tai_ns, (unsigned long long)now);
	/* inner_off points at the inner Ethernet header (fixtures' MACs). */
	cr_assert_leq(meta.inner_off + ETH_LEN, len);
	cr_assert(memcmp(frame + meta.inner_off, inner_dmac, 6) == 0,
		  "%s: inner_off %u is not the inner Ethernet header", desc,
		  meta.inner_off);
}

/*
 * The checks every run gets: verdict, seen + exactly the expected outcome
 * counter, untouched bytes when passed or dropped, metadata when valid
 * (also when the redirect found no socket: the metadata comes first).
 */
static void check_run(const char *desc, int p, const uint8_t *frame, size_t len,
		      const struct run_result *r, int verdict,
		      enum mt_xdp_counter counter, uint32_t vni)
{
	int i;

	cr_assert_eq(r->verdict, verdict, "%s (%s, %zu bytes): %s, want %s",
		     desc, prog_names[p], len, verdict_name(r->verdict),
		     verdict_name(verdict));
	for (i = 0; i < MT_XDP_CNT__MAX; i++) {
		uint64_t want = i == MT_XDP_CNT_SEEN || i == (int)counter;

		cr_assert_eq(r->delta[i], want,
			     "%s (%s, %zu bytes): counter %s moved by %llu, "
			     "want %llu",
			     desc, prog_names[p], len, counter_names[i],
			     (unsigned long long)r->delta[i],
			     (unsigned long long)want);
	}
	if (counter == MT_XDP_CNT_REDIRECTED ||
	    counter == MT_XDP_CNT_REDIRECT_FAILED) {
		check_meta(desc, frame, len, r, vni);
		return;
	}
	cr_assert_eq(r->meta_len, 0, "%s: metadata on a %s frame", desc,
		     counter_names[counter]);
	cr_assert_eq(r->out_len, len, "%s: frame length changed", desc);
	cr_assert(memcmp(r->out, frame, len) == 0,
		  "%s (%s): frame bytes changed", desc, prog_names[p]);
}

/* ---- frames ---- */

static const struct mt_fx_pkt inner_tcp = {
	.family = AF_INET,
	.src = "192.0.2.1",
	.dst = "192.0.2.2",
	.proto = IPPROTO_TCP,
	.sport = 40000,
	.dport = 443,
	.payload_len = 32,
};

/* Outer headers as a mirror source sends them; VNI 0 unless given. */
#define OUTER4_SRC(addr, ...)                                        \
	{                                                            \
		.family = AF_INET, .src = addr, .dst = "198.18.0.2", \
		__VA_ARGS__                                          \
	}
#define OUTER4(...) OUTER4_SRC("198.18.0.1", __VA_ARGS__)
#define OUTER6_SRC(addr, ...)                                             \
	{                                                                 \
		.family = AF_INET6, .src = addr, .dst = "2001:db8:ff::2", \
		__VA_ARGS__                                               \
	}
#define OUTER6(...) OUTER6_SRC("2001:db8:ff::1", __VA_ARGS__)

static size_t build_vxlan(uint8_t *buf, const struct mt_fx_outer *o)
{
	size_t n = mt_fx_frame(buf, FRAME_CAP, o, &inner_tcp);

	cr_assert_gt(n, 0);
	return n;
}

/* Puts an IPv6 extension header right behind the fixed header at l3. */
static void ip6_insert_ext(uint8_t *f, size_t *len, size_t l3, uint8_t type,
			   size_t ext_len)
{
	uint8_t *ext = f + l3 + IP6_LEN;
	uint16_t plen = (uint16_t)(f[l3 + 4] << 8 | f[l3 + 5]);

	memmove(ext + ext_len, ext, *len - (l3 + IP6_LEN));
	memset(ext, 0, ext_len);
	ext[0] = f[l3 + 6];
	ext[1] = type == IPPROTO_FRAGMENT ? 0 : (uint8_t)(ext_len / 8 - 1);
	if (type == IPPROTO_DSTOPTS || type == IPPROTO_HOPOPTS)
		ext[2] = 1; /* PadN over the rest */
	f[l3 + 6] = type;
	plen += (uint16_t)ext_len;
	f[l3 + 4] = (uint8_t)(plen >> 8);
	f[l3 + 5] = (uint8_t)plen;
	*len += ext_len;
}

/* Layout-specific mutators: untagged outer unless the name says so. */
static void mut_ip4_mf(uint8_t *f, size_t *len)
{
	(void)len;
	f[ETH_LEN + 6] = 0x20; /* MF, offset 0: the first fragment */
	f[ETH_LEN + 7] = 0x00;
}

static void mut_ip4_offset(uint8_t *f, size_t *len)
{
	(void)len;
	f[ETH_LEN + 6] = 0x00; /* last fragment at offset 1480 */
	f[ETH_LEN + 7] = 185;
}

static void mut_ip4_ihl4(uint8_t *f, size_t *len)
{
	(void)len;
	f[ETH_LEN] = 0x44;
	/*
	 * Destination 198.18.18.181: were IHL 4 believed, the "UDP header"
	 * 16 bytes in would carry destination port 0x12b5 = 4789.
	 */
	f[ETH_LEN + 18] = 0x12;
	f[ETH_LEN + 19] = 0xb5;
}

static void mut_ip4_version6(uint8_t *f, size_t *len)
{
	(void)len;
	f[ETH_LEN] = 0x65;
}

static void mut_cut_vxlan_half(uint8_t *f, size_t *len)
{
	(void)f;
	*len = ETH_LEN + IP4_LEN + UDP_LEN + 4;
}

static void mut_cut_vxlan_only(uint8_t *f, size_t *len)
{
	(void)f;
	*len = ETH_LEN + IP4_LEN + UDP_LEN + VXLAN_LEN;
}

static void mut_cut_inner_13(uint8_t *f, size_t *len)
{
	(void)f;
	*len = ETH_LEN + IP4_LEN + UDP_LEN + VXLAN_LEN + ETH_LEN - 1;
}

static void mut_cut_inner_14(uint8_t *f, size_t *len)
{
	(void)f;
	*len = ETH_LEN + IP4_LEN + UDP_LEN + VXLAN_LEN + ETH_LEN;
}

static void mut_third_vlan(uint8_t *f, size_t *len)
{
	/* 88a8 / 8100 / [new 8100] / IPv4: one tag more than we walk. */
	size_t at = ETH_LEN + 2 * VLAN_LEN - 2;

	memmove(f + at + VLAN_LEN, f + at, *len - at);
	f[at] = 0x81;
	f[at + 1] = 0x00;
	f[at + 2] = 0x00;
	f[at + 3] = 0x07;
	*len += VLAN_LEN;
}

static void mut_ip6_dstopts(uint8_t *f, size_t *len)
{
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 8);
}

static void mut_ip6_hop_routing_dst(uint8_t *f, size_t *len)
{
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 16);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_ROUTING, 24);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_HOPOPTS, 8);
}

static void mut_ip6_four_ext(uint8_t *f, size_t *len)
{
	mut_ip6_hop_routing_dst(f, len);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 8);
}

static void mut_ip6_five_ext(uint8_t *f, size_t *len)
{
	mut_ip6_four_ext(f, len);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 8);
}

static void mut_ip6_frag(uint8_t *f, size_t *len)
{
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_FRAGMENT, 8);
}

static void mut_ip6_dst_frag(uint8_t *f, size_t *len)
{
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_FRAGMENT, 8);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 8);
}

static void mut_ip6_esp(uint8_t *f, size_t *len)
{
	ip6_insert_ext(f, len, ETH_LEN, 50, 8);
}

static void mut_ip6_ext_cut(uint8_t *f, size_t *len)
{
	/* Routing header claims 24 bytes; the frame ends inside it. */
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_ROUTING, 24);
	*len = ETH_LEN + IP6_LEN + 16;
}

static void mut_ip6_eight_ext(uint8_t *f, size_t *len)
{
	mut_ip6_five_ext(f, len);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 8);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 8);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 8);
}

static void mut_ip6_nine_ext(uint8_t *f, size_t *len)
{
	mut_ip6_eight_ext(f, len);
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 8);
}

static void mut_ip6_ah(uint8_t *f, size_t *len)
{
	/* AH counts 4-byte words minus 2 (RFC 4302): 16 bytes here. */
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_AH, 16);
	f[ETH_LEN + IP6_LEN + 1] = 16 / 4 - 2;
}

/*
 * The lengths in the headers end the datagram before the frame does (the
 * rest is padding to the decap): a frame the daemon would refuse for it
 * must not be redirected.  Found by tests/fuzz/fuzz_xdp_verdict.c.
 */
static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void mut_ip4_tot_below_ihl(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + 2, IP4_LEN - 4);
}

static void mut_ip4_frag_tot_below_ihl(uint8_t *f, size_t *len)
{
	mut_ip4_mf(f, len);
	put_be16(f + ETH_LEN + 2, 0);
}

static void mut_ip4_tot_cuts_udp(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + 2, IP4_LEN + 4);
}

static void mut_ip4_tot_cuts_inner(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + 2, IP4_LEN + UDP_LEN + VXLAN_LEN + ETH_LEN - 1);
}

static void mut_ip4_tot_inner_eth_only(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + 2, IP4_LEN + UDP_LEN + VXLAN_LEN + ETH_LEN);
}

static void mut_udp_len_cuts_vxlan(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + IP4_LEN + 4, UDP_LEN + 4);
}

static void mut_udp_len_below_header(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + IP4_LEN + 4, UDP_LEN - 1);
}

static void mut_udp_len_beyond_ip(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + IP4_LEN + 4, 0xffff);
}

static void mut_ip6_plen_cuts_inner(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + 4, UDP_LEN + VXLAN_LEN + ETH_LEN - 1);
}

static void mut_ip6_plen_zero(uint8_t *f, size_t *len)
{
	(void)len;
	put_be16(f + ETH_LEN + 4, 0);
}

static void mut_ip6_plen_in_ext(uint8_t *f, size_t *len)
{
	ip6_insert_ext(f, len, ETH_LEN, IPPROTO_DSTOPTS, 16);
	put_be16(f + ETH_LEN + 4, 8);
}

enum frame_kind { FR_VXLAN, FR_PLAIN, FR_ARP };

struct xdp_case {
	const char *desc;
	enum frame_kind kind;
	struct mt_fx_outer outer; /* FR_VXLAN */
	struct mt_fx_pkt plain; /* FR_PLAIN: a frame as-is on the wire */
	void (*mutate)(uint8_t *f, size_t *len);
	int verdict;
	enum mt_xdp_counter counter;
};

/*
 * Verdict and counter together: ".verdict = VALID" in an initialiser sets
 * .verdict and the field after it, .counter; as arguments, both.
 */
#define PASSED XDP_PASS, MT_XDP_CNT_PASSED
#define FRAG XDP_PASS, MT_XDP_CNT_FRAG_PASSED
#define INVALID XDP_DROP, MT_XDP_CNT_INVALID_VXLAN
/* Valid, but the test loads no AF_XDP socket: dropped, never passed. */
#define VALID XDP_DROP, MT_XDP_CNT_REDIRECT_FAILED

static const struct xdp_case cases[] = {
	{ "IPv4 TCP to the instance (SSH)", FR_PLAIN,
	  .plain = { .family = AF_INET,
		     .src = "198.18.0.9",
		     .dst = "198.18.0.2",
		     .proto = IPPROTO_TCP,
		     .sport = 50000,
		     .dport = 22 },
	  .verdict = PASSED },
	{ "IPv6 TCP to the instance", FR_PLAIN,
	  .plain = { .family = AF_INET6,
		     .src = "2001:db8:ff::9",
		     .dst = "2001:db8:ff::2",
		     .proto = IPPROTO_TCP,
		     .sport = 50000,
		     .dport = 22 },
	  .verdict = PASSED },
	{ "ARP request", FR_ARP, .verdict = PASSED },
	{ "IPv4 UDP to port 53", FR_PLAIN,
	  .plain = { .family = AF_INET,
		     .src = "198.18.0.9",
		     .dst = "198.18.0.2",
		     .proto = IPPROTO_UDP,
		     .sport = 4789,
		     .dport = 53,
		     .payload_len = 40 },
	  .verdict = PASSED },
	{ "IPv6 UDP to port 4790", FR_PLAIN,
	  .plain = { .family = AF_INET6,
		     .src = "2001:db8:ff::9",
		     .dst = "2001:db8:ff::2",
		     .proto = IPPROTO_UDP,
		     .sport = 4789,
		     .dport = 4790,
		     .payload_len = 40 },
	  .verdict = PASSED },
	{ "IPv4 ICMP echo", FR_PLAIN,
	  .plain = { .family = AF_INET,
		     .src = "198.18.0.9",
		     .dst = "198.18.0.2",
		     .proto = IPPROTO_ICMP,
		     .sport = 8 },
	  .verdict = PASSED },
	{ "VXLAN, IPv4 outer", FR_VXLAN, OUTER4(), .verdict = VALID },
	{ "VXLAN, IPv4 outer, one VLAN tag", FR_VXLAN, OUTER4(.vlan = { 10 }),
	  .verdict = VALID },
	{ "VXLAN, IPv4 outer, QinQ", FR_VXLAN, OUTER4(.vlan = { 10, 20 }),
	  .verdict = VALID },
	{ "VXLAN, IPv4 outer, three VLAN tags", FR_VXLAN,
	  OUTER4(.vlan = { 10, 20 }), .mutate = mut_third_vlan,
	  .verdict = PASSED },
	{ "VXLAN, IPv4 outer, IHL 6", FR_VXLAN, OUTER4(.ip_options = 4),
	  .verdict = VALID },
	{ "VXLAN, IPv4 outer, IHL 15", FR_VXLAN, OUTER4(.ip_options = 40),
	  .verdict = VALID },
	{ "VXLAN, IPv4 outer, IHL 15, QinQ", FR_VXLAN,
	  OUTER4(.ip_options = 40, .vlan = { 10, 20 }), .verdict = VALID },
	{ "IPv4 outer with IHL 4", FR_VXLAN, OUTER4(), .mutate = mut_ip4_ihl4,
	  .verdict = PASSED },
	{ "IPv4 ethertype, version 6 header", FR_VXLAN, OUTER4(),
	  .mutate = mut_ip4_version6, .verdict = PASSED },
	{ "VXLAN, IPv4 first fragment (MF)", FR_VXLAN, OUTER4(),
	  .mutate = mut_ip4_mf, .verdict = FRAG },
	{ "VXLAN, IPv4 last fragment (offset)", FR_VXLAN, OUTER4(),
	  .mutate = mut_ip4_offset, .verdict = FRAG },
	{ "VXLAN, IPv6 outer", FR_VXLAN, OUTER6(), .verdict = VALID },
	{ "VXLAN, IPv6 outer, one VLAN tag", FR_VXLAN, OUTER6(.vlan = { 30 }),
	  .verdict = VALID },
	{ "VXLAN, IPv6 outer, QinQ", FR_VXLAN, OUTER6(.vlan = { 30, 40 }),
	  .verdict = VALID },
	{ "VXLAN, IPv6 outer, destination options", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_dstopts, .verdict = VALID },
	{ "VXLAN, IPv6 outer, hop-by-hop + routing + dstopts", FR_VXLAN,
	  OUTER6(), .mutate = mut_ip6_hop_routing_dst, .verdict = VALID },
	{ "VXLAN, IPv6 outer, four extension headers", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_four_ext, .verdict = VALID },
	/* As many as the decap walks (MT_IPV6_EXT_MAX), AH included. */
	{ "VXLAN, IPv6 outer, five extension headers", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_five_ext, .verdict = VALID },
	{ "VXLAN, IPv6 outer, eight extension headers", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_eight_ext, .verdict = VALID },
	{ "VXLAN, IPv6 outer, nine extension headers", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_nine_ext, .verdict = PASSED },
	{ "VXLAN, IPv6 outer, AH before UDP", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_ah, .verdict = VALID },
	{ "VXLAN, IPv6 outer fragment header", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_frag, .verdict = FRAG },
	{ "VXLAN, IPv6 outer, dstopts then fragment", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_dst_frag, .verdict = FRAG },
	{ "IPv6 outer, ESP before UDP", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_esp, .verdict = PASSED },
	{ "IPv6 outer, cut inside the routing header", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_ext_cut, .verdict = PASSED },
	{ "IPv4 total length below the header", FR_VXLAN, OUTER4(),
	  .mutate = mut_ip4_tot_below_ihl, .verdict = PASSED },
	{ "IPv4 fragment, total length below the header", FR_VXLAN, OUTER4(),
	  .mutate = mut_ip4_frag_tot_below_ihl, .verdict = PASSED },
	{ "IPv4 total length ends in the UDP header", FR_VXLAN, OUTER4(),
	  .mutate = mut_ip4_tot_cuts_udp, .verdict = PASSED },
	{ "IPv4 total length ends in the inner Ethernet header", FR_VXLAN,
	  OUTER4(), .mutate = mut_ip4_tot_cuts_inner, .verdict = INVALID },
	{ "IPv4 total length ends after the inner Ethernet header", FR_VXLAN,
	  OUTER4(), .mutate = mut_ip4_tot_inner_eth_only, .verdict = VALID },
	{ "UDP length ends in the VXLAN header", FR_VXLAN, OUTER4(),
	  .mutate = mut_udp_len_cuts_vxlan, .verdict = INVALID },
	{ "UDP length below the UDP header (ignored)", FR_VXLAN, OUTER4(),
	  .mutate = mut_udp_len_below_header, .verdict = VALID },
	{ "UDP length beyond the IP datagram (ignored)", FR_VXLAN, OUTER4(),
	  .mutate = mut_udp_len_beyond_ip, .verdict = VALID },
	{ "IPv6 payload length ends in the inner Ethernet header", FR_VXLAN,
	  OUTER6(), .mutate = mut_ip6_plen_cuts_inner, .verdict = INVALID },
	{ "IPv6 payload length 0 (jumbogram)", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_plen_zero, .verdict = VALID },
	{ "IPv6 payload length ends in an extension header", FR_VXLAN, OUTER6(),
	  .mutate = mut_ip6_plen_in_ext, .verdict = PASSED },
	{ "VXLAN to another UDP port", FR_VXLAN, OUTER4(.dport = 4790),
	  .verdict = PASSED },
	{ "VXLAN from port 4789 to another port", FR_VXLAN,
	  OUTER4(.sport = 4789, .dport = 8472), .verdict = PASSED },
	{ "VXLAN, I flag clear", FR_VXLAN, OUTER4(.vxlan_flags = 0x04),
	  .verdict = INVALID },
	{ "VXLAN, IPv6 outer, I flag clear", FR_VXLAN,
	  OUTER6(.vxlan_flags = 0x80), .verdict = INVALID },
	{ "VXLAN, I flag and reserved bits (ignored on receipt)", FR_VXLAN,
	  OUTER4(.vxlan_flags = 0x0c), .verdict = VALID },
	{ "VXLAN header cut after 4 bytes", FR_VXLAN, OUTER4(),
	  .mutate = mut_cut_vxlan_half, .verdict = INVALID },
	{ "VXLAN header, no inner frame", FR_VXLAN, OUTER4(),
	  .mutate = mut_cut_vxlan_only, .verdict = INVALID },
	{ "VXLAN, inner Ethernet 13 bytes", FR_VXLAN, OUTER4(),
	  .mutate = mut_cut_inner_13, .verdict = INVALID },
	{ "VXLAN, inner Ethernet header only", FR_VXLAN, OUTER4(),
	  .mutate = mut_cut_inner_14, .verdict = VALID },
};

static size_t build_case(const struct xdp_case *c, uint8_t *f)
{
	static const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0,  0, 0, 1,
		1,    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6,  4, 0, 1,
		0x02, 0,    0,	  0,	1,    1,    198,  18, 0, 9, 0,
		0,    0,    0,	  0,	0,    198,  18,	  0,  2,
	};
	size_t len = 0;

	switch (c->kind) {
	case FR_VXLAN:
		len = build_vxlan(f, &c->outer);
		break;
	case FR_PLAIN:
		len = mt_fx_inner(f, FRAME_CAP, &c->plain);
		break;
	case FR_ARP:
		memcpy(f, arp, sizeof(arp));
		len = sizeof(arp);
		break;
	}
	cr_assert_gt(len, 0, "%s: building the frame", c->desc);
	if (c->mutate)
		c->mutate(f, &len);
	return len;
}

static uint8_t frame_buf[FRAME_CAP];
static struct run_result result;

Test(xdp, fixture_table)
{
	uint64_t total[MT_XDP_CNT__MAX];
	struct xdp_env env;
	size_t i, len;
	int p, n = 0;

	env_load(&env, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct xdp_case *c = &cases[i];

		for (p = 0; p < 2; p++) {
			len = build_case(c, frame_buf);
			run_frame(&env, p, frame_buf, len, 0, &result);
			check_run(c->desc, p, frame_buf, len, &result,
				  c->verdict, c->counter, c->outer.vni);
			n++;
		}
	}
	/* Every frame lands in exactly one outcome. */
	read_counters(&env, total);
	cr_assert_eq(total[MT_XDP_CNT_SEEN], (uint64_t)n);
	cr_assert_eq(total[MT_XDP_CNT_PASSED] + total[MT_XDP_CNT_FRAG_PASSED] +
			     total[MT_XDP_CNT_INVALID_VXLAN] +
			     total[MT_XDP_CNT_SOURCE_NOT_ALLOWED] +
			     total[MT_XDP_CNT_VNI_NOT_ALLOWED] +
			     total[MT_XDP_CNT_REDIRECTED] +
			     total[MT_XDP_CNT_REDIRECT_FAILED],
		     (uint64_t)n);
	cr_assert_eq(total[MT_XDP_CNT_META_FAILED], 0);
	env_free(&env);
}

/*
 * A valid frame cut at every length: before the UDP destination port is
 * complete it cannot be known to be ours (pass); after it, a short VXLAN
 * header or inner Ethernet is invalid VXLAN (drop); from the full inner
 * Ethernet header on it is valid.  The kernel refuses test frames shorter
 * than an Ethernet header, as drivers never hand such frames to XDP.
 */
struct cut_layout {
	const char *desc;
	struct mt_fx_outer outer;
	void (*mutate)(uint8_t *f, size_t *len);
	size_t udp_end; /* offset just past the UDP header */
};

static const struct cut_layout cut_layouts[] = {
	{ "IPv4 untagged", OUTER4(), NULL, ETH_LEN + IP4_LEN + UDP_LEN },
	{ "IPv4 QinQ IHL 15", OUTER4(.vlan = { 10, 20 }, .ip_options = 40),
	  NULL, ETH_LEN + 2 * VLAN_LEN + 60 + UDP_LEN },
	{ "IPv6 untagged + hop/routing/dstopts", OUTER6(),
	  mut_ip6_hop_routing_dst, ETH_LEN + IP6_LEN + 48 + UDP_LEN },
	{ "IPv6 one tag", OUTER6(.vlan = { 30 }), NULL,
	  ETH_LEN + VLAN_LEN + IP6_LEN + UDP_LEN },
};

Test(xdp, truncated_at_every_length)
{
	static uint8_t full[FRAME_CAP];
	struct xdp_env env;
	size_t i, len, full_len;
	int p;

	env_load(&env, NULL);
	for (i = 0; i < sizeof(cut_layouts) / sizeof(cut_layouts[0]); i++) {
		const struct cut_layout *l = &cut_layouts[i];
		size_t inner_end = l->udp_end + VXLAN_LEN + ETH_LEN;

		full_len = build_vxlan(full, &l->outer);
		if (l->mutate)
			l->mutate(full, &full_len);
		cr_assert_gt(full_len, inner_end);
		for (len = ETH_LEN; len <= full_len; len++) {
			int verdict = XDP_DROP;
			enum mt_xdp_counter cnt = MT_XDP_CNT_REDIRECT_FAILED;
			char desc[128];

			if (len < l->udp_end) {
				verdict = XDP_PASS;
				cnt = MT_XDP_CNT_PASSED;
			} else if (len < inner_end) {
				cnt = MT_XDP_CNT_INVALID_VXLAN;
			}
			snprintf(desc, sizeof(desc), "%s cut at %zu", l->desc,
				 len);
			for (p = 0; p < 2; p++) {
				run_frame(&env, p, full, len, 0, &result);
				check_run(desc, p, full, len, &result, verdict,
					  cnt, l->outer.vni);
			}
		}
	}
	env_free(&env);
}

static void lpm4_add(struct xdp_env *env, const char *addr, uint32_t plen)
{
	struct mt_xdp_src4_key k = { .prefixlen = plen };
	uint8_t one = 1;

	cr_assert_eq(inet_pton(AF_INET, addr, k.addr), 1);
	cr_assert_eq(bpf_map__update_elem(env->skel->maps.mt_src4_allow, &k,
					  sizeof(k), &one, sizeof(one), 0),
		     0, "adding %s/%u: %s", addr, plen, strerror(errno));
}

static void lpm6_add(struct xdp_env *env, const char *addr, uint32_t plen)
{
	struct mt_xdp_src6_key k = { .prefixlen = plen };
	uint8_t one = 1;

	cr_assert_eq(inet_pton(AF_INET6, addr, k.addr), 1);
	cr_assert_eq(bpf_map__update_elem(env->skel->maps.mt_src6_allow, &k,
					  sizeof(k), &one, sizeof(one), 0),
		     0, "adding %s/%u: %s", addr, plen, strerror(errno));
}

static void vni_add(struct xdp_env *env, uint32_t vni)
{
	uint8_t one = 1;

	cr_assert_eq(bpf_map__update_elem(env->skel->maps.mt_vni_allow, &vni,
					  sizeof(vni), &one, sizeof(one), 0),
		     0, "adding VNI %u: %s", vni, strerror(errno));
}

/* Builds o (plus mutate) and checks it through both programs. */
static void expect(struct xdp_env *env, const char *desc,
		   const struct mt_fx_outer *o,
		   void (*mutate)(uint8_t *f, size_t *len), int verdict,
		   enum mt_xdp_counter counter)
{
	size_t len;
	int p;

	for (p = 0; p < 2; p++) {
		len = build_vxlan(frame_buf, o);
		if (mutate)
			mutate(frame_buf, &len);
		run_frame(env, p, frame_buf, len, 0, &result);
		check_run(desc, p, frame_buf, len, &result, verdict, counter,
			  o->vni);
	}
}

Test(xdp, source_allow_list)
{
	const struct mt_fx_outer in4 = OUTER4_SRC("198.18.7.1");
	const struct mt_fx_outer in4_host = OUTER4_SRC("198.19.0.5");
	const struct mt_fx_outer out4 = OUTER4_SRC("198.19.0.6");
	const struct mt_fx_outer out4_bad =
		OUTER4_SRC("198.19.0.6", .vxlan_flags = 0x04);
	const struct mt_fx_outer in6 = OUTER6_SRC("2001:db8:ff:1::1");
	const struct mt_fx_outer out6 = OUTER6_SRC("2001:db8:fe::1");
	const struct mt_fx_pkt ssh = { .family = AF_INET,
				       .src = "198.19.0.6",
				       .dst = "198.18.0.2",
				       .proto = IPPROTO_TCP,
				       .sport = 50000,
				       .dport = 22 };
	struct knobs k = { .src_allow = 1 };
	struct xdp_env env;
	size_t len;
	int p;

	env_load(&env, &k);
	lpm4_add(&env, "198.18.0.0", 16);
	lpm4_add(&env, "198.19.0.5", 32);
	lpm6_add(&env, "2001:db8:ff::", 48);

	expect(&env, "IPv4 source inside /16", &in4, NULL, VALID);
	expect(&env, "IPv4 source = allowed /32", &in4_host, NULL, VALID);
	expect(&env, "IPv4 source outside", &out4, NULL, XDP_DROP,
	       MT_XDP_CNT_SOURCE_NOT_ALLOWED);
	/* A stranger's junk counts as a stranger, not as bad VXLAN. */
	expect(&env, "IPv4 source outside, bad VXLAN", &out4_bad, NULL,
	       XDP_DROP, MT_XDP_CNT_SOURCE_NOT_ALLOWED);
	expect(&env, "IPv6 source inside /48", &in6, NULL, VALID);
	expect(&env, "IPv6 source outside", &out6, NULL, XDP_DROP,
	       MT_XDP_CNT_SOURCE_NOT_ALLOWED);
	/* The allow-list guards the VXLAN port only: SSH still works. */
	for (p = 0; p < 2; p++) {
		len = mt_fx_inner(frame_buf, FRAME_CAP, &ssh);
		run_frame(&env, p, frame_buf, len, 0, &result);
		check_run("SSH from outside the allow-list", p, frame_buf, len,
			  &result, PASSED, 0);
	}
	env_free(&env);

	/* Enabled with only an IPv6 list: every IPv4 source is outside. */
	env_load(&env, &k);
	lpm6_add(&env, "2001:db8:ff::", 48);
	expect(&env, "IPv4 source, IPv4 list empty", &in4, NULL, XDP_DROP,
	       MT_XDP_CNT_SOURCE_NOT_ALLOWED);
	expect(&env, "IPv6 source inside, IPv4 list empty", &in6, NULL, VALID);
	env_free(&env);

	/* Disabled: entries in the maps change nothing. */
	env_load(&env, NULL);
	lpm4_add(&env, "198.18.0.0", 16);
	expect(&env, "IPv4 source outside, list disabled", &out4, NULL, VALID);
	env_free(&env);
}

Test(xdp, vni_allow_list)
{
	const struct mt_fx_outer vni100 = OUTER4(.vni = 100);
	const struct mt_fx_outer vni_max = OUTER6(.vni = 0xffffff);
	const struct mt_fx_outer vni300 = OUTER4(.vni = 300);
	const struct mt_fx_outer vni300_bad =
		OUTER4(.vni = 300, .vxlan_flags = 0x04);
	struct knobs k = { .vni_allow = 1 };
	struct xdp_env env;

	env_load(&env, &k);
	vni_add(&env, 100);
	vni_add(&env, 0xffffff);
	expect(&env, "VNI 100 allowed", &vni100, NULL, VALID);
	expect(&env, "VNI 16777215 allowed", &vni_max, NULL, VALID);
	expect(&env, "VNI 300 not allowed", &vni300, NULL, XDP_DROP,
	       MT_XDP_CNT_VNI_NOT_ALLOWED);
	expect(&env, "VNI 300, bad VXLAN", &vni300_bad, NULL, INVALID);
	env_free(&env);

	env_load(&env, NULL);
	vni_add(&env, 100);
	expect(&env, "VNI 300, list disabled", &vni300, NULL, VALID);
	env_free(&env);
}

Test(xdp, vxlan_port_knob)
{
	const struct mt_fx_outer p4789 = OUTER4();
	const struct mt_fx_outer p8472 = OUTER4(.dport = 8472);
	const struct mt_fx_outer p8472_6 = OUTER6(.dport = 8472);
	struct knobs k = { .vxlan_port = 8472 };
	struct xdp_env env;

	env_load(&env, &k);
	expect(&env, "port 4789 with vxlan_port 8472", &p4789, NULL, PASSED);
	expect(&env, "port 8472 with vxlan_port 8472", &p8472, NULL, VALID);
	expect(&env, "IPv6, port 8472 with vxlan_port 8472", &p8472_6, NULL,
	       VALID);
	env_free(&env);

	env_load(&env, NULL);
	expect(&env, "port 8472, default knob", &p8472, NULL, PASSED);
	env_free(&env);
}

/*
 * Between attach and the sockets being bound (mt_armed 0), valid VXLAN is
 * dropped as not_ready, so that redirect_failed keeps meaning "a queue
 * without a socket"; everything else is judged as always.
 */
Test(xdp, not_ready_until_armed)
{
	const struct mt_fx_outer o4 = OUTER4();
	const struct mt_fx_outer o6 = OUTER6();
	const struct mt_fx_outer bad = OUTER4(.vxlan_flags = 0x80);
	struct xdp_env env;

	env_load(&env, NULL);
	env.skel->bss->mt_armed = 0;
	expect(&env, "valid IPv4, not armed", &o4, NULL, XDP_DROP,
	       MT_XDP_CNT_NOT_READY);
	expect(&env, "valid IPv6, not armed", &o6, NULL, XDP_DROP,
	       MT_XDP_CNT_NOT_READY);
	expect(&env, "bad VXLAN, not armed", &bad, NULL, XDP_DROP,
	       MT_XDP_CNT_INVALID_VXLAN);
	env.skel->bss->mt_armed = 1;
	expect(&env, "valid IPv4, armed", &o4, NULL, VALID);
	env_free(&env);
}

/*
 * A copy-mode AF_XDP socket bound to lo queue 0: enough for the XSKMAP to
 * hold an entry, which is all bpf_redirect_map() looks at.
 */
static int xsk_bind_lo(void *umem, size_t umem_len)
{
	struct xdp_umem_reg reg = { .addr = (uintptr_t)umem,
				    .len = umem_len,
				    .chunk_size = 4096 };
	struct sockaddr_xdp sxdp = { .sxdp_family = AF_XDP,
				     .sxdp_flags = XDP_COPY };
	int ring = 64;
	int fd;

	fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0)
		return -errno;
	sxdp.sxdp_ifindex = if_nametoindex("lo");
	if (setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_FILL_RING, &ring, sizeof(ring)) ||
	    setsockopt(fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring,
		       sizeof(ring)) ||
	    setsockopt(fd, SOL_XDP, XDP_RX_RING, &ring, sizeof(ring)) ||
	    bind(fd, (struct sockaddr *)&sxdp, sizeof(sxdp))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

Test(xdp, redirect_to_socket)
{
	const struct mt_fx_outer v4 = OUTER4(.vni = 4242);
	const struct mt_fx_outer v6 = OUTER6(.vni = 7, .vlan = { 5 });
	size_t umem_len = 16 * 4096;
	struct xdp_env env;
	uint32_t q = 0;
	void *umem;
	int xsk;

	env_load(&env, NULL);
	/* Private namespace: our socket must not take lo's queue from others. */
	if (unshare(CLONE_NEWNET))
		cr_log_warn("unshare(CLONE_NEWNET): %s; using this namespace",
			    strerror(errno));
	umem = mmap(NULL, umem_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(umem, MAP_FAILED);
	xsk = xsk_bind_lo(umem, umem_len);
	if (xsk == -EAFNOSUPPORT)
		cr_skip_test("AF_XDP: kernel built without CONFIG_XDP_SOCKETS");
	cr_assert_geq(xsk, 0, "AF_XDP socket on lo: %s", strerror(-xsk));
	cr_assert_eq(bpf_map__update_elem(env.skel->maps.xsks_map, &q,
					  sizeof(q), &xsk, sizeof(xsk), 0),
		     0, "XSKMAP[0] = socket: %s", strerror(errno));

	expect(&env, "IPv4 VXLAN, socket on queue 0", &v4, NULL, XDP_REDIRECT,
	       MT_XDP_CNT_REDIRECTED);
	expect(&env, "IPv6 VXLAN, socket on queue 0", &v6, NULL, XDP_REDIRECT,
	       MT_XDP_CNT_REDIRECTED);

	/*
	 * Closing the socket empties its XSKMAP slot (userspace cannot look
	 * into an XSKMAP, the verdict tells): the frame drops, never passes.
	 */
	close(xsk);
	expect(&env, "IPv4 VXLAN, socket closed", &v4, NULL, VALID);
	munmap(umem, umem_len);
	env_free(&env);
}

/*
 * No room for struct mt_xdp_meta: the frame still goes to the socket,
 * without metadata, and meta_failed says why the worker reads the clock
 * itself.  The room is taken by metadata already in front of the frame
 * (another program of a chain): 216 bytes leave less than the kernel's
 * struct xdp_frame in the 256-byte headroom; kernels that cap metadata at
 * 32 bytes refuse 216 and take 32, which is full already.
 */
static int run_with_meta(struct xdp_env *env, int p, const uint8_t *in,
			 uint32_t meta_len, size_t len, int *verdict,
			 uint64_t delta[MT_XDP_CNT__MAX], uint32_t *meta_out)
{
	uint64_t before[MT_XDP_CNT__MAX], after[MT_XDP_CNT__MAX];
	struct xdp_md ctx_in = { .data = meta_len,
				 .data_end = meta_len + (uint32_t)len };
	struct xdp_md ctx_out = {};
	int err, i;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = meta_len + (uint32_t)len,
		    .data_out = result.out, .data_size_out = sizeof(result.out),
		    .ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in),
		    .ctx_out = &ctx_out, .ctx_size_out = sizeof(ctx_out),
		    .repeat = 1);

	read_counters(env, before);
	err = bpf_prog_test_run_opts(env->prog_fd[p], &opts);
	if (err)
		return err;
	read_counters(env, after);
	for (i = 0; i < MT_XDP_CNT__MAX; i++)
		delta[i] = after[i] - before[i];
	*verdict = (int)opts.retval;
	*meta_out = ctx_out.data;
	return 0;
}

Test(xdp, metadata_no_room)
{
	static const uint32_t old_metas[] = { 216, 32 };
	const struct mt_fx_outer o = OUTER4(.vni = 55);
	static uint8_t in[FRAME_CAP];
	uint64_t delta[MT_XDP_CNT__MAX];
	uint32_t old_meta = 0, meta_out;
	struct xdp_env env;
	int i, p, err, verdict;
	size_t j, len = 0;

	env_load(&env, NULL);
	for (p = 0; p < 2; p++) {
		err = -EINVAL;
		for (j = 0; j < 2 && err == -EINVAL; j++) {
			old_meta = old_metas[j];
			memset(in, 0xa5, old_meta);
			len = build_vxlan(in + old_meta, &o);
			err = run_with_meta(&env, p, in, old_meta, len,
					    &verdict, delta, &meta_out);
		}
		cr_assert_eq(err, 0,
			     "BPF_PROG_TEST_RUN with %u bytes of "
			     "metadata: %s",
			     old_meta, strerror(-err));
		cr_assert_eq(verdict, XDP_DROP, "%s: %s, want XDP_DROP",
			     prog_names[p], verdict_name(verdict));
		for (i = 0; i < MT_XDP_CNT__MAX; i++) {
			uint64_t want = i == MT_XDP_CNT_SEEN ||
					i == MT_XDP_CNT_REDIRECT_FAILED ||
					i == MT_XDP_CNT_META_FAILED;

			cr_assert_eq(delta[i], want,
				     "%s, %u bytes of metadata: counter %s "
				     "moved by %llu",
				     prog_names[p], old_meta, counter_names[i],
				     (unsigned long long)delta[i]);
		}
		/* The metadata already there is left alone. */
		cr_assert_eq(meta_out, old_meta);
		cr_assert(memcmp(result.out, in, old_meta + len) == 0);
	}
	env_free(&env);
}

/*
 * A 9000-byte mirrored frame (MTU 9001 sessions) through the frags
 * program: the headers are in the first buffer, the rest in fragments,
 * and the program still recognises and stamps it.
 */
Test(xdp, jumbo_frame_frags)
{
	const struct mt_fx_pkt big = {
		.family = AF_INET,
		.src = "192.0.2.1",
		.dst = "192.0.2.2",
		.proto = IPPROTO_UDP,
		.sport = 5000,
		.dport = 5001,
		.payload_len = JUMBO_LEN - 50 - ETH_LEN - IP4_LEN - UDP_LEN,
	};
	const struct mt_fx_outer o = OUTER4(.vni = 9001);
	static uint8_t jumbo[FRAME_CAP];
	struct xdp_env env;
	size_t len;

	env_load(&env, NULL);
	len = mt_fx_frame(jumbo, sizeof(jumbo), &o, &big);
	cr_assert_eq(len, JUMBO_LEN);
	run_frame(&env, 1, jumbo, len, 0, &result);
	check_run("9000-byte VXLAN frame", 1, jumbo, len, &result, VALID,
		  o.vni);
	env_free(&env);
}
