// SPDX-License-Identifier: GPL-2.0-only
/*
 * Single-core benchmark of the packet path: the real
 * mt_pipeline_process_batch() (decap -> direction -> filter) feeding a real
 * mt_writer of a real mt_segmenter that writes to tmpfs.
 *
 * The frames sit in memory the way AF_XDP leaves them: one 4096-byte UMEM
 * chunk each, 4096 distinct frames of 4096 flows, VXLAN from 198.18.1.x to
 * 198.18.0.2, VNI 42.  Half the mirrored packets leave the source ENI
 * (192.0.2.10-13), half arrive at it; the far ends are random IPv4
 * addresses, and one in ten lies inside a CIDR of the block list so that
 * the filter does find matches.  The frames only ever live in memory.
 *
 * The rule sets model a block list: one CIDR /8../32 on the remote side,
 * mixed protocols, a fifth with a port range, mostly reject, and an
 * accept-everything rule at the end so that most packets reach the writer.
 * They are written as native rules files and loaded with mt_ruleset__load(),
 * as the daemon does.
 *
 * The "bare loop" copies the same pcap records into a buffer of the same
 * size and pwrite()s it to a file on the same tmpfs: nothing can write the
 * packets out faster on this machine, so it is the yardstick for the writer.
 *
 * Modes:
 *   bench_core [--dir D] [--reps N] [--quick]   the benchmark, Markdown out
 *   bench_core --profile SIZE RULES             one cell, repeated (perf)
 *   ... --per-frame                             mt_pipeline_process_eth()
 *                                               per frame, not the batch call
 *   bench_core --match RULES                    the matcher alone, one set
 *   bench_core --gen-rules N SEED FILE          a rules file (N rules)
 *   bench_core --write-pcap FILE NFRAMES        raw VXLAN capture (64/512/1500)
 *   bench_core --run CMD [ARG...]               "WALL CPU USER" ns of a command
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mirror-target/config.h"
#include "mirror-target/decap.h"
#include "mirror-target/direction.h"
#include "mirror-target/pcap.h"
#include "mirror-target/pipeline.h"
#include "mirror-target/rules.h"
#include "mirror-target/segment.h"

/* The builders the unit tests use: checksummed, AWS-shaped frames. */
#include "../unit/fixtures.c"

#define BENCH_SEED 0x6d697272u /* "mirr" */
#define BENCH_VNI 42
#define BENCH_NFRAMES 4096
#define BENCH_CHUNK 4096 /* UMEM frame size */
#define BENCH_BATCH 64 /* rx batch, as the worker peeks */
#define BENCH_NLOCAL 4 /* addresses of the mirrored ENI */
#define BENCH_HIT_PERMILLE 100
#define BENCH_TICK_EVERY 65536 /* packets between segmenter ticks */
#define BENCH_MAX_RULES 10000
#define BENCH_CATCH_ALL_NUMBER MT_RULE_NUMBER_MAX
#define BENCH_T0_NS 1767225600000000000ull /* 2026-01-01T00:00:00Z */
#define BENCH_GAP_NS 67 /* 15 Mpps */

static const unsigned bench_sizes[] = { 64, 512, 1500 };
static const unsigned bench_rule_counts[] = { 0, 10, 1000, 10000 };
#define NSIZES (sizeof(bench_sizes) / sizeof(bench_sizes[0]))
#define NRULESETS (sizeof(bench_rule_counts) / sizeof(bench_rule_counts[0]))

/* splitmix64: deterministic for a seed, good enough for test data. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

/*
 * The clock of every measurement: CPU time of this thread by default, so
 * that time spent descheduled (other jobs on a shared VM) is not counted as
 * packet cost; pwrite()'s kernel time is on this thread and is counted.
 * --clock wall measures elapsed time instead.
 */
static clockid_t bench_clock = CLOCK_THREAD_CPUTIME_ID;

/*
 * --per-frame: mt_pipeline_process_eth() on each frame instead of
 * mt_pipeline_process_batch(), to see what the batch entry point gains.
 */
static bool bench_per_frame;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(bench_clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void die(int err, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_core: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	exit(1);
}

/* ---- rule generator ---------------------------------------------------- */

struct gen_rule {
	uint16_t number;
	uint8_t action, dir;
	int proto;
	uint32_t net; /* the block-listed CIDR, host order */
	uint8_t len;
	bool cidr_is_src;
	char port_key; /* 0, 's' or 'd' */
	uint16_t port_lo, port_hi;
};

/*
 * Prefix lengths as block lists have them: mostly single hosts and /24s,
 * a few large networks.  The large ones are rare so that random traffic
 * mostly passes, as it does in production.
 */
static uint8_t gen_prefix_len(void)
{
	uint32_t r = rng_below(1000);

	if (r < 600)
		return 32;
	if (r < 850)
		return (uint8_t)(24 + rng_below(8));
	if (r < 995)
		return (uint8_t)(16 + rng_below(8));
	return (uint8_t)(8 + rng_below(8));
}

static uint32_t gen_public_v4(void)
{
	/* 1.0.0.0 - 223.255.255.255: unicast, no 0/8. */
	return (1u << 24) + rng_below(223u << 24);
}

static void gen_rules(struct gen_rule *r, size_t n, uint64_t seed)
{
	size_t i;

	rng_state = seed;
	for (i = 0; i < n; i++) {
		uint32_t p = rng_below(100);

		memset(&r[i], 0, sizeof(r[i]));
		r[i].number = (uint16_t)(i + 1);
		r[i].action = rng_below(10) == 0 ? MT_ACTION_ACCEPT :
						   MT_ACTION_REJECT;
		p = rng_below(100);
		r[i].dir = p < 45 ? MT_RULE_INGRESS :
			   p < 90 ? MT_RULE_EGRESS :
				    MT_RULE_ANY;
		p = rng_below(100);
		r[i].proto = p < 35 ? MT_PROTO_ALL :
			     p < 65 ? 6 :
			     p < 90 ? 17 :
				      1;
		r[i].len = gen_prefix_len();
		r[i].net = gen_public_v4() &
			   (r[i].len ? ~0u << (32 - r[i].len) : 0);
		/* The far end: source of what arrives, destination of what
		 * leaves. */
		if (r[i].dir == MT_RULE_INGRESS)
			r[i].cidr_is_src = true;
		else if (r[i].dir == MT_RULE_EGRESS)
			r[i].cidr_is_src = false;
		else
			r[i].cidr_is_src = rng_below(2);
		/* 55% of the rules are TCP/UDP; 20% of all get a range. */
		if ((r[i].proto == 6 || r[i].proto == 17) &&
		    rng_below(55) < 20) {
			uint16_t lo = (uint16_t)(1 + rng_below(65000));
			uint32_t span = rng_below(4) ? rng_below(1024) : 0;

			r[i].port_key = rng_below(4) ? 'd' : 's';
			r[i].port_lo = lo;
			r[i].port_hi = (uint16_t)(lo + span > 65535 ?
							  65535 :
							  lo + span);
		}
	}
}

static const char *gen_dir_name(uint8_t dir)
{
	return dir == MT_RULE_INGRESS ? "ingress" :
	       dir == MT_RULE_EGRESS  ? "egress" :
					"any";
}

static const char *gen_proto_name(int proto)
{
	return proto == 6  ? "tcp" :
	       proto == 17 ? "udp" :
	       proto == 1  ? "icmp" :
			     "all";
}

/* n rules: the first n-1 generated ones, then accept-everything. */
static void gen_write_rules(const char *path, const struct gen_rule *r,
			    size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (!f)
		die(errno, "cannot create rules file %s", path);
	fprintf(f, "# bench_core block list: %zu rules, seed %#x\n", n,
		BENCH_SEED);
	fprintf(f, "# number action direction protocol source destination\n");
	for (i = 0; i + 1 < n; i++) {
		char cidr[32];

		snprintf(cidr, sizeof(cidr), "%u.%u.%u.%u/%u", r[i].net >> 24,
			 (r[i].net >> 16) & 0xff, (r[i].net >> 8) & 0xff,
			 r[i].net & 0xff, r[i].len);
		fprintf(f, "%u %s %s %s %s %s", r[i].number,
			r[i].action == MT_ACTION_ACCEPT ? "accept" : "reject",
			gen_dir_name(r[i].dir), gen_proto_name(r[i].proto),
			r[i].cidr_is_src ? cidr : "0.0.0.0/0",
			r[i].cidr_is_src ? "0.0.0.0/0" : cidr);
		if (r[i].port_key && r[i].port_lo == r[i].port_hi)
			fprintf(f, " %cport=%u", r[i].port_key, r[i].port_lo);
		else if (r[i].port_key)
			fprintf(f, " %cport=%u-%u", r[i].port_key, r[i].port_lo,
				r[i].port_hi);
		fputc('\n', f);
	}
	if (n)
		fprintf(f, "%u accept any all 0.0.0.0/0 0.0.0.0/0\n",
			BENCH_CATCH_ALL_NUMBER);
	if (fclose(f))
		die(errno, "cannot write rules file %s", path);
}

/* ---- frames ------------------------------------------------------------ */

static void v4_text(uint32_t a, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
		 (a >> 8) & 0xff, a & 0xff);
}

static uint32_t local_addr(unsigned i)
{
	return 0xc0000200u + 10 + i; /* 192.0.2.10 + i */
}

/*
 * Frame i of the set for inner frame length size.  The flow depends on i
 * only (not on size), so every size sees the same flows and filter results.
 */
static size_t build_frame(uint8_t *buf, size_t cap, unsigned i, unsigned size,
			  const struct gen_rule *rules, size_t nrules)
{
	char osrc[16], isrc[16], idst[16];
	struct mt_fx_outer o = { 0 };
	struct mt_fx_pkt p = { 0 };
	unsigned local = i % BENCH_NLOCAL;
	uint32_t remote;
	bool ingress;
	size_t hdr;
	uint32_t r;

	rng_state = BENCH_SEED ^ (0x1000ull + i) * 0x9e3779b97f4a7c15ull;
	ingress = rng_below(2);
	r = rng_below(100);
	p.proto = r < 70 ? 6 : r < 95 ? 17 : 1;
	if (p.proto == 1) {
		p.sport = ingress ? 0 : 8; /* echo reply / request */
		p.dport = 0;
	} else {
		uint16_t service = (uint16_t[]){
			443, 80, 53, 22, 123, 8080
		}[rng_below(6)];
		uint16_t eph = (uint16_t)(32768 + rng_below(28232));

		p.sport = ingress ? eph : service;
		p.dport = ingress ? service : eph;
		if (rng_below(4) == 0) {
			p.sport = (uint16_t)(1 + rng_below(65535));
			p.dport = (uint16_t)(1 + rng_below(65535));
		}
	}
	remote = gen_public_v4();

	/* One in ten: traffic the block list is about. */
	if (nrules && rng_below(1000) < BENCH_HIT_PERMILLE) {
		const struct gen_rule *g = &rules[rng_below((uint32_t)nrules)];
		uint32_t host = g->len == 32 ? 0 :
					       (uint32_t)rng() &
						       ~(~0u << (32 - g->len));

		remote = g->net | host;
		if (g->dir != MT_RULE_ANY)
			ingress = g->dir == MT_RULE_INGRESS;
		else
			ingress = g->cidr_is_src;
		if (g->proto != MT_PROTO_ALL)
			p.proto = (uint8_t)g->proto;
		if (g->port_key == 's')
			p.sport = g->port_lo;
		else if (g->port_key == 'd')
			p.dport = g->port_lo;
		if (p.proto == 1) {
			p.sport = 8;
			p.dport = 0;
		}
	}

	v4_text(0xc6120100u + 10 + local, osrc, sizeof(osrc)); /* 198.18.1.x */
	v4_text(ingress ? remote : local_addr(local), isrc, sizeof(isrc));
	v4_text(ingress ? local_addr(local) : remote, idst, sizeof(idst));
	o.family = AF_INET;
	o.src = osrc;
	o.dst = "198.18.0.2";
	/* AWS hashes the inner flow into the outer source port. */
	o.sport = (uint16_t)(49152 + (remote ^ p.sport ^ p.dport) % 16384);
	o.vni = BENCH_VNI;
	p.family = AF_INET;
	p.src = isrc;
	p.dst = idst;
	hdr = 14 + 20 + (p.proto == 6 ? 20 : 8);
	if (size < hdr)
		die(0, "inner frame size %u is too small for its headers",
		    size);
	p.payload_len = (uint16_t)(size - hdr);
	return mt_fx_frame(buf, cap, &o, &p);
}

struct frameset {
	uint8_t *umem;
	uint32_t len[BENCH_NFRAMES];
};

static void frameset_build(struct frameset *fs, unsigned size,
			   const struct gen_rule *rules, size_t nrules)
{
	unsigned i;

	fs->umem =
		aligned_alloc(BENCH_CHUNK, (size_t)BENCH_NFRAMES * BENCH_CHUNK);
	if (!fs->umem)
		die(ENOMEM, "out of memory");
	memset(fs->umem, 0, (size_t)BENCH_NFRAMES * BENCH_CHUNK);
	for (i = 0; i < BENCH_NFRAMES; i++) {
		fs->len[i] = (uint32_t)build_frame(
			fs->umem + (size_t)i * BENCH_CHUNK, BENCH_CHUNK, i,
			size, rules, nrules);
		if (!fs->len[i])
			die(0, "frame does not fit a UMEM chunk");
	}
}

/* ---- output directory handling ---------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	if (ftw->level == 0)
		return 0; /* keep the directory itself */
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void empty_dir(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the measured path ------------------------------------------------- */

struct bench_env {
	char dir[256]; /* short: file names are appended */
	struct mt_config cfg; /* daemon defaults: writer buffer, segments */
	struct mt_sessions sessions;
	unsigned reps;
	uint64_t byte_budget; /* per repetition, bounds tmpfs use */
	uint64_t max_packets;
};

struct cell {
	double mpps, ns;
	double accept_pct;
};

/*
 * The best of the repetitions: other jobs on a shared machine only ever add
 * time (cache and memory-bandwidth contention survive the CPU-time clock),
 * so the least is the closest to what the code itself costs.
 */
static double best(const double *v, unsigned n)
{
	double b = v[0];
	unsigned i;

	for (i = 1; i < n; i++)
		if (v[i] < b)
			b = v[i];
	return b;
}

static uint64_t packets_for(const struct bench_env *env, unsigned size)
{
	uint64_t n = env->byte_budget / (size + MT_PCAP_REC_HDR_LEN);

	if (n > env->max_packets)
		n = env->max_packets;
	return n / BENCH_BATCH * BENCH_BATCH;
}

/* One repetition; returns ns per packet. */
static double run_pipeline_once(struct bench_env *env,
				const struct frameset *fs, unsigned size,
				struct mt_ruleset *rs, double *accept_pct)
{
	struct mt_segment_config seg = env->cfg.seg;
	uint64_t n = packets_for(env, size), done, t0, t1, ts;
	const uint8_t *frames[BENCH_BATCH];
	uint32_t lens[BENCH_BATCH];
	uint64_t tss[BENCH_BATCH];
	struct mt_segmenter *sg;
	struct mt_rules_ref ref;
	struct mt_pipeline p;
	struct mt_writer *w;
	struct mt_err err;
	int ret;

	/*
	 * The daemon's defaults, size rotation included: the segment is
	 * preallocated when the tick opens it, which the control thread does
	 * off the worker's core.  A repetition stays within one segment.
	 */
	snprintf(seg.dir, sizeof(seg.dir), "%s/seg", env->dir);
	seg.rotate_interval = 0;
	seg.rotate_idle = 0;
	seg.compress = false;
	seg.hook[0] = '\0';
	sg = mt_segmenter__create(&seg, &err);
	if (!sg)
		die(0, "segmenter: %s", err.msg);
	w = mt_writer__create(sg, env->cfg.writer_buffer);
	if (!w)
		die(errno, "writer for %s", seg.dir);
	mt_rules_ref_init(&ref, rs);
	ret = mt_pipeline_init(&p, &env->sessions, &ref, w, MT_VXLAN_PORT);
	if (ret)
		die(-ret, "mt_pipeline_init");

	ts = BENCH_T0_NS;
	mt_segmenter_tick(sg, ts);
	t0 = now_ns();
	for (done = 0; done < n; done += BENCH_BATCH) {
		unsigned j, base = (unsigned)(done % BENCH_NFRAMES);

		mt_pipeline_begin_batch(&p);
		/* What the worker has after peeking at the rx ring. */
		for (j = 0; j < BENCH_BATCH; j++) {
			unsigned idx = base + j;

			frames[j] = fs->umem + (size_t)idx * BENCH_CHUNK;
			lens[j] = fs->len[idx];
			tss[j] = ts;
			ts += BENCH_GAP_NS;
		}
		if (bench_per_frame) {
			for (j = 0; j < BENCH_BATCH; j++)
				mt_pipeline_process_eth(&p, frames[j], lens[j],
							tss[j]);
		} else {
			mt_pipeline_process_batch(&p, frames, lens, tss,
						  BENCH_BATCH);
		}
		if (done % BENCH_TICK_EVERY == 0)
			mt_segmenter_tick(sg, ts);
	}
	ret = mt_writer_flush(w);
	t1 = now_ns();
	if (ret)
		die(-ret, "writer flush");
	if (p.stats.frames != n || p.stats.decap_ok != n)
		die(0, "pipeline did not decapsulate every frame");
	if (p.stats.written != p.stats.accepted)
		die(0, "writer dropped packets (tmpfs full?)");
	*accept_pct = 100.0 * (double)p.stats.accepted / (double)n;

	mt_pipeline_fini(&p);
	mt_writer__destroy(w);
	mt_segmenter__destroy(sg);
	empty_dir(env->dir);
	return (double)(t1 - t0) / (double)n;
}

static void run_pipeline(struct bench_env *env, const struct frameset *fs,
			 unsigned size, struct mt_ruleset *rs, struct cell *c)
{
	double ns[16] = { 0 };
	unsigned r;

	for (r = 0; r < env->reps; r++)
		ns[r] = run_pipeline_once(env, fs, size, rs, &c->accept_pct);
	c->ns = best(ns, env->reps);
	c->mpps = 1000.0 / c->ns;
}

/* Inlined here so the bare loop pays no call the writer does not. */
static inline void bare_rec_header(uint8_t *out, uint64_t ts_ns,
				   uint32_t caplen, uint32_t len,
				   bool nanosecond)
{
	struct mt_pcap_rec_hdr h;
	uint32_t ns = (uint32_t)(ts_ns % 1000000000u);

	h.ts_sec = (uint32_t)(ts_ns / 1000000000u);
	h.ts_frac = nanosecond ? ns : ns / 1000;
	h.caplen = caplen;
	h.len = len;
	memcpy(out, &h, sizeof(h));
}

/*
 * The physical limit: the same records (header + inner frame) copied into a
 * buffer of the writer's size and pwrite()n to a fresh file on the same
 * tmpfs.  No parsing, no filter, no segment bookkeeping.
 */
static double run_bare_once(struct bench_env *env, const struct frameset *fs,
			    unsigned size)
{
	size_t bufsize = env->cfg.writer_buffer, pos = 0;
	bool nanosecond = env->cfg.seg.nanosecond;
	uint64_t prealloc =
		env->cfg.seg.rotate_bytes + env->cfg.seg.rotate_bytes / 8;
	uint64_t n = packets_for(env, size), done, t0, t1, ts, off;
	const uint8_t *inner[BENCH_NFRAMES];
	uint32_t ilen[BENCH_NFRAMES], olen[BENCH_NFRAMES];
	char path[PATH_MAX + 16];
	uint8_t *buf = malloc(bufsize);
	unsigned i;
	int fd;

	if (!buf)
		die(ENOMEM, "out of memory");
	/* Where the record bytes are is known before the loop: no parsing. */
	for (i = 0; i < BENCH_NFRAMES; i++) {
		struct mt_decap d;

		if (mt_decap_eth(fs->umem + (size_t)i * BENCH_CHUNK, fs->len[i],
				 MT_VXLAN_PORT, &d) != MT_DECAP_OK)
			die(0, "frame does not decapsulate");
		inner[i] = d.inner;
		ilen[i] = d.inner_len;
		olen[i] = d.orig_len;
	}
	snprintf(path, sizeof(path), "%s/bare.pcap", env->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(errno, "cannot create %s", path);
	/* Preallocated like a segment, so both write into ready pages. */
	if (prealloc && fallocate(fd, 0, 0, (off_t)prealloc))
		die(errno, "fallocate %s", path);

	ts = BENCH_T0_NS;
	t0 = now_ns();
	/*
	 * The segmenter writes the file header when it creates the segment, and
	 * a writer's buffer starts with a record: do the same, so the records
	 * sit at the same offsets (memcpy speed depends on alignment).
	 */
	mt_pcap_file_header(buf, env->cfg.seg.snaplen, env->cfg.seg.nanosecond);
	if (pwrite(fd, buf, MT_PCAP_HDR_LEN, 0) != MT_PCAP_HDR_LEN)
		die(errno, "pwrite %s", path);
	pos = 0;
	off = MT_PCAP_HDR_LEN;
	for (done = 0; done < n; done++) {
		unsigned idx = (unsigned)(done % BENCH_NFRAMES);
		uint32_t len = ilen[idx];

		if (pos + MT_PCAP_REC_HDR_LEN + len > bufsize) {
			if (pwrite(fd, buf, pos, (off_t)off) != (ssize_t)pos)
				die(errno, "pwrite %s", path);
			off += pos;
			pos = 0;
		}
		bare_rec_header(buf + pos, ts, len, olen[idx], nanosecond);
		memcpy(buf + pos + MT_PCAP_REC_HDR_LEN, inner[idx], len);
		pos += MT_PCAP_REC_HDR_LEN + len;
		ts += BENCH_GAP_NS;
	}
	if (pwrite(fd, buf, pos, (off_t)off) != (ssize_t)pos)
		die(errno, "pwrite %s", path);
	t1 = now_ns();
	close(fd);
	unlink(path);
	free(buf);
	return (double)(t1 - t0) / (double)n;
}

static void run_bare(struct bench_env *env, const struct frameset *fs,
		     unsigned size, struct cell *c)
{
	double ns[16] = { 0 };
	unsigned r;

	for (r = 0; r < env->reps; r++)
		ns[r] = run_bare_once(env, fs, size);
	c->ns = best(ns, env->reps);
	c->mpps = 1000.0 / c->ns;
	c->accept_pct = 100;
}

/* ---- the matcher alone ------------------------------------------------- */

struct flows {
	struct mt_flow flow[BENCH_NFRAMES];
	enum mt_direction dir[BENCH_NFRAMES];
};

static void flows_build(struct flows *f, const struct frameset *fs,
			const struct mt_sessions *sessions)
{
	unsigned i;

	for (i = 0; i < BENCH_NFRAMES; i++) {
		struct mt_decap d;

		if (mt_decap_eth(fs->umem + (size_t)i * BENCH_CHUNK, fs->len[i],
				 MT_VXLAN_PORT, &d) != MT_DECAP_OK)
			die(0, "frame does not decapsulate");
		f->flow[i] = d.flow;
		f->dir[i] = mt_direction_infer(sessions, &d);
	}
}

static volatile unsigned match_sink; /* keeps the calls from being elided */

static double time_match(const struct mt_ruleset *rs, const struct flows *f,
			 unsigned passes, bool linear)
{
	unsigned pass, i, acc = 0;
	uint64_t t0, t1;
	int m;

	t0 = now_ns();
	for (pass = 0; pass < passes; pass++) {
		for (i = 0; i < BENCH_NFRAMES; i++) {
			if (linear)
				m = mt_ruleset_match_linear(
					rs, f->dir[i], BENCH_VNI, &f->flow[i]);
			else
				m = mt_ruleset_match(rs, f->dir[i], BENCH_VNI,
						     &f->flow[i]);
			acc += (unsigned)m;
		}
	}
	t1 = now_ns();
	match_sink = acc;
	return (double)(t1 - t0) / ((double)passes * BENCH_NFRAMES);
}

/* The fast matcher must agree with the reference scan on every flow. */
static unsigned check_match(const struct mt_ruleset *rs, const struct flows *f)
{
	unsigned i, bad = 0;

	for (i = 0; i < BENCH_NFRAMES; i++)
		if (mt_ruleset_match(rs, f->dir[i], BENCH_VNI, &f->flow[i]) !=
		    mt_ruleset_match_linear(rs, f->dir[i], BENCH_VNI,
					    &f->flow[i]))
			bad++;
	return bad;
}

/* Passes that take about 0.15 s, from a short trial. */
static unsigned match_passes(const struct mt_ruleset *rs, const struct flows *f,
			     bool linear)
{
	double ns = time_match(rs, f, 1, linear);
	double passes = 150e6 / (ns * BENCH_NFRAMES);

	return passes < 1 ? 1 : passes > 2000 ? 2000 : (unsigned)passes;
}

/* ---- pcap file for the offline comparison ------------------------------ */

static int write_pcap(const char *path, unsigned long nframes)
{
	struct gen_rule *rules = calloc(BENCH_MAX_RULES, sizeof(*rules));
	uint8_t hdr[MT_PCAP_HDR_LEN], rec[MT_PCAP_REC_HDR_LEN];
	uint8_t *frames = malloc((size_t)BENCH_NFRAMES * BENCH_CHUNK);
	uint32_t len[BENCH_NFRAMES];
	uint64_t ts = BENCH_T0_NS, inner_bytes = 0;
	unsigned long k;
	unsigned i;
	FILE *f;

	if (!rules || !frames)
		die(ENOMEM, "out of memory");
	gen_rules(rules, BENCH_MAX_RULES - 1, BENCH_SEED);
	for (i = 0; i < BENCH_NFRAMES; i++) {
		len[i] = (uint32_t)build_frame(frames + (size_t)i * BENCH_CHUNK,
					       BENCH_CHUNK, i,
					       bench_sizes[i % NSIZES], rules,
					       BENCH_MAX_RULES - 1);
		if (!len[i])
			die(0, "frame does not fit");
	}
	f = fopen(path, "w");
	if (!f)
		die(errno, "cannot create %s", path);
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	/* Microseconds: what tcpdump writes, so it converts nothing. */
	mt_pcap_file_header(hdr, 65535, false);
	fwrite(hdr, 1, sizeof(hdr), f);
	for (k = 0; k < nframes; k++) {
		i = (unsigned)(k % BENCH_NFRAMES);
		mt_pcap_rec_header(rec, ts, len[i], len[i], false);
		fwrite(rec, 1, sizeof(rec), f);
		fwrite(frames + (size_t)i * BENCH_CHUNK, 1, len[i], f);
		/* inner frame = outer minus Ethernet/IPv4/UDP/VXLAN */
		inner_bytes += len[i] - 50;
		ts += 1000; /* 1 Mpps of packet time */
	}
	if (fclose(f))
		die(errno, "cannot write %s", path);
	/* run.sh checks mirror-targetd wrote exactly this many bytes. */
	printf("frames=%lu inner_bytes=%" PRIu64 "\n", nframes, inner_bytes);
	free(frames);
	free(rules);
	return 0;
}

/*
 * Runs a command (stdout to /dev/null) and prints, in ns, its elapsed time,
 * the CPU time (user + system, all its threads) it used, and the user part.
 */
static int run_timed(char **argv)
{
	struct timespec a, b;
	uint64_t wall, cpu, user;
	struct rusage ru;
	int status;
	pid_t pid;

	clock_gettime(CLOCK_MONOTONIC, &a);
	pid = fork();
	if (pid < 0)
		die(errno, "fork");
	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "bench_core: cannot run %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		die(errno, "wait4");
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return 1;
	wall = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u +
	       (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
	cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		      1000000000u +
	      (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u;
	user = (uint64_t)ru.ru_utime.tv_sec * 1000000000u +
	       (uint64_t)ru.ru_utime.tv_usec * 1000u;
	printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", wall, cpu, user);
	return 0;
}

/* ---- main -------------------------------------------------------------- */

static void sessions_build(struct mt_sessions *s)
{
	unsigned i;

	s->n = 1;
	s->v = calloc(1, sizeof(*s->v));
	if (!s->v)
		die(ENOMEM, "out of memory");
	s->v[0].vni = BENCH_VNI;
	snprintf(s->v[0].name, sizeof(s->v[0].name), "bench");
	s->v[0].naddrs = BENCH_NLOCAL;
	s->v[0].addrs = calloc(BENCH_NLOCAL, sizeof(struct mt_ip));
	if (!s->v[0].addrs)
		die(ENOMEM, "out of memory");
	for (i = 0; i < BENCH_NLOCAL; i++) {
		uint32_t a = local_addr(i);
		uint8_t b[4] = { a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
				 a & 0xff };

		mt_ip_from_v4(&s->v[0].addrs[i], b);
	}
	if (mt_sessions_finish(s))
		die(0, "mt_sessions_finish");
}

static void fmt_count(unsigned n, char *buf, size_t size)
{
	if (n >= 1000)
		snprintf(buf, size, "%u,%03u", n / 1000, n % 1000);
	else
		snprintf(buf, size, "%u", n);
}

static const char *pass(bool ok)
{
	return ok ? "PASS" : "FAIL";
}

static int run_bench(struct bench_env *env)
{
	struct gen_rule *rules = calloc(BENCH_MAX_RULES, sizeof(*rules));
	struct mt_ruleset *rs[NRULESETS] = { 0 };
	struct cell cells[NSIZES][NRULESETS], bare[NSIZES];
	double match_ns[NRULESETS], linear_ns[NRULESETS];
	struct flows *flows = malloc(sizeof(*flows));
	struct frameset *fs = calloc(1, sizeof(*fs));
	unsigned s, k, bad = 0;
	double ratio, pct;
	bool ok;

	if (!rules || !flows || !fs)
		die(ENOMEM, "out of memory");
	gen_rules(rules, BENCH_MAX_RULES - 1, BENCH_SEED);
	for (k = 0; k < NRULESETS; k++) {
		char path[PATH_MAX + 32];
		struct mt_err err;
		uint64_t t0;

		if (!bench_rule_counts[k])
			continue;
		snprintf(path, sizeof(path), "%s/rules-%u.conf", env->dir,
			 bench_rule_counts[k]);
		gen_write_rules(path, rules, bench_rule_counts[k]);
		t0 = now_ns();
		rs[k] = mt_ruleset__load(path, NULL, &err);
		if (!rs[k])
			die(0, "%s", err.msg);
		fprintf(stderr, "loaded %u rules in %.1f ms\n",
			bench_rule_counts[k], (double)(now_ns() - t0) / 1e6);
		unlink(path);
	}

	/* The matcher alone, on the flows of the 64-byte set. */
	frameset_build(fs, bench_sizes[0], rules, BENCH_MAX_RULES - 1);
	flows_build(flows, fs, &env->sessions);
	for (k = 1; k < NRULESETS; k++) {
		double ns[16] = { 0 }, lin[16] = { 0 };
		unsigned r, passes = match_passes(rs[k], flows, false);
		unsigned lpasses = match_passes(rs[k], flows, true);

		bad += check_match(rs[k], flows);
		for (r = 0; r < env->reps; r++) {
			ns[r] = time_match(rs[k], flows, passes, false);
			lin[r] = time_match(rs[k], flows, lpasses, true);
		}
		match_ns[k] = best(ns, env->reps);
		linear_ns[k] = best(lin, env->reps);
		fprintf(stderr, "match %u rules: %.1f ns (linear %.1f ns)\n",
			bench_rule_counts[k], match_ns[k], linear_ns[k]);
	}
	if (bad) {
		fprintf(stderr,
			"bench_core: mt_ruleset_match disagrees with "
			"mt_ruleset_match_linear on %u flows: numbers would "
			"be meaningless\n",
			bad);
		return 1;
	}

	for (s = 0; s < NSIZES; s++) {
		if (s) {
			free(fs->umem);
			frameset_build(fs, bench_sizes[s], rules,
				       BENCH_MAX_RULES - 1);
		}
		run_bare(env, fs, bench_sizes[s], &bare[s]);
		fprintf(stderr, "%u B bare: %.2f Mpps\n", bench_sizes[s],
			bare[s].mpps);
		for (k = 0; k < NRULESETS; k++) {
			run_pipeline(env, fs, bench_sizes[s], rs[k],
				     &cells[s][k]);
			fprintf(stderr, "%u B, %u rules: %.2f Mpps\n",
				bench_sizes[s], bench_rule_counts[k],
				cells[s][k].mpps);
		}
	}

	printf("### Packet path, one core (Mpps, ns/packet; best of %u, "
	       "%s time)\n\n",
	       env->reps, bench_clock == CLOCK_MONOTONIC ? "wall" : "CPU");
	printf("| inner frame | no filter | 10 rules | 1,000 rules | "
	       "10,000 rules | bare write loop | 10 rules vs bare |\n");
	printf("|---|---|---|---|---|---|---|\n");
	for (s = 0; s < NSIZES; s++) {
		printf("| %u B |", bench_sizes[s]);
		for (k = 0; k < NRULESETS; k++)
			printf(" %.2f (%.0f ns) |", cells[s][k].mpps,
			       cells[s][k].ns);
		printf(" %.2f (%.0f ns) | %.0f%% |\n", bare[s].mpps, bare[s].ns,
		       100.0 * cells[s][1].mpps / bare[s].mpps);
	}
	printf("\nEach cell is mt_pipeline_process_batch() (decap, direction, "
	       "filter; the worker's entry point, per rx batch) plus mt_writer_append() of a real segmenter with the "
	       "daemon's defaults (1 MiB writer buffer, pwrite to a "
	       "preallocated segment on tmpfs), batches of %u, over %u "
	       "distinct VXLAN frames (VNI 42, one flow each, half ingress, "
	       "half egress) in 4 KiB UMEM-like chunks. Rules: a generated "
	       "block list (one CIDR /8-/32 on the remote side, all/tcp/udp/"
	       "icmp, a fifth with ports, 90%% reject, accept-all last), "
	       "loaded from a native rules file. Bare write loop: the same "
	       "pcap records copied into a buffer of the same size and "
	       "pwrite()n to a preallocated file on the same tmpfs.\n",
	       BENCH_BATCH, BENCH_NFRAMES);
	printf("\nCaptured (accepted) share of packets: no filter %.0f%%, "
	       "10 rules %.1f%%, 1,000 rules %.1f%%, 10,000 rules %.1f%%; "
	       "the rest is rejected by the block list.\n",
	       cells[0][0].accept_pct, cells[0][1].accept_pct,
	       cells[0][2].accept_pct, cells[0][3].accept_pct);

	printf("\n### Filter matcher alone (ns/call; best of %u)\n\n",
	       env->reps);
	printf("| rules | mt_ruleset_match | linear scan (reference) |\n");
	printf("|---|---|---|\n");
	for (k = 1; k < NRULESETS; k++) {
		char n[16];

		fmt_count(bench_rule_counts[k], n, sizeof(n));
		printf("| %s | %.1f | %.1f |\n", n, match_ns[k], linear_ns[k]);
	}
	ratio = match_ns[NRULESETS - 1] / match_ns[1];
	printf("\n");

	/* Targets, one line each, picked up by run.sh. */
	ok = cells[0][1].mpps >= 15.0;
	printf("target|64 B frames, 10 rules, one core|%.2f Mpps|>= 15 Mpps|%s\n",
	       cells[0][1].mpps, pass(ok));
	for (s = 0; s < NSIZES; s++) {
		pct = 100.0 * cells[s][1].mpps / bare[s].mpps;
		printf("target|%u B, 10 rules, share of the bare write loop|"
		       "%.0f%%|>= 70%%|%s\n",
		       bench_sizes[s], pct, pass(pct >= 70.0));
	}
	printf("target|matcher 10,000 rules / 10 rules|%.2fx|<= 3x|%s\n", ratio,
	       pass(ratio <= 3.0));

	for (k = 0; k < NRULESETS; k++)
		mt_ruleset__destroy(rs[k]);
	free(fs->umem);
	free(fs);
	free(flows);
	free(rules);
	return 0;
}

/*
 * One cell over and over, for `perf record`: the same loop as the table,
 * nothing else (the rule set is loaded first).
 */
static int run_profile(struct bench_env *env, unsigned size, unsigned nrules,
		       unsigned reps)
{
	struct gen_rule *rules = calloc(BENCH_MAX_RULES, sizeof(*rules));
	struct frameset *fs = calloc(1, sizeof(*fs));
	struct mt_ruleset *rs = NULL;
	double ns, pct;
	unsigned r;

	if (!rules || !fs)
		die(ENOMEM, "out of memory");
	gen_rules(rules, BENCH_MAX_RULES - 1, BENCH_SEED);
	if (nrules) {
		char path[PATH_MAX + 32];
		struct mt_err err;

		snprintf(path, sizeof(path), "%s/rules.conf", env->dir);
		gen_write_rules(path, rules, nrules);
		rs = mt_ruleset__load(path, NULL, &err);
		if (!rs)
			die(0, "%s", err.msg);
		unlink(path);
	}
	frameset_build(fs, size, rules, BENCH_MAX_RULES - 1);
	for (r = 0; r < reps; r++) {
		ns = run_pipeline_once(env, fs, size, rs, &pct);
		printf("%u B, %u rules: %.1f ns/packet, %.2f Mpps\n", size,
		       nrules, ns, 1000.0 / ns);
	}
	mt_ruleset__destroy(rs);
	free(fs->umem);
	free(fs);
	free(rules);
	return 0;
}

/* The matcher alone for one rule count, for quick before/after checks. */
static int run_match_only(struct bench_env *env, unsigned nrules)
{
	struct gen_rule *rules = calloc(BENCH_MAX_RULES, sizeof(*rules));
	struct flows *flows = malloc(sizeof(*flows));
	struct frameset *fs = calloc(1, sizeof(*fs));
	char path[PATH_MAX + 32];
	struct mt_ruleset *rs;
	struct mt_err err;
	double ns[16] = { 0 };
	unsigned r, passes;

	if (!rules || !flows || !fs)
		die(ENOMEM, "out of memory");
	gen_rules(rules, BENCH_MAX_RULES - 1, BENCH_SEED);
	snprintf(path, sizeof(path), "%s/rules.conf", env->dir);
	gen_write_rules(path, rules, nrules);
	rs = mt_ruleset__load(path, NULL, &err);
	if (!rs)
		die(0, "%s", err.msg);
	unlink(path);
	frameset_build(fs, bench_sizes[0], rules, BENCH_MAX_RULES - 1);
	flows_build(flows, fs, &env->sessions);
	if (check_match(rs, flows))
		die(0, "mt_ruleset_match disagrees with the linear scan");
	passes = match_passes(rs, flows, false);
	for (r = 0; r < env->reps; r++)
		ns[r] = time_match(rs, flows, passes, false);
	printf("match %u rules: %.1f ns/call\n", nrules, best(ns, env->reps));
	mt_ruleset__destroy(rs);
	free(fs->umem);
	free(fs);
	free(flows);
	free(rules);
	return 0;
}

/* Set once the scratch directory exists; die() leaves through exit(). */
static char cleanup_dir[256];

static void remove_scratch(void)
{
	if (cleanup_dir[0]) {
		empty_dir(cleanup_dir);
		rmdir(cleanup_dir);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_core [--dir DIR] [--reps N] [--clock cpu|wall] "
		"[--quick] [--per-frame]\n"
		"       bench_core --profile SIZE RULES [--reps N] [--per-frame]\n"
		"       bench_core --match RULES [--reps N]\n"
		"       bench_core --gen-rules N SEED FILE\n"
		"       bench_core --write-pcap FILE NFRAMES\n"
		"       bench_core --run COMMAND [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench_env env = { .reps = 5,
				 .byte_budget = 192u << 20,
				 .max_packets = 8u << 20 };
	const char *base = "/dev/shm";
	unsigned profile_size = 0, profile_rules = 0, match_rules = 0;
	int i, ret;

	if (argc >= 2 && !strcmp(argv[1], "--gen-rules")) {
		struct gen_rule *rules;
		unsigned long n;

		if (argc != 5)
			usage();
		n = strtoul(argv[2], NULL, 0);
		if (n < 1 || n > BENCH_MAX_RULES)
			die(0, "--gen-rules: N must be 1..10000, not %s",
			    argv[2]);
		rules = calloc(n, sizeof(*rules));
		if (!rules)
			die(ENOMEM, "out of memory");
		gen_rules(rules, n, strtoull(argv[3], NULL, 0));
		gen_write_rules(argv[4], rules, n);
		free(rules);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "--run"))
		return run_timed(argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "--write-pcap")) {
		if (argc != 4)
			usage();
		return write_pcap(argv[2], strtoul(argv[3], NULL, 0));
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			base = argv[++i];
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			env.reps = (unsigned)strtoul(argv[++i], NULL, 0);
			if (env.reps < 1 || env.reps > 16)
				die(0, "--reps must be 1..16, not %s", argv[i]);
		} else if (!strcmp(argv[i], "--clock") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "wall"))
				bench_clock = CLOCK_MONOTONIC;
			else if (strcmp(argv[i], "cpu"))
				die(0, "--clock is cpu or wall, not %s",
				    argv[i]);
		} else if (!strcmp(argv[i], "--profile") && i + 2 < argc) {
			profile_size = (unsigned)strtoul(argv[++i], NULL, 0);
			profile_rules = (unsigned)strtoul(argv[++i], NULL, 0);
			if (profile_size < 64 || profile_size > 3000 ||
			    profile_rules > BENCH_MAX_RULES)
				die(0, "--profile SIZE RULES: 64..3000 bytes, "
				       "0..10000 rules");
		} else if (!strcmp(argv[i], "--match") && i + 1 < argc) {
			match_rules = (unsigned)strtoul(argv[++i], NULL, 0);
			if (match_rules < 1 || match_rules > BENCH_MAX_RULES)
				die(0, "--match RULES: 1..10000 rules");
		} else if (!strcmp(argv[i], "--per-frame")) {
			bench_per_frame = true;
		} else if (!strcmp(argv[i], "--quick")) {
			env.reps = 1;
			env.byte_budget = 64u << 20;
			env.max_packets = 1u << 20;
		} else {
			usage();
		}
	}

	snprintf(env.dir, sizeof(env.dir), "%s/mt-bench-XXXXXX", base);
	if (!mkdtemp(env.dir))
		die(errno, "cannot create a directory in %s", base);
	memcpy(cleanup_dir, env.dir, sizeof(cleanup_dir));
	atexit(remove_scratch);
	mt_config_init(&env.cfg);
	/* Each repetition must fit one segment: no rotation while timed. */
	if (env.cfg.seg.rotate_bytes &&
	    env.byte_budget + env.cfg.writer_buffer >= env.cfg.seg.rotate_bytes)
		env.byte_budget =
			env.cfg.seg.rotate_bytes - 2 * env.cfg.writer_buffer;
	mt_log_level = MT_LOG_WARN;
	sessions_build(&env.sessions);

	if (match_rules)
		ret = run_match_only(&env, match_rules);
	else if (profile_size)
		ret = run_profile(&env, profile_size, profile_rules,
				  env.reps * 4);
	else
		ret = run_bench(&env);

	mt_sessions_free(&env.sessions);
	mt_config_free(&env.cfg);
	return ret;
}
