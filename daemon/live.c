// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live capture (DESIGN §1, §6): the control thread of mirror-targetd.
 *
 * Start-up, in this order, so that every failure explains itself before
 * anything is attached: block SIGINT/SIGTERM/SIGHUP (every thread started
 * later inherits the mask, so only the signalfd here sees them); check
 * privileges, the interface, bpffs, MTU and (on ENA) the queue count; load
 * the rules; create the segmenter (recovers leftover .part files); attach
 * the XDP program; then per selected rx queue an AF_XDP socket and a worker
 * pinned to the CPU that takes that queue's interrupt.
 *
 * Then the control loop sleeps in poll() on a signalfd and a timerfd:
 *   tick (250 ms)  CLOCK_TAI - CLOCK_REALTIME for the workers' timestamps,
 *                  mt_segmenter_tick() with the wall clock (rotation,
 *                  sealing, retention), freeing replaced rule sets
 *   SIGHUP         reload the config file's reloadable settings (reload.h)
 *                  and the rules: build + validate off the packet path,
 *                  publish with one pointer swap; the old set is freed once
 *                  every worker's rs_gen has moved past the swap
 *   SIGTERM/INT    stop workers, flush writers, close sockets, detach XDP,
 *                  seal the open segment, print the counters, exit 0
 *   control socket mirrorctl's commands (control.h)
 *   HTTP           /metrics and /healthz when metrics_listen is set
 *                  (metrics.h; libmicrohttpd without threads of its own)
 *
 * A crash (even kill -9) leaves the XDP program attached with no socket in
 * its XSKMAP: VXLAN is dropped and counted, every other frame still passes,
 * so the instance stays reachable; the next start replaces the program and
 * seals the .part file left behind.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/magic.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "live.h"
#include "metrics.h"
#include "notify.h"
#include "mirror-target/caps.h"
#include "mirror-target/memroom.h"
#include "mirror-target/pcap.h"
#include "mirror-target/pipeline.h"
#include "reload.h"
#include "stats.h"
#include "worker.h"
#include "xdp_loader.h"
#include "xsk.h"

#define NSEC 1000000000ull
#define TICK_NS 250000000ull
#define BPFFS "/sys/fs/bpf"

/*
 * Single-buffer XDP: a frame must fit one page after the 256 bytes of XDP
 * headroom and the skb_shared_info tail (320 bytes on x86-64): 3520 bytes
 * of frame, i.e. an MTU of 3498 once Ethernet and two VLAN tags are
 * counted -- the limit ENA documents.  IPv4 mirroring adds 54 bytes.
 */
#define MT_XDP_HEADROOM 256
#define MT_SKB_SHINFO 320
#define MT_L2_OVERHEAD 22
#define MT_MIRROR_OVERHEAD4 54

struct pending_rules {
	struct mt_ruleset *rs;
	struct mt_sessions *sessions; /* a replaced, reloaded session table */
	uint64_t gen; /* free once every worker has seen this generation */
	struct pending_rules *next;
};

struct live {
	const struct mt_config *cfg;
	int ifindex;
	unsigned mtu;
	uint32_t queues[MT_XDP_MAX_QUEUES];
	unsigned nqueues;
	struct mt_ruleset *rs;
	struct mt_rules_ref ref;
	struct pending_rules *pending;
	struct mt_segmenter *sg;
	struct mt_xdp_loader *xdp;
	struct mt_worker *workers[MT_XDP_MAX_QUEUES];
	unsigned nworkers;
	atomic_bool stop;
	_Atomic int64_t tai_offset_ns;
	int sfd, tfd;
	uint64_t reloads, reload_failures;
	struct mt_control *ctl; /* NULL: no control socket */
	struct mt_metrics *metrics; /* NULL: no HTTP /metrics, /healthz */
	/* cfg after a config reload (shares the start config's sessions) */
	struct mt_config *reloaded_cfg;
	struct mt_reload_report reload_rep; /* of the last reload */
	uint64_t started_ns, started_mono_ns;
};

/* ---- start-up checks ---------------------------------------------------- */

static int check_privileges(void)
{
	static const struct {
		uint64_t bit;
		const char *name, *why;
	} caps[] = {
		{ MT_CAP_NET_ADMIN, "CAP_NET_ADMIN", "attach XDP" },
		{ MT_CAP_NET_RAW, "CAP_NET_RAW", "open AF_XDP sockets" },
		{ MT_CAP_BPF, "CAP_BPF", "load the XDP program" },
		{ MT_CAP_SYS_ADMIN, "CAP_SYS_ADMIN",
		  "let libxdp find and replace XDP programs" },
	};
	uint64_t eff = mt_caps_effective();
	char missing[256] = "";

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t n = strlen(missing);

		if (eff & caps[i].bit)
			continue;
		/* CAP_SYS_ADMIN also grants what CAP_BPF does. */
		if (caps[i].bit == MT_CAP_BPF && (eff & MT_CAP_SYS_ADMIN))
			continue;
		snprintf(missing + n, sizeof(missing) - n, "%s%s (to %s)",
			 n ? ", " : "", caps[i].name, caps[i].why);
	}
	if (!missing[0])
		return 0;
	mt_log(MT_LOG_ERROR,
	       "live capture needs privileges this process lacks: %s; run "
	       "as root, or grant them (systemd: AmbientCapabilities=; "
	       "by hand: sudo mirror-targetd ...)",
	       missing);
	return -EPERM;
}

/*
 * Once XDP is attached, the sockets bound and the control socket made,
 * the control thread keeps only what it still uses: CAP_NET_ADMIN and
 * CAP_SYS_ADMIN to detach the program at exit (libxdp looks it up by id),
 * and the file capabilities a root run by hand may need for the segment
 * directory.  The workers gave up everything as they started.
 */
static void drop_capabilities(void)
{
	const uint64_t keep = MT_CAP_NET_ADMIN | MT_CAP_SYS_ADMIN |
			      MT_CAPS_FILES;
	uint64_t had = mt_caps_effective();
	char gone[256], kept[256];
	int err;

	err = mt_caps_limit(keep);
	if (err) {
		mt_log(MT_LOG_WARN, "cannot drop capabilities: %s",
		       strerror(-err));
		return;
	}
	mt_caps_format(had & ~keep, gone, sizeof(gone));
	mt_caps_format(had & keep, kept, sizeof(kept));
	mt_log(MT_LOG_INFO,
	       "dropped %s; kept %s (to detach XDP at exit, and segment "
	       "files when run as root); workers run with none",
	       gone, kept);
}

static int check_interface(struct live *lv)
{
	const char *ifn = lv->cfg->interface;
	char path[128];
	FILE *f;

	lv->ifindex = if_nametoindex(ifn);
	if (!lv->ifindex) {
		mt_log(MT_LOG_ERROR,
		       "interface \"%s\" not found; `ip link` lists the "
		       "interfaces of this host (the traffic-mirror target's "
		       "ENI, e.g. eth1)",
		       ifn);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", ifn);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%u", &lv->mtu) != 1)
		lv->mtu = 1500;
	if (f)
		fclose(f);
	return 0;
}

/* libxdp keeps its lock and dispatcher pins in bpffs. */
static int check_bpffs(void)
{
	struct statfs st;

	if (!statfs(BPFFS, &st) && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (!mount("bpf", BPFFS, "bpf", 0, NULL)) {
		mt_log(MT_LOG_INFO, "mounted bpffs on %s (libxdp needs it)",
		       BPFFS);
		return 0;
	}
	mt_log(MT_LOG_ERROR,
	       "no BPF filesystem on %s and mounting it failed (%s); libxdp "
	       "needs it: mount -t bpf bpf %s (systemd mounts it at boot)",
	       BPFFS, strerror(errno), BPFFS);
	return -ENOENT;
}

static unsigned single_buffer_mtu(const struct mt_config *cfg)
{
	uint32_t page = cfg->frame_size < 4096 ? cfg->frame_size : 4096;

	return page - MT_XDP_HEADROOM - MT_SKB_SHINFO - MT_L2_OVERHEAD;
}

static bool driver_is(const char *ifn, const char *name)
{
	char path[128], target[PATH_MAX];
	ssize_t n;
	const char *base;

	snprintf(path, sizeof(path), "/sys/class/net/%s/device/driver", ifn);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	base = strrchr(target, '/');
	return !strcmp(base ? base + 1 : target, name);
}

/* ENA cannot run XDP with more than half its maximum queues (XDP_TX). */
static int check_ena_queues(const char *ifn)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	int fd, ret = 0;

	if (!driver_is(ifn, "ena"))
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifn);
	ifr.ifr_data = (void *)&ch;
	if (!ioctl(fd, SIOCETHTOOL, &ifr) && ch.max_combined &&
	    ch.combined_count > ch.max_combined / 2) {
		mt_log(MT_LOG_ERROR,
		       "%s (ENA) uses %u queues, but XDP on ENA needs at most "
		       "half of the maximum %u; run: ethtool -L %s combined %u",
		       ifn, ch.combined_count, ch.max_combined, ifn,
		       ch.max_combined / 2);
		ret = -EINVAL;
	}
	close(fd);
	return ret;
}

/* ---- queues and CPUs ---------------------------------------------------- */

static unsigned count_rx_queues(const char *ifn)
{
	char path[128];
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/sys/class/net/%s/queues", ifn);
	d = opendir(path);
	if (!d)
		return 1;
	while ((e = readdir(d)))
		n += !strncmp(e->d_name, "rx-", 3);
	closedir(d);
	return n ? n : 1;
}

static int select_queues(struct live *lv)
{
	const char *ifn = lv->cfg->interface, *p = lv->cfg->queues;
	unsigned have = count_rx_queues(ifn);

	lv->nqueues = 0;
	if (!strcmp(p, "all")) {
		if (have > MT_XDP_MAX_QUEUES)
			have = MT_XDP_MAX_QUEUES;
		for (unsigned q = 0; q < have; q++)
			lv->queues[lv->nqueues++] = q;
		return 0;
	}
	while (*p) {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		for (unsigned long q = lo; q <= hi; q++) {
			if (q >= have) {
				mt_log(MT_LOG_ERROR,
				       "queues: %s has %u rx queue%s (0-%u), "
				       "there is no queue %lu; set queues = "
				       "all or a list within 0-%u",
				       ifn, have, have == 1 ? "" : "s",
				       have - 1, q, have - 1);
				return -EINVAL;
			}
			if (lv->nqueues < MT_XDP_MAX_QUEUES)
				lv->queues[lv->nqueues++] = q;
		}
		p = *end == ',' ? end + 1 : end;
		if (end == p && *p)
			break; /* config.c validated the syntax */
	}
	return lv->nqueues ? 0 : -EINVAL;
}

/* Does the last word of an /proc/interrupts line name ifn's queue q? */
static bool irq_name_matches(const char *name, const char *ifn, unsigned q)
{
	size_t ln = strlen(ifn), n = strlen(name);
	const char *dash;

	if (strncmp(name, ifn, ln) || (name[ln] != '-' && name[ln] != '.'))
		return false;
	dash = strrchr(name, '-');
	if (!dash || dash < name + ln || !isdigit((unsigned char)dash[1]))
		return false;
	(void)n;
	return strtoul(dash + 1, NULL, 10) == q;
}

/* The first CPU in the affinity of queue q's interrupt, or -1. */
static int queue_irq_cpu(const char *ifn, unsigned q)
{
	char line[4096], path[64];
	FILE *f = fopen("/proc/interrupts", "r");
	int irq = -1, cpu = -1;

	if (!f)
		return -1;
	while (irq < 0 && fgets(line, sizeof(line), f)) {
		char *last, *end = line + strlen(line);

		while (end > line && isspace((unsigned char)end[-1]))
			*--end = '\0';
		last = strrchr(line, ' ');
		if (last && irq_name_matches(last + 1, ifn, q))
			irq = atoi(line);
	}
	fclose(f);
	if (irq < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/irq/%d/smp_affinity_list", irq);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &cpu) != 1)
		cpu = -1;
	fclose(f);
	return cpu;
}

/* The n-th CPU this process may run on (round robin), or -1. */
static int nth_allowed_cpu(unsigned n)
{
	cpu_set_t set;
	int count;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	count = CPU_COUNT(&set);
	if (!count)
		return -1;
	n %= (unsigned)count;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set) && n-- == 0)
			return c;
	return -1;
}

/* ---- clocks, rules ------------------------------------------------------ */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

/* TAI - UTC is a whole number of seconds; reading around it finds it. */
static void update_tai_offset(struct live *lv)
{
	uint64_t t1 = clock_ns(CLOCK_TAI), rt = clock_ns(CLOCK_REALTIME);
	uint64_t t2 = clock_ns(CLOCK_TAI);
	int64_t diff = (int64_t)((t1 / 2 + t2 / 2) - rt);
	int64_t secs = (diff + (int64_t)NSEC / 2) / (int64_t)NSEC;

	atomic_store_explicit(&lv->tai_offset_ns, secs * (int64_t)NSEC,
			      memory_order_relaxed);
}

/* On failure err says FILE:LINE:COL: why (it is also logged). */
static int load_rules(const struct mt_config *cfg, struct mt_ruleset **out,
		      struct mt_err *err)
{
	*out = NULL;
	if (!cfg->rules[0])
		return 0;
	*out = mt_ruleset__load(cfg->rules,
				cfg->filter_id[0] ? cfg->filter_id : NULL, err);
	if (!*out) {
		mt_log(MT_LOG_ERROR, "%s", err->msg);
		return -EINVAL;
	}
	return 0;
}

static uint64_t min_worker_gen(const struct live *lv)
{
	uint64_t min = UINT64_MAX;

	for (unsigned i = 0; i < lv->nworkers; i++) {
		uint64_t g = mt_worker_rules_gen(lv->workers[i]);

		if (g < min)
			min = g;
	}
	return min;
}

static void free_seen_rules(struct live *lv, bool all)
{
	struct pending_rules **pp = &lv->pending;
	uint64_t min = min_worker_gen(lv);

	while (*pp) {
		struct pending_rules *p = *pp;

		if (all || p->gen <= min) {
			*pp = p->next;
			if (p->rs)
				mt_ruleset__destroy(p->rs);
			if (p->sessions) {
				mt_sessions_free(p->sessions);
				free(p->sessions);
			}
			free(p);
		} else {
			pp = &p->next;
		}
	}
}

static bool allow_lists_changed(const struct mt_config *a,
				const struct mt_config *b)
{
	return a->nallow_sources != b->nallow_sources ||
	       a->nallow_vnis != b->nallow_vnis ||
	       memcmp(a->allow_sources, b->allow_sources,
		      a->nallow_sources * sizeof(a->allow_sources[0])) ||
	       memcmp(a->allow_vnis, b->allow_vnis,
		      a->nallow_vnis * sizeof(a->allow_vnis[0]));
}

/*
 * SIGHUP and `mirrorctl reload`: the config file's reloadable settings
 * (when the daemon was started with a config file) and the rules, all or
 * nothing.  Everything that can fail -- reading the config, loading the
 * rules, the segmenter's checks -- comes before anything changes; then the
 * segmenter takes the new settings and the rules are published with one
 * pointer swap.  0, or -errno with err saying why (an invalid file:
 * "FILE:LINE:COL: ..."); everything then stays as it was.
 */
static int reload(struct live *lv, struct mt_err *err)
{
	struct mt_reload_report rep = { 0 };
	const struct mt_config *cfg = lv->cfg;
	struct mt_config *next = NULL;
	struct mt_ruleset *rs = NULL, *old;
	struct pending_rules *p;
	struct mt_sessions *ses = NULL;
	bool lists = false;
	int ret;

	if (mt_config_origin_file()) {
		ret = mt_config_reload(lv->cfg, &next, &rep, err);
		if (ret)
			goto out_fail;
		cfg = next;
	}
	if (cfg->rules[0]) {
		rs = mt_ruleset__load(cfg->rules,
				      cfg->filter_id[0] ? cfg->filter_id : NULL,
				      err);
		if (!rs) {
			ret = -EINVAL;
			goto out_fail;
		}
	}
	p = calloc(1, sizeof(*p));
	ses = rep.sessions_changed ? malloc(sizeof(*ses)) : NULL;
	if (!p || (rep.sessions_changed && !ses)) {
		free(p);
		ret = -ENOMEM;
		mt_err_set(err, "out of memory");
		goto out_rules;
	}
	lists = next && allow_lists_changed(lv->cfg, next);
	if (lists) {
		ret = mt_xdp_loader_set_allow_lists(
			lv->xdp, next->allow_sources, next->nallow_sources,
			next->allow_vnis, next->nallow_vnis, err);
		if (ret)
			goto out_lists;
	}
	if (next) {
		ret = mt_segmenter_reconfigure(lv->sg, &next->seg, err);
		if (ret)
			goto out_lists;
	}
	/* Nothing fails from here on. */
	old = mt_rules_ref_publish(&lv->ref, rs);
	p->rs = old;
	if (ses) {
		/*
		 * The workers take the new table at their next batch; the one
		 * it replaces is freed with the old rules (the table the
		 * daemon started with belongs to the startup config).
		 */
		*ses = next->sessions;
		p->sessions =
			(struct mt_sessions *)mt_rules_ref_publish_sessions(
				&lv->ref, ses);
	}
	p->gen = atomic_load_explicit(&lv->ref.gen, memory_order_acquire);
	p->next = lv->pending;
	lv->pending = p;
	lv->rs = rs;
	if (next) {
		free(lv->reloaded_cfg);
		lv->reloaded_cfg = next;
		lv->cfg = next;
	}
	lv->reload_rep = rep;
	lv->reloads++;
	if (rep.applied[0])
		mt_log(MT_LOG_INFO, "reload: applied %s", rep.applied);
	if (rep.restart[0])
		mt_log(MT_LOG_WARN,
		       "reload: %s changed in %s but only a restart applies "
		       "that (systemctl restart mirror-targetd); the running "
		       "values stay in force",
		       rep.restart, mt_config_origin_file());
	if (rs)
		mt_log(MT_LOG_INFO, "reloaded %s: %zu rule%s", lv->cfg->rules,
		       mt_ruleset_count(rs),
		       mt_ruleset_count(rs) == 1 ? "" : "s");
	else
		mt_log(MT_LOG_INFO, "reload: no rules file configured; the "
				    "filter is off");
	return 0;

out_lists:
	/* Back to what was in force (best effort: the old lists fitted). */
	if (lists)
		mt_xdp_loader_set_allow_lists(lv->xdp, lv->cfg->allow_sources,
					      lv->cfg->nallow_sources,
					      lv->cfg->allow_vnis,
					      lv->cfg->nallow_vnis, NULL);
	free(p);
	free(ses);
out_rules:
	if (rs)
		mt_ruleset__destroy(rs);
out_fail:
	if (next && rep.sessions_changed)
		mt_sessions_free(&next->sessions);
	free(next);
	lv->reload_failures++;
	mt_log(MT_LOG_ERROR, "%s", err->msg);
	mt_log(MT_LOG_ERROR, "reload failed; the previous rules stay in force, "
			     "and so do the settings");
	return ret;
}

/* reload() with systemd told (RELOADING=1, then READY=1 either way). */
static int reload_notified(struct live *lv, struct mt_err *err)
{
	int ret;

	mt_notify_reloading();
	ret = reload(lv, err);
	mt_notify_ready("capturing on %s%s", lv->cfg->interface,
			ret ? "; the last reload failed, the previous "
			      "settings stay" :
			      "");
	return ret;
}

/* "a, b" as ["a", "b"]. */
static json_t *names_array(const char *list)
{
	json_t *arr = json_array();
	const char *p = list;

	while (arr && *p) {
		size_t n = strcspn(p, ",");

		json_array_append_new(arr, json_stringn(p, n));
		p += n;
		p += strspn(p, ", ");
	}
	return arr;
}

/* ---- the control socket ------------------------------------------------- */

static void stats_src(const struct live *lv, struct mt_stats_src *src)
{
	*src = (struct mt_stats_src){
		.cfg = lv->cfg,
		.xdp = lv->xdp,
		.workers = lv->workers,
		.nworkers = lv->nworkers,
		.sg = lv->sg,
		.rs = lv->rs,
		.rules_gen = atomic_load_explicit(&lv->ref.gen,
						  memory_order_acquire),
		.started_ns = lv->started_ns,
		.started_mono_ns = lv->started_mono_ns,
		.reloads = lv->reloads,
		.reload_failures = lv->reload_failures,
		.config_file = mt_config_origin_file(),
	};
}

static void metrics_src(void *ctx, struct mt_stats_src *src)
{
	stats_src(ctx, src);
}

static json_t *segment_answer(const struct live *lv, const char *key)
{
	const struct mt_segment_config *sc = &lv->cfg->seg;
	char cur[256];

	mt_stats_current_segment(sc->dir, sc->prefix, cur, sizeof(cur));
	return json_pack("{s:s,s:s,s:o}", "dir", sc->dir, "prefix", sc->prefix,
			 key, cur[0] ? json_string(cur) : json_null());
}

/*
 * The commands of the control socket (protocol in control.h).  Segment
 * listing and export read the files in mirrorctl: the answer here only
 * says where they are, so that scanning gigabytes never stalls this thread.
 */
static json_t *control_handle(void *ctx, int argc, char **argv,
			      struct mt_err *err)
{
	struct live *lv = ctx;
	struct mt_stats_src src;
	const char *cmd = argv[0];

	(void)argc;
	stats_src(lv, &src);
	if (!strcmp(cmd, "status"))
		return mt_stats_snapshot(&src);
	if (!strcmp(cmd, "rules"))
		return mt_stats_rules(&src);
	if (!strcmp(cmd, "segments"))
		return segment_answer(lv, "current");
	if (!strcmp(cmd, "rotate")) {
		json_t *ans = segment_answer(lv, "rotated");

		/* Rotate now; sealing follows once the writers let go. */
		mt_segmenter_request_rotate(lv->sg);
		mt_segmenter_tick(lv->sg, clock_ns(CLOCK_REALTIME));
		return ans;
	}
	if (!strcmp(cmd, "reload")) {
		const char *file = mt_config_origin_file();

		if (reload_notified(lv, err))
			return NULL;
		return json_pack(
			"{s:s,s:o,s:I,s:o,s:o,s:o}", "filter",
			lv->rs ? "on" : "off", "rules_file",
			lv->rs ? json_string(lv->cfg->rules) : json_null(),
			"rules",
			(json_int_t)(lv->rs ? mt_ruleset_count(lv->rs) : 0),
			"config", file ? json_string(file) : json_null(),
			"applied", names_array(lv->reload_rep.applied),
			"restart_needed", names_array(lv->reload_rep.restart));
	}
	mt_err_set(err,
		   "unknown command \"%s\": this daemon answers status, "
		   "rules, segments, rotate and reload (mirrorctl --help)",
		   cmd);
	return NULL;
}

/* ---- the summary -------------------------------------------------------- */

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

/* Per-rule hits since the last reload, summed over the workers. */
static void print_rule_hits(const struct live *lv, FILE *out)
{
	size_t n = lv->rs ? mt_ruleset_count(lv->rs) : 0;

	if (!n)
		return;
	fprintf(out, "rule hits%s\n  %6s %-6s %-7s %12s %14s  %s\n",
		lv->reloads ? " (since the last reload)" : "", "number",
		"action", "dir", "packets", "bytes", "description");
	for (size_t i = 0; i < n; i++) {
		const struct mt_rule *rule = mt_ruleset_rule(lv->rs, i);
		uint64_t pk = 0, by = 0;

		for (unsigned w = 0; w < lv->nworkers; w++) {
			const struct mt_pipeline *p = &lv->workers[w]->p;

			/* Workers are joined: their view is final. */
			if (p->rs == lv->rs && i < p->nhits) {
				pk += p->hits[i].packets;
				by += p->hits[i].bytes;
			}
		}
		fprintf(out, "  %6u %-6s %-7s %12llu %14llu  %s\n",
			rule->number,
			rule->action == MT_ACTION_REJECT ? "reject" : "accept",
			rule_dir_name(rule->dir), (unsigned long long)pk,
			(unsigned long long)by, rule->desc);
	}
}

static void print_summary(const struct live *lv, FILE *out)
{
	static const char *const xdp_names[] = MT_XDP_COUNTER_NAMES;
	uint64_t xc[MT_XDP_CNT__MAX] = { 0 };
	struct mt_pipeline_stats st = { 0 };
	struct mt_writer_stats ws = { 0 };
	uint64_t no_meta = 0, multibuf = 0, cut = 0;

	fprintf(out,
		"interface             %s, %s XDP (%s program), %u "
		"queue%s\n",
		lv->cfg->interface,
		lv->xdp ? mt_xdp_loader_mode_name(lv->xdp) : "-",
		lv->xdp && mt_xdp_loader_frags(lv->xdp) ? "multi-buffer" :
							  "single-buffer",
		lv->nworkers, lv->nworkers == 1 ? "" : "s");
	if (lv->xdp && !mt_xdp_loader_counters(lv->xdp, xc)) {
		fprintf(out, "xdp\n");
		for (int i = 0; i < MT_XDP_CNT__MAX; i++)
			fprintf(out, "  %-19s %llu\n", xdp_names[i],
				(unsigned long long)xc[i]);
	}
	for (unsigned i = 0; i < lv->nworkers; i++) {
		const struct mt_worker *wk = lv->workers[i];
		const struct mt_pipeline_stats *s = &wk->p.stats;
		struct xdp_statistics xs;

		if (!mt_xsk_stats(wk->xsk, &xs))
			fprintf(out,
				"socket queue %-8u %s%s, cpu %d: rx_dropped "
				"%llu, rx_invalid_descs %llu, rx_ring_full "
				"%llu, rx_fill_ring_empty %llu, frames %llu\n",
				wk->xsk->queue,
				wk->xsk->zerocopy ? "zero-copy" : "copy",
				wk->xsk->sg ? "+sg" : "", wk->cpu,
				(unsigned long long)xs.rx_dropped,
				(unsigned long long)xs.rx_invalid_descs,
				(unsigned long long)xs.rx_ring_full,
				(unsigned long long)xs.rx_fill_ring_empty_descs,
				(unsigned long long)s->frames);
		mt_pipeline_stats_add(&st, s);
		mt_writer_stats_add(&ws, wk->w);
		no_meta += wk->stats.no_meta;
		multibuf += wk->stats.multibuf;
		cut += wk->stats.multibuf_cut;
	}
	fprintf(out, "frames received       %llu (%llu bytes)\n",
		(unsigned long long)st.frames,
		(unsigned long long)st.frame_bytes);
	if (no_meta || multibuf)
		fprintf(out,
			"  without metadata    %llu\n"
			"  multi-buffer        %llu (%llu cut at the bounce "
			"buffer)\n",
			(unsigned long long)no_meta,
			(unsigned long long)multibuf, (unsigned long long)cut);
	fprintf(out, "VXLAN decapsulated    %llu\n",
		(unsigned long long)st.decap_ok);
	for (int i = 1; i < MT_DECAP__MAX; i++)
		if (st.decap[i])
			fprintf(out, "  %-19s %llu\n", mt_decap_status_name(i),
				(unsigned long long)st.decap[i]);
	fprintf(out, "inner frames\n");
	for (int i = 0; i < MT_INNER__MAX; i++)
		if (st.inner[i] || i == MT_INNER_OK)
			fprintf(out, "  %-19s %llu\n", mt_inner_status_name(i),
				(unsigned long long)st.inner[i]);
	fprintf(out, "direction\n");
	for (int i = MT_DIR_INGRESS; i < MT_DIR__MAX + MT_DIR_INGRESS; i++) {
		int dir = i % MT_DIR__MAX;

		fprintf(out, "  %-19s %llu packets, %llu bytes\n",
			mt_direction_name(dir),
			(unsigned long long)st.dir_packets[dir],
			(unsigned long long)st.dir_bytes[dir]);
	}
	if (lv->rs)
		fprintf(out,
			"filter                %s, %zu rule%s (%llu "
			"reload%s, %llu failed)\n",
			lv->cfg->rules, mt_ruleset_count(lv->rs),
			mt_ruleset_count(lv->rs) == 1 ? "" : "s",
			(unsigned long long)lv->reloads,
			lv->reloads == 1 ? "" : "s",
			(unsigned long long)lv->reload_failures);
	else
		fprintf(out, "filter                off (no rules file: "
			     "everything is captured)\n");
	fprintf(out, "accepted              %llu\n",
		(unsigned long long)st.accepted);
	fprintf(out, "rejected              %llu\n",
		(unsigned long long)st.rejected);
	fprintf(out, "unmatched             %llu (not captured)\n",
		(unsigned long long)st.unmatched);
	print_rule_hits(lv, out);
	fprintf(out, "written               %llu record%s\n",
		(unsigned long long)st.written, st.written == 1 ? "" : "s");
	fprintf(out, "dropped by writer     %llu",
		(unsigned long long)st.write_dropped);
	if (st.write_dropped)
		fprintf(out, " (stopped %llu, disk full %llu, I/O error %llu)",
			(unsigned long long)ws.dropped_stopped,
			(unsigned long long)ws.dropped_disk_full,
			(unsigned long long)ws.dropped_io_error);
	fputc('\n', out);
	fprintf(out, "writer queue waits    %llu\n",
		(unsigned long long)ws.queue_waits);
}

static bool is_segment_name(const char *name, const char *prefix)
{
	size_t pl = strlen(prefix), n = strlen(name);

	if (strncmp(name, prefix, pl) || name[pl] != '-')
		return false;
	return (n > 5 && !strcmp(name + n - 5, ".pcap")) ||
	       (n > 8 && !strcmp(name + n - 8, ".pcap.gz"));
}

/* Sealed segments in the directory: to report the ones this run made. */
static size_t count_segments(const struct mt_config *cfg)
{
	DIR *d = opendir(cfg->seg.dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		n += is_segment_name(e->d_name, cfg->seg.prefix);
	closedir(d);
	return n;
}

/* ---- start and stop ----------------------------------------------------- */

static enum mt_bind_mode bind_mode(const char *s)
{
	if (!strcmp(s, "zerocopy"))
		return MT_BIND_ZEROCOPY;
	if (!strcmp(s, "copy"))
		return MT_BIND_COPY;
	return MT_BIND_AUTO;
}

static int start_xdp(struct live *lv)
{
	const struct mt_config *cfg = lv->cfg;
	unsigned limit = single_buffer_mtu(cfg);
	struct mt_xdp_loader_opts o = {
		.ifname = cfg->interface,
		.ifindex = lv->ifindex,
		.vxlan_port = cfg->vxlan_port,
		.generic = !strcmp(cfg->xdp_mode, "generic"),
		.frags = lv->mtu > limit,
		.allow_sources = cfg->allow_sources,
		.nallow_sources = cfg->nallow_sources,
		.allow_vnis = cfg->allow_vnis,
		.nallow_vnis = cfg->nallow_vnis,
	};
	struct mt_err err;

	if (o.frags)
		mt_log(MT_LOG_INFO,
		       "%s: MTU %u is above %u, the largest single-buffer XDP "
		       "frame: using the multi-buffer program",
		       cfg->interface, lv->mtu, limit);
	if (!cfg->nallow_sources)
		mt_log(MT_LOG_WARN,
		       "no allow_sources: anyone who can reach UDP %u on %s "
		       "can inject packets into the captures; set "
		       "--allow-source CIDR (the mirror sources' subnets)",
		       cfg->vxlan_port, cfg->interface);
	lv->xdp = mt_xdp_loader__create(&o, &err);
	if (lv->xdp)
		return 0;
	mt_log(MT_LOG_ERROR, "%s", err.msg);
	if (o.frags)
		mt_log(MT_LOG_ERROR,
		       "%s: MTU %u needs XDP multi-buffer, which this "
		       "driver or kernel may lack; lower it (ip link set dev "
		       "%s mtu %u) and set the mirror sessions' packet length "
		       "to at most %u",
		       cfg->interface, lv->mtu, cfg->interface, limit,
		       limit - MT_MIRROR_OVERHEAD4);
	return -EINVAL;
}

/*
 * The workers take their memory at start (UMEM, write-behind), all of it
 * touched: refuse to start when the machine, or a memory cgroup the
 * daemon runs in (MemoryMax= of its unit, a container's limit), does not
 * have it, and say so when it is more than half of what is left, before
 * the OOM killer has its say.
 */
static int check_memory(const struct live *lv)
{
	const struct mt_config *cfg = lv->cfg;
	uint64_t umem =
		(uint64_t)mt_xsk_nframes(cfg->ring_size) * cfg->frame_size;
	uint64_t per = umem + cfg->write_queue, need = per * lv->nqueues;
	struct mt_memroom room;
	char u[32], wq[32], where[400] = "";
	bool over;

	mt_memroom_read("", &room);
	if (room.bytes == UINT64_MAX || need <= room.bytes / 2)
		return 0;
	over = need > room.bytes;
	mt_format_size(umem, u, sizeof(u));
	mt_format_size(cfg->write_queue, wq, sizeof(wq));
	if (room.cg_path[0])
		snprintf(where, sizeof(where),
			 " to memory cgroup %s (limit %" PRIu64 " MiB, %" PRIu64
			 " MiB in use)",
			 room.cg_path, room.cg_limit >> 20,
			 room.cg_usage >> 20);
	mt_log(over ? MT_LOG_ERROR : MT_LOG_WARN,
	       "%u queue%s take %" PRIu64 " MiB at start (per queue: UMEM "
	       "%s, write-behind %s), %s the %" PRIu64 " MiB available%s; "
	       "lower output.write_queue or capture.ring_size, %scapture "
	       "fewer queues (capture.queues)%s",
	       lv->nqueues, lv->nqueues == 1 ? " would" : "s would", need >> 20,
	       u, wq, over ? "more than" : "more than half of",
	       room.bytes >> 20, where, room.cg_path[0] ? "" : "or ",
	       room.cg_path[0] ? ", or raise the cgroup's memory limit (the "
				 "unit's MemoryMax=, the container's limit)" :
				 "");
	return over ? -ENOMEM : 0;
}

static int start_workers(struct live *lv)
{
	const struct mt_config *cfg = lv->cfg;
	int map_fd = mt_xdp_loader_xsks_map_fd(lv->xdp);
	bool frags = mt_xdp_loader_frags(lv->xdp);
	struct mt_err err;

	for (unsigned i = 0; i < lv->nqueues; i++) {
		struct mt_xsk_opts xo = {
			.ifname = cfg->interface,
			.queue = lv->queues[i],
			.frame_size = cfg->frame_size,
			.ring_size = cfg->ring_size,
			.bind_mode = bind_mode(cfg->bind_mode),
			.want_sg = frags,
			.busy_poll = cfg->busy_poll,
			.batch_size = cfg->batch_size,
			.xsks_map_fd = map_fd,
		};
		struct mt_worker_opts wo = {
			.batch_size = cfg->batch_size < cfg->ring_size ?
					      cfg->batch_size :
					      cfg->ring_size,
			/* Jumbo frames (9001) and some room. */
			.bounce_size = 16384 > lv->mtu + 64 ? 16384 :
							      lv->mtu + 64,
			.sessions = &cfg->sessions,
			.rules = &lv->ref,
			.sg = lv->sg,
			.writer_bufsize = mt_config_writer_bufsize(cfg),
			.writer_queue = cfg->write_queue,
			.vxlan_port = cfg->vxlan_port,
			.stop = &lv->stop,
			.tai_offset_ns = &lv->tai_offset_ns,
		};
		struct mt_worker *wk;
		char umem[32], wq[32];
		int ret;

		wo.xsk = mt_xsk__create(&xo, &err);
		if (!wo.xsk) {
			mt_log(MT_LOG_ERROR, "%s", err.msg);
			return -EINVAL;
		}
		if (frags && !wo.xsk->sg)
			mt_log(MT_LOG_WARN,
			       "%s queue %u: the kernel has no AF_XDP "
			       "multi-buffer (XDP_USE_SG, Linux 6.6+): frames "
			       "above %u bytes are lost; set the mirror "
			       "sessions' packet length to at most %u",
			       cfg->interface, xo.queue,
			       single_buffer_mtu(cfg) + MT_L2_OVERHEAD,
			       single_buffer_mtu(cfg) - MT_MIRROR_OVERHEAD4);
		wo.cpu = queue_irq_cpu(cfg->interface, xo.queue);
		if (wo.cpu < 0)
			wo.cpu = nth_allowed_cpu(i);
		wk = mt_worker__create(&wo);
		if (!wk) {
			ret = -errno;
			mt_log(MT_LOG_ERROR,
			       "queue %u: cannot create a worker: %s", xo.queue,
			       strerror(-ret));
			mt_xsk__destroy(wo.xsk, map_fd);
			return ret;
		}
		lv->workers[lv->nworkers++] = wk;
		ret = mt_worker__start(wk);
		if (ret) {
			mt_log(MT_LOG_ERROR,
			       "queue %u: cannot start a worker thread: %s",
			       xo.queue, strerror(-ret));
			return ret;
		}
		mt_format_size((uint64_t)wk->xsk->nframes * cfg->frame_size,
			       umem, sizeof(umem));
		mt_format_size(cfg->write_queue, wq, sizeof(wq));
		mt_log(MT_LOG_INFO,
		       "%s queue %u: AF_XDP %s%s, worker on cpu %d, UMEM %s, "
		       "%s%s",
		       cfg->interface, xo.queue,
		       wk->xsk->zerocopy ? "zero-copy" : "copy",
		       wk->xsk->sg ? " multi-buffer" : "", wo.cpu, umem,
		       cfg->write_queue ? "write-behind " : "no write-behind",
		       cfg->write_queue ? wq : "");
	}
	return 0;
}

static void stop_workers(struct live *lv)
{
	atomic_store(&lv->stop, true);
	for (unsigned i = 0; i < lv->nworkers; i++)
		mt_worker__join(lv->workers[i]);
}

static void destroy_workers(struct live *lv)
{
	int map_fd = lv->xdp ? mt_xdp_loader_xsks_map_fd(lv->xdp) : -1;

	for (unsigned i = 0; i < lv->nworkers; i++)
		mt_worker__destroy(lv->workers[i], map_fd);
	lv->nworkers = 0;
}

static int open_fds(struct live *lv, const sigset_t *mask)
{
	struct itimerspec its = {
		.it_interval = { 0, TICK_NS },
		.it_value = { 0, TICK_NS },
	};

	lv->sfd = signalfd(-1, mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (lv->sfd < 0)
		return -errno;
	lv->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (lv->tfd < 0 || timerfd_settime(lv->tfd, 0, &its, NULL))
		return -errno;
	return 0;
}

static int control_loop(struct live *lv)
{
	struct pollfd pfd[4] = {
		{ .fd = lv->sfd, .events = POLLIN },
		{ .fd = lv->tfd, .events = POLLIN },
		/* poll() skips a negative fd: no control socket */
		{ .fd = lv->ctl ? mt_control_fd(lv->ctl) : -1,
		  .events = POLLIN },
		/* libmicrohttpd's epoll fd; -1 without metrics_listen */
		{ .fd = mt_metrics_fd(lv->metrics), .events = POLLIN },
	};
	int ret = 0;

	for (;;) {
		struct signalfd_siginfo si;
		struct mt_err err;
		uint64_t ticks;

		if (poll(pfd, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents &&
		    read(lv->tfd, &ticks, sizeof(ticks)) == sizeof(ticks)) {
			update_tai_offset(lv);
			if (mt_segmenter_tick(lv->sg, clock_ns(CLOCK_REALTIME)))
				ret = 1;
			free_seen_rules(lv, false);
			mt_notify_watchdog();
		}
		if (pfd[2].revents)
			mt_control_serve(lv->ctl);
		/* The tick too: connection timeouts, error sampling. */
		if (pfd[3].revents || pfd[1].revents)
			mt_metrics_run(lv->metrics);
		while (read(lv->sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				reload_notified(lv, &err);
				continue;
			}
			mt_log(MT_LOG_INFO, "%s: stopping",
			       strsignal((int)si.ssi_signo));
			return ret;
		}
	}
}

int mt_live_run(const struct mt_config *cfg)
{
	struct live *lv;
	sigset_t mask, old;
	struct mt_segmenter_stats ss;
	struct mt_err err;
	char *sum_buf = NULL;
	size_t sum_len = 0, nseg_before = 0;
	FILE *summary;
	int ret = 1, rc;

	lv = calloc(1, sizeof(*lv));
	if (!lv) {
		mt_log(MT_LOG_ERROR, "out of memory");
		return 1;
	}
	lv->cfg = cfg;
	lv->sfd = lv->tfd = -1;
	atomic_init(&lv->stop, false);
	atomic_init(&lv->tai_offset_ns, 0);
	lv->started_ns = clock_ns(CLOCK_REALTIME);
	lv->started_mono_ns = clock_ns(CLOCK_MONOTONIC);

	/* Before any thread (segmenter, workers): they inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &old);
	signal(SIGPIPE, SIG_IGN);

	if (!cfg->interface[0]) {
		mt_log(MT_LOG_ERROR, "no interface: give -i IFACE or set "
				     "interface in [capture]");
		goto out_free;
	}
	if (check_privileges() || check_interface(lv) ||
	    check_ena_queues(cfg->interface) || check_bpffs() ||
	    select_queues(lv) || check_memory(lv))
		goto out_free;
	rc = open_fds(lv, &mask);
	if (rc) {
		mt_log(MT_LOG_ERROR, "signalfd/timerfd: %s", strerror(-rc));
		goto out_fds;
	}
	if (load_rules(cfg, &lv->rs, &err))
		goto out_fds;
	mt_rules_ref_init(&lv->ref, lv->rs);
	update_tai_offset(lv);

	lv->sg = mt_segmenter__create(&cfg->seg, &err);
	if (!lv->sg) {
		mt_log(MT_LOG_ERROR, "%s", err.msg);
		goto out_rules;
	}
	nseg_before = count_segments(cfg);
	if (start_xdp(lv))
		goto out_segmenter;
	if (start_workers(lv))
		goto out_workers;
	if (mt_xdp_loader_arm(lv->xdp, &err)) {
		mt_log(MT_LOG_ERROR, "%s", err.msg);
		goto out_workers;
	}
	/*
	 * Not fatal: capture matters more than mirrorctl.  Created once the
	 * workers run, so that status never shows a half-started daemon.
	 */
	if (cfg->control_socket[0]) {
		lv->ctl = mt_control__create(cfg->control_socket,
					     control_handle, lv, &err);
		if (!lv->ctl)
			mt_log(MT_LOG_WARN, "%s; running without it", err.msg);
	}
	if (cfg->metrics_listen[0]) {
		lv->metrics = mt_metrics__create(cfg->metrics_listen,
						 metrics_src, lv, &err);
		if (!lv->metrics)
			mt_log(MT_LOG_WARN, "%s; running without it", err.msg);
	}
	drop_capabilities();
	mt_log(MT_LOG_INFO,
	       "capturing VXLAN (UDP %u) on %s with %u worker%s; segments "
	       "in %s; filter %s",
	       cfg->vxlan_port, cfg->interface, lv->nworkers,
	       lv->nworkers == 1 ? "" : "s", cfg->seg.dir,
	       lv->rs ? cfg->rules : "off");

	mt_notify_ready("capturing on %s with %u worker%s", cfg->interface,
			lv->nworkers, lv->nworkers == 1 ? "" : "s");
	ret = control_loop(lv) ? 1 : 0;
	mt_notify_stopping();

out_workers:
	mt_metrics__destroy(lv->metrics);
	lv->metrics = NULL;
	mt_control__destroy(lv->ctl);
	lv->ctl = NULL;
	stop_workers(lv);
	/*
	 * Socket and XDP counters exist only until teardown, sealing happens
	 * at its end: the summary is made now and printed after it.
	 */
	summary = open_memstream(&sum_buf, &sum_len);
	if (summary) {
		print_summary(lv, summary);
		fclose(summary);
	}
	mt_segmenter_stats(lv->sg, &ss);
	destroy_workers(lv);
	mt_xdp_loader__destroy(lv->xdp);
	lv->xdp = NULL;
	mt_segmenter__destroy(lv->sg);
	lv->sg = NULL;
	if (sum_buf)
		fputs(sum_buf, stdout);
	free(sum_buf);
	printf("segments sealed       %zu in %s (%llu .part file%s "
	       "recovered at start)\n",
	       count_segments(cfg) - nseg_before, cfg->seg.dir,
	       (unsigned long long)ss.segments_recovered,
	       ss.segments_recovered == 1 ? "" : "s");
	fflush(stdout);
	goto out_rules;
out_segmenter:
	mt_segmenter__destroy(lv->sg);
	lv->sg = NULL;
out_rules:
	free_seen_rules(lv, true);
	if (lv->rs)
		mt_ruleset__destroy(lv->rs);
	{
		/* A reloaded session table still in force (workers are gone). */
		struct mt_sessions *ses =
			(struct mt_sessions *)atomic_load(&lv->ref.sessions);

		if (ses) {
			mt_sessions_free(ses);
			free(ses);
		}
	}
out_fds:
	if (lv->sfd >= 0)
		close(lv->sfd);
	if (lv->tfd >= 0)
		close(lv->tfd);
out_free:
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(lv->reloaded_cfg);
	free(lv);
	return ret;
}
