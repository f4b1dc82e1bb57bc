// SPDX-License-Identifier: GPL-2.0-only
/*
 * The per-VNI counter table behind `mirrorctl status` vnis[] (pipeline.h):
 * what an operator holds against CloudWatch must add up, per session and
 * direction, and sessions beyond the table must land in `other`, not vanish.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "mirror-target/pipeline.h"

static struct mt_vni_table t;

static void setup(void)
{
	memset(&t, 0, sizeof(t));
}

/* The slot of vni, or NULL (as the control thread finds it). */
static const struct mt_vni_count *find(uint32_t vni)
{
	for (unsigned i = 0; i < MT_VNI_SLOTS; i++)
		if (t.slot[i].key == vni + 1)
			return &t.slot[i];
	return NULL;
}

TestSuite(vni_table, .init = setup);

Test(vni_table, counts_per_session_and_direction)
{
	const struct mt_vni_count *a, *b;

	for (int i = 0; i < 5; i++)
		mt_vni_table_count(&t, 42, MT_DIR_EGRESS, 100);
	mt_vni_table_count(&t, 42, MT_DIR_INGRESS, 60);
	mt_vni_table_count(&t, 0, MT_DIR_UNKNOWN, 7); /* VNI 0 is valid */

	a = find(42);
	b = find(0);
	cr_assert(a && b);
	cr_expect_eq(a->packets[MT_DIR_EGRESS], 5);
	cr_expect_eq(a->bytes[MT_DIR_EGRESS], 500);
	cr_expect_eq(a->packets[MT_DIR_INGRESS], 1);
	cr_expect_eq(a->bytes[MT_DIR_INGRESS], 60);
	cr_expect_eq(a->packets[MT_DIR_UNKNOWN], 0);
	cr_expect_eq(b->packets[MT_DIR_UNKNOWN], 1);
	cr_expect_eq(b->bytes[MT_DIR_UNKNOWN], 7);
	cr_expect_eq(t.other.packets[MT_DIR_EGRESS], 0);
}

Test(vni_table, max_vni_and_no_duplicate_slots)
{
	unsigned used = 0;

	mt_vni_table_count(&t, 0xffffff, MT_DIR_EGRESS, 1);
	mt_vni_table_count(&t, 0xffffff, MT_DIR_EGRESS, 1);
	for (unsigned i = 0; i < MT_VNI_SLOTS; i++)
		used += t.slot[i].key != 0;
	cr_expect_eq(used, 1);
	cr_assert(find(0xffffff));
	cr_expect_eq(find(0xffffff)->packets[MT_DIR_EGRESS], 2);
}

/* Far more sessions than slots: every packet is counted exactly once. */
Test(vni_table, overflow_goes_to_other)
{
	uint64_t in_slots = 0, total = 0;
	unsigned used = 0;

	for (uint32_t round = 0; round < 3; round++)
		for (uint32_t vni = 1000; vni < 1000 + 4 * MT_VNI_SLOTS;
		     vni++) {
			mt_vni_table_count(&t, vni, MT_DIR_INGRESS, 10);
			total++;
		}
	for (unsigned i = 0; i < MT_VNI_SLOTS; i++) {
		used += t.slot[i].key != 0;
		in_slots += t.slot[i].packets[MT_DIR_INGRESS];
		/* A session keeps its slot: all 3 rounds counted there. */
		if (t.slot[i].key)
			cr_expect_eq(t.slot[i].packets[MT_DIR_INGRESS], 3);
	}
	cr_expect_gt(used, MT_VNI_SLOTS / 2);
	cr_expect_gt(t.other.packets[MT_DIR_INGRESS], 0);
	cr_expect_eq(in_slots + t.other.packets[MT_DIR_INGRESS], total);
	cr_expect_eq(t.other.bytes[MT_DIR_INGRESS],
		     10 * t.other.packets[MT_DIR_INGRESS]);
}

/* A typical deployment (a few dozen sessions) never spills. */
Test(vni_table, consecutive_sessions_fit)
{
	for (uint32_t vni = 1; vni <= 48; vni++)
		mt_vni_table_count(&t, vni, MT_DIR_EGRESS, 1);
	for (uint32_t vni = 1; vni <= 48; vni++)
		cr_expect(find(vni), "VNI %u has no slot", vni);
	cr_expect_eq(t.other.packets[MT_DIR_EGRESS], 0);
}
