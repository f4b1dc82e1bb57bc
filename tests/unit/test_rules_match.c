// SPDX-License-Identifier: GPL-2.0-only
/*
 * The filter's answers: AWS semantics on hand-written cases, then the fast
 * matcher against the linear reference on random rule sets and packets.
 */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/rules.h"

static struct mt_ruleset *parse(const char *text)
{
	struct mt_err err = { { 0 } };
	struct mt_ruleset *rs;

	rs = mt_ruleset__parse_native("t.rules", text, strlen(text), &err);
	cr_assert_not_null(rs, "parse failed: %s", err.msg);
	return rs;
}

static struct mt_flow flow(const char *src, const char *dst, int proto,
			   uint16_t sport, uint16_t dport)
{
	struct mt_flow f;

	memset(&f, 0, sizeof(f));
	cr_assert_eq(mt_ip_parse(src, &f.src), 0);
	cr_assert_eq(mt_ip_parse(dst, &f.dst), 0);
	f.proto = (uint8_t)proto;
	f.flags = MT_FLOW_IP;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		f.flags |= MT_FLOW_PORTS;
		f.sport = sport;
		f.dport = dport;
	}
	return f;
}

/* Rule number of the first match (what a user reads in the rules file),
 * after checking both matchers agree; 0 = not captured. */
static unsigned hit(const struct mt_ruleset *rs, enum mt_direction dir,
		    uint32_t vni, const struct mt_flow *f)
{
	int a = mt_ruleset_match(rs, dir, vni, f);
	int b = mt_ruleset_match_linear(rs, dir, vni, f);

	cr_assert_eq(a, b, "fast %d != linear %d", a, b);
	return a < 0 ? 0 : mt_ruleset_rule(rs, (size_t)a)->number;
}

Test(rules_match, first_match_decides_and_reject_before_accept)
{
	struct mt_ruleset *rs = parse(
		"200 accept ingress all 0.0.0.0/0 0.0.0.0/0\n"
		"100 reject ingress tcp 0.0.0.0/0 192.0.2.0/24 dport=22\n");
	struct mt_flow ssh =
		flow("192.0.2.200", "192.0.2.10", IPPROTO_TCP, 40000, 22);
	struct mt_flow web =
		flow("192.0.2.200", "192.0.2.10", IPPROTO_TCP, 40000, 443);

	/* evaluation order is by number, not by line */
	cr_assert_eq(mt_ruleset_rule(rs, 0)->number, 100);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 1, &ssh), 100);
	cr_assert_eq(mt_ruleset_rule(rs, 0)->action, MT_ACTION_REJECT);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 1, &web), 200);
	mt_ruleset__destroy(rs);
}

Test(rules_match, no_match_is_not_captured)
{
	struct mt_ruleset *rs =
		parse("100 accept ingress udp 192.0.2.0/24 0.0.0.0/0\n");
	struct mt_flow f = flow("192.0.2.1", "192.0.2.2", IPPROTO_TCP, 1, 2);

	cr_assert_eq(mt_ruleset_match(rs, MT_DIR_INGRESS, 0, &f), -1);
	cr_assert_eq(mt_ruleset_match_linear(rs, MT_DIR_INGRESS, 0, &f), -1);
	mt_ruleset__destroy(rs);

	rs = parse("# nothing\n\n");
	cr_assert_eq(mt_ruleset_count(rs), 0);
	cr_assert_eq(mt_ruleset_match(rs, MT_DIR_INGRESS, 0, &f), -1);
	mt_ruleset__destroy(rs);
}

Test(rules_match, direction_semantics)
{
	struct mt_ruleset *rs =
		parse("100 accept ingress all 0.0.0.0/0 0.0.0.0/0\n"
		      "100 accept egress all 0.0.0.0/0 0.0.0.0/0\n");
	struct mt_flow f = flow("192.0.2.1", "192.0.2.2", IPPROTO_UDP, 1, 2);

	cr_assert_eq(mt_ruleset_count(rs), 2);
	cr_assert_eq(mt_ruleset_rule(rs, 0)->dir, MT_RULE_INGRESS);
	cr_assert_eq(mt_ruleset_rule(rs, 1)->dir, MT_RULE_EGRESS);
	cr_assert_eq(mt_ruleset_match(rs, MT_DIR_INGRESS, 0, &f), 0);
	cr_assert_eq(mt_ruleset_match(rs, MT_DIR_EGRESS, 0, &f), 1);
	/* ingress/egress rules never match packets of unknown direction */
	cr_assert_eq(hit(rs, MT_DIR_UNKNOWN, 0, &f), 0);
	mt_ruleset__destroy(rs);

	rs = parse("300 accept any all 0.0.0.0/0 0.0.0.0/0\n");
	cr_assert_eq(hit(rs, MT_DIR_UNKNOWN, 0, &f), 300);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 300);
	cr_assert_eq(hit(rs, MT_DIR_EGRESS, 0, &f), 300);
	mt_ruleset__destroy(rs);
}

Test(rules_match, ports_need_ports)
{
	struct mt_ruleset *rs =
		parse("100 accept any tcp 0.0.0.0/0 0.0.0.0/0 dport=80\n"
		      "200 accept any udp 0.0.0.0/0 0.0.0.0/0 sport=53\n"
		      "300 accept any tcp 0.0.0.0/0 0.0.0.0/0\n");
	struct mt_flow f =
		flow("192.0.2.1", "192.0.2.2", IPPROTO_TCP, 5555, 80);
	struct mt_flow icmp =
		flow("192.0.2.1", "192.0.2.2", IPPROTO_ICMP, 0, 0);
	struct mt_flow dns = flow("192.0.2.1", "192.0.2.2", IPPROTO_UDP, 53, 9);

	cr_assert_eq(hit(rs, MT_DIR_UNKNOWN, 0, &f), 100);
	cr_assert_eq(hit(rs, MT_DIR_UNKNOWN, 0, &dns), 200);
	/* a later fragment has no ports: only the rule without ports fits */
	f.flags = MT_FLOW_IP | MT_FLOW_FRAGMENT | MT_FLOW_LATER_FRAG;
	f.sport = f.dport = 0;
	cr_assert_eq(hit(rs, MT_DIR_UNKNOWN, 0, &f), 300);
	dns.flags = MT_FLOW_IP | MT_FLOW_FRAGMENT | MT_FLOW_LATER_FRAG;
	cr_assert_eq(hit(rs, MT_DIR_UNKNOWN, 0, &dns), 0);
	cr_assert_eq(hit(rs, MT_DIR_UNKNOWN, 0, &icmp), 0);
	mt_ruleset__destroy(rs);

	rs = parse("100 accept any tcp 0.0.0.0/0 0.0.0.0/0 dport=1000-2000\n");
	f = flow("192.0.2.1", "192.0.2.2", IPPROTO_TCP, 5, 999);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 0);
	f.dport = 1000;
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 100);
	f.dport = 2000;
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 100);
	f.dport = 2001;
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 0);
	mt_ruleset__destroy(rs);
}

Test(rules_match, family_and_non_ip)
{
	struct mt_ruleset *rs = parse("100 accept any all 0.0.0.0/0 0.0.0.0/0\n"
				      "200 accept any icmpv6 ::/0 ::/0\n");
	struct mt_flow v4 = flow("192.0.2.1", "192.0.2.2", IPPROTO_ICMP, 0, 0);
	struct mt_flow v6 =
		flow("2001:db8::1", "2001:db8::2", IPPROTO_ICMPV6, 0, 0);
	struct mt_flow v6tcp =
		flow("2001:db8::1", "2001:db8::2", IPPROTO_TCP, 1, 2);
	struct mt_flow arp;

	memset(&arp, 0, sizeof(arp));
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &v4), 100);
	/* 0.0.0.0/0 is not "every address": IPv6 goes past rule 100 */
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &v6), 200);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &v6tcp), 0);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &arp), 0);
	mt_ruleset__destroy(rs);
}

Test(rules_match, cidrs)
{
	struct mt_ruleset *rs =
		parse("100 reject any all 192.0.2.128/25 0.0.0.0/0\n"
		      "200 accept any all 0.0.0.0/0 192.0.2.0/24\n"
		      "300 accept any all 2001:db8:1::/48 2001:db8::7\n");
	struct mt_flow f = flow("192.0.2.200", "192.0.2.1", IPPROTO_UDP, 1, 2);

	cr_assert_eq(hit(rs, MT_DIR_EGRESS, 0, &f), 100);
	f = flow("192.0.2.127", "192.0.2.1", IPPROTO_UDP, 1, 2);
	cr_assert_eq(hit(rs, MT_DIR_EGRESS, 0, &f), 200);
	f = flow("192.0.2.127", "198.51.100.1", IPPROTO_UDP, 1, 2);
	cr_assert_eq(hit(rs, MT_DIR_EGRESS, 0, &f), 0);
	f = flow("2001:db8:1:ffff::1", "2001:db8::7", IPPROTO_UDP, 1, 2);
	cr_assert_eq(hit(rs, MT_DIR_EGRESS, 0, &f), 300);
	f = flow("2001:db8:1:ffff::1", "2001:db8::8", IPPROTO_UDP, 1, 2);
	cr_assert_eq(hit(rs, MT_DIR_EGRESS, 0, &f), 0);
	f = flow("2001:db8:2::1", "2001:db8::7", IPPROTO_UDP, 1, 2);
	cr_assert_eq(hit(rs, MT_DIR_EGRESS, 0, &f), 0);
	mt_ruleset__destroy(rs);
}

Test(rules_match, vni_option)
{
	struct mt_ruleset *rs =
		parse("100 accept any all 0.0.0.0/0 0.0.0.0/0 vni=43,42\n"
		      "200 reject any all 0.0.0.0/0 0.0.0.0/0\n");
	struct mt_flow f = flow("192.0.2.1", "192.0.2.2", IPPROTO_UDP, 1, 2);

	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 42, &f), 100);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 43, &f), 100);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 44, &f), 200);
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 200);
	mt_ruleset__destroy(rs);
}

Test(rules_match, protocol_numbers)
{
	struct mt_ruleset *rs =
		parse("100 accept any gre 0.0.0.0/0 0.0.0.0/0\n"
		      "200 accept any 132 0.0.0.0/0 0.0.0.0/0\n");
	struct mt_flow f = flow("192.0.2.1", "192.0.2.2", 47, 0, 0);

	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 100);
	f.proto = 132;
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 200);
	f.proto = 50;
	cr_assert_eq(hit(rs, MT_DIR_INGRESS, 0, &f), 0);
	mt_ruleset__destroy(rs);
}

/* --- randomized comparison with the linear reference --- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed printed on failure */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static uint32_t rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* A few base addresses make nested and overlapping prefixes likely. */
static const uint32_t bases4[] = { 0xc0000200, 0xc0000280, 0x0a000000,
				   0x0a141e00, 0xc6336400, 0x00000000,
				   0xffffffff };
static const uint64_t bases6[] = { 0x20010db800000000ull, 0x20010db800010000ull,
				   0x20010db8ffff0000ull, 0 };

static void rand_addr(struct mt_ip *ip, int family)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = (uint8_t)family;
	if (family == AF_INET) {
		ip->v4 = rndn(3) ? bases4[rndn(7)] ^
					   (uint32_t)(rnd() >> rndn(64) >> 32 &
						      0xffffffff) :
				   (uint32_t)rnd();
	} else {
		ip->hi = rndn(3) ? bases6[rndn(4)] ^ (rnd() >> rndn(64)) :
				   rnd();
		ip->lo = rndn(2) ? rnd() >> rndn(64) : rnd();
	}
}

static void rand_cidr(struct mt_cidr *c, int family)
{
	unsigned max = family == AF_INET ? 32 : 128;
	char buf[MT_IP_STRLEN];

	rand_addr(&c->addr, family);
	c->len = (uint8_t)(rndn(4) == 0 ? 0 : rndn(max + 1));
	/* mask through the parser so the network form is canonical */
	mt_cidr_format(c, buf);
	mt_cidr_parse(buf, c);
}

static void rand_range(uint16_t *lo, uint16_t *hi)
{
	uint16_t a = (uint16_t)rnd(), b;

	switch (rndn(4)) {
	case 0:
		b = a;
		break;
	case 1:
		a = (uint16_t)rndn(1100);
		b = (uint16_t)(a + rndn(100));
		break;
	case 2:
		b = (uint16_t)rnd();
		break;
	default:
		a = 1024;
		b = 65535;
		break;
	}
	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

static void rand_rule(struct mt_rule *r, uint32_t *vnis)
{
	static const int protos[] = { MT_PROTO_ALL, 6, 17, 1, 58, 47 };
	int family = rndn(10) < 7 ? AF_INET : AF_INET6;

	memset(r, 0, sizeof(*r));
	r->action = (uint8_t)rndn(2);
	r->dir = (uint8_t)rndn(3);
	r->proto = (int16_t)protos[rndn(6)];
	rand_cidr(&r->src, family);
	rand_cidr(&r->dst, family);
	if ((r->proto == 6 || r->proto == 17) && rndn(2)) {
		if (rndn(3)) {
			r->has_dport = true;
			rand_range(&r->dport_lo, &r->dport_hi);
		}
		if (rndn(3) == 0) {
			r->has_sport = true;
			rand_range(&r->sport_lo, &r->sport_hi);
		}
	}
	if (rndn(8) == 0) {
		r->nvnis = 1 + rndn(3);
		for (size_t i = 0; i < r->nvnis; i++)
			vnis[i] = rndn(6);
		r->vnis = vnis;
	}
}

static void rand_in(struct mt_ip *ip, const struct mt_cidr *c)
{
	struct mt_ip x;

	rand_addr(&x, c->addr.family);
	if (c->addr.family == AF_INET) {
		uint32_t m = c->len ? ~0u << (32 - c->len) : 0;

		x.v4 = (c->addr.v4 & m) | (x.v4 & ~m);
	} else if (c->len <= 64) {
		uint64_t m = c->len ? ~0ull << (64 - c->len) : 0;

		x.hi = (c->addr.hi & m) | (x.hi & ~m);
	} else {
		uint64_t m = ~0ull << (128 - c->len);

		x.hi = c->addr.hi;
		x.lo = (c->addr.lo & m) | (x.lo & ~m);
	}
	*ip = x;
}

static void rand_packet(const struct mt_rule *rules, size_t n,
			struct mt_flow *f, enum mt_direction *dir,
			uint32_t *vni)
{
	const struct mt_rule *r = rndn(4) ? &rules[rndn((uint32_t)n)] : NULL;
	int family = r ? r->src.addr.family :
			 (rndn(10) < 7 ? AF_INET : AF_INET6);
	static const int protos[] = { 6, 17, 1, 58, 47, 132 };

	memset(f, 0, sizeof(*f));
	f->flags = MT_FLOW_IP;
	if (r && rndn(4)) {
		rand_in(&f->src, &r->src);
		rand_in(&f->dst, &r->dst);
	} else if (r && rndn(2)) {
		rand_in(&f->src, &r->src);
		rand_addr(&f->dst, family);
	} else {
		rand_addr(&f->src, family);
		rand_addr(&f->dst, family);
	}
	f->proto = (uint8_t)(r && r->proto >= 0 && rndn(4) ? r->proto :
							     protos[rndn(6)]);
	if (f->proto == 6 || f->proto == 17) {
		f->flags |= MT_FLOW_PORTS;
		f->sport = (uint16_t)rnd();
		f->dport = (uint16_t)rnd();
		if (r && r->has_dport && rndn(4))
			f->dport = (uint16_t)(r->dport_lo +
					      rndn(r->dport_hi - r->dport_lo +
						   1u));
		if (r && r->has_sport && rndn(4))
			f->sport = (uint16_t)(r->sport_lo +
					      rndn(r->sport_hi - r->sport_lo +
						   1u));
		if (rndn(20) == 0) {
			f->flags = MT_FLOW_IP | MT_FLOW_FRAGMENT |
				   MT_FLOW_LATER_FRAG;
			f->sport = f->dport = 0;
		}
	}
	if (rndn(200) == 0)
		f->flags = 0;
	*dir = (enum mt_direction)rndn(MT_DIR__MAX);
	*vni = r && r->nvnis && rndn(2) ? r->vnis[rndn((uint32_t)r->nvnis)] :
					  rndn(6);
}

static void compare_random(size_t nrules, uint64_t seed, unsigned npackets)
{
	struct mt_rule *rules = calloc(nrules, sizeof(*rules));
	uint32_t(*vnis)[4] = calloc(nrules, sizeof(*vnis));
	uint8_t *taken = calloc(2 * (MT_RULE_NUMBER_MAX + 1), 1);
	struct mt_err err = { { 0 } };
	struct mt_ruleset *rs;
	unsigned matched = 0;

	cr_assert(rules && vnis && taken);
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	for (size_t i = 0; i < nrules; i++) {
		struct mt_rule *r = &rules[i];
		bool in, eg;

		rand_rule(r, vnis[i]);
		/* a free number in this rule's direction(s) */
		do {
			r->number =
				(uint16_t)(1 +
					   rndn(nrules < 100 ?
							200 :
							MT_RULE_NUMBER_MAX));
			in = r->dir != MT_RULE_EGRESS;
			eg = r->dir != MT_RULE_INGRESS;
		} while ((in && taken[r->number]) ||
			 (eg && taken[MT_RULE_NUMBER_MAX + 1 + r->number]));
		if (in)
			taken[r->number] = 1;
		if (eg)
			taken[MT_RULE_NUMBER_MAX + 1 + r->number] = 1;
	}
	rs = mt_ruleset__create(rules, nrules, &err);
	cr_assert_not_null(rs, "create: %s", err.msg);
	cr_assert_eq(mt_ruleset_count(rs), nrules);
	for (unsigned p = 0; p < npackets; p++) {
		enum mt_direction dir;
		struct mt_flow f;
		uint32_t vni;
		int a, b;

		rand_packet(rules, nrules, &f, &dir, &vni);
		a = mt_ruleset_match(rs, dir, vni, &f);
		b = mt_ruleset_match_linear(rs, dir, vni, &f);
		if (a != b) {
			char s[MT_IP_STRLEN], d[MT_IP_STRLEN], line[512];

			mt_rule_format(mt_ruleset_rule(rs,
						       (size_t)(b < 0 ? a : b)),
				       line, sizeof(line));
			cr_assert_fail(
				"seed %llu rules %zu packet %u: fast %d linear %d; %s -> %s proto %u ports %u->%u flags %#x dir %d vni %u; rule: %s",
				(unsigned long long)seed, nrules, p, a, b,
				mt_ip_format(&f.src, s),
				mt_ip_format(&f.dst, d), f.proto, f.sport,
				f.dport, f.flags, dir, vni, line);
		}
		matched += a >= 0;
	}
	/* the packets are biased to hit rules; a test that never matches
	 * would compare nothing */
	if (nrules >= 10)
		cr_assert_gt(matched, npackets / 20, "only %u of %u matched",
			     matched, npackets);
	mt_ruleset__destroy(rs);
	free(taken);
	free(vnis);
	free(rules);
}

Test(rules_match, random_small_sets)
{
	for (uint64_t seed = 1; seed <= 200; seed++)
		compare_random(1 + seed % 40, seed, 2000);
}

Test(rules_match, random_100)
{
	compare_random(100, 7, 100000);
	compare_random(37, 8, 100000);
}

Test(rules_match, random_1000)
{
	compare_random(1000, 11, 100000);
}

Test(rules_match, random_2000)
{
	compare_random(2000, 13, 100000);
}

Test(rules_match, wide_nesting_and_shared_prefixes)
{
	/* Many rules on one prefix, a chain of nested prefixes, and port
	 * ranges that overlap: the shapes that stress the index. */
	struct mt_rule rules[300];
	struct mt_err err = { { 0 } };
	struct mt_ruleset *rs;

	memset(rules, 0, sizeof(rules));
	for (int i = 0; i < 300; i++) {
		struct mt_rule *r = &rules[i];
		char buf[64];

		r->number = (uint16_t)(300 - i);
		r->dir = MT_RULE_ANY;
		r->proto = 6;
		snprintf(buf, sizeof(buf), "10.0.0.0/%d",
			 i < 100 ? 8 : 8 + (i % 25));
		cr_assert_eq(mt_cidr_parse(buf, &r->src), 0, "%s", buf);
		cr_assert_eq(mt_cidr_parse("0.0.0.0/0", &r->dst), 0);
		r->has_dport = true;
		r->dport_lo = (uint16_t)(i * 7);
		r->dport_hi = (uint16_t)(i * 7 + 50);
	}
	rs = mt_ruleset__create(rules, 300, &err);
	cr_assert_not_null(rs, "%s", err.msg);
	for (int port = 0; port < 2200; port += 3) {
		const char *src = port % 2 ? "10.0.0.0" : "10.0.1.1";
		struct mt_flow f =
			flow(src, "192.0.2.1", IPPROTO_TCP, 1, (uint16_t)port);
		int a = mt_ruleset_match(rs, MT_DIR_UNKNOWN, 0, &f);

		cr_assert_eq(a, mt_ruleset_match_linear(rs, MT_DIR_UNKNOWN, 0,
							&f));
		/* 10.0.0.0 is inside every rule's prefix */
		cr_assert(port % 2 == 0 || port > 299 * 7 + 50 || a >= 0,
			  "port %d", port);
	}
	mt_ruleset__destroy(rs);
}
