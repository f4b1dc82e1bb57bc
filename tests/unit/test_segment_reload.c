// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reloading snaplen and the timestamp format: a pcap file has one of each,
 * so the change starts a new segment; the writers follow it at their next
 * append, and the records already buffered keep the old settings in the
 * old segment.  Checked on the sealed files with our scanner and tshark.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "mirror-target/pcap.h"
#include "mirror-target/segment.h"

#define BASE_NS (1700000000ull * 1000000000ull)

static char tmp[64];

static void setup(void)
{
	cr_assert_not_null(mt_fx_tmpdir(tmp, sizeof(tmp)));
}

static void teardown(void)
{
	mt_fx_rmtree(tmp);
}

TestSuite(segment_reload, .init = setup, .fini = teardown, .timeout = 60);

static void append_n(struct mt_writer *w, uint64_t ts, int n)
{
	uint8_t pkt[300];

	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)i;
	for (int i = 0; i < n; i++)
		cr_assert_eq(mt_writer_append(w, ts + (uint64_t)i * 1000, 42,
					      pkt, sizeof(pkt), sizeof(pkt)),
			     0);
}

/* The sealed segments, sorted by name (= chronological). */
static int sealed(char names[4][256])
{
	struct dirent *de;
	DIR *d = opendir(tmp);
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && n < 4 &&
		    !strstr(de->d_name, ".vni"))
			snprintf(names[n++], 256, "%s", de->d_name);
	closedir(d);
	if (n == 2 && strcmp(names[0], names[1]) > 0) {
		char t[256];

		memcpy(t, names[0], 256);
		memcpy(names[0], names[1], 256);
		memcpy(names[1], t, 256);
	}
	return n;
}

static void check_file(const char *name, uint32_t snaplen, bool ns,
		       uint64_t records, uint32_t caplen)
{
	uint8_t hdr[MT_PCAP_HDR_LEN + MT_PCAP_REC_HDR_LEN];
	struct mt_pcap_scan s;
	uint32_t magic, snap, rec_caplen, rec_len;
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	close(fd);
	memcpy(&magic, hdr, 4);
	memcpy(&snap, hdr + 16, 4);
	memcpy(&rec_caplen, hdr + MT_PCAP_HDR_LEN + 8, 4);
	memcpy(&rec_len, hdr + MT_PCAP_HDR_LEN + 12, 4);
	cr_assert_eq(magic, ns ? MT_PCAP_MAGIC_NS : MT_PCAP_MAGIC_US, "%s",
		     name);
	cr_assert_eq(snap, snaplen, "%s: snaplen in the file header", name);
	cr_assert_eq(s.records, records, "%s", name);
	cr_assert_eq(rec_caplen, caplen, "%s: first record's caplen", name);
	cr_assert_eq(rec_len, 300, "%s: original length kept", name);
}

Test(segment_reload, snaplen_and_format_start_a_new_segment)
{
	struct mt_segment_config cfg;
	struct mt_err err = { { 0 } };
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char names[4][256], cmd[1024];

	mt_segment_config_default(&cfg);
	snprintf(cfg.dir, sizeof(cfg.dir), "%s", tmp);
	cfg.rotate_bytes = 0;
	cfg.rotate_interval = 0;
	cfg.rotate_idle = 0;
	cfg.min_free_bytes = 0;
	cfg.snaplen = 200;
	sg = mt_segmenter__create(&cfg, &err);
	cr_assert_not_null(sg, "%s", err.msg);
	w = mt_writer__create(sg, 64 * 1024);
	cr_assert_not_null(w);

	/* Buffered, not yet flushed, when the reload comes. */
	append_n(w, BASE_NS, 10);
	cfg.snaplen = 100;
	cfg.nanosecond = false;
	cr_assert_eq(mt_segmenter_reconfigure(sg, &cfg, &err), 0, "%s",
		     err.msg);
	append_n(w, BASE_NS + 1000000, 7);
	mt_writer__destroy(w);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS + 2000000), 0);
	mt_segmenter__destroy(sg);

	cr_assert_eq(sealed(names), 2, "one segment per snaplen/format");
	check_file(names[0], 200, true, 10, 200);
	check_file(names[1], 100, false, 7, 100);

	/* And tshark agrees: old records whole to 200, new ones cut at 100. */
	if (system("command -v tshark >/dev/null 2>&1"))
		return;
	snprintf(
		cmd, sizeof(cmd),
		"test \"$(tshark -r %s/%s -T fields -e frame.cap_len | sort -u)\" = 100",
		tmp, names[1]);
	cr_assert_eq(system(cmd), 0, "tshark: caplen 100 in %s", names[1]);
	snprintf(
		cmd, sizeof(cmd),
		"tshark -r %s/%s -T fields -e frame.time_epoch | head -n1 | grep -q '^1700000000.001000'",
		tmp, names[1]);
	cr_assert_eq(system(cmd), 0, "tshark: microsecond timestamps");
}

Test(segment_reload, dir_and_prefix_still_need_a_restart)
{
	struct mt_segment_config cfg;
	struct mt_err err = { { 0 } };
	struct mt_segmenter *sg;

	mt_segment_config_default(&cfg);
	snprintf(cfg.dir, sizeof(cfg.dir), "%s", tmp);
	cfg.min_free_bytes = 0;
	sg = mt_segmenter__create(&cfg, &err);
	cr_assert_not_null(sg, "%s", err.msg);
	snprintf(cfg.prefix, sizeof(cfg.prefix), "other");
	cr_assert_eq(mt_segmenter_reconfigure(sg, &cfg, &err), -EINVAL);
	cr_assert(strstr(err.msg, "restart"), "%s", err.msg);
	mt_segmenter__destroy(sg);
}
