// SPDX-License-Identifier: GPL-2.0-only
/*
 * AF_XDP socket set-up (DESIGN §6).
 *
 * Each queue gets its own UMEM (no sharing: a worker never touches another
 * queue's memory) sized to fill the fill ring twice over the rx ring, so
 * the driver always has buffers for a full hardware ring plus whatever sits
 * in our rx ring.  The XDP program is ours (xdp_loader.c), so libxdp is
 * told not to load its default one, and the socket goes into our XSKMAP at
 * its queue index.
 *
 * Bind modes are tried in order: zero-copy, then copy (auto), each first
 * with multi-buffer (XDP_USE_SG, kernel 6.6+) when the frags program is
 * attached, then without.  A failed bind leaves the UMEM unusable in
 * libxdp, so every attempt starts from a fresh UMEM on the same memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "xsk.h"

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

/* Completion ring: unused (we never transmit) but the kernel wants one. */
#define MT_XSK_COMP_SIZE 64

static int try_bind(struct mt_xsk *x, const struct mt_xsk_opts *o,
		    uint16_t bind_flags)
{
	struct xsk_umem_config ucfg = {
		.fill_size = mt_xsk_nframes(o->ring_size),
		.comp_size = MT_XSK_COMP_SIZE,
		.frame_size = o->frame_size,
		.frame_headroom = 0,
		.flags = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = mt_xsk_nframes(o->ring_size),
		.tx_size = 0,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = bind_flags | XDP_USE_NEED_WAKEUP,
	};
	int ret;

	ret = xsk_umem__create(&x->umem, x->area, x->area_size, &x->fill,
			       &x->comp, &ucfg);
	if (ret)
		return ret;
	ret = xsk_socket__create(&x->xsk, o->ifname, o->queue, x->umem, &x->rx,
				 NULL, &scfg);
	if (ret) {
		xsk_umem__delete(x->umem);
		x->umem = NULL;
		x->xsk = NULL;
		return ret;
	}
	return 0;
}

static int bind_any(struct mt_xsk *x, const struct mt_xsk_opts *o,
		    struct mt_err *err)
{
	static const uint16_t modes[] = { XDP_ZEROCOPY, XDP_COPY };
	int ret = -EINVAL, zret = 0;

	for (unsigned m = 0; m < 2; m++) {
		if (o->bind_mode == MT_BIND_ZEROCOPY &&
		    modes[m] != XDP_ZEROCOPY)
			continue;
		if (o->bind_mode == MT_BIND_COPY && modes[m] != XDP_COPY)
			continue;
		for (int sg = o->want_sg; sg >= 0; sg--) {
			ret = try_bind(x, o, modes[m] | (sg ? XDP_USE_SG : 0));
			if (!ret) {
				x->zerocopy = modes[m] == XDP_ZEROCOPY;
				x->sg = sg;
				return 0;
			}
			/* -EBUSY etc. will not change with other flags. */
			if (ret != -EOPNOTSUPP && ret != -EINVAL &&
			    ret != -EPROTONOSUPPORT)
				goto fail;
		}
		if (modes[m] == XDP_ZEROCOPY)
			zret = ret;
	}
fail:
	if (o->bind_mode == MT_BIND_ZEROCOPY)
		return mt_err_set(err,
				  "%s queue %u: the driver has no zero-copy "
				  "AF_XDP (%s); use bind_mode = auto or copy",
				  o->ifname, o->queue, strerror(-ret));
	if (ret == -EBUSY)
		return mt_err_set(err,
				  "%s queue %u: another AF_XDP socket is "
				  "bound to this queue (is another "
				  "mirror-targetd running?)",
				  o->ifname, o->queue);
	(void)zret;
	if (ret == -ENOBUFS)
		return mt_err_set(
			err,
			"%s queue %u: cannot bind an AF_XDP socket: "
			"%s: the UMEM is charged to the locked-memory "
			"limit; grant CAP_IPC_LOCK or raise "
			"RLIMIT_MEMLOCK (LimitMEMLOCK=infinity)",
			o->ifname, o->queue, strerror(-ret));
	return mt_err_set(err, "%s queue %u: cannot bind an AF_XDP socket: %s",
			  o->ifname, o->queue, strerror(-ret));
}

static void set_busy_poll(const struct mt_xsk *x, const struct mt_xsk_opts *o)
{
	int one = 1, usecs = 20, budget = (int)o->batch_size;

	if (setsockopt(x->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &one,
		       sizeof(one)) ||
	    setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL, &usecs,
		       sizeof(usecs)) ||
	    setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget,
		       sizeof(budget)))
		mt_log(MT_LOG_WARN,
		       "%s queue %u: busy polling not available (%s); "
		       "continuing with interrupts",
		       o->ifname, o->queue, strerror(errno));
}

/* Every frame into the fill ring: the driver may use all of them. */
static int prime_fill(struct mt_xsk *x)
{
	uint32_t idx = 0;

	if (xsk_ring_prod__reserve(&x->fill, x->nframes, &idx) != x->nframes)
		return -ENOSPC;
	for (uint32_t i = 0; i < x->nframes; i++)
		*xsk_ring_prod__fill_addr(&x->fill, idx + i) =
			(uint64_t)i * x->frame_size;
	xsk_ring_prod__submit(&x->fill, x->nframes);
	return 0;
}

struct mt_xsk *mt_xsk__create(const struct mt_xsk_opts *o, struct mt_err *err)
{
	struct mt_xsk *x;
	int ret;

	x = calloc(1, sizeof(*x));
	if (!x) {
		mt_err_set(err, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	x->queue = o->queue;
	x->frame_size = o->frame_size;
	x->nframes = mt_xsk_nframes(o->ring_size);
	x->area_size = (uint64_t)x->nframes * o->frame_size;
	x->area = mmap(NULL, x->area_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (x->area == MAP_FAILED) {
		ret = -errno;
		mt_err_set(err,
			   "%s queue %u: cannot map %llu bytes of UMEM: %s "
			   "(lower ring_size or frame_size)",
			   o->ifname, o->queue,
			   (unsigned long long)x->area_size, strerror(-ret));
		goto out_free;
	}
	ret = bind_any(x, o, err);
	if (ret)
		goto out_unmap;
	x->fd = xsk_socket__fd(x->xsk);
	if (o->busy_poll)
		set_busy_poll(x, o);
	ret = prime_fill(x);
	if (ret) {
		mt_err_set(err, "%s queue %u: cannot prime the fill ring",
			   o->ifname, o->queue);
		goto out_socket;
	}
	ret = xsk_socket__update_xskmap(x->xsk, o->xsks_map_fd);
	if (ret) {
		mt_err_set(err,
			   "%s queue %u: cannot enter the socket into the "
			   "XSKMAP: %s (queue index above %u?)",
			   o->ifname, o->queue, strerror(-ret), 255);
		goto out_socket;
	}
	return x;

out_socket:
	xsk_socket__delete(x->xsk);
	xsk_umem__delete(x->umem);
out_unmap:
	munmap(x->area, x->area_size);
out_free:
	free(x);
	errno = ret < 0 ? -ret : EINVAL;
	return NULL;
}

void mt_xsk__destroy(struct mt_xsk *x, int xsks_map_fd)
{
	if (!x)
		return;
	/* Out of the map first: the program then drops, not redirects. */
	if (xsks_map_fd >= 0)
		bpf_map_delete_elem(xsks_map_fd, &x->queue);
	xsk_socket__delete(x->xsk);
	xsk_umem__delete(x->umem);
	munmap(x->area, x->area_size);
	free(x);
}

int mt_xsk_stats(const struct mt_xsk *x, struct xdp_statistics *out)
{
	socklen_t len = sizeof(*out);

	memset(out, 0, sizeof(*out));
	if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, out, &len))
		return -errno;
	return 0;
}
