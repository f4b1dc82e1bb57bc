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
	_Atomic uint64_t gen;
};

struct mt_rule_hits {
	uint64_t packets, bytes;
};

struct mt_pipeline_stats {
	uint64_t frames;	   /* handed to the pipeline */
	uint64_t frame_bytes;
	uint64_t decap_ok;	   /* VXLAN decapsulated */
	uint64_t decap[MT_DECAP__MAX]; /* per outer parse result */
	uint64_t inner[MT_INNER__MAX]; /* per inner parse result */
	uint64_t dir_packets[MT_DIR__MAX];
	uint64_t dir_bytes[MT_DIR__MAX]; /* inner orig_len */
	uint64_t accepted;	   /* by a rule, or filter off */
	uint64_t rejected;	   /* by a reject rule */
	uint64_t unmatched;	   /* no rule matched: not captured */
	uint64_t written;	   /* records handed to the writer OK */
	uint64_t write_dropped;	   /* writer refused (disk, stopped) */
};

struct mt_pipeline {
	/* read-only after create */
	const struct mt_sessions *sessions;
	struct mt_rules_ref *rules;
	struct mt_writer *writer;
	uint16_t vxlan_port;

	/* this thread's view of the rule set */
	struct mt_ruleset *rs;
	uint64_t rs_gen;
	struct mt_rule_hits *hits; /* per rule of rs, evaluation order */
	size_t nhits;

	struct mt_pipeline_stats stats __attribute__((aligned(64)));
};

int mt_pipeline_init(struct mt_pipeline *p, const struct mt_sessions *sessions,
		     struct mt_rules_ref *rules, struct mt_writer *writer,
		     uint16_t vxlan_port);
void mt_pipeline_fini(struct mt_pipeline *p);

/* Picks up a reloaded rule set (resets per-rule hits when it changed). */
void mt_pipeline_begin_batch(struct mt_pipeline *p);

/* One outer frame starting with Ethernet, arrival time ts_ns (UTC). */
void mt_pipeline_process_eth(struct mt_pipeline *p, const uint8_t *frame,
			     uint32_t len, uint64_t ts_ns);
/* One outer frame starting at the IP header (cooked / raw captures). */
void mt_pipeline_process_ip(struct mt_pipeline *p, const uint8_t *l3,
			    uint32_t len, uint16_t ethertype, uint64_t ts_ns);

/* Rule set handling for the control thread and offline mode. */
void mt_rules_ref_init(struct mt_rules_ref *ref, struct mt_ruleset *rs);
/* Stores rs; returns the previous set (caller frees it when safe). */
struct mt_ruleset *mt_rules_ref_publish(struct mt_rules_ref *ref,
					struct mt_ruleset *rs);

#endif /* MT_PIPELINE_H */
