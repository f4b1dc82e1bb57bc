/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Classic pcap encoding (DESIGN §5): a 24-byte file header, then records of
 * a 16-byte header and caplen bytes.  Nanosecond magic 0xa1b23c4d by
 * default, 0xa1b2c3d4 (microseconds) on request; link type Ethernet; host
 * byte order, as libpcap writes it.
 */
#ifndef MT_PCAP_H
#define MT_PCAP_H

#include <stdbool.h>
#include <stdint.h>

#define MT_PCAP_MAGIC_US 0xa1b2c3d4u
#define MT_PCAP_MAGIC_NS 0xa1b23c4du
#define MT_PCAP_LINKTYPE_ETHERNET 1
#define MT_PCAP_HDR_LEN 24
#define MT_PCAP_REC_HDR_LEN 16
#define MT_SNAPLEN_MAX 262144u

struct mt_pcap_rec_hdr {
	uint32_t ts_sec;
	uint32_t ts_frac; /* ns or us, per the file's magic */
	uint32_t caplen;
	uint32_t len;
};

void mt_pcap_file_header(uint8_t out[MT_PCAP_HDR_LEN], uint32_t snaplen,
			 bool nanosecond);
/* Writes the record header for a packet at ts_ns (UTC ns). */
void mt_pcap_rec_header(uint8_t out[MT_PCAP_REC_HDR_LEN], uint64_t ts_ns,
			uint32_t caplen, uint32_t len, bool nanosecond);

/*
 * Walks a pcap file (fd) written by us and finds where its last whole
 * record ends.  Stops at the first record header that is cut, that has
 * caplen > snaplen, caplen > len, len == 0 or a fraction out of range
 * (zero-filled preallocated tails end there).  Returns 0 or -errno;
 * -EPROTO when the file header is not ours.
 */
struct mt_pcap_scan {
	uint64_t valid_end; /* offset just past the last whole record */
	uint64_t records;
	uint64_t first_ts_ns, last_ts_ns; /* 0 if no records */
	uint32_t snaplen;
	bool nanosecond;
};
int mt_pcap_scan_fd(int fd, struct mt_pcap_scan *scan);

#endif /* MT_PCAP_H */
