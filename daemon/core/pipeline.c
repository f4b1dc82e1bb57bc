// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-packet path: decap -> direction -> filter -> writer.
 *
 * It runs for every mirrored packet (> 15 Mpps per core for small frames),
 * so it allocates nothing, takes no lock and makes no system call; the
 * writer's buffer absorbs the records.  The only shared state it reads is
 * the rule-set generation, once per batch: a reload allocates the new
 * per-rule hit counters there, off the per-packet path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/pipeline.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

void mt_rules_ref_init(struct mt_rules_ref *ref, struct mt_ruleset *rs)
{
	atomic_init(&ref->rs, rs);
	atomic_init(&ref->sessions, NULL);
	atomic_init(&ref->gen, 1);
}

const struct mt_sessions *
mt_rules_ref_publish_sessions(struct mt_rules_ref *ref,
			      const struct mt_sessions *sessions)
{
	const struct mt_sessions *old;

	/* As for the rules: pointer first, then the generation. */
	old = atomic_exchange_explicit(&ref->sessions, sessions,
				       memory_order_acq_rel);
	atomic_fetch_add_explicit(&ref->gen, 1, memory_order_release);
	return old;
}

struct mt_ruleset *mt_rules_ref_publish(struct mt_rules_ref *ref,
					struct mt_ruleset *rs)
{
	struct mt_ruleset *old;

	/*
	 * Pointer first, generation second (release): a worker that sees the
	 * new generation (acquire) is guaranteed to load this set or a newer
	 * one, so its seen generation never claims a set it does not hold.
	 */
	old = atomic_exchange_explicit(&ref->rs, rs, memory_order_acq_rel);
	atomic_fetch_add_explicit(&ref->gen, 1, memory_order_release);
	return old;
}

/*
 * Loads the current set and fresh hit counters; 0 or -ENOMEM.  The rules'
 * actions are copied next to the counters (one allocation) so that the
 * packet path reads a byte instead of calling into the rule set.
 */
static int pick_up_rules(struct mt_pipeline *p, uint64_t gen)
{
	const struct mt_sessions *ses;
	struct mt_ruleset *rs;
	struct mt_rule_hits *hits = NULL;
	uint8_t *actions = NULL;
	size_t n;
	int err = 0;

	rs = atomic_load_explicit(&p->rules->rs, memory_order_acquire);
	ses = atomic_load_explicit(&p->rules->sessions, memory_order_acquire);
	if (ses && ses != p->sessions) {
		p->sessions = ses;
		/* The cache holds the old table's addresses: refill it. */
		p->dir_cache.valid = false;
	}
	n = rs ? mt_ruleset_count(rs) : 0;
	if (n) {
		hits = calloc(1, n * (sizeof(*hits) + 1));
		if (!hits) {
			/* Still filter correctly; only per-rule hits are lost. */
			err = -ENOMEM;
			n = 0;
		} else {
			actions = (uint8_t *)(hits + n);
			for (size_t i = 0; i < n; i++)
				actions[i] = mt_ruleset_rule(rs, i)->action;
		}
	}
	free(p->hits);
	p->hits = hits;
	p->actions = actions;
	p->nhits = n;
	p->rs = rs;
	/* The control thread reads rs_gen to know when the old set is free. */
	__atomic_store_n(&p->rs_gen, gen, __ATOMIC_RELEASE);
	return err;
}

int mt_pipeline_init(struct mt_pipeline *p, const struct mt_sessions *sessions,
		     struct mt_rules_ref *rules, struct mt_writer *writer,
		     uint16_t vxlan_port)
{
	memset(p, 0, sizeof(*p));
	p->sessions = sessions;
	p->rules = rules;
	p->writer = writer;
	p->vxlan_port = vxlan_port;
	if (!rules)
		return 0;
	return pick_up_rules(p, atomic_load_explicit(&rules->gen,
						     memory_order_acquire));
}

void mt_pipeline_fini(struct mt_pipeline *p)
{
	free(p->hits);
	p->hits = NULL;
	p->actions = NULL;
	p->nhits = 0;
	p->rs = NULL;
}

static uint64_t rd(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

void mt_pipeline_stats_add(struct mt_pipeline_stats *sum,
			   const struct mt_pipeline_stats *s)
{
	sum->frames += rd(&s->frames);
	sum->frame_bytes += rd(&s->frame_bytes);
	sum->decap_ok += rd(&s->decap_ok);
	for (int i = 0; i < MT_DECAP__MAX; i++)
		sum->decap[i] += rd(&s->decap[i]);
	for (int i = 0; i < MT_INNER__MAX; i++)
		sum->inner[i] += rd(&s->inner[i]);
	for (int i = 0; i < MT_DIR__MAX; i++) {
		sum->dir_packets[i] += rd(&s->dir_packets[i]);
		sum->dir_bytes[i] += rd(&s->dir_bytes[i]);
	}
	sum->accepted += rd(&s->accepted);
	sum->rejected += rd(&s->rejected);
	sum->unmatched += rd(&s->unmatched);
	sum->written += rd(&s->written);
	sum->write_dropped += rd(&s->write_dropped);
}

void mt_pipeline_begin_batch(struct mt_pipeline *p)
{
	uint64_t gen;

	if (!p->rules)
		return;
	gen = atomic_load_explicit(&p->rules->gen, memory_order_acquire);
	if (likely(gen == p->rs_gen))
		return;
	pick_up_rules(p, gen);
}

/* Copies the session of vni into the cache, with its counters' slot. */
static void dir_cache_fill(struct mt_pipeline *p, uint32_t vni)
{
	struct mt_pipeline_dir_cache *c = &p->dir_cache;
	const struct mt_session *ses = mt_sessions_find(p->sessions, vni);
	unsigned int k = 0;

	c->vni = vni;
	c->valid = true;
	c->slow = false;
	c->vni_count = mt_vni_table_slot(&p->vnis, vni);
	for (size_t i = 0; ses && i < ses->naddrs; i++) {
		if (ses->addrs[i].family != AF_INET)
			continue;
		if (k == MT_PIPELINE_DIR_V4_MAX) {
			c->slow = true;
			break;
		}
		c->v4[k++] = ses->addrs[i].v4;
	}
	/* Repeats of an address change no answer and keep the loop fixed. */
	for (unsigned int i = k; i < MT_PIPELINE_DIR_V4_MAX; i++)
		c->v4[i] = k ? c->v4[0] : 0;
	c->any_v4 = k ? 1 : 0;
}

/*
 * mt_direction_infer() for the common case, an IPv4 inner flow of the
 * session seen last (the cache is filled for d->vni): a fixed-length
 * compare over plain integers that the compiler vectorises, no session
 * search.  Same answer (test_pipeline).
 */
static inline enum mt_direction infer_dir(struct mt_pipeline *p,
					  const struct mt_decap *d)
{
	const struct mt_pipeline_dir_cache *c = &p->dir_cache;
	const struct mt_flow *f = &d->flow;
	unsigned int in_src, in_dst, ms = 0, md = 0, outer4;
	uint32_t src, dst;

	if (unlikely(!(f->flags & MT_FLOW_IP) || f->src.family != AF_INET))
		return mt_direction_infer(p->sessions, d);
	if (unlikely(c->slow))
		return mt_direction_infer(p->sessions, d);
	src = f->src.v4;
	dst = f->dst.v4;
	for (unsigned int i = 0; i < MT_PIPELINE_DIR_V4_MAX; i++) {
		ms |= c->v4[i] == src;
		md |= c->v4[i] == dst;
	}
	/* The outer source is the mirrored ENI's primary address. */
	outer4 = d->outer_src.family == AF_INET;
	in_src = (ms & c->any_v4) | (outer4 & (d->outer_src.v4 == src));
	in_dst = (md & c->any_v4) | (outer4 & (d->outer_src.v4 == dst));
	/* src in S: egress (2); else dst in S: ingress (1); else unknown. */
	return (enum mt_direction)(in_src << 1 | (in_dst & ~in_src));
}

_Static_assert(MT_DIR_UNKNOWN == 0 && MT_DIR_INGRESS == 1 && MT_DIR_EGRESS == 2,
	       "infer_dir() computes the direction arithmetically");

static inline void process(struct mt_pipeline *p, const struct mt_decap *d,
			   uint64_t ts_ns)
{
	struct mt_pipeline_stats *st = &p->stats;
	enum mt_direction dir;

	st->decap_ok++;
	st->decap[MT_DECAP_OK]++;
	st->inner[d->inner_status]++;
	if (unlikely(!p->dir_cache.valid || p->dir_cache.vni != d->vni))
		dir_cache_fill(p, d->vni);
	dir = infer_dir(p, d);
	st->dir_packets[dir]++;
	st->dir_bytes[dir] += d->orig_len;
	/* Per session, for CloudWatch's NetworkPacketsMirrorIn/Out (stats.h). */
	p->dir_cache.vni_count->packets[dir]++;
	p->dir_cache.vni_count->bytes[dir] += d->orig_len;

	if (p->rs) {
		int idx = mt_ruleset_match(p->rs, dir, d->vni, &d->flow);
		uint8_t action;

		if (idx < 0) {
			st->unmatched++;
			return;
		}
		if (likely((size_t)idx < p->nhits)) {
			p->hits[idx].packets++;
			p->hits[idx].bytes += d->orig_len;
			action = p->actions[idx];
		} else {
			action = mt_ruleset_rule(p->rs, idx)->action;
		}
		if (action == MT_ACTION_REJECT) {
			st->rejected++;
			return;
		}
	}
	st->accepted++;
	if (unlikely(!p->writer))
		return;
	if (likely(!mt_writer_append(p->writer, ts_ns, d->vni, d->inner,
				     d->inner_len, d->orig_len)))
		st->written++;
	else
		st->write_dropped++;
}

void mt_pipeline_process_eth(struct mt_pipeline *p, const uint8_t *frame,
			     uint32_t len, uint64_t ts_ns)
{
	struct mt_decap d;
	enum mt_decap_status s;

	p->stats.frames++;
	p->stats.frame_bytes += len;
	s = mt_decap_eth(frame, len, p->vxlan_port, &d);
	if (unlikely(s != MT_DECAP_OK)) {
		p->stats.decap[s < MT_DECAP__MAX ? s : 0]++;
		return;
	}
	process(p, &d, ts_ns);
}

/*
 * How far ahead the batch prefetches: far enough that a miss to memory
 * (~100 ns) is covered by the packets in between, near enough that the
 * lines are still in L1 when their turn comes.
 */
#define PREFETCH_AHEAD 4

/* The outer headers and the inner headers up to the ports. */
static inline void prefetch_frame(const uint8_t *frame)
{
	__builtin_prefetch(frame);
	__builtin_prefetch(frame + 64);
}

void mt_pipeline_process_batch(struct mt_pipeline *p,
			       const uint8_t *const *frames,
			       const uint32_t *lens, const uint64_t *ts,
			       unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n && i < PREFETCH_AHEAD; i++)
		prefetch_frame(frames[i]);
	for (i = 0; i < n; i++) {
		struct mt_decap d;
		enum mt_decap_status s;

		if (i + PREFETCH_AHEAD < n)
			prefetch_frame(frames[i + PREFETCH_AHEAD]);
		p->stats.frames++;
		p->stats.frame_bytes += lens[i];
		s = mt_decap_eth(frames[i], lens[i], p->vxlan_port, &d);
		if (unlikely(s != MT_DECAP_OK)) {
			p->stats.decap[s < MT_DECAP__MAX ? s : 0]++;
			continue;
		}
		process(p, &d, ts[i]);
	}
}
void mt_pipeline_process_ip(struct mt_pipeline *p, const uint8_t *l3,
			    uint32_t len, uint16_t ethertype, uint64_t ts_ns)
{
	struct mt_decap d;
	enum mt_decap_status s;

	p->stats.frames++;
	p->stats.frame_bytes += len;
	s = mt_decap_ip(l3, len, ethertype, p->vxlan_port, &d);
	if (unlikely(s != MT_DECAP_OK)) {
		p->stats.decap[s < MT_DECAP__MAX ? s : 0]++;
		return;
	}
	process(p, &d, ts_ns);
}
