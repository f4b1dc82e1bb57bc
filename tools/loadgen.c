// SPDX-License-Identifier: GPL-2.0-only
/*
 * mirror-loadgen: sends VXLAN mirror traffic at a mirror target, fast.
 *
 * Frames come from a pcap (already VXLAN, or plain frames that we wrap) or
 * from the built-in flow generator (N inner 5-tuples x a list of sizes).
 * They are sent with BPF_PROG_RUN in live-frames mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18): the kernel builds frames from
 * a template in recycled pages, runs a tiny XDP program on each and
 * transmits what it returns XDP_TX for out of the interface named in the
 * context.  One syscall sends thousands of frames, so one core reaches
 * millions of frames per second, far beyond what a socket can.
 *
 * One call carries frames of one length, so the frames are grouped by
 * length; the XDP program (loadgen.bpf.c) overwrites each frame with the
 * next frame of the group from a map, which interleaves flows within a
 * call.  Groups take turns in proportion to their size.
 *
 * Pacing (--rate) is smooth: the XDP program holds each frame until it is
 * due (--pace burst instead sleeps between bursts, leaving the core idle).
 * SIGINT and SIGTERM are blocked and polled between calls, so an
 * interrupted run still reports exactly what it sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadgen.h"
#include "mirror-target/ip.h"

#ifndef MT_VERSION
#define MT_VERSION "0.1.0"
#endif

enum {
	LG_EXIT_OK = 0,
	LG_EXIT_FAILED = 1,
	LG_EXIT_USAGE = 2,
	LG_EXIT_NO_LIVE_FRAMES = 3,
};

#define LG_VXLAN_PORT 4789
#define LG_OUTER_LEN (14 + 20 + 8 + 8) /* Ethernet, IPv4, UDP, VXLAN */
/*
 * Live frames live in one page: 4096 minus XDP headroom, the kernel's page
 * header and skb_shared_info.  Measured on 6.x x86_64; a longer frame is
 * refused with EINVAL.
 */
#define LG_FRAME_MAX 3392
#define LG_INNER_MIN 60 /* Ethernet minimum without FCS */
#define LG_FLOWS_MAX 1000000
#define LG_FRAMES_MAX 1000000
/* Generator frames differ only in these first bytes (all headers). */
#define LG_GEN_HDR_LEN (LG_OUTER_LEN + 14 + 20 + 20)

static const char *prog = "mirror-loadgen";

static const char usage_text[] =
	"Usage: mirror-loadgen -i IFACE --pcap FILE [--vni N --outer-dst IP ...]\n"
	"       mirror-loadgen -i IFACE --flows N [--sizes LIST] --outer-dst IP ...\n"
	"Try 'mirror-loadgen --help' for more information.\n";

static const char help_text[] =
	"mirror-loadgen - send VXLAN mirror traffic at a mirror target, fast\n"
	"\n"
	"SYNOPSIS\n"
	"  mirror-loadgen -i IFACE --pcap FILE [OPTIONS]\n"
	"  mirror-loadgen -i IFACE --pcap FILE --vni N --outer-dst IP [OPTIONS]\n"
	"  mirror-loadgen -i IFACE --flows N [--sizes LIST] --outer-dst IP [OPTIONS]\n"
	"\n"
	"DESCRIPTION\n"
	"  Sends AWS VPC Traffic Mirroring traffic (Ethernet frames in VXLAN\n"
	"  on UDP 4789) out of IFACE, as fast as one CPU core can or at a\n"
	"  given rate, and reports how many frames it sent and at what rate.\n"
	"  Use it to load-test mirror-targetd: from a second instance in the\n"
	"  same subnet before the target goes live, or through a veth pair.\n"
	"\n"
	"  WARNING: aim it only at a mirror target you own.  It sends millions\n"
	"  of frames per second to the address you give; pointed at somebody\n"
	"  else's host it is a denial-of-service attack.  In AWS the traffic\n"
	"  counts against the instances' network allowances.\n"
	"\n"
	"  Frames are sent with BPF_PROG_RUN in live-frames mode\n"
	"  (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18 or later), which transmits\n"
	"  them with the driver's XDP transmit path (ndo_xdp_xmit): IFACE's\n"
	"  driver must support it (ena, mlx5, ixgbe, i40e, ice, virtio_net,\n"
	"  veth ...).  On a veth pair the peer only accepts such frames while\n"
	"  it has an XDP program attached (mirror-targetd's) or GRO enabled\n"
	"  (ethtool -K PEER gro on); otherwise they are silently dropped.\n"
	"  Frames that IFACE could not queue are dropped by the kernel and\n"
	"  are not reported here: compare with what the target received.\n"
	"\n"
	"  Needs root (CAP_BPF, CAP_NET_ADMIN).  A frame, VXLAN header included,\n"
	"  can be at most "
	"3392"
	" bytes long (one page in live-frames mode).\n"
	"\n"
	"TRAFFIC\n"
	"  --pcap FILE         Replay the Ethernet frames of FILE (classic pcap or\n"
	"                      pcapng, read whole; at most 1,000,000 frames).\n"
	"                      Without --vni the frames must already be VXLAN\n"
	"                      (UDP to port 4789, e.g. `tcpdump -w FILE udp port\n"
	"                      4789` on a mirror target) and are sent unchanged;\n"
	"                      other frames are skipped and counted.\n"
	"  --vni N             Wrap every frame of the pcap in VXLAN with VNI N\n"
	"                      (0..16777215), as AWS does for one mirror session:\n"
	"                      outer IPv4 --outer-src -> --outer-dst, UDP source\n"
	"                      port from a hash of the inner 5-tuple, destination\n"
	"                      port 4789, no UDP checksum.  With --flows: the VNI\n"
	"                      of the generated traffic (default 1).\n"
	"  --flows N           Generate traffic instead: N distinct inner flows\n"
	"                      (1..1000000), alternately TCP and UDP over IPv4\n"
	"                      between hosts of 192.0.2.0/24, each flow in every\n"
	"                      size of --sizes, VXLAN-wrapped like --vni.  The\n"
	"                      outer UDP source port is a hash of the inner\n"
	"                      5-tuple, so a NIC with RSS spreads the flows over\n"
	"                      its rx queues as it does with AWS's traffic.\n"
	"  --sizes LIST        Inner frame sizes in bytes (Ethernet header to end\n"
	"                      of payload, no FCS), comma-separated, each 60..3342.\n"
	"                      Default 64,512,1500.  Each size is sent equally\n"
	"                      often.  The outer frame is 50 bytes longer and\n"
	"                      must fit IFACE's MTU + 14: 1500-byte inner frames\n"
	"                      need an MTU of 1536 or more (a VPC's is 9001).\n"
	"\n"
	"OUTER HEADERS (for --vni and --flows)\n"
	"  --outer-dst IP      The mirror target's IPv4 address (required).\n"
	"  --outer-src IP      The outer source address, i.e. the mirrored ENI's\n"
	"                      (default: the first IPv4 address of IFACE).  The\n"
	"                      target's --allow-source must include it.\n"
	"  --outer-dst-mac MAC Destination MAC of the outer frame (default: the\n"
	"                      ARP entry of --outer-dst on IFACE; ping the target\n"
	"                      once to create it, or in AWS give the subnet\n"
	"                      gateway's MAC when the target is in another\n"
	"                      subnet).\n"
	"\n"
	"HOW MUCH AND HOW FAST\n"
	"  --count N           Stop after N frames.\n"
	"  --duration SECS     Stop after SECS seconds (decimals allowed).\n"
	"                      Without --count and --duration: until SIGINT or\n"
	"                      SIGTERM; an interrupted run still reports.\n"
	"  --rate PPS          Send PPS frames per second, evenly spaced.\n"
	"                      Default: as fast as possible.\n"
	"  --pace smooth|burst How --rate spaces the frames.  smooth (default):\n"
	"                      each frame leaves when it is due, so a receiver\n"
	"                      sees the rate it would see from AWS; the sending\n"
	"                      core spins the whole time.  When the sender falls\n"
	"                      behind (another task took its core) it moves on\n"
	"                      instead of sending the backlog as a burst, and\n"
	"                      reports the time lost (\"lag\").  burst: bursts of\n"
	"                      5 ms of frames at full speed with sleeps between\n"
	"                      them, leaving the core mostly idle; the bursts\n"
	"                      overflow small receive rings (a veth's has 256\n"
	"                      slots), so completeness then measures the bursts.\n"
	"  --batch N           Frames the kernel transmits per batch, 1..256\n"
	"                      (default 64).\n"
	"\n"
	"OUTPUT\n"
	"  --json              Print the report as one JSON object.\n"
	"  -v, --verbose       Show libbpf's messages.\n"
	"  -h, --help          This text.   --version   The version.\n"
	"\n"
	"  The report: frames sent, outer bytes sent, seconds, frames per second\n"
	"  and bits per second of outer frames (Ethernet header to end, no FCS).\n"
	"\n"
	"EXIT STATUS\n"
	"  0 sent, 1 failed (interface, pcap, kernel error), 2 usage error,\n"
	"  3 the kernel cannot send live frames (needs Linux 5.18 or later).\n"
	"\n"
	"EXAMPLES\n"
	"  # 1000 flows of 64- and 1500-byte frames at 1 Mpps for 60 s:\n"
	"  mirror-loadgen -i ens5 --flows 1000 --sizes 64,1500 --vni 42 \\\n"
	"      --outer-dst 198.18.0.2 --rate 1000000 --duration 60\n"
	"  # replay a capture of real mirror traffic as fast as possible:\n"
	"  mirror-loadgen -i ens5 --pcap mirror.pcap --count 10000000\n";

struct lg_opts {
	const char *ifname;
	const char *pcap_path;
	long vni; /* -1: not given */
	long flows;
	const char *sizes;
	struct in_addr outer_src, outer_dst;
	bool have_src, have_dst, have_dst_mac;
	uint8_t dst_mac[6];
	uint64_t count; /* 0: unlimited */
	double duration; /* 0: unlimited */
	uint64_t rate; /* 0: as fast as possible */
	bool burst; /* --pace burst */
	uint32_t batch;
	bool json;
	bool verbose;
};

struct lg_outer {
	uint8_t src_mac[6], dst_mac[6];
	struct in_addr src, dst;
	uint32_t vni;
};

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	exit(LG_EXIT_USAGE);
}

/* ---- parsing of options ------------------------------------------------- */

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min,
			  uint64_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (*s == '-' || *s == '\0')
		usage_error("%s %s: not a number (give %llu..%llu)", opt, s,
			    (unsigned long long)min, (unsigned long long)max);
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		usage_error("%s %s: not a number in %llu..%llu", opt, s,
			    (unsigned long long)min, (unsigned long long)max);
	return v;
}

static void parse_ipv4(const char *opt, const char *s, struct in_addr *a)
{
	if (inet_pton(AF_INET, s, a) != 1)
		usage_error("%s %s: not an IPv4 address (e.g. 198.18.0.2)", opt,
			    s);
}

static void parse_mac(const char *opt, const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5], &tail) != 6)
		usage_error("%s %s: not a MAC address (e.g. 02:00:5e:00:53:02)",
			    opt, s);
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			usage_error("%s %s: not a MAC address", opt, s);
		mac[i] = (uint8_t)b[i];
	}
}

/* Parses "64,512,1500" into sizes[]; returns how many. */
static size_t parse_sizes(const char *s, uint32_t *sizes, size_t max)
{
	const size_t max_inner = LG_FRAME_MAX - LG_OUTER_LEN;
	char *copy = strdup(s), *tok, *save = NULL;
	size_t n = 0;

	if (!copy) {
		perror(prog);
		exit(LG_EXIT_FAILED);
	}
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == max)
			usage_error("--sizes %s: more than %zu sizes", s, max);
		sizes[n++] = (uint32_t)parse_u64("--sizes", tok, LG_INNER_MIN,
						 max_inner);
	}
	free(copy);
	if (!n)
		usage_error("--sizes '%s': give sizes like 64,512,1500", s);
	return n;
}

/* ---- the interface -------------------------------------------------------- */

static int iface_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

static int iface_ipv4(const char *ifname, struct in_addr *addr)
{
	struct ifaddrs *ifa, *i;
	int err = -EADDRNOTAVAIL;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, ifname)) {
			*addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			err = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	return err;
}

static int iface_mtu(const char *ifname, uint32_t *mtu)
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		err = -errno;
	else
		*mtu = (uint32_t)ifr.ifr_mtu;
	close(fd);
	return err;
}

/* The ARP entry of addr on ifname, from /proc/net/arp. */
static int arp_lookup(const char *ifname, struct in_addr addr, uint8_t mac[6])
{
	char line[256], ip[64], hw[64], dev[64];
	unsigned int flags;
	int err = -ENOENT;
	struct in_addr a;
	FILE *f;

	f = fopen("/proc/net/arp", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %*s %x %63s %*s %63s", ip, &flags, hw,
			   dev) != 4)
			continue;
		/* 0x2: ATF_COM, the entry is complete. */
		if (!(flags & 0x2) || strcmp(dev, ifname) ||
		    inet_pton(AF_INET, ip, &a) != 1 || a.s_addr != addr.s_addr)
			continue;
		if (sscanf(hw, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0],
			   &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]) == 6) {
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

/* ---- building frames -------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* FNV-1a: cheap and well spread, which is all an outer port needs. */
static uint32_t fnv1a(uint32_t h, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/*
 * The outer UDP source port AWS-style: a hash of the inner 5-tuple, so
 * that RSS on the target spreads flows over rx queues and keeps each flow
 * on one.  Frames that are not IP hash their Ethernet header.
 */
static uint16_t flow_port(const uint8_t *f, uint32_t len)
{
	uint32_t h = 2166136261u, off = 14, l4 = 0;
	uint16_t type;
	uint8_t proto = 0;

	if (len < 14)
		return 49152;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETH_P_IP && len >= off + 20) {
		proto = f[off + 9];
		h = fnv1a(h, f + off + 12, 8);
		l4 = off + (f[off] & 0xf) * 4u;
	} else if (type == ETH_P_IPV6 && len >= off + 40) {
		proto = f[off + 6];
		h = fnv1a(h, f + off + 8, 32);
		l4 = off + 40;
	} else {
		h = fnv1a(h, f, 14);
	}
	h = fnv1a(h, &proto, 1);
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && l4 &&
	    len >= l4 + 4)
		h = fnv1a(h, f + l4, 4);
	return (uint16_t)(49152 + h % 16384);
}

/* Wraps inner[0..len) into a new frame: outer Ethernet/IPv4/UDP/VXLAN. */
static uint8_t *vxlan_wrap(const struct lg_outer *o, const uint8_t *inner,
			   uint32_t len)
{
	uint8_t *f = malloc(LG_OUTER_LEN + len), *ip, *udp, *vx;

	if (!f)
		return NULL;
	memcpy(f, o->dst_mac, 6);
	memcpy(f + 6, o->src_mac, 6);
	put16(f + 12, ETH_P_IP);
	ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + 8 + len));
	put16(ip + 6, 0x4000); /* DF, as the mirror session sends */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &o->src, 4);
	memcpy(ip + 16, &o->dst, 4);
	put16(ip + 10, mt_csum_fold(mt_csum_add(0, ip, 20)));
	udp = ip + 20;
	put16(udp, flow_port(inner, len));
	put16(udp + 2, LG_VXLAN_PORT);
	put16(udp + 4, (uint16_t)(8 + 8 + len));
	put16(udp + 6, 0); /* no checksum over IPv4, as AWS sends */
	vx = udp + 8;
	put32(vx, 0x08000000); /* I flag: the VNI is valid */
	put32(vx + 4, o->vni << 8);
	memcpy(vx + 8, inner, len);
	return f;
}

/*
 * Inner frame of flow i with the given size.  The payload is the same
 * pattern for every flow (bytes by offset), so frames of one size differ
 * only in their first LG_GEN_HDR_LEN bytes once wrapped.
 */
static void gen_inner(uint8_t *f, uint32_t size, uint32_t i)
{
	static const uint16_t tcp_ports[] = { 443, 80, 8080, 22 };
	static const uint16_t udp_ports[] = { 40000, 40001, 40002, 40003 };
	static const char pattern[] = "mirror-loadgen payload ";
	bool tcp = !(i & 1);
	uint8_t *ip = f + 14, *l4 = ip + 20;
	uint32_t l4len = size - 34, hlen = tcp ? 20 : 8, k, sum;
	uint16_t sport, dport;

	for (k = 0; k < size; k++)
		f[k] = (uint8_t)pattern[k % (sizeof(pattern) - 1)];
	/* Locally administered documentation-style MACs, as the e2e lab. */
	memcpy(f, (const uint8_t[]){ 0x02, 0x00, 0x5e, 0x00, 0x53, 0x02 }, 6);
	memcpy(f + 6, (const uint8_t[]){ 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01 },
	       6);
	put16(f + 12, ETH_P_IP);

	/*
	 * Flow i -> (client .1-.120, server .129-.248, client port): an
	 * injective map, so N flows are N distinct 5-tuples.
	 */
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(size - 14));
	put16(ip + 4, (uint16_t)i);
	ip[8] = 64;
	ip[9] = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	ip[12] = 192, ip[13] = 0, ip[14] = 2, ip[15] = (uint8_t)(1 + i % 120);
	ip[16] = 192, ip[17] = 0, ip[18] = 2;
	ip[19] = (uint8_t)(129 + (i / 120) % 120);
	put16(ip + 10, mt_csum_fold(mt_csum_add(0, ip, 20)));

	sport = (uint16_t)(32768 + (i / 14400) % 28000);
	dport = tcp ? tcp_ports[(i / 2) % 4] : udp_ports[(i / 2) % 4];
	memset(l4, 0, hlen);
	put16(l4, sport);
	put16(l4 + 2, dport);
	if (tcp) {
		put32(l4 + 4, i * 1000u + 1); /* seq */
		put32(l4 + 8, 1); /* ack */
		l4[12] = 5 << 4;
		l4[13] = 0x18; /* PSH|ACK: data of an established connection */
		put16(l4 + 14, 65535);
	} else {
		put16(l4 + 4, (uint16_t)l4len);
	}
	sum = mt_csum_add(0, ip + 12, 8);
	sum += ip[9] + l4len;
	sum = mt_csum_add(sum, l4, l4len);
	put16(l4 + (tcp ? 16 : 6), mt_csum_fold(sum) ?: 0xffff);
}

struct lg_frames {
	struct lg_frame *v;
	size_t n, cap;
	bool partial_copy; /* generator: copy headers only */
	uint64_t skipped; /* pcap frames that were not VXLAN */
};

static int frames_add(struct lg_frames *fs, uint8_t *data, uint32_t len)
{
	if (fs->n == fs->cap) {
		size_t cap = fs->cap ? fs->cap * 2 : 1024;
		struct lg_frame *v = realloc(fs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		fs->v = v;
		fs->cap = cap;
	}
	fs->v[fs->n].data = data;
	fs->v[fs->n].len = len;
	fs->v[fs->n].order = (uint32_t)fs->n;
	fs->n++;
	return 0;
}

static void frames_free(struct lg_frames *fs)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		free(fs->v[i].data);
	free(fs->v);
}

static int gen_frames(struct lg_frames *fs, const struct lg_outer *o,
		      uint32_t flows, const uint32_t *sizes, size_t nsizes)
{
	uint8_t inner[LG_FRAME_MAX], *f;
	uint32_t i;
	size_t s;

	fs->partial_copy = true;
	for (s = 0; s < nsizes; s++) {
		for (i = 0; i < flows; i++) {
			gen_inner(inner, sizes[s], i);
			f = vxlan_wrap(o, inner, sizes[s]);
			if (!f || frames_add(fs, f, LG_OUTER_LEN + sizes[s])) {
				free(f);
				return -ENOMEM;
			}
		}
	}
	return 0;
}

/* Ethernet [802.1Q] IPv4/IPv6 UDP to port 4789? */
static bool is_vxlan(const uint8_t *f, uint32_t len)
{
	uint32_t off = 14, l4;
	uint16_t type;
	uint8_t proto;

	if (len < 14)
		return false;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if ((type == ETH_P_8021Q || type == ETH_P_8021AD) && len >= 18) {
		type = (uint16_t)(f[16] << 8 | f[17]);
		off = 18;
	}
	if (type == ETH_P_IP && len >= off + 20) {
		/* A non-first fragment has no UDP header. */
		if ((f[off + 6] & 0x1f) || f[off + 7])
			return false;
		proto = f[off + 9];
		l4 = off + (f[off] & 0xf) * 4u;
	} else if (type == ETH_P_IPV6 && len >= off + 40) {
		proto = f[off + 6];
		l4 = off + 40;
	} else {
		return false;
	}
	return proto == IPPROTO_UDP && len >= l4 + 8 &&
	       (f[l4 + 2] << 8 | f[l4 + 3]) == LG_VXLAN_PORT;
}

static int read_pcap(struct lg_frames *fs, const char *path,
		     const struct lg_outer *o, bool wrap)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	const uint32_t max = wrap ? LG_FRAME_MAX - LG_OUTER_LEN : LG_FRAME_MAX;
	struct pcap_pkthdr *h;
	const uint8_t *pkt;
	uint64_t n = 0;
	uint8_t *f;
	pcap_t *p;
	int rc, err = 0;

	p = pcap_open_offline(path, errbuf);
	if (!p) {
		fprintf(stderr, "%s: --pcap %s: %s\n", prog, path, errbuf);
		return -EINVAL;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		fprintf(stderr,
			"%s: --pcap %s: link type %s, not Ethernet (capture on "
			"an Ethernet interface)\n",
			prog, path,
			pcap_datalink_val_to_name(pcap_datalink(p)));
		err = -EINVAL;
		goto out;
	}
	while ((rc = pcap_next_ex(p, &h, &pkt)) == 1) {
		n++;
		if (h->caplen < h->len) {
			fprintf(stderr,
				"%s: --pcap %s: frame %llu is cut to %u of its "
				"%u bytes (capture with -s 0)\n",
				prog, path, (unsigned long long)n, h->caplen,
				h->len);
			err = -EINVAL;
			goto out;
		}
		if (h->caplen > max || h->caplen < 14) {
			fprintf(stderr,
				"%s: --pcap %s: frame %llu is %u bytes; live "
				"frames can be %u..%u bytes%s\n",
				prog, path, (unsigned long long)n, h->caplen,
				14, max,
				wrap ? " before the 50 bytes of VXLAN" : "");
			err = -EINVAL;
			goto out;
		}
		if (!wrap && !is_vxlan(pkt, h->caplen)) {
			fs->skipped++;
			continue;
		}
		if (fs->n == LG_FRAMES_MAX) {
			fprintf(stderr,
				"%s: --pcap %s: more than %d frames (cut it: "
				"editcap -r %s out.pcap 1-%d)\n",
				prog, path, LG_FRAMES_MAX, path, LG_FRAMES_MAX);
			err = -E2BIG;
			goto out;
		}
		f = wrap ? vxlan_wrap(o, pkt, h->caplen) : malloc(h->caplen);
		if (!f) {
			err = -ENOMEM;
			goto out;
		}
		if (!wrap)
			memcpy(f, pkt, h->caplen);
		err = frames_add(fs, f,
				 wrap ? LG_OUTER_LEN + h->caplen : h->caplen);
		if (err) {
			free(f);
			goto out;
		}
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "%s: --pcap %s: %s\n", prog, path,
			pcap_geterr(p));
		err = -EIO;
		goto out;
	}
	if (!fs->n) {
		fprintf(stderr,
			"%s: --pcap %s: no %sframes to send (%llu read)%s\n",
			prog, path, wrap ? "" : "VXLAN ", (unsigned long long)n,
			wrap ? "" :
			       "; plain frames need --vni and --outer-dst to "
			       "be wrapped");
		err = -EINVAL;
	}
out:
	pcap_close(p);
	return err;
}

static int cmp_frames(const void *a, const void *b)
{
	const struct lg_frame *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* ---- main ------------------------------------------------------------------- */

enum {
	OPT_PCAP = 256,
	OPT_VNI,
	OPT_FLOWS,
	OPT_SIZES,
	OPT_OUTER_SRC,
	OPT_OUTER_DST,
	OPT_OUTER_DST_MAC,
	OPT_COUNT,
	OPT_DURATION,
	OPT_RATE,
	OPT_PACE,
	OPT_BATCH,
	OPT_JSON,
	OPT_VERSION,
};

static const struct option long_opts[] = {
	{ "interface", required_argument, NULL, 'i' },
	{ "pcap", required_argument, NULL, OPT_PCAP },
	{ "vni", required_argument, NULL, OPT_VNI },
	{ "flows", required_argument, NULL, OPT_FLOWS },
	{ "sizes", required_argument, NULL, OPT_SIZES },
	{ "outer-src", required_argument, NULL, OPT_OUTER_SRC },
	{ "outer-dst", required_argument, NULL, OPT_OUTER_DST },
	{ "outer-dst-mac", required_argument, NULL, OPT_OUTER_DST_MAC },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "pace", required_argument, NULL, OPT_PACE },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void parse_opts(int argc, char **argv, struct lg_opts *o)
{
	char *end;
	int c;

	o->vni = -1;
	o->batch = 64;
	while ((c = getopt_long(argc, argv, "i:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->ifname = optarg;
			break;
		case OPT_PCAP:
			o->pcap_path = optarg;
			break;
		case OPT_VNI:
			o->vni = (long)parse_u64("--vni", optarg, 0, 0xffffff);
			break;
		case OPT_FLOWS:
			o->flows = (long)parse_u64("--flows", optarg, 1,
						   LG_FLOWS_MAX);
			break;
		case OPT_SIZES:
			o->sizes = optarg;
			break;
		case OPT_OUTER_SRC:
			parse_ipv4("--outer-src", optarg, &o->outer_src);
			o->have_src = true;
			break;
		case OPT_OUTER_DST:
			parse_ipv4("--outer-dst", optarg, &o->outer_dst);
			o->have_dst = true;
			break;
		case OPT_OUTER_DST_MAC:
			parse_mac("--outer-dst-mac", optarg, o->dst_mac);
			o->have_dst_mac = true;
			break;
		case OPT_COUNT:
			o->count = parse_u64("--count", optarg, 1, UINT64_MAX);
			break;
		case OPT_DURATION:
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || *end || end == optarg ||
			    !(o->duration > 0 && o->duration < 1e9))
				usage_error("--duration %s: give seconds > 0, "
					    "e.g. 10 or 0.5",
					    optarg);
			break;
		case OPT_RATE:
			o->rate = parse_u64("--rate", optarg, 1, 1000000000);
			break;
		case OPT_PACE:
			if (!strcmp(optarg, "burst"))
				o->burst = true;
			else if (strcmp(optarg, "smooth"))
				usage_error("--pace %s: give smooth or burst",
					    optarg);
			break;
		case OPT_BATCH:
			o->batch =
				(uint32_t)parse_u64("--batch", optarg, 1, 256);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			fputs(help_text, stdout);
			exit(LG_EXIT_OK);
		case OPT_VERSION:
			printf("mirror-loadgen %s\n", MT_VERSION);
			exit(LG_EXIT_OK);
		default:
			fputs(usage_text, stderr);
			exit(LG_EXIT_USAGE);
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->ifname)
		usage_error("-i IFACE is required: the interface to send from");
	if (!o->pcap_path == !o->flows)
		usage_error(
			"give either --pcap FILE or --flows N (one of them)");
	if (o->sizes && !o->flows)
		usage_error("--sizes goes with --flows");
	if ((o->flows || o->vni >= 0) && !o->have_dst)
		usage_error("--outer-dst IP is required with %s: the mirror "
			    "target's address",
			    o->flows ? "--flows" : "--vni");
	if (o->pcap_path && o->vni < 0 &&
	    (o->have_dst || o->have_src || o->have_dst_mac))
		usage_error("--outer-* options need --vni: without it the "
			    "pcap's frames are sent as they are");
}

static int report(const struct lg_result *r, const struct lg_opts *o,
		  size_t nframes)
{
	double pps = r->elapsed > 0 ? (double)r->sent / r->elapsed : 0;
	double bps = r->elapsed > 0 ? (double)r->bytes * 8 / r->elapsed : 0;
	json_t *j;

	if (!o->json) {
		printf("sent %llu frames (%llu bytes, %zu distinct) in %.3f s: "
		       "%.3f Mpps, %.3f Gbit/s%s\n",
		       (unsigned long long)r->sent,
		       (unsigned long long)r->bytes, nframes, r->elapsed,
		       pps / 1e6, bps / 1e9,
		       r->interrupted ? " (interrupted)" : "");
		if (r->lag > 0)
			printf("fell behind the --rate schedule for %.3f s "
			       "(the sending core was busy elsewhere)\n",
			       r->lag);
		return 0;
	}
	j = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:b}",
		      "interface", o->ifname, "frames_sent",
		      (json_int_t)r->sent, "bytes_sent", (json_int_t)r->bytes,
		      "distinct_frames", (json_int_t)nframes, "seconds",
		      r->elapsed, "pps", pps, "bits_per_second", bps,
		      "lag_seconds", r->lag, "interrupted", r->interrupted);
	if (!j)
		return -ENOMEM;
	json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
	return 0;
}

int main(int argc, char **argv)
{
	struct lg_frames fs = { 0 };
	struct lg_outer outer = { 0 };
	struct lg_send_opts so = { 0 };
	struct lg_result res;
	struct lg_opts o = { 0 };
	uint32_t sizes[64];
	size_t nsizes = 0;
	sigset_t stop;
	int ifindex, err, rc = LG_EXIT_FAILED;
	uint32_t mtu = 0;

	parse_opts(argc, argv, &o);
	if (o.flows)
		nsizes = parse_sizes(o.sizes ? o.sizes : "64,512,1500", sizes,
				     sizeof(sizes) / sizeof(sizes[0]));

	ifindex = (int)if_nametoindex(o.ifname);
	if (!ifindex) {
		fprintf(stderr, "%s: -i %s: no such interface (see ip link)\n",
			prog, o.ifname);
		return LG_EXIT_FAILED;
	}

	if (o.flows || o.vni >= 0) {
		outer.vni = o.vni >= 0 ? (uint32_t)o.vni : 1;
		outer.dst = o.outer_dst;
		err = iface_mac(o.ifname, outer.src_mac);
		if (err) {
			fprintf(stderr, "%s: -i %s: cannot read its MAC: %s\n",
				prog, o.ifname, strerror(-err));
			return LG_EXIT_FAILED;
		}
		if (o.have_src) {
			outer.src = o.outer_src;
		} else if (iface_ipv4(o.ifname, &outer.src)) {
			fprintf(stderr,
				"%s: -i %s has no IPv4 address: give the "
				"outer source with --outer-src IP\n",
				prog, o.ifname);
			return LG_EXIT_FAILED;
		}
		if (o.have_dst_mac) {
			memcpy(outer.dst_mac, o.dst_mac, 6);
		} else if (arp_lookup(o.ifname, outer.dst, outer.dst_mac)) {
			char a[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &outer.dst, a, sizeof(a));
			fprintf(stderr,
				"%s: no ARP entry for %s on %s: ping it once, "
				"or give --outer-dst-mac MAC\n",
				prog, a, o.ifname);
			return LG_EXIT_FAILED;
		}
	}

	if (o.flows)
		err = gen_frames(&fs, &outer, (uint32_t)o.flows, sizes, nsizes);
	else
		err = read_pcap(&fs, o.pcap_path, &outer, o.vni >= 0);
	if (err) {
		if (err == -ENOMEM)
			fprintf(stderr, "%s: out of memory building frames\n",
				prog);
		goto out_frames;
	}
	if (fs.skipped)
		fprintf(stderr,
			"%s: skipped %llu frames of %s that are not VXLAN to "
			"port %d\n",
			prog, (unsigned long long)fs.skipped, o.pcap_path,
			LG_VXLAN_PORT);

	/* The sender groups by length; input order within a length. */
	qsort(fs.v, fs.n, sizeof(fs.v[0]), cmp_frames);
	/*
	 * XDP transmit drops frames longer than the MTU silently (veth counts
	 * them nowhere we could read): refuse instead.  A VLAN tag may add 4.
	 */
	if (!iface_mtu(o.ifname, &mtu) &&
	    fs.v[fs.n - 1].len > mtu + 14 + 4 * !o.flows) {
		fprintf(stderr,
			"%s: frames of %u bytes do not fit the MTU %u of %s "
			"(at most %u bytes of Ethernet frame): raise it (ip "
			"link set %s mtu %u) or send smaller frames\n",
			prog, fs.v[fs.n - 1].len, mtu, o.ifname, mtu + 14,
			o.ifname, fs.v[fs.n - 1].len - 14);
		goto out_frames;
	}
	so.ifname = o.ifname;
	so.ifindex = ifindex;
	so.count = o.count;
	so.duration = o.duration;
	so.rate = o.rate;
	so.burst = o.burst;
	so.batch = o.batch;
	so.copy_max = fs.partial_copy ? LG_GEN_HDR_LEN : 0;
	so.verbose = o.verbose;

	/* Polled between calls: an interrupted run still reports. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	err = lg_send(fs.v, fs.n, &so, &stop, &res);
	if (err == -EOPNOTSUPP)
		rc = LG_EXIT_NO_LIVE_FRAMES;
	else if (report(&res, &o, fs.n) == 0 && !err)
		rc = LG_EXIT_OK;
out_frames:
	frames_free(&fs);
	return rc;
}
