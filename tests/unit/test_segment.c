// SPDX-License-Identifier: GPL-2.0-only
/*
 * The segmenter: rotation triggers, names, retention, stop mode, crash
 * recovery, and sealed files that tshark reads.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/core/segment_internal.h"
#include "fixtures.h"
#include "mirror-target/pcap.h"
#include "mirror-target/segment.h"

/* 2023-11-14T22:13:20Z */
#define BASE_S 1700000000ull
#define NS 1000000000ull
#define BASE_NS (BASE_S * NS)

TestSuite(segment, .init = mt_fx_tmp_setup, .fini = mt_fx_tmp_teardown,
	  .timeout = 60);

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

struct listing {
	char names[64][256];
	size_t n, hidden;
	size_t idx, idx_hidden; /* VNI indexes: sealed, open */
};

/* A segment's VNI index (sealed or open), counted apart from segments. */
static bool is_index(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && !strcmp(name + n - 4, ".vni")) ||
	       (n > 9 && !strcmp(name + n - 9, ".vni.part"));
}

static void list_dir(struct listing *l)
{
	struct dirent *de;
	DIR *d = opendir(mt_fx_tmp);

	cr_assert_not_null(d);
	memset(l, 0, sizeof(*l));
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (is_index(de->d_name)) {
			*(de->d_name[0] == '.' ? &l->idx_hidden : &l->idx) += 1;
			continue;
		}
		if (de->d_name[0] == '.') {
			l->hidden++;
			continue;
		}
		cr_assert_lt(l->n, 64);
		snprintf(l->names[l->n++], sizeof(l->names[0]), "%s",
			 de->d_name);
	}
	closedir(d);
	qsort(l->names, l->n, sizeof(l->names[0]), name_cmp);
}

static void list_free(struct listing *l)
{
	l->n = 0;
}

static uint64_t records_in(const char *name)
{
	struct mt_pcap_scan s;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, name);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	close(fd);
	return s.records;
}

/* n records of 100 bytes at ts, ts + step, ... then flush. */
static void put(struct mt_writer *w, uint64_t ts, uint64_t step, int n)
{
	uint8_t pkt[100];
	int i;

	memset(pkt, 0x5a, sizeof(pkt));
	for (i = 0; i < n; i++)
		cr_assert_eq(mt_writer_append(w, ts + (uint64_t)i * step, 42,
					      pkt, sizeof(pkt), sizeof(pkt)),
			     0);
	cr_assert_eq(mt_writer_flush(w), 0);
}

static void assert_pattern(const char *name)
{
	cr_assert_eq(fnmatch("mirror-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T"
			     "[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9][0-9][0-9]"
			     "[0-9][0-9][0-9].pcap",
			     name, 0),
		     0, "bad name %s", name);
}

Test(segment, nothing_visible_before_seal)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	put(w, BASE_NS, 1000, 10);
	mt_segmenter_tick(sg, BASE_NS + 5 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 0, "a .pcap visible before seal: %s", l.names[0]);
	cr_assert_eq(l.hidden, 1, "the open segment is a hidden .part");

	mt_segmenter_request_rotate(sg);
	mt_segmenter_tick(sg, BASE_NS + 6 * NS);
	mt_writer_sync(w);
	mt_segmenter_tick(sg, BASE_NS + 6 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.names[0], "mirror-20231114T221320Z-000001.pcap");
	cr_assert_eq(records_in(l.names[0]), 10);
	cr_assert_eq(l.hidden, 1, "the next segment is already prepared");
	list_free(&l);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	list_dir(&l);
	cr_assert_eq(l.n, 1, "an empty segment is never sealed");
	cr_assert_eq(l.hidden, 0, "the empty .part is removed at shutdown");
	list_free(&l);
}

Test(segment, request_rotate_on_empty_segment_does_nothing)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct listing l;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	mt_segmenter_request_rotate(sg);
	mt_segmenter_tick(sg, BASE_NS);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.segments_sealed, 0);
	cr_assert_eq(st.segments_opened, 1);
	mt_segmenter__destroy(sg);
	list_dir(&l);
	cr_assert_eq(l.n + l.hidden, 0);
}

Test(segment, rotate_by_size)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;
	int i;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.rotate_bytes = 10000; /* 85 records of 116 bytes = 9884 + 24 */
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 4096);
	for (i = 0; i < 3; i++) {
		put(w, BASE_NS + (uint64_t)i * NS, 1, 85);
		mt_segmenter_tick(sg, BASE_NS + (uint64_t)i * NS);
		list_dir(&l);
		cr_assert_eq(l.n, (size_t)i, "below rotate_bytes: no rotation");
		list_free(&l);
		put(w, BASE_NS + (uint64_t)i * NS + 500, 1, 1);
		mt_segmenter_tick(sg, BASE_NS + (uint64_t)i * NS);
		mt_writer_sync(w);
		mt_segmenter_tick(sg, BASE_NS + (uint64_t)i * NS);
		list_dir(&l);
		cr_assert_eq(l.n, (size_t)i + 1, "at rotate_bytes: sealed");
		cr_assert_eq(records_in(l.names[i]), 86);
		list_free(&l);
	}
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment, rotate_on_interval_multiple)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;
	uint64_t t0 = 1700000040ull * NS; /* 22:14:00, a multiple of 60 */

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.rotate_interval = 60;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	put(w, t0 + 50 * NS, NS, 5); /* 22:14:50 .. 22:14:54 */
	mt_segmenter_tick(sg, t0 + 59 * NS + NS - 1);
	list_dir(&l);
	cr_assert_eq(l.n, 0, "still inside the 22:14 window");
	/* 22:15:00 ends the window though the segment is only 10 s old */
	mt_segmenter_tick(sg, t0 + 60 * NS);
	mt_writer_sync(w);
	mt_segmenter_tick(sg, t0 + 60 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 1);
	cr_assert_str_eq(l.names[0], "mirror-20231114T221450Z-000001.pcap");
	list_free(&l);

	put(w, t0 + 61 * NS, NS, 5);
	mt_segmenter_tick(sg, t0 + 119 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 1);
	mt_segmenter_tick(sg, t0 + 120 * NS);
	mt_writer_sync(w);
	mt_segmenter_tick(sg, t0 + 120 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.names[1], "mirror-20231114T221501Z-000002.pcap");
	list_free(&l);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment, rotate_when_idle)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.rotate_idle = 10;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	put(w, BASE_NS, NS, 3); /* last packet at +2 s */
	mt_segmenter_tick(sg, BASE_NS + 11 * NS);
	mt_writer_sync(w);
	mt_segmenter_tick(sg, BASE_NS + 11 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 0, "9 s idle is not 10");
	mt_segmenter_tick(sg, BASE_NS + 12 * NS);
	mt_writer_sync(w);
	mt_segmenter_tick(sg, BASE_NS + 12 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(records_in(l.names[0]), 3);
	list_free(&l);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment, names_sort_and_seq_continues)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;
	char path[512];
	size_t i;
	int fd;

	/* A segment from an earlier run, later than our packets. */
	snprintf(path, sizeof(path), "%s/mirror-20231115T000000Z-000041.pcap",
		 mt_fx_tmp);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	/* packet times: +100 s, then earlier (+50 s), then +200 s */
	put(w, BASE_NS + 100 * NS, 1, 1);
	mt_segmenter_request_rotate(sg);
	mt_segmenter_tick(sg, 0);
	mt_writer_sync(w);
	put(w, BASE_NS + 50 * NS, 1, 1);
	mt_segmenter_request_rotate(sg);
	mt_segmenter_tick(sg, 0);
	mt_writer_sync(w);
	put(w, 1700100000ull * NS, 1, 1);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	list_dir(&l);
	cr_assert_eq(l.n, 4);
	cr_assert_str_eq(l.names[0], "mirror-20231115T000000Z-000041.pcap");
	/* clamped to the newest name in the directory */
	cr_assert_str_eq(l.names[1], "mirror-20231115T000000Z-000042.pcap");
	cr_assert_str_eq(l.names[2], "mirror-20231115T000000Z-000043.pcap");
	cr_assert_str_eq(l.names[3], "mirror-20231116T020000Z-000044.pcap");
	for (i = 0; i < l.n; i++)
		assert_pattern(l.names[i]);
	list_free(&l);
}

/* Seals one segment of n records at packet time t. */
static void one_segment(struct mt_segmenter *sg, struct mt_writer *w,
			uint64_t t, int n)
{
	put(w, t, 1, n);
	mt_segmenter_request_rotate(sg);
	mt_segmenter_tick(sg, t);
	mt_writer_sync(w);
	mt_segmenter_tick(sg, t);
}

Test(segment, retention_by_count_deletes_oldest)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;
	int i;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.keep_segments = 3;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	for (i = 0; i < 6; i++)
		one_segment(sg, w, BASE_NS + (uint64_t)i * 10 * NS, 1 + i);
	list_dir(&l);
	cr_assert_eq(l.n, 3);
	cr_assert(strstr(l.names[0], "-000004.pcap"), "%s", l.names[0]);
	cr_assert(strstr(l.names[2], "-000006.pcap"));
	cr_assert_eq(l.hidden, 1, "the open segment is still there");
	list_free(&l);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.segments_deleted, 3);
	cr_assert_eq(st.sealed_on_disk, 3);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment, retention_by_bytes)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;
	int i;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	/* each segment: 24 + 50 * 116 = 5824 bytes (tmp may count blocks) */
	cfg.keep_bytes = 20000;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	for (i = 0; i < 6; i++)
		one_segment(sg, w, BASE_NS + (uint64_t)i * 10 * NS, 50);
	mt_segmenter_stats(sg, &st);
	cr_assert_leq(st.bytes_on_disk, 20000);
	cr_assert_geq(st.sealed_on_disk, 2);
	cr_assert_leq(st.sealed_on_disk, 3);
	list_dir(&l);
	cr_assert_eq(l.n, st.sealed_on_disk);
	cr_assert(strstr(l.names[l.n - 1], "-000006.pcap"),
		  "the newest is kept");
	list_free(&l);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

/*
 * Free space is what a fake statvfs says: a 100 KiB disk on which only our
 * files count.
 */
static uint64_t fake_disk = 100 << 10;

static int fake_fstatvfs(int fd, struct statvfs *st)
{
	uint64_t used = 0;
	struct dirent *de;
	struct stat sb;
	DIR *d = opendir(mt_fx_tmp);

	(void)fd;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' &&
		    !fstatat(dirfd(d), de->d_name, &sb, 0))
			used += (uint64_t)sb.st_size;
	closedir(d);
	memset(st, 0, sizeof(*st));
	st->f_frsize = 1;
	st->f_bavail = used > fake_disk ? 0 : fake_disk - used;
	return 0;
}

Test(segment, retention_keeps_free_space_floor)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;
	int i;

	mt_segment_fstatvfs = fake_fstatvfs;
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.min_free_bytes = 80 << 10; /* room for ~3 segments of 5.8 KB */
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	for (i = 0; i < 8; i++)
		one_segment(sg, w, BASE_NS + (uint64_t)i * 10 * NS, 50);
	list_dir(&l);
	cr_assert_eq(l.n, 3, "20 KiB above the floor hold 3 of 5824 bytes");
	cr_assert(strstr(l.names[2], "-000008.pcap"));
	cr_assert_eq(l.hidden, 1, "never the open one");
	list_free(&l);

	/* A floor nothing can meet: everything sealed goes, not the open. */
	cfg.min_free_bytes = 1ull << 40;
	cr_assert_eq(mt_segmenter_reconfigure(sg, &cfg, NULL), 0);
	mt_segmenter_tick(sg, BASE_NS + 100 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 0);
	cr_assert_eq(l.hidden, 1);
	put(w, BASE_NS + 101 * NS, 1, 1);
	cr_assert_eq(mt_writer_stats(w)->records, 8 * 50 + 1);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment, stop_mode_drops_then_resumes)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;
	uint8_t pkt[60] = { 0 };
	char path[512];
	int i;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.keep_segments = 2;
	cfg.stop_when_full = true;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	one_segment(sg, w, BASE_NS, 5);
	one_segment(sg, w, BASE_NS + 10 * NS, 5);
	mt_segmenter_stats(sg, &st);
	cr_assert(st.stopped);
	for (i = 0; i < 7; i++)
		cr_assert_eq(mt_writer_append(w, BASE_NS + 20 * NS, 42, pkt, 60,
					      60),
			     -ESHUTDOWN);
	cr_assert_eq(mt_writer_stats(w)->dropped_stopped, 7);
	/* the writer let go of the prepared segment: it is removed */
	mt_segmenter_tick(sg, BASE_NS + 21 * NS);
	list_dir(&l);
	cr_assert_eq(l.n, 2, "nothing deleted in stop mode");
	cr_assert_eq(l.hidden, 0, "no open segment while stopped");

	/* The user makes room: writing resumes by itself. */
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, l.names[0]);
	cr_assert_eq(unlink(path), 0);
	list_free(&l);
	mt_segmenter_tick(sg, BASE_NS + 30 * NS);
	mt_segmenter_stats(sg, &st);
	cr_assert_not(st.stopped);
	cr_assert_eq(mt_writer_append(w, BASE_NS + 31 * NS, 42, pkt, 60, 60),
		     0);
	cr_assert_eq(mt_writer_flush(w), 0);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	list_dir(&l);
	cr_assert_eq(l.n, 2);
	cr_assert_eq(records_in(l.names[1]), 1);
	list_free(&l);
}

/* Writes a .part by hand: header + n records of 50 bytes, ts base + i s. */
static void write_part(const char *name, int n, uint64_t base, off_t cut)
{
	uint8_t h[MT_PCAP_HDR_LEN], rec[16 + 50];
	char path[512];
	int fd, i;

	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, name);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	mt_pcap_file_header(h, 65535, true);
	cr_assert_eq(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	memset(rec, 0x33, sizeof(rec));
	for (i = 0; i < n; i++) {
		mt_pcap_rec_header(rec, base + (uint64_t)i * NS, 50, 50, true);
		cr_assert_eq(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	}
	if (cut)
		cr_assert_eq(ftruncate(fd, cut), 0);
	close(fd);
}

Test(segment, recovery_cuts_part_at_last_whole_record)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct listing l;
	char path[512];
	struct stat sb;

	/* 10 records, cut in the middle of the 8th */
	write_part(".mirror-open-000007.pcap.part", 10, BASE_NS + 5 * NS,
		   24 + 7 * 66 + 30);
	/* a crash before the header was written */
	write_part(".mirror-open-000008.pcap.part", 0, 0, 10);
	/* a preallocated part: zero tail after 3 records */
	write_part(".mirror-open-000009.pcap.part", 3, BASE_NS + 60 * NS,
		   1 << 20);
	/* someone else's file is not ours to touch */
	write_part(".other-open-000001.pcap.part", 2, BASE_NS, 0);
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.segments_recovered, 2);
	list_dir(&l);
	cr_assert_eq(l.n, 2);
	cr_assert_str_eq(l.names[0], "mirror-20231114T221325Z-000001.pcap");
	cr_assert_eq(records_in(l.names[0]), 7);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, l.names[0]);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_size, 24 + 7 * 66);
	cr_assert_str_eq(l.names[1], "mirror-20231114T221420Z-000002.pcap");
	cr_assert_eq(records_in(l.names[1]), 3);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, l.names[1]);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_size, 24 + 3 * 66);
	list_free(&l);
	snprintf(path, sizeof(path), "%s/.other-open-000001.pcap.part",
		 mt_fx_tmp);
	cr_assert_eq(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/.mirror-open-000008.pcap.part",
		 mt_fx_tmp);
	cr_assert_neq(access(path, F_OK), 0, "an empty .part is removed");
	mt_segmenter__destroy(sg);
}

Test(segment, second_instance_on_same_dir_is_refused)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg, *sg2;
	struct mt_err err = { { 0 } };

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	sg2 = mt_segmenter__create(&cfg, &err);
	cr_assert_null(sg2);
	cr_assert(strstr(err.msg, "in use by another mirror-target"), "%s",
		  err.msg);
	cr_assert(strstr(err.msg, mt_fx_tmp));
	mt_segmenter__destroy(sg);
}

Test(segment, bad_settings_are_named)
{
	struct mt_segment_config cfg;
	struct mt_err err = { { 0 } };
	struct mt_segmenter *sg;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.snaplen = 300000;
	cr_assert_null(mt_segmenter__create(&cfg, &err));
	cr_assert(strstr(err.msg, "snaplen 300000"), "%s", err.msg);
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	snprintf(cfg.prefix, sizeof(cfg.prefix), "other");
	cr_assert_eq(mt_segmenter_reconfigure(sg, &cfg, &err), -EINVAL);
	cr_assert(strstr(err.msg, "restart"), "%s", err.msg);
	mt_segmenter__destroy(sg);
}

static void tshark_check(bool nanosecond)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;
	char cmd[1024], out[256];
	uint8_t pkt[128];
	struct mt_fx_pkt p = { .family = AF_INET,
			       .src = "192.0.2.1",
			       .dst = "192.0.2.2",
			       .proto = IPPROTO_UDP,
			       .sport = 1000,
			       .dport = 53,
			       .payload_len = 20 };
	size_t len;
	FILE *f;
	int i;

	if (system("command -v tshark >/dev/null 2>&1"))
		cr_skip_test("tshark is not installed");
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.nanosecond = nanosecond;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	len = mt_fx_inner(pkt, sizeof(pkt), &p);
	cr_assert_gt(len, 0);
	for (i = 0; i < 25; i++)
		cr_assert_eq(mt_writer_append(
				     w,
				     BASE_NS + 123456789 + (uint64_t)i * 1000,
				     42, pkt, (uint32_t)len, (uint32_t)len),
			     0);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	list_dir(&l);
	cr_assert_eq(l.n, 1);
	snprintf(
		cmd, sizeof(cmd),
		"tshark -r %s/%s -T fields -e frame.time_epoch -e ip.dst 2>/dev/null | sed -n '1p;$='",
		mt_fx_tmp, l.names[0]);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(out, sizeof(out), f));
	cr_assert(strstr(out, nanosecond ? "1700000000.123456789" :
					   "1700000000.123456000"),
		  "tshark: %s", out);
	cr_assert(strstr(out, "192.0.2.2"), "tshark: %s", out);
	cr_assert_not_null(fgets(out, sizeof(out), f));
	cr_assert_eq(atoi(out), 25, "tshark saw %s records", out);
	cr_assert_eq(pclose(f), 0);
	list_free(&l);
}

Test(segment, tshark_reads_nanosecond_segments)
{
	tshark_check(true);
}

Test(segment, tshark_reads_microsecond_segments)
{
	tshark_check(false);
}

/*
 * A crash between the compressor's rename of NAME.pcap.gz into place and its
 * unlink of NAME.pcap left the segment twice (tests/faults, crash at
 * "gz-renamed"): the next start keeps the finished .gz only.
 */
Test(segment, recovery_drops_raw_copy_of_compressed_segment)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct listing l;
	char raw[512], gz[520];
	int fd;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	{
		struct mt_writer *w = mt_writer__create(sg, 0);

		put(w, BASE_NS, NS / 10, 5);
		mt_writer__destroy(w);
	}
	mt_segmenter__destroy(sg);
	list_dir(&l);
	cr_assert_eq(l.n, 1);
	snprintf(raw, sizeof(raw), "%s/%s", mt_fx_tmp, l.names[0]);
	snprintf(gz, sizeof(gz), "%s.gz", raw);
	/* What the compressor had renamed into place (content not read). */
	fd = open(gz, O_WRONLY | O_CREAT | O_EXCL, 0640);
	cr_assert_geq(fd, 0);
	close(fd);
	list_free(&l);

	sg = mt_fx_seg_create(&cfg);
	cr_assert_neq(access(raw, F_OK), 0, "the raw copy is removed");
	cr_assert_eq(access(gz, F_OK), 0, "the .gz is kept");
	mt_segmenter__destroy(sg);
}

/*
 * The directory removed under a running segmenter (rm -rf): the next tick
 * makes it again and writing goes on there; what the open segment held is
 * counted as lost when its seal fails.
 */
Test(segment, removed_directory_is_made_again)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	put(w, BASE_NS, NS / 10, 4); /* into the segment about to vanish */
	mt_fx_rmtree(mt_fx_tmp);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS + NS), 0);
	put(w, BASE_NS + 2 * NS, NS / 10, 6); /* follows into the new one */
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS + 3 * NS), -ENOENT);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.dir_recreated, 1);
	cr_assert_eq(st.records_lost, 4);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	list_dir(&l);
	cr_assert_eq(l.n, 1, "one segment in the directory made again");
	cr_assert_eq(records_in(l.names[0]), 6);
	list_free(&l);
}

/* chattr on the test directory; false where it cannot (not root, tmpfs). */
static bool set_immutable(bool on)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "chattr %ci %s 2>/dev/null", on ? '+' : '-',
		 mt_fx_tmp);
	return system(cmd) == 0;
}

/*
 * A directory that refuses the seal's rename (chattr +i: not even root may
 * rename in it) keeps the segment as its .part and the segmenter tries
 * again every tick; once the directory takes renames again the segment is
 * sealed without a restart.
 */
Test(segment, refused_seal_is_retried)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct listing l;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	put(w, BASE_NS, NS / 10, 5);
	if (!set_immutable(true)) {
		mt_writer__destroy(w);
		mt_segmenter__destroy(sg);
		cr_skip_test("chattr +i does not work here (needs root, ext4)");
	}
	mt_segmenter_request_rotate(sg);
	mt_segmenter_tick(sg, BASE_NS + NS); /* the new segment cannot open */
	mt_writer_sync(w);
	cr_assert_neq(mt_segmenter_tick(sg, BASE_NS + 2 * NS), 0);
	cr_assert_neq(mt_segmenter_tick(sg, BASE_NS + 3 * NS), 0);
	list_dir(&l);
	cr_assert_eq(l.n, 0, "nothing sealed while renames are refused");
	cr_assert_geq(l.hidden, 1, "the .part is still there");
	mt_segmenter_stats(sg, &st);
	cr_assert_geq(st.write_errors, 2, "each refused try is counted");
	cr_assert_eq(st.segments_sealed, 0);

	cr_assert(set_immutable(false));
	mt_segmenter_tick(sg, BASE_NS + 4 * NS);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.segments_sealed, 1);
	cr_assert_eq(st.records_lost, 0);
	list_dir(&l);
	cr_assert_eq(l.n, 1);
	cr_assert_eq(records_in(l.names[0]), 5);
	list_free(&l);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}
