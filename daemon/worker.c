// SPDX-License-Identifier: GPL-2.0-only
/*
 * The worker loop: AF_XDP rx ring -> pipeline -> writer -> fill ring.
 *
 * Per batch: peek up to batch_size rx descriptors, pick up a reloaded rule
 * set, process every frame, put the same number of buffers back into the
 * fill ring, release the rx descriptors.  No lock, no allocation and no
 * system call per packet: the only calls are poll() when the ring is empty
 * and the writer's when its buffer fills (or once a second, and when idle,
 * so that captured packets reach the open segment soon).
 * With write-behind (output.write_queue, the default) the writer copies
 * each record, and a full buffer goes to the writer's own thread: the
 * worker never waits for storage unless every queued buffer is still
 * unwritten.  Without it the worker writes itself, and frames of a few
 * hundred bytes and more are lent to the writer: their records are
 * written straight from the UMEM with one pwritev() (one copy per packet,
 * the kernel's, instead of two).  So frames go back to the fill ring only
 * after that write: a worker holds the frames of several batches (up to
 * hold_max, a quarter of its UMEM at most, so the kernel never runs short)
 * and gives them back together, or when it goes idle for IDLE_POLL_MS, so
 * the write is not one system call per small batch.
 *
 * Time: the XDP program stamps every frame with bpf_ktime_get_tai_ns() in
 * the metadata area; CLOCK_TAI - CLOCK_REALTIME (kept by the control
 * thread) turns it into UTC.  A frame without metadata (the program could
 * not grow the metadata area) gets one CLOCK_REALTIME read per batch.
 *
 * Multi-buffer frames (XDP_USE_SG) arrive as several descriptors, all but
 * the last flagged XDP_PKT_CONTD, possibly split across batches; they are
 * copied into a per-worker bounce buffer and processed whole.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "mirror-target/caps.h"
#include "mirror-target/log.h"
#include "mt_xdp.h"
#include "worker.h"

#define NSEC 1000000000ull
#define IDLE_POLL_MS 100
/* Frames a worker may hold for the writer: at most this many... */
#define HOLD_MAX 512
/* ... and at most this share of its UMEM (1/4). */
#define HOLD_UMEM_SHIFT 2
/* Buffered records reach the segment at least this often under traffic. */
#define FLUSH_EVERY_NS NSEC

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* Once per loop pass, not per packet: a vDSO clock read per batch. */
static void heartbeat(struct mt_worker *wk)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	__atomic_store_n(&wk->heartbeat_ns,
			 (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec,
			 __ATOMIC_RELAXED);
}

struct mt_worker *mt_worker__create(const struct mt_worker_opts *o)
{
	struct mt_worker *wk;
	int err;

	wk = aligned_alloc(64, (sizeof(*wk) + 63) & ~(size_t)63);
	if (!wk)
		return NULL;
	memset(wk, 0, sizeof(*wk));
	wk->xsk = o->xsk;
	wk->cpu = o->cpu;
	wk->batch_size = o->batch_size;
	wk->stop = o->stop;
	wk->tai_offset_ns = o->tai_offset_ns;
	wk->bounce_size = o->bounce_size;
	/* Whole batches: hold_max is at least one. */
	wk->hold_max = o->xsk->nframes >> HOLD_UMEM_SHIFT;
	if (wk->hold_max > HOLD_MAX)
		wk->hold_max = HOLD_MAX;
	if (wk->hold_max < o->batch_size)
		wk->hold_max = o->batch_size;
	wk->fill_addrs =
		calloc(wk->hold_max + o->batch_size, sizeof(*wk->fill_addrs));
	if (!wk->fill_addrs)
		goto out_free;
	wk->bounce = malloc(o->bounce_size);
	if (!wk->bounce)
		goto out_addrs;
	wk->w = mt_writer__create_async(o->sg, o->writer_bufsize,
					o->writer_queue);
	if (!wk->w)
		goto out_bounce;
	/* Only per-rule hit counters can fail here; the filter still works. */
	mt_pipeline_init(&wk->p, o->sessions, o->rules, wk->w, o->vxlan_port);
	return wk;

out_bounce:
	err = errno;
	free(wk->bounce);
	errno = err;
out_addrs:
	err = errno;
	free(wk->fill_addrs);
	errno = err;
out_free:
	err = errno;
	free(wk);
	errno = err;
	return NULL;
}

static void flush(struct mt_worker *wk, uint64_t now_ns)
{
	mt_writer_sync(wk->w);
	if (wk->dirty)
		mt_writer_flush(wk->w);
	wk->dirty = false;
	wk->last_flush_ns = now_ns;
}

/* The metadata the XDP program wrote in front of frame; clears its magic. */
static bool take_meta(uint8_t *frame, uint64_t off_in_chunk, uint64_t *tai)
{
	struct mt_xdp_meta m;
	uint8_t *mp = frame - sizeof(m);

	if (off_in_chunk < sizeof(m))
		return false;
	memcpy(&m, mp, sizeof(m));
	if (m.magic != MT_XDP_META_MAGIC)
		return false;
	/*
	 * The chunk keeps these bytes when it comes back through the fill
	 * ring; a later frame without metadata must not find them valid.
	 */
	memset(mp + offsetof(struct mt_xdp_meta, magic), 0, sizeof(m.magic));
	*tai = m.rx_tai_ns;
	return true;
}

static void bounce_add(struct mt_worker *wk, const uint8_t *data, uint32_t len)
{
	uint32_t room = wk->bounce_size - wk->bounce_len;

	if (len > room) {
		len = room;
		wk->multi_cut = true;
	}
	memcpy(wk->bounce + wk->bounce_len, data, len);
	wk->bounce_len += len;
}

/*
 * Writes out the records lent from the held frames, then hands the frames
 * back to the fill ring.
 */
static void give_back(struct mt_worker *wk)
{
	struct mt_xsk *x = wk->xsk;
	uint32_t n = wk->npending, fidx = 0;

	mt_writer_lend_end(wk->w);
	if (!n)
		return;
	/*
	 * The fill ring holds every UMEM frame we do not, so there is always
	 * room for the ones we held.
	 */
	while (xsk_ring_prod__reserve(&x->fill, n, &fidx) != n)
		;
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&x->fill, fidx + i) =
			wk->fill_addrs[i];
	xsk_ring_prod__submit(&x->fill, n);
	wk->npending = 0;
	/* Zero-copy drivers stop when the fill ring ran dry: kick them. */
	if (xsk_ring_prod__needs_wakeup(&x->fill))
		recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

static void process_batch(struct mt_worker *wk, uint32_t n, uint32_t idx)
{
	struct mt_xsk *x = wk->xsk;
	int64_t tai_off =
		atomic_load_explicit(wk->tai_offset_ns, memory_order_relaxed);
	uint64_t batch_clock = 0, last_ts = 0;
	uint64_t *held = wk->fill_addrs + wk->npending;

	mt_pipeline_begin_batch(&wk->p);
	/* The frames stay ours until give_back. */
	mt_writer_lend(wk->w, true);
	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d =
			xsk_ring_cons__rx_desc(&x->rx, idx + i);
		/* Aligned UMEM: the chunk is the address rounded down. */
		uint64_t addr = d->addr;
		uint64_t base = addr & ~(uint64_t)(x->frame_size - 1);
		uint8_t *frame = xsk_umem__get_data(x->area, addr);
		bool contd = d->options & XDP_PKT_CONTD;
		uint64_t tai, ts;

		held[i] = base;
		if (wk->in_multi) {
			bounce_add(wk, frame, d->len);
			if (contd)
				continue;
			wk->in_multi = false;
			wk->stats.multibuf++;
			wk->stats.multibuf_cut += wk->multi_cut;
			/* The bounce buffer is reused: copy from it. */
			mt_writer_lend(wk->w, false);
			mt_pipeline_process_eth(&wk->p, wk->bounce,
						wk->bounce_len, wk->bounce_ts);
			mt_writer_lend(wk->w, true);
			last_ts = wk->bounce_ts;
			continue;
		}
		if (take_meta(frame, addr - base, &tai)) {
			ts = tai - (uint64_t)tai_off;
		} else {
			if (!batch_clock)
				batch_clock = realtime_ns();
			ts = batch_clock;
			wk->stats.no_meta++;
		}
		if (contd) {
			/* First buffer of a multi-buffer frame. */
			wk->in_multi = true;
			wk->multi_cut = false;
			wk->bounce_len = 0;
			wk->bounce_ts = ts;
			bounce_add(wk, frame, d->len);
			continue;
		}
		mt_pipeline_process_eth(&wk->p, frame, d->len, ts);
		last_ts = ts;
	}

	/* The descriptors go back now, the frames they named later. */
	xsk_ring_cons__release(&x->rx, n);
	wk->npending += n;
	if (wk->npending + wk->batch_size > wk->hold_max)
		give_back(wk);

	wk->stats.batches++;
	wk->dirty = true;
	/* Packet time, not a clock read: flush at least once a second. */
	if (last_ts && last_ts - wk->last_flush_ns >= FLUSH_EVERY_NS)
		flush(wk, last_ts);
}

static void *worker_main(void *arg)
{
	struct mt_worker *wk = arg;
	struct mt_xsk *x = wk->xsk;
	struct pollfd pfd = { .fd = x->fd, .events = POLLIN };
	char name[16];
	int err;

	/* For top -H and /proc/PID/task/TID/comm: which queue's worker. */
	snprintf(name, sizeof(name), "mt-worker-%u", x->queue);
	pthread_setname_np(pthread_self(), name);
	/*
	 * The socket is bound and the segment open: a worker needs no
	 * capability to parse what anyone on the network sends it.
	 */
	err = mt_caps_limit(0);
	if (err)
		mt_log(MT_LOG_WARN,
		       "queue worker on cpu %d keeps its capabilities: %s",
		       wk->cpu, strerror(-err));
	wk->last_flush_ns = realtime_ns();
	while (!atomic_load_explicit(wk->stop, memory_order_relaxed)) {
		uint32_t idx = 0, n;

		heartbeat(wk);
		n = xsk_ring_cons__peek(&x->rx, wk->batch_size, &idx);
		if (n) {
			process_batch(wk, n, idx);
			continue;
		}
		/*
		 * Nothing to do: sleep in poll() (which also kicks the driver
		 * when the kernel asked for a wakeup), and when nothing came
		 * for IDLE_POLL_MS make what is buffered visible.
		 */
		if (poll(&pfd, 1, IDLE_POLL_MS) != 0)
			continue;
		give_back(wk);
		if (wk->dirty) {
			wk->stats.idle_flushes++;
			flush(wk, realtime_ns());
		} else {
			/* Follow a rotation even when no packets come. */
			mt_writer_sync(wk->w);
		}
		/* Let reload free the old rule set while we are idle. */
		mt_pipeline_begin_batch(&wk->p);
	}
	give_back(wk);
	flush(wk, realtime_ns());
	return NULL;
}

int mt_worker__start(struct mt_worker *wk)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int ret;

	ret = pthread_attr_init(&attr);
	if (ret)
		return -ret;
	if (wk->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(wk->cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	ret = pthread_create(&wk->thread, &attr, worker_main, wk);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	wk->started = true;
	return 0;
}

void mt_worker__join(struct mt_worker *wk)
{
	if (!wk->started)
		return;
	pthread_join(wk->thread, NULL);
	wk->started = false;
}

void mt_worker__destroy(struct mt_worker *wk, int xsks_map_fd)
{
	if (!wk)
		return;
	mt_worker__join(wk);
	mt_writer__destroy(wk->w);
	mt_pipeline_fini(&wk->p);
	mt_xsk__destroy(wk->xsk, xsks_map_fd);
	free(wk->bounce);
	free(wk->fill_addrs);
	free(wk);
}

uint64_t mt_worker_rules_gen(const struct mt_worker *wk)
{
	return __atomic_load_n(&wk->p.rs_gen, __ATOMIC_ACQUIRE);
}

uint64_t mt_worker_heartbeat_ns(const struct mt_worker *wk)
{
	return __atomic_load_n(&wk->heartbeat_ns, __ATOMIC_RELAXED);
}
