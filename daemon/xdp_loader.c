// SPDX-License-Identifier: GPL-2.0-only
/*
 * Loading and attaching the XDP program (DESIGN §6).
 *
 * The object is embedded as a skeleton.  Before load we fix the rodata
 * knobs (VXLAN port, whether the allow-lists are in force) and keep only
 * the program we attach: mt_xdp for ordinary MTUs, mt_xdp_frags when the
 * interface's frames do not fit one page (drivers refuse a single-buffer
 * program then).  libxdp loads and attaches it so that other XDP programs
 * can share the interface through its dispatcher; where the dispatcher
 * cannot load (libxdp 1.3 on some kernels fails the freplace check with
 * EPERM) libxdp attaches our program alone, and we say so.
 *
 * The allow-list maps are filled right after load, before any AF_XDP
 * socket exists: until then every VXLAN frame is dropped (no socket on the
 * queue), never passed, so nothing slips through unfiltered.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "mirror_target.skel.h"
#include "xdp_loader.h"

struct mt_xdp_loader {
	struct mirror_target_bpf *skel;
	struct xdp_program *prog;
	int ifindex;
	enum xdp_attach_mode mode;
	bool frags;
	char ifname[IF_NAMESIZE];
};

/* libbpf and libxdp speak one level quieter than we do (STYLE.md). */
__attribute__((format(printf, 2, 0))) static int
print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	mt_log(level == LIBBPF_WARN ? MT_LOG_INFO : MT_LOG_DEBUG, "%s", line);
	return 0;
}

__attribute__((format(printf, 2, 0))) static int
print_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	if (level == LIBXDP_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	mt_log(level == LIBXDP_WARN ? MT_LOG_INFO : MT_LOG_DEBUG, "libxdp: %s",
	       line);
	return 0;
}

static bool is_our_name(const char *name)
{
	return name &&
	       (!strcmp(name, "mt_xdp") || !strcmp(name, "mt_xdp_frags"));
}

bool mt_xdp_loader_attached(int ifindex)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	bool found = false;

	if (libxdp_get_error(mp) || !mp)
		return false;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		found = p && is_our_name(xdp_program__name(p));
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p && !found;
		     p = xdp_multiprog__next_prog(p, mp))
			found = is_our_name(xdp_program__name(p));
	}
	xdp_multiprog__close(mp);
	return found;
}

/*
 * A crashed instance leaves its program attached (the kernel keeps it as
 * long as the interface holds it); stacking a second copy behind the
 * dispatcher would split the traffic between a dead XSKMAP and ours.
 * Programs are recognised by name: nothing else is called mt_xdp*.
 */
static int remove_stale(const struct mt_xdp_loader *l, struct mt_err *err)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(l->ifindex);
	enum xdp_attach_mode mode;
	struct xdp_program *p;
	int ret = 0;

	if (libxdp_get_error(mp) || !mp)
		return 0; /* nothing attached */
	mode = xdp_multiprog__attach_mode(mp);
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (!p)
			goto out;
		if (!is_our_name(xdp_program__name(p))) {
			ret = mt_err_set(
				err,
				"%s already has XDP program \"%s\" (id %u) "
				"attached without libxdp's dispatcher, so "
				"ours cannot share the interface; detach it "
				"(ip link set dev %s xdp off) or use another "
				"interface",
				l->ifname, xdp_program__name(p),
				xdp_program__id(p), l->ifname);
			goto out;
		}
		mt_log(MT_LOG_WARN,
		       "%s: replacing XDP program %s (id %u) left by an "
		       "earlier mirror-targetd",
		       l->ifname, xdp_program__name(p), xdp_program__id(p));
		ret = xdp_multiprog__detach(mp);
		if (ret)
			mt_err_set(err,
				   "%s: cannot detach the stale XDP program "
				   "%s (id %u): %s; detach it with ip link set "
				   "dev %s xdp off",
				   l->ifname, xdp_program__name(p),
				   xdp_program__id(p), strerror(-ret),
				   l->ifname);
		goto out;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p;
	     p = xdp_multiprog__next_prog(p, mp)) {
		if (!is_our_name(xdp_program__name(p)))
			continue;
		mt_log(MT_LOG_WARN,
		       "%s: removing XDP program %s (id %u) left by an "
		       "earlier mirror-targetd from the dispatcher",
		       l->ifname, xdp_program__name(p), xdp_program__id(p));
		ret = xdp_program__detach(p, l->ifindex, mode, 0);
		if (ret) {
			mt_err_set(err,
				   "%s: cannot detach the stale XDP program "
				   "%s (id %u): %s; xdp-loader unload %s "
				   "--all removes it",
				   l->ifname, xdp_program__name(p),
				   xdp_program__id(p), strerror(-ret),
				   l->ifname);
			goto out;
		}
	}
out:
	xdp_multiprog__close(mp);
	return ret;
}

static void v4_bytes(uint32_t host, uint8_t out[4])
{
	out[0] = host >> 24;
	out[1] = host >> 16;
	out[2] = host >> 8;
	out[3] = host;
}

static void u64_bytes(uint64_t host, uint8_t out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = host >> (56 - 8 * i);
}

/*
 * The program's mutable globals (.bss): libxdp loads the object itself, so
 * the skeleton's ->bss points at the pre-load image, not at the map.  Read,
 * change one field, write back (only the control thread does this).
 */
enum bss_field { BSS_ARMED, BSS_SRC_ALLOW, BSS_VNI_ALLOW };

static int bss_set(struct mt_xdp_loader *l, enum bss_field f, unsigned v)
{
	struct mirror_target_bpf__bss b;
	int fd = bpf_map__fd(l->skel->maps.bss);
	uint32_t zero = 0;

	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &b))
		return fd < 0 ? -EBADF : -errno;
	switch (f) {
	case BSS_ARMED:
		b.mt_armed = v;
		break;
	case BSS_SRC_ALLOW:
		b.src_allow_enabled = v;
		break;
	case BSS_VNI_ALLOW:
		b.vni_allow_enabled = v;
		break;
	}
	return bpf_map_update_elem(fd, &zero, &b, BPF_ANY) ? -errno : 0;
}

static void src4_key(const struct mt_cidr *c, struct mt_xdp_src4_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = c->len;
	v4_bytes(c->addr.v4, k->addr);
}

static void src6_key(const struct mt_cidr *c, struct mt_xdp_src6_key *k)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = c->len;
	u64_bytes(c->addr.hi, k->addr);
	u64_bytes(c->addr.lo, k->addr + 8);
}

static bool src_wanted(const void *key, int family, const struct mt_cidr *src,
		       unsigned nsrc)
{
	for (unsigned i = 0; i < nsrc; i++) {
		struct mt_xdp_src4_key k4;
		struct mt_xdp_src6_key k6;

		if (src[i].addr.family != family)
			continue;
		if (family == AF_INET) {
			src4_key(&src[i], &k4);
			if (!memcmp(&k4, key, sizeof(k4)))
				return true;
		} else {
			src6_key(&src[i], &k6);
			if (!memcmp(&k6, key, sizeof(k6)))
				return true;
		}
	}
	return false;
}

static bool vni_wanted(const void *key, const uint32_t *vnis, unsigned nvni)
{
	uint32_t vni;

	memcpy(&vni, key, sizeof(vni));
	for (unsigned i = 0; i < nvni; i++)
		if (vnis[i] == vni)
			return true;
	return false;
}

/*
 * Deletes the keys of map fd that keep() rejects.  Keys are collected
 * first: deleting while walking would restart the walk.
 */
static int prune_map(int fd, size_t key_size, unsigned max,
		     bool (*keep)(const void *key, const void *arg),
		     const void *arg)
{
	uint8_t *keys = calloc(max, key_size), *prev = NULL;
	unsigned n = 0;
	int ret = 0;

	if (!keys)
		return -ENOMEM;
	while (n < max &&
	       !bpf_map_get_next_key(fd, prev, keys + n * key_size)) {
		prev = keys + n * key_size;
		n++;
	}
	for (unsigned i = 0; i < n; i++)
		if (!keep(keys + i * key_size, arg) &&
		    bpf_map_delete_elem(fd, keys + i * key_size) &&
		    errno != ENOENT)
			ret = -errno;
	free(keys);
	return ret;
}

struct want {
	const struct mt_cidr *src;
	unsigned nsrc;
	const uint32_t *vnis;
	unsigned nvni;
};

static bool keep4(const void *key, const void *arg)
{
	const struct want *w = arg;

	return src_wanted(key, AF_INET, w->src, w->nsrc);
}

static bool keep6(const void *key, const void *arg)
{
	const struct want *w = arg;

	return src_wanted(key, AF_INET6, w->src, w->nsrc);
}

static bool keepv(const void *key, const void *arg)
{
	const struct want *w = arg;

	return vni_wanted(key, w->vnis, w->nvni);
}

int mt_xdp_loader_set_allow_lists(struct mt_xdp_loader *l,
				  const struct mt_cidr *src, unsigned nsrc,
				  const uint32_t *vnis, unsigned nvni,
				  struct mt_err *err)
{
	int fd4 = bpf_map__fd(l->skel->maps.mt_src4_allow);
	int fd6 = bpf_map__fd(l->skel->maps.mt_src6_allow);
	int fdv = bpf_map__fd(l->skel->maps.mt_vni_allow);
	struct want w = { src, nsrc, vnis, nvni };
	uint8_t one = 1;
	char buf[MT_IP_STRLEN];
	int ret;

	/*
	 * A list that goes away is switched off before it is emptied; a list
	 * that appears is filled before it is switched on; in between, the
	 * union of old and new is allowed for a moment, never less.
	 */
	ret = nsrc ? 0 : bss_set(l, BSS_SRC_ALLOW, 0);
	if (!ret && !nvni)
		ret = bss_set(l, BSS_VNI_ALLOW, 0);
	if (ret)
		return mt_err_set(err,
				  "cannot switch an XDP allow-list off: %s",
				  strerror(-ret));
	for (unsigned i = 0; i < nsrc; i++) {
		struct mt_xdp_src4_key k4;
		struct mt_xdp_src6_key k6;

		if (src[i].addr.family == AF_INET) {
			src4_key(&src[i], &k4);
			ret = bpf_map_update_elem(fd4, &k4, &one, BPF_ANY);
		} else {
			src6_key(&src[i], &k6);
			ret = bpf_map_update_elem(fd6, &k6, &one, BPF_ANY);
		}
		if (ret)
			return mt_err_set(err,
					  "cannot add allowed source %s to "
					  "the XDP allow-list: %s (at most %u "
					  "prefixes per family)",
					  mt_cidr_format(&src[i], buf),
					  strerror(errno),
					  MT_XDP_MAX_SRC_PREFIXES);
	}
	for (unsigned i = 0; i < nvni; i++)
		if (bpf_map_update_elem(fdv, &vnis[i], &one, BPF_ANY))
			return mt_err_set(err,
					  "cannot add VNI %u to the XDP "
					  "allow-list: %s (at most %u VNIs)",
					  vnis[i], strerror(errno),
					  MT_XDP_MAX_VNIS);
	ret = prune_map(fd4, sizeof(struct mt_xdp_src4_key),
			MT_XDP_MAX_SRC_PREFIXES, keep4, &w);
	if (!ret)
		ret = prune_map(fd6, sizeof(struct mt_xdp_src6_key),
				MT_XDP_MAX_SRC_PREFIXES, keep6, &w);
	if (!ret)
		ret = prune_map(fdv, sizeof(uint32_t), MT_XDP_MAX_VNIS, keepv,
				&w);
	if (ret)
		return mt_err_set(err,
				  "cannot remove old entries from the XDP "
				  "allow-lists: %s",
				  strerror(-ret));
	ret = nsrc ? bss_set(l, BSS_SRC_ALLOW, 1) : 0;
	if (!ret && nvni)
		ret = bss_set(l, BSS_VNI_ALLOW, 1);
	if (ret)
		return mt_err_set(err, "cannot switch an XDP allow-list on: %s",
				  strerror(-ret));
	return 0;
}

static int attach(struct mt_xdp_loader *l, const struct mt_xdp_loader_opts *o,
		  struct mt_err *err)
{
	char msg[256];
	int ret;

	if (!o->generic) {
		ret = xdp_program__attach(l->prog, l->ifindex, XDP_MODE_NATIVE,
					  0);
		if (!ret) {
			l->mode = XDP_MODE_NATIVE;
			return 0;
		}
		libxdp_strerror(ret, msg, sizeof(msg));
		mt_log(MT_LOG_WARN,
		       "%s: the driver refused native XDP (%s); falling back "
		       "to generic XDP, which is slower (set xdp_mode = "
		       "generic to skip this attempt)",
		       l->ifname, msg);
	}
	ret = xdp_program__attach(l->prog, l->ifindex, XDP_MODE_SKB, 0);
	if (ret) {
		libxdp_strerror(ret, msg, sizeof(msg));
		return mt_err_set(err,
				  "%s: cannot attach the XDP program in "
				  "%s mode: %s",
				  l->ifname, o->generic ? "generic" : "any",
				  msg);
	}
	l->mode = XDP_MODE_SKB;
	return 0;
}

/* Says whether libxdp could use its dispatcher or attached us alone. */
static void report_attachment(const struct mt_xdp_loader *l)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(l->ifindex);

	if (libxdp_get_error(mp) || !mp)
		return;
	if (xdp_multiprog__is_legacy(mp))
		mt_log(MT_LOG_INFO,
		       "%s: libxdp could not load its multi-program "
		       "dispatcher on this kernel, so %s is attached on its "
		       "own: no other XDP program can share %s while we run",
		       l->ifname, xdp_program__name(l->prog), l->ifname);
	else
		mt_log(MT_LOG_INFO,
		       "%s: attached behind libxdp's dispatcher with %d "
		       "program(s) in total",
		       l->ifname, xdp_multiprog__program_count(mp));
	xdp_multiprog__close(mp);
}

struct mt_xdp_loader *mt_xdp_loader__create(const struct mt_xdp_loader_opts *o,
					    struct mt_err *err)
{
	struct mt_xdp_loader *l;
	const char *sec;
	long perr;
	int ret;

	libbpf_set_print(print_libbpf);
	libxdp_set_print(print_libxdp);

	l = calloc(1, sizeof(*l));
	if (!l) {
		mt_err_set(err, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	l->ifindex = o->ifindex;
	l->frags = o->frags;
	snprintf(l->ifname, sizeof(l->ifname), "%s", o->ifname);

	ret = remove_stale(l, err);
	if (ret)
		goto out_free;

	l->skel = mirror_target_bpf__open();
	if (!l->skel) {
		ret = -errno;
		mt_err_set(err, "cannot open the embedded XDP program: %s",
			   strerror(-ret));
		goto out_free;
	}
	l->skel->rodata->vxlan_port = o->vxlan_port;
	/* Only the variant we attach is loaded (and verified). */
	bpf_program__set_autoload(l->skel->progs.mt_xdp, !o->frags);
	bpf_program__set_autoload(l->skel->progs.mt_xdp_frags, o->frags);
	sec = o->frags ? "xdp.frags" : "xdp";

	l->prog = xdp_program__from_bpf_obj(l->skel->obj, sec);
	perr = libxdp_get_error(l->prog);
	if (perr) {
		ret = (int)perr;
		l->prog = NULL;
		mt_err_set(err, "libxdp cannot use the XDP program: %s",
			   strerror(-ret));
		goto out_skel;
	}
	ret = attach(l, o, err);
	if (ret)
		goto out_prog;
	report_attachment(l);
	ret = mt_xdp_loader_set_allow_lists(l, o->allow_sources,
					    o->nallow_sources, o->allow_vnis,
					    o->nallow_vnis, err);
	if (ret)
		goto out_detach;
	return l;

out_detach:
	xdp_program__detach(l->prog, l->ifindex, l->mode, 0);
out_prog:
	xdp_program__close(l->prog);
out_skel:
	mirror_target_bpf__destroy(l->skel);
out_free:
	free(l);
	errno = ret < 0 ? -ret : EINVAL;
	return NULL;
}

int mt_xdp_loader_arm(struct mt_xdp_loader *l, struct mt_err *err)
{
	int ret = bss_set(l, BSS_ARMED, 1);

	if (ret)
		return mt_err_set(err,
				  "cannot let the XDP program redirect to the "
				  "sockets: %s",
				  strerror(-ret));
	return 0;
}

void mt_xdp_loader__destroy(struct mt_xdp_loader *l)
{
	int ret;

	if (!l)
		return;
	ret = xdp_program__detach(l->prog, l->ifindex, l->mode, 0);
	if (ret)
		mt_log(MT_LOG_ERROR,
		       "%s: cannot detach the XDP program: %s; remove it with "
		       "ip link set dev %s xdp off",
		       l->ifname, strerror(-ret), l->ifname);
	xdp_program__close(l->prog);
	mirror_target_bpf__destroy(l->skel);
	free(l);
}

int mt_xdp_loader_xsks_map_fd(const struct mt_xdp_loader *l)
{
	return bpf_map__fd(l->skel->maps.xsks_map);
}

const char *mt_xdp_loader_mode_name(const struct mt_xdp_loader *l)
{
	return l->mode == XDP_MODE_NATIVE ? "native" : "generic";
}

bool mt_xdp_loader_frags(const struct mt_xdp_loader *l)
{
	return l->frags;
}

int mt_xdp_loader_counters(const struct mt_xdp_loader *l,
			   uint64_t out[MT_XDP_CNT__MAX])
{
	int fd = bpf_map__fd(l->skel->maps.mt_counters);
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (uint32_t k = 0; k < MT_XDP_CNT__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
	free(v);
	return 0;
}
