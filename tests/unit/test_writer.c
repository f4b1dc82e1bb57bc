// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-worker writer: several threads share segments while they rotate
 * under them, and a failing disk never leaves a torn record.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "fixtures.h"
#include "mirror-target/pcap.h"
#include "mirror-target/segment.h"
#include "../../daemon/core/segment_internal.h"

#define BASE_NS (1700000000ull * 1000000000ull)

TestSuite(writer, .init = mt_fx_tmp_setup, .fini = mt_fx_tmp_teardown,
	  .timeout = 120);

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A segment's VNI index (sealed or open), counted apart from segments. */
static bool is_index(const char *name)
{
	size_t n = strlen(name);

	return (n > 4 && !strcmp(name + n - 4, ".vni")) ||
	       (n > 9 && !strcmp(name + n - 9, ".vni.part"));
}

/*
 * Sorted visible file names in mt_fx_tmp but VNI indexes; *hidden counts
 * dot files.
 */
static size_t list_dir(char ***out, size_t *hidden)
{
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(mt_fx_tmp);

	cr_assert_not_null(d);
	*hidden = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (is_index(de->d_name))
			continue;
		if (de->d_name[0] == '.') {
			(*hidden)++;
			continue;
		}
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), name_cmp);
	*out = v;
	return n;
}

static uint8_t *slurp(const char *name, size_t *len)
{
	char path[512];
	uint8_t *buf;
	FILE *f;
	long sz;

	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(sz ? (size_t)sz : 1);
	cr_assert_eq(fread(buf, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*len = (size_t)sz;
	return buf;
}

/* ------------------------------------------------------------ concurrency */

#define NTHREADS 4
#define PER_THREAD 100000

struct thr {
	struct mt_writer *w;
	uint32_t id;
};

/* Rotations done by the test's control loop; writers wait for some. */
static unsigned rotations;
static unsigned writers_done;

static void *writer_thread(void *arg)
{
	struct thr *t = arg;
	uint8_t pkt[80];
	uint32_t len;
	uint64_t i;

	memset(pkt, 0xab, sizeof(pkt));
	for (i = 0; i < PER_THREAD; i++) {
		memcpy(pkt, &t->id, 4);
		memcpy(pkt + 4, &i, 8);
		len = 12 + (uint32_t)(i % 53); /* varied record sizes */
		cr_assert_eq(mt_writer_append(t->w, BASE_NS + i * 1000, 42, pkt,
					      len, len + 20),
			     0);
		if (i % 4096 == 0)
			mt_writer_sync(t->w);
		/*
		 * Every 10000 records, flush and wait (bounded) for the next
		 * rotation, so that rotations really fall between writes
		 * however the threads get scheduled.
		 */
		if (i % 10000 == 9999) {
			unsigned r0 =
				__atomic_load_n(&rotations, __ATOMIC_ACQUIRE);

			cr_assert_eq(mt_writer_flush(t->w), 0);
			for (int k = 0; k < 2000 &&
					__atomic_load_n(&rotations,
							__ATOMIC_ACQUIRE) == r0;
			     k++)
				usleep(500);
		}
	}
	__atomic_add_fetch(&writers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * queue_bytes 0: each thread writes its own buffers; else each writer's
 * thread does, from a ring of that many bytes of buffers.
 */
static void concurrent_run(size_t queue_bytes)
{
	struct mt_segment_config cfg;
	struct mt_segmenter_stats st;
	struct mt_segmenter *sg;
	struct thr t[NTHREADS];
	pthread_t tid[NTHREADS];
	uint64_t next[NTHREADS] = { 0 }, total = 0, written = 0;
	size_t nfiles, hidden, f, len, off;
	char **files;
	uint8_t *buf;
	int i;

	rotations = 0;
	writers_done = 0;
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	for (i = 0; i < NTHREADS; i++) {
		t[i].id = (uint32_t)i;
		t[i].w = mt_writer__create_async(sg, 16384, queue_bytes);
		cr_assert_not_null(t[i].w);
		pthread_create(&tid[i], NULL, writer_thread, &t[i]);
	}
	/* Rotate as fast as possible under the writers' feet. */
	while (__atomic_load_n(&writers_done, __ATOMIC_ACQUIRE) < NTHREADS) {
		mt_segmenter_request_rotate(sg);
		cr_assert_eq(mt_segmenter_tick(sg, BASE_NS), 0);
		__atomic_add_fetch(&rotations, 1, __ATOMIC_RELEASE);
		usleep(500);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(tid[i], NULL);
		cr_assert_eq(mt_writer_flush(t[i].w), 0);
		mt_writer_wait(t[i].w);
		written += mt_writer_stats(t[i].w)->records;
		cr_assert_eq(mt_writer_stats(t[i].w)->dropped_io_error, 0);
		mt_writer__destroy(t[i].w);
	}
	cr_assert_eq(written, (uint64_t)NTHREADS * PER_THREAD);
	mt_segmenter_tick(sg, BASE_NS);
	mt_segmenter_stats(sg, &st);
	mt_segmenter__destroy(sg);

	nfiles = list_dir(&files, &hidden);
	cr_assert_eq(hidden, 0, "no .part left after destroy");
	cr_assert_gt(nfiles, 2, "rotation happened while writing");
	cr_assert_geq(st.segments_sealed + 1, nfiles);
	/* Files in name order: each thread's sequence appears once, in order. */
	for (f = 0; f < nfiles; f++) {
		buf = slurp(files[f], &len);
		cr_assert_geq(len, 24);
		off = 24;
		while (off < len) {
			struct mt_pcap_rec_hdr h;
			uint32_t id;
			uint64_t seq;

			cr_assert_leq(off + 16, len, "%s: cut header",
				      files[f]);
			memcpy(&h, buf + off, 16);
			cr_assert_leq(off + 16 + h.caplen, len);
			cr_assert_eq(h.len, h.caplen + 20);
			memcpy(&id, buf + off + 16, 4);
			memcpy(&seq, buf + off + 20, 8);
			cr_assert_lt(id, NTHREADS);
			cr_assert_eq(seq, next[id],
				     "%s: thread %u seq %lu, expected %lu",
				     files[f], id, (unsigned long)seq,
				     (unsigned long)next[id]);
			cr_assert_eq(h.caplen, 12 + seq % 53);
			next[id]++;
			total++;
			off += 16 + h.caplen;
		}
		free(buf);
		free(files[f]);
	}
	free(files);
	cr_assert_eq(total, (uint64_t)NTHREADS * PER_THREAD);
}

Test(writer, concurrent_writers_share_rotating_segments)
{
	concurrent_run(0);
}

/*
 * The same with write-behind: four buffers a writer, so most rotations
 * find buffers for the old segment still queued, and the seal must wait
 * for them (a record written after the seal would be cut off or torn).
 */
Test(writer, write_behind_writers_share_rotating_segments)
{
	concurrent_run(4 * 16384);
}

/* ---------------------------------------------------------------- records */

Test(writer, snaplen_cuts_payload_keeps_orig_len)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct mt_pcap_rec_hdr h;
	uint8_t pkt[200], *buf;
	size_t n, hidden, len;
	char **files;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.snaplen = 100;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	for (n = 0; n < sizeof(pkt); n++)
		pkt[n] = (uint8_t)n;
	cr_assert_eq(mt_writer_append(w, BASE_NS + 7, 42, pkt, 200, 1500), 0);
	cr_assert_eq(mt_writer_append(w, BASE_NS + 8, 42, pkt, 50, 0), 0);
	cr_assert_eq(mt_writer_flush(w), 0);
	cr_assert_eq(mt_writer_stats(w)->records, 2);
	cr_assert_eq(mt_writer_stats(w)->bytes, 16 + 100 + 16 + 50);
	cr_assert_eq(mt_writer_stats(w)->flushes, 1);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);

	n = list_dir(&files, &hidden);
	cr_assert_eq(n, 1);
	buf = slurp(files[0], &len);
	cr_assert_eq(len, 24 + 16 + 100 + 16 + 50);
	memcpy(&h, buf + 24, 16);
	cr_assert_eq(h.caplen, 100);
	cr_assert_eq(h.len, 1500);
	cr_assert_eq(h.ts_sec, 1700000000u);
	cr_assert_eq(h.ts_frac, 7);
	cr_assert_arr_eq(buf + 40, pkt, 100);
	memcpy(&h, buf + 24 + 116, 16);
	cr_assert_eq(h.caplen, 50);
	cr_assert_eq(h.len, 50, "orig_len below caplen is raised to caplen");
	free(buf);
	free(files[0]);
	free(files);
}

/*
 * RLIMIT_FSIZE makes pwrite fail part way (EFBIG) like a full disk would:
 * the sealed file must end at the last whole record before the failure
 * and the lost records must be counted.
 */
static void failed_write_run(size_t queue_bytes)
{
	struct rlimit rl = { .rlim_cur = 100000, .rlim_max = RLIM_INFINITY };
	const struct mt_writer_stats *ws;
	struct mt_segmenter_stats st;
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct mt_pcap_scan scan;
	uint8_t pkt[64] = { 1 };
	size_t n, hidden;
	char **files, path[512];
	int i, fd;

	signal(SIGXFSZ, SIG_IGN);
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.snaplen = 64; /* else the buffer grows to one 65535-byte record */
	sg = mt_fx_seg_create(&cfg);
	/* 51 records of 80 bytes fill a 4096-byte buffer exactly 4080 */
	w = mt_writer__create_async(sg, 4096, queue_bytes);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (i = 0; i < 2000; i++)
		mt_writer_append(w, BASE_NS + (uint64_t)i, 42, pkt, 64, 64);
	mt_writer_flush(w);
	mt_writer_wait(w);
	ws = mt_writer_stats(w);
	/* (100000 - 24) / 4080 = 24 whole buffers fit under the limit */
	cr_assert_eq(ws->records, 24 * 51);
	cr_assert_eq(ws->dropped_io_error, 2000 - 24 * 51);
	cr_assert_eq(ws->dropped_disk_full, 0);
	mt_segmenter_stats(sg, &st);
	cr_assert_geq(st.write_errors, 1);

	/* The failure makes the segment rotate at the next tick. */
	mt_writer_sync(w);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS), 0);
	mt_writer_sync(w);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS), 0);
	n = list_dir(&files, &hidden);
	cr_assert_eq(n, 1);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, files[0]);
	fd = open(path, O_RDONLY);
	cr_assert_eq(mt_pcap_scan_fd(fd, &scan), 0);
	cr_assert_eq(scan.records, 24 * 51);
	cr_assert_eq(scan.valid_end, 24 + 24 * 4080);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)scan.valid_end,
		     "nothing after the last whole record");
	close(fd);

	/* Writing goes on in a fresh segment. */
	cr_assert_eq(mt_writer_append(w, BASE_NS, 42, pkt, 64, 64), 0);
	cr_assert_eq(mt_writer_flush(w), 0);
	mt_writer_wait(w);
	cr_assert_eq(ws->records, 24 * 51 + 1);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	free(files[0]);
	free(files);
}

Test(writer, failed_write_never_leaves_a_torn_record)
{
	failed_write_run(0);
}

/*
 * Write-behind: the write fails in the writer's thread, the same records
 * are counted and the same whole records stay (SIGXFSZ is ignored by the
 * process, RLIMIT_FSIZE limits every thread).
 */
Test(writer, failed_write_behind_never_leaves_a_torn_record)
{
	failed_write_run(8 * 4096);
}

/* ---------------------------------------------------------------- lending */

/* Record i of the lending tests: its size and a byte pattern of its own. */
static uint32_t lend_size(int i)
{
	static const uint32_t sizes[] = { 60, 1500, 255, 256, 900, 64, 4000 };

	return sizes[i % 7];
}

static void lend_fill(uint8_t *p, int i)
{
	uint32_t n = lend_size(i);

	for (uint32_t k = 0; k < n; k++)
		p[k] = (uint8_t)(i * 7 + k);
}

/*
 * Writes `count` records into a fresh directory's one segment, lent in
 * batches of `batch` (0: not lent, copied as before); every record's
 * memory is scribbled over once its batch has ended, as a worker's UMEM
 * frames are reused.  Returns the sealed segment's bytes.
 */
static uint8_t *lend_run(int count, int batch, size_t bufsize,
			 size_t queue_bytes, size_t *len, uint64_t *flushes)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	uint8_t **frames = calloc((size_t)count, sizeof(*frames));
	size_t n, hidden;
	char **files;
	uint8_t *buf;
	int i, b;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create_async(sg, bufsize, queue_bytes);
	for (i = 0; i < count;) {
		int first = i;

		if (batch)
			mt_writer_lend(w, true);
		for (b = 0; i < count && (!batch || b < batch); b++, i++) {
			frames[i] = malloc(lend_size(i));
			lend_fill(frames[i], i);
			cr_assert_eq(mt_writer_append(w, BASE_NS + (uint64_t)i,
						      (uint32_t)(42 + i / 100),
						      frames[i], lend_size(i),
						      lend_size(i)),
				     0);
		}
		if (batch)
			cr_assert_eq(mt_writer_lend_end(w), 0);
		for (b = first; b < i; b++) {
			memset(frames[b], 0xee, lend_size(b));
			free(frames[b]);
		}
	}
	cr_assert_eq(mt_writer_flush(w), 0);
	mt_writer_wait(w);
	cr_assert_eq(mt_writer_stats(w)->records, (uint64_t)count);
	*flushes = mt_writer_stats(w)->flushes;
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	free(frames);

	n = list_dir(&files, &hidden);
	cr_assert_eq(n, 1);
	buf = slurp(files[0], len);
	/* Leave the directory empty for the next run. */
	for (size_t k = 0; k < n; k++) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, files[k]);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%.*s.vni", mt_fx_tmp,
			 (int)(strlen(files[k]) - 5), files[k]);
		unlink(path);
		free(files[k]);
	}
	free(files);
	return buf;
}

/*
 * Lent records (>= 256 bytes, written from the caller's memory with
 * pwritev) and copied ones interleave into exactly the file that copying
 * every record makes, whatever the batch: 1 record, 64, more lent records
 * than one flush's iovecs hold (1200 records, 686 of them lent, > 1024 / 2),
 * and a buffer that fills with copied records in between.  The memory is scribbled over after each
 * batch, so any record written after lend_end would show it.
 */
Test(writer, lent_records_match_copied_ones)
{
	/*
	 * The last two with write-behind: lending is off there (the caller's
	 * memory is reused before the writer's thread writes), so the records
	 * are copied at append and the file is the same.
	 */
	static const struct {
		int batch;
		size_t bufsize, queue;
	} runs[] = {
		{ 1, 0, 0 },	 { 64, 0, 0 },	      { 1200, 0, 0 },
		{ 64, 8192, 0 }, { 64, 8192, 65536 }, { 1200, 0, 4u << 20 }
	};
	size_t ref_len, len;
	uint64_t flushes;
	uint8_t *ref, *got;

	ref = lend_run(2000, 0, 0, 0, &ref_len, &flushes);
	/* 24-byte header and every record whole. */
	cr_assert_gt(ref_len, 24 + 2000 * 16);
	for (size_t r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		got = lend_run(2000, runs[r].batch, runs[r].bufsize,
			       runs[r].queue, &len, &flushes);
		cr_assert_eq(len, ref_len, "batch %d: %zu bytes, copied %zu",
			     runs[r].batch, len, ref_len);
		cr_assert(!memcmp(got, ref, len),
			  "batch %d: the file differs from the copied one",
			  runs[r].batch);
		if (runs[r].batch == 1200 && !runs[r].queue)
			/* Two batches, the first flushed once before its end. */
			cr_assert_geq(flushes, 3);
		free(got);
	}
	free(ref);
}

/* A lent flush that fails counts its records as dropped, none torn. */
Test(writer, failed_lent_write_counts_drops)
{
	struct rlimit rl = { .rlim_cur = 100000, .rlim_max = RLIM_INFINITY };
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct mt_pcap_scan scan;
	const struct mt_writer_stats *ws;
	static uint8_t pkt[1000];
	uint64_t sent = 0;
	size_t n, hidden;
	char **files, path[512];
	int fd, err = 0;

	signal(SIGXFSZ, SIG_IGN);
	mt_fx_seg_config(&cfg, mt_fx_tmp);
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create(sg, 0);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	/* Batches of 10 lent 1000-byte records: 10160 bytes a flush. */
	while (!err && sent < 1000) {
		mt_writer_lend(w, true);
		for (int i = 0; i < 10; i++, sent++)
			mt_writer_append(w, BASE_NS + sent, 42, pkt, 1000,
					 1000);
		err = mt_writer_lend_end(w);
	}
	cr_assert_eq(err, -EFBIG);
	ws = mt_writer_stats(w);
	/* (100000 - 24) / 10160 = 9 whole batches fit under the limit */
	cr_assert_eq(ws->records, 90);
	cr_assert_eq(ws->dropped_io_error, sent - 90);
	mt_writer_sync(w);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS), 0);
	mt_writer_sync(w);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS), 0);
	rl.rlim_cur = RLIM_INFINITY;
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	n = list_dir(&files, &hidden);
	cr_assert_geq(n, 1);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, files[0]);
	fd = open(path, O_RDONLY);
	cr_assert_eq(mt_pcap_scan_fd(fd, &scan), 0);
	cr_assert_eq(scan.records, 90);
	cr_assert_eq(lseek(fd, 0, SEEK_END), (off_t)scan.valid_end,
		     "nothing after the last whole record");
	close(fd);
	for (size_t k = 0; k < n; k++)
		free(files[k]);
	free(files);
}

/*
 * Write-behind with the smallest ring (two buffers, so the appending
 * thread keeps waiting for the writer's) and no wait before destroy:
 * destroy writes out what is queued, and every record is in the segment,
 * in order.
 */
Test(writer, write_behind_destroy_writes_what_is_queued)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct mt_pcap_scan scan;
	uint8_t pkt[100] = { 0 }, *buf;
	size_t n, hidden, len, off;
	char **files, path[512];
	uint32_t i, seq;
	int fd;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.snaplen = 128;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create_async(sg, 4096, 1);
	cr_assert_not_null(w);
	for (i = 0; i < 20000; i++) {
		memcpy(pkt, &i, sizeof(i));
		cr_assert_eq(mt_writer_append(w, BASE_NS + i, 42, pkt,
					      sizeof(pkt), sizeof(pkt)),
			     0);
	}
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);

	n = list_dir(&files, &hidden);
	cr_assert_eq(n, 1);
	cr_assert_eq(hidden, 0);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, files[0]);
	fd = open(path, O_RDONLY);
	cr_assert_eq(mt_pcap_scan_fd(fd, &scan), 0);
	close(fd);
	cr_assert_eq(scan.records, 20000);
	buf = slurp(files[0], &len);
	for (i = 0, off = 24; off < len; i++, off += 16 + sizeof(pkt)) {
		memcpy(&seq, buf + off + 16, sizeof(seq));
		cr_assert_eq(seq, i, "record %u holds %u", i, seq);
	}
	cr_assert_eq(i, 20000);
	free(buf);
	free(files[0]);
	free(files);
}

/* Counts the visible and hidden (.part) segments in mt_fx_tmp. */
static size_t count_files(size_t *hidden)
{
	char **files;
	size_t n = list_dir(&files, hidden);

	for (size_t k = 0; k < n; k++)
		free(files[k]);
	free(files);
	return n;
}

struct blocked {
	struct mt_writer *w;
	uint8_t pkt[200];
};

/* Appends until the two buffers are queued and a third flush must wait. */
static void *append_into_held(void *arg)
{
	struct blocked *b = arg;

	for (int i = 0; i < 3 * 4096 / 216 + 1; i++)
		mt_writer_append(b->w, BASE_NS + (uint64_t)i, 42, b->pkt,
				 sizeof(b->pkt), sizeof(b->pkt));
	mt_writer_flush(b->w);
	return NULL;
}

/*
 * A rotation while a buffer for the old segment is still queued: the old
 * segment is not sealed until the buffer is written, and then holds it.
 * And a worker whose buffers are all queued waits (counted) instead of
 * dropping or overwriting one.
 */
Test(writer, write_behind_holds_the_seal_and_waits_for_room)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct blocked b = { 0 };
	pthread_t t;
	size_t n, hidden;
	char **files, path[512];
	struct mt_pcap_scan scan;
	int fd;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.snaplen = 256;
	sg = mt_fx_seg_create(&cfg);
	b.w = mt_writer__create_async(sg, 4096, 2 * 4096);
	cr_assert_not_null(b.w);
	/* One record written (an empty segment is not rotated), ten queued. */
	cr_assert_eq(mt_writer_append(b.w, BASE_NS, 42, b.pkt, sizeof(b.pkt),
				      sizeof(b.pkt)),
		     0);
	cr_assert_eq(mt_writer_flush(b.w), 0);
	mt_writer_wait(b.w);
	mt_writer_hold(b.w, true);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(mt_writer_append(b.w, BASE_NS + (uint64_t)i, 42,
					      b.pkt, sizeof(b.pkt),
					      sizeof(b.pkt)),
			     0);
	cr_assert_eq(mt_writer_flush(b.w), 0);
	/* Rotate; the writer follows and lets go of the old segment. */
	mt_segmenter_request_rotate(sg);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS), 0);
	mt_writer_sync(b.w);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS + 1), 0);
	n = count_files(&hidden);
	cr_assert_eq(n, 0, "sealed with its records still queued");
	cr_assert_geq(hidden, 1, "the old segment is still open");

	/* Two buffers, both queued: the next flush must wait for room. */
	pthread_create(&t, NULL, append_into_held, &b);
	for (int k = 0;
	     k < 2000 && !__atomic_load_n(&mt_writer_stats(b.w)->queue_waits,
					  __ATOMIC_RELAXED);
	     k++)
		usleep(1000);
	cr_assert_eq(mt_writer_stats(b.w)->queue_waits, 1);
	cr_assert_eq(mt_writer_stats(b.w)->records, 1);

	mt_writer_hold(b.w, false);
	pthread_join(t, NULL);
	mt_writer_wait(b.w);
	cr_assert_eq(mt_writer_stats(b.w)->records,
		     1 + 10 + 3 * 4096 / 216 + 1);
	cr_assert_eq(mt_segmenter_tick(sg, BASE_NS + 2), 0);
	mt_segmenter_drain(sg);
	n = list_dir(&files, &hidden);
	cr_assert_eq(n, 1, "sealed once its buffer was written: %zu", n);
	snprintf(path, sizeof(path), "%s/%s", mt_fx_tmp, files[0]);
	fd = open(path, O_RDONLY);
	cr_assert_eq(mt_pcap_scan_fd(fd, &scan), 0);
	close(fd);
	cr_assert_eq(scan.records, 11);
	free(files[0]);
	free(files);
	mt_writer__destroy(b.w);
	mt_segmenter__destroy(sg);
}

/* Index of p in seen[0..*n), added when new. */
static size_t buffer_index(const void **seen, size_t *n, const void *p)
{
	for (size_t k = 0; k < *n; k++)
		if (seen[k] == p)
			return k;
	seen[*n] = p;
	return (*n)++;
}

/* Appends one record numbered rec (its first bytes) and flushes it. */
static void flush_numbered(struct mt_writer *w, uint8_t *pkt, size_t len,
			   uint32_t rec)
{
	memcpy(pkt, &rec, sizeof(rec));
	cr_assert_eq(mt_writer_append(w, BASE_NS + rec, 42, pkt, len, len), 0);
	cr_assert_eq(mt_writer_flush(w), 0);
}

/*
 * A thread that keeps up hands back the buffer it has just written, still
 * in the cache, and the worker fills that one next: two buffers in turn,
 * not all sixteen.  A thread that falls behind still gets the whole pool
 * queued, and every record is written in order.
 */
Test(writer, write_behind_reuses_the_buffer_last_written)
{
	struct mt_segment_config cfg;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	const void *seen[32];
	size_t n = 0, hidden, len, off;
	uint8_t pkt[100] = { 0 }, *buf;
	char **files;
	uint32_t i, seq, rec = 0;

	mt_fx_seg_config(&cfg, mt_fx_tmp);
	cfg.snaplen = 128;
	sg = mt_fx_seg_create(&cfg);
	w = mt_writer__create_async(sg, 4096, 16 * 4096);
	cr_assert_not_null(w);
	for (i = 0; i < 100; i++) {
		flush_numbered(w, pkt, sizeof(pkt), rec++);
		mt_writer_wait(w);
		buffer_index(seen, &n, mt_writer_buffer(w));
	}
	cr_assert_eq(n, 2, "a thread that keeps up: %zu buffers in turn", n);

	/* Held: fifteen queued, the worker in the sixteenth. */
	mt_writer_hold(w, true);
	for (i = 0; i < 15; i++) {
		flush_numbered(w, pkt, sizeof(pkt), rec++);
		buffer_index(seen, &n, mt_writer_buffer(w));
	}
	cr_assert_eq(n, 16, "a thread behind: %zu of 16 buffers", n);
	cr_assert_eq(mt_writer_stats(w)->queue_waits, 0);
	mt_writer_hold(w, false);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);

	cr_assert_eq(list_dir(&files, &hidden), 1);
	buf = slurp(files[0], &len);
	for (i = 0, off = 24; off < len; i++, off += 16 + sizeof(pkt)) {
		memcpy(&seq, buf + off + 16, sizeof(seq));
		cr_assert_eq(seq, i, "record %u holds %u", i, seq);
	}
	cr_assert_eq(i, rec);
	free(buf);
	free(files[0]);
	free(files);
}
