// SPDX-License-Identifier: GPL-2.0-only
/*
 * Per-worker pcap writer: the packet path of the segment store.
 *
 * An append is a record header plus a memcpy into a private buffer.  A full
 * buffer is written with one pwrite() at an offset reserved by an atomic
 * add on the segment's size, so any number of workers share a segment
 * without a lock and each flush lands as whole records.  The only shared
 * read per append is the segmenter's generation counter (relaxed); when it
 * moves, the writer flushes into its old segment and takes the new one.
 *
 * Lending (the live workers): between mt_writer_lend(w, true) and
 * mt_writer_lend_end() the caller promises that the data it appends stays
 * where it is, so records of at least LEND_MIN bytes are not copied: the
 * buffer gets their header, an iovec points at their data, and the flush
 * is one pwritev() of buffer pieces and lent data in record order.  An
 * AF_XDP worker lends its UMEM frames for one batch and takes them back
 * (to the fill ring) only after lend_end has written them: one copy per
 * packet (the kernel's, into the file) instead of two.
 *
 * Write-behind (mt_writer__create_async, the live workers by default): the
 * buffer is one of a pool of them, and a full one goes to a thread of the
 * writer's own that does the pwrite, while the worker fills the next.  A
 * write that blocks (tmpfs allocating pages, the page cache throttling a
 * slow disk, a stalled vCPU) then stalls that thread, not the worker that
 * must drain its rx ring: the pool is what lets a capture ride out tens of
 * milliseconds of storage latency, as a packet socket's large ring does for
 * tcpdump.  Records are copied (no lending: the UMEM frames go back to the
 * fill ring at once), buffers are written in the order they were filled,
 * and each queued buffer holds a reference on its segment, so rotation
 * still seals a segment only once every record for it is in the file.  The
 * worker waits only when every buffer is queued (counted).
 * Written buffers go back on a stack and the worker takes the top one: the
 * one the thread has just copied out of, still in the CPU's cache.  Taking
 * them in turn instead (a ring) made every copy into the buffer and out of
 * it miss the cache once the pool outgrew it; at 1500-byte frames the
 * thread then fell behind for good (see output.write_queue's help).
 *
 * The VNI index rides along: the buffer's records are described by runs
 * of consecutive records with one VNI.  A worker sees few sessions, mostly
 * in long stretches, so an append costs one compare against the current
 * run's VNI (the run's length is derived from the record count).  A flush
 * shifts the runs by the records' file offset and writes them with one
 * pwrite at an offset reserved on the index the same way.  The index goes
 * out before the records: after a crash, runs past the recovered end are
 * cut, while records without a run would make the whole index useless.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mirror-target/caps.h"
#include "mirror-target/log.h"
#include "segment_internal.h"

#define WRITER_BUF_DEFAULT (1u << 20)
/*
 * VNI runs per buffer: one per 512 bytes of buffer (2048 for 1 MiB, 32 KiB
 * of runs).  Only sessions interleaving packet by packet fill them before
 * the buffer; then a buffer goes out early, still whole records.
 */
#define WRITER_RUN_BYTES 512
#define WRITER_RUNS_MIN 16
/*
 * Lent records shorter than this are copied anyway: below it the iovec
 * walk in the kernel costs more than the copy it saves.
 */
#define LEND_MIN 256
/* iovecs of one flush: two per lent record and the buffer's tail. */
#define LEND_IOV_MAX 1024
/* Write-behind: at least double buffering, at most this many buffers. */
#define QUEUE_BUFS_MIN 2
#define QUEUE_BUFS_MAX 4096

/* One buffer and the VNI runs of its records. */
struct wbuf {
	uint8_t *buf;
	struct mt_vnix_run *runs;
};

/* A buffer's worth of whole records, described for the write. */
struct wjob {
	uint8_t *buf;
	struct mt_vnix_run *runs;
	size_t len, nruns;
	struct iovec *iov; /* lent records: buf pieces and data; else NULL */
	unsigned niov;
	uint64_t nrec, min_ts, max_ts;
	struct mt_segment *seg;
};

/*
 * The write-behind thread's side of the writer's buffers: job i (mod njobs)
 * is queued while written <= i < submitted; the buffers neither queued nor
 * the worker's are on the spare stack, the last one written on top.  Both
 * counters only grow; the lock guards them, the stack and the flags.
 */
struct wqueue {
	pthread_mutex_t lock;
	pthread_cond_t work; /* signalled on submit and stop */
	pthread_cond_t room; /* signalled when a job was written */
	uint64_t submitted, written;
	struct wbuf *spare; /* njobs slots */
	unsigned nspare;
	bool stop;
	bool held; /* tests: the thread writes nothing until released */
	pthread_t thread;
};

struct mt_writer {
	/* hot: touched on every append */
	uint8_t *buf;
	size_t len; /* bytes of the records held, lent data included */
	size_t blen, cap; /* bytes of them in buf, and its size */
	bool lending;
	struct iovec *iov; /* buffer pieces and lent data, in record order */
	unsigned niov;
	size_t bmark; /* buf bytes before this are in iov already */
	uint64_t nrec; /* records in buf */
	uint64_t min_ts, max_ts; /* of the records in buf */
	uint64_t gen; /* sg->gen this writer follows */
	struct mt_segment *seg; /* NULL: nothing to write to */
	uint32_t snaplen;
	bool nanosecond;
	uint32_t run_vni; /* VNI of the open run */
	uint64_t run_nrec; /* nrec when the open run started */
	uint64_t run_off; /* its offset in buf */
	struct mt_vnix_run *runs; /* closed runs of buf, offsets in buf */
	size_t nruns, runs_max;
	struct mt_segmenter *sg;
	/* Its buffers: one, or the write-behind pool; buf/runs are one's. */
	struct wbuf *bufs;
	struct wjob *jobs; /* the write-behind queue */
	unsigned njobs; /* both arrays' length */
	struct wqueue *q; /* NULL: the appending thread writes */

	struct mt_writer_stats stats __attribute__((aligned(64)));
};

/*
 * records, bytes and flushes have one writer (the worker, or its write-behind
 * thread); readers on other threads load relaxed.  The drop counters are
 * added to from both, rarely: atomically.
 */
#define WSTAT_ADD(w, f, n) \
	__atomic_store_n(&(w)->stats.f, (w)->stats.f + (n), __ATOMIC_RELAXED)
#define WSTAT_ADD_SHARED(w, f, n) \
	__atomic_fetch_add(&(w)->stats.f, (n), __ATOMIC_RELAXED)

static void buf_reset(struct mt_writer *w)
{
	w->len = 0;
	w->blen = 0;
	w->niov = 0;
	w->bmark = 0;
	w->nrec = 0;
	w->min_ts = UINT64_MAX;
	w->max_ts = 0;
	/* run_vni stays: the next record, at offset 0, may extend it. */
	w->run_nrec = 0;
	w->run_off = 0;
	w->nruns = 0;
}

static void count_dropped(struct mt_writer *w, int err, uint64_t n)
{
	if (err == -ENOSPC || err == -EDQUOT)
		WSTAT_ADD_SHARED(w, dropped_disk_full, n);
	else if (err == -ESHUTDOWN)
		WSTAT_ADD_SHARED(w, dropped_stopped, n);
	else
		WSTAT_ADD_SHARED(w, dropped_io_error, n);
}

static void atomic_min(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v < cur &&
	       !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

static void atomic_max(uint64_t *p, uint64_t v)
{
	uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

	while (v > cur &&
	       !__atomic_compare_exchange_n(p, &cur, v, true, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

/* pwritev() until all of iov[0..cnt) is written; advances iov. */
static int pwritev_all(int fd, struct iovec *iov, unsigned cnt, uint64_t off)
{
	ssize_t n;

	while (cnt) {
		n = pwritev(fd, iov, (int)cnt, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* A short write means the next one fails with the reason. */
		if (n == 0)
			return -EIO;
		off += (uint64_t)n;
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	struct iovec v = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };

	return pwritev_all(fd, &v, 1, off);
}

/* Closes the open run (if it holds records) into the run array. */
static void run_close(struct mt_writer *w)
{
	struct mt_vnix_run *r;

	if (w->nrec == w->run_nrec)
		return;
	r = &w->runs[w->nruns++];
	r->off = w->run_off;
	r->count = (uint32_t)(w->nrec - w->run_nrec);
	r->vni = w->run_vni;
}

/*
 * Writes a buffer's runs, shifted to the records' offset off.  A failure
 * costs the segment its index, never a packet: the seal then drops the
 * index instead of leaving one a reader would trust.
 */
static void index_write(struct mt_writer *w, const struct wjob *j, uint64_t off)
{
	struct mt_segment *seg = j->seg;
	size_t len = j->nruns * sizeof(struct mt_vnix_run);
	uint64_t ioff, nrec = 0;
	size_t i;
	int err;

	if (seg->vnix_fd < 0 ||
	    __atomic_load_n(&seg->vnix_failed, __ATOMIC_RELAXED))
		return;
	_Static_assert(sizeof(struct mt_vnix_run) == MT_VNIX_RUN_LEN,
		       "runs are written as they are in memory");
	for (i = 0; i < j->nruns; i++) {
		nrec += j->runs[i].count;
		j->runs[i].off = htole64(j->runs[i].off + off);
		j->runs[i].count = htole32(j->runs[i].count);
		j->runs[i].vni = htole32(j->runs[i].vni);
	}
	ioff = __atomic_fetch_add(&seg->vnix_size, len, __ATOMIC_RELAXED);
	err = pwrite_all(seg->vnix_fd, (const uint8_t *)j->runs, len, ioff);
	if (err) {
		__atomic_store_n(&seg->vnix_failed, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&w->sg->index_errors, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&seg->vnix_records, nrec, __ATOMIC_RELAXED);
}

/*
 * Writes one buffer's records (and index runs) to its segment.  A failed
 * range stays reserved in the segment; recording its offset lets the seal
 * cut the file back to whole records below it.  Once a segment has
 * failed, later buffers are dropped instead of written past the cut (the
 * segmenter rotates it at its next tick).
 */
static int job_write(struct mt_writer *w, const struct wjob *j)
{
	struct mt_segment *seg = j->seg;
	uint64_t off;
	int err;

	if (__atomic_load_n(&seg->fail_off, __ATOMIC_RELAXED) !=
	    MT_NO_FAILURE) {
		err = -__atomic_load_n(&seg->fail_err, __ATOMIC_RELAXED);
		goto out_drop;
	}
	off = __atomic_fetch_add(&seg->size, j->len, __ATOMIC_RELAXED);
	index_write(w, j, off);
	if (j->niov)
		err = pwritev_all(seg->fd, j->iov, j->niov, off);
	else
		err = pwrite_all(seg->fd, j->buf, j->len, off);
	if (err) {
		__atomic_store_n(&seg->fail_err, -err, __ATOMIC_RELAXED);
		atomic_min(&seg->fail_off, off);
		__atomic_fetch_add(&w->sg->write_errors, 1, __ATOMIC_RELAXED);
		goto out_drop;
	}
	__atomic_fetch_add(&seg->packets, j->nrec, __ATOMIC_RELAXED);
	__atomic_fetch_add(&seg->bytes, j->len, __ATOMIC_RELAXED);
	atomic_min(&seg->first_ts, j->min_ts);
	atomic_max(&seg->last_ts, j->max_ts);
	WSTAT_ADD(w, records, j->nrec);
	WSTAT_ADD(w, bytes, j->len);
	WSTAT_ADD(w, flushes, 1);
	return 0;

out_drop:
	count_dropped(w, err, j->nrec);
	return err;
}

/* The write-behind thread: writes queued buffers in order until stopped. */
static void *queue_main(void *arg)
{
	struct mt_writer *w = arg;
	struct wqueue *q = w->q;
	struct wjob *j;
	int err;

	/* It writes to files already open: no capability needed. */
	err = mt_caps_limit(0);
	if (err)
		mt_log(MT_LOG_WARN,
		       "write-behind thread keeps its capabilities: %s",
		       strerror(-err));
	/*
	 * At the worker's priority.  It ran at nice 10 once, so that a waking
	 * worker would take the CPU from it at once; but a worker draining a
	 * backlog then left it a tenth of a shared CPU (4 ms in every 40), the
	 * write-behind filled and the worker stopped after all: alternated at
	 * 1500-byte frames, 600-650 kpps, one CPU for both, nice 10 lost
	 * frames in 6 runs of 6 (0.09-2.5 %), nice 0 in 1 of 6 (0.53 %).
	 */
	pthread_setname_np(pthread_self(), "mt-write");
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while ((q->written == q->submitted || q->held) && !q->stop)
			pthread_cond_wait(&q->work, &q->lock);
		if (q->written == q->submitted)
			break;
		j = &w->jobs[q->written % w->njobs];
		pthread_mutex_unlock(&q->lock);

		job_write(w, j);
		/* Release: the seal may follow once refs reads 0. */
		__atomic_fetch_sub(&j->seg->refs, 1, __ATOMIC_SEQ_CST);
		j->seg = NULL;

		pthread_mutex_lock(&q->lock);
		q->spare[q->nspare++] = (struct wbuf){ j->buf, j->runs };
		q->written++;
		/* No system call unless the worker waits. */
		pthread_cond_signal(&q->room);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/*
 * Queues the filled buffer (with a reference on its segment) and moves the
 * writer to the spare on top, waiting for one if every buffer is queued.
 */
static void queue_submit(struct mt_writer *w, struct wjob *j)
{
	struct wqueue *q = w->q;
	struct wbuf next;

	__atomic_fetch_add(&j->seg->refs, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&q->lock);
	q->submitted++;
	pthread_cond_signal(&q->work);
	if (!q->nspare) {
		WSTAT_ADD(w, queue_waits, 1);
		while (!q->nspare)
			pthread_cond_wait(&q->room, &q->lock);
	}
	next = q->spare[--q->nspare];
	pthread_mutex_unlock(&q->lock);
	w->buf = next.buf;
	w->runs = next.runs;
}

int mt_writer_flush(struct mt_writer *w)
{
	struct wjob j;
	int err;

	if (!w->len)
		return 0;
	run_close(w);
	j = (struct wjob){
		.buf = w->buf,
		.runs = w->runs,
		.len = w->len,
		.nruns = w->nruns,
		.nrec = w->nrec,
		.min_ts = w->min_ts,
		.max_ts = w->max_ts,
		.seg = w->seg,
	};
	if (w->q) {
		struct wjob *qj = &w->jobs[w->q->submitted % w->njobs];

		*qj = j;
		queue_submit(w, qj);
		buf_reset(w);
		return 0;
	}
	if (w->niov) {
		if (w->blen > w->bmark)
			w->iov[w->niov++] = (struct iovec){
				.iov_base = w->buf + w->bmark,
				.iov_len = w->blen - w->bmark,
			};
		j.iov = w->iov;
		j.niov = w->niov;
	}
	err = job_write(w, &j);
	buf_reset(w);
	return err;
}

/* Leaves the old segment (after flushing into it) for the published one. */
static void writer_follow(struct mt_writer *w)
{
	struct mt_segmenter *sg = w->sg;
	struct mt_segment *s;

	if (w->seg) {
		mt_writer_flush(w);
		/* Release: our pwrite is done before the segmenter sees 0. */
		__atomic_fetch_sub(&w->seg->refs, 1, __ATOMIC_SEQ_CST);
		w->seg = NULL;
	}
	w->gen = __atomic_load_n(&sg->gen, __ATOMIC_ACQUIRE);
	for (;;) {
		s = __atomic_load_n(&sg->cur, __ATOMIC_SEQ_CST);
		if (!s)
			break;
		__atomic_fetch_add(&s->refs, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&sg->cur, __ATOMIC_SEQ_CST) == s)
			break;
		/* Retired under us: the segmenter may be sealing it. */
		__atomic_fetch_sub(&s->refs, 1, __ATOMIC_SEQ_CST);
	}
	w->seg = s;
	if (s) {
		/* A reload may have changed them; the buffer bounds snaplen. */
		w->snaplen = s->snaplen < w->cap - MT_PCAP_REC_HDR_LEN ?
				     s->snaplen :
				     (uint32_t)(w->cap - MT_PCAP_REC_HDR_LEN);
		w->nanosecond = s->nanosecond;
	}
}

/*
 * A record with another VNI than the open run's starts a new run.  The
 * last slot is kept for the flush, which closes the open run.
 */
static void run_start(struct mt_writer *w, uint32_t vni)
{
	if (w->nrec != w->run_nrec && w->nruns + 2 > w->runs_max)
		mt_writer_flush(w); /* failures are counted; buffer is empty */
	run_close(w);
	w->run_vni = vni;
	w->run_nrec = w->nrec;
	w->run_off = w->len;
}

int mt_writer_append(struct mt_writer *w, uint64_t ts_ns, uint32_t vni,
		     const void *data, uint32_t caplen, uint32_t orig_len)
{
	uint32_t n;
	uint8_t *p;
	int err;

	if (__builtin_expect(__atomic_load_n(&w->sg->gen, __ATOMIC_RELAXED) !=
				     w->gen,
			     0))
		writer_follow(w);
	/* After following: the new segment may have another snaplen. */
	n = caplen < w->snaplen ? caplen : w->snaplen;
	if (__builtin_expect(!w->seg, 0)) {
		err = __atomic_load_n(&w->sg->noseg_err, __ATOMIC_RELAXED);
		count_dropped(w, err, 1);
		return err;
	}
	/* A record must say it holds at least what it carries. */
	if (orig_len < caplen)
		orig_len = caplen;
	if (__builtin_expect(!orig_len, 0))
		return -EINVAL;
	if (__builtin_expect(w->blen + MT_PCAP_REC_HDR_LEN + n > w->cap ||
				     w->niov + 3 > LEND_IOV_MAX,
			     0))
		mt_writer_flush(w); /* failures are counted; buffer is empty */
	if (__builtin_expect(vni != w->run_vni, 0))
		run_start(w, vni);

	p = w->buf + w->blen;
	mt_pcap_rec_fill(p, ts_ns, n, orig_len, w->nanosecond);
	if (w->lending && n >= LEND_MIN) {
		w->blen += MT_PCAP_REC_HDR_LEN;
		w->iov[w->niov++] = (struct iovec){
			.iov_base = w->buf + w->bmark,
			.iov_len = w->blen - w->bmark,
		};
		w->iov[w->niov++] = (struct iovec){
			.iov_base = (void *)(uintptr_t)data,
			.iov_len = n,
		};
		w->bmark = w->blen;
	} else {
		memcpy(p + MT_PCAP_REC_HDR_LEN, data, n);
		w->blen += MT_PCAP_REC_HDR_LEN + n;
	}
	w->len += MT_PCAP_REC_HDR_LEN + n;
	w->nrec++;
	if (ts_ns < w->min_ts)
		w->min_ts = ts_ns;
	if (ts_ns > w->max_ts)
		w->max_ts = ts_ns;
	return 0;
}

void mt_writer_lend(struct mt_writer *w, bool on)
{
	/* Write-behind copies: the data is reused before the thread writes. */
	w->lending = on && !w->q;
}

int mt_writer_lend_end(struct mt_writer *w)
{
	w->lending = false;
	/* Lent data is about to be reused: write it now. */
	return w->niov ? mt_writer_flush(w) : 0;
}

void mt_writer_wait(struct mt_writer *w)
{
	struct wqueue *q = w->q;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	while (q->written != q->submitted)
		pthread_cond_wait(&q->room, &q->lock);
	pthread_mutex_unlock(&q->lock);
}

void mt_writer_hold(struct mt_writer *w, bool held)
{
	struct wqueue *q = w->q;

	pthread_mutex_lock(&q->lock);
	q->held = held;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
}

const void *mt_writer_buffer(const struct mt_writer *w)
{
	return w->buf;
}

void mt_writer_sync(struct mt_writer *w)
{
	if (__atomic_load_n(&w->sg->gen, __ATOMIC_ACQUIRE) != w->gen)
		writer_follow(w);
}

const struct mt_writer_stats *mt_writer_stats(const struct mt_writer *w)
{
	return &w->stats;
}

void mt_writer_stats_add(struct mt_writer_stats *sum, const struct mt_writer *w)
{
	const struct mt_writer_stats *s = &w->stats;

	sum->records += __atomic_load_n(&s->records, __ATOMIC_RELAXED);
	sum->bytes += __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
	sum->flushes += __atomic_load_n(&s->flushes, __ATOMIC_RELAXED);
	sum->dropped_stopped +=
		__atomic_load_n(&s->dropped_stopped, __ATOMIC_RELAXED);
	sum->dropped_disk_full +=
		__atomic_load_n(&s->dropped_disk_full, __ATOMIC_RELAXED);
	sum->dropped_io_error +=
		__atomic_load_n(&s->dropped_io_error, __ATOMIC_RELAXED);
	sum->queue_waits += __atomic_load_n(&s->queue_waits, __ATOMIC_RELAXED);
}

/*
 * Touches len bytes at p from the process's side (memset) and from the
 * kernel's: read() from /dev/zero writes them through the kernel's access
 * to user memory, which is what a later pwrite() reads them with.  Under a
 * hypervisor that shadows the guest's page tables (this project's test VM,
 * a PVM guest) the first access from each side to a page is a fault of its
 * own: 2-3.5 ms per MiB there, where the write itself takes 0.2
 * (tests/bench/vm.sh, "first touch").  Without both, a write-behind buffer
 * paid one of them the first time the worker filled it or the thread
 * wrote it, and a deep pool is first reached exactly when the thread is
 * already behind.
 */
static void touch(void *p, size_t len, int zero_fd)
{
	uint8_t *b = p;
	ssize_t n;

	memset(p, 0, len);
	while (len && zero_fd >= 0) {
		n = read(zero_fd, b, len);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		b += n;
		len -= (size_t)n;
	}
}

/*
 * n buffers and their run arrays, touched (by the process and the kernel)
 * so that memory use is fixed at start and neither the worker nor the
 * write-behind thread waits for a page of a buffer.
 */
static int bufs_alloc(struct mt_writer *w, size_t n)
{
	int zero_fd, err = 0;

	w->bufs = calloc(n, sizeof(*w->bufs));
	w->jobs = calloc(n, sizeof(*w->jobs));
	if (!w->bufs || !w->jobs)
		return -ENOMEM;
	w->njobs = (unsigned)n;
	zero_fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	for (unsigned i = 0; i < w->njobs; i++) {
		struct wbuf *b = &w->bufs[i];
		size_t rlen = w->runs_max * sizeof(*b->runs);

		b->buf = aligned_alloc(64, (w->cap + 63) & ~(size_t)63);
		b->runs = malloc(rlen);
		if (!b->buf || !b->runs) {
			err = -ENOMEM;
			break;
		}
		touch(b->buf, w->cap, zero_fd);
		touch(b->runs, rlen, zero_fd);
	}
	if (zero_fd >= 0)
		close(zero_fd);
	if (err)
		return err;
	w->buf = w->bufs[0].buf;
	w->runs = w->bufs[0].runs;
	return 0;
}

static void bufs_free(struct mt_writer *w)
{
	for (unsigned i = 0; w->bufs && i < w->njobs; i++) {
		free(w->bufs[i].buf);
		free(w->bufs[i].runs);
	}
	free(w->bufs);
	free(w->jobs);
}

static int queue_create(struct mt_writer *w)
{
	struct wqueue *q = calloc(1, sizeof(*q));

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->room, NULL);
	w->q = q;
	q->spare = calloc(w->njobs, sizeof(*q->spare));
	if (!q->spare)
		return -ENOMEM;
	/* Everything but the worker's first, bufs[1] on top. */
	for (unsigned i = w->njobs - 1; i > 0; i--)
		q->spare[q->nspare++] = w->bufs[i];
	/* Inherits the caller's signal mask (all blocked in the daemon). */
	return -pthread_create(&q->thread, NULL, queue_main, w);
}

static void queue_free(struct wqueue *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->room);
	free(q->spare);
	free(q);
}

/* Writes out what is queued and ends the write-behind thread. */
static void queue_stop(struct mt_writer *w)
{
	struct wqueue *q = w->q;

	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
}

struct mt_writer *mt_writer__create_async(struct mt_segmenter *sg,
					  size_t bufsize, size_t queue_bytes)
{
	struct mt_writer *w;
	size_t min, n = 1;
	int err;

	w = aligned_alloc(64, sizeof(*w));
	if (!w)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->sg = sg;
	w->snaplen = sg->snaplen;
	w->nanosecond = sg->nanosecond;

	/* The buffer always holds at least one record of full snaplen. */
	min = MT_PCAP_REC_HDR_LEN + (size_t)w->snaplen;
	if (!bufsize)
		bufsize = WRITER_BUF_DEFAULT;
	w->cap = bufsize < min ? min : bufsize;
	w->runs_max = w->cap / WRITER_RUN_BYTES;
	if (w->runs_max < WRITER_RUNS_MIN)
		w->runs_max = WRITER_RUNS_MIN;
	if (queue_bytes) {
		n = queue_bytes / w->cap;
		if (n < QUEUE_BUFS_MIN)
			n = QUEUE_BUFS_MIN;
		if (n > QUEUE_BUFS_MAX)
			n = QUEUE_BUFS_MAX;
	}
	err = bufs_alloc(w, n);
	if (err)
		goto out_free;
	err = -ENOMEM;
	w->iov = malloc(LEND_IOV_MAX * sizeof(*w->iov));
	if (!w->iov)
		goto out_free;
	buf_reset(w);
	if (queue_bytes) {
		err = queue_create(w);
		if (err)
			goto out_free;
	}

	pthread_mutex_lock(&sg->lock);
	sg->writers++;
	pthread_mutex_unlock(&sg->lock);
	writer_follow(w);
	return w;

out_free:
	free(w->iov);
	bufs_free(w);
	queue_free(w->q);
	free(w);
	errno = -err;
	return NULL;
}

struct mt_writer *mt_writer__create(struct mt_segmenter *sg, size_t bufsize)
{
	return mt_writer__create_async(sg, bufsize, 0);
}

void mt_writer__destroy(struct mt_writer *w)
{
	struct mt_segmenter *sg;

	if (!w)
		return;
	sg = w->sg;
	if (w->seg) {
		mt_writer_flush(w);
		__atomic_fetch_sub(&w->seg->refs, 1, __ATOMIC_SEQ_CST);
	}
	if (w->q)
		queue_stop(w);
	pthread_mutex_lock(&sg->lock);
	sg->writers--;
	pthread_mutex_unlock(&sg->lock);
	free(w->iov);
	bufs_free(w);
	queue_free(w->q);
	free(w);
}
