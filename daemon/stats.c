// SPDX-License-Identifier: GPL-2.0-only
/*
 * The status snapshot (schema in stats.h).  Runs on the control thread only:
 * it reads the workers' counters while they count, with plain aligned 64-bit
 * loads (relaxed; a number may be a packet behind, never torn), and walks
 * each worker's VNI table through the slots' keys (acquire, see
 * pipeline.h).  Per-rule hits are read only from workers whose rule
 * generation is the one in force: their hit array cannot change under us,
 * since only this thread publishes new rule sets.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "mirror-target/pipeline.h"
#include "mirror-target/segment.h"
#include "stats.h"
#include "worker.h"
#include "xdp_loader.h"
#include "xsk.h"

#ifndef MT_VERSION
#define MT_VERSION "0.1.0"
#endif

#define NSEC 1000000000ull

static uint64_t rd(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* json_object_set_new for counters; errors surface as a NULL document. */
static int set_u64(json_t *o, const char *key, uint64_t v)
{
	return json_object_set_new(o, key, json_integer((json_int_t)v));
}

static json_t *pkts_bytes(uint64_t packets, uint64_t bytes)
{
	return json_pack("{s:I,s:I}", "packets", (json_int_t)packets, "bytes",
			 (json_int_t)bytes);
}

static const char *dir_key(int dir)
{
	return mt_direction_name((enum mt_direction)dir);
}

void mt_stats_current_segment(const char *dir, const char *prefix, char *buf,
			      size_t size)
{
	size_t pl = strlen(prefix);
	struct dirent *e;
	DIR *d;

	buf[0] = '\0';
	d = opendir(dir);
	if (!d)
		return;
	/* Sequence numbers are zero-padded: the largest name is the newest. */
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		size_t len = strlen(n);

		if (n[0] != '.' || strncmp(n + 1, prefix, pl) ||
		    strncmp(n + 1 + pl, "-open-", 6) || len < 10 ||
		    strcmp(n + len - 10, ".pcap.part"))
			continue;
		if (strcmp(n, buf) > 0)
			snprintf(buf, size, "%s", n);
	}
	closedir(d);
}

static json_t *daemon_obj(const struct mt_stats_src *src)
{
	uint64_t now = clock_ns(CLOCK_REALTIME);
	uint64_t up = clock_ns(CLOCK_MONOTONIC) - src->started_mono_ns;
	time_t t = (time_t)(src->started_ns / NSEC);
	char started[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s,s:I,s:s,s:I,s:f,s:f}", "version", MT_VERSION,
			 "pid", (json_int_t)getpid(), "started", started,
			 "started_unix", (json_int_t)(src->started_ns / NSEC),
			 "now_unix", (double)now / NSEC, "uptime_seconds",
			 (double)up / NSEC);
}

static json_t *capture_obj(const struct mt_stats_src *src)
{
	const struct mt_config *cfg = src->cfg;
	bool frags = src->xdp && mt_xdp_loader_frags(src->xdp);

	return json_pack("{s:s,s:s,s:s,s:s,s:i,s:i}", "interface",
			 cfg->interface, "xdp_mode",
			 src->xdp ? mt_xdp_loader_mode_name(src->xdp) : "none",
			 "xdp_program",
			 frags ? "multi-buffer" : "single-buffer", "bind_mode",
			 cfg->bind_mode, "vxlan_port", (int)cfg->vxlan_port,
			 "queues", (int)src->nworkers);
}

static json_t *xdp_obj(const struct mt_stats_src *src)
{
	static const char *const names[] = MT_XDP_COUNTER_NAMES;
	uint64_t xc[MT_XDP_CNT__MAX] = { 0 };
	json_t *o = json_object();

	if (!o)
		return NULL;
	/* Zeros when the map cannot be read: the keys are always there. */
	if (src->xdp)
		mt_xdp_loader_counters(src->xdp, xc);
	for (int i = 0; i < MT_XDP_CNT__MAX; i++)
		set_u64(o, names[i], xc[i]);
	return o;
}

static json_t *socket_obj(const struct mt_worker *wk)
{
	struct xdp_statistics xs = { 0 };

	mt_xsk_stats(wk->xsk, &xs);
	return json_pack("{s:i,s:s,s:b,s:I,s:I,s:I,s:I}", "queue",
			 (int)wk->xsk->queue, "bind",
			 wk->xsk->zerocopy ? "zerocopy" : "copy",
			 "multi_buffer", (int)wk->xsk->sg, "rx_dropped",
			 (json_int_t)xs.rx_dropped, "rx_ring_full",
			 (json_int_t)xs.rx_ring_full,
			 "rx_fill_ring_empty_descs",
			 (json_int_t)xs.rx_fill_ring_empty_descs,
			 "rx_invalid_descs", (json_int_t)xs.rx_invalid_descs);
}

static json_t *worker_obj(const struct mt_worker *wk)
{
	const struct mt_pipeline_stats *s = &wk->p.stats;
	const struct mt_worker_stats *w = &wk->stats;
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_u64(o, "queue", wk->xsk->queue);
	json_object_set_new(o, "cpu", json_integer(wk->cpu));
	set_u64(o, "frames", rd(&s->frames));
	set_u64(o, "frame_bytes", rd(&s->frame_bytes));
	set_u64(o, "batches", rd(&w->batches));
	set_u64(o, "decap_ok", rd(&s->decap_ok));
	set_u64(o, "accepted", rd(&s->accepted));
	set_u64(o, "rejected", rd(&s->rejected));
	set_u64(o, "unmatched", rd(&s->unmatched));
	set_u64(o, "written", rd(&s->written));
	set_u64(o, "write_dropped", rd(&s->write_dropped));
	set_u64(o, "no_meta", rd(&w->no_meta));
	set_u64(o, "multibuf", rd(&w->multibuf));
	set_u64(o, "multibuf_cut", rd(&w->multibuf_cut));
	set_u64(o, "idle_flushes", rd(&w->idle_flushes));
	if (mt_worker_heartbeat_ns(wk)) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		uint64_t hb = mt_worker_heartbeat_ns(wk);

		json_object_set_new(
			o, "heartbeat_age_seconds",
			json_real(now > hb ? (double)(now - hb) / NSEC : 0.0));
	}
	return o;
}

/* One VNI's totals while merging the workers' tables. */
struct vni_sum {
	uint32_t vni;
	uint64_t packets[MT_DIR__MAX], bytes[MT_DIR__MAX];
};

static void add_count(struct vni_sum *sum, const struct mt_vni_count *c)
{
	for (int d = 0; d < MT_DIR__MAX; d++) {
		sum->packets[d] += rd(&c->packets[d]);
		sum->bytes[d] += rd(&c->bytes[d]);
	}
}

static json_t *dirs_obj(json_t *o, const uint64_t *packets,
			const uint64_t *bytes)
{
	if (!o)
		return NULL;
	for (int d = 0; d < MT_DIR__MAX; d++)
		json_object_set_new(o, dir_key(d),
				    pkts_bytes(packets[d], bytes[d]));
	return o;
}

static int cmp_vni(const void *a, const void *b)
{
	const struct vni_sum *x = a, *y = b;

	return x->vni < y->vni ? -1 : x->vni > y->vni;
}

/* vnis[] and vni_other into root. */
static void add_vnis(json_t *root, const struct mt_stats_src *src)
{
	size_t cap = (size_t)MT_VNI_SLOTS * (src->nworkers ? src->nworkers : 1);
	struct vni_sum *v = calloc(cap, sizeof(*v)), other = { 0 };
	json_t *arr = json_array();
	size_t n = 0;

	if (!v || !arr)
		goto out;
	for (unsigned w = 0; w < src->nworkers; w++) {
		const struct mt_vni_table *t = &src->workers[w]->p.vnis;

		for (unsigned i = 0; i < MT_VNI_SLOTS; i++) {
			uint32_t key = __atomic_load_n(&t->slot[i].key,
						       __ATOMIC_ACQUIRE);
			size_t j;

			if (!key)
				continue;
			for (j = 0; j < n && v[j].vni != key - 1; j++)
				;
			if (j == n)
				v[n++].vni = key - 1;
			add_count(&v[j], &t->slot[i]);
		}
		add_count(&other, &t->other);
	}
	qsort(v, n, sizeof(*v), cmp_vni);
	for (size_t i = 0; i < n; i++) {
		const struct mt_session *s =
			mt_sessions_find(&src->cfg->sessions, v[i].vni);
		json_t *o = json_pack("{s:I,s:o}", "vni", (json_int_t)v[i].vni,
				      "session",
				      s ? json_string(s->name) : json_null());

		json_array_append_new(arr,
				      dirs_obj(o, v[i].packets, v[i].bytes));
	}
	json_object_set_new(root, "vnis", arr);
	arr = NULL;
	json_object_set_new(root, "vni_other",
			    dirs_obj(json_object(), other.packets,
				     other.bytes));
out:
	json_decref(arr);
	free(v);
}

static json_t *segments_obj(const struct mt_stats_src *src)
{
	const struct mt_segment_config *sc = &src->cfg->seg;
	struct mt_segmenter_stats ss = { 0 };
	char cur[256];

	mt_segmenter_stats(src->sg, &ss);
	mt_stats_current_segment(sc->dir, sc->prefix, cur, sizeof(cur));
	return json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
			 "s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}",
			 "dir", sc->dir, "prefix", sc->prefix, "current",
			 cur[0] ? json_string(cur) : json_null(), "opened",
			 (json_int_t)ss.segments_opened, "sealed",
			 (json_int_t)ss.segments_sealed, "recovered",
			 (json_int_t)ss.segments_recovered, "compressed",
			 (json_int_t)ss.segments_compressed,
			 "compress_failures", (json_int_t)ss.compress_failures,
			 "deleted_by_retention",
			 (json_int_t)ss.segments_deleted, "hooks_run",
			 (json_int_t)ss.hooks_run, "hook_failures",
			 (json_int_t)ss.hook_failures, "hooks_skipped",
			 (json_int_t)ss.hooks_skipped, "write_errors",
			 (json_int_t)ss.write_errors, "index_errors",
			 (json_int_t)ss.index_errors, "sealed_without_index",
			 (json_int_t)ss.sealed_without_index, "records_lost",
			 (json_int_t)ss.records_lost, "dir_recreated",
			 (json_int_t)ss.dir_recreated, "compress_backlog",
			 (json_int_t)ss.compress_backlog, "hook_backlog",
			 (json_int_t)ss.hook_backlog, "sealed_on_disk",
			 (json_int_t)ss.sealed_on_disk, "bytes_on_disk",
			 (json_int_t)ss.bytes_on_disk, "stopped",
			 (int)ss.stopped);
}

static json_t *disk_obj(const char *dir)
{
	struct statvfs vfs;
	uint64_t bs;

	if (statvfs(dir, &vfs))
		memset(&vfs, 0, sizeof(vfs));
	bs = vfs.f_frsize ? vfs.f_frsize : vfs.f_bsize;
	return json_pack("{s:I,s:I,s:I}", "total_bytes",
			 (json_int_t)(bs * vfs.f_blocks), "free_bytes",
			 (json_int_t)(bs * vfs.f_bfree), "available_bytes",
			 (json_int_t)(bs * vfs.f_bavail));
}

/* Reloadable settings in force, so that a reload can be seen to apply. */
static json_t *config_obj(const struct mt_stats_src *src)
{
	const struct mt_segment_config *sc = &src->cfg->seg;

	return json_pack(
		"{s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b,s:i,s:s,s:I}", "file",
		src->config_file ? json_string(src->config_file) : json_null(),
		"rotate_size", (json_int_t)sc->rotate_bytes, "rotate_interval",
		(json_int_t)sc->rotate_interval, "rotate_idle",
		(json_int_t)sc->rotate_idle, "keep_segments",
		(json_int_t)sc->keep_segments, "keep_bytes",
		(json_int_t)sc->keep_bytes, "min_free",
		(json_int_t)sc->min_free_bytes, "on_full",
		sc->stop_when_full ? "stop" : "overwrite", "compress",
		(int)sc->compress, "compress_level", sc->compress_level, "hook",
		sc->hook, "snaplen", (json_int_t)sc->snaplen);
}

json_t *mt_stats_snapshot(const struct mt_stats_src *src)
{
	struct mt_pipeline_stats st = { 0 };
	struct mt_writer_stats ws = { 0 };
	json_t *root = json_object(), *socks = json_array();
	json_t *workers = json_array(), *o;

	if (!root || !socks || !workers)
		goto out_nomem;
	for (unsigned i = 0; i < src->nworkers; i++) {
		const struct mt_worker *wk = src->workers[i];
		const struct mt_pipeline_stats *s = &wk->p.stats;

		json_array_append_new(socks, socket_obj(wk));
		json_array_append_new(workers, worker_obj(wk));
		mt_pipeline_stats_add(&st, s);
		mt_writer_stats_add(&ws, wk->w);
	}

	set_u64(root, "schema_version", MT_STATS_SCHEMA_VERSION);
	json_object_set_new(root, "daemon", daemon_obj(src));
	json_object_set_new(root, "capture", capture_obj(src));
	json_object_set_new(
		root, "filter",
		json_pack("{s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:I}", "state",
			  src->rs ? "on" : "off", "rules_file",
			  src->rs ? json_string(src->cfg->rules) : json_null(),
			  "rules",
			  (json_int_t)(src->rs ? mt_ruleset_count(src->rs) : 0),
			  "reloads", (json_int_t)src->reloads,
			  "reload_failures", (json_int_t)src->reload_failures,
			  "accepted", (json_int_t)st.accepted, "rejected",
			  (json_int_t)st.rejected, "unmatched",
			  (json_int_t)st.unmatched));
	json_object_set_new(root, "xdp", xdp_obj(src));
	json_object_set_new(root, "sockets", socks);
	json_object_set_new(root, "workers", workers);
	socks = workers = NULL;

	o = json_object();
	if (o) {
		json_t *dec = json_object(), *inner = json_object();

		set_u64(o, "frames", st.frames);
		set_u64(o, "frame_bytes", st.frame_bytes);
		set_u64(o, "decap_ok", st.decap_ok);
		for (int d = 0; dec && d < MT_DECAP__MAX; d++)
			set_u64(dec, mt_decap_status_name(d), st.decap[d]);
		for (int d = 0; inner && d < MT_INNER__MAX; d++)
			set_u64(inner, mt_inner_status_name(d), st.inner[d]);
		json_object_set_new(o, "decap", dec);
		json_object_set_new(o, "inner", inner);
	}
	json_object_set_new(root, "totals", o);
	json_object_set_new(root, "directions",
			    dirs_obj(json_object(), st.dir_packets,
				     st.dir_bytes));
	add_vnis(root, src);
	json_object_set_new(
		root, "writer",
		json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "records",
			  (json_int_t)ws.records, "bytes", (json_int_t)ws.bytes,
			  "flushes", (json_int_t)ws.flushes, "queue_waits",
			  (json_int_t)ws.queue_waits, "dropped_disk_full",
			  (json_int_t)ws.dropped_disk_full, "dropped_stopped",
			  (json_int_t)ws.dropped_stopped, "dropped_io_error",
			  (json_int_t)ws.dropped_io_error));
	json_object_set_new(root, "segments", segments_obj(src));
	json_object_set_new(root, "disk", disk_obj(src->cfg->seg.dir));
	json_object_set_new(root, "config", config_obj(src));
	return root;

out_nomem:
	json_decref(root);
	json_decref(socks);
	json_decref(workers);
	return NULL;
}

static const char *rule_dir(uint8_t dir)
{
	switch (dir) {
	case MT_RULE_INGRESS:
		return "ingress";
	case MT_RULE_EGRESS:
		return "egress";
	default:
		return "any";
	}
}

json_t *mt_stats_rules(const struct mt_stats_src *src)
{
	size_t n = src->rs ? mt_ruleset_count(src->rs) : 0;
	json_t *root, *arr = json_array();
	unsigned behind = 0;
	bool *current;

	current = calloc(src->nworkers ? src->nworkers : 1, sizeof(*current));
	if (!arr || !current) {
		json_decref(arr);
		free(current);
		return NULL;
	}
	for (unsigned w = 0; w < src->nworkers; w++) {
		current[w] = mt_worker_rules_gen(src->workers[w]) ==
			     src->rules_gen;
		behind += !current[w];
	}
	for (size_t i = 0; i < n; i++) {
		const struct mt_rule *r = mt_ruleset_rule(src->rs, i);
		uint64_t pk = 0, by = 0;
		char line[512];

		for (unsigned w = 0; w < src->nworkers; w++) {
			const struct mt_pipeline *p = &src->workers[w]->p;

			if (current[w] && i < p->nhits) {
				pk += rd(&p->hits[i].packets);
				by += rd(&p->hits[i].bytes);
			}
		}
		mt_rule_format(r, line, sizeof(line));
		/* The format pads columns for files; not wanted here. */
		for (size_t e = strlen(line); e && line[e - 1] == ' ';)
			line[--e] = '\0';
		json_array_append_new(
			arr,
			json_pack("{s:I,s:i,s:s,s:s,s:s,s:s,s:i,s:I,s:I}",
				  "order", (json_int_t)(i + 1), "number",
				  (int)r->number, "action",
				  r->action == MT_ACTION_REJECT ? "reject" :
								  "accept",
				  "direction", rule_dir(r->dir), "rule", line,
				  "description", r->desc, "line", (int)r->line,
				  "packets", (json_int_t)pk, "bytes",
				  (json_int_t)by));
	}
	free(current);
	root = json_pack("{s:s,s:o,s:I,s:i}", "filter", src->rs ? "on" : "off",
			 "rules_file",
			 src->rs ? json_string(src->cfg->rules) : json_null(),
			 "reloads", (json_int_t)src->reloads, "workers_behind",
			 (int)behind);
	if (!root) {
		json_decref(arr);
		return NULL;
	}
	json_object_set_new(root, "rules", arr);
	return root;
}
