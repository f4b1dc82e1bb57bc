// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-packet path end to end: fixture frames go through a pipeline with
 * a real segmenter in a temporary directory, and the tests check the
 * counters a user sees in `mirrorctl status` and the bytes of the sealed
 * pcap segment.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "mirror-target/pcap.h"
#include "mirror-target/pipeline.h"

#define TS0 1700000000123456789ull

struct env {
	char dir[64];
	struct mt_segmenter *sg;
	struct mt_writer *w;
	struct mt_rules_ref ref;
	struct mt_pipeline p;
	struct mt_sessions sessions;
};

static void env_open(struct env *e, struct mt_ruleset *rs, uint32_t snaplen)
{
	struct mt_segment_config sc;
	struct mt_err err = { "" };

	memset(e, 0, sizeof(*e));
	cr_assert(mt_fx_tmpdir(e->dir, sizeof(e->dir)));
	mt_segment_config_default(&sc);
	snprintf(sc.dir, sizeof(sc.dir), "%s", e->dir);
	sc.snaplen = snaplen;
	sc.rotate_bytes = 0;
	sc.rotate_interval = 0;
	sc.rotate_idle = 0;
	sc.min_free_bytes = 0;
	e->sg = mt_segmenter__create(&sc, &err);
	cr_assert(e->sg, "%s", err.msg);
	e->w = mt_writer__create(e->sg, 64 * 1024);
	cr_assert(e->w);
	mt_rules_ref_init(&e->ref, rs);
	cr_assert_eq(mt_pipeline_init(&e->p, &e->sessions, &e->ref, e->w,
				      MT_VXLAN_PORT),
		     0);
}

/* Seals the segment; the pipeline (counters, hits) stays readable. */
static void env_seal(struct env *e)
{
	cr_assert_eq(mt_writer_flush(e->w), 0);
	mt_writer__destroy(e->w);
	e->w = NULL;
	mt_segmenter_drain(e->sg);
	mt_segmenter__destroy(e->sg);
	e->sg = NULL;
}

static void env_close(struct env *e)
{
	struct mt_ruleset *rs = mt_rules_ref_publish(&e->ref, NULL);

	if (e->sg)
		env_seal(e);
	mt_pipeline_fini(&e->p);
	if (rs)
		mt_ruleset__destroy(rs);
	mt_fx_rmtree(e->dir);
}

struct record {
	uint64_t ts_ns;
	uint32_t caplen, len;
	const uint8_t *data;
};

struct capture {
	uint8_t *buf;
	size_t size;
	struct record rec[64];
	size_t n;
	uint32_t snaplen;
};

/* Reads the one sealed segment in dir, parsing the pcap format by hand. */
static void read_segment(const char *dir, struct capture *c)
{
	char path[256] = "";
	struct dirent *de;
	size_t off, nfiles = 0;
	uint32_t magic, linktype;
	DIR *d = opendir(dir);
	FILE *f;

	cr_assert(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n > 5 && !strcmp(de->d_name + n - 5, ".pcap") &&
		    de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			nfiles++;
		}
	}
	closedir(d);
	cr_assert_eq(nfiles, 1, "expected one sealed segment in %s", dir);
	cr_assert(!strncmp(strrchr(path, '/') + 1, "mirror-", 7), "%s", path);

	f = fopen(path, "rb");
	cr_assert(f);
	fseek(f, 0, SEEK_END);
	c->size = ftell(f);
	rewind(f);
	c->buf = malloc(c->size);
	cr_assert_eq(fread(c->buf, 1, c->size, f), c->size);
	fclose(f);

	cr_assert_geq(c->size, MT_PCAP_HDR_LEN);
	memcpy(&magic, c->buf, 4);
	cr_assert_eq(magic, MT_PCAP_MAGIC_NS);
	memcpy(&c->snaplen, c->buf + 16, 4);
	memcpy(&linktype, c->buf + 20, 4);
	cr_assert_eq(linktype, MT_PCAP_LINKTYPE_ETHERNET);
	c->n = 0;
	for (off = MT_PCAP_HDR_LEN; off < c->size;) {
		uint32_t h[4];
		struct record *r = &c->rec[c->n++];

		cr_assert_leq(c->n, 64);
		cr_assert_leq(off + 16, c->size, "cut record header");
		memcpy(h, c->buf + off, 16);
		r->ts_ns = (uint64_t)h[0] * 1000000000ull + h[1];
		r->caplen = h[2];
		r->len = h[3];
		r->data = c->buf + off + 16;
		off += 16 + r->caplen;
		cr_assert_leq(off, c->size, "cut record");
	}
}

static const struct mt_fx_outer outer = {
	.family = AF_INET,
	.src = "192.0.2.10",
	.dst = "198.18.0.1",
	.vni = 42,
};

/* An egress packet of the mirrored ENI 192.0.2.10 ... */
static struct mt_fx_pkt pkt(uint8_t proto, const char *src, const char *dst,
			    uint16_t sport, uint16_t dport)
{
	return (struct mt_fx_pkt){
		.family = AF_INET,
		.src = src,
		.dst = dst,
		.proto = proto,
		.sport = sport,
		.dport = dport,
		.payload_len = 20,
	};
}

/* Builds the inner frame and its VXLAN frame; feeds the frame. */
static size_t feed(struct env *e, const struct mt_fx_outer *o,
		   const struct mt_fx_pkt *p, uint64_t ts, uint8_t *inner,
		   size_t cap)
{
	uint8_t frame[4096];
	size_t ilen, flen;

	ilen = mt_fx_inner(inner, cap, p);
	cr_assert(ilen);
	flen = mt_fx_vxlan(frame, sizeof(frame), o, inner, ilen);
	cr_assert(flen);
	mt_pipeline_process_eth(&e->p, frame, flen, ts);
	return ilen;
}

Test(pipeline, filter_off_captures_everything)
{
	struct env e;
	struct capture c = { 0 };
	struct mt_fx_pkt out =
		pkt(IPPROTO_TCP, "192.0.2.10", "192.0.2.200", 40000, 443);
	struct mt_fx_pkt in =
		pkt(IPPROTO_UDP, "192.0.2.200", "192.0.2.10", 53, 40001);
	struct mt_fx_pkt other =
		pkt(IPPROTO_ICMP, "192.0.2.5", "192.0.2.6", 8, 0);
	struct mt_fx_outer not_vxlan = outer, no_i_flag = outer;
	uint8_t i1[2048], i2[2048], i3[2048], frame[2048];
	size_t n1, n2, n3, n;

	env_open(&e, NULL, 65535);
	n1 = feed(&e, &outer, &out, TS0, i1, sizeof(i1));
	n2 = feed(&e, &outer, &in, TS0 + 1000, i2, sizeof(i2));
	n3 = feed(&e, &outer, &other, TS0 + 2000, i3, sizeof(i3));
	/* Not ours: other UDP port, and VXLAN without the I flag. */
	not_vxlan.dport = 4790;
	n = mt_fx_frame(frame, sizeof(frame), &not_vxlan, &out);
	mt_pipeline_process_eth(&e.p, frame, n, TS0 + 3000);
	no_i_flag.vxlan_flags = 0x80;
	n = mt_fx_frame(frame, sizeof(frame), &no_i_flag, &out);
	mt_pipeline_process_eth(&e.p, frame, n, TS0 + 4000);
	/* Cut inside the outer UDP header. */
	mt_pipeline_process_eth(&e.p, frame, 14 + 20 + 4, TS0 + 5000);

	cr_assert_eq(e.p.stats.frames, 6);
	cr_assert_eq(e.p.stats.decap_ok, 3);
	cr_assert_eq(e.p.stats.decap[MT_DECAP_OK], 3);
	cr_assert_eq(e.p.stats.decap[MT_DECAP_NOT_VXLAN_PORT], 1);
	cr_assert_eq(e.p.stats.decap[MT_DECAP_BAD_VXLAN_FLAGS], 1);
	cr_assert_eq(e.p.stats.decap[MT_DECAP_TRUNC_UDP], 1);
	cr_assert_eq(e.p.stats.inner[MT_INNER_OK], 3);
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_EGRESS], 1);
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_INGRESS], 1);
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_UNKNOWN], 1);
	cr_assert_eq(e.p.stats.dir_bytes[MT_DIR_EGRESS], n1);
	cr_assert_eq(e.p.stats.dir_bytes[MT_DIR_INGRESS], n2);
	cr_assert_eq(e.p.stats.dir_bytes[MT_DIR_UNKNOWN], n3);
	cr_assert_eq(e.p.stats.accepted, 3);
	cr_assert_eq(e.p.stats.rejected, 0);
	cr_assert_eq(e.p.stats.unmatched, 0);
	cr_assert_eq(e.p.stats.written, 3);
	cr_assert_eq(e.p.stats.write_dropped, 0);

	env_seal(&e);
	read_segment(e.dir, &c);
	cr_assert_eq(c.n, 3);
	cr_assert_eq(c.rec[0].ts_ns, TS0);
	cr_assert_eq(c.rec[1].ts_ns, TS0 + 1000);
	cr_assert_eq(c.rec[2].ts_ns, TS0 + 2000);
	cr_assert_eq(c.rec[0].caplen, n1);
	cr_assert_eq(c.rec[0].len, n1);
	cr_assert(!memcmp(c.rec[0].data, i1, n1), "inner frame 1 differs");
	cr_assert_eq(c.rec[1].caplen, n2);
	cr_assert(!memcmp(c.rec[1].data, i2, n2), "inner frame 2 differs");
	cr_assert_eq(c.rec[2].caplen, n3);
	cr_assert(!memcmp(c.rec[2].data, i3, n3), "inner frame 3 differs");
	free(c.buf);
	env_close(&e);
}

static const char rules_text[] =
	"100 reject ingress tcp 0.0.0.0/0 0.0.0.0/0 dport=22 desc=\"no ssh\"\n"
	"200 accept ingress all 0.0.0.0/0 0.0.0.0/0\n"
	"300 accept egress  udp 0.0.0.0/0 0.0.0.0/0 dport=53\n";

static struct mt_ruleset *load_rules(const char *text)
{
	struct mt_err err = { "" };
	struct mt_ruleset *rs =
		mt_ruleset__parse_native("t.rules", text, strlen(text), &err);

	cr_assert(rs, "%s", err.msg);
	return rs;
}

static size_t rule_index(const struct mt_ruleset *rs, unsigned number)
{
	for (size_t i = 0; i < mt_ruleset_count(rs); i++)
		if (mt_ruleset_rule(rs, i)->number == number)
			return i;
	cr_assert_fail("no rule %u", number);
	return 0;
}

Test(pipeline, rules_accept_reject_unmatched)
{
	struct mt_ruleset *rs = load_rules(rules_text);
	struct env e;
	struct capture c = { 0 };
	struct mt_fx_pkt ssh =
		pkt(IPPROTO_TCP, "192.0.2.200", "192.0.2.10", 50000, 22);
	struct mt_fx_pkt https_in =
		pkt(IPPROTO_TCP, "192.0.2.200", "192.0.2.10", 50001, 443);
	struct mt_fx_pkt dns_out =
		pkt(IPPROTO_UDP, "192.0.2.10", "192.0.2.53", 40000, 53);
	struct mt_fx_pkt https_out =
		pkt(IPPROTO_TCP, "192.0.2.10", "192.0.2.200", 40001, 443);
	/* Neither end is the ENI: unknown; egress rule 300 must not match. */
	struct mt_fx_pkt dns_other =
		pkt(IPPROTO_UDP, "192.0.2.7", "192.0.2.53", 40002, 53);
	uint8_t inner[2048], in_https[2048], out_dns[2048];
	size_t n_ssh, n_https, n_dns;
	size_t r100 = rule_index(rs, 100), r200 = rule_index(rs, 200);
	size_t r300 = rule_index(rs, 300);

	env_open(&e, rs, 65535);
	cr_assert_eq(e.p.rs, rs);
	cr_assert_eq(e.p.nhits, 3);
	n_ssh = feed(&e, &outer, &ssh, TS0, inner, sizeof(inner));
	feed(&e, &outer, &ssh, TS0 + 1, inner, sizeof(inner));
	n_https = feed(&e, &outer, &https_in, TS0 + 2, in_https,
		       sizeof(in_https));
	n_dns = feed(&e, &outer, &dns_out, TS0 + 3, out_dns, sizeof(out_dns));
	feed(&e, &outer, &https_out, TS0 + 4, inner, sizeof(inner));
	feed(&e, &outer, &dns_other, TS0 + 5, inner, sizeof(inner));

	cr_assert_eq(e.p.stats.frames, 6);
	cr_assert_eq(e.p.stats.rejected, 2);
	cr_assert_eq(e.p.stats.accepted, 2);
	cr_assert_eq(e.p.stats.unmatched, 2);
	cr_assert_eq(e.p.stats.written, 2);
	cr_assert_eq(e.p.hits[r100].packets, 2);
	cr_assert_eq(e.p.hits[r100].bytes, 2 * n_ssh);
	cr_assert_eq(e.p.hits[r200].packets, 1);
	cr_assert_eq(e.p.hits[r200].bytes, n_https);
	cr_assert_eq(e.p.hits[r300].packets, 1);
	cr_assert_eq(e.p.hits[r300].bytes, n_dns);
	/* Direction is counted for every decapsulated packet, filtered or not. */
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_INGRESS], 3);
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_EGRESS], 2);
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_UNKNOWN], 1);

	env_seal(&e);
	read_segment(e.dir, &c);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(c.rec[0].ts_ns, TS0 + 2);
	cr_assert(!memcmp(c.rec[0].data, in_https, n_https));
	cr_assert_eq(c.rec[1].ts_ns, TS0 + 3);
	cr_assert(!memcmp(c.rec[1].data, out_dns, n_dns));
	free(c.buf);
	env_close(&e);
}

Test(pipeline, sessions_steer_direction_and_rules)
{
	/* 192.0.2.11 is a secondary address of the ENI behind VNI 42. */
	struct mt_ip extra;
	struct mt_session s = {
		.vni = 42, .name = "web", .addrs = &extra, .naddrs = 1
	};
	struct mt_ruleset *rs =
		load_rules("10 accept egress all 0.0.0.0/0 0.0.0.0/0 vni=42\n");
	struct mt_fx_pkt from_extra =
		pkt(IPPROTO_TCP, "192.0.2.11", "192.0.2.200", 1000, 80);
	struct mt_fx_outer other_vni = outer;
	uint8_t inner[2048];
	struct env e;

	cr_assert_eq(mt_ip_parse("192.0.2.11", &extra), 0);
	env_open(&e, rs, 65535);
	e.sessions.v = &s;
	e.sessions.n = 1;
	feed(&e, &outer, &from_extra, TS0, inner, sizeof(inner));
	other_vni.vni = 43;
	feed(&e, &other_vni, &from_extra, TS0 + 1, inner, sizeof(inner));

	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_EGRESS], 1);
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_UNKNOWN], 1);
	cr_assert_eq(e.p.stats.accepted, 1);
	cr_assert_eq(e.p.stats.unmatched, 1);
	cr_assert_eq(e.p.hits[0].packets, 1);
	env_close(&e);
}

Test(pipeline, truncated_inner_keeps_original_length)
{
	struct env e;
	struct capture c = { 0 };
	struct mt_fx_pkt big =
		pkt(IPPROTO_UDP, "192.0.2.10", "192.0.2.200", 40000, 4000);
	uint8_t inner[2048], frame[2048];
	size_t full, n;

	big.payload_len = 1400;
	env_open(&e, NULL, 65535);
	full = mt_fx_inner(inner, sizeof(inner), &big);
	cr_assert_gt(full, 1400);
	/* AWS cut the mirrored packet to 200 bytes (session packet length). */
	n = mt_fx_vxlan(frame, sizeof(frame), &outer, inner, 200);
	mt_pipeline_process_eth(&e.p, frame, n, TS0);
	cr_assert_eq(e.p.stats.written, 1);
	cr_assert_eq(e.p.stats.dir_bytes[MT_DIR_EGRESS], full,
		     "direction bytes count the original length");

	env_seal(&e);
	read_segment(e.dir, &c);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(c.rec[0].caplen, 200);
	cr_assert_eq(c.rec[0].len, full, "orig_len is what the IP header says");
	cr_assert(!memcmp(c.rec[0].data, inner, 200));
	free(c.buf);
	env_close(&e);
}

Test(pipeline, snaplen_cuts_records)
{
	struct env e;
	struct capture c = { 0 };
	struct mt_fx_pkt big =
		pkt(IPPROTO_TCP, "192.0.2.10", "192.0.2.200", 40000, 443);
	uint8_t inner[2048];
	size_t full;

	big.payload_len = 1000;
	env_open(&e, NULL, 128);
	full = feed(&e, &outer, &big, TS0, inner, sizeof(inner));
	env_seal(&e);
	read_segment(e.dir, &c);
	cr_assert_eq(c.snaplen, 128);
	cr_assert_eq(c.n, 1);
	cr_assert_eq(c.rec[0].caplen, 128);
	cr_assert_eq(c.rec[0].len, full);
	cr_assert(!memcmp(c.rec[0].data, inner, 128));
	free(c.buf);
	env_close(&e);
}

Test(pipeline, process_ip_matches_process_eth)
{
	struct env e;
	struct mt_fx_pkt p =
		pkt(IPPROTO_TCP, "192.0.2.10", "192.0.2.200", 40000, 443);
	struct mt_fx_outer v6 = outer;
	uint8_t frame[2048];
	size_t n;

	env_open(&e, NULL, 65535);
	n = mt_fx_frame(frame, sizeof(frame), &outer, &p);
	/* As a Linux cooked or raw-IP capture hands it over. */
	mt_pipeline_process_ip(&e.p, frame + 14, n - 14, 0x0800, TS0);
	mt_pipeline_process_ip(&e.p, frame + 14, n - 14, 0, TS0);
	v6.family = AF_INET6;
	v6.src = "2001:db8::10";
	v6.dst = "2001:db8::1";
	n = mt_fx_frame(frame, sizeof(frame), &v6, &p);
	mt_pipeline_process_ip(&e.p, frame + 14, n - 14, 0x86dd, TS0);
	cr_assert_eq(e.p.stats.frames, 3);
	cr_assert_eq(e.p.stats.decap_ok, 3);
	cr_assert_eq(e.p.stats.written, 3);
	/* Outer v6 source is not the inner v4 source: unknown direction. */
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_EGRESS], 2);
	cr_assert_eq(e.p.stats.dir_packets[MT_DIR_UNKNOWN], 1);
	env_close(&e);
}

Test(pipeline, reload_at_next_batch)
{
	struct mt_ruleset *accept_all =
		load_rules("1 accept any all 0.0.0.0/0 0.0.0.0/0\n");
	struct mt_ruleset *none_match =
		load_rules("1 accept any all 10.0.0.0/8 0.0.0.0/0\n"
			   "2 reject any all 0.0.0.0/0 0.0.0.0/0\n");
	struct mt_fx_pkt p =
		pkt(IPPROTO_TCP, "192.0.2.10", "192.0.2.200", 40000, 443);
	uint8_t inner[2048];
	uint64_t gen;
	struct env e;

	env_open(&e, accept_all, 65535);
	feed(&e, &outer, &p, TS0, inner, sizeof(inner));
	cr_assert_eq(e.p.hits[0].packets, 1);
	gen = e.p.rs_gen;

	cr_assert_eq(mt_rules_ref_publish(&e.ref, none_match), accept_all);
	/* Not picked up until the next batch: the old set still decides. */
	feed(&e, &outer, &p, TS0 + 1, inner, sizeof(inner));
	cr_assert_eq(e.p.rs, accept_all);
	cr_assert_eq(e.p.stats.accepted, 2);
	mt_pipeline_begin_batch(&e.p);
	cr_assert_eq(e.p.rs, none_match);
	cr_assert_gt(e.p.rs_gen, gen, "the control thread sees we moved on");
	cr_assert_eq(e.p.nhits, 2);
	cr_assert_eq(e.p.hits[0].packets, 0, "hits restart with the new set");
	mt_ruleset__destroy(accept_all); /* safe: rs_gen moved past it */

	feed(&e, &outer, &p, TS0 + 2, inner, sizeof(inner));
	cr_assert_eq(e.p.stats.rejected, 1);
	cr_assert_eq(e.p.hits[1].packets, 1);
	/* Unchanged generation: begin_batch keeps the counters. */
	mt_pipeline_begin_batch(&e.p);
	cr_assert_eq(e.p.hits[1].packets, 1);

	/* Back to no rules: capture everything. */
	cr_assert_eq(mt_rules_ref_publish(&e.ref, NULL), none_match);
	mt_pipeline_begin_batch(&e.p);
	cr_assert_null(e.p.rs);
	cr_assert_eq(e.p.nhits, 0);
	feed(&e, &outer, &p, TS0 + 3, inner, sizeof(inner));
	cr_assert_eq(e.p.stats.accepted, 3);
	mt_ruleset__destroy(none_match);
	env_close(&e);
}

Test(pipeline, without_writer_counts_only)
{
	struct mt_pipeline p;
	struct mt_fx_pkt pk =
		pkt(IPPROTO_TCP, "192.0.2.10", "192.0.2.200", 40000, 443);
	uint8_t frame[2048];
	size_t n = mt_fx_frame(frame, sizeof(frame), &outer, &pk);

	cr_assert_eq(mt_pipeline_init(&p, NULL, NULL, NULL, MT_VXLAN_PORT), 0);
	mt_pipeline_begin_batch(&p);
	mt_pipeline_process_eth(&p, frame, n, TS0);
	cr_assert_eq(p.stats.accepted, 1);
	cr_assert_eq(p.stats.written, 0);
	cr_assert_eq(p.stats.frame_bytes, n);
	mt_pipeline_fini(&p);
}

/*
 * The pipeline keeps a per-VNI cache of the addresses direction inference
 * needs; whatever the session layout (no addresses, a few, more than the
 * cache holds, IPv6, unknown VNI, VNI changing every packet), it must agree
 * with mt_direction_infer() packet by packet.
 */
static void add_session(struct mt_sessions *s, uint32_t vni,
			const char *const *addrs, size_t n)
{
	struct mt_session *v = realloc(s->v, (s->n + 1) * sizeof(*v));

	cr_assert(v);
	s->v = v;
	v = &s->v[s->n++];
	memset(v, 0, sizeof(*v));
	v->vni = vni;
	snprintf(v->name, sizeof(v->name), "s%u", vni);
	v->addrs = calloc(n ? n : 1, sizeof(*v->addrs));
	cr_assert(v->addrs);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(mt_ip_parse(addrs[i], &v->addrs[i]), 0);
	v->naddrs = n;
}

Test(pipeline, direction_cache_agrees_with_inference)
{
	static const char *const few[] = { "192.0.2.1", "192.0.2.2",
					   "192.0.2.3", "192.0.2.4" };
	static const char *const many[] = {
		"192.0.2.1", "192.0.2.2",  "192.0.2.3",	 "192.0.2.4",
		"192.0.2.5", "192.0.2.6",  "192.0.2.7",	 "192.0.2.8",
		"192.0.2.9", "192.0.2.10", "192.0.2.11",
	};
	static const char *const mixed[] = { "2001:db8::1", "192.0.2.5",
					     "2001:db8::7" };
	static const char *const v4[] = { "192.0.2.1",	"192.0.2.5",
					  "192.0.2.9",	"192.0.2.11",
					  "192.0.2.20", "192.0.2.99" };
	static const char *const v6[] = { "2001:db8::1", "2001:db8::7",
					  "2001:db8::9" };
	static const char *const outer_src[] = { "192.0.2.20", "192.0.2.99",
						 "198.18.0.1" };
	static const uint32_t vnis[] = { 10, 11, 12, 13, 99 };
	struct mt_sessions sessions = { 0 };
	struct mt_pipeline p;
	unsigned seed = 12345, checked[MT_DIR__MAX] = { 0 };

	add_session(&sessions, 10, NULL, 0);
	add_session(&sessions, 11, few, 4);
	add_session(&sessions, 12, many, 11);
	add_session(&sessions, 13, mixed, 3);
	cr_assert_eq(mt_sessions_finish(&sessions), 0);
	cr_assert_eq(mt_pipeline_init(&p, &sessions, NULL, NULL, MT_VXLAN_PORT),
		     0);

	for (int i = 0; i < 20000; i++) {
		bool six = rand_r(&seed) % 4 == 0;
		const char *const *pool = six ? v6 : v4;
		size_t npool = six ? 3 : 6;
		struct mt_fx_outer o = outer;
		struct mt_fx_pkt pk = pkt(IPPROTO_UDP,
					  pool[rand_r(&seed) % npool],
					  pool[rand_r(&seed) % npool], 1, 2);
		uint8_t frame[2048];
		struct mt_decap d;
		enum mt_direction want;
		uint64_t before[MT_DIR__MAX];
		size_t n;

		pk.family = six ? AF_INET6 : AF_INET;
		o.src = outer_src[rand_r(&seed) % 3];
		/* Runs of one VNI exercise the cache, switches refill it. */
		if (i % 7 == 0)
			o.vni = vnis[rand_r(&seed) % 5];
		else
			o.vni = vnis[(i / 7) % 5];
		n = mt_fx_frame(frame, sizeof(frame), &o, &pk);
		cr_assert(n);
		cr_assert_eq(mt_decap_eth(frame, n, MT_VXLAN_PORT, &d),
			     MT_DECAP_OK);
		want = mt_direction_infer(&sessions, &d);
		memcpy(before, p.stats.dir_packets, sizeof(before));
		mt_pipeline_process_eth(&p, frame, n, TS0);
		for (int k = 0; k < MT_DIR__MAX; k++)
			cr_assert_eq(p.stats.dir_packets[k] - before[k],
				     k == (int)want,
				     "packet %d (vni %u, %s -> %s, outer %s): "
				     "direction %d expected",
				     i, o.vni, pk.src, pk.dst, o.src, want);
		checked[want]++;
	}
	/* The mix must really cover every outcome. */
	for (int k = 0; k < MT_DIR__MAX; k++)
		cr_assert_gt(checked[k], 1000, "direction %d: %u packets", k,
			     checked[k]);
	mt_pipeline_fini(&p);
	mt_sessions_free(&sessions);
}
