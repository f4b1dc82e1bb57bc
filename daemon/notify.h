/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Telling systemd how the daemon is doing (sd_notify(3), Type=notify): the
 * control thread says READY=1 once every worker runs, pets the watchdog
 * from its tick, and reports reloads and the stop.  Outside systemd (no
 * $NOTIFY_SOCKET) and in builds without libsystemd every call does nothing,
 * so callers never check.  Only the control thread calls these.
 */
#ifndef MT_NOTIFY_H
#define MT_NOTIFY_H

/* READY=1 plus a STATUS= line: after start-up and after each reload. */
void mt_notify_ready(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* A STATUS= line alone (shown by systemctl status). */
void mt_notify_status(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* RELOADING=1: the rules are being re-read; mt_notify_ready() ends it. */
void mt_notify_reloading(void);

/* STOPPING=1: teardown has begun (flush, seal, detach). */
void mt_notify_stopping(void);

/*
 * WATCHDOG=1, at most every quarter of WatchdogSec: call it from every
 * tick of the control loop, so a loop that hangs gets the service killed
 * and restarted (Restart=on-failure).
 */
void mt_notify_watchdog(void);

#endif /* MT_NOTIFY_H */
