/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The per-packet path shared by the live workers and the offline reader:
 * decap -> direction -> filter -> segment writer (DESIGN §1).
 *
 * A struct mt_pipeline belongs to one thread.  Its counters are plain
 * integers owned by that thread and cache-line aligned; the control thread
 * reads them with relaxed loads and sums them.  The rule set is read through
 * a shared pointer (struct mt_rules_ref) that reload swaps atomically; the
 * pipeline picks the new set up at its next batch (mt_pipeline_begin_batch).
 */
#ifndef MT_PIPELINE_H
#define MT_PIPELINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mirror-target/decap.h"
#include "mirror-target/direction.h"
#include "mirror-target/rules.h"
#include "mirror-target/segment.h"

/*
 * The rule set in force.  NULL = no rule file: capture everything.  Reload
 * stores a new pointer; the old set is freed once every pipeline's
 * `seen_gen` has moved past the swap (see mt_rules_ref_publish).
 */
struct mt_rules_ref {
	_Atomic(struct mt_ruleset *) rs;
	/* Reloaded session table; NULL: the one given to mt_pipeline_init. */
	_Atomic(const struct mt_sessions *) sessions;
	_Atomic uint64_t gen;
};

struct mt_rule_hits {
	uint64_t packets, bytes;
};

struct mt_pipeline_stats {
	uint64_t frames; /* handed to the pipeline */
	uint64_t frame_bytes;
	uint64_t decap_ok; /* VXLAN decapsulated */
	uint64_t decap[MT_DECAP__MAX]; /* per outer parse result */
	uint64_t inner[MT_INNER__MAX]; /* per inner parse result */
	uint64_t dir_packets[MT_DIR__MAX];
	uint64_t dir_bytes[MT_DIR__MAX]; /* inner orig_len */
	uint64_t accepted; /* by a rule, or filter off */
	uint64_t rejected; /* by a reject rule */
	uint64_t unmatched; /* no rule matched: not captured */
	uint64_t written; /* records handed to the writer OK */
	uint64_t write_dropped; /* writer refused (disk, stopped) */
};

/*
 * Per mirror session (VNI) and inferred direction, packets and bytes (inner
 * orig_len) of everything decapsulated, before the filter: the numbers to
 * hold against CloudWatch's NetworkPacketsMirrorIn/Out and
 * NetworkMirrorIn/Out of the source ENI (see daemon/stats.h).
 *
 * A fixed open-addressing table per pipeline, so counting allocates nothing
 * and takes no lock.  A slot's key (VNI + 1; 0 = free) is written once, with
 * release, before its counters are touched, so the control thread can walk
 * the table while the worker counts (acquire on key, relaxed counters).  A
 * VNI that finds no free slot within MT_VNI_PROBE steps counts in `other`.
 */
#define MT_VNI_SLOTS 64 /* a power of two */
#define MT_VNI_PROBE 8

struct mt_vni_count {
	uint32_t key; /* vni + 1; 0 = free slot */
	uint64_t packets[MT_DIR__MAX];
	uint64_t bytes[MT_DIR__MAX];
};

struct mt_vni_table {
	struct mt_vni_count slot[MT_VNI_SLOTS];
	struct mt_vni_count other; /* VNIs that found no slot */
};

/*
 * The counters vni counts in, its slot claimed if need be.  Slots are never
 * given back, so the answer for a VNI never changes: the pipeline keeps it
 * for the VNI it saw last instead of hashing every packet.
 */
static inline struct mt_vni_count *mt_vni_table_slot(struct mt_vni_table *t,
						     uint32_t vni)
{
	uint32_t key = vni + 1;
	/* Fibonacci hashing: consecutive VNIs spread over the table. */
	uint32_t h = (uint32_t)(key * 2654435761u) >>
		     (32 - __builtin_ctz(MT_VNI_SLOTS));
	struct mt_vni_count *c = &t->other;

	for (unsigned i = 0; i < MT_VNI_PROBE; i++) {
		struct mt_vni_count *s = &t->slot[(h + i) & (MT_VNI_SLOTS - 1)];

		if (s->key == key) {
			c = s;
			break;
		}
		if (!s->key) {
			__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
			c = s;
			break;
		}
	}
	return c;
}

static inline void mt_vni_table_count(struct mt_vni_table *t, uint32_t vni,
				      enum mt_direction dir, uint32_t bytes)
{
	struct mt_vni_count *c = mt_vni_table_slot(t, vni);

	c->packets[dir]++;
	c->bytes[dir] += bytes;
}

/*
 * The pipeline's copy of what direction inference needs for the VNI it saw
 * last, IPv4 addresses as plain integers: consecutive packets nearly always
 * belong to the same mirror session.  Filled from `sessions` (read-only
 * after create) when the VNI changes.
 */
#define MT_PIPELINE_DIR_V4_MAX 8
struct mt_pipeline_dir_cache {
	uint32_t vni;
	bool valid;
	bool slow; /* more IPv4 addresses than fit: use mt_direction_infer() */
	uint32_t any_v4; /* ~0u when v4[] holds at least one address, else 0 */
	uint32_t v4[MT_PIPELINE_DIR_V4_MAX]; /* padded with repeats */
	struct mt_vni_count *vni_count; /* mt_vni_table_slot(vnis, vni) */
};

struct mt_pipeline {
	/* read-only after create, but for sessions (reload, at a batch) */
	const struct mt_sessions *sessions;
	struct mt_rules_ref *rules;
	struct mt_writer *writer;
	uint16_t vxlan_port;

	/* this thread's view of the rule set */
	struct mt_ruleset *rs;
	uint64_t rs_gen;
	struct mt_rule_hits *hits; /* per rule of rs, evaluation order */
	size_t nhits;
	/* per rule of rs: enum mt_rule_action, so the packet path need not
	 * call mt_ruleset_rule(); NULL when hits are */
	uint8_t *actions;
	struct mt_pipeline_dir_cache dir_cache;

	struct mt_pipeline_stats stats __attribute__((aligned(64)));
	struct mt_vni_table vnis __attribute__((aligned(64)));
};

int mt_pipeline_init(struct mt_pipeline *p, const struct mt_sessions *sessions,
		     struct mt_rules_ref *rules, struct mt_writer *writer,
		     uint16_t vxlan_port);
void mt_pipeline_fini(struct mt_pipeline *p);

/*
 * Adds a pipeline's counters to *sum, reading them with relaxed loads: the
 * control thread's way to total the workers while they run.
 */
void mt_pipeline_stats_add(struct mt_pipeline_stats *sum,
			   const struct mt_pipeline_stats *s);

/* Picks up a reloaded rule set (resets per-rule hits when it changed). */
void mt_pipeline_begin_batch(struct mt_pipeline *p);

/* One outer frame starting with Ethernet, arrival time ts_ns (UTC). */
void mt_pipeline_process_eth(struct mt_pipeline *p, const uint8_t *frame,
			     uint32_t len, uint64_t ts_ns);
/*
 * n outer frames starting with Ethernet, as mt_pipeline_process_eth() on
 * each in turn (frames[i], lens[i] bytes, arrival time ts[i]).  Faster: it
 * prefetches the headers of the frames a few places ahead, so the cache
 * miss of a frame's first load overlaps the work on the ones before it.
 * Call mt_pipeline_begin_batch() first, as for single frames.
 */
void mt_pipeline_process_batch(struct mt_pipeline *p,
			       const uint8_t *const *frames,
			       const uint32_t *lens, const uint64_t *ts,
			       unsigned int n);
/* One outer frame starting at the IP header (cooked / raw captures). */
void mt_pipeline_process_ip(struct mt_pipeline *p, const uint8_t *l3,
			    uint32_t len, uint16_t ethertype, uint64_t ts_ns);

/* Rule set handling for the control thread and offline mode. */
void mt_rules_ref_init(struct mt_rules_ref *ref, struct mt_ruleset *rs);
/* Stores rs; returns the previous set (caller frees it when safe). */
struct mt_ruleset *mt_rules_ref_publish(struct mt_rules_ref *ref,
					struct mt_ruleset *rs);
/*
 * Stores a new session table for direction inference, picked up with the
 * rules at the next batch; returns the previous one published (NULL the
 * first time), which the caller frees once every pipeline moved past.
 */
const struct mt_sessions *
mt_rules_ref_publish_sessions(struct mt_rules_ref *ref,
			      const struct mt_sessions *sessions);

#endif /* MT_PIPELINE_H */
