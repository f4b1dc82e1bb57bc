/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to daemon/core/rules*.c: the ruleset layout, the fast matcher's
 * index, and the checks the native and AWS parsers share so that both say
 * the same thing about the same mistake.
 */
#ifndef MT_RULES_INTERNAL_H
#define MT_RULES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mirror-target/rules.h"

typedef unsigned __int128 mt_u128;

/*
 * A node holds the rules indexed on one prefix (an address CIDR or one
 * aligned block of a port range).  Prefixes are either nested or disjoint,
 * so the nodes form a tree; a key's candidates are the rules of the deepest
 * node containing it and of that node's ancestors.
 */
struct mt_pfx_node {
	uint32_t first, end; /* [first, end) in cand */
	int32_t parent; /* enclosing node or -1 */
	uint32_t chain_min; /* lowest rule index here and in all ancestors */
};

/*
 * A candidate carries a copy of what an IPv4 rule compares, in 24 bytes,
 * so that verifying it touches part of one cache line instead of the
 * 360-byte struct mt_rule; IPv6 rules and rules with VNIs are verified on
 * the rule itself.
 */
#define MT_CAND_FULL 1u /* verify with mt_rule_matches_fast() */
#define MT_CAND_ANY_PROTO 2u /* protocol "all" */
#define MT_CAND_PORTS 4u /* needs ports in the ranges below */
struct mt_cand {
	uint32_t rule; /* index in evaluation order */
	uint32_t src, dst;
	uint8_t slen, dlen;
	uint8_t proto;
	uint8_t flags;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
};

/* Elementary interval [start, next start) and its deepest prefix, inline
 * so that the common one-level lookup reads a single cache line. */
struct mt_pfx_ival {
	mt_u128 start;
	struct mt_pfx_node node; /* first == end: no prefix covers it */
};

/*
 * A slot of the table on the top bits of the key.  Most slots lie inside
 * one interval and hold its prefix directly (parent >= -1), which saves
 * the dependent loads of the interval and the node on the packet path; the
 * others (parent == MT_PFX_SEARCH) are searched in ivals[lo, next slot's
 * lo).  The table is read at random: it must stay small to stay in cache.
 */
#define MT_PFX_SEARCH (-2)
struct mt_pfx_bucket {
	uint32_t lo;
	uint32_t first, end; /* first == end: no prefix covers the slot */
	int32_t parent; /* of the prefix holding [first, end) */
};

/*
 * Keys are left-aligned in 128 bits (IPv4 << 96, ports << 112) so that one
 * implementation serves every field.
 */
struct mt_pfx_index {
	struct mt_pfx_ival *ivals;
	uint32_t nivals;
	struct mt_pfx_node *nodes;
	uint32_t nnodes;
	struct mt_cand *cand;
	struct mt_pfx_bucket *bucket; /* (1 << bucket_bits) + 1, or NULL */
	unsigned bucket_bits;
};

enum mt_ix_field {
	MT_IX_SRC = 0,
	MT_IX_DST,
	MT_IX_DPORT,
	MT_IX_SPORT,
	MT_IX__PFX, /* the prefix-indexed fields end here */
	MT_IX_PROTO = MT_IX__PFX,
	MT_IX_WILD,
};

/* The rules one (packet direction, family) pair can match, indexed. */
struct mt_classifier {
	struct mt_pfx_index pfx[MT_IX__PFX];
	uint32_t proto_off[257]; /* rules of protocol p: proto_cand[off[p]..] */
	struct mt_cand *proto_cand;
	struct mt_cand *wild; /* no selective field at all */
	uint32_t nwild;
	uint32_t nrules;
	/* Few rules: all of them in order; one short scan beats lookups. */
	struct mt_cand *small;
};

struct mt_ruleset {
	struct mt_rule *rules; /* evaluation order */
	size_t n;
	uint32_t *vnis; /* every rule's vnis, one allocation */
	/* [enum mt_direction][0 = IPv4, 1 = IPv6] */
	struct mt_classifier cls[MT_DIR__MAX][2];
	size_t index_bytes;
};

int mt_rules_index__build(struct mt_ruleset *rs, struct mt_err *err);
void mt_rules_index__destroy(struct mt_ruleset *rs);

static inline bool mt_rules_cidr_has(const struct mt_cidr *c,
				     const struct mt_ip *ip)
{
	unsigned len = c->len;

	if (ip->family == AF_INET) {
		uint32_t m = len ? ~0u << (32 - len) : 0;

		return (ip->v4 & m) == c->addr.v4;
	}
	if (len <= 64) {
		uint64_t m = len ? ~0ull << (64 - len) : 0;

		return (ip->hi & m) == c->addr.hi;
	}
	return ip->hi == c->addr.hi &&
	       (ip->lo & ~0ull << (128 - len)) == c->addr.lo;
}

static inline bool mt_rules_vni_has(const struct mt_rule *r, uint32_t vni)
{
	size_t lo = 0, hi = r->nvnis;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->vnis[mid] == vni)
			return true;
		if (r->vnis[mid] < vni)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static inline bool mt_rule_matches_fast(const struct mt_rule *r,
					enum mt_direction dir, uint32_t vni,
					const struct mt_flow *f)
{
	if (r->dir == MT_RULE_INGRESS && dir != MT_DIR_INGRESS)
		return false;
	if (r->dir == MT_RULE_EGRESS && dir != MT_DIR_EGRESS)
		return false;
	if (!(f->flags & MT_FLOW_IP))
		return false;
	if (f->src.family != r->src.addr.family ||
	    f->dst.family != r->src.addr.family)
		return false;
	if (r->proto != MT_PROTO_ALL && f->proto != r->proto)
		return false;
	if (r->has_sport || r->has_dport) {
		/* Later fragments and non-TCP/UDP packets have no ports. */
		if ((f->flags & (MT_FLOW_PORTS | MT_FLOW_LATER_FRAG)) !=
		    MT_FLOW_PORTS)
			return false;
		if (r->has_sport &&
		    (f->sport < r->sport_lo || f->sport > r->sport_hi))
			return false;
		if (r->has_dport &&
		    (f->dport < r->dport_lo || f->dport > r->dport_hi))
			return false;
	}
	if (!mt_rules_cidr_has(&r->src, &f->src) ||
	    !mt_rules_cidr_has(&r->dst, &f->dst))
		return false;
	if (r->nvnis && !mt_rules_vni_has(r, vni))
		return false;
	return true;
}

/*
 * Shared validation.  Each returns true when fine, or false with msg set to
 * "what is wrong; how to fix" (no location: the caller prefixes it).
 */
bool mt_rules_check_cidr(const char *text, struct mt_cidr *c, char *msg,
			 size_t size);
bool mt_rules_check_ports(const struct mt_rule *r, bool source, char *msg,
			  size_t size);
bool mt_rules_check_family(const struct mt_rule *r, char *msg, size_t size);
bool mt_rules_check_number(long long number, char *msg, size_t size);
bool mt_rules_check_vni(long long vni, char *msg, size_t size);

/* Sorts and removes duplicates; returns the new count. */
size_t mt_rules_sort_vnis(uint32_t *v, size_t n);

/*
 * Numbers are unique within a direction; an "any" rule takes its number in
 * both.  mt_rules_numbers_claim() returns -1 when r's number is free (and
 * takes it for tag), -2 when out of memory, else the tag of the rule
 * already holding it.  A small hash table: most files have a few rules, and
 * a 32767-entry table per parse costs more than the parse (fuzzing).
 */
struct mt_rules_numbers_slot {
	uint32_t number; /* 0 = empty */
	int32_t tag[2]; /* ingress, egress; -1 = free */
};

struct mt_rules_numbers {
	struct mt_rules_numbers_slot *v;
	size_t cap, n;
};

int mt_rules_numbers__init(struct mt_rules_numbers *t);
void mt_rules_numbers__fini(struct mt_rules_numbers *t);
int32_t mt_rules_numbers_claim(struct mt_rules_numbers *t,
			       const struct mt_rule *r, int32_t tag);

const char *mt_rule_dir_name(int dir);
const char *mt_rule_action_name(int action);

#endif /* MT_RULES_INTERNAL_H */
