// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <sys/stat.h>

#include "mirror-target/file.h"

int mt_file_check_not_world_writable(FILE *f, const char *path,
				     const char *what, struct mt_err *err)
{
	struct stat st;

	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode))
		return 0;
	if (!(st.st_mode & S_IWOTH))
		return 0;
	mt_err_set(
		err,
		"%s: the %s is writable by every user (mode %04o), so anyone "
		"could change what is captured; refusing it (chmod o-w %s)",
		path, what, (unsigned)(st.st_mode & 07777), path);
	return -EPERM;
}
