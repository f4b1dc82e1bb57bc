/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Private to the segment store (segment.c, writer.c, segment_bg.c, pcap.c)
 * and its unit tests.
 *
 * Sharing a segment between workers: every field a worker touches on flush
 * lives in struct mt_segment's first cache line and is only changed with
 * __atomic builtins.  The segmenter publishes the open segment in
 * sg->cur and bumps sg->gen; a writer notices the new generation at its
 * next append and moves over.  Taking a reference is hazard-pointer style
 * (increment refs, then re-read sg->cur and back off if it changed), so
 * once the segmenter has replaced sg->cur and then read refs == 0 with
 * sequentially consistent operations, nobody can write to the old segment
 * any more and it can be sealed.
 */
#ifndef MT_SEGMENT_INTERNAL_H
#define MT_SEGMENT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/statvfs.h>

#include "mirror-target/pcap.h"
#include "mirror-target/segment.h"

#define MT_NSEC_PER_SEC 1000000000ull
/* ".PREFIX-open-NNNNNN.pcap.part" and final names fit easily. */
#define MT_SEG_NAME_MAX (MT_PREFIX_MAX + 64)
#define MT_NO_FAILURE UINT64_MAX

struct mt_segment {
	/* Written by workers at flush (atomics only). */
	uint64_t size __attribute__((aligned(64))); /* reserved end offset */
	uint64_t refs;
	uint64_t packets; /* records whose pwrite succeeded */
	uint64_t bytes; /* bytes of those records */
	uint64_t first_ts; /* min record ts flushed, UINT64_MAX if none */
	uint64_t last_ts; /* max record ts flushed, 0 if none */
	/*
	 * Lowest offset whose pwrite failed (MT_NO_FAILURE if none) and its
	 * errno.  Everything below it is whole records, because each flush
	 * reserved a contiguous range and every range below the lowest
	 * failed one was written in full; the seal cuts the file there.
	 */
	uint64_t fail_off;
	int fail_err;
	/*
	 * The VNI index: reserved end offset, records its runs cover (only
	 * runs whose pwrite succeeded), and whether any index write failed
	 * or the file could not be made (then it is never trusted).
	 */
	uint64_t vnix_size;
	uint64_t vnix_records;
	uint32_t vnix_failed;

	/* Owned by the segmenter. */
	int fd __attribute__((aligned(64)));
	int vnix_fd; /* -1: no index for this segment */
	/* Recovered: the index must be checked against the records. */
	bool vnix_verify;
	uint64_t prealloc; /* bytes reserved with fallocate(), 0 if none */
	/* As in its file header; writers follow them (reload may change). */
	uint32_t snaplen;
	bool nanosecond;
	char part[MT_SEG_NAME_MAX];
	char vnix_part[MT_SEG_NAME_MAX];
	/* A seal whose rename failed (read-only directory): tried again. */
	char final[MT_SEG_NAME_MAX];
	uint64_t seal_packets;
	struct mt_segment *next; /* retiring or unsealed list */
};

/* The record header, inline for the writer's hot path. */
static inline void mt_pcap_rec_fill(uint8_t *out, uint64_t ts_ns,
				    uint32_t caplen, uint32_t len,
				    bool nanosecond)
{
	struct mt_pcap_rec_hdr h;
	uint64_t sec = ts_ns / MT_NSEC_PER_SEC;
	uint32_t ns = (uint32_t)(ts_ns % MT_NSEC_PER_SEC);

	h.ts_sec = (uint32_t)sec;
	h.ts_frac = nanosecond ? ns : ns / 1000;
	h.caplen = caplen;
	h.len = len;
	memcpy(out, &h, sizeof(h));
}

/* Background gzip and hooks (segment_bg.c). */
struct mt_segbg;

struct mt_segbg_stats {
	uint64_t compressed, compress_failures;
	uint64_t hooks_run, hook_failures, hooks_skipped;
	uint64_t compress_backlog, hook_backlog; /* queued + running now */
};

struct mt_segbg *mt_segbg__create(const char *dir, int dirfd,
				  const struct mt_segment_config *cfg);
/*
 * Finishes queued compression, then waits for hooks until deadline_s
 * seconds have passed (0 = no limit); hooks still running are killed and
 * hooks still queued are counted as skipped.
 */
void mt_segbg__destroy(struct mt_segbg *bg, unsigned deadline_s);
/* Applies compress, compress_level, hook, hook_parallel/queue/timeout. */
void mt_segbg_reconfigure(struct mt_segbg *bg,
			  const struct mt_segment_config *cfg);
/* A segment NAME (file name in dir) was sealed: compress and/or hook it. */
void mt_segbg_submit(struct mt_segbg *bg, const char *name);
/* Queues NAME for compression only if compression is on. */
void mt_segbg_submit_compress(struct mt_segbg *bg, const char *name);
/* True while NAME (".pcap" or ".pcap.gz") is queued or being worked on. */
bool mt_segbg_busy(struct mt_segbg *bg, const char *name);
void mt_segbg_drain(struct mt_segbg *bg);
void mt_segbg_stats(struct mt_segbg *bg, struct mt_segbg_stats *out);
/* Bumped whenever a file in dir changed (compressed): rescan retention. */
uint64_t mt_segbg_changes(struct mt_segbg *bg);
/*
 * The directory was made again under the same path: work there from the
 * next job on.  The caller keeps the old descriptor open (a job may still
 * use it) until mt_segbg__destroy() has returned.
 */
void mt_segbg_set_dirfd(struct mt_segbg *bg, int dirfd);

#define MT_OLD_DIRFDS 8

struct mt_segmenter {
	/* Read by workers on every append / follow. */
	struct mt_segment *cur __attribute__((aligned(64)));
	uint64_t gen;
	int noseg_err; /* why cur is NULL: -ESHUTDOWN, -ENOSPC, -EIO */
	uint32_t snaplen;
	bool nanosecond;
	uint64_t write_errors; /* atomics: writers add pwrite failures */
	uint64_t index_errors; /* atomics: failed VNI index writes */
	uint32_t rotate_req; /* mt_segmenter_request_rotate() */

	/* Control thread (tick, reconfigure, stats) under lock. */
	pthread_mutex_t lock __attribute__((aligned(64)));
	struct mt_segment_config cfg;
	int dirfd;
	/* Descriptors of removed directories (see follow_dir()). */
	int old_dirfds[MT_OLD_DIRFDS];
	unsigned nold_dirfds;
	struct mt_segment *retiring, **retiring_tail;
	struct mt_segment *unsealed; /* renames to retry, see retry_seals() */
	uint64_t seq; /* last SEQ used in a final name */
	uint64_t name_time; /* seconds in the last final name */
	uint64_t part_serial; /* for ".PREFIX-open-N.pcap.part" */
	unsigned writers;
	bool stopped;
	bool floor_warned; /* "nothing left to delete" said once */
	bool rescan; /* retention must look at the directory */
	uint64_t bg_changes; /* last mt_segbg_changes() seen */
	uint64_t sealed_bytes; /* from the last directory scan */
	uint64_t sealed_count;
	struct mt_segmenter_stats st;
	struct mt_segbg *bg;
};

/* Free space on the filesystem of dirfd; tests replace it. */
extern int (*mt_segment_fstatvfs)(int fd, struct statvfs *st);

/*
 * Final names: parses PREFIX-YYYYmmddTHHMMSSZ-SEQ.pcap[.gz].  Returns true
 * and fills what is not NULL when name is one of ours.
 */
bool mt_segment_parse_name(const char *prefix, const char *name, uint64_t *seq,
			   uint64_t *time_s, bool *gz);

/*
 * NAME.vni for a segment named NAME.pcap or NAME.pcap.gz (also for the
 * hidden ".X.pcap.part" -> ".X.vni.part").  False if out is too small or
 * name is not a segment name.
 */
bool mt_vnix_name(const char *seg_name, char *out, size_t size);

/*
 * Tests: a write-behind writer's thread writes nothing while held (stop
 * still writes everything), so a test can keep buffers queued.
 */
void mt_writer_hold(struct mt_writer *w, bool held);

/* Tests: the buffer the writer is filling. */
const void *mt_writer_buffer(const struct mt_writer *w);

#endif /* MT_SEGMENT_INTERNAL_H */
