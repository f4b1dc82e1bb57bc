/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Traffic-mirror filter rules with AWS semantics (DESIGN §4).
 *
 * A rule set is loaded from a native rules file or from the JSON output of
 * `aws ec2 describe-traffic-mirror-filters` (files ending in ".json"),
 * validated, and compiled into an immutable struct mt_ruleset.  Rules are
 * evaluated in ascending number (ingress before egress before any on equal
 * numbers); the first rule that matches decides; a packet that matches no
 * rule is not captured.  Port ranges only match packets that have ports;
 * ingress/egress rules never match packets of unknown direction; a rule only
 * matches IP packets of its CIDRs' family.
 *
 * mt_ruleset_match() does not scan the rules: it looks candidates up in
 * per-field interval indexes so that its cost stays nearly flat from ten to
 * tens of thousands of rules.  mt_ruleset_match_linear() is the obvious scan,
 * kept as the reference the tests compare against.
 */
#ifndef MT_RULES_H
#define MT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mirror-target/decap.h"
#include "mirror-target/direction.h"
#include "mirror-target/ip.h"
#include "mirror-target/log.h"

#define MT_RULE_NUMBER_MIN 1
#define MT_RULE_NUMBER_MAX 32766
#define MT_RULE_DESC_MAX 256

enum mt_rule_action {
	MT_ACTION_ACCEPT = 0,
	MT_ACTION_REJECT,
};

enum mt_rule_dir {
	MT_RULE_INGRESS = 0,
	MT_RULE_EGRESS,
	MT_RULE_ANY, /* our extension: both directions and unknown */
};

#define MT_PROTO_ALL (-1)

struct mt_rule {
	uint16_t number;
	uint8_t action; /* enum mt_rule_action */
	uint8_t dir; /* enum mt_rule_dir */
	int16_t proto; /* 0..255 or MT_PROTO_ALL */
	bool has_sport, has_dport;
	uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
	struct mt_cidr src, dst; /* same family */
	uint32_t *vnis; /* sorted; NULL/0 = every session */
	size_t nvnis;
	char desc[MT_RULE_DESC_MAX];
	unsigned line; /* where it was defined, for messages; 0 if unknown */
};

struct mt_ruleset;

/*
 * Loads and validates a rules file (native, or AWS JSON when the name ends
 * in ".json"; filter_id picks one filter of several, may be NULL).  On error
 * returns NULL and err says "FILE:LINE:COL: what is wrong (how to fix)".
 */
struct mt_ruleset *mt_ruleset__load(const char *path, const char *filter_id,
				    struct mt_err *err);

/* The same from memory; name is used in messages. */
struct mt_ruleset *mt_ruleset__parse_native(const char *name, const char *text,
					    size_t len, struct mt_err *err);
struct mt_ruleset *mt_ruleset__parse_aws(const char *name, const char *text,
					 size_t len, const char *filter_id,
					 struct mt_err *err);

/* Builds from rules already validated (copied; vnis duplicated). */
struct mt_ruleset *mt_ruleset__create(const struct mt_rule *rules, size_t n,
				      struct mt_err *err);
void mt_ruleset__destroy(struct mt_ruleset *rs);

/* Rules in evaluation order. */
size_t mt_ruleset_count(const struct mt_ruleset *rs);
const struct mt_rule *mt_ruleset_rule(const struct mt_ruleset *rs, size_t i);

/*
 * Index (evaluation order) of the first rule matching the packet, or -1
 * when none does (= not captured).
 */
int mt_ruleset_match(const struct mt_ruleset *rs, enum mt_direction dir,
		     uint32_t vni, const struct mt_flow *flow);
int mt_ruleset_match_linear(const struct mt_ruleset *rs, enum mt_direction dir,
			    uint32_t vni, const struct mt_flow *flow);
bool mt_rule_matches(const struct mt_rule *r, enum mt_direction dir,
		     uint32_t vni, const struct mt_flow *flow);

/* One native rules-file line for r (no newline); returns snprintf's value. */
int mt_rule_format(const struct mt_rule *r, char *buf, size_t size);
/* The whole set as a native rules file, with a header comment. */
int mt_ruleset_write_native(const struct mt_ruleset *rs, FILE *out);

/* "tcp", "udp", "icmp", "icmpv6", ... or NULL; and the reverse (-1). */
const char *mt_proto_name(int proto);
int mt_proto_parse(const char *name);

#endif /* MT_RULES_H */
