// SPDX-License-Identifier: GPL-2.0-only
/*
 * mirrorctl: the command-line companion of mirror-targetd.
 *
 * Every command is one row of `commands[]`: its name, its handler, a
 * one-line summary for `mirrorctl --help` and a man-page style help text
 * for `mirrorctl COMMAND --help`.  check-rules, import-aws-filter and
 * check-config work on files alone; status, rules, segments, rotate, reload
 * and export talk to a running daemon over its control socket (protocol in
 * daemon/control.h: one request line, one JSON answer).  segments and
 * export read the segment files themselves, so that scanning gigabytes
 * never stalls the daemon's control thread.
 *
 * Exit status follows the daemon's: 0 success, 1 an operation failed
 * (an output file could not be written), 2 bad usage or invalid input
 * (the message names FILE:LINE:COL and says how to fix it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mirror-target/config.h"
#include "mirror-target/ip.h"
#include "mirror-target/log.h"
#include "mirror-target/pcap.h"
#include "mirror-target/rules.h"
#include "mirror-target/segment.h"

/* The build may pass the project version; mirror-targetd does the same. */
#ifndef MT_VERSION
#define MT_VERSION "0.1.0"
#endif

enum {
	MT_EXIT_OK = 0,
	MT_EXIT_FAILED = 1,
	MT_EXIT_USAGE = 2,
};

struct mt_cmd {
	const char *name;
	int (*run)(const struct mt_cmd *cmd, int argc, char **argv);
	const char *summary; /* one line for `mirrorctl --help` */
	const char *usage; /* synopsis, after "mirrorctl " */
	const char *help; /* the rest of `mirrorctl COMMAND --help` */
};

static const char *prog = "mirrorctl";

static void usage_hint(const struct mt_cmd *cmd)
{
	if (cmd)
		fprintf(stderr, "usage: %s %s\nTry '%s %s --help'.\n", prog,
			cmd->usage, prog, cmd->name);
	else
		fprintf(stderr, "Try '%s --help'.\n", prog);
}

static void print_cmd_help(const struct mt_cmd *cmd)
{
	printf("NAME\n    %s %s - %s\n\nSYNOPSIS\n    %s %s\n\n%s", prog,
	       cmd->name, cmd->summary, prog, cmd->usage, cmd->help);
}

static void reset_getopt(void)
{
	/* 0, not 1: glibc then also forgets its internal state. */
	optind = 0;
}

/*
 * The end of every option loop: -h prints the command's help (exit 0),
 * anything getopt did not know points at it (exit 2).
 */
static int help_or_usage(const struct mt_cmd *cmd, int c)
{
	if (c == 'h') {
		print_cmd_help(cmd);
		return MT_EXIT_OK;
	}
	usage_hint(cmd);
	return MT_EXIT_USAGE;
}

/* After the options, exactly one WHAT (a file); 0 or the exit status. */
static int one_file_arg(const struct mt_cmd *cmd, int argc, char **argv,
			const char *what, const char **path)
{
	if (argc - optind != 1) {
		fprintf(stderr, "%s %s: expected one %s, got %d\n", prog,
			cmd->name, what, argc - optind);
		usage_hint(cmd);
		return MT_EXIT_USAGE;
	}
	*path = argv[optind];
	return MT_EXIT_OK;
}

/* After the options, nothing; 0 or the exit status. */
static int no_more_args(const struct mt_cmd *cmd, int argc, char **argv)
{
	if (optind == argc)
		return MT_EXIT_OK;
	fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
	usage_hint(cmd);
	return MT_EXIT_USAGE;
}

/* ---- rule sets ---------------------------------------------------------- */

static const char *dir_name(uint8_t dir)
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

static void format_proto(int proto, char *buf, size_t size)
{
	const char *name;

	if (proto == MT_PROTO_ALL) {
		snprintf(buf, size, "all");
		return;
	}
	name = mt_proto_name(proto);
	if (name)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%d", proto);
}

static void format_ports(bool has, uint16_t lo, uint16_t hi, char *buf,
			 size_t size)
{
	if (!has)
		snprintf(buf, size, "-");
	else if (lo == hi)
		snprintf(buf, size, "%u", lo);
	else
		snprintf(buf, size, "%u-%u", lo, hi);
}

/* "all", or "42,43,..." cut short to fit buf */
static void format_vnis(const struct mt_rule *r, char *buf, size_t size)
{
	size_t i, used = 0;
	int n;

	if (!r->nvnis) {
		snprintf(buf, size, "all");
		return;
	}
	buf[0] = '\0';
	for (i = 0; i < r->nvnis; i++) {
		/* Keep room for the "..." that says the list goes on. */
		n = snprintf(buf + used, size - used, "%s%u", i ? "," : "",
			     r->vnis[i]);
		if (n < 0 || used + (size_t)n + 4 > size) {
			snprintf(buf + used, size - used, "...");
			return;
		}
		used += (size_t)n;
	}
}

static int imax(int a, int b)
{
	return a > b ? a : b;
}

/*
 * The rule set as a table in evaluation order: the order the first-match
 * decision walks, which is not the file's order when numbers are not
 * ascending or ingress and egress rules share numbers.
 */
static void print_rule_table(const struct mt_ruleset *rs)
{
	size_t i, n = mt_ruleset_count(rs);
	char src[MT_IP_STRLEN], dst[MT_IP_STRLEN];
	char proto[16], sport[16], dport[16], vnis[64], line[16];
	int wsrc = (int)strlen("SOURCE"), wdst = (int)strlen("DESTINATION");
	int wvni = (int)strlen("VNI");

	/* First pass sizes the address and VNI columns: IPv6 CIDRs are wide. */
	for (i = 0; i < n; i++) {
		const struct mt_rule *r = mt_ruleset_rule(rs, i);

		wsrc = imax(wsrc, (int)strlen(mt_cidr_format(&r->src, src)));
		wdst = imax(wdst, (int)strlen(mt_cidr_format(&r->dst, dst)));
		format_vnis(r, vnis, sizeof(vnis));
		wvni = imax(wvni, (int)strlen(vnis));
	}

	printf("%5s %6s %-6s %-7s %-7s %-*s %-*s %-11s %-11s %-*s %5s  %s\n",
	       "ORDER", "NUMBER", "ACTION", "DIR", "PROTO", wsrc, "SOURCE",
	       wdst, "DESTINATION", "SPORT", "DPORT", wvni, "VNI", "LINE",
	       "DESCRIPTION");
	for (i = 0; i < n; i++) {
		const struct mt_rule *r = mt_ruleset_rule(rs, i);

		format_proto(r->proto, proto, sizeof(proto));
		format_ports(r->has_sport, r->sport_lo, r->sport_hi, sport,
			     sizeof(sport));
		format_ports(r->has_dport, r->dport_lo, r->dport_hi, dport,
			     sizeof(dport));
		format_vnis(r, vnis, sizeof(vnis));
		if (r->line)
			snprintf(line, sizeof(line), "%u", r->line);
		else
			snprintf(line, sizeof(line), "-");
		printf("%5zu %6u %-6s %-7s %-7s %-*s %-*s %-11s %-11s %-*s %5s  %s\n",
		       i + 1, r->number,
		       r->action == MT_ACTION_ACCEPT ? "accept" : "reject",
		       dir_name(r->dir), proto, wsrc,
		       mt_cidr_format(&r->src, src), wdst,
		       mt_cidr_format(&r->dst, dst), sport, dport, wvni, vnis,
		       line, r->desc[0] ? r->desc : "-");
	}
}

static void warn_if_empty(const char *path, const struct mt_ruleset *rs)
{
	/* AWS semantics: a packet no rule matches is not captured. */
	if (!mt_ruleset_count(rs))
		fprintf(stderr,
			"%s: warning: no rules: every packet would be left out "
			"(add an accept rule, or configure no rules file to "
			"capture everything)\n",
			path);
}

static bool is_json_name(const char *path)
{
	size_t n = strlen(path);

	return n >= 5 && !strcmp(path + n - 5, ".json");
}

static int cmd_check_rules(const struct mt_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "filter-id", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *filter_id = NULL, *path;
	struct mt_ruleset *rs;
	struct mt_err err = { "" };
	bool quiet = false;
	size_t n;
	int c;

	while ((c = getopt_long(argc, argv, "f:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			filter_id = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return help_or_usage(cmd, c);
		}
	}
	if (one_file_arg(cmd, argc, argv, "rules file", &path))
		return MT_EXIT_USAGE;
	if (filter_id && !is_json_name(path))
		fprintf(stderr,
			"%s: warning: --filter-id %s is ignored: only AWS JSON "
			"files (*.json) hold several filters\n",
			path, filter_id);

	rs = mt_ruleset__load(path, filter_id, &err);
	if (!rs) {
		fprintf(stderr, "%s\n", err.msg[0] ? err.msg : path);
		return MT_EXIT_USAGE;
	}
	n = mt_ruleset_count(rs);
	printf("%s: %zu rule%s OK\n", path, n, n == 1 ? "" : "s");
	if (!quiet && n)
		print_rule_table(rs);
	warn_if_empty(path, rs);
	mt_ruleset__destroy(rs);
	return MT_EXIT_OK;
}

/* Reads all of f into a NUL-terminated heap buffer.  0 or -errno. */
static int read_all(FILE *f, char **text, size_t *len)
{
	size_t cap = 64 * 1024, used = 0, got;
	char *buf = malloc(cap), *bigger;

	if (!buf)
		return -ENOMEM;
	while ((got = fread(buf + used, 1, cap - used - 1, f)) > 0) {
		used += got;
		if (cap - used - 1 > 0)
			continue;
		bigger = realloc(buf, cap * 2);
		if (!bigger) {
			free(buf);
			return -ENOMEM;
		}
		buf = bigger;
		cap *= 2;
	}
	if (ferror(f)) {
		free(buf);
		return -EIO;
	}
	buf[used] = '\0';
	*text = buf;
	*len = used;
	return 0;
}

/*
 * Writes the native form next to OUT and renames it into place, so a
 * failed import never leaves a half-written rules file where the daemon
 * would read it.
 */
static int write_native_atomic(const struct mt_ruleset *rs, const char *out)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", out) >= (int)sizeof(tmp)) {
		fprintf(stderr, "%s: path too long\n", out);
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "%s: cannot create: %s\n", out,
			strerror(errno));
		return err;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto out_unlink;
	}
	/* mkstemp makes 0600; a rules file is not secret, make it 0644. */
	fchmod(fd, 0644);
	errno = 0;
	if (mt_ruleset_write_native(rs, f) < 0 || fflush(f) || fsync(fd)) {
		err = errno ? -errno : -EIO;
		fclose(f);
		goto out_unlink;
	}
	if (fclose(f)) {
		err = -errno;
		goto out_unlink;
	}
	if (rename(tmp, out)) {
		err = -errno;
		goto out_unlink;
	}
	return 0;

out_unlink:
	fprintf(stderr, "%s: cannot write: %s\n", out, strerror(-err));
	unlink(tmp);
	return err;
}

static int cmd_import_aws_filter(const struct mt_cmd *cmd, int argc,
				 char **argv)
{
	static const struct option opts[] = {
		{ "filter-id", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *filter_id = NULL, *out = NULL, *path, *name;
	struct mt_err err = { "" };
	struct mt_ruleset *rs;
	char *text = NULL;
	size_t len;
	FILE *in;
	int c, ret;

	while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			filter_id = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return help_or_usage(cmd, c);
		}
	}
	if (one_file_arg(cmd, argc, argv, "JSON file (or -)", &path))
		return MT_EXIT_USAGE;

	/*
	 * Always the AWS parser, whatever the name ends in: the input is
	 * what `aws ec2 describe-traffic-mirror-filters` printed, often
	 * piped in or saved without an extension.
	 */
	if (!strcmp(path, "-")) {
		in = stdin;
		name = "<stdin>";
	} else {
		in = fopen(path, "r");
		name = path;
		if (!in) {
			fprintf(stderr, "%s: cannot open: %s\n", path,
				strerror(errno));
			return MT_EXIT_USAGE;
		}
	}
	ret = read_all(in, &text, &len);
	if (in != stdin)
		fclose(in);
	if (ret) {
		fprintf(stderr, "%s: cannot read: %s\n", name, strerror(-ret));
		return MT_EXIT_USAGE;
	}

	rs = mt_ruleset__parse_aws(name, text, len, filter_id, &err);
	free(text);
	if (!rs) {
		fprintf(stderr, "%s\n", err.msg[0] ? err.msg : name);
		return MT_EXIT_USAGE;
	}
	warn_if_empty(name, rs);
	if (out) {
		ret = write_native_atomic(rs, out) ? MT_EXIT_FAILED :
						     MT_EXIT_OK;
	} else {
		ret = MT_EXIT_OK;
		if (mt_ruleset_write_native(rs, stdout) < 0 || fflush(stdout)) {
			fprintf(stderr, "%s: cannot write to stdout: %s\n",
				prog, strerror(errno));
			ret = MT_EXIT_FAILED;
		}
	}
	mt_ruleset__destroy(rs);
	return ret;
}

/* ---- configuration ------------------------------------------------------ */

static int cmd_check_config(const struct mt_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dump", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct mt_err err = { "" };
	struct mt_ruleset *rs;
	struct mt_config cfg;
	bool dump = false;
	const char *path;
	int c, ret = MT_EXIT_OK;

	while ((c = getopt_long(argc, argv, "dh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dump = true;
			break;
		default:
			return help_or_usage(cmd, c);
		}
	}
	if (one_file_arg(cmd, argc, argv, "config file", &path))
		return MT_EXIT_USAGE;

	mt_config_init(&cfg);
	if (mt_config_load(&cfg, path, &err)) {
		fprintf(stderr, "%s\n", err.msg[0] ? err.msg : path);
		ret = MT_EXIT_USAGE;
		goto out_free;
	}
	/* Cross-setting errors have no line of their own: name the file. */
	if (mt_config_validate(&cfg, &err)) {
		fprintf(stderr, "%s: %s\n", path, err.msg);
		ret = MT_EXIT_USAGE;
		goto out_free;
	}
	/*
	 * The rules file is part of what the daemon will refuse to start
	 * with, so check it too rather than report OK and fail later.
	 */
	if (cfg.rules[0]) {
		rs = mt_ruleset__load(cfg.rules,
				      cfg.filter_id[0] ? cfg.filter_id : NULL,
				      &err);
		if (!rs) {
			fprintf(stderr, "%s\n",
				err.msg[0] ? err.msg : cfg.rules);
			fprintf(stderr,
				"%s: the [filter] rules file above is not valid\n",
				path);
			ret = MT_EXIT_USAGE;
			goto out_free;
		}
		printf("%s: %zu rule%s OK\n", cfg.rules, mt_ruleset_count(rs),
		       mt_ruleset_count(rs) == 1 ? "" : "s");
		warn_if_empty(cfg.rules, rs);
		mt_ruleset__destroy(rs);
	}
	printf("%s: OK\n", path);
	if (dump)
		mt_config_dump(&cfg, stdout);

out_free:
	mt_config_free(&cfg);
	return ret;
}

/* ---- talking to the daemon ---------------------------------------------- */

#define MT_DEFAULT_SOCKET "/run/mirror-target/control.sock"
#define MT_GROUP "mirror-target"
#define NSEC 1000000000ull

#define MT_DEFAULT_CONFIG "/etc/mirror-target/mirror-target.conf"

/*
 * --socket before the command, or the default; a command's own wins.
 * Without --socket, [control] control_socket of the config file (--config
 * FILE, else the system one when it exists) names it.
 */
static const char default_socket[] = MT_DEFAULT_SOCKET;
static const char *socket_path = default_socket;
static const char *config_path;

/* Where the daemon listens, when no --socket said it.  0 or exit status. */
static int resolve_socket(void)
{
	static char from_config[sizeof(((struct mt_config *)0)->control_socket)];
	const char *path = config_path ? config_path : MT_DEFAULT_CONFIG;
	struct mt_config *cfg;
	struct mt_err err;
	int ret = MT_EXIT_OK;

	if (socket_path != default_socket ||
	    (!config_path && access(path, F_OK)))
		return MT_EXIT_OK;
	cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return MT_EXIT_FAILED;
	}
	mt_config_init(cfg);
	if (mt_config_load(cfg, path, &err)) {
		fprintf(stderr,
			"%s: %s (mirrorctl reads [control] control_socket "
			"there; fix the file, or give --socket PATH)\n",
			prog, err.msg);
		ret = MT_EXIT_USAGE;
	} else if (!cfg->control_socket[0]) {
		fprintf(stderr,
			"%s: %s sets no control_socket: the daemon has no "
			"control socket (set [control] control_socket and "
			"restart mirror-targetd)\n",
			prog, path);
		ret = MT_EXIT_FAILED;
	} else {
		snprintf(from_config, sizeof(from_config), "%s",
			 cfg->control_socket);
		socket_path = from_config;
	}
	mt_config_free(cfg);
	free(cfg);
	return ret;
}

static const char *const time_formats =
	"accepted: RFC 3339 such as 2024-05-01T12:00:00Z, "
	"2024-05-01T14:00:00.250+02:00, or unix seconds such as 1714564800";

/*
 * Sends one request line, reads the one JSON answer.  Returns 0 with *out
 * (an object holding "ok": true), or an exit status after explaining on
 * stderr what went wrong and what to do.
 */
static int ctl_request(const char *req, json_t **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *buf = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *ans;
	FILE *mem;
	int fd, e;

	*out = NULL;
	e = resolve_socket();
	if (e)
		return e;
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: socket path %s is too long\n", prog,
			socket_path);
		return MT_EXIT_USAGE;
	}
	memcpy(sa.sun_path, socket_path, strlen(socket_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		e = errno;
		if (fd >= 0)
			close(fd);
		if (e == EACCES || e == EPERM)
			fprintf(stderr,
				"%s: permission denied on %s: run as root or "
				"join group %s (sudo usermod -aG %s $USER, "
				"then log in again)\n",
				prog, socket_path, MT_GROUP, MT_GROUP);
		else
			fprintf(stderr,
				"%s: cannot connect to %s: %s; is "
				"mirror-targetd running? (systemctl status "
				"mirror-targetd; or give its socket with "
				"--socket PATH)\n",
				prog, socket_path, strerror(e));
		return MT_EXIT_FAILED;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A refusal may close early: its answer is still there to read. */
	if (write(fd, req, strlen(req)) == (ssize_t)strlen(req))
		(void)!write(fd, "\n", 1);
	mem = open_memstream(&buf, &len);
	if (!mem) {
		close(fd);
		return MT_EXIT_FAILED;
	}
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fwrite(chunk, 1, (size_t)n, mem);
	}
	fclose(mem);
	close(fd);
	ans = json_loadb(buf ? buf : "", len, 0, &jerr);
	free(buf);
	if (!json_is_object(ans)) {
		fprintf(stderr,
			"%s: no valid answer from %s (%s); is the daemon "
			"there a mirror-targetd of the same version?\n",
			prog, socket_path, len ? jerr.text : "empty answer");
		json_decref(ans);
		return MT_EXIT_FAILED;
	}
	if (!json_is_true(json_object_get(ans, "ok"))) {
		const char *msg =
			json_string_value(json_object_get(ans, "error"));

		fprintf(stderr, "%s: %s\n", prog, msg ? msg : "request failed");
		json_decref(ans);
		return MT_EXIT_FAILED;
	}
	*out = ans;
	return 0;
}

/* Prints the answer O as indented JSON and lets go of it; exit 0. */
static int print_json(json_t *o, size_t flags)
{
	json_dumpf(o, stdout, JSON_INDENT(2) | flags);
	putchar('\n');
	json_decref(o);
	return MT_EXIT_OK;
}

static uint64_t jget(json_t *o, const char *path)
{
	char key[64];
	const char *dot;

	/* "a.b.c": nested objects; missing = 0 */
	while (o && (dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		o = json_object_get(o, key);
		path = dot + 1;
	}
	o = o ? json_object_get(o, path) : NULL;
	if (json_is_integer(o))
		return (uint64_t)json_integer_value(o);
	if (json_is_real(o))
		return (uint64_t)json_real_value(o);
	return 0;
}

static const char *jstr(json_t *o, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : def;
}

static void fmt_bytes(double v, char *buf, size_t size)
{
	static const char *const unit[] = { "B",   "KiB", "MiB",
					    "GiB", "TiB", "PiB" };
	int i = 0;

	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	snprintf(buf, size, i ? "%.1f %s" : "%.0f %s", v, unit[i]);
}

static void fmt_rate(double v, const char *u, char *buf, size_t size)
{
	static const char *const pre[] = { "", "k", "M", "G", "T" };
	int i = 0;

	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, size, "%.*f %s%s", i ? 1 : 0, v, pre[i], u);
}

static void fmt_duration(uint64_t s, char *buf, size_t size)
{
	if (s >= 86400)
		snprintf(buf, size, "%llud%02lluh%02llum",
			 (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, size, "%lluh%02llum%02llus",
			 (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60),
			 (unsigned long long)(s % 60));
}

static void fmt_time(uint64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / NSEC);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03lluZ",
		 (unsigned long long)(ns % NSEC / 1000000));
}

static uint64_t sum_array(json_t *arr, const char *key)
{
	uint64_t s = 0;
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		s += jget(v, key);
	return s;
}

/*
 * The compact human view.  prev (may be NULL) is an earlier snapshot: the
 * rates are over the time between the two.
 */
static void print_status(json_t *st, json_t *prev)
{
	json_t *cap = json_object_get(st, "capture");
	json_t *flt = json_object_get(st, "filter");
	json_t *seg = json_object_get(st, "segments");
	json_t *xdp = json_object_get(st, "xdp");
	json_t *socks = json_object_get(st, "sockets");
	json_t *vnis = json_object_get(st, "vnis");
	double now = json_real_value(
		json_object_get(json_object_get(st, "daemon"), "now_unix"));
	char a[64], b[64], c[64], d[64];
	const char *cur = jstr(seg, "current", NULL);
	size_t i;
	json_t *v;

	fmt_duration(jget(st, "daemon.uptime_seconds"), a, sizeof(a));
	printf("mirror-targetd %s, pid %llu, up %s\n",
	       jstr(json_object_get(st, "daemon"), "version", "?"),
	       (unsigned long long)jget(st, "daemon.pid"), a);
	printf("interface   %s, %s XDP (%s), bind %s, %llu queue%s/worker%s\n",
	       jstr(cap, "interface", "?"), jstr(cap, "xdp_mode", "?"),
	       jstr(cap, "xdp_program", "?"), jstr(cap, "bind_mode", "?"),
	       (unsigned long long)jget(cap, "queues"),
	       jget(cap, "queues") == 1 ? "" : "s",
	       jget(cap, "queues") == 1 ? "" : "s");
	if (!strcmp(jstr(flt, "state", "off"), "on"))
		printf("filter      on: %s, %llu rule%s (%llu reload%s, %llu "
		       "failed)\n",
		       jstr(flt, "rules_file", "?"),
		       (unsigned long long)jget(flt, "rules"),
		       jget(flt, "rules") == 1 ? "" : "s",
		       (unsigned long long)jget(flt, "reloads"),
		       jget(flt, "reloads") == 1 ? "" : "s",
		       (unsigned long long)jget(flt, "reload_failures"));
	else
		printf("filter      off: everything is captured\n");
	printf("segment     %s in %s%s\n", cur ? cur : "(none open)",
	       jstr(seg, "dir", "?"),
	       json_is_true(json_object_get(seg, "stopped")) ?
		       " -- WRITING STOPPED (disk full)" :
		       "");
	fmt_bytes((double)jget(seg, "bytes_on_disk"), a, sizeof(a));
	fmt_bytes((double)jget(st, "disk.available_bytes"), b, sizeof(b));
	fmt_bytes((double)jget(st, "disk.total_bytes"), c, sizeof(c));
	printf("disk        %llu sealed segment%s, %s; %s free of %s\n",
	       (unsigned long long)jget(seg, "sealed_on_disk"),
	       jget(seg, "sealed_on_disk") == 1 ? "" : "s", a, b, c);
	if (prev) {
		double pnow = json_real_value(json_object_get(
			json_object_get(prev, "daemon"), "now_unix"));
		double dt = now - pnow > 0.001 ? now - pnow : 0.001;

		fmt_rate((double)(jget(st, "totals.frames") -
				  jget(prev, "totals.frames")) /
				 dt,
			 "pps", a, sizeof(a));
		fmt_rate((double)(jget(st, "totals.frame_bytes") -
				  jget(prev, "totals.frame_bytes")) *
				 8 / dt,
			 "bit/s", b, sizeof(b));
		fmt_rate((double)(jget(st, "writer.records") -
				  jget(prev, "writer.records")) /
				 dt,
			 "pps", c, sizeof(c));
		printf("rates       received %s, %s; written %s (over %.1f s)\n",
		       a, b, c, dt);
	}
	fmt_bytes((double)jget(st, "totals.frame_bytes"), a, sizeof(a));
	printf("received    %llu frames (%s), %llu decapsulated\n",
	       (unsigned long long)jget(st, "totals.frames"), a,
	       (unsigned long long)jget(st, "totals.decap_ok"));
	printf("verdicts    %llu accepted, %llu rejected, %llu unmatched\n",
	       (unsigned long long)jget(flt, "accepted"),
	       (unsigned long long)jget(flt, "rejected"),
	       (unsigned long long)jget(flt, "unmatched"));
	fmt_bytes((double)jget(st, "writer.bytes"), a, sizeof(a));
	printf("written     %llu records (%s), %llu segments sealed, %llu "
	       "waits for write-behind\n",
	       (unsigned long long)jget(st, "writer.records"), a,
	       (unsigned long long)jget(seg, "sealed"),
	       (unsigned long long)jget(st, "writer.queue_waits"));
	printf("drops       xdp: %llu source not allowed, %llu vni not "
	       "allowed, %llu invalid, %llu redirect failed\n"
	       "            sockets: %llu rx_dropped, %llu rx_ring_full, %llu "
	       "fill ring empty\n"
	       "            writer: %llu disk full, %llu stopped, %llu I/O "
	       "error\n",
	       (unsigned long long)jget(xdp, "source_not_allowed"),
	       (unsigned long long)jget(xdp, "vni_not_allowed"),
	       (unsigned long long)jget(xdp, "invalid_vxlan"),
	       (unsigned long long)jget(xdp, "redirect_failed"),
	       (unsigned long long)sum_array(socks, "rx_dropped"),
	       (unsigned long long)sum_array(socks, "rx_ring_full"),
	       (unsigned long long)sum_array(socks, "rx_fill_ring_empty_descs"),
	       (unsigned long long)jget(st, "writer.dropped_disk_full"),
	       (unsigned long long)jget(st, "writer.dropped_stopped"),
	       (unsigned long long)jget(st, "writer.dropped_io_error"));
	printf("segments    backlog: %llu to compress, %llu for hooks; %llu "
	       "write errors, %llu records lost with a removed directory, "
	       "%llu sealed without VNI index\n",
	       (unsigned long long)jget(seg, "compress_backlog"),
	       (unsigned long long)jget(seg, "hook_backlog"),
	       (unsigned long long)jget(seg, "write_errors"),
	       (unsigned long long)jget(seg, "records_lost"),
	       (unsigned long long)jget(seg, "sealed_without_index"));
	printf("%-11s %14s %16s %14s %16s %10s\n", "VNI", "in packets",
	       "in bytes", "out packets", "out bytes", "unknown");
	json_array_foreach(vnis, i, v) {
		snprintf(d, sizeof(d), "%llu%s%s",
			 (unsigned long long)jget(v, "vni"),
			 json_is_string(json_object_get(v, "session")) ? " " :
									 "",
			 jstr(v, "session", ""));
		printf("%-11s %14llu %16llu %14llu %16llu %10llu\n", d,
		       (unsigned long long)jget(v, "ingress.packets"),
		       (unsigned long long)jget(v, "ingress.bytes"),
		       (unsigned long long)jget(v, "egress.packets"),
		       (unsigned long long)jget(v, "egress.bytes"),
		       (unsigned long long)jget(v, "unknown.packets"));
	}
}

static volatile sig_atomic_t stop_watch;

static void on_sigint(int sig)
{
	(void)sig;
	stop_watch = 1;
}

static bool parse_secs(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return !errno && end != s && !*end && *out > 0 && *out <= 86400;
}

static int cmd_status(const struct mt_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool json = false, watch = false;
	double secs = 1;
	json_t *st, *prev = NULL;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jw::S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'w':
			watch = true;
			/* `--watch 2` as well as `--watch=2` */
			if (!optarg && optind < argc &&
			    parse_secs(argv[optind], &secs))
				optind++;
			else if (optarg && !parse_secs(optarg, &secs)) {
				fprintf(stderr,
					"%s: --watch %s: give the refresh "
					"interval in seconds, e.g. --watch 2\n",
					prog, optarg);
				return MT_EXIT_USAGE;
			}
			break;
		case 'S':
			socket_path = optarg;
			break;
		default:
			return help_or_usage(cmd, c);
		}
	}
	ret = no_more_args(cmd, argc, argv);
	if (ret)
		return ret;
	ret = ctl_request("status", &st);
	if (ret)
		return ret;
	json_object_del(st, "ok");
	if (json && !watch)
		return print_json(st, JSON_SORT_KEYS);
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	if (!watch) {
		/* A second sample for the rates. */
		prev = st;
		usleep(1000000);
		ret = ctl_request("status", &st);
		if (ret) {
			json_decref(prev);
			return ret;
		}
		print_status(st, prev);
		json_decref(prev);
		json_decref(st);
		return MT_EXIT_OK;
	}
	for (;;) {
		/* Like top: home, clear, redraw. */
		if (json) {
			json_object_del(st, "ok");
			json_dumpf(st, stdout, JSON_COMPACT | JSON_SORT_KEYS);
			putchar('\n');
		} else {
			printf("\033[H\033[2J");
			print_status(st, prev);
			printf("\n(every %.1f s; Ctrl-C to quit)\n", secs);
		}
		fflush(stdout);
		json_decref(prev);
		prev = st;
		usleep((useconds_t)(secs * 1e6));
		if (stop_watch)
			break;
		ret = ctl_request("status", &st);
		if (ret || stop_watch)
			break;
	}
	json_decref(prev);
	return stop_watch ? MT_EXIT_OK : ret;
}

/* Options every daemon command takes besides --help. */
static int simple_opts(const struct mt_cmd *cmd, int argc, char **argv,
		       bool *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "jS:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if (!json)
				goto bad;
			*json = true;
			break;
		case 'S':
			socket_path = optarg;
			break;
		case 'h':
			print_cmd_help(cmd);
			return -1;
		default:
			goto bad;
		}
	}
	return no_more_args(cmd, argc, argv);
bad:
	usage_hint(cmd);
	return MT_EXIT_USAGE;
}

static int cmd_rules(const struct mt_cmd *cmd, int argc, char **argv)
{
	bool json = false;
	json_t *ans, *rules, *r;
	size_t i;
	int ret;

	ret = simple_opts(cmd, argc, argv, &json);
	if (ret)
		return ret < 0 ? MT_EXIT_OK : ret;
	ret = ctl_request("rules", &ans);
	if (ret)
		return ret;
	json_object_del(ans, "ok");
	if (json)
		return print_json(ans, JSON_SORT_KEYS);
	rules = json_object_get(ans, "rules");
	if (strcmp(jstr(ans, "filter", "off"), "on")) {
		printf("filter off: no rules file, everything is captured\n");
	} else {
		printf("%s: %zu rule%s; hits since %s\n",
		       jstr(ans, "rules_file", "?"), json_array_size(rules),
		       json_array_size(rules) == 1 ? "" : "s",
		       jget(ans, "reloads") ? "the last reload" :
					      "the daemon started");
		printf("%5s %12s %16s  %s\n", "ORDER", "PACKETS", "BYTES",
		       "RULE");
		json_array_foreach(rules, i, r)
			printf("%5llu %12llu %16llu  %s\n",
			       (unsigned long long)jget(r, "order"),
			       (unsigned long long)jget(r, "packets"),
			       (unsigned long long)jget(r, "bytes"),
			       jstr(r, "rule", "?"));
		if (jget(ans, "workers_behind"))
			printf("(%llu worker%s not yet on these rules: their "
			       "hits are not counted yet)\n",
			       (unsigned long long)jget(ans, "workers_behind"),
			       jget(ans, "workers_behind") == 1 ? "" : "s");
	}
	json_decref(ans);
	return MT_EXIT_OK;
}

/* "WHAT FILE: a, b" for a non-empty array of setting names. */
static void print_names(const char *what, const char *file, json_t *arr,
			FILE *out)
{
	size_t i;
	json_t *v;

	if (!file || !json_array_size(arr))
		return;
	fprintf(out, "%s %s:", what, file);
	json_array_foreach(arr, i, v)
		fprintf(out, "%s %s", i ? "," : "", json_string_value(v));
	fputc('\n', out);
}

static int cmd_reload(const struct mt_cmd *cmd, int argc, char **argv)
{
	json_t *ans;
	int ret;

	ret = simple_opts(cmd, argc, argv, NULL);
	if (ret)
		return ret < 0 ? MT_EXIT_OK : ret;
	ret = ctl_request("reload", &ans);
	if (ret) {
		if (ret == MT_EXIT_FAILED)
			fprintf(stderr,
				"%s: the daemon keeps the settings and "
				"rules it had\n",
				prog);
		return ret;
	}
	if (strcmp(jstr(ans, "filter", "off"), "on"))
		printf("no rules file configured: the filter stays off\n");
	else
		printf("reloaded %s: %llu rule%s in force\n",
		       jstr(ans, "rules_file", "?"),
		       (unsigned long long)jget(ans, "rules"),
		       jget(ans, "rules") == 1 ? "" : "s");
	print_names("applied from", jstr(ans, "config", NULL),
		    json_object_get(ans, "applied"), stdout);
	print_names("needs a restart (old value kept), from",
		    jstr(ans, "config", NULL),
		    json_object_get(ans, "restart_needed"), stderr);
	json_decref(ans);
	return MT_EXIT_OK;
}

/* ---- segment files ------------------------------------------------------ */

struct seg_file {
	char name[256];
	uint64_t size;
	uint64_t records;
	uint64_t min_ts, max_ts; /* ns; 0 when no records */
	bool gz, bad;
	bool skip; /* export --vni: no usable index; its time still counts */
	struct mt_vnix_run *runs; /* its VNI index, sorted by offset */
	size_t nruns;
};

/* A --vni list; NULL vnis means every record. */
struct vni_filter {
	const uint32_t *vnis;
	size_t n;
};

static bool vni_wanted(const struct vni_filter *f, uint32_t vni)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->vnis[i] == vni)
			return true;
	return false;
}

/*
 * The VNI index beside a segment (NAME.vni for NAME.pcap[.gz]).  0, or
 * -ENOENT (none: from before VNI indexes, or its segment's index could
 * not be written), -EPROTO (not an index) or another -errno.
 */
static int load_index(const char *dir, struct seg_file *s)
{
	char path[PATH_MAX + 256];
	size_t len = strlen(s->name), sl = s->gz ? 8 : 5;
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%.*s%s", dir, (int)(len - sl), s->name,
		 MT_VNIX_SUFFIX);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = mt_vnix_read(fd, &s->runs, &s->nruns);
	close(fd);
	return ret;
}

static void free_segments(struct seg_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].runs);
	free(v);
}

static bool is_sealed_name(const char *n, const char *prefix)
{
	size_t pl = strlen(prefix), len = strlen(n);

	if (strncmp(n, prefix, pl) || n[pl] != '-')
		return false;
	return (len > 5 && !strcmp(n + len - 5, ".pcap")) ||
	       (len > 8 && !strcmp(n + len - 8, ".pcap.gz"));
}

static int cmp_seg(const void *a, const void *b)
{
	return strcmp(((const struct seg_file *)a)->name,
		      ((const struct seg_file *)b)->name);
}

static void explain_dir_error(const char *dir, int e)
{
	fprintf(stderr, "%s: cannot read %s: %s", prog, dir, strerror(e));
	if (e == EACCES)
		fprintf(stderr,
			"; run as root or join group %s (sudo "
			"usermod -aG %s $USER, then log in again)",
			MT_GROUP, MT_GROUP);
	fputc('\n', stderr);
}

/* Sealed segments of dir in name (= time) order.  0 or an exit status. */
static int list_segments(const char *dir, const char *prefix,
			 struct seg_file **out, size_t *n)
{
	struct seg_file *v = NULL, *bigger;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	*out = NULL;
	*n = 0;
	if (!d) {
		explain_dir_error(dir, errno);
		return MT_EXIT_FAILED;
	}
	while ((e = readdir(d))) {
		struct stat st;

		if (!is_sealed_name(e->d_name, prefix))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			bigger = realloc(v, cap * sizeof(*v));
			if (!bigger) {
				free(v);
				closedir(d);
				return MT_EXIT_FAILED;
			}
			v = bigger;
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", e->d_name);
		v[cnt].gz = strlen(e->d_name) > 3 &&
			    !strcmp(e->d_name + strlen(e->d_name) - 3, ".gz");
		if (!fstatat(dirfd(d), e->d_name, &st, 0))
			v[cnt].size = (uint64_t)st.st_size;
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_seg);
	*out = v;
	*n = cnt;
	return 0;
}

/*
 * An fd with the segment's pcap bytes: the file itself, or for .pcap.gz
 * an unlinked temporary file it was inflated into.  -errno on failure.
 */
static int open_plain(const char *dir, const struct seg_file *s)
{
	char path[PATH_MAX + 256];
	char buf[65536];
	gzFile gz;
	FILE *tmp;
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s", dir, s->name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !s->gz)
		return fd < 0 ? -errno : fd;
	gz = gzdopen(fd, "rb");
	tmp = tmpfile();
	if (!gz || !tmp) {
		if (gz)
			gzclose(gz);
		else
			close(fd);
		if (tmp)
			fclose(tmp);
		return -ENOMEM;
	}
	while ((n = gzread(gz, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, tmp);
	gzclose(gz);
	fflush(tmp);
	fd = dup(fileno(tmp));
	fclose(tmp);
	return fd < 0 ? -errno : fd;
}

/* One record of a segment, for sorting. */
struct rec_ref {
	uint64_t ts;
	uint64_t off; /* of the record header */
	uint32_t file; /* index into the cluster's fds */
	uint32_t caplen, len;
};

/*
 * Walks the whole records of fd (up to what mt_pcap_scan_fd found valid):
 * counts them, finds the earliest and latest timestamps, and with refs
 * appends those within [from, to) (and with a filter, of its VNIs).  The
 * VNI of a record comes from s's index, whose runs sorted by offset must
 * follow the records one by one: a record no run starts or continues
 * means the index does not belong to this file (-EBADMSG).  0 or -errno.
 */
static int walk_segment(int fd, struct seg_file *s, uint64_t from, uint64_t to,
			uint32_t file, struct rec_ref **refs, size_t *nrefs,
			size_t *cap, uint32_t *snaplen,
			const struct vni_filter *filter)
{
	struct mt_pcap_scan scan;
	struct mt_pcap_rec_hdr rh;
	uint64_t pos = MT_PCAP_HDR_LEN;
	uint32_t left = 0, vni = 0;
	size_t run = 0;
	FILE *f;
	int ret, dfd;

	ret = mt_pcap_scan_fd(fd, &scan);
	if (ret)
		return ret;
	if (snaplen && scan.snaplen > *snaplen)
		*snaplen = scan.snaplen;
	dfd = dup(fd);
	f = dfd >= 0 ? fdopen(dfd, "r") : NULL;
	if (!f) {
		if (dfd >= 0)
			close(dfd);
		return -ENOMEM;
	}
	s->records = 0;
	s->min_ts = UINT64_MAX;
	s->max_ts = 0;
	if (fseeko(f, (off_t)pos, SEEK_SET))
		goto out;
	while (pos + MT_PCAP_REC_HDR_LEN <= scan.valid_end &&
	       fread(&rh, sizeof(rh), 1, f) == 1) {
		uint64_t ts = (uint64_t)rh.ts_sec * NSEC +
			      (scan.nanosecond ? rh.ts_frac :
						 (uint64_t)rh.ts_frac * 1000);

		s->records++;
		if (ts < s->min_ts)
			s->min_ts = ts;
		if (ts > s->max_ts)
			s->max_ts = ts;
		if (filter) {
			if (!left) {
				if (run == s->nruns ||
				    s->runs[run].off != pos) {
					ret = -EBADMSG;
					goto out;
				}
				vni = s->runs[run].vni;
				left = s->runs[run++].count;
			}
			left--;
		}
		if (refs && ts >= from && ts < to &&
		    (!filter || vni_wanted(filter, vni))) {
			if (*nrefs == *cap) {
				size_t ncap = *cap ? *cap * 2 : 4096;
				struct rec_ref *b =
					realloc(*refs, ncap * sizeof(**refs));

				if (!b) {
					ret = -ENOMEM;
					goto out;
				}
				*refs = b;
				*cap = ncap;
			}
			(*refs)[(*nrefs)++] = (struct rec_ref){
				.ts = ts,
				.off = pos,
				.file = file,
				.caplen = rh.caplen,
				.len = rh.len,
			};
		}
		pos += MT_PCAP_REC_HDR_LEN + rh.caplen;
		if (fseeko(f, (off_t)pos, SEEK_SET))
			break;
	}
	/* Runs left over describe records this file does not have. */
	if (filter && (left || run != s->nruns))
		ret = -EBADMSG;
out:
	if (!s->records)
		s->min_ts = 0;
	fclose(f);
	return ret;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The distinct VNIs of s's index, "42,43" in text ("-" without an index,
 * cut with "..." when long) and, with json, as an array (NULL without).
 */
static void segment_vnis(const char *dir, struct seg_file *s, char *text,
			 size_t size, json_t **json)
{
	uint32_t *u;
	size_t n = 0, len = 0;

	snprintf(text, size, "-");
	if (load_index(dir, s))
		return;
	u = malloc((s->nruns ? s->nruns : 1) * sizeof(*u));
	if (!u)
		return;
	for (size_t i = 0; i < s->nruns; i++)
		u[i] = s->runs[i].vni;
	if (s->nruns)
		qsort(u, s->nruns, sizeof(*u), cmp_u32);
	for (size_t i = 0; i < s->nruns; i++)
		if (!n || u[n - 1] != u[i])
			u[n++] = u[i];
	if (json)
		*json = json_array();
	text[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (json)
			json_array_append_new(*json, json_integer(u[i]));
		if (len + 16 >= size) {
			if (len + 4 < size)
				snprintf(text + len, size - len, "...");
			continue;
		}
		len += (size_t)snprintf(text + len, size - len, "%s%u",
					i ? "," : "", u[i]);
	}
	free(u);
}

/* The segment directory and prefix from the daemon. */
static int daemon_segment_dir(char *dir, size_t dsize, char *prefix,
			      size_t psize, char *cur, size_t csize)
{
	json_t *ans;
	int ret = ctl_request("segments", &ans);

	if (ret)
		return ret;
	snprintf(dir, dsize, "%s", jstr(ans, "dir", "."));
	snprintf(prefix, psize, "%s", jstr(ans, "prefix", "mirror"));
	if (cur)
		snprintf(cur, csize, "%s", jstr(ans, "current", ""));
	json_decref(ans);
	return 0;
}

static int cmd_segments(const struct mt_cmd *cmd, int argc, char **argv)
{
	char dir[PATH_MAX], prefix[128], cur[256], t1[40], t2[40], sz[32];
	char vnis[128];
	struct seg_file *v;
	bool json = false;
	json_t *arr = NULL;
	size_t n;
	int ret;

	ret = simple_opts(cmd, argc, argv, &json);
	if (ret)
		return ret < 0 ? MT_EXIT_OK : ret;
	ret = daemon_segment_dir(dir, sizeof(dir), prefix, sizeof(prefix), cur,
				 sizeof(cur));
	if (ret)
		return ret;
	ret = list_segments(dir, prefix, &v, &n);
	if (ret)
		return ret;
	if (json)
		arr = json_array();
	else
		printf("%s (open: %s)\n%-44s %-24s %-24s %10s %10s  %s\n", dir,
		       cur[0] ? cur : "none", "SEGMENT", "FIRST PACKET",
		       "LAST PACKET", "PACKETS", "SIZE", "VNIS");
	for (size_t i = 0; i < n; i++) {
		int fd = open_plain(dir, &v[i]);

		json_t *vj = NULL;

		if (fd < 0 || walk_segment(fd, &v[i], 0, 0, 0, NULL, NULL, NULL,
					   NULL, NULL))
			v[i].bad = true;
		if (fd >= 0)
			close(fd);
		segment_vnis(dir, &v[i], vnis, sizeof(vnis), arr ? &vj : NULL);
		if (arr) {
			json_array_append_new(
				arr,
				json_pack("{s:s,s:I,s:I,s:I,s:I,s:b,s:b,s:o}",
					  "name", v[i].name, "size",
					  (json_int_t)v[i].size, "packets",
					  (json_int_t)v[i].records, "first_ns",
					  (json_int_t)v[i].min_ts, "last_ns",
					  (json_int_t)v[i].max_ts, "compressed",
					  (int)v[i].gz, "unreadable",
					  (int)v[i].bad, "vnis",
					  vj ? vj : json_null()));
			continue;
		}
		if (v[i].bad) {
			printf("%-44s (unreadable: %s)\n", v[i].name,
			       fd < 0 ? strerror(-fd) : "not a pcap of ours");
			continue;
		}
		fmt_time(v[i].min_ts, t1, sizeof(t1));
		fmt_time(v[i].max_ts, t2, sizeof(t2));
		fmt_bytes((double)v[i].size, sz, sizeof(sz));
		printf("%-44s %-24s %-24s %10llu %10s  %s\n", v[i].name,
		       v[i].records ? t1 : "-", v[i].records ? t2 : "-",
		       (unsigned long long)v[i].records, sz, vnis);
	}
	if (arr) {
		json_t *o = json_pack("{s:s,s:s,s:o,s:o}", "dir", dir, "prefix",
				      prefix, "current",
				      cur[0] ? json_string(cur) : json_null(),
				      "segments", arr);

		print_json(o, 0);
	}
	free_segments(v, n);
	return MT_EXIT_OK;
}

static int cmd_rotate(const struct mt_cmd *cmd, int argc, char **argv)
{
	char dir[PATH_MAX], prefix[128], part[PATH_MAX + 256];
	struct seg_file *before, *after;
	size_t nb, na;
	const char *rot;
	json_t *ans;
	int ret, i;

	ret = simple_opts(cmd, argc, argv, NULL);
	if (ret)
		return ret < 0 ? MT_EXIT_OK : ret;
	ret = daemon_segment_dir(dir, sizeof(dir), prefix, sizeof(prefix), NULL,
				 0);
	if (ret || (ret = list_segments(dir, prefix, &before, &nb)))
		return ret;
	ret = ctl_request("rotate", &ans);
	if (ret) {
		free(before);
		return ret;
	}
	rot = jstr(ans, "rotated", NULL);
	if (!rot) {
		printf("no open segment to rotate\n");
		goto out;
	}
	/* Sealing waits for every worker to let go of the segment. */
	snprintf(part, sizeof(part), "%s/%s", dir, rot);
	for (i = 0; i < 100 && !access(part, F_OK); i++)
		usleep(100000);
	if (!access(part, F_OK)) {
		printf("%s was not sealed within 10 s: it holds no packets yet "
		       "(empty segments are never sealed), or a writer still "
		       "has it\n",
		       rot);
		goto out;
	}
	if (list_segments(dir, prefix, &after, &na))
		goto out;
	for (size_t j = 0; j < na; j++) {
		bool old = false;

		for (size_t k = 0; k < nb && !old; k++)
			old = !strcmp(before[k].name, after[j].name);
		if (!old)
			printf("sealed %s/%s\n", dir, after[j].name);
	}
	free(after);
out:
	free(before);
	json_decref(ans);
	return MT_EXIT_OK;
}

/* ---- export ------------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
	*out = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*out = *out * 10 + (s[i] - '0');
	}
	return 0;
}

/* RFC 3339 or unix seconds (both with an optional fraction) to UTC ns. */
static int parse_time(const char *s, uint64_t *out)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0;
	uint64_t frac = 0, scale = NSEC;
	struct tm tm = { 0 };
	const char *p = s;
	int64_t t, off = 0;

	if (*p >= '0' && *p <= '9' && strspn(p, "0123456789.") == strlen(p)) {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);

		p = end;
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++) {
				scale /= 10;
				frac += (uint64_t)(*p - '0') * scale;
			}
		if (*p || v > 1ull << 40)
			return -EINVAL;
		*out = v * NSEC + frac;
		return 0;
	}
	if (strlen(p) < 20 || digits(p, 4, &Y) || p[4] != '-' ||
	    digits(p + 5, 2, &M) || p[7] != '-' || digits(p + 8, 2, &D) ||
	    (p[10] != 'T' && p[10] != 't' && p[10] != ' ') ||
	    digits(p + 11, 2, &h) || p[13] != ':' || digits(p + 14, 2, &m) ||
	    p[16] != ':' || digits(p + 17, 2, &sec))
		return -EINVAL;
	p += 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++) {
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 &&
		   !digits(p + 1, 2, &oh) && p[3] == ':' &&
		   !digits(p + 4, 2, &om)) {
		off = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 ||
	    sec > 60)
		return -EINVAL;
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm) - off;
	if (t < 0)
		return -EINVAL;
	*out = (uint64_t)t * NSEC + frac;
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct rec_ref *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Writes the records of segments v[first..last] within [from, to) in time
 * order.  The segments of one cluster overlap in time (workers flush into
 * a segment in batches), so their records are sorted together.
 */
static int export_cluster(const char *dir, struct seg_file *v, size_t first,
			  size_t last, uint64_t from, uint64_t to,
			  const struct vni_filter *filter, FILE *out,
			  uint8_t *buf, uint64_t *written, unsigned *skipped)
{
	size_t nfd = last - first + 1, nrefs = 0, cap = 0, before;
	struct rec_ref *refs = NULL;
	int *fds = calloc(nfd, sizeof(*fds)), ret = 0;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < nfd; i++) {
		fds[i] = -1;
		if (v[first + i].skip)
			continue;
		fds[i] = open_plain(dir, &v[first + i]);
		if (fds[i] < 0)
			continue;
		before = nrefs;
		ret = walk_segment(fds[i], &v[first + i], from, to, (uint32_t)i,
				   &refs, &nrefs, &cap, NULL, filter);
		if (ret == -ENOMEM)
			goto out;
		if (ret == -EBADMSG) {
			/* Nothing of a file whose index cannot be trusted. */
			nrefs = before;
			(*skipped)++;
			fprintf(stderr,
				"%s: warning: skipping %s/%s: its VNI index "
				"does not match its records\n",
				prog, dir, v[first + i].name);
		}
		ret = 0;
	}
	if (nrefs)
		qsort(refs, nrefs, sizeof(*refs), cmp_rec);
	for (size_t i = 0; i < nrefs; i++) {
		const struct rec_ref *r = &refs[i];
		uint8_t hdr[MT_PCAP_REC_HDR_LEN];
		uint32_t caplen = r->caplen > MT_SNAPLEN_MAX ? MT_SNAPLEN_MAX :
							       r->caplen;

		if (pread(fds[r->file], buf, caplen,
			  (off_t)(r->off + MT_PCAP_REC_HDR_LEN)) !=
		    (ssize_t)caplen)
			continue;
		mt_pcap_rec_header(hdr, r->ts, caplen, r->len, true);
		if (fwrite(hdr, sizeof(hdr), 1, out) != 1 ||
		    fwrite(buf, caplen, 1, out) != 1) {
			ret = -errno;
			goto out;
		}
		(*written)++;
	}
out:
	for (size_t i = 0; i < nfd; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(refs);
	return ret;
}

#define VNI_LIST_MAX 64

/* "42" or "42,43,7": each 0..16777215, at most VNI_LIST_MAX. */
static int parse_vni_list(const char *arg, uint32_t *out, size_t *n)
{
	const char *p = arg;
	unsigned long v;
	char *end;

	*n = 0;
	for (;;) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || v > 0xffffff || *n == VNI_LIST_MAX)
			return -EINVAL;
		out[(*n)++] = (uint32_t)v;
		if (!*end)
			return 0;
		if (*end != ',')
			return -EINVAL;
		p = end + 1;
	}
}

static int cmd_export(const struct mt_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "vni", required_argument, NULL, 'v' },
		{ "dir", required_argument, NULL, 'd' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'F' },
		{ "socket", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char dir[PATH_MAX] = "", prefix[128] = "mirror";
	uint64_t from = 0, to = 0, written = 0;
	bool have_from = false, have_to = false, force = false;
	uint8_t hdr[MT_PCAP_HDR_LEN], *buf = NULL;
	uint32_t snaplen = 0, vnis[VNI_LIST_MAX];
	struct vni_filter filter = { .vnis = vnis, .n = 0 };
	unsigned skipped = 0;
	struct seg_file *v;
	size_t n, i, first;
	int c, ret;

	while ((c = getopt_long(argc, argv, "f:t:v:d:p:FS:h", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
		case 't':
			if (parse_time(optarg, c == 'f' ? &from : &to)) {
				fprintf(stderr,
					"%s: --%s %s: not a time I "
					"understand; %s\n",
					prog, c == 'f' ? "from" : "to", optarg,
					time_formats);
				return MT_EXIT_USAGE;
			}
			*(c == 'f' ? &have_from : &have_to) = true;
			break;
		case 'v':
			if (parse_vni_list(optarg, vnis, &filter.n)) {
				fprintf(stderr,
					"%s: --vni %s: not a VNI list; give "
					"one or more VNIs 0..16777215 "
					"separated by commas (--vni 42,43), "
					"at most %d\n",
					prog, optarg, VNI_LIST_MAX);
				return MT_EXIT_USAGE;
			}
			break;
		case 'd':
			snprintf(dir, sizeof(dir), "%s", optarg);
			break;
		case 'p':
			snprintf(prefix, sizeof(prefix), "%s", optarg);
			break;
		case 'F':
			force = true;
			break;
		case 'S':
			socket_path = optarg;
			break;
		default:
			return help_or_usage(cmd, c);
		}
	}
	if (!have_from || !have_to || optind < argc) {
		fprintf(stderr,
			"%s: export needs --from TIME and --to TIME "
			"(%s)\n",
			prog, time_formats);
		usage_hint(cmd);
		return MT_EXIT_USAGE;
	}
	if (to <= from) {
		fprintf(stderr,
			"%s: --to must be later than --from (the range is "
			"FROM inclusive to TO exclusive)\n",
			prog);
		return MT_EXIT_USAGE;
	}
	if (isatty(STDOUT_FILENO) && !force) {
		fprintf(stderr,
			"%s: export writes a pcap to standard output, which "
			"is a terminal; redirect it (> range.pcap) or pipe it "
			"(| wireshark -k -i -), or give --force\n",
			prog);
		return MT_EXIT_USAGE;
	}
	if (!dir[0]) {
		ret = daemon_segment_dir(dir, sizeof(dir), prefix,
					 sizeof(prefix), NULL, 0);
		if (ret)
			return ret;
	}
	ret = list_segments(dir, prefix, &v, &n);
	if (ret)
		return ret;
	ret = 0;
	/* First pass: each segment's time span and the largest snaplen. */
	for (i = 0; i < n; i++) {
		int fd = open_plain(dir, &v[i]);

		if (fd < 0 || walk_segment(fd, &v[i], 0, 0, 0, NULL, NULL, NULL,
					   &snaplen, NULL)) {
			fprintf(stderr, "%s: warning: skipping %s/%s: %s\n",
				prog, dir, v[i].name,
				fd < 0 ? strerror(-fd) : "not a pcap of ours");
			v[i].bad = true;
		}
		if (fd >= 0)
			close(fd);
		/*
		 * Without its index a segment's records cannot be told apart
		 * by VNI: skipped, but its time span still orders the rest.
		 */
		if (filter.n && !v[i].bad && v[i].records &&
		    v[i].max_ts >= from && v[i].min_ts < to &&
		    (ret = load_index(dir, &v[i]))) {
			fprintf(stderr, "%s: warning: skipping %s/%s: %s\n",
				prog, dir, v[i].name,
				ret == -ENOENT ?
					"it has no VNI index (written before "
					"VNI indexes, or its index could not be "
					"completed)" :
				ret == -EPROTO ? "its VNI index is not one "
						 "this mirrorctl reads" :
						 strerror(-ret));
			v[i].skip = true;
			skipped++;
		}
	}
	ret = 0;
	buf = malloc(MT_SNAPLEN_MAX);
	if (!buf) {
		free_segments(v, n);
		return MT_EXIT_FAILED;
	}
	mt_pcap_file_header(hdr, snaplen ? snaplen : MT_SNAPLEN_MAX, true);
	fwrite(hdr, sizeof(hdr), 1, stdout);
	/* Then clusters of segments whose time spans overlap. */
	for (i = 0; i < n;) {
		uint64_t end;

		if (v[i].bad || !v[i].records || v[i].max_ts < from ||
		    v[i].min_ts >= to) {
			i++;
			continue;
		}
		first = i;
		end = v[i].max_ts;
		while (i + 1 < n && !v[i + 1].bad && v[i + 1].records &&
		       v[i + 1].min_ts <= end) {
			i++;
			if (v[i].max_ts > end)
				end = v[i].max_ts;
		}
		ret = export_cluster(dir, v, first, i, from, to,
				     filter.n ? &filter : NULL, stdout, buf,
				     &written, &skipped);
		if (ret) {
			fprintf(stderr, "%s: export stopped: %s\n", prog,
				strerror(-ret));
			break;
		}
		i++;
	}
	if (fflush(stdout) && !ret) {
		fprintf(stderr, "%s: cannot write to stdout: %s\n", prog,
			strerror(errno));
		ret = -EIO;
	}
	fprintf(stderr, "%s: exported %llu packet%s from %s\n", prog,
		(unsigned long long)written, written == 1 ? "" : "s", dir);
	if (skipped)
		fprintf(stderr,
			"%s: the export is partial: %u segment%s in the range "
			"could not be filtered by VNI and %s skipped (see the "
			"warnings); export them without --vni\n",
			prog, skipped, skipped == 1 ? "" : "s",
			skipped == 1 ? "was" : "were");
	free(buf);
	free_segments(v, n);
	return ret || skipped ? MT_EXIT_FAILED : MT_EXIT_OK;
}

/* ---- the command table -------------------------------------------------- */

static const struct mt_cmd commands[] = {
	{
		.name = "status",
		.run = cmd_status,
		.summary = "show what the running daemon is doing",
		.usage = "status [--json] [--watch [SECS]] [--socket PATH]",
		.help = "DESCRIPTION\n"
			"    Asks mirror-targetd over its control socket for its\n"
			"    counters and shows interface, XDP mode, bind mode,\n"
			"    queues/workers, uptime, the filter (off, or rule file and\n"
			"    count), the open segment, disk use and free space, the\n"
			"    rates over one second (pps, bit/s) and the totals: frames\n"
			"    received and decapsulated, filter verdicts, records\n"
			"    written, drops by cause (XDP, socket, writer) and packets\n"
			"    and bytes per session (VNI) and direction.\n"
			"\n"
			"    Per VNI, compare with CloudWatch's metrics of the source\n"
			"    ENI: in packets ~ NetworkPacketsMirrorIn, out packets ~\n"
			"    NetworkPacketsMirrorOut, in/out bytes ~ NetworkMirrorIn/Out.\n"
			"\n"
			"OPTIONS\n"
			"    -j, --json\n"
			"        Print the counters as JSON (schema_version 1; the\n"
			"        schema is documented in mirrorctl(8) and stays stable).\n"
			"    -w, --watch [SECS]\n"
			"        Refresh every SECS seconds (default 1) in place, like\n"
			"        top, with the rates over each interval; Ctrl-C quits.\n"
			"        With --json, one compact JSON line per interval.\n"
			"    -S, --socket PATH\n"
			"        The daemon's control socket (default " MT_DEFAULT_SOCKET
			").\n"
			"    -h, --help\n"
			"        Show this help.\n"
			"\n"
			"EXIT STATUS\n"
			"    0 success; 1 the daemon cannot be reached or refused.\n"
			"\n"
			"EXAMPLES\n"
			"    mirrorctl status\n"
			"    mirrorctl status --json | jq .vnis\n"
			"    mirrorctl status --watch 2\n",
	},
	{
		.name = "rules",
		.run = cmd_rules,
		.summary = "list the rules in force with their hit counters",
		.usage = "rules [--json] [--socket PATH]",
		.help = "DESCRIPTION\n"
			"    Lists the daemon's rules in evaluation order, each with\n"
			"    the packets and bytes it decided (first match), counted\n"
			"    since the rules were loaded (start or last reload).\n"
			"\n"
			"OPTIONS\n"
			"    -j, --json       the same as JSON\n"
			"    -S, --socket PATH\n"
			"                     the daemon's control socket\n"
			"    -h, --help       show this help\n",
	},
	{
		.name = "segments",
		.run = cmd_segments,
		.summary = "list the sealed segments with their time spans",
		.usage = "segments [--json] [--socket PATH]",
		.help = "DESCRIPTION\n"
			"    Lists the sealed segments of the daemon's output\n"
			"    directory in time order, with the time of their first and\n"
			"    last packet (UTC), their packet count and size, the VNIs\n"
			"    (mirror sessions) their packets came with, from the VNI\n"
			"    index beside each segment (- when it has none), and names\n"
			"    the open segment.  The files are read by mirrorctl itself,\n"
			"    so it needs read access to the directory (root or group\n"
			"    mirror-target).\n"
			"\n"
			"OPTIONS\n"
			"    -j, --json       the same as JSON (times in ns since 1970;\n"
			"                     vnis is null without an index)\n"
			"    -S, --socket PATH\n"
			"                     the daemon's control socket\n"
			"    -h, --help       show this help\n",
	},
	{
		.name = "rotate",
		.run = cmd_rotate,
		.summary = "seal the open segment now and start a new one",
		.usage = "rotate [--socket PATH]",
		.help = "DESCRIPTION\n"
			"    Asks the daemon to close the open segment and start a new\n"
			"    one, waits until the old one is sealed (up to 10 s) and\n"
			"    prints its path.  A segment without packets is never\n"
			"    sealed; rotate says so.\n"
			"\n"
			"OPTIONS\n"
			"    -S, --socket PATH\n"
			"                     the daemon's control socket\n"
			"    -h, --help       show this help\n",
	},
	{
		.name = "reload",
		.run = cmd_reload,
		.summary =
			"re-read the config and rules without stopping capture",
		.usage = "reload [--socket PATH]",
		.help = "DESCRIPTION\n"
			"    Makes the daemon re-read its config file (when it was\n"
			"    started with one) and its rules file, like SIGHUP: the\n"
			"    reloadable settings (rotation, retention, compression,\n"
			"    hook, rules) take effect and the new rules are swapped in\n"
			"    between two batches: no packet is lost.  Settings that\n"
			"    need a restart keep their value and are named.  When a\n"
			"    file is invalid the daemon keeps everything as it was,\n"
			"    and reload prints FILE:LINE:COL: and the reason.\n"
			"\n"
			"OPTIONS\n"
			"    -S, --socket PATH\n"
			"                     the daemon's control socket\n"
			"    -h, --help       show this help\n"
			"\n"
			"EXIT STATUS\n"
			"    0 reloaded; 1 the file is invalid (the old rules stay) or\n"
			"    the daemon cannot be reached.\n",
	},
	{
		.name = "export",
		.run = cmd_export,
		.summary = "merge the packets of a time range into one pcap",
		.usage =
			"export --from TIME --to TIME [--vni N[,N...]] [--dir DIR] "
			"[--socket PATH]",
		.help = "DESCRIPTION\n"
			"    Writes one pcap (nanosecond timestamps) to standard\n"
			"    output with the packets of every sealed segment whose\n"
			"    time is in [FROM, TO), in time order, so that\n"
			"        ssh host mirrorctl export --from ... --to ... |\n"
			"            wireshark -k -i -\n"
			"    works.  Compressed segments (.pcap.gz) are read too.  The\n"
			"    open segment is not included: `mirrorctl rotate` first\n"
			"    to include the latest packets.\n"
			"\n"
			"    TIME is RFC 3339 (2024-05-01T12:00:00Z,\n"
			"    2024-05-01T14:00:00.5+02:00) or unix seconds (1714564800).\n"
			"\n"
			"    With --vni only the packets of those mirror sessions are\n"
			"    written.  The segments hold the frames without their VXLAN\n"
			"    header; the VNI of each packet is in the index beside its\n"
			"    segment (NAME.vni).  A segment in the range without a usable\n"
			"    index (written before VNI indexes, or whose index could not\n"
			"    be completed) is skipped with a warning naming it, and the\n"
			"    export ends with status 1: it is partial.\n"
			"\n"
			"OPTIONS\n"
			"    -f, --from TIME  first instant (inclusive)\n"
			"    -t, --to TIME    end (exclusive)\n"
			"    -v, --vni N[,N...]\n"
			"                     only packets of these VNIs (0..16777215)\n"
			"    -d, --dir DIR    read the segments of DIR (no daemon needed);\n"
			"                     by default the daemon says where they are\n"
			"    -p, --prefix P   segment name prefix with --dir (default mirror)\n"
			"    -F, --force      write even when standard output is a terminal\n"
			"    -S, --socket PATH\n"
			"                     the daemon's control socket\n"
			"    -h, --help       show this help\n"
			"\n"
			"EXIT STATUS\n"
			"    0 success (also when no packet is in the range: the output\n"
			"    is then an empty pcap); 1 reading or writing failed, or with\n"
			"    --vni a segment was skipped for want of its VNI index (the\n"
			"    output holds the rest); 2 bad usage, e.g. a time in another\n"
			"    format.\n",
	},
	{
		.name = "check-rules",
		.run = cmd_check_rules,
		.summary =
			"validate a rules file and show its evaluation order",
		.usage = "check-rules FILE [--filter-id ID] [--quiet]",
		.help = "DESCRIPTION\n"
			"    Loads FILE the way mirror-targetd does: as the AWS JSON\n"
			"    output of `aws ec2 describe-traffic-mirror-filters` when\n"
			"    its name ends in .json, as a native rules file otherwise.\n"
			"    Prints \"FILE: N rules OK\" and a table of the rules in\n"
			"    the order they are evaluated: ascending rule number,\n"
			"    ingress before egress before any on equal numbers.  The\n"
			"    first rule that matches a packet decides; a packet that\n"
			"    matches no rule is not captured.\n"
			"\n"
			"    Columns: ORDER (evaluation position), NUMBER, ACTION,\n"
			"    DIR (ingress, egress, or any = both and unknown), PROTO,\n"
			"    SOURCE and DESTINATION CIDRs, SPORT and DPORT ranges\n"
			"    (- = any port), VNI (sessions the rule is limited to),\n"
			"    LINE (where the rule is defined) and DESCRIPTION.\n"
			"\n"
			"OPTIONS\n"
			"    -f, --filter-id ID\n"
			"        Use the filter TrafficMirrorFilterId ID of a JSON file\n"
			"        that holds several filters.  Required then.\n"
			"    -q, --quiet\n"
			"        Print only the summary line.\n"
			"    -h, --help\n"
			"        Show this help.\n"
			"\n"
			"EXIT STATUS\n"
			"    0 when the rule set is valid; 2 on bad usage or an invalid\n"
			"    file, with FILE:LINE:COL: and what to change on stderr.\n"
			"\n"
			"EXAMPLES\n"
			"    mirrorctl check-rules /etc/mirror-target/rules.conf\n"
			"    mirrorctl check-rules filters.json --filter-id tmf-0123456789abcdef0\n",
	},
	{
		.name = "import-aws-filter",
		.run = cmd_import_aws_filter,
		.summary =
			"turn an AWS traffic-mirror filter into a native rules file",
		.usage = "import-aws-filter FILE|- [--filter-id ID] [-o OUT]",
		.help = "DESCRIPTION\n"
			"    Reads the JSON printed by `aws ec2\n"
			"    describe-traffic-mirror-filters` from FILE (- for standard\n"
			"    input), validates it, and writes the same rules as a\n"
			"    native rules file, which mirror-targetd reads as well and\n"
			"    which is easier to review and extend (native files also\n"
			"    allow direction any and vni= restrictions).\n"
			"\n"
			"OPTIONS\n"
			"    -f, --filter-id ID\n"
			"        Import the filter TrafficMirrorFilterId ID; required when\n"
			"        the JSON holds several filters.\n"
			"    -o, --output OUT\n"
			"        Write to OUT instead of standard output.  OUT is replaced\n"
			"        atomically and only when the import succeeded.\n"
			"    -h, --help\n"
			"        Show this help.\n"
			"\n"
			"EXIT STATUS\n"
			"    0 on success; 1 when OUT cannot be written; 2 on bad usage\n"
			"    or invalid JSON, with FILE:LINE:COL: and the fix on stderr.\n"
			"\n"
			"EXAMPLES\n"
			"    aws ec2 describe-traffic-mirror-filters \\\n"
			"        --traffic-mirror-filter-ids tmf-0123456789abcdef0 |\n"
			"        mirrorctl import-aws-filter - -o /etc/mirror-target/rules.conf\n",
	},
	{
		.name = "check-config",
		.run = cmd_check_config,
		.summary = "validate a mirror-targetd configuration file",
		.usage = "check-config FILE [--dump]",
		.help = "DESCRIPTION\n"
			"    Reads FILE over the built-in defaults exactly as\n"
			"    mirror-targetd does at start and on reload, runs the\n"
			"    cross-setting checks, and validates the rules file named\n"
			"    by [filter] rules (with [filter] filter_id) if any.\n"
			"    Prints \"FILE: OK\" when the daemon would accept it.\n"
			"\n"
			"OPTIONS\n"
			"    -d, --dump\n"
			"        After the check, print every setting with its effective\n"
			"        value and help text, as a configuration file.\n"
			"    -h, --help\n"
			"        Show this help.\n"
			"\n"
			"EXIT STATUS\n"
			"    0 when valid; 2 on bad usage or an invalid file, with\n"
			"    FILE:LINE:COL: and what to change on stderr.\n"
			"\n"
			"EXAMPLES\n"
			"    mirrorctl check-config /etc/mirror-target/mirror-target.conf\n",
	},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(void)
{
	size_t i;

	printf("NAME\n"
	       "    mirrorctl - inspect and drive mirror-target, the receiver of\n"
	       "    AWS VPC Traffic Mirroring\n"
	       "\n"
	       "SYNOPSIS\n"
	       "    mirrorctl [--socket PATH] [--config FILE] COMMAND [OPTIONS] "
	       "[ARGS]\n"
	       "    mirrorctl COMMAND --help\n"
	       "    mirrorctl --help | --version\n"
	       "\n"
	       "COMMANDS\n");
	for (i = 0; i < NCOMMANDS; i++)
		printf("    %-19s %s\n", commands[i].name, commands[i].summary);
	printf("\n"
	       "    `mirrorctl COMMAND --help` explains a command in full.\n"
	       "\n"
	       "EXIT STATUS\n"
	       "    0 success; 1 an operation failed; 2 bad usage or invalid\n"
	       "    input (the message names FILE:LINE:COL and the fix).\n"
	       "\n"
	       "FILES\n"
	       "    /etc/mirror-target/mirror-target.conf  configuration\n"
	       "    " MT_DEFAULT_SOCKET "    control socket (--socket; or\n"
	       "        [control] control_socket of the configuration, or of\n"
	       "        --config FILE)\n"
	       "    /var/lib/mirror-target/segments/       captured segments\n"
	       "\n"
	       "SEE ALSO\n"
	       "    mirror-targetd(8)\n");
}

static const struct mt_cmd *find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct mt_cmd *cmd;
	static char argv0[64];

	/* `mirrorctl [--socket PATH] [--config FILE] COMMAND ...` */
	while (argc > 1) {
		const char **dst = NULL;
		size_t n = 0;

		if (!strncmp(argv[1], "--socket", 8)) {
			dst = &socket_path;
			n = 8;
		} else if (!strncmp(argv[1], "--config", 8)) {
			dst = &config_path;
			n = 8;
		}
		if (!dst)
			break;
		if (argv[1][n] == '=') {
			*dst = argv[1] + n + 1;
		} else if (!argv[1][n] && argc > 2) {
			*dst = argv[2];
			argv++;
			argc--;
		} else {
			break;
		}
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "%s: missing command\n", prog);
		usage_hint(NULL);
		return MT_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		/* `mirrorctl help COMMAND` is what git users type. */
		if (argc > 2 && (cmd = find_cmd(argv[2]))) {
			print_cmd_help(cmd);
			return MT_EXIT_OK;
		}
		print_help();
		return MT_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("mirrorctl (mirror-target) %s\n", MT_VERSION);
		return MT_EXIT_OK;
	}

	cmd = find_cmd(argv[1]);
	if (!cmd) {
		fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
		usage_hint(NULL);
		return MT_EXIT_USAGE;
	}
	/* getopt prefixes its messages with argv[0]: make it say which. */
	snprintf(argv0, sizeof(argv0), "%s %s", prog, cmd->name);
	argv[1] = argv0;
	reset_getopt();
	return cmd->run(cmd, argc - 1, argv + 1);
}
