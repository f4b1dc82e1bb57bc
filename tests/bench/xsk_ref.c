// SPDX-License-Identifier: GPL-2.0-only
/*
 * xsk_ref - the reference limit of tests/bench/live.sh: the least work any
 * AF_XDP receiver can do.  It attaches its own XDP program (UDP 4789 over
 * IPv4 -> the AF_XDP socket of the rx queue, everything else to the
 * kernel), opens one socket per queue with one pinned thread each, and
 * hands every received frame straight back to the fill ring: no parsing,
 * no copy, no write.  On SIGTERM/SIGINT it prints the frames received.
 *
 * With -w DIR it also keeps every frame, in the least work that can: each
 * queue's thread appends the frames of a batch (up to IOV_MAX) to
 * DIR/queue-N.raw with one writev() straight from the UMEM -- one copy
 * into the page cache, no record headers, no decapsulation -- before it
 * hands them back: the least work any AF_XDP capture program can do.
 * (Not a ceiling: it writes in the receiving thread, so frames that come
 * while a write takes long are dropped, which a write-behind avoids.)
 *
 *   xsk_ref -i IFACE [-q NQUEUES] [-r RING_SIZE] [-m native|generic]
 *           [-w DIR]
 *
 * Built by live.sh (cc -O2 xsk_ref.c -lxdp -lbpf), not by CMake: it is a
 * measuring instrument, not part of the product.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#define REF_FRAME_SIZE 4096u
#define REF_MAX_QUEUES 64u
#define REF_BATCH 64u
#define REF_WRITE_BATCH 1024u /* IOV_MAX */
#define REF_IDLE_POLL_MS 100

/* Raw instructions: no BPF compiler needed to build the benchmark. */
#define INSN(c, d, s, o, i)                 \
	((struct bpf_insn){ .code = (c),    \
			    .dst_reg = (d), \
			    .src_reg = (s), \
			    .off = (o),     \
			    .imm = (i) })
#define LDX(sz, d, s, o) INSN(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define MOV_REG(d, s) INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i) INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ADD_IMM(d, i) INSN(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define JGT_REG(d, s, o) INSN(BPF_JMP | BPF_JGT | BPF_X, d, s, o, 0)
#define JNE_IMM(d, i, o) INSN(BPF_JMP | BPF_JNE | BPF_K, d, 0, o, i)
#define CALL(f) INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

struct ref_queue {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	struct xsk_ring_cons rx;
	void *area;
	size_t area_size;
	unsigned int id;
	int out_fd; /* -w: DIR/queue-N.raw, else -1 */
	uint64_t frames;
	uint64_t bytes;
	int error; /* -w: errno of a failed write */
	pthread_t thread;
};

static atomic_bool stop;
static struct ref_queue queues[REF_MAX_QUEUES];

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

static void usage(void)
{
	fprintf(stderr, "usage: xsk_ref -i IFACE [-q NQUEUES] [-r RING_SIZE] "
			"[-m native|generic] [-w DIR]\n");
	exit(2);
}

/*
 * XDP: IPv4 (no options) UDP to port 4789 -> xskmap[rx_queue_index], the
 * rest passes.  The same test mirror-targetd's program makes first, minus
 * the VXLAN/allow-list checks, so the two see the same frames.
 */
static int load_prog(int map_fd)
{
	struct bpf_insn prog[] = {
		MOV_REG(BPF_REG_6, BPF_REG_1),
		LDX(BPF_W, BPF_REG_2, BPF_REG_1, 0), /* data */
		LDX(BPF_W, BPF_REG_3, BPF_REG_1, 4), /* data_end */
		MOV_REG(BPF_REG_4, BPF_REG_2),
		ADD_IMM(BPF_REG_4, 38), /* Ethernet + IPv4 + UDP ports */
		JGT_REG(BPF_REG_4, BPF_REG_3, 11),
		LDX(BPF_H, BPF_REG_5, BPF_REG_2, 12),
		JNE_IMM(BPF_REG_5, 0x0008, 9), /* htons(ETH_P_IP) */
		LDX(BPF_B, BPF_REG_5, BPF_REG_2, 14),
		JNE_IMM(BPF_REG_5, 0x45, 7),
		LDX(BPF_B, BPF_REG_5, BPF_REG_2, 23),
		JNE_IMM(BPF_REG_5, 17, 5), /* IPPROTO_UDP */
		LDX(BPF_H, BPF_REG_5, BPF_REG_2, 36),
		JNE_IMM(BPF_REG_5, 0xb512, 3), /* htons(4789) */
		LDX(BPF_W, BPF_REG_2, BPF_REG_6, 16), /* rx_queue_index */
		/* r1 = map (ld_imm64 with a map fd), r3 = XDP_PASS */
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0,
		     map_fd),
		INSN(0, 0, 0, 0, 0),
		/* (the jumps above land on "pass" two instructions on) */
	};
	struct bpf_insn tail[] = {
		MOV_IMM(BPF_REG_3, XDP_PASS),
		CALL(BPF_FUNC_redirect_map),
		EXIT(),
		MOV_IMM(BPF_REG_0, XDP_PASS), /* pass: */
		EXIT(),
	};
	struct bpf_insn all[sizeof(prog) / sizeof(prog[0]) +
			    sizeof(tail) / sizeof(tail[0])];
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .log_buf = log,
		    .log_size = sizeof(log), .log_level = 1);
	size_t np = sizeof(prog) / sizeof(prog[0]);
	int fd;

	/*
	 * Jump offsets count from the next instruction: from each check to
	 * "pass" there are the remaining checks, the map load (2 slots) and
	 * the 3 redirect instructions.  Recompute them rather than trust the
	 * constants above.
	 */
	memcpy(all, prog, sizeof(prog));
	memcpy(all + np, tail, sizeof(tail));
	for (size_t i = 0; i < np; i++) {
		if (BPF_CLASS(all[i].code) == BPF_JMP &&
		    BPF_OP(all[i].code) != BPF_CALL &&
		    BPF_OP(all[i].code) != BPF_EXIT)
			all[i].off = (short)(np + 3 - (i + 1));
	}
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xsk_ref", "GPL", all,
			   sizeof(all) / sizeof(all[0]), &opts);
	if (fd < 0)
		fprintf(stderr, "xsk_ref: cannot load the XDP program: %s\n%s",
			strerror(-fd), log);
	return fd;
}

static int queue_open(struct ref_queue *q, const char *ifname, int map_fd,
		      unsigned int ring, bool generic)
{
	struct xsk_umem_config ucfg = {
		.fill_size = ring * 2,
		.comp_size = ring,
		.frame_size = REF_FRAME_SIZE,
		.frame_headroom = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = ring * 2,
		.tx_size = 0,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE,
		.bind_flags = XDP_USE_NEED_WAKEUP,
	};
	unsigned int nframes = ring * 2;
	uint32_t idx = 0;
	int fd, ret;

	q->area_size = (size_t)nframes * REF_FRAME_SIZE;
	q->area = mmap(NULL, q->area_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->area == MAP_FAILED) {
		q->area = NULL;
		return -errno;
	}
	ret = xsk_umem__create(&q->umem, q->area, q->area_size, &q->fill,
			       &q->comp, &ucfg);
	if (ret)
		return ret;
	ret = xsk_socket__create(&q->xsk, ifname, q->id, q->umem, &q->rx, NULL,
				 &scfg);
	if (ret)
		return ret;
	if (xsk_ring_prod__reserve(&q->fill, nframes, &idx) != nframes)
		return -ENOSPC;
	for (unsigned int i = 0; i < nframes; i++)
		*xsk_ring_prod__fill_addr(&q->fill, idx + i) =
			(uint64_t)i * REF_FRAME_SIZE;
	xsk_ring_prod__submit(&q->fill, nframes);
	fd = xsk_socket__fd(q->xsk);
	if (bpf_map_update_elem(map_fd, &q->id, &fd, BPF_ANY))
		return -errno;
	return 0;
}

/* -w: append frames [rx_idx, rx_idx + n) of the rx ring to the file. */
static int write_frames(struct ref_queue *q, uint32_t rx_idx, uint32_t n)
{
	static _Thread_local struct iovec iov[REF_WRITE_BATCH];
	size_t left = 0;
	uint32_t first = 0;

	for (uint32_t i = 0; i < n; i++) {
		const struct xdp_desc *d =
			xsk_ring_cons__rx_desc(&q->rx, rx_idx + i);

		iov[i].iov_base = xsk_umem__get_data(q->area, d->addr);
		iov[i].iov_len = d->len;
		left += d->len;
	}
	q->bytes += left;
	while (left) {
		ssize_t w = writev(q->out_fd, iov + first, (int)(n - first));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		left -= (size_t)w;
		/* A short write: skip what went, go on from there. */
		while (w > 0 && (size_t)w >= iov[first].iov_len)
			w -= (ssize_t)iov[first++].iov_len;
		if (w > 0) {
			iov[first].iov_base = (char *)iov[first].iov_base + w;
			iov[first].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static void *queue_main(void *arg)
{
	struct ref_queue *q = arg;
	struct pollfd pfd = { .fd = xsk_socket__fd(q->xsk), .events = POLLIN };
	uint32_t batch = q->out_fd >= 0 ? REF_WRITE_BATCH : REF_BATCH;
	cpu_set_t allowed, set;

	/*
	 * Queue q on the q-th CPU this process may use (round robin), as the
	 * daemon places its workers: under `taskset` both stay inside it.
	 */
	if (!sched_getaffinity(0, sizeof(allowed), &allowed) &&
	    CPU_COUNT(&allowed)) {
		unsigned n = q->id % (unsigned)CPU_COUNT(&allowed);

		CPU_ZERO(&set);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &allowed) && n-- == 0) {
				CPU_SET(c, &set);
				break;
			}
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint32_t rx_idx = 0, fill_idx = 0, n;

		n = xsk_ring_cons__peek(&q->rx, batch, &rx_idx);
		if (!n) {
			poll(&pfd, 1, REF_IDLE_POLL_MS);
			continue;
		}
		if (q->out_fd >= 0) {
			int err = write_frames(q, rx_idx, n);

			if (err) {
				q->error = -err;
				atomic_store(&stop, true);
				break;
			}
		}
		/* Every frame taken was one the fill ring had: room exists. */
		while (xsk_ring_prod__reserve(&q->fill, n, &fill_idx) != n)
			;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t addr =
				xsk_ring_cons__rx_desc(&q->rx, rx_idx + i)->addr;

			*xsk_ring_prod__fill_addr(&q->fill, fill_idx + i) =
				xsk_umem__extract_addr(addr) &
				~(uint64_t)(REF_FRAME_SIZE - 1);
		}
		xsk_ring_prod__submit(&q->fill, n);
		xsk_ring_cons__release(&q->rx, n);
		if (xsk_ring_prod__needs_wakeup(&q->fill))
			recvfrom(pfd.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
		q->frames += n;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *ifname = NULL, *dir = NULL;
	unsigned int nq = 1, ring = 2048, started = 0;
	bool generic = false;
	uint64_t total = 0, dropped = 0, bytes = 0;
	int opt, map_fd, prog_fd, ifindex, ret, rc = 1;
	uint32_t attach_flags;

	while ((opt = getopt(argc, argv, "i:q:r:m:w:")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'q':
			nq = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			ring = (unsigned int)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			generic = !strcmp(optarg, "generic");
			break;
		case 'w':
			dir = optarg;
			break;
		default:
			usage();
		}
	}
	if (!ifname || nq < 1 || nq > REF_MAX_QUEUES || ring < 64 ||
	    (ring & (ring - 1)))
		usage();
	ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "xsk_ref: no interface %s\n", ifname);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	map_fd = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "xsk_ref_map", 4, 4,
				REF_MAX_QUEUES, NULL);
	if (map_fd < 0) {
		fprintf(stderr, "xsk_ref: cannot create the XSKMAP: %s\n",
			strerror(-map_fd));
		return 1;
	}
	prog_fd = load_prog(map_fd);
	if (prog_fd < 0)
		return 1;
	attach_flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	ret = bpf_xdp_attach(ifindex, prog_fd, attach_flags, NULL);
	if (ret) {
		fprintf(stderr, "xsk_ref: cannot attach XDP to %s: %s\n",
			ifname, strerror(-ret));
		return 1;
	}
	for (unsigned int i = 0; i < nq; i++) {
		queues[i].id = i;
		queues[i].out_fd = -1;
	}
	for (unsigned int i = 0; dir && i < nq; i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/queue-%u.raw", dir, i);
		queues[i].out_fd = open(
			path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (queues[i].out_fd < 0) {
			fprintf(stderr, "xsk_ref: cannot create %s: %s\n", path,
				strerror(errno));
			goto out_stop;
		}
	}
	for (unsigned int i = 0; i < nq; i++) {
		ret = queue_open(&queues[i], ifname, map_fd, ring, generic);
		if (ret) {
			fprintf(stderr,
				"xsk_ref: cannot open an AF_XDP socket on %s "
				"queue %u: %s\n",
				ifname, i, strerror(-ret));
			goto out_stop;
		}
	}
	for (; started < nq; started++) {
		if (pthread_create(&queues[started].thread, NULL, queue_main,
				   &queues[started])) {
			fprintf(stderr, "xsk_ref: cannot start a thread\n");
			goto out_stop;
		}
	}
	fprintf(stderr, "xsk_ref: capturing on %s, %u queues%s%s\n", ifname, nq,
		dir ? ", writing to " : "", dir ? dir : "");
	/* (any thread may take the signal: look, do not pause()) */
	while (!atomic_load(&stop))
		usleep(100000);
	rc = 0;
out_stop:
	atomic_store(&stop, true);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(queues[i].thread, NULL);
	bpf_xdp_detach(ifindex, attach_flags, NULL);
	for (unsigned int i = 0; i < nq; i++) {
		struct xdp_statistics st;
		socklen_t len = sizeof(st);

		if (queues[i].xsk &&
		    !getsockopt(xsk_socket__fd(queues[i].xsk), SOL_XDP,
				XDP_STATISTICS, &st, &len))
			dropped += st.rx_dropped + st.rx_ring_full +
				   st.rx_invalid_descs;
		total += queues[i].frames;
		bytes += queues[i].bytes;
		if (queues[i].error) {
			fprintf(stderr,
				"xsk_ref: writing queue %u's frames: %s\n", i,
				strerror(queues[i].error));
			rc = 1;
		}
		if (queues[i].out_fd >= 0 && close(queues[i].out_fd)) {
			fprintf(stderr,
				"xsk_ref: closing queue %u's file: %s\n", i,
				strerror(errno));
			rc = 1;
		}
		if (queues[i].xsk)
			xsk_socket__delete(queues[i].xsk);
		if (queues[i].umem)
			xsk_umem__delete(queues[i].umem);
		if (queues[i].area)
			munmap(queues[i].area, queues[i].area_size);
	}
	if (!rc)
		printf("received %" PRIu64 " frames, socket drops %" PRIu64
		       ", wrote %" PRIu64 " bytes\n",
		       total, dropped, bytes);
	return rc;
}
