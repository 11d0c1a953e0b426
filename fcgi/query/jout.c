/* SPDX-License-Identifier: ISC */
/*
 * jout.c - JSON writer with a size cap (see jout.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jout.h"

#define JOUT_CHUNK	4096

void
jout_init(struct jout *j, size_t cap)
{
	memset(j, 0, sizeof(*j));
	j->cap = cap;
	j->first[0] = 1;
}

void
jout_free(struct jout *j)
{
	free(j->buf);
	jout_init(j, j->cap);
}

void
jout_reset(struct jout *j)
{
	char	*buf = j->buf;
	size_t	 size = j->size, cap = j->cap;

	jout_init(j, cap);
	j->buf = buf;
	j->size = size;
}

/* Makes room for n more bytes and the NUL; returns 0 or -1 (err set). */
static int
room(struct jout *j, size_t n)
{
	size_t	 want;
	char	*p;

	if (j->err != JOUT_OK)
		return -1;
	if (n > j->cap || j->len > j->cap - n) {
		j->err = JOUT_TOO_LARGE;
		return -1;
	}
	if (n < j->size - j->len && j->buf != NULL)
		return 0;
	want = j->size > 0 ? j->size : JOUT_CHUNK;
	while (want - j->len <= n)
		want *= 2;
	if ((p = realloc(j->buf, want)) == NULL) {
		j->err = JOUT_NOMEM;
		return -1;
	}
	j->buf = p;
	j->size = want;
	return 0;
}

static void
put(struct jout *j, const char *s, size_t n)
{
	if (room(j, n) != 0)
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

/* Writes the separator and, in an object, "key":.  Returns 0 or -1. */
static int
member(struct jout *j, const char *key)
{
	if (j->err != JOUT_OK)
		return -1;
	if (j->depth == 0 && !j->first[0]) {
		j->err = JOUT_MISUSE;		/* a second top-level value */
		return -1;
	}
	if (!j->first[j->depth])
		put(j, ",", 1);
	j->first[j->depth] = 0;
	if (key != NULL) {
		put(j, "\"", 1);
		put(j, key, strlen(key));	/* keys are our own literals */
		put(j, "\":", 2);
	}
	return j->err == JOUT_OK ? 0 : -1;
}

static void
jopen(struct jout *j, const char *key, const char *brace)
{
	if (member(j, key) != 0)
		return;
	if (j->depth + 1 >= JOUT_DEPTH_MAX) {
		j->err = JOUT_MISUSE;
		return;
	}
	put(j, brace, 1);
	j->first[++j->depth] = 1;
}

static void
jclose(struct jout *j, const char *brace)
{
	if (j->err != JOUT_OK)
		return;
	if (j->depth == 0) {
		j->err = JOUT_MISUSE;
		return;
	}
	put(j, brace, 1);
	j->depth--;
}

void
jout_obj_open(struct jout *j, const char *key)
{
	jopen(j, key, "{");
}

void
jout_obj_close(struct jout *j)
{
	jclose(j, "}");
}

void
jout_arr_open(struct jout *j, const char *key)
{
	jopen(j, key, "[");
}

void
jout_arr_close(struct jout *j)
{
	jclose(j, "]");
}

void
jout_str(struct jout *j, const char *key, const char *s)
{
	const unsigned char	*p;
	char			 esc[8];
	size_t			 run;

	if (member(j, key) != 0)
		return;
	put(j, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0';) {
		/* copy runs of plain bytes at once */
		for (run = 0; p[run] >= 0x20 && p[run] != '"' && p[run] != '\\';
		    run++)
			;
		if (run > 0) {
			put(j, (const char *)p, run);
			p += run;
			continue;
		}
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(j, esc, 2);
		} else
			put(j, esc, (size_t)snprintf(esc, sizeof(esc),
			    "\\u%04x", *p));
		p++;
	}
	put(j, "\"", 1);
}

void
jout_int(struct jout *j, const char *key, long long v)
{
	char	buf[24];
	int	n;

	if (member(j, key) != 0)
		return;
	n = snprintf(buf, sizeof(buf), "%lld", v);
	put(j, buf, (size_t)n);
}

void
jout_num(struct jout *j, const char *key, const char *text)
{
	if (!jout_is_number(text)) {
		if (j->err == JOUT_OK)
			j->err = JOUT_MISUSE;
		return;
	}
	if (member(j, key) != 0)
		return;
	put(j, text, strlen(text));
}

void
jout_null(struct jout *j, const char *key)
{
	if (member(j, key) == 0)
		put(j, "null", 4);
}

void
jout_bool(struct jout *j, const char *key, int v)
{
	if (member(j, key) == 0)
		put(j, v ? "true" : "false", v ? 4 : 5);
}

void
jout_raw(struct jout *j, const char *key, const char *json, size_t len)
{
	if (member(j, key) == 0)
		put(j, json, len);
}

enum jout_err
jout_error(const struct jout *j)
{
	return j->err;
}

const char *
jout_done(struct jout *j, size_t *len)
{
	if (j->err != JOUT_OK || j->depth != 0 || j->first[0] ||
	    j->buf == NULL)
		return NULL;
	*len = j->len;
	return j->buf;
}

static const char *
digits(const char *s)
{
	while (*s >= '0' && *s <= '9')
		s++;
	return s;
}

int
jout_is_number(const char *s)
{
	const char *e;

	if (s == NULL)
		return 0;
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		s = digits(s);
	else
		return 0;
	if (*s == '.') {
		e = digits(s + 1);
		if (e == s + 1)
			return 0;
		s = e;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		e = digits(s);
		if (e == s)
			return 0;
		s = e;
	}
	return *s == '\0';
}
