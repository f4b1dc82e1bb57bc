/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mirror-loadgen's two halves: loadgen.c builds the frames (pcap, flow
 * generator, VXLAN wrapping) and loadgen_xdp.c sends them with BPF_PROG_RUN
 * live frames.  They are separate files because libpcap's and the kernel's
 * BPF headers both define struct bpf_insn.
 */
#ifndef MT_LOADGEN_H
#define MT_LOADGEN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lg_frame {
	uint8_t *data;
	uint32_t len;
	uint32_t order; /* position in the input, for a stable grouping */
};

struct lg_send_opts {
	const char *ifname;
	int ifindex;
	uint64_t count; /* 0: unlimited */
	double duration; /* seconds, 0: unlimited */
	uint64_t rate; /* frames per second, 0: as fast as possible */
	bool burst; /* --pace burst: sleep between bursts of PACE_MS */
	uint32_t batch; /* frames per kernel transmit batch */
	/* Bytes of each frame that differ within a length (all of it: 0). */
	uint32_t copy_max;
	bool verbose;
};

struct lg_result {
	uint64_t sent, bytes;
	double elapsed;
	double lag; /* smooth pacing: seconds the schedule moved on unsent */
	bool interrupted;
};

/*
 * Sends v[0..n) (sorted by length, then input order) until o->count,
 * o->duration or a pending signal of *stop (blocked by the caller).
 * Returns 0, -EOPNOTSUPP when the kernel refused live frames before any
 * was sent, or another -errno (the message is printed).  *res is filled
 * in every case.
 */
int lg_send(const struct lg_frame *v, size_t n, const struct lg_send_opts *o,
	    const sigset_t *stop, struct lg_result *res);

#endif /* MT_LOADGEN_H */
