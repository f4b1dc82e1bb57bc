// SPDX-License-Identifier: GPL-2.0-only
/*
 * Direction inference (DESIGN §4): S = {outer source} ∪ session addresses;
 * inner src in S -> egress, else inner dst in S -> ingress, else unknown.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "mirror-target/direction.h"

static struct mt_ip ip(const char *s)
{
	struct mt_ip a;

	cr_assert_eq(mt_ip_parse(s, &a), 0, "%s", s);
	return a;
}

static struct mt_decap decap(uint32_t vni, const char *outer, const char *src,
			     const char *dst)
{
	struct mt_decap d;

	memset(&d, 0, sizeof(d));
	d.vni = vni;
	d.outer_src = ip(outer);
	d.outer_dst = ip("198.18.0.100");
	d.flow.src = ip(src);
	d.flow.dst = ip(dst);
	d.flow.proto = IPPROTO_TCP;
	d.flow.flags = MT_FLOW_IP;
	return d;
}

/* Two sessions: 42 with extra addresses (secondary IPv4, IPv6), 43 none. */
static struct mt_ip addrs42[2];
static struct mt_session sv[2];
static struct mt_sessions sessions = { sv, 2 };

static void setup(void)
{
	addrs42[0] = ip("192.0.2.11");
	addrs42[1] = ip("2001:db8::10");
	memset(sv, 0, sizeof(sv));
	/* Deliberately unsorted: mt_sessions_finish() sorts. */
	sv[0].vni = 43;
	strcpy(sv[0].name, "db");
	sv[1].vni = 42;
	strcpy(sv[1].name, "web");
	sv[1].addrs = addrs42;
	sv[1].naddrs = 2;
	cr_assert_eq(mt_sessions_finish(&sessions), 0);
}

TestSuite(direction, .init = setup);

Test(direction, outer_source_decides)
{
	struct mt_decap d;

	d = decap(42, "192.0.2.10", "192.0.2.10", "192.0.2.99");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_EGRESS);
	d = decap(42, "192.0.2.10", "192.0.2.99", "192.0.2.10");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_INGRESS);
	d = decap(42, "192.0.2.10", "192.0.2.98", "192.0.2.99");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_UNKNOWN);
}

Test(direction, without_sessions)
{
	struct mt_decap d = decap(7, "192.0.2.10", "192.0.2.99", "192.0.2.10");
	struct mt_sessions none = { NULL, 0 };

	cr_assert_eq(mt_direction_infer(&none, &d), MT_DIR_INGRESS);
	cr_assert_eq(mt_direction_infer(NULL, &d), MT_DIR_INGRESS);
	d = decap(7, "192.0.2.10", "192.0.2.11", "192.0.2.99");
	cr_assert_eq(mt_direction_infer(NULL, &d), MT_DIR_UNKNOWN);
}

Test(direction, session_addresses)
{
	struct mt_decap d;

	/* Secondary address of session 42 as source: egress. */
	d = decap(42, "192.0.2.10", "192.0.2.11", "192.0.2.99");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_EGRESS);
	/* ... as destination: ingress. */
	d = decap(42, "192.0.2.10", "192.0.2.99", "192.0.2.11");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_INGRESS);
	/* IPv6 inner traffic under an IPv4 outer header. */
	d = decap(42, "192.0.2.10", "2001:db8::10", "2001:db8::99");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_EGRESS);
	d = decap(42, "192.0.2.10", "2001:db8::99", "2001:db8::10");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_INGRESS);
	/* Session 42's addresses mean nothing for VNI 43 or 44. */
	d = decap(43, "192.0.2.10", "192.0.2.11", "192.0.2.99");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_UNKNOWN);
	d = decap(44, "192.0.2.10", "192.0.2.99", "192.0.2.11");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_UNKNOWN);
}

Test(direction, source_checked_before_destination)
{
	/* ENI talking to itself (both ends in S): the src rule comes first. */
	struct mt_decap d = decap(42, "192.0.2.10", "192.0.2.11", "192.0.2.10");

	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_EGRESS);
}

Test(direction, not_ip_is_unknown)
{
	struct mt_decap d = decap(42, "192.0.2.10", "192.0.2.10", "192.0.2.99");

	d.flow.flags = 0; /* ARP: the inner addresses are not valid */
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_UNKNOWN);
}

Test(direction, families_never_match)
{
	struct mt_decap d;

	/* 192.0.2.10 and ::ffff:192.0.2.10 are different addresses here. */
	d = decap(43, "192.0.2.10", "::ffff:192.0.2.10", "2001:db8::1");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_UNKNOWN);
	/* Outer IPv6, inner IPv6: the outer source counts as well. */
	d = decap(43, "2001:db8::1", "2001:db8::1", "2001:db8::2");
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_EGRESS);
}

Test(direction, from_real_frames)
{
	struct mt_fx_outer o = {
		.family = AF_INET,
		.src = "192.0.2.10",
		.dst = "198.18.0.1",
		.vni = 42,
	};
	struct mt_fx_pkt out = {
		.family = AF_INET,
		.src = "192.0.2.10",
		.dst = "192.0.2.200",
		.proto = IPPROTO_TCP,
		.sport = 40000,
		.dport = 443,
	};
	struct mt_fx_pkt in = {
		.family = AF_INET6,
		.src = "2001:db8::200",
		.dst = "2001:db8::10",
		.proto = IPPROTO_UDP,
		.sport = 53,
		.dport = 40000,
	};
	uint8_t buf[2048];
	struct mt_decap d;
	size_t n;

	n = mt_fx_frame(buf, sizeof(buf), &o, &out);
	cr_assert_eq(mt_decap_eth(buf, n, 4789, &d), MT_DECAP_OK);
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_EGRESS);
	n = mt_fx_frame(buf, sizeof(buf), &o, &in);
	cr_assert_eq(mt_decap_eth(buf, n, 4789, &d), MT_DECAP_OK);
	cr_assert_eq(mt_direction_infer(&sessions, &d), MT_DIR_INGRESS);
}

Test(direction, names)
{
	cr_assert_str_eq(mt_direction_name(MT_DIR_UNKNOWN), "unknown");
	cr_assert_str_eq(mt_direction_name(MT_DIR_INGRESS), "ingress");
	cr_assert_str_eq(mt_direction_name(MT_DIR_EGRESS), "egress");
}

Test(direction, finish_sorts_and_rejects_duplicates)
{
	struct mt_session v[3] = { { .vni = 9 }, { .vni = 1 }, { .vni = 9 } };
	struct mt_sessions s = { v, 3 };

	cr_assert_eq(sessions.v[0].vni, 42);
	cr_assert_str_eq(sessions.v[0].name, "web");
	cr_assert_eq(mt_sessions_finish(&s), -EEXIST);
	v[2].vni = 5;
	cr_assert_eq(mt_sessions_finish(&s), 0);
	cr_assert_eq(v[0].vni, 1);
	cr_assert_eq(v[1].vni, 5);
	cr_assert_eq(v[2].vni, 9);
}

Test(direction, find_many)
{
	struct mt_sessions s = { calloc(1000, sizeof(struct mt_session)),
				 1000 };

	/* VNIs 7, 14, ..., 7000, inserted backwards. */
	for (size_t i = 0; i < 1000; i++)
		s.v[i].vni = (1000 - i) * 7;
	cr_assert_eq(mt_sessions_finish(&s), 0);
	for (uint32_t vni = 0; vni <= 7007; vni++) {
		const struct mt_session *f = mt_sessions_find(&s, vni);

		if (vni && vni % 7 == 0 && vni <= 7000) {
			cr_assert(f, "VNI %u not found", vni);
			cr_assert_eq(f->vni, vni);
		} else {
			cr_assert_null(f, "VNI %u found", vni);
		}
	}
	cr_assert_null(mt_sessions_find(NULL, 7));
	mt_sessions_free(&s);
	cr_assert_eq(s.n, 0);
	cr_assert_null(s.v);
}

/*
 * A session with more IPv4 addresses than the scan handles (an ENI with
 * dozens of secondary IPs) is searched in a sorted copy: every address of
 * 192.0.2.0/24 and a few outside must get the answer of a plain scan, with
 * duplicates, odd and even counts, and the extremes of the set.
 */
Test(direction, many_addresses_agree_with_scan)
{
	static const size_t counts[] = { 9, 10, 64, 101, 200 };
	unsigned seed = 4242;

	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		size_t n = counts[c];
		struct mt_sessions s = { calloc(1, sizeof(struct mt_session)),
					 1 };
		struct mt_ip *a = calloc(n + 1, sizeof(*a));
		char buf[64];

		cr_assert(s.v && a);
		s.v[0].vni = 42;
		for (size_t i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "192.0.2.%u",
				 rand_r(&seed) % 256);
			a[i] = ip(buf);
		}
		/* An IPv6 address among them takes no part in IPv4 answers. */
		a[n] = ip("2001:db8::5");
		s.v[0].addrs = a;
		s.v[0].naddrs = n + 1;
		cr_assert_eq(mt_sessions_finish(&s), 0);
		cr_assert_not_null(s.v[0].v4_sorted, "%zu addresses", n);
		cr_assert_leq(s.v[0].nv4_sorted, n);

		for (unsigned h = 0; h < 260; h++) {
			struct mt_decap d;
			enum mt_direction want, got;
			bool in = false;

			snprintf(buf, sizeof(buf),
				 h < 256 ? "192.0.2.%u" : "198.51.100.%u",
				 h % 256);
			d = decap(42, "198.18.0.1", buf, "192.0.2.255");
			for (size_t i = 0; i < n; i++)
				in |= a[i].v4 == d.flow.src.v4;
			got = mt_direction_infer(&s, &d);
			if (in)
				want = MT_DIR_EGRESS;
			else {
				want = MT_DIR_UNKNOWN;
				for (size_t i = 0; i < n; i++)
					if (a[i].v4 == d.flow.dst.v4)
						want = MT_DIR_INGRESS;
			}
			cr_assert_eq(got, want, "%zu addresses, src %s: %s", n,
				     buf, mt_direction_name(got));
			/* The same address as destination. */
			d = decap(42, "198.18.0.1", "198.51.100.7", buf);
			got = mt_direction_infer(&s, &d);
			cr_assert_eq(got, in ? MT_DIR_INGRESS : MT_DIR_UNKNOWN,
				     "%zu addresses, dst %s", n, buf);
		}
		mt_sessions_free(&s);
	}
}
