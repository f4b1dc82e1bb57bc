// SPDX-License-Identifier: GPL-2.0-only
/*
 * The XDP program of mirror-loadgen.  It never sees a real packet: the
 * loader runs it with BPF_PROG_RUN and BPF_F_TEST_XDP_LIVE_FRAMES, where the
 * kernel hands it frames it built from one template and transmits whatever
 * it returns XDP_TX for out of the ingress_ifindex given in the context.
 *
 * One BPF_PROG_RUN call sends frames of one length (the kernel copies the
 * template once per page and then recycles the pages).  To interleave
 * distinct frames of that length, the program overwrites the first
 * `copy_len` bytes of every frame with the next entry of the `frames` map,
 * round-robin over [first, first + count).  The kernel does not restore
 * page contents between runs, so every frame must be written in full up to
 * copy_len: the flow generator's frames differ only in their headers (its
 * payload is the template's), a replayed pcap's differ everywhere.
 *
 * Smooth pacing (--rate, the default --pace smooth): frames go in trains
 * of `train` back to back, train k due at t0_ns + k * train * 1e9 / rate.
 * A run of the program before its frame is due returns XDP_DROP (the
 * kernel recycles the page; nothing is sent), so trains leave evenly
 * spaced, at the price of the generator's core spinning.  Trains, not
 * single frames: a receiver woken per frame (one NAPI poll, one socket
 * wakeup each) costs several times what it costs per frame in a batch, and
 * a NIC's interrupt moderation batches like this too.  Behind the schedule
 * (the sender was preempted, or between two calls) trains catch up at no
 * more than twice the rate; a backlog of more than slack_ns is given up
 * (the schedule moves forward, the time lost is added up in lag_ns).
 * budget caps what one call may send, so a --count run stops exactly.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Size of a map value's data, fixed at load time (the map's value size). */
const volatile __u32 data_max = 64;

/* The group being sent; set by userspace before each BPF_PROG_RUN. */
__u32 first;
__u32 count;
__u32 copy_len;
__u32 cursor;
__u64 copied;

/* Smooth pacing; rate 0: every run sends. */
__u64 rate;
__u64 t0_ns;
__u64 slack_ns;
__u64 train;
__u64 half_gap_ns; /* train * 1e9 / (2 * rate): the catch-up spacing */
__u64 last_ns;
__u64 lag_ns;
__u64 budget;
__u64 paced; /* frames sent on the schedule so far (its k) */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* both resized by the loader */
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 64);
} frames SEC(".maps");

SEC("xdp")
int mt_loadgen_xdp(struct xdp_md *ctx)
{
	__u32 key, len = copy_len;
	__u8 *data;

	if (rate) {
		__u64 now, due;

		if (!budget)
			return XDP_DROP;
		/* Inside a train: no clock, no wait. */
		if (!train || paced % train == 0) {
			now = bpf_ktime_get_ns();
			due = t0_ns + paced * 1000000000ull / rate;
			if (now < due)
				return XDP_DROP;
			if (now - due > slack_ns) {
				lag_ns += now - due - slack_ns;
				t0_ns += now - due - slack_ns;
			}
			if (now - last_ns < half_gap_ns)
				return XDP_DROP;
			last_ns = now;
		}
		paced++;
		budget--;
	}
	if (!count)
		return XDP_TX;
	key = first + cursor;
	if (++cursor >= count)
		cursor = 0;
	data = bpf_map_lookup_elem(&frames, &key);
	if (!data)
		return XDP_ABORTED;
	/* data_max is rodata: the verifier knows it, so len is bounded. */
	if (len == 0 || len > data_max)
		return XDP_ABORTED;
	if (bpf_xdp_store_bytes(ctx, 0, data, len))
		return XDP_ABORTED;
	copied++;
	return XDP_TX;
}
