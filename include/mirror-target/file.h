/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Checks on the files that steer capture (config, rules).  A file anyone
 * can write lets anyone decide what is captured and where it goes (the
 * segment hook runs a command), so the daemon refuses it, like sshd refuses
 * loose permissions.
 */
#ifndef MT_FILE_H
#define MT_FILE_H

#include <stdio.h>

#include "mirror-target/log.h"

/*
 * 0 when the open file f (named path; what = "config file", ...) is not
 * writable by every user, or is not a regular file (a pipe, stdin);
 * -EPERM with err naming the mode and the fix otherwise.
 */
int mt_file_check_not_world_writable(FILE *f, const char *path,
				     const char *what, struct mt_err *err);

#endif /* MT_FILE_H */
