// SPDX-License-Identifier: GPL-2.0-only
/*
 * AWS filter JSON -> parser, with and without a filter id; what parses
 * must write as native rules that parse back to as many rules.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/rules.h"

static void check_import(const struct mt_ruleset *rs)
{
	struct mt_ruleset *again;
	struct mt_err err;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);

	if (!f || mt_ruleset_write_native(rs, f))
		abort();
	fclose(f);
	again = mt_ruleset__parse_native("imported.rules", out, outlen, &err);
	if (!again) {
		fprintf(stderr, "imported rules do not parse: %s\n%s", err.msg,
			out);
		abort();
	}
	if (mt_ruleset_count(again) != mt_ruleset_count(rs))
		abort();
	mt_ruleset__destroy(again);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_ruleset *rs;
	struct mt_err err;

	rs = mt_ruleset__parse_aws("fuzz.json", (const char *)data, size, NULL,
				   &err);
	if (rs) {
		check_import(rs);
		mt_ruleset__destroy(rs);
	}
	rs = mt_ruleset__parse_aws("fuzz.json", (const char *)data, size,
				   "tmf-1", &err);
	if (rs) {
		check_import(rs);
		mt_ruleset__destroy(rs);
	}
	return 0;
}
