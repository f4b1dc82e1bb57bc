/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logging and error reporting shared by every layer.
 *
 * mt_log() writes one line to stderr (journald keeps it when run by
 * systemd); lines below the global level are dropped.  struct mt_err carries
 * a user-facing message out of parsers and constructors so that the caller
 * decides how to show it; messages name the thing, the value and the fix,
 * e.g. "rules.conf:12:31: port range 80-20 is reversed (write 20-80)".
 */
#ifndef MT_LOG_H
#define MT_LOG_H

#include <stdarg.h>

enum mt_log_level {
	MT_LOG_ERROR = 0,
	MT_LOG_WARN,
	MT_LOG_INFO,
	MT_LOG_DEBUG,
};

extern enum mt_log_level mt_log_level;

void mt_log(enum mt_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mt_vlog(enum mt_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define MT_ERR_MAX 512

struct mt_err {
	char msg[MT_ERR_MAX];
};

/* Sets err->msg (if err is not NULL); always returns -EINVAL for chaining. */
int mt_err_set(struct mt_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* MT_LOG_H */
