// SPDX-License-Identifier: GPL-2.0-only
/*
 * sd_notify(3) for the control thread.  libsystemd is optional at build
 * time (MT_HAVE_SYSTEMD): without it these are no-ops, like they are at run
 * time when systemd did not start us (sd_notify() returns 0 then).
 *
 * The watchdog interval comes from $WATCHDOG_USEC (sd_watchdog_enabled());
 * we ping at a quarter of it, so one late tick (a slow disk stalling a
 * segment seal) does not get a healthy daemon killed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mirror-target/log.h"
#include "notify.h"

#ifdef MT_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static uint64_t mono_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* STATUS= text is one line; systemd shows it verbatim. */
__attribute__((format(printf, 2, 0))) static void
notify_with_status(const char *state, const char *fmt, va_list ap)
{
	char status[256];
	int ret;

	vsnprintf(status, sizeof(status), fmt, ap);
	ret = sd_notifyf(0, "%s%sSTATUS=%s", state ? state : "",
			 state ? "\n" : "", status);
	if (ret < 0)
		mt_log(MT_LOG_DEBUG, "sd_notify: %s", strerror(-ret));
}

void mt_notify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_with_status("READY=1", fmt, ap);
	va_end(ap);
}

void mt_notify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_with_status(NULL, fmt, ap);
	va_end(ap);
}

void mt_notify_reloading(void)
{
	/* MONOTONIC_USEC lets systemd >= 253 match the reload to its request. */
	sd_notifyf(0,
		   "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the "
		   "rules",
		   (unsigned long long)mono_usec());
}

void mt_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: flushing the writers, "
		     "sealing the open segment, detaching XDP");
}

void mt_notify_watchdog(void)
{
	static int enabled = -1;
	static uint64_t every, last;
	uint64_t now, usec = 0;

	if (enabled < 0) {
		enabled = sd_watchdog_enabled(0, &usec) > 0;
		every = usec / 4;
	}
	if (!enabled)
		return;
	now = mono_usec();
	if (last && now - last < every)
		return;
	last = now;
	sd_notify(0, "WATCHDOG=1");
}

#else /* !MT_HAVE_SYSTEMD */

void mt_notify_ready(const char *fmt, ...)
{
	(void)fmt;
}

void mt_notify_status(const char *fmt, ...)
{
	(void)fmt;
}

void mt_notify_reloading(void)
{
}

void mt_notify_stopping(void)
{
}

void mt_notify_watchdog(void)
{
}

#endif /* MT_HAVE_SYSTEMD */
