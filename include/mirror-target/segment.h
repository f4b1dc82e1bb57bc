/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Rotating pcap segments (DESIGN §5).
 *
 * A struct mt_segmenter owns the output directory: the open segment (a
 * hidden ".NAME.part"), rotation, sealing (flush, fsync, rename, fsync the
 * directory), retention, background gzip and on-seal hooks, and, at
 * creation, recovery of leftover ".part" files.  It is driven by one thread
 * (the control thread; in offline mode the only thread) through
 * mt_segmenter_tick() with the current time: wall clock when live, packet
 * time when reading a capture.
 *
 * Each worker has a struct mt_writer: a private buffer of whole pcap
 * records.  A full buffer goes out with one pwrite() at an offset reserved
 * with an atomic add, so workers share a segment without locks.  A writer
 * holds a reference on the segment it writes to; on rotation the segmenter
 * publishes a new segment, the writer flushes its buffer into the old one at
 * its next append or mt_writer_sync() and moves on, and the old segment is
 * sealed at a later tick once no writer holds it.
 *
 * Final names: PREFIX-YYYYmmddTHHMMSSZ-SEQ.pcap (UTC time of the first
 * packet, never earlier than the previous segment's; SEQ 6 digits, carried
 * on from the highest in the directory), ".pcap.gz" once compressed.
 *
 * Beside each segment lies its VNI index, PREFIX-...-SEQ.vni (a hidden
 * ".NAME.vni.part" while open): the segments hold the inner frames only,
 * and the index says which VNI (mirror session) each record came with.
 * It is renamed into place before its segment, so a sealed segment whose
 * index exists has all of it; a segment whose index could not be written
 * completely is sealed without one (its packets are kept).
 */
#ifndef MT_SEGMENT_H
#define MT_SEGMENT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mirror-target/log.h"

#define MT_PREFIX_MAX 64
#define MT_HOOK_MAX 1024

struct mt_segment_config {
	char dir[PATH_MAX];
	char prefix[MT_PREFIX_MAX]; /* default "mirror" */
	uint32_t snaplen; /* bytes kept per packet */
	bool nanosecond; /* pcap timestamp resolution */
	uint64_t rotate_bytes; /* 0 = no size rotation */
	uint32_t rotate_interval; /* seconds, wall-clock aligned; 0 = off */
	uint32_t rotate_idle; /* seconds without packets; 0 = off */
	uint32_t keep_segments; /* 0 = unlimited */
	uint64_t keep_bytes; /* 0 = unlimited */
	uint64_t min_free_bytes; /* free-space floor on the filesystem */
	bool stop_when_full; /* drop and count instead of deleting */
	bool compress; /* gzip sealed segments in background */
	int compress_level; /* 1..9 */
	char hook[MT_HOOK_MAX]; /* run as: /bin/sh -c HOOK hook PATH */
	unsigned hook_parallel; /* at most this many hooks at once */
	unsigned hook_queue; /* sealed segments waiting for a hook */
	unsigned hook_timeout; /* seconds before a hook is killed; 0 = no */
};

/* Fills in every default (dir "/var/lib/mirror-target/segments"). */
void mt_segment_config_default(struct mt_segment_config *cfg);

struct mt_segmenter_stats {
	uint64_t segments_opened;
	uint64_t segments_sealed;
	uint64_t segments_recovered; /* .part files sealed at start */
	uint64_t segments_compressed;
	uint64_t segments_deleted; /* by retention */
	uint64_t compress_failures;
	uint64_t hooks_run;
	uint64_t hook_failures; /* non-zero exit, signal, timeout */
	uint64_t hooks_skipped; /* queue full */
	uint64_t write_errors; /* pwrite/fsync/rename failures */
	uint64_t index_errors; /* VNI index writes that failed */
	uint64_t sealed_without_index; /* because of those */
	/*
	 * Records of segments that vanished before they could be sealed (the
	 * directory was removed under the daemon): written, then lost.
	 */
	uint64_t records_lost;
	uint64_t dir_recreated; /* times the removed directory was made again */
	uint64_t compress_backlog; /* sealed segments waiting for gzip, or in it */
	uint64_t hook_backlog; /* sealed segments waiting for a hook, or in one */
	uint64_t bytes_on_disk; /* sealed segments we manage */
	uint64_t sealed_on_disk; /* how many */
	bool stopped; /* writing stopped (full, stop mode) */
};

struct mt_writer_stats {
	uint64_t records;
	uint64_t bytes; /* written to segments, headers included */
	uint64_t dropped_stopped; /* no segment to write to (stop mode) */
	uint64_t dropped_disk_full; /* ENOSPC / EDQUOT */
	uint64_t dropped_io_error; /* any other write failure */
	uint64_t flushes;
	/* times the worker found every write-behind buffer queued, and waited */
	uint64_t queue_waits;
};

struct mt_segmenter;
struct mt_writer;

/*
 * Creates the directory if needed, recovers leftover .part files, applies
 * retention, and prepares the first segment: a hidden .part file with its
 * pcap header (preallocated to rotate_bytes + 1/8 where the filesystem
 * allows), so that workers never create files.  A segment that never got a
 * packet is deleted at shutdown, never sealed.
 */
struct mt_segmenter *mt_segmenter__create(const struct mt_segment_config *cfg,
					  struct mt_err *err);
/*
 * Seals the open segment (hook run), waits for compression and hooks to
 * finish (bounded by hook_timeout), frees everything.  Every writer must
 * have been destroyed first.
 */
void mt_segmenter__destroy(struct mt_segmenter *sg);

/*
 * Rotation by size, interval and idleness, sealing of segments no writer
 * holds any more, retention.  now_ns is UTC ns (packet time offline).
 * Returns 0 or -errno of the first failure (also counted and logged).
 */
int mt_segmenter_tick(struct mt_segmenter *sg, uint64_t now_ns);
/* Seals the open segment at the next tick (mirrorctl rotate). */
void mt_segmenter_request_rotate(struct mt_segmenter *sg);
/*
 * Applies reloadable settings: rotation, retention, hook, compress, and
 * snaplen and timestamp format, which start a new segment (a pcap file has
 * one of each).  dir and prefix need a restart (-EINVAL, err says so).
 */
int mt_segmenter_reconfigure(struct mt_segmenter *sg,
			     const struct mt_segment_config *cfg,
			     struct mt_err *err);
void mt_segmenter_stats(struct mt_segmenter *sg,
			struct mt_segmenter_stats *out);
/* Waits until background gzip and hooks are idle (tests, offline end). */
void mt_segmenter_drain(struct mt_segmenter *sg);

struct mt_writer *mt_writer__create(struct mt_segmenter *sg, size_t bufsize);
/*
 * A writer whose full buffers are written by a thread of its own, from a
 * ring of queue_bytes / bufsize of them (at least 2, at most 4096, all
 * allocated and touched here), so that a blocking write does not block the
 * caller; appends then copy (lending is off).  queue_bytes 0: as
 * mt_writer__create.  The caller's signal mask is the thread's.
 */
struct mt_writer *mt_writer__create_async(struct mt_segmenter *sg,
					  size_t bufsize, size_t queue_bytes);
/* Flushes, releases its segment, frees. */
void mt_writer__destroy(struct mt_writer *w);

/*
 * Appends one record that came with VXLAN network identifier vni; copies
 * min(caplen, snaplen) bytes.  Never blocks on a lock; at most one flush
 * (two pwrites: index, records) when the buffer or its VNI runs fill.
 * Returns 0, or -ENOSPC / -EIO / -ESHUTDOWN (stopped) when the packet was
 * dropped (and counted).
 */
int mt_writer_append(struct mt_writer *w, uint64_t ts_ns, uint32_t vni,
		     const void *data, uint32_t caplen, uint32_t orig_len);
/*
 * Writes out what is buffered.  Returns 0 or -errno.  A write-behind writer
 * queues the buffer instead (0; failures are counted when it is written).
 */
int mt_writer_flush(struct mt_writer *w);
/* Waits until every queued buffer is written (write-behind; else no-op). */
void mt_writer_wait(struct mt_writer *w);
/*
 * While lending is on, the data given to mt_writer_append stays valid and
 * unchanged until mt_writer_lend_end, so records of a few hundred bytes
 * and more are written from it instead of copied.  mt_writer_lend(w,
 * false) pauses lending for appends of data that will not stay (records
 * already lent stay lent).  lend_end writes out what was lent (one
 * pwritev) and stops lending; then the caller may reuse the memory.  It
 * returns 0 or the flush's -errno (the records are counted as dropped
 * then, as for any failed flush).
 */
void mt_writer_lend(struct mt_writer *w, bool on);
int mt_writer_lend_end(struct mt_writer *w);
/* Follows a rotation now (flushing into the old segment) if one happened. */
void mt_writer_sync(struct mt_writer *w);
/* Worker-owned counters; read them from the control thread (relaxed). */
const struct mt_writer_stats *mt_writer_stats(const struct mt_writer *w);
/* Adds w's counters to *sum with relaxed loads (totals over workers). */
void mt_writer_stats_add(struct mt_writer_stats *sum,
			 const struct mt_writer *w);

/*
 * The VNI index file: a 16-byte header (magic "MTVNIX01", u32 version,
 * u32 reserved) then 16-byte runs, all little-endian: the u64 offset of a
 * run's first record in the uncompressed pcap, u32 how many consecutive
 * records it covers, u32 their VNI.  Runs are in flush order, not sorted:
 * several writers share a segment.  Offsets are into the raw pcap, so the
 * index stays valid when the segment is gzipped.
 */
#define MT_VNIX_MAGIC "MTVNIX01"
#define MT_VNIX_VERSION 1u
#define MT_VNIX_HDR_LEN 16
#define MT_VNIX_RUN_LEN 16
#define MT_VNIX_SUFFIX ".vni"

struct mt_vnix_run {
	uint64_t off;
	uint32_t count;
	uint32_t vni;
};

/*
 * Reads the index open at fd: *runs (malloc'd, sorted by offset, empty
 * runs left out) and *n.  A torn run at the end (a crash mid-write) is
 * ignored; whether the runs cover the segment is for the caller to check
 * against the records.  Returns 0, -EPROTO when fd is not an index of a
 * version we know, -ENOMEM or -errno.
 */
int mt_vnix_read(int fd, struct mt_vnix_run **runs, size_t *n);

#endif /* MT_SEGMENT_H */
