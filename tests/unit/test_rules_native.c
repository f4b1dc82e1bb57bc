// SPDX-License-Identifier: GPL-2.0-only
/*
 * The native rules file: what a good file turns into, what each mistake
 * says (file:line:column and the fix), and that the writer's output reads
 * back as the same rules.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "mirror-target/rules.h"

static struct mt_ruleset *parse(const char *text)
{
	struct mt_err err = { { 0 } };
	struct mt_ruleset *rs;

	rs = mt_ruleset__parse_native("t.rules", text, strlen(text), &err);
	cr_assert_not_null(rs, "parse failed: %s", err.msg);
	return rs;
}

/* The message must start with where and contain every key word. */
static void expect_error(const char *text, const char *where, ...)
{
	struct mt_err err = { { 0 } };
	struct mt_ruleset *rs;
	const char *word;
	va_list ap;

	rs = mt_ruleset__parse_native("t.rules", text, strlen(text), &err);
	cr_assert_null(rs, "accepted: %s", text);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(strncmp(err.msg, where, strlen(where)), 0,
		     "expected '%s' at the start of '%s'", where, err.msg);
	va_start(ap, where);
	while ((word = va_arg(ap, const char *)))
		cr_assert_not_null(strstr(err.msg, word), "'%s' not in '%s'",
				   word, err.msg);
	va_end(ap);
}

static const char design_example[] =
	"# number action direction protocol source        destination     options\n"
	"  100    reject ingress   tcp      0.0.0.0/0     10.0.0.0/16     dport=22\n"
	"  200    accept ingress   all      0.0.0.0/0     0.0.0.0/0\n"
	"  300    accept egress    udp      10.0.0.0/8    0.0.0.0/0       sport=1024-65535 dport=53 vni=43,42 desc=\"dns out\"\n"
	"  400    accept any       icmpv6   ::/0          ::/0\n";

Test(rules_native, design_example)
{
	struct mt_ruleset *rs = parse(design_example);
	const struct mt_rule *r;
	char buf[MT_IP_STRLEN];

	cr_assert_eq(mt_ruleset_count(rs), 4);
	r = mt_ruleset_rule(rs, 0);
	cr_assert_eq(r->number, 100);
	cr_assert_eq(r->action, MT_ACTION_REJECT);
	cr_assert_eq(r->dir, MT_RULE_INGRESS);
	cr_assert_eq(r->proto, 6);
	cr_assert_str_eq(mt_cidr_format(&r->dst, buf), "10.0.0.0/16");
	cr_assert(r->has_dport && !r->has_sport);
	cr_assert_eq(r->dport_lo, 22);
	cr_assert_eq(r->dport_hi, 22);
	cr_assert_eq(r->line, 2);

	r = mt_ruleset_rule(rs, 1);
	cr_assert_eq(r->proto, MT_PROTO_ALL);
	cr_assert_eq(r->nvnis, 0);

	r = mt_ruleset_rule(rs, 2);
	cr_assert_eq(r->dir, MT_RULE_EGRESS);
	cr_assert_eq(r->proto, 17);
	cr_assert_eq(r->sport_lo, 1024);
	cr_assert_eq(r->sport_hi, 65535);
	cr_assert_eq(r->nvnis, 2);
	cr_assert_eq(r->vnis[0], 42); /* sorted */
	cr_assert_eq(r->vnis[1], 43);
	cr_assert_str_eq(r->desc, "dns out");

	r = mt_ruleset_rule(rs, 3);
	cr_assert_eq(r->dir, MT_RULE_ANY);
	cr_assert_eq(r->proto, 58);
	cr_assert_eq(r->src.addr.family, AF_INET6);
	cr_assert_eq(r->src.len, 0);
	mt_ruleset__destroy(rs);
}

Test(rules_native, empty_comments_crlf_bare_addresses)
{
	struct mt_ruleset *rs = parse("");
	const struct mt_rule *r;

	cr_assert_eq(mt_ruleset_count(rs), 0);
	mt_ruleset__destroy(rs);
	rs = parse("# only comments\n\n   \t\n# x\n");
	cr_assert_eq(mt_ruleset_count(rs), 0);
	mt_ruleset__destroy(rs);

	rs = parse("10\taccept egress 47 192.0.2.7 192.0.2.8/32 # gre\r\n"
		   "20 accept egress 0 2001:db8::1 2001:db8::/32\r\n");
	cr_assert_eq(mt_ruleset_count(rs), 0 + 2);
	r = mt_ruleset_rule(rs, 0);
	cr_assert_eq(r->proto, 47);
	cr_assert_eq(r->src.len, 32);
	r = mt_ruleset_rule(rs, 1);
	cr_assert_eq(r->proto, 0);
	cr_assert_eq(r->src.len, 128);
	mt_ruleset__destroy(rs);
}

Test(rules_native, mixed_family_in_one_rule_is_an_error)
{
	/* the bare IPv4 source above is a /32: family must still agree */
	expect_error("10 accept egress gre 192.0.2.7 2001:db8::1\n",
		     "t.rules:1:32: ", "IPv4", "IPv6", "one rule per family",
		     NULL);
}

Test(rules_native, protocol_names)
{
	struct mt_ruleset *rs = parse("1 accept any gre 0.0.0.0/0 0.0.0.0/0\n"
				      "2 accept any ESP 0.0.0.0/0 0.0.0.0/0\n"
				      "3 accept any sctp 0.0.0.0/0 0.0.0.0/0\n"
				      "4 accept any icmp 0.0.0.0/0 0.0.0.0/0\n"
				      "5 accept any 255 0.0.0.0/0 0.0.0.0/0\n");

	cr_assert_eq(mt_ruleset_rule(rs, 0)->proto, 47);
	cr_assert_eq(mt_ruleset_rule(rs, 1)->proto, 50);
	cr_assert_eq(mt_ruleset_rule(rs, 2)->proto, 132);
	cr_assert_eq(mt_ruleset_rule(rs, 3)->proto, 1);
	cr_assert_eq(mt_ruleset_rule(rs, 4)->proto, 255);
	cr_assert_str_eq(mt_proto_name(58), "icmpv6");
	cr_assert_eq(mt_proto_parse("ipv6-icmp"), 58);
	cr_assert_eq(mt_proto_parse("nonsense"), -1);
	cr_assert_null(mt_proto_name(253));
	mt_ruleset__destroy(rs);
}

Test(rules_native, desc_escapes)
{
	struct mt_ruleset *rs = parse(
		"1 accept any all 0.0.0.0/0 0.0.0.0/0 desc=\"say \\\"hi\\\" # not a comment \\\\ ok\"\n");

	cr_assert_str_eq(mt_ruleset_rule(rs, 0)->desc,
			 "say \"hi\" # not a comment \\ ok");
	mt_ruleset__destroy(rs);
}

Test(rules_native, err_reversed_port_range)
{
	expect_error(
		"# x\n100 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 dport=80-20\n",
		"t.rules:2:44: ", "port range 80-20 is reversed", "write 20-80",
		NULL);
}

Test(rules_native, err_ports_need_tcp_or_udp)
{
	expect_error("100 accept ingress icmp 0.0.0.0/0 0.0.0.0/0 sport=1\n",
		     "t.rules:1:45: ", "tcp or udp", "not icmp", NULL);
	expect_error("100 accept ingress all 0.0.0.0/0 0.0.0.0/0 dport=1\n",
		     "t.rules:1:44: ", "tcp or udp", "not all", NULL);
}

Test(rules_native, err_mixed_families)
{
	expect_error("100 accept ingress all 0.0.0.0/0 ::/0\n",
		     "t.rules:1:34: ", "source 0.0.0.0/0 is IPv4",
		     "destination ::/0 is IPv6", NULL);
}

Test(rules_native, err_duplicate_number)
{
	expect_error("\n\n100 accept ingress all 0.0.0.0/0 0.0.0.0/0\n"
		     "100 accept egress all 0.0.0.0/0 0.0.0.0/0\n"
		     "  100 reject ingress tcp 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:5:3: ",
		     "rule 100 (ingress) already defined at line 3", NULL);
}

Test(rules_native, err_any_conflicts_with_either_direction)
{
	expect_error("100 accept egress all 0.0.0.0/0 0.0.0.0/0\n"
		     "100 accept any all 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:2:1: ", "rule 100 (any)", "100 (egress)",
		     "line 1", NULL);
	expect_error("7 accept any all 0.0.0.0/0 0.0.0.0/0\n"
		     "7 accept ingress all 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:2:1: ", "rule 7 (ingress)", "7 (any)", "line 1",
		     NULL);
}

Test(rules_native, err_number_range)
{
	expect_error("0 accept ingress all 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:1:1: ", "rule number 0 is out of range",
		     "1-32766", NULL);
	expect_error("32767 accept ingress all 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:1:1: ", "32767", "1-32766", NULL);
	expect_error("x1 accept ingress all 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:1:1: ", "'x1' is not a number", NULL);
}

Test(rules_native, err_unknown_protocol)
{
	expect_error("1 accept ingress tcpp 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:1:18: ", "unknown protocol 'tcpp'", "0-255",
		     NULL);
	expect_error("1 accept ingress 256 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:1:18: ", "256", "0-255", NULL);
}

Test(rules_native, err_host_bits)
{
	expect_error("1 accept ingress all 10.0.0.1/8 0.0.0.0/0\n",
		     "t.rules:1:22: ",
		     "10.0.0.1/8 has host bits set; the network is 10.0.0.0/8",
		     NULL);
	expect_error("1 accept ingress all ::/0 2001:db8::1/32\n",
		     "t.rules:1:27: ", "the network is 2001:db8::/32", NULL);
	expect_error("1 accept ingress all 10.0.0.0/33 0.0.0.0/0\n",
		     "t.rules:1:22: ", "not a CIDR", "192.0.2.0/24", NULL);
}

Test(rules_native, err_action_and_direction)
{
	expect_error("1 allow ingress all 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:1:3: ", "unknown action 'allow'",
		     "accept or reject", NULL);
	expect_error("1 accept in all 0.0.0.0/0 0.0.0.0/0\n",
		     "t.rules:1:10: ", "unknown direction 'in'",
		     "ingress, egress or any", NULL);
}

Test(rules_native, err_unknown_option)
{
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 port=80\n",
		     "t.rules:1:42: ", "unknown option 'port'", "dport=", NULL);
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 80\n",
		     "t.rules:1:42: ", "unexpected '80'", "sport=", NULL);
}

Test(rules_native, err_missing_fields)
{
	expect_error("1 accept ingress tcp 0.0.0.0/0\n",
		     "t.rules:1:31: ", "missing destination",
		     "NUMBER ACTION DIRECTION", NULL);
	expect_error("1 accept # rest is a comment\n",
		     "t.rules:1:9: ", "missing direction", NULL);
}

Test(rules_native, err_bad_ports)
{
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 sport=65536\n",
		     "t.rules:1:42: ", "port 65536", "0-65535", NULL);
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 dport=1-70000\n",
		     "t.rules:1:42: ", "port 70000", "0-65535", NULL);
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 dport=http\n",
		     "t.rules:1:42: ", "bad port 'http'", "N or N-M", NULL);
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 dport=\n",
		     "t.rules:1:42: ", "bad port", NULL);
}

Test(rules_native, err_bad_vni)
{
	expect_error(
		"1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 vni=1,16777216\n",
		"t.rules:1:42: ", "VNI 16777216", "24 bits", "16777215", NULL);
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 vni=1,,2\n",
		     "t.rules:1:42: ", "bad VNI", "separated by commas", NULL);
}

Test(rules_native, err_unterminated_quote)
{
	expect_error(
		"1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 desc=\"abc def\n",
		"t.rules:1:47: ", "unterminated quote", NULL);
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 desc=\"ab\\\"\n",
		     "t.rules:1:47: ", "unterminated quote", NULL);
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 desc=abc\n",
		     "t.rules:1:42: ", "double quotes", NULL);
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 desc=\"a\\n\"\n",
		     "t.rules:1:49: ", "unknown escape", NULL);
}

Test(rules_native, err_duplicate_option)
{
	expect_error(
		"1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 dport=1 dport=2\n",
		"t.rules:1:50: ", "dport= given twice", "first at column 42",
		NULL);
}

Test(rules_native, first_error_wins)
{
	expect_error("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 dport=9-1\n"
		     "0 bogus\n",
		     "t.rules:1:42: ", "reversed", NULL);
}

Test(rules_native, err_control_character)
{
	static const char text[] = "1 accept\0 ingress";

	struct mt_err err = { { 0 } };

	cr_assert_null(mt_ruleset__parse_native("t.rules", text,
						sizeof(text) - 1, &err));
	cr_assert(strstr(err.msg, "t.rules:1:9: ") == err.msg, "%s", err.msg);
	cr_assert_not_null(strstr(err.msg, "control character 0x00"));
}

static bool same_rule(const struct mt_rule *a, const struct mt_rule *b)
{
	if (a->number != b->number || a->action != b->action ||
	    a->dir != b->dir || a->proto != b->proto ||
	    a->has_sport != b->has_sport || a->has_dport != b->has_dport ||
	    a->src.len != b->src.len || a->dst.len != b->dst.len ||
	    !mt_ip_equal(&a->src.addr, &b->src.addr) ||
	    !mt_ip_equal(&a->dst.addr, &b->dst.addr) || a->nvnis != b->nvnis ||
	    strcmp(a->desc, b->desc))
		return false;
	if (a->has_sport &&
	    (a->sport_lo != b->sport_lo || a->sport_hi != b->sport_hi))
		return false;
	if (a->has_dport &&
	    (a->dport_lo != b->dport_lo || a->dport_hi != b->dport_hi))
		return false;
	for (size_t i = 0; i < a->nvnis; i++)
		if (a->vnis[i] != b->vnis[i])
			return false;
	return true;
}

Test(rules_native, write_then_load_gives_the_same_rules)
{
	static const char extra[] =
		"500 reject ingress 253 2001:db8::/32 2001:db8:1::5\n"
		"600 accept egress tcp 192.0.2.0/24 192.0.2.128/25 sport=7 dport=0-65535 desc=\"q\\\"uote \\\\ and # hash\"\n";
	char dir[64], path[128], text[2048], line[512];
	struct mt_err err = { { 0 } };
	struct mt_ruleset *a, *b;
	FILE *f;

	snprintf(text, sizeof(text), "%s%s", design_example, extra);
	a = parse(text);
	cr_assert_not_null(mt_fx_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/out.rules", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(mt_ruleset_write_native(a, f), 0);
	fclose(f);

	b = mt_ruleset__load(path, NULL, &err);
	cr_assert_not_null(b, "%s", err.msg);
	cr_assert_eq(mt_ruleset_count(b), 6);
	for (size_t i = 0; i < mt_ruleset_count(a); i++) {
		mt_rule_format(mt_ruleset_rule(a, i), line, sizeof(line));
		cr_assert(same_rule(mt_ruleset_rule(a, i),
				    mt_ruleset_rule(b, i)),
			  "rule %zu differs after the round trip: %s", i, line);
	}
	mt_rule_format(mt_ruleset_rule(a, 2), line, sizeof(line));
	cr_assert_not_null(
		strstr(line,
		       "sport=1024-65535 dport=53 vni=42,43 desc=\"dns out\""),
		"%s", line);
	mt_ruleset__destroy(b);
	mt_ruleset__destroy(a);
	mt_fx_rmtree(dir);
}

Test(rules_native, load_errors_name_the_file)
{
	struct mt_err err = { { 0 } };
	char dir[64], path[128];
	FILE *f;

	cr_assert_null(mt_ruleset__load("/nonexistent/x.rules", NULL, &err));
	cr_assert_eq(errno, ENOENT);
	cr_assert_not_null(strstr(err.msg, "/nonexistent/x.rules"));

	cr_assert_not_null(mt_fx_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/bad.rules", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("1 accept ingress tcp 0.0.0.0/0 0.0.0.0/0 dport=80-20\n", f);
	fclose(f);
	cr_assert_null(mt_ruleset__load(path, NULL, &err));
	cr_assert_eq(strncmp(err.msg, path, strlen(path)), 0, "%s", err.msg);
	cr_assert_not_null(strstr(err.msg, ":1:42: port range 80-20"), "%s",
			   err.msg);
	mt_fx_rmtree(dir);
}

Test(rules_native, create_rejects_invalid_rules)
{
	struct mt_err err = { { 0 } };
	struct mt_rule r[2];

	memset(r, 0, sizeof(r));
	for (int i = 0; i < 2; i++) {
		r[i].number = 5;
		r[i].dir = MT_RULE_INGRESS;
		r[i].proto = MT_PROTO_ALL;
		mt_cidr_parse("0.0.0.0/0", &r[i].src);
		mt_cidr_parse("0.0.0.0/0", &r[i].dst);
	}
	cr_assert_null(mt_ruleset__create(r, 2, &err));
	cr_assert_not_null(strstr(err.msg, "rule 5 (ingress)"), "%s", err.msg);
	r[1].dir = MT_RULE_EGRESS;
	r[1].has_dport = true;
	cr_assert_null(mt_ruleset__create(r, 2, &err));
	cr_assert_not_null(strstr(err.msg, "tcp or udp"), "%s", err.msg);
}
