// SPDX-License-Identifier: GPL-2.0-only
/*
 * Classic pcap encoding and the scanner that crash recovery uses to find
 * the last whole record of a segment that was never sealed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mirror-target/pcap.h"
#include "segment_internal.h"

struct pcap_file_hdr {
	uint32_t magic;
	uint16_t version_major;
	uint16_t version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};

void mt_pcap_file_header(uint8_t out[MT_PCAP_HDR_LEN], uint32_t snaplen,
			 bool nanosecond)
{
	struct pcap_file_hdr h = {
		.magic = nanosecond ? MT_PCAP_MAGIC_NS : MT_PCAP_MAGIC_US,
		.version_major = 2,
		.version_minor = 4,
		.snaplen = snaplen,
		.linktype = MT_PCAP_LINKTYPE_ETHERNET,
	};

	memcpy(out, &h, sizeof(h));
}

void mt_pcap_rec_header(uint8_t out[MT_PCAP_REC_HDR_LEN], uint64_t ts_ns,
			uint32_t caplen, uint32_t len, bool nanosecond)
{
	mt_pcap_rec_fill(out, ts_ns, caplen, len, nanosecond);
}

/*
 * Reads record headers through a window of the file so a 256 MiB segment
 * of small records is walked with a few hundred reads, not millions.
 */
#define SCAN_WINDOW (1u << 20)

struct scan_reader {
	int fd;
	uint8_t *buf;
	uint64_t off; /* file offset of buf[0] */
	size_t len; /* valid bytes in buf */
};

/* Copies n bytes at file offset pos; returns 1, 0 at EOF, or -errno. */
static int scan_read(struct scan_reader *r, uint64_t pos, void *dst, size_t n)
{
	ssize_t got;

	if (pos < r->off || pos + n > r->off + r->len) {
		r->off = pos;
		r->len = 0;
		while (r->len < SCAN_WINDOW) {
			got = pread(r->fd, r->buf + r->len,
				    SCAN_WINDOW - r->len,
				    (off_t)(pos + r->len));
			if (got < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			if (got == 0)
				break;
			r->len += (size_t)got;
		}
		if (r->len < n)
			return 0;
	}
	memcpy(dst, r->buf + (pos - r->off), n);
	return 1;
}

int mt_pcap_scan_fd(int fd, struct mt_pcap_scan *scan)
{
	struct scan_reader r = { .fd = fd };
	struct pcap_file_hdr fh;
	struct mt_pcap_rec_hdr rh;
	uint32_t frac_max, snaplen;
	uint64_t pos, ts, size;
	struct stat st;
	int ret;

	memset(scan, 0, sizeof(*scan));
	if (fstat(fd, &st) < 0)
		return -errno;
	size = (uint64_t)st.st_size;
	r.buf = malloc(SCAN_WINDOW);
	if (!r.buf)
		return -ENOMEM;

	ret = scan_read(&r, 0, &fh, sizeof(fh));
	if (ret <= 0) {
		ret = ret < 0 ? ret : -EPROTO;
		goto out;
	}
	if ((fh.magic != MT_PCAP_MAGIC_NS && fh.magic != MT_PCAP_MAGIC_US) ||
	    fh.version_major != 2 || fh.version_minor != 4 ||
	    fh.linktype != MT_PCAP_LINKTYPE_ETHERNET) {
		ret = -EPROTO;
		goto out;
	}
	scan->nanosecond = fh.magic == MT_PCAP_MAGIC_NS;
	scan->snaplen = fh.snaplen;
	snaplen = fh.snaplen ? fh.snaplen : MT_SNAPLEN_MAX;
	frac_max = scan->nanosecond ? 999999999u : 999999u;

	pos = MT_PCAP_HDR_LEN;
	scan->valid_end = pos;
	for (;;) {
		ret = scan_read(&r, pos, &rh, sizeof(rh));
		if (ret < 0)
			goto out;
		if (ret == 0)
			break;
		if (rh.len == 0 || rh.caplen > rh.len || rh.caplen > snaplen ||
		    rh.ts_frac > frac_max)
			break;
		if (pos + MT_PCAP_REC_HDR_LEN + rh.caplen > size)
			break;
		ts = (uint64_t)rh.ts_sec * MT_NSEC_PER_SEC +
		     (uint64_t)rh.ts_frac * (scan->nanosecond ? 1 : 1000);
		if (!scan->records)
			scan->first_ts_ns = ts;
		scan->last_ts_ns = ts;
		scan->records++;
		pos += MT_PCAP_REC_HDR_LEN + rh.caplen;
		scan->valid_end = pos;
	}
	ret = 0;
out:
	free(r.buf);
	return ret;
}
