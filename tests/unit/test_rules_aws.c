// SPDX-License-Identifier: GPL-2.0-only
/*
 * Rules from `aws ec2 describe-traffic-mirror-filters` JSON: the fixture in
 * tests/unit/data/rules/ has the shape AWS prints; the error cases are small
 * documents written inline.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "mirror-target/rules.h"

static void fixture_path(char *buf, size_t size, const char *name)
{
	const char *src = getenv("MT_SOURCE_DIR");

	snprintf(buf, size, "%s/tests/unit/data/rules/%s", src ? src : ".",
		 name);
}

static struct mt_ruleset *parse(const char *json, const char *id)
{
	struct mt_err err = { { 0 } };
	struct mt_ruleset *rs;

	rs = mt_ruleset__parse_aws("t.json", json, strlen(json), id, &err);
	cr_assert_not_null(rs, "parse failed: %s", err.msg);
	return rs;
}

static void expect_error(const char *json, const char *id, const char *start,
			 ...)
{
	struct mt_err err = { { 0 } };
	const char *word;
	va_list ap;

	cr_assert_null(mt_ruleset__parse_aws("t.json", json, strlen(json), id,
					     &err),
		       "accepted: %s", json);
	cr_assert_eq(strncmp(err.msg, start, strlen(start)), 0,
		     "expected '%s' at the start of '%s'", start, err.msg);
	va_start(ap, start);
	while ((word = va_arg(ap, const char *)))
		cr_assert_not_null(strstr(err.msg, word), "'%s' not in '%s'",
				   word, err.msg);
	va_end(ap);
}

/* One filter with the given ingress and egress rule lists. */
static char *doc(const char *ingress, const char *egress)
{
	static char buf[8192];

	snprintf(
		buf, sizeof(buf),
		"{\"TrafficMirrorFilters\": [{\"TrafficMirrorFilterId\": \"tmf-1\","
		" \"IngressFilterRules\": [%s], \"EgressFilterRules\": [%s],"
		" \"NetworkServices\": []}]}",
		ingress, egress);
	return buf;
}

#define RULE(extra)                                                      \
	"{\"RuleNumber\": 100, \"RuleAction\": \"accept\", "             \
	"\"SourceCidrBlock\": \"0.0.0.0/0\", \"DestinationCidrBlock\": " \
	"\"0.0.0.0/0\"" extra "}"

Test(rules_aws, describe_output_fixture)
{
	struct mt_err err = { { 0 } };
	const struct mt_rule *r;
	struct mt_ruleset *rs;
	char path[512], buf[MT_IP_STRLEN];

	fixture_path(path, sizeof(path), "aws-filter.json");
	rs = mt_ruleset__load(path, NULL, &err);
	cr_assert_not_null(rs, "%s", err.msg);
	cr_assert_eq(mt_ruleset_count(rs), 4);

	/* ingress 100 and egress 100 coexist; ingress first */
	r = mt_ruleset_rule(rs, 0);
	cr_assert_eq(r->number, 100);
	cr_assert_eq(r->dir, MT_RULE_INGRESS);
	cr_assert_eq(r->action, MT_ACTION_REJECT);
	cr_assert_eq(r->proto, 6);
	cr_assert(r->has_dport && !r->has_sport);
	cr_assert_eq(r->dport_lo, 22);
	cr_assert_str_eq(mt_cidr_format(&r->dst, buf), "192.0.2.0/24");
	cr_assert_str_eq(r->desc, "leave SSH out");

	r = mt_ruleset_rule(rs, 1);
	cr_assert_eq(r->number, 100);
	cr_assert_eq(r->dir, MT_RULE_EGRESS);
	cr_assert_eq(r->proto, 17);
	cr_assert_eq(r->sport_lo, 1024);
	cr_assert_eq(r->sport_hi, 65535);
	cr_assert_eq(r->dport_hi, 53);

	r = mt_ruleset_rule(rs, 3);
	cr_assert_eq(r->number, 300);
	cr_assert_eq(r->proto, MT_PROTO_ALL); /* Protocol absent */
	cr_assert_eq(r->src.addr.family, AF_INET6);
	mt_ruleset__destroy(rs);
}

Test(rules_aws, import_writes_a_native_file_with_the_same_rules)
{
	struct mt_err err = { { 0 } };
	struct mt_ruleset *a, *b;
	char path[512], dir[64], out[128], la[512], lb[512];
	FILE *f;

	fixture_path(path, sizeof(path), "aws-filter.json");
	a = mt_ruleset__load(path, "tmf-0a1b2c3d4e5f60718", &err);
	cr_assert_not_null(a, "%s", err.msg);
	cr_assert_not_null(mt_fx_tmpdir(dir, sizeof(dir)));
	snprintf(out, sizeof(out), "%s/imported.rules", dir);
	f = fopen(out, "w");
	cr_assert_not_null(f);
	cr_assert_eq(mt_ruleset_write_native(a, f), 0);
	fclose(f);
	b = mt_ruleset__load(out, NULL, &err);
	cr_assert_not_null(b, "%s", err.msg);
	cr_assert_eq(mt_ruleset_count(b), mt_ruleset_count(a));
	for (size_t i = 0; i < mt_ruleset_count(a); i++) {
		mt_rule_format(mt_ruleset_rule(a, i), la, sizeof(la));
		mt_rule_format(mt_ruleset_rule(b, i), lb, sizeof(lb));
		cr_assert_str_eq(la, lb);
	}
	mt_ruleset__destroy(b);
	mt_ruleset__destroy(a);
	mt_fx_rmtree(dir);
}

Test(rules_aws, syntax_error_has_line_and_column)
{
	expect_error("{\n  \"TrafficMirrorFilters\": [\n    {,}\n  ]\n}\n",
		     NULL, "t.json:3:6: ", "describe-traffic-mirror-filters",
		     NULL);
	expect_error("[]", NULL, "t.json: ", "not a JSON object", NULL);
	expect_error("{\"Filters\": []}", NULL,
		     "t.json: ", "no TrafficMirrorFilters", NULL);
}

static const char two_filters[] =
	"{\"TrafficMirrorFilters\": ["
	"{\"TrafficMirrorFilterId\": \"tmf-aaa\", \"IngressFilterRules\": [" RULE(
		"") "]},"
		    "{\"TrafficMirrorFilterId\": \"tmf-bbb\", \"EgressFilterRules\": [" RULE(
			    ", \"Protocol\": 17") "]}]}";

Test(rules_aws, several_filters_need_an_id)
{
	struct mt_ruleset *rs;

	expect_error(two_filters, NULL, "t.json: ", "2 traffic mirror filters",
		     "tmf-aaa, tmf-bbb", "--filter-id", NULL);
	expect_error(two_filters, "tmf-ccc",
		     "t.json: ", "no traffic mirror filter tmf-ccc",
		     "tmf-aaa, tmf-bbb", NULL);
	rs = parse(two_filters, "tmf-bbb");
	cr_assert_eq(mt_ruleset_count(rs), 1);
	cr_assert_eq(mt_ruleset_rule(rs, 0)->dir, MT_RULE_EGRESS);
	cr_assert_eq(mt_ruleset_rule(rs, 0)->proto, 17);
	mt_ruleset__destroy(rs);
	expect_error("{\"TrafficMirrorFilters\": []}", NULL,
		     "t.json: ", "empty", NULL);
}

Test(rules_aws, bare_create_output)
{
	struct mt_ruleset *rs = parse(
		"{\"TrafficMirrorFilter\": {\"TrafficMirrorFilterId\": \"tmf-x\","
		" \"IngressFilterRules\": [" RULE(
			"") "]},"
			    " \"ClientToken\": \"t\"}",
		NULL);

	cr_assert_eq(mt_ruleset_count(rs), 1);
	mt_ruleset__destroy(rs);
	expect_error(
		"{\"TrafficMirrorFilter\": {\"TrafficMirrorFilterId\": \"tmf-x\"}}",
		"tmf-y", "t.json: ", "tmf-y", "tmf-x", NULL);
}

Test(rules_aws, one_sided_port_ranges)
{
	struct mt_ruleset *rs = parse(
		doc(RULE(", \"Protocol\": 6, \"SourcePortRange\": {\"FromPort\": 1024},"
			 " \"DestinationPortRange\": {\"ToPort\": 1023}"),
		    ""),
		NULL);
	const struct mt_rule *r = mt_ruleset_rule(rs, 0);

	cr_assert_eq(r->sport_lo, 1024);
	cr_assert_eq(r->sport_hi, 65535);
	cr_assert_eq(r->dport_lo, 0);
	cr_assert_eq(r->dport_hi, 1023);
	mt_ruleset__destroy(rs);
}

Test(rules_aws, description_is_made_one_line)
{
	struct mt_ruleset *rs = parse(
		doc(RULE(", \"Description\": \"two\\nlines \\\"q\\\"\""), ""),
		NULL);

	cr_assert_str_eq(mt_ruleset_rule(rs, 0)->desc, "two lines \"q\"");
	mt_ruleset__destroy(rs);
}

Test(rules_aws, err_host_bits_names_the_path)
{
	char ingress[1024];

	snprintf(ingress, sizeof(ingress), "%s, %s", RULE(""),
		 "{\"RuleNumber\": 200, \"RuleAction\": \"accept\", "
		 "\"SourceCidrBlock\": \"10.0.0.1/8\", "
		 "\"DestinationCidrBlock\": \"0.0.0.0/0\"}");
	expect_error(
		doc(ingress, ""), NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[1].SourceCidrBlock: ",
		"10.0.0.1/8 has host bits set; the network is 10.0.0.0/8",
		NULL);
}

Test(rules_aws, err_same_checks_as_native)
{
	expect_error(
		doc("", RULE(", \"Protocol\": 6, \"DestinationPortRange\":"
			     " {\"FromPort\": 80, \"ToPort\": 20}")),
		NULL,
		"t.json: TrafficMirrorFilters[0].EgressFilterRules[0].DestinationPortRange: ",
		"port range 80-20 is reversed; write 20-80", NULL);
	expect_error(
		doc(RULE(", \"Protocol\": 1, \"SourcePortRange\":"
			 " {\"FromPort\": 8, \"ToPort\": 8}"),
		    ""),
		NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[0].SourcePortRange: ",
		"tcp or udp", "not icmp", NULL);
	expect_error(
		doc(RULE(", \"Protocol\": 6, \"SourcePortRange\":"
			 " {\"FromPort\": 8, \"ToPort\": 65536}"),
		    ""),
		NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[0].SourcePortRange.ToPort: ",
		"65536", "0-65535", NULL);
	expect_error(
		doc(RULE(", \"Protocol\": 300"), ""), NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[0].Protocol: ",
		"0-255", NULL);
	expect_error(
		doc("{\"RuleNumber\": 1, \"RuleAction\": \"accept\","
		    " \"SourceCidrBlock\": \"0.0.0.0/0\","
		    " \"DestinationCidrBlock\": \"::/0\"}",
		    ""),
		NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[0].DestinationCidrBlock: ",
		"IPv4", "IPv6", NULL);
	expect_error(
		doc("{\"RuleNumber\": 40000, \"RuleAction\": \"accept\"}", ""),
		NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[0].RuleNumber: ",
		"40000", "1-32766", NULL);
	expect_error(
		doc("{\"RuleAction\": \"accept\"}", ""), NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[0].RuleNumber: ",
		"missing", NULL);
	expect_error(
		doc("", "{\"RuleNumber\": 1, \"RuleAction\": \"allow\"}"), NULL,
		"t.json: TrafficMirrorFilters[0].EgressFilterRules[0].RuleAction: ",
		"accept or reject", NULL);
}

Test(rules_aws, err_number_unique_within_a_direction)
{
	struct mt_ruleset *rs = parse(doc(RULE(""), RULE("")), NULL);
	char ingress[1024];

	/* AWS allows ingress 100 and egress 100 */
	cr_assert_eq(mt_ruleset_count(rs), 2);
	mt_ruleset__destroy(rs);
	snprintf(ingress, sizeof(ingress), "%s, %s", RULE(""), RULE(""));
	expect_error(
		doc(ingress, ""), NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[1].RuleNumber: ",
		"rule 100 (ingress) already defined at TrafficMirrorFilters[0].IngressFilterRules[0]",
		NULL);
}

Test(rules_aws, err_direction_must_match_the_list)
{
	expect_error(
		doc(RULE(", \"TrafficDirection\": \"egress\""), ""), NULL,
		"t.json: TrafficMirrorFilters[0].IngressFilterRules[0].TrafficDirection: ",
		"'egress'", "expected ingress", NULL);
}
