/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reloading the configuration (SIGHUP, `mirrorctl reload`; DESIGN §7).
 *
 * main() records where the running configuration came from: the config
 * file, and the command-line options that override it.  A reload builds
 * the configuration again the same way (file, then options, then the
 * cross-setting checks), so an option given at start keeps winning over
 * the file.  The result is compared with the running configuration setting
 * by setting; the config table's "reloaded by SIGHUP" flag decides what may
 * change.  What changed and may not is named in a warning and keeps its old
 * value.  Nothing is applied here: the caller gets the next configuration
 * and applies it (segmenter, rules) or throws it away.
 */
#ifndef MT_RELOAD_H
#define MT_RELOAD_H

#include <stddef.h>

#include "mirror-target/config.h"

#define MT_RELOAD_NAMES_MAX 1024

/* Remembers the config file (NULL: none) the daemon started with. */
void mt_config_origin_set_file(const char *path);
/* Remembers one command-line override; 0 or -ENOSPC. */
int mt_config_origin_add(const char *section, const char *key,
			 const char *value);
/* The config file the daemon started with, or NULL. */
const char *mt_config_origin_file(void);

struct mt_reload_report {
	/* "section.key" names separated by ", "; "" when none */
	char applied[MT_RELOAD_NAMES_MAX]; /* changed, taken over */
	char restart[MT_RELOAD_NAMES_MAX]; /* changed, kept old: restart */
	/* [session] sections changed: next->sessions is a new table */
	bool sessions_changed;
};

/*
 * Re-reads the config file and the overrides.  On success *next is a copy
 * of cur (free() it) with every changed reloadable setting of [output],
 * [filter] and the [capture] allow-lists taken from the file.  It shares
 * cur's session table, unless rep->sessions_changed: then next->sessions
 * is the file's new table, which the caller owns (mt_sessions_free once no
 * worker uses it).  Changed settings that need a restart -- those the
 * table does not mark reloadable, and the rest of [capture], which shapes
 * sockets and workers -- keep their value and are named in rep->restart.
 * On error returns -errno with err "FILE:LINE:COL: why" (or the check that
 * failed) and *next NULL.
 */
int mt_config_reload(const struct mt_config *cur, struct mt_config **next,
		     struct mt_reload_report *rep, struct mt_err *err);

#endif /* MT_RELOAD_H */
