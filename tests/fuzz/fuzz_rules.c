// SPDX-License-Identifier: GPL-2.0-only
/*
 * Native rules text -> parser.  Whatever parses must survive the writer:
 * writing it and parsing the output gives the same number of rules (the
 * round trip `mirrorctl import-aws-filter` relies on), and both matchers
 * agree on a few packets.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/rules.h"

static void probe(const struct mt_ruleset *rs, const uint8_t *data, size_t size)
{
	struct mt_flow f;

	memset(&f, 0, sizeof(f));
	for (size_t i = 0; i + 12 <= size && i < 12 * 8; i += 12) {
		const uint8_t *p = data + i;

		mt_ip_from_v4(&f.src, p);
		mt_ip_from_v4(&f.dst, p + 4);
		f.proto = p[8];
		f.sport = (uint16_t)(p[9] << 8 | p[10]);
		f.dport = (uint16_t)(p[10] << 8 | p[11]);
		f.flags = MT_FLOW_IP | (p[11] & 1 ? MT_FLOW_PORTS : 0);
		for (int d = 0; d < MT_DIR__MAX; d++)
			if (mt_ruleset_match(rs, d, p[0], &f) !=
			    mt_ruleset_match_linear(rs, d, p[0], &f))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_err err;
	struct mt_ruleset *rs, *again;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	rs = mt_ruleset__parse_native("fuzz.rules", (const char *)data, size,
				      &err);
	if (!rs)
		return 0;
	probe(rs, data, size);
	f = open_memstream(&out, &outlen);
	if (!f)
		abort();
	if (mt_ruleset_write_native(rs, f))
		abort();
	fclose(f);
	again = mt_ruleset__parse_native("written.rules", out, outlen, &err);
	if (!again) {
		fprintf(stderr, "written rules do not parse: %s\n%s", err.msg,
			out);
		abort();
	}
	if (mt_ruleset_count(again) != mt_ruleset_count(rs))
		abort();
	for (size_t i = 0; i < mt_ruleset_count(rs); i++) {
		char a[1024], b[1024];

		mt_rule_format(mt_ruleset_rule(rs, i), a, sizeof(a));
		mt_rule_format(mt_ruleset_rule(again, i), b, sizeof(b));
		if (strcmp(a, b)) {
			fprintf(stderr, "round trip changed\n%s\n%s\n", a, b);
			abort();
		}
	}
	mt_ruleset__destroy(again);
	mt_ruleset__destroy(rs);
	free(out);
	return 0;
}
