/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One worker thread per rx queue (DESIGN §1): takes batches of frames off
 * its AF_XDP socket, runs each through the pipeline into its segment
 * writer, and gives the buffers back to the fill ring.  The worker owns its
 * socket's rings, its pipeline and its writer; the control thread only
 * reads their counters (relaxed) and the pipeline's rs_gen.
 */
#ifndef MT_WORKER_H
#define MT_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mirror-target/config.h"
#include "mirror-target/pipeline.h"
#include "xsk.h"

struct mt_worker_stats {
	uint64_t batches;
	uint64_t no_meta; /* frames without XDP metadata: batch clock */
	uint64_t multibuf; /* frames reassembled from several buffers */
	uint64_t multibuf_cut; /* ... that did not fit the bounce buffer */
	uint64_t idle_flushes;
};

struct mt_worker_opts {
	struct mt_xsk *xsk; /* the worker owns it from here on */
	int cpu; /* -1: not pinned */
	uint32_t batch_size;
	uint32_t bounce_size; /* largest reassembled multi-buffer frame */
	const struct mt_sessions *sessions;
	struct mt_rules_ref *rules;
	struct mt_segmenter *sg;
	size_t writer_bufsize;
	size_t writer_queue; /* write-behind bytes; 0: the worker writes */
	uint16_t vxlan_port;
	atomic_bool *stop;
	/* CLOCK_TAI - CLOCK_REALTIME in ns, kept current by the control thread */
	_Atomic int64_t *tai_offset_ns;
};

struct mt_worker {
	struct mt_pipeline p; /* first: its stats are cache-line aligned */
	struct mt_worker_stats stats __attribute__((aligned(64)));
	struct mt_xsk *xsk;
	struct mt_writer *w;
	pthread_t thread;
	bool started;
	int cpu;
	uint32_t batch_size;
	atomic_bool *stop;
	_Atomic int64_t *tai_offset_ns;
	/*
	 * Buffers to hand back to the fill ring: the frames of the batches
	 * since the last give_back (their records may be lent to the writer).
	 */
	uint64_t *fill_addrs;
	uint32_t npending, hold_max;
	uint8_t *bounce; /* multi-buffer frame being reassembled */
	uint32_t bounce_size, bounce_len;
	uint64_t bounce_ts;
	bool in_multi, multi_cut;
	uint64_t last_flush_ns;
	bool dirty; /* records appended since the last flush */
	/*
	 * CLOCK_MONOTONIC ns of the loop's last pass (every batch, and at
	 * least every IDLE_POLL_MS when idle): /healthz calls a worker stuck
	 * when it stops moving.  Written by the worker, read by the control
	 * thread (relaxed).
	 */
	uint64_t heartbeat_ns;
};

/* Allocates the worker, its writer and pipeline.  NULL with errno. */
struct mt_worker *mt_worker__create(const struct mt_worker_opts *o);
/* Starts the thread (pinned to o->cpu when >= 0).  0 or -errno. */
int mt_worker__start(struct mt_worker *wk);
/* Waits for the thread (after *stop was set). */
void mt_worker__join(struct mt_worker *wk);
/*
 * Flushes and frees the writer and the pipeline; the socket is destroyed
 * with xsks_map_fd (see mt_xsk__destroy).
 */
void mt_worker__destroy(struct mt_worker *wk, int xsks_map_fd);

/* The generation of the rule set this worker uses (control thread). */
uint64_t mt_worker_rules_gen(const struct mt_worker *wk);
/* CLOCK_MONOTONIC ns of the worker loop's last pass; 0 before it ran. */
uint64_t mt_worker_heartbeat_ns(const struct mt_worker *wk);

#endif /* MT_WORKER_H */
