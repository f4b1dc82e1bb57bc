// SPDX-License-Identifier: GPL-2.0-only
/*
 * mirrorctl: the command-line companion of mirror-targetd.
 *
 * Every command is one row of `commands[]`: its name, its handler, a
 * one-line summary for `mirrorctl --help` and a man-page style help text
 * for `mirrorctl COMMAND --help`.  The commands that exist today work on
 * files alone (rule sets, configuration); the ones that talk to a running
 * daemon over its control socket (status, rules, segments, rotate, reload,
 * export) slot into the same table once the daemon's live mode exists.
 *
 * Exit status follows the daemon's: 0 success, 1 an operation failed
 * (an output file could not be written), 2 bad usage or invalid input
 * (the message names FILE:LINE:COL and says how to fix it).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mirror-target/config.h"
#include "mirror-target/ip.h"
#include "mirror-target/log.h"
#include "mirror-target/rules.h"

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
		case 'h':
			print_cmd_help(cmd);
			return MT_EXIT_OK;
		default:
			usage_hint(cmd);
			return MT_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s %s: expected one rules file, got %d\n",
			prog, cmd->name, argc - optind);
		usage_hint(cmd);
		return MT_EXIT_USAGE;
	}
	path = argv[optind];
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
		case 'h':
			print_cmd_help(cmd);
			return MT_EXIT_OK;
		default:
			usage_hint(cmd);
			return MT_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr,
			"%s %s: expected one JSON file (or -), got %d\n", prog,
			cmd->name, argc - optind);
		usage_hint(cmd);
		return MT_EXIT_USAGE;
	}
	path = argv[optind];

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
		case 'h':
			print_cmd_help(cmd);
			return MT_EXIT_OK;
		default:
			usage_hint(cmd);
			return MT_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "%s %s: expected one config file, got %d\n",
			prog, cmd->name, argc - optind);
		usage_hint(cmd);
		return MT_EXIT_USAGE;
	}
	path = argv[optind];

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

/* ---- the command table -------------------------------------------------- */

static const struct mt_cmd commands[] = {
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
	       "    mirrorctl COMMAND [OPTIONS] [ARGS]\n"
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
