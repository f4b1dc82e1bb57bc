/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IPv4/IPv6 addresses and CIDRs in the form the matcher compares fastest:
 * host byte order integers.  An IPv4 address lives in v4; an IPv6 address in
 * hi (most significant 64 bits) and lo.
 */
#ifndef MT_IP_H
#define MT_IP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct mt_ip {
	uint8_t family; /* AF_INET, AF_INET6, or 0 when not an IP packet */
	union {
		uint32_t v4;
		struct {
			uint64_t hi, lo;
		};
	};
};

struct mt_cidr {
	struct mt_ip addr; /* network address, host bits zero */
	uint8_t len; /* prefix length, 0..32 or 0..128 */
};

/* Longest text form of an address or CIDR, NUL included. */
#define MT_IP_STRLEN 50

/* Addresses from packet bytes (network order). */
void mt_ip_from_v4(struct mt_ip *ip, const uint8_t bytes[4]);
void mt_ip_from_v6(struct mt_ip *ip, const uint8_t bytes[16]);

/* Parses "192.0.2.1" or "2001:db8::1".  Returns 0 or -EINVAL. */
int mt_ip_parse(const char *s, struct mt_ip *ip);

/*
 * Parses "ADDR/LEN" (or a bare address = full length).  Returns 0, -EINVAL
 * for bad syntax, or -EADDRNOTAVAIL when host bits are set; in that case
 * *cidr holds the network form so the caller can show it.
 */
int mt_cidr_parse(const char *s, struct mt_cidr *cidr);

bool mt_cidr_contains(const struct mt_cidr *cidr, const struct mt_ip *ip);
bool mt_ip_equal(const struct mt_ip *a, const struct mt_ip *b);

/* Text forms; buf must hold MT_IP_STRLEN bytes.  Return buf. */
char *mt_ip_format(const struct mt_ip *ip, char *buf);
char *mt_cidr_format(const struct mt_cidr *cidr, char *buf);

/*
 * The Internet checksum (RFC 1071) for those who build packets (the load
 * generator, the test fixtures): add bytes with mt_csum_add(), finish with
 * mt_csum_fold().  The daemon itself never checks or sets one.
 */
static inline uint32_t mt_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static inline uint16_t mt_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#endif /* MT_IP_H */
