// SPDX-License-Identifier: GPL-2.0-only
/*
 * Offline mode: a capture of mirrored VXLAN traffic in, pcap segments out.
 *
 * libpcap reads the input (pcap or pcapng, a file or stdin), each record goes
 * through mt_pipeline_process_*() exactly as a live frame would, and the
 * segmenter is driven with packet time instead of the wall clock, so
 * rotate_interval and rotate_idle cut the output where they would have cut
 * it live.  One thread does everything: it is the worker (pipeline, writer)
 * and the control thread (segmenter ticks) in turn.
 */
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mirror-target/pcap.h"
#include "mirror-target/pipeline.h"
#include "offline.h"

/*
 * How often the loop looks up from packets: segmenter tick and rule-set
 * check whenever the writer has flushed (a segment only grows then, so
 * size rotation is judged as often as it can change), whenever packet time
 * enters a new second (so interval rotation cuts on the exact record), and
 * at least every TICK_PACKETS packets; progress clock read every
 * PROGRESS_PACKETS.  A tick takes a lock and a statvfs(): per few hundred
 * packets it was a tenth of the run.
 */
#define TICK_PACKETS 4096
#define PROGRESS_PACKETS 16384
#define PROGRESS_NS 2000000000ull
#define NSEC 1000000000ull

#define SLL_HLEN 16
#define SLL2_HLEN 20

enum link_kind {
	LINK_ETH,
	LINK_SLL,
	LINK_SLL2,
	LINK_RAW,
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/*
 * SIGINT/SIGTERM end the read and still seal the segments: with
 * `tcpdump ... | mirror-targetd --read -`, Ctrl-C reaches both processes.
 * No SA_RESTART, so a blocked read of stdin returns and the loop sees it.
 */
static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* Sealed segment names in dir (sorted), to report the ones this run made. */
struct name_list {
	char **v;
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_segment_name(const char *name, const char *prefix)
{
	size_t pl = strlen(prefix), n = strlen(name);

	if (strncmp(name, prefix, pl) || name[pl] != '-')
		return false;
	return (n > 5 && !strcmp(name + n - 5, ".pcap")) ||
	       (n > 8 && !strcmp(name + n - 8, ".pcap.gz"));
}

static void list_segments(const char *dir, const char *prefix,
			  struct name_list *out)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	out->v = NULL;
	out->n = 0;
	if (!d)
		return;
	while ((e = readdir(d))) {
		char **v, *s;

		if (!is_segment_name(e->d_name, prefix))
			continue;
		v = realloc(out->v, (out->n + 1) * sizeof(*v));
		if (!v)
			break;
		out->v = v;
		s = strdup(e->d_name);
		if (!s)
			break;
		out->v[out->n++] = s;
	}
	closedir(d);
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
}

/* Same segment, compressed or not. */
static bool same_segment(const char *a, const char *b)
{
	size_t la = strcspn(a, "."), lb = strcspn(b, ".");

	return la == lb && !strncmp(a, b, la);
}

static bool in_list(const struct name_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (same_segment(l->v[i], name))
			return true;
	return false;
}

static void free_list(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static const char *rule_dir_name(uint8_t dir)
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

struct run {
	const struct mt_config *cfg;
	const char *input;
	const char *link_name;
	struct mt_ruleset *rs;
	struct mt_pipeline p;
	struct mt_writer_stats wst;
	struct mt_segmenter_stats sst;
	struct name_list before, after;
	bool interrupted;
	const char *read_error;
};

static void print_summary(const struct run *r, FILE *out)
{
	const struct mt_pipeline_stats *st = &r->p.stats;
	const struct mt_config *cfg = r->cfg;
	uint64_t not_vxlan = 0;
	size_t nnew = 0;

	fprintf(out, "input                 %s (%s)%s\n", r->input,
		r->link_name, r->interrupted ? ", interrupted" : "");
	fprintf(out, "frames read           %llu (%llu bytes)\n",
		(unsigned long long)st->frames,
		(unsigned long long)st->frame_bytes);
	fprintf(out, "VXLAN decapsulated    %llu\n",
		(unsigned long long)st->decap_ok);
	for (int i = 1; i < MT_DECAP__MAX; i++)
		not_vxlan += st->decap[i];
	if (not_vxlan) {
		fprintf(out, "not used              %llu\n",
			(unsigned long long)not_vxlan);
		for (int i = 1; i < MT_DECAP__MAX; i++)
			if (st->decap[i])
				fprintf(out, "  %-19s %llu\n",
					mt_decap_status_name(i),
					(unsigned long long)st->decap[i]);
	}
	fprintf(out, "inner frames\n");
	for (int i = 0; i < MT_INNER__MAX; i++)
		if (st->inner[i] || i == MT_INNER_OK)
			fprintf(out, "  %-19s %llu\n", mt_inner_status_name(i),
				(unsigned long long)st->inner[i]);
	fprintf(out, "direction\n");
	for (int i = MT_DIR_INGRESS; i < MT_DIR__MAX + MT_DIR_INGRESS; i++) {
		int dir = i % MT_DIR__MAX; /* ingress, egress, unknown */

		fprintf(out, "  %-19s %llu packets, %llu bytes\n",
			mt_direction_name(dir),
			(unsigned long long)st->dir_packets[dir],
			(unsigned long long)st->dir_bytes[dir]);
	}
	if (r->rs)
		fprintf(out, "filter                %s, %zu rule%s\n",
			cfg->rules, mt_ruleset_count(r->rs),
			mt_ruleset_count(r->rs) == 1 ? "" : "s");
	else
		fprintf(out, "filter                off (no rules file: "
			     "everything is captured)\n");
	fprintf(out, "accepted              %llu\n",
		(unsigned long long)st->accepted);
	fprintf(out, "rejected              %llu\n",
		(unsigned long long)st->rejected);
	fprintf(out, "unmatched             %llu (not captured)\n",
		(unsigned long long)st->unmatched);
	if (r->rs) {
		fprintf(out, "rule hits\n  %6s %-6s %-7s %12s %14s  %s\n",
			"number", "action", "dir", "packets", "bytes",
			"description");
		for (size_t i = 0; i < mt_ruleset_count(r->rs); i++) {
			const struct mt_rule *rule = mt_ruleset_rule(r->rs, i);
			const struct mt_rule_hits *h =
				i < r->p.nhits ? &r->p.hits[i] : NULL;

			fprintf(out, "  %6u %-6s %-7s %12llu %14llu  %s\n",
				rule->number,
				rule->action == MT_ACTION_REJECT ? "reject" :
								   "accept",
				rule_dir_name(rule->dir),
				(unsigned long long)(h ? h->packets : 0),
				(unsigned long long)(h ? h->bytes : 0),
				rule->desc);
		}
	}
	fprintf(out, "written               %llu record%s\n",
		(unsigned long long)st->written, st->written == 1 ? "" : "s");
	fprintf(out, "dropped by writer     %llu",
		(unsigned long long)st->write_dropped);
	if (r->wst.dropped_stopped || r->wst.dropped_disk_full ||
	    r->wst.dropped_io_error)
		fprintf(out, " (stopped %llu, disk full %llu, I/O error %llu)",
			(unsigned long long)r->wst.dropped_stopped,
			(unsigned long long)r->wst.dropped_disk_full,
			(unsigned long long)r->wst.dropped_io_error);
	fputc('\n', out);
	for (size_t i = 0; i < r->after.n; i++)
		nnew += !in_list(&r->before, r->after.v[i]);
	fprintf(out, "segments sealed       %zu in %s", nnew, cfg->seg.dir);
	if (r->sst.segments_deleted)
		fprintf(out, " (%llu deleted by retention)",
			(unsigned long long)r->sst.segments_deleted);
	fputc('\n', out);
	for (size_t i = 0; i < r->after.n; i++)
		if (!in_list(&r->before, r->after.v[i]))
			fprintf(out, "  %s\n", r->after.v[i]);
}

/*
 * libpcap reads a capture through stdio, one fread() per record header and
 * body; with the default buffer (st_blksize: 4 KiB on tmpfs) that is one
 * read() system call per few packets.  A large buffer of our own (glibc
 * ignores the size when setvbuf() is asked to allocate) makes it one per
 * megabyte.  *buf must outlive the pcap_t; for stdin, which pcap_close()
 * leaves open, it is not handed back and lives as long as the process.
 */
#define INPUT_BUFFER (1u << 20)

static int open_input(const char *input, pcap_t **out, char **buf)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	pcap_t *pc;
	FILE *f;
	int err;

	*buf = NULL;
	if (!strcmp(input, "-")) {
		if (isatty(STDIN_FILENO)) {
			fprintf(stderr,
				"mirror-targetd: --read -: stdin is a "
				"terminal; pipe a capture in, e.g. tcpdump -i "
				"eth0 -w - udp dst port 4789 | mirror-targetd "
				"--read - ...\n");
			return -EINVAL;
		}
		f = stdin;
	} else {
		f = fopen(input, "rb");
		if (!f) {
			err = errno;
			fprintf(stderr,
				"mirror-targetd: cannot open the capture %s "
				"given to --read: %s\n",
				input, strerror(err));
			return -err;
		}
	}
	*buf = malloc(INPUT_BUFFER);
	/* Without it the read is only slower. */
	if (*buf && setvbuf(f, *buf, _IOFBF, INPUT_BUFFER)) {
		free(*buf);
		*buf = NULL;
	}
	pc = pcap_fopen_offline_with_tstamp_precision(
		f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (f == stdin)
		*buf = NULL;
	if (!pc) {
		if (f != stdin)
			fclose(f);
		free(*buf);
		*buf = NULL;
		/* libpcap names the file in some messages, not in others. */
		if (!strncmp(errbuf, input, strlen(input)))
			fprintf(stderr, "mirror-targetd: %s\n", errbuf);
		else
			fprintf(stderr, "mirror-targetd: %s: %s\n", input,
				errbuf);
		return -EINVAL;
	}
	*out = pc;
	return 0;
}

static int link_kind(pcap_t *pc, const char *input, enum link_kind *kind)
{
	int dlt = pcap_datalink(pc);
	const char *name;

	switch (dlt) {
	case DLT_EN10MB:
		*kind = LINK_ETH;
		return 0;
	case DLT_LINUX_SLL:
		*kind = LINK_SLL;
		return 0;
	case DLT_LINUX_SLL2:
		*kind = LINK_SLL2;
		return 0;
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		*kind = LINK_RAW;
		return 0;
	}
	name = pcap_datalink_val_to_name(dlt);
	fprintf(stderr,
		"mirror-targetd: %s: link type %s (%d, %s) is not supported; "
		"use a capture of Ethernet, Linux cooked (tcpdump -i any) or "
		"raw IP frames\n",
		input, name ? name : "unknown", dlt,
		pcap_datalink_val_to_description_or_dlt(dlt));
	return -EPROTONOSUPPORT;
}

static void progress(uint64_t frames, uint64_t start_ns, uint64_t now_ns)
{
	double secs = (now_ns - start_ns) / 1e9;

	fprintf(stderr, "\rmirror-targetd: %llu frames, %.0f frames/s   ",
		(unsigned long long)frames, secs > 0 ? frames / secs : 0.0);
}

static void feed(struct mt_pipeline *p, enum link_kind kind,
		 const uint8_t *data, uint32_t caplen, uint64_t ts)
{
	uint16_t proto;

	switch (kind) {
	case LINK_ETH:
		mt_pipeline_process_eth(p, data, caplen, ts);
		break;
	case LINK_SLL:
		if (caplen < SLL_HLEN) {
			mt_pipeline_process_ip(p, data, 0, 0, ts);
			break;
		}
		proto = (uint16_t)data[14] << 8 | data[15];
		mt_pipeline_process_ip(p, data + SLL_HLEN, caplen - SLL_HLEN,
				       proto, ts);
		break;
	case LINK_SLL2:
		if (caplen < SLL2_HLEN) {
			mt_pipeline_process_ip(p, data, 0, 0, ts);
			break;
		}
		proto = (uint16_t)data[0] << 8 | data[1];
		mt_pipeline_process_ip(p, data + SLL2_HLEN, caplen - SLL2_HLEN,
				       proto, ts);
		break;
	case LINK_RAW:
		mt_pipeline_process_ip(p, data, caplen, 0, ts);
		break;
	}
}

int mt_offline_run(const struct mt_config *cfg,
		   const struct mt_offline_opts *opts)
{
	struct run r = { .cfg = cfg, .input = opts->input };
	struct mt_rules_ref ref;
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct pcap_pkthdr *hdr;
	const u_char *data;
	enum link_kind kind;
	struct mt_err err;
	pcap_t *pc = NULL;
	char *inbuf = NULL;
	uint64_t clock = 0, next_sec = 0, start_ns, next_progress;
	uint64_t since_tick = 0, last_flushes = 0;
	const struct mt_writer_stats *wst;
	bool show_progress, progress_shown = false, ran = false;
	int ret = 2, rc;

	if (cfg->rules[0]) {
		r.rs = mt_ruleset__load(
			cfg->rules, cfg->filter_id[0] ? cfg->filter_id : NULL,
			&err);
		if (!r.rs) {
			fprintf(stderr, "mirror-targetd: %s\n", err.msg);
			return 2;
		}
	}
	if (open_input(opts->input, &pc, &inbuf))
		goto out_rules;
	if (link_kind(pc, opts->input, &kind))
		goto out_pcap;
	r.link_name =
		pcap_datalink_val_to_description_or_dlt(pcap_datalink(pc));

	sg = mt_segmenter__create(&cfg->seg, &err);
	if (!sg) {
		fprintf(stderr, "mirror-targetd: %s\n", err.msg);
		ret = 1;
		goto out_pcap;
	}
	list_segments(cfg->seg.dir, cfg->seg.prefix, &r.before);
	w = mt_writer__create(sg, mt_config_writer_bufsize(cfg));
	if (!w) {
		fprintf(stderr,
			"mirror-targetd: cannot create a segment "
			"writer: %s\n",
			strerror(errno));
		ret = 1;
		goto out_segmenter;
	}
	wst = mt_writer_stats(w);
	mt_rules_ref_init(&ref, r.rs);
	if (mt_pipeline_init(&r.p, &cfg->sessions, &ref, w, cfg->vxlan_port))
		mt_log(MT_LOG_WARN, "out of memory for per-rule hit counters");

	ran = true;
	install_signals();
	show_progress = !opts->quiet && isatty(STDERR_FILENO);
	start_ns = mono_ns();
	next_progress = start_ns + PROGRESS_NS;
	ret = 0;
	while (!stop_requested) {
		uint64_t ts;

		rc = pcap_next_ex(pc, &hdr, &data);
		if (rc == PCAP_ERROR_BREAK)
			break;
		if (rc < 0) {
			if (stop_requested)
				break;
			r.read_error = pcap_geterr(pc);
			fprintf(stderr,
				"%smirror-targetd: %s: %s; sealing what "
				"was read\n",
				progress_shown ? "\n" : "", opts->input,
				r.read_error);
			progress_shown = false;
			ret = 1;
			break;
		}
		if (rc == 0)
			continue;
		ts = (uint64_t)hdr->ts.tv_sec * NSEC +
		     (uint32_t)hdr->ts.tv_usec;
		/*
		 * The segmenter's clock must not run backwards (merged captures
		 * are not strictly ordered); records keep their own time.
		 */
		if (ts > clock)
			clock = ts;
		if (clock >= next_sec) {
			/*
			 * The segmenter judges interval and idle rotation on
			 * what reached the segment: flush first, so the cut
			 * falls exactly before this packet.  Once per second
			 * of packet time, not per packet.
			 */
			mt_writer_flush(w);
			since_tick = TICK_PACKETS;
		}
		if (++since_tick >= TICK_PACKETS ||
		    wst->flushes != last_flushes) {
			mt_segmenter_tick(sg, clock);
			mt_writer_sync(w);
			mt_pipeline_begin_batch(&r.p);
			since_tick = 0;
			next_sec = (clock / NSEC + 1) * NSEC;
			last_flushes = wst->flushes;
		}
		feed(&r.p, kind, data, hdr->caplen, ts);
		if (show_progress && r.p.stats.frames % PROGRESS_PACKETS == 0) {
			uint64_t now = mono_ns();

			if (now >= next_progress) {
				progress(r.p.stats.frames, start_ns, now);
				progress_shown = true;
				next_progress = now + PROGRESS_NS;
			}
		}
	}
	r.interrupted = stop_requested;
	if (progress_shown)
		fputc('\n', stderr);

	if (mt_writer_flush(w))
		ret = 1;
	r.wst = *mt_writer_stats(w);
	mt_writer__destroy(w);
	if (clock)
		mt_segmenter_tick(sg, clock);
	mt_segmenter_drain(sg);
	mt_segmenter_stats(sg, &r.sst);
	if (r.sst.write_errors)
		ret = 1;
out_segmenter:
	mt_segmenter__destroy(sg);
	if (ran) {
		list_segments(cfg->seg.dir, cfg->seg.prefix, &r.after);
		print_summary(&r, stdout);
		fflush(stdout);
	}
	mt_pipeline_fini(&r.p);
	free_list(&r.before);
	free_list(&r.after);
out_pcap:
	pcap_close(pc);
	free(inbuf);
out_rules:
	if (r.rs)
		mt_ruleset__destroy(r.rs);
	return ret;
}
