// SPDX-License-Identifier: GPL-2.0-only
/* pcap encoding byte for byte, and the recovery scanner on cut files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "mirror-target/pcap.h"

static char tmp[64];

static void setup(void)
{
	cr_assert_not_null(mt_fx_tmpdir(tmp, sizeof(tmp)));
}

static void teardown(void)
{
	mt_fx_rmtree(tmp);
}

TestSuite(pcap, .init = setup, .fini = teardown);

Test(pcap, file_header_nanosecond_is_libpcap_layout)
{
	/* little-endian host: what libpcap writes for nanosecond files */
	static const uint8_t want[24] = {
		0x4d, 0x3c, 0xb2, 0xa1, 2,    0,    4, 0, 0, 0, 0, 0,
		0,    0,    0,	  0,	0xff, 0xff, 0, 0, 1, 0, 0, 0,
	};
	uint8_t h[MT_PCAP_HDR_LEN];

	mt_pcap_file_header(h, 65535, true);
	cr_assert_arr_eq(h, want, sizeof(want));
}

Test(pcap, file_header_microsecond_and_snaplen)
{
	static const uint8_t want[24] = {
		0xd4, 0xc3, 0xb2, 0xa1, 2,    0, 4, 0, 0, 0, 0, 0,
		0,    0,    0,	  0,	0x80, 0, 0, 0, 1, 0, 0, 0,
	};
	uint8_t h[MT_PCAP_HDR_LEN];

	mt_pcap_file_header(h, 128, false);
	cr_assert_arr_eq(h, want, sizeof(want));
}

Test(pcap, record_header_ns_and_us)
{
	/* 1700000000.123456789 s, caplen 60, len 1514 */
	static const uint8_t want_ns[16] = {
		0x00, 0xf1, 0x53, 0x65, 0x15, 0xcd, 0x5b, 0x07,
		60,   0,    0,	  0,	0xea, 0x05, 0,	  0,
	};
	static const uint8_t want_us[16] = {
		0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00,
		60,   0,    0,	  0,	0xea, 0x05, 0,	  0,
	};
	uint64_t ts = 1700000000ull * 1000000000ull + 123456789ull;
	uint8_t h[MT_PCAP_REC_HDR_LEN];

	mt_pcap_rec_header(h, ts, 60, 1514, true);
	cr_assert_arr_eq(h, want_ns, 16);
	mt_pcap_rec_header(h, ts, 60, 1514, false);
	cr_assert_arr_eq(h, want_us, 16);
}

/* Writes a header and n records of 10 bytes (ts 1 s apart) to path. */
static int write_file(const char *path, int n, bool ns)
{
	uint8_t buf[MT_PCAP_REC_HDR_LEN + 10] = { 0 };
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	uint8_t h[MT_PCAP_HDR_LEN];
	int i;

	cr_assert_geq(fd, 0);
	mt_pcap_file_header(h, 65535, ns);
	cr_assert_eq(write(fd, h, sizeof(h)), (ssize_t)sizeof(h));
	for (i = 0; i < n; i++) {
		mt_pcap_rec_header(buf,
				   (uint64_t)(100 + i) * 1000000000ull + 5000,
				   10, 60, ns);
		memset(buf + MT_PCAP_REC_HDR_LEN, i, 10);
		cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	}
	return fd;
}

Test(pcap, scan_whole_file)
{
	struct mt_pcap_scan s;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/a.pcap", tmp);
	fd = write_file(path, 5, true);
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 5);
	cr_assert_eq(s.valid_end, 24 + 5 * 26);
	cr_assert_eq(s.first_ts_ns, 100000005000ull);
	cr_assert_eq(s.last_ts_ns, 104000005000ull);
	cr_assert(s.nanosecond);
	cr_assert_eq(s.snaplen, 65535);
	close(fd);
}

Test(pcap, scan_microsecond_timestamps)
{
	struct mt_pcap_scan s;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/u.pcap", tmp);
	fd = write_file(path, 2, false);
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 2);
	cr_assert_not(s.nanosecond);
	cr_assert_eq(s.first_ts_ns, 100000005000ull);
	close(fd);
}

Test(pcap, scan_stops_at_cut_record_and_zero_tail)
{
	struct mt_pcap_scan s;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/cut.pcap", tmp);
	fd = write_file(path, 4, true);
	/* cut inside record 4's payload */
	cr_assert_eq(ftruncate(fd, 24 + 3 * 26 + 20), 0);
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 3);
	cr_assert_eq(s.valid_end, 24 + 3 * 26);
	/* cut inside a record header */
	cr_assert_eq(ftruncate(fd, 24 + 2 * 26 + 7), 0);
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 2);
	/* a preallocated, zero-filled tail */
	cr_assert_eq(ftruncate(fd, 1 << 20), 0);
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 2);
	cr_assert_eq(s.valid_end, 24 + 2 * 26);
	close(fd);
}

Test(pcap, scan_rejects_bad_records_and_foreign_files)
{
	struct mt_pcap_rec_hdr bad = {
		.ts_sec = 1, .ts_frac = 0, .caplen = 70000, .len = 70000
	};
	struct mt_pcap_scan s;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/bad.pcap", tmp);
	fd = write_file(path, 1, true);
	cr_assert_eq(pwrite(fd, &bad, sizeof(bad), 24 + 26), sizeof(bad));
	cr_assert_eq(pwrite(fd, "0123456789", 10, 24 + 26 + 16), 10);
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 1, "caplen > snaplen must end the scan");
	bad.caplen = 10;
	bad.len = 5; /* caplen > len */
	cr_assert_eq(pwrite(fd, &bad, sizeof(bad), 24 + 26), sizeof(bad));
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 1);
	bad.len = 60;
	bad.ts_frac = 1000000000u; /* out of range for ns */
	cr_assert_eq(pwrite(fd, &bad, sizeof(bad), 24 + 26), sizeof(bad));
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 1);
	bad.ts_frac = 0;
	cr_assert_eq(pwrite(fd, &bad, sizeof(bad), 24 + 26), sizeof(bad));
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), 0);
	cr_assert_eq(s.records, 2, "the same record made valid is counted");

	cr_assert_eq(pwrite(fd, "\x0a\x0d\x0d\x0a", 4, 0), 4); /* pcapng */
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), -EPROTO);
	cr_assert_eq(ftruncate(fd, 10), 0);
	cr_assert_eq(mt_pcap_scan_fd(fd, &s), -EPROTO);
	close(fd);
}
