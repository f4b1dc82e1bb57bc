// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>

#include "mirror-target/log.h"

enum mt_log_level mt_log_level = MT_LOG_INFO;

static const char *const level_names[] = {
	[MT_LOG_ERROR] = "error",
	[MT_LOG_WARN] = "warning",
	[MT_LOG_INFO] = "info",
	[MT_LOG_DEBUG] = "debug",
};

void mt_vlog(enum mt_log_level level, const char *fmt, va_list ap)
{
	char line[1024];

	if (level > mt_log_level)
		return;
	/* One write per line so lines from several threads do not mix. */
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "mirror-target: %s: %s\n", level_names[level], line);
}

void mt_log(enum mt_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mt_vlog(level, fmt, ap);
	va_end(ap);
}

int mt_err_set(struct mt_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}
