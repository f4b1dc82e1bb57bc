// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control socket (protocol and access rules in control.h).
 *
 * The socket is bound under a temporary name, given its group and mode, and
 * only then renamed into place, so that there is no moment in which the
 * path exists with the kernel's default permissions.  Connections are
 * accepted non-blocking and answered one at a time by the control thread;
 * each gets a bounded time to send its line and take its answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

struct mt_control {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool have_group;
	gid_t gid;
	mt_control_handler_fn fn;
	void *ctx;
};

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, strlen(path));
	return 0;
}

/* Creates the socket's directory (not its parents) when it is missing. */
static void make_parent(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		mt_log(MT_LOG_WARN, "cannot create %s: %s", dir,
		       strerror(errno));
}

/* 0 when path is free (or was a stale socket, now removed), else -errno. */
static int clear_stale(const char *path, struct mt_err *err)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, ret;

	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return mt_err_set(err,
				  "control socket %s exists and is not a "
				  "socket; remove it or set [control] "
				  "control_socket to another path",
				  path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mt_err_set(err, "control socket: %s", strerror(errno));
	make_addr(path, &sa); /* the length was checked */
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (!ret)
		return mt_err_set(err,
				  "control socket %s is in use: another "
				  "mirror-targetd is running (systemctl status "
				  "mirror-targetd); stop it or set [control] "
				  "control_socket to another path",
				  path);
	/* Nobody listens: left behind by a crash. */
	unlink(path);
	return 0;
}

static void set_access(struct mt_control *c, const char *tmp)
{
	char buf[4096];
	struct group gr, *g = NULL;

	getgrnam_r(MT_CONTROL_GROUP, &gr, buf, sizeof(buf), &g);
	if (g && !chown(tmp, (uid_t)-1, g->gr_gid) && !chmod(tmp, 0660)) {
		c->have_group = true;
		c->gid = g->gr_gid;
		return;
	}
	chmod(tmp, 0600);
	if (g)
		mt_log(MT_LOG_WARN,
		       "control socket %s: cannot give it to group %s (%s); "
		       "only root and this daemon's user can use mirrorctl",
		       c->path, MT_CONTROL_GROUP, strerror(errno));
	else
		mt_log(MT_LOG_INFO,
		       "control socket %s: no group %s on this host, so only "
		       "root and this daemon's user can use mirrorctl (create "
		       "it: groupadd --system %s, and restart)",
		       c->path, MT_CONTROL_GROUP, MT_CONTROL_GROUP);
}

struct mt_control *mt_control__create(const char *path,
				      mt_control_handler_fn fn, void *ctx,
				      struct mt_err *err)
{
	struct mt_control *c;
	struct sockaddr_un sa;
	char tmp[sizeof(sa.sun_path) + 32];
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		mt_err_set(err, "out of memory");
		return NULL;
	}
	c->fd = -1;
	c->fn = fn;
	c->ctx = ctx;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	if (make_addr(path, &sa) || make_addr(tmp, &sa)) {
		mt_err_set(err,
			   "control socket path %s is too long (at most %zu "
			   "bytes with a temporary suffix); set [control] "
			   "control_socket to a shorter path",
			   path, sizeof(sa.sun_path) - 16);
		goto out_free;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	make_parent(path);
	if (clear_stale(path, err))
		goto out_free;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		mt_err_set(err, "control socket: %s", strerror(errno));
		goto out_free;
	}
	unlink(tmp);
	if (bind(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		mt_err_set(err,
			   "cannot create the control socket %s: %s (the "
			   "directory must exist and be writable for this "
			   "user; systemd's RuntimeDirectory= provides it)",
			   path, strerror(errno));
		goto out_close;
	}
	set_access(c, tmp);
	if (listen(c->fd, 16) || rename(tmp, path)) {
		ret = errno;
		unlink(tmp);
		mt_err_set(err, "cannot create the control socket %s: %s", path,
			   strerror(ret));
		goto out_close;
	}
	return c;

out_close:
	close(c->fd);
out_free:
	free(c);
	return NULL;
}

void mt_control__destroy(struct mt_control *c)
{
	if (!c)
		return;
	close(c->fd);
	unlink(c->path);
	free(c);
}

int mt_control_fd(const struct mt_control *c)
{
	return c->fd;
}

static bool in_group(int fd, gid_t gid, gid_t primary)
{
	gid_t groups[NGROUPS_MAX];
	socklen_t len = sizeof(groups);

	if (primary == gid)
		return true;
	/* The peer's supplementary groups as they were at connect(). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* NULL when the peer may talk to us, else why not. */
static const char *peer_refused(const struct mt_control *c, int fd,
				struct ucred *cred)
{
	socklen_t len = sizeof(*cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len))
		return "cannot identify the peer (SO_PEERCRED)";
	if (cred->uid == 0 || cred->uid == geteuid())
		return NULL;
	if (c->have_group && in_group(fd, c->gid, cred->gid))
		return NULL;
	return c->have_group ?
		       "permission denied: only root, the daemon's user and "
		       "members of group " MT_CONTROL_GROUP
		       " may use the control socket (sudo usermod -aG " MT_CONTROL_GROUP
		       " $USER, then log in again)" :
		       "permission denied: only root and the daemon's user may "
		       "use the control socket (there is no group " MT_CONTROL_GROUP
		       " on this host)";
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd until the deadline; 0, or -ETIMEDOUT / -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - now_ms();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)left);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n ? 0 : -ETIMEDOUT;
}

/* Reads one line into buf (NUL-terminated, without '\n'); 0 or -errno. */
static int read_request(int fd, char *buf, size_t size, int64_t deadline)
{
	size_t used = 0;

	for (;;) {
		ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
		char *nl;

		if (n > 0) {
			used += (size_t)n;
			buf[used] = '\0';
			nl = memchr(buf, '\n', used);
			if (nl) {
				*nl = '\0';
				return 0;
			}
			if (used == size - 1)
				return -E2BIG;
			continue;
		}
		if (n == 0) {
			buf[used] = '\0';
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		n = wait_fd(fd, POLLIN, deadline);
		if (n)
			return (int)n;
	}
}

static void write_all(int fd, const char *s, size_t len, int64_t deadline)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n > 0) {
			s += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return;
		if (wait_fd(fd, POLLOUT, deadline))
			return;
	}
}

static json_t *error_obj(const char *msg)
{
	return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

static void answer(struct mt_control *c, int fd)
{
	/* Large answers (many rules) get more time than the request. */
	int64_t deadline = now_ms() + MT_CONTROL_TIMEOUT_MS;
	char req[MT_CONTROL_REQ_MAX + 1], *argv[MT_CONTROL_MAX_ARGS + 1];
	struct mt_err err = { "" };
	const char *why;
	struct ucred cred;
	json_t *resp = NULL;
	char *save, *tok, *text;
	int argc = 0, ret;

	why = peer_refused(c, fd, &cred);
	if (why) {
		mt_log(MT_LOG_WARN, "control socket: refused pid %d uid %u: %s",
		       (int)cred.pid, (unsigned)cred.uid, why);
		resp = error_obj(why);
		goto out_send;
	}
	ret = read_request(fd, req, sizeof(req), deadline);
	if (ret) {
		snprintf(err.msg, sizeof(err.msg),
			 ret == -E2BIG ? "request longer than %d bytes" :
					 "no request line within %d ms",
			 ret == -E2BIG ? MT_CONTROL_REQ_MAX :
					 MT_CONTROL_TIMEOUT_MS);
		resp = error_obj(err.msg);
		goto out_send;
	}
	for (tok = strtok_r(req, " \t\r", &save);
	     tok && argc < MT_CONTROL_MAX_ARGS;
	     tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (!argc) {
		resp = error_obj("empty request: send a command such as "
				 "\"status\"");
		goto out_send;
	}
	resp = c->fn(c->ctx, argc, argv, &err);
	if (!resp)
		resp = error_obj(err.msg[0] ? err.msg : "out of memory");
	else if (!json_object_get(resp, "ok"))
		json_object_set_new(resp, "ok", json_true());

out_send:
	text = resp ? json_dumps(resp, JSON_COMPACT) : NULL;
	if (text) {
		deadline = now_ms() + 4 * MT_CONTROL_TIMEOUT_MS;
		write_all(fd, text, strlen(text), deadline);
		write_all(fd, "\n", 1, deadline);
	}
	free(text);
	json_decref(resp);
}

void mt_control_serve(struct mt_control *c)
{
	/* A bounded number per wake-up: the tick must not starve. */
	for (int i = 0; i < 16; i++) {
		int fd = accept4(c->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		answer(c, fd);
		close(fd);
	}
}
