// SPDX-License-Identifier: GPL-2.0-only
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/ip.h"

static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

void mt_ip_from_v4(struct mt_ip *ip, const uint8_t b[4])
{
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET;
	ip->v4 = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		 (uint32_t)b[2] << 8 | b[3];
}

void mt_ip_from_v6(struct mt_ip *ip, const uint8_t b[16])
{
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET6;
	ip->hi = load_be64(b);
	ip->lo = load_be64(b + 8);
}

int mt_ip_parse(const char *s, struct mt_ip *ip)
{
	uint8_t buf[16];

	if (inet_pton(AF_INET, s, buf) == 1) {
		mt_ip_from_v4(ip, buf);
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		mt_ip_from_v6(ip, buf);
		return 0;
	}
	return -EINVAL;
}

static void mask_to(struct mt_ip *ip, unsigned len)
{
	if (ip->family == AF_INET) {
		ip->v4 &= len ? ~0u << (32 - len) : 0;
	} else if (len <= 64) {
		ip->hi &= len ? ~0ull << (64 - len) : 0;
		ip->lo = 0;
	} else {
		ip->lo &= ~0ull << (128 - len);
	}
}

int mt_cidr_parse(const char *s, struct mt_cidr *cidr)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max, len;
	struct mt_ip net;

	if (alen == 0 || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(cidr, 0, sizeof(*cidr));
	if (mt_ip_parse(addr, &cidr->addr))
		return -EINVAL;
	max = cidr->addr.family == AF_INET ? 32 : 128;
	len = max;
	if (slash) {
		const char *p = slash + 1;
		char *end;
		unsigned long v;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || *end || v > max)
			return -EINVAL;
		len = v;
	}
	cidr->len = len;
	net = cidr->addr;
	mask_to(&net, len);
	if (!mt_ip_equal(&net, &cidr->addr)) {
		cidr->addr = net;
		return -EADDRNOTAVAIL;
	}
	return 0;
}

bool mt_ip_equal(const struct mt_ip *a, const struct mt_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4 == b->v4;
	return a->hi == b->hi && a->lo == b->lo;
}

bool mt_cidr_contains(const struct mt_cidr *cidr, const struct mt_ip *ip)
{
	struct mt_ip m;

	if (cidr->addr.family != ip->family)
		return false;
	m = *ip;
	mask_to(&m, cidr->len);
	return mt_ip_equal(&m, &cidr->addr);
}

char *mt_ip_format(const struct mt_ip *ip, char *buf)
{
	uint8_t b[16];

	if (ip->family == AF_INET) {
		b[0] = ip->v4 >> 24;
		b[1] = ip->v4 >> 16;
		b[2] = ip->v4 >> 8;
		b[3] = ip->v4;
		inet_ntop(AF_INET, b, buf, MT_IP_STRLEN);
	} else if (ip->family == AF_INET6) {
		store_be64(b, ip->hi);
		store_be64(b + 8, ip->lo);
		inet_ntop(AF_INET6, b, buf, MT_IP_STRLEN);
	} else {
		snprintf(buf, MT_IP_STRLEN, "-");
	}
	return buf;
}

char *mt_cidr_format(const struct mt_cidr *cidr, char *buf)
{
	size_t n;

	mt_ip_format(&cidr->addr, buf);
	n = strlen(buf);
	snprintf(buf + n, MT_IP_STRLEN - n, "/%u", cidr->len);
	return buf;
}
