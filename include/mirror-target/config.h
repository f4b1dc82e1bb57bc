/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The configuration file (DESIGN §7), /etc/mirror-target/mirror-target.conf.
 *
 * INI-style: "[capture]", "[output]", "[filter]", and one "[session NAME]"
 * per mirror session; "key = value" lines; '#' or ';' starts a comment.
 * One table (config.c) declares every setting: section, key, type, default,
 * whether SIGHUP reloads it, and its help text; the parser, the defaults,
 * `mirrorctl check-config` and the man page all come from that table.
 * Sizes take K/M/G/T suffixes (powers of 1024); durations s/m/h/d.
 *
 * Command-line options override the file: mt_config_set() applies one
 * "section.key=value" with the same validation.
 */
#ifndef MT_CONFIG_H
#define MT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mirror-target/direction.h"
#include "mirror-target/ip.h"
#include "mirror-target/log.h"
#include "mirror-target/segment.h"

#define MT_IFNAME_MAX 16
#define MT_ALLOW_MAX 256

struct mt_config {
	/* [capture] */
	char interface[MT_IFNAME_MAX];
	uint16_t vxlan_port;
	char queues[128]; /* "all" or "0,2-3" */
	char bind_mode[16]; /* auto | zerocopy | copy */
	char xdp_mode[16]; /* native | generic */
	bool busy_poll;
	uint32_t batch_size;
	uint32_t frame_size; /* UMEM frame size */
	uint32_t ring_size; /* rx and fill ring entries */
	struct mt_cidr allow_sources[MT_ALLOW_MAX];
	unsigned nallow_sources;
	uint32_t allow_vnis[MT_ALLOW_MAX];
	unsigned nallow_vnis;

	/* [output] */
	struct mt_segment_config seg;
	uint32_t writer_buffer; /* bytes per worker buffer */
	uint64_t write_queue; /* write-behind bytes per worker; 0: none */

	/* [filter] */
	char rules[PATH_MAX]; /* empty = capture everything */
	char filter_id[64]; /* for AWS JSON with several filters */

	/* [control] */
	char control_socket[PATH_MAX];
	char metrics_listen[128]; /* empty = off */

	/* [session NAME] */
	struct mt_sessions sessions;
};

/* Defaults for every setting (the table's). */
void mt_config_init(struct mt_config *cfg);
void mt_config_free(struct mt_config *cfg);

/*
 * Reads FILE over the current values.  On error returns -EINVAL (or
 * -errno for I/O) and err holds "FILE:LINE:COL: message".
 */
int mt_config_load(struct mt_config *cfg, const char *path, struct mt_err *err);
int mt_config_parse(struct mt_config *cfg, const char *name, const char *text,
		    size_t len, struct mt_err *err);
/* One "section.key=value" override, e.g. from the command line. */
int mt_config_set(struct mt_config *cfg, const char *section, const char *key,
		  const char *value, struct mt_err *err);
/* Cross-setting checks run after everything is applied. */
int mt_config_validate(const struct mt_config *cfg, struct mt_err *err);

/* Writes every setting with its value and help, as a config file. */
void mt_config_dump(const struct mt_config *cfg, FILE *out);

/*
 * Bytes of one writer's buffer (live: per worker; offline: the one):
 * writer_buffer, but at most rotate_size / 8 and at least one record of
 * full snaplen.
 */
size_t mt_config_writer_bufsize(const struct mt_config *cfg);

/* Parses "64K", "1G", "0"; returns 0 or -EINVAL / -ERANGE. */
int mt_parse_size(const char *s, uint64_t *out);
/* Parses "30", "30s", "5m", "1h", "1d" into seconds. */
int mt_parse_duration(const char *s, uint32_t *out);
/* The forms the parsers read back: "1M", "4095", "1h", "90s". */
void mt_format_size(uint64_t v, char *buf, size_t size);
void mt_format_duration(uint64_t v, char *buf, size_t size);

#endif /* MT_CONFIG_H */
