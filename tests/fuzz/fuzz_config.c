// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzzes the config parser.  Beyond "does not crash": a file that parses
 * must survive dump -> parse -> dump unchanged (the dump is what
 * `mirrorctl check-config --dump` and the example config are made of), and
 * every error must carry a "NAME:LINE:COL: " location.  The value parsers
 * and mt_config_set() get the input too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/config.h"

static char *dump(const struct mt_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();
	mt_config_dump(cfg, f);
	fclose(f);
	return text;
}

static void round_trip(const struct mt_config *cfg)
{
	struct mt_config *back = malloc(sizeof(*back));
	struct mt_err err;
	char *first = dump(cfg), *second;

	mt_config_init(back);
	if (mt_config_parse(back, "dump", first, strlen(first), &err)) {
		fprintf(stderr, "dump does not parse: %s\n%s\n", err.msg,
			first);
		abort();
	}
	second = dump(back);
	if (strcmp(first, second)) {
		fprintf(stderr, "dump changed:\n%s\n---\n%s\n", first, second);
		abort();
	}
	free(first);
	free(second);
	mt_config_free(back);
	free(back);
}

static void values(const uint8_t *data, size_t size)
{
	char s[64], *eq, *dot;
	struct mt_config *cfg;
	struct mt_err err;
	uint64_t v;
	uint32_t d;

	if (size >= sizeof(s))
		size = sizeof(s) - 1;
	memcpy(s, data, size);
	s[size] = '\0';
	mt_parse_size(s, &v);
	mt_parse_duration(s, &d);

	/* "section.key=value", as a command-line override would be. */
	dot = strchr(s, '.');
	eq = dot ? strchr(dot, '=') : NULL;
	if (!eq)
		return;
	*dot = *eq = '\0';
	cfg = malloc(sizeof(*cfg));
	mt_config_init(cfg);
	if (!mt_config_set(cfg, s, dot + 1, eq + 1, &err))
		round_trip(cfg);
	mt_config_free(cfg);
	free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mt_config *cfg = malloc(sizeof(*cfg));
	struct mt_err err;
	int ret;

	if (!cfg)
		return 0;
	values(data, size);
	mt_config_init(cfg);
	ret = mt_config_parse(cfg, "f.conf", (const char *)data, size, &err);
	if (ret == -EINVAL && strncmp(err.msg, "f.conf:", 7)) {
		fprintf(stderr, "error without a location: %s\n", err.msg);
		abort();
	}
	if (!ret) {
		mt_config_validate(cfg, &err);
		round_trip(cfg);
	}
	mt_config_free(cfg);
	free(cfg);
	return 0;
}
