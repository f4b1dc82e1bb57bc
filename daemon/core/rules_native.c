// SPDX-License-Identifier: GPL-2.0-only
/*
 * The native rules file (DESIGN §4): one rule a line,
 *
 *   NUMBER ACTION DIRECTION PROTOCOL SOURCE DESTINATION [options]
 *
 * options sport=N[-M] dport=N[-M] vni=N[,N...] desc="text".  '#' starts a
 * comment where a field could start.  Every error says FILE:LINE:COL with
 * the column of the offending field, and how to fix it; the first error
 * wins, so a user fixes the file top to bottom.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mirror-target/rules.h"
#include "rules_internal.h"

#define TOKEN_MAX 1024
#define VNIS_MAX 256
#define RULE_SYNTAX \
	"NUMBER ACTION DIRECTION PROTOCOL SOURCE DESTINATION [options]"

struct token {
	const char *s;
	size_t len;
	unsigned col;
};

struct native {
	const char *name;
	struct mt_err *err;
	unsigned line;
	const char *bol, *eol; /* current line */
	const char *p;
	struct mt_rule *rules;
	size_t n, cap;
	struct mt_rules_numbers nums;
};

static int fail(struct native *st, unsigned col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct native *st, unsigned col, const char *fmt, ...)
{
	char msg[MT_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mt_err_set(st->err, "%s:%u:%u: %s", st->name, st->line, col,
			  msg);
}

static unsigned col_of(const struct native *st, const char *p)
{
	return (unsigned)(p - st->bol) + 1;
}

/* Returns 1 with a token, 0 at the end of the line, or -EINVAL. */
static int next_token(struct native *st, struct token *t)
{
	const char *p = st->p, *e = st->eol;

	while (p < e && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	if (p == e || *p == '#') {
		st->p = e;
		return 0;
	}
	t->s = p;
	t->col = col_of(st, p);
	while (p < e && *p != ' ' && *p != '\t' && *p != '\r') {
		if (*p == '"') {
			const char *q = p++;

			while (p < e && *p != '"')
				p += *p == '\\' && p + 1 < e ? 2 : 1;
			if (p >= e)
				return fail(
					st, col_of(st, q),
					"unterminated quote; close the text with \"");
		}
		p++;
	}
	t->len = (size_t)(p - t->s);
	st->p = p;
	if (t->len >= TOKEN_MAX)
		return fail(
			st, t->col,
			"field '%.20s...' is %zu bytes long; fields are at most %d bytes",
			t->s, t->len, TOKEN_MAX - 1);
	return 1;
}

static void tok_str(const struct token *t, char *buf)
{
	memcpy(buf, t->s, t->len);
	buf[t->len] = '\0';
}

/* Parses all-digit text into *v; false for anything else or overflow. */
static bool parse_digits(const char *s, size_t len, long long *v)
{
	long long x = 0;

	if (!len || len > 12)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

static int parse_number(struct native *st, const struct token *t,
			struct mt_rule *r)
{
	char msg[MT_ERR_MAX];
	char s[TOKEN_MAX];
	long long v;

	tok_str(t, s);
	if (!parse_digits(t->s, t->len, &v))
		return fail(st, t->col,
			    "rule number '%s' is not a number; expected %d-%d",
			    s, MT_RULE_NUMBER_MIN, MT_RULE_NUMBER_MAX);
	if (!mt_rules_check_number(v, msg, sizeof(msg)))
		return fail(st, t->col, "%s", msg);
	r->number = (uint16_t)v;
	return 0;
}

static int parse_action(struct native *st, const struct token *t,
			struct mt_rule *r)
{
	char s[TOKEN_MAX];

	tok_str(t, s);
	if (!strcmp(s, "accept"))
		r->action = MT_ACTION_ACCEPT;
	else if (!strcmp(s, "reject"))
		r->action = MT_ACTION_REJECT;
	else
		return fail(st, t->col,
			    "unknown action '%s'; expected accept or reject",
			    s);
	return 0;
}

static int parse_dir(struct native *st, const struct token *t,
		     struct mt_rule *r)
{
	char s[TOKEN_MAX];

	tok_str(t, s);
	if (!strcmp(s, "ingress"))
		r->dir = MT_RULE_INGRESS;
	else if (!strcmp(s, "egress"))
		r->dir = MT_RULE_EGRESS;
	else if (!strcmp(s, "any"))
		r->dir = MT_RULE_ANY;
	else
		return fail(
			st, t->col,
			"unknown direction '%s'; expected ingress, egress or any",
			s);
	return 0;
}

static int parse_proto(struct native *st, const struct token *t,
		       struct mt_rule *r)
{
	char s[TOKEN_MAX];
	long long v;
	int p;

	tok_str(t, s);
	if (!strcmp(s, "all")) {
		r->proto = MT_PROTO_ALL;
		return 0;
	}
	if (parse_digits(t->s, t->len, &v)) {
		if (v > 255)
			return fail(
				st, t->col,
				"protocol number %lld is out of range; expected 0-255",
				v);
		r->proto = (int16_t)v;
		return 0;
	}
	p = mt_proto_parse(s);
	if (p < 0)
		return fail(
			st, t->col,
			"unknown protocol '%s'; expected all, a name (tcp, udp, icmp, icmpv6, gre, esp, ah, sctp, ...) or a number 0-255",
			s);
	r->proto = (int16_t)p;
	return 0;
}

static int parse_cidr(struct native *st, const struct token *t,
		      struct mt_cidr *c)
{
	char msg[MT_ERR_MAX];
	char s[TOKEN_MAX];

	tok_str(t, s);
	if (!mt_rules_check_cidr(s, c, msg, sizeof(msg)))
		return fail(st, t->col, "%s", msg);
	return 0;
}

static int parse_ports(struct native *st, const struct token *t,
		       const char *key, const char *val, size_t vlen,
		       struct mt_rule *r, bool source)
{
	const char *dash = memchr(val, '-', vlen);
	char msg[MT_ERR_MAX];
	long long lo, hi;
	bool ok;

	if (dash)
		ok = parse_digits(val, (size_t)(dash - val), &lo) &&
		     parse_digits(dash + 1, vlen - (size_t)(dash - val) - 1,
				  &hi);
	else
		ok = parse_digits(val, vlen, &lo) && (hi = lo, true);
	if (!ok)
		return fail(
			st, t->col,
			"bad port '%.*s' in %s=; expected N or N-M with ports 0-65535",
			(int)vlen, val, key);
	if (lo > 65535 || hi > 65535)
		return fail(
			st, t->col,
			"port %lld in %s= is out of range; ports are 0-65535",
			lo > 65535 ? lo : hi, key);
	if (source) {
		r->has_sport = true;
		r->sport_lo = (uint16_t)lo;
		r->sport_hi = (uint16_t)hi;
	} else {
		r->has_dport = true;
		r->dport_lo = (uint16_t)lo;
		r->dport_hi = (uint16_t)hi;
	}
	if (!mt_rules_check_ports(r, source, msg, sizeof(msg)))
		return fail(st, t->col, "%s", msg);
	return 0;
}

static int parse_vnis(struct native *st, const struct token *t, const char *val,
		      size_t vlen, struct mt_rule *r)
{
	char msg[MT_ERR_MAX];
	uint32_t v[VNIS_MAX];
	size_t n = 0, i = 0;

	for (;;) {
		size_t j = i;
		long long x;

		while (j < vlen && val[j] != ',')
			j++;
		if (!parse_digits(val + i, j - i, &x))
			return fail(
				st, t->col,
				"bad VNI '%.*s' in vni=; expected numbers 0-16777215 separated by commas",
				(int)(j - i), val + i);
		if (!mt_rules_check_vni(x, msg, sizeof(msg)))
			return fail(st, t->col, "%s", msg);
		if (n == VNIS_MAX)
			return fail(st, t->col,
				    "more than %d VNIs in vni=; split the rule",
				    VNIS_MAX);
		v[n++] = (uint32_t)x;
		if (j == vlen)
			break;
		i = j + 1;
	}
	n = mt_rules_sort_vnis(v, n);
	r->vnis = malloc(n * sizeof(*v));
	if (!r->vnis)
		return fail(st, t->col, "out of memory");
	memcpy(r->vnis, v, n * sizeof(*v));
	r->nvnis = n;
	return 0;
}

static int parse_desc(struct native *st, const struct token *t, const char *val,
		      size_t vlen, struct mt_rule *r)
{
	unsigned vcol = t->col + (unsigned)(val - t->s);
	bool closed = false;
	size_t o = 0;

	if (!vlen || val[0] != '"')
		return fail(
			st, t->col,
			"desc= takes text in double quotes, e.g. desc=\"web tier\"");
	for (size_t i = 1; i < vlen; i++) {
		char c = val[i];

		if (c == '"') {
			if (i != vlen - 1)
				return fail(
					st, vcol + (unsigned)i + 1,
					"text after the closing quote of desc=; escape a quote inside the text as \\\"");
			closed = true;
			break;
		}
		if (c == '\\') {
			if (i + 1 >= vlen ||
			    (val[i + 1] != '"' && val[i + 1] != '\\'))
				return fail(
					st, vcol + (unsigned)i,
					"unknown escape in desc=; only \\\" and \\\\ are allowed");
			c = val[++i];
		}
		if (o == MT_RULE_DESC_MAX - 1)
			return fail(st, t->col,
				    "desc= is longer than %d bytes; shorten it",
				    MT_RULE_DESC_MAX - 1);
		r->desc[o++] = c;
	}
	if (!closed)
		return fail(st, vcol,
			    "unterminated quote; close the text with \"");
	r->desc[o] = '\0';
	return 0;
}

static int parse_option(struct native *st, const struct token *t,
			struct mt_rule *r, unsigned seen[4])
{
	static const char *const keys[4] = { "sport", "dport", "vni", "desc" };
	const char *eq = memchr(t->s, '=', t->len);
	const char *val;
	size_t klen, vlen;
	int k;

	if (!eq)
		return fail(
			st, t->col,
			"unexpected '%.*s' after the destination; options are sport=N[-M], dport=N[-M], vni=N[,N...] and desc=\"text\"",
			(int)t->len, t->s);
	klen = (size_t)(eq - t->s);
	val = eq + 1;
	vlen = t->len - klen - 1;
	for (k = 0; k < 4; k++)
		if (strlen(keys[k]) == klen && !memcmp(keys[k], t->s, klen))
			break;
	if (k == 4)
		return fail(
			st, t->col,
			"unknown option '%.*s'; expected sport=, dport=, vni= or desc=",
			(int)klen, t->s);
	if (seen[k])
		return fail(
			st, t->col,
			"option %s= given twice (first at column %u); keep one",
			keys[k], seen[k]);
	seen[k] = t->col;
	switch (k) {
	case 0:
	case 1:
		return parse_ports(st, t, keys[k], val, vlen, r, k == 0);
	case 2:
		return parse_vnis(st, t, val, vlen, r);
	default:
		return parse_desc(st, t, val, vlen, r);
	}
}

static int add_rule(struct native *st, struct mt_rule *r, unsigned ncol)
{
	int32_t prev;

	prev = mt_rules_numbers_claim(&st->nums, r, (int32_t)st->n);
	if (prev == -2)
		return fail(st, ncol, "out of memory");
	if (prev >= 0) {
		const struct mt_rule *o = &st->rules[prev];

		if (o->dir == r->dir)
			return fail(
				st, ncol,
				"rule %u (%s) already defined at line %u; numbers are unique within a direction, pick another",
				r->number, mt_rule_dir_name(r->dir), o->line);
		return fail(
			st, ncol,
			"rule %u (%s) conflicts with rule %u (%s) at line %u; an any rule takes its number in both directions, pick another",
			r->number, mt_rule_dir_name(r->dir), o->number,
			mt_rule_dir_name(o->dir), o->line);
	}
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct mt_rule *p = realloc(st->rules, cap * sizeof(*p));

		if (!p)
			return fail(st, ncol, "out of memory");
		st->rules = p;
		st->cap = cap;
	}
	st->rules[st->n++] = *r;
	return 0;
}

static int parse_line(struct native *st)
{
	static const char *const fields[] = { "rule number", "action",
					      "direction",   "protocol",
					      "source",	     "destination" };
	struct mt_rule r;
	struct token t = { 0 }, first = { 0 };
	unsigned seen[4] = { 0 }, end_col = 1;
	int nf = 0, ret;
	char msg[MT_ERR_MAX];

	memset(&r, 0, sizeof(r));
	r.line = st->line;
	st->p = st->bol;
	for (const char *c = st->bol; c < st->eol; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t' && *c != '\r')
			return fail(
				st, col_of(st, c),
				"control character 0x%02x; a rules file is plain text",
				(unsigned char)*c);
	while ((ret = next_token(st, &t)) > 0) {
		end_col = t.col + (unsigned)t.len;
		switch (nf++) {
		case 0:
			first = t;
			ret = parse_number(st, &t, &r);
			break;
		case 1:
			ret = parse_action(st, &t, &r);
			break;
		case 2:
			ret = parse_dir(st, &t, &r);
			break;
		case 3:
			ret = parse_proto(st, &t, &r);
			break;
		case 4:
			ret = parse_cidr(st, &t, &r.src);
			break;
		case 5:
			ret = parse_cidr(st, &t, &r.dst);
			if (!ret &&
			    !mt_rules_check_family(&r, msg, sizeof(msg)))
				ret = fail(st, t.col, "%s", msg);
			break;
		default:
			ret = parse_option(st, &t, &r, seen);
			break;
		}
		if (ret)
			goto out;
	}
	if (ret < 0 || nf == 0)
		goto out;
	if (nf < 6) {
		ret = fail(st, end_col, "missing %s; expected " RULE_SYNTAX,
			   fields[nf]);
		goto out;
	}
	ret = add_rule(st, &r, first.col);
	if (!ret)
		return 0;
out:
	free(r.vnis);
	return ret;
}

struct mt_ruleset *mt_ruleset__parse_native(const char *name, const char *text,
					    size_t len, struct mt_err *err)
{
	struct native st = { .name = name, .err = err };
	struct mt_ruleset *rs = NULL;
	const char *end = text + len;
	int ret;

	ret = mt_rules_numbers__init(&st.nums);
	if (ret) {
		mt_err_set(err, "%s: out of memory", name);
		goto out;
	}
	for (st.bol = text; st.bol < end; st.bol = st.eol + 1) {
		st.eol = memchr(st.bol, '\n', (size_t)(end - st.bol));
		if (!st.eol)
			st.eol = end;
		st.line++;
		ret = parse_line(&st);
		if (ret)
			goto out_rules;
	}
	rs = mt_ruleset__create(st.rules, st.n, err);
	if (!rs)
		ret = -errno;
out_rules:
	for (size_t i = 0; i < st.n; i++)
		free(st.rules[i].vnis);
	free(st.rules);
	mt_rules_numbers__fini(&st.nums);
out:
	if (!rs)
		errno = ret ? -ret : EINVAL;
	return rs;
}
