// SPDX-License-Identifier: GPL-2.0-only
/*
 * Background work on sealed segments, off the packet path and off the
 * control thread: tick only enqueues.
 *
 * Two threads.  The compressor (nice 19, so capture never waits on it)
 * gzips NAME.pcap into a hidden ".NAME.pcap.gz.part", fsyncs, renames it to
 * NAME.pcap.gz, fsyncs the directory and only then removes the raw file, so
 * a crash at any point leaves one whole copy.  The hook runner starts
 * `/bin/sh -c HOOK mirror-target-hook PATH` with posix_spawn for each
 * sealed (compressed when on) segment, at most hook_parallel at once, from
 * a queue of at most hook_queue; each hook is its own process group so a
 * timeout kills the shell and whatever it started.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "mirror-target/caps.h"
#include "segment_internal.h"

extern char **environ;

#define HOOK_POLL_MS 10
#define KILLED_TIMEOUT 1
#define KILLED_SHUTDOWN 2
#define GZ_CHUNK (256u << 10)

struct bg_item {
	struct bg_item *next;
	char name[MT_SEG_NAME_MAX]; /* file name in dir */
};

struct bg_hook {
	pid_t pid;
	int killed; /* KILLED_* */
	struct timespec start;
	char name[MT_SEG_NAME_MAX];
};

struct bg_queue {
	struct bg_item *head, **tail;
	unsigned len;
};

struct mt_segbg {
	pthread_mutex_t lock;
	pthread_cond_t wake; /* work for a thread, or stop */
	pthread_cond_t idle; /* a piece of work finished */
	char dir[PATH_MAX];
	int dirfd;

	/* settings, under lock */
	bool compress;
	int level;
	char hook[MT_HOOK_MAX];
	unsigned hook_parallel, hook_queue, hook_timeout;

	struct bg_queue cq; /* to compress */
	char compressing[MT_SEG_NAME_MAX];
	struct bg_queue hq; /* to hook */
	struct bg_hook *running; /* hook_slots entries */
	unsigned hook_slots, nrunning;

	bool stopping;
	struct timespec hook_deadline; /* 0: none */
	uint64_t changes;
	struct mt_segbg_stats st;

	pthread_t compressor, hooker;
};

static void queue_init(struct bg_queue *q)
{
	q->head = NULL;
	q->tail = &q->head;
	q->len = 0;
}

static void queue_push(struct bg_queue *q, struct bg_item *it)
{
	it->next = NULL;
	*q->tail = it;
	q->tail = &it->next;
	q->len++;
}

static struct bg_item *queue_pop(struct bg_queue *q)
{
	struct bg_item *it = q->head;

	if (it) {
		q->head = it->next;
		if (!q->head)
			q->tail = &q->head;
		q->len--;
	}
	return it;
}

static struct bg_item *item_new(const char *name)
{
	struct bg_item *it = calloc(1, sizeof(*it));

	if (it)
		snprintf(it->name, sizeof(it->name), "%s", name);
	return it;
}

/* Length of NAME in NAME.pcap or NAME.pcap.gz (the prefix may hold '.'). */
static size_t base_len(const char *name)
{
	const char *p, *last = NULL;

	for (p = strstr(name, ".pcap"); p; p = strstr(p + 1, ".pcap"))
		last = p;
	return last ? (size_t)(last - name) : strlen(name);
}

/* Same segment whether named NAME.pcap or NAME.pcap.gz. */
static bool same_segment(const char *a, const char *b)
{
	size_t la = base_len(a), lb = base_len(b);

	return a[0] && la == lb && !strncmp(a, b, la);
}

static void hook_enqueue_locked(struct mt_segbg *bg, const char *name)
{
	unsigned cap = bg->hook_queue ? bg->hook_queue : 1;
	struct bg_item *it;

	if (!bg->hook[0])
		return;
	if (bg->hq.len >= cap) {
		bg->st.hooks_skipped++;
		mt_log(MT_LOG_WARN,
		       "hook for %s/%s skipped: %u segments already wait for a hook (raise hook_queue or hook_parallel, or speed up the hook)",
		       bg->dir, name, bg->hq.len);
		return;
	}
	it = item_new(name);
	if (!it) {
		bg->st.hooks_skipped++;
		mt_log(MT_LOG_WARN, "hook for %s/%s skipped: out of memory",
		       bg->dir, name);
		return;
	}
	queue_push(&bg->hq, it);
	pthread_cond_broadcast(&bg->wake);
}

void mt_segbg_submit(struct mt_segbg *bg, const char *name)
{
	struct bg_item *it;

	pthread_mutex_lock(&bg->lock);
	if (bg->compress) {
		it = item_new(name);
		if (it) {
			queue_push(&bg->cq, it);
			pthread_cond_broadcast(&bg->wake);
		} else {
			bg->st.compress_failures++;
			hook_enqueue_locked(bg, name);
		}
	} else {
		hook_enqueue_locked(bg, name);
	}
	pthread_mutex_unlock(&bg->lock);
}

void mt_segbg_submit_compress(struct mt_segbg *bg, const char *name)
{
	struct bg_item *it;

	pthread_mutex_lock(&bg->lock);
	if (bg->compress) {
		it = item_new(name);
		if (it) {
			queue_push(&bg->cq, it);
			pthread_cond_broadcast(&bg->wake);
		}
	}
	pthread_mutex_unlock(&bg->lock);
}

bool mt_segbg_busy(struct mt_segbg *bg, const char *name)
{
	struct bg_item *it;
	bool busy = false;
	unsigned i;

	pthread_mutex_lock(&bg->lock);
	if (same_segment(bg->compressing, name))
		busy = true;
	for (it = bg->cq.head; it && !busy; it = it->next)
		busy = same_segment(it->name, name);
	for (it = bg->hq.head; it && !busy; it = it->next)
		busy = same_segment(it->name, name);
	for (i = 0; i < bg->hook_slots && !busy; i++)
		busy = bg->running[i].pid > 0 &&
		       same_segment(bg->running[i].name, name);
	pthread_mutex_unlock(&bg->lock);
	return busy;
}

static bool idle_locked(struct mt_segbg *bg)
{
	return !bg->cq.head && !bg->compressing[0] && !bg->hq.head &&
	       !bg->nrunning;
}

void mt_segbg_drain(struct mt_segbg *bg)
{
	pthread_mutex_lock(&bg->lock);
	while (!idle_locked(bg))
		pthread_cond_wait(&bg->idle, &bg->lock);
	pthread_mutex_unlock(&bg->lock);
}

void mt_segbg_stats(struct mt_segbg *bg, struct mt_segbg_stats *out)
{
	pthread_mutex_lock(&bg->lock);
	*out = bg->st;
	out->compress_backlog = bg->cq.len + (bg->compressing[0] ? 1 : 0);
	out->hook_backlog = bg->hq.len + bg->nrunning;
	pthread_mutex_unlock(&bg->lock);
}

void mt_segbg_set_dirfd(struct mt_segbg *bg, int dirfd)
{
	pthread_mutex_lock(&bg->lock);
	bg->dirfd = dirfd;
	pthread_mutex_unlock(&bg->lock);
}

uint64_t mt_segbg_changes(struct mt_segbg *bg)
{
	uint64_t n;

	pthread_mutex_lock(&bg->lock);
	n = bg->changes;
	pthread_mutex_unlock(&bg->lock);
	return n;
}

/* ------------------------------------------------------------ compression */

static int gzip_file(int dirfd, const char *name, int level, char *gzname,
		     size_t gzsize)
{
	char part[MT_SEG_NAME_MAX + 16];
	uint8_t *buf = NULL;
	int in, out, err = 0;
	gzFile gz;
	ssize_t n;
	char mode[8];

	snprintf(gzname, gzsize, "%s.gz", name);
	snprintf(part, sizeof(part), ".%s.gz.part", name);
	in = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	out = openat(dirfd, part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		     0640);
	if (out < 0) {
		err = -errno;
		goto out_in;
	}
	buf = malloc(GZ_CHUNK);
	snprintf(mode, sizeof(mode), "wb%d", level);
	/* gzclose() closes the descriptor it got; fsync needs ours. */
	gz = buf ? gzdopen(dup(out), mode) : NULL;
	if (!gz) {
		err = -ENOMEM;
		goto out_unlink;
	}
	for (;;) {
		n = read(in, buf, GZ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0)
			break;
		if (gzwrite(gz, buf, (unsigned)n) != (int)n) {
			err = -EIO;
			break;
		}
	}
	if (gzclose(gz) != Z_OK && !err)
		err = -EIO;
	if (!err && fsync(out) < 0)
		err = -errno;
	if (!err && renameat(dirfd, part, dirfd, gzname) < 0)
		err = -errno;
	if (!err && fsync(dirfd) < 0)
		err = -errno;
	if (!err && unlinkat(dirfd, name, 0) < 0)
		err = -errno;
	if (!err)
		goto out_out;
out_unlink:
	unlinkat(dirfd, part, 0);
out_out:
	close(out);
out_in:
	close(in);
	free(buf);
	return err;
}

static void *compressor_main(void *arg)
{
	struct mt_segbg *bg = arg;
	char gzname[MT_SEG_NAME_MAX + 8];
	struct bg_item *it;
	int level, dirfd, err;

	pthread_setname_np(pthread_self(), "mt-gzip");
	/* Reads and writes segment files: nothing beyond file access. */
	mt_caps_limit(MT_CAPS_FILES);

	/* Per-thread on Linux: only this thread yields to capture. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	pthread_mutex_lock(&bg->lock);
	for (;;) {
		while (!bg->cq.head && !bg->stopping)
			pthread_cond_wait(&bg->wake, &bg->lock);
		it = queue_pop(&bg->cq);
		if (!it)
			break; /* stopping and nothing left */
		snprintf(bg->compressing, sizeof(bg->compressing), "%s",
			 it->name);
		level = bg->level;
		dirfd = bg->dirfd;
		pthread_mutex_unlock(&bg->lock);

		err = gzip_file(dirfd, it->name, level, gzname, sizeof(gzname));
		if (err)
			mt_log(MT_LOG_ERROR,
			       "compressing segment %s/%s failed: %s (the raw file is kept)",
			       bg->dir, it->name, strerror(-err));

		pthread_mutex_lock(&bg->lock);
		if (err) {
			bg->st.compress_failures++;
			hook_enqueue_locked(bg, it->name);
		} else {
			bg->st.compressed++;
			bg->changes++;
			hook_enqueue_locked(bg, gzname);
		}
		bg->compressing[0] = '\0';
		free(it);
		pthread_cond_broadcast(&bg->idle);
	}
	pthread_mutex_unlock(&bg->lock);
	return NULL;
}

/* ------------------------------------------------------------------ hooks */

static double elapsed_s(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - since->tv_sec) +
	       (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/*
 * The daemon's environment less what belongs to it alone: a hook that
 * inherited NOTIFY_SOCKET could tell systemd we are ready or stopping.
 */
static char **hook_environ(char **env, size_t cap)
{
	size_t n = 0;

	for (char **e = environ; *e && n + 1 < cap; e++) {
		if (!strncmp(*e, "NOTIFY_SOCKET=", 14) ||
		    !strncmp(*e, "WATCHDOG_", 9) || !strncmp(*e, "LISTEN_", 7))
			continue;
		env[n++] = *e;
	}
	env[n] = NULL;
	return env;
}

static int hook_spawn(struct mt_segbg *bg, const char *name, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char path[PATH_MAX + MT_SEG_NAME_MAX + 2];
	char *argv[6], *env[512];
	sigset_t none, all;
	int err;

	snprintf(path, sizeof(path), "%s/%s", bg->dir, name);
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = bg->hook;
	argv[3] = "mirror-target-hook";
	argv[4] = path;
	argv[5] = NULL;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&attr);
	/* Own process group: a timeout kills the whole pipeline. */
	posix_spawnattr_setpgroup(&attr, 0);
	/* The daemon blocks signals in its threads; the hook must not. */
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
						POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);
	err = -posix_spawn(pid, "/bin/sh", &fa, &attr, argv,
			   hook_environ(env, sizeof(env) / sizeof(env[0])));
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

static void hook_finished(struct mt_segbg *bg, struct bg_hook *h, int status)
{
	bg->st.hooks_run++;
	if (h->killed == KILLED_TIMEOUT) {
		bg->st.hook_failures++;
		mt_log(MT_LOG_ERROR,
		       "hook for %s/%s timed out after %u s and was killed (raise hook_timeout or fix the hook)",
		       bg->dir, h->name, bg->hook_timeout);
	} else if (h->killed) {
		bg->st.hook_failures++;
		mt_log(MT_LOG_ERROR,
		       "hook for %s/%s was killed at shutdown after %.0f s",
		       bg->dir, h->name, elapsed_s(&h->start));
	} else if (WIFSIGNALED(status)) {
		bg->st.hook_failures++;
		mt_log(MT_LOG_ERROR, "hook for %s/%s was killed by signal %d",
		       bg->dir, h->name, WTERMSIG(status));
	} else if (WIFEXITED(status) && WEXITSTATUS(status)) {
		bg->st.hook_failures++;
		mt_log(MT_LOG_ERROR, "hook for %s/%s exited with status %d",
		       bg->dir, h->name, WEXITSTATUS(status));
	}
	h->pid = 0;
	bg->nrunning--;
	pthread_cond_broadcast(&bg->idle);
}

static void hooks_reap_locked(struct mt_segbg *bg, bool past_deadline)
{
	struct bg_hook *h;
	int status;
	pid_t r;
	unsigned i;

	for (i = 0; i < bg->hook_slots; i++) {
		h = &bg->running[i];
		if (h->pid <= 0)
			continue;
		r = waitpid(h->pid, &status, WNOHANG);
		if (r == h->pid || (r < 0 && errno == ECHILD)) {
			/* ECHILD: SIGCHLD ignored, the kernel reaped it. */
			if (r < 0)
				status = 0;
			hook_finished(bg, h, status);
			continue;
		}
		if (h->killed)
			continue;
		if (bg->hook_timeout &&
		    elapsed_s(&h->start) >= (double)bg->hook_timeout)
			h->killed = KILLED_TIMEOUT;
		else if (past_deadline)
			h->killed = KILLED_SHUTDOWN;
		if (h->killed)
			kill(-h->pid, SIGKILL);
	}
}

static void hooks_start_locked(struct mt_segbg *bg)
{
	struct bg_item *it;
	struct bg_hook *h;
	unsigned i;
	int err;

	while (bg->hq.head && bg->nrunning < bg->hook_parallel) {
		for (i = 0; i < bg->hook_slots && bg->running[i].pid > 0; i++)
			;
		if (i == bg->hook_slots)
			break;
		it = queue_pop(&bg->hq);
		h = &bg->running[i];
		if (!bg->hook[0]) {
			free(it); /* hook turned off by reload */
			continue;
		}
		err = hook_spawn(bg, it->name, &h->pid);
		if (err) {
			h->pid = 0;
			bg->st.hooks_run++;
			bg->st.hook_failures++;
			mt_log(MT_LOG_ERROR,
			       "hook for %s/%s could not start: %s", bg->dir,
			       it->name, strerror(-err));
		} else {
			h->killed = 0;
			clock_gettime(CLOCK_MONOTONIC, &h->start);
			snprintf(h->name, sizeof(h->name), "%s", it->name);
			bg->nrunning++;
		}
		free(it);
		pthread_cond_broadcast(&bg->idle);
	}
}

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	if (!deadline->tv_sec && !deadline->tv_nsec)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
		now.tv_nsec >= deadline->tv_nsec);
}

static void *hooker_main(void *arg)
{
	struct mt_segbg *bg = arg;
	struct bg_item *it;
	struct timespec ts;
	bool late;

	pthread_setname_np(pthread_self(), "mt-hook");
	/*
	 * Hooks are the user's commands, not ours: they must not inherit the
	 * capabilities the daemon runs with.  Capabilities are per thread and
	 * posix_spawn() children start from this thread's, so this thread
	 * gives up all of them (ambient included) for good.
	 */
	mt_caps_limit(0);
	pthread_mutex_lock(&bg->lock);
	for (;;) {
		late = bg->stopping && past(&bg->hook_deadline);
		if (late) {
			while ((it = queue_pop(&bg->hq))) {
				bg->st.hooks_skipped++;
				mt_log(MT_LOG_WARN,
				       "hook for %s/%s skipped: shutting down",
				       bg->dir, it->name);
				free(it);
			}
		}
		hooks_reap_locked(bg, late);
		hooks_start_locked(bg);
		if (bg->stopping && !bg->nrunning && !bg->hq.head &&
		    !bg->cq.head && !bg->compressing[0])
			break;
		if (bg->nrunning ||
		    (bg->stopping && bg->hook_deadline.tv_sec)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += HOOK_POLL_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&bg->wake, &bg->lock, &ts);
		} else {
			pthread_cond_wait(&bg->wake, &bg->lock);
		}
	}
	pthread_mutex_unlock(&bg->lock);
	return NULL;
}

/* ------------------------------------------------------------- lifecycle */

static int slots_resize_locked(struct mt_segbg *bg, unsigned want)
{
	struct bg_hook *r;

	if (want <= bg->hook_slots)
		return 0;
	r = realloc(bg->running, want * sizeof(*r));
	if (!r)
		return -ENOMEM;
	memset(r + bg->hook_slots, 0, (want - bg->hook_slots) * sizeof(*r));
	bg->running = r;
	bg->hook_slots = want;
	return 0;
}

void mt_segbg_reconfigure(struct mt_segbg *bg,
			  const struct mt_segment_config *cfg)
{
	unsigned parallel = cfg->hook_parallel ? cfg->hook_parallel : 1;

	pthread_mutex_lock(&bg->lock);
	bg->compress = cfg->compress;
	bg->level = cfg->compress_level >= 1 && cfg->compress_level <= 9 ?
			    cfg->compress_level :
			    6;
	snprintf(bg->hook, sizeof(bg->hook), "%s", cfg->hook);
	bg->hook_queue = cfg->hook_queue;
	bg->hook_timeout = cfg->hook_timeout;
	if (!slots_resize_locked(bg, parallel))
		bg->hook_parallel = parallel;
	pthread_cond_broadcast(&bg->wake);
	pthread_mutex_unlock(&bg->lock);
}

struct mt_segbg *mt_segbg__create(const char *dir, int dirfd,
				  const struct mt_segment_config *cfg)
{
	struct mt_segbg *bg;
	int err;

	bg = calloc(1, sizeof(*bg));
	if (!bg)
		return NULL;
	pthread_mutex_init(&bg->lock, NULL);
	pthread_cond_init(&bg->wake, NULL);
	pthread_cond_init(&bg->idle, NULL);
	snprintf(bg->dir, sizeof(bg->dir), "%s", dir);
	bg->dirfd = dirfd;
	queue_init(&bg->cq);
	queue_init(&bg->hq);
	mt_segbg_reconfigure(bg, cfg);
	if (!bg->hook_slots) {
		err = ENOMEM;
		goto out_free;
	}

	err = pthread_create(&bg->compressor, NULL, compressor_main, bg);
	if (err)
		goto out_free;
	err = pthread_create(&bg->hooker, NULL, hooker_main, bg);
	if (err)
		goto out_compressor;
	return bg;

out_compressor:
	pthread_mutex_lock(&bg->lock);
	bg->stopping = true;
	pthread_cond_broadcast(&bg->wake);
	pthread_mutex_unlock(&bg->lock);
	pthread_join(bg->compressor, NULL);
out_free:
	free(bg->running);
	pthread_cond_destroy(&bg->idle);
	pthread_cond_destroy(&bg->wake);
	pthread_mutex_destroy(&bg->lock);
	free(bg);
	errno = err;
	return NULL;
}

void mt_segbg__destroy(struct mt_segbg *bg, unsigned deadline_s)
{
	struct bg_item *it;

	if (!bg)
		return;
	pthread_mutex_lock(&bg->lock);
	bg->stopping = true;
	pthread_cond_broadcast(&bg->wake);
	pthread_mutex_unlock(&bg->lock);
	/* Compression always finishes: a half-made .gz.part helps nobody. */
	pthread_join(bg->compressor, NULL);

	pthread_mutex_lock(&bg->lock);
	if (deadline_s) {
		clock_gettime(CLOCK_MONOTONIC, &bg->hook_deadline);
		bg->hook_deadline.tv_sec += deadline_s;
	}
	pthread_cond_broadcast(&bg->wake);
	pthread_mutex_unlock(&bg->lock);
	pthread_join(bg->hooker, NULL);

	while ((it = queue_pop(&bg->cq)))
		free(it);
	while ((it = queue_pop(&bg->hq)))
		free(it);
	free(bg->running);
	pthread_cond_destroy(&bg->idle);
	pthread_cond_destroy(&bg->wake);
	pthread_mutex_destroy(&bg->lock);
	free(bg);
}
