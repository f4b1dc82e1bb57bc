// SPDX-License-Identifier: GPL-2.0-only
/*
 * mirror-targetd: the receiving end of AWS VPC Traffic Mirroring.
 *
 * main() turns the command line into a struct mt_config (defaults, then the
 * config file, then command-line options, which win) and hands it to a mode.
 * Today that is the offline mode (--read FILE); live capture with AF_XDP
 * comes later and will start from the same config.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mirror-target/config.h"
#include "offline.h"
#ifdef MT_HAVE_LIVE
#include "live.h"
#include "reload.h"
#endif

#define MT_LIVE_DEFAULT_CONFIG "/etc/mirror-target/mirror-target.conf"

#ifndef MT_VERSION
#define MT_VERSION "0.1.0"
#endif

static void usage(void)
{
	struct mt_config *def = malloc(sizeof(*def));
	char rsize[32], rint[32];

	if (!def)
		return;
	/* Defaults come from the config table, so the help cannot drift. */
	mt_config_init(def);
	mt_format_size(def->seg.rotate_bytes, rsize, sizeof(rsize));
	mt_format_duration(def->seg.rotate_interval, rint, sizeof(rint));
	printf("Usage: mirror-targetd --read FILE --output-dir DIR "
	       "[OPTION]...\n"
	       "       mirror-targetd -i IFACE [OPTION]...\n"
	       "\n"
	       "Receive AWS VPC Traffic Mirroring traffic: strip the VXLAN "
	       "encapsulation (UDP\n"
	       "4789, one VNI per mirror session), infer each packet's "
	       "direction, apply a\n"
	       "traffic-mirror filter with AWS semantics, and write the "
	       "mirrored packets into\n"
	       "rotating pcap segments (PREFIX-YYYYmmddTHHMMSSZ-SEQ.pcap; a "
	       "segment is a hidden\n"
	       ".NAME.part file until it is sealed).\n"
	       "\n"
	       "With --read, the input is a capture of the raw mirrored "
	       "traffic as tcpdump\n"
	       "writes it on the mirror target (pcap or pcapng; Ethernet, "
	       "Linux cooked or raw\n"
	       "IP frames), or \"-\" for standard input.  Packets keep "
	       "their capture timestamps\n"
	       "and rotation follows packet time.  At the end every segment "
	       "is sealed and a\n"
	       "summary is printed on standard output: frames read, "
	       "decapsulated and not\n"
	       "usable (by cause), inner parse results, packets per "
	       "direction, filter\n"
	       "verdicts and per-rule hits, records written, and the "
	       "segments sealed.\n"
	       "\n"
	       "Options (command-line options override the config file):\n"
	       "  -r, --read FILE          read a capture instead of a NIC; "
	       "- = stdin\n"
	       "  -o, --output-dir DIR     segment directory; required with "
	       "--read unless\n"
	       "                           --config sets [output] directory\n"
	       "      --rules FILE         filter rules: a native rules file, "
	       "or the JSON of\n"
	       "                           aws ec2 "
	       "describe-traffic-mirror-filters (*.json);\n"
	       "                           default: none, the filter is off "
	       "and everything\n"
	       "                           is captured\n"
	       "      --filter-id ID       the TrafficMirrorFilterId to use "
	       "from a JSON file\n"
	       "                           holding several filters\n"
	       "  -c, --config FILE        config file (see "
	       "mirror-target.conf.example);\n"
	       "                           default with --read: none\n"
	       "  -s, --snaplen N          bytes kept per packet (default "
	       "%u)\n"
	       "      --vxlan-port N       UDP port of the VXLAN traffic "
	       "(default %u)\n"
	       "      --prefix P           segment file name prefix (default "
	       "%s)\n"
	       "      --rotate-size SIZE   start a new segment at this size, "
	       "K/M/G/T suffix;\n"
	       "                           0 = off (default %s)\n"
	       "      --rotate-interval DUR\n"
	       "                           start a new segment every DUR of "
	       "packet time,\n"
	       "                           aligned to the clock, s/m/h/d "
	       "suffix; 0 = off\n"
	       "                           (default %s)\n"
	       "      --format F           pcap-ns (nanosecond timestamps) or "
	       "pcap-us\n"
	       "                           (default %s)\n"
	       "  -q, --quiet              no progress report on stderr (by "
	       "default shown every\n"
	       "                           2 s when stderr is a terminal)\n"
	       "      --dump-config        print the effective configuration, "
	       "commented, and\n"
	       "                           exit\n"
	       "\n"
	       "Live capture (-i; needs root or CAP_NET_ADMIN, CAP_NET_RAW, "
	       "CAP_BPF and\n"
	       "CAP_SYS_ADMIN; reads %s when it exists and\n"
	       "no --config is given; SIGTERM/SIGINT stop, SIGHUP reloads the "
	       "rules and\n"
	       "the config file's reloadable settings):\n"
	       "  -i, --interface IFACE    capture the mirrored VXLAN arriving "
	       "on IFACE (XDP +\n"
	       "                           AF_XDP); everything else stays the "
	       "kernel's\n"
	       "      --queues all|LIST    rx queues to capture, e.g. 0,2-3 "
	       "(default all)\n"
	       "      --bind-mode MODE     auto, zerocopy or copy (default "
	       "auto)\n"
	       "      --xdp-mode MODE      native or generic (default native; "
	       "native falls back\n"
	       "                           to generic when the driver has no "
	       "XDP)\n"
	       "      --allow-source CIDR  accept VXLAN only from these outer "
	       "sources; repeatable\n"
	       "      --vni N              accept only these VNIs (sessions); "
	       "repeatable\n"
	       "      --metrics-listen HOST:PORT\n"
	       "                           serve Prometheus /metrics and "
	       "/healthz over HTTP,\n"
	       "                           e.g. 127.0.0.1:9687 or [::]:9687 "
	       "(default: off)\n"
	       "\n"
	       "  -h, --help               show this help and exit\n"
	       "  -V, --version            show the version and exit\n"
	       "\n"
	       "Examples:\n"
	       "  Turn a capture taken on the mirror target into segments:\n"
	       "    mirror-targetd --read vxlan.pcap --output-dir /tmp/seg\n"
	       "  The same from a running tcpdump, hourly segments, only what "
	       "rules.conf accepts:\n"
	       "    tcpdump -i eth0 -w - udp dst port 4789 | mirror-targetd "
	       "--read - \\\n"
	       "        --output-dir /tmp/seg --rotate-interval 1h --rules "
	       "rules.conf\n"
	       "  Apply a filter exported with the AWS CLI:\n"
	       "    aws ec2 describe-traffic-mirror-filters > filters.json\n"
	       "    mirror-targetd --read vxlan.pcap --output-dir /tmp/seg "
	       "--rules filters.json \\\n"
	       "        --filter-id tmf-0123456789abcdef0\n"
	       "  Capture live on eth1 from the mirror sources of "
	       "10.0.0.0/16, session VNI 42:\n"
	       "    mirror-targetd -i eth1 --allow-source 10.0.0.0/16 --vni 42\n"
	       "\n"
	       "Exit status: 0 when the input was read to its end (or "
	       "SIGINT/SIGTERM stopped\n"
	       "it) and every segment was sealed; 1 when the input could not "
	       "be read to its\n"
	       "end or writing segments failed (what was read is still "
	       "sealed); 2 for usage,\n"
	       "config, rules or input-format errors (nothing is "
	       "written).\n"
	       "Live: 0 after a clean stop (segments sealed, XDP detached), 1 "
	       "when start-up\n"
	       "or writing failed, 2 for usage, config or rules errors.\n",
	       def->seg.snaplen, def->vxlan_port, def->seg.prefix, rsize, rint,
	       def->seg.nanosecond ? "pcap-ns" : "pcap-us",
	       MT_LIVE_DEFAULT_CONFIG);
	mt_config_free(def);
	free(def);
}

enum {
	OPT_RULES = 256,
	OPT_FILTER_ID,
	OPT_VXLAN_PORT,
	OPT_PREFIX,
	OPT_ROTATE_SIZE,
	OPT_ROTATE_INTERVAL,
	OPT_FORMAT,
	OPT_DUMP_CONFIG,
	OPT_QUEUES,
	OPT_BIND_MODE,
	OPT_XDP_MODE,
	OPT_ALLOW_SOURCE,
	OPT_VNI,
	OPT_METRICS_LISTEN,
};

static const struct option long_options[] = {
	{ "read", required_argument, NULL, 'r' },
	{ "output-dir", required_argument, NULL, 'o' },
	{ "rules", required_argument, NULL, OPT_RULES },
	{ "filter-id", required_argument, NULL, OPT_FILTER_ID },
	{ "config", required_argument, NULL, 'c' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "vxlan-port", required_argument, NULL, OPT_VXLAN_PORT },
	{ "prefix", required_argument, NULL, OPT_PREFIX },
	{ "rotate-size", required_argument, NULL, OPT_ROTATE_SIZE },
	{ "rotate-interval", required_argument, NULL, OPT_ROTATE_INTERVAL },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "dump-config", no_argument, NULL, OPT_DUMP_CONFIG },
	{ "interface", required_argument, NULL, 'i' },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "bind-mode", required_argument, NULL, OPT_BIND_MODE },
	{ "xdp-mode", required_argument, NULL, OPT_XDP_MODE },
	{ "allow-source", required_argument, NULL, OPT_ALLOW_SOURCE },
	{ "vni", required_argument, NULL, OPT_VNI },
	{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* A command-line option that overrides one config setting. */
struct override {
	const char *option; /* for messages: "--rotate-size" */
	const char *section, *key, *value;
};

#define MAX_OVERRIDES 32

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mirror-targetd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mirror-targetd --help' for more "
			"information.\n");
	return 2;
}

static const char *option_name(int c)
{
	for (const struct option *o = long_options; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

int main(int argc, char **argv)
{
	struct override ov[MAX_OVERRIDES];
	struct mt_offline_opts opts = { 0 };
	const char *config_path = NULL;
	char allow_src[4096] = "", allow_vni[2048] = "";
	bool live = false;
	bool have_output = false, dump = false;
	struct mt_config *cfg;
	struct mt_err err;
	size_t nov = 0;
	int c, ret = 2;

	while ((c = getopt_long(argc, argv, "r:o:c:s:qi:hV", long_options,
				NULL)) != -1) {
		const char *section = NULL, *key = NULL;

		switch (c) {
		case 'r':
			opts.input = optarg;
			break;
		case 'o':
			section = "output";
			key = "directory";
			have_output = true;
			break;
		case OPT_RULES:
			section = "filter";
			key = "rules";
			break;
		case OPT_FILTER_ID:
			section = "filter";
			key = "filter_id";
			break;
		case 'c':
			config_path = optarg;
			break;
		case 's':
			section = "output";
			key = "snaplen";
			break;
		case OPT_VXLAN_PORT:
			section = "capture";
			key = "vxlan_port";
			break;
		case OPT_PREFIX:
			section = "output";
			key = "prefix";
			break;
		case OPT_ROTATE_SIZE:
			section = "output";
			key = "rotate_size";
			break;
		case OPT_ROTATE_INTERVAL:
			section = "output";
			key = "rotate_interval";
			break;
		case OPT_FORMAT:
			section = "output";
			key = "format";
			break;
		case 'q':
			opts.quiet = true;
			break;
		case OPT_DUMP_CONFIG:
			dump = true;
			break;
		case 'i':
			live = true;
			section = "capture";
			key = "interface";
			break;
		case OPT_QUEUES:
			section = "capture";
			key = "queues";
			break;
		case OPT_BIND_MODE:
			section = "capture";
			key = "bind_mode";
			break;
		case OPT_XDP_MODE:
			section = "capture";
			key = "xdp_mode";
			break;
		case OPT_METRICS_LISTEN:
			section = "control";
			key = "metrics_listen";
			break;
		case OPT_ALLOW_SOURCE:
		case OPT_VNI: {
			/* Repeatable: joined into one list setting below. */
			char *list = c == OPT_VNI ? allow_vni : allow_src;
			size_t size = c == OPT_VNI ? sizeof(allow_vni) :
						     sizeof(allow_src);
			size_t n = strlen(list);

			if (snprintf(list + n, size - n, "%s%s", n ? "," : "",
				     optarg) >= (int)(size - n))
				return usage_error("too many --%s values",
						   option_name(c));
			break;
		}
		case 'h':
			usage();
			return 0;
		case 'V':
			printf("mirror-targetd %s\n", MT_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'mirror-targetd --help' for more "
					"information.\n");
			return 2;
		}
		if (section) {
			if (nov == MAX_OVERRIDES)
				return usage_error("too many options");
			ov[nov++] = (struct override){
				.option = option_name(c),
				.section = section,
				.key = key,
				.value = optarg,
			};
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument \"%s\"", argv[optind]);
	if (live && opts.input)
		return usage_error("-i (live capture) and --read (offline) "
				   "exclude each other");
	if (nov + 2 > MAX_OVERRIDES)
		return usage_error("too many options");
	if (allow_src[0])
		ov[nov++] = (struct override){ "allow-source", "capture",
					       "allow_sources", allow_src };
	if (allow_vni[0])
		ov[nov++] = (struct override){ "vni", "capture", "allow_vnis",
					       allow_vni };
	/* Live mode reads the system config when there is one. */
	if (live && !config_path && !access(MT_LIVE_DEFAULT_CONFIG, R_OK))
		config_path = MT_LIVE_DEFAULT_CONFIG;

	cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		fprintf(stderr, "mirror-targetd: out of memory\n");
		return 1;
	}
	mt_config_init(cfg);
	if (config_path && mt_config_load(cfg, config_path, &err)) {
		fprintf(stderr, "mirror-targetd: %s\n", err.msg);
		goto out;
	}
	for (size_t i = 0; i < nov; i++) {
		if (mt_config_set(cfg, ov[i].section, ov[i].key, ov[i].value,
				  &err)) {
			fprintf(stderr, "mirror-targetd: --%s: %s\n",
				ov[i].option, err.msg);
			goto out;
		}
	}
	if (mt_config_validate(cfg, &err)) {
		fprintf(stderr, "mirror-targetd: %s%s%s\n",
			config_path ? config_path : "", config_path ? ": " : "",
			err.msg);
		goto out;
	}
	if (dump) {
		mt_config_dump(cfg, stdout);
		ret = 0;
		goto out;
	}
	if (!opts.input) {
#ifdef MT_HAVE_LIVE
		/* SIGHUP rebuilds the config the same way: file, options. */
		mt_config_origin_set_file(config_path);
		for (size_t i = 0; i < nov; i++)
			mt_config_origin_add(ov[i].section, ov[i].key,
					     ov[i].value);
		ret = mt_live_run(cfg);
#else
		fprintf(stderr,
			"mirror-targetd: this build has no live capture (it "
			"needs clang, bpftool, libbpf and libxdp at build "
			"time); use --read FILE\n");
#endif
		goto out;
	}
	if (!have_output && !config_path) {
		usage_error("--read needs --output-dir DIR (where the segments "
			    "go)");
		goto out;
	}
	if (opts.quiet)
		mt_log_level = MT_LOG_WARN;
	ret = mt_offline_run(cfg, &opts);
out:
	mt_config_free(cfg);
	free(cfg);
	return ret;
}
