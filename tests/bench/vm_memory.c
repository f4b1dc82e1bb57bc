// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm_memory: two memory costs of the machine under the benchmarks that a
 * capture's write path meets (tests/bench/vm.sh runs it).
 *
 *   vm_memory first-touch DIR MIB
 *	MIB buffers of 1 MiB, each written by the process (memset), are
 *	appended to a file in DIR twice; then MIB more, touched by the
 *	kernel as well (read() from /dev/zero, as the daemon's write-behind
 *	pool is), once.  Then MIB more touched by the kernel only, written by
 *	the process (memset) twice.  Prints the ms per MiB of each pass:
 *	under a hypervisor that shadows the guest's page tables the first
 *	access from each side, the kernel's and the process's, to a page is a
 *	fault of its own.
 *
 *   vm_memory copy DIR MIB
 *	The daemon's write path in one thread: 1516-byte records copied from
 *	a 64 MiB area (the UMEM) into a 1 MiB buffer, each full buffer
 *	pwrite()n to a file in DIR, MIB MiB in all.  Prints GB/s.
 *
 * The files are removed before exit.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB (1u << 20)
#define UMEM_BYTES (64u * MIB)
#define RECORD 1516u

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int open_out(const char *dir, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/vm_memory.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		perror(path);
	return fd;
}

/* n buffers of 1 MiB, written by the process (user) and/or the kernel. */
static char **pool(unsigned n, bool user, int zero_fd)
{
	char **p = calloc(n, sizeof(*p));

	for (unsigned i = 0; p && i < n; i++) {
		p[i] = aligned_alloc(64, MIB);
		if (!p[i])
			return NULL;
		if (user)
			memset(p[i], 0x5a, MIB);
		if (zero_fd >= 0 && read(zero_fd, p[i], MIB) != (ssize_t)MIB)
			return NULL;
	}
	return p;
}

/* memset of each buffer; returns ms per MiB. */
static double fill(char **p, unsigned n)
{
	double t0 = now();

	for (unsigned i = 0; i < n; i++)
		memset(p[i], 0x33, MIB);
	return (now() - t0) * 1e3 / n;
}

/*
 * One pwrite per buffer, at the file's end (every pass allocates new file
 * pages alike); returns ms per MiB, < 0 on error.
 */
static double pass(int fd, char **p, unsigned n)
{
	double t0 = now();

	for (unsigned i = 0; i < n; i++)
		if (write(fd, p[i], MIB) != (ssize_t)MIB)
			return -1;
	return (now() - t0) * 1e3 / n;
}

static int first_touch(const char *dir, unsigned n)
{
	char path[4096];
	int fd = open_out(dir, path, sizeof(path));
	int zero_fd = open("/dev/zero", O_RDONLY);
	char **user, **both, **kernel;
	double a, b, c, d, e;

	if (fd < 0 || zero_fd < 0)
		return 1;
	user = pool(n, true, -1);
	both = pool(n, true, zero_fd);
	kernel = pool(n, false, zero_fd);
	if (!user || !both || !kernel) {
		fprintf(stderr, "vm_memory: cannot allocate 3 x %u MiB\n", n);
		return 1;
	}
	a = pass(fd, user, n);
	b = pass(fd, user, n);
	c = pass(fd, both, n);
	d = fill(kernel, n);
	e = fill(kernel, n);
	unlink(path);
	if (a < 0 || b < 0 || c < 0) {
		perror("write");
		return 1;
	}
	printf("first-touch: %u MiB buffers touched by the process only: "
	       "%.2f ms/MiB on their first write, %.2f on the second; "
	       "touched by the kernel too: %.2f ms/MiB on their first; "
	       "touched by the kernel only: the process's first memset %.2f "
	       "ms/MiB, its second %.2f\n",
	       n, a, b, c, d, e);
	return 0;
}

static int copy(const char *dir, unsigned total)
{
	char path[4096];
	int fd = open_out(dir, path, sizeof(path));
	char *umem = aligned_alloc(4096, UMEM_BYTES);
	char *buf = aligned_alloc(64, MIB);
	size_t src = 0, len = 0;
	unsigned long long off = 0, want = (unsigned long long)total * MIB;
	double t0;

	if (fd < 0 || !umem || !buf)
		return 1;
	memset(umem, 0x5a, UMEM_BYTES);
	memset(buf, 0, MIB);
	t0 = now();
	while (off < want) {
		memcpy(buf + len, umem + src, RECORD);
		len += RECORD;
		src = (src + 4096) % UMEM_BYTES; /* one record per frame */
		if (len + RECORD > MIB) {
			if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
				perror("pwrite");
				unlink(path);
				return 1;
			}
			off += len;
			len = 0;
		}
	}
	printf("copy: %.2f GB/s (%.0f thousand 1516-byte records/s)\n",
	       (double)off / (now() - t0) / 1e9,
	       (double)off / RECORD / (now() - t0) / 1e3);
	unlink(path);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned n = argc == 4 ? (unsigned)strtoul(argv[3], NULL, 0) : 0;

	if (n && !strcmp(argv[1], "first-touch"))
		return first_touch(argv[2], n);
	if (n && !strcmp(argv[1], "copy"))
		return copy(argv[2], n);
	fprintf(stderr, "usage: vm_memory first-touch|copy DIR MIB\n");
	return 2;
}
