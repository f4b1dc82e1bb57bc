// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rules from the JSON AWS prints for `aws ec2 describe-traffic-mirror-filters`
 * (TrafficMirrorFilters[]) or `create-traffic-mirror-filter`
 * (TrafficMirrorFilter).  A document may hold several filters: the caller
 * names one, or there must be exactly one.  Syntax errors carry jansson's
 * line:column; semantic errors name the JSON path of the offending member,
 * because the user will look for it in the AWS console or the CLI output,
 * not by line.  The checks are the native parser's (rules_internal.h).
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/rules.h"
#include "rules_internal.h"

#define IDS_MAX 400

struct origin {
	bool egress;
	size_t idx;
};

struct aws {
	const char *name;
	struct mt_err *err;
	const char
		*fpath; /* "TrafficMirrorFilters[0]" or "TrafficMirrorFilter" */
	struct mt_rule *rules;
	size_t n, cap;
	struct mt_rules_numbers nums;
	/* where rules[i] came from, for duplicate messages */
	struct origin *from;
};

static const char *const list_names[2] = { "IngressFilterRules",
					   "EgressFilterRules" };

static int fail(struct aws *st, bool egress, size_t i, const char *member,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct aws *st, bool egress, size_t i, const char *member,
		const char *fmt, ...)
{
	char msg[MT_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mt_err_set(st->err, "%s: %s.%s[%zu]%s%s: %s", st->name,
			  st->fpath, list_names[egress], i, member ? "." : "",
			  member ? member : "", msg);
}

/* An integer member; absent gives def (or an error when def < 0). */
static int get_int(struct aws *st, json_t *obj, const char *key, long long def,
		   long long *v, bool egress, size_t i, const char *member)
{
	json_t *j = json_object_get(obj, key);

	if (!j || json_is_null(j)) {
		if (def < 0)
			return fail(st, egress, i, member,
				    "missing; expected an integer");
		*v = def;
		return 0;
	}
	if (!json_is_integer(j))
		return fail(st, egress, i, member, "expected an integer");
	*v = json_integer_value(j);
	return 0;
}

static int get_string(struct aws *st, json_t *obj, const char *key,
		      const char **v, bool egress, size_t i, bool required)
{
	json_t *j = json_object_get(obj, key);

	*v = NULL;
	if (!j || json_is_null(j)) {
		if (required)
			return fail(st, egress, i, key,
				    "missing; expected a string");
		return 0;
	}
	if (!json_is_string(j))
		return fail(st, egress, i, key, "expected a string");
	*v = json_string_value(j);
	return 0;
}

static int parse_range(struct aws *st, json_t *rule, bool source,
		       struct mt_rule *r, bool egress, size_t i)
{
	const char *key = source ? "SourcePortRange" : "DestinationPortRange";
	json_t *j = json_object_get(rule, key);
	char member[64], msg[MT_ERR_MAX];
	long long lo = 0, hi = 0;
	int ret;

	if (!j || json_is_null(j))
		return 0;
	if (!json_is_object(j))
		return fail(
			st, egress, i, key,
			"expected an object {\"FromPort\": N, \"ToPort\": M}");
	/* AWS leaves out a bound that is open: from 0, to 65535. */
	snprintf(member, sizeof(member), "%s.FromPort", key);
	ret = get_int(st, j, "FromPort", 0, &lo, egress, i, member);
	if (ret)
		return ret;
	if (lo < 0 || lo > 65535)
		return fail(st, egress, i, member,
			    "port %lld is out of range; ports are 0-65535", lo);
	snprintf(member, sizeof(member), "%s.ToPort", key);
	ret = get_int(st, j, "ToPort", 65535, &hi, egress, i, member);
	if (ret)
		return ret;
	if (hi < 0 || hi > 65535)
		return fail(st, egress, i, member,
			    "port %lld is out of range; ports are 0-65535", hi);
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
		return fail(st, egress, i, key, "%s", msg);
	return 0;
}

/* Descriptions are free text in AWS; ours must fit one native line. */
static void copy_desc(char *dst, const char *src)
{
	size_t n = strlen(src);

	if (n > MT_RULE_DESC_MAX - 1) {
		n = MT_RULE_DESC_MAX - 1;
		/* do not cut a UTF-8 sequence in half */
		while (n && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	for (size_t k = 0; k < n; k++)
		dst[k] = (unsigned char)src[k] < 0x20 || src[k] == 0x7f ?
				 ' ' :
				 src[k];
	dst[n] = '\0';
}

static int add_rule(struct aws *st, const struct mt_rule *r, bool egress,
		    size_t i)
{
	int32_t prev = mt_rules_numbers_claim(&st->nums, r, (int32_t)st->n);

	if (prev == -2)
		return fail(st, egress, i, NULL, "out of memory");
	if (prev >= 0)
		return fail(
			st, egress, i, "RuleNumber",
			"rule %u (%s) already defined at %s.%s[%zu]; numbers are unique within a direction",
			r->number, mt_rule_dir_name(r->dir), st->fpath,
			list_names[st->from[prev].egress], st->from[prev].idx);
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;
		struct mt_rule *p = realloc(st->rules, cap * sizeof(*p));
		struct origin *o;

		if (!p)
			return fail(st, egress, i, NULL, "out of memory");
		st->rules = p;
		o = realloc(st->from, cap * sizeof(*o));
		if (!o)
			return fail(st, egress, i, NULL, "out of memory");
		st->from = o;
		st->cap = cap;
	}
	st->from[st->n].egress = egress;
	st->from[st->n].idx = i;
	st->rules[st->n++] = *r;
	return 0;
}

static int parse_rule(struct aws *st, json_t *j, bool egress, size_t i)
{
	struct mt_rule r;
	char msg[MT_ERR_MAX];
	const char *s;
	json_t *proto;
	long long v = 0;
	int ret;

	if (!json_is_object(j))
		return fail(
			st, egress, i, NULL,
			"expected a rule object with RuleNumber, RuleAction, SourceCidrBlock, DestinationCidrBlock");
	memset(&r, 0, sizeof(r));
	ret = get_int(st, j, "RuleNumber", -1, &v, egress, i, "RuleNumber");
	if (ret)
		return ret;
	if (!mt_rules_check_number(v, msg, sizeof(msg)))
		return fail(st, egress, i, "RuleNumber", "%s", msg);
	r.number = (uint16_t)v;

	ret = get_string(st, j, "RuleAction", &s, egress, i, true);
	if (ret)
		return ret;
	if (!strcmp(s, "accept"))
		r.action = MT_ACTION_ACCEPT;
	else if (!strcmp(s, "reject"))
		r.action = MT_ACTION_REJECT;
	else
		return fail(st, egress, i, "RuleAction",
			    "unknown action '%.40s'; expected accept or reject",
			    s);

	r.dir = egress ? MT_RULE_EGRESS : MT_RULE_INGRESS;
	ret = get_string(st, j, "TrafficDirection", &s, egress, i, false);
	if (ret)
		return ret;
	if (s && strcmp(s, egress ? "egress" : "ingress"))
		return fail(st, egress, i, "TrafficDirection",
			    "'%.40s' does not belong in %s; expected %s", s,
			    list_names[egress], egress ? "egress" : "ingress");

	r.proto = MT_PROTO_ALL;
	proto = json_object_get(j, "Protocol");
	if (proto && !json_is_null(proto)) {
		if (!json_is_integer(proto))
			return fail(st, egress, i, "Protocol",
				    "expected an IANA protocol number 0-255");
		v = json_integer_value(proto);
		if (v < 0 || v > 255)
			return fail(
				st, egress, i, "Protocol",
				"protocol number %lld is out of range; expected 0-255",
				v);
		r.proto = (int16_t)v;
	}

	ret = get_string(st, j, "SourceCidrBlock", &s, egress, i, true);
	if (ret)
		return ret;
	if (!mt_rules_check_cidr(s, &r.src, msg, sizeof(msg)))
		return fail(st, egress, i, "SourceCidrBlock", "%s", msg);
	ret = get_string(st, j, "DestinationCidrBlock", &s, egress, i, true);
	if (ret)
		return ret;
	if (!mt_rules_check_cidr(s, &r.dst, msg, sizeof(msg)))
		return fail(st, egress, i, "DestinationCidrBlock", "%s", msg);
	if (!mt_rules_check_family(&r, msg, sizeof(msg)))
		return fail(st, egress, i, "DestinationCidrBlock", "%s", msg);

	ret = parse_range(st, j, true, &r, egress, i);
	if (ret)
		return ret;
	ret = parse_range(st, j, false, &r, egress, i);
	if (ret)
		return ret;

	ret = get_string(st, j, "Description", &s, egress, i, false);
	if (ret)
		return ret;
	if (s)
		copy_desc(r.desc, s);
	return add_rule(st, &r, egress, i);
}

static int parse_filter(struct aws *st, json_t *f)
{
	for (int e = 0; e < 2; e++) {
		json_t *list = json_object_get(f, list_names[e]);
		size_t i;
		json_t *j;
		int ret;

		if (!list || json_is_null(list))
			continue;
		if (!json_is_array(list))
			return mt_err_set(
				st->err,
				"%s: %s.%s: expected an array of rules",
				st->name, st->fpath, list_names[e]);
		json_array_foreach(list, i, j) {
			ret = parse_rule(st, j, e, i);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static const char *filter_id(json_t *f)
{
	const char *id =
		json_string_value(json_object_get(f, "TrafficMirrorFilterId"));

	return id ? id : "(no TrafficMirrorFilterId)";
}

static void list_ids(json_t *filters, char *buf, size_t size)
{
	size_t o = 0, i;
	json_t *f;

	buf[0] = '\0';
	json_array_foreach(filters, i, f) {
		if (o + 1 >= size)
			break;
		o += snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
			      filter_id(f));
	}
}

/* Picks the filter to load; returns it or NULL with the error set. */
static json_t *pick_filter(struct aws *st, json_t *root, const char *want,
			   char *fpath, size_t size)
{
	json_t *filters = json_object_get(root, "TrafficMirrorFilters");
	json_t *one = json_object_get(root, "TrafficMirrorFilter");
	char ids[IDS_MAX];
	size_t i, n;
	json_t *f;

	if (!json_is_array(filters)) {
		if (json_is_object(one)) {
			snprintf(fpath, size, "TrafficMirrorFilter");
			if (want && strcmp(want, filter_id(one))) {
				mt_err_set(
					st->err,
					"%s: no traffic mirror filter %s; the document has %s",
					st->name, want, filter_id(one));
				return NULL;
			}
			return one;
		}
		mt_err_set(
			st->err,
			"%s: no TrafficMirrorFilters array; expected the output of 'aws ec2 describe-traffic-mirror-filters'",
			st->name);
		return NULL;
	}
	n = json_array_size(filters);
	list_ids(filters, ids, sizeof(ids));
	if (n == 0) {
		mt_err_set(
			st->err,
			"%s: TrafficMirrorFilters is empty; describe the filter you want (aws ec2 describe-traffic-mirror-filters --traffic-mirror-filter-ids tmf-...)",
			st->name);
		return NULL;
	}
	json_array_foreach(filters, i, f) {
		if (!json_is_object(f)) {
			mt_err_set(
				st->err,
				"%s: TrafficMirrorFilters[%zu]: expected a filter object",
				st->name, i);
			return NULL;
		}
		if (want ? !strcmp(want, filter_id(f)) : n == 1) {
			snprintf(fpath, size, "TrafficMirrorFilters[%zu]", i);
			return f;
		}
	}
	if (want)
		mt_err_set(
			st->err,
			"%s: no traffic mirror filter %s; the document has %s",
			st->name, want, ids);
	else
		mt_err_set(
			st->err,
			"%s: the document has %zu traffic mirror filters (%s); pass --filter-id to pick one",
			st->name, n, ids);
	return NULL;
}

struct mt_ruleset *mt_ruleset__parse_aws(const char *name, const char *text,
					 size_t len, const char *want,
					 struct mt_err *err)
{
	struct aws st = { .name = name, .err = err };
	struct mt_ruleset *rs = NULL;
	char fpath[64];
	json_error_t jerr;
	json_t *root, *f;
	int ret = -EINVAL;

	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		mt_err_set(
			err,
			"%s:%d:%d: %s; expected the JSON output of 'aws ec2 describe-traffic-mirror-filters'",
			name, jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		mt_err_set(
			err,
			"%s: the document is not a JSON object; expected the output of 'aws ec2 describe-traffic-mirror-filters'",
			name);
		goto out_json;
	}
	f = pick_filter(&st, root, want, fpath, sizeof(fpath));
	if (!f)
		goto out_json;
	st.fpath = fpath;
	ret = mt_rules_numbers__init(&st.nums);
	if (ret) {
		mt_err_set(err, "%s: out of memory", name);
		goto out_json;
	}
	ret = parse_filter(&st, f);
	if (ret)
		goto out_rules;
	rs = mt_ruleset__create(st.rules, st.n, err);
	if (!rs)
		ret = -errno;
out_rules:
	free(st.rules);
	free(st.from);
	mt_rules_numbers__fini(&st.nums);
out_json:
	json_decref(root);
out:
	if (!rs)
		errno = ret ? -ret : EINVAL;
	return rs;
}
