// SPDX-License-Identifier: GPL-2.0-only
/*
 * Config reload (reload.h).  The settings are compared through
 * mt_config_dump(): it writes every setting of the config table as
 * "key = value", in the form the parsers read back, after a comment that
 * says "reloaded by SIGHUP" or "takes effect at restart" -- the table's
 * reloadable flag.  Comparing two dumps therefore compares every setting
 * the table knows, sessions included, without a second list of settings
 * here that could drift from the table.  Changed reloadable values are
 * then applied to the copy with mt_config_set(), the same validation a
 * command-line option gets.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reload.h"

#define MAX_OVERRIDES 32

static struct {
	const char *file;
	size_t n;
	struct {
		const char *section, *key, *value;
	} ov[MAX_OVERRIDES];
} origin;

void mt_config_origin_set_file(const char *path)
{
	origin.file = path;
}

int mt_config_origin_add(const char *section, const char *key,
			 const char *value)
{
	if (origin.n == MAX_OVERRIDES)
		return -ENOSPC;
	origin.ov[origin.n].section = section;
	origin.ov[origin.n].key = key;
	origin.ov[origin.n].value = value;
	origin.n++;
	return 0;
}

const char *mt_config_origin_file(void)
{
	return origin.file;
}

/* One "key = value" line of a dump. */
struct entry {
	const char *section; /* "output", "session web" */
	const char *key, *value;
	bool reload;
};

struct dump {
	char *text;
	struct entry *v;
	size_t n;
};

static void dump_free(struct dump *d)
{
	free(d->text);
	free(d->v);
}

/* Splits the dump of cfg into entries (pointing into d->text). */
static int dump_parse(const struct mt_config *cfg, struct dump *d)
{
	const char *section = "";
	bool reload = false;
	size_t len = 0, cap = 0;
	char *line, *next;
	FILE *mem;

	memset(d, 0, sizeof(*d));
	mem = open_memstream(&d->text, &len);
	if (!mem)
		return -ENOMEM;
	mt_config_dump(cfg, mem);
	if (fclose(mem) || !d->text)
		return -ENOMEM;
	for (line = d->text; line; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == '#') {
			/* The flag closes each setting's comment block. */
			if (strstr(line, "reloaded by SIGHUP"))
				reload = true;
			else if (strstr(line, "takes effect at restart"))
				reload = false;
			continue;
		}
		if (line[0] == '[') {
			char *end = strchr(line, ']');

			if (end)
				*end = '\0';
			section = line + 1;
			continue;
		}
		eq = strstr(line, " =");
		if (!eq)
			continue;
		if (d->n == cap) {
			struct entry *v;

			cap = cap ? cap * 2 : 64;
			v = realloc(d->v, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			d->v = v;
		}
		*eq = '\0';
		eq += 2;
		d->v[d->n++] = (struct entry){
			.section = section,
			.key = line,
			.value = *eq == ' ' ? eq + 1 : eq,
			.reload = reload,
		};
	}
	return 0;
}

static const struct entry *find(const struct dump *d, const char *section,
				const char *key)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].section, section) &&
		    !strcmp(d->v[i].key, key))
			return &d->v[i];
	return NULL;
}

static void add_name(char *list, const char *section, const char *key)
{
	size_t n = strlen(list);

	snprintf(list + n, MT_RELOAD_NAMES_MAX - n, "%s%s%s%s", n ? ", " : "",
		 section, key ? "." : "", key ? key : "");
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
		if ((p == list || p[-1] == ' ') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

/*
 * What a reload can change: [output] and [filter] (the segmenter and the
 * rules), and the XDP allow-lists (map updates).  The rest of [capture]
 * shapes sockets and workers, and sessions are held by the workers.
 */
static bool appliable(const char *section, const char *key)
{
	return !strcmp(section, "output") || !strcmp(section, "filter") ||
	       (!strcmp(section, "capture") &&
		(!strcmp(key, "allow_sources") || !strcmp(key, "allow_vnis")));
}

/*
 * Compares the dumps: applies what may change to next, names the rest.
 * [session NAME] sections that appear or vanish are named as a whole.
 */
static int compare(const struct dump *old, const struct dump *new,
		   struct mt_config *next, struct mt_reload_report *rep,
		   struct mt_err *err)
{
	for (size_t i = 0; i < new->n; i++) {
		const struct entry *e = &new->v[i];
		const struct entry *o = find(old, e->section, e->key);
		bool session = !strncmp(e->section, "session ", 8);
		int ret;

		if (o && !strcmp(o->value, e->value))
			continue;
		if (session) {
			/* Taken over as a whole table by the caller. */
			rep->sessions_changed = true;
			if (!in_list(rep->applied, e->section))
				add_name(rep->applied, e->section, NULL);
			continue;
		}
		if (!o || !e->reload || !appliable(e->section, e->key)) {
			if (!o && !in_list(rep->restart, e->section))
				add_name(rep->restart, e->section, NULL);
			else if (o)
				add_name(rep->restart, e->section, e->key);
			continue;
		}
		ret = mt_config_set(next, e->section, e->key, e->value, err);
		if (ret)
			return ret;
		add_name(rep->applied, e->section, e->key);
	}
	for (size_t i = 0; i < old->n; i++) {
		const struct entry *o = &old->v[i];

		if (find(new, o->section, o->key))
			continue;
		if (!strncmp(o->section, "session ", 8)) {
			rep->sessions_changed = true;
			if (!in_list(rep->applied, o->section))
				add_name(rep->applied, o->section, NULL);
		} else if (!in_list(rep->restart, o->section)) {
			add_name(rep->restart, o->section, NULL);
		}
	}
	return 0;
}

int mt_config_reload(const struct mt_config *cur, struct mt_config **next,
		     struct mt_reload_report *rep, struct mt_err *err)
{
	struct mt_config *fresh, *n;
	struct dump old = { 0 }, new = { 0 };
	struct mt_err why;
	int ret;

	*next = NULL;
	memset(rep, 0, sizeof(*rep));
	if (!origin.file)
		return mt_err_set(err, "no config file: the daemon was started "
				       "without one (--config FILE)");
	fresh = malloc(sizeof(*fresh));
	n = malloc(sizeof(*n));
	if (!fresh || !n) {
		free(fresh);
		free(n);
		mt_err_set(err, "out of memory");
		return -ENOMEM;
	}
	mt_config_init(fresh);
	ret = mt_config_load(fresh, origin.file, err);
	for (size_t i = 0; !ret && i < origin.n; i++) {
		ret = mt_config_set(fresh, origin.ov[i].section,
				    origin.ov[i].key, origin.ov[i].value, &why);
		if (ret)
			mt_err_set(err, "command-line %s.%s=%s: %s",
				   origin.ov[i].section, origin.ov[i].key,
				   origin.ov[i].value, why.msg);
	}
	if (!ret && mt_config_validate(fresh, &why))
		ret = mt_err_set(err, "%s: %s", origin.file, why.msg);
	if (ret)
		goto out_fresh;

	/* Shallow: n shares cur's session table unless [session]s changed. */
	*n = *cur;
	ret = dump_parse(cur, &old);
	if (!ret)
		ret = dump_parse(fresh, &new);
	if (ret) {
		mt_err_set(err, "out of memory");
		goto out_dumps;
	}
	ret = compare(&old, &new, n, rep, err);
	if (!ret && rep->sessions_changed) {
		/* n takes the file's session table; the caller owns it. */
		n->sessions = fresh->sessions;
		fresh->sessions.v = NULL;
		fresh->sessions.n = 0;
	}
	if (!ret && mt_config_validate(n, &why))
		ret = mt_err_set(err, "%s: %s", origin.file, why.msg);
	if (ret && rep->sessions_changed)
		mt_sessions_free(&n->sessions);
out_dumps:
	dump_free(&new);
	dump_free(&old);
out_fresh:
	mt_config_free(fresh);
	free(fresh);
	if (ret) {
		free(n);
		return ret;
	}
	*next = n;
	return 0;
}
