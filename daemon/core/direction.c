// SPDX-License-Identifier: GPL-2.0-only
/*
 * Direction inference.  Runs once per packet, so it allocates nothing and
 * looks the session up by binary search over the VNI-sorted array.  A
 * session usually lists a handful of extra addresses, which are scanned;
 * an ENI can carry dozens of secondary IPv4 addresses, and a scan of 120
 * of them was 45% of a worker's time at 64-byte frames, so past
 * SCAN_MAX they are also kept sorted for a binary search.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "mirror-target/direction.h"

static int cmp_vni(const void *a, const void *b)
{
	const struct mt_session *x = a, *y = b;

	return (x->vni > y->vni) - (x->vni < y->vni);
}

/* IPv4 addresses of a session up to which a scan beats a search. */
#define SCAN_MAX 8

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int sort_v4(struct mt_session *ses)
{
	size_t n = 0, k;
	uint32_t *v;

	for (size_t i = 0; i < ses->naddrs; i++)
		n += ses->addrs[i].family == AF_INET;
	free(ses->v4_sorted);
	ses->v4_sorted = NULL;
	ses->nv4_sorted = 0;
	if (n <= SCAN_MAX)
		return 0;
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0, j = 0; i < ses->naddrs; i++)
		if (ses->addrs[i].family == AF_INET)
			v[j++] = ses->addrs[i].v4;
	qsort(v, n, sizeof(*v), cmp_u32);
	for (size_t i = k = 1; i < n; i++)
		if (v[i] != v[k - 1])
			v[k++] = v[i];
	ses->v4_sorted = v;
	ses->nv4_sorted = k;
	return 0;
}

int mt_sessions_finish(struct mt_sessions *s)
{
	int ret;

	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_vni);
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i].vni == s->v[i - 1].vni)
			return -EEXIST;
	for (size_t i = 0; i < s->n; i++) {
		ret = sort_v4(&s->v[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * 1 when x is in the sorted v[0..n), n >= 1.  The halving steps carry no
 * branch on the data (a conditional move each), so a stream of packets
 * with unpredictable addresses costs no mispredictions.
 */
static unsigned in_sorted(const uint32_t *v, size_t n, uint32_t x)
{
	const uint32_t *base = v;

	while (n > 1) {
		size_t half = n / 2;

		base = base[half] <= x ? base + half : base;
		n -= half;
	}
	return *base == x;
}

const struct mt_session *mt_sessions_find(const struct mt_sessions *s,
					  uint32_t vni)
{
	size_t lo = 0, hi;

	if (!s)
		return NULL;
	hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t v = s->v[mid].vni;

		if (v == vni)
			return &s->v[mid];
		if (v < vni)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void mt_sessions_free(struct mt_sessions *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].addrs);
		free(s->v[i].v4_sorted);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/*
 * 1 when a equals b, for an inner flow of family v4 ? AF_INET : AF_INET6.
 * Branch-free on purpose: which address of S matches changes from packet
 * to packet (both directions, several ENI addresses), so early exits would
 * be mispredicted on most packets.
 */
static inline unsigned ip_eq(const struct mt_ip *a, const struct mt_ip *b,
			     bool v4)
{
	if (v4)
		return (a->family == AF_INET) & (a->v4 == b->v4);
	return (a->family == AF_INET6) & (a->hi == b->hi) & (a->lo == b->lo);
}

_Static_assert(MT_DIR_UNKNOWN == 0 && MT_DIR_INGRESS == 1 && MT_DIR_EGRESS == 2,
	       "mt_direction_infer() computes the direction arithmetically");

enum mt_direction mt_direction_infer(const struct mt_sessions *s,
				     const struct mt_decap *d)
{
	const struct mt_flow *f = &d->flow;
	const struct mt_session *ses;
	unsigned in_src, in_dst;
	bool v4;

	if (!(f->flags & MT_FLOW_IP))
		return MT_DIR_UNKNOWN;
	v4 = f->src.family == AF_INET;
	/* The outer source is the mirrored ENI's primary address. */
	in_src = ip_eq(&d->outer_src, &f->src, v4);
	in_dst = ip_eq(&d->outer_src, &f->dst, v4);
	ses = s && s->n ? mt_sessions_find(s, d->vni) : NULL;
	if (ses && v4 && ses->v4_sorted) {
		in_src |= in_sorted(ses->v4_sorted, ses->nv4_sorted, f->src.v4);
		in_dst |= in_sorted(ses->v4_sorted, ses->nv4_sorted, f->dst.v4);
	} else if (ses) {
		for (size_t i = 0; i < ses->naddrs; i++) {
			in_src |= ip_eq(&ses->addrs[i], &f->src, v4);
			in_dst |= ip_eq(&ses->addrs[i], &f->dst, v4);
		}
	}
	/* src in S: egress (2); else dst in S: ingress (1); else unknown. */
	return (enum mt_direction)(in_src << 1 | (in_dst & ~in_src));
}

const char *mt_direction_name(enum mt_direction dir)
{
	switch (dir) {
	case MT_DIR_INGRESS:
		return "ingress";
	case MT_DIR_EGRESS:
		return "egress";
	default:
		return "unknown";
	}
}
