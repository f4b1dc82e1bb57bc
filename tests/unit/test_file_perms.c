// SPDX-License-Identifier: GPL-2.0-only
/*
 * Permissions that keep captures private and capture under the operator's
 * control: config and rules files writable by everyone are refused (with
 * the mode and the chmod that fixes it), and segments are created 0640
 * (group-readable, so members of mirror-target can fetch them; nobody
 * else: they hold other hosts' traffic).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fixtures.h"
#include "mirror-target/config.h"
#include "mirror-target/rules.h"
#include "mirror-target/segment.h"

TestSuite(file_perms, .init = mt_fx_tmp_setup, .fini = mt_fx_tmp_teardown,
	  .timeout = 60);

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

Test(file_perms, world_writable_config_is_refused)
{
	struct mt_config cfg;
	struct mt_err err = { { 0 } };
	char path[256];

	snprintf(path, sizeof(path), "%s/mt.conf", mt_fx_tmp);
	write_file(path, "[output]\nsnaplen = 200\n", 0666);
	mt_config_init(&cfg);
	cr_assert_eq(mt_config_load(&cfg, path, &err), -EPERM);
	cr_assert(strstr(err.msg, "writable by every user (mode 0666)"), "%s",
		  err.msg);
	cr_assert(strstr(err.msg, "chmod o-w"), "%s", err.msg);
	cr_assert_eq(cfg.seg.snaplen, 65535, "nothing was applied");

	cr_assert_eq(chmod(path, 0664),
		     0); /* group-writable is the admin's call */
	cr_assert_eq(mt_config_load(&cfg, path, &err), 0, "%s", err.msg);
	cr_assert_eq(cfg.seg.snaplen, 200);
	mt_config_free(&cfg);
}

Test(file_perms, world_writable_rules_are_refused)
{
	struct mt_err err = { { 0 } };
	struct mt_ruleset *rs;
	char path[256];

	snprintf(path, sizeof(path), "%s/rules.conf", mt_fx_tmp);
	write_file(path, "100 accept any all 0.0.0.0/0 0.0.0.0/0\n", 0646);
	cr_assert_null(mt_ruleset__load(path, NULL, &err));
	cr_assert(strstr(err.msg, "rules file is writable by every user"), "%s",
		  err.msg);
	cr_assert_eq(chmod(path, 0644), 0);
	rs = mt_ruleset__load(path, NULL, &err);
	cr_assert_not_null(rs, "%s", err.msg);
	mt_ruleset__destroy(rs);
}

static mode_t mode_of_first(const char *dir, bool hidden)
{
	struct dirent *de;
	struct stat st;
	char path[512];
	DIR *d = opendir(dir);
	mode_t m = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((de->d_name[0] == '.') != hidden)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		cr_assert_eq(stat(path, &st), 0);
		m = st.st_mode & 07777;
		break;
	}
	closedir(d);
	return m;
}

Test(file_perms, segments_are_0640)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	uint8_t pkt[64] = { 0 };

	umask(022);
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	cr_assert_eq(mode_of_first(mt_fx_tmp, true), 0640, "open .part file");
	w = mt_writer__create(sg, 0);
	cr_assert_eq(mt_writer_append(w, 1700000000ull * 1000000000ull, 42, pkt,
				      sizeof(pkt), sizeof(pkt)),
		     0);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	cr_assert_eq(mode_of_first(mt_fx_tmp, false), 0640, "sealed segment");
}
