/* params.c — API parameters as an ordered list of owned (name, value)
 * strings, with the gateway's form encoding.
 *
 * Order is kept as added (the wire order does not matter to the gateway,
 * the signature sorts on its own). Lists are short (under twenty entries),
 * so lookups are linear.
 */
#include "params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct param {
	char *name;
	char *value;
};

struct params {
	struct param *v;
	size_t n, alloc;
};

struct params *params_new(void)
{
	return calloc(1, sizeof(struct params));
}

void params_free(struct params *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].value);
	}
	free(p->v);
	free(p);
}

/* Appends name (nlen bytes) and value (vlen bytes), copied. */
static int params_addn(struct params *p, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct param *e;

	if (p->n == p->alloc) {
		size_t want = p->alloc ? p->alloc * 2 : 8;
		struct param *v = realloc(p->v, want * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->alloc = want;
	}
	e = &p->v[p->n];
	e->name = strndup(name, nlen);
	e->value = strndup(value, vlen);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return -ENOMEM;
	}
	p->n++;
	return 0;
}

int params_add(struct params *p, const char *name, const char *value)
{
	return params_addn(p, name, strlen(name), value, strlen(value));
}

int params_add_long(struct params *p, const char *name, long long value)
{
	char num[32];

	snprintf(num, sizeof(num), "%lld", value);
	return params_add(p, name, num);
}

int params_set(struct params *p, const char *name, const char *value)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].name, name) == 0) {
			char *copy = strdup(value);

			if (!copy)
				return -ENOMEM;
			free(p->v[i].value);
			p->v[i].value = copy;
			return 0;
		}
	}
	return params_add(p, name, value);
}

void params_del(struct params *p, const char *name)
{
	size_t keep = 0;

	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].name, name) == 0) {
			free(p->v[i].name);
			free(p->v[i].value);
			continue;
		}
		p->v[keep++] = p->v[i];
	}
	p->n = keep;
}

size_t params_count(const struct params *p)
{
	return p->n;
}

const char *params_name(const struct params *p, size_t i)
{
	return p->v[i].name;
}

const char *params_value(const struct params *p, size_t i)
{
	return p->v[i].value;
}

const char *params_get(const struct params *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].name, name) == 0)
			return p->v[i].value;
	return NULL;
}

static int is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
	       c == '.' || c == '~';
}

int params_escape(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)s;
	int err = 0;

	for (; *u && !err; u++) {
		if (is_unreserved(*u)) {
			err = buf_add(out, u, 1);
		} else {
			char pct[3] = {'%', hex[*u >> 4], hex[*u & 15]};

			err = buf_add(out, pct, 3);
		}
	}
	return err;
}

int params_encode(const struct params *p, struct buf *out)
{
	int err = 0;

	for (size_t i = 0; i < p->n && !err; i++) {
		if (i)
			err = buf_add(out, "&", 1);
		if (!err)
			err = params_escape(out, p->v[i].name);
		if (!err)
			err = buf_add(out, "=", 1);
		if (!err)
			err = params_escape(out, p->v[i].value);
	}
	return err;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes n bytes of s into out (which has room for n + 1 bytes). */
static int unescape(const char *s, size_t n, char *out, size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return -EINVAL;
		out[o++] = c;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

/* Decodes one "name=value" (or bare "name") of n bytes. */
static int params_decode_pair(struct params *p, const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	size_t nlen = eq ? (size_t)(eq - s) : n;
	size_t vraw = eq ? n - nlen - 1 : 0;
	char *name = malloc(nlen + 1), *value = malloc(vraw + 1);
	size_t nl = 0, vl = 0;
	int err = -ENOMEM;

	if (!name || !value)
		goto out;
	err = unescape(s, nlen, name, &nl);
	if (!err)
		err = unescape(eq ? eq + 1 : "", vraw, value, &vl);
	if (!err)
		err = params_addn(p, name, nl, value, vl);
out:
	free(name);
	free(value);
	return err;
}

int params_decode(struct params *p, const char *s, size_t n)
{
	size_t start = 0;

	while (start < n) {
		const char *amp = memchr(s + start, '&', n - start);
		size_t end = amp ? (size_t)(amp - s) : n;
		int err;

		if (end > start) {
			err = params_decode_pair(p, s + start, end - start);
			if (err)
				return err;
		}
		start = end + 1;
	}
	return 0;
}
