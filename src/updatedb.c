/* updatedb.c — whether updatedb(8) would walk an imgtagfs mount (see
 * updatedb.h), from its configuration file parsed the way plocate and
 * mlocate parse it: a file they refuse counts as no run at all, and a
 * type or path is pruned exactly when they would prune it.
 */
#include "updatedb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONF_MAX (64 * 1024)
#define BLANKS " \t\r\n\f\v"

/* What a configuration prunes: values point into the parsed text. */
struct conf {
	const char *prunefs, *prunepaths;
};

bool updatedb_present(const char *conf)
{
	static const char *const progs[] = {"/usr/bin/updatedb", "/usr/sbin/updatedb", "/usr/sbin/updatedb.plocate",
					    "/usr/bin/updatedb.mlocate", "/usr/bin/updatedb.findutils"};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		if (access(progs[i], X_OK) == 0)
			return true;
	return access(conf, F_OK) == 0;
}

/* The whole of path into *out (NUL-terminated; "" when it does not
 * exist). 0 or -errno. */
static int read_conf(const char *path, char **out)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(CONF_MAX + 1);
	size_t len = 0;
	int err = 0;

	if (!buf) {
		err = -ENOMEM;
	} else if (!f) {
		err = errno == ENOENT ? 0 : -errno;
	} else {
		len = fread(buf, 1, CONF_MAX + 1, f);
		err = ferror(f) ? -EIO : len > CONF_MAX ? -EFBIG : 0;
	}
	if (f)
		fclose(f);
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static char *skip_blanks(char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' || *p == '\v')
		p++;
	return p;
}

/* The end of the line at p, past a comment; NULL when something else
 * follows. */
static char *end_of_line(char *p)
{
	p = skip_blanks(p);
	if (*p == '#')
		p += strcspn(p, "\n");
	return *p == '\n' || !*p ? p : NULL;
}

/* Which of c's fields VARIABLE name at p (length n) sets: PRUNEFS and
 * PRUNEPATHS matter here, PRUNENAMES and PRUNE_BIND_MOUNTS are valid but
 * unused (ignored, a slot of their own so that twice is still an error). */
static const char **slot(struct conf *c, const char **other, const char *p, size_t n)
{
	static const char *const names[] = {"PRUNEFS", "PRUNEPATHS", "PRUNENAMES", "PRUNE_BIND_MOUNTS"};
	const char **slots[] = {&c->prunefs, &c->prunepaths, &other[0], &other[1]};

	for (size_t i = 0; i < 4; i++)
		if (strlen(names[i]) == n && strncmp(p, names[i], n) == 0)
			return slots[i];
	return NULL;
}

/* One line VARIABLE = "VALUE" at *pp; *pp moves to its end. False when
 * updatedb would refuse it. */
static bool parse_line(char **pp, struct conf *c, const char **other)
{
	char *p = skip_blanks(*pp), *value;
	size_t n = 0;
	const char **dest;

	while (p[n] == '_' || (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z') ||
	       (n && p[n] >= '0' && p[n] <= '9'))
		n++;
	dest = n ? slot(c, other, p, n) : NULL;
	if (!dest || *dest)
		return false; /* unknown, or given twice */
	p = skip_blanks(p + n);
	if (*p++ != '=')
		return false;
	p = skip_blanks(p);
	if (*p++ != '"')
		return false;
	value = p;
	p += strcspn(p, "\"\n");
	if (*p != '"')
		return false;
	*p++ = '\0';
	*dest = value;
	return (*pp = end_of_line(p)) != NULL;
}

/* Parses text as updatedb.conf(5) says; false when updatedb refuses it. */
static bool parse(char *text, struct conf *c)
{
	const char *other[2] = {NULL, NULL};
	char *p = text;

	memset(c, 0, sizeof(*c));
	while (*p) {
		char *eol = end_of_line(p);

		if (eol) {
			p = *eol ? eol + 1 : eol;
			continue;
		}
		if (!parse_line(&p, c, other))
			return false;
	}
	return true;
}

/* True when word (n bytes) is one of list's whitespace-separated words. */
static bool listed(const char *list, const char *word, bool nocase)
{
	size_t n = strlen(word);

	for (const char *p = list; p && *p;) {
		size_t len;

		p += strspn(p, BLANKS);
		len = strcspn(p, BLANKS);
		if (len == n && (nocase ? strncasecmp(p, word, n) : strncmp(p, word, n)) == 0)
			return true;
		p += len;
	}
	return false;
}

/* True when a PRUNEPATHS entry is path or a directory above it. */
static bool path_pruned(const char *list, const char *path)
{
	for (const char *p = list; p && *p;) {
		size_t len, cmp;

		p += strspn(p, BLANKS);
		len = cmp = strcspn(p, BLANKS);
		while (cmp > 1 && p[cmp - 1] == '/')
			cmp--;
		if (cmp && strncmp(path, p, cmp) == 0 && (!path[cmp] || path[cmp] == '/' || (cmp == 1 && *p == '/')))
			return true;
		p += len;
	}
	return false;
}

int updatedb_walks(const char *conf, const char *fstype, const char *mountpoint, char *advice, size_t n)
{
	struct conf c;
	char *text = NULL;
	int err = read_conf(conf, &text);

	if (err)
		return err;
	if (!parse(text, &c) || listed(c.prunefs, fstype, true) ||
	    (mountpoint && path_pruned(c.prunepaths, mountpoint))) {
		free(text);
		return 0;
	}
	/* A second PRUNEFS line would be refused: extend the one there is. */
	if (c.prunefs)
		snprintf(advice, n, "sed -i 's/^PRUNEFS *= *\"/&%s /' %s", fstype, conf);
	else
		snprintf(advice, n, "echo 'PRUNEFS=\"%s\"' >> %s", fstype, conf);
	free(text);
	return 1;
}
