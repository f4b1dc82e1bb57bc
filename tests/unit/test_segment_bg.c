// SPDX-License-Identifier: GPL-2.0-only
/* Background gzip and on-seal hooks. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "fixtures.h"
#include "mirror-target/pcap.h"
#include "mirror-target/segment.h"

#define NS 1000000000ull
#define BASE_NS (1700000000ull * NS)

/* Segments in mt_fx_tmp/seg: hook scripts and their logs live beside. */
static void test_config(struct mt_segment_config *cfg)
{
	char dir[sizeof(mt_fx_tmp) + 4];

	snprintf(dir, sizeof(dir), "%s/seg", mt_fx_tmp);
	mt_fx_seg_config(cfg, dir);
}

TestSuite(segment_bg, .init = mt_fx_tmp_setup, .fini = mt_fx_tmp_teardown,
	  .timeout = 60);

/* n records of 60 bytes (byte i of record r = r + i), sealed. */
static void one_segment(struct mt_segmenter *sg, struct mt_writer *w,
			uint64_t t, int n)
{
	uint8_t pkt[60];
	int r, i;

	for (r = 0; r < n; r++) {
		for (i = 0; i < 60; i++)
			pkt[i] = (uint8_t)(r + i);
		cr_assert_eq(mt_writer_append(w, t + (uint64_t)r, 42, pkt, 60,
					      60),
			     0);
	}
	mt_writer_flush(w);
	mt_segmenter_request_rotate(sg);
	mt_segmenter_tick(sg, t);
	mt_writer_sync(w);
	mt_segmenter_tick(sg, t);
}

/* The only visible file in dir matching suffix; NULL if none. */
static char *find_file(const char *dir, const char *suffix)
{
	struct dirent *de;
	char *found = NULL;
	DIR *d = opendir(dir);
	size_t ls = strlen(suffix), ln;

	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		ln = strlen(de->d_name);
		if (de->d_name[0] == '.' || ln < ls ||
		    strcmp(de->d_name + ln - ls, suffix))
			continue;
		cr_assert_null(found, "two files end in %s", suffix);
		found = strdup(de->d_name);
	}
	closedir(d);
	return found;
}

/* A segment's VNI index (sealed or open), counted apart from segments. */
static bool is_index(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && !strcmp(name + n - 4, ".vni")) ||
	       (n > 9 && !strcmp(name + n - 9, ".vni.part"));
}

/* Files but VNI indexes, hidden or not. */
static size_t count_files(const char *dir, bool hidden)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !is_index(de->d_name) && (de->d_name[0] == '.') == hidden)
			n++;
	closedir(d);
	return n;
}

static char *read_text(const char *path)
{
	static char buf[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

Test(segment_bg, gzip_is_readable_by_zlib_and_tshark)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct mt_pcap_rec_hdr h;
	uint8_t fh[24], want[24], pkt[60];
	char path[PATH_MAX + 256], cmd[PATH_MAX + 512], *gz;
	gzFile f;
	int r, i;

	test_config(&cfg);
	cfg.compress = true;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	one_segment(sg, w, BASE_NS, 300);
	mt_segmenter_drain(sg);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.segments_compressed, 1);
	cr_assert_eq(st.compress_failures, 0);
	gz = find_file(cfg.dir, ".pcap.gz");
	cr_assert_not_null(gz);
	cr_assert_null(find_file(cfg.dir, ".pcap"), "raw file removed");
	cr_assert_eq(count_files(cfg.dir, true), 1, "only the open .part");

	snprintf(path, sizeof(path), "%s/%s", cfg.dir, gz);
	f = gzopen(path, "rb");
	cr_assert_not_null(f);
	cr_assert_eq(gzread(f, fh, 24), 24);
	mt_pcap_file_header(want, 65535, true);
	cr_assert_arr_eq(fh, want, 24);
	for (r = 0; r < 300; r++) {
		cr_assert_eq(gzread(f, &h, 16), 16, "record %d", r);
		cr_assert_eq(h.caplen, 60);
		cr_assert_eq(gzread(f, pkt, 60), 60);
		for (i = 0; i < 60; i++)
			cr_assert_eq(pkt[i], (uint8_t)(r + i));
	}
	cr_assert_eq(gzread(f, pkt, 1), 0, "nothing after the records");
	gzclose(f);

	if (!system("command -v tshark >/dev/null 2>&1")) {
		snprintf(
			cmd, sizeof(cmd),
			"test \"$(zcat %s | tshark -r - -c 300 2>/dev/null | wc -l)\" = 300",
			path);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
	}
	free(gz);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment_bg, leftover_gz_part_is_removed_and_redone)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char path[PATH_MAX + 256], *raw;
	int fd;

	test_config(&cfg);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	one_segment(sg, w, BASE_NS, 10);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	raw = find_file(cfg.dir, ".pcap");
	cr_assert_not_null(raw);
	/* a crash in the middle of compressing it */
	snprintf(path, sizeof(path), "%s/.%s.gz.part", cfg.dir, raw);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_eq(write(fd, "\x1f\x8b", 2), 2);
	close(fd);

	cfg.compress = true;
	sg = mt_fx_seg_create(&cfg);
	mt_segmenter_drain(sg);
	cr_assert_neq(access(path, F_OK), 0, ".gz.part removed");
	cr_assert_null(find_file(cfg.dir, ".pcap"));
	free(find_file(cfg.dir, ".pcap.gz"));
	mt_segmenter__destroy(sg);
	free(raw);
}

Test(segment_bg, hook_gets_the_path_and_failures_count)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char log[256], want[PATH_MAX + 256], *gz, *text;

	test_config(&cfg);
	cfg.compress = true;
	snprintf(log, sizeof(log), "%s/hook.log", mt_fx_tmp);
	snprintf(cfg.hook, sizeof(cfg.hook),
		 "test -s \"$1\" && echo \"$1\" >> %s; exit 3", log);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	one_segment(sg, w, BASE_NS, 10);
	mt_segmenter_drain(sg);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.hooks_run, 1);
	cr_assert_eq(st.hook_failures, 1, "exit 3 is a failure");
	gz = find_file(cfg.dir, ".pcap.gz");
	cr_assert_not_null(gz);
	snprintf(want, sizeof(want), "%s/%s\n", cfg.dir, gz);
	text = read_text(log);
	cr_assert_not_null(text, "the hook did not run");
	cr_assert_str_eq(text, want, "the hook runs on the compressed file");

	snprintf(cfg.hook, sizeof(cfg.hook), "true");
	cr_assert_eq(mt_segmenter_reconfigure(sg, &cfg, NULL), 0);
	one_segment(sg, w, BASE_NS + 10 * NS, 10);
	mt_segmenter_drain(sg);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.hooks_run, 2);
	cr_assert_eq(st.hook_failures, 1);
	free(gz);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment_bg, hook_parallelism_is_bounded)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char hd[256], *text, *p;
	int i, max = 0, lines = 0;

	test_config(&cfg);
	snprintf(hd, sizeof(hd), "%s/h", mt_fx_tmp);
	cr_assert_eq(mkdir(hd, 0755), 0);
	cfg.hook_parallel = 2;
	snprintf(
		cfg.hook, sizeof(cfg.hook),
		"touch %s/run.$$; ls %s | grep -c '^run' >> %s/conc; sleep 0.3; rm %s/run.$$",
		hd, hd, mt_fx_tmp, hd);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	for (i = 0; i < 6; i++)
		one_segment(sg, w, BASE_NS + (uint64_t)i * NS, 5);
	mt_segmenter_drain(sg);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.hooks_run, 6);
	cr_assert_eq(st.hook_failures, 0);
	snprintf(hd, sizeof(hd), "%s/conc", mt_fx_tmp);
	text = read_text(hd);
	cr_assert_not_null(text);
	for (p = strtok(text, "\n"); p; p = strtok(NULL, "\n")) {
		if (atoi(p) > max)
			max = atoi(p);
		lines++;
	}
	cr_assert_eq(lines, 6);
	cr_assert_eq(max, 2, "at most hook_parallel hooks at once (saw %d)",
		     max);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment_bg, hook_timeout_kills_it)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct timespec a, b;

	test_config(&cfg);
	cfg.hook_timeout = 1;
	snprintf(cfg.hook, sizeof(cfg.hook), "sleep 31; sleep 31");
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	one_segment(sg, w, BASE_NS, 5);
	mt_segmenter_drain(sg);
	clock_gettime(CLOCK_MONOTONIC, &b);
	cr_assert_lt(b.tv_sec - a.tv_sec, 5, "the hook was not killed");
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.hook_failures, 1);
	cr_assert_neq(system("pgrep -f 'sleep 3[1]' >/dev/null"), 0,
		      "the hook or its child survived");
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment_bg, full_hook_queue_skips_and_counts)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	int i;

	test_config(&cfg);
	cfg.hook_parallel = 1;
	cfg.hook_queue = 1;
	snprintf(cfg.hook, sizeof(cfg.hook), "sleep 0.5");
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	for (i = 0; i < 4; i++)
		one_segment(sg, w, BASE_NS + (uint64_t)i * NS, 5);
	mt_segmenter_drain(sg);
	mt_segmenter_stats(sg, &st);
	cr_assert_geq(st.hooks_skipped, 2);
	cr_assert_eq(st.hooks_run + st.hooks_skipped, 4);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment_bg, retention_waits_for_a_running_hook)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;

	test_config(&cfg);
	cfg.keep_segments = 1;
	cfg.hook_parallel = 1;
	snprintf(cfg.hook, sizeof(cfg.hook), "sleep 0.5");
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	one_segment(sg, w, BASE_NS, 5);
	one_segment(sg, w, BASE_NS + NS, 5);
	cr_assert_eq(count_files(cfg.dir, false), 2,
		     "the first is still being hooked");
	mt_segmenter_drain(sg);
	mt_segmenter_tick(sg, BASE_NS + 2 * NS);
	cr_assert_eq(count_files(cfg.dir, false), 1);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment_bg, shutdown_seals_open_segment_and_runs_its_hook)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char log[256], want[PATH_MAX + 256], *raw, *text;
	uint8_t pkt[60] = { 0 };

	test_config(&cfg);
	snprintf(log, sizeof(log), "%s/hook.log", mt_fx_tmp);
	snprintf(cfg.hook, sizeof(cfg.hook), "sleep 0.2; echo \"$1\" > %s",
		 log);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	cr_assert_eq(mt_writer_append(w, BASE_NS, 42, pkt, 60, 60), 0);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	raw = find_file(cfg.dir, ".pcap");
	cr_assert_not_null(raw, "the open segment was sealed");
	snprintf(want, sizeof(want), "%s/%s\n", cfg.dir, raw);
	text = read_text(log);
	cr_assert_not_null(text, "its hook did not run");
	cr_assert_str_eq(text, want);
	cr_assert_eq(count_files(cfg.dir, true), 0);
	free(raw);
}

/*
 * A hook is the user's command: it must not be able to talk to systemd in
 * the daemon's name (NOTIFY_SOCKET) nor keep the daemon's capabilities.
 */
Test(segment_bg, hook_gets_no_notify_socket_nor_capabilities)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char log[256], *text;

	test_config(&cfg);
	snprintf(log, sizeof(log), "%s/env.log", mt_fx_tmp);
	snprintf(cfg.hook, sizeof(cfg.hook),
		 "{ env; grep '^CapAmb' /proc/self/status; } > %s", log);
	cr_assert_eq(setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1), 0);
	cr_assert_eq(setenv("MT_TEST_MARKER", "kept", 1), 0);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	one_segment(sg, w, BASE_NS, 3);
	mt_segmenter_drain(sg);
	text = read_text(log);
	cr_assert_not_null(text, "the hook did not run");
	cr_assert_null(strstr(text, "NOTIFY_SOCKET"), "%s", text);
	cr_assert_not_null(strstr(text, "MT_TEST_MARKER=kept"),
			   "the rest of the environment is passed on");
	cr_assert_not_null(strstr(text, "CapAmb:\t0000000000000000"), "%s",
			   text);
	unsetenv("NOTIFY_SOCKET");
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}
