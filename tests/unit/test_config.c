// SPDX-License-Identifier: GPL-2.0-only
/*
 * The config file: every type, every error message (with line and column
 * as the user sees them), command-line overrides, defaults, sessions, and
 * dump -> parse round trips, including the committed example config.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "mirror-target/config.h"

static struct mt_config *cfg;

static void setup(void)
{
	cfg = malloc(sizeof(*cfg));
	cr_assert(cfg);
	mt_config_init(cfg);
}

static void teardown(void)
{
	mt_config_free(cfg);
	free(cfg);
}

TestSuite(config, .init = setup, .fini = teardown);

static int parse(const char *text, struct mt_err *err)
{
	return mt_config_parse(cfg, "t.conf", text, strlen(text), err);
}

/* Parses text into a fresh config and checks the exact error message. */
static void expect_error(const char *text, const char *msg)
{
	struct mt_err err = { "" };
	int ret;

	mt_config_free(cfg);
	mt_config_init(cfg);
	ret = parse(text, &err);
	cr_assert_eq(ret, -EINVAL, "accepted: %s", text);
	cr_assert_str_eq(err.msg, msg);
}

static const char *source_path(const char *rel, char *buf, size_t size)
{
	const char *src = getenv("MT_SOURCE_DIR");

	if (src) {
		snprintf(buf, size, "%s/%s", src, rel);
	} else {
		/* __FILE__ is .../tests/unit/test_config.c */
		const char *f = __FILE__;
		size_t n = strlen(f) - strlen("tests/unit/test_config.c");

		snprintf(buf, size, "%.*s%s", (int)n, f, rel);
	}
	return buf;
}

static char *dump_to_string(const struct mt_config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert(f);
	mt_config_dump(c, f);
	fclose(f);
	return text;
}

Test(config, defaults)
{
	struct mt_segment_config seg;

	cr_assert_str_eq(cfg->interface, "");
	cr_assert_eq(cfg->vxlan_port, 4789);
	cr_assert_str_eq(cfg->queues, "all");
	cr_assert_str_eq(cfg->bind_mode, "auto");
	cr_assert_str_eq(cfg->xdp_mode, "native");
	cr_assert_eq(cfg->busy_poll, false);
	cr_assert_eq(cfg->batch_size, 64);
	cr_assert_eq(cfg->frame_size, 4096);
	cr_assert_eq(cfg->ring_size, 8192);
	cr_assert_eq(cfg->nallow_sources, 0);
	cr_assert_eq(cfg->nallow_vnis, 0);
	cr_assert_eq(cfg->writer_buffer, 1024 * 1024);
	cr_assert_str_eq(cfg->rules, "");
	cr_assert_str_eq(cfg->filter_id, "");
	cr_assert_str_eq(cfg->control_socket,
			 "/run/mirror-target/control.sock");
	cr_assert_str_eq(cfg->metrics_listen, "");
	cr_assert_eq(cfg->sessions.n, 0);
	mt_segment_config_default(&seg);
	cr_assert(!memcmp(&seg, &cfg->seg, sizeof(seg)),
		  "[output] defaults differ from mt_segment_config_default()");
	cr_assert_eq(mt_config_validate(cfg, NULL), 0);
}

Test(config, empty_file_keeps_defaults)
{
	struct mt_config *fresh = malloc(sizeof(*fresh));

	mt_config_init(fresh);
	cr_assert_eq(parse("# nothing\n\n; here\n", NULL), 0);
	cr_assert(!memcmp(fresh, cfg, sizeof(*cfg)));
	mt_config_free(fresh);
	free(fresh);
}

Test(config, every_setting_from_fixture_file)
{
	char path[4096];
	struct mt_err err = { "" };
	char ip[MT_IP_STRLEN];
	const struct mt_session *s;

	source_path("tests/unit/data/config/full.conf", path, sizeof(path));
	cr_assert_eq(mt_config_load(cfg, path, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cfg->interface, "eth1");
	cr_assert_eq(cfg->vxlan_port, 4790);
	cr_assert_str_eq(cfg->queues, "0,2-3");
	cr_assert_str_eq(cfg->bind_mode, "copy");
	cr_assert_str_eq(cfg->xdp_mode, "generic");
	cr_assert_eq(cfg->busy_poll, true);
	cr_assert_eq(cfg->batch_size, 32);
	cr_assert_eq(cfg->frame_size, 2048);
	cr_assert_eq(cfg->ring_size, 4096);
	cr_assert_eq(cfg->nallow_sources, 2);
	cr_assert_str_eq(mt_cidr_format(&cfg->allow_sources[0], ip),
			 "198.18.0.0/15");
	cr_assert_str_eq(mt_cidr_format(&cfg->allow_sources[1], ip),
			 "2001:db8::/32");
	cr_assert_eq(cfg->nallow_vnis, 3);
	cr_assert_eq(cfg->allow_vnis[0], 42);
	cr_assert_eq(cfg->allow_vnis[1], 43);
	cr_assert_eq(cfg->allow_vnis[2], 16777215);

	cr_assert_str_eq(cfg->seg.dir, "/srv/mirror");
	cr_assert_str_eq(cfg->seg.prefix, "web");
	cr_assert_eq(cfg->seg.snaplen, 9000);
	cr_assert_eq(cfg->seg.nanosecond, false);
	cr_assert_eq(cfg->seg.rotate_bytes, 512ull << 20);
	cr_assert_eq(cfg->seg.rotate_interval, 3600);
	cr_assert_eq(cfg->seg.rotate_idle, 90);
	cr_assert_eq(cfg->seg.keep_segments, 100);
	cr_assert_eq(cfg->seg.keep_bytes, 20ull << 30);
	cr_assert_eq(cfg->seg.min_free_bytes, 2ull << 40);
	cr_assert_eq(cfg->seg.stop_when_full, true);
	cr_assert_eq(cfg->seg.compress, true);
	cr_assert_eq(cfg->seg.compress_level, 9);
	cr_assert_str_eq(
		cfg->seg.hook,
		"aws s3 cp \"$1\" s3://bucket/mirror/ # not a comment");
	cr_assert_eq(cfg->seg.hook_parallel, 4);
	cr_assert_eq(cfg->seg.hook_queue, 128);
	cr_assert_eq(cfg->seg.hook_timeout, 5400);
	cr_assert_eq(cfg->writer_buffer, 2 << 20);

	cr_assert_str_eq(cfg->rules, "/etc/mirror-target/filters.json");
	cr_assert_str_eq(cfg->filter_id, "tmf-0123456789abcdef0");
	cr_assert_str_eq(cfg->control_socket, "/run/mt.sock");
	cr_assert_str_eq(cfg->metrics_listen, "[::1]:9464");

	/* Sorted by VNI, whatever the file order. */
	cr_assert_eq(cfg->sessions.n, 2);
	cr_assert_eq(cfg->sessions.v[0].vni, 42);
	cr_assert_str_eq(cfg->sessions.v[0].name, "web-1");
	cr_assert_eq(cfg->sessions.v[1].vni, 43);
	cr_assert_str_eq(cfg->sessions.v[1].name, "db.primary");
	s = mt_sessions_find(&cfg->sessions, 42);
	cr_assert(s);
	cr_assert_eq(s->naddrs, 2);
	cr_assert_str_eq(mt_ip_format(&s->addrs[0], ip), "192.0.2.10");
	cr_assert_str_eq(mt_ip_format(&s->addrs[1], ip), "2001:db8::10");
	cr_assert_eq(mt_sessions_find(&cfg->sessions, 43)->naddrs, 0);
	cr_assert_eq(mt_config_validate(cfg, &err), 0, "%s", err.msg);
}

Test(config, parse_size)
{
	static const struct {
		const char *s;
		int ret;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "4095", 0, 4095 },
		{ "64K", 0, 65536 },
		{ "64k", 0, 65536 },
		{ "1M", 0, 1048576 },
		{ "1MB", 0, 1048576 },
		{ "1MiB", 0, 1048576 },
		{ "3G", 0, 3ull << 30 },
		{ "2T", 0, 2ull << 40 },
		{ "16777215T", 0, 16777215ull << 40 },
		{ "16777216T", -ERANGE, 0 },
		{ "99999999999999999999", -ERANGE, 0 },
		{ "12Q", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "K", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ " 1K", -EINVAL, 0 },
		{ "1K ", -EINVAL, 0 },
		{ "1.5G", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;

		cr_assert_eq(mt_parse_size(cases[i].s, &v), cases[i].ret,
			     "\"%s\"", cases[i].s);
		if (!cases[i].ret)
			cr_assert_eq(v, cases[i].v, "\"%s\"", cases[i].s);
	}
}

Test(config, parse_duration)
{
	static const struct {
		const char *s;
		int ret;
		uint32_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "30", 0, 30 },
		{ "30s", 0, 30 },
		{ "5m", 0, 300 },
		{ "1h", 0, 3600 },
		{ "2d", 0, 172800 },
		{ "1h30m", 0, 5400 },
		{ "1d12h", 0, 129600 },
		{ "4294967295", 0, 4294967295u },
		{ "4294967296", -ERANGE, 0 },
		{ "49711d", -ERANGE, 0 },
		{ "5x", -EINVAL, 0 },
		{ "m", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "1h30", -EINVAL, 0 },
		{ "5M", -EINVAL, 0 },
		{ "-5s", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t v = 12345;

		cr_assert_eq(mt_parse_duration(cases[i].s, &v), cases[i].ret,
			     "\"%s\"", cases[i].s);
		if (!cases[i].ret)
			cr_assert_eq(v, cases[i].v, "\"%s\"", cases[i].s);
	}
}

Test(config, format_helpers_read_back)
{
	static const uint64_t sizes[] = { 0,	      1,	  1023,
					  1024,	      65536,	  1536,
					  1ull << 30, 5ull << 40, 3ull << 50 };
	char buf[32];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t v;

		mt_format_size(sizes[i], buf, sizeof(buf));
		cr_assert_eq(mt_parse_size(buf, &v), 0, "%s", buf);
		cr_assert_eq(v, sizes[i], "%s", buf);
	}
	mt_format_size(1 << 20, buf, sizeof(buf));
	cr_assert_str_eq(buf, "1M");
	mt_format_duration(5400, buf, sizeof(buf));
	cr_assert_str_eq(buf, "90m");
	mt_format_duration(0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0s");
}

Test(config, booleans)
{
	static const char *const yes[] = { "yes", "true", "on",
					   "1",	  "YES",  "True" };
	static const char *const no[] = { "no", "false", "off", "0", "Off" };
	char text[128];

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		cfg->busy_poll = false;
		snprintf(text, sizeof(text), "[capture]\nbusy_poll = %s\n",
			 yes[i]);
		cr_assert_eq(parse(text, NULL), 0, "%s", yes[i]);
		cr_assert_eq(cfg->busy_poll, true, "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		cfg->busy_poll = true;
		snprintf(text, sizeof(text), "[capture]\nbusy_poll = %s\n",
			 no[i]);
		cr_assert_eq(parse(text, NULL), 0, "%s", no[i]);
		cr_assert_eq(cfg->busy_poll, false, "%s", no[i]);
	}
}

Test(config, syntax_variants)
{
	/* BOM, CRLF, indentation, ';' comments, '=' without spaces, comment
	 * after a header, empty value. */
	const char *text = "\xef\xbb\xbf; leading comment\r\n"
			   "  [ output ]  # the output\r\n"
			   "\tprefix=edge\r\n"
			   "hook =\r\n"
			   "[capture]\n"
			   "vxlan_port   =    8472   \n";
	struct mt_err err = { "" };

	cr_assert_eq(parse(text, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cfg->seg.prefix, "edge");
	cr_assert_str_eq(cfg->seg.hook, "");
	cr_assert_eq(cfg->vxlan_port, 8472);
}

Test(config, error_bad_size)
{
	expect_error("[output]\nrotate_size = 12Q\n",
		     "t.conf:2:15: rotate_size \"12Q\" is not a size; use a "
		     "number with an optional K, M, G or T suffix");
	expect_error("[output]\nwriter_buffer = 1K\n",
		     "t.conf:2:17: writer_buffer 1K is out of range; use a "
		     "size from 4K to 1G");
	expect_error(
		"[output]\nrotate_size = 1M # per file\n",
		"t.conf:2:15: rotate_size \"1M # per file\" is not a size; "
		"use a number with an optional K, M, G or T suffix "
		"(comments must be on their own line)");
}

Test(config, error_bad_duration)
{
	expect_error("[output]\n  rotate_interval = 5x\n",
		     "t.conf:2:21: rotate_interval \"5x\" is not a duration; "
		     "use a number with an optional s, m, h or d suffix, e.g. "
		     "30s, 5m, 1h");
	expect_error("[output]\nrotate_interval = 8d\n",
		     "t.conf:2:19: rotate_interval 8d is out of range; use a "
		     "duration from 0s to 7d");
}

Test(config, error_bad_uint)
{
	expect_error("[capture]\nvxlan_port = 70000\n",
		     "t.conf:2:14: vxlan_port 70000 is out of range; use a "
		     "number from 1 to 65535");
	expect_error("[capture]\nvxlan_port = 0\n",
		     "t.conf:2:14: vxlan_port 0 is out of range; use a number "
		     "from 1 to 65535");
	expect_error("[capture]\nbatch_size = lots\n",
		     "t.conf:2:14: batch_size \"lots\" is not a number; use a "
		     "whole number from 1 to 4096");
	expect_error("[output]\ncompress_level = 99999999999999999999999\n",
		     "t.conf:2:18: compress_level 99999999999999999999999 is "
		     "out of range; use a number from 1 to 9");
}

Test(config, error_bad_bool_and_enum)
{
	expect_error("[capture]\nbusy_poll = maybe\n",
		     "t.conf:2:13: busy_poll \"maybe\" is not a boolean; use "
		     "yes or no (or true/false, on/off, 1/0)");
	expect_error("[capture]\nbind_mode = fast\n",
		     "t.conf:2:13: bind_mode \"fast\" is not one of auto, "
		     "zerocopy, copy");
	expect_error("[capture]\nxdp_mode = skb\n",
		     "t.conf:2:12: xdp_mode \"skb\" is not one of native, "
		     "generic");
	expect_error("[output]\nformat = pcapng\n",
		     "t.conf:2:10: format \"pcapng\" is not one of pcap-ns, "
		     "pcap-us");
	expect_error("[output]\non_full = block\n",
		     "t.conf:2:11: on_full \"block\" is not one of overwrite, "
		     "stop");
}

Test(config, error_bad_strings)
{
	expect_error("[capture]\ninterface = a-very-long-ifname0\n",
		     "t.conf:2:13: interface \"a-very-long-ifname0\" is too "
		     "long; use at most 15 characters");
	expect_error("[capture]\ninterface = eth0/1\n",
		     "t.conf:2:13: interface \"eth0/1\" is not an interface "
		     "name; use a name such as eth1 (see ip link)");
	expect_error("[capture]\nqueues = 3-1\n",
		     "t.conf:2:10: queues \"3-1\" has a reversed range 3-1; "
		     "write 1-3");
	expect_error(
		"[capture]\nqueues = some\n",
		"t.conf:2:10: queues \"some\" is not a queue list; use all, "
		"or queue numbers and ranges such as 0,2-3");
	expect_error("[output]\nprefix = a/b\n",
		     "t.conf:2:10: prefix \"a/b\" has a '/'; use letters, "
		     "digits, '-', '_' and '.'");
	expect_error("[output]\ndirectory =\n",
		     "t.conf:2:12: directory \"\" is empty; name the directory "
		     "for the segments, e.g. /var/lib/mirror-target/segments");
	expect_error(
		"[control]\nmetrics_listen = 9464\n",
		"t.conf:2:18: metrics_listen \"9464\" is not HOST:PORT; use "
		"e.g. 127.0.0.1:9464, [::1]:9464 or :9464 (every "
		"address)");
}

Test(config, error_bad_lists)
{
	expect_error(
		"[capture]\nallow_sources = 198.18.0.0/15, 10.0.0.1/33\n",
		"t.conf:2:32: allow_sources \"10.0.0.1/33\" is not a CIDR; "
		"use ADDRESS/LENGTH, e.g. 198.18.0.0/15 or 2001:db8::/32");
	expect_error("[capture]\nallow_sources = 198.18.0.1/15\n",
		     "t.conf:2:17: allow_sources \"198.18.0.1/15\" has host "
		     "bits set; did you mean 198.18.0.0/15?");
	expect_error("[capture]\nallow_vnis = 42,,43\n",
		     "t.conf:2:17: allow_vnis has an empty item; separate "
		     "values with single commas");
	expect_error("[capture]\nallow_vnis = 42, 43,\n",
		     "t.conf:2:21: allow_vnis ends with a comma; remove it or "
		     "add a value");
	expect_error("[capture]\nallow_vnis = 42, 16777216\n",
		     "t.conf:2:18: allow_vnis 16777216 is out of range; a VNI "
		     "has 24 bits (0 to 16777215)");
	expect_error(
		"[capture]\nallow_vnis = 42, web\n",
		"t.conf:2:18: allow_vnis \"web\" is not a VNI; use numbers "
		"from 0 to 16777215 separated by commas");
	expect_error("[session a]\nvni = 1\naddresses = 192.0.2.1, "
		     "192.0.2.300\n",
		     "t.conf:3:24: addresses \"192.0.2.300\" is not an IP "
		     "address; use IPv4 or IPv6 addresses separated by "
		     "commas");
}

Test(config, list_too_long)
{
	char *text = malloc(64 * 1024);
	size_t n = 0;

	n += sprintf(text + n, "[capture]\nallow_vnis = 0");
	for (int i = 1; i <= MT_ALLOW_MAX; i++)
		n += sprintf(text + n, ",%d", i);
	expect_error(text, "t.conf:2:14: allow_vnis has 257 entries; at most "
			   "256 are supported");
	free(text);
}

Test(config, error_unknown_keys_and_sections)
{
	expect_error("[output]\nrotate_sise = 1M\n",
		     "t.conf:2:1: unknown key \"rotate_sise\" in [output]; did "
		     "you mean rotate_size?");
	expect_error("[output]\n  colour = blue\n",
		     "t.conf:2:3: unknown key \"colour\" in [output] "
		     "(mirror-targetd --dump-config lists every setting)");
	expect_error("[capture]\nrotate_size = 1M\n",
		     "t.conf:2:1: rotate_size belongs in [output], not in "
		     "[capture]");
	expect_error("[capture]\nvni = 4\n",
		     "t.conf:2:1: vni belongs in [session NAME], not in "
		     "[capture]");
	expect_error("\n[outptu]\n",
		     "t.conf:2:2: unknown section [outptu]; did you mean "
		     "[output]?");
	expect_error("[pcap]\n",
		     "t.conf:1:2: unknown section [pcap]; use [capture], "
		     "[output], [filter], [control] or [session NAME]");
	expect_error("vxlan_port = 4789\n",
		     "t.conf:1:1: vxlan_port is outside any section; put it "
		     "under [capture]");
	expect_error("[output]\nprefix = a\nprefix = b\n",
		     "t.conf:3:1: prefix is set twice in [output] (first on "
		     "line 2)");
}

Test(config, error_syntax)
{
	expect_error("[capture]\n  vxlan_port 4789\n",
		     "t.conf:2:3: missing '=' after \"vxlan_port 4789\"; write "
		     "\"key = value\"");
	expect_error("# x\n[output\nprefix = a\n",
		     "t.conf:2:1: unterminated section header \"[output\"; add "
		     "the closing ']'");
	expect_error("[output] prefix = a\n",
		     "t.conf:1:10: unexpected \"prefix = a\" after the section "
		     "header");
	expect_error("[output]\n= 5\n", "t.conf:2:1: missing key before '='");
	expect_error("[capture x]\n",
		     "t.conf:1:10: section [capture] takes no name; only "
		     "[session NAME] does");
	expect_error(
		"[output]\nprefix = a\n[output]\nprefix = b\n",
		"t.conf:4:1: prefix is set twice in [output] (first on line 2)");
}

Test(config, error_nul_byte)
{
	static const char text[] = "[output]\nprefix = a\0b\n";
	struct mt_err err = { "" };

	cr_assert_eq(mt_config_parse(cfg, "t.conf", text, sizeof(text) - 1,
				     &err),
		     -EINVAL);
	cr_assert_str_eq(err.msg, "t.conf:2:11: NUL byte in the file; is it a "
				  "text file?");
}

Test(config, sessions)
{
	const char *text = "[session b]\nvni = 7\n"
			   "[session a]\nvni = 3\naddresses = 192.0.2.1\n"
			   "[session c]\nvni = 16777215\n";
	struct mt_err err = { "" };

	cr_assert_eq(parse(text, &err), 0, "%s", err.msg);
	cr_assert_eq(cfg->sessions.n, 3);
	cr_assert_str_eq(cfg->sessions.v[0].name, "a");
	cr_assert_str_eq(cfg->sessions.v[1].name, "b");
	cr_assert_str_eq(cfg->sessions.v[2].name, "c");
	cr_assert_eq(mt_sessions_find(&cfg->sessions, 16777215),
		     &cfg->sessions.v[2]);
	cr_assert_null(mt_sessions_find(&cfg->sessions, 4));
}

Test(config, session_errors)
{
	expect_error("[session web]\nvni = 1\n[session web]\nvni = 2\n",
		     "t.conf:3:10: [session web] is defined twice (first on "
		     "line 1)");
	expect_error("[session web]\nvni = 42\n\n[session db]\nvni = 42\n",
		     "t.conf:5:7: vni 42 is already used by [session web] "
		     "(line 1)");
	expect_error("[session web]\nvni = 16777216\n",
		     "t.conf:2:7: vni 16777216 is out of range; a VNI has 24 "
		     "bits (0 to 16777215)");
	expect_error("[session web]\naddresses = 192.0.2.1\n[output]\n",
		     "t.conf:1:1: [session web] has no vni; add \"vni = N\" "
		     "(the session's VirtualNetworkId)");
	expect_error("[capture]\n[session web]\n",
		     "t.conf:2:1: [session web] has no vni; add \"vni = N\" "
		     "(the session's VirtualNetworkId)");
	expect_error(
		"[session]\n",
		"t.conf:1:2: [session] needs a name, e.g. [session web-1]");
	expect_error(
		"[session a b]\nvni = 1\n",
		"t.conf:1:10: session name \"a b\" is not valid; use up to "
		"63 letters, digits, '-', '_' or '.'");
	expect_error("[session x]\nvni = 1\nvni = 2\n",
		     "t.conf:3:1: vni is set twice in [session x] (first on "
		     "line 2)");
}

Test(config, sessions_across_files)
{
	struct mt_err err = { "" };

	cr_assert_eq(parse("[session web]\nvni = 42\n", &err), 0);
	const char *more = "[session db]\nvni = 42\n";

	cr_assert_eq(mt_config_parse(cfg, "u.conf", more, strlen(more), &err),
		     -EINVAL);
	cr_assert_str_eq(err.msg, "u.conf:2:7: vni 42 is already used by "
				  "[session web]");
}

Test(config, set_overrides)
{
	struct mt_err err = { "" };

	cr_assert_eq(mt_config_set(cfg, "output", "rotate_size", "64M", &err),
		     0);
	cr_assert_eq(cfg->seg.rotate_bytes, 64ull << 20);
	cr_assert_eq(mt_config_set(cfg, "output", "format", "pcap-us", &err),
		     0);
	cr_assert_eq(cfg->seg.nanosecond, false);
	cr_assert_eq(mt_config_set(cfg, "capture", "allow_vnis", "5, 6", &err),
		     0);
	cr_assert_eq(cfg->nallow_vnis, 2);

	/* A bad value names the option and leaves the old value. */
	cr_assert_eq(mt_config_set(cfg, "output", "rotate_size", "12Q", &err),
		     -EINVAL);
	cr_assert_str_eq(err.msg, "rotate_size \"12Q\" is not a size; use a "
				  "number with an optional K, M, G or T "
				  "suffix");
	cr_assert_eq(cfg->seg.rotate_bytes, 64ull << 20);
	cr_assert_eq(mt_config_set(cfg, "capture", "allow_vnis", "7, x", &err),
		     -EINVAL);
	cr_assert_eq(cfg->nallow_vnis, 2, "a failed list must not half-apply");
	cr_assert_eq(cfg->allow_vnis[0], 5);

	/* Trimmed like a file value; never more than one line. */
	cr_assert_eq(mt_config_set(cfg, "output", "hook", "  upload \"$1\" ",
				   &err),
		     0);
	cr_assert_str_eq(cfg->seg.hook, "upload \"$1\"");
	cr_assert_eq(mt_config_set(cfg, "output", "hook", "a\nb", &err),
		     -EINVAL);
	cr_assert_str_eq(err.msg, "hook: a value must be one line");
	cr_assert_eq(mt_config_set(cfg, "output", "snaplenn", "9000", &err),
		     -EINVAL);
	cr_assert_str_eq(err.msg, "unknown key \"snaplenn\" in [output]; did "
				  "you mean snaplen?");
	cr_assert_eq(mt_config_set(cfg, "outputs", "snaplen", "9000", &err),
		     -EINVAL);
	cr_assert_str_eq(err.msg, "unknown section [outputs]");
	cr_assert_eq(mt_config_set(cfg, "session", "vni", "1", &err), -EINVAL);
	cr_assert_str_eq(err.msg, "session settings can only be given in the "
				  "config file, in [session NAME]");
}

Test(config, validate)
{
	struct mt_err err = { "" };

	cfg->batch_size = 4096;
	cfg->ring_size = 1024;
	cr_assert_eq(mt_config_validate(cfg, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "batch_size 4096 is larger than ring_size "
				  "1024; lower batch_size or raise ring_size");
	mt_config_init(cfg);
	cfg->ring_size = 1000;
	cr_assert_eq(mt_config_validate(cfg, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "ring_size 1000 is not a power of two; use "
				  "e.g. 1024, 2048 or 4096");
	mt_config_init(cfg);
	cfg->frame_size = 3000;
	cr_assert_eq(mt_config_validate(cfg, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "frame_size 3000 is not a power of two; use "
				  "2K or 4K");
	mt_config_init(cfg);
	cr_assert_eq(parse("[output]\nsnaplen = 262144\nwriter_buffer = 64K\n",
			   &err),
		     0);
	cr_assert_eq(mt_config_validate(cfg, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "writer_buffer 64K cannot hold one record of "
				  "snaplen 262144 (+16 bytes of header); raise "
				  "writer_buffer or lower snaplen");
	mt_config_free(cfg);
	mt_config_init(cfg);
	cr_assert_eq(
		parse("[capture]\nallow_vnis = 1,2\n[session s]\nvni = 3\n",
		      &err),
		0);
	cr_assert_eq(mt_config_validate(cfg, &err), -EINVAL);
	cr_assert_str_eq(err.msg, "[session s] has vni 3 but allow_vnis does "
				  "not list it, so XDP would drop its packets; "
				  "add 3 to allow_vnis");
}

Test(config, load_missing_file)
{
	struct mt_err err = { "" };

	cr_assert_eq(mt_config_load(cfg, "/nonexistent/mt.conf", &err),
		     -ENOENT);
	cr_assert_str_eq(err.msg, "/nonexistent/mt.conf: cannot open the "
				  "config file: No such file or directory");
}

Test(config, bad_fixture_file)
{
	char path[4096], want[4200];
	struct mt_err err = { "" };

	source_path("tests/unit/data/config/bad-size.conf", path, sizeof(path));
	cr_assert_eq(mt_config_load(cfg, path, &err), -EINVAL);
	snprintf(want, sizeof(want),
		 "%s:7:15: rotate_size \"12Q\" is not a "
		 "size; use a number with an optional K, M, G or T suffix",
		 path);
	cr_assert_str_eq(err.msg, want);
}

Test(config, dump_parse_round_trip)
{
	char path[4096];
	struct mt_err err = { "" };
	struct mt_config *back = malloc(sizeof(*back));
	char *first, *second;

	source_path("tests/unit/data/config/full.conf", path, sizeof(path));
	cr_assert_eq(mt_config_load(cfg, path, &err), 0, "%s", err.msg);
	first = dump_to_string(cfg);

	mt_config_init(back);
	cr_assert_eq(mt_config_parse(back, "dump", first, strlen(first), &err),
		     0, "%s", err.msg);
	second = dump_to_string(back);
	cr_assert_str_eq(first, second);
	/* And the values themselves, not just their text. */
	cr_assert_str_eq(back->seg.hook, cfg->seg.hook);
	cr_assert_eq(back->seg.rotate_bytes, cfg->seg.rotate_bytes);
	cr_assert_eq(back->seg.nanosecond, cfg->seg.nanosecond);
	cr_assert_eq(back->nallow_sources, cfg->nallow_sources);
	cr_assert_eq(back->sessions.n, cfg->sessions.n);
	cr_assert_eq(back->sessions.v[0].naddrs, cfg->sessions.v[0].naddrs);
	cr_assert(mt_ip_equal(&back->sessions.v[0].addrs[1],
			      &cfg->sessions.v[0].addrs[1]));
	free(first);
	free(second);
	mt_config_free(back);
	free(back);
}

Test(config, dump_of_defaults_parses_to_defaults)
{
	struct mt_config *back = malloc(sizeof(*back));
	struct mt_err err = { "" };
	char *text = dump_to_string(cfg);

	/* Parse over a config with things changed, to see each key set. */
	const char *changed = "[capture]\nvxlan_port = 1\nbusy_poll = yes\n"
			      "[output]\nformat = pcap-us\nhook = x\n";

	mt_config_init(back);
	cr_assert_eq(mt_config_parse(back, "x", changed, strlen(changed), &err),
		     0, "%s", err.msg);
	cr_assert_eq(mt_config_parse(back, "dump", text, strlen(text), &err), 0,
		     "%s", err.msg);
	cr_assert(!memcmp(back, cfg, sizeof(*cfg)));
	cr_assert(strstr(text, "# [session web-1]\n"),
		  "the dump shows a commented-out example session");
	free(text);
	mt_config_free(back);
	free(back);
}

Test(config, example_file_is_the_dump_of_defaults)
{
	char path[4096];
	char *text = dump_to_string(cfg), *file;
	FILE *f;
	long n;

	source_path("systemd/mirror-target.conf.example", path, sizeof(path));
	f = fopen(path, "r");
	cr_assert(f, "%s missing", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	file = calloc(1, n + 1);
	cr_assert_eq(fread(file, 1, n, f), (size_t)n);
	fclose(f);
	cr_assert_str_eq(file, text,
			 "%s is stale: regenerate it with mirror-targetd "
			 "--dump-config > %s",
			 path, path);
	free(file);
	free(text);
}
