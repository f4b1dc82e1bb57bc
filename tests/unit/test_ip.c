// SPDX-License-Identifier: GPL-2.0-only
/* Addresses and CIDRs: parsing, host-bit detection, containment, text. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "mirror-target/ip.h"

static const char *roundtrip(const char *in)
{
	static char buf[MT_IP_STRLEN];
	struct mt_cidr c;

	cr_assert_eq(mt_cidr_parse(in, &c), 0, "%s", in);
	return mt_cidr_format(&c, buf);
}

Test(ip, parse_and_format)
{
	struct mt_ip ip;
	char buf[MT_IP_STRLEN];

	cr_assert_eq(mt_ip_parse("192.0.2.1", &ip), 0);
	cr_assert_eq(ip.family, AF_INET);
	cr_assert_eq(ip.v4, 0xc0000201);
	cr_assert_str_eq(mt_ip_format(&ip, buf), "192.0.2.1");

	cr_assert_eq(mt_ip_parse("2001:db8::1", &ip), 0);
	cr_assert_eq(ip.family, AF_INET6);
	cr_assert_eq(ip.hi, 0x20010db800000000ull);
	cr_assert_eq(ip.lo, 1);
	cr_assert_str_eq(mt_ip_format(&ip, buf), "2001:db8::1");

	for (const char *const *s =
		     (const char *const[]){ "", "192.0.2", "192.0.2.256",
					    "1.2.3.4 ", "2001:db8:::1",
					    "fe80::1%eth0", "x", NULL };
	     *s; s++)
		cr_assert_eq(mt_ip_parse(*s, &ip), -EINVAL, "'%s'", *s);

	memset(&ip, 0, sizeof(ip));
	cr_assert_str_eq(mt_ip_format(&ip, buf), "-");
}

Test(ip, from_bytes)
{
	static const uint8_t v4[4] = { 192, 0, 2, 9 };
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 7 };
	struct mt_ip a, b;

	mt_ip_from_v4(&a, v4);
	cr_assert_eq(mt_ip_parse("192.0.2.9", &b), 0);
	cr_assert(mt_ip_equal(&a, &b));
	mt_ip_from_v6(&a, v6);
	cr_assert_eq(mt_ip_parse("2001:db8::7", &b), 0);
	cr_assert(mt_ip_equal(&a, &b));
	cr_assert_eq(mt_ip_parse("192.0.2.9", &b), 0);
	cr_assert_not(mt_ip_equal(&a, &b));
}

Test(ip, cidr_forms)
{
	cr_assert_str_eq(roundtrip("192.0.2.0/24"), "192.0.2.0/24");
	cr_assert_str_eq(roundtrip("192.0.2.7"), "192.0.2.7/32");
	cr_assert_str_eq(roundtrip("0.0.0.0/0"), "0.0.0.0/0");
	cr_assert_str_eq(roundtrip("2001:db8::/32"), "2001:db8::/32");
	cr_assert_str_eq(roundtrip("2001:db8::1"), "2001:db8::1/128");
	cr_assert_str_eq(roundtrip("::/0"), "::/0");
	cr_assert_str_eq(roundtrip("2001:db8:0:0:8000::/65"),
			 "2001:db8:0:0:8000::/65");
}

Test(ip, cidr_bad_syntax)
{
	static const char *const bad[] = {
		"",
		"/8",
		"192.0.2.0/",
		"192.0.2.0/33",
		"192.0.2.0/-1",
		"192.0.2.0/+8",
		"192.0.2.0/ 8",
		"192.0.2.0/8x",
		"::/129",
		"2001:db8::/",
		"10.0.0.0/8/8",
		"10.0.0.0//8",
		"192.0.2.0/99999999999999999999",
	};
	struct mt_cidr c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(mt_cidr_parse(bad[i], &c), -EINVAL, "'%s'",
			     bad[i]);
}

Test(ip, cidr_host_bits_give_the_network)
{
	char buf[MT_IP_STRLEN];
	struct mt_cidr c;

	cr_assert_eq(mt_cidr_parse("10.0.0.1/8", &c), -EADDRNOTAVAIL);
	cr_assert_str_eq(mt_cidr_format(&c, buf), "10.0.0.0/8");
	cr_assert_eq(mt_cidr_parse("2001:db8::1/64", &c), -EADDRNOTAVAIL);
	cr_assert_str_eq(mt_cidr_format(&c, buf), "2001:db8::/64");
	cr_assert_eq(mt_cidr_parse("2001:db8::1/127", &c), -EADDRNOTAVAIL);
	cr_assert_str_eq(mt_cidr_format(&c, buf), "2001:db8::/127");
	cr_assert_eq(mt_cidr_parse("255.255.255.255/0", &c), -EADDRNOTAVAIL);
	cr_assert_str_eq(mt_cidr_format(&c, buf), "0.0.0.0/0");
}

Test(ip, contains)
{
	struct mt_cidr c;
	struct mt_ip ip;

	cr_assert_eq(mt_cidr_parse("192.0.2.128/25", &c), 0);
	mt_ip_parse("192.0.2.128", &ip);
	cr_assert(mt_cidr_contains(&c, &ip));
	mt_ip_parse("192.0.2.255", &ip);
	cr_assert(mt_cidr_contains(&c, &ip));
	mt_ip_parse("192.0.2.127", &ip);
	cr_assert_not(mt_cidr_contains(&c, &ip));
	mt_ip_parse("2001:db8::1", &ip);
	cr_assert_not(mt_cidr_contains(&c, &ip), "family differs");

	cr_assert_eq(mt_cidr_parse("2001:db8:0:0:8000::/65", &c), 0);
	mt_ip_parse("2001:db8::ffff:0:0:1", &ip);
	cr_assert(mt_cidr_contains(&c, &ip));
	mt_ip_parse("2001:db8::7fff:0:0:1", &ip);
	cr_assert_not(mt_cidr_contains(&c, &ip));

	cr_assert_eq(mt_cidr_parse("::/0", &c), 0);
	cr_assert(mt_cidr_contains(&c, &ip));
	mt_ip_parse("192.0.2.1", &ip);
	cr_assert_not(mt_cidr_contains(&c, &ip));
}
