/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket of mirror-targetd (DESIGN §7), served by the control
 * thread from its poll loop -- never by a worker.
 *
 * Protocol, one exchange per connection:
 *   request   one line of at most MT_CONTROL_REQ_MAX bytes: a command word
 *             and its arguments separated by blanks, ended by '\n' (or by
 *             the client shutting down its sending side), e.g. "status".
 *   response  one JSON object and '\n', then the daemon closes:
 *               {"ok": true, ...command's fields...}
 *               {"ok": false, "error": "what went wrong (how to fix it)"}
 * Commands (answered by live.c): status, rules, segments, rotate, reload;
 * see mirrorctl(8) for their fields.
 *
 * Access: the socket file is mode 0660, group "mirror-target" when that
 * group exists (otherwise 0600: root and the daemon's user only, logged at
 * start).  Every peer is checked again with SO_PEERCRED: root, the daemon's
 * own uid and members of the group are served, anyone else gets an
 * {"ok": false} refusal naming the group to join.
 *
 * A client has MT_CONTROL_TIMEOUT_MS to send its line: the control thread
 * also drives rotation and sealing, so one slow client must not hold it.
 */
#ifndef MT_CONTROL_H
#define MT_CONTROL_H

#include <jansson.h>

#include "mirror-target/log.h"

#define MT_CONTROL_REQ_MAX 1024
#define MT_CONTROL_MAX_ARGS 16
#define MT_CONTROL_TIMEOUT_MS 500
#define MT_CONTROL_GROUP "mirror-target"

/*
 * Answers one request (argv[0] is the command).  Returns a JSON object
 * (the control code adds "ok": true unless it holds "ok" already), or NULL
 * with err set for {"ok": false, "error": err}.
 */
typedef json_t *(*mt_control_handler_fn)(void *ctx, int argc, char **argv,
					 struct mt_err *err);

struct mt_control;

/*
 * Binds PATH (replacing a stale socket left by a crash; refusing one that
 * a running daemon still answers on), sets its owner and mode.  NULL with
 * err set.
 */
struct mt_control *mt_control__create(const char *path,
				      mt_control_handler_fn fn, void *ctx,
				      struct mt_err *err);
/* Closes and unlinks the socket. */
void mt_control__destroy(struct mt_control *c);

/* The listening fd, for poll(POLLIN). */
int mt_control_fd(const struct mt_control *c);
/* Accepts and answers every pending connection; never blocks for long. */
void mt_control_serve(struct mt_control *c);

#endif /* MT_CONTROL_H */
