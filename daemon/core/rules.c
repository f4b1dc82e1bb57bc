// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rule model: validation shared by both file formats, the ruleset
 * object (rules in evaluation order plus the index rules_index.c builds),
 * the reference linear matcher, the native-format writer and the protocol
 * name table.  Parsers live in rules_native.c and rules_aws.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mirror-target/file.h"
#include "mirror-target/rules.h"
#include "rules_internal.h"

#define MT_VNI_MAX 0xffffffu

/*
 * The names people write in rules; everything else is written as a number.
 * First name of a protocol is the one we print.
 */
static const struct {
	const char *name;
	int proto;
} proto_names[] = {
	{ "icmp", 1 },	     { "igmp", 2 },	 { "ipip", 4 },
	{ "tcp", 6 },	     { "egp", 8 },	 { "udp", 17 },
	{ "ipv6", 41 },	     { "rsvp", 46 },	 { "gre", 47 },
	{ "esp", 50 },	     { "ah", 51 },	 { "icmpv6", 58 },
	{ "ipv6-icmp", 58 }, { "eigrp", 88 },	 { "ospf", 89 },
	{ "pim", 103 },	     { "vrrp", 112 },	 { "l2tp", 115 },
	{ "sctp", 132 },     { "udplite", 136 },
};

const char *mt_proto_name(int proto)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]);
	     i++)
		if (proto_names[i].proto == proto)
			return proto_names[i].name;
	return NULL;
}

int mt_proto_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]);
	     i++)
		if (!strcasecmp(proto_names[i].name, name))
			return proto_names[i].proto;
	return -1;
}

const char *mt_rule_dir_name(int dir)
{
	switch (dir) {
	case MT_RULE_INGRESS:
		return "ingress";
	case MT_RULE_EGRESS:
		return "egress";
	case MT_RULE_ANY:
		return "any";
	}
	return "?";
}

const char *mt_rule_action_name(int action)
{
	return action == MT_ACTION_REJECT ? "reject" : "accept";
}

bool mt_rules_check_number(long long number, char *msg, size_t size)
{
	if (number >= MT_RULE_NUMBER_MIN && number <= MT_RULE_NUMBER_MAX)
		return true;
	snprintf(msg, size, "rule number %lld is out of range; expected %d-%d",
		 number, MT_RULE_NUMBER_MIN, MT_RULE_NUMBER_MAX);
	return false;
}

bool mt_rules_check_vni(long long vni, char *msg, size_t size)
{
	if (vni >= 0 && vni <= MT_VNI_MAX)
		return true;
	snprintf(msg, size, "VNI %lld is out of range; VNIs are 24 bits (0-%u)",
		 vni, MT_VNI_MAX);
	return false;
}

bool mt_rules_check_cidr(const char *text, struct mt_cidr *c, char *msg,
			 size_t size)
{
	char net[MT_IP_STRLEN];
	int err = mt_cidr_parse(text, c);

	if (!err)
		return true;
	if (err == -EADDRNOTAVAIL) {
		snprintf(msg, size, "%s has host bits set; the network is %s",
			 text, mt_cidr_format(c, net));
		return false;
	}
	snprintf(
		msg, size,
		"'%.60s' is not a CIDR; expected an IPv4 or IPv6 network such as 192.0.2.0/24 or 2001:db8::/32",
		text);
	return false;
}

bool mt_rules_check_ports(const struct mt_rule *r, bool source, char *msg,
			  size_t size)
{
	uint16_t lo = source ? r->sport_lo : r->dport_lo;
	uint16_t hi = source ? r->sport_hi : r->dport_hi;
	const char *what = source ? "source" : "destination";

	if (r->proto != 6 && r->proto != 17) {
		const char *pn = mt_proto_name(r->proto);
		char num[8];

		if (!pn) {
			snprintf(num, sizeof(num), "%d", r->proto);
			pn = r->proto == MT_PROTO_ALL ? "all" : num;
		}
		snprintf(
			msg, size,
			"a %s port range needs protocol tcp or udp, not %s; change the protocol or drop the port range",
			what, pn);
		return false;
	}
	if (lo > hi) {
		snprintf(msg, size, "port range %u-%u is reversed; write %u-%u",
			 lo, hi, hi, lo);
		return false;
	}
	return true;
}

bool mt_rules_check_family(const struct mt_rule *r, char *msg, size_t size)
{
	char s[MT_IP_STRLEN], d[MT_IP_STRLEN];

	if (r->src.addr.family == r->dst.addr.family)
		return true;
	snprintf(
		msg, size,
		"source %s is %s but destination %s is %s; a rule matches one address family, write one rule per family",
		mt_cidr_format(&r->src, s),
		r->src.addr.family == AF_INET ? "IPv4" : "IPv6",
		mt_cidr_format(&r->dst, d),
		r->dst.addr.family == AF_INET ? "IPv4" : "IPv6");
	return false;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

size_t mt_rules_sort_vnis(uint32_t *v, size_t n)
{
	size_t out = 0;

	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < n; i++)
		if (!out || v[out - 1] != v[i])
			v[out++] = v[i];
	return out;
}

int mt_rules_numbers__init(struct mt_rules_numbers *t)
{
	t->cap = 64;
	t->n = 0;
	t->v = calloc(t->cap, sizeof(*t->v));
	return t->v ? 0 : -ENOMEM;
}

void mt_rules_numbers__fini(struct mt_rules_numbers *t)
{
	free(t->v);
	t->v = NULL;
	t->cap = t->n = 0;
}

static struct mt_rules_numbers_slot *
numbers_slot(struct mt_rules_numbers_slot *v, size_t cap, uint32_t number)
{
	size_t i = (number * 2654435761u) & (cap - 1);

	while (v[i].number && v[i].number != number)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

static int numbers_grow(struct mt_rules_numbers *t)
{
	size_t cap = t->cap * 2;
	struct mt_rules_numbers_slot *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->v[i].number)
			*numbers_slot(v, cap, t->v[i].number) = t->v[i];
	free(t->v);
	t->v = v;
	t->cap = cap;
	return 0;
}

int32_t mt_rules_numbers_claim(struct mt_rules_numbers *t,
			       const struct mt_rule *r, int32_t tag)
{
	bool in = r->dir != MT_RULE_EGRESS, eg = r->dir != MT_RULE_INGRESS;
	struct mt_rules_numbers_slot *s;

	if (2 * (t->n + 1) > t->cap && numbers_grow(t))
		return -2;
	s = numbers_slot(t->v, t->cap, r->number);
	if (!s->number) {
		s->number = r->number;
		s->tag[0] = s->tag[1] = -1;
		t->n++;
	}
	if (in && s->tag[0] >= 0)
		return s->tag[0];
	if (eg && s->tag[1] >= 0)
		return s->tag[1];
	if (in)
		s->tag[0] = tag;
	if (eg)
		s->tag[1] = tag;
	return -1;
}

/* Everything a parser should have caught, checked again for callers that
 * build rules themselves. */
static int check_rule(const struct mt_rule *r, size_t i, struct mt_err *err)
{
	char msg[MT_ERR_MAX - 64];
	int fam = r->src.addr.family;
	unsigned max = fam == AF_INET ? 32 : 128;
	struct mt_cidr c;
	char text[MT_IP_STRLEN];

	if (!mt_rules_check_number(r->number, msg, sizeof(msg)))
		goto bad;
	if (r->action > MT_ACTION_REJECT || r->dir > MT_RULE_ANY ||
	    r->proto < MT_PROTO_ALL || r->proto > 255) {
		snprintf(msg, sizeof(msg),
			 "bad action, direction or protocol value");
		goto bad;
	}
	if ((fam != AF_INET && fam != AF_INET6) || r->src.len > max ||
	    r->dst.len > max) {
		snprintf(msg, sizeof(msg), "bad source address");
		goto bad;
	}
	if (!mt_rules_check_family(r, msg, sizeof(msg)))
		goto bad;
	if (mt_cidr_parse(mt_cidr_format(&r->src, text), &c) ||
	    mt_cidr_parse(mt_cidr_format(&r->dst, text), &c)) {
		snprintf(msg, sizeof(msg), "CIDR has host bits set");
		goto bad;
	}
	if (r->has_sport && !mt_rules_check_ports(r, true, msg, sizeof(msg)))
		goto bad;
	if (r->has_dport && !mt_rules_check_ports(r, false, msg, sizeof(msg)))
		goto bad;
	for (size_t k = 0; k < r->nvnis; k++)
		if (!mt_rules_check_vni(r->vnis[k], msg, sizeof(msg)))
			goto bad;
	if (r->nvnis && !r->vnis) {
		snprintf(msg, sizeof(msg), "nvnis without vnis");
		goto bad;
	}
	return 0;
bad:
	return mt_err_set(err, "rule %zu (number %u): %s", i + 1, r->number,
			  msg);
}

static int cmp_eval_order(const void *a, const void *b)
{
	const struct mt_rule *x = a, *y = b;

	if (x->number != y->number)
		return x->number < y->number ? -1 : 1;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return 0;
}

struct mt_ruleset *mt_ruleset__create(const struct mt_rule *rules, size_t n,
				      struct mt_err *err)
{
	struct mt_rules_numbers nums;
	struct mt_ruleset *rs;
	size_t nvnis = 0, off = 0;
	int ret;

	if (n > INT32_MAX / 2) {
		mt_err_set(err, "%zu rules are too many", n);
		errno = E2BIG;
		return NULL;
	}
	ret = mt_rules_numbers__init(&nums);
	if (ret)
		goto out_errno;
	for (size_t i = 0; i < n; i++) {
		int32_t prev;

		ret = check_rule(&rules[i], i, err);
		if (ret)
			goto out_nums;
		prev = mt_rules_numbers_claim(&nums, &rules[i], (int32_t)i);
		if (prev == -2) {
			ret = -ENOMEM;
			goto out_nums;
		}
		if (prev >= 0) {
			ret = mt_err_set(
				err,
				"rule %u (%s) conflicts with rule %u (%s); numbers are unique within a direction",
				rules[i].number, mt_rule_dir_name(rules[i].dir),
				rules[prev].number,
				mt_rule_dir_name(rules[prev].dir));
			goto out_nums;
		}
		nvnis += rules[i].nvnis;
	}

	ret = -ENOMEM;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		goto out_nums;
	rs->rules = malloc((n ? n : 1) * sizeof(*rs->rules));
	rs->vnis = malloc((nvnis ? nvnis : 1) * sizeof(*rs->vnis));
	if (!rs->rules || !rs->vnis)
		goto out_rs;
	rs->n = n;
	if (n)
		memcpy(rs->rules, rules, n * sizeof(*rules));
	for (size_t i = 0; i < n; i++) {
		struct mt_rule *r = &rs->rules[i];

		r->desc[MT_RULE_DESC_MAX - 1] = '\0';
		if (r->nvnis) {
			memcpy(rs->vnis + off, r->vnis,
			       r->nvnis * sizeof(*r->vnis));
			r->vnis = rs->vnis + off;
			r->nvnis = mt_rules_sort_vnis(r->vnis, r->nvnis);
			off += r->nvnis;
		} else {
			r->vnis = NULL;
		}
	}
	qsort(rs->rules, n, sizeof(*rs->rules), cmp_eval_order);
	ret = mt_rules_index__build(rs, err);
	if (ret)
		goto out_rs;
	mt_rules_numbers__fini(&nums);
	return rs;

out_rs:
	mt_ruleset__destroy(rs);
out_nums:
	mt_rules_numbers__fini(&nums);
out_errno:
	if (ret == -ENOMEM)
		mt_err_set(err, "out of memory building the rule set");
	errno = -ret;
	return NULL;
}

void mt_ruleset__destroy(struct mt_ruleset *rs)
{
	if (!rs)
		return;
	mt_rules_index__destroy(rs);
	free(rs->vnis);
	free(rs->rules);
	free(rs);
}

size_t mt_ruleset_count(const struct mt_ruleset *rs)
{
	return rs ? rs->n : 0;
}

const struct mt_rule *mt_ruleset_rule(const struct mt_ruleset *rs, size_t i)
{
	return rs && i < rs->n ? &rs->rules[i] : NULL;
}

bool mt_rule_matches(const struct mt_rule *r, enum mt_direction dir,
		     uint32_t vni, const struct mt_flow *flow)
{
	return mt_rule_matches_fast(r, dir, vni, flow);
}

int mt_ruleset_match_linear(const struct mt_ruleset *rs, enum mt_direction dir,
			    uint32_t vni, const struct mt_flow *flow)
{
	for (size_t i = 0; i < rs->n; i++)
		if (mt_rule_matches_fast(&rs->rules[i], dir, vni, flow))
			return (int)i;
	return -1;
}

/* Writes text as a quoted desc= value; control characters become spaces so
 * that the line stays one line. */
static size_t format_desc(const char *text, char *buf, size_t size)
{
	size_t o = 0;

#define PUT(c)                        \
	do {                          \
		if (o + 1 < size)     \
			buf[o] = (c); \
		o++;                  \
	} while (0)
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p == '"' || *p == '\\')
			PUT('\\');
		PUT(*p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
	}
	PUT('"');
#undef PUT
	if (size)
		buf[o < size ? o : size - 1] = '\0';
	return o;
}

int mt_rule_format(const struct mt_rule *r, char *buf, size_t size)
{
	char src[MT_IP_STRLEN], dst[MT_IP_STRLEN], proto[8], opts[4096];
	const char *pn;
	size_t o = 0;

	if (r->proto == MT_PROTO_ALL) {
		pn = "all";
	} else {
		pn = mt_proto_name(r->proto);
		if (!pn) {
			snprintf(proto, sizeof(proto), "%d", r->proto);
			pn = proto;
		}
	}
	opts[0] = '\0';
	if (r->has_sport)
		o += snprintf(opts + o, sizeof(opts) - o,
			      r->sport_lo == r->sport_hi ? " sport=%u" :
							   " sport=%u-%u",
			      r->sport_lo, r->sport_hi);
	if (r->has_dport)
		o += snprintf(opts + o, sizeof(opts) - o,
			      r->dport_lo == r->dport_hi ? " dport=%u" :
							   " dport=%u-%u",
			      r->dport_lo, r->dport_hi);
	for (size_t i = 0; i < r->nvnis && o < sizeof(opts); i++)
		o += snprintf(opts + o, sizeof(opts) - o, "%s%u",
			      i ? "," : " vni=", r->vnis[i]);
	if (r->desc[0] && o + 7 < sizeof(opts)) {
		o += snprintf(opts + o, sizeof(opts) - o, " desc=");
		format_desc(r->desc, opts + o, sizeof(opts) - o);
	}
	return snprintf(buf, size, "%-5u %-6s %-7s %-6s %-18s %-18s%s",
			r->number, mt_rule_action_name(r->action),
			mt_rule_dir_name(r->dir), pn,
			mt_cidr_format(&r->src, src),
			mt_cidr_format(&r->dst, dst), opts);
}

int mt_ruleset_write_native(const struct mt_ruleset *rs, FILE *out)
{
	char line[8192];

	fprintf(out,
		"# mirror-target filter rules (DESIGN 4): evaluated in ascending\n"
		"# number, the first match decides, no match = not captured.\n"
		"# number action direction protocol source destination [options]\n");
	for (size_t i = 0; i < rs->n; i++) {
		mt_rule_format(&rs->rules[i], line, sizeof(line));
		/* Trailing padding is noise in a file people edit. */
		for (size_t l = strlen(line); l && line[l - 1] == ' '; l--)
			line[l - 1] = '\0';
		fprintf(out, "%s\n", line);
	}
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcasecmp(s + a - b, suffix);
}

struct mt_ruleset *mt_ruleset__load(const char *path, const char *filter_id,
				    struct mt_err *err)
{
	struct mt_ruleset *rs = NULL;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int saved = 0;
	FILE *f;

	f = fopen(path, "rb");
	if (!f) {
		saved = errno;
		mt_err_set(err, "%s: cannot open the rules file: %s", path,
			   strerror(saved));
		goto out;
	}
	if (mt_file_check_not_world_writable(f, path, "rules file", err)) {
		saved = EPERM;
		goto out_close;
	}
	errno = 0;
	for (;;) {
		size_t got;

		if (cap - len < 4096) {
			char *p = realloc(text, cap ? cap * 2 : 65536);

			if (!p) {
				saved = ENOMEM;
				mt_err_set(err, "%s: out of memory reading it",
					   path);
				goto out_close;
			}
			text = p;
			cap = cap ? cap * 2 : 65536;
		}
		got = fread(text + len, 1, cap - len - 1, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		saved = errno ? errno : EIO;
		mt_err_set(err, "%s: cannot read the rules file: %s", path,
			   strerror(saved));
		goto out_close;
	}
	text[len] = '\0';
	if (ends_with(path, ".json"))
		rs = mt_ruleset__parse_aws(path, text, len, filter_id, err);
	else
		rs = mt_ruleset__parse_native(path, text, len, err);
	if (!rs)
		saved = errno;
out_close:
	fclose(f);
out:
	free(text);
	if (!rs)
		errno = saved ? saved : EINVAL;
	return rs;
}
