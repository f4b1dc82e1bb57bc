// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast matcher.  Block lists make rule sets of thousands of CIDRs, and
 * a scan costs per packet what the rule set costs in total; this index
 * keeps the per-packet cost close to flat.
 *
 * For each packet direction (unknown, ingress, egress) and family there is
 * one classifier holding the rules that could match such a packet.  Every
 * rule is filed under exactly one field, the one where it is most selective:
 * the longer of its source/destination prefixes, else a narrow port range,
 * else its protocol, else a short list of wildcards.  A packet then looks
 * up each field once and verifies the candidates there in evaluation order
 * with the full rule check; a list is abandoned as soon as its next
 * candidate comes after the best match found so far, and the answer is the
 * lowest match over all fields.  A rule that matches is always among the
 * candidates of the field it was filed under, so this finds what the
 * linear scan finds.
 *
 * Address prefixes are nested or disjoint, so the prefixes of one field
 * form a tree.  Cutting the key space at every prefix boundary gives
 * elementary intervals, each owned by the deepest prefix covering it; a
 * lookup is a binary search (narrowed by a table on the top bits) and a
 * walk up the tree.  Port ranges are split into aligned power-of-two blocks
 * so that they are prefixes too (at most 30 per range).  Memory is linear
 * in the number of rules; nothing is allocated at match time.
 *
 * Past a few thousand rules the cost is cache misses, not instructions, so
 * the layout is chosen for them: the top-bits table holds most prefixes
 * inline, candidates are 24-byte copies of what an IPv4 rule compares, and
 * every field is looked up (and its candidates prefetched) before any is
 * verified so that the misses overlap.  A classifier of a dozen rules or
 * fewer is simply scanned: at AWS's 10-rule limit that is the fastest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/rules.h"
#include "rules_internal.h"

#define U128_MAX (~(mt_u128)0)
/* Below this many intervals the bucket table does not pay for itself. */
#define BUCKET_MIN_BOUNDS 4
#define BUCKET_BITS_MAX 16
/* Up to this many rules a classifier is scanned, not looked up. */
#define SMALL_MAX 12

struct pfx_ent {
	mt_u128 key;
	uint32_t rule;
	uint8_t len;
};

struct pfx_list {
	struct pfx_ent *v;
	size_t n, cap;
};

static mt_u128 pfx_mask(unsigned len)
{
	return len ? U128_MAX << (128 - len) : 0;
}

static mt_u128 pfx_end(const struct pfx_ent *e)
{
	return e->key | ~pfx_mask(e->len);
}

static bool pfx_contains(const struct pfx_ent *outer,
			 const struct pfx_ent *inner)
{
	return outer->len <= inner->len &&
	       (inner->key & pfx_mask(outer->len)) == outer->key;
}

static mt_u128 ip_key(const struct mt_ip *ip)
{
	if (ip->family == AF_INET)
		return (mt_u128)ip->v4 << 96;
	return (mt_u128)ip->hi << 64 | ip->lo;
}

static int pfx_push(struct pfx_list *l, mt_u128 key, unsigned len,
		    uint32_t rule)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct pfx_ent *p = realloc(l->v, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->v = p;
		l->cap = cap;
	}
	l->v[l->n].key = key;
	l->v[l->n].len = (uint8_t)len;
	l->v[l->n].rule = rule;
	l->n++;
	return 0;
}

/* Files [lo, hi] as aligned blocks, in the 16-bit space at the top. */
static int pfx_push_ports(struct pfx_list *l, uint32_t lo, uint32_t hi,
			  uint32_t rule)
{
	while (lo <= hi) {
		unsigned k = 0;
		int ret;

		while (k < 16 && !(lo & (1u << k)) && lo + (2u << k) - 1 <= hi)
			k++;
		ret = pfx_push(l, (mt_u128)lo << 112, 16 - k, rule);
		if (ret)
			return ret;
		lo += 1u << k;
	}
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	const struct pfx_ent *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static void pfx_free(struct mt_pfx_index *ix)
{
	free(ix->ivals);
	free(ix->nodes);
	free(ix->cand);
	free(ix->bucket);
	memset(ix, 0, sizeof(*ix));
}

struct ivals_tmp {
	mt_u128 *start;
	int32_t *owner;
	uint32_t n;
};

static void emit(struct ivals_tmp *t, mt_u128 start, int32_t owner)
{
	if (t->n && t->owner[t->n - 1] == owner)
		return;
	t->start[t->n] = start;
	t->owner[t->n] = owner;
	t->n++;
}

static void make_cand(const struct mt_ruleset *rs, uint32_t ri,
		      struct mt_cand *c)
{
	const struct mt_rule *r = &rs->rules[ri];

	memset(c, 0, sizeof(*c));
	c->rule = ri;
	if (r->src.addr.family != AF_INET || r->nvnis) {
		c->flags = MT_CAND_FULL;
		return;
	}
	if (r->has_sport || r->has_dport) {
		c->flags |= MT_CAND_PORTS;
		c->sport_lo = r->has_sport ? r->sport_lo : 0;
		c->sport_hi = r->has_sport ? r->sport_hi : 65535;
		c->dport_lo = r->has_dport ? r->dport_lo : 0;
		c->dport_hi = r->has_dport ? r->dport_hi : 65535;
	}
	if (r->proto == MT_PROTO_ALL)
		c->flags |= MT_CAND_ANY_PROTO;
	else
		c->proto = (uint8_t)r->proto;
	c->src = r->src.addr.v4;
	c->slen = r->src.len;
	c->dst = r->dst.addr.v4;
	c->dlen = r->dst.len;
}

static int pfx_build(struct mt_pfx_index *ix, struct pfx_list *l,
		     const struct mt_ruleset *rs, size_t *bytes)
{
	struct ivals_tmp t = { 0 };
	struct pfx_ent *e = l->v;
	size_t n = l->n, nn = 0;
	uint32_t *stack = NULL, sp = 0;
	bool done = false;
	mt_u128 cur = 0;

	memset(ix, 0, sizeof(*ix));
	if (!n)
		return 0;
	qsort(e, n, sizeof(*e), cmp_ent);
	for (size_t i = 0; i < n; i++)
		if (!i || e[i].key != e[i - 1].key || e[i].len != e[i - 1].len)
			nn++;
	ix->cand = malloc(n * sizeof(*ix->cand));
	ix->nodes = malloc(nn * sizeof(*ix->nodes));
	/* Each node opens at most one interval and closes at most one. */
	t.start = malloc((2 * nn + 1) * sizeof(*t.start));
	t.owner = malloc((2 * nn + 1) * sizeof(*t.owner));
	stack = malloc(nn * sizeof(*stack));
	if (!ix->cand || !ix->nodes || !t.start || !t.owner || !stack)
		goto out_nomem;

	nn = 0;
	for (size_t i = 0; i < n; i++) {
		struct mt_pfx_node *x;
		int32_t parent;

		make_cand(rs, e[i].rule, &ix->cand[i]);
		if (i && e[i].key == e[i - 1].key && e[i].len == e[i - 1].len) {
			ix->nodes[nn - 1].end = (uint32_t)i + 1;
			continue;
		}
		/* Close the prefixes that end before this one starts. */
		while (sp && !pfx_contains(&e[ix->nodes[stack[sp - 1]].first],
					   &e[i])) {
			uint32_t top = stack[--sp];
			mt_u128 end = pfx_end(&e[ix->nodes[top].first]);

			if (cur <= end) {
				emit(&t, cur, (int32_t)top);
				cur = end + 1;
			}
		}
		parent = sp ? (int32_t)stack[sp - 1] : -1;
		if (cur < e[i].key)
			emit(&t, cur, parent);
		cur = e[i].key;
		x = &ix->nodes[nn];
		x->first = (uint32_t)i;
		x->end = (uint32_t)i + 1;
		x->parent = parent;
		x->chain_min = e[i].rule;
		if (parent >= 0 && ix->nodes[parent].chain_min < x->chain_min)
			x->chain_min = ix->nodes[parent].chain_min;
		stack[sp++] = (uint32_t)nn++;
	}
	while (sp) {
		uint32_t top = stack[--sp];
		mt_u128 end = pfx_end(&e[ix->nodes[top].first]);

		if (!done && cur <= end) {
			emit(&t, cur, (int32_t)top);
			if (end == U128_MAX)
				done = true;
			cur = end + 1;
		}
	}
	if (!done)
		emit(&t, cur, -1);
	ix->nnodes = (uint32_t)nn;

	ix->ivals = malloc(t.n * sizeof(*ix->ivals));
	if (!ix->ivals)
		goto out_nomem;
	ix->nivals = t.n;
	for (uint32_t i = 0; i < t.n; i++) {
		struct mt_pfx_ival *v = &ix->ivals[i];

		memset(v, 0, sizeof(*v));
		v->start = t.start[i];
		if (t.owner[i] >= 0)
			v->node = ix->nodes[t.owner[i]];
	}
	*bytes += n * sizeof(*ix->cand) + nn * sizeof(*ix->nodes) +
		  t.n * sizeof(*ix->ivals);

	if (ix->nivals >= BUCKET_MIN_BOUNDS) {
		unsigned bits = 0;
		size_t nb;

		/* four slots an interval: most slots then lie inside one */
		while (bits < BUCKET_BITS_MAX && (1u << bits) < 2 * ix->nivals)
			bits++;
		nb = (size_t)1 << bits;
		ix->bucket = malloc((nb + 1) * sizeof(*ix->bucket));
		if (!ix->bucket)
			goto out_nomem;
		*bytes += (nb + 1) * sizeof(*ix->bucket);
		ix->bucket_bits = bits;
		for (size_t k = 0, b = 0; k <= nb; k++) {
			struct mt_pfx_bucket *bk = &ix->bucket[k];
			size_t oi = SIZE_MAX;
			size_t stop;

			while (b < ix->nivals &&
			       (size_t)(ix->ivals[b].start >> (128 - bits)) < k)
				b++;
			bk->lo = (uint32_t)b;
			bk->first = bk->end = 0;
			bk->parent = MT_PFX_SEARCH;
			if (k == nb)
				break;
			stop = b;
			while (stop < ix->nivals &&
			       (size_t)(ix->ivals[stop].start >>
					(128 - bits)) == k)
				stop++;
			if (stop == b)
				oi = b - 1;
			else if (stop == b + 1 &&
				 ix->ivals[b].start == (mt_u128)k
							       << (128 - bits))
				oi = b;
			if (oi != SIZE_MAX && t.owner[oi] >= 0) {
				const struct mt_pfx_node *x =
					&ix->nodes[t.owner[oi]];

				bk->first = x->first;
				bk->end = x->end;
				bk->parent = x->parent;
			} else if (oi != SIZE_MAX) {
				bk->first = bk->end = 0;
				bk->parent = -1;
			}
		}
	}
	free(stack);
	free(t.start);
	free(t.owner);
	return 0;

out_nomem:
	free(stack);
	free(t.start);
	free(t.owner);
	pfx_free(ix);
	return -ENOMEM;
}

/* Cheaper fields first would not change the answer, only the pruning. */
static unsigned port_score(bool has, uint16_t lo, uint16_t hi)
{
	uint32_t width = (uint32_t)hi - lo + 1;
	unsigned bits = 0;

	if (!has || width >= 65536)
		return 0;
	while ((1u << bits) < width)
		bits++;
	/*
	 * Real traffic crowds on few ports, and every non-empty field costs
	 * each packet a lookup: a port range only beats a prefix shorter
	 * than /8, so block lists leave the port indexes empty.
	 */
	return 16 - bits < 7 ? 16 - bits : 7;
}

static enum mt_ix_field pick_field(const struct mt_rule *r)
{
	enum mt_ix_field f = MT_IX_WILD;
	unsigned best = 0, s;

	if (r->proto != MT_PROTO_ALL) {
		f = MT_IX_PROTO;
		best = 1;
	}
	s = port_score(r->has_sport, r->sport_lo, r->sport_hi);
	if (s > best) {
		f = MT_IX_SPORT;
		best = s;
	}
	s = port_score(r->has_dport, r->dport_lo, r->dport_hi);
	if (s > best) {
		f = MT_IX_DPORT;
		best = s;
	}
	if (r->src.len && r->src.len >= best) {
		f = MT_IX_SRC;
		best = r->src.len;
	}
	if (r->dst.len && r->dst.len >= best && r->dst.len >= r->src.len)
		f = MT_IX_DST;
	return f;
}

static bool rule_applies(const struct mt_rule *r, int pdir)
{
	switch (r->dir) {
	case MT_RULE_INGRESS:
		return pdir == MT_DIR_INGRESS;
	case MT_RULE_EGRESS:
		return pdir == MT_DIR_EGRESS;
	default:
		return true;
	}
}

static void cls_free(struct mt_classifier *c)
{
	for (int f = 0; f < MT_IX__PFX; f++)
		pfx_free(&c->pfx[f]);
	free(c->proto_cand);
	free(c->wild);
	free(c->small);
	memset(c, 0, sizeof(*c));
}

static int cls_build(struct mt_classifier *c, const struct mt_ruleset *rs,
		     int pdir, int family, size_t *bytes)
{
	struct pfx_list lists[MT_IX__PFX] = { { 0 } };
	size_t nproto = 0;
	int ret = -ENOMEM;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < rs->n; i++) {
		const struct mt_rule *r = &rs->rules[i];
		uint32_t ri = (uint32_t)i;

		if (!rule_applies(r, pdir) || r->src.addr.family != family)
			continue;
		c->nrules++;
		switch (pick_field(r)) {
		case MT_IX_SRC:
			ret = pfx_push(&lists[MT_IX_SRC], ip_key(&r->src.addr),
				       r->src.len, ri);
			break;
		case MT_IX_DST:
			ret = pfx_push(&lists[MT_IX_DST], ip_key(&r->dst.addr),
				       r->dst.len, ri);
			break;
		case MT_IX_DPORT:
			ret = pfx_push_ports(&lists[MT_IX_DPORT], r->dport_lo,
					     r->dport_hi, ri);
			break;
		case MT_IX_SPORT:
			ret = pfx_push_ports(&lists[MT_IX_SPORT], r->sport_lo,
					     r->sport_hi, ri);
			break;
		case MT_IX_PROTO:
			c->proto_off[r->proto + 1]++;
			nproto++;
			ret = 0;
			break;
		default:
			c->nwild++;
			ret = 0;
			break;
		}
		if (ret)
			goto out;
	}
	for (int f = 0; f < MT_IX__PFX; f++) {
		ret = pfx_build(&c->pfx[f], &lists[f], rs, bytes);
		if (ret)
			goto out;
	}
	ret = -ENOMEM;
	for (int p = 0; p < 256; p++)
		c->proto_off[p + 1] += c->proto_off[p];
	c->proto_cand = malloc((nproto ? nproto : 1) * sizeof(struct mt_cand));
	c->wild = malloc((c->nwild ? c->nwild : 1) * sizeof(struct mt_cand));
	if (!c->proto_cand || !c->wild)
		goto out;
	*bytes += (nproto + c->nwild) * sizeof(struct mt_cand);
	{
		uint32_t fill[256], nw = 0;

		memcpy(fill, c->proto_off, sizeof(fill));
		for (size_t i = 0; i < rs->n; i++) {
			const struct mt_rule *r = &rs->rules[i];
			enum mt_ix_field f;

			if (!rule_applies(r, pdir) ||
			    r->src.addr.family != family)
				continue;
			f = pick_field(r);
			if (f == MT_IX_PROTO)
				make_cand(rs, (uint32_t)i,
					  &c->proto_cand[fill[r->proto]++]);
			else if (f == MT_IX_WILD)
				make_cand(rs, (uint32_t)i, &c->wild[nw++]);
		}
	}
	if (c->nrules <= SMALL_MAX && c->nrules) {
		uint32_t k = 0;

		ret = -ENOMEM;
		c->small = malloc(c->nrules * sizeof(*c->small));
		if (!c->small)
			goto out;
		*bytes += c->nrules * sizeof(*c->small);
		for (size_t i = 0; i < rs->n; i++)
			if (rule_applies(&rs->rules[i], pdir) &&
			    rs->rules[i].src.addr.family == family)
				make_cand(rs, (uint32_t)i, &c->small[k++]);
	}
	ret = 0;
out:
	for (int f = 0; f < MT_IX__PFX; f++)
		free(lists[f].v);
	if (ret)
		cls_free(c);
	return ret;
}

int mt_rules_index__build(struct mt_ruleset *rs, struct mt_err *err)
{
	static const int fams[2] = { AF_INET, AF_INET6 };
	size_t bytes = 0;
	int ret;

	for (int d = 0; d < MT_DIR__MAX; d++) {
		for (int f = 0; f < 2; f++) {
			ret = cls_build(&rs->cls[d][f], rs, d, fams[f], &bytes);
			if (ret) {
				mt_rules_index__destroy(rs);
				mt_err_set(err,
					   "out of memory indexing %zu rules",
					   rs->n);
				return ret;
			}
		}
	}
	rs->index_bytes = bytes;
	return 0;
}

void mt_rules_index__destroy(struct mt_ruleset *rs)
{
	for (int d = 0; d < MT_DIR__MAX; d++)
		for (int f = 0; f < 2; f++)
			cls_free(&rs->cls[d][f]);
}

/* What a lookup needs besides the packet, computed once per packet. */
struct probe {
	const struct mt_ruleset *rs;
	enum mt_direction dir;
	uint32_t vni;
	const struct mt_flow *flow;
	bool ports;
};

/* IPv4 prefix mask without a branch: a 64-bit shift by 32 is defined. */
static inline uint32_t mask4(unsigned len)
{
	return (uint32_t)(~0ull << (32 - len));
}

/*
 * Branches, not a branch-free combination of the compares: the protocol
 * test settles most candidates, and its outcome repeats from candidate to
 * candidate of one packet, which the predictor learns (measured: the
 * branch-free form was 50% slower at 10 rules).
 */
static inline bool cand_matches(const struct probe *p, const struct mt_cand *c)
{
	const struct mt_flow *f = p->flow;

	if (c->flags & MT_CAND_FULL)
		return mt_rule_matches_fast(&p->rs->rules[c->rule], p->dir,
					    p->vni, f);
	/* The classifier already fixed direction and family (IPv4). */
	if (!(c->flags & MT_CAND_ANY_PROTO) && c->proto != f->proto)
		return false;
	if ((c->flags & MT_CAND_PORTS) &&
	    (!p->ports || f->sport < c->sport_lo || f->sport > c->sport_hi ||
	     f->dport < c->dport_lo || f->dport > c->dport_hi))
		return false;
	return (f->src.v4 & mask4(c->slen)) == c->src &&
	       (f->dst.v4 & mask4(c->dlen)) == c->dst;
}

static inline uint32_t scan(const struct probe *p, const struct mt_cand *c,
			    uint32_t i, uint32_t end, uint32_t best)
{
	for (; i < end; i++) {
		if (c[i].rule >= best)
			break;
		if (cand_matches(p, &c[i]))
			return c[i].rule;
	}
	return best;
}

/* All the rules of a small classifier, in order: the first match wins. */
static inline uint32_t scan_small(const struct probe *p,
				  const struct mt_cand *c, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (cand_matches(p, &c[i]))
			return c[i].rule;
	return UINT32_MAX;
}

/* The deepest prefix containing a key: its rules and its parent. */
struct node_ref {
	uint32_t first, end;
	int32_t parent;
};

static inline void pfx_locate(const struct mt_pfx_index *ix, mt_u128 key,
			      struct node_ref *ref)
{
	uint32_t lo = 0, hi = ix->nivals, len;
	const struct mt_pfx_ival *base;

	ref->first = ref->end = 0;
	ref->parent = -1;
	if (!ix->nnodes)
		return;
	if (ix->bucket) {
		size_t k = (size_t)(key >> (128 - ix->bucket_bits));
		const struct mt_pfx_bucket *bk = &ix->bucket[k];

		if (bk->parent != MT_PFX_SEARCH) {
			ref->first = bk->first;
			ref->end = bk->end;
			ref->parent = bk->parent;
			goto found;
		}
		lo = bk->lo;
		hi = bk[1].lo;
	}
	/*
	 * The interval holding key is the last one starting at or before
	 * it: in this slot, or the last of an earlier one (ivals[0] starts
	 * at 0).  Branch-free halving: packets are random here.
	 */
	if (lo)
		lo--;
	base = &ix->ivals[lo];
	len = hi - lo;
	while (len > 1) {
		uint32_t half = len / 2;

		base = base[half].start <= key ? base + half : base;
		len -= half;
	}
	ref->first = base->node.first;
	ref->end = base->node.end;
	ref->parent = base->node.first == base->node.end ? -1 :
							   base->node.parent;
found:
	/* The scan comes after the other fields' lookups: start the load. */
	if (ref->first < ref->end)
		__builtin_prefetch(&ix->cand[ref->first]);
}

static inline uint32_t pfx_walk(const struct probe *p,
				const struct mt_pfx_index *ix,
				const struct node_ref *ref, uint32_t best)
{
	int32_t parent = ref->parent;

	best = scan(p, ix->cand, ref->first, ref->end, best);
	while (parent >= 0) {
		const struct mt_pfx_node *x = &ix->nodes[parent];

		if (x->chain_min >= best)
			break;
		best = scan(p, ix->cand, x->first, x->end, best);
		parent = x->parent;
	}
	return best;
}

int mt_ruleset_match(const struct mt_ruleset *rs, enum mt_direction dir,
		     uint32_t vni, const struct mt_flow *flow)
{
	struct probe p = { rs, dir, vni, flow, false };
	struct node_ref x[MT_IX__PFX];
	const struct mt_classifier *c;
	uint32_t best = UINT32_MAX;
	int fam;

	if (!(flow->flags & MT_FLOW_IP))
		return -1;
	/* A rule's CIDRs are of one family: a mixed flow matches nothing. */
	if (flow->src.family != flow->dst.family)
		return -1;
	if (flow->src.family == AF_INET)
		fam = 0;
	else if (flow->src.family == AF_INET6)
		fam = 1;
	else
		return -1;
	/* Only "any" rules match a direction we cannot name. */
	c = &rs->cls[(unsigned)dir < MT_DIR__MAX ? dir : MT_DIR_UNKNOWN][fam];
	if (!c->nrules)
		return -1;
	p.ports = (flow->flags & (MT_FLOW_PORTS | MT_FLOW_LATER_FRAG)) ==
		  MT_FLOW_PORTS;
	if (c->small) {
		best = scan_small(&p, c->small, c->nrules);
		return best == UINT32_MAX ? -1 : (int)best;
	}

	/*
	 * Look every field up before verifying anything: the lookups are
	 * independent cache misses the CPU can overlap, which keeps large
	 * rule sets (index beyond L2) close to the cost of small ones.
	 */
	pfx_locate(&c->pfx[MT_IX_SRC], ip_key(&flow->src), &x[MT_IX_SRC]);
	pfx_locate(&c->pfx[MT_IX_DST], ip_key(&flow->dst), &x[MT_IX_DST]);
	if (p.ports) {
		pfx_locate(&c->pfx[MT_IX_DPORT], (mt_u128)flow->dport << 112,
			   &x[MT_IX_DPORT]);
		pfx_locate(&c->pfx[MT_IX_SPORT], (mt_u128)flow->sport << 112,
			   &x[MT_IX_SPORT]);
	} else {
		x[MT_IX_DPORT].first = x[MT_IX_DPORT].end = 0;
		x[MT_IX_DPORT].parent = -1;
		x[MT_IX_SPORT] = x[MT_IX_DPORT];
	}
	best = scan(&p, c->wild, 0, c->nwild, best);
	best = scan(&p, c->proto_cand, c->proto_off[flow->proto],
		    c->proto_off[flow->proto + 1], best);
	for (int f = 0; f < MT_IX__PFX; f++)
		best = pfx_walk(&p, &c->pfx[f], &x[f], best);
	return best == UINT32_MAX ? -1 : (int)best;
}
