/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The counters of a running mirror-targetd as one JSON document: what
 * `mirrorctl status --json` prints and what /metrics exports.  The control
 * thread builds it from the XDP map, the sockets, the workers' pipelines and
 * writers and the segmenter; nothing here runs on the packet path.
 *
 * Schema (schema_version 1).  Names are stable: fields may be added in a
 * later version 1 document, never renamed or removed.  Counters are totals
 * since the daemon started (per-rule hits: since the rule set was loaded),
 * unsigned integers; rates are for the client to derive from two snapshots.
 *
 *   schema_version   1
 *   daemon           version, pid, started (RFC 3339 UTC), started_unix,
 *                    now_unix (seconds, fractional), uptime_seconds
 *   capture          interface, xdp_mode ("native" | "generic"),
 *                    xdp_program ("single-buffer" | "multi-buffer"),
 *                    bind_mode (configured: "auto" | "zerocopy" | "copy"),
 *                    vxlan_port, queues (number of sockets and workers)
 *   filter           state ("on" | "off"), rules_file (null when off),
 *                    rules (count), reloads, reload_failures,
 *                    accepted, rejected, unmatched
 *   xdp              one counter per XDP outcome, summed over CPUs, named as
 *                    in bpf/mt_xdp.h MT_XDP_COUNTER_NAMES: seen, passed,
 *                    frag_passed, invalid_vxlan, source_not_allowed,
 *                    vni_not_allowed, redirected, redirect_failed,
 *                    meta_failed
 *   sockets[]        per AF_XDP socket: queue, bind ("zerocopy" | "copy"),
 *                    multi_buffer, and XDP_STATISTICS: rx_dropped,
 *                    rx_ring_full, rx_fill_ring_empty_descs, rx_invalid_descs
 *   workers[]        per worker: queue, cpu, frames, frame_bytes, batches,
 *                    decap_ok, accepted, rejected, unmatched, written,
 *                    write_dropped, no_meta, multibuf, multibuf_cut,
 *                    idle_flushes, heartbeat_age_seconds (since the
 *                    worker loop last moved; /healthz fails above 5)
 *   totals           frames, frame_bytes (outer frames handed to the
 *                    pipelines), decap_ok, decap {outer parse result: n},
 *                    inner {inner parse result: n}
 *   directions       ingress | egress | unknown: {packets, bytes}
 *   vnis[]           per mirror session: vni, session (config name or
 *                    null), ingress | egress | unknown: {packets, bytes}
 *   vni_other        the same for VNIs beyond the per-worker table
 *                    (MT_VNI_SLOTS sessions; normally all zero)
 *   writer           records, bytes, flushes, dropped_disk_full,
 *                    dropped_stopped, dropped_io_error
 *   segments         dir, prefix, current (the open ".part" file name or
 *                    null), opened, sealed, recovered, compressed,
 *                    compress_failures, deleted_by_retention, hooks_run,
 *                    hook_failures, hooks_skipped, write_errors,
 *                    index_errors, sealed_without_index (VNI index),
 *                    records_lost (in segments removed before their seal),
 *                    dir_recreated (the removed directory made again),
 *                    compress_backlog, hook_backlog (segments queued for
 *                    or in gzip / a hook now: gauges),
 *                    sealed_on_disk, bytes_on_disk, stopped (bool)
 *   disk             total_bytes, free_bytes, available_bytes (statvfs of
 *                    the segment directory)
 *   config           the settings in force that a reload can change:
 *                    file (the config file, or null), rotate_size (bytes),
 *                    rotate_interval, rotate_idle (seconds), keep_segments,
 *                    keep_bytes, min_free (bytes), on_full ("overwrite" |
 *                    "stop"), compress (bool), compress_level, hook,
 *                    snaplen (fixed until restart)
 *
 * Holding the numbers against CloudWatch (per source ENI, i.e. per VNI):
 *   NetworkPacketsMirrorIn   vnis[].ingress.packets
 *   NetworkPacketsMirrorOut  vnis[].egress.packets
 *   NetworkMirrorIn          vnis[].ingress.bytes
 *   NetworkMirrorOut         vnis[].egress.bytes
 * Packets are counted once decapsulated, before our own filter; bytes are
 * the mirrored frames' lengths on the wire (pcap orig_len: inner Ethernet
 * header + IP length, even when the session's packet length truncated
 * them).  unknown counts packets whose direction could not be inferred (add
 * the ENI's other addresses to the [session] addresses); CloudWatch splits
 * those into In/Out.  Differences against CloudWatch then show up as XDP
 * drops (xdp.*), socket drops (sockets[].rx_*) or missing frames upstream.
 */
#ifndef MT_STATS_H
#define MT_STATS_H

#include <jansson.h>
#include <stdint.h>

#include "mirror-target/config.h"
#include "mirror-target/rules.h"

#define MT_STATS_SCHEMA_VERSION 1

struct mt_xdp_loader;
struct mt_worker;
struct mt_segmenter;

/* Everything the snapshot reads; owned by the control thread (live.c). */
struct mt_stats_src {
	const struct mt_config *cfg;
	struct mt_xdp_loader *xdp; /* may be NULL */
	struct mt_worker *const *workers;
	unsigned nworkers;
	struct mt_segmenter *sg;
	const struct mt_ruleset *rs; /* in force; NULL = filter off */
	uint64_t rules_gen; /* generation of rs (mt_rules_ref.gen) */
	uint64_t started_ns; /* CLOCK_REALTIME at start */
	uint64_t started_mono_ns; /* CLOCK_MONOTONIC at start */
	uint64_t reloads, reload_failures;
	const char *config_file; /* NULL: started without one */
};

/* The status document above; NULL when out of memory. */
json_t *mt_stats_snapshot(const struct mt_stats_src *src);

/*
 * The rules in force with their hits: {rules_file, rules: [{order, number,
 * action, direction, rule (native rules-file line), description, line,
 * packets, bytes}], workers_behind}.  Hits are summed over the workers that
 * already use this rule set (workers_behind counts the others; they catch
 * up at their next batch).
 */
json_t *mt_stats_rules(const struct mt_stats_src *src);

/* The newest ".PREFIX-open-N.pcap.part" in dir, or "" (buf of size). */
void mt_stats_current_segment(const char *dir, const char *prefix, char *buf,
			      size_t size);

#endif /* MT_STATS_H */
