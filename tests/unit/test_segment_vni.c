// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VNI index beside each segment: every record of a sealed segment is
 * covered by exactly one run that names the VNI it was appended with,
 * whatever the flushes, writers, failures, crashes, retention and gzip.
 * Each test packet carries its VNI in its first 4 bytes, so the index is
 * checked against what was really written.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../../daemon/core/segment_internal.h"
#include "fixtures.h"
#include "mirror-target/pcap.h"
#include "mirror-target/segment.h"

#define BASE_NS (1700000000ull * 1000000000ull)
#define NS 1000000000ull

TestSuite(segment_vni, .init = mt_fx_tmp_setup, .fini = mt_fx_tmp_teardown,
	  .timeout = 60);

static bool has_suffix(const char *s, const char *sfx)
{
	size_t n = strlen(s), m = strlen(sfx);

	return n > m && !strcmp(s + n - m, sfx);
}

/* How many visible files in mt_fx_tmp end in sfx; the last one in *name. */
static size_t count_suffix(const char *sfx, char *name, size_t size)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(mt_fx_tmp);

	cr_assert_not_null(d);
	while ((de = readdir(d))) {
		if (!has_suffix(de->d_name, sfx))
			continue;
		if (name)
			snprintf(name, size, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

/* Small snaplen: small writer buffers are allowed (one record fits). */
static void config(struct mt_segment_config *cfg)
{
	mt_fx_seg_config(cfg, mt_fx_tmp);
	cfg->snaplen = 256;
}

static bool exists(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, name);
	return !access(path, F_OK);
}

/* One packet whose first 4 bytes say its VNI and the next 4 its number. */
static void append(struct mt_writer *w, uint64_t ts, uint32_t vni, uint32_t seq,
		   uint32_t len)
{
	uint8_t pkt[256];

	memset(pkt, 0x5a, sizeof(pkt));
	memcpy(pkt, &vni, 4);
	memcpy(pkt + 4, &seq, 4);
	cr_assert_eq(mt_writer_append(w, ts, vni, pkt, len, len), 0);
}

/* Flushes w and seals its segment. */
static void seal_all(struct mt_segmenter *sg, struct mt_writer *w, uint64_t now)
{
	cr_assert_eq(mt_writer_flush(w), 0);
	mt_segmenter_request_rotate(sg);
	mt_segmenter_tick(sg, now);
	mt_writer_sync(w);
	mt_segmenter_tick(sg, now);
}

/*
 * Walks the pcap at fd against the runs of the index at ifd, the way
 * `mirrorctl export --vni` does: each record must start or continue a run,
 * and its VNI must be the one in its bytes.  Returns the record count.
 */
static uint64_t check_index_fds(int fd, int ifd, uint64_t *per_vni42)
{
	struct mt_pcap_rec_hdr rh;
	struct mt_vnix_run *runs;
	uint64_t pos = MT_PCAP_HDR_LEN, nrec = 0;
	struct mt_pcap_scan scan;
	uint32_t left = 0, vni = 0, got;
	size_t n, r = 0;

	cr_assert_eq(mt_pcap_scan_fd(fd, &scan), 0);
	cr_assert_eq(mt_vnix_read(ifd, &runs, &n), 0);
	while (pos < scan.valid_end) {
		cr_assert_eq(pread(fd, &rh, sizeof(rh), (off_t)pos),
			     (ssize_t)sizeof(rh));
		cr_assert_eq(pread(fd, &got, 4,
				   (off_t)(pos + MT_PCAP_REC_HDR_LEN)),
			     4);
		if (!left) {
			cr_assert_lt(r, n, "record at %llu has no run",
				     (unsigned long long)pos);
			cr_assert_eq(runs[r].off, pos,
				     "run %zu starts at %llu, record at %llu",
				     r, (unsigned long long)runs[r].off,
				     (unsigned long long)pos);
			vni = runs[r].vni;
			left = runs[r++].count;
		}
		cr_assert_eq(vni, got, "record %llu: index says VNI %u, was %u",
			     (unsigned long long)nrec, vni, got);
		if (per_vni42 && vni == 42)
			(*per_vni42)++;
		left--;
		nrec++;
		pos += MT_PCAP_REC_HDR_LEN + rh.caplen;
	}
	cr_assert_eq(left, 0, "the last run reaches past the records");
	cr_assert_eq(r, n, "%zu runs describe no record", n - r);
	cr_assert_eq(nrec, scan.records);
	free(runs);
	return nrec;
}

/* The sealed segment NAME.pcap and its NAME.vni. */
static uint64_t check_index(const char *pcap, uint64_t *per_vni42)
{
	char path[512], vni[256];
	uint64_t n;
	int fd, ifd;

	cr_assert(mt_vnix_name(pcap, vni, sizeof(vni)));
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, pcap);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "%s", path);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, vni);
	ifd = open(path, O_RDONLY);
	cr_assert_geq(ifd, 0, "%s: no index", path);
	n = check_index_fds(fd, ifd, per_vni42);
	close(fd);
	close(ifd);
	return n;
}

Test(segment_vni, runs_follow_vni_changes_across_flushes)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char name[256];
	uint64_t n42 = 0;
	uint32_t i;

	config(&cfg);
	sg = mt_fx_seg_create(&cfg);
	/* ~35 records a buffer: runs of 7 cross flushes all the time. */
	w = mt_writer__create(sg, 4096);
	for (i = 0; i < 500; i++)
		append(w, BASE_NS + i, (i / 7) % 3 ? 42 : 7, i, 60 + i % 40);
	cr_assert_geq(mt_writer_stats(w)->flushes, 10);
	seal_all(sg, w, BASE_NS + NS);
	cr_assert_eq(count_suffix(".pcap", name, sizeof(name)), 1);
	cr_assert_eq(count_suffix(".vni", NULL, 0), 1);
	cr_assert_eq(count_suffix(".vni.part", NULL, 0), 1,
		     "the next segment's index is ready");
	cr_assert_eq(check_index(name, &n42), 500);
	cr_assert_eq(n42, 500 - 7 * 24, "records of VNI 42 per the index");
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	cr_assert_eq(count_suffix(".vni.part", NULL, 0), 0,
		     "an empty segment's index goes with it");
}

#define NTHREADS 4
#define PER_THREAD 20000

struct thr {
	struct mt_writer *w;
	uint32_t id;
};

static void *writer_thread(void *arg)
{
	struct thr *t = arg;
	uint32_t i;

	/* Each thread has its own VNIs, in stretches of varied length. */
	for (i = 0; i < PER_THREAD; i++)
		append(t->w, BASE_NS + i, 100 * t->id + (i / (3 + t->id)) % 2,
		       i, 40 + (i % 29));
	cr_assert_eq(mt_writer_flush(t->w), 0);
	return NULL;
}

Test(segment_vni, several_writers_share_one_segment_and_index)
{
	struct mt_segment_config cfg;
	struct thr t[NTHREADS];
	pthread_t th[NTHREADS];
	struct mt_segmenter *sg;
	char name[256];
	int i;

	config(&cfg);
	sg = mt_fx_seg_create(&cfg);
	for (i = 0; i < NTHREADS; i++) {
		t[i].w = mt_writer__create(sg, 16384);
		t[i].id = (uint32_t)i + 1;
		cr_assert_eq(pthread_create(&th[i], NULL, writer_thread, &t[i]),
			     0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NTHREADS; i++)
		mt_writer__destroy(t[i].w);
	mt_segmenter__destroy(sg);
	cr_assert_eq(count_suffix(".pcap", name, sizeof(name)), 1);
	cr_assert_eq(check_index(name, NULL), NTHREADS * PER_THREAD);
}

Test(segment_vni, a_full_run_array_flushes_the_buffer_early)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char name[256];
	uint32_t i;

	config(&cfg);
	sg = mt_fx_seg_create(&cfg);
	/*
	 * 64 KiB hold ~860 records of 60 bytes but only 128 runs: sessions
	 * that alternate packet by packet flush every ~127 records.
	 */
	w = mt_writer__create(sg, 65536);
	for (i = 0; i < 1000; i++)
		append(w, BASE_NS + i, 42 + i % 2, i, 60);
	cr_assert_geq(mt_writer_stats(w)->flushes, 7, "flushes: %llu",
		      (unsigned long long)mt_writer_stats(w)->flushes);
	cr_assert_eq(mt_writer_stats(w)->dropped_io_error, 0);
	seal_all(sg, w, BASE_NS + NS);
	cr_assert_eq(count_suffix(".pcap", name, sizeof(name)), 1);
	cr_assert_eq(check_index(name, NULL), 1000);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment_vni, failed_index_write_keeps_packets_and_drops_the_index)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char name[256], path[512];
	struct mt_pcap_scan scan;
	uint32_t i;
	int ro, fd;

	config(&cfg);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 4096);
	for (i = 0; i < 100; i++)
		append(w, BASE_NS + i, 42, i, 80);
	/* From now on the index cannot be written (EBADF), the pcap can. */
	snprintf(path, sizeof(path), "%s/ro", mt_fx_tmp);
	ro = open(path, O_RDONLY | O_CREAT, 0600);
	cr_assert_geq(ro, 0);
	cr_assert_geq(dup2(ro, sg->cur->vnix_fd), 0);
	close(ro);
	unlink(path);
	for (i = 100; i < 300; i++)
		append(w, BASE_NS + i, 43, i, 80);
	cr_assert_eq(mt_writer_flush(w), 0, "packets are not dropped");
	cr_assert_eq(mt_writer_stats(w)->records, 300);
	seal_all(sg, w, BASE_NS + NS);

	cr_assert_eq(count_suffix(".pcap", name, sizeof(name)), 1);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, name);
	fd = open(path, O_RDONLY);
	cr_assert_eq(mt_pcap_scan_fd(fd, &scan), 0);
	close(fd);
	cr_assert_eq(scan.records, 300, "every packet is in the segment");
	cr_assert_eq(count_suffix(".vni", NULL, 0), 0,
		     "no partial index a reader could trust");
	cr_assert_eq(count_suffix(".vni.part", NULL, 0), 1,
		     "only the next segment's index is open");
	mt_segmenter_stats(sg, &st);
	cr_assert_geq(st.index_errors, 1);
	cr_assert_eq(st.sealed_without_index, 1);

	/* The next segment has its index again. */
	for (i = 0; i < 10; i++)
		append(w, BASE_NS + 2 * NS + i, 44, i, 80);
	seal_all(sg, w, BASE_NS + 3 * NS);
	cr_assert_eq(count_suffix(".vni", name, sizeof(name)), 1);
	name[strlen(name) - 4] = '\0';
	strcat(name, ".pcap");
	cr_assert_eq(check_index(name, NULL), 10);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

/* A crashed segment: n records of 50 bytes, the file cut at cut. */
static void write_part(const char *name, int n, uint64_t base, off_t cut)
{
	uint8_t h[MT_PCAP_HDR_LEN], rec[MT_PCAP_REC_HDR_LEN + 50];
	char path[512];
	uint32_t vni;
	int fd, i;

	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	cr_assert_geq(fd, 0);
	mt_pcap_file_header(h, 65535, true);
	cr_assert_eq(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	memset(rec, 0x33, sizeof(rec));
	for (i = 0; i < n; i++) {
		/* VNIs as the index below says: 3 x 42, 3 x 43, 4 x 42 */
		vni = i >= 3 && i < 6 ? 43 : 42;
		mt_pcap_rec_header(rec, base + (uint64_t)i * NS, 50, 50, true);
		memcpy(rec + MT_PCAP_REC_HDR_LEN, &vni, 4);
		cr_assert_eq(write(fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	}
	if (cut)
		cr_assert_eq(ftruncate(fd, cut), 0);
	close(fd);
}

static void write_index(const char *name, const struct mt_vnix_run *runs,
			size_t n)
{
	uint8_t hdr[MT_VNIX_HDR_LEN] = { 0 };
	uint32_t version = MT_VNIX_VERSION;
	char path[512];
	int fd;

	memcpy(hdr, MT_VNIX_MAGIC, 8);
	memcpy(hdr + 8, &version, 4);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	cr_assert_eq(write(fd, runs, n * sizeof(*runs)),
		     (ssize_t)(n * sizeof(*runs)));
	close(fd);
}

#define REC 66 /* 16 + 50 */

Test(segment_vni, recovery_cuts_the_index_to_the_recovered_records)
{
	/*
	 * Flush order, not sorted; the index went out before the records,
	 * so it reaches past the crash: the run of records 6..9 crosses the
	 * cut (in the 8th record) and one more run has no records at all.
	 */
	const struct mt_vnix_run runs[] = {
		{ 24 + 6 * REC, 4, 42 },
		{ 24, 3, 42 },
		{ 24 + 10 * REC, 5, 44 },
		{ 24 + 3 * REC, 3, 43 },
	};
	/* Records 3..5 have no run: this index is not trusted. */
	const struct mt_vnix_run gap[] = {
		{ 24, 3, 42 },
		{ 24 + 6 * REC, 4, 42 },
	};
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_vnix_run *got;
	struct mt_segmenter *sg;
	char path[512];
	size_t n;
	int fd;

	write_part(".mirror-open-000001.pcap.part", 10, BASE_NS,
		   24 + 7 * REC + 30);
	write_index(".mirror-open-000001.vni.part", runs, 4);
	write_part(".mirror-open-000002.pcap.part", 10, BASE_NS + 20 * NS, 0);
	write_index(".mirror-open-000002.vni.part", gap, 2);
	/* From before VNI indexes: sealed without. */
	write_part(".mirror-open-000003.pcap.part", 4, BASE_NS + 40 * NS, 0);
	/* Leftovers of crashes between renames and deletes. */
	write_index(".mirror-open-000009.vni.part", gap, 2);
	write_index("mirror-20231114T000000Z-000000.vni", gap, 2);

	config(&cfg);
	sg = mt_fx_seg_create(&cfg);
	mt_segmenter_stats(sg, &st);
	cr_assert_eq(st.segments_recovered, 3);
	cr_assert_eq(st.sealed_without_index, 2);

	cr_assert(exists("mirror-20231114T221320Z-000001.pcap"));
	cr_assert_eq(check_index("mirror-20231114T221320Z-000001.pcap", NULL),
		     7);
	snprintf(path, sizeof(path), "%s/mirror-20231114T221320Z-000001.vni",
		 mt_fx_tmp);
	fd = open(path, O_RDONLY);
	cr_assert_eq(mt_vnix_read(fd, &got, &n), 0);
	close(fd);
	cr_assert_eq(n, 3);
	cr_assert_eq(got[2].off, 24 + 6 * REC);
	cr_assert_eq(got[2].count, 1,
		     "the crossing run keeps its whole records");
	free(got);

	cr_assert(exists("mirror-20231114T221340Z-000002.pcap"));
	cr_assert_not(exists("mirror-20231114T221340Z-000002.vni"));
	cr_assert(exists("mirror-20231114T221400Z-000003.pcap"));
	cr_assert_not(exists("mirror-20231114T221400Z-000003.vni"));
	cr_assert_not(exists(".mirror-open-000009.vni.part"));
	cr_assert_not(exists("mirror-20231114T000000Z-000000.vni"));
	cr_assert_not(exists(".mirror-open-000002.vni.part"));
	mt_segmenter__destroy(sg);
}

Test(segment_vni, retention_deletes_the_index_with_its_segment)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	int s, i;

	config(&cfg);
	cfg.keep_segments = 2;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	for (s = 0; s < 5; s++) {
		for (i = 0; i < 10; i++)
			append(w, BASE_NS + (uint64_t)s * 10 * NS + (uint64_t)i,
			       (uint32_t)s, (uint32_t)i, 60);
		seal_all(sg, w, BASE_NS + (uint64_t)s * 10 * NS + NS);
		mt_segmenter_tick(sg, BASE_NS + (uint64_t)s * 10 * NS + NS);
	}
	cr_assert_eq(count_suffix(".pcap", NULL, 0), 2);
	cr_assert_eq(count_suffix(".vni", NULL, 0), 2);
	cr_assert_not(exists("mirror-20231114T221320Z-000001.vni"));
	cr_assert_not(exists("mirror-20231114T221330Z-000002.vni"));
	cr_assert_not(exists("mirror-20231114T221340Z-000003.vni"));
	cr_assert_eq(check_index("mirror-20231114T221350Z-000004.pcap", NULL),
		     10);
	cr_assert_eq(check_index("mirror-20231114T221400Z-000005.pcap", NULL),
		     10);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}

Test(segment_vni, compression_keeps_the_index_readable)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	char gzname[256], vni[256], path[512], buf[4096];
	uint64_t n42 = 0;
	FILE *tmp;
	gzFile gz;
	int n, ifd;
	uint32_t i;

	config(&cfg);
	cfg.compress = true;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 8192);
	for (i = 0; i < 300; i++)
		append(w, BASE_NS + i, i % 10 < 4 ? 42 : 43, i, 70);
	seal_all(sg, w, BASE_NS + NS);
	mt_segmenter_drain(sg);
	cr_assert_eq(count_suffix(".pcap", NULL, 0), 0);
	cr_assert_eq(count_suffix(".pcap.gz", gzname, sizeof(gzname)), 1);
	cr_assert(mt_vnix_name(gzname, vni, sizeof(vni)));
	cr_assert(exists(vni), "%s beside %s", vni, gzname);

	/* Offsets are into the raw stream: inflate, then check. */
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, gzname);
	gz = gzopen(path, "rb");
	cr_assert_not_null(gz);
	tmp = tmpfile();
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, tmp);
	gzclose(gz);
	fflush(tmp);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, vni);
	ifd = open(path, O_RDONLY);
	cr_assert_eq(check_index_fds(fileno(tmp), ifd, &n42), 300);
	cr_assert_eq(n42, 120);
	close(ifd);
	fclose(tmp);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
}
