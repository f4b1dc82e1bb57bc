// SPDX-License-Identifier: GPL-2.0-only
/*
 * mirror-loadgen's sender: BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES.
 *
 * One call carries frames of one length (the kernel builds them from one
 * template in recycled pages), so the frames come grouped by length.  The
 * XDP program (loadgen.bpf.c) overwrites each frame with the next frame of
 * its group from the `frames` map and returns XDP_TX, which live-frames
 * mode turns into a transmission out of ingress_ifindex.  Groups take turns
 * in rounds of count * k frames each, so the mix of lengths stays that of
 * the input at every scale.
 *
 * Pacing (--rate): smooth by default, the XDP program holding each frame
 * until it is due (see loadgen.bpf.c) in calls of about SMOOTH_CALL_NS;
 * with --pace burst, sleeps to an absolute schedule between calls of
 * PACE_MS of frames (at least PACE_MIN).  Unpaced calls carry a few
 * milliseconds.  SIGINT
 * and SIGTERM are blocked by the caller and polled between calls, so an
 * interrupted run still knows exactly how many frames it sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "loadgen.h"
#include "loadgen.skel.h"

/* Frames of one length: map entries [first, first + count). */
struct lg_group {
	uint32_t len;
	uint32_t first;
	uint32_t count;
	uint32_t copy_len;
	uint32_t cursor;
	const uint8_t *tmpl;
};

#define LG_MAP_BYTES_MAX (1024ull * 1024 * 1024)
/* A paced call carries PACE_MS of frames, at least PACE_MIN (see run()). */
#define PACE_MS 5
#define PACE_MIN 1024
/*
 * A smooth call lasts about this long.  Between two calls nothing is sent
 * for the kernel's set-up of the next one (~0.7 ms here): long calls keep
 * that gap rare; the schedule moves on over it (counted as lag).
 */
#define SMOOTH_CALL_NS 50000000.0
/* Frames a smooth schedule sends back to back (see loadgen.bpf.c). */
#define SMOOTH_TRAIN 32
/* A backlog the schedule catches up (at twice the rate) before moving on. */
#define SMOOTH_SLACK_NS 4000000ull

static const char *prog = "mirror-loadgen";

__attribute__((format(printf, 2, 0))) static int
libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct lg_run {
	struct mt_loadgen_bpf *skel;
	int prog_fd;
	int ifindex;
	struct lg_group *groups;
	size_t ngroups;
	struct lg_result *res;
};

/*
 * Runs the program `runs` times on frames of group g; in smooth pacing at
 * most the skeleton's budget of them are sent.  Returns the frames sent or
 * -errno.
 */
static int64_t run_group(struct lg_run *r, struct lg_group *g, uint32_t runs,
			 uint32_t batch)
{
	struct xdp_md ctx = {
		.data_end = g->len,
		.ingress_ifindex = (uint32_t)r->ifindex,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = g->tmpl,
		    .data_size_in = g->len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = runs,
		    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = batch);
	uint64_t before = r->skel->bss->paced, n;

	r->skel->bss->first = g->first;
	r->skel->bss->count = g->count;
	r->skel->bss->copy_len = g->copy_len;
	r->skel->bss->cursor = g->cursor;
	if (bpf_prog_test_run_opts(r->prog_fd, &opts))
		return -errno;
	g->cursor = r->skel->bss->cursor;
	/* Smooth pacing: the program counts what it let through. */
	n = r->skel->bss->rate ? r->skel->bss->paced - before : runs;
	r->res->sent += n;
	r->res->bytes += n * g->len;
	return (int64_t)n;
}

static bool stop_requested(const sigset_t *stop)
{
	sigset_t pending;
	int sig;

	if (sigpending(&pending) ||
	    !(sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM)))
		return false;
	sigwait(stop, &sig);
	return true;
}

/* Sleeps until the monotonic time t (seconds); false when interrupted. */
static bool sleep_until(double t, const sigset_t *stop)
{
	struct timespec ts;
	double d = t - now_s();

	if (d <= 0)
		return !stop_requested(stop);
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
	if (sigtimedwait(stop, NULL, &ts) > 0)
		return false;
	return true;
}

/* Frames of group g in a round of round_left frames or more to go. */
static uint64_t group_share(const struct lg_group *g, uint64_t round,
			    uint64_t total, uint64_t round_left)
{
	uint64_t full = g->count * round;

	if (round_left / total >= round)
		return full;
	return (round_left * g->count + total - 1) / total;
}

/* Program runs for the next smooth call: about SMOOTH_CALL_NS, or until
 * the budget is due, whichever is sooner. */
static uint32_t smooth_runs(double runs_per_ns, uint64_t budget, uint64_t rate,
			    double until_deadline)
{
	double ns = (double)budget * 1e9 / (double)rate, runs;

	if (ns > SMOOTH_CALL_NS)
		ns = SMOOTH_CALL_NS;
	if (until_deadline > 0 && ns > until_deadline * 1e9)
		ns = until_deadline * 1e9;
	runs = ns * runs_per_ns + 64;
	return runs > 4194304 ? 4194304 : (uint32_t)runs;
}

static int run(struct lg_run *r, const struct lg_send_opts *o,
	       const sigset_t *stop)
{
	bool smooth = o->rate && !o->burst;
	uint64_t total = 0, round, round_left, left, burst;
	double t0, t1 = 0, deadline, runs_per_ns = 0.01;
	size_t gi = 0, i;
	uint64_t g_left;
	uint32_t n;
	int64_t sent;
	int err = 0;

	for (i = 0; i < r->ngroups; i++)
		total += r->groups[i].count;
	/*
	 * A round sends every group count * k frames: the mix stays fair.
	 * The last round of a --count run is shrunk in proportion, so the
	 * mix is exact to a frame per group.
	 */
	round = (4096 + total - 1) / total;
	/* Smooth calls end at a group's turn: let a turn last a call. */
	if (smooth &&
	    round < (uint64_t)(o->rate * SMOOTH_CALL_NS / 1e9) / total)
		round = (uint64_t)(o->rate * SMOOTH_CALL_NS / 1e9) / total;
	round_left = o->count ? o->count : UINT64_MAX;
	g_left = group_share(&r->groups[0], round, total, round_left);
	/*
	 * --pace burst: a call has a fixed cost of the order of a
	 * millisecond here (the kernel sets up a page pool per call, and the
	 * receiver competes for the CPU): a millisecond of frames per call
	 * sent a third of --rate at 300,000.  So a call carries PACE_MS of
	 * frames, at least PACE_MIN, at the price of bursts of that many at
	 * full speed.
	 */
	if (o->rate)
		burst = o->rate * PACE_MS / 1000 > PACE_MIN ?
				o->rate * PACE_MS / 1000 :
			o->rate < PACE_MIN ? o->rate :
					     PACE_MIN;
	else
		burst = 16384; /* a few ms a call: stops and reports promptly */
	if (burst > 65536)
		burst = 65536;

	t0 = now_s();
	deadline = o->duration > 0 ? t0 + o->duration : 0;
	if (smooth) {
		r->skel->bss->rate = o->rate;
		r->skel->bss->t0_ns = (uint64_t)(t0 * 1e9);
		r->skel->bss->slack_ns = SMOOTH_SLACK_NS;
		r->skel->bss->train = SMOOTH_TRAIN;
		r->skel->bss->half_gap_ns =
			SMOOTH_TRAIN * 500000000ull / o->rate;
	}
	for (;;) {
		left = o->count ? o->count - r->res->sent : UINT64_MAX;
		if (!left)
			break;
		if (deadline && now_s() >= deadline)
			break;
		if (o->rate && !smooth) {
			/* Absolute schedule: late calls catch up, no drift. */
			if (!sleep_until(t0 + (double)r->res->sent /
							 (double)o->rate,
					 stop)) {
				r->res->interrupted = true;
				break;
			}
		} else if (stop_requested(stop)) {
			r->res->interrupted = true;
			break;
		}
		if (!g_left) {
			gi = (gi + 1) % r->ngroups;
			if (!gi)
				round_left = left;
			g_left = group_share(&r->groups[gi], round, total,
					     round_left);
		}
		if (smooth) {
			r->skel->bss->budget = left < g_left ? left : g_left;
			t1 = now_s();
			n = smooth_runs(runs_per_ns, r->skel->bss->budget,
					o->rate, deadline ? deadline - t1 : 0);
		} else {
			n = (uint32_t)(burst < left ? burst : left);
			if (n > g_left)
				n = (uint32_t)g_left;
		}
		sent = run_group(r, &r->groups[gi], n, o->batch);
		if (sent < 0) {
			err = (int)sent;
			break;
		}
		/*
		 * The program's speed, from calls long enough that the
		 * kernel's set-up per call does not count: the fastest seen.
		 */
		if (smooth && now_s() - t1 > 0.005 &&
		    n / ((now_s() - t1) * 1e9) > runs_per_ns)
			runs_per_ns = n / ((now_s() - t1) * 1e9);
		g_left -= (uint64_t)sent;
	}
	/* A burst went out ahead of its schedule: the run lasts N / rate. */
	if (o->rate && !smooth && !err && !r->res->interrupted &&
	    !sleep_until(t0 + (double)r->res->sent / (double)o->rate, stop))
		r->res->interrupted = true;
	r->res->elapsed = now_s() - t0;
	r->res->lag = smooth ? (double)r->skel->bss->lag_ns / 1e9 : 0;
	return err;
}

/* Groups v[] (sorted by length) into r->groups; returns the map's value size. */
static int make_groups(struct lg_run *r, const struct lg_frame *v, size_t n,
		       uint32_t copy_max, uint32_t *value_size)
{
	uint32_t copy, vs = 0;
	size_t i, g;

	r->groups = calloc(n, sizeof(*r->groups));
	if (!r->groups)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!i || v[i].len != v[i - 1].len) {
			g = r->ngroups++;
			copy = v[i].len;
			if (copy_max && copy > copy_max)
				copy = copy_max;
			r->groups[g].len = v[i].len;
			r->groups[g].first = (uint32_t)i;
			r->groups[g].copy_len = copy;
			r->groups[g].tmpl = v[i].data;
			if (copy > vs)
				vs = copy;
		}
		r->groups[r->ngroups - 1].count++;
	}
	*value_size = (vs + 7) & ~7u;
	return 0;
}

static int fill_map(struct lg_run *r, const struct lg_frame *v, size_t n,
		    uint32_t value_size)
{
	int fd = bpf_map__fd(r->skel->maps.frames), err = 0;
	uint8_t *value = calloc(1, value_size);
	uint32_t copy, key;

	if (!value)
		return -ENOMEM;
	for (key = 0; key < n; key++) {
		memset(value, 0, value_size);
		copy = v[key].len < value_size ? v[key].len : value_size;
		memcpy(value, v[key].data, copy);
		if (bpf_map_update_elem(fd, &key, value, BPF_ANY)) {
			err = -errno;
			break;
		}
	}
	free(value);
	return err;
}

int lg_send(const struct lg_frame *v, size_t n, const struct lg_send_opts *o,
	    const sigset_t *stop, struct lg_result *res)
{
	struct lg_run r = { .ifindex = o->ifindex, .res = res };
	uint32_t value_size;
	uint64_t map_bytes;
	int err;

	memset(res, 0, sizeof(*res));
	libbpf_set_print(o->verbose ? libbpf_print : libbpf_quiet);
	err = make_groups(&r, v, n, o->copy_max, &value_size);
	if (err) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out;
	}
	map_bytes = (uint64_t)value_size * n;
	if (map_bytes > LG_MAP_BYTES_MAX) {
		fprintf(stderr,
			"%s: %zu frames of up to %u bytes need %llu MiB of "
			"BPF map, more than %llu MiB: send fewer distinct "
			"frames\n",
			prog, n, value_size,
			(unsigned long long)(map_bytes >> 20),
			LG_MAP_BYTES_MAX >> 20);
		err = -E2BIG;
		goto out;
	}

	r.skel = mt_loadgen_bpf__open();
	if (!r.skel) {
		err = -errno;
		fprintf(stderr, "%s: cannot open the BPF program: %s\n", prog,
			strerror(-err));
		goto out;
	}
	r.skel->rodata->data_max = value_size;
	err = bpf_map__set_value_size(r.skel->maps.frames, value_size);
	if (!err)
		err = bpf_map__set_max_entries(r.skel->maps.frames,
					       (uint32_t)n);
	if (err) {
		fprintf(stderr, "%s: cannot size the frame map: %s\n", prog,
			strerror(-err));
		goto out_skel;
	}
	err = mt_loadgen_bpf__load(r.skel);
	if (err) {
		fprintf(stderr,
			"%s: cannot load the BPF program: %s (run as root; "
			"-v shows the verifier's log)\n",
			prog, strerror(-err));
		goto out_skel;
	}
	r.prog_fd = bpf_program__fd(r.skel->progs.mt_loadgen_xdp);
	err = fill_map(&r, v, n, value_size);
	if (err) {
		fprintf(stderr, "%s: cannot fill the frame map: %s\n", prog,
			strerror(-err));
		goto out_skel;
	}

	err = run(&r, o, stop);
	if ((err == -EINVAL || err == -EOPNOTSUPP) && !res->sent) {
		fprintf(stderr,
			"%s: the kernel refused BPF_PROG_RUN with live frames "
			"on %s (%s): it needs Linux 5.18 or later\n",
			prog, o->ifname, strerror(-err));
		err = -EOPNOTSUPP;
	} else if (err) {
		fprintf(stderr,
			"%s: BPF_PROG_RUN on %s failed after %llu frames: %s\n",
			prog, o->ifname, (unsigned long long)res->sent,
			strerror(-err));
	} else if (r.skel->bss->copied != res->sent) {
		/* The program aborted some: they were never transmitted. */
		fprintf(stderr,
			"%s: the XDP program built %llu of %llu frames\n", prog,
			(unsigned long long)r.skel->bss->copied,
			(unsigned long long)res->sent);
		err = -EPROTO;
	}
out_skel:
	mt_loadgen_bpf__destroy(r.skel);
out:
	free(r.groups);
	return err;
}
