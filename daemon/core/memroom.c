// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory room: MemAvailable and the memory cgroups above this process.
 *
 * The cgroup files are found as the kernel lays them out, not where a
 * distribution usually mounts them: /proc/self/mountinfo says where the
 * cgroup2 hierarchy and v1's memory controller are mounted (and which
 * part of the hierarchy each mount shows, for a container's), and
 * /proc/self/cgroup where in them this process is.  Every ancestor's limit
 * applies, so each is read up to the mount's top.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mirror-target/memroom.h"

/* v1 reports "no limit" as the largest page count in bytes (~2^63). */
#define V1_UNLIMITED (1ull << 62)

struct cg_mount {
	char dir[PATH_MAX]; /* mount point */
	char root[PATH_MAX]; /* the hierarchy's directory shown there */
};

/*
 * A number from dir/name: with a key, the one after it on a "key value
 * [unit]" line (meminfo, memory.stat); without, the file's first (a
 * cgroup's memory.max).  false when the file, the key or the number is
 * missing ("max" is no number).
 */
static bool file_number(const char *dir, const char *name, const char *key,
			uint64_t *out)
{
	char path[PATH_MAX + 32], line[256], word[64];
	unsigned long long v;
	bool ok = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		ok = key ? sscanf(line, "%63s %llu", word, &v) == 2 &&
				     !strcmp(word, key) :
			   sscanf(line, "%llu", &v) == 1;
		if (ok || !key)
			break;
	}
	if (ok)
		*out = v;
	fclose(f);
	return ok;
}

static uint64_t meminfo_available(const char *root)
{
	char dir[PATH_MAX];
	uint64_t kib;

	snprintf(dir, sizeof(dir), "%s/proc", root);
	return file_number(dir, "meminfo", "MemAvailable:", &kib) ? kib * 1024 :
								    0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/* Whether the comma-separated list has word as one of its items. */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, word, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

/*
 * Where cgpath is, relative to a mount showing the hierarchy's mroot:
 * the part of cgpath below mroot, or NULL when the mount does not show
 * it (a container's mount of another subtree).
 */
static const char *below(const char *mroot, const char *cgpath)
{
	size_t n = strlen(mroot);

	if (cgpath[0] != '/')
		return NULL;
	if (!strcmp(mroot, "/"))
		return cgpath;
	if (strncmp(cgpath, mroot, n) || (cgpath[n] != '/' && cgpath[n]))
		return NULL;
	return cgpath + n;
}

/*
 * Of mountinfo's cgroup2 mounts and v1 memory-controller mounts, the one
 * of each that shows this process's cgroup (p2, p1) from nearest above
 * it; dir is "" where there is none.
 */
static void find_mounts(const char *root, const char *p2, const char *p1,
			struct cg_mount *v2, struct cg_mount *v1)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f;

	v2->dir[0] = v1->dir[0] = '\0';
	snprintf(path, sizeof(path), "%s/proc/self/mountinfo", root);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT DIR OPTS [TAGS...] - TYPE SRC SUPER */
		char *sep = strstr(line, " - "), *save = NULL, *fld[5];
		const char *type, *super, *cgpath;
		struct cg_mount *m;
		int n = 0;

		if (!sep)
			continue;
		*sep = '\0';
		type = strtok_r(sep + 3, " \n", &save);
		strtok_r(NULL, " \n", &save); /* source */
		super = strtok_r(NULL, " \n", &save);
		if (!type)
			continue;
		if (!strcmp(type, "cgroup2")) {
			m = v2;
			cgpath = p2;
		} else if (!strcmp(type, "cgroup") && super &&
			   has_word(super, "memory")) {
			m = v1;
			cgpath = p1;
		} else {
			continue;
		}
		save = NULL;
		for (char *t = strtok_r(line, " ", &save); t && n < 5;
		     t = strtok_r(NULL, " ", &save))
			fld[n++] = t;
		if (n < 5)
			continue;
		unescape(fld[3]);
		unescape(fld[4]);
		/* The mount whose root is nearest above the cgroup. */
		if (!below(fld[3], cgpath) ||
		    (m->dir[0] && strlen(fld[3]) <= strlen(m->root)))
			continue;
		snprintf(m->root, sizeof(m->root), "%s", fld[3]);
		snprintf(m->dir, sizeof(m->dir), "%s", fld[4]);
	}
	free(line);
	fclose(f);
}

/*
 * This process's path in the cgroup2 hierarchy ("0::/path") and in v1's
 * memory controller ("N:...memory...:/path"); "" where it has none.
 */
static void find_paths(const char *root, char *v2, char *v1, size_t size)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f;

	v2[0] = v1[0] = '\0';
	snprintf(path, sizeof(path), "%s/proc/self/cgroup", root);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		char *c1 = strchr(line, ':'),
		     *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		c2[1 + strcspn(c2 + 1, "\n")] = '\0';
		if (!strcmp(line, "0:"))
			snprintf(v2, size, "%s", c2 + 1);
		else if (has_word(c1 + 1, "memory"))
			snprintf(v1, size, "%s", c2 + 1);
	}
	free(line);
	fclose(f);
}

/* cgroup path as /proc/self/cgroup writes it; a long one is cut short. */
static void name_cgroup(struct mt_memroom *room, const char *mroot,
			const char *rel)
{
	bool top = !strcmp(mroot, "/");
	int n = snprintf(room->cg_path, sizeof(room->cg_path), "%s%s",
			 top ? "" : mroot, top && !rel[0] ? "/" : rel);

	if (n >= (int)sizeof(room->cg_path))
		memcpy(room->cg_path + sizeof(room->cg_path) - 4, "...", 4);
}

/*
 * The cgroup's file cache the kernel can drop to make room ("inactive_file"
 * of v2's memory.stat, "total_inactive_file" of v1's, which counts the
 * descendants as v2's does): usage counts it, MemAvailable does not.
 */
static uint64_t reclaimable(const char *dir, const char *key)
{
	uint64_t v;

	return file_number(dir, "memory.stat", key, &v) ? v : 0;
}

struct cg_files {
	const char *max, *usage, *stat_key;
	uint64_t unlimited; /* a limit from here up is none */
};

static const struct cg_files v2_files = { "memory.max", "memory.current",
					  "inactive_file", UINT64_MAX };
static const struct cg_files v1_files = { "memory.limit_in_bytes",
					  "memory.usage_in_bytes",
					  "total_inactive_file", V1_UNLIMITED };

/*
 * Every cgroup from cgpath up to the top of mount m: where one's limit
 * leaves less room than room->bytes, it becomes the one named.
 */
static void walk(const char *root, const struct cg_mount *m, const char *cgpath,
		 const struct cg_files *cf, struct mt_memroom *room)
{
	const char *rel0 = m->dir[0] ? below(m->root, cgpath) : NULL;
	char rel[PATH_MAX], dir[PATH_MAX];

	if (!rel0)
		return;
	snprintf(rel, sizeof(rel), "%s", rel0);
	if (!strcmp(rel, "/"))
		rel[0] = '\0'; /* the mount's top: read once */
	for (;;) {
		uint64_t limit, usage, left;
		char *slash;

		if (snprintf(dir, sizeof(dir), "%s%s%s", root, m->dir, rel) >=
		    (int)sizeof(dir))
			return;
		if (file_number(dir, cf->max, NULL, &limit) &&
		    limit < cf->unlimited &&
		    file_number(dir, cf->usage, NULL, &usage)) {
			uint64_t cache = reclaimable(dir, cf->stat_key);

			usage = usage > cache ? usage - cache : 0;
			left = limit > usage ? limit - usage : 0;
			if (left < room->bytes) {
				room->bytes = left;
				room->cg_limit = limit;
				room->cg_usage = usage;
				name_cgroup(room, m->root, rel);
			}
		}
		/* "/a/b" -> "/a" -> "" (the mount's top) -> done */
		slash = strrchr(rel, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
}

void mt_memroom_read(const char *root, struct mt_memroom *room)
{
	struct cg_mount v2, v1;
	char p2[PATH_MAX], p1[PATH_MAX];

	memset(room, 0, sizeof(*room));
	room->mem_available = meminfo_available(root);
	room->bytes = room->mem_available ? room->mem_available : UINT64_MAX;
	find_paths(root, p2, p1, sizeof(p2));
	find_mounts(root, p2, p1, &v2, &v1);
	walk(root, &v2, p2, &v2_files, room);
	walk(root, &v1, p1, &v1_files, room);
}
