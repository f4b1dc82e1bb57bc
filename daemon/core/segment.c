// SPDX-License-Identifier: GPL-2.0-only
/*
 * The segmenter: owner of the output directory (DESIGN §5).
 *
 * Life of a segment: the control thread creates a hidden
 * ".PREFIX-open-N.pcap.part" with its pcap header (preallocated to the
 * rotation size, so a worker's pwrite does not meet ENOSPC half way through
 * a segment) and publishes it before any packet needs it, so workers never
 * open files.  Rotation (size, wall-clock-aligned interval, idleness, an
 * explicit request) publishes a fresh one and moves the old one to the
 * retiring list; once no writer holds it (refs == 0) it is cut to its real
 * size, fsynced, renamed to PREFIX-YYYYmmddTHHMMSSZ-SEQ.pcap and the
 * directory fsynced.  Empty segments are never sealed, only removed.
 * Sealed segments go to the background (gzip, hook); retention then looks
 * at the directory.  Each segment has a VNI index beside it (segment.h):
 * created with it, renamed into place just before it, deleted with it,
 * left alone by gzip, and dropped rather than sealed when it is not whole.  Every decision uses the now_ns the caller passes in:
 * wall clock live, packet time offline.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "segment_internal.h"

int (*mt_segment_fstatvfs)(int fd, struct statvfs *st) = fstatvfs;

void mt_segment_config_default(struct mt_segment_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->dir, sizeof(cfg->dir), "/var/lib/mirror-target/segments");
	snprintf(cfg->prefix, sizeof(cfg->prefix), "mirror");
	cfg->snaplen = 65535;
	cfg->nanosecond = true;
	cfg->rotate_bytes = 256ull << 20;
	cfg->rotate_interval = 300;
	cfg->rotate_idle = 60;
	cfg->keep_segments = 0;
	cfg->keep_bytes = 0;
	cfg->min_free_bytes = 1ull << 30;
	cfg->stop_when_full = false;
	cfg->compress = false;
	cfg->compress_level = 6;
	cfg->hook[0] = '\0';
	cfg->hook_parallel = 2;
	cfg->hook_queue = 64;
	cfg->hook_timeout = 300;
}

/* ------------------------------------------------------------------ names */

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool mt_segment_parse_name(const char *prefix, const char *name, uint64_t *seq,
			   uint64_t *time_s, bool *gz)
{
	size_t plen = strlen(prefix), ndig;
	const char *p = name, *t;
	struct tm tm = { 0 };
	time_t when;

	if (strncmp(p, prefix, plen) || p[plen] != '-')
		return false;
	t = p + plen + 1;
	/* YYYYmmddTHHMMSSZ- */
	if (!all_digits(t, 8) || t[8] != 'T' || !all_digits(t + 9, 6) ||
	    t[15] != 'Z' || t[16] != '-')
		return false;
	p = t + 17;
	ndig = strspn(p, "0123456789");
	if (ndig < 6 || ndig > 19)
		return false;
	if (!strcmp(p + ndig, ".pcap")) {
		if (gz)
			*gz = false;
	} else if (!strcmp(p + ndig, ".pcap.gz")) {
		if (gz)
			*gz = true;
	} else {
		return false;
	}
	if (seq)
		*seq = strtoull(p, NULL, 10);
	if (time_s) {
		if (sscanf(t, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon,
			   &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			   &tm.tm_sec) != 6)
			return false;
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		when = timegm(&tm);
		*time_s = when < 0 ? 0 : (uint64_t)when;
	}
	return true;
}

bool mt_vnix_name(const char *seg_name, char *out, size_t size)
{
	static const char *const sfx[] = { ".pcap.part", ".pcap.gz", ".pcap" };
	static const char *const repl[] = { ".vni.part", MT_VNIX_SUFFIX,
					    MT_VNIX_SUFFIX };
	size_t len = strlen(seg_name), sl;
	int n;

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		sl = strlen(sfx[i]);
		if (len <= sl || strcmp(seg_name + len - sl, sfx[i]))
			continue;
		n = snprintf(out, size, "%.*s%s", (int)(len - sl), seg_name,
			     repl[i]);
		return n > 0 && (size_t)n < size;
	}
	return false;
}

/* ".PREFIX-...pcap.part" but not ".PREFIX-...pcap.gz.part" */
static bool is_part(const char *prefix, const char *name, bool *gz)
{
	size_t plen = strlen(prefix), len = strlen(name);

	if (name[0] != '.' || strncmp(name + 1, prefix, plen) ||
	    name[plen + 1] != '-')
		return false;
	if (len > 13 && !strcmp(name + len - 13, ".pcap.gz.part")) {
		*gz = true;
		return true;
	}
	if (len > 10 && !strcmp(name + len - 10, ".pcap.part")) {
		*gz = false;
		return true;
	}
	return false;
}

/* Sealed names sort chronologically: time never goes back, SEQ grows. */
static void final_name(struct mt_segmenter *sg, uint64_t first_ts_ns, char *out,
		       size_t size)
{
	uint64_t t = first_ts_ns / MT_NSEC_PER_SEC;
	time_t tt;
	struct tm tm;
	char stamp[32];

	if (t < sg->name_time)
		t = sg->name_time;
	sg->name_time = t;
	tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(out, size, "%s-%s-%06" PRIu64 ".pcap", sg->cfg.prefix, stamp,
		 ++sg->seq);
}

/* -------------------------------------------------------------- segments */

static int free_bytes(struct mt_segmenter *sg, uint64_t *out)
{
	struct statvfs st;

	if (mt_segment_fstatvfs(sg->dirfd, &st) < 0)
		return -errno;
	*out = (uint64_t)st.f_bavail * st.f_frsize;
	return 0;
}

static uint64_t prealloc_len(const struct mt_segment_config *cfg)
{
	/* Writers overshoot rotate_bytes until the next tick notices. */
	return cfg->rotate_bytes ? cfg->rotate_bytes + cfg->rotate_bytes / 8 :
				   0;
}

static void segment_free(struct mt_segment *seg)
{
	if (seg->fd >= 0)
		close(seg->fd);
	if (seg->vnix_fd >= 0)
		close(seg->vnix_fd);
	free(seg);
}

static struct mt_segment *segment_alloc(void)
{
	struct mt_segment *seg = aligned_alloc(64, sizeof(*seg));

	if (!seg)
		return NULL;
	memset(seg, 0, sizeof(*seg));
	seg->fd = -1;
	seg->vnix_fd = -1;
	seg->first_ts = UINT64_MAX;
	seg->fail_off = MT_NO_FAILURE;
	return seg;
}

static void log_write_error(struct mt_segmenter *sg, const char *what,
			    const char *name, int err);

/*
 * The segment's index, with its header.  Without one the segment is still
 * written (and sealed without index): capture matters more than its index.
 */
static void vnix_create(struct mt_segmenter *sg, struct mt_segment *seg)
{
	uint8_t hdr[MT_VNIX_HDR_LEN] = { 0 };
	uint32_t version = htole32(MT_VNIX_VERSION);
	int err;

	memcpy(hdr, MT_VNIX_MAGIC, 8);
	memcpy(hdr + 8, &version, 4);
	seg->vnix_size = MT_VNIX_HDR_LEN;
	if (!mt_vnix_name(seg->part, seg->vnix_part, sizeof(seg->vnix_part))) {
		err = -ENAMETOOLONG;
		goto out_fail;
	}
	seg->vnix_fd = openat(sg->dirfd, seg->vnix_part,
			      O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (seg->vnix_fd < 0) {
		err = -errno;
		goto out_fail;
	}
	if (pwrite(seg->vnix_fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		err = errno ? -errno : -EIO;
		goto out_unlink;
	}
	return;

out_unlink:
	close(seg->vnix_fd);
	seg->vnix_fd = -1;
	unlinkat(sg->dirfd, seg->vnix_part, 0);
out_fail:
	seg->vnix_failed = 1;
	__atomic_fetch_add(&sg->index_errors, 1, __ATOMIC_RELAXED);
	log_write_error(sg, "creating its VNI index", seg->part, err);
}

static int segment_open(struct mt_segmenter *sg, struct mt_segment **out)
{
	uint8_t hdr[MT_PCAP_HDR_LEN];
	struct mt_segment *seg;
	uint64_t len;
	int err;

	seg = segment_alloc();
	if (!seg)
		return -ENOMEM;
	/*
	 * 0640: the group (mirror-target under the systemd unit) may fetch
	 * segments, nobody else: they hold other hosts' traffic.
	 */
	do {
		snprintf(seg->part, sizeof(seg->part),
			 ".%s-open-%06" PRIu64 ".pcap.part", sg->cfg.prefix,
			 ++sg->part_serial);
		seg->fd = openat(sg->dirfd, seg->part,
				 O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	} while (seg->fd < 0 && errno == EEXIST);
	if (seg->fd < 0) {
		err = -errno;
		goto out_free;
	}
	len = prealloc_len(&sg->cfg);
	if (len && !fallocate(seg->fd, 0, 0, (off_t)len))
		seg->prealloc = len;
	/* else: filesystem without fallocate, or nearly full; write anyway */

	seg->snaplen = sg->snaplen;
	seg->nanosecond = sg->nanosecond;
	mt_pcap_file_header(hdr, seg->snaplen, seg->nanosecond);
	if (pwrite(seg->fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
		err = errno ? -errno : -EIO;
		goto out_unlink;
	}
	seg->size = MT_PCAP_HDR_LEN;
	vnix_create(sg, seg);
	sg->st.segments_opened++;
	*out = seg;
	return 0;

out_unlink:
	unlinkat(sg->dirfd, seg->part, 0);
out_free:
	segment_free(seg);
	return err;
}

static void publish(struct mt_segmenter *sg, struct mt_segment *seg,
		    int noseg_err)
{
	if (!seg)
		__atomic_store_n(&sg->noseg_err, noseg_err, __ATOMIC_RELAXED);
	__atomic_store_n(&sg->cur, seg, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&sg->gen, 1, __ATOMIC_SEQ_CST);
}

/*
 * Publishes next (or nothing, with the reason writers report) and queues
 * the current segment for sealing once its writers let go.
 */
static void retire_current(struct mt_segmenter *sg, struct mt_segment *next,
			   int noseg_err)
{
	struct mt_segment *old = sg->cur;

	publish(sg, next, noseg_err);
	if (!old)
		return;
	old->next = NULL;
	*sg->retiring_tail = old;
	sg->retiring_tail = &old->next;
}

static void log_write_error(struct mt_segmenter *sg, const char *what,
			    const char *name, int err)
{
	__atomic_fetch_add(&sg->write_errors, 1, __ATOMIC_RELAXED);
	mt_log(MT_LOG_ERROR, "segment %s/%s: %s failed: %s", sg->cfg.dir, name,
	       what, strerror(-err));
}

/* ------------------------------------------------------------ VNI index */

static int pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int run_cmp(const void *a, const void *b)
{
	const struct mt_vnix_run *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

int mt_vnix_read(int fd, struct mt_vnix_run **runs, size_t *n)
{
	uint8_t hdr[MT_VNIX_HDR_LEN];
	struct mt_vnix_run *v;
	uint32_t version;
	struct stat st;
	size_t cnt, i, j;
	int err;

	*runs = NULL;
	*n = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size < MT_VNIX_HDR_LEN)
		return -EPROTO;
	err = pread_full(fd, hdr, sizeof(hdr), 0);
	if (err)
		return err == -ENODATA ? -EPROTO : err;
	memcpy(&version, hdr + 8, 4);
	if (memcmp(hdr, MT_VNIX_MAGIC, 8) ||
	    le32toh(version) != MT_VNIX_VERSION)
		return -EPROTO;
	/* A torn last run (crash mid-write) is left out. */
	cnt = (size_t)(st.st_size - MT_VNIX_HDR_LEN) / MT_VNIX_RUN_LEN;
	v = malloc(cnt ? cnt * sizeof(*v) : 1);
	if (!v)
		return -ENOMEM;
	err = pread_full(fd, v, cnt * sizeof(*v), MT_VNIX_HDR_LEN);
	if (err) {
		free(v);
		return err == -ENODATA ? -EPROTO : err;
	}
	/* Empty runs: index space reserved by a write that never came. */
	for (i = 0, j = 0; i < cnt; i++) {
		v[j].off = le64toh(v[i].off);
		v[j].count = le32toh(v[i].count);
		v[j].vni = le32toh(v[i].vni);
		if (v[j].count)
			j++;
	}
	if (j)
		qsort(v, j, sizeof(*v), run_cmp);
	*runs = v;
	*n = j;
	return 0;
}

/* Record headers through a window, as in mt_pcap_scan_fd(). */
#define VNIX_WINDOW (1u << 20)

struct rec_window {
	int fd;
	uint8_t *buf;
	uint64_t off;
	size_t len;
};

static int rec_caplen_at(struct rec_window *r, uint64_t pos, uint32_t *caplen)
{
	struct mt_pcap_rec_hdr rh;
	ssize_t got;

	if (pos < r->off || pos + sizeof(rh) > r->off + r->len) {
		r->off = pos;
		r->len = 0;
		while (r->len < VNIX_WINDOW) {
			got = pread(r->fd, r->buf + r->len,
				    VNIX_WINDOW - r->len,
				    (off_t)(pos + r->len));
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return -errno;
			if (got == 0)
				break;
			r->len += (size_t)got;
		}
		if (r->len < sizeof(rh))
			return -ENODATA;
	}
	memcpy(&rh, r->buf + (pos - r->off), sizeof(rh));
	*caplen = rh.caplen;
	return 0;
}

/*
 * After a crash or a failed write the records end at end, while runs may
 * reach past it (the index is written first) or be missing.  Keeps the
 * runs inside [header, end), shortens one that crosses end to its whole
 * records, and rewrites the index sorted.  True when the kept runs cover
 * every record below end exactly once: only then is the index sealed.
 */
static bool vnix_trim(struct mt_segment *seg, uint64_t end)
{
	struct rec_window win = { .fd = seg->fd };
	uint8_t hdr[MT_VNIX_HDR_LEN] = { 0 };
	uint32_t version = htole32(MT_VNIX_VERSION), caplen = 0, c;
	struct mt_vnix_run *runs = NULL;
	uint64_t pos = MT_PCAP_HDR_LEN;
	size_t n, i, k = 0;
	bool ok = false;
	size_t len;

	if (mt_vnix_read(seg->vnix_fd, &runs, &n))
		return false;
	win.buf = malloc(VNIX_WINDOW);
	if (!win.buf)
		goto out;
	for (i = 0; i < n && pos < end; i++) {
		if (runs[i].off != pos)
			goto out; /* records no run covers, or covered twice */
		for (c = 0; c < runs[i].count && pos < end; c++) {
			if (rec_caplen_at(&win, pos, &caplen))
				goto out;
			pos += MT_PCAP_REC_HDR_LEN + (uint64_t)caplen;
		}
		if (pos > end)
			goto out;
		runs[k] = runs[i];
		runs[k++].count = c;
	}
	if (pos != end)
		goto out;
	for (i = 0; i < k; i++) {
		runs[i].off = htole64(runs[i].off);
		runs[i].count = htole32(runs[i].count);
		runs[i].vni = htole32(runs[i].vni);
	}
	memcpy(hdr, MT_VNIX_MAGIC, 8);
	memcpy(hdr + 8, &version, 4);
	len = k * sizeof(*runs);
	ok = pwrite(seg->vnix_fd, hdr, sizeof(hdr), 0) ==
		     (ssize_t)sizeof(hdr) &&
	     (!len || pwrite(seg->vnix_fd, runs, len, MT_VNIX_HDR_LEN) ==
			      (ssize_t)len) &&
	     !ftruncate(seg->vnix_fd, (off_t)(MT_VNIX_HDR_LEN + len));
out:
	free(win.buf);
	free(runs);
	return ok;
}

/*
 * Puts the index in place as NAME.vni before its segment gets NAME.pcap,
 * or removes it when it does not describe every record: a reader must
 * never trust a partial index.
 */
static void vnix_seal(struct mt_segmenter *sg, struct mt_segment *seg,
		      uint64_t end, uint64_t packets, bool verify,
		      const char *name)
{
	char final[MT_SEG_NAME_MAX];
	const char *why = NULL;
	int err;

	if (seg->vnix_fd < 0) {
		/* Recovered from before VNI indexes, or never created. */
		if (!seg->vnix_verify)
			why = "it could not be created";
	} else if (__atomic_load_n(&seg->vnix_failed, __ATOMIC_RELAXED)) {
		why = "writing it failed";
	} else if (verify ? !vnix_trim(seg, end) :
			    __atomic_load_n(&seg->vnix_records,
					    __ATOMIC_RELAXED) != packets) {
		why = "it does not cover every record";
	} else if (!mt_vnix_name(name, final, sizeof(final))) {
		why = "its name is too long";
	} else if (fsync(seg->vnix_fd) < 0) {
		err = -errno;
		log_write_error(sg, "fsync of its VNI index", seg->part, err);
		why = "fsync failed";
	} else if (renameat(sg->dirfd, seg->vnix_part, sg->dirfd, final) < 0) {
		err = -errno;
		log_write_error(sg, "rename of its VNI index", seg->part, err);
		why = "rename failed";
	} else {
		return;
	}
	if (seg->vnix_fd >= 0)
		unlinkat(sg->dirfd, seg->vnix_part, 0);
	sg->st.sealed_without_index++;
	if (why)
		mt_log(MT_LOG_WARN,
		       "segment %s/%s is sealed without its VNI index (%s); its packets are kept, but `mirrorctl export --vni` skips it",
		       sg->cfg.dir, name, why);
}

static int seal_rename(struct mt_segmenter *sg, struct mt_segment *seg,
		       bool first);

/*
 * Cuts the file to whole records, fsyncs, renames to its final name and
 * fsyncs the directory.  On a failed flush the file ends at the lowest
 * failed offset (see struct mt_segment); records that other writers put
 * after it are lost with it and reported here.
 */
static int segment_seal(struct mt_segmenter *sg, struct mt_segment *seg)
{
	uint64_t end = __atomic_load_n(&seg->size, __ATOMIC_SEQ_CST);
	uint64_t fail = __atomic_load_n(&seg->fail_off, __ATOMIC_SEQ_CST);
	uint64_t packets = seg->packets, first = seg->first_ts;
	bool verify = seg->vnix_verify || fail < end;
	char name[MT_SEG_NAME_MAX];
	struct mt_pcap_scan scan;
	int err = 0;

	if (fail < end) {
		end = fail;
		if (ftruncate(seg->fd, (off_t)end) < 0)
			log_write_error(sg, "truncate", seg->part, -errno);
		if (!mt_pcap_scan_fd(seg->fd, &scan)) {
			if (packets > scan.records)
				mt_log(MT_LOG_ERROR,
				       "segment %s/%s: a write at offset %" PRIu64
				       " failed (%s); %" PRIu64
				       " records written after it are lost",
				       sg->cfg.dir, seg->part, fail,
				       strerror(seg->fail_err),
				       packets - scan.records);
			packets = scan.records;
			first = scan.first_ts_ns;
			end = scan.valid_end;
		}
	}
	if (end <= MT_PCAP_HDR_LEN || !packets) {
		unlinkat(sg->dirfd, seg->part, 0);
		if (seg->vnix_fd >= 0)
			unlinkat(sg->dirfd, seg->vnix_part, 0);
		goto out;
	}
	if (ftruncate(seg->fd, (off_t)end) < 0) {
		err = -errno;
		log_write_error(sg, "truncate", seg->part, err);
	}
	if (fsync(seg->fd) < 0) {
		err = -errno;
		log_write_error(sg, "fsync", seg->part, err);
	}
	final_name(sg, first, name, sizeof(name));
	vnix_seal(sg, seg, end, packets, verify, name);
	snprintf(seg->final, sizeof(seg->final), "%s", name);
	seg->seal_packets = packets;
	err = seal_rename(sg, seg, true);
	if (err == -EAGAIN)
		return err; /* kept for retry_seals() */
out:
	segment_free(seg);
	return err;
}

/*
 * The last step of a seal: the rename to the final name, then the
 * directory's fsync.  A directory that refuses it for now (read-only,
 * chattr +i: found by tests/faults/sc_outdir.sh) keeps the segment on the
 * unsealed list for the next tick, as it would otherwise stay a .part until
 * a restart, and be lost with the directory if that went first; -EAGAIN
 * then.  ENOENT: the file went with a removed directory; its records are
 * counted as lost.
 */
static int seal_rename(struct mt_segmenter *sg, struct mt_segment *seg,
		       bool first)
{
	int err = 0;

	if (renameat(sg->dirfd, seg->part, sg->dirfd, seg->final) < 0) {
		err = -errno;
		if (err == -ENOENT) {
			log_write_error(sg, "rename to its final name",
					seg->part, err);
			sg->st.records_lost += seg->seal_packets;
			mt_log(MT_LOG_ERROR,
			       "segment %s/%s was removed before it was "
			       "sealed: %" PRIu64 " records lost",
			       sg->cfg.dir, seg->part, seg->seal_packets);
			return err;
		}
		/* Counted each try: /healthz stays failed while it lasts. */
		__atomic_fetch_add(&sg->write_errors, 1, __ATOMIC_RELAXED);
		if (first)
			mt_log(MT_LOG_ERROR,
			       "segment %s/%s: rename to its final name failed: "
			       "%s; trying again every tick",
			       sg->cfg.dir, seg->part, strerror(-err));
		seg->next = sg->unsealed;
		sg->unsealed = seg;
		return -EAGAIN;
	}
	if (fsync(sg->dirfd) < 0) {
		err = -errno;
		log_write_error(sg, "fsync of the directory", seg->final, err);
	}
	if (!first) {
		/* The index could not be renamed either; it is not trusted. */
		unlinkat(sg->dirfd, seg->vnix_part, 0);
		mt_log(MT_LOG_INFO, "segment %s/%s sealed at last", sg->cfg.dir,
		       seg->final);
	}
	sg->st.segments_sealed++;
	sg->rescan = true;
	mt_log(MT_LOG_DEBUG, "sealed %s/%s: %" PRIu64 " records", sg->cfg.dir,
	       seg->final, seg->seal_packets);
	mt_segbg_submit(sg->bg, seg->final);
	return err;
}

/* Seals again what a refusing directory left unsealed. */
static void retry_seals(struct mt_segmenter *sg)
{
	struct mt_segment *seg = sg->unsealed, *next;

	sg->unsealed = NULL;
	for (; seg; seg = next) {
		next = seg->next;
		if (seal_rename(sg, seg, false) != -EAGAIN)
			segment_free(seg);
	}
}

/* Seals retiring segments in order, as long as no writer holds the head. */
static int seal_ready(struct mt_segmenter *sg, bool force)
{
	struct mt_segment *seg;
	int err, ret = 0;

	while ((seg = sg->retiring)) {
		if (!force && __atomic_load_n(&seg->refs, __ATOMIC_SEQ_CST))
			break;
		sg->retiring = seg->next;
		if (!sg->retiring)
			sg->retiring_tail = &sg->retiring;
		err = segment_seal(sg, seg);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

/* -------------------------------------------------------------- retention */

struct dir_entry {
	char name[MT_SEG_NAME_MAX];
	char gzname[MT_SEG_NAME_MAX + 8]; /* second copy while compressing */
	uint64_t size;
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dir_entry *)a)->name,
		      ((const struct dir_entry *)b)->name);
}

/*
 * Our sealed segments in dir, oldest first.  NAME.pcap and NAME.pcap.gz
 * (both exist for a moment while compressing) are one segment.
 */
static int scan_sealed(struct mt_segmenter *sg, struct dir_entry **out,
		       size_t *n)
{
	struct dir_entry *v = NULL, *tmp;
	size_t cnt = 0, cap = 0, i, j, len;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;
	bool gz;

	fd = openat(sg->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (strlen(de->d_name) >= MT_SEG_NAME_MAX ||
		    !mt_segment_parse_name(sg->cfg.prefix, de->d_name, NULL,
					   NULL, &gz))
			continue;
		if (fstatat(sg->dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
			    0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			tmp = realloc(v, cap * sizeof(*v));
			if (!tmp) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = tmp;
		}
		snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", de->d_name);
		v[cnt].gzname[0] = '\0';
		v[cnt].size = (uint64_t)st.st_blocks * 512;
		if ((uint64_t)st.st_size > v[cnt].size)
			v[cnt].size = (uint64_t)st.st_size;
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), entry_cmp);
	/* "X.pcap" sorts right before "X.pcap.gz": merge them. */
	for (i = 0, j = 0; i < cnt; i++) {
		len = strlen(v[i].name);
		if (j &&
		    !strncmp(v[j - 1].name, v[i].name, strlen(v[j - 1].name)) &&
		    len == strlen(v[j - 1].name) + 3) {
			snprintf(v[j - 1].gzname, sizeof(v[j - 1].gzname), "%s",
				 v[i].name);
			v[j - 1].size += v[i].size;
			continue;
		}
		v[j++] = v[i];
	}
	/* The index counts against keep_bytes with its segment. */
	for (i = 0; i < j; i++) {
		char vname[MT_SEG_NAME_MAX];

		if (mt_vnix_name(v[i].name, vname, sizeof(vname)) &&
		    !fstatat(sg->dirfd, vname, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(st.st_mode))
			v[i].size += (uint64_t)st.st_size;
	}
	*out = v;
	*n = j;
	return 0;
}

static bool over_limits(const struct mt_segment_config *cfg, uint64_t count,
			uint64_t bytes, bool have_free, uint64_t avail)
{
	return (cfg->keep_segments && count > cfg->keep_segments) ||
	       (cfg->keep_bytes && bytes > cfg->keep_bytes) ||
	       (have_free && avail < cfg->min_free_bytes);
}

static int delete_oldest(struct mt_segmenter *sg, struct dir_entry *v, size_t n,
			 uint64_t cur_size, bool have_free, uint64_t *avail)
{
	uint64_t count = n, bytes = cur_size;
	char vname[MT_SEG_NAME_MAX];
	bool busy = false;
	size_t i;
	int err = 0;

	for (i = 0; i < n; i++)
		bytes += v[i].size;
	for (i = 0;
	     i < n && over_limits(&sg->cfg, count, bytes, have_free, *avail);
	     i++) {
		/*
		 * Not while gzip or a hook works on it (e.g. an upload);
		 * look again at the next tick.
		 */
		if (mt_segbg_busy(sg->bg, v[i].name)) {
			busy = true;
			continue;
		}
		if (unlinkat(sg->dirfd, v[i].name, 0) < 0 && errno != ENOENT) {
			err = -errno;
			log_write_error(sg, "delete (retention)", v[i].name,
					err);
			continue;
		}
		if (v[i].gzname[0])
			unlinkat(sg->dirfd, v[i].gzname, 0);
		/* After the segment: an index alone is harmless, and removed
		 * at the next start. */
		if (mt_vnix_name(v[i].name, vname, sizeof(vname)))
			unlinkat(sg->dirfd, vname, 0);
		mt_log(MT_LOG_INFO, "retention: deleted %s/%s", sg->cfg.dir,
		       v[i].name);
		sg->st.segments_deleted++;
		count--;
		bytes -= v[i].size;
		v[i].size = 0;
		v[i].name[0] = '\0';
		if (have_free)
			free_bytes(sg, avail);
	}
	if (busy && over_limits(&sg->cfg, count, bytes, have_free, *avail)) {
		sg->rescan = true;
	} else if (over_limits(&sg->cfg, count, bytes, have_free, *avail) &&
		   !sg->floor_warned) {
		sg->floor_warned = true;
		mt_log(MT_LOG_WARN,
		       "retention: %s still over its limits (%" PRIu64
		       " segments, %" PRIu64 " bytes, %" PRIu64
		       " bytes free) with nothing left to delete; check keep_segments/keep_bytes/min_free_bytes and what else fills the disk",
		       sg->cfg.dir, count, bytes, *avail);
	} else if (!over_limits(&sg->cfg, count, bytes, have_free, *avail)) {
		sg->floor_warned = false;
	}
	return err;
}

static void stop_writing(struct mt_segmenter *sg, const char *why)
{
	sg->stopped = true;
	mt_log(MT_LOG_WARN,
	       "segments in %s: %s; stop_when_full is on, so packets are dropped until space is freed",
	       sg->cfg.dir, why);
	retire_current(sg, NULL, -ESHUTDOWN);
}

/*
 * In stop mode nothing is deleted: writing stops while the limits are
 * reached and resumes by itself once they are not (someone removed files).
 * Resuming needs room for a whole preallocated segment above the floor,
 * or it would stop again at once.
 */
static int stop_mode(struct mt_segmenter *sg, struct dir_entry *v, size_t n,
		     uint64_t cur_size, bool have_free, uint64_t avail)
{
	const struct mt_segment_config *cfg = &sg->cfg;
	struct mt_segment *seg;
	uint64_t bytes = cur_size;
	size_t i;
	int err;

	for (i = 0; i < n; i++)
		bytes += v[i].size;
	if (!sg->stopped) {
		if (cfg->keep_segments && n >= cfg->keep_segments)
			stop_writing(sg, "keep_segments reached");
		else if (cfg->keep_bytes && bytes >= cfg->keep_bytes)
			stop_writing(sg, "keep_bytes reached");
		else if (have_free && avail < cfg->min_free_bytes)
			stop_writing(sg, "free space below min_free_bytes");
		return 0;
	}
	if ((cfg->keep_segments && n >= cfg->keep_segments) ||
	    (cfg->keep_bytes && bytes >= cfg->keep_bytes) ||
	    (have_free && avail < cfg->min_free_bytes + prealloc_len(cfg)))
		return 0;
	err = segment_open(sg, &seg);
	if (err)
		return err;
	sg->stopped = false;
	mt_log(MT_LOG_INFO, "segments in %s: space available again, writing",
	       cfg->dir);
	retire_current(sg, seg, 0);
	return 0;
}

static int retention(struct mt_segmenter *sg)
{
	const struct mt_segment_config *cfg = &sg->cfg;
	struct mt_segment *cur = sg->cur;
	uint64_t cur_size = 0, avail = 0;
	struct dir_entry *v = NULL;
	bool have_free = false;
	size_t n = 0, i;
	int err;

	if (cur)
		cur_size = __atomic_load_n(&cur->size, __ATOMIC_RELAXED);
	if (cfg->min_free_bytes && !free_bytes(sg, &avail))
		have_free = true;
	if (!sg->rescan && !sg->stopped &&
	    !(have_free && avail < cfg->min_free_bytes) &&
	    !(cfg->keep_bytes && sg->sealed_bytes + cur_size > cfg->keep_bytes))
		return 0;

	err = scan_sealed(sg, &v, &n);
	if (err) {
		log_write_error(sg, "directory scan", ".", err);
		return err;
	}
	sg->rescan = false;
	if (cfg->stop_when_full)
		err = stop_mode(sg, v, n, cur_size, have_free, avail);
	else
		err = delete_oldest(sg, v, n, cur_size, have_free, &avail);

	sg->sealed_bytes = 0;
	sg->sealed_count = 0;
	for (i = 0; i < n; i++) {
		if (!v[i].name[0])
			continue;
		sg->sealed_bytes += v[i].size;
		sg->sealed_count++;
	}
	free(v);
	return err;
}

/* ---------------------------------------------------------------- recovery */

struct part_file {
	char name[MT_SEG_NAME_MAX];
	int fd;
	struct mt_pcap_scan scan;
};

static int part_cmp(const void *a, const void *b)
{
	const struct part_file *x = a, *y = b;

	if (x->scan.first_ts_ns != y->scan.first_ts_ns)
		return x->scan.first_ts_ns < y->scan.first_ts_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * An index whose segment is gone: a crash between the two renames of a
 * seal (its segment was just recovered under a new name, without index)
 * or between the two unlinks of retention.  Runs after recovery, when
 * every ".pcap.part" of ours has been sealed or removed.
 */
static void remove_orphan_indexes(struct mt_segmenter *sg)
{
	size_t plen = strlen(sg->cfg.prefix), len, sl;
	char seg[MT_SEG_NAME_MAX + 16];
	struct dirent *de;
	bool orphan;
	DIR *d;
	int fd;

	fd = openat(sg->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		orphan = false;
		sl = strlen(".vni.part");
		if (len >= MT_SEG_NAME_MAX)
			continue;
		if (de->d_name[0] == '.' && len > sl &&
		    !strcmp(de->d_name + len - sl, ".vni.part") &&
		    !strncmp(de->d_name + 1, sg->cfg.prefix, plen) &&
		    de->d_name[plen + 1] == '-') {
			snprintf(seg, sizeof(seg), "%.*s.pcap.part",
				 (int)(len - sl), de->d_name);
			orphan = faccessat(sg->dirfd, seg, F_OK, 0) < 0;
		}
		sl = strlen(MT_VNIX_SUFFIX);
		if (len > sl &&
		    !strcmp(de->d_name + len - sl, MT_VNIX_SUFFIX)) {
			snprintf(seg, sizeof(seg), "%.*s.pcap", (int)(len - sl),
				 de->d_name);
			if (mt_segment_parse_name(sg->cfg.prefix, seg, NULL,
						  NULL, NULL)) {
				orphan = faccessat(sg->dirfd, seg, F_OK, 0) < 0;
				strcat(seg, ".gz");
				orphan = orphan &&
					 faccessat(sg->dirfd, seg, F_OK, 0) < 0;
			}
		}
		if (!orphan)
			continue;
		unlinkat(sg->dirfd, de->d_name, 0);
		mt_log(MT_LOG_INFO,
		       "recovery: removed %s/%s, a VNI index without its segment",
		       sg->cfg.dir, de->d_name);
	}
	closedir(d);
}

/*
 * Leftovers of a crash: a ".part" is cut back to its last whole record and
 * sealed (or removed if it holds none); a ".gz.part" is removed and its raw
 * segment, still there, compressed again.  Final names are not touched,
 * only read for the highest SEQ and time to carry on from.
 */
static int recover(struct mt_segmenter *sg)
{
	struct part_file *parts = NULL, *tmp;
	size_t nparts = 0, cap = 0, i, len;
	char raw[MT_SEG_NAME_MAX];
	struct mt_segment *seg;
	struct dirent *de;
	uint64_t seq, t;
	DIR *d;
	int fd, err = 0;
	bool gz, removed_raw = false;

	fd = openat(sg->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		len = strlen(de->d_name);
		if (len >= MT_SEG_NAME_MAX)
			continue;
		if (mt_segment_parse_name(sg->cfg.prefix, de->d_name, &seq, &t,
					  &gz)) {
			if (seq > sg->seq)
				sg->seq = seq;
			if (t > sg->name_time)
				sg->name_time = t;
			/*
			 * The compressor renames NAME.pcap.gz into place
			 * (fsynced, so whole) before it removes NAME.pcap: a
			 * crash between the two left the segment twice.
			 */
			snprintf(raw, sizeof(raw), "%.*s", (int)(len - 3),
				 de->d_name);
			if (gz && !unlinkat(sg->dirfd, raw, 0)) {
				mt_log(MT_LOG_INFO,
				       "recovery: removed %s/%s, which %s "
				       "already holds",
				       sg->cfg.dir, raw, de->d_name);
				removed_raw = true;
			}
			continue;
		}
		if (!is_part(sg->cfg.prefix, de->d_name, &gz))
			continue;
		if (gz) {
			unlinkat(sg->dirfd, de->d_name, 0);
			snprintf(raw, sizeof(raw), "%.*s", (int)(len - 9),
				 de->d_name + 1);
			mt_log(MT_LOG_INFO,
			       "recovery: removed unfinished %s/%s",
			       sg->cfg.dir, de->d_name);
			if (!faccessat(sg->dirfd, raw, F_OK, 0))
				mt_segbg_submit_compress(sg->bg, raw);
			continue;
		}
		if (nparts == cap) {
			cap = cap ? cap * 2 : 8;
			tmp = realloc(parts, cap * sizeof(*parts));
			if (!tmp) {
				err = -ENOMEM;
				break;
			}
			parts = tmp;
		}
		snprintf(parts[nparts].name, sizeof(parts[nparts].name), "%s",
			 de->d_name);
		nparts++;
	}
	closedir(d);
	if (removed_raw && fsync(sg->dirfd) < 0)
		log_write_error(sg, "fsync of the directory", sg->cfg.dir,
				-errno);

	for (i = 0; i < nparts; i++) {
		parts[i].fd =
			openat(sg->dirfd, parts[i].name, O_RDWR | O_CLOEXEC);
		memset(&parts[i].scan, 0, sizeof(parts[i].scan));
		if (parts[i].fd < 0)
			continue;
		if (mt_pcap_scan_fd(parts[i].fd, &parts[i].scan)) {
			/* Too short for a header: nothing was ever in it. */
			struct stat st;

			if (!fstat(parts[i].fd, &st) &&
			    st.st_size < MT_PCAP_HDR_LEN) {
				parts[i].scan.valid_end = 0;
				continue;
			}
			mt_log(MT_LOG_WARN,
			       "recovery: %s/%s is not a pcap file of ours; left alone",
			       sg->cfg.dir, parts[i].name);
			close(parts[i].fd);
			parts[i].fd = -1;
		}
	}
	if (nparts)
		qsort(parts, nparts, sizeof(*parts), part_cmp);

	for (i = 0; i < nparts; i++) {
		if (parts[i].fd < 0)
			continue;
		seg = segment_alloc();
		if (!seg) {
			close(parts[i].fd);
			err = -ENOMEM;
			continue;
		}
		seg->fd = parts[i].fd;
		snprintf(seg->part, sizeof(seg->part), "%s", parts[i].name);
		/* Without one it predates VNI indexes: sealed without. */
		seg->vnix_verify = true;
		if (mt_vnix_name(seg->part, seg->vnix_part,
				 sizeof(seg->vnix_part)))
			seg->vnix_fd = openat(sg->dirfd, seg->vnix_part,
					      O_RDWR | O_CLOEXEC);
		seg->size = parts[i].scan.valid_end;
		seg->packets = parts[i].scan.records;
		seg->first_ts = parts[i].scan.first_ts_ns;
		seg->last_ts = parts[i].scan.last_ts_ns;
		if (seg->packets) {
			mt_log(MT_LOG_INFO,
			       "recovery: sealing %s/%s with %" PRIu64
			       " whole records",
			       sg->cfg.dir, parts[i].name, seg->packets);
			sg->st.segments_recovered++;
		}
		segment_seal(sg, seg);
	}
	free(parts);
	remove_orphan_indexes(sg);
	return err;
}

/* ---------------------------------------------------------------- control */

/* Now or never: what makes the open segment due for sealing. */
static bool rotation_due(struct mt_segmenter *sg, struct mt_segment *cur,
			 uint64_t now_ns)
{
	const struct mt_segment_config *cfg = &sg->cfg;
	bool requested =
		__atomic_exchange_n(&sg->rotate_req, 0, __ATOMIC_RELAXED);
	uint64_t size = __atomic_load_n(&cur->size, __ATOMIC_RELAXED);
	uint64_t first = __atomic_load_n(&cur->first_ts, __ATOMIC_RELAXED);
	uint64_t last = __atomic_load_n(&cur->last_ts, __ATOMIC_RELAXED);
	uint64_t ival;

	if (size <= MT_PCAP_HDR_LEN)
		return false; /* nothing in it: nothing to seal */
	if (requested)
		return true;
	if (__atomic_load_n(&cur->fail_off, __ATOMIC_RELAXED) != MT_NO_FAILURE)
		return true;
	if (cfg->rotate_bytes && size >= cfg->rotate_bytes)
		return true;
	/* Like dumpcap: windows start on multiples of the interval. */
	if (cfg->rotate_interval && first != UINT64_MAX) {
		ival = (uint64_t)cfg->rotate_interval * MT_NSEC_PER_SEC;
		if (now_ns >= (first / ival + 1) * ival)
			return true;
	}
	if (cfg->rotate_idle && last &&
	    now_ns >= last + (uint64_t)cfg->rotate_idle * MT_NSEC_PER_SEC)
		return true;
	return false;
}

static int mkdir_p(const char *dir);

/*
 * The segment directory can be removed under a running daemon (rm -rf by
 * hand, a clean-up job).  Every segment opened after that would fail with
 * ENOENT until a restart (found by tests/faults/sc_outdir.sh), so each tick
 * looks whether the directory is still linked; once it is not, the
 * directory is made again (0750, or whatever was made meanwhile under that
 * path is taken), locked, and used from the next segment on, which starts
 * now.  The open segment went with the old directory: its records are
 * counted as lost when its seal fails.  The old descriptor stays open until
 * the end, as a compression job may still hold it.
 */
static void follow_dir(struct mt_segmenter *sg)
{
	struct mt_segment *next;
	struct stat st;
	int fd, err;

	if (fstat(sg->dirfd, &st) < 0 || st.st_nlink > 0)
		return;
	if (mkdir(sg->cfg.dir, 0750) < 0 && errno != EEXIST) {
		err = errno == ENOENT ? mkdir_p(sg->cfg.dir) : -errno;
		if (!err && chmod(sg->cfg.dir, 0750) < 0)
			err = -errno;
		if (err) {
			log_write_error(sg,
					"making the removed directory again",
					".", err);
			return;
		}
	}
	fd = open(sg->cfg.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_write_error(sg, "opening the directory made again", ".",
				-errno);
		return;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		mt_log(MT_LOG_ERROR,
		       "segment directory %s was removed and is now in use by "
		       "another process; not writing there",
		       sg->cfg.dir);
		close(fd);
		return;
	}
	if (sg->nold_dirfds == MT_OLD_DIRFDS) {
		/* Jobs that old are long finished. */
		close(sg->old_dirfds[0]);
		memmove(sg->old_dirfds, sg->old_dirfds + 1,
			sizeof(sg->old_dirfds[0]) * (MT_OLD_DIRFDS - 1));
		sg->nold_dirfds--;
	}
	sg->old_dirfds[sg->nold_dirfds++] = sg->dirfd;
	sg->dirfd = fd;
	mt_segbg_set_dirfd(sg->bg, fd);
	sg->st.dir_recreated++;
	sg->rescan = true;
	mt_log(MT_LOG_WARN,
	       "segment directory %s was removed under the daemon; capture "
	       "goes on in a new one made at the same path (what the open "
	       "segment held is lost)",
	       sg->cfg.dir);
	err = segment_open(sg, &next);
	if (err) {
		log_write_error(sg, "creating a segment in", ".", err);
		next = NULL;
	}
	retire_current(sg, next, -EIO);
}

int mt_segmenter_tick(struct mt_segmenter *sg, uint64_t now_ns)
{
	struct mt_segment *cur, *next;
	uint64_t changes;
	int err, ret = 0;

	pthread_mutex_lock(&sg->lock);
	changes = mt_segbg_changes(sg->bg);
	if (changes != sg->bg_changes) {
		sg->bg_changes = changes;
		sg->rescan = true;
	}
	follow_dir(sg);
	retry_seals(sg);
	cur = sg->cur;
	if (cur && rotation_due(sg, cur, now_ns)) {
		err = segment_open(sg, &next);
		if (err) {
			log_write_error(sg, "creating the next segment in", ".",
					err);
			ret = err;
			next = NULL;
		}
		retire_current(sg, next,
			       err == -ENOSPC || err == -EDQUOT ? -ENOSPC :
								  -EIO);
	}
	err = seal_ready(sg, false);
	if (err && !ret)
		ret = err;
	err = retention(sg);
	if (err && !ret)
		ret = err;
	err = seal_ready(sg, false);
	if (err && !ret)
		ret = err;
	if (!sg->cur && !sg->stopped) {
		/* A create failed earlier (disk full, EIO): try again. */
		err = segment_open(sg, &next);
		if (!err)
			retire_current(sg, next, 0);
		else if (!ret)
			ret = err;
	}
	pthread_mutex_unlock(&sg->lock);
	return ret;
}

void mt_segmenter_request_rotate(struct mt_segmenter *sg)
{
	__atomic_store_n(&sg->rotate_req, 1, __ATOMIC_RELAXED);
}

static int check_fixed(const struct mt_segment_config *cfg, struct mt_err *err)
{
	if (!cfg->prefix[0] || strchr(cfg->prefix, '/'))
		return mt_err_set(
			err,
			"segment prefix \"%s\" must be a non-empty file name without '/'",
			cfg->prefix);
	if (!cfg->snaplen || cfg->snaplen > MT_SNAPLEN_MAX)
		return mt_err_set(err, "snaplen %u is out of range (use 1..%u)",
				  cfg->snaplen, MT_SNAPLEN_MAX);
	if (cfg->compress_level < 1 || cfg->compress_level > 9)
		return mt_err_set(
			err, "compress_level %d is out of range (use 1..9)",
			cfg->compress_level);
	return 0;
}

int mt_segmenter_reconfigure(struct mt_segmenter *sg,
			     const struct mt_segment_config *cfg,
			     struct mt_err *err)
{
	int ret = check_fixed(cfg, err);

	if (ret)
		return ret;
	if (strcmp(cfg->dir, sg->cfg.dir) ||
	    strcmp(cfg->prefix, sg->cfg.prefix))
		return mt_err_set(
			err,
			"segment dir and prefix cannot change on reload (restart mirror-target to apply them)");
	pthread_mutex_lock(&sg->lock);
	if (cfg->snaplen != sg->snaplen || cfg->nanosecond != sg->nanosecond) {
		/*
		 * A pcap file has one snaplen and one timestamp resolution:
		 * the new ones start with a new segment, and writers take
		 * them from the segment they follow.
		 */
		uint32_t old_snaplen = sg->snaplen;
		bool old_ns = sg->nanosecond;
		struct mt_segment *next;

		sg->snaplen = cfg->snaplen;
		sg->nanosecond = cfg->nanosecond;
		/* Stopped (nothing published): the next open takes them. */
		ret = sg->cur ? segment_open(sg, &next) : 0;
		if (ret) {
			sg->snaplen = old_snaplen;
			sg->nanosecond = old_ns;
			pthread_mutex_unlock(&sg->lock);
			return mt_err_set(err,
					  "cannot start a segment with the new "
					  "snaplen/format in %s: %s",
					  sg->cfg.dir, strerror(-ret));
		}
		if (sg->cur)
			retire_current(sg, next, 0);
	}
	sg->cfg = *cfg;
	sg->rescan = true;
	mt_segbg_reconfigure(sg->bg, cfg);
	pthread_mutex_unlock(&sg->lock);
	return 0;
}

void mt_segmenter_stats(struct mt_segmenter *sg, struct mt_segmenter_stats *out)
{
	struct mt_segbg_stats b;

	mt_segbg_stats(sg->bg, &b);
	pthread_mutex_lock(&sg->lock);
	*out = sg->st;
	out->bytes_on_disk = sg->sealed_bytes;
	out->sealed_on_disk = sg->sealed_count;
	out->stopped = sg->stopped;
	pthread_mutex_unlock(&sg->lock);
	out->write_errors =
		__atomic_load_n(&sg->write_errors, __ATOMIC_RELAXED);
	out->index_errors =
		__atomic_load_n(&sg->index_errors, __ATOMIC_RELAXED);
	out->segments_compressed = b.compressed;
	out->compress_failures = b.compress_failures;
	out->hooks_run = b.hooks_run;
	out->hook_failures = b.hook_failures;
	out->hooks_skipped = b.hooks_skipped;
	out->compress_backlog = b.compress_backlog;
	out->hook_backlog = b.hook_backlog;
}

void mt_segmenter_drain(struct mt_segmenter *sg)
{
	mt_segbg_drain(sg->bg);
}

static int mkdir_p(const char *dir)
{
	char path[PATH_MAX];
	char *p;

	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

struct mt_segmenter *mt_segmenter__create(const struct mt_segment_config *cfg,
					  struct mt_err *err)
{
	struct mt_segmenter *sg;
	struct mt_segment *seg;
	int ret;

	ret = check_fixed(cfg, err);
	if (ret)
		goto out;
	sg = aligned_alloc(64, sizeof(*sg));
	if (!sg) {
		ret = -ENOMEM;
		mt_err_set(err, "out of memory");
		goto out;
	}
	memset(sg, 0, sizeof(*sg));
	pthread_mutex_init(&sg->lock, NULL);
	sg->cfg = *cfg;
	sg->snaplen = cfg->snaplen;
	sg->nanosecond = cfg->nanosecond;
	sg->retiring_tail = &sg->retiring;
	sg->noseg_err = -ESHUTDOWN;
	sg->gen = 1;

	ret = mkdir_p(cfg->dir);
	if (ret) {
		mt_err_set(
			err,
			"segment directory %s cannot be created: %s (check [output] dir and its parent's permissions)",
			cfg->dir, strerror(-ret));
		goto out_free;
	}
	sg->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sg->dirfd < 0) {
		ret = -errno;
		mt_err_set(err, "segment directory %s: %s", cfg->dir,
			   strerror(-ret));
		goto out_free;
	}
	/* Two daemons on one directory would seal each other's files. */
	if (flock(sg->dirfd, LOCK_EX | LOCK_NB) < 0) {
		ret = -errno;
		mt_err_set(
			err,
			"segment directory %s is in use by another mirror-target (give each instance its own [output] dir)",
			cfg->dir);
		goto out_close;
	}
	sg->bg = mt_segbg__create(cfg->dir, sg->dirfd, cfg);
	if (!sg->bg) {
		ret = -errno;
		mt_err_set(err,
			   "cannot start the segment background threads: %s",
			   strerror(-ret));
		goto out_close;
	}
	ret = recover(sg);
	if (ret) {
		mt_err_set(err, "recovery in segment directory %s failed: %s",
			   cfg->dir, strerror(-ret));
		goto out_bg;
	}
	sg->rescan = true;
	retention(sg);
	if (!sg->stopped) {
		ret = segment_open(sg, &seg);
		if (ret) {
			mt_err_set(
				err,
				"cannot create a segment file in %s: %s (check free space and permissions of [output] dir)",
				cfg->dir, strerror(-ret));
			goto out_bg;
		}
		publish(sg, seg, 0);
	}
	return sg;

out_bg:
	mt_segbg__destroy(sg->bg, cfg->hook_timeout);
out_close:
	close(sg->dirfd);
out_free:
	pthread_mutex_destroy(&sg->lock);
	free(sg);
out:
	errno = -ret;
	return NULL;
}

void mt_segmenter__destroy(struct mt_segmenter *sg)
{
	if (!sg)
		return;
	pthread_mutex_lock(&sg->lock);
	if (sg->writers)
		mt_log(MT_LOG_ERROR,
		       "segmenter destroyed with %u writers still alive (bug)",
		       sg->writers);
	retire_current(sg, NULL, -ESHUTDOWN);
	seal_ready(sg, true);
	retry_seals(sg);
	/* Still refused: the .part files stay for the next start. */
	while (sg->unsealed) {
		struct mt_segment *seg = sg->unsealed;

		sg->unsealed = seg->next;
		segment_free(seg);
	}
	pthread_mutex_unlock(&sg->lock);
	mt_segbg__destroy(sg->bg, sg->cfg.hook_timeout);
	close(sg->dirfd);
	for (unsigned i = 0; i < sg->nold_dirfds; i++)
		close(sg->old_dirfds[i]);
	pthread_mutex_destroy(&sg->lock);
	free(sg);
}
