// SPDX-License-Identifier: GPL-2.0-only
/*
 * /metrics and /healthz (metrics.h).
 *
 * /metrics is rendered from the JSON status snapshot rather than from the
 * counters themselves, so that `mirrorctl status --json` and Prometheus can
 * never disagree on a number or a name: mirror_target_<section>_<field>,
 * "_total" for counters, labels where the JSON has a list or a map (queue,
 * outcome, direction, vni/session, rule).
 *
 * Everything runs on the control thread.  libmicrohttpd runs with
 * MHD_USE_EPOLL and no thread of its own: its epoll fd sits in the control
 * loop's poll() and MHD_run() never blocks, so a slow HTTP client cannot
 * hold rotation or sealing (connections also time out after a few
 * seconds).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef MT_HAVE_MHD
#include <microhttpd.h>
#endif

#include "metrics.h"
#include "worker.h"
#include "xdp_loader.h"

#define NSEC 1000000000ull
#define MT_METRICS_CONN_MAX 32
#define MT_METRICS_CONN_TIMEOUT_S 5

/* ---- the Prometheus text ------------------------------------------------ */

#define PFX "mirror_target_"

static void family(FILE *out, const char *name, const char *type,
		   const char *help)
{
	fprintf(out, "# HELP " PFX "%s %s\n# TYPE " PFX "%s %s\n", name, help,
		name, type);
}

/* Label values escape \, " and newline (exposition format 0.0.4). */
static void label_value(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

static void value(FILE *out, const json_t *v)
{
	if (json_is_integer(v))
		fprintf(out, " %lld\n", (long long)json_integer_value(v));
	else if (json_is_real(v))
		fprintf(out, " %.6f\n", json_real_value(v));
	else
		fprintf(out, " %d\n", json_is_true(v) ? 1 : 0);
}

/*
 * One sample: name{k1="v1",k2="v2"} value.  labels holds nlabels pairs of
 * key and value (NULL values are written as "").
 */
static void sample(FILE *out, const char *name, const char *const *labels,
		   int nlabels, const json_t *v)
{
	fprintf(out, PFX "%s", name);
	for (int i = 0; i < nlabels; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "{", labels[2 * i]);
		label_value(out, labels[2 * i + 1] ? labels[2 * i + 1] : "");
		fputc('"', out);
	}
	if (nlabels)
		fputc('}', out);
	value(out, v);
}

static void scalar(FILE *out, const char *name, const char *type,
		   const char *help, const json_t *v)
{
	family(out, name, type, help);
	sample(out, name, NULL, 0, v);
}

/* One family with one sample per member of obj, labelled label=KEY. */
static void by_key(FILE *out, const char *name, const char *type,
		   const char *help, const json_t *obj, const char *label)
{
	const char *key;
	json_t *v;

	family(out, name, type, help);
	json_object_foreach((json_t *)obj, key, v) {
		const char *l[2] = { label, key };

		sample(out, name, l, 1, v);
	}
}

static const char *const dirs[] = { "ingress", "egress", "unknown" };

static void directions(FILE *out, const json_t *st)
{
	const json_t *d = json_object_get(st, "directions");
	static const char *const what[] = { "packets", "bytes" };

	for (int w = 0; w < 2; w++) {
		char name[64];

		snprintf(name, sizeof(name), "direction_%s_total", what[w]);
		family(out, name, "counter",
		       w ? "Bytes of decapsulated mirrored frames by inferred "
			   "direction (original lengths)." :
			   "Decapsulated mirrored packets by inferred direction.");
		for (int i = 0; i < 3; i++) {
			const char *l[2] = { "direction", dirs[i] };

			sample(out, name, l, 1,
			       json_object_get(json_object_get(d, dirs[i]),
					       what[w]));
		}
	}
}

/* Per VNI (session) and direction: what CloudWatch's Mirror metrics count. */
static void vnis(FILE *out, const json_t *st)
{
	static const char *const what[] = { "packets", "bytes" };
	const json_t *arr = json_object_get(st, "vnis");
	const json_t *other = json_object_get(st, "vni_other");

	for (int w = 0; w < 2; w++) {
		char name[64];
		size_t i;
		json_t *e;

		snprintf(name, sizeof(name), "vni_%s_total", what[w]);
		family(out, name, "counter",
		       w ? "Bytes mirrored per VNI (session) and direction; "
			   "ingress/egress compare with CloudWatch "
			   "NetworkMirrorIn/Out of the source." :
			   "Packets mirrored per VNI (session) and direction; "
			   "ingress/egress compare with CloudWatch "
			   "NetworkPacketsMirrorIn/Out of the source.");
		json_array_foreach((json_t *)arr, i, e) {
			char vni[16];

			snprintf(vni, sizeof(vni), "%lld",
				 (long long)json_integer_value(
					 json_object_get(e, "vni")));
			for (int d = 0; d < 3; d++) {
				const char *l[6] = {
					"vni",
					vni,
					"session",
					json_string_value(json_object_get(e, "session")),
					"direction",
					dirs[d],
				};

				sample(out, name, l, 3,
				       json_object_get(json_object_get(e,
								       dirs[d]),
						       what[w]));
			}
		}
		for (int d = 0; d < 3; d++) {
			const char *l[6] = { "vni", "other",	 "session",
					     "",    "direction", dirs[d] };

			sample(out, name, l, 3,
			       json_object_get(json_object_get(other, dirs[d]),
					       what[w]));
		}
	}
}

/* One family per field of each element of arr, labelled queue=N. */
static void per_queue(FILE *out, const json_t *arr, const char *prefix,
		      const char *const *fields, const char *const *helps)
{
	for (int f = 0; fields[f]; f++) {
		char name[96], q[16];
		size_t i;
		json_t *e;

		snprintf(name, sizeof(name), "%s_%s_total", prefix, fields[f]);
		family(out, name, "counter", helps[f]);
		json_array_foreach((json_t *)arr, i, e) {
			const char *l[2] = { "queue", q };

			snprintf(q, sizeof(q), "%lld",
				 (long long)json_integer_value(
					 json_object_get(e, "queue")));
			sample(out, name, l, 1, json_object_get(e, fields[f]));
		}
	}
}

static void sockets_workers(FILE *out, const json_t *st)
{
	static const char *const sock_f[] = { "rx_dropped", "rx_ring_full",
					      "rx_fill_ring_empty_descs",
					      "rx_invalid_descs", NULL };
	static const char *const sock_h[] = {
		"AF_XDP socket: frames dropped by the kernel (XDP_STATISTICS).",
		"AF_XDP socket: frames dropped because the rx ring was full.",
		"AF_XDP socket: times the fill ring was empty.",
		"AF_XDP socket: invalid descriptors.",
	};
	static const char *const wk_f[] = {
		"frames",	 "frame_bytes", "batches",   "decap_ok",
		"accepted",	 "rejected",	"unmatched", "written",
		"write_dropped", "no_meta",	"multibuf",  "multibuf_cut",
		"idle_flushes",	 NULL,
	};
	static const char *const wk_h[] = {
		"Worker: frames taken off its AF_XDP socket.",
		"Worker: bytes of those frames.",
		"Worker: receive batches.",
		"Worker: frames decapsulated.",
		"Worker: packets the filter accepted.",
		"Worker: packets the filter rejected.",
		"Worker: packets no rule matched (not captured).",
		"Worker: records written.",
		"Worker: records the writer dropped.",
		"Worker: frames without XDP metadata (batch clock used).",
		"Worker: multi-buffer frames reassembled.",
		"Worker: multi-buffer frames cut at the bounce buffer.",
		"Worker: buffer flushes while idle.",
	};
	const json_t *workers = json_object_get(st, "workers");
	const char *name = "worker_heartbeat_age_seconds";
	size_t i;
	json_t *e;

	per_queue(out, json_object_get(st, "sockets"), "socket", sock_f,
		  sock_h);
	per_queue(out, workers, "worker", wk_f, wk_h);
	family(out, name, "gauge",
	       "Seconds since the worker loop last moved (stuck above 5).");
	json_array_foreach((json_t *)workers, i, e) {
		json_t *age = json_object_get(e, "heartbeat_age_seconds");
		char q[16];
		const char *l[2] = { "queue", q };

		if (!age)
			continue;
		snprintf(q, sizeof(q), "%lld",
			 (long long)json_integer_value(
				 json_object_get(e, "queue")));
		sample(out, name, l, 1, age);
	}
}

static void rules(FILE *out, const json_t *ru)
{
	static const char *const what[] = { "packets", "bytes" };
	const json_t *arr = json_object_get(ru, "rules");

	for (int w = 0; w < 2; w++) {
		char name[64];
		size_t i;
		json_t *e;

		snprintf(name, sizeof(name), "rule_hits_%s_total", what[w]);
		family(out, name, "counter",
		       w ? "Bytes matched per filter rule since the rules were "
			   "loaded." :
			   "Packets matched per filter rule since the rules "
			   "were loaded.");
		json_array_foreach((json_t *)arr, i, e) {
			char num[16];
			const char *l[6] = {
				"rule",
				num,
				"action",
				json_string_value(json_object_get(e, "action")),
				"direction",
				json_string_value(json_object_get(e, "direction")),
			};

			snprintf(num, sizeof(num), "%lld",
				 (long long)json_integer_value(
					 json_object_get(e, "number")));
			sample(out, name, l, 3, json_object_get(e, what[w]));
		}
	}
}

static void writer_segments_disk(FILE *out, const json_t *st)
{
	static const struct {
		const char *key, *name, *help;
	} seg[] = {
		{ "opened", "segments_opened_total", "Segments opened." },
		{ "sealed", "segments_sealed_total", "Segments sealed." },
		{ "recovered", "segments_recovered_total",
		  "Leftover .part files sealed at start." },
		{ "compressed", "segments_compressed_total",
		  "Segments gzipped." },
		{ "compress_failures", "segments_compress_failures_total",
		  "Segments that could not be gzipped." },
		{ "deleted_by_retention", "segments_deleted_by_retention_total",
		  "Sealed segments deleted by retention." },
		{ "hooks_run", "segments_hooks_run_total", "Hooks run." },
		{ "hook_failures", "segments_hook_failures_total",
		  "Hooks that failed (exit status, signal, timeout)." },
		{ "hooks_skipped", "segments_hooks_skipped_total",
		  "Hooks skipped because the hook queue was full." },
		{ "write_errors", "segments_write_errors_total",
		  "Segment write, fsync or rename failures." },
		{ "index_errors", "segments_index_errors_total",
		  "VNI index writes that failed (the packets were kept)." },
		{ "sealed_without_index", "segments_sealed_without_index_total",
		  "Segments sealed without a VNI index (export --vni skips "
		  "them)." },
		{ "records_lost", "segments_records_lost_total",
		  "Records in segments removed before they were sealed." },
		{ "dir_recreated", "segments_dir_recreated_total",
		  "Times the removed segment directory was made again." },
	};
	static const struct {
		const char *key, *name, *help;
	} seg_now[] = {
		{ "sealed_on_disk", "segments_on_disk",
		  "Sealed segments in the directory." },
		{ "bytes_on_disk", "segments_on_disk_bytes",
		  "Bytes of sealed segments in the directory." },
		{ "compress_backlog", "segments_compress_backlog",
		  "Sealed segments waiting for gzip or in it." },
		{ "hook_backlog", "segments_hook_backlog",
		  "Sealed segments waiting for a hook or in one." },
		{ "stopped", "segments_stopped",
		  "1 while writing is stopped (retention limit, on_full = "
		  "stop)." },
	};
	static const struct {
		const char *key, *reason;
	} drops[] = { { "dropped_disk_full", "disk_full" },
		      { "dropped_stopped", "stopped" },
		      { "dropped_io_error", "io_error" } };
	const json_t *w = json_object_get(st, "writer");
	const json_t *s = json_object_get(st, "segments");
	const json_t *d = json_object_get(st, "disk");

	scalar(out, "writer_records_total", "counter",
	       "Records written to segments.", json_object_get(w, "records"));
	scalar(out, "writer_bytes_total", "counter",
	       "Bytes written to segments, headers included.",
	       json_object_get(w, "bytes"));
	scalar(out, "writer_flushes_total", "counter",
	       "Writer buffer flushes (one pwrite each).",
	       json_object_get(w, "flushes"));
	scalar(out, "writer_queue_waits_total", "counter",
	       "Times a worker waited because all its write-behind buffers "
	       "were queued (storage slower than the traffic).",
	       json_object_get(w, "queue_waits"));
	family(out, "writer_dropped_packets_total", "counter",
	       "Packets the writers dropped, by reason.");
	for (size_t i = 0; i < sizeof(drops) / sizeof(drops[0]); i++) {
		const char *l[2] = { "reason", drops[i].reason };

		sample(out, "writer_dropped_packets_total", l, 1,
		       json_object_get(w, drops[i].key));
	}
	for (size_t i = 0; i < sizeof(seg) / sizeof(seg[0]); i++)
		scalar(out, seg[i].name, "counter", seg[i].help,
		       json_object_get(s, seg[i].key));
	for (size_t i = 0; i < sizeof(seg_now) / sizeof(seg_now[0]); i++)
		scalar(out, seg_now[i].name, "gauge", seg_now[i].help,
		       json_object_get(s, seg_now[i].key));
	scalar(out, "disk_total_bytes", "gauge",
	       "Size of the segment directory's filesystem.",
	       json_object_get(d, "total_bytes"));
	scalar(out, "disk_free_bytes", "gauge",
	       "Free bytes on the segment directory's filesystem.",
	       json_object_get(d, "free_bytes"));
	scalar(out, "disk_available_bytes", "gauge",
	       "Bytes available to unprivileged users there.",
	       json_object_get(d, "available_bytes"));
}

int mt_metrics_format(const json_t *st, const json_t *ru, int ready, FILE *out)
{
	const json_t *dm = json_object_get(st, "daemon");
	const json_t *cap = json_object_get(st, "capture");
	const json_t *flt = json_object_get(st, "filter");
	const json_t *tot = json_object_get(st, "totals");
	const char *l[2] = {
		"version", json_string_value(json_object_get(dm, "version"))
	};
	json_t *one = json_integer(1), *rd = json_integer(ready);
	const char *state = json_string_value(json_object_get(flt, "state"));
	json_t *on = json_integer(state && !strcmp(state, "on"));

	scalar(out, "up", "gauge", "1: mirror-targetd answers.", one);
	scalar(out, "ready", "gauge",
	       "1 while /healthz answers 200 (capture works).", rd);
	family(out, "build_info", "gauge", "The daemon's version.");
	sample(out, "build_info", l, 1, one);
	scalar(out, "start_time_seconds", "gauge", "Start time, unix seconds.",
	       json_object_get(dm, "started_unix"));
	scalar(out, "uptime_seconds", "gauge", "Seconds since the start.",
	       json_object_get(dm, "uptime_seconds"));
	scalar(out, "queues", "gauge", "AF_XDP sockets and workers.",
	       json_object_get(cap, "queues"));
	scalar(out, "filter_enabled", "gauge",
	       "1 when a rules file is in force.", on);
	scalar(out, "filter_rules", "gauge", "Rules in force.",
	       json_object_get(flt, "rules"));
	scalar(out, "reloads_total", "counter", "Successful reloads.",
	       json_object_get(flt, "reloads"));
	scalar(out, "reload_failures_total", "counter",
	       "Reloads refused (invalid config or rules file).",
	       json_object_get(flt, "reload_failures"));
	family(out, "filter_packets_total", "counter",
	       "Filter verdicts: accepted (captured), rejected, unmatched "
	       "(not captured).");
	for (int i = 0; i < 3; i++) {
		static const char *const v[] = { "accepted", "rejected",
						 "unmatched" };
		const char *lv[2] = { "verdict", v[i] };

		sample(out, "filter_packets_total", lv, 1,
		       json_object_get(flt, v[i]));
	}
	by_key(out, "xdp_packets_total", "counter",
	       "Frames seen by the XDP program, by outcome.",
	       json_object_get(st, "xdp"), "outcome");
	sockets_workers(out, st);
	scalar(out, "frames_total", "counter",
	       "Outer frames handed to the pipelines.",
	       json_object_get(tot, "frames"));
	scalar(out, "frame_bytes_total", "counter", "Bytes of those frames.",
	       json_object_get(tot, "frame_bytes"));
	scalar(out, "decap_ok_total", "counter",
	       "Frames decapsulated (valid VXLAN).",
	       json_object_get(tot, "decap_ok"));
	by_key(out, "decap_packets_total", "counter",
	       "Outer parse results, by result.", json_object_get(tot, "decap"),
	       "result");
	by_key(out, "inner_packets_total", "counter",
	       "Inner frame parse results, by result.",
	       json_object_get(tot, "inner"), "result");
	directions(out, st);
	vnis(out, st);
	rules(out, ru);
	writer_segments_disk(out, st);
	json_decref(one);
	json_decref(rd);
	json_decref(on);
	return ferror(out) ? -EIO : 0;
}

/* ---- health ------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* Failures that mean packets are not reaching the disk. */
static uint64_t write_failures(const struct mt_stats_src *src)
{
	struct mt_segmenter_stats ss;
	uint64_t n;

	mt_segmenter_stats(src->sg, &ss);
	n = ss.write_errors;
	for (unsigned i = 0; i < src->nworkers; i++) {
		const struct mt_writer_stats *w =
			mt_writer_stats(src->workers[i]->w);

		n += __atomic_load_n(&w->dropped_disk_full, __ATOMIC_RELAXED) +
		     __atomic_load_n(&w->dropped_io_error, __ATOMIC_RELAXED);
	}
	return n;
}

/* Records the writers got onto the disk. */
static uint64_t records_written(const struct mt_stats_src *src)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < src->nworkers; i++)
		n += __atomic_load_n(
			&mt_writer_stats(src->workers[i]->w)->records,
			__ATOMIC_RELAXED);
	return n;
}

/*
 * A failure keeps /healthz at 503 for MT_HEALTH_ERROR_WINDOW_S, so that a
 * probe every 10-30 s sees a short one -- unless writing has visibly come
 * back: no new failure for MT_HEALTH_RECOVERED_S and records written since
 * the last one (found by the fault suite: after a full disk was freed,
 * capture resumed at once but /healthz said it failed for 30 s more, and a
 * load balancer kept the target out of service that long).
 */
#define MT_HEALTH_RECOVERED_S 5

struct health {
	uint64_t failures; /* write_failures() at the last sample */
	uint64_t failed_at; /* CLOCK_MONOTONIC ns it last grew; 0: never */
	uint64_t records_at_failure; /* records_written() then */
};

static void health_sample(struct health *h, const struct mt_stats_src *src)
{
	uint64_t n = write_failures(src), now = mono_ns();
	uint64_t rec = records_written(src);

	if (n != h->failures) {
		h->failed_at = now;
		h->records_at_failure = rec;
	} else if (h->failed_at && rec > h->records_at_failure &&
		   now - h->failed_at >= MT_HEALTH_RECOVERED_S * NSEC) {
		h->failed_at = 0;
	}
	h->failures = n;
}

static void say(char *why, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A reason, cut to the one line /healthz answers with. */
static void say(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
}

/* true when capture works; otherwise why says what does not. */
static bool health_check(struct health *h, const struct mt_stats_src *src,
			 char *why, size_t size)
{
	const struct mt_config *cfg = src->cfg;
	uint64_t now = mono_ns();
	struct mt_segmenter_stats ss;
	unsigned ifindex;

	ifindex = if_nametoindex(cfg->interface);
	if (!src->xdp || !ifindex || !mt_xdp_loader_attached((int)ifindex)) {
		say(why, size, "the XDP program is not attached to %s",
		    cfg->interface);
		return false;
	}
	if (!src->nworkers) {
		say(why, size, "no worker runs");
		return false;
	}
	for (unsigned i = 0; i < src->nworkers; i++) {
		uint64_t hb = mt_worker_heartbeat_ns(src->workers[i]);

		if (hb && now - hb <= MT_HEALTH_STUCK_S * NSEC)
			continue;
		say(why, size,
		    "the worker of queue %u is stuck (its loop has not "
		    "moved for %.1f s)",
		    src->workers[i]->xsk->queue,
		    hb ? (double)(now - hb) / NSEC : 0.0);
		return false;
	}
	if (access(cfg->seg.dir, W_OK)) {
		say(why, size, "the segment directory %s is not writable: %s",
		    cfg->seg.dir, strerror(errno));
		return false;
	}
	mt_segmenter_stats(src->sg, &ss);
	if (ss.stopped) {
		say(why, size,
		    "writing stopped: a retention limit was reached with "
		    "on_full = stop");
		return false;
	}
	health_sample(h, src);
	if (h->failed_at &&
	    now - h->failed_at < MT_HEALTH_ERROR_WINDOW_S * NSEC) {
		say(why, size,
		    "writing segments failed %.0f s ago (disk full or "
		    "I/O error; see the daemon's log)",
		    (double)(now - h->failed_at) / NSEC);
		return false;
	}
	say(why, size, "ok");
	return true;
}

/* ---- the listener ------------------------------------------------------- */

#ifdef MT_HAVE_MHD

struct mt_metrics {
	struct MHD_Daemon *d;
	int listen_fd, epoll_fd;
	mt_metrics_src_fn fn;
	void *ctx;
	struct health health;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     const char *type, char *body, size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status,
			    const char *msg)
{
	char *body;

	if (asprintf(&body, "%s\n", msg) < 0)
		return MHD_NO;
	return reply(conn, status, "text/plain; charset=utf-8", body,
		     strlen(body));
}

static enum MHD_Result serve_metrics(struct mt_metrics *m,
				     struct MHD_Connection *conn)
{
	struct mt_stats_src src;
	json_t *st, *ru;
	char *body = NULL, why[256];
	size_t len = 0;
	FILE *mem;
	int ret = -ENOMEM;
	bool ok;

	m->fn(m->ctx, &src);
	ok = health_check(&m->health, &src, why, sizeof(why));
	st = mt_stats_snapshot(&src);
	ru = mt_stats_rules(&src);
	mem = open_memstream(&body, &len);
	if (st && mem)
		ret = mt_metrics_format(st, ru, ok, mem);
	if (mem && fclose(mem))
		ret = -ENOMEM;
	json_decref(st);
	json_decref(ru);
	if (ret) {
		free(body);
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
			    "out of memory");
	}
	return reply(conn, MHD_HTTP_OK,
		     "text/plain; version=0.0.4; charset=utf-8", body, len);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct mt_metrics *m = cls;
	struct mt_stats_src src;
	char why[256];

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "only GET and HEAD");
	if (!strcmp(url, "/metrics"))
		return serve_metrics(m, conn);
	if (!strcmp(url, "/healthz")) {
		m->fn(m->ctx, &src);
		if (health_check(&m->health, &src, why, sizeof(why)))
			return text(conn, MHD_HTTP_OK, "ok");
		return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, why);
	}
	return text(conn, MHD_HTTP_NOT_FOUND,
		    "not found: this server has /metrics and /healthz");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* libmicrohttpd's complaints (bad requests, resets) are not ours: debug. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	mt_vlog(MT_LOG_DEBUG, fmt, ap);
}

/* Splits "HOST:PORT" ("[v6]:PORT", ":PORT") and binds a listening socket. */
static int open_listener(const char *listen_on, int *family, struct mt_err *err)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	const char *colon = strrchr(listen_on, ':');
	struct addrinfo *res = NULL, *ai;
	char host[128];
	size_t hl;
	int fd = -1, e = 0, one = 1, zero = 0;

	if (!colon || (size_t)(colon - listen_on) >= sizeof(host))
		return mt_err_set(err,
				  "metrics_listen \"%s\" is not HOST:PORT; use "
				  "e.g. 127.0.0.1:9687 or [::]:9687",
				  listen_on);
	hl = (size_t)(colon - listen_on);
	memcpy(host, listen_on, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	/* ":PORT": every address, IPv6 and IPv4 on one socket. */
	if (!host[0])
		snprintf(host, sizeof(host), "::");
	e = getaddrinfo(host, colon + 1, &hints, &res);
	if (e && !strcmp(host, "::"))
		e = getaddrinfo("0.0.0.0", colon + 1, &hints, &res);
	if (e)
		return mt_err_set(err, "metrics_listen \"%s\": %s", listen_on,
				  gai_strerror(e));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				   sizeof(zero));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 64)) {
			*family = ai->ai_family;
			break;
		}
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return mt_err_set(err,
				  "metrics_listen %s: cannot listen: %s (is "
				  "another program on that port? ss -ltnp "
				  "shows it; pick another port)",
				  listen_on, strerror(e));
	return fd;
}

struct mt_metrics *mt_metrics__create(const char *listen_on,
				      mt_metrics_src_fn fn, void *ctx,
				      struct mt_err *err)
{
	const union MHD_DaemonInfo *info;
	struct mt_metrics *m;
	int family = AF_INET;
	unsigned flags = MHD_USE_EPOLL;

	m = calloc(1, sizeof(*m));
	if (!m) {
		mt_err_set(err, "out of memory");
		return NULL;
	}
	m->fn = fn;
	m->ctx = ctx;
	m->listen_fd = open_listener(listen_on, &family, err);
	if (m->listen_fd < 0)
		goto out_free;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->d = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, m, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)MT_METRICS_CONN_MAX,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)MT_METRICS_CONN_TIMEOUT_S, MHD_OPTION_END);
	if (!m->d) {
		mt_err_set(err,
			   "metrics_listen %s: libmicrohttpd could not start "
			   "(run with a debug log level for its reason)",
			   listen_on);
		goto out_fd;
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	m->epoll_fd = info ? info->epoll_fd : -1;
	if (m->epoll_fd < 0) {
		mt_err_set(err,
			   "metrics_listen %s: libmicrohttpd has no epoll "
			   "fd to poll",
			   listen_on);
		MHD_stop_daemon(m->d);
		goto out_fd;
	}
	mt_log(MT_LOG_INFO, "serving /metrics and /healthz on http://%s",
	       listen_on);
	return m;

out_fd:
	close(m->listen_fd);
out_free:
	free(m);
	return NULL;
}

void mt_metrics__destroy(struct mt_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	/* A socket handed over with MHD_OPTION_LISTEN_SOCKET stays ours. */
	close(m->listen_fd);
	free(m);
}

int mt_metrics_fd(const struct mt_metrics *m)
{
	return m ? m->epoll_fd : -1;
}

void mt_metrics_run(struct mt_metrics *m)
{
	struct mt_stats_src src;

	if (!m)
		return;
	MHD_run(m->d);
	/* Error counters are sampled every tick, not only when probed. */
	m->fn(m->ctx, &src);
	health_sample(&m->health, &src);
}

#else /* !MT_HAVE_MHD */

struct mt_metrics *mt_metrics__create(const char *listen_on,
				      mt_metrics_src_fn fn, void *ctx,
				      struct mt_err *err)
{
	(void)fn;
	(void)ctx;
	mt_err_set(err,
		   "metrics_listen %s is set, but this mirror-targetd was "
		   "built without libmicrohttpd: no /metrics or /healthz "
		   "(apt install libmicrohttpd-dev and rebuild)",
		   listen_on);
	(void)health_check;
	return NULL;
}

void mt_metrics__destroy(struct mt_metrics *m)
{
	(void)m;
}

int mt_metrics_fd(const struct mt_metrics *m)
{
	(void)m;
	return -1;
}

void mt_metrics_run(struct mt_metrics *m)
{
	(void)m;
}

#endif /* MT_HAVE_MHD */
