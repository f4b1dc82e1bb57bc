// SPDX-License-Identifier: GPL-2.0-only
/*
 * The configuration file.
 *
 * Every setting is one row of settings[] below: section, key, type, where it
 * lives in struct mt_config, its default, whether SIGHUP reloads it, and its
 * help text.  Parsing, the defaults, command-line overrides and the dump
 * (the example config, `mirrorctl check-config --dump`) all walk that table,
 * so a setting cannot exist in one of them and be missing from another.
 *
 * Values are applied atomically: a bad value leaves the field unchanged, so
 * an override that fails validation never half-applies a list.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#include "mirror-target/config.h"
#include "mirror-target/file.h"
#include "mirror-target/pcap.h"

#define VNI_MAX 16777215u
#define MSG_MAX 400

enum setting_type {
	T_STRING,
	T_BOOL,
	T_UINT,
	T_SIZE,
	T_DURATION,
	T_ENUM,
	T_CIDR_LIST,
	T_VNI_LIST,
	T_VNI,
	T_IP_LIST,
};

#define F_RELOAD (1u << 0) /* SIGHUP applies it */
#define F_ENUM_STR (1u << 1) /* enum stored as its name in a char[] */
#define F_REQUIRED (1u << 2) /* no default: the section must set it */

struct choice {
	const char *name;
	int value;
};

/*
 * Returns 0 when the (syntactically typed) string value is acceptable,
 * otherwise writes the reason after "KEY \"VALUE\" " into why.
 */
typedef int (*check_fn)(const char *value, char *why, size_t size);

struct setting {
	const char *section; /* "capture", ..., "session" */
	const char *key;
	enum setting_type type;
	size_t off, size; /* in struct mt_config, or struct mt_session */
	size_t count_off; /* lists: the element count */
	const char *def; /* NULL: mt_segment_config_default()'s value */
	unsigned flags;
	uint64_t min, max;
	const struct choice *choices;
	check_fn check;
	const char *help;
};

#define CFG(f) offsetof(struct mt_config, f), sizeof(((struct mt_config *)0)->f)
#define SES(f) \
	offsetof(struct mt_session, f), sizeof(((struct mt_session *)0)->f)

static const struct choice bind_modes[] = { { "auto", 0 },
					    { "zerocopy", 1 },
					    { "copy", 2 },
					    { NULL, 0 } };
static const struct choice xdp_modes[] = { { "native", 0 },
					   { "generic", 1 },
					   { NULL, 0 } };
static const struct choice formats[] = { { "pcap-ns", 1 },
					 { "pcap-us", 0 },
					 { NULL, 0 } };
static const struct choice on_full_modes[] = { { "overwrite", 0 },
					       { "stop", 1 },
					       { NULL, 0 } };

static int check_interface(const char *v, char *why, size_t size);
static int check_queues(const char *v, char *why, size_t size);
static int check_directory(const char *v, char *why, size_t size);
static int check_prefix(const char *v, char *why, size_t size);
static int check_socket(const char *v, char *why, size_t size);
static int check_listen(const char *v, char *why, size_t size);

#define KIB 1024ull
#define MIB (1024ull * KIB)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)
#define DAY 86400u

static const struct setting settings[] = {
	/* [capture] */
	{ "capture", "interface", T_STRING, CFG(interface), 0, "", 0, 0, 0,
	  NULL, check_interface,
	  "Network interface that receives the mirrored VXLAN traffic (the "
	  "traffic-mirror target's ENI), e.g. eth1. Empty: it must be given "
	  "with -i on the command line." },
	{ "capture", "vxlan_port", T_UINT, CFG(vxlan_port), 0, "4789", 0, 1,
	  65535, NULL, NULL,
	  "UDP destination port of the mirrored traffic. AWS always sends to "
	  "4789; other UDP traffic is left to the kernel." },
	{ "capture", "queues", T_STRING, CFG(queues), 0, "all", 0, 0, 0, NULL,
	  check_queues,
	  "Receive queues to capture from: \"all\" or a list such as 0,2-3. "
	  "One AF_XDP socket and one worker thread per queue." },
	{ "capture", "bind_mode", T_ENUM, CFG(bind_mode), 0, "auto", F_ENUM_STR,
	  0, 0, bind_modes, NULL,
	  "AF_XDP bind mode: auto (zero-copy where the driver has it, copy "
	  "otherwise), zerocopy or copy. AWS ENA supports copy mode only." },
	{ "capture", "xdp_mode", T_ENUM, CFG(xdp_mode), 0, "native", F_ENUM_STR,
	  0, 0, xdp_modes, NULL,
	  "How the XDP program is attached: native (in the driver; ENA has "
	  "it) or generic (slower; for drivers without XDP, and veth tests)." },
	{ "capture", "busy_poll", T_BOOL, CFG(busy_poll), 0, "no", 0, 0, 0,
	  NULL, NULL,
	  "Busy-poll the AF_XDP sockets: lower latency, more CPU." },
	{ "capture", "batch_size", T_UINT, CFG(batch_size), 0, "64", 0, 1, 4096,
	  NULL, NULL,
	  "Receive descriptors a worker takes per batch; at most ring_size." },
	{ "capture", "frame_size", T_SIZE, CFG(frame_size), 0, "4K", 0, 2 * KIB,
	  64 * KIB, NULL, NULL,
	  "Size of one UMEM frame, a power of two: the largest mirrored frame "
	  "that fits one buffer. Larger frames need XDP multi-buffer." },
	{ "capture", "ring_size", T_UINT, CFG(ring_size), 0, "8192", 0, 64,
	  65536, NULL, NULL,
	  "Sets each queue's AF_XDP rings, a power of two: twice as many UMEM "
	  "frames (at 8192 and 4K frames: 16384, 64 MiB per queue), all in "
	  "the fill ring, and an rx ring as large, so a stalled worker loses "
	  "nothing until the kernel has filled every frame (an rx ring of "
	  "half that lost 0.1 % of 64-byte frames at 1.3 million a second in "
	  "3 of 7 runs, the full one in 1). Fewer lose frames when a worker "
	  "stalls for a moment at full rate, but the kernel fills the frames "
	  "in turn, so fewer also keep its copies in less memory (2048 took "
	  "7-15 % more 64-byte frames per second in the live benchmark). "
	  "4K frames take single-buffer XDP up to MTU 3498, ENA's limit; "
	  "frame_size = 2K with twice the ring_size keeps the UMEM and needs "
	  "the multi-buffer XDP program above MTU 1450." },
	{ "capture", "allow_sources", T_CIDR_LIST, CFG(allow_sources),
	  offsetof(struct mt_config, nallow_sources), "", F_RELOAD, 0, 0, NULL,
	  NULL,
	  "Outer source addresses allowed to send mirrored traffic: CIDRs "
	  "separated by commas, e.g. 198.18.0.0/15. Empty: any source. Set "
	  "it: otherwise anyone who can reach UDP 4789 can inject packets "
	  "into the captures. Enforced in XDP." },
	{ "capture", "allow_vnis", T_VNI_LIST, CFG(allow_vnis),
	  offsetof(struct mt_config, nallow_vnis), "", F_RELOAD, 0, 0, NULL,
	  NULL,
	  "VNIs (mirror sessions) accepted, separated by commas. Empty: any. "
	  "Enforced in XDP." },

	/* [output] */
	{ "output", "directory", T_STRING, CFG(seg.dir), 0, NULL, 0, 0, 0, NULL,
	  check_directory,
	  "Directory of the pcap segments; created if missing. Open segments "
	  "are hidden .NAME.part files, sealed ones PREFIX-TIME-SEQ.pcap." },
	{ "output", "prefix", T_STRING, CFG(seg.prefix), 0, NULL, 0, 0, 0, NULL,
	  check_prefix, "First part of every segment's file name." },
	{ "output", "snaplen", T_UINT, CFG(seg.snaplen), 0, NULL, F_RELOAD, 64,
	  MT_SNAPLEN_MAX, NULL, NULL,
	  "Bytes of each mirrored packet kept in the pcap records." },
	{ "output", "format", T_ENUM, CFG(seg.nanosecond), 0, NULL, F_RELOAD, 0,
	  0, formats, NULL,
	  "Timestamp resolution of the pcap files: pcap-ns (nanoseconds) or "
	  "pcap-us (microseconds, for old tools)." },
	{ "output", "rotate_size", T_SIZE, CFG(seg.rotate_bytes), 0, NULL,
	  F_RELOAD, 0, 64 * TIB, NULL, NULL,
	  "Start a new segment when the open one reaches this size. 0: no "
	  "size limit." },
	{ "output", "rotate_interval", T_DURATION, CFG(seg.rotate_interval), 0,
	  NULL, F_RELOAD, 0, 7 * DAY, NULL, NULL,
	  "Start a new segment every interval, aligned to the clock (1h "
	  "rotates on the hour, UTC). 0: off." },
	{ "output", "rotate_idle", T_DURATION, CFG(seg.rotate_idle), 0, NULL,
	  F_RELOAD, 0, DAY, NULL, NULL,
	  "Seal the open segment after this long without packets, so the last "
	  "packets become fetchable. 0: off." },
	{ "output", "keep_segments", T_UINT, CFG(seg.keep_segments), 0, NULL,
	  F_RELOAD, 0, UINT32_MAX, NULL, NULL,
	  "Keep at most this many sealed segments; 0: no limit." },
	{ "output", "keep_bytes", T_SIZE, CFG(seg.keep_bytes), 0, NULL,
	  F_RELOAD, 0, 1024 * TIB, NULL, NULL,
	  "Keep at most this many bytes of sealed segments; 0: no limit." },
	{ "output", "min_free", T_SIZE, CFG(seg.min_free_bytes), 0, NULL,
	  F_RELOAD, 0, 1024 * TIB, NULL, NULL,
	  "Keep at least this much space free on the segments' filesystem." },
	{ "output", "on_full", T_ENUM, CFG(seg.stop_when_full), 0, NULL,
	  F_RELOAD, 0, 0, on_full_modes, NULL,
	  "When a retention limit is reached: overwrite (delete the oldest "
	  "sealed segments) or stop (keep them; drop and count new packets)." },
	{ "output", "compress", T_BOOL, CFG(seg.compress), 0, NULL, F_RELOAD, 0,
	  0, NULL, NULL,
	  "Gzip sealed segments in a low-priority background thread." },
	{ "output", "compress_level", T_UINT, CFG(seg.compress_level), 0, NULL,
	  F_RELOAD, 1, 9, NULL, NULL, "Gzip level, 1 (fast) to 9 (small)." },
	{ "output", "hook", T_STRING, CFG(seg.hook), 0, NULL, F_RELOAD, 0, 0,
	  NULL, NULL,
	  "Command run for every sealed (and compressed) segment, as "
	  "/bin/sh -c HOOK hook PATH, e.g. an upload to S3: "
	  "aws s3 cp \"$1\" s3://bucket/. Empty: none." },
	{ "output", "hook_parallel", T_UINT, CFG(seg.hook_parallel), 0, NULL,
	  F_RELOAD, 1, 64, NULL, NULL, "Hooks allowed to run at once." },
	{ "output", "hook_queue", T_UINT, CFG(seg.hook_queue), 0, NULL,
	  F_RELOAD, 1, 65536, NULL, NULL,
	  "Sealed segments that may wait for a hook; beyond that the hook is "
	  "skipped and counted." },
	{ "output", "hook_timeout", T_DURATION, CFG(seg.hook_timeout), 0, NULL,
	  F_RELOAD, 0, DAY, NULL, NULL,
	  "Kill a hook that runs longer than this. 0: never." },
	{ "output", "writer_buffer", T_SIZE, CFG(writer_buffer), 0, "1M", 0,
	  4 * KIB, GIB, NULL, NULL,
	  "Private buffer of each worker; a full buffer goes to the segment "
	  "in one write. At least snaplen + 16." },
	{ "output", "write_queue", T_SIZE, CFG(write_queue), 0, "128M", 0, 0,
	  16 * GIB, NULL, NULL,
	  "Write-behind memory of each worker: full writer buffers wait here "
	  "for a thread of the worker's that writes them, so a write that "
	  "blocks (a throttled or slow disk, tmpfs allocating pages) stalls "
	  "that thread, not the socket's draining. At 1500-byte packets 128M "
	  "is about 0.2 s at 400,000 packets per second (tcpdump -B 262144 "
	  "holds 0.4 s). Allocated and touched at start, by the daemon and "
	  "by the kernel (at least two writer buffers): under a hypervisor "
	  "that shadows page tables a buffer's first use is slow otherwise, "
	  "and a deeper queue then lost more frames than a shallow one. The "
	  "daemon refuses to start when its queues take more than the "
	  "memory available (or left under its memory cgroup's limit), and "
	  "warns above half. 0: the worker writes itself, from its UMEM for "
	  "packets of 256 bytes and more (one copy fewer, but a blocked "
	  "write stops the worker)." },

	/* [filter] */
	{ "filter", "rules", T_STRING, CFG(rules), 0, "", F_RELOAD, 0, 0, NULL,
	  NULL,
	  "Traffic-mirror filter rules: a native rules file, or the JSON "
	  "output of aws ec2 describe-traffic-mirror-filters when the name "
	  "ends in .json. Empty: the filter is off and everything is "
	  "captured." },
	{ "filter", "filter_id", T_STRING, CFG(filter_id), 0, "", F_RELOAD, 0,
	  0, NULL, NULL,
	  "With a JSON file holding several filters: the TrafficMirrorFilterId "
	  "to use." },

	/* [control] */
	{ "control", "control_socket", T_STRING, CFG(control_socket), 0,
	  "/run/mirror-target/control.sock", 0, 0, 0, NULL, check_socket,
	  "Unix socket mirrorctl talks to. Empty: none." },
	{ "control", "metrics_listen", T_STRING, CFG(metrics_listen), 0, "", 0,
	  0, 0, NULL, check_listen,
	  "HOST:PORT of the HTTP /metrics (Prometheus) and /healthz endpoint, "
	  "e.g. 0.0.0.0:9464; /healthz is the probe for a Network Load "
	  "Balancer. Empty: off." },

	/* [session NAME] */
	{ "session", "vni", T_VNI, SES(vni), 0, NULL, F_REQUIRED | F_RELOAD, 0,
	  VNI_MAX, NULL, NULL,
	  "VNI of the mirror session (aws ec2 describe-traffic-mirror-sessions "
	  "shows it as VirtualNetworkId)." },
	{ "session", "addresses", T_IP_LIST, SES(addrs),
	  offsetof(struct mt_session, naddrs), "", F_RELOAD, 0, 0, NULL, NULL,
	  "More addresses of the source ENI (secondary IPv4, IPv6), separated "
	  "by commas. Packets from them count as egress, to them as ingress; "
	  "the outer source address always does." },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const char *const sections[] = { "capture", "output", "filter",
					"control", "session" };
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

/* ------------------------------------------------------------------ */
/* Value parsers                                                       */

static int parse_u64(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = *p - '0';

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	*end = p;
	return 0;
}

int mt_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mult = 1;
	const char *p;
	int err;

	err = parse_u64(s, &v, &p);
	if (err)
		return err;
	switch (toupper((unsigned char)*p)) {
	case 'K':
		mult = KIB;
		break;
	case 'M':
		mult = MIB;
		break;
	case 'G':
		mult = GIB;
		break;
	case 'T':
		mult = TIB;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (mult > 1) {
		p++;
		/* "1M", "1MB" and "1MiB" all mean 1048576 bytes. */
		if (*p == 'i')
			p++;
		if (*p == 'B' || *p == 'b')
			p++;
	}
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

int mt_parse_duration(const char *s, uint32_t *out)
{
	uint64_t total = 0, v;
	const char *p = s;
	int err;

	/* A bare number is seconds; otherwise NUMBER UNIT, repeated: 1h30m. */
	err = parse_u64(p, &v, &p);
	if (err)
		return err;
	if (!*p) {
		if (v > UINT32_MAX)
			return -ERANGE;
		*out = v;
		return 0;
	}
	for (;;) {
		uint64_t unit;

		switch (*p) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = DAY;
			break;
		default:
			return -EINVAL;
		}
		if (v > UINT32_MAX / unit || total + v * unit > UINT32_MAX)
			return -ERANGE;
		total += v * unit;
		if (!*++p)
			break;
		err = parse_u64(p, &v, &p);
		if (err)
			return err;
	}
	*out = total;
	return 0;
}

static const char *const bool_true[] = { "yes", "true", "on", "1" };
static const char *const bool_false[] = { "no", "false", "off", "0" };

static int parse_bool(const char *s, bool *out)
{
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, bool_true[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, bool_false[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

void mt_format_size(uint64_t v, char *buf, size_t size)
{
	static const char suffix[] = "KMGT";
	int i = -1;

	while (v && v % 1024 == 0 && i < 3) {
		v /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, size, "%llu", (unsigned long long)v);
	else
		snprintf(buf, size, "%llu%c", (unsigned long long)v, suffix[i]);
}

void mt_format_duration(uint64_t v, char *buf, size_t size)
{
	if (v && v % DAY == 0)
		snprintf(buf, size, "%llud", (unsigned long long)(v / DAY));
	else if (v && v % 3600 == 0)
		snprintf(buf, size, "%lluh", (unsigned long long)(v / 3600));
	else if (v && v % 60 == 0)
		snprintf(buf, size, "%llum", (unsigned long long)(v / 60));
	else
		snprintf(buf, size, "%llus", (unsigned long long)v);
}

/* ------------------------------------------------------------------ */
/* String checks                                                       */

static int check_interface(const char *v, char *why, size_t size)
{
	if (strlen(v) >= MT_IFNAME_MAX) {
		snprintf(why, size,
			 "is too long; interface names have at most "
			 "%d characters",
			 MT_IFNAME_MAX - 1);
		return -EINVAL;
	}
	for (const char *p = v; *p; p++) {
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p)) {
			snprintf(why, size,
				 "is not an interface name; use a "
				 "name such as eth1 (see ip link)");
			return -EINVAL;
		}
	}
	return 0;
}

/* "all" or "N", "N-M" separated by commas. */
static int check_queues(const char *v, char *why, size_t size)
{
	const char *p = v;

	if (!strcmp(v, "all"))
		return 0;
	for (;;) {
		uint64_t lo, hi;

		if (parse_u64(p, &lo, &p) || lo > 4095)
			goto bad;
		hi = lo;
		if (*p == '-' && (parse_u64(p + 1, &hi, &p) || hi > 4095))
			goto bad;
		if (hi < lo) {
			snprintf(why, size,
				 "has a reversed range %llu-%llu; "
				 "write %llu-%llu",
				 (unsigned long long)lo, (unsigned long long)hi,
				 (unsigned long long)hi,
				 (unsigned long long)lo);
			return -EINVAL;
		}
		if (!*p)
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	snprintf(why, size,
		 "is not a queue list; use all, or queue numbers "
		 "and ranges such as 0,2-3");
	return -EINVAL;
}

static int check_directory(const char *v, char *why, size_t size)
{
	if (!*v) {
		snprintf(why, size,
			 "is empty; name the directory for the "
			 "segments, e.g. /var/lib/mirror-target/segments");
		return -EINVAL;
	}
	return 0;
}

static int check_prefix(const char *v, char *why, size_t size)
{
	if (!*v || *v == '.') {
		snprintf(why, size,
			 "must not be empty or start with '.' (hidden "
			 "files are open segments); use e.g. mirror");
		return -EINVAL;
	}
	for (const char *p = v; *p; p++) {
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' &&
		    *p != '.') {
			snprintf(why, size,
				 "has a '%c'; use letters, digits, "
				 "'-', '_' and '.'",
				 *p);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_socket(const char *v, char *why, size_t size)
{
	if (strlen(v) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(why, size,
			 "is too long for a unix socket path (at "
			 "most %zu bytes)",
			 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -EINVAL;
	}
	return 0;
}

/* "", or HOST:PORT with HOST empty, an IPv4 address, [IPv6] or a name. */
static int check_listen(const char *v, char *why, size_t size)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;
	const char *end;

	if (!*v)
		return 0;
	if (!colon || parse_u64(colon + 1, &port, &end) || *end || !port ||
	    port > 65535)
		goto bad;
	if (v[0] == '[' ? colon[-1] != ']' : memchr(v, ':', colon - v) != NULL)
		goto bad;
	return 0;
bad:
	snprintf(why, size,
		 "is not HOST:PORT; use e.g. 127.0.0.1:9464, "
		 "[::1]:9464 or :9464 (every address)");
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* Applying a value                                                    */

static void store_uint(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case 1:
		*(uint8_t *)field = v;
		break;
	case 2:
		*(uint16_t *)field = v;
		break;
	case 4:
		*(uint32_t *)field = v;
		break;
	default:
		*(uint64_t *)field = v;
		break;
	}
}

static uint64_t load_uint(const void *field, size_t size)
{
	switch (size) {
	case 1:
		return *(const uint8_t *)field;
	case 2:
		return *(const uint16_t *)field;
	case 4:
		return *(const uint32_t *)field;
	default:
		return *(const uint64_t *)field;
	}
}

static void format_range(const struct setting *s, char *buf, size_t size)
{
	char lo[32], hi[32];

	if (s->type == T_SIZE) {
		mt_format_size(s->min, lo, sizeof(lo));
		mt_format_size(s->max, hi, sizeof(hi));
	} else if (s->type == T_DURATION) {
		mt_format_duration(s->min, lo, sizeof(lo));
		mt_format_duration(s->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%llu", (unsigned long long)s->min);
		snprintf(hi, sizeof(hi), "%llu", (unsigned long long)s->max);
	}
	snprintf(buf, size, "%s to %s", lo, hi);
}

/*
 * A comma-separated list: calls item() for each element with its offset in
 * the value, so list errors can point at the element.
 */
struct list_state {
	const struct setting *s;
	char *msg;
	size_t msize;
	size_t *bad_off;
	void *items; /* temporary array */
	size_t n, cap, elem;
};

static int list_push(struct list_state *ls, const void *item)
{
	if (ls->n == ls->cap) {
		size_t cap = ls->cap ? ls->cap * 2 : 8;
		void *p = realloc(ls->items, cap * ls->elem);

		if (!p)
			return -ENOMEM;
		ls->items = p;
		ls->cap = cap;
	}
	memcpy((char *)ls->items + ls->n * ls->elem, item, ls->elem);
	ls->n++;
	return 0;
}

static int list_item(struct list_state *ls, const char *item, size_t off)
{
	const struct setting *s = ls->s;
	char buf[MT_IP_STRLEN];
	int err;

	*ls->bad_off = off;
	if (s->type == T_CIDR_LIST) {
		struct mt_cidr c;

		err = mt_cidr_parse(item, &c);
		if (err == -EADDRNOTAVAIL) {
			snprintf(ls->msg, ls->msize,
				 "%s \"%s\" has host bits "
				 "set; did you mean %s?",
				 s->key, item, mt_cidr_format(&c, buf));
			return -EINVAL;
		}
		if (err) {
			snprintf(ls->msg, ls->msize,
				 "%s \"%s\" is not a CIDR; "
				 "use ADDRESS/LENGTH, e.g. 198.18.0.0/15 or "
				 "2001:db8::/32",
				 s->key, item);
			return -EINVAL;
		}
		for (size_t i = 0; i < ls->n; i++) {
			const struct mt_cidr *o =
				(const struct mt_cidr *)ls->items + i;

			if (o->len == c.len && mt_ip_equal(&o->addr, &c.addr))
				return 0;
		}
		return list_push(ls, &c);
	}
	if (s->type == T_VNI_LIST) {
		uint64_t v;
		uint32_t vni;
		const char *end;

		err = parse_u64(item, &v, &end);
		if (err || *end) {
			snprintf(ls->msg, ls->msize,
				 "%s \"%s\" is not a VNI; "
				 "use numbers from 0 to %u separated by commas",
				 s->key, item, VNI_MAX);
			return -EINVAL;
		}
		if (v > VNI_MAX) {
			snprintf(ls->msg, ls->msize,
				 "%s %s is out of range; a "
				 "VNI has 24 bits (0 to %u)",
				 s->key, item, VNI_MAX);
			return -EINVAL;
		}
		vni = v;
		for (size_t i = 0; i < ls->n; i++)
			if (((uint32_t *)ls->items)[i] == vni)
				return 0;
		return list_push(ls, &vni);
	}
	/* T_IP_LIST */
	{
		struct mt_ip ip;

		if (mt_ip_parse(item, &ip)) {
			snprintf(ls->msg, ls->msize,
				 "%s \"%s\" is not an IP "
				 "address; use IPv4 or IPv6 addresses "
				 "separated by commas",
				 s->key, item);
			return -EINVAL;
		}
		for (size_t i = 0; i < ls->n; i++)
			if (mt_ip_equal((struct mt_ip *)ls->items + i, &ip))
				return 0;
		return list_push(ls, &ip);
	}
}

static int apply_list(const struct setting *s, void *base, const char *value,
		      size_t *bad_off, char *msg, size_t msize)
{
	struct list_state ls = {
		.s = s,
		.msg = msg,
		.msize = msize,
		.bad_off = bad_off,
	};
	char item[128];
	const char *p = value;
	int err = 0;

	ls.elem = s->type == T_CIDR_LIST ? sizeof(struct mt_cidr) :
		  s->type == T_VNI_LIST	 ? sizeof(uint32_t) :
					   sizeof(struct mt_ip);
	while (*p) {
		const char *start = p, *end = strchr(p, ',');
		size_t n;

		if (!end)
			end = p + strlen(p);
		while (start < end && isspace((unsigned char)*start))
			start++;
		n = end - start;
		while (n && isspace((unsigned char)start[n - 1]))
			n--;
		*bad_off = start - value;
		if (!n) {
			snprintf(msg, msize,
				 "%s has an empty item; separate "
				 "values with single commas",
				 s->key);
			err = -EINVAL;
			goto out;
		}
		if (n >= sizeof(item)) {
			snprintf(msg, msize,
				 "%s \"%.*s...\" is too long for "
				 "one item",
				 s->key, 20, start);
			err = -EINVAL;
			goto out;
		}
		memcpy(item, start, n);
		item[n] = '\0';
		err = list_item(&ls, item, start - value);
		if (err)
			goto out;
		p = *end ? end + 1 : end;
		if (*end && !*p) {
			*bad_off = p - value;
			snprintf(msg, msize,
				 "%s ends with a comma; remove it or "
				 "add a value",
				 s->key);
			err = -EINVAL;
			goto out;
		}
	}
	if (s->type == T_IP_LIST) {
		struct mt_ip **addrs = (struct mt_ip **)((char *)base + s->off);
		size_t *count = (size_t *)((char *)base + s->count_off);

		free(*addrs);
		*addrs = ls.items;
		*count = ls.n;
		ls.items = NULL;
	} else {
		if (ls.n > MT_ALLOW_MAX) {
			*bad_off = 0;
			snprintf(msg, msize,
				 "%s has %zu entries; at most %d are "
				 "supported",
				 s->key, ls.n, MT_ALLOW_MAX);
			err = -EINVAL;
			goto out;
		}
		if (ls.n)
			memcpy((char *)base + s->off, ls.items, ls.n * ls.elem);
		*(unsigned *)((char *)base + s->count_off) = ls.n;
	}
out:
	if (err == -ENOMEM)
		snprintf(msg, msize, "%s: out of memory", s->key);
	free(ls.items);
	return err;
}

/*
 * Parses value for setting s into base (a struct mt_config, or a struct
 * mt_session for "session" settings).  On error, msg says why (naming the
 * key, the value and what is accepted) and *bad_off is the offset in value
 * the message is about.
 */
static int apply(const struct setting *s, void *base, const char *value,
		 size_t *bad_off, char *msg, size_t msize)
{
	void *field = (char *)base + s->off;
	char range[80], why[200];
	const char *end, *hint;
	uint64_t v;
	int err;

	*bad_off = 0;
	/* A comment after the value is a common slip: say so. */
	hint = strstr(value, " #") || strstr(value, "\t#") ?
		       " (comments must be on their own line)" :
		       "";

	switch (s->type) {
	case T_STRING:
		if (strlen(value) >= s->size) {
			snprintf(msg, msize,
				 "%s \"%.40s%s\" is too long; use at "
				 "most %zu characters",
				 s->key, value, strlen(value) > 40 ? "..." : "",
				 s->size - 1);
			return -EINVAL;
		}
		if (s->check && s->check(value, why, sizeof(why))) {
			snprintf(msg, msize, "%s \"%s\" %s", s->key, value,
				 why);
			return -EINVAL;
		}
		memcpy(field, value, strlen(value) + 1);
		return 0;
	case T_BOOL: {
		bool b;

		if (parse_bool(value, &b)) {
			snprintf(msg, msize,
				 "%s \"%s\" is not a boolean; use "
				 "yes or no (or true/false, on/off, 1/0)%s",
				 s->key, value, hint);
			return -EINVAL;
		}
		*(bool *)field = b;
		return 0;
	}
	case T_UINT:
	case T_VNI:
		format_range(s, range, sizeof(range));
		err = parse_u64(value, &v, &end);
		if (err == -EINVAL || (!err && *end)) {
			snprintf(msg, msize,
				 "%s \"%s\" is not a number; use a "
				 "whole number from %s%s",
				 s->key, value, range, hint);
			return -EINVAL;
		}
		if (err || v < s->min || v > s->max) {
			if (s->type == T_VNI)
				snprintf(msg, msize,
					 "%s %s is out of range; a "
					 "VNI has 24 bits (0 to %u)",
					 s->key, value, VNI_MAX);
			else
				snprintf(msg, msize,
					 "%s %s is out of range; "
					 "use a number from %s",
					 s->key, value, range);
			return -EINVAL;
		}
		store_uint(field, s->size, v);
		return 0;
	case T_SIZE:
		format_range(s, range, sizeof(range));
		err = mt_parse_size(value, &v);
		if (err == -EINVAL) {
			snprintf(
				msg, msize,
				"%s \"%s\" is not a size; use a "
				"number with an optional K, M, G or T suffix%s",
				s->key, value, hint);
			return -EINVAL;
		}
		if (err || v < s->min || v > s->max) {
			snprintf(msg, msize,
				 "%s %s is out of range; use a size "
				 "from %s",
				 s->key, value, range);
			return -EINVAL;
		}
		store_uint(field, s->size, v);
		return 0;
	case T_DURATION: {
		uint32_t d;

		format_range(s, range, sizeof(range));
		err = mt_parse_duration(value, &d);
		if (err == -EINVAL) {
			snprintf(msg, msize,
				 "%s \"%s\" is not a duration; use a "
				 "number with an optional s, m, h or d suffix, "
				 "e.g. 30s, 5m, 1h%s",
				 s->key, value, hint);
			return -EINVAL;
		}
		if (err || d < s->min || d > s->max) {
			snprintf(msg, msize,
				 "%s %s is out of range; use a "
				 "duration from %s",
				 s->key, value, range);
			return -EINVAL;
		}
		store_uint(field, s->size, d);
		return 0;
	}
	case T_ENUM:
		for (const struct choice *c = s->choices; c->name; c++) {
			if (strcmp(c->name, value))
				continue;
			if (s->flags & F_ENUM_STR)
				snprintf(field, s->size, "%s", c->name);
			else
				store_uint(field, s->size, c->value);
			return 0;
		}
		{
			size_t n = 0;

			range[0] = '\0';
			for (const struct choice *c = s->choices; c->name;
			     c++) {
				n += snprintf(range + n, sizeof(range) - n,
					      "%s%s", n ? ", " : "", c->name);
				if (n >= sizeof(range))
					break;
			}
		}
		snprintf(msg, msize, "%s \"%s\" is not one of %s%s", s->key,
			 value, range, hint);
		return -EINVAL;
	case T_CIDR_LIST:
	case T_VNI_LIST:
	case T_IP_LIST:
		return apply_list(s, base, value, bad_off, msg, msize);
	}
	return -EINVAL;
}

/* The value of setting s as the config file would spell it. */
static void format_value(const struct setting *s, const void *base, FILE *out)
{
	const void *field = (const char *)base + s->off;
	char buf[64], ip[MT_IP_STRLEN];

	switch (s->type) {
	case T_STRING:
		fputs(field, out);
		break;
	case T_BOOL:
		fputs(*(const bool *)field ? "yes" : "no", out);
		break;
	case T_UINT:
	case T_VNI:
		fprintf(out, "%llu",
			(unsigned long long)load_uint(field, s->size));
		break;
	case T_SIZE:
		mt_format_size(load_uint(field, s->size), buf, sizeof(buf));
		fputs(buf, out);
		break;
	case T_DURATION:
		mt_format_duration(load_uint(field, s->size), buf, sizeof(buf));
		fputs(buf, out);
		break;
	case T_ENUM:
		if (s->flags & F_ENUM_STR) {
			fputs(field, out);
			break;
		}
		for (const struct choice *c = s->choices; c->name; c++) {
			if ((uint64_t)c->value == load_uint(field, s->size)) {
				fputs(c->name, out);
				break;
			}
		}
		break;
	case T_CIDR_LIST: {
		const struct mt_cidr *v = field;
		unsigned count =
			*(const unsigned *)((const char *)base + s->count_off);

		for (unsigned i = 0; i < count; i++)
			fprintf(out, "%s%s", i ? ", " : "",
				mt_cidr_format(&v[i], ip));
		break;
	}
	case T_VNI_LIST: {
		const uint32_t *v = field;
		unsigned count =
			*(const unsigned *)((const char *)base + s->count_off);

		for (unsigned i = 0; i < count; i++)
			fprintf(out, "%s%u", i ? ", " : "", v[i]);
		break;
	}
	case T_IP_LIST: {
		const struct mt_ip *v = *(struct mt_ip *const *)field;
		size_t count =
			*(const size_t *)((const char *)base + s->count_off);

		for (size_t i = 0; i < count; i++)
			fprintf(out, "%s%s", i ? ", " : "",
				mt_ip_format(&v[i], ip));
		break;
	}
	}
}

static const struct setting *find_setting(const char *section, const char *key)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, section) &&
		    !strcmp(settings[i].key, key))
			return &settings[i];
	return NULL;
}

/* Levenshtein distance, for "did you mean"; inputs are short keys. */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[64], la = strlen(a), lb = strlen(b);

	if (la >= 63 || lb >= 63)
		return 99;
	for (unsigned j = 0; j <= lb; j++)
		row[j] = j;
	for (unsigned i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = i;
		for (unsigned j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Explains an unknown key: misspelt, or in the wrong section. */
static void unknown_key(const char *section, const char *key, char *msg,
			size_t msize)
{
	const struct setting *best = NULL;
	unsigned best_d = 3;

	for (size_t i = 0; i < NSETTINGS; i++) {
		if (!strcmp(settings[i].key, key)) {
			snprintf(msg, msize,
				 "%s belongs in [%s%s], not in "
				 "[%s]",
				 key, settings[i].section,
				 strcmp(settings[i].section, "session") ?
					 "" :
					 " NAME",
				 section);
			return;
		}
	}
	for (size_t i = 0; i < NSETTINGS; i++) {
		unsigned d;

		if (strcmp(settings[i].section, section))
			continue;
		d = edit_distance(key, settings[i].key);
		if (d < best_d) {
			best_d = d;
			best = &settings[i];
		}
	}
	if (best)
		snprintf(msg, msize,
			 "unknown key \"%s\" in [%s]; did you mean "
			 "%s?",
			 key, section, best->key);
	else
		snprintf(msg, msize,
			 "unknown key \"%s\" in [%s] (mirror-targetd "
			 "--dump-config lists every setting)",
			 key, section);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

void mt_config_init(struct mt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	mt_segment_config_default(&cfg->seg);
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		char msg[MSG_MAX];
		size_t off;

		if (!s->def || !strcmp(s->section, "session"))
			continue;
		/* The table's defaults are valid by construction. */
		apply(s, cfg, s->def, &off, msg, sizeof(msg));
	}
}

void mt_config_free(struct mt_config *cfg)
{
	mt_sessions_free(&cfg->sessions);
}

int mt_config_set(struct mt_config *cfg, const char *section, const char *key,
		  const char *value, struct mt_err *err)
{
	const struct setting *s;
	char msg[MSG_MAX], *copy;
	size_t off, len;
	int ret;

	if (!strcmp(section, "session"))
		return mt_err_set(err, "session settings can only be given in "
				       "the config file, in [session NAME]");
	s = find_setting(section, key);
	if (!s) {
		bool known = false;

		for (size_t i = 0; i < NSECTIONS; i++)
			known |= !strcmp(sections[i], section);
		if (!known)
			return mt_err_set(err, "unknown section [%s]", section);
		unknown_key(section, key, msg, sizeof(msg));
		return mt_err_set(err, "%s", msg);
	}
	/* The same value the file would give: trimmed, and one line. */
	while (isspace((unsigned char)*value))
		value++;
	len = strlen(value);
	while (len && isspace((unsigned char)value[len - 1]))
		len--;
	if (memchr(value, '\n', len) || memchr(value, '\r', len))
		return mt_err_set(err, "%s: a value must be one line", key);
	copy = strndup(value, len);
	if (!copy) {
		mt_err_set(err, "%s: out of memory", key);
		return -ENOMEM;
	}
	ret = apply(s, cfg, copy, &off, msg, sizeof(msg));
	free(copy);
	if (ret)
		return mt_err_set(err, "%s", msg);
	return 0;
}

/* Parser state for one file. */
struct parser {
	struct mt_config *cfg;
	const char *name;
	struct mt_err *err;
	unsigned line;
	const char *section; /* NULL before the first header */
	/* [session NAME] being read: index in cfg->sessions, or -1 */
	long sess;
	unsigned sess_line;
	bool sess_has_vni;
	unsigned key_line[NSETTINGS];
	unsigned *sess_lines; /* header line of each session, 0 = earlier */
	size_t nsess_lines;
};

static int perr(struct parser *p, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr(struct parser *p, size_t col, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mt_err_set(p->err, "%s:%u:%zu: %s", p->name, p->line, col, msg);
}

static int end_session(struct parser *p)
{
	struct mt_session *s;

	if (p->sess < 0)
		return 0;
	s = &p->cfg->sessions.v[p->sess];
	p->sess = -1;
	if (!p->sess_has_vni) {
		p->line = p->sess_line;
		return perr(p, 1,
			    "[session %s] has no vni; add \"vni = N\" "
			    "(the session's VirtualNetworkId)",
			    s->name);
	}
	return 0;
}

static bool valid_session_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

static const char *closest_section(const char *name)
{
	const char *best = NULL;
	unsigned best_d = 3;

	for (size_t i = 0; i < NSECTIONS; i++) {
		unsigned d = edit_distance(name, sections[i]);

		if (d < best_d) {
			best_d = d;
			best = sections[i];
		}
	}
	return best;
}

/* line points at '['; col0 is its 0-based column. */
static int parse_header(struct parser *p, char *line, size_t col0)
{
	struct mt_sessions *ss = &p->cfg->sessions;
	char *close = strchr(line, ']'), *name, *arg, *q;
	size_t namelen;
	int err;

	err = end_session(p);
	if (err)
		return err;
	if (!close)
		return perr(p, col0 + 1,
			    "unterminated section header \"%s\"; "
			    "add the closing ']'",
			    line);
	for (q = close + 1; *q && *q != '#' && *q != ';'; q++)
		if (!isspace((unsigned char)*q))
			return perr(
				p, col0 + 1 + (q - line),
				"unexpected \"%s\" after the section header",
				q);
	*close = '\0';
	name = line + 1;
	while (isspace((unsigned char)*name))
		name++;
	namelen = strcspn(name, " \t");
	arg = name + namelen;
	if (*arg) {
		*arg++ = '\0';
		while (isspace((unsigned char)*arg))
			arg++;
		q = arg + strlen(arg);
		while (q > arg && isspace((unsigned char)q[-1]))
			*--q = '\0';
	}
	p->section = NULL;
	for (size_t i = 0; i < NSECTIONS; i++)
		if (!strcmp(name, sections[i]))
			p->section = sections[i];
	if (!p->section) {
		const char *best = closest_section(name);

		if (best)
			return perr(p, col0 + 1 + (name - line),
				    "unknown section [%s]; did you mean [%s]?",
				    name, best);
		return perr(p, col0 + 1 + (name - line),
			    "unknown section [%s]; use [capture], [output], "
			    "[filter], [control] or [session NAME]",
			    name);
	}
	if (strcmp(p->section, "session")) {
		if (*arg)
			return perr(p, col0 + 1 + (arg - line),
				    "section [%s] takes no name; only "
				    "[session NAME] does",
				    name);
		return 0;
	}

	/* [session NAME] */
	if (!*arg)
		return perr(p, col0 + 1 + (name - line),
			    "[session] needs a name, e.g. [session web-1]");
	if (strlen(arg) >= MT_SESSION_NAME_MAX || !valid_session_name(arg))
		return perr(p, col0 + 1 + (arg - line),
			    "session name \"%s\" is not valid; use up to %d "
			    "letters, digits, '-', '_' or '.'",
			    arg, MT_SESSION_NAME_MAX - 1);
	for (size_t i = 0; i < ss->n; i++) {
		if (strcmp(ss->v[i].name, arg))
			continue;
		if (i < p->nsess_lines && p->sess_lines[i])
			return perr(p, col0 + 1 + (arg - line),
				    "[session %s] is defined twice (first on "
				    "line %u)",
				    arg, p->sess_lines[i]);
		return perr(p, col0 + 1 + (arg - line),
			    "[session %s] is already defined", arg);
	}
	{
		struct mt_session *v = realloc(ss->v, (ss->n + 1) * sizeof(*v));
		unsigned *lines;

		if (!v)
			return -ENOMEM;
		ss->v = v;
		lines = realloc(p->sess_lines, (ss->n + 1) * sizeof(*lines));
		if (!lines)
			return -ENOMEM;
		p->sess_lines = lines;
		/* Sessions from an earlier file have no line here. */
		while (p->nsess_lines < ss->n)
			p->sess_lines[p->nsess_lines++] = 0;
		p->sess_lines[p->nsess_lines++] = p->line;
		memset(&v[ss->n], 0, sizeof(v[ss->n]));
		snprintf(v[ss->n].name, sizeof(v[ss->n].name), "%s", arg);
		p->sess = ss->n++;
	}
	p->sess_line = p->line;
	p->sess_has_vni = false;
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, "session"))
			p->key_line[i] = 0;
	return 0;
}

static int parse_assignment(struct parser *p, char *line, size_t col0)
{
	char *eq = strchr(line, '='), *key = line, *value, *q;
	const struct setting *s;
	char msg[MSG_MAX];
	size_t off, idx;
	void *base;

	if (!eq) {
		q = line + strlen(line);
		while (q > line && isspace((unsigned char)q[-1]))
			*--q = '\0';
		return perr(p, col0 + 1,
			    "missing '=' after \"%s\"; write "
			    "\"key = value\"",
			    line);
	}
	*eq = '\0';
	q = eq;
	while (q > key && isspace((unsigned char)q[-1]))
		*--q = '\0';
	if (!*key)
		return perr(p, col0 + 1, "missing key before '='");
	for (q = key; *q; q++)
		if (!isalnum((unsigned char)*q) && *q != '_' && *q != '-')
			return perr(p, col0 + 1,
				    "\"%s\" is not a key; keys "
				    "are words like rotate_size",
				    key);
	value = eq + 1;
	while (isspace((unsigned char)*value))
		value++;
	q = value + strlen(value);
	while (q > value && isspace((unsigned char)q[-1]))
		*--q = '\0';

	if (!p->section) {
		for (size_t i = 0; i < NSETTINGS; i++)
			if (!strcmp(settings[i].key, key))
				return perr(p, col0 + 1,
					    "%s is outside any "
					    "section; put it under [%s%s]",
					    key, settings[i].section,
					    strcmp(settings[i].section,
						   "session") ?
						    "" :
						    " NAME");
		return perr(p, col0 + 1,
			    "\"%s\" is outside any section; "
			    "settings go under [capture], [output], [filter], "
			    "[control] or [session NAME]",
			    key);
	}
	s = find_setting(p->section, key);
	if (!s) {
		unknown_key(p->section, key, msg, sizeof(msg));
		return perr(p, col0 + 1, "%s", msg);
	}
	idx = s - settings;
	if (p->key_line[idx])
		return perr(p, col0 + 1,
			    "%s is set twice in [%s%s%s] (first "
			    "on line %u)",
			    key, p->section, p->sess >= 0 ? " " : "",
			    p->sess >= 0 ? p->cfg->sessions.v[p->sess].name :
					   "",
			    p->key_line[idx]);
	base = p->sess >= 0 ? (void *)&p->cfg->sessions.v[p->sess] :
			      (void *)p->cfg;
	if (apply(s, base, value, &off, msg, sizeof(msg)))
		return perr(p, col0 + 1 + (value - line) + off, "%s", msg);
	p->key_line[idx] = p->line;

	if (s->type == T_VNI) {
		struct mt_sessions *ss = &p->cfg->sessions;
		uint32_t vni = ss->v[p->sess].vni;

		p->sess_has_vni = true;
		for (size_t i = 0; i < ss->n; i++) {
			if ((long)i == p->sess || ss->v[i].vni != vni)
				continue;
			if (i < p->nsess_lines && p->sess_lines[i])
				return perr(p, col0 + 1 + (value - line),
					    "vni %u is already used by "
					    "[session %s] (line %u)",
					    vni, ss->v[i].name,
					    p->sess_lines[i]);
			return perr(p, col0 + 1 + (value - line),
				    "vni %u is already used by [session %s]",
				    vni, ss->v[i].name);
		}
	}
	return 0;
}

int mt_config_parse(struct mt_config *cfg, const char *name, const char *text,
		    size_t len, struct mt_err *err)
{
	struct parser p = {
		.cfg = cfg,
		.name = name,
		.err = err,
		.sess = -1,
	};
	char *buf, *line, *next;
	int ret = 0;

	buf = malloc(len + 1);
	if (!buf) {
		mt_err_set(err, "%s: out of memory", name);
		return -ENOMEM;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';

	line = buf;
	/* A UTF-8 byte order mark some editors add. */
	if (len >= 3 && !memcmp(line, "\xef\xbb\xbf", 3))
		line += 3;
	for (; line; line = next) {
		size_t n, col0;
		char *q;

		p.line++;
		next = memchr(line, '\n', len - (line - buf));
		if (next)
			*next++ = '\0';
		n = strlen(line);
		if (line + n != (next ? next - 1 : buf + len)) {
			ret = perr(&p, n + 1,
				   "NUL byte in the file; is it a "
				   "text file?");
			goto out;
		}
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		for (q = line; isspace((unsigned char)*q); q++)
			;
		col0 = q - line;
		if (!*q || *q == '#' || *q == ';')
			continue;
		if (*q == '[')
			ret = parse_header(&p, q, col0);
		else
			ret = parse_assignment(&p, q, col0);
		if (ret)
			goto out;
		if (!next)
			break;
	}
	ret = end_session(&p);
	if (ret)
		goto out;
	ret = mt_sessions_finish(&cfg->sessions);
	if (ret)
		ret = mt_err_set(err, "%s: a VNI is used by two sessions",
				 name);
out:
	if (ret == -ENOMEM)
		mt_err_set(err, "%s: out of memory", name);
	free(p.sess_lines);
	free(buf);
	return ret == -ENOMEM ? -ENOMEM : ret ? -EINVAL : 0;
}

int mt_config_load(struct mt_config *cfg, const char *path, struct mt_err *err)
{
	FILE *f;
	char *text = NULL;
	size_t len = 0, cap = 0;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		mt_err_set(err, "%s: cannot open the config file: %s", path,
			   strerror(-ret));
		return ret;
	}
	ret = mt_file_check_not_world_writable(f, path, "config file", err);
	if (ret)
		goto out;
	for (;;) {
		size_t got;

		if (cap - len < 4096) {
			char *t;

			/* A config file is small; 16 MiB is clearly not one. */
			if (cap > 16 * MIB) {
				ret = mt_err_set(err,
						 "%s: too large for a "
						 "config file",
						 path);
				goto out;
			}
			cap = cap ? cap * 2 : 8192;
			t = realloc(text, cap);
			if (!t) {
				ret = -ENOMEM;
				mt_err_set(err, "%s: out of memory", path);
				goto out;
			}
			text = t;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		ret = -EIO;
		mt_err_set(err, "%s: read error", path);
		goto out;
	}
	ret = mt_config_parse(cfg, path, text ? text : "", len, err);
out:
	free(text);
	fclose(f);
	return ret;
}

static bool power_of_two(uint64_t v)
{
	return v && !(v & (v - 1));
}

int mt_config_validate(const struct mt_config *cfg, struct mt_err *err)
{
	char a[32];

	if (cfg->batch_size > cfg->ring_size)
		return mt_err_set(err,
				  "batch_size %u is larger than ring_size "
				  "%u; lower batch_size or raise ring_size",
				  cfg->batch_size, cfg->ring_size);
	if (!power_of_two(cfg->ring_size))
		return mt_err_set(err,
				  "ring_size %u is not a power of two; "
				  "use e.g. 1024, 2048 or 4096",
				  cfg->ring_size);
	if (!power_of_two(cfg->frame_size)) {
		mt_format_size(cfg->frame_size, a, sizeof(a));
		return mt_err_set(err,
				  "frame_size %s is not a power of two; "
				  "use 2K or 4K",
				  a);
	}
	if (cfg->writer_buffer <
	    (uint64_t)cfg->seg.snaplen + MT_PCAP_REC_HDR_LEN) {
		mt_format_size(cfg->writer_buffer, a, sizeof(a));
		return mt_err_set(err,
				  "writer_buffer %s cannot hold one record "
				  "of snaplen %u (+%d bytes of header); raise "
				  "writer_buffer or lower snaplen",
				  a, cfg->seg.snaplen, MT_PCAP_REC_HDR_LEN);
	}
	if (cfg->nallow_vnis) {
		for (size_t i = 0; i < cfg->sessions.n; i++) {
			const struct mt_session *s = &cfg->sessions.v[i];
			bool found = false;

			for (unsigned j = 0; j < cfg->nallow_vnis; j++)
				found |= cfg->allow_vnis[j] == s->vni;
			if (!found)
				return mt_err_set(
					err,
					"[session %s] has vni %u "
					"but allow_vnis does not list "
					"it, so XDP would drop its "
					"packets; add %u to "
					"allow_vnis",
					s->name, s->vni, s->vni);
		}
	}
	return 0;
}

/* Writes text as "# " comment lines wrapped at about 76 columns. */
static void dump_comment(FILE *out, const char *prefix, const char *text)
{
	const char *p = text;

	while (*p) {
		size_t n = strlen(p), cut = n;

		if (n > 74) {
			cut = 74;
			while (cut && p[cut] != ' ')
				cut--;
			if (!cut)
				cut = 74;
		}
		fprintf(out, "%s# %.*s\n", prefix, (int)cut, p);
		p += cut;
		while (*p == ' ')
			p++;
	}
}

/* format_value() into a malloc'd string; 0 or -ENOMEM. */
static int mem_value(const struct setting *s, const void *base, char **out)
{
	size_t len = 0;
	FILE *mem;

	*out = NULL;
	mem = open_memstream(out, &len);
	if (!mem)
		return -ENOMEM;
	format_value(s, base, mem);
	if (fclose(mem)) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void dump_setting(FILE *out, const struct setting *s, const void *base,
			 const void *def_base, const char *prefix)
{
	char range[80], kind[160], line[320], *def = NULL, *value;
	size_t n = 0;

	dump_comment(out, prefix, s->help);
	format_range(s, range, sizeof(range));
	switch (s->type) {
	case T_STRING:
		snprintf(kind, sizeof(kind), "text");
		break;
	case T_BOOL:
		snprintf(kind, sizeof(kind), "yes or no");
		break;
	case T_UINT:
		snprintf(kind, sizeof(kind), "number, %s", range);
		break;
	case T_VNI:
		snprintf(kind, sizeof(kind), "VNI, %s", range);
		break;
	case T_SIZE:
		snprintf(kind, sizeof(kind), "size, %s", range);
		break;
	case T_DURATION:
		snprintf(kind, sizeof(kind), "duration, %s", range);
		break;
	case T_ENUM:
		kind[0] = '\0';
		for (const struct choice *c = s->choices; c->name; c++)
			n += snprintf(kind + n, sizeof(kind) - n, "%s%s",
				      n ? " | " : "", c->name);
		break;
	case T_CIDR_LIST:
		snprintf(kind, sizeof(kind), "list of CIDRs");
		break;
	case T_VNI_LIST:
		snprintf(kind, sizeof(kind), "list of VNIs");
		break;
	case T_IP_LIST:
		snprintf(kind, sizeof(kind), "list of addresses");
		break;
	}
	if (!(s->flags & F_REQUIRED))
		mem_value(s, def_base, &def);
	snprintf(line, sizeof(line), "%s; %s%s; %s.", kind,
		 s->flags & F_REQUIRED ? "required" : "default: ",
		 s->flags & F_REQUIRED ? "" :
		 def && *def	       ? def :
					 "(empty)",
		 s->flags & F_RELOAD ? "reloaded by SIGHUP" :
				       "takes effect at restart");
	free(def);
	dump_comment(out, prefix, line);
	/* No trailing blank after '=' when the value is empty. */
	fprintf(out, "%s%s =", prefix, s->key);
	if (mem_value(s, base, &value) == 0) {
		fprintf(out, "%s%s", *value ? " " : "", value);
		free(value);
	}
	fputs("\n\n", out);
}

static void dump_section(FILE *out, const char *section, const void *base,
			 const void *def_base, const char *prefix)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (!strcmp(settings[i].section, section))
			dump_setting(out, &settings[i], base, def_base, prefix);
}

void mt_config_dump(const struct mt_config *cfg, FILE *out)
{
	struct mt_config *def = malloc(sizeof(*def));
	struct mt_session example = { .vni = 42, .name = "web-1" };
	struct mt_session no_session = { 0 };
	struct mt_ip example_addrs[2];

	if (!def)
		return;
	mt_config_init(def);
	fputs("# mirror-target configuration (mirror-target.conf)\n"
	      "#\n"
	      "# Every setting is listed with its value, its type, its "
	      "default and\n"
	      "# whether SIGHUP (systemctl reload mirror-targetd) applies "
	      "it. Every\n"
	      "# setting has a default, so an empty file works. A line "
	      "starting with\n"
	      "# '#' or ';' is a comment; a comment cannot follow a value "
	      "on its line.\n"
	      "# Sizes take K, M, G or T (powers of 1024), durations s, m, "
	      "h or d.\n",
	      out);
	for (size_t i = 0; i < NSECTIONS; i++) {
		if (!strcmp(sections[i], "session"))
			continue;
		fprintf(out, "\n[%s]\n\n", sections[i]);
		dump_section(out, sections[i], cfg, def, "");
	}

	fputs("\n# One [session NAME] section per mirror session names it in "
	      "counters and\n"
	      "# lists the source ENI's addresses for direction inference: "
	      "a packet\n"
	      "# from the outer source address (the source ENI's primary "
	      "IP) or from\n"
	      "# one of these is egress, one to them ingress, anything "
	      "else unknown.\n"
	      "# A VNI without a section is captured all the same.\n",
	      out);
	if (!cfg->sessions.n) {
		mt_ip_parse("192.0.2.10", &example_addrs[0]);
		mt_ip_parse("2001:db8::10", &example_addrs[1]);
		example.addrs = example_addrs;
		example.naddrs = 2;
		fprintf(out, "#\n# [session %s]\n#\n", example.name);
		dump_section(out, "session", &example, &no_session, "# ");
	}
	for (size_t i = 0; i < cfg->sessions.n; i++) {
		const struct mt_session *s = &cfg->sessions.v[i];

		fprintf(out, "\n[session %s]\n\n", s->name);
		dump_section(out, "session", s, &no_session, "");
	}
	mt_config_free(def);
	free(def);
}

/*
 * A writer buffer far larger than rotate_size would make every segment
 * overshoot by up to a whole buffer (rotation sees the size at flushes), so
 * small rotate sizes get proportionally small buffers.
 */
size_t mt_config_writer_bufsize(const struct mt_config *cfg)
{
	uint64_t size = cfg->writer_buffer;
	uint64_t floor = (uint64_t)cfg->seg.snaplen + MT_PCAP_REC_HDR_LEN;

	if (cfg->seg.rotate_bytes && size > cfg->seg.rotate_bytes / 8)
		size = cfg->seg.rotate_bytes / 8;
	if (size < floor)
		size = floor;
	return size;
}
