/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One AF_XDP socket and its UMEM, bound to one rx queue (DESIGN §6).  The
 * worker of that queue owns the rings; this file only sets them up, primes
 * the fill ring and tears everything down.
 */
#ifndef MT_XSK_H
#define MT_XSK_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/if_xdp.h>
#include <xdp/xsk.h>

#include "mirror-target/log.h"

/* Debian 12's UAPI headers (6.1) predate AF_XDP multi-buffer (6.6). */
#ifndef XDP_USE_SG
#define XDP_USE_SG (1 << 4)
#endif
#ifndef XDP_PKT_CONTD
#define XDP_PKT_CONTD (1 << 0)
#endif

enum mt_bind_mode {
	MT_BIND_AUTO,
	MT_BIND_ZEROCOPY,
	MT_BIND_COPY,
};

struct mt_xsk_opts {
	const char *ifname;
	uint32_t queue;
	uint32_t frame_size; /* UMEM chunk, a power of two */
	uint32_t ring_size; /* UMEM frames, fill and rx ring: twice this */
	enum mt_bind_mode bind_mode;
	bool want_sg; /* multi-buffer frames (the frags program is attached) */
	bool busy_poll;
	uint32_t batch_size; /* busy-poll budget */
	int xsks_map_fd;
};

/*
 * Frames of a queue's UMEM for capture.ring_size, and the entries of its
 * fill and rx rings: all of them, so a stalled worker drops only once the
 * kernel has filled every frame.
 */
static inline uint32_t mt_xsk_nframes(uint32_t ring_size)
{
	return ring_size * 2;
}

struct mt_xsk {
	struct xsk_ring_cons rx;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	void *area;
	uint64_t area_size;
	uint32_t queue;
	uint32_t frame_size;
	uint32_t nframes;
	int fd;
	bool zerocopy;
	bool sg;
};

/* Creates, binds, primes the fill ring, enters the XSKMAP.  NULL + err. */
struct mt_xsk *mt_xsk__create(const struct mt_xsk_opts *o, struct mt_err *err);
/* Removes the socket from the XSKMAP (when map_fd >= 0) and frees all. */
void mt_xsk__destroy(struct mt_xsk *x, int xsks_map_fd);

/* XDP_STATISTICS of the socket; 0 or -errno. */
int mt_xsk_stats(const struct mt_xsk *x, struct xdp_statistics *out);

#endif /* MT_XSK_H */
