// SPDX-License-Identifier: GPL-2.0-only
/*
 * Direction inference.  Runs once per packet, so it allocates nothing and
 * looks the session up by binary search over the VNI-sorted array; a
 * session lists a handful of extra addresses, so those are scanned.
 */
#include <errno.h>
#include <stdlib.h>

#include "mirror-target/direction.h"

static int cmp_vni(const void *a, const void *b)
{
	const struct mt_session *x = a, *y = b;

	return (x->vni > y->vni) - (x->vni < y->vni);
}

int mt_sessions_finish(struct mt_sessions *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_vni);
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i].vni == s->v[i - 1].vni)
			return -EEXIST;
	return 0;
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
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].addrs);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static inline bool same_ip(const struct mt_ip *a, const struct mt_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4 == b->v4;
	return a->hi == b->hi && a->lo == b->lo;
}

static inline bool in_session(const struct mt_session *ses,
			      const struct mt_ip *ip)
{
	for (size_t i = 0; i < ses->naddrs; i++)
		if (same_ip(&ses->addrs[i], ip))
			return true;
	return false;
}

enum mt_direction mt_direction_infer(const struct mt_sessions *s,
				     const struct mt_decap *d)
{
	const struct mt_flow *f = &d->flow;
	const struct mt_session *ses;

	if (!(f->flags & MT_FLOW_IP))
		return MT_DIR_UNKNOWN;
	/*
	 * The outer source is the mirrored ENI's primary address (AWS sends
	 * from it), so it decides most packets without a session lookup.
	 */
	if (same_ip(&f->src, &d->outer_src))
		return MT_DIR_EGRESS;
	ses = s && s->n ? mt_sessions_find(s, d->vni) : NULL;
	if (ses && in_session(ses, &f->src))
		return MT_DIR_EGRESS;
	if (same_ip(&f->dst, &d->outer_src))
		return MT_DIR_INGRESS;
	if (ses && in_session(ses, &f->dst))
		return MT_DIR_INGRESS;
	return MT_DIR_UNKNOWN;
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
