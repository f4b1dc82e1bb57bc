// SPDX-License-Identifier: GPL-2.0-only
/*
 * The XDP program against the userspace decap, on the same bytes.  In the
 * live path XDP decides what reaches the daemon and mt_decap_eth() then
 * parses it; the offline path (--read) has only mt_decap_eth().  Both must
 * draw the same line (DESIGN §1, §3, §6), so every input runs through
 * BPF_PROG_TEST_RUN of mt_xdp and of mt_xdp_frags and through
 * mt_decap_eth(), and the counter the program moved must be the one the
 * userspace status implies:
 *
 *   userspace status                          XDP counter (verdict)
 *   not IP/UDP/port, cut or bad before UDP    passed (PASS)
 *   outer_fragment                            frag_passed (PASS)
 *   past the port, source outside allow-list  source_not_allowed (DROP)
 *   trunc_vxlan, bad_vxlan_flags,
 *   trunc_inner_eth                           invalid_vxlan (DROP)
 *   ok, VNI outside the allow-list            vni_not_allowed (DROP)
 *   ok, program not armed                     not_ready (DROP)
 *   ok                                        redirect_failed (DROP)
 *
 * No AF_XDP socket is bound, so a frame the program would redirect takes
 * the redirect path up to bpf_redirect_map() and counts redirect_failed;
 * it must then carry struct mt_xdp_meta whose VNI and inner_off are the
 * ones mt_decap_eth() found.  Frames passed or dropped must come out
 * unchanged.  Only the inner frame's own parse (d.inner_status) is not
 * compared: the program does not look inside, the daemon captures any
 * inner frame.
 *
 * The first bytes of the input configure the run (struct cfg_hdr below):
 * the VXLAN port knob (one of two loaded objects), whether the program is
 * armed, and the contents of the source and VNI allow-lists, which may be
 * given relative to the frame's own outer source and VNI (XOR) so that
 * the fuzzer reaches both sides of every prefix.  The rest is the frame.
 *
 * mt_xdp_frags sees only the first buffer of a frame longer than a page
 * (DESIGN §6); it is compared with mt_decap_eth() of those bytes, and
 * mt_xdp, which the kernel does not run on such frames, is skipped.
 *
 * Needs root (CAP_BPF, CAP_NET_ADMIN).  Without it, or without BPF, it
 * says why and exits 0 before the first input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "mirror-target/decap.h"
#include "mirror_target.skel.h"
#include "mt_xdp.h"

#define ETH_LEN 14
/* Frames up to a jumbo frame and some: the frags program's territory. */
#define FRAME_MAX 12288
#define ALT_PORT 8472
#define MAX_PREFIXES 3
#define MAX_VNIS 3

static const char *const counter_names[] = MT_XDP_COUNTER_NAMES;
_Static_assert(sizeof(counter_names) / sizeof(counter_names[0]) ==
		       MT_XDP_CNT__MAX,
	       "MT_XDP_COUNTER_NAMES and enum mt_xdp_counter disagree");

/*
 * Input layout.  ctl: bit 0 source allow-list in force, bit 1 VNI
 * allow-list in force, bit 2 VXLAN port 8472 instead of 4789, bit 3 not
 * armed, bits 4-5 number of prefixes, bits 6-7 number of VNIs.
 */
#define CTL_SRC_ON 0x01
#define CTL_VNI_ON 0x02
#define CTL_ALT_PORT 0x04
#define CTL_UNARMED 0x08

/* Entry flags: IPv6 (else IPv4); XOR with the frame's outer source/VNI. */
#define ENT_V6 0x01
#define ENT_REL 0x02

struct prefix_ent {
	uint8_t flags;
	uint8_t plen; /* modulo 33 or 129 */
	uint8_t addr[16]; /* IPv4 uses the first 4 */
};

struct vni_ent {
	uint8_t flags;
	uint8_t vni[3];
};

/* One run's allow-lists, resolved to the keys the maps hold. */
struct lists {
	bool src_on, vni_on;
	unsigned int n4, n6, nvni;
	struct mt_xdp_src4_key src4[MAX_PREFIXES];
	struct mt_xdp_src6_key src6[MAX_PREFIXES];
	uint32_t vnis[MAX_VNIS];
};

struct obj {
	struct mirror_target_bpf *skel;
	int prog_fd[2];
	int counters_fd;
	struct lists cur; /* what the maps hold now */
	uint64_t last[MT_XDP_CNT__MAX]; /* counters after the last run */
};

static struct obj objs[2]; /* [0] port 4789, [1] port ALT_PORT */
static int ncpu;
static uint64_t *percpu; /* ncpu * MT_XDP_CNT__MAX values */
static uint32_t linear_max; /* bytes of a frame in the first buffer */
static bool ready;
static uint8_t out_buf[FRAME_MAX + 256];

static const char *const prog_names[2] = { "mt_xdp", "mt_xdp_frags" };

__attribute__((format(printf, 1, 2), noreturn)) static void
skip(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_xdp_verdict: SKIP: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(0);
}

__attribute__((format(printf, 2, 0))) static int
libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Sum of the per-CPU counters, one syscall for all of them. */
static int read_counters(struct obj *o, uint64_t out[MT_XDP_CNT__MAX])
{
	uint32_t keys[MT_XDP_CNT__MAX], count = MT_XDP_CNT__MAX, batch;
	int err, i, c;

	err = bpf_map_lookup_batch(o->counters_fd, NULL, &batch, keys, percpu,
				   &count, NULL);
	/* -ENOENT: the batch reached the end of the map, as it must. */
	if (err && err != -ENOENT)
		return err;
	if (count != MT_XDP_CNT__MAX)
		return -EIO;
	for (i = 0; i < MT_XDP_CNT__MAX; i++) {
		out[keys[i]] = 0;
		for (c = 0; c < ncpu; c++)
			out[keys[i]] += percpu[i * ncpu + c];
	}
	return 0;
}

static void load_obj(struct obj *o, uint16_t port)
{
	int err;

	o->skel = mirror_target_bpf__open();
	if (!o->skel)
		skip("opening the XDP skeleton: %s", strerror(errno));
	o->skel->rodata->vxlan_port = port;
	err = mirror_target_bpf__load(o->skel);
	if (err)
		skip("loading the XDP object: %s (needs root: CAP_BPF and "
		     "CAP_NET_ADMIN)",
		     strerror(-err));
	o->prog_fd[0] = bpf_program__fd(o->skel->progs.mt_xdp);
	o->prog_fd[1] = bpf_program__fd(o->skel->progs.mt_xdp_frags);
	o->counters_fd = bpf_map__fd(o->skel->maps.mt_counters);
	err = read_counters(o, o->last);
	if (err)
		skip("reading the XDP counters: %s", strerror(-err));
}

static int test_run(int fd, const uint8_t *frame, uint32_t len,
		    struct xdp_md *ctx_out, uint32_t *retval, uint32_t *out_len)
{
	struct xdp_md ctx_in = { .data_end = len };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame,
		    .data_size_in = len, .data_out = out_buf,
		    .data_size_out = sizeof(out_buf), .ctx_in = &ctx_in,
		    .ctx_size_in = sizeof(ctx_in), .ctx_out = ctx_out,
		    .ctx_size_out = sizeof(*ctx_out), .repeat = 1);
	int err;

	memset(ctx_out, 0, sizeof(*ctx_out));
	err = bpf_prog_test_run_opts(fd, &opts);
	if (err)
		return err;
	*retval = opts.retval;
	*out_len = opts.data_size_out;
	return 0;
}

/*
 * How much of a frame the kernel puts in the first buffer: the largest
 * frame the single-buffer program accepts under BPF_PROG_TEST_RUN (4 KiB
 * minus headroom and struct skb_shared_info on x86-64, but asked, not
 * assumed).
 */
static uint32_t find_linear_max(struct obj *o)
{
	static uint8_t zero[FRAME_MAX];
	uint32_t lo = ETH_LEN, hi = FRAME_MAX, mid, rv, n;
	struct xdp_md ctx;

	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (test_run(o->prog_fd[0], zero, mid, &ctx, &rv, &n))
			hi = mid - 1;
		else
			lo = mid;
	}
	return lo;
}

static void env_init(void)
{
	if (ready)
		return;
	libbpf_set_print(libbpf_quiet);
	ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		skip("counting possible CPUs: %s", strerror(-ncpu));
	percpu = calloc((size_t)ncpu * MT_XDP_CNT__MAX, sizeof(*percpu));
	if (!percpu)
		skip("out of memory");
	load_obj(&objs[0], MT_XDP_VXLAN_PORT);
	load_obj(&objs[1], ALT_PORT);
	linear_max = find_linear_max(&objs[0]);
	if (linear_max < 256)
		skip("BPF_PROG_TEST_RUN refuses XDP frames above %u bytes",
		     linear_max);
	/* find_linear_max() moved the counters. */
	if (read_counters(&objs[0], objs[0].last))
		skip("reading the XDP counters");
	ready = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	env_init();
	return 0;
}

/* ---- the model: what the program must do, from mt_decap_eth() ---- */

static void ip_bytes(const struct mt_ip *ip, uint8_t out[16])
{
	int i;

	memset(out, 0, 16);
	if (ip->family == AF_INET) {
		for (i = 0; i < 4; i++)
			out[i] = (uint8_t)(ip->v4 >> (24 - 8 * i));
	} else if (ip->family == AF_INET6) {
		for (i = 0; i < 8; i++) {
			out[i] = (uint8_t)(ip->hi >> (56 - 8 * i));
			out[8 + i] = (uint8_t)(ip->lo >> (56 - 8 * i));
		}
	}
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, uint32_t plen)
{
	uint32_t full = plen / 8, rest = plen % 8;

	if (memcmp(a, b, full))
		return false;
	return !rest || !((a[full] ^ b[full]) & (0xff00 >> rest));
}

static bool src_allowed(const struct lists *l, const struct mt_ip *src)
{
	uint8_t a[16];
	unsigned int i;

	ip_bytes(src, a);
	if (src->family == AF_INET) {
		for (i = 0; i < l->n4; i++)
			if (prefix_match(a, l->src4[i].addr,
					 l->src4[i].prefixlen))
				return true;
	} else if (src->family == AF_INET6) {
		for (i = 0; i < l->n6; i++)
			if (prefix_match(a, l->src6[i].addr,
					 l->src6[i].prefixlen))
				return true;
	}
	return false;
}

static bool vni_allowed(const struct lists *l, uint32_t vni)
{
	unsigned int i;

	for (i = 0; i < l->nvni; i++)
		if (l->vnis[i] == vni)
			return true;
	return false;
}

static enum mt_xdp_counter expected(enum mt_decap_status st,
				    const struct mt_decap *d,
				    const struct lists *l, bool armed)
{
	switch (st) {
	case MT_DECAP_OUTER_FRAGMENT:
		return MT_XDP_CNT_FRAG_PASSED;
	case MT_DECAP_OK:
	case MT_DECAP_TRUNC_VXLAN:
	case MT_DECAP_BAD_VXLAN_FLAGS:
	case MT_DECAP_TRUNC_INNER_ETH:
		break; /* UDP to the VXLAN port: ours from here on */
	default:
		return MT_XDP_CNT_PASSED;
	}
	if (l->src_on && !src_allowed(l, &d->outer_src))
		return MT_XDP_CNT_SOURCE_NOT_ALLOWED;
	if (st != MT_DECAP_OK)
		return MT_XDP_CNT_INVALID_VXLAN;
	if (l->vni_on && !vni_allowed(l, d->vni))
		return MT_XDP_CNT_VNI_NOT_ALLOWED;
	if (!armed)
		return MT_XDP_CNT_NOT_READY;
	return MT_XDP_CNT_REDIRECT_FAILED;
}

/* ---- the allow-lists from the input prefix ---- */

static size_t parse_lists(const uint8_t *data, size_t size, uint8_t *ctl,
			  struct prefix_ent *pfx, unsigned int *npfx,
			  struct vni_ent *vnis, unsigned int *nvni)
{
	size_t need;

	if (size < 1)
		return 0;
	*ctl = data[0];
	*npfx = (*ctl >> 4) & 3;
	*nvni = (*ctl >> 6) & 3;
	need = 1 + *npfx * sizeof(*pfx) + *nvni * sizeof(*vnis);
	if (size < need)
		return 0;
	memcpy(pfx, data + 1, *npfx * sizeof(*pfx));
	memcpy(vnis, data + 1 + *npfx * sizeof(*pfx), *nvni * sizeof(*vnis));
	return need;
}

/* Entries relative to the frame become absolute here. */
static void resolve_lists(uint8_t ctl, const struct prefix_ent *pfx,
			  unsigned int npfx, const struct vni_ent *vnis,
			  unsigned int nvni, const struct mt_decap *d,
			  struct lists *l)
{
	uint8_t src[16];
	unsigned int i, j;

	memset(l, 0, sizeof(*l));
	l->src_on = ctl & CTL_SRC_ON;
	l->vni_on = ctl & CTL_VNI_ON;
	ip_bytes(&d->outer_src, src);
	for (i = 0; i < npfx; i++) {
		const struct prefix_ent *e = &pfx[i];
		uint8_t a[16];

		for (j = 0; j < 16; j++)
			a[j] = e->addr[j] ^ (e->flags & ENT_REL ? src[j] : 0);
		if (e->flags & ENT_V6) {
			l->src6[l->n6].prefixlen = e->plen % 129;
			memcpy(l->src6[l->n6++].addr, a, 16);
		} else {
			l->src4[l->n4].prefixlen = e->plen % 33;
			memcpy(l->src4[l->n4++].addr, a, 4);
		}
	}
	for (i = 0; i < nvni; i++) {
		uint32_t v = (uint32_t)vnis[i].vni[0] << 16 |
			     (uint32_t)vnis[i].vni[1] << 8 | vnis[i].vni[2];

		l->vnis[l->nvni++] = vnis[i].flags & ENT_REL ? v ^ d->vni : v;
	}
}

static bool lists_equal(const struct lists *a, const struct lists *b)
{
	return a->n4 == b->n4 && a->n6 == b->n6 && a->nvni == b->nvni &&
	       !memcmp(a->src4, b->src4, a->n4 * sizeof(a->src4[0])) &&
	       !memcmp(a->src6, b->src6, a->n6 * sizeof(a->src6[0])) &&
	       !memcmp(a->vnis, b->vnis, a->nvni * sizeof(a->vnis[0]));
}

static void die_errno(const char *what, int err)
{
	fprintf(stderr, "fuzz_xdp_verdict: %s: %s\n", what, strerror(-err));
	abort();
}

/*
 * Makes the maps hold l: empties them and fills them again, only when the
 * lists differ from the last run's (map updates are syscalls).  Duplicate
 * keys (same network, other host bits) simply overwrite.
 */
static void apply_lists(struct obj *o, const struct lists *l)
{
	struct mirror_target_bpf *s = o->skel;
	uint8_t one = 1;
	unsigned int i;
	int err;

	s->bss->src_allow_enabled = l->src_on;
	s->bss->vni_allow_enabled = l->vni_on;
	if (lists_equal(&o->cur, l))
		return;
	for (i = 0; i < o->cur.n4; i++)
		bpf_map__delete_elem(s->maps.mt_src4_allow, &o->cur.src4[i],
				     sizeof(o->cur.src4[i]), 0);
	for (i = 0; i < o->cur.n6; i++)
		bpf_map__delete_elem(s->maps.mt_src6_allow, &o->cur.src6[i],
				     sizeof(o->cur.src6[i]), 0);
	for (i = 0; i < o->cur.nvni; i++)
		bpf_map__delete_elem(s->maps.mt_vni_allow, &o->cur.vnis[i],
				     sizeof(o->cur.vnis[i]), 0);
	for (i = 0; i < l->n4; i++) {
		err = bpf_map__update_elem(s->maps.mt_src4_allow, &l->src4[i],
					   sizeof(l->src4[i]), &one,
					   sizeof(one), 0);
		if (err)
			die_errno("adding an IPv4 prefix", err);
	}
	for (i = 0; i < l->n6; i++) {
		err = bpf_map__update_elem(s->maps.mt_src6_allow, &l->src6[i],
					   sizeof(l->src6[i]), &one,
					   sizeof(one), 0);
		if (err)
			die_errno("adding an IPv6 prefix", err);
	}
	for (i = 0; i < l->nvni; i++) {
		err = bpf_map__update_elem(s->maps.mt_vni_allow, &l->vnis[i],
					   sizeof(l->vnis[i]), &one,
					   sizeof(one), 0);
		if (err)
			die_errno("adding a VNI", err);
	}
	o->cur = *l;
}

/* ---- one run of one program, checked ---- */

static const char *verdict_name(uint32_t v)
{
	static const char *const names[] = { "XDP_ABORTED", "XDP_DROP",
					     "XDP_PASS", "XDP_TX",
					     "XDP_REDIRECT" };

	return v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

__attribute__((format(printf, 5, 6), noreturn)) static void
mismatch(int p, const uint8_t *frame, uint32_t len, enum mt_decap_status st,
	 const char *fmt, ...)
{
	va_list ap;
	uint32_t i;

	fprintf(stderr,
		"fuzz_xdp_verdict: %s disagrees with mt_decap_eth() "
		"(status %s) on a %u-byte frame: ",
		prog_names[p], mt_decap_status_name(st), len);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nframe:");
	for (i = 0; i < len && i < 160; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n  ", frame[i]);
	fputc('\n', stderr);
	abort();
}

static void check_prog(struct obj *o, int p, const uint8_t *frame, uint32_t len,
		       const struct lists *l, bool armed, uint16_t port)
{
	uint64_t now[MT_XDP_CNT__MAX];
	uint32_t view = len, retval, out_len, want_verdict;
	enum mt_xdp_counter want;
	enum mt_decap_status st;
	struct mt_decap d;
	struct xdp_md ctx;
	int err, i, hit = -1;

	/* The frags program sees the first buffer's bytes only. */
	if (p == 1 && view > linear_max)
		view = linear_max;
	st = mt_decap_eth(frame, view, port, &d);
	want = expected(st, &d, l, armed);

	err = test_run(o->prog_fd[p], frame, len, &ctx, &retval, &out_len);
	if (err)
		die_errno("BPF_PROG_TEST_RUN", err);
	err = read_counters(o, now);
	if (err)
		die_errno("reading the counters", err);
	for (i = 0; i < MT_XDP_CNT__MAX; i++) {
		uint64_t delta = now[i] - o->last[i];

		if (i == MT_XDP_CNT_SEEN) {
			if (delta != 1)
				mismatch(p, frame, len, st,
					 "seen moved by %llu",
					 (unsigned long long)delta);
			continue;
		}
		if (!delta)
			continue;
		if (delta != 1 || hit >= 0)
			mismatch(p, frame, len, st,
				 "counter %s moved by %llu after %s",
				 counter_names[i], (unsigned long long)delta,
				 hit >= 0 ? counter_names[hit] : "nothing");
		hit = i;
	}
	memcpy(o->last, now, sizeof(now));
	if (hit != (int)want)
		mismatch(p, frame, len, st, "counted %s, want %s",
			 hit >= 0 ? counter_names[hit] : "nothing",
			 counter_names[want]);

	want_verdict = want == MT_XDP_CNT_PASSED ||
				       want == MT_XDP_CNT_FRAG_PASSED ?
			       XDP_PASS :
			       XDP_DROP;
	if (retval != want_verdict)
		mismatch(p, frame, len, st, "%s (counted %s), want %s",
			 verdict_name(retval), counter_names[hit],
			 verdict_name(want_verdict));

	if (want != MT_XDP_CNT_REDIRECT_FAILED) {
		/* Not ours, or dropped: the bytes are left alone. */
		if (ctx.data != 0 || out_len != len ||
		    memcmp(out_buf, frame, len))
			mismatch(p, frame, len, st, "%s frame changed",
				 counter_names[want]);
		return;
	}
	/* The redirect path: metadata first, describing what decap found. */
	{
		struct mt_xdp_meta meta;
		uint32_t inner_off = (uint32_t)(d.inner - frame);

		if (ctx.data != sizeof(meta) || out_len != len + sizeof(meta) ||
		    memcmp(out_buf + sizeof(meta), frame, len))
			mismatch(p, frame, len, st,
				 "no metadata or frame changed (%u bytes of "
				 "metadata, %u bytes out)",
				 ctx.data, out_len);
		memcpy(&meta, out_buf, sizeof(meta));
		if (meta.magic != MT_XDP_META_MAGIC || meta.vni != d.vni ||
		    meta.inner_off != inner_off)
			mismatch(p, frame, len, st,
				 "metadata magic %#x VNI %u inner_off %u, "
				 "want VNI %u inner_off %u",
				 meta.magic, meta.vni, meta.inner_off, d.vni,
				 inner_off);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prefix_ent pfx[MAX_PREFIXES];
	struct vni_ent vnis[MAX_VNIS];
	unsigned int npfx, nvni;
	const uint8_t *frame;
	struct mt_decap d;
	struct lists l;
	struct obj *o;
	uint16_t port;
	uint8_t ctl;
	size_t hdr;
	bool armed;
	uint32_t len;
	int p;

	env_init();
	hdr = parse_lists(data, size, &ctl, pfx, &npfx, vnis, &nvni);
	if (!hdr)
		return 0;
	frame = data + hdr;
	/* Drivers never hand XDP less than an Ethernet header. */
	if (size - hdr < ETH_LEN || size - hdr > FRAME_MAX)
		return 0;
	len = (uint32_t)(size - hdr);
	o = &objs[ctl & CTL_ALT_PORT ? 1 : 0];
	port = ctl & CTL_ALT_PORT ? ALT_PORT : MT_XDP_VXLAN_PORT;
	armed = !(ctl & CTL_UNARMED);

	/* Relative entries take the source and VNI of the whole frame. */
	mt_decap_eth(frame, len, port, &d);
	resolve_lists(ctl, pfx, npfx, vnis, nvni, &d, &l);
	apply_lists(o, &l);
	o->skel->bss->mt_armed = armed;

	for (p = 0; p < 2; p++) {
		/* The kernel runs mt_xdp on single-buffer frames only. */
		if (p == 0 && len > linear_max)
			continue;
		check_prog(o, p, frame, len, &l, armed, port);
	}
	return 0;
}
