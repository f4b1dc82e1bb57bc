/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The optional HTTP endpoint of mirror-targetd (DESIGN §7), off unless
 * [control] metrics_listen (--metrics-listen) names HOST:PORT:
 *
 *   GET /metrics   Prometheus text exposition format 0.0.4, made from the
 *                  same status snapshot as `mirrorctl status --json`
 *                  (stats.h), names mirror_target_<thing>[_total]
 *   GET /healthz   200 "ok" while capture works: the XDP program is
 *                  attached, every worker's loop moved within
 *                  MT_HEALTH_STUCK_S seconds, the segment directory is
 *                  writable and no segment write failed and no packet was
 *                  dropped for disk full or I/O errors within
 *                  MT_HEALTH_ERROR_WINDOW_S seconds (or, sooner, records
 *                  were written again and no failure came for a few
 *                  seconds: see metrics.c), and writing has not
 *                  stopped (on_full = stop).  503 and one line saying why
 *                  otherwise.  The probe of an AWS Network Load Balancer
 *                  spreading mirrored traffic over several targets.
 *   anything else  404 (405 for methods other than GET and HEAD)
 *
 * libmicrohttpd does the HTTP, without threads of its own: the control
 * thread polls mt_metrics_fd() next to its signalfd, timerfd and control
 * socket and calls mt_metrics_run() when it is readable and on every tick.
 * A build without libmicrohttpd has all of this but the listener:
 * mt_metrics__create() then fails and says so.
 */
#ifndef MT_METRICS_H
#define MT_METRICS_H

#include <jansson.h>
#include <stdio.h>

#include "mirror-target/log.h"
#include "stats.h"

#define MT_HEALTH_STUCK_S 5
#define MT_HEALTH_ERROR_WINDOW_S 30

/* Fills src with what the snapshot reads, at the time of the call. */
typedef void (*mt_metrics_src_fn)(void *ctx, struct mt_stats_src *src);

struct mt_metrics;

/*
 * Binds listen ("127.0.0.1:9687", "[::]:9687", ":9687" = every address,
 * or a host name) and starts serving.  NULL with err set.
 */
struct mt_metrics *mt_metrics__create(const char *listen, mt_metrics_src_fn fn,
				      void *ctx, struct mt_err *err);
void mt_metrics__destroy(struct mt_metrics *m);

/* The fd to poll for POLLIN; -1 for m == NULL. */
int mt_metrics_fd(const struct mt_metrics *m);
/* Serves what is pending and samples the error counters; never blocks. */
void mt_metrics_run(struct mt_metrics *m);

/*
 * Writes the Prometheus text of a status snapshot and its rules answer
 * (mt_stats_snapshot(), mt_stats_rules(); rules may be NULL); ready is
 * the /healthz verdict (1 healthy).  0 or -EIO.
 */
int mt_metrics_format(const json_t *status, const json_t *rules, int ready,
		      FILE *out);

#endif /* MT_METRICS_H */
